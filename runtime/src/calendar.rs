//! Calendar evaluation: is a calendar open at an instant, why is it closed, when does it
//! open next, and which appointment slots does it offer.
//!
//! Every function here is pure: the time is always passed in, never read from a clock, so
//! the engine, the simulator and the tests all get the same answers.
//!
//! Opening hours are wall-clock hours in the calendar's time zone (from the bundled tzdb via
//! [`centralino_compiler::calendar::timezone`]; an unknown zone falls back to
//! [`centralino_compiler::calendar::DEFAULT_TIMEZONE`]). A weekly range `(start, end)` is in
//! minutes since local midnight, start inclusive, end exclusive, `end == 1440` meaning "until
//! midnight". Closures are whole local days.
//!
//! Daylight saving time:
//! - On the spring-forward night the skipped wall-clock hour never happens: a calendar open
//!   `02:00-03:00` is not open that night, and no slot starts inside the gap.
//! - On the fall-back night the repeated wall-clock hour happens twice and the calendar is
//!   open in both passes (it follows the wall clock); a slot starting in the repeated hour
//!   is offered once, at the earlier instant (jiff's `Disambiguation::Compatible`).

use centralino_compiler::calendar::{HolidaySet, default_timezone, easter_sunday, timezone};
use centralino_compiler::graph::{Calendar, ClosureRule, SlotPolicy, Weekday};
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp};

pub use crate::store::Slot;

/// How many local days [`next_opening`] looks ahead, and the most [`slots`] covers.
pub const MAX_SEARCH_DAYS: u32 = 400;

/// Label reported by [`closure_on`] for a closure that has neither a label nor a holiday name.
pub const CLOSED_LABEL: &str = "closed";

/// Shortest slot [`slots`] accepts (one minute); anything shorter yields no slots.
pub const MIN_SLOT_MS: u64 = 60_000;

/// Longest slot [`slots`] accepts (one day); anything longer yields no slots.
pub const MAX_SLOT_MS: u64 = MINUTES_PER_DAY as u64 * 60_000;

const MINUTES_PER_DAY: u32 = 1440;

/// The calendar's time zone from the bundled tzdb; the city's default zone
/// ([`default_timezone`]) if the name is unknown.
pub fn zone(calendar: &Calendar) -> TimeZone {
    timezone(&calendar.timezone).unwrap_or_else(default_timezone)
}

/// The deployment's time zone: the one the flows' calendars are written in (the zone most of
/// them name, the first by calendar name on a tie), the city's default zone
/// ([`default_timezone`]) when the flows have no calendar. Staff read and type times in it.
pub fn deployment_zone<'a>(calendars: impl IntoIterator<Item = &'a Calendar>) -> TimeZone {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for calendar in calendars {
        match counts
            .iter_mut()
            .find(|(name, _)| *name == calendar.timezone)
        {
            Some((_, count)) => *count += 1,
            None => counts.push((&calendar.timezone, 1)),
        }
    }
    // max_by_key keeps the last of equal counts; the first (in the order given) should win.
    counts
        .iter()
        .rev()
        .max_by_key(|(_, count)| *count)
        .and_then(|(name, _)| timezone(name))
        .unwrap_or_else(default_timezone)
}

/// True when the calendar is open at `at`: the local date is not a closure day and the local
/// time of day falls in one of that weekday's ranges.
pub fn is_open(calendar: &Calendar, at: Timestamp) -> bool {
    is_open_in(calendar, &zone(calendar), at)
}

/// Why the calendar is closed all day at `at` (local date), or `None` if that date is not a
/// closure day. The answer is the closure's own label if it has one, else the holiday's name
/// for a holiday set (e.g. `Lunedì dell'Angelo`), else [`CLOSED_LABEL`]. When several
/// closures match, the first one written wins.
///
/// A day without opening hours (a Sunday, say) is not a closure day: this returns `None`.
pub fn closure_on(calendar: &Calendar, at: Timestamp) -> Option<String> {
    closure_on_date(calendar, zone(calendar).to_datetime(at).date())
}

/// Like [`closure_on`], for a local calendar date.
pub fn closure_on_date(calendar: &Calendar, date: Date) -> Option<String> {
    let year = i32::from(date.year());
    let month = u32::try_from(date.month()).ok()?;
    let day = u32::try_from(date.day()).ok()?;
    calendar.closures.iter().find_map(|closure| {
        let holiday = match &closure.when {
            ClosureRule::Holidays { set } => {
                Some(HolidaySet::from_name(set)?.holiday_on(year, month, day)?)
            }
            rule if date_rule_matches(rule, date, month, day) => None,
            _ => return None,
        };
        Some(
            closure
                .label
                .clone()
                .or_else(|| holiday.map(str::to_owned))
                .unwrap_or_else(|| CLOSED_LABEL.to_owned()),
        )
    })
}

/// The first instant at or after `after` at which the calendar is open (`after` itself if it
/// is open then), looking at most [`MAX_SEARCH_DAYS`] local days ahead. `None` if the calendar
/// does not open in that window (no hours at all, or closed for longer).
pub fn next_opening(calendar: &Calendar, after: Timestamp) -> Option<Timestamp> {
    let tz = zone(calendar);
    if is_open_in(calendar, &tz, after) {
        return Some(after);
    }
    let mut date = tz.to_datetime(after).date();
    for _ in 0..=MAX_SEARCH_DAYS {
        if closure_on_date(calendar, date).is_none() {
            let first = ranges(calendar, date)
                .flat_map(|(start, _)| opening_instants(&tz, date, start))
                .filter(|&t| t >= after && is_open_in(calendar, &tz, t))
                .min();
            if first.is_some() {
                return first;
            }
        }
        date = date.tomorrow().ok()?;
    }
    None
}

/// Bookable slots of `policy.slot_ms` from `from` over `days` local days (the local date of
/// `from` and the `days - 1` following; at most [`MAX_SEARCH_DAYS`]), earliest first.
///
/// On every day that is not a closure day, each opening range `(start, end)` offers slots at
/// local wall-clock times `start + k × slot` that end no later than `end`; only those starting
/// at or after `from` are returned. A slot whose wall-clock start does not exist (the
/// spring-forward gap) is skipped; one that exists twice (the fall-back fold) is offered once,
/// at the earlier instant. A slot shorter than [`MIN_SLOT_MS`] or longer than [`MAX_SLOT_MS`]
/// yields no slots. Every slot has `duration_ms == policy.slot_ms`; duplicates (from
/// overlapping ranges) are removed.
pub fn slots(calendar: &Calendar, policy: SlotPolicy, from: Timestamp, days: u32) -> Vec<Slot> {
    let slot_ms = policy.slot_ms;
    let mut out = Vec::new();
    if !(MIN_SLOT_MS..=MAX_SLOT_MS).contains(&slot_ms) {
        return out;
    }
    // At most a day in milliseconds, so this always fits; bail out rather than unwrap.
    let Ok(step) = u32::try_from(slot_ms) else {
        return out;
    };
    let tz = zone(calendar);
    let mut date = tz.to_datetime(from).date();
    for _ in 0..days.min(MAX_SEARCH_DAYS) {
        if closure_on_date(calendar, date).is_none() {
            let midnight = date.to_datetime(Time::midnight());
            for (start, end) in ranges(calendar, date) {
                let (start_ms, end_ms) = (start * 60_000, end * 60_000);
                let mut at_ms = start_ms;
                while end_ms - at_ms >= step {
                    let local = midnight.checked_add(SignedDuration::from_millis(i64::from(at_ms)));
                    if let Some(ts) = local.ok().and_then(|dt| slot_start(&tz, dt))
                        && ts >= from
                    {
                        out.push(Slot {
                            start: ts,
                            duration_ms: slot_ms,
                        });
                    }
                    at_ms += step;
                }
            }
        }
        let Ok(next) = date.tomorrow() else { break };
        date = next;
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn is_open_in(calendar: &Calendar, tz: &TimeZone, at: Timestamp) -> bool {
    let local = tz.to_datetime(at);
    let date = local.date();
    if closure_on_date(calendar, date).is_some() {
        return false;
    }
    let minute = minute_of_day(local);
    ranges(calendar, date).any(|(start, end)| start <= minute && minute < end)
}

/// The valid opening ranges of `date`'s weekday: end clamped to midnight, empty ones dropped.
fn ranges(calendar: &Calendar, date: Date) -> impl Iterator<Item = (u32, u32)> + '_ {
    calendar
        .weekly
        .get(&weekday(date))
        .into_iter()
        .flatten()
        .map(|&(start, end)| (start, end.min(MINUTES_PER_DAY)))
        .filter(|&(start, end)| start < end)
}

fn minute_of_day(local: DateTime) -> u32 {
    let minutes = i32::from(local.hour()) * 60 + i32::from(local.minute());
    u32::try_from(minutes).unwrap_or(0)
}

fn weekday(date: Date) -> Weekday {
    match date.weekday() {
        jiff::civil::Weekday::Monday => Weekday::Mon,
        jiff::civil::Weekday::Tuesday => Weekday::Tue,
        jiff::civil::Weekday::Wednesday => Weekday::Wed,
        jiff::civil::Weekday::Thursday => Weekday::Thu,
        jiff::civil::Weekday::Friday => Weekday::Fri,
        jiff::civil::Weekday::Saturday => Weekday::Sat,
        jiff::civil::Weekday::Sunday => Weekday::Sun,
    }
}

/// True when `date` is closed by an Easter, yearly or dates rule (holiday sets are handled by
/// the caller, which also needs the holiday's name).
fn date_rule_matches(rule: &ClosureRule, date: Date, month: u32, day: u32) -> bool {
    match rule {
        ClosureRule::Holidays { .. } => false,
        ClosureRule::Easter { offset_days } => is_easter_offset(date, *offset_days),
        ClosureRule::Yearly { month: m, day: d } => *m == month && *d == day,
        ClosureRule::Dates { from, to } => match (from.parse::<Date>(), to.parse::<Date>()) {
            (Ok(from), Ok(to)) => from <= date && date <= to,
            _ => false,
        },
    }
}

/// True when `date` is `offset_days` days after (before, if negative) an Easter Sunday. The
/// Easter may be in another year than `date` (e.g. `easter-100` lands in December).
fn is_easter_offset(date: Date, offset_days: i64) -> bool {
    let Ok(span) = Span::new().try_days(offset_days) else {
        return false;
    };
    let Ok(sunday) = date.checked_sub(span) else {
        return false;
    };
    let (Ok(month), Ok(day)) = (u32::try_from(sunday.month()), u32::try_from(sunday.day())) else {
        return false;
    };
    easter_sunday(i32::from(sunday.year())) == Some((month, day))
}

/// The instants at which a range starting at `start` minutes on `date` may open: the start
/// itself; both passes of it in a fold; the end of the gap if it falls in one.
fn opening_instants(tz: &TimeZone, date: Date, start: u32) -> Vec<Timestamp> {
    let Ok(local) = date
        .to_datetime(Time::midnight())
        .checked_add(SignedDuration::from_mins(i64::from(start)))
    else {
        return Vec::new();
    };
    let ambiguous = tz.to_ambiguous_timestamp(local);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset } => {
            offset.to_timestamp(local).ok().into_iter().collect()
        }
        AmbiguousOffset::Fold { before, after } => [before, after]
            .into_iter()
            .filter_map(|offset| offset.to_timestamp(local).ok())
            .collect(),
        AmbiguousOffset::Gap { after, .. } => after
            .to_timestamp(local)
            .ok()
            .and_then(|early| tz.following(early).next())
            .map(|transition| transition.timestamp())
            .into_iter()
            .collect(),
    }
}

/// The instant of a slot starting at local `dt`: `None` in a gap, the earlier pass in a fold.
fn slot_start(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    let ambiguous = tz.to_ambiguous_timestamp(dt);
    match ambiguous.offset() {
        AmbiguousOffset::Gap { .. } => None,
        AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => {
            ambiguous.compatible().ok()
        }
    }
}
