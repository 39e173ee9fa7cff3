//! How the console writes times, lengths of time and flows versions: one helper for every
//! page, so the live calls, the call log, tickets, callbacks, bookings, presence and the flows
//! versions all say a time the same way, in the same zone.
//!
//! ```text
//!   Console::clock() ─► Clock { zone: the deployment's zone (calendar::deployment_zone of the
//!                                      flows in service), now }
//!     .minute(at)  2026-12-05 10:04       lists (created, requested, next attempt)
//!     .second(at)  2026-12-05 10:04:31    the call log, flows versions and changes
//!     .time(at)    10:04:31               today's things (presence, a call's steps)
//!     .since(at)   3m 05s                 how long ago (a live call's "since")
//!     .input(at) / .parse_input(text)     a `datetime-local` field, both ways
//!   short_version("sha256:9f2c…") ─► 9f2c4e1a0b3d  (the full id goes in a title attribute)
//! ```
//!
//! The zone is the one the flows' calendars name (so staff read hours as the calendars say
//! them), never a zone written here; a reload that changes the calendars' zone changes it.

use centralino_compiler::graph::Graph;
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// Times for people, in the deployment's zone, at one `now`.
#[derive(Debug, Clone)]
pub struct Clock {
    zone: TimeZone,
    now: Timestamp,
}

impl Clock {
    /// A clock in `zone` whose "now" is `now`.
    pub fn new(zone: TimeZone, now: Timestamp) -> Clock {
        Clock { zone, now }
    }

    /// A clock in the zone of `graph`'s calendars ([`crate::calendar::deployment_zone`]).
    pub fn of_graph(graph: &Graph, now: Timestamp) -> Clock {
        Clock::new(
            crate::calendar::deployment_zone(graph.calendars.values()),
            now,
        )
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The zone's name as people read it (`Europe/Rome`).
    pub fn zone_name(&self) -> String {
        self.zone.iana_name().unwrap_or("UTC").to_owned()
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The local day of `at`.
    pub fn day(&self, at: Timestamp) -> Date {
        at.to_zoned_datetime(self.zone.clone()).date()
    }

    /// `2026-12-05 10:04`.
    pub fn minute(&self, at: Timestamp) -> String {
        self.format(at, "%Y-%m-%d %H:%M")
    }

    /// `2026-12-05 10:04:31`.
    pub fn second(&self, at: Timestamp) -> String {
        self.format(at, "%Y-%m-%d %H:%M:%S")
    }

    /// `10:04:31`.
    pub fn time(&self, at: Timestamp) -> String {
        self.format(at, "%H:%M:%S")
    }

    /// `2026-12-05T10:04`, as a `datetime-local` input shows it.
    pub fn input(&self, at: Timestamp) -> String {
        self.format(at, "%Y-%m-%dT%H:%M")
    }

    /// How long ago `at` was: `45s`, `3m 05s`, `1h 02m` ([`length`]); `0s` for the future.
    pub fn since(&self, at: Timestamp) -> String {
        length(self.now.duration_since(at).as_secs())
    }

    /// A time typed by staff (`YYYY-MM-DDTHH:MM` from a `datetime-local` input, or with a
    /// space) in the zone, as an instant; `None` when it is not one (or does not exist there).
    pub fn parse_input(&self, text: &str) -> Option<Timestamp> {
        let civil: DateTime = text.trim().replacen(' ', "T", 1).parse().ok()?;
        civil
            .to_zoned_datetime(self.zone.clone())
            .ok()
            .map(|zoned| zoned.timestamp())
    }

    fn format(&self, at: Timestamp, pattern: &str) -> String {
        at.to_zoned_datetime(self.zone.clone())
            .strftime(pattern)
            .to_string()
    }
}

/// A length of time for people: `45s`, `3m 05s`, `1h 02m` (negative counts as 0).
pub fn length(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match (seconds / 3600, (seconds % 3600) / 60, seconds % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, _) => format!("{h}h {m:02}m"),
    }
}

/// A flows version without its `sha256:` and cut to 12 characters, as people read it (pages
/// put the full id in a `title`).
pub fn short_version(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use centralino_compiler::graph::Calendar;

    fn calendar(zone: &str) -> Calendar {
        Calendar {
            timezone: zone.to_owned(),
            weekly: Default::default(),
            closures: Vec::new(),
        }
    }

    #[test]
    fn the_zone_is_the_one_the_calendars_use() {
        let zone = |zones: &[&str]| {
            let calendars: Vec<Calendar> = zones.iter().map(|z| calendar(z)).collect();
            crate::calendar::deployment_zone(&calendars)
                .iana_name()
                .unwrap()
                .to_owned()
        };
        assert_eq!(zone(&["America/New_York"]), "America/New_York");
        assert_eq!(
            zone(&["Europe/Rome", "America/New_York", "America/New_York"]),
            "America/New_York"
        );
        // A tie: the first calendar's.
        assert_eq!(zone(&["Asia/Tokyo", "America/New_York"]), "Asia/Tokyo");
        // No calendar: the city's default.
        assert_eq!(zone(&[]), centralino_compiler::calendar::DEFAULT_TIMEZONE);
    }

    #[test]
    fn times_are_local_to_the_zone_and_lengths_and_versions_short() {
        let at: Timestamp = "2026-12-05T09:04:31Z".parse().unwrap();
        let later: Timestamp = "2026-12-05T09:07:36Z".parse().unwrap();
        let rome = Clock::new(TimeZone::get("Europe/Rome").unwrap(), later);
        assert_eq!(rome.minute(at), "2026-12-05 10:04");
        assert_eq!(rome.second(at), "2026-12-05 10:04:31");
        assert_eq!(rome.time(at), "10:04:31");
        assert_eq!(rome.input(at), "2026-12-05T10:04");
        assert_eq!(rome.since(at), "3m 05s");
        assert_eq!(rome.since(later), "0s");
        assert_eq!(rome.zone_name(), "Europe/Rome");
        let new_york = Clock::new(TimeZone::get("America/New_York").unwrap(), later);
        assert_eq!(new_york.minute(at), "2026-12-05 04:04");
        assert_eq!(new_york.day(at).to_string(), "2026-12-05");
        // Typed times, both ways, with summer time.
        let winter = rome.parse_input("2026-12-05T10:30").unwrap();
        assert_eq!(winter.to_string(), "2026-12-05T09:30:00Z");
        let summer = rome.parse_input("2026-07-01 10:30").unwrap();
        assert_eq!(summer.to_string(), "2026-07-01T08:30:00Z");
        assert_eq!(rome.input(winter), "2026-12-05T10:30");
        for bad in ["", "domani", "2026-13-01T10:00", "2026-12-05T25:00"] {
            assert_eq!(rome.parse_input(bad), None, "{bad}");
        }
        assert_eq!(length(45), "45s");
        assert_eq!(length(3725), "1h 02m");
        assert_eq!(length(-3), "0s");
        assert_eq!(
            short_version("sha256:9f2c4e1a0b3d77aa00112233"),
            "9f2c4e1a0b3d"
        );
        assert_eq!(short_version("abc"), "abc");
    }
}
