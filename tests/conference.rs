//! Conference rooms on live SIP (issue 10): callers of examples/office press 3, type the PIN of
//! room `sala` and talk together. Each caller (the test's own user agent, `support::ua`) sends a
//! tone of its own; what each one receives is searched for every tone (Goertzel, `support::tone`):
//! the others' and never its own. A caller hangs up, the others go on; `*6` mutes and unmutes.
//!
//! Staff open a three-way call from a bridged call: `*3`, an extension, `#` (baresip phones
//! 201 and 202 of the example, sending tones of their own).
//!
//! The server runs one media thread per core: a caller whose audio is on another thread than
//! the room's is moved there by a re-INVITE, which the user agent answers (`Caller::serve`).

#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::baresip::{Baresip, BaresipConfig, have_baresip};
use support::tone::{describe, has_tone, tone_power};
use support::ua::Caller;
use support::{Server, root};

/// Signalling and prompts under load: generous.
const SETUP: Duration = Duration::from_secs(30);
/// How long the audio is given to show a tone.
const HEAR: Duration = Duration::from_secs(15);
/// The cue of a join or a leave lasts 200 ms: audio is looked at from a bit after it.
const AFTER_CUE: Duration = Duration::from_millis(600);

fn start() -> Server {
    start_with(&[])
}

fn start_with(extra: &[&str]) -> Server {
    let example = root().join("examples/office");
    let config = example.join("centralino.toml");
    let mut args = vec!["--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start(&example.join("flows"), &args)
}

fn sip(server: &Server) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port))
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

/// Whether the server logged a line about this call holding `text`.
fn logged(server: &Server, caller: &Caller, text: &str) -> bool {
    server.lines_with(&[&caller.sip.call_id, text]) > 0
}

/// A citizen calls 100, presses 3, types `pin`; answers the re-INVITE that may move its audio.
/// Returns once the server has it in the room (panics otherwise).
fn enter(server: &Server, caller_number: &str, pin: &str) -> Caller {
    let mut caller = Caller::call_from(sip(server), "100", caller_number);
    caller.press('3');
    assert!(
        wait_until(SETUP, || logged(
            server,
            &caller,
            "conference: asking for the PIN"
        )),
        "{}",
        server.log()
    );
    for key in pin.chars() {
        caller.press(key);
    }
    let deadline = Instant::now() + SETUP;
    while !logged(server, &caller, "conference: joined") {
        assert!(
            Instant::now() < deadline,
            "not in the room:\n{}",
            server.log()
        );
        caller.serve(Duration::from_millis(100));
    }
    caller
}

/// Each of `callers` hears the tones of `heard` and not those of `unheard`, since `since`.
fn assert_hear(
    callers: &[(&Caller, f32)],
    since: Instant,
    heard: &[f32],
    unheard: &[f32],
    what: &str,
) {
    let all_heard = wait_until(HEAR, || {
        callers.iter().all(|(caller, own)| {
            let pcm = caller.heard_pcm_since(since);
            heard
                .iter()
                .filter(|hz| *hz != own)
                .all(|hz| has_tone(&pcm, *hz))
        })
    });
    for (caller, own) in callers {
        let pcm = caller.heard_pcm_since(since);
        let report: Vec<String> = heard
            .iter()
            .chain(unheard)
            .chain([own])
            .map(|hz| describe(&pcm, *hz))
            .collect();
        assert!(
            all_heard,
            "{what}: caller with {own} Hz: {}",
            report.join("; ")
        );
        // Its own tone and the unheard ones: at most a trace (G.711 noise, the cues).
        for hz in unheard.iter().chain([own]) {
            assert!(
                !has_tone(&pcm, *hz) && tone_power(&pcm, *hz) < 0.02,
                "{what}: caller with {own} Hz hears {hz} Hz: {}",
                report.join("; ")
            );
        }
    }
}

#[test]
fn three_callers_in_sala_hear_each_other_but_not_themselves_and_two_go_on_when_one_leaves() {
    let server = start();
    let tones = [1000.0_f32, 1400.0, 1800.0];
    let mut anna = enter(&server, "3330000001", "1234");
    let mut bruno = enter(&server, "3330000002", "1234");
    let mut carla = enter(&server, "3330000003", "1234#");
    for (caller, hz) in [(&anna, tones[0]), (&bruno, tones[1]), (&carla, tones[2])] {
        caller.send_tone(hz);
    }
    let since = Instant::now() + AFTER_CUE;
    assert_hear(
        &[(&anna, tones[0]), (&bruno, tones[1]), (&carla, tones[2])],
        since,
        &tones,
        &[],
        "three in the room",
    );

    // Carla hangs up: Anna and Bruno go on, hearing each other and no longer her.
    carla.hang_up();
    assert!(
        wait_until(SETUP, || logged(&server, &carla, "conference: left")),
        "{}",
        server.log()
    );
    let since = Instant::now() + AFTER_CUE;
    assert_hear(
        &[(&anna, tones[0]), (&bruno, tones[1])],
        since,
        &tones[..2],
        &tones[2..],
        "after Carla left",
    );
    assert!(server.log().contains("left=2"), "{}", server.log());

    anna.hang_up();
    bruno.hang_up();
    assert!(
        wait_until(SETUP, || server.count("conference: left") == 3),
        "{}",
        server.log()
    );
    assert!(
        server.log().contains("left=0"),
        "the last one out ends the room"
    );
    // Nothing was refused or lost on the way; with several media threads, callers are spread
    // over them (round robin), so at least one of the three was moved to the room's thread.
    assert_eq!(server.count("could not be moved"), 0, "{}", server.log());
    if std::thread::available_parallelism().map_or(1, usize::from) > 1 {
        assert!(
            server.count("conference: moving the caller's audio") >= 1,
            "{}",
            server.log()
        );
    }
}

#[test]
fn star_six_mutes_and_unmutes_and_a_wrong_pin_goes_on_with_the_flow() {
    let server = start();
    let tones = [1000.0_f32, 1400.0];
    let mut anna = enter(&server, "3330000011", "1234");
    let mut bruno = enter(&server, "3330000012", "1234");
    anna.send_tone(tones[0]);
    bruno.send_tone(tones[1]);
    let since = Instant::now() + AFTER_CUE;
    assert_hear(
        &[(&anna, tones[0]), (&bruno, tones[1])],
        since,
        &tones,
        &[],
        "both talking",
    );

    // *6: Anna is muted; she still hears Bruno, he no longer hears her.
    anna.press('*');
    anna.press('6');
    assert!(
        wait_until(SETUP, || logged(&server, &anna, "muted=true")),
        "{}",
        server.log()
    );
    let since = Instant::now() + Duration::from_millis(200);
    std::thread::sleep(Duration::from_secs(2));
    let bruno_heard = bruno.heard_pcm_since(since);
    assert!(
        !has_tone(&bruno_heard, tones[0]) && tone_power(&bruno_heard, tones[0]) < 0.02,
        "muted Anna is heard: {}",
        describe(&bruno_heard, tones[0])
    );
    let anna_heard = anna.heard_pcm_since(since);
    assert!(
        has_tone(&anna_heard, tones[1]),
        "muted Anna still hears Bruno: {}",
        describe(&anna_heard, tones[1])
    );

    // *6 again: heard again.
    anna.press('*');
    anna.press('6');
    assert!(
        wait_until(SETUP, || logged(&server, &anna, "muted=false")),
        "{}",
        server.log()
    );
    let since = Instant::now() + Duration::from_millis(200);
    assert!(
        wait_until(HEAR, || has_tone(&bruno.heard_pcm_since(since), tones[0])),
        "unmuted Anna is not heard: {}",
        describe(&bruno.heard_pcm_since(since), tones[0])
    );

    // A caller who types three wrong PINs is not let in: the flow says goodbye and hangs up.
    let mut stranger = Caller::call_from(sip(&server), "100", "3330000019");
    stranger.press('3');
    assert!(
        wait_until(SETUP, || logged(
            &server,
            &stranger,
            "conference: asking for the PIN"
        )),
        "{}",
        server.log()
    );
    for pin in ["1111", "2222", "3333"] {
        for key in pin.chars() {
            stranger.press(key);
        }
    }
    assert!(
        wait_until(SETUP, || logged(
            &server,
            &stranger,
            "conference: wrong PIN, refused"
        )),
        "{}",
        server.log()
    );
    assert!(stranger.await_bye(SETUP).is_some(), "{}", server.log());
    assert!(!logged(&server, &stranger, "conference: joined"));
    assert!(!logged(&server, &stranger, "conference: entering"));

    anna.hang_up();
    bruno.hang_up();
}

#[test]
fn a_caller_whose_line_is_lost_leaves_the_room_and_the_others_go_on() {
    // No audio for 3 s: the line is lost.
    let server = start_with(&["--rtp-timeout", "3"]);
    let tones = [1000.0_f32, 1400.0, 1800.0];
    let mut anna = enter(&server, "3330000031", "1234");
    let mut bruno = enter(&server, "3330000032", "1234");
    let mut carla = enter(&server, "3330000033", "1234");
    for (caller, hz) in [(&anna, tones[0]), (&bruno, tones[1]), (&carla, tones[2])] {
        caller.send_tone(hz);
    }
    // Carla's phone goes dead: no BYE, no more RTP.
    let since = Instant::now();
    carla.stop_media();
    assert!(
        wait_until(SETUP, || logged(&server, &carla, "conference: left")),
        "{}",
        server.log()
    );
    assert!(
        logged(&server, &carla, "no RTP from the caller"),
        "{}",
        server.log()
    );
    assert!(
        since.elapsed() >= Duration::from_secs(2),
        "left on the timeout"
    );
    let since = Instant::now() + AFTER_CUE;
    assert_hear(
        &[(&anna, tones[0]), (&bruno, tones[1])],
        since,
        &tones[..2],
        &tones[2..],
        "after Carla's line was lost",
    );
    anna.hang_up();
    bruno.hang_up();
}

fn staff(server: &Server, extension: &str, tone: f32) -> Baresip {
    let password = format!("pw{extension}");
    let phone = Baresip::start(BaresipConfig::staff(extension, &password, sip(server)).tone(tone));
    phone.wait_registered(SETUP);
    phone
}

#[test]
fn staff_add_a_colleague_with_star_three_and_the_three_hear_each_other() {
    if !have_baresip() {
        return;
    }
    let server = start();
    let (citizen_hz, anna_hz, bruno_hz) = (1000.0_f32, 600.0_f32, 1400.0_f32);
    let anna = staff(&server, "201", anna_hz);
    let bruno = staff(&server, "202", bruno_hz);
    let mut citizen = Caller::call_from(sip(&server), "100", "3330000021");
    citizen.press('1');
    anna.wait_event("CALL_ESTABLISHED", SETUP);
    citizen.send_tone(citizen_hz);

    // Anna adds Bruno: *3 202 #. Her keys do not reach the citizen.
    anna.command("sndcode", "*3202#").unwrap();
    assert!(
        wait_until(SETUP, || server.count("three-way: joined") == 1),
        "{}",
        server.log()
    );
    bruno.wait_event("CALL_ESTABLISHED", SETUP);
    let since = Instant::now() + AFTER_CUE;
    let all_heard = wait_until(HEAR, || {
        let heard = citizen.heard_pcm_since(since);
        has_tone(&heard, anna_hz)
            && has_tone(&heard, bruno_hz)
            && has_tone(&anna.recording(), bruno_hz)
            && has_tone(&bruno.recording(), citizen_hz)
            && has_tone(&bruno.recording(), anna_hz)
    });
    let heard = citizen.heard_pcm_since(since);
    assert!(
        all_heard,
        "citizen: {} / {}; Anna: {}; Bruno: {} / {}",
        describe(&heard, anna_hz),
        describe(&heard, bruno_hz),
        describe(&anna.recording(), bruno_hz),
        describe(&bruno.recording(), citizen_hz),
        describe(&bruno.recording(), anna_hz)
    );
    assert!(has_tone(&anna.recording(), citizen_hz));
    assert!(
        !has_tone(&heard, citizen_hz),
        "{}",
        describe(&heard, citizen_hz)
    );
    assert!(!has_tone(&bruno.recording(), bruno_hz));
    assert!(!has_tone(&anna.recording(), anna_hz));
    // No key of the code reached the citizen: it was held back, not passed on.
    assert!(
        citizen
            .arrivals()
            .iter()
            .all(|a| a.bytes.get(1).map(|b| b & 0x7f) != Some(101)),
        "a telephone-event reached the citizen"
    );

    // Anna hangs up: the citizen and Bruno go on together.
    anna.hangup();
    assert!(
        wait_until(SETUP, || server.count("three-way: the staff member left")
            == 1),
        "{}",
        server.log()
    );
    let since = Instant::now() + AFTER_CUE;
    assert!(
        wait_until(HEAR, || has_tone(&citizen.heard_pcm_since(since), bruno_hz)),
        "{}",
        describe(&citizen.heard_pcm_since(since), bruno_hz)
    );
    let heard = citizen.heard_pcm_since(since);
    assert!(!has_tone(&heard, anna_hz), "{}", describe(&heard, anna_hz));
    assert!(bruno.is_in_call());
    citizen.hang_up();
    bruno.wait_event("CALL_CLOSED", SETUP);
}

/// The issue's own wording: three real phones (baresip, not the test's user agent) call in, key
/// `3` and the PIN with RFC 2833 events, and talk with tones of their own.
#[test]
fn three_baresip_phones_in_sala_hear_the_other_two_and_not_themselves() {
    if !have_baresip() {
        return;
    }
    let server = start();
    let tones = [700.0_f32, 1100.0, 1500.0];
    let mut phones: Vec<Baresip> = tones
        .iter()
        .enumerate()
        .map(|(i, hz)| Baresip::start(BaresipConfig::peer(&format!("333000004{i}")).tone(*hz)))
        .collect();
    for (i, phone) in phones.iter().enumerate() {
        phone.dial(&format!("sip:100@{}", sip(&server)));
        phone.wait_event_count("CALL_ESTABLISHED", 1, SETUP);
        phone.command("sndcode", "3").unwrap();
        assert!(
            wait_until(SETUP, || server.count("conference: asking for the PIN")
                == i + 1),
            "{}",
            server.log()
        );
        phone.command("sndcode", "1234").unwrap();
        assert!(
            wait_until(SETUP, || server.count("conference: joined") == i + 1),
            "phone {i} not in the room:\n{}",
            server.log()
        );
    }
    let in_room = |phones: &[Baresip], tones: &[f32], what: &str| {
        std::thread::sleep(AFTER_CUE);
        let marks: Vec<usize> = phones.iter().map(|p| p.recording().len()).collect();
        let since = |i: usize| {
            let pcm = phones[i].recording();
            pcm.get(marks[i]..).map(<[i16]>::to_vec).unwrap_or_default()
        };
        let all_heard = wait_until(HEAR, || {
            (0..phones.len()).all(|i| {
                let pcm = since(i);
                tones
                    .iter()
                    .enumerate()
                    .all(|(j, hz)| j == i || has_tone(&pcm, *hz))
            })
        });
        for (i, own) in tones.iter().enumerate() {
            let pcm = since(i);
            let report: Vec<String> = tones.iter().map(|hz| describe(&pcm, *hz)).collect();
            assert!(all_heard, "{what}: phone {i}: {}", report.join("; "));
            assert!(
                !has_tone(&pcm, *own) && tone_power(&pcm, *own) < 0.02,
                "{what}: phone {i} hears itself: {}",
                report.join("; ")
            );
        }
    };
    in_room(&phones, &tones, "three in the room");

    // The third hangs up: the other two go on, and no longer hear its tone.
    let mut third = phones.pop().unwrap();
    third.hangup();
    assert!(
        wait_until(SETUP, || server.count("conference: left") == 1),
        "{}",
        server.log()
    );
    in_room(&phones, &tones[..2], "after the third left");
    let marks: Vec<usize> = phones.iter().map(|p| p.recording().len()).collect();
    std::thread::sleep(Duration::from_secs(2));
    for (i, phone) in phones.iter().enumerate() {
        let pcm = phone.recording();
        let pcm = pcm.get(marks[i]..).unwrap_or_default();
        assert!(!has_tone(pcm, tones[2]), "{}", describe(pcm, tones[2]));
    }
    assert!(third.quit(SETUP));
    for phone in &phones {
        phone.hangup();
    }
    assert!(
        wait_until(SETUP, || server.count("conference: left") == 3),
        "{}",
        server.log()
    );
}
