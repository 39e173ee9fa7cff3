//! The harness for calls with two parties, proved without Centralino: two baresip phones call
//! each other directly, the hand-written user agent (`support::ua`) calls a baresip phone, and a
//! phone registers with digest authentication at a registrar written here. Each side sends its
//! own tone; each side's recording must hold the other's tone and not its own.
//!
//! Skipped (with a message) when baresip is not installed. Every phone is a child process on
//! free ports, killed by PID when its handle drops, also when a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::baresip::{Baresip, BaresipConfig, have_baresip};
use support::tone::{describe, has_tone};
use support::ua::{Caller, SipMessage};

/// Generous: the machine may be loaded.
const CALL_SETUP: Duration = Duration::from_secs(20);
const HEAR_TONE: Duration = Duration::from_secs(20);

/// Poll `done` every 50 ms until it holds (true) or `limit` passes (false).
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_baresip_phones_hear_each_others_tone() {
    if !have_baresip() {
        return;
    }
    let a = Baresip::start(BaresipConfig::peer("alice").tone(600.0));
    let b = Baresip::start(BaresipConfig::peer("bob").tone(1000.0));
    a.dial(&b.uri());
    let established = b.wait_event("CALL_ESTABLISHED", CALL_SETUP);
    assert_eq!(established.direction.as_deref(), Some("incoming"));
    a.wait_event("CALL_ESTABLISHED", CALL_SETUP);
    assert!(a.is_in_call() && b.is_in_call());

    let heard = wait_until(HEAR_TONE, || {
        has_tone(&a.recording(), 1000.0) && has_tone(&b.recording(), 600.0)
    });
    assert!(
        heard,
        "alice heard {}; bob heard {}\nalice:\n{}\nbob:\n{}",
        describe(&a.recording(), 1000.0),
        describe(&b.recording(), 600.0),
        a.log(),
        b.log()
    );
    // One more second of audio, so "not its own" is judged on more than the first moments.
    std::thread::sleep(Duration::from_secs(1));
    a.hangup();
    let closed = b.wait_event("CALL_CLOSED", CALL_SETUP);
    eprintln!("bob's call closed: {:?}", closed.param);
    a.wait_event("CALL_CLOSED", CALL_SETUP);
    assert!(!a.is_in_call() && !b.is_in_call());

    let (alice, bob) = (a.recording(), b.recording());
    eprintln!("alice heard {}", describe(&alice, 1000.0));
    eprintln!("bob heard {}", describe(&bob, 600.0));
    assert!(has_tone(&alice, 1000.0), "{}", describe(&alice, 1000.0));
    assert!(has_tone(&bob, 600.0), "{}", describe(&bob, 600.0));
    assert!(
        !has_tone(&alice, 600.0),
        "alice hears herself: {}",
        describe(&alice, 600.0)
    );
    assert!(
        !has_tone(&bob, 1000.0),
        "bob hears himself: {}",
        describe(&bob, 1000.0)
    );
}

/// The citizen's side as the integrator will use it: the hand-written caller presses a key
/// (RFC 4733), then sends a 1 kHz tone; the phone answers by itself and sends 600 Hz; the tones
/// cross; the caller hangs up.
#[test]
fn hand_written_caller_and_baresip_exchange_tones() {
    if !have_baresip() {
        return;
    }
    let phone = Baresip::start(BaresipConfig::peer("201").tone(600.0));
    let mut citizen = Caller::call_from(phone.addr(), "201", "3339876543");
    eprintln!("the INVITE got {:?}", citizen.statuses);
    assert_eq!(citizen.statuses.last(), Some(&200));
    assert_eq!(citizen.answer.payload_type, 0, "PCMU");
    let start = Instant::now();
    citizen.press('1');
    citizen.send_tone(1000.0);
    let established = phone.wait_event("CALL_ESTABLISHED", CALL_SETUP);
    let peer = established.peer_uri.unwrap_or_default();
    assert!(peer.starts_with("sip:3339876543@"), "{peer}");

    let heard = wait_until(HEAR_TONE, || {
        has_tone(&citizen.heard_pcm_since(start), 600.0) && has_tone(&phone.recording(), 1000.0)
    });
    assert!(
        heard,
        "the citizen heard {}; the phone heard {}\n{}",
        describe(&citizen.heard_pcm_since(start), 600.0),
        describe(&phone.recording(), 1000.0),
        phone.log()
    );
    std::thread::sleep(Duration::from_secs(1));
    citizen.hang_up();
    let closed = phone.wait_event("CALL_CLOSED", CALL_SETUP);
    eprintln!("the phone's call closed: {:?}", closed.param);
    assert!(!phone.is_in_call());

    let citizen_heard = citizen.heard_pcm_since(start);
    let phone_heard = phone.recording();
    eprintln!("the citizen heard {}", describe(&citizen_heard, 600.0));
    eprintln!("the phone heard {}", describe(&phone_heard, 1000.0));
    assert!(
        !has_tone(&citizen_heard, 1000.0),
        "{}",
        describe(&citizen_heard, 1000.0)
    );
    assert!(
        !has_tone(&phone_heard, 600.0),
        "{}",
        describe(&phone_heard, 600.0)
    );
    // The key press reached the phone as an RFC 4733 event.
    let keys: Vec<Option<String>> = phone
        .events()
        .into_iter()
        .filter(|e| e.kind == "CALL_DTMF_START")
        .map(|e| e.param)
        .collect();
    assert_eq!(keys, [Some(String::from("1"))], "{}", phone.log());
}

/// The other way round: the phone hangs up, the caller gets the BYE (and answers it).
#[test]
fn baresip_hangs_up_and_the_caller_gets_the_bye() {
    if !have_baresip() {
        return;
    }
    let phone = Baresip::start(BaresipConfig::peer("202").tone(600.0));
    let mut citizen = Caller::call(phone.addr(), "202");
    citizen.send_tone(1000.0);
    phone.wait_event("CALL_ESTABLISHED", CALL_SETUP);
    assert!(phone.is_in_call());
    phone.hangup();
    let bye = citizen.await_bye(CALL_SETUP);
    assert!(bye.is_some(), "no BYE from the phone:\n{}", phone.log());
    phone.wait_event("CALL_CLOSED", CALL_SETUP);
    assert!(!phone.is_in_call());
    citizen.stop_media();
}

/// A staff phone registers with digest authentication (401, then REGISTER with Authorization)
/// at a registrar written here, and rings when called: manual answer, then answered by the
/// test.
#[test]
fn a_staff_phone_registers_with_digest_and_answers_when_told() {
    if !have_baresip() {
        return;
    }
    let registrar = Registrar::start();
    let phone = Baresip::start(
        BaresipConfig::staff("201", "pw201", registrar.addr())
            .tone(600.0)
            .manual_answer(),
    );
    phone.wait_registered(CALL_SETUP);
    let seen = registrar.seen.lock().unwrap().clone();
    assert!(
        seen.len() >= 2,
        "a challenge, then an authorised REGISTER: {seen:?}"
    );
    let authorised = seen
        .iter()
        .find_map(|m| m.header("Authorization"))
        .unwrap_or_else(|| panic!("no Authorization: {seen:?}"));
    assert!(
        authorised.starts_with("Digest") && authorised.contains("username=\"201\""),
        "{authorised}"
    );
    assert!(
        seen[0].header("Authorization").is_none(),
        "the first REGISTER comes before the challenge"
    );

    // It rings (manual answer), and picks up when told.
    let phone_addr = phone.addr();
    let calling = std::thread::spawn(move || Caller::call(phone_addr, "201"));
    phone.wait_event("CALL_INCOMING", CALL_SETUP);
    assert!(phone.is_ringing() && !phone.is_in_call());
    phone.answer();
    let mut citizen = calling.join().expect("the caller's INVITE is answered");
    phone.wait_event("CALL_ESTABLISHED", CALL_SETUP);
    assert!(phone.is_in_call() && !phone.is_ringing());
    let start = Instant::now();
    assert!(
        wait_until(HEAR_TONE, || has_tone(
            &citizen.heard_pcm_since(start),
            600.0
        )),
        "{}",
        describe(&citizen.heard_pcm_since(start), 600.0)
    );
    citizen.hang_up();
    phone.wait_event("CALL_CLOSED", CALL_SETUP);

    // Quitting unregisters.
    let mut phone = phone;
    assert!(
        phone.quit(CALL_SETUP),
        "baresip did not quit:\n{}",
        phone.log()
    );
    let seen = registrar.seen.lock().unwrap().clone();
    let last = seen.last().expect("REGISTERs");
    let expires_zero = last.header("Expires") == Some("0")
        || last
            .header("Contact")
            .is_some_and(|c| c.contains("expires=0"));
    assert!(
        expires_zero,
        "the last REGISTER does not unregister: {last:?}"
    );
}

/// A phone is stopped by PID when its handle drops, and when the test holding it panics.
#[test]
fn a_phone_is_killed_on_drop_and_on_panic() {
    if !have_baresip() {
        return;
    }
    let running = |pid: u32| std::path::Path::new(&format!("/proc/{pid}")).exists();
    let phone = Baresip::start(BaresipConfig::peer("drop"));
    let pid = phone.pid();
    assert!(running(pid));
    drop(phone);
    assert!(!running(pid), "baresip {pid} survived its handle");

    let started = Arc::new(Mutex::new(None));
    let seen = started.clone();
    let outcome = std::panic::catch_unwind(move || {
        let phone = Baresip::start(BaresipConfig::peer("panic"));
        *seen.lock().unwrap() = Some(phone.pid());
        panic!("a failing test (on purpose)");
    });
    assert!(outcome.is_err());
    let pid = started.lock().unwrap().expect("the phone started");
    assert!(!running(pid), "baresip {pid} survived a panic");
}

/// A registrar that challenges every REGISTER without Authorization (401, Digest) and accepts
/// the others (200 OK, the Contact echoed with expires=60), keeping what it saw; its thread
/// ends when dropped.
struct Registrar {
    socket: Arc<UdpSocket>,
    seen: Arc<Mutex<Vec<SipMessage>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Registrar {
    fn start() -> Registrar {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sock, sink, halt) = (socket.clone(), seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !halt.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Some(message) = SipMessage::parse(&buf[..n]) else {
                    continue;
                };
                if message.method() != Some("REGISTER") {
                    continue;
                }
                let mut reply = if message.header("Authorization").is_some() {
                    String::from("SIP/2.0 200 OK\r\n")
                } else {
                    String::from(
                        "SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest \
                         realm=\"centralino\", nonce=\"abc123\", algorithm=MD5, qop=\"auth\"\r\n",
                    )
                };
                for via in message.header_lines("Via", "v") {
                    reply.push_str(&via);
                    reply.push_str("\r\n");
                }
                for name in ["From", "Call-ID", "CSeq"] {
                    let value = message.header(name).unwrap_or_default();
                    reply.push_str(&format!("{name}: {value}\r\n"));
                }
                let to = message.header("To").unwrap_or_default();
                reply.push_str(&format!("To: {to};tag=reg-1\r\n"));
                if message.header("Authorization").is_some()
                    && let Some(contact) = message.header("Contact")
                {
                    let contact = match contact.find('>') {
                        Some(end) => &contact[..=end],
                        None => contact.split(';').next().unwrap_or(contact),
                    };
                    reply.push_str(&format!("Contact: {contact};expires=60\r\n"));
                }
                reply.push_str("Content-Length: 0\r\n\r\n");
                // Kept before the reply goes out: the phone may act on it at once.
                sink.lock().unwrap().push(message);
                let _ = sock.send_to(reply.as_bytes(), from);
            }
        });
        Registrar {
            socket,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }
}

impl Drop for Registrar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
