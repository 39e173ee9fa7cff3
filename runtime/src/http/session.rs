//! Console sessions and the login throttle: sans-IO (the caller passes `now`), so expiry and
//! slowing down are tested without waiting.
//!
//! A session is a random 256-bit id in a cookie (`HttpOnly`, `SameSite=Strict`, `Secure` over
//! TLS) and, with it, a random CSRF token that every form of the session carries back; both are
//! compared in constant time. Sessions end after [`IDLE`] without a request, after [`LIFETIME`]
//! in any case, at logout, and when the server restarts (they live in memory only).
//!
//! The throttle counts failed logins per client address and per account name in a sliding
//! window: past [`FAILURES_ALLOWED`] the next attempts are refused with a wait, whatever the
//! password, so guessing costs hours, not seconds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

use super::accounts::Role;

/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(2 * 3600);
/// A session ends this long after login, used or not (a working day).
pub const LIFETIME: Duration = Duration::from_secs(10 * 3600);
/// Sessions kept at most; logging in beyond it ends the oldest.
pub const MAX_SESSIONS: usize = 10_000;

/// Failed logins allowed in [`FAILURE_WINDOW`] per address and per name.
pub const FAILURES_ALLOWED: u32 = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A random 256-bit value as 64 hex digits.
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Constant-time comparison of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Who is logged in, as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub name: String,
    pub role: Role,
    /// The CSRF token every form of this session must carry.
    pub csrf: String,
}

#[derive(Debug)]
struct Session {
    staff: Staff,
    started: Instant,
    last_seen: Instant,
}

/// The live sessions.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: HashMap<String, Session>,
}

impl Sessions {
    /// Open a session for `name`; returns its id (for the cookie).
    pub fn open(
        &mut self,
        name: &str,
        role: Role,
        now: Instant,
    ) -> Result<String, getrandom::Error> {
        self.expire(now);
        if self.by_id.len() >= MAX_SESSIONS {
            let oldest = self
                .by_id
                .iter()
                .min_by_key(|(_, session)| session.started)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                self.by_id.remove(&oldest);
            }
        }
        let id = random_token()?;
        let csrf = random_token()?;
        self.by_id.insert(
            id.clone(),
            Session {
                staff: Staff {
                    name: name.to_string(),
                    role,
                    csrf,
                },
                started: now,
                last_seen: now,
            },
        );
        Ok(id)
    }

    /// The staff member of session `id`, if it is live; touching it keeps it alive.
    pub fn get(&mut self, id: &str, now: Instant) -> Option<Staff> {
        // A map lookup by the id itself would leak timing about partial matches only through
        // the hash, which an attacker cannot steer; ids are 256 random bits.
        let session = self.by_id.get_mut(id)?;
        if now.duration_since(session.last_seen) > IDLE
            || now.duration_since(session.started) > LIFETIME
        {
            self.by_id.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(session.staff.clone())
    }

    pub fn close(&mut self, id: &str) {
        self.by_id.remove(id);
    }

    /// End every session of `name` whose role is no longer `role` or whose account is gone
    /// (called when the accounts file changes).
    pub fn retain_accounts(&mut self, still: impl Fn(&str) -> Option<Role>) {
        self.by_id
            .retain(|_, session| still(&session.staff.name) == Some(session.staff.role));
    }

    fn expire(&mut self, now: Instant) {
        self.by_id.retain(|_, session| {
            now.duration_since(session.last_seen) <= IDLE
                && now.duration_since(session.started) <= LIFETIME
        });
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Failed logins per client address and per account name.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    by_address: HashMap<IpAddr, Vec<Instant>>,
    by_name: HashMap<String, Vec<Instant>>,
}

/// Entries kept at most per map, so a flood of names cannot grow memory without bound.
const MAX_TRACKED: usize = 100_000;

impl LoginThrottle {
    /// How long the client must wait before trying again, if it must.
    pub fn wait(&mut self, address: IpAddr, name: &str, now: Instant) -> Option<Duration> {
        let by_address = Self::blocked(self.by_address.get_mut(&address), now);
        let by_name = Self::blocked(self.by_name.get_mut(name), now);
        by_address.max(by_name)
    }

    /// Count a failed login.
    pub fn failed(&mut self, address: IpAddr, name: &str, now: Instant) {
        if self.by_address.len() >= MAX_TRACKED || self.by_name.len() >= MAX_TRACKED {
            self.forget_old(now);
        }
        self.by_address.entry(address).or_default().push(now);
        // Only names that could be accounts are tracked by name (bounded by valid_name).
        if super::accounts::valid_name(name) {
            self.by_name.entry(name.to_string()).or_default().push(now);
        }
    }

    /// A successful login clears its address's count (not the name's: a guesser who also
    /// owns an account must not reset the count of the account they attack).
    pub fn succeeded(&mut self, address: IpAddr) {
        self.by_address.remove(&address);
    }

    fn blocked(failures: Option<&mut Vec<Instant>>, now: Instant) -> Option<Duration> {
        let failures = failures?;
        failures.retain(|at| now.duration_since(*at) < FAILURE_WINDOW);
        if failures.len() < FAILURES_ALLOWED as usize {
            return None;
        }
        // Wait until the oldest failure that keeps the count at the limit leaves the window.
        let index = failures.len() - FAILURES_ALLOWED as usize;
        let oldest = failures.get(index)?;
        Some(FAILURE_WINDOW.saturating_sub(now.duration_since(*oldest)))
    }

    fn forget_old(&mut self, now: Instant) {
        let fresh = |failures: &mut Vec<Instant>| {
            failures.retain(|at| now.duration_since(*at) < FAILURE_WINDOW);
            !failures.is_empty()
        };
        self.by_address.retain(|_, failures| fresh(failures));
        self.by_name.retain(|_, failures| fresh(failures));
        if self.by_address.len() >= MAX_TRACKED {
            self.by_address.clear();
        }
        if self.by_name.len() >= MAX_TRACKED {
            self.by_name.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_session_lives_while_used_and_ends_idle_at_its_lifetime_or_at_logout() {
        let start = Instant::now();
        let mut sessions = Sessions::default();
        let id = sessions.open("anna", Role::Operator, start).unwrap();
        assert_eq!(id.len(), 64);
        let staff = sessions.get(&id, start).unwrap();
        assert_eq!((staff.name.as_str(), staff.role), ("anna", Role::Operator));
        assert_eq!(staff.csrf.len(), 64);
        assert_ne!(staff.csrf, id);
        assert!(sessions.get("not-a-session", start).is_none());

        // Used every hour: alive until its lifetime.
        let mut now = start;
        while now.duration_since(start) + Duration::from_secs(3600) <= LIFETIME {
            now += Duration::from_secs(3600);
            assert!(
                sessions.get(&id, now).is_some(),
                "{:?}",
                now.duration_since(start)
            );
        }
        assert!(
            sessions
                .get(&id, start + LIFETIME + Duration::from_secs(1))
                .is_none()
        );

        let id = sessions.open("anna", Role::Operator, start).unwrap();
        assert!(
            sessions
                .get(&id, start + IDLE + Duration::from_secs(1))
                .is_none()
        );

        let id = sessions.open("anna", Role::Operator, start).unwrap();
        sessions.close(&id);
        assert!(sessions.get(&id, start).is_none());
    }

    #[test]
    fn a_changed_role_or_a_removed_account_ends_its_sessions() {
        let now = Instant::now();
        let mut sessions = Sessions::default();
        let anna = sessions.open("anna", Role::Supervisor, now).unwrap();
        let bruno = sessions.open("bruno", Role::Operator, now).unwrap();
        let carla = sessions.open("carla", Role::Operator, now).unwrap();
        sessions.retain_accounts(|name| match name {
            "anna" => Some(Role::Operator),
            "bruno" => Some(Role::Operator),
            _ => None,
        });
        assert!(sessions.get(&anna, now).is_none());
        assert!(sessions.get(&bruno, now).is_some());
        assert!(sessions.get(&carla, now).is_none());
    }

    #[test]
    fn failed_logins_are_slowed_per_address_and_per_name() {
        let start = Instant::now();
        let mut throttle = LoginThrottle::default();
        let guesser: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for n in 0..FAILURES_ALLOWED {
            let now = start + Duration::from_secs(u64::from(n));
            assert_eq!(throttle.wait(guesser, "anna", now), None);
            throttle.failed(guesser, "anna", now);
        }
        let now = start + Duration::from_secs(10);
        let wait = throttle.wait(guesser, "bruno", now).unwrap();
        assert!(
            wait > Duration::from_secs(800) && wait <= FAILURE_WINDOW,
            "{wait:?}"
        );
        // Another address guessing the same account is slowed too.
        assert!(throttle.wait(other, "anna", now).is_some());
        assert_eq!(throttle.wait(other, "bruno", now), None);
        // Once the window has passed, trying again is allowed.
        let later = start + FAILURE_WINDOW + Duration::from_secs(5);
        assert_eq!(throttle.wait(guesser, "anna", later), None);
    }

    #[test]
    fn tokens_compare_in_constant_time_and_by_value() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &b));
        assert!(!same_token(&a, &a[..63]));
    }
}
