//! Server-side digest authentication of staff phones (RFC 3261 §22, RFC 7616, RFC 8760), sans-IO.
//!
//! ```text
//!   Authorization: Digest username="201", nonce="…", nc=0000000b, response="…" …
//!        │ parse_digest (our parser: quoted strings, escapes, commas; hostile input is an error)
//!        ▼
//!   Verifier::verify(credentials, method, stored HA1, now)
//!        1. realm is ours          2. nonce carries our HMAC     3. response = KD(HA1, …), compared
//!        4. nonce not expired      5. nc above the highest seen     in constant time
//!        ▼
//!   Verdict: Authorized | Stale (password right, nonce too old: challenge again, stale=true)
//!            | Refused(why) (the phone gets the same 401 whatever the reason)
//! ```
//!
//! Why not rsipstack's `verify_digest`: it rejects correct responses once `nc` ≥ `0000000a` (it
//! reads nc into a u8 and prints it back in decimal), cannot parse `algorithm=SHA-256`, computes
//! `-sess` like the plain algorithms, compares with `==`, and neither issues nor checks nonces.
//! Here everything is ours: the parser, the hashes (`md-5`, `sha2`), the comparison (`subtle`).
//!
//! **Nonces** are stateless and signed: hex of `issued (8 B, seconds) ‖ random (16 B) ‖
//! HMAC-SHA-256(secret, issued ‖ random)[..16]`, 80 characters whatever the user. A nonce we did
//! not sign is refused; one older than its lifetime gets `stale=true`. **Replay**: the highest
//! `nc` used with each nonce is remembered (a bounded map; when it is full, expired nonces go
//! first, then the oldest, and every unseen nonce issued up to the oldest dropped one counts as
//! stale, so forgetting never lets a replay through). A request without `qop` (old phones,
//! MD5 only) has no `nc`: its nonce is good for one request.
//!
//! **Credentials** are HA1 hashes, `H(user:realm:password)`, never passwords. For a user we do
//! not know, the response is computed against a dummy HA1 all the same, so a wrong user and a
//! wrong password cost the same time.

use std::collections::HashMap;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use md5::Md5;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How long a nonce may be used before the phone is asked (with `stale=true`) to take a new one.
pub const NONCE_LIFETIME_S: i64 = 300;
/// Nonces whose highest `nc` is remembered at most (about 64 bytes each).
pub const NONCE_MEMORY: usize = 100_000;
/// A nonce "issued" this far in the future (a clock step back) is still taken as ours.
const CLOCK_SKEW_S: i64 = 60;

/// The digest algorithms (RFC 7616 §6.1, RFC 8760).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

/// The hash function under an algorithm, and so which stored HA1 it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    Md5,
    Sha256,
}

impl HashKind {
    /// Lowercase hex of the hash of `data`.
    pub fn hex(self, data: &[u8]) -> String {
        #[cfg(test)]
        tests::WORK.with(|work| work.borrow_mut().push(("hash", self.hex_len(), data.len())));
        match self {
            HashKind::Md5 => hex(&Md5::digest(data)),
            HashKind::Sha256 => hex(&Sha256::digest(data)),
        }
    }

    /// Hex digits of one hash: 32 for MD5, 64 for SHA-256.
    pub fn hex_len(self) -> usize {
        match self {
            HashKind::Md5 => 32,
            HashKind::Sha256 => 64,
        }
    }
}

impl Algorithm {
    /// The `algorithm` parameter, case-insensitive; `None` for one we do not support.
    pub fn parse(text: &str) -> Option<Algorithm> {
        [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
        ]
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(text))
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    pub fn kind(self) -> HashKind {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => HashKind::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => HashKind::Sha256,
        }
    }

    fn is_session(self) -> bool {
        match self {
            Algorithm::Md5Sess | Algorithm::Sha256Sess => true,
            Algorithm::Md5 | Algorithm::Sha256 => false,
        }
    }
}

/// `H(user:realm:password)` in hex: what the configuration keeps instead of a password.
pub fn ha1(kind: HashKind, user: &str, realm: &str, password: &str) -> String {
    kind.hex(format!("{user}:{realm}:{password}").as_bytes())
}

/// A staff member's stored HA1 hashes (lowercase hex); either may be missing.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Ha1 {
    pub md5: Option<String>,
    pub sha256: Option<String>,
}

impl Ha1 {
    fn for_kind(&self, kind: HashKind) -> Option<&str> {
        match kind {
            HashKind::Md5 => self.md5.as_deref(),
            HashKind::Sha256 => self.sha256.as_deref(),
        }
    }
}

/// Hashes are secrets: never printed.
impl fmt::Debug for Ha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ha1")
            .field("md5", &self.md5.as_ref().map(|_| "…"))
            .field("sha256", &self.sha256.as_ref().map(|_| "…"))
            .finish()
    }
}

/// The `Authorization: Digest …` of a request, as far as we use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    /// The response digest, as sent (hex).
    pub response: String,
    /// MD5 when absent (RFC 7616 §3.4).
    pub algorithm: Algorithm,
    /// `qop=auth` (with `cnonce` and `nc`), or none (RFC 2069 style, old phones).
    pub qop: Option<QopAuth>,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
}

/// `qop=auth` with its nonce count, both as sent (the count is hashed as sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QopAuth {
    pub cnonce: String,
    pub nc: u32,
    pub nc_text: String,
}

/// Why an `Authorization` header is not digest credentials we can check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a Digest authorization")]
    NotDigest,
    #[error("malformed parameter list at byte {at}")]
    Syntax { at: usize },
    #[error("parameter `{0}` given twice")]
    Duplicate(String),
    #[error("parameter `{0}` missing")]
    Missing(&'static str),
    #[error("algorithm `{0}` is not supported")]
    Algorithm(String),
    #[error("qop `{0}` is not supported (only auth)")]
    Qop(String),
    #[error("nc must be 8 hex digits, not `{0}`")]
    NonceCount(String),
    #[error("qop=auth needs cnonce and nc")]
    QopWithoutCount,
    #[error("the header is too long")]
    TooLong,
}

/// Longest `Authorization` value we read.
const MAX_HEADER: usize = 4096;

/// `name=value` pairs of a digest challenge or response (`Digest ` stripped), names lowercased,
/// values unquoted (`\x` is `x`). Hostile input is an error, never a panic.
pub fn parse_params(text: &str) -> Result<Vec<(String, String)>, ParseError> {
    if text.len() > MAX_HEADER {
        return Err(ParseError::TooLong);
    }
    let bytes = text.as_bytes();
    let mut params: Vec<(String, String)> = Vec::new();
    let mut at = 0;
    let skip_space = |at: &mut usize| {
        while bytes.get(*at).is_some_and(|b| b.is_ascii_whitespace()) {
            *at += 1;
        }
    };
    loop {
        skip_space(&mut at);
        if at >= bytes.len() {
            break;
        }
        let start = at;
        while bytes.get(at).is_some_and(|&b| is_token_byte(b)) {
            at += 1;
        }
        let name = text
            .get(start..at)
            .filter(|n| !n.is_empty())
            .ok_or(ParseError::Syntax { at })?
            .to_ascii_lowercase();
        skip_space(&mut at);
        if bytes.get(at) != Some(&b'=') {
            return Err(ParseError::Syntax { at });
        }
        at += 1;
        skip_space(&mut at);
        let value = if bytes.get(at) == Some(&b'"') {
            at += 1;
            let mut value = Vec::new();
            loop {
                match bytes.get(at) {
                    None => return Err(ParseError::Syntax { at }),
                    Some(b'"') => {
                        at += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let escaped = *bytes.get(at + 1).ok_or(ParseError::Syntax { at })?;
                        value.push(escaped);
                        at += 2;
                    }
                    Some(&b) => {
                        value.push(b);
                        at += 1;
                    }
                }
            }
            String::from_utf8(value).map_err(|_| ParseError::Syntax { at })?
        } else {
            let start = at;
            while bytes.get(at).is_some_and(|&b| is_token_byte(b)) {
                at += 1;
            }
            text.get(start..at)
                .filter(|v| !v.is_empty())
                .ok_or(ParseError::Syntax { at })?
                .to_owned()
        };
        if params.iter().any(|(n, _)| *n == name) {
            return Err(ParseError::Duplicate(name));
        }
        params.push((name, value));
        skip_space(&mut at);
        match bytes.get(at) {
            None => break,
            Some(b',') => at += 1,
            Some(_) => return Err(ParseError::Syntax { at }),
        }
    }
    Ok(params)
}

/// RFC 7230 token characters (also what SIP's `token` allows, plus `/` seen in some nonces).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/:".contains(&b)
}

/// Parses the value of an `Authorization` header (`Digest username="201", …`).
pub fn parse_digest(value: &str) -> Result<DigestCredentials, ParseError> {
    let value = value.trim_start();
    let scheme_end = value
        .find(|c: char| c.is_ascii_whitespace())
        .ok_or(ParseError::NotDigest)?;
    let (scheme, rest) = value.split_at(scheme_end);
    if !scheme.eq_ignore_ascii_case("digest") {
        return Err(ParseError::NotDigest);
    }
    let mut params = parse_params(rest)?;
    let mut take = |name: &'static str| {
        params
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| params.swap_remove(i).1)
    };
    let username = take("username").ok_or(ParseError::Missing("username"))?;
    let realm = take("realm").ok_or(ParseError::Missing("realm"))?;
    let nonce = take("nonce").ok_or(ParseError::Missing("nonce"))?;
    let uri = take("uri").ok_or(ParseError::Missing("uri"))?;
    let response = take("response").ok_or(ParseError::Missing("response"))?;
    let algorithm = match take("algorithm") {
        None => Algorithm::Md5,
        Some(text) => Algorithm::parse(&text).ok_or(ParseError::Algorithm(text))?,
    };
    let cnonce = take("cnonce");
    let opaque = take("opaque");
    let nc = take("nc");
    let qop = match take("qop") {
        None => None,
        Some(qop) if qop.eq_ignore_ascii_case("auth") => {
            let (Some(cnonce), Some(nc_text)) = (cnonce.clone(), nc) else {
                return Err(ParseError::QopWithoutCount);
            };
            let valid = nc_text.len() == 8 && nc_text.bytes().all(|b| b.is_ascii_hexdigit());
            let nc = u32::from_str_radix(&nc_text, 16)
                .ok()
                .filter(|_| valid)
                .ok_or_else(|| ParseError::NonceCount(nc_text.clone()))?;
            Some(QopAuth {
                cnonce,
                nc,
                nc_text,
            })
        }
        Some(other) => return Err(ParseError::Qop(other)),
    };
    Ok(DigestCredentials {
        username,
        realm,
        nonce,
        uri,
        response,
        algorithm,
        qop,
        cnonce,
        opaque,
    })
}

/// The expected `response` (hex) for these credentials (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1).
/// `ha1` is the stored `H(user:realm:password)` in hex. Without qop, RFC 2069's form.
pub fn expected_response(credentials: &DigestCredentials, method: &str, ha1: &str) -> String {
    let kind = credentials.algorithm.kind();
    let h = |text: String| kind.hex(text.as_bytes());
    let nonce = &credentials.nonce;
    let ha1 = match (&credentials.qop, credentials.algorithm.is_session()) {
        (Some(qop), true) => h(format!("{ha1}:{nonce}:{}", qop.cnonce)),
        _ => ha1.to_owned(),
    };
    let ha2 = h(format!("{method}:{}", credentials.uri));
    match &credentials.qop {
        Some(qop) => h(format!(
            "{ha1}:{nonce}:{}:{}:auth:{ha2}",
            qop.nc_text, qop.cnonce
        )),
        None => h(format!("{ha1}:{nonce}:{ha2}")),
    }
}

/// The outcome of checking an `Authorization`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The user proved the password, with a fresh nonce and count.
    Authorized,
    /// The response was right but the nonce is too old (or spent, without qop): challenge
    /// again with `stale=true`, which phones answer without asking for a password.
    Stale,
    /// Not authorized. The reason is for the log only: every refusal gets the same reply.
    Refused(Refusal),
}

/// Why credentials were refused (logged, never told to the phone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    WrongRealm,
    /// A nonce we did not issue (or from before a restart: the secret changed).
    ForgedNonce,
    /// An algorithm not offered, no qop with anything but MD5, or `-sess` without qop.
    Unsupported,
    UnknownUser,
    /// The user has no HA1 for the algorithm the phone chose.
    NoHashForAlgorithm,
    WrongResponse,
    /// The nonce count was not above the highest already used with this nonce.
    Replayed,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::WrongRealm => "wrong realm",
            Refusal::ForgedNonce => "a nonce we did not issue",
            Refusal::Unsupported => "unsupported algorithm and qop combination",
            Refusal::UnknownUser => "unknown user",
            Refusal::NoHashForAlgorithm => "no stored hash for the algorithm",
            Refusal::WrongResponse => "wrong password",
            Refusal::Replayed => "nonce count reused (replay)",
        }
    }
}

/// Nonce bytes: issued (8) ‖ random (16) ‖ truncated HMAC (16).
const NONCE_BYTES: usize = 40;
const NONCE_RANDOM: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Seen {
    issued: i64,
    /// The highest nc used; 0 before any (and for a nonce used once without qop).
    highest_nc: u32,
}

/// Issues our nonces and checks digest credentials against stored HA1 hashes.
pub struct Verifier {
    secret: [u8; 32],
    realm: String,
    /// The hash algorithms offered, preferred first; others are refused.
    offered: Vec<HashKind>,
    lifetime_s: i64,
    capacity: usize,
    seen: HashMap<[u8; NONCE_RANDOM], Seen>,
    /// Unseen nonces issued at or before this second are stale (their memory was given up).
    forgotten_until: i64,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("realm", &self.realm)
            .field("nonces_remembered", &self.seen.len())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier signing nonces with `secret` (random per server start: a restart voids the
    /// nonces given out before, so a REGISTER captured then cannot be replayed after).
    pub fn new(secret: [u8; 32], realm: impl Into<String>) -> Verifier {
        Verifier {
            secret,
            realm: realm.into(),
            offered: vec![HashKind::Sha256, HashKind::Md5],
            lifetime_s: NONCE_LIFETIME_S,
            capacity: NONCE_MEMORY,
            seen: HashMap::new(),
            forgotten_until: i64::MIN,
        }
    }

    /// Other limits (tests): nonce lifetime in seconds, nonces remembered.
    pub fn with_limits(mut self, lifetime_s: i64, capacity: usize) -> Verifier {
        self.lifetime_s = lifetime_s;
        self.capacity = capacity.max(1);
        self
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// A new nonce issued at `now` with 16 random bytes from the caller (the OS's randomness).
    pub fn nonce(&self, now: Timestamp, random: [u8; NONCE_RANDOM]) -> String {
        let mut bytes = Vec::with_capacity(NONCE_BYTES);
        bytes.extend_from_slice(&now.as_second().to_be_bytes());
        bytes.extend_from_slice(&random);
        let tag = self.sign(&bytes);
        bytes.extend_from_slice(&tag);
        hex(&bytes)
    }

    /// Offer these hash algorithms, in this order (by default SHA-256 then MD5). An algorithm
    /// left out is refused too (no downgrade to it); an empty list keeps the default.
    pub fn with_algorithms(mut self, offered: Vec<HashKind>) -> Verifier {
        if !offered.is_empty() {
            self.offered = offered;
        }
        self
    }

    /// The `WWW-Authenticate` values of a challenge, one per offered algorithm, the preferred
    /// first (RFC 8760 §2.4: SHA-256 before MD5 by default), sharing one nonce. The same for
    /// every user.
    pub fn challenges(&self, nonce: &str, stale: bool) -> Vec<String> {
        let stale = if stale { ", stale=true" } else { "" };
        self.offered
            .iter()
            .map(|kind| {
                let algorithm = match kind {
                    HashKind::Md5 => Algorithm::Md5,
                    HashKind::Sha256 => Algorithm::Sha256,
                };
                format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{stale}",
                    self.realm,
                    algorithm.name()
                )
            })
            .collect()
    }

    fn sign(&self, data: &[u8]) -> [u8; 16] {
        #[cfg(test)]
        tests::WORK.with(|work| work.borrow_mut().push(("hmac", 0, data.len())));
        let mut tag = [0u8; 16];
        // HMAC takes a key of any length: new_from_slice cannot fail here.
        if let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret) {
            mac.update(data);
            let full = mac.finalize().into_bytes();
            for (t, f) in tag.iter_mut().zip(full.iter()) {
                *t = *f;
            }
        }
        tag
    }

    /// The issue time and random part of a nonce we signed; `None` for any other string.
    fn open_nonce(&self, nonce: &str) -> Option<(i64, [u8; NONCE_RANDOM])> {
        let bytes = unhex(nonce)?;
        if bytes.len() != NONCE_BYTES {
            return None;
        }
        let (body, tag) = bytes.split_at(NONCE_BYTES - 16);
        if !bool::from(self.sign(body).ct_eq(tag)) {
            return None;
        }
        let issued = i64::from_be_bytes(body.get(..8)?.try_into().ok()?);
        let random: [u8; NONCE_RANDOM] = body.get(8..)?.try_into().ok()?;
        Some((issued, random))
    }

    /// A stand-in HA1 for a user we do not know (or a hash they do not have), so the work done
    /// is the same as for a wrong password.
    fn dummy_ha1(&self, kind: HashKind, username: &str) -> String {
        let mut seed = b"centralino dummy ha1:".to_vec();
        seed.extend_from_slice(username.as_bytes());
        let tag = self.sign(&seed);
        let mut text = kind.hex(&tag);
        text.truncate(kind.hex_len());
        text
    }

    /// Checks `credentials` of a request with `method`, for a user whose stored hashes are
    /// `ha1` (`None`: no such user), at `now`. Remembers the nonce count when authorized.
    pub fn verify(
        &mut self,
        credentials: &DigestCredentials,
        method: &str,
        ha1: Option<&Ha1>,
        now: Timestamp,
    ) -> Verdict {
        if credentials.realm != self.realm {
            return Verdict::Refused(Refusal::WrongRealm);
        }
        let Some((issued, random)) = self.open_nonce(&credentials.nonce) else {
            return Verdict::Refused(Refusal::ForgedNonce);
        };
        let supported = self.offered.contains(&credentials.algorithm.kind())
            && match &credentials.qop {
                Some(_) => true,
                None => credentials.algorithm == Algorithm::Md5,
            };
        if !supported {
            return Verdict::Refused(Refusal::Unsupported);
        }
        let kind = credentials.algorithm.kind();
        let stored = ha1.and_then(|h| h.for_kind(kind));
        // Made for everyone, used for unknown users: both paths do the same work.
        let dummy = self.dummy_ha1(kind, &credentials.username);
        let expected = expected_response(credentials, method, stored.unwrap_or(&dummy));
        let given = credentials.response.to_ascii_lowercase();
        let matches = bool::from(expected.as_bytes().ct_eq(given.as_bytes()));
        match (ha1, stored) {
            (None, _) => return Verdict::Refused(Refusal::UnknownUser),
            (Some(_), None) => return Verdict::Refused(Refusal::NoHashForAlgorithm),
            (Some(_), Some(_)) if !matches => return Verdict::Refused(Refusal::WrongResponse),
            (Some(_), Some(_)) => {}
        }
        let age = now.as_second().saturating_sub(issued);
        if age > self.lifetime_s || age < -CLOCK_SKEW_S {
            return Verdict::Stale;
        }
        let nc = credentials.qop.as_ref().map(|q| q.nc);
        match self.seen.get_mut(&random) {
            Some(seen) => match nc {
                Some(nc) if nc > seen.highest_nc => {
                    seen.highest_nc = nc;
                    Verdict::Authorized
                }
                Some(_) => Verdict::Refused(Refusal::Replayed),
                // Without qop a nonce is good once; the phone takes a new one without fuss.
                None => Verdict::Stale,
            },
            None if issued <= self.forgotten_until => Verdict::Stale,
            None => {
                if nc == Some(0) {
                    return Verdict::Refused(Refusal::Replayed);
                }
                self.remember(random, issued, nc.unwrap_or(0), now);
                Verdict::Authorized
            }
        }
    }

    fn remember(
        &mut self,
        random: [u8; NONCE_RANDOM],
        issued: i64,
        highest_nc: u32,
        now: Timestamp,
    ) {
        if self.seen.len() >= self.capacity {
            let oldest_valid = now.as_second().saturating_sub(self.lifetime_s);
            self.seen.retain(|_, s| s.issued >= oldest_valid);
            self.forgotten_until = self.forgotten_until.max(oldest_valid.saturating_sub(1));
        }
        if self.seen.len() >= self.capacity {
            // Still full of live nonces: forget the oldest quarter, and treat every unseen
            // nonce issued up to then as stale.
            let mut issued_times: Vec<i64> = self.seen.values().map(|s| s.issued).collect();
            issued_times.sort_unstable();
            let cut = issued_times
                .get(issued_times.len() / 4)
                .copied()
                .unwrap_or(i64::MIN);
            self.seen.retain(|_, s| s.issued > cut);
            self.forgotten_until = self.forgotten_until.max(cut);
        }
        self.seen.insert(random, Seen { issued, highest_nc });
    }

    /// Nonces whose count is remembered (for tests and the console).
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    text
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [high, low] => Some(digit(*high)? << 4 | digit(*low)?),
            _ => None,
        })
        .collect()
}

/// Whether `text` is `len` hex digits (an HA1 of the configuration).
pub fn is_hex_of_len(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    // The hashing done on this thread (operation, digest length, input length), for
    // [`unknown_users_cost_as_much_as_wrong_passwords`].
    thread_local! {
        pub(super) static WORK: std::cell::RefCell<Vec<(&'static str, usize, usize)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }

    const REALM: &str = "centralino";

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn verifier() -> Verifier {
        Verifier::new([7u8; 32], REALM)
    }

    fn hashes(user: &str, password: &str) -> Ha1 {
        Ha1 {
            md5: Some(ha1(HashKind::Md5, user, REALM, password)),
            sha256: Some(ha1(HashKind::Sha256, user, REALM, password)),
        }
    }

    /// What a phone sends for `nonce` with `password`.
    fn answer(
        algorithm: Algorithm,
        nonce: &str,
        nc: Option<u32>,
        user: &str,
        password: &str,
    ) -> DigestCredentials {
        let mut credentials = DigestCredentials {
            username: user.into(),
            realm: REALM.into(),
            nonce: nonce.into(),
            uri: "sip:127.0.0.1:5060".into(),
            response: String::new(),
            algorithm,
            qop: nc.map(|nc| QopAuth {
                cnonce: "0a4f113b".into(),
                nc,
                nc_text: format!("{nc:08x}"),
            }),
            cnonce: nc.map(|_| "0a4f113b".into()),
            opaque: None,
        };
        let stored = ha1(algorithm.kind(), user, REALM, password);
        credentials.response = expected_response(&credentials, "REGISTER", &stored);
        credentials
    }

    /// RFC 7616 §3.9.1: the MD5 and SHA-256 responses of the example.
    #[test]
    fn rfc7616_example_vectors() {
        for (algorithm, expected) in [
            (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
            (
                Algorithm::Sha256,
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let header = format!(
                "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", \
                 uri=\"/dir/index.html\", algorithm={}, \
                 nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
                 cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
                 response=\"{expected}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
                algorithm.name()
            );
            let credentials = parse_digest(&header).unwrap();
            assert_eq!(credentials.algorithm, algorithm);
            let stored = ha1(
                algorithm.kind(),
                "Mufasa",
                "http-auth@example.org",
                "Circle of Life",
            );
            assert_eq!(expected_response(&credentials, "GET", &stored), expected);
        }
    }

    /// RFC 2617 §3.5 (qop=auth, MD5) and the RFC 2069 form without qop.
    #[test]
    fn rfc2617_example_and_no_qop() {
        let header = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
            nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, \
            nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", \
            opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let credentials = parse_digest(header).unwrap();
        let stored = ha1(
            HashKind::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert_eq!(
            expected_response(&credentials, "GET", &stored),
            "6629fae49393a05397450978507c4ef1"
        );
        // RFC 2069: H(HA1:nonce:HA2).
        let mut old = credentials;
        old.qop = None;
        let ha2 = HashKind::Md5.hex(b"GET:/dir/index.html");
        let manual = HashKind::Md5.hex(format!("{stored}:{}:{ha2}", old.nonce).as_bytes());
        assert_eq!(expected_response(&old, "GET", &stored), manual);
    }

    #[test]
    fn sess_algorithms_hash_the_nonce_and_cnonce_into_ha1() {
        let v = verifier();
        let nonce = v.nonce(at(0), [1; 16]);
        let plain = answer(Algorithm::Sha256, &nonce, Some(1), "201", "pw201");
        let sess = answer(Algorithm::Sha256Sess, &nonce, Some(1), "201", "pw201");
        assert_ne!(plain.response, sess.response);
        let stored = ha1(HashKind::Sha256, "201", REALM, "pw201");
        let session_ha1 = HashKind::Sha256.hex(format!("{stored}:{nonce}:0a4f113b").as_bytes());
        let ha2 = HashKind::Sha256.hex(b"REGISTER:sip:127.0.0.1:5060");
        let manual = HashKind::Sha256
            .hex(format!("{session_ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}").as_bytes());
        assert_eq!(sess.response, manual);
        let mut v = v;
        assert_eq!(
            v.verify(&sess, "REGISTER", Some(&hashes("201", "pw201")), at(1)),
            Verdict::Authorized
        );
    }

    #[test]
    fn the_right_password_is_authorized_with_both_algorithms() {
        for algorithm in [Algorithm::Md5, Algorithm::Sha256, Algorithm::Md5Sess] {
            let mut v = verifier();
            let nonce = v.nonce(at(0), [2; 16]);
            let credentials = answer(algorithm, &nonce, Some(1), "201", "pw201");
            assert_eq!(
                v.verify(
                    &credentials,
                    "REGISTER",
                    Some(&hashes("201", "pw201")),
                    at(10)
                ),
                Verdict::Authorized,
                "{algorithm:?}"
            );
        }
    }

    #[test]
    fn nonce_counts_above_9_and_above_ff_work_and_must_grow() {
        let mut v = verifier();
        let stored = hashes("201", "pw201");
        let nonce = v.nonce(at(0), [3; 16]);
        for nc in [1, 0x0a, 0x0b, 0xff, 0x100, 0x1_0000] {
            let credentials = answer(Algorithm::Md5, &nonce, Some(nc), "201", "pw201");
            assert_eq!(
                v.verify(&credentials, "REGISTER", Some(&stored), at(1)),
                Verdict::Authorized,
                "nc {nc:#x}"
            );
        }
        // The same count again, or a lower one: a replay.
        for nc in [0x1_0000, 0x0b] {
            let credentials = answer(Algorithm::Md5, &nonce, Some(nc), "201", "pw201");
            assert_eq!(
                v.verify(&credentials, "REGISTER", Some(&stored), at(2)),
                Verdict::Refused(Refusal::Replayed)
            );
        }
        let header = "Digest username=\"201\", realm=\"centralino\", nonce=\"x\", uri=\"sip:a\", \
            response=\"0\", qop=auth, cnonce=\"c\", nc=0000010A";
        assert_eq!(parse_digest(header).unwrap().qop.unwrap().nc, 0x10a);
    }

    #[test]
    fn a_captured_request_cannot_be_replayed() {
        let mut v = verifier();
        let stored = hashes("201", "pw201");
        let nonce = v.nonce(at(0), [4; 16]);
        let captured = answer(Algorithm::Sha256, &nonce, Some(1), "201", "pw201");
        assert_eq!(
            v.verify(&captured, "REGISTER", Some(&stored), at(1)),
            Verdict::Authorized
        );
        assert_eq!(
            v.verify(&captured, "REGISTER", Some(&stored), at(2)),
            Verdict::Refused(Refusal::Replayed)
        );
        // Without qop, a nonce is good once; the second use is answered with a fresh nonce.
        let nonce = v.nonce(at(0), [5; 16]);
        let old_phone = answer(Algorithm::Md5, &nonce, None, "201", "pw201");
        assert_eq!(
            v.verify(&old_phone, "REGISTER", Some(&stored), at(1)),
            Verdict::Authorized
        );
        assert_eq!(
            v.verify(&old_phone, "REGISTER", Some(&stored), at(2)),
            Verdict::Stale
        );
        // No qop is for MD5 only.
        let nonce = v.nonce(at(0), [6; 16]);
        let odd = answer(Algorithm::Sha256, &nonce, None, "201", "pw201");
        assert_eq!(
            v.verify(&odd, "REGISTER", Some(&stored), at(1)),
            Verdict::Refused(Refusal::Unsupported)
        );
    }

    #[test]
    fn an_old_nonce_is_stale_when_the_password_is_right() {
        let mut v = verifier();
        let stored = hashes("201", "pw201");
        let nonce = v.nonce(at(0), [8; 16]);
        let late = answer(Algorithm::Md5, &nonce, Some(1), "201", "pw201");
        assert_eq!(
            v.verify(&late, "REGISTER", Some(&stored), at(NONCE_LIFETIME_S + 1)),
            Verdict::Stale
        );
        let wrong = answer(Algorithm::Md5, &nonce, Some(1), "201", "nope");
        assert_eq!(
            v.verify(&wrong, "REGISTER", Some(&stored), at(NONCE_LIFETIME_S + 1)),
            Verdict::Refused(Refusal::WrongResponse)
        );
        // Still good just before.
        assert_eq!(
            v.verify(&late, "REGISTER", Some(&stored), at(NONCE_LIFETIME_S)),
            Verdict::Authorized
        );
    }

    #[test]
    fn forged_and_foreign_nonces_are_refused() {
        let mut v = verifier();
        let stored = hashes("201", "pw201");
        let nonce = v.nonce(at(0), [9; 16]);
        // Change the issue time (make an old nonce young again): the signature no longer fits.
        let mut forged = nonce.clone().into_bytes();
        forged[15] = if forged[15] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(forged).unwrap();
        for nonce in [forged.as_str(), "", "abc", "zz", &"0".repeat(80)] {
            let credentials = answer(Algorithm::Md5, nonce, Some(1), "201", "pw201");
            assert_eq!(
                v.verify(&credentials, "REGISTER", Some(&stored), at(1)),
                Verdict::Refused(Refusal::ForgedNonce),
                "{nonce}"
            );
        }
        // Another server's secret.
        let other = Verifier::new([8u8; 32], REALM).nonce(at(0), [9; 16]);
        let credentials = answer(Algorithm::Md5, &other, Some(1), "201", "pw201");
        assert_eq!(
            v.verify(&credentials, "REGISTER", Some(&stored), at(1)),
            Verdict::Refused(Refusal::ForgedNonce)
        );
        let mut elsewhere = answer(Algorithm::Md5, &nonce, Some(1), "201", "pw201");
        elsewhere.realm = "other".into();
        assert_eq!(
            v.verify(&elsewhere, "REGISTER", Some(&stored), at(1)),
            Verdict::Refused(Refusal::WrongRealm)
        );
    }

    #[test]
    fn unknown_users_and_wrong_passwords_are_refused_alike() {
        let mut v = verifier();
        let nonce = v.nonce(at(0), [10; 16]);
        let stranger = answer(Algorithm::Md5, &nonce, Some(1), "299", "pw299");
        assert_eq!(
            v.verify(&stranger, "REGISTER", None, at(1)),
            Verdict::Refused(Refusal::UnknownUser)
        );
        let wrong = answer(Algorithm::Md5, &nonce, Some(1), "201", "pw202");
        assert_eq!(
            v.verify(&wrong, "REGISTER", Some(&hashes("201", "pw201")), at(1)),
            Verdict::Refused(Refusal::WrongResponse)
        );
        let md5_only = Ha1 {
            md5: Some(ha1(HashKind::Md5, "201", REALM, "pw201")),
            sha256: None,
        };
        let sha = answer(Algorithm::Sha256, &nonce, Some(1), "201", "pw201");
        assert_eq!(
            v.verify(&sha, "REGISTER", Some(&md5_only), at(1)),
            Verdict::Refused(Refusal::NoHashForAlgorithm)
        );
        assert_eq!(v.remembered(), 0, "refusals remember nothing");
    }

    /// An unknown user and a wrong password cost the same: the verifier does the same hashing
    /// (the same operations, in the same order, over inputs of the same lengths) for both, and
    /// compares in constant time. Counted, not timed: a timing test would measure the machine's
    /// load as much as the code.
    #[test]
    fn unknown_users_cost_as_much_as_wrong_passwords() {
        let mut v = verifier();
        let stored = hashes("201", "pw201");
        let nonce = v.nonce(at(0), [11; 16]);
        for algorithm in [Algorithm::Sha256, Algorithm::Md5] {
            let stranger = answer(algorithm, &nonce, Some(1), "299", "x");
            let wrong = answer(algorithm, &nonce, Some(1), "201", "x");
            let mut work_of = |credentials: &DigestCredentials, account: Option<&Ha1>| {
                WORK.with(|work| work.borrow_mut().clear());
                assert!(matches!(
                    v.verify(credentials, "REGISTER", account, at(1)),
                    Verdict::Refused(_)
                ));
                WORK.with(|work| work.borrow().clone())
            };
            let unknown = work_of(&stranger, None);
            let known = work_of(&wrong, Some(&stored));
            assert!(!unknown.is_empty());
            assert_eq!(unknown, known, "{algorithm:?}");
        }
    }

    #[test]
    fn nonces_look_alike_and_challenges_offer_sha256_first() {
        let v = verifier();
        let a = v.nonce(at(0), [1; 16]);
        let b = v.nonce(at(99), [2; 16]);
        assert_eq!((a.len(), b.len()), (80, 80));
        assert_ne!(a, b);
        let [first, second] = <[String; 2]>::try_from(v.challenges(&a, false)).unwrap();
        assert!(first.contains("algorithm=SHA-256"), "{first}");
        assert!(second.contains("algorithm=MD5"), "{second}");
        assert!(!first.contains("stale"));
        assert!(v.challenges(&a, true)[0].ends_with("stale=true"));
        // Another order, or MD5 left out (and then refused).
        let mut md5_first = verifier().with_algorithms(vec![HashKind::Md5, HashKind::Sha256]);
        assert!(md5_first.challenges(&a, false)[0].contains("algorithm=MD5"));
        let mut sha_only = verifier().with_algorithms(vec![HashKind::Sha256]);
        assert_eq!(sha_only.challenges(&a, false).len(), 1);
        let stored = hashes("201", "pw201");
        let md5 = answer(Algorithm::Md5, &a, Some(1), "201", "pw201");
        assert_eq!(
            sha_only.verify(&md5, "REGISTER", Some(&stored), at(1)),
            Verdict::Refused(Refusal::Unsupported)
        );
        assert_eq!(
            md5_first.verify(&md5, "REGISTER", Some(&stored), at(1)),
            Verdict::Authorized
        );
        // A challenge parses with our own parser.
        let params = parse_params(first.trim_start_matches("Digest ")).unwrap();
        assert_eq!(params[0], ("realm".into(), REALM.into()));
        assert_eq!(params[1], ("nonce".into(), a));
    }

    #[test]
    fn forgetting_nonces_under_pressure_never_lets_a_replay_through() {
        let mut v = verifier().with_limits(NONCE_LIFETIME_S, 4);
        let stored = hashes("201", "pw201");
        let mut used = Vec::new();
        for i in 0..10u8 {
            let nonce = v.nonce(at(i64::from(i)), [i; 16]);
            let credentials = answer(Algorithm::Md5, &nonce, Some(1), "201", "pw201");
            assert_eq!(
                v.verify(&credentials, "REGISTER", Some(&stored), at(20)),
                Verdict::Authorized
            );
            used.push(credentials);
            assert!(v.remembered() <= 4);
        }
        for credentials in &used {
            assert_ne!(
                v.verify(credentials, "REGISTER", Some(&stored), at(21)),
                Verdict::Authorized
            );
        }
    }

    #[test]
    fn the_parser_reads_quoted_strings_escapes_and_tokens() {
        let params = parse_params(
            r#"realm="a, \"b\"" ,nonce=xyz,  qop = "auth,auth-int" , algorithm=SHA-256"#,
        )
        .unwrap();
        assert_eq!(
            params,
            [
                ("realm".to_string(), r#"a, "b""#.to_string()),
                ("nonce".into(), "xyz".into()),
                ("qop".into(), "auth,auth-int".into()),
                ("algorithm".into(), "SHA-256".into()),
            ]
        );
        assert_eq!(parse_params("").unwrap(), []);
        for bad in [
            "a", "a=", "a=\"x", "=x", "a=x b=y", "a=x,,", "a=\"x\\", "a=1,a=2",
        ] {
            assert!(parse_params(bad).is_err(), "{bad}");
        }
        let header = "DIGEST USERNAME=\"201\",REALM=\"centralino\",NONCE=\"n\",URI=\"sip:x\",\
            RESPONSE=\"r\",ALGORITHM=sha-256-SESS,QOP=AUTH,CNONCE=\"c\",NC=00000001";
        let credentials = parse_digest(header).unwrap();
        assert_eq!(credentials.algorithm, Algorithm::Sha256Sess);
        assert_eq!(credentials.username, "201");
        assert_eq!(parse_digest("Basic abc="), Err(ParseError::NotDigest));
        assert_eq!(
            parse_digest(
                "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"r\", algorithm=SHA-512-256"
            ),
            Err(ParseError::Algorithm("SHA-512-256".into()))
        );
        assert_eq!(
            parse_digest(
                "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"r\", qop=auth-int, cnonce=\"c\", nc=00000001"
            ),
            Err(ParseError::Qop("auth-int".into()))
        );
        for nc in ["1", "0000000g", "000000001", "+0000001"] {
            let header = format!(
                "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"r\", qop=auth, cnonce=\"c\", nc={nc}"
            );
            assert!(parse_digest(&header).is_err(), "{nc}");
        }
        assert_eq!(
            parse_digest("Digest realm=\"r\""),
            Err(ParseError::Missing("username"))
        );
    }

    /// Mutated and random headers: errors or values, never a panic.
    #[test]
    fn hostile_headers_never_panic() {
        let seed = "Digest username=\"201\", realm=\"centralino\", nonce=\"abcdef\", \
            uri=\"sip:127.0.0.1\", response=\"0123\", algorithm=MD5, qop=auth, cnonce=\"x\", \
            nc=0000000a, opaque=\"o\\\"p\"";
        let alphabet: &[u8] = b"\"\\=, \t\r\nDdigestauth0aF\xc3\xa9\xff\x00";
        let mut rng = fastrand::Rng::with_seed(9);
        let mut v = verifier();
        for round in 0..20_000 {
            let mut bytes = seed.as_bytes().to_vec();
            for _ in 0..rng.usize(1..8) {
                let at = rng.usize(..=bytes.len());
                match rng.u8(0..4) {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 if at < bytes.len() => bytes[at] = alphabet[rng.usize(..alphabet.len())],
                    2 => bytes.insert(at, alphabet[rng.usize(..alphabet.len())]),
                    _ => bytes.truncate(at),
                }
            }
            if round % 100 == 0 {
                bytes = (0..rng.usize(0..200)).map(|_| rng.u8(..)).collect();
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(credentials) = parse_digest(&text) {
                let _ = v.verify(&credentials, "REGISTER", Some(&hashes("201", "pw")), at(1));
            }
        }
        assert_eq!(parse_params(&"a=b,".repeat(2000)), Err(ParseError::TooLong));
    }
}
