//! Staff accounts of the console: who may log in, with which role, and their passwords as
//! argon2id hashes (PHC strings), never in plain text.
//!
//! The accounts live in one TOML file next to the store (`DATA/accounts.toml`, mode 0600), as
//! `/etc/shadow` does for a machine: `centralino users add|passwd|remove` edit it (written to a
//! temporary file, then renamed, so a crash leaves the old file or the new one, never half of
//! one) and `serve` reads it again when it changes. A file rather than the store because the
//! store is held by a running server, and adding a colleague must not wait for a restart.
//!
//! ```toml
//! [accounts.admin]
//! role = "supervisor"
//! hash = "$argon2id$v=19$m=19456,t=2,p=1$..."
//! extension = "201"   # optional: the staff extension this person answers (presence)
//! offices = ["anagrafe"]   # optional, office staff: the offices they work (besides those
//!                          # whose staff list in the flows names their extension)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};

use crate::people::registrar::is_valid_extension;

/// The file's name inside the data directory.
pub const FILE_NAME: &str = "accounts.toml";

/// The shortest password accepted (NIST SP 800-63B asks for at least 8).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest: argon2 takes any length, but a megabyte password is an attack, not a password.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// What an account may do in the console. Wider roles include the narrower ones' pages:
/// a supervisor sees everything an operator sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Answers citizens: live calls, tickets, callbacks, the address book.
    Operator,
    /// Works an office's tickets, callbacks and bookings.
    OfficeStaff,
    /// Everything staff see, plus reports and the call log.
    Supervisor,
    /// Edits, publishes and rolls back flow files.
    FlowEditor,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Operator,
        Role::OfficeStaff,
        Role::Supervisor,
        Role::FlowEditor,
    ];

    /// The role as written in the file and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::OfficeStaff => "office-staff",
            Role::Supervisor => "supervisor",
            Role::FlowEditor => "flow-editor",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One account as kept in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub role: Role,
    /// The password's argon2id hash, a PHC string.
    pub hash: String,
    /// The staff extension this person answers on (`201`): the console sets its presence.
    /// Files written before extensions were kept have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// The offices an office-staff account works (by name, as the flows name them), besides
    /// those whose `staff` list names its extension. Empty in files written before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offices: Vec<String>,
}

/// Every account, by name (sorted, so the file and `users list` are stable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    #[serde(default)]
    pub accounts: BTreeMap<String, Account>,
}

/// What can go wrong with accounts; shown to the person at the terminal as is.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(
        "`{0}` is not a valid account name: use 1 to 32 lowercase letters, digits, `.`, `-` or `_`, starting with a letter"
    )]
    BadName(String),
    #[error("the password is too short: at least {MIN_PASSWORD_CHARS} characters")]
    ShortPassword,
    #[error("the password is too long: at most {MAX_PASSWORD_BYTES} bytes")]
    LongPassword,
    #[error(
        "there is already an account `{0}` (use `centralino users passwd {0}` to change its password)"
    )]
    Exists(String),
    #[error("there is no account `{0}` (`centralino users list` shows them)")]
    Missing(String),
    #[error("cannot read the accounts file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the accounts file {path} is damaged: {message} (it was not changed)")]
    Damaged { path: PathBuf, message: String },
    #[error("cannot write the accounts file {path}: {source} (the old file is unchanged)")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("`{0}` is not a staff extension: use 1 to 32 letters, digits, `.`, `-`, `_` or `+`")]
    BadExtension(String),
    #[error("`{0}` is not an office name: letters, digits and `_`, starting with a letter")]
    BadOffice(String),
}

/// Whether `name` can name an office (as the flows' identifiers do).
pub fn valid_office(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` may name an account: short, lowercase, no spaces or markup.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    starts_with_letter
        && name.len() <= 32
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
}

fn check_password(password: &str) -> Result<(), AccountError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::LongPassword);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::ShortPassword);
    }
    Ok(())
}

/// An argon2id hash of `password` with a fresh random salt (the crate's defaults, OWASP's
/// minimum: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    check_password(password)?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AccountError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccountError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `hash`; a damaged hash matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a password nobody knows, verified when the name is unknown so that an unknown
/// name and a wrong password take the same time (no enumeration of accounts by timing).
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        // A fixed salt is fine: this hash is never stored and its password is never used.
        SaltString::encode_b64(b"centralino-decoy")
            .ok()
            .and_then(|salt| {
                Argon2::default()
                    .hash_password(b"decoy password that matches nothing", &salt)
                    .ok()
                    .map(|hash| hash.to_string())
            })
            .unwrap_or_default()
    })
}

impl Accounts {
    /// The accounts file of the data directory `data`.
    pub fn path_in(data: &Path) -> PathBuf {
        data.join(FILE_NAME)
    }

    /// Read the file; a missing file is no accounts.
    pub fn load(path: &Path) -> Result<Accounts, AccountError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Accounts::default()),
            Err(source) => {
                return Err(AccountError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let accounts: Accounts = toml::from_str(&text).map_err(|e| AccountError::Damaged {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
        if let Some(bad) = accounts.accounts.keys().find(|name| !valid_name(name)) {
            return Err(AccountError::Damaged {
                path: path.to_path_buf(),
                message: format!("`{bad}` is not a valid account name"),
            });
        }
        if let Some((name, _)) = accounts.accounts.iter().find(|(_, account)| {
            account
                .extension
                .as_deref()
                .is_some_and(|extension| !is_valid_extension(extension))
        }) {
            return Err(AccountError::Damaged {
                path: path.to_path_buf(),
                message: format!("the extension of `{name}` is not a valid staff extension"),
            });
        }
        Ok(accounts)
    }

    /// Write the file whole ([`write_private_file`]).
    pub fn save(&self, path: &Path) -> Result<(), AccountError> {
        let error = |source| AccountError::Write {
            path: path.to_path_buf(),
            source,
        };
        let text =
            toml::to_string(self).map_err(|e| error(std::io::Error::other(e.to_string())))?;
        write_private_file(
            path,
            &format!("# Console accounts: edit with `centralino users`.\n{text}"),
        )
        .map_err(error)
    }

    pub fn add(&mut self, name: &str, role: Role, password: &str) -> Result<(), AccountError> {
        if !valid_name(name) {
            return Err(AccountError::BadName(name.to_string()));
        }
        if self.accounts.contains_key(name) {
            return Err(AccountError::Exists(name.to_string()));
        }
        let hash = hash_password(password)?;
        self.accounts.insert(
            name.to_string(),
            Account {
                role,
                hash,
                extension: None,
                offices: Vec::new(),
            },
        );
        Ok(())
    }

    pub fn set_password(&mut self, name: &str, password: &str) -> Result<(), AccountError> {
        let hash = hash_password(password)?;
        let account = self
            .accounts
            .get_mut(name)
            .ok_or_else(|| AccountError::Missing(name.to_string()))?;
        account.hash = hash;
        Ok(())
    }

    pub fn set_role(&mut self, name: &str, role: Role) -> Result<(), AccountError> {
        let account = self
            .accounts
            .get_mut(name)
            .ok_or_else(|| AccountError::Missing(name.to_string()))?;
        account.role = role;
        Ok(())
    }

    /// Say which staff extension `name` answers on (`None`: none).
    pub fn set_extension(
        &mut self,
        name: &str,
        extension: Option<&str>,
    ) -> Result<(), AccountError> {
        if let Some(extension) = extension
            && !is_valid_extension(extension)
        {
            return Err(AccountError::BadExtension(extension.to_string()));
        }
        let account = self
            .accounts
            .get_mut(name)
            .ok_or_else(|| AccountError::Missing(name.to_string()))?;
        account.extension = extension.map(str::to_owned);
        Ok(())
    }

    /// Say which offices `name` works (empty: only those of its extension in the flows).
    pub fn set_offices(&mut self, name: &str, offices: &[String]) -> Result<(), AccountError> {
        if let Some(bad) = offices.iter().find(|office| !valid_office(office)) {
            return Err(AccountError::BadOffice(bad.clone()));
        }
        let account = self
            .accounts
            .get_mut(name)
            .ok_or_else(|| AccountError::Missing(name.to_string()))?;
        let mut offices = offices.to_vec();
        offices.sort();
        offices.dedup();
        account.offices = offices;
        Ok(())
    }

    pub fn remove(&mut self, name: &str) -> Result<(), AccountError> {
        self.accounts
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| AccountError::Missing(name.to_string()))
    }

    /// The role of `name` if `password` is theirs. An unknown name costs a decoy verification,
    /// so that it answers in the same time as a wrong password.
    pub fn authenticate(&self, name: &str, password: &str) -> Option<Role> {
        match self.accounts.get(name) {
            Some(account) => verify_password(&account.hash, password).then_some(account.role),
            None => {
                let _ = verify_password(decoy_hash(), password);
                None
            }
        }
    }
}

/// Write `text` as the whole of `path`, readable by its owner only: a temporary file (mode
/// 0600) in the same folder, synced, then renamed over `path`, so a reader sees the old file or
/// the new one, never half of one. For the secrets' files (accounts, API tokens).
pub fn write_private_file(path: &Path, text: &str) -> std::io::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = folder.join(format!(".{name}.{}", std::process::id()));
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temporary)?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_password_is_kept_as_an_argon2id_hash_and_checked() {
        let mut accounts = Accounts::default();
        accounts
            .add("anna", Role::Supervisor, "segreta-123")
            .unwrap();
        let hash = &accounts.accounts["anna"].hash;
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("segreta-123"));
        assert_eq!(
            accounts.authenticate("anna", "segreta-123"),
            Some(Role::Supervisor)
        );
        assert_eq!(accounts.authenticate("anna", "segreta-124"), None);
        assert_eq!(accounts.authenticate("bruno", "segreta-123"), None);
    }

    #[test]
    fn names_and_passwords_are_checked() {
        let mut accounts = Accounts::default();
        for bad in [
            "",
            "Anna",
            "1anna",
            "an na",
            "anna<script>",
            &"a".repeat(33),
        ] {
            assert!(
                matches!(
                    accounts.add(bad, Role::Operator, "abbastanza-lunga"),
                    Err(AccountError::BadName(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            accounts.add("anna", Role::Operator, "corta"),
            Err(AccountError::ShortPassword)
        ));
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(matches!(
            accounts.add("anna", Role::Operator, &long),
            Err(AccountError::LongPassword)
        ));
        accounts
            .add("anna", Role::Operator, "abbastanza-lunga")
            .unwrap();
        assert!(matches!(
            accounts.add("anna", Role::Operator, "abbastanza-lunga"),
            Err(AccountError::Exists(_))
        ));
        assert!(matches!(
            accounts.set_password("bruno", "abbastanza-lunga"),
            Err(AccountError::Missing(_))
        ));
    }

    #[test]
    fn an_account_may_answer_on_an_extension_and_old_files_have_none() {
        let old = "[accounts.anna]\nrole = \"operator\"\nhash = \"$argon2id$x\"\n";
        let mut accounts: Accounts = toml::from_str(old).unwrap();
        assert_eq!(accounts.accounts["anna"].extension, None);
        accounts.set_extension("anna", Some("201")).unwrap();
        assert_eq!(accounts.accounts["anna"].extension.as_deref(), Some("201"));
        let written = toml::to_string(&accounts).unwrap();
        assert!(written.contains("extension = \"201\""), "{written}");
        assert_eq!(toml::from_str::<Accounts>(&written).unwrap(), accounts);
        for bad in ["", "2 01", "201<b>", &"1".repeat(33)] {
            assert!(
                matches!(
                    accounts.set_extension("anna", Some(bad)),
                    Err(AccountError::BadExtension(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            accounts.set_extension("bruno", Some("202")),
            Err(AccountError::Missing(_))
        ));
        accounts.set_extension("anna", None).unwrap();
        assert!(!toml::to_string(&accounts).unwrap().contains("extension"));
    }

    #[test]
    fn office_staff_may_name_their_offices_and_old_files_have_none() {
        let old = "[accounts.olga]\nrole = \"office-staff\"\nhash = \"$argon2id$x\"\n";
        let mut accounts: Accounts = toml::from_str(old).unwrap();
        assert!(accounts.accounts["olga"].offices.is_empty());
        accounts
            .set_offices(
                "olga",
                &["tributi".into(), "anagrafe".into(), "tributi".into()],
            )
            .unwrap();
        assert_eq!(accounts.accounts["olga"].offices, ["anagrafe", "tributi"]);
        let written = toml::to_string(&accounts).unwrap();
        assert!(
            written.contains("offices = [\"anagrafe\", \"tributi\"]"),
            "{written}"
        );
        assert_eq!(toml::from_str::<Accounts>(&written).unwrap(), accounts);
        for bad in ["", "uffici tecnici", "9a", "<b>", &"a".repeat(65)] {
            assert!(
                matches!(
                    accounts.set_offices("olga", &[bad.to_string()]),
                    Err(AccountError::BadOffice(_))
                ),
                "{bad:?}"
            );
        }
        accounts.set_offices("olga", &[]).unwrap();
        assert!(!toml::to_string(&accounts).unwrap().contains("offices"));
    }

    #[test]
    fn the_file_round_trips_with_mode_0600_and_a_damaged_file_is_refused() {
        let folder =
            std::env::temp_dir().join(format!("centralino-accounts-{}", std::process::id()));
        let path = Accounts::path_in(&folder);
        let _ = std::fs::remove_dir_all(&folder);
        assert_eq!(Accounts::load(&path).unwrap(), Accounts::default());
        let mut accounts = Accounts::default();
        accounts
            .add("anna", Role::FlowEditor, "segreta-123")
            .unwrap();
        accounts.save(&path).unwrap();
        assert_eq!(Accounts::load(&path).unwrap(), accounts);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "[accounts.anna]\nrole = \"king\"\nhash = \"x\"\n").unwrap();
        let error = Accounts::load(&path).unwrap_err().to_string();
        assert!(error.contains("damaged"), "{error}");
        std::fs::write(
            &path,
            "[accounts.anna]\nrole = \"operator\"\nhash = \"x\"\nextension = \"2 01\"\n",
        )
        .unwrap();
        let error = Accounts::load(&path).unwrap_err().to_string();
        assert!(error.contains("damaged"), "{error}");
        let _ = std::fs::remove_dir_all(&folder);
    }
}
