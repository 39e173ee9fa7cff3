//! The registrar: staff phones REGISTER here (RFC 3261 §10.3), sans-IO; the SIP adapter is
//! `sip::register`.
//!
//! ```text
//!   REGISTER (as plain header texts, source, now, 16 random bytes)
//!      │ throttle: this source failed too often lately? ──► answer later, or not at all
//!      │ no Authorization ──────────────────────────────► 401, a fresh nonce (SHA-256, MD5)
//!      │ digest::Verifier: refused ─────────────────────► the same 401 (failure counted)
//!      │                   stale ───────────────────────► 401 stale=true
//!      ▼ authorized as the To user
//!   contacts: none (a query) │ `*` with Expires: 0 │ each with its expires (param, header,
//!      default; below the minimum: 423; above the maximum: the maximum; 0: remove)
//!      ▼ Call-ID/CSeq: an older request for a binding is refused (500), nothing changes
//!   bindings of the extension ──► Outcome { reply: 200 with every contact, persist }
//! ```
//!
//! The registrar keeps the bindings in memory behind one lock and is the [`Location`] the rest
//! of the server asks. What it changed comes back in [`Outcome::persist`]: the adapter writes it
//! to the store (bindings survive a restart and are given back to [`Registrar::new`]).
//!
//! **No enumeration**: a REGISTER for an extension without an account, a wrong password, a
//! digest username other than the To user, a nonce we did not sign: all get the very same 401
//! (a fresh nonce; the work of checking a digest is done for unknown users too, see `digest`).
//! **Throttling**: wrong credentials from one IP address are counted in a window; past
//! [`Throttle::failures`] its requests are answered [`Throttle::delay`] late (the adapter
//! sleeps, not this module, holding one of [`Throttle::max_delayed`] places: with none free
//! the request is dropped), past [`Throttle::drop_after`] not at all, until the window ends.
//! Only wrong credentials count: a first REGISTER without credentials is the normal exchange,
//! so scanners (svwar) learn nothing and are not confused with an office behind one NAT address.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::digest::{Ha1, HashKind, Refusal, Verdict, Verifier, parse_digest};
use super::{Binding, Location, SignalTransport};

/// Whether `text` can be an extension (the user part of a staff address): 1 to 32 ASCII
/// letters, digits, `.`, `-`, `_`, `+`.
pub fn is_valid_extension(text: &str) -> bool {
    (1..=32).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
}

/// Expiry limits, in seconds (RFC 3261 §10.2.1.1, §10.3 step 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryLimits {
    /// Shorter asks get 423 Interval Too Brief with this as Min-Expires.
    pub min: u32,
    /// Longer asks get this.
    pub max: u32,
    /// When the phone says nothing.
    pub default: u32,
}

impl Default for ExpiryLimits {
    fn default() -> Self {
        ExpiryLimits {
            min: 60,
            max: 3600,
            default: 3600,
        }
    }
}

/// When failures from one source slow it down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Failures within the window before replies are delayed.
    pub failures: u32,
    /// Failures within the window before requests are dropped.
    pub drop_after: u32,
    pub window: Duration,
    /// How late a throttled source is answered.
    pub delay: Duration,
    /// Sources remembered at most (the oldest window is forgotten first).
    pub sources: usize,
    /// Answers waiting out their delay at most; beyond, throttled requests are dropped (a
    /// flood from a throttled source must not pile up waiting answers).
    pub max_delayed: usize,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            failures: 5,
            drop_after: 50,
            window: Duration::from_secs(300),
            delay: Duration::from_secs(2),
            sources: 10_000,
            max_delayed: 256,
        }
    }
}

/// What the registrar is configured with.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    pub realm: String,
    /// The digest algorithms offered, preferred first (SHA-256, MD5 by default); others are
    /// refused. Phones that read only the first challenge need theirs first.
    pub algorithms: Vec<HashKind>,
    /// Extension → its HA1 hashes: only these may register.
    pub accounts: BTreeMap<String, Ha1>,
    pub expiry: ExpiryLimits,
    /// Devices one extension may have; the binding closest to expiry makes room for a new one.
    pub max_devices: usize,
    pub throttle: Throttle,
}

impl RegistrarConfig {
    pub fn new(realm: impl Into<String>, accounts: BTreeMap<String, Ha1>) -> RegistrarConfig {
        RegistrarConfig {
            realm: realm.into(),
            algorithms: vec![HashKind::Sha256, HashKind::Md5],
            accounts,
            expiry: ExpiryLimits::default(),
            max_devices: 10,
            throttle: Throttle::default(),
        }
    }
}

/// One binding with what RFC 3261 §10.3 orders refreshes by; what the store keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub binding: Binding,
    pub call_id: String,
    pub cseq: u32,
}

/// A REGISTER as the adapter read it: header values as text, nothing interpreted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRequest {
    pub source: SocketAddr,
    pub transport: SignalTransport,
    /// The user part of the To URI: the extension being registered.
    pub to_user: Option<String>,
    pub call_id: String,
    pub cseq: u32,
    /// Every Contact header value (each may list several contacts).
    pub contacts: Vec<String>,
    pub expires: Option<String>,
    /// Every Authorization header value.
    pub authorization: Vec<String>,
    pub user_agent: Option<String>,
}

/// The answer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// 401 Unauthorized with these `WWW-Authenticate` values (SHA-256 first, then MD5, unless
    /// configured otherwise).
    Unauthorized { challenges: Vec<String> },
    /// 200 OK listing every current contact with its remaining seconds.
    Registered { contacts: Vec<(String, u32)> },
    /// 423 Interval Too Brief with `Min-Expires`.
    IntervalTooBrief { min_expires: u32 },
    /// 400 Bad Request (a broken Contact, Expires or `*`).
    BadRequest(&'static str),
    /// 500: a request older (same Call-ID, not a higher CSeq) than the binding's last one.
    OutOfOrder,
    /// Nothing at all: the source failed too often.
    Drop,
}

/// What happened, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Challenged,
    /// Wrong credentials; failures from this source in the window.
    Refused {
        refusal: RefusalKind,
        failures: u32,
    },
    Stale,
    Registered {
        extension: String,
        devices: usize,
    },
    Queried {
        extension: String,
    },
    Unregistered {
        extension: String,
        devices: usize,
    },
    Rejected(&'static str),
    Dropped {
        failures: u32,
    },
}

/// Why credentials failed: a digest refusal, or before the digest could be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    Digest(Refusal),
    /// The Authorization header did not parse.
    Malformed,
    /// The digest username is not the To user.
    OtherUser,
}

impl fmt::Display for RefusalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefusalKind::Digest(refusal) => f.write_str(refusal.reason()),
            RefusalKind::Malformed => f.write_str("malformed Authorization"),
            RefusalKind::OtherUser => f.write_str("digest username is not the To user"),
        }
    }
}

/// What to store after a request: the extension's registrations now (empty: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persist {
    pub extension: String,
    pub registrations: Vec<Registration>,
    /// Contacts came or went (flush before answering); false for a refresh only.
    pub durable: bool,
}

/// The registrar's decision on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub reply: Reply,
    /// Answer only after this long (a throttled source).
    pub delay: Option<Duration>,
    pub persist: Option<Persist>,
    pub event: Event,
}

/// A request other than REGISTER (INVITE, MESSAGE, SUBSCRIBE, REFER), as the adapter read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub source: SocketAddr,
    /// The request's method, as hashed into the digest (`INVITE`, `MESSAGE`, ...).
    pub method: String,
    /// Every `Authorization` and `Proxy-Authorization` header value.
    pub authorization: Vec<String>,
}

/// Who sent a request, and what to answer.
///
/// **The rule** (no enumeration, issue item 7): valid credentials make the sender the staff
/// member of the digest username. Without credentials (or with a stale nonce) a sender is
/// challenged only when some staff device is registered from its IP address; anyone else is a
/// stranger, answered exactly as a call to a number that does not exist. Wrong credentials
/// count as failures for the source (as for REGISTER); a known source is challenged again until
/// it is throttled, then it is a stranger too. The challenge is the one REGISTER gets, whatever
/// the extension asked for, so neither answer tells which extensions exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    /// Authenticated as this extension.
    Staff(String),
    /// Answer 401 with these `WWW-Authenticate` values (those of REGISTER).
    Challenge { challenges: Vec<String> },
    /// Answer as to an unknown number (404).
    Stranger,
}

/// What happened, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthEvent {
    Authenticated {
        extension: String,
    },
    Challenged,
    Stale,
    /// No credentials, and no staff device registered from this address.
    NoDeviceHere,
    Refused {
        refusal: RefusalKind,
        failures: u32,
    },
    /// Too many failures from this source: a stranger without looking further.
    Throttled {
        failures: u32,
    },
}

/// The registrar's decision on a request other than REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    pub decision: AuthDecision,
    /// Answer only after this long (a throttled source).
    pub delay: Option<Duration>,
    pub event: AuthEvent,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Timestamp,
}

struct State {
    verifier: Verifier,
    bindings: HashMap<String, Vec<Registration>>,
    failures: HashMap<IpAddr, Failures>,
}

/// The registrar: accounts, nonces, bindings and failure counts. Share it as `Arc<Registrar>`.
pub struct Registrar {
    config: RegistrarConfig,
    state: Mutex<State>,
    /// Answers now waiting out a throttling delay.
    delayed: AtomicUsize,
}

/// A place among the answers waiting out a delay; given back when dropped.
#[derive(Debug)]
pub struct DelayedAnswer<'a> {
    registrar: &'a Registrar,
}

impl Drop for DelayedAnswer<'_> {
    fn drop(&mut self) {
        self.registrar.delayed.fetch_sub(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Registrar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registrar")
            .field("realm", &self.config.realm)
            .field("accounts", &self.config.accounts.len())
            .finish_non_exhaustive()
    }
}

impl Registrar {
    /// A registrar signing nonces with `secret` (random per start), with the registrations the
    /// store kept (expired ones, and those of extensions without an account now, are dropped).
    pub fn new(
        config: RegistrarConfig,
        secret: [u8; 32],
        restored: Vec<Registration>,
        now: Timestamp,
    ) -> Registrar {
        let mut bindings: HashMap<String, Vec<Registration>> = HashMap::new();
        for registration in restored {
            let extension = &registration.binding.extension;
            if registration.binding.expires_at > now && config.accounts.contains_key(extension) {
                bindings
                    .entry(extension.clone())
                    .or_default()
                    .push(registration);
            }
        }
        Registrar {
            delayed: AtomicUsize::new(0),
            state: Mutex::new(State {
                verifier: Verifier::new(secret, config.realm.clone())
                    .with_algorithms(config.algorithms.clone()),
                bindings,
                failures: HashMap::new(),
            }),
            config,
        }
    }

    /// A registrar with no accounts: nobody can register (a server without `[staff]`).
    pub fn closed(secret: [u8; 32]) -> Registrar {
        Registrar::new(
            RegistrarConfig::new("centralino", BTreeMap::new()),
            secret,
            Vec::new(),
            Timestamp::UNIX_EPOCH,
        )
    }

    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// Take a place among the answers waiting out their delay; `None` when
    /// [`Throttle::max_delayed`] are already waiting (then drop the request).
    pub fn hold_delayed(&self) -> Option<DelayedAnswer<'_>> {
        let limit = self.config.throttle.max_delayed;
        self.delayed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| DelayedAnswer { registrar: self })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every binding not expired at `now`, by extension then contact (for the console).
    pub fn registrations(&self, now: Timestamp) -> Vec<Binding> {
        let state = self.lock();
        let mut all: Vec<Binding> = state
            .bindings
            .values()
            .flatten()
            .filter(|r| r.binding.expires_at > now)
            .map(|r| r.binding.clone())
            .collect();
        all.sort_by(|a, b| (&a.extension, &a.contact).cmp(&(&b.extension, &b.contact)));
        all
    }

    /// Decide on one REGISTER received at `now`; `random` seeds a new nonce if one is needed.
    pub fn register(&self, request: &RegisterRequest, now: Timestamp, random: [u8; 16]) -> Outcome {
        let mut state = self.lock();
        let ip = request.source.ip();
        let failures = state.failures_of(ip, now, self.config.throttle.window);
        let throttle = &self.config.throttle;
        if failures >= throttle.drop_after {
            return Outcome {
                reply: Reply::Drop,
                delay: None,
                persist: None,
                event: Event::Dropped { failures },
            };
        }
        let delay = (failures >= throttle.failures).then_some(throttle.delay);
        let outcome = |reply, event| Outcome {
            reply,
            delay,
            persist: None,
            event,
        };
        let challenge = |state: &State, stale: bool| Reply::Unauthorized {
            challenges: state
                .verifier
                .challenges(&state.verifier.nonce(now, random), stale),
        };

        let Some(extension) = request.to_user.clone().filter(|u| !u.is_empty()) else {
            return outcome(
                Reply::BadRequest("no user in To"),
                Event::Rejected("no user in To"),
            );
        };
        // The phone may answer several challenges (other realms): take ours, else the first.
        let parsed: Vec<_> = request
            .authorization
            .iter()
            .map(|value| parse_digest(value))
            .collect();
        let ours = parsed
            .iter()
            .find(|p| p.as_ref().is_ok_and(|c| c.realm == self.config.realm))
            .or_else(|| parsed.first());
        let verdict = match ours {
            None => return outcome(challenge(&state, false), Event::Challenged),
            Some(Err(_)) => Err(RefusalKind::Malformed),
            Some(Ok(credentials)) if credentials.username != extension => {
                Err(RefusalKind::OtherUser)
            }
            Some(Ok(credentials)) => {
                let account = self.config.accounts.get(&extension);
                match state.verifier.verify(credentials, "REGISTER", account, now) {
                    Verdict::Authorized => Ok(()),
                    Verdict::Stale => return outcome(challenge(&state, true), Event::Stale),
                    Verdict::Refused(refusal) => Err(RefusalKind::Digest(refusal)),
                }
            }
        };
        if let Err(refusal) = verdict {
            let failures = state.failed(ip, now, throttle);
            return outcome(
                challenge(&state, false),
                Event::Refused { refusal, failures },
            );
        }

        // Authorized as `extension`.
        let current = state.bindings.get(&extension).cloned().unwrap_or_default();
        let change = self.apply(&extension, current, request, now);
        match change {
            Err((reply, why)) => outcome(reply, Event::Rejected(why)),
            Ok(Applied::Query(list)) => outcome(
                Reply::Registered {
                    contacts: contacts_with_expiry(&list, now),
                },
                Event::Queried { extension },
            ),
            Ok(Applied::Changed {
                registrations,
                durable,
                removed,
            }) => {
                let contacts = contacts_with_expiry(&registrations, now);
                let devices = registrations.len();
                if registrations.is_empty() {
                    state.bindings.remove(&extension);
                } else {
                    state
                        .bindings
                        .insert(extension.clone(), registrations.clone());
                }
                let event = if removed && devices == 0 {
                    Event::Unregistered {
                        extension: extension.clone(),
                        devices,
                    }
                } else {
                    Event::Registered {
                        extension: extension.clone(),
                        devices,
                    }
                };
                Outcome {
                    reply: Reply::Registered { contacts },
                    delay,
                    persist: Some(Persist {
                        extension,
                        registrations,
                        durable,
                    }),
                    event,
                }
            }
        }
    }

    /// Decide who sent a request other than REGISTER (INVITE, MESSAGE, SUBSCRIBE, REFER) from a
    /// staff device, with the same accounts, nonces, constant-time check and failure counts as
    /// REGISTER. See [`Authentication`] for the rule that keeps extensions from being
    /// enumerated.
    pub fn authenticate(
        &self,
        request: &AuthRequest,
        now: Timestamp,
        random: [u8; 16],
    ) -> Authentication {
        let mut state = self.lock();
        let ip = request.source.ip();
        let throttle = &self.config.throttle;
        let failures = state.failures_of(ip, now, throttle.window);
        if failures >= throttle.drop_after {
            return Authentication {
                decision: AuthDecision::Stranger,
                delay: None,
                event: AuthEvent::Throttled { failures },
            };
        }
        let delay = (failures >= throttle.failures).then_some(throttle.delay);
        let known_source = state.has_device_at(ip, now);
        let decide = |decision, event| Authentication {
            decision,
            delay,
            event,
        };
        let challenge = |state: &State, stale: bool| AuthDecision::Challenge {
            challenges: state
                .verifier
                .challenges(&state.verifier.nonce(now, random), stale),
        };
        let parsed: Vec<_> = request
            .authorization
            .iter()
            .map(|value| parse_digest(value))
            .collect();
        let ours = parsed
            .iter()
            .find(|p| p.as_ref().is_ok_and(|c| c.realm == self.config.realm))
            .or_else(|| parsed.first());
        let refusal = match ours {
            None if known_source => {
                return decide(challenge(&state, false), AuthEvent::Challenged);
            }
            None => return decide(AuthDecision::Stranger, AuthEvent::NoDeviceHere),
            Some(Err(_)) => RefusalKind::Malformed,
            Some(Ok(credentials)) => {
                let account = self.config.accounts.get(&credentials.username);
                match state
                    .verifier
                    .verify(credentials, &request.method, account, now)
                {
                    Verdict::Authorized => {
                        let extension = credentials.username.clone();
                        return decide(
                            AuthDecision::Staff(extension.clone()),
                            AuthEvent::Authenticated { extension },
                        );
                    }
                    Verdict::Stale if known_source => {
                        return decide(challenge(&state, true), AuthEvent::Stale);
                    }
                    Verdict::Stale => {
                        return decide(AuthDecision::Stranger, AuthEvent::NoDeviceHere);
                    }
                    Verdict::Refused(refusal) => RefusalKind::Digest(refusal),
                }
            }
        };
        let failures = state.failed(ip, now, throttle);
        let decision = if known_source && failures < throttle.failures {
            challenge(&state, false)
        } else {
            AuthDecision::Stranger
        };
        decide(decision, AuthEvent::Refused { refusal, failures })
    }

    /// The extension's registrations after an authorized request, or why not.
    fn apply(
        &self,
        extension: &str,
        current: Vec<Registration>,
        request: &RegisterRequest,
        now: Timestamp,
    ) -> Result<Applied, (Reply, &'static str)> {
        let bad = |why: &'static str| (Reply::BadRequest(why), why);
        let mut list: Vec<Registration> = current
            .into_iter()
            .filter(|r| r.binding.expires_at > now)
            .collect();
        let expired_dropped = list.len();
        let header_expires = match request.expires.as_deref() {
            None => None,
            Some(text) => Some(parse_expires(text).ok_or_else(|| bad("bad Expires"))?),
        };
        let mut contacts = Vec::new();
        for value in &request.contacts {
            contacts.extend(parse_contacts(value).ok_or_else(|| bad("bad Contact"))?);
        }
        if contacts.is_empty() {
            return Ok(Applied::Query(list));
        }
        if contacts.iter().any(|c| matches!(c, ContactSpec::All)) {
            if contacts.len() != 1 || header_expires != Some(0) {
                return Err(bad("Contact: * needs Expires: 0 and no other contact"));
            }
            // RFC 3261 §10.3 step 6: the Call-ID/CSeq rule holds for each binding removed.
            if list
                .iter()
                .any(|r| r.call_id == request.call_id && r.cseq >= request.cseq)
            {
                return Err((Reply::OutOfOrder, "CSeq not above the binding's"));
            }
            return Ok(Applied::Changed {
                removed: true,
                durable: true,
                registrations: Vec::new(),
            });
        }
        let limits = self.config.expiry;
        let mut durable = list.len() != expired_dropped;
        let mut removed = false;
        for contact in contacts {
            let ContactSpec::Uri { uri, expires } = contact else {
                continue;
            };
            let asked = expires.or(header_expires).unwrap_or(limits.default);
            if asked != 0 && asked < limits.min {
                return Err((
                    Reply::IntervalTooBrief {
                        min_expires: limits.min,
                    },
                    "expires below the minimum",
                ));
            }
            let seconds = asked.min(limits.max);
            let existing = list.iter().position(|r| r.binding.contact == uri);
            if let Some(at) = existing
                && let Some(old) = list.get(at)
                && old.call_id == request.call_id
                && old.cseq >= request.cseq
            {
                return Err((Reply::OutOfOrder, "CSeq not above the binding's"));
            }
            if seconds == 0 {
                if let Some(at) = existing {
                    list.remove(at);
                    durable = true;
                    removed = true;
                }
                continue;
            }
            let registration = Registration {
                binding: Binding {
                    extension: extension.to_owned(),
                    contact: uri,
                    source: request.source,
                    transport: request.transport,
                    expires_at: now
                        .checked_add(SignedDuration::from_secs(i64::from(seconds)))
                        .unwrap_or(now),
                    user_agent: request.user_agent.clone(),
                },
                call_id: request.call_id.clone(),
                cseq: request.cseq,
            };
            match existing.and_then(|at| list.get_mut(at)) {
                Some(slot) => {
                    durable |= slot.binding.source != registration.binding.source;
                    *slot = registration;
                }
                None => {
                    if list.len() >= self.config.max_devices.max(1) {
                        // Make room: the device closest to expiry goes.
                        if let Some(at) = list
                            .iter()
                            .enumerate()
                            .min_by_key(|(_, r)| r.binding.expires_at)
                            .map(|(at, _)| at)
                        {
                            list.remove(at);
                        }
                    }
                    list.push(registration);
                    durable = true;
                }
            }
        }
        Ok(Applied::Changed {
            registrations: list,
            durable,
            removed,
        })
    }
}

enum Applied {
    Query(Vec<Registration>),
    Changed {
        registrations: Vec<Registration>,
        durable: bool,
        removed: bool,
    },
}

impl State {
    /// Whether a device registered from `ip` (any port) and not expired at `now`.
    fn has_device_at(&self, ip: IpAddr, now: Timestamp) -> bool {
        self.bindings
            .values()
            .flatten()
            .any(|r| r.binding.source.ip() == ip && r.binding.expires_at > now)
    }

    /// Failures of `ip` in the current window (a window that ended is forgotten).
    fn failures_of(&mut self, ip: IpAddr, now: Timestamp, window: Duration) -> u32 {
        match self.failures.get(&ip) {
            Some(f) if window_over(f.since, now, window) => {
                self.failures.remove(&ip);
                0
            }
            Some(f) => f.count,
            None => 0,
        }
    }

    fn failed(&mut self, ip: IpAddr, now: Timestamp, throttle: &Throttle) -> u32 {
        if !self.failures.contains_key(&ip) && self.failures.len() >= throttle.sources.max(1) {
            self.failures
                .retain(|_, f| !window_over(f.since, now, throttle.window));
            if self.failures.len() >= throttle.sources.max(1)
                && let Some(oldest) = self
                    .failures
                    .iter()
                    .min_by_key(|(_, f)| f.since)
                    .map(|(ip, _)| *ip)
            {
                self.failures.remove(&oldest);
            }
        }
        let entry = self.failures.entry(ip).or_insert(Failures {
            count: 0,
            since: now,
        });
        entry.count = entry.count.saturating_add(1);
        entry.count
    }
}

fn window_over(since: Timestamp, now: Timestamp, window: Duration) -> bool {
    let window = SignedDuration::try_from(window).unwrap_or(SignedDuration::MAX);
    now.duration_since(since) >= window
}

impl Location for Registrar {
    fn bindings(&self, extension: &str, now: Timestamp) -> Vec<Binding> {
        self.lock()
            .bindings
            .get(extension)
            .map(|list| {
                list.iter()
                    .filter(|r| r.binding.expires_at > now)
                    .map(|r| r.binding.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn contacts_with_expiry(list: &[Registration], now: Timestamp) -> Vec<(String, u32)> {
    list.iter()
        .map(|r| {
            let left = r.binding.expires_at.duration_since(now).as_secs();
            (
                r.binding.contact.clone(),
                u32::try_from(left.max(0)).unwrap_or(u32::MAX),
            )
        })
        .collect()
}

/// One entry of a Contact header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactSpec {
    /// `*`
    All,
    /// The URI (without `<>`) and its `expires` parameter.
    Uri { uri: String, expires: Option<u32> },
}

/// `Expires`/`expires=`: delta seconds; larger than a u32 is the largest (RFC 3261 §20.19).
fn parse_expires(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<u32>().unwrap_or(u32::MAX))
}

/// The contacts of one Contact header value: `*`, or a comma-separated list of
/// `["Name"] <uri>;params` or `uri;params`. `None` when it is malformed.
pub fn parse_contacts(value: &str) -> Option<Vec<ContactSpec>> {
    if value.trim() == "*" {
        return Some(vec![ContactSpec::All]);
    }
    let mut contacts = Vec::new();
    for part in split_outside(value, ',') {
        let part = part.trim();
        if part.is_empty() {
            return None;
        }
        let (uri, params) = match first_outside_quotes(part, '<') {
            Some(open) => {
                let close = part.get(open..)?.find('>')? + open;
                let uri = part.get(open + 1..close)?.trim();
                (uri, part.get(close + 1..)?)
            }
            _ => match part.find(';') {
                Some(at) => (part.get(..at)?.trim(), part.get(at..)?),
                None => (part, ""),
            },
        };
        let lower = uri.to_ascii_lowercase();
        let plausible = (lower.starts_with("sip:") || lower.starts_with("sips:"))
            && uri.len() > 4
            && !uri.contains(|c: char| c.is_whitespace() || c.is_control() || c == '"');
        if !plausible {
            return None;
        }
        let mut expires = None;
        for param in split_outside(params, ';') {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            if name.trim().eq_ignore_ascii_case("expires") {
                expires = Some(parse_expires(value)?);
            }
        }
        contacts.push(ContactSpec::Uri {
            uri: uri.to_owned(),
            expires,
        });
    }
    Some(contacts)
}

/// Pieces of `text` between `separator`s that are outside quotes and `<…>`.
fn split_outside(text: &str, separator: char) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut quoted, mut angled, mut escaped) = (false, false, false);
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angled = true,
            '>' if !quoted => angled = false,
            c if c == separator && !quoted && !angled => {
                pieces.push(text.get(start..at).unwrap_or_default());
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    pieces.push(text.get(start..).unwrap_or_default());
    pieces.retain(|p| !(separator == ';' && p.trim().is_empty()));
    pieces
}

/// Where `wanted` first occurs outside a quoted string.
fn first_outside_quotes(text: &str, wanted: char) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (at, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == wanted && !quoted => return Some(at),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::people::digest::{
        Algorithm, DigestCredentials, QopAuth, expected_response, ha1, parse_params,
    };

    const REALM: &str = "centralino";

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn account(user: &str, password: &str) -> (String, Ha1) {
        (
            user.to_owned(),
            Ha1 {
                md5: Some(ha1(HashKind::Md5, user, REALM, password)),
                sha256: Some(ha1(HashKind::Sha256, user, REALM, password)),
            },
        )
    }

    fn registrar() -> Registrar {
        let mut config = RegistrarConfig::new(
            REALM,
            [account("201", "pw201"), account("202", "pw202")].into(),
        );
        config.max_devices = 3;
        config.throttle = Throttle {
            failures: 3,
            drop_after: 6,
            window: Duration::from_secs(60),
            delay: Duration::from_secs(2),
            sources: 100,
            max_delayed: 2,
        };
        Registrar::new(config, [1; 32], Vec::new(), at(0))
    }

    /// A phone: its address, Call-ID, CSeq, and the nonce it was last given.
    struct Phone {
        user: String,
        password: String,
        source: SocketAddr,
        call_id: String,
        cseq: u32,
        nc: u32,
        nonce: Option<String>,
    }

    impl Phone {
        fn new(user: &str, password: &str, port: u16) -> Phone {
            Phone {
                user: user.into(),
                password: password.into(),
                source: SocketAddr::from(([192, 0, 2, 7], port)),
                call_id: format!("call-{port}"),
                cseq: 0,
                nc: 0,
                nonce: None,
            }
        }

        fn request(&mut self, contacts: &[&str], expires: Option<&str>) -> RegisterRequest {
            self.cseq += 1;
            let authorization = self.nonce.clone().map(|nonce| {
                self.nc += 1;
                let mut credentials = DigestCredentials {
                    username: self.user.clone(),
                    realm: REALM.into(),
                    nonce,
                    uri: "sip:centralino".into(),
                    response: String::new(),
                    algorithm: Algorithm::Sha256,
                    qop: Some(QopAuth {
                        cnonce: "c".into(),
                        nc: self.nc,
                        nc_text: format!("{:08x}", self.nc),
                    }),
                    cnonce: Some("c".into()),
                    opaque: None,
                };
                let stored = ha1(HashKind::Sha256, &self.user, REALM, &self.password);
                credentials.response = expected_response(&credentials, "REGISTER", &stored);
                format!(
                    "Digest username=\"{}\", realm=\"{REALM}\", nonce=\"{}\", uri=\"sip:centralino\", \
                     response=\"{}\", algorithm=SHA-256, qop=auth, cnonce=\"c\", nc={:08x}",
                    self.user, credentials.nonce, credentials.response, self.nc
                )
            });
            RegisterRequest {
                source: self.source,
                transport: SignalTransport::Udp,
                to_user: Some(self.user.clone()),
                call_id: self.call_id.clone(),
                cseq: self.cseq,
                contacts: contacts.iter().map(|c| c.to_string()).collect(),
                expires: expires.map(str::to_owned),
                authorization: authorization.into_iter().collect(),
                user_agent: Some("test phone".into()),
            }
        }

        /// Send; on a challenge take its nonce and send again (as phones do).
        fn register(
            &mut self,
            registrar: &Registrar,
            contacts: &[&str],
            expires: Option<&str>,
            now: Timestamp,
        ) -> Outcome {
            let request = self.request(contacts, expires);
            let outcome = registrar.register(&request, now, fresh_random());
            if let Reply::Unauthorized { challenges } = &outcome.reply {
                let params = parse_params(challenges[0].trim_start_matches("Digest ")).unwrap();
                let nonce = params.iter().find(|(n, _)| n == "nonce").unwrap().1.clone();
                if self.nonce.as_deref() != Some(nonce.as_str()) {
                    self.nonce = Some(nonce);
                    self.nc = 0;
                    let request = self.request(contacts, expires);
                    return registrar.register(&request, now, fresh_random());
                }
            }
            outcome
        }
    }

    /// Distinct nonces for every challenge of a test.
    fn fresh_random() -> [u8; 16] {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut random = [0u8; 16];
        random[..8].copy_from_slice(&n.to_be_bytes());
        random
    }

    fn contacts(outcome: &Outcome) -> Vec<(String, u32)> {
        match &outcome.reply {
            Reply::Registered { contacts } => contacts.clone(),
            other => panic!("not registered: {other:?}"),
        }
    }

    const DESK: &str = "<sip:201@192.0.2.7:5062;transport=udp>";
    const SOFT: &str = "\"Anna, soft\" <sip:201@192.0.2.8:5070>;expires=120";

    #[test]
    fn a_phone_registers_after_a_challenge_and_is_found() {
        let registrar = registrar();
        let mut desk = Phone::new("201", "pw201", 5062);
        let first = registrar.register(&desk.request(&[DESK], None), at(0), [1; 16]);
        assert!(matches!(first.reply, Reply::Unauthorized { .. }));
        assert_eq!(first.event, Event::Challenged);
        desk.cseq = 0;
        let outcome = desk.register(&registrar, &[DESK], Some("600"), at(0));
        assert_eq!(
            contacts(&outcome),
            [("sip:201@192.0.2.7:5062;transport=udp".to_string(), 600)]
        );
        let persist = outcome.persist.unwrap();
        assert!(persist.durable);
        assert_eq!(persist.registrations.len(), 1);
        let found = registrar.bindings("201", at(10));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].source, desk.source);
        assert_eq!(found[0].user_agent.as_deref(), Some("test phone"));
        assert!(registrar.bindings("202", at(10)).is_empty());
        // Expired: not found any more.
        assert!(registrar.bindings("201", at(600)).is_empty());
    }

    #[test]
    fn two_devices_refresh_and_unregister_one_by_one() {
        let registrar = registrar();
        let mut desk = Phone::new("201", "pw201", 5062);
        let mut soft = Phone::new("201", "pw201", 5070);
        desk.register(&registrar, &[DESK], None, at(0));
        let both = soft.register(&registrar, &[SOFT], Some("900"), at(10));
        assert_eq!(
            contacts(&both),
            [
                ("sip:201@192.0.2.7:5062;transport=udp".to_string(), 3590),
                ("sip:201@192.0.2.8:5070".to_string(), 120),
            ],
            "the param wins over the header; the default is the maximum"
        );
        // A refresh (same Call-ID, higher CSeq) moves the expiry and is not a durable change.
        let refresh = soft.register(&registrar, &[SOFT], None, at(100));
        assert_eq!(
            contacts(&refresh)[1],
            ("sip:201@192.0.2.8:5070".into(), 120)
        );
        assert!(!refresh.persist.unwrap().durable);
        // A query lists without changing.
        let query = desk.register(&registrar, &[], None, at(101));
        assert_eq!(
            query.event,
            Event::Queried {
                extension: "201".into()
            }
        );
        assert_eq!(contacts(&query).len(), 2);
        assert!(query.persist.is_none());
        // Expires: 0 on one contact removes that one.
        let gone = soft.register(
            &registrar,
            &["<sip:201@192.0.2.8:5070>"],
            Some("0"),
            at(102),
        );
        assert_eq!(contacts(&gone).len(), 1);
        assert_eq!(registrar.bindings("201", at(103)).len(), 1);
        // `*` with Expires: 0 removes them all.
        let all = desk.register(&registrar, &["*"], Some("0"), at(104));
        assert_eq!(
            all.event,
            Event::Unregistered {
                extension: "201".into(),
                devices: 0
            }
        );
        assert!(contacts(&all).is_empty());
        assert!(all.persist.unwrap().registrations.is_empty());
        assert!(registrar.bindings("201", at(105)).is_empty());
    }

    #[test]
    fn expiry_limits_and_bad_requests() {
        let registrar = registrar();
        let mut desk = Phone::new("201", "pw201", 5062);
        let brief = desk.register(&registrar, &[DESK], Some("30"), at(0));
        assert_eq!(brief.reply, Reply::IntervalTooBrief { min_expires: 60 });
        assert!(registrar.bindings("201", at(1)).is_empty());
        let long = desk.register(&registrar, &[DESK], Some("99999999999"), at(0));
        assert_eq!(contacts(&long)[0].1, 3600);
        for (contact, expires) in [
            ("*", None),
            ("*", Some("60")),
            ("<sip:201@h>, *", Some("0")),
            ("<mailto:x@y>", None),
            ("<sip:201@h", None),
            ("<sip:201@h>;expires=soon", None),
        ] {
            let outcome = desk.register(&registrar, &[contact], expires, at(1));
            assert!(
                matches!(outcome.reply, Reply::BadRequest(_)),
                "{contact}: {outcome:?}"
            );
        }
        let outcome = desk.register(&registrar, &[DESK], Some("ten"), at(1));
        assert!(matches!(outcome.reply, Reply::BadRequest(_)));
    }

    #[test]
    fn an_older_cseq_for_a_binding_is_refused() {
        let registrar = registrar();
        let mut desk = Phone::new("201", "pw201", 5062);
        desk.register(&registrar, &[DESK], None, at(0));
        desk.cseq -= 2;
        let stale = desk.register(&registrar, &[DESK], Some("0"), at(1));
        assert_eq!(stale.reply, Reply::OutOfOrder);
        assert_eq!(registrar.bindings("201", at(2)).len(), 1);
        // Another Call-ID (a rebooted phone) replaces it whatever its CSeq.
        let mut rebooted = Phone::new("201", "pw201", 5062);
        rebooted.call_id = "after-reboot".into();
        let fresh = rebooted.register(&registrar, &[DESK], Some("0"), at(3));
        assert!(contacts(&fresh).is_empty());
    }

    #[test]
    fn more_devices_than_allowed_push_out_the_one_closest_to_expiry() {
        let registrar = registrar();
        for (i, port) in [5001u16, 5002, 5003, 5004].into_iter().enumerate() {
            let mut phone = Phone::new("201", "pw201", port);
            let contact = format!("<sip:201@192.0.2.7:{port}>");
            let expires = (600 + i * 60).to_string();
            phone.register(&registrar, &[&contact], Some(&expires), at(0));
        }
        let left: Vec<String> = registrar
            .bindings("201", at(1))
            .into_iter()
            .map(|b| b.contact)
            .collect();
        assert_eq!(
            left,
            [
                "sip:201@192.0.2.7:5002",
                "sip:201@192.0.2.7:5003",
                "sip:201@192.0.2.7:5004"
            ]
        );
    }

    #[test]
    fn strangers_and_wrong_passwords_get_the_same_challenge_and_are_slowed_down() {
        let registrar = registrar();
        let shape = |outcome: &Outcome| match &outcome.reply {
            Reply::Unauthorized { challenges } => challenges
                .iter()
                .map(|c| {
                    let params = parse_params(c.trim_start_matches("Digest ")).unwrap();
                    params
                        .into_iter()
                        .map(|(n, v)| {
                            if n == "nonce" {
                                (n, v.len().to_string())
                            } else {
                                (n, v)
                            }
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        let mut stranger = Phone::new("299", "pw299", 6000);
        let mut thief = Phone::new("201", "guess", 6001);
        let mut liar = Phone::new("202", "pw201", 6002);
        liar.user = "201".into(); // digest as 201 ...
        let a = stranger.register(&registrar, &[DESK], None, at(0));
        let b = thief.register(&registrar, &[DESK], None, at(0));
        assert_eq!(shape(&a), shape(&b));
        assert!(matches!(
            a.event,
            Event::Refused {
                refusal: RefusalKind::Digest(Refusal::UnknownUser),
                failures: 1
            }
        ));
        assert!(matches!(
            b.event,
            Event::Refused {
                refusal: RefusalKind::Digest(Refusal::WrongResponse),
                failures: 2
            }
        ));
        // ... for To 202: another user's digest is refused like the rest.
        let first = registrar.register(&liar.request(&[DESK], None), at(0), [3; 16]);
        let Reply::Unauthorized { challenges } = first.reply else {
            panic!()
        };
        let params = parse_params(challenges[0].trim_start_matches("Digest ")).unwrap();
        liar.nonce = params
            .into_iter()
            .find(|(n, _)| n == "nonce")
            .map(|(_, v)| v);
        let mut request = liar.request(&[DESK], None);
        request.to_user = Some("202".into());
        let c = registrar.register(&request, at(0), [3; 16]);
        assert_eq!(shape(&a)[0].len(), shape(&c)[0].len());
        assert!(matches!(c.event, Event::Refused { .. }), "{c:?}");
        // Three failures from 192.0.2.7: the next answers wait; at six, silence.
        assert_eq!(
            thief.register(&registrar, &[DESK], None, at(1)).delay,
            Some(Duration::from_secs(2))
        );
        let dropped = (0..4).any(|_| {
            let outcome = thief.register(&registrar, &[DESK], None, at(2));
            matches!(outcome.event, Event::Dropped { failures: 6 })
        });
        assert!(dropped, "dropped after 6 failures");
        assert_eq!(
            thief.register(&registrar, &[DESK], None, at(3)).reply,
            Reply::Drop
        );
        // The right password from the same address is dropped too, until the window is over.
        let mut desk = Phone::new("201", "pw201", 5062);
        assert_eq!(
            desk.register(&registrar, &[DESK], None, at(4)).reply,
            Reply::Drop
        );
        let later = desk.register(&registrar, &[DESK], None, at(70));
        assert_eq!(later.delay, None);
        assert_eq!(contacts(&later).len(), 1);
        // Another address was never slowed down.
        let mut other = Phone::new("202", "pw202", 7000);
        other.source = SocketAddr::from(([198, 51, 100, 1], 7000));
        let fine = other.register(&registrar, &["<sip:202@198.51.100.1:7000>"], None, at(4));
        assert_eq!(fine.delay, None);
        assert_eq!(contacts(&fine).len(), 1);
    }

    /// `Authorization` for `method` as `user` with `password`, SHA-256 and qop=auth.
    fn authorization(user: &str, password: &str, nonce: &str, method: &str, nc: u32) -> String {
        let mut credentials = DigestCredentials {
            username: user.into(),
            realm: REALM.into(),
            nonce: nonce.into(),
            uri: "sip:202@centralino".into(),
            response: String::new(),
            algorithm: Algorithm::Sha256,
            qop: Some(QopAuth {
                cnonce: "c".into(),
                nc,
                nc_text: format!("{nc:08x}"),
            }),
            cnonce: Some("c".into()),
            opaque: None,
        };
        let stored = ha1(HashKind::Sha256, user, REALM, password);
        credentials.response = expected_response(&credentials, method, &stored);
        format!(
            "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", \
             uri=\"sip:202@centralino\", response=\"{}\", algorithm=SHA-256, qop=auth, \
             cnonce=\"c\", nc={nc:08x}",
            credentials.response
        )
    }

    fn ask(
        registrar: &Registrar,
        source: SocketAddr,
        method: &str,
        auth: Option<String>,
        now: Timestamp,
    ) -> Authentication {
        let request = AuthRequest {
            source,
            method: method.into(),
            authorization: auth.into_iter().collect(),
        };
        registrar.authenticate(&request, now, fresh_random())
    }

    fn nonce_of(decision: &AuthDecision) -> String {
        let AuthDecision::Challenge { challenges } = decision else {
            panic!("not a challenge: {decision:?}")
        };
        let params = parse_params(challenges[0].trim_start_matches("Digest ")).unwrap();
        params.into_iter().find(|(n, _)| n == "nonce").unwrap().1
    }

    #[test]
    fn requests_from_a_registered_address_are_challenged_and_strangers_are_not() {
        let registrar = registrar();
        let mut desk = Phone::new("201", "pw201", 5062);
        desk.register(&registrar, &[DESK], None, at(0));
        let phone = SocketAddr::from(([192, 0, 2, 7], 5062));
        let stranger = SocketAddr::from(([198, 51, 100, 9], 5060));

        // Without credentials: a stranger is a stranger; the phone's address is challenged,
        // exactly as REGISTER is (same header shapes).
        let from_stranger = ask(&registrar, stranger, "MESSAGE", None, at(1));
        assert_eq!(from_stranger.decision, AuthDecision::Stranger);
        assert_eq!(from_stranger.event, AuthEvent::NoDeviceHere);
        let challenged = ask(&registrar, phone, "MESSAGE", None, at(1));
        let register = registrar.register(
            &Phone::new("202", "x", 6000).request(&[DESK], None),
            at(1),
            fresh_random(),
        );
        let (AuthDecision::Challenge { challenges }, Reply::Unauthorized { challenges: theirs }) =
            (&challenged.decision, &register.reply)
        else {
            panic!("{challenged:?} {register:?}")
        };
        let strip = |c: &String| c.split("nonce=").next().unwrap().to_owned();
        assert_eq!(
            challenges.iter().map(strip).collect::<Vec<_>>(),
            theirs.iter().map(strip).collect::<Vec<_>>()
        );

        // The right answer for MESSAGE: staff 201, from any address (a softphone elsewhere).
        let nonce = nonce_of(&challenged.decision);
        let good = ask(
            &registrar,
            stranger,
            "MESSAGE",
            Some(authorization("201", "pw201", &nonce, "MESSAGE", 1)),
            at(2),
        );
        assert_eq!(good.decision, AuthDecision::Staff("201".into()));
        // Replayed: refused; a digest made for another method: refused.
        let replay = ask(
            &registrar,
            stranger,
            "MESSAGE",
            Some(authorization("201", "pw201", &nonce, "MESSAGE", 1)),
            at(2),
        );
        assert_eq!(replay.decision, AuthDecision::Stranger);
        assert!(
            matches!(
                replay.event,
                AuthEvent::Refused {
                    refusal: RefusalKind::Digest(Refusal::Replayed),
                    ..
                }
            ),
            "{replay:?}"
        );
        let other_method = ask(
            &registrar,
            phone,
            "SUBSCRIBE",
            Some(authorization("201", "pw201", &nonce, "MESSAGE", 2)),
            at(2),
        );
        assert!(
            matches!(other_method.decision, AuthDecision::Challenge { .. }),
            "a known address is challenged again"
        );
        // A stale nonce: the phone's address is challenged with stale=true, a stranger is not.
        let stale = ask(
            &registrar,
            phone,
            "SUBSCRIBE",
            Some(authorization("201", "pw201", &nonce, "SUBSCRIBE", 3)),
            at(1000),
        );
        assert_eq!(stale.event, AuthEvent::Stale);
        let AuthDecision::Challenge { challenges } = &stale.decision else {
            panic!()
        };
        assert!(challenges[0].ends_with("stale=true"), "{challenges:?}");
        let stale_stranger = ask(
            &registrar,
            stranger,
            "SUBSCRIBE",
            Some(authorization("201", "pw201", &nonce, "SUBSCRIBE", 4)),
            at(1000),
        );
        assert_eq!(stale_stranger.decision, AuthDecision::Stranger);
    }

    #[test]
    fn wrong_credentials_are_answered_alike_then_throttled_into_strangers() {
        let registrar = registrar();
        let mut desk = Phone::new("201", "pw201", 5062);
        desk.register(&registrar, &[DESK], None, at(0));
        let phone = SocketAddr::from(([192, 0, 2, 7], 5062));
        let nonce = nonce_of(&ask(&registrar, phone, "INVITE", None, at(1)).decision);
        // An unknown user and a wrong password: the same decision (a fresh challenge).
        let unknown = ask(
            &registrar,
            phone,
            "INVITE",
            Some(authorization("299", "pw299", &nonce, "INVITE", 1)),
            at(1),
        );
        let wrong = ask(
            &registrar,
            phone,
            "INVITE",
            Some(authorization("202", "guess", &nonce, "INVITE", 1)),
            at(1),
        );
        assert!(matches!(unknown.decision, AuthDecision::Challenge { .. }));
        assert!(matches!(wrong.decision, AuthDecision::Challenge { .. }));
        assert!(matches!(
            unknown.event,
            AuthEvent::Refused {
                refusal: RefusalKind::Digest(Refusal::UnknownUser),
                failures: 1
            }
        ));
        assert!(matches!(
            wrong.event,
            AuthEvent::Refused {
                refusal: RefusalKind::Digest(Refusal::WrongResponse),
                failures: 2
            }
        ));
        // The third failure reaches the limit (3): a stranger from now on, answered late.
        let third = ask(
            &registrar,
            phone,
            "INVITE",
            Some(authorization("202", "guess2", &nonce, "INVITE", 2)),
            at(1),
        );
        assert_eq!(third.decision, AuthDecision::Stranger);
        let next = ask(&registrar, phone, "INVITE", None, at(2));
        assert_eq!(next.delay, Some(Duration::from_secs(2)));
        // Failures are shared with REGISTER: the source's registrations are slowed down too.
        assert_eq!(
            desk.register(&registrar, &[DESK], None, at(3)).delay,
            Some(Duration::from_secs(2))
        );
        for nc in 3..6 {
            ask(
                &registrar,
                phone,
                "INVITE",
                Some(authorization("202", "guess", &nonce, "INVITE", nc)),
                at(3),
            );
        }
        let dropped = ask(&registrar, phone, "INVITE", None, at(4));
        assert_eq!(dropped.decision, AuthDecision::Stranger);
        assert!(
            matches!(dropped.event, AuthEvent::Throttled { .. }),
            "{dropped:?}"
        );
    }

    #[test]
    fn delayed_answers_are_bounded() {
        let registrar = registrar();
        let first = registrar.hold_delayed();
        let second = registrar.hold_delayed();
        assert!(first.is_some() && second.is_some());
        assert!(registrar.hold_delayed().is_none(), "two wait at most");
        drop(first);
        assert!(registrar.hold_delayed().is_some(), "a place was given back");
    }

    #[test]
    fn registrations_are_restored_without_the_expired_and_the_unknown() {
        let registration = |extension: &str, expires: i64| Registration {
            binding: Binding {
                extension: extension.into(),
                contact: format!("sip:{extension}@192.0.2.7"),
                source: SocketAddr::from(([192, 0, 2, 7], 5060)),
                transport: SignalTransport::Tcp,
                expires_at: at(expires),
                user_agent: None,
            },
            call_id: "c".into(),
            cseq: 1,
        };
        let config = RegistrarConfig::new(
            REALM,
            [account("201", "pw201"), account("202", "pw202")].into(),
        );
        let registrar = Registrar::new(
            config,
            [2; 32],
            vec![
                registration("201", 100),
                registration("202", 5),
                registration("299", 100),
            ],
            at(10),
        );
        let all = registrar.registrations(at(10));
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].extension, "201");
        assert_eq!(all[0].transport, SignalTransport::Tcp);
    }

    #[test]
    fn contact_values_are_split_and_read() {
        assert_eq!(parse_contacts(" * "), Some(vec![ContactSpec::All]));
        assert_eq!(
            parse_contacts(
                "\"A, <b>\" <sip:201@h:5060;transport=tcp>;expires=60;+sip.instance=\"<urn:uuid:1>\", sip:201@k;expires=0"
            ),
            Some(vec![
                ContactSpec::Uri {
                    uri: "sip:201@h:5060;transport=tcp".into(),
                    expires: Some(60)
                },
                ContactSpec::Uri {
                    uri: "sip:201@k".into(),
                    expires: Some(0)
                },
            ])
        );
        for bad in ["", "<>", "<sip:a", "tel:123", "sip:a b", ","] {
            assert_eq!(parse_contacts(bad), None, "{bad}");
        }
        let mut rng = fastrand::Rng::with_seed(4);
        let alphabet: Vec<char> = "<>\",;=*: \\sip@é".chars().collect();
        for _ in 0..5_000 {
            let text: String = (0..rng.usize(0..40))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let _ = parse_contacts(&text);
        }
    }
}
