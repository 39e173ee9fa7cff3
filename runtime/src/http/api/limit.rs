//! Rate limits of the API: a token bucket per key (a token's name, a client's address). Pure
//! apart from a mutex: the time is an argument, so tests need no clock.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Keys kept at most; beyond this, full buckets are forgotten (a flood of new addresses
/// cannot grow the map without bound).
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// `capacity` requests at once, refilled at `capacity` per minute.
#[derive(Debug)]
pub struct Limiter<K> {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash> Limiter<K> {
    pub fn per_minute(capacity: u32) -> Limiter<K> {
        let capacity = f64::from(capacity.max(1));
        Limiter {
            capacity,
            per_second: capacity / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one request for `key` at `now`; `Err` says how long until one is free.
    pub fn take(&self, key: K, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(&key) {
            let (capacity, per_second) = (self.capacity, self.per_second);
            buckets.retain(|_, b| {
                let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
                b.tokens + elapsed * per_second < capacity
            });
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.per_second;
            Err(Duration::from_secs_f64(wait.ceil()))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_one_per_interval() {
        let limiter = Limiter::per_minute(3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take("a", start), Ok(()));
        }
        let wait = limiter.take("a", start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(20));
        assert_eq!(limiter.take("b", start), Ok(()), "keys are separate");
        assert_eq!(limiter.take("a", start + Duration::from_secs(20)), Ok(()));
        assert!(limiter.take("a", start + Duration::from_secs(21)).is_err());
    }
}
