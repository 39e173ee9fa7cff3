//! Calendar rules shared by the compiler checks and the runtime: dates, Easter, holidays, time zones.
//!
//! Time zones always come from the IANA database bundled into the binary by jiff, never from
//! the host, so a flow that checks on one machine behaves the same on every other.

use std::sync::OnceLock;

use jiff::Span;
use jiff::civil::Date;
use jiff::tz::{TimeZone, TimeZoneDatabase};

/// The city's time zone: calendars without a `timezone`, scenario times written without a
/// zone, the store's reference year, and times the CLI shows and reads.
pub const DEFAULT_TIMEZONE: &str = "Europe/Rome";

/// [`DEFAULT_TIMEZONE`] from the bundled database (UTC if it were ever missing from it).
pub fn default_timezone() -> TimeZone {
    timezone(DEFAULT_TIMEZONE).unwrap_or(TimeZone::UTC)
}

/// First year of the Gregorian calendar for which [`easter_sunday`] answers.
pub const FIRST_GREGORIAN_YEAR: i32 = 1583;
/// Last year for which [`easter_sunday`] answers (jiff's civil dates end at 9999).
pub const LAST_YEAR: i32 = 9999;

/// Easter Sunday of `year` as `(month, day)`, by the anonymous Gregorian algorithm
/// (Meeus/Jones/Butcher). `None` for years outside `1583..=9999`.
pub fn easter_sunday(year: i32) -> Option<(u32, u32)> {
    if !(FIRST_GREGORIAN_YEAR..=LAST_YEAR).contains(&year) {
        return None;
    }
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Some((u32::try_from(month).ok()?, u32::try_from(day).ok()?))
}

/// The date `offset_days` days after (or, if negative, before) Easter Sunday of `year`, as
/// `(month, day)`. `None` when Easter of `year` is unknown (see [`easter_sunday`]) or when the
/// result falls outside `year`.
///
/// Examples: `-2` is Good Friday, `1` Easter Monday, `49` Pentecost.
pub fn days_from_easter(year: i32, offset_days: i64) -> Option<(u32, u32)> {
    let (month, day) = easter_sunday(year)?;
    let easter = civil_date(year, month, day)?;
    let span = Span::new().try_days(offset_days).ok()?;
    let date = easter.checked_add(span).ok()?;
    if i32::from(date.year()) != year {
        return None;
    }
    Some((
        u32::try_from(date.month()).ok()?,
        u32::try_from(date.day()).ok()?,
    ))
}

fn civil_date(year: i32, month: u32, day: u32) -> Option<Date> {
    Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()
}

/// True for a leap year of the (proleptic) Gregorian calendar.
pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Number of days in `month` (1-12) of `year`; 0 for a month out of range.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// True when `year-month-day` is a real date of the (proleptic) Gregorian calendar.
pub fn is_valid_date(year: i32, month: u32, day: u32) -> bool {
    day >= 1 && day <= days_in_month(year, month)
}

/// True when `month-day` exists in some year (so `02-29` is valid, `02-30` and `04-31` are not).
pub fn is_valid_month_day(month: u32, day: u32) -> bool {
    // 2000 is a leap year, so every month-day that exists in any year exists in it.
    is_valid_date(2000, month, day)
}

/// The IANA time zone database bundled into the binary (never the host's copy).
fn tzdb() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// The time zone named `name` (an IANA name such as `Europe/Rome`) from the bundled database.
///
/// Lookup is ASCII case-insensitive, as in jiff (`europe/rome` finds `Europe/Rome`).
pub fn timezone(name: &str) -> Option<TimeZone> {
    tzdb().get(name).ok()
}

/// True when `name` is an IANA time zone in the bundled database (ASCII case-insensitive).
pub fn is_known_timezone(name: &str) -> bool {
    timezone(name).is_some()
}

/// The canonical spelling of the time zone `name` (e.g. `europe/rome` gives `Europe/Rome`).
pub fn canonical_timezone_name(name: &str) -> Option<String> {
    timezone(name).and_then(|tz| tz.iana_name().map(str::to_string))
}

/// Every IANA time zone name in the bundled database, sorted, for "did you mean" suggestions.
pub fn timezone_names() -> Vec<String> {
    let mut names: Vec<String> = tzdb()
        .available()
        .map(|name| name.as_str().to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A named set of public holidays a calendar can refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum HolidaySet {
    /// Italian national public holidays (festività nazionali), as observed since 2001.
    Italy,
}

impl HolidaySet {
    /// The holiday set called `name` (ASCII case-insensitive): `italy`, `italia` or `it`.
    pub fn from_name(name: &str) -> Option<HolidaySet> {
        match name.to_ascii_lowercase().as_str() {
            "italy" | "italia" | "it" => Some(HolidaySet::Italy),
            _ => None,
        }
    }

    /// Every name [`HolidaySet::from_name`] accepts, for "did you mean" suggestions.
    pub fn known_names() -> &'static [&'static str] {
        &["italy", "italia", "it"]
    }

    /// The holidays of `year` as `(month, day, name)`, sorted by date. Holidays that fall on the
    /// same day (Easter Monday on 25 April) are both listed. The Easter holidays are left out
    /// for years where [`easter_sunday`] has no answer.
    pub fn dates(self, year: i32) -> Vec<(u32, u32, &'static str)> {
        match self {
            HolidaySet::Italy => {
                let mut out = vec![
                    (1, 1, "Capodanno"),
                    (1, 6, "Epifania"),
                    (4, 25, "Festa della Liberazione"),
                    (5, 1, "Festa del Lavoro"),
                    (6, 2, "Festa della Repubblica"),
                    (8, 15, "Ferragosto"),
                    (11, 1, "Ognissanti"),
                    (12, 8, "Immacolata Concezione"),
                    (12, 25, "Natale"),
                    (12, 26, "Santo Stefano"),
                ];
                if let Some((month, day)) = easter_sunday(year) {
                    out.push((month, day, "Pasqua"));
                }
                if let Some((month, day)) = days_from_easter(year, 1) {
                    out.push((month, day, "Lunedì dell'Angelo"));
                }
                // Stable: on a shared date the fixed holiday stays first.
                out.sort_by_key(|&(month, day, _)| (month, day));
                out
            }
        }
    }

    /// The name of the holiday on `month-day` of `year`, if it is one (the first, if two coincide).
    pub fn holiday_on(self, year: i32, month: u32, day: u32) -> Option<&'static str> {
        self.dates(year)
            .into_iter()
            .find(|&(m, d, _)| m == month && d == day)
            .map(|(_, _, name)| name)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests may unwrap: a panic is a failed test.
mod tests {
    use super::*;

    #[test]
    fn easter_known_years() {
        assert_eq!(easter_sunday(2024), Some((3, 31)));
        assert_eq!(easter_sunday(2025), Some((4, 20)));
        assert_eq!(easter_sunday(2026), Some((4, 5)));
        assert_eq!(easter_sunday(2027), Some((3, 28)));
        assert_eq!(easter_sunday(2038), Some((4, 25)));
        assert_eq!(easter_sunday(2285), Some((3, 22)));
        assert_eq!(easter_sunday(2011), Some((4, 24)));
        assert_eq!(easter_sunday(1583), Some((4, 10)));
        assert_eq!(easter_sunday(1818), Some((3, 22)));
        assert_eq!(easter_sunday(1943), Some((4, 25)));
        assert_eq!(easter_sunday(2000), Some((4, 23)));
        assert_eq!(easter_sunday(9999), Some((3, 28)));
    }

    #[test]
    fn easter_out_of_range() {
        assert_eq!(easter_sunday(1582), None);
        assert_eq!(easter_sunday(10000), None);
        assert_eq!(easter_sunday(-5), None);
        assert_eq!(easter_sunday(i32::MIN), None);
        assert_eq!(easter_sunday(i32::MAX), None);
    }

    #[test]
    fn easter_is_always_a_sunday_between_march_22_and_april_25() {
        for year in FIRST_GREGORIAN_YEAR..=LAST_YEAR {
            let (month, day) = easter_sunday(year).unwrap();
            assert!((month, day) >= (3, 22) && (month, day) <= (4, 25), "{year}");
            let date = civil_date(year, month, day).unwrap();
            assert_eq!(date.weekday(), jiff::civil::Weekday::Sunday, "{year}");
        }
    }

    #[test]
    fn offsets_from_easter() {
        assert_eq!(days_from_easter(2025, 0), Some((4, 20)));
        assert_eq!(days_from_easter(2025, 1), Some((4, 21)));
        assert_eq!(days_from_easter(2025, -2), Some((4, 18)));
        assert_eq!(days_from_easter(2025, 49), Some((6, 8)));
        assert_eq!(days_from_easter(2024, -46), Some((2, 14)), "Ash Wednesday");
        assert_eq!(
            days_from_easter(2024, 1),
            Some((4, 1)),
            "across a month end"
        );
        assert_eq!(days_from_easter(2025, -200), None, "previous year");
        assert_eq!(days_from_easter(2025, 300), None, "next year");
        assert_eq!(days_from_easter(2025, i64::MAX), None);
        assert_eq!(days_from_easter(2025, i64::MIN), None);
        assert_eq!(days_from_easter(1500, 1), None);
        assert_eq!(days_from_easter(9999, 1), Some((3, 29)));
    }

    #[test]
    fn dates_and_leap_years() {
        assert!(is_valid_date(2024, 2, 29));
        assert!(!is_valid_date(2025, 2, 29));
        assert!(is_valid_date(2000, 2, 29));
        assert!(!is_valid_date(1900, 2, 29));
        assert!(is_valid_date(2025, 12, 31));
        assert!(!is_valid_date(2025, 4, 31));
        assert!(!is_valid_date(2025, 0, 1));
        assert!(!is_valid_date(2025, 13, 1));
        assert!(!is_valid_date(2025, 1, 0));
        assert!(!is_valid_date(2025, 1, 32));
        assert!(is_valid_date(-4, 2, 29));
        assert!(is_valid_date(i32::MIN, 1, 1));
        assert_eq!(days_in_month(2025, 2), 28);
        assert_eq!(days_in_month(2024, 2), 29);
    }

    #[test]
    fn month_days() {
        assert!(is_valid_month_day(2, 29));
        assert!(!is_valid_month_day(2, 30));
        assert!(!is_valid_month_day(4, 31));
        assert!(is_valid_month_day(12, 31));
        assert!(!is_valid_month_day(0, 10));
        assert!(!is_valid_month_day(13, 1));
        assert!(!is_valid_month_day(6, 0));
    }

    #[test]
    fn time_zones() {
        assert!(is_known_timezone("Europe/Rome"));
        assert!(is_known_timezone("UTC"));
        assert!(is_known_timezone("America/Argentina/Buenos_Aires"));
        assert!(!is_known_timezone("Europe/Roma"));
        assert!(!is_known_timezone(""));
        assert!(!is_known_timezone("../../etc/passwd"));
        assert!(!is_known_timezone("/usr/share/zoneinfo/Europe/Rome"));
        assert_eq!(
            canonical_timezone_name("europe/rome").as_deref(),
            Some("Europe/Rome")
        );
        assert_eq!(canonical_timezone_name("Nowhere/Land"), None);
        let names = timezone_names();
        assert!(names.len() > 300, "{}", names.len());
        assert!(names.iter().any(|n| n == "Europe/Rome"));
        assert!(names.windows(2).all(|w| w[0] < w[1]));
        assert!(
            names.iter().all(|n| is_known_timezone(n)),
            "every listed name resolves"
        );
    }

    #[test]
    fn holiday_set_names() {
        assert_eq!(HolidaySet::from_name("italy"), Some(HolidaySet::Italy));
        assert_eq!(HolidaySet::from_name("it"), Some(HolidaySet::Italy));
        assert_eq!(HolidaySet::from_name("italia"), Some(HolidaySet::Italy));
        assert_eq!(HolidaySet::from_name("Italy"), Some(HolidaySet::Italy));
        assert_eq!(HolidaySet::from_name("france"), None);
        assert_eq!(HolidaySet::from_name(""), None);
        for name in HolidaySet::known_names() {
            assert_eq!(HolidaySet::from_name(name), Some(HolidaySet::Italy));
        }
    }

    #[test]
    fn italian_holidays_2025() {
        assert_eq!(
            HolidaySet::Italy.dates(2025),
            vec![
                (1, 1, "Capodanno"),
                (1, 6, "Epifania"),
                (4, 20, "Pasqua"),
                (4, 21, "Lunedì dell'Angelo"),
                (4, 25, "Festa della Liberazione"),
                (5, 1, "Festa del Lavoro"),
                (6, 2, "Festa della Repubblica"),
                (8, 15, "Ferragosto"),
                (11, 1, "Ognissanti"),
                (12, 8, "Immacolata Concezione"),
                (12, 25, "Natale"),
                (12, 26, "Santo Stefano"),
            ]
        );
    }

    #[test]
    fn italian_holidays_are_sorted_and_valid() {
        for year in [1583, 2011, 2024, 2038, 2285, 9999] {
            let dates = HolidaySet::Italy.dates(year);
            assert_eq!(dates.len(), 12, "{year}");
            assert!(
                dates
                    .windows(2)
                    .all(|w| (w[0].0, w[0].1) <= (w[1].0, w[1].1))
            );
            assert!(dates.iter().all(|&(m, d, _)| is_valid_date(year, m, d)));
        }
        // 2011: Easter Monday falls on Liberation Day; both are listed.
        assert_eq!(
            HolidaySet::Italy.holiday_on(2011, 4, 25),
            Some("Festa della Liberazione")
        );
        assert_eq!(
            HolidaySet::Italy
                .dates(2011)
                .iter()
                .filter(|d| (d.0, d.1) == (4, 25))
                .count(),
            2
        );
        // 2024: Easter Monday crosses into April.
        assert_eq!(
            HolidaySet::Italy.holiday_on(2024, 4, 1),
            Some("Lunedì dell'Angelo")
        );
        assert_eq!(HolidaySet::Italy.holiday_on(2024, 4, 2), None);
        // No Easter before the Gregorian calendar: only the fixed holidays.
        assert_eq!(HolidaySet::Italy.dates(1500).len(), 10);
    }
}
