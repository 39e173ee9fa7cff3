//! The people behind the number, end to end: a citizen (the hand-written user agent of
//! `support::ua`) calls `centralino serve`, picks an office, and staff phones (baresip,
//! registered with digest authentication) ring, answer and talk.
//!
//! ```text
//!   citizen (ua) ──INVITE 100, key 1 or 2 or 4──► serve ──INVITE (in turn / all / queue offer)──► 201, 202 (baresip)
//!   1 kHz / 1.4 kHz tone ───────────────────────► bridge ───────────────────────────────────────► recorded by the phone
//!   heard by the citizen ◄──────────────────────────────────────────────────────────────────── 600 Hz / 800 Hz tone
//! ```
//!
//! Audio is checked by content (Goertzel): each side finds the other's tone in what it
//! received. The deployment is tests/people (office `prova`: 201 and 202, ring 5 s; number
//! 100: 1 transfer in turn, 2 queue with max wait 10 s, 4 ring all). Skipped, with a message,
//! without baresip. Every process runs on free ports and is stopped by PID, also on failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::baresip::{Baresip, BaresipConfig, have_baresip};
use support::tone::{describe, has_tone};
use support::ua::Caller;
use support::{Server, root};

const SETUP: Duration = Duration::from_secs(20);
const HEAR: Duration = Duration::from_secs(20);

fn start() -> Server {
    let config = root().join("tests/people/centralino.toml");
    Server::start(&flows(), &["--config", config.to_str().unwrap()])
}

fn flows() -> PathBuf {
    root().join("tests/people/flows")
}

fn sip(server: &Server) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port))
}

fn staff(server: &Server, extension: &str, tone: f32) -> Baresip {
    let password = format!("pw{extension}");
    let phone = Baresip::start(BaresipConfig::staff(extension, &password, sip(server)).tone(tone));
    phone.wait_registered(SETUP);
    phone
}

/// Poll `done` every 100 ms until it holds (true) or `limit` passes (false).
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The state the server shows for the call (from `centralino calls`).
fn state_of(server: &Server, caller: &Caller) -> Option<String> {
    let answer = server.control(&["calls"]);
    answer["calls"].as_array()?.iter().find_map(|call| {
        (call["call_id"].as_str()? == caller.sip.call_id)
            .then(|| call["state"].as_str().unwrap_or("").to_owned())
    })
}

/// The citizen and the phone each find the other's tone in what they received.
fn assert_tones_cross(
    citizen: &Caller,
    since: Instant,
    citizen_hz: f32,
    phone: &Baresip,
    phone_hz: f32,
) {
    let crossed = wait_until(HEAR, || {
        has_tone(&phone.recording(), citizen_hz)
            && has_tone(&citizen.heard_pcm_since(since), phone_hz)
    });
    assert!(
        crossed,
        "the phone heard {}; the citizen heard {}\nphone log:\n{}",
        describe(&phone.recording(), citizen_hz),
        describe(&citizen.heard_pcm_since(since), phone_hz),
        phone.log()
    );
    assert!(
        !has_tone(&citizen.heard_pcm_since(since), citizen_hz),
        "the citizen hears their own tone: {}",
        describe(&citizen.heard_pcm_since(since), citizen_hz)
    );
}

#[test]
fn a_citizen_put_through_to_staff_talks_with_them_and_hanging_up_ends_both() {
    if !have_baresip() {
        return;
    }
    let server = start();
    let anna = staff(&server, "201", 600.0);
    let citizen = Caller::call(sip(&server), "100");
    citizen.press('1');
    let established = anna.wait_event("CALL_ESTABLISHED", SETUP);
    assert_eq!(established.direction.as_deref(), Some("incoming"));
    let since = Instant::now();
    citizen.send_tone(1000.0);
    assert_tones_cross(&citizen, since, 1000.0, &anna, 600.0);
    assert_eq!(state_of(&server, &citizen).as_deref(), Some("passa"));

    // Keys pass on: the citizen's 5 (RFC 4733) reaches the staff phone.
    citizen.press('5');
    let key = anna.wait_event("CALL_DTMF_START", SETUP);
    assert_eq!(key.param.as_deref(), Some("5"), "{key:?}");
    // A citizen keying staff's three-way code and an outside number only sends keys to staff:
    // nothing is dialled (toll fraud).
    let dialled = "*300390612345678#";
    for key in dialled.chars() {
        citizen.press(key);
    }
    anna.wait_event_count("CALL_DTMF_START", 1 + dialled.len(), SETUP);
    let heard: String = anna
        .events()
        .iter()
        .filter(|e| e.kind == "CALL_DTMF_START")
        .filter_map(|e| e.param.clone())
        .collect();
    assert_eq!(heard, format!("5{dialled}"));
    let log = server.log();
    assert_eq!(log.matches("transfer: ringing staff").count(), 1, "{log}");
    assert!(
        !log.contains("three-way:") && !log.contains("staff call:"),
        "{log}"
    );
    assert_eq!(
        anna.events()
            .iter()
            .filter(|e| e.kind == "CALL_ESTABLISHED")
            .count(),
        1,
        "nobody else was rung, and staff were rung once: {log}"
    );

    // The citizen hangs up: the staff phone's call ends too.
    let mut citizen = citizen;
    citizen.hang_up();
    anna.wait_event("CALL_CLOSED", SETUP);
    assert!(wait_until(SETUP, || server.control(&["calls"])["calls"]
        .as_array()
        .is_some_and(Vec::is_empty)));
}

#[test]
fn staff_hanging_up_ends_the_citizens_call() {
    if !have_baresip() {
        return;
    }
    let server = start();
    let anna = staff(&server, "201", 600.0);
    let mut citizen = Caller::call(sip(&server), "100");
    citizen.press('1');
    anna.wait_event("CALL_ESTABLISHED", SETUP);
    let since = Instant::now();
    citizen.send_tone(1000.0);
    assert_tones_cross(&citizen, since, 1000.0, &anna, 600.0);
    anna.hangup();
    assert!(
        citizen.await_bye(SETUP).is_some(),
        "the citizen got no BYE after staff hung up\n{}",
        server.log()
    );
}

#[test]
fn when_201_does_not_answer_202_rings_and_ring_all_gives_the_call_to_the_first() {
    if !have_baresip() {
        return;
    }
    let server = start();
    // 201 rings but nobody picks up; 202 answers by itself.
    let anna = Baresip::start(
        BaresipConfig::staff("201", "pw201", sip(&server))
            .tone(600.0)
            .manual_answer(),
    );
    anna.wait_registered(SETUP);
    let bruno = staff(&server, "202", 800.0);

    let mut citizen = Caller::call(sip(&server), "100");
    citizen.press('1');
    anna.wait_event("CALL_INCOMING", SETUP);
    assert!(
        bruno.events().iter().all(|e| e.kind != "CALL_ESTABLISHED"),
        "in turn: 202 waits for 201's ring time"
    );
    bruno.wait_event("CALL_ESTABLISHED", SETUP);
    anna.wait_event("CALL_CLOSED", SETUP);
    let since = Instant::now();
    citizen.send_tone(1000.0);
    assert_tones_cross(&citizen, since, 1000.0, &bruno, 800.0);
    citizen.hang_up();
    bruno.wait_event("CALL_CLOSED", SETUP);

    // Ring all: both ring at once; 202 answers first, 201 stops ringing.
    let mut second = Caller::call(sip(&server), "100");
    second.press('4');
    let rang = wait_until(SETUP, || {
        anna.events()
            .iter()
            .filter(|e| e.kind == "CALL_INCOMING")
            .count()
            == 2
    });
    assert!(
        rang,
        "201 was not rung for the second call: {:?}",
        anna.events()
    );
    bruno.wait_event_count("CALL_ESTABLISHED", 2, SETUP);
    anna.wait_event_count("CALL_CLOSED", 2, SETUP);
    assert!(!anna.is_in_call());
    let since = Instant::now();
    second.send_tone(1400.0);
    assert_tones_cross(&second, since, 1400.0, &bruno, 800.0);
    second.hang_up();
}

#[test]
fn nobody_registered_takes_the_else_path() {
    let server = start();
    let citizen = Caller::call(sip(&server), "100");
    citizen.press('1');
    let overflow = wait_until(SETUP, || {
        state_of(&server, &citizen).is_some_and(|s| s == "nessuno" || s == "attesa_fine")
    });
    assert!(
        overflow,
        "state {:?}\n{}",
        state_of(&server, &citizen),
        server.log()
    );
}

#[test]
fn a_queue_gives_the_agent_to_callers_in_turn_and_max_wait_leads_to_else() {
    if !have_baresip() {
        return;
    }
    let server = start();
    let anna = staff(&server, "201", 600.0);
    let mut first = Caller::call(sip(&server), "100");
    first.press('2');
    anna.wait_event("CALL_ESTABLISHED", SETUP);

    // The second caller waits: in the queue state, hearing something (music and position).
    let second = Caller::call(sip(&server), "100");
    second.press('2');
    let waiting_since = Instant::now();
    assert!(wait_until(SETUP, || state_of(&server, &second).as_deref()
        == Some("coda")));
    std::thread::sleep(Duration::from_secs(3));
    let heard = second.heard_pcm_since(waiting_since);
    let loud = heard.iter().filter(|s| s.unsigned_abs() > 1000).count();
    assert!(
        loud > 800,
        "the waiting caller hears nothing ({loud} loud samples)"
    );
    assert_eq!(
        anna.events()
            .iter()
            .filter(|e| e.kind == "CALL_ESTABLISHED")
            .count(),
        1,
        "201 is busy: not offered the second caller"
    );

    // The first call ends: the agent is offered the second caller and talks with them.
    first.hang_up();
    anna.wait_event_count("CALL_ESTABLISHED", 2, SETUP);
    let since = Instant::now();
    second.send_tone(1400.0);
    assert_tones_cross(&second, since, 1400.0, &anna, 600.0);
    drop(second);
    drop(anna);

    // Nobody left: a third caller waits the maximum (10 s), then the flow's else path.
    let third = Caller::call(sip(&server), "100");
    third.press('2');
    assert!(wait_until(SETUP, || state_of(&server, &third).as_deref()
        == Some("coda")));
    let overflow = wait_until(Duration::from_secs(25), || {
        state_of(&server, &third).is_some_and(|s| s == "nessuno" || s == "attesa_fine")
    });
    assert!(
        overflow,
        "state {:?}\n{}",
        state_of(&server, &third),
        server.log()
    );
}

#[test]
fn staff_pass_the_call_on_to_a_colleague_and_never_to_an_outside_number() {
    if !have_baresip() {
        return;
    }
    let server = start();
    let anna = staff(&server, "201", 600.0);
    let bruno = staff(&server, "202", 800.0);
    let citizen = Caller::call(sip(&server), "100");
    citizen.press('1');
    anna.wait_event("CALL_ESTABLISHED", SETUP);

    // To 202: Bruno answers, Anna is released, the caller talks with Bruno.
    let colleague = format!("sip:202@127.0.0.1:{}", server.port);
    if let Err(e) = anna.command("transfer", &colleague) {
        panic!("transfer: {e}\n{}\n{}", anna.log(), server.log());
    }
    bruno.wait_event("CALL_ESTABLISHED", SETUP);
    anna.wait_event("CALL_CLOSED", SETUP);
    let since = Instant::now();
    citizen.send_tone(1000.0);
    assert_tones_cross(&citizen, since, 1000.0, &bruno, 800.0);

    // Bruno tries an outside number: refused (403), and no call leaves the server.
    let outside = format!("sip:00390612345678@127.0.0.1:{}", server.port);
    let _ = bruno.command("transfer", &outside);
    assert!(
        wait_until(SETUP, || server
            .log()
            .contains("REFER to no staff member or office: refused")),
        "{}",
        server.log()
    );
    assert_eq!(
        anna.events()
            .iter()
            .filter(|e| e.kind == "CALL_ESTABLISHED")
            .count(),
        1,
        "nobody else was rung"
    );
    assert!(
        !server.log().contains("00390612345678@"),
        "an INVITE went out: {}",
        server.log()
    );
    drop(citizen);
}

/// The README of examples/office, as a new user follows it: 201 registers, a citizen calls
/// 100, presses 1, and they talk.
#[test]
fn the_office_example_puts_a_citizen_through_to_201() {
    if !have_baresip() {
        return;
    }
    let example = root().join("examples/office");
    let config = example.join("centralino.toml");
    let server = Server::start(
        &example.join("flows"),
        &["--config", config.to_str().unwrap()],
    );
    let anna = staff(&server, "201", 600.0);
    let mut citizen = Caller::call(sip(&server), "100");
    citizen.press('1');
    anna.wait_event("CALL_ESTABLISHED", SETUP);
    let since = Instant::now();
    citizen.send_tone(1000.0);
    assert_tones_cross(&citizen, since, 1000.0, &anna, 600.0);
    citizen.hang_up();
    anna.wait_event("CALL_CLOSED", SETUP);
}

#[test]
fn staff_call_each_other_by_extension_and_star_codes_set_them_away_and_back() {
    if !have_baresip() {
        return;
    }
    let server = start();
    let anna = staff(&server, "201", 600.0);
    let bruno = staff(&server, "202", 800.0);

    // 201 calls 202: it rings, Bruno answers, they hear each other.
    anna.dial(&format!("sip:202@127.0.0.1:{}", server.port));
    bruno.wait_event("CALL_ESTABLISHED", SETUP);
    anna.wait_event("CALL_ESTABLISHED", SETUP);
    let crossed = wait_until(HEAR, || {
        has_tone(&anna.recording(), 800.0) && has_tone(&bruno.recording(), 600.0)
    });
    assert!(
        crossed,
        "201 heard {}; 202 heard {}",
        describe(&anna.recording(), 800.0),
        describe(&bruno.recording(), 600.0)
    );
    anna.hangup();
    bruno.wait_event("CALL_CLOSED", SETUP);

    // *21: Bruno is away; a citizen's transfer passes him by (Anna's phone is gone: it rings
    // unanswered), and the flow's else path follows.
    bruno.dial(&format!("sip:*21@127.0.0.1:{}", server.port));
    bruno.wait_event_count("CALL_CLOSED", 2, SETUP);
    drop(anna);
    let citizen = Caller::call(sip(&server), "100");
    citizen.press('1');
    let overflow = wait_until(SETUP, || {
        state_of(&server, &citizen).is_some_and(|s| s == "nessuno" || s == "attesa_fine")
    });
    assert!(
        overflow,
        "state {:?}\n{}",
        state_of(&server, &citizen),
        server.log()
    );
    assert_eq!(
        bruno
            .events()
            .iter()
            .filter(|e| e.kind == "CALL_ESTABLISHED")
            .count(),
        2,
        "an away staff member is not rung"
    );
    drop(citizen);

    // *20: back; the next citizen reaches Bruno.
    bruno.dial(&format!("sip:*20@127.0.0.1:{}", server.port));
    bruno.wait_event_count("CALL_CLOSED", 3, SETUP);
    let mut citizen = Caller::call(sip(&server), "100");
    citizen.press('1');
    bruno.wait_event_count("CALL_ESTABLISHED", 4, SETUP);
    citizen.hang_up();
}
