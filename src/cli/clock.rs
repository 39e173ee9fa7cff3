//! Local time for people: the city's time zone, `--at` parsing, and how times are shown.
//!
//! The store keeps instants ([`Timestamp`]); staff read and type wall-clock time
//! in Perugia. Everything the CLI shows or reads as a time goes through here.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};

/// The zone staff read and type times in (also the store's reference-year zone).
pub use centralino_compiler::calendar::DEFAULT_TIMEZONE as ZONE;

/// The city's time zone (bundled tzdb, so it never depends on the host).
pub fn zone() -> TimeZone {
    centralino_compiler::calendar::default_timezone()
}

fn local(at: Timestamp) -> ZonedDateTime {
    at.to_zoned_datetime(zone())
}

/// `10:04:31`
pub fn time(at: Timestamp) -> String {
    local(at).strftime("%H:%M:%S").to_string()
}

/// `2026-03-02 10:04`
pub fn minute(at: Timestamp) -> String {
    local(at).strftime("%Y-%m-%d %H:%M").to_string()
}

/// `2026-03-02 10:04:31 CET`: full, for `show`.
pub fn full(at: Timestamp) -> String {
    local(at).strftime("%Y-%m-%d %H:%M:%S %Z").to_string()
}

/// `--at`: `YYYY-MM-DD HH:MM[:SS]` (or with a `T`) in the city's zone, or an
/// RFC 3339 instant with its offset (`2026-03-02T09:00:00Z`).
pub fn parse(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let civil: DateTime = text.parse().map_err(|_| {
        format!(
            "`{text}` is not a time: write `YYYY-MM-DD HH:MM` ({ZONE} time) \
             or an RFC 3339 instant such as `2026-03-02T09:00:00Z`"
        )
    })?;
    civil
        .to_zoned_datetime(zone())
        .map(|zoned| zoned.timestamp())
        .map_err(|e| format!("`{text}` is not a time in {ZONE}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_are_read_in_rome() -> Result<(), String> {
        // Winter: UTC+1. Summer: UTC+2.
        assert_eq!(
            parse("2026-03-02 10:00")?.to_string(),
            "2026-03-02T09:00:00Z"
        );
        assert_eq!(
            parse("2026-07-01T10:00:30")?.to_string(),
            "2026-07-01T08:00:30Z"
        );
        assert_eq!(
            parse("2026-03-02T09:00:00Z")?.to_string(),
            "2026-03-02T09:00:00Z"
        );
        assert_eq!(
            parse("2026-03-02T10:00:00+01:00")?.to_string(),
            "2026-03-02T09:00:00Z"
        );
        Ok(())
    }

    #[test]
    fn nonsense_is_refused_with_the_expected_shape() {
        for bad in ["tomorrow", "2026-13-01 10:00", "10:00", ""] {
            let error = parse(bad).err().unwrap_or_default();
            assert!(error.contains("YYYY-MM-DD HH:MM"), "{bad}: {error}");
        }
    }

    #[test]
    fn times_are_shown_in_rome() -> Result<(), String> {
        let at = parse("2026-03-02T09:04:31Z")?;
        assert_eq!(time(at), "10:04:31");
        assert_eq!(minute(at), "2026-03-02 10:04");
        assert_eq!(full(at), "2026-03-02 10:04:31 CET");
        Ok(())
    }
}
