//! Calendar evaluation against explicit instants: opening hours at their edges in winter and
//! summer, the two DST nights, holidays (fixed, Easter-based, yearly, one-off dates, ranges),
//! closure labels, the next opening and appointment slots.
//!
//! All calendars are in `Europe/Rome` (CET, UTC+1; CEST, UTC+2 from the last Sunday of March
//! to the last Sunday of October). In 2026 the clocks jump 02:00 → 03:00 local on 29 March
//! (at 01:00Z) and fall back 03:00 → 02:00 local on 25 October (at 01:00Z).

use centralino_compiler::graph::{Calendar, Closure, ClosureRule, SlotPolicy, Weekday};
use centralino_runtime::calendar::{
    MAX_SEARCH_DAYS, closure_on, is_open, next_opening, slots, zone,
};
use jiff::Timestamp;

const WEEKDAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

fn ts(s: &str) -> Timestamp {
    s.parse()
        .unwrap_or_else(|e| panic!("bad timestamp {s:?} in test: {e}"))
}

/// Minutes since midnight.
const fn hm(hour: u32, minute: u32) -> u32 {
    hour * 60 + minute
}

fn calendar(days: &[Weekday], ranges: &[(u32, u32)], closures: Vec<Closure>) -> Calendar {
    Calendar {
        timezone: "Europe/Rome".to_owned(),
        weekly: days.iter().map(|&day| (day, ranges.to_vec())).collect(),
        closures,
    }
}

fn closure(when: ClosureRule, label: Option<&str>) -> Closure {
    Closure {
        when,
        label: label.map(str::to_owned),
    }
}

fn italy() -> ClosureRule {
    ClosureRule::Holidays {
        set: "italy".to_owned(),
    }
}

fn dates(from: &str, to: &str) -> ClosureRule {
    ClosureRule::Dates {
        from: from.to_owned(),
        to: to.to_owned(),
    }
}

/// Mon-fri 08:30-13:30, no closures.
fn office() -> Calendar {
    calendar(&WEEKDAYS, &[(hm(8, 30), hm(13, 30))], vec![])
}

/// Mon-fri 08:30-13:30 with the closures of a city office.
fn city() -> Calendar {
    calendar(
        &WEEKDAYS,
        &[(hm(8, 30), hm(13, 30))],
        vec![
            closure(italy(), None),
            closure(
                ClosureRule::Yearly { month: 1, day: 29 },
                Some("San Costanzo"),
            ),
            closure(dates("2026-11-02", "2026-11-02"), None),
            closure(dates("2026-08-10", "2026-08-14"), Some("Ferie estive")),
        ],
    )
}

/// Mon-fri 08:30-13:30, closed only on Easter Monday, through an Easter offset.
fn easter_monday_only(label: Option<&str>) -> Calendar {
    calendar(
        &WEEKDAYS,
        &[(hm(8, 30), hm(13, 30))],
        vec![closure(ClosureRule::Easter { offset_days: 1 }, label)],
    )
}

/// Open on Sundays only, in the given ranges.
fn sundays(ranges: &[(u32, u32)]) -> Calendar {
    calendar(&[Weekday::Sun], ranges, vec![])
}

fn check_open(name: &str, calendar: &Calendar, cases: &[(&str, bool, &str)]) {
    for &(at, expected, note) in cases {
        assert_eq!(
            is_open(calendar, ts(at)),
            expected,
            "{name}: is_open at {at} ({note}) should be {expected}"
        );
    }
}

#[test]
fn weekday_morning_edges_in_winter_and_summer() {
    check_open(
        "office",
        &office(),
        &[
            // Winter, Wednesday 14 January 2026, UTC+1.
            ("2026-01-14T07:29:00Z", false, "08:29 CET"),
            ("2026-01-14T07:29:59Z", false, "08:29:59 CET"),
            ("2026-01-14T07:30:00Z", true, "08:30 CET"),
            ("2026-01-14T10:00:00Z", true, "11:00 CET"),
            ("2026-01-14T12:29:00Z", true, "13:29 CET"),
            ("2026-01-14T12:29:59Z", true, "13:29:59 CET"),
            ("2026-01-14T12:30:00Z", false, "13:30 CET"),
            // Summer, Wednesday 15 July 2026, UTC+2.
            ("2026-07-15T06:29:00Z", false, "08:29 CEST"),
            ("2026-07-15T06:30:00Z", true, "08:30 CEST"),
            ("2026-07-15T11:29:00Z", true, "13:29 CEST"),
            ("2026-07-15T11:30:00Z", false, "13:30 CEST"),
            (
                "2026-07-15T12:00:00Z",
                false,
                "14:00 CEST (12:00 UTC would be open)",
            ),
            // Weekend.
            ("2026-01-17T10:00:00Z", false, "Saturday 11:00"),
            ("2026-01-18T10:00:00Z", false, "Sunday 11:00"),
        ],
    );
}

#[test]
fn unknown_time_zone_falls_back_to_rome() {
    let mut cal = office();
    cal.timezone = "Mars/Olympus_Mons".to_owned();
    assert_eq!(zone(&cal).iana_name(), Some("Europe/Rome"));
    check_open(
        "unknown zone",
        &cal,
        &[
            ("2026-07-15T06:29:00Z", false, "08:29 CEST"),
            ("2026-07-15T06:30:00Z", true, "08:30 CEST"),
        ],
    );
}

#[test]
fn other_time_zones_use_their_own_wall_clock() {
    let mut cal = office();
    cal.timezone = "America/New_York".to_owned();
    check_open(
        "new york",
        &cal,
        &[
            ("2026-01-14T13:29:00Z", false, "08:29 EST"),
            ("2026-01-14T13:30:00Z", true, "08:30 EST"),
            ("2026-07-15T12:30:00Z", true, "08:30 EDT"),
            ("2026-07-15T17:30:00Z", false, "13:30 EDT"),
        ],
    );
}

#[test]
fn end_of_day_range_runs_until_midnight() {
    let cal = calendar(&WEEKDAYS, &[(hm(20, 0), 1440)], vec![]);
    check_open(
        "evening",
        &cal,
        &[
            ("2026-01-14T18:59:00Z", false, "Wed 19:59 CET"),
            ("2026-01-14T19:00:00Z", true, "Wed 20:00 CET"),
            ("2026-01-14T22:59:59Z", true, "Wed 23:59:59 CET"),
            ("2026-01-16T23:00:00Z", false, "Sat 00:00 CET"),
        ],
    );
}

#[test]
fn spring_forward_night() {
    // 2026-03-29, Sunday: 01:59:59 CET (00:59:59Z) is followed by 03:00 CEST (01:00Z).
    check_open(
        "sun 00:00-06:00",
        &sundays(&[(0, hm(6, 0))]),
        &[
            ("2026-03-28T22:59:00Z", false, "Sat 23:59 CET"),
            ("2026-03-28T23:00:00Z", true, "Sun 00:00 CET"),
            ("2026-03-29T00:59:59Z", true, "01:59:59 CET"),
            ("2026-03-29T01:00:00Z", true, "03:00 CEST"),
            ("2026-03-29T03:59:00Z", true, "05:59 CEST"),
            (
                "2026-03-29T04:00:00Z",
                false,
                "06:00 CEST (05:00 if the offset were fixed)",
            ),
        ],
    );
    check_open(
        "sun 02:00-03:00",
        &sundays(&[(hm(2, 0), hm(3, 0))]),
        &[
            ("2026-03-29T00:59:59Z", false, "01:59:59 CET"),
            (
                "2026-03-29T01:00:00Z",
                false,
                "03:00 CEST: the hour never happened",
            ),
            ("2026-03-29T01:30:00Z", false, "03:30 CEST"),
            ("2026-04-05T00:00:00Z", true, "next Sunday 02:00 CEST"),
        ],
    );
}

#[test]
fn fall_back_night() {
    // 2026-10-25, Sunday: 02:59:59 CEST (00:59:59Z) is followed by 02:00 CET (01:00Z).
    check_open(
        "sun 00:00-06:00",
        &sundays(&[(0, hm(6, 0))]),
        &[
            ("2026-10-24T21:59:00Z", false, "Sat 23:59 CEST"),
            ("2026-10-24T22:00:00Z", true, "Sun 00:00 CEST"),
            ("2026-10-25T00:30:00Z", true, "02:30 CEST, first pass"),
            ("2026-10-25T01:30:00Z", true, "02:30 CET, second pass"),
            (
                "2026-10-25T04:30:00Z",
                true,
                "05:30 CET (06:30 if the offset were fixed)",
            ),
            ("2026-10-25T04:59:00Z", true, "05:59 CET"),
            ("2026-10-25T05:00:00Z", false, "06:00 CET"),
        ],
    );
    check_open(
        "sun 02:00-03:00",
        &sundays(&[(hm(2, 0), hm(3, 0))]),
        &[
            ("2026-10-24T23:59:00Z", false, "01:59 CEST"),
            ("2026-10-25T00:00:00Z", true, "02:00 CEST"),
            ("2026-10-25T00:59:59Z", true, "02:59:59 CEST"),
            ("2026-10-25T01:00:00Z", true, "02:00 CET, the hour again"),
            ("2026-10-25T01:59:59Z", true, "02:59:59 CET"),
            ("2026-10-25T02:00:00Z", false, "03:00 CET"),
        ],
    );
}

#[test]
fn easter_monday_is_closed() {
    let by_holidays = city();
    let by_offset = easter_monday_only(None);
    for (name, cal) in [("holidays italy", &by_holidays), ("easter+1", &by_offset)] {
        check_open(
            name,
            cal,
            &[
                ("2026-04-03T08:00:00Z", true, "Good Friday 2026 10:00 CEST"),
                (
                    "2026-04-06T08:00:00Z",
                    false,
                    "Easter Monday 2026 10:00 CEST",
                ),
                ("2026-04-07T08:00:00Z", true, "Tuesday after Easter 2026"),
                (
                    "2027-03-29T08:00:00Z",
                    false,
                    "Easter Monday 2027 10:00 CEST",
                ),
                ("2027-03-30T08:00:00Z", true, "Tuesday after Easter 2027"),
                (
                    "2027-04-05T08:00:00Z",
                    true,
                    "a week after Easter Monday 2027",
                ),
            ],
        );
    }
}

#[test]
fn easter_offsets_before_easter() {
    let good_friday = calendar(
        &WEEKDAYS,
        &[(hm(8, 30), hm(13, 30))],
        vec![closure(ClosureRule::Easter { offset_days: -2 }, None)],
    );
    check_open(
        "easter-2",
        &good_friday,
        &[
            ("2026-04-02T08:00:00Z", true, "Maundy Thursday 2026"),
            ("2026-04-03T08:00:00Z", false, "Good Friday 2026"),
            ("2027-03-26T09:00:00Z", false, "Good Friday 2027 10:00 CET"),
        ],
    );
    // An offset that lands in the year before its Easter: 100 days before Easter 2027
    // (28 March) is Friday 18 December 2026.
    let advent = calendar(
        &WEEKDAYS,
        &[(hm(8, 30), hm(13, 30))],
        vec![closure(ClosureRule::Easter { offset_days: -100 }, None)],
    );
    check_open(
        "easter-100",
        &advent,
        &[
            ("2026-12-17T09:00:00Z", true, "Thu 17 Dec 2026"),
            ("2026-12-18T09:00:00Z", false, "Fri 18 Dec 2026"),
        ],
    );
}

#[test]
fn yearly_and_dated_closures() {
    check_open(
        "city",
        &city(),
        &[
            // Yearly 01-29, San Costanzo, on a Thursday (2026) and a Friday (2027).
            ("2026-01-28T09:00:00Z", true, "Wed 28 Jan 2026"),
            ("2026-01-29T09:00:00Z", false, "Thu 29 Jan 2026"),
            ("2026-01-30T09:00:00Z", true, "Fri 30 Jan 2026"),
            ("2027-01-29T09:00:00Z", false, "Fri 29 Jan 2027"),
            // One-off date.
            ("2026-10-30T09:00:00Z", true, "Fri 30 Oct 2026"),
            ("2026-11-02T09:00:00Z", false, "Mon 2 Nov 2026"),
            ("2026-11-03T09:00:00Z", true, "Tue 3 Nov 2026"),
            (
                "2027-11-02T09:00:00Z",
                true,
                "Tue 2 Nov 2027: a date is not yearly",
            ),
            // Range 2026-08-10..2026-08-14, both ends inclusive.
            ("2026-08-07T08:00:00Z", true, "Fri 7 Aug"),
            ("2026-08-10T07:00:00Z", false, "Mon 10 Aug, first day"),
            ("2026-08-12T08:00:00Z", false, "Wed 12 Aug"),
            ("2026-08-14T11:00:00Z", false, "Fri 14 Aug, last day"),
            ("2026-08-17T08:00:00Z", true, "Mon 17 Aug"),
            // Fixed national holidays.
            (
                "2026-06-02T08:00:00Z",
                false,
                "Tue 2 Jun, Festa della Repubblica",
            ),
            ("2026-12-25T09:00:00Z", false, "Fri 25 Dec, Natale"),
        ],
    );
}

#[test]
fn closure_labels() {
    let city = city();
    let labelled_holidays = calendar(
        &WEEKDAYS,
        &[(hm(8, 30), hm(13, 30))],
        vec![closure(italy(), Some("Festa nazionale"))],
    );
    let cases: [(&str, &Calendar, &str, Option<&str>); 12] = [
        (
            "city",
            &city,
            "2026-04-06T08:00:00Z",
            Some("Lunedì dell'Angelo"),
        ),
        // 00:30 CEST on Easter Monday, still Easter Sunday in UTC.
        (
            "city",
            &city,
            "2026-04-05T22:30:00Z",
            Some("Lunedì dell'Angelo"),
        ),
        ("city", &city, "2026-04-05T21:59:00Z", Some("Pasqua")),
        (
            "city",
            &city,
            "2027-03-29T08:00:00Z",
            Some("Lunedì dell'Angelo"),
        ),
        ("city", &city, "2026-12-25T09:00:00Z", Some("Natale")),
        ("city", &city, "2026-01-29T09:00:00Z", Some("San Costanzo")),
        ("city", &city, "2026-08-12T08:00:00Z", Some("Ferie estive")),
        ("city", &city, "2026-11-02T09:00:00Z", Some("closed")),
        ("city", &city, "2026-01-14T09:00:00Z", None),
        ("city", &city, "2026-01-18T09:00:00Z", None),
        (
            "labelled",
            &labelled_holidays,
            "2026-04-06T08:00:00Z",
            Some("Festa nazionale"),
        ),
        ("labelled", &labelled_holidays, "2026-04-07T08:00:00Z", None),
    ];
    for (name, cal, at, expected) in cases {
        assert_eq!(
            closure_on(cal, ts(at)).as_deref(),
            expected,
            "{name}: closure_on at {at}"
        );
    }
    assert_eq!(
        closure_on(&easter_monday_only(None), ts("2026-04-06T08:00:00Z")).as_deref(),
        Some("closed")
    );
    assert_eq!(
        closure_on(
            &easter_monday_only(Some("Pasquetta")),
            ts("2026-04-06T08:00:00Z")
        )
        .as_deref(),
        Some("Pasquetta")
    );
}

#[test]
fn next_opening_cases() {
    let split = calendar(
        &WEEKDAYS,
        &[(hm(8, 30), hm(12, 30)), (hm(15, 0), hm(17, 0))],
        vec![],
    );
    let cases: [(&str, Calendar, &str, &str); 10] = [
        (
            "Friday 18:00 CET to Monday 08:30 CET",
            office(),
            "2026-01-16T17:00:00Z",
            "2026-01-19T07:30:00Z",
        ),
        (
            "already open: the instant itself",
            office(),
            "2026-01-14T10:00:00Z",
            "2026-01-14T10:00:00Z",
        ),
        (
            "early morning: same day",
            office(),
            "2026-01-14T06:00:00Z",
            "2026-01-14T07:30:00Z",
        ),
        (
            "across the spring-forward weekend: Monday 08:30 CEST",
            office(),
            "2026-03-27T17:00:00Z",
            "2026-03-30T06:30:00Z",
        ),
        (
            "over Easter Monday: Tuesday 08:30 CEST",
            city(),
            "2026-04-03T15:00:00Z",
            "2026-04-07T06:30:00Z",
        ),
        (
            "over the summer closure",
            city(),
            "2026-08-07T12:00:00Z",
            "2026-08-17T06:30:00Z",
        ),
        (
            "lunch break",
            split,
            "2026-01-14T12:00:00Z",
            "2026-01-14T14:00:00Z",
        ),
        (
            "a range entirely in the spring gap waits a week",
            sundays(&[(hm(2, 0), hm(3, 0))]),
            "2026-03-28T12:00:00Z",
            "2026-04-05T00:00:00Z",
        ),
        (
            "a range starting in the spring gap opens when the clocks jump",
            sundays(&[(hm(2, 30), hm(4, 0))]),
            "2026-03-28T12:00:00Z",
            "2026-03-29T01:00:00Z",
        ),
        (
            "a range in the repeated hour opens again on its second pass",
            sundays(&[(hm(2, 0), hm(2, 30))]),
            "2026-10-25T00:45:00Z",
            "2026-10-25T01:00:00Z",
        ),
    ];
    for (note, cal, after, expected) in cases {
        let got = next_opening(&cal, ts(after));
        assert_eq!(got, Some(ts(expected)), "{note}");
        if let Some(t) = got {
            assert!(is_open(&cal, t), "{note}: open at the answer");
        }
    }
}

#[test]
fn next_opening_gives_up() {
    let never = calendar(&[], &[], vec![]);
    assert_eq!(next_opening(&never, ts("2026-01-14T10:00:00Z")), None);
    let long_closure = calendar(
        &WEEKDAYS,
        &[(hm(8, 30), hm(13, 30))],
        vec![closure(dates("2026-01-01", "2027-12-31"), None)],
    );
    assert_eq!(
        next_opening(&long_closure, ts("2026-01-14T10:00:00Z")),
        None
    );
    assert_eq!(
        next_opening(&long_closure, ts("2027-12-20T10:00:00Z")),
        Some(ts("2028-01-03T07:30:00Z")),
        "Mon 3 Jan 2028 08:30 CET"
    );
    assert_eq!(MAX_SEARCH_DAYS, 400);
}

const TWENTY_MINUTES: SlotPolicy = SlotPolicy {
    slot_ms: 20 * 60_000,
    capacity: 1,
};

fn starts(slots: &[centralino_runtime::store::Slot]) -> Vec<String> {
    slots.iter().map(|s| s.start.to_string()).collect()
}

#[test]
fn twenty_minute_slots() {
    let cal = calendar(
        &WEEKDAYS,
        &[(hm(8, 30), hm(10, 30))],
        vec![closure(
            ClosureRule::Yearly { month: 1, day: 29 },
            Some("San Costanzo"),
        )],
    );
    // Monday 19 January 2026 00:00 CET, two days.
    let got = slots(&cal, TWENTY_MINUTES, ts("2026-01-18T23:00:00Z"), 2);
    assert_eq!(
        starts(&got),
        [
            "2026-01-19T07:30:00Z",
            "2026-01-19T07:50:00Z",
            "2026-01-19T08:10:00Z",
            "2026-01-19T08:30:00Z",
            "2026-01-19T08:50:00Z",
            "2026-01-19T09:10:00Z",
            "2026-01-20T07:30:00Z",
            "2026-01-20T07:50:00Z",
            "2026-01-20T08:10:00Z",
            "2026-01-20T08:30:00Z",
            "2026-01-20T08:50:00Z",
            "2026-01-20T09:10:00Z",
        ]
    );
    assert!(got.iter().all(|s| s.duration_ms == 20 * 60_000));

    // Wed 28 - Fri 30 January: Thursday is San Costanzo.
    let got = slots(&cal, TWENTY_MINUTES, ts("2026-01-27T23:00:00Z"), 3);
    assert_eq!(got.len(), 12);
    assert!(
        got.iter()
            .all(|s| !s.start.to_string().starts_with("2026-01-29"))
    );
    assert_eq!(got[5].start, ts("2026-01-28T09:10:00Z"));
    assert_eq!(got[6].start, ts("2026-01-30T07:30:00Z"));

    // A weekend produces nothing; days count local days, weekends included.
    assert!(slots(&cal, TWENTY_MINUTES, ts("2026-01-16T23:00:00Z"), 2).is_empty());
    assert_eq!(
        slots(&cal, TWENTY_MINUTES, ts("2026-01-16T23:00:00Z"), 3).len(),
        6
    );

    // Summer: the same local times, an hour earlier in UTC.
    let got = slots(&cal, TWENTY_MINUTES, ts("2026-07-14T22:00:00Z"), 1);
    assert_eq!(
        got.first().map(|s| s.start),
        Some(ts("2026-07-15T06:30:00Z"))
    );
    assert_eq!(got.len(), 6);
}

#[test]
fn slots_start_at_or_after_from() {
    let cal = calendar(&WEEKDAYS, &[(hm(8, 30), hm(10, 30))], vec![]);
    let cases: [(&str, &[&str]); 4] = [
        // 09:05 CET: the next boundary is 09:10.
        (
            "2026-01-19T08:05:00Z",
            &[
                "2026-01-19T08:10:00Z",
                "2026-01-19T08:30:00Z",
                "2026-01-19T08:50:00Z",
                "2026-01-19T09:10:00Z",
            ],
        ),
        // Exactly on a boundary: that slot is included.
        (
            "2026-01-19T08:50:00Z",
            &["2026-01-19T08:50:00Z", "2026-01-19T09:10:00Z"],
        ),
        // During the last slot: nothing left today.
        ("2026-01-19T09:11:00Z", &[]),
        // After closing.
        ("2026-01-19T12:00:00Z", &[]),
    ];
    for (from, expected) in cases {
        assert_eq!(
            starts(&slots(&cal, TWENTY_MINUTES, ts(from), 1)),
            expected,
            "from {from}"
        );
    }
}

#[test]
fn slots_must_fit_inside_the_range() {
    let cal = calendar(&WEEKDAYS, &[(hm(8, 30), hm(10, 30))], vec![]);
    let policy = SlotPolicy {
        slot_ms: 45 * 60_000,
        capacity: 2,
    };
    assert_eq!(
        starts(&slots(&cal, policy, ts("2026-01-18T23:00:00Z"), 1)),
        ["2026-01-19T07:30:00Z", "2026-01-19T08:15:00Z"]
    );
    // Overlapping ranges do not offer the same slot twice.
    let overlapping = calendar(
        &WEEKDAYS,
        &[(hm(8, 30), hm(9, 30)), (hm(8, 30), hm(10, 30))],
        vec![],
    );
    assert_eq!(
        slots(&overlapping, TWENTY_MINUTES, ts("2026-01-18T23:00:00Z"), 1).len(),
        6
    );
}

#[test]
fn slots_on_the_dst_nights() {
    let night = sundays(&[(hm(1, 0), hm(4, 0))]);
    // Spring forward: 02:00, 02:20 and 02:40 do not exist.
    assert_eq!(
        starts(&slots(
            &night,
            TWENTY_MINUTES,
            ts("2026-03-28T23:00:00Z"),
            1
        )),
        [
            "2026-03-29T00:00:00Z", // 01:00 CET
            "2026-03-29T00:20:00Z",
            "2026-03-29T00:40:00Z",
            "2026-03-29T01:00:00Z", // 03:00 CEST
            "2026-03-29T01:20:00Z",
            "2026-03-29T01:40:00Z",
        ]
    );
    // With 25-minute slots the skipped 02:15 and 02:40 must not reappear shifted to 03:15 and
    // 03:40 CEST.
    let quarter = SlotPolicy {
        slot_ms: 25 * 60_000,
        capacity: 1,
    };
    assert_eq!(
        starts(&slots(&night, quarter, ts("2026-03-28T23:00:00Z"), 1)),
        [
            "2026-03-29T00:00:00Z", // 01:00 CET
            "2026-03-29T00:25:00Z", // 01:25 CET
            "2026-03-29T00:50:00Z", // 01:50 CET
            "2026-03-29T01:05:00Z", // 03:05 CEST
            "2026-03-29T01:30:00Z", // 03:30 CEST, ends 03:55
        ]
    );
    // Fall back: 02:00-02:40 happen twice and are offered once, at the earlier (CEST) instant.
    assert_eq!(
        starts(&slots(
            &night,
            TWENTY_MINUTES,
            ts("2026-10-24T22:00:00Z"),
            1
        )),
        [
            "2026-10-24T23:00:00Z", // 01:00 CEST
            "2026-10-24T23:20:00Z",
            "2026-10-24T23:40:00Z",
            "2026-10-25T00:00:00Z", // 02:00 CEST
            "2026-10-25T00:20:00Z",
            "2026-10-25T00:40:00Z",
            "2026-10-25T02:00:00Z", // 03:00 CET
            "2026-10-25T02:20:00Z",
            "2026-10-25T02:40:00Z",
        ]
    );
}

#[test]
fn degenerate_slot_requests_are_empty() {
    let cal = office();
    let from = ts("2026-01-18T23:00:00Z");
    for slot_ms in [
        0,
        1,
        59_999,
        24 * 3_600_000 + 1,
        30 * 24 * 3_600_000,
        u64::MAX,
    ] {
        let policy = SlotPolicy {
            slot_ms,
            capacity: 1,
        };
        assert!(slots(&cal, policy, from, 7).is_empty(), "slot_ms {slot_ms}");
    }
    assert!(slots(&cal, TWENTY_MINUTES, from, 0).is_empty(), "zero days");
    // An absurd number of days is capped, not looped over.
    let capped = slots(&cal, TWENTY_MINUTES, from, u32::MAX);
    assert!(!capped.is_empty());
    assert!(capped.len() <= MAX_SEARCH_DAYS as usize * 15);
    assert!(
        capped.windows(2).all(|w| w[0].start < w[1].start),
        "sorted, no duplicates"
    );
    // A whole-day slot fits a 00:00-24:00 range.
    let all_day = calendar(&WEEKDAYS, &[(0, 1440)], vec![]);
    let day = SlotPolicy {
        slot_ms: 24 * 3_600_000,
        capacity: 1,
    };
    assert_eq!(
        starts(&slots(&all_day, day, from, 1)),
        ["2026-01-18T23:00:00Z"]
    );
}
