//! API tokens: one per connected system (the portal, an app, a front desk), each with its
//! scopes, kept hashed in `DATA/tokens.toml` (mode 0600, written whole) and managed by
//! `centralino tokens add|list|revoke`. A running server reads the file again when it
//! changes, so a token added or revoked takes effect at once.
//!
//! ```toml
//! [tokens.sportello]
//! scopes = ["tickets:read", "tickets:write"]
//! hash = "sha256:5f0c..."
//! created_at = "2026-12-05T09:00:00Z"
//! ```
//!
//! A token is `ctk_` and 64 hex digits: 256 bits from the operating system's generator,
//! shown once when it is made and never stored. The file keeps the SHA-256 of it. Why not
//! argon2 as for the console's passwords: a slow hash protects a secret a person chose, which
//! can be guessed; 256 random bits cannot be guessed however fast the hash, and a slow hash
//! would cost every API request tens of milliseconds of CPU, an easy way to exhaust the server.
//! Presented tokens are compared with every stored hash in constant time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The file's name inside the data directory.
pub const FILE_NAME: &str = "tokens.toml";

/// What a token is given to `ctk_` plus this many hex digits.
const TOKEN_HEX: usize = 64;
const TOKEN_PREFIX: &str = "ctk_";

/// What a token may do. Each is `area:read` or `area:write`; write does not include read.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Scope {
    #[serde(rename = "tickets:read")]
    TicketsRead,
    #[serde(rename = "tickets:write")]
    TicketsWrite,
    #[serde(rename = "callbacks:read")]
    CallbacksRead,
    #[serde(rename = "callbacks:write")]
    CallbacksWrite,
    #[serde(rename = "bookings:read")]
    BookingsRead,
    #[serde(rename = "bookings:write")]
    BookingsWrite,
    /// The address book and staff presence.
    #[serde(rename = "directory:read")]
    DirectoryRead,
    /// The call log.
    #[serde(rename = "calls:read")]
    CallsRead,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Scope::TicketsRead,
        Scope::TicketsWrite,
        Scope::CallbacksRead,
        Scope::CallbacksWrite,
        Scope::BookingsRead,
        Scope::BookingsWrite,
        Scope::DirectoryRead,
        Scope::CallsRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TicketsRead => "tickets:read",
            Scope::TicketsWrite => "tickets:write",
            Scope::CallbacksRead => "callbacks:read",
            Scope::CallbacksWrite => "callbacks:write",
            Scope::BookingsRead => "bookings:read",
            Scope::BookingsWrite => "bookings:write",
            Scope::DirectoryRead => "directory:read",
            Scope::CallsRead => "calls:read",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One token as kept in the file (its hash, never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredToken {
    pub scopes: Vec<Scope>,
    /// `sha256:` and the hex SHA-256 of the token.
    pub hash: String,
    pub created_at: jiff::Timestamp,
}

/// Every token, by the name of the system holding it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    #[serde(default)]
    pub tokens: BTreeMap<String, StoredToken>,
}

/// What can go wrong with tokens; shown to the person at the terminal as is.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "`{0}` is not a valid token name: use 1 to 32 lowercase letters, digits, `.`, `-` or `_`, starting with a letter"
    )]
    BadName(String),
    #[error("there is already a token `{0}` (revoke it first with `centralino tokens revoke {0}`)")]
    Exists(String),
    #[error("there is no token `{0}` (`centralino tokens list` shows them)")]
    Missing(String),
    #[error("a token needs at least one scope (--scope tickets:read,...)")]
    NoScope,
    #[error("cannot read the tokens file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the tokens file {path} is damaged: {message} (it was not changed)")]
    Damaged { path: PathBuf, message: String },
    #[error("cannot write the tokens file {path}: {source} (the old file is unchanged)")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
}

/// A token presented by a client that matched: who it is and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub name: String,
    pub scopes: Vec<Scope>,
}

impl Tokens {
    /// The tokens file of the data directory `data`.
    pub fn path_in(data: &Path) -> PathBuf {
        data.join(FILE_NAME)
    }

    /// Read the file; a missing file is no tokens.
    pub fn load(path: &Path) -> Result<Tokens, TokenError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Tokens::default()),
            Err(source) => {
                return Err(TokenError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let tokens: Tokens = toml::from_str(&text).map_err(|e| TokenError::Damaged {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
        if let Some(bad) = tokens
            .tokens
            .keys()
            .find(|name| !crate::http::accounts::valid_name(name))
        {
            return Err(TokenError::Damaged {
                path: path.to_path_buf(),
                message: format!("`{bad}` is not a valid token name"),
            });
        }
        Ok(tokens)
    }

    /// Write the file whole ([`crate::http::accounts::write_private_file`]).
    pub fn save(&self, path: &Path) -> Result<(), TokenError> {
        let error = |source| TokenError::Write {
            path: path.to_path_buf(),
            source,
        };
        let text =
            toml::to_string(self).map_err(|e| error(std::io::Error::other(e.to_string())))?;
        crate::http::accounts::write_private_file(
            path,
            &format!("# API tokens (hashed): edit with `centralino tokens`.\n{text}"),
        )
        .map_err(error)
    }

    /// Make a token for `name` with `scopes`: the token itself is returned (to be shown once),
    /// only its hash is kept.
    pub fn add(
        &mut self,
        name: &str,
        scopes: &[Scope],
        now: jiff::Timestamp,
    ) -> Result<String, TokenError> {
        if !crate::http::accounts::valid_name(name) {
            return Err(TokenError::BadName(name.to_owned()));
        }
        if self.tokens.contains_key(name) {
            return Err(TokenError::Exists(name.to_owned()));
        }
        if scopes.is_empty() {
            return Err(TokenError::NoScope);
        }
        let mut bytes = [0u8; TOKEN_HEX / 2];
        getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
        let token = format!("{TOKEN_PREFIX}{}", hex(&bytes));
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        self.tokens.insert(
            name.to_owned(),
            StoredToken {
                scopes,
                hash: hash_token(&token),
                created_at: now,
            },
        );
        Ok(token)
    }

    pub fn revoke(&mut self, name: &str) -> Result<(), TokenError> {
        self.tokens
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| TokenError::Missing(name.to_owned()))
    }

    /// Who holds `presented`, if it is a token of the file. Every stored hash is compared, in
    /// constant time, so the time taken says nothing about which or how much matched.
    pub fn holder(&self, presented: &str) -> Option<Holder> {
        let hash = hash_token(presented);
        let mut found = None;
        for (name, stored) in &self.tokens {
            if bool::from(stored.hash.as_bytes().ct_eq(hash.as_bytes())) {
                found = Some(Holder {
                    name: name.clone(),
                    scopes: stored.scopes.clone(),
                });
            }
        }
        found
    }
}

/// `sha256:` and the hex digest of `token`.
pub fn hash_token(token: &str) -> String {
    format!("sha256:{}", hex(&Sha256::digest(token.as_bytes())))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// What says the file changed: its length and modification time.
type Stamp = Option<(u64, Option<std::time::SystemTime>)>;

/// The tokens file, read again when it changes (length or modification time).
#[derive(Debug)]
pub struct TokensFile {
    path: PathBuf,
    cached: Mutex<(Stamp, Arc<Tokens>)>,
}

impl TokensFile {
    pub fn new(path: PathBuf) -> TokensFile {
        TokensFile {
            path,
            cached: Mutex::new((None, Arc::new(Tokens::default()))),
        }
    }

    /// The tokens now; a file that cannot be read is no tokens (logged), so a damaged file
    /// lets nobody in rather than whoever was in before.
    pub fn current(&self) -> Arc<Tokens> {
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .map(|meta| (meta.len(), meta.modified().ok()));
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if cached.0.is_none() || cached.0 != stamp {
            let tokens = match Tokens::load(&self.path) {
                Ok(tokens) => tokens,
                Err(e) => {
                    tracing::error!(error = %e, "API tokens cannot be read; no token is accepted");
                    Tokens::default()
                }
            };
            *cached = (stamp, Arc::new(tokens));
        }
        cached.1.clone()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_token_is_shown_once_kept_hashed_and_recognised_until_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let path = Tokens::path_in(dir.path());
        let mut tokens = Tokens::default();
        let now = "2026-12-05T09:00:00Z".parse().unwrap();
        let token = tokens
            .add("sportello", &[Scope::TicketsWrite, Scope::TicketsRead], now)
            .unwrap();
        assert!(token.starts_with("ctk_") && token.len() == 68, "{token}");
        tokens.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&token[4..]), "the token itself is not kept");
        assert!(text.contains(&hash_token(&token)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let read = Tokens::load(&path).unwrap();
        let holder = read.holder(&token).unwrap();
        assert_eq!(holder.name, "sportello");
        assert_eq!(holder.scopes, [Scope::TicketsRead, Scope::TicketsWrite]);
        assert_eq!(read.holder("ctk_0000"), None);
        assert_eq!(read.holder(""), None);
        let mut read = read;
        assert!(matches!(
            read.add("sportello", &[Scope::CallsRead], now),
            Err(TokenError::Exists(_))
        ));
        assert!(matches!(read.add("x", &[], now), Err(TokenError::NoScope)));
        assert!(matches!(
            read.add("Bad Name", &[Scope::CallsRead], now),
            Err(TokenError::BadName(_))
        ));
        read.revoke("sportello").unwrap();
        assert_eq!(read.holder(&token), None);
        assert!(matches!(
            read.revoke("sportello"),
            Err(TokenError::Missing(_))
        ));
    }

    #[test]
    fn scopes_are_named_as_written() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(json, format!("\"{scope}\""));
        }
        assert_eq!(Scope::parse("tickets"), None);
    }
}
