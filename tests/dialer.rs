//! The callback dialer on live calls (issue 10, item 1), end to end with real peers.
//!
//! examples/office (a copy in a temporary directory, on free ports) with its trunk pointed at
//! the test's gateway: a citizen (sipp) presses 4 and a callback request is stored; staff 201
//! (baresip, registered) is rung first, hears the briefing and presses 1; the dialer calls the
//! citizen's number through the trunk, where a second baresip plays the gateway (and the
//! citizen's phone); the two hear each other's tones (Goertzel, `support::tone`); the citizen
//! hangs up, staff press 1 and the request is closed, its attempt stored.
//!
//! Also: `kill -9` of serve while staff are being rung, then a restart on the same store: the
//! request is worked exactly once (one reached attempt, one INVITE at the gateway); a citizen
//! who does not answer (sipp as the gateway, 480) is retried with backoff and then failed; a
//! premium-rate number is failed with the rule's reason and never reaches the gateway.
//!
//! Citizen first (`callback prova … citizen first` in the copy's flow): the dialer calls the
//! gateway first (a baresip citizen), which hears the message and presses 1 (RFC 4733); only
//! then is staff 201 rung and briefed, and the two hear each other; and a citizen (sipp as the
//! gateway) who presses 2 instead: the attempt is stored as declined, the request failed without
//! another attempt, and staff are never rung;
//! one who presses 1 when staff do not answer (`staff_ring_s = 3`): hung up after the sorry
//! message, the attempt stored as failed ("no staff member answered").
//!
//! Every wait is for a condition (a log line, an event, a tone) with generous limits; every
//! process is stopped by PID when its handle is dropped, also when a test fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Output;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::baresip::{Baresip, BaresipConfig, have_baresip};
use support::tone::{describe, has_tone};
use support::{Server, free_port, have_sipp, root};

/// Signalling, prompts and the dialer's ticks on a loaded machine: generous.
const SETUP: Duration = Duration::from_secs(60);
/// How long the audio is given to show a tone.
const HEAR: Duration = Duration::from_secs(20);
const STAFF_HZ: f32 = 1000.0;
const CITIZEN_HZ: f32 = 1400.0;
/// The citizen's number: an Italian mobile, which the numbering rule lets through as it is.
const CITIZEN: &str = "3331234567";

/// examples/office copied into a temporary directory, its trunk at `127.0.0.1:gateway` and
/// `[dialer]` as the test wants it.
struct Office {
    dir: tempfile::TempDir,
}

impl Office {
    fn new(gateway: u16, dialer: &str) -> Office {
        Office::with_trunk(gateway, "", dialer)
    }

    /// With more `[trunk]` keys (`trunk`: lines of TOML).
    fn with_trunk(gateway: u16, trunk: &str, dialer: &str) -> Office {
        let dir = tempfile::tempdir().unwrap();
        let example = root().join("examples/office");
        std::fs::create_dir(dir.path().join("flows")).unwrap();
        std::fs::copy(
            example.join("flows/office.flow"),
            dir.path().join("flows/office.flow"),
        )
        .unwrap();
        let config = std::fs::read_to_string(example.join("centralino.toml")).unwrap();
        let trunk = config.replace(
            "uri = \"sip:{number}@127.0.0.1:5064\"",
            &format!("uri = \"sip:{{number}}@127.0.0.1:{gateway}\"\n{trunk}"),
        );
        assert_ne!(trunk, config, "the example's trunk is at 127.0.0.1:5064");
        std::fs::write(
            dir.path().join("centralino.toml"),
            format!("{trunk}\n[dialer]\n{dialer}\n"),
        )
        .unwrap();
        Office { dir }
    }

    /// The copy's callback (menu key 4) calls the citizen first.
    fn citizen_first(self) -> Office {
        let path = self.flows().join("office.flow");
        let flow = std::fs::read_to_string(&path).unwrap();
        let marked = flow.replace(
            "callback prova note \"Richiamata chiesta dal menu dell'ufficio di prova\"",
            "callback prova note \"Richiamata chiesta dal menu dell'ufficio di prova\" citizen first",
        );
        assert_ne!(
            marked, flow,
            "the example's key 4 asks for a callback from prova"
        );
        std::fs::write(&path, marked).unwrap();
        self
    }

    fn flows(&self) -> PathBuf {
        self.dir.path().join("flows")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("centralino.toml")
    }

    /// `serve` on the copy, with `data` as its store.
    fn serve(&self, data: tempfile::TempDir) -> Server {
        let config = self.config();
        let server = Server::start_with_data(
            &self.flows(),
            data,
            &["--config", config.to_str().unwrap(), "--rtp-timeout", "180"],
        );
        server.wait_for("callback dialer started", SETUP);
        server
    }
}

/// A citizen calls 100 from `number` and presses 4 (sipp, in a thread: the call lasts while
/// the reference is read back).
fn ask_for_callback(server: &Server, number: &str) -> JoinHandle<Output> {
    let port = server.port;
    let number = number.to_owned();
    let answered = |server: &Server| server.log().matches("call answered").count();
    let before = answered(server);
    let citizen = std::thread::spawn(move || {
        support::sipp(
            port,
            "callback_key4.xml",
            &["-s", "100", "-m", "1", "-l", "1", "-key", "caller", &number],
            90,
        )
    });
    // The citizen's call is answered, or what sipp said is shown at once.
    wait_until(SETUP, || answered(server) > before || citizen.is_finished());
    if answered(server) == before {
        let output = citizen.join().unwrap();
        panic!(
            "the citizen's call was not answered: sipp {:?}\n{}\n{}\nserver:\n{}",
            output.status.code(),
            support::stdout(&output),
            support::stderr(&output),
            server.log()
        );
    }
    citizen
}

fn sipp_ok(citizen: JoinHandle<Output>) {
    let output = citizen.join().unwrap();
    support::sipp_succeeded(&output, 1);
}

/// The callback requests in the server's store (through its control socket while it serves).
fn callbacks(server: &Server) -> Vec<Value> {
    match server.control(&["callbacks", "list"]) {
        Value::Array(items) => items,
        other => panic!("callbacks list: {other}"),
    }
}

fn only_callback(server: &Server) -> Value {
    let all = callbacks(server);
    assert_eq!(all.len(), 1, "{all:?}");
    all.into_iter().next().unwrap()
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

/// Whether `pcm` holds sound (speech), not only silence: some 100 ms with a mean level above
/// a whisper.
fn has_sound(pcm: &[i16]) -> bool {
    pcm.chunks(800).any(|chunk| {
        let sum: f64 = chunk.iter().map(|s| f64::from(*s).abs()).sum();
        sum / chunk.len().max(1) as f64 > 300.0
    })
}

/// Whether `pcm` holds sound and then at least a second of quiet at its end.
fn briefing_heard(pcm: &[i16]) -> bool {
    let quiet_tail = 8_000;
    pcm.len() > quiet_tail
        && has_sound(&pcm[..pcm.len() - quiet_tail])
        && !has_sound(&pcm[pcm.len() - quiet_tail..])
}

/// What the phone heard in its latest call.
fn last_call(phone: &Baresip) -> Vec<i16> {
    phone.recordings().pop().unwrap_or_default()
}

fn staff_phone(server: &Server, manual: bool) -> Baresip {
    let mut config = BaresipConfig::staff("201", "pw201", server.addr()).tone(STAFF_HZ);
    if manual {
        config = config.manual_answer();
    }
    let phone = Baresip::start(config);
    phone.wait_registered(SETUP);
    phone
}

/// Staff answered and heard the briefing: they press 1, the citizen is called, answers, and
/// the two hear each other; the citizen hangs up and staff press 1 to close.
fn talk_and_close(server: &Server, staff: &Baresip, gateway: &Baresip, answered: usize) {
    // The briefing is said (sound), then the line goes quiet: the key is awaited.
    assert!(
        wait_until(SETUP, || briefing_heard(&last_call(staff))),
        "staff heard no briefing:\n{}",
        server.log()
    );
    staff.command("sndcode", "1").unwrap();
    server.wait_for_times("callback: staff and citizen bridged", answered, SETUP);
    let heard = wait_until(HEAR, || {
        has_tone(&staff.recording(), CITIZEN_HZ) && has_tone(&gateway.recording(), STAFF_HZ)
    });
    assert!(
        heard,
        "staff hear the citizen: {}; the citizen hears staff: {}",
        describe(&staff.recording(), CITIZEN_HZ),
        describe(&gateway.recording(), STAFF_HZ)
    );
    // Each hears the other, not themselves (the bridge is not an echo).
    assert!(
        !has_tone(&gateway.recording(), CITIZEN_HZ),
        "the citizen hears their own tone: {}",
        describe(&gateway.recording(), CITIZEN_HZ)
    );
    gateway.hangup();
    server.wait_for_times("callback: the citizen hung up", answered, SETUP);
    // "Press 1 to close": staff press it while it is said.
    std::thread::sleep(Duration::from_millis(500));
    staff.command("sndcode", "1").unwrap();
    staff.wait_event_count("CALL_CLOSED", answered, SETUP);
}

fn assert_closed_once_reached(server: &Server) {
    assert!(
        wait_until(SETUP, || only_callback(server)["dialing"]["state"]
            == "closed"),
        "{}\n{}",
        only_callback(server),
        server.log()
    );
    let request = only_callback(server);
    assert_eq!(request["status"], "closed", "{request}");
    assert_eq!(request["number"], CITIZEN, "{request}");
    assert_eq!(request["dialing"]["by"], "staff phone", "{request}");
    let attempts = request["dialing"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{request}");
    assert_eq!(attempts[0]["outcome"], "reached", "{request}");
    assert_eq!(attempts[0]["staff"], "201", "{request}");
}

#[test]
fn staff_are_rung_first_talk_with_the_citizen_and_close_the_request_from_the_phone() {
    if !have_sipp() || !have_baresip() {
        return;
    }
    let gateway = Baresip::start(BaresipConfig::peer(CITIZEN).tone(CITIZEN_HZ));
    let office = Office::new(gateway.sip_port, "backoff_s = 1\nbackoff_max_s = 2");
    let server = office.serve(tempfile::tempdir().unwrap());
    let staff = staff_phone(&server, false);

    let citizen = ask_for_callback(&server, CITIZEN);
    server.wait_for("callback: staff answered", SETUP);
    let request = only_callback(&server);
    let reference = request["reference"].as_str().unwrap().to_owned();
    assert_eq!(request["office"], "prova");
    talk_and_close(&server, &staff, &gateway, 1);
    sipp_ok(citizen);
    assert_closed_once_reached(&server);
    // The gateway was called once, for the citizen's number, with the city's number shown.
    // It answers by itself (no CALL_INCOMING event): each INVITE is one established call.
    let incoming: Vec<_> = gateway
        .events()
        .into_iter()
        .filter(|e| e.kind == "CALL_ESTABLISHED")
        .collect();
    assert_eq!(incoming.len(), 1, "{incoming:?}");
    assert!(
        incoming[0]
            .peer_uri
            .as_deref()
            .unwrap_or_default()
            .contains("075075075"),
        "{incoming:?}"
    );
    assert_eq!(
        server.lines_with(&[&reference, "callback: calling the citizen"]),
        1,
        "{}",
        server.log()
    );
}

#[test]
fn a_dialer_killed_while_ringing_staff_works_the_request_exactly_once_after_a_restart() {
    if !have_sipp() || !have_baresip() {
        return;
    }
    let gateway = Baresip::start(BaresipConfig::peer(CITIZEN).tone(CITIZEN_HZ));
    let office = Office::new(gateway.sip_port, "lease_s = 5\nskip_delay_s = 1");
    let mut server = office.serve(tempfile::tempdir().unwrap());
    let staff = staff_phone(&server, true);

    let citizen = ask_for_callback(&server, CITIZEN);
    staff.wait_event("CALL_INCOMING", SETUP);
    assert_eq!(
        only_callback(&server)["dialing"]["state"],
        "working",
        "{}",
        server.log()
    );
    server.signal("KILL");
    assert!(server.wait_exit(SETUP).is_some(), "serve survived kill -9");
    // The citizen's call died with the server (sipp gives up on it later); their request did
    // not. The ringing from the dead server stops at the phone.
    staff.hangup();
    let data = std::mem::replace(&mut server.data, tempfile::tempdir().unwrap());
    drop(server);

    let server = office.serve(data);
    // The phone's registration was kept; the old lease runs out (5 s), then staff ring again.
    staff.wait_event_count("CALL_INCOMING", 2, SETUP);
    staff.answer();
    server.wait_for("callback: staff answered", SETUP);
    talk_and_close(&server, &staff, &gateway, 1);
    assert_closed_once_reached(&server);
    let kinds: Vec<String> = gateway.events().iter().map(|e| e.kind.clone()).collect();
    // It answers by itself (no CALL_INCOMING event): each INVITE is one established call.
    let invites = kinds.iter().filter(|k| *k == "CALL_ESTABLISHED").count();
    assert_eq!(invites, 1, "the gateway was called once: {kinds:?}");
    let _ = citizen.join();
}

#[test]
fn shutdown_hangs_up_an_attempt_in_progress_and_gives_the_request_back() {
    if !have_sipp() || !have_baresip() {
        return;
    }
    let gateway = Baresip::start(BaresipConfig::peer(CITIZEN).tone(CITIZEN_HZ));
    let office = Office::new(gateway.sip_port, "");
    let mut server = office.serve(tempfile::tempdir().unwrap());
    let staff = staff_phone(&server, false);
    let citizen = ask_for_callback(&server, CITIZEN);
    server.wait_for("callback: staff answered", SETUP);

    // SIGTERM while staff hear the briefing: the attempt is hung up at once (BYE), the
    // citizen's own call may finish within the grace period, then serve exits.
    server.signal("TERM");
    staff.wait_event("CALL_CLOSED", SETUP);
    server.wait_for("callback attempt cancelled (shutdown)", SETUP);
    sipp_ok(citizen);
    assert!(
        server
            .wait_exit(SETUP)
            .is_some_and(|status| status.success()),
        "{}",
        server.log()
    );
    // Given back: pending, no attempt, no lease; the trunk was never called.
    let out = support::command(&["callbacks", "list", "--json", "--data"])
        .arg(server.data.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.len(), 1);
    let dialing = &listed[0]["dialing"];
    assert_eq!(dialing["state"], "pending", "{dialing}");
    assert!(dialing.get("lease").is_none(), "{dialing}");
    assert_eq!(dialing["attempts"].as_array().map_or(0, Vec::len), 0);
    assert!(
        gateway
            .events()
            .iter()
            .all(|e| e.kind != "CALL_ESTABLISHED"),
        "{:?}",
        gateway.events()
    );
}

#[test]
fn a_citizen_who_does_not_answer_is_retried_with_backoff_then_the_request_fails() {
    if !have_sipp() || !have_baresip() {
        return;
    }
    let gateway_port = free_port();
    let gateway = gateway_480(gateway_port, 2);
    let office = Office::new(
        gateway_port,
        "max_attempts = 2\nbackoff_s = 2\nbackoff_max_s = 4",
    );
    let server = office.serve(tempfile::tempdir().unwrap());
    let staff = staff_phone(&server, false);

    let citizen = ask_for_callback(&server, CITIZEN);
    for attempt in 1..=2 {
        staff_take_unanswered(&server, &staff, attempt);
    }
    let gateway = gateway.join().unwrap();
    support::sipp_succeeded(&gateway, 2);
    sipp_ok(citizen);
    let request = failed_request(&server);
    let attempts = request["dialing"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{request}");
    for attempt in attempts {
        assert_eq!(attempt["outcome"], "no_answer", "{request}");
        assert_eq!(attempt["staff"], "201", "{request}");
        assert_eq!(attempt["detail"], "SIP 480", "{request}");
    }
    // The second attempt waited out the backoff after the first.
    let at = |i: usize| -> jiff::Timestamp { attempts[i]["at"].as_str().unwrap().parse().unwrap() };
    assert!(
        at(1).duration_since(at(0)) >= jiff::SignedDuration::from_secs(2),
        "{request}"
    );
    assert!(
        request["dialing"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not reached in 2 attempts"),
        "{request}"
    );
}

/// sipp as the trunk's gateway, answering each of `calls` INVITEs with 480 (in a thread).
fn gateway_480(port: u16, calls: usize) -> JoinHandle<Output> {
    gateway("gateway_480.xml", port, calls)
}

/// sipp as the trunk's gateway, playing `scenario` for `calls` calls (in a thread).
fn gateway(scenario: &str, port: u16, calls: usize) -> JoinHandle<Output> {
    let scenario = root().join("tests/sipp").join(scenario);
    std::thread::spawn(move || {
        let dir = tempfile::tempdir().unwrap();
        std::process::Command::new("timeout")
            .arg("150")
            .arg("sipp")
            .arg("-sf")
            .arg(scenario)
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", &calls.to_string()])
            .args(["-nostdin", "-timeout", "120s", "-trace_err"])
            .current_dir(dir.path())
            .output()
            .unwrap()
    })
}

/// Staff take the `nth` attempt (press 1 after the briefing) and the gateway refuses it.
fn staff_take_unanswered(server: &Server, staff: &Baresip, nth: usize) {
    server.wait_for_times("callback: staff answered", nth, SETUP);
    assert!(
        wait_until(SETUP, || briefing_heard(&last_call(staff))),
        "staff heard no briefing:\n{}",
        server.log()
    );
    staff.command("sndcode", "1").unwrap();
    server.wait_for_times("callback: calling the citizen", nth, SETUP);
    staff.wait_event_count("CALL_CLOSED", nth, SETUP);
}

#[test]
fn callbacks_call_works_a_request_at_once_instead_of_after_its_backoff() {
    if !have_sipp() || !have_baresip() {
        return;
    }
    let gateway_port = free_port();
    let gateway = gateway_480(gateway_port, 2);
    let office = Office::new(
        gateway_port,
        "max_attempts = 3\nbackoff_s = 3600\nbackoff_max_s = 3600",
    );
    let server = office.serve(tempfile::tempdir().unwrap());
    let staff = staff_phone(&server, false);
    let citizen = ask_for_callback(&server, CITIZEN);
    staff_take_unanswered(&server, &staff, 1);
    // Not reached: the next try is an hour away.
    assert!(
        wait_until(SETUP, || {
            only_callback(&server)["dialing"]["attempts"]
                .as_array()
                .is_some_and(|a| a.len() == 1)
        }),
        "{}",
        server.log()
    );
    let request = only_callback(&server);
    assert_eq!(request["dialing"]["state"], "pending", "{request}");
    let reference = request["reference"].as_str().unwrap().to_owned();

    // Staff ask for it now, while serve holds the store: through the control socket.
    let out = support::command(&["callbacks", "call", &reference, "--data"])
        .arg(server.data.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        support::stdout(&out),
        support::stderr(&out)
    );
    assert!(support::stdout(&out).contains(&reference));
    staff_take_unanswered(&server, &staff, 2);
    assert!(
        wait_until(SETUP, || {
            only_callback(&server)["dialing"]["attempts"]
                .as_array()
                .is_some_and(|a| a.len() == 2)
        }),
        "{}",
        server.log()
    );
    support::sipp_succeeded(&gateway.join().unwrap(), 2);
    sipp_ok(citizen);
    // A closed request cannot be called again.
    let close = support::command(&["callbacks", "close", &reference, "--data"])
        .arg(server.data.path())
        .output()
        .unwrap();
    assert!(close.status.success(), "{}", support::stderr(&close));
    let again = support::command(&["callbacks", "call", &reference, "--data"])
        .arg(server.data.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(
        support::stderr(&again).contains("already closed"),
        "{}",
        support::stderr(&again)
    );
}

#[test]
fn the_trunk_is_called_with_digest_credentials_when_it_asks() {
    if !have_sipp() || !have_baresip() {
        return;
    }
    let gateway_port = free_port();
    let gateway = gateway("gateway_digest.xml", gateway_port, 1);
    let office = Office::with_trunk(
        gateway_port,
        "username = \"centralino\"\npassword = \"trunk-pw\"",
        "max_attempts = 1",
    );
    let server = office.serve(tempfile::tempdir().unwrap());
    let staff = staff_phone(&server, false);
    let citizen = ask_for_callback(&server, CITIZEN);
    staff_take_unanswered(&server, &staff, 1);
    support::sipp_succeeded(&gateway.join().unwrap(), 1);
    sipp_ok(citizen);
    assert!(
        wait_until(SETUP, || only_callback(&server)["dialing"]["state"]
            == "failed"),
        "{}\n{}",
        only_callback(&server),
        server.log()
    );
    // Busy, not refused: the gateway found the credentials right (403 otherwise).
    let request = only_callback(&server);
    assert_eq!(
        request["dialing"]["attempts"][0]["outcome"], "busy",
        "{request}"
    );
    assert_eq!(
        request["dialing"]["attempts"][0]["detail"], "SIP 486",
        "{request}"
    );
}

#[test]
fn a_premium_rate_number_is_never_dialled_and_the_request_fails_with_the_reason() {
    if !have_sipp() {
        return;
    }
    // The gateway: a bare socket on the trunk's port that records whatever arrives.
    let gateway = UdpSocket::bind("127.0.0.1:0").unwrap();
    gateway
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let gateway_addr: SocketAddr = gateway.local_addr().unwrap();
    let office = Office::new(gateway_addr.port(), "");
    let server = office.serve(tempfile::tempdir().unwrap());
    let citizen = ask_for_callback(&server, "899123456");
    sipp_ok(citizen);
    let request = failed_request(&server);
    assert!(
        request["dialing"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("premium-rate"),
        "{request}"
    );
    assert_eq!(
        request["dialing"]["attempts"]
            .as_array()
            .map_or(0, Vec::len),
        0
    );
    // A few more of the dialer's ticks: still nothing at the gateway.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buffer = [0u8; 2048];
    while Instant::now() < deadline {
        if let Ok((n, from)) = gateway.recv_from(&mut buffer) {
            panic!(
                "the gateway got {n} bytes from {from}: {}",
                String::from_utf8_lossy(&buffer[..n])
            );
        }
    }
    assert_eq!(server.count("callback: calling the citizen"), 0);
}

#[test]
fn citizen_first_calls_the_citizen_who_presses_1_then_rings_staff_and_bridges_them() {
    if !have_sipp() || !have_baresip() {
        return;
    }
    let gateway = Baresip::start(BaresipConfig::peer(CITIZEN).tone(CITIZEN_HZ));
    let office = Office::new(gateway.sip_port, "backoff_s = 1\nbackoff_max_s = 2").citizen_first();
    let server = office.serve(tempfile::tempdir().unwrap());
    let staff = staff_phone(&server, false);

    let citizen = ask_for_callback(&server, CITIZEN);
    server.wait_for("callback: the citizen answered", SETUP);
    // The citizen hears the message (speech) before anyone is rung.
    assert!(
        wait_until(SETUP, || has_sound(&gateway.recording())),
        "the citizen heard nothing:\n{}",
        server.log()
    );
    assert!(
        staff
            .events()
            .iter()
            .all(|e| e.kind != "CALL_INCOMING" && e.kind != "CALL_ESTABLISHED"),
        "staff were rung before the citizen pressed 1: {:?}",
        staff.events()
    );
    assert_eq!(server.count("callback: staff answered"), 0);
    gateway.command("sndcode", "1").unwrap();
    server.wait_for("callback: the citizen pressed 1", SETUP);
    server.wait_for("callback: staff answered", SETUP);
    talk_and_close(&server, &staff, &gateway, 1);
    sipp_ok(citizen);
    assert_closed_once_reached(&server);
    let request = only_callback(&server);
    assert_eq!(request["citizen_first"], true, "{request}");
    let established = gateway
        .events()
        .into_iter()
        .filter(|e| e.kind == "CALL_ESTABLISHED")
        .count();
    assert_eq!(established, 1, "the gateway was called once");
}

#[test]
fn citizen_first_a_citizen_who_presses_2_is_never_called_again_and_staff_are_never_rung() {
    if !have_sipp() || !have_baresip() {
        return;
    }
    let gateway_port = free_port();
    let gateway = gateway_with_media("gateway_key2.xml", gateway_port, 1);
    // Three attempts allowed: the citizen's "no" ends the request after the first anyway.
    let office = Office::new(gateway_port, "max_attempts = 3").citizen_first();
    let server = office.serve(tempfile::tempdir().unwrap());
    // Registered and available (the dialer needs one), answering only by hand: a ring shows.
    let staff = staff_phone(&server, true);

    let citizen = ask_for_callback(&server, CITIZEN);
    server.wait_for("callback: the citizen answered", SETUP);
    support::sipp_succeeded(&gateway.join().unwrap(), 1);
    sipp_ok(citizen);
    let request = failed_request(&server);
    let attempts = request["dialing"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{request}");
    assert_eq!(attempts[0]["outcome"], "declined", "{request}");
    assert_eq!(
        attempts[0]["detail"], "declined by the citizen (key 2)",
        "{request}"
    );
    assert_eq!(server.count("callback: staff answered"), 0);
    assert!(
        staff.events().iter().all(|e| e.kind != "CALL_INCOMING"),
        "staff were rung: {:?}",
        staff.events()
    );
}

/// The only callback request, once the dialer has given it up (failed).
fn failed_request(server: &Server) -> Value {
    assert!(
        wait_until(SETUP, || only_callback(server)["dialing"]["state"]
            == "failed"),
        "{}\n{}",
        only_callback(server),
        server.log()
    );
    only_callback(server)
}

/// sipp as the trunk's gateway with media (RTP from a pcap) on a free port of its own.
fn gateway_with_media(scenario: &str, port: u16, calls: usize) -> JoinHandle<Output> {
    let scenario = root().join("tests/sipp").join(scenario);
    let media_port = free_port();
    std::thread::spawn(move || {
        let dir = tempfile::tempdir().unwrap();
        std::process::Command::new("timeout")
            .arg("150")
            .arg("sipp")
            .arg("-sf")
            .arg(scenario)
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-mi", "127.0.0.1", "-mp", &media_port.to_string()])
            .args(["-m", &calls.to_string()])
            .args(["-nostdin", "-timeout", "120s", "-trace_err"])
            .current_dir(dir.path())
            .output()
            .unwrap()
    })
}

#[test]
fn citizen_first_with_no_staff_answering_the_citizen_hears_sorry_and_the_attempt_fails() {
    if !have_sipp() || !have_baresip() {
        return;
    }
    let gateway = Baresip::start(BaresipConfig::peer(CITIZEN).tone(CITIZEN_HZ));
    let office =
        Office::new(gateway.sip_port, "max_attempts = 1\nstaff_ring_s = 3").citizen_first();
    let server = office.serve(tempfile::tempdir().unwrap());
    // Registered and available, but nobody picks up.
    let staff = staff_phone(&server, true);

    let citizen = ask_for_callback(&server, CITIZEN);
    server.wait_for("callback: the citizen answered", SETUP);
    assert!(
        wait_until(SETUP, || has_sound(&gateway.recording())),
        "the citizen heard nothing:\n{}",
        server.log()
    );
    gateway.command("sndcode", "1").unwrap();
    server.wait_for("callback: the citizen pressed 1", SETUP);
    // 201 rings (staff_ring_s = 3) and is not answered; the citizen hears the sorry message
    // and is hung up.
    staff.wait_event("CALL_INCOMING", SETUP);
    gateway.wait_event("CALL_CLOSED", SETUP);
    sipp_ok(citizen);
    let request = failed_request(&server);
    let attempts = request["dialing"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{request}");
    assert_eq!(attempts[0]["outcome"], "failed", "{request}");
    assert_eq!(
        attempts[0]["detail"], "no staff member answered",
        "{request}"
    );
    assert_eq!(server.count("callback: staff answered"), 0);
    assert_eq!(server.count("callback: staff and citizen bridged"), 0);
}
