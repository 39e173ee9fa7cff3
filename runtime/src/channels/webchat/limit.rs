//! Rate limits per client address: a token bucket each, sans-IO (the caller passes `now`).
//!
//! A bucket holds at most `burst` tokens and gains `rate` per `per`; a request takes one or is
//! refused with how long until one is there. The map of addresses is bounded: when it is full,
//! addresses whose buckets are full again (nothing to remember) are forgotten; if none is, a new
//! address is refused until some are, so a flood of addresses cannot grow memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Addresses remembered at most per limit.
pub const MAX_ADDRESSES: usize = 10_000;

/// `burst` at once, then `rate` every `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub rate: u32,
    pub per: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// One rate per client address.
#[derive(Debug)]
pub struct RateLimit {
    rate: Rate,
    buckets: HashMap<IpAddr, Bucket>,
    max_addresses: usize,
}

impl RateLimit {
    pub fn new(rate: Rate) -> RateLimit {
        RateLimit {
            rate,
            buckets: HashMap::new(),
            max_addresses: MAX_ADDRESSES,
        }
    }

    fn per_token(&self) -> f64 {
        self.rate.per.as_secs_f64() / f64::from(self.rate.rate.max(1))
    }

    fn refill(&self, bucket: Bucket, now: Instant) -> Bucket {
        let gained = now.saturating_duration_since(bucket.at).as_secs_f64() / self.per_token();
        Bucket {
            tokens: (bucket.tokens + gained).min(f64::from(self.rate.burst)),
            at: now,
        }
    }

    /// Take a token for `address`: `Err(wait)` when there is none.
    pub fn take(&mut self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.rate.burst);
        if !self.buckets.contains_key(&address) && self.buckets.len() >= self.max_addresses {
            let full: Vec<IpAddr> = self
                .buckets
                .iter()
                .filter(|(_, b)| self.refill(**b, now).tokens >= burst)
                .map(|(a, _)| *a)
                .collect();
            for a in full {
                self.buckets.remove(&a);
            }
            if self.buckets.len() >= self.max_addresses {
                return Err(self.rate.per);
            }
        }
        let bucket = self.buckets.get(&address).copied().unwrap_or(Bucket {
            tokens: burst,
            at: now,
        });
        let mut bucket = self.refill(bucket, now);
        let taken = if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) * self.per_token(),
            ))
        };
        self.buckets.insert(address, bucket);
        taken
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn a_burst_then_the_rate_per_address() {
        let mut limit = RateLimit::new(Rate {
            burst: 3,
            rate: 2,
            per: Duration::from_secs(1),
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limit.take(ip(1), t0), Ok(()));
        }
        let wait = limit.take(ip(1), t0).unwrap_err();
        assert!(
            wait <= Duration::from_millis(500) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // Another address has its own bucket.
        assert_eq!(limit.take(ip(2), t0), Ok(()));
        // Half a second gives one token back, not two.
        let later = t0 + Duration::from_millis(500);
        assert_eq!(limit.take(ip(1), later), Ok(()));
        assert!(limit.take(ip(1), later).is_err());
        // A long pause refills to the burst, no more.
        let much_later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(limit.take(ip(1), much_later), Ok(()));
        }
        assert!(limit.take(ip(1), much_later).is_err());
    }

    #[test]
    fn the_map_is_bounded_and_forgets_full_buckets() {
        let mut limit = RateLimit::new(Rate {
            burst: 1,
            rate: 1,
            per: Duration::from_secs(10),
        });
        limit.max_addresses = 2;
        let t0 = Instant::now();
        assert!(limit.take(ip(1), t0).is_ok());
        assert!(limit.take(ip(2), t0).is_ok());
        assert!(limit.take(ip(3), t0).is_err(), "full, nobody to forget");
        assert!(limit.take(ip(3), t0 + Duration::from_secs(11)).is_ok());
        assert!(limit.buckets.len() <= 2);
    }
}
