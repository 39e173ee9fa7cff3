//! Appointments the caller chooses, end to end (issue 10, item 2): `centralino serve` on
//! examples/office, whose key 5 books a slot of the service `prova` with `book prova offer 3`.
//!
//! Two callers want the same time. Caller B (the test's own user agent, keys sent when the
//! server's log shows the call is ready for them) hears the three free times first and waits;
//! caller A (sipp, keys as RFC 4733 pcaps) hears the same three, picks the second and gets a
//! reference. Then B picks the second too: it was taken, B hears so and the free times again,
//! and picks the second of those, the time after A's. The store shows A's booking at the second
//! time offered and B's at the next one, each with its own reference.
//!
//! Every wait is for a condition (a log line, a BYE), with generous limits; the server and
//! sipp are stopped by PID also when the test fails (support::Server, support::sipp).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use centralino_runtime::store::Slot;
use jiff::{SignedDuration, Timestamp};
use support::ua::Caller;
use support::{Server, have_sipp, root};

/// The first bookable slots of `prova` for a call at `now`, as the server computes them: from
/// 24 hours later, in the opening hours of its calendar (examples/office).
fn bookable(now: Timestamp) -> Vec<Slot> {
    let mut sources = centralino_compiler::Sources::new();
    let path = root().join("examples/office/flows/office.flow");
    sources.add(
        "office.flow",
        std::fs::read_to_string(&path).expect("examples/office/flows/office.flow"),
    );
    let graph = centralino_compiler::compile(&sources)
        .graph
        .expect("examples/office compiles");
    let service = graph.services.get("prova").expect("the service prova");
    let calendar = graph
        .calendars
        .get(service.hours.as_deref().expect("prova has hours"))
        .expect("its calendar");
    let from = now.checked_add(SignedDuration::from_hours(24)).unwrap();
    centralino_runtime::calendar::slots(calendar, service.slots, from, 28)
}

/// The open bookings in the server's store, as `centralino appointments list --json` gives them.
fn bookings(server: &Server) -> Vec<serde_json::Value> {
    let out = support::command(&["appointments", "list", "--json", "--data"])
        .arg(server.data.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    serde_json::from_slice(&out.stdout).expect("a JSON list of bookings")
}

fn start_of(booking: &serde_json::Value) -> Timestamp {
    booking["slot"]["start"]
        .as_str()
        .expect("a slot start")
        .parse()
        .expect("a timestamp")
}

#[test]
fn the_caller_picks_the_second_time_and_a_concurrent_booker_of_it_gets_the_next() {
    if !have_sipp() {
        return;
    }
    let limit = Duration::from_secs(60);
    let before = bookable(Timestamp::now());
    let mut server = Server::start_with_steps(
        &root().join("examples/office/flows"),
        &["--rtp-timeout", "180"],
    );

    // B: 5 (book), and the three free times are offered.
    let mut b = Caller::call_from(server.addr(), "100", "3330000002");
    b.press('5');
    server.wait_for_times("free times offered: 3", 1, limit);

    // A (sipp): 5, then 2 while the same three times are said; the booking is read back and
    // the server hangs up. B picks the second time too once A has it: taken meanwhile, B hears
    // so and the free times again, and picks the second of those.
    std::thread::scope(|scope| {
        let a = scope.spawn(|| server.sipp_within("book_second_time.xml", "100", 120));
        server.wait_for("prenotato", limit);
        assert_eq!(
            server.count("free times offered: 3"),
            2,
            "A heard three times:\n{}",
            server.log()
        );
        b.press('2');
        server.wait_for("the time chosen was taken meanwhile", limit);
        server.wait_for_times("free times offered: 3", 3, limit);
        b.press('2');
        assert!(
            b.await_bye(Duration::from_secs(90)).is_some(),
            "the server ends B's call after reading the booking back:\n{}",
            server.log()
        );
        let a = a.join().expect("sipp ran");
        assert!(a.status.success(), "caller A's call:\n{}", server.log());
    });
    let _ = b.stop_media();
    let after = bookable(Timestamp::now());
    assert!(server.stop().success(), "clean shutdown:\n{}", server.log());

    let booked = bookings(&server);
    assert_eq!(booked.len(), 2, "two bookings: {booked:#?}");
    let by_caller = |caller: &str| {
        booked
            .iter()
            .find(|b| b["caller"].as_str().is_some_and(|c| c.ends_with(caller)))
            .unwrap_or_else(|| panic!("a booking by {caller}: {booked:#?}"))
    };
    let a_booking = by_caller("3331234567");
    let b_booking = by_caller("3330000002");
    for booking in [a_booking, b_booking] {
        assert_eq!(booking["status"], "open", "{booking}");
        assert_eq!(booking["resource"]["kind"], "service", "{booking}");
        assert_eq!(booking["resource"]["name"], "prova", "{booking}");
        let reference = booking["reference"].as_str().expect("a reference");
        assert!(
            reference.len() >= 8 && reference.chars().all(|c| c.is_ascii_digit()),
            "{reference}"
        );
    }
    assert_ne!(a_booking["reference"], b_booking["reference"]);
    // The slots offered are those of the calendar from tomorrow on; a slot boundary may pass
    // while the test runs, so the list as of its start or as of its end.
    let (a_start, b_start) = (start_of(a_booking), start_of(b_booking));
    let matches =
        |slots: &[Slot]| slots.len() >= 3 && a_start == slots[1].start && b_start == slots[2].start;
    assert!(
        matches(&before) || matches(&after),
        "A has the second time offered and B the next one: A {a_start}, B {b_start}; \
         offered {:?} / {:?}",
        before.iter().take(3).map(|s| s.start).collect::<Vec<_>>(),
        after.iter().take(3).map(|s| s.start).collect::<Vec<_>>()
    );
}
