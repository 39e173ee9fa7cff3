//! Attended transfer end to end (RFC 5589 §7, REFER with Replaces, RFC 3891): staff 201 talks
//! with a citizen, calls 202 through the server, and once 202 answered joins the two of them;
//! 201 drops out of both calls.
//!
//! ```text
//!   citizen (ua) ─INVITE 100, key 1─► serve ─D1: INVITE (server = UAC)─────────► 201 (raw phone below)
//!                                      serve ◄─D2: INVITE sip:202 (401, again)── 201
//!                                      serve ─D3: INVITE (server = UAC)─────────► 202 (baresip)
//!   201 ─REFER in D1, Refer-To: <sip:202@server?Replaces=D2;to-tag=server's;from-tag=201's>─► serve
//!        ◄─ 202 Accepted, NOTIFY sipfrag 100 Trying / 200 OK
//!        ◄─ BYE on D1, BYE on D2          202 ◄─ re-INVITE in D3 (its dialog goes on)
//!   citizen 1 kHz ───────────► bridge ───────────► 202 records it
//!   citizen hears ◄────────── bridge ◄─────────── 202's 800 Hz
//! ```
//!
//! 201 is a raw SIP phone over UDP written here ([`desk`]): it registers with MD5 digest,
//! answers the server's INVITE by itself, places its own INVITE (answering the 401), and sends
//! the REFER, so the test sees every header of the exchange. 202 is baresip (answers by
//! itself, sends 800 Hz). The deployment is tests/people. Skipped, with a message, without
//! baresip (except the test that needs no 202). Every process runs on free ports and is
//! stopped by PID, also on failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::baresip::{Baresip, BaresipConfig, have_baresip};
use support::tone::{describe, has_tone};
use support::ua::Caller;
use support::{Server, root};

use desk::{DeskPhone, escape_header_param};

const SETUP: Duration = Duration::from_secs(20);
const HEAR: Duration = Duration::from_secs(20);

fn start() -> Server {
    let config = root().join("tests/people/centralino.toml");
    Server::start(
        &root().join("tests/people/flows"),
        &["--config", config.to_str().unwrap()],
    )
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

/// How many events of `kind` the phone reported so far.
fn count(phone: &Baresip, kind: &str) -> usize {
    phone.events().iter().filter(|e| e.kind == kind).count()
}

/// Everything a failing assertion shows: what 201 received and the server's log.
fn story(anna: &DeskPhone, server: &Server) -> String {
    format!(
        "201 received:\n{}\nserver log:\n{}",
        anna.transcript(),
        server.log()
    )
}

/// The scene before the transfer: 201 registered and talking with a citizen (D1, 600 Hz from
/// 201), 202 registered (baresip, 800 Hz) and talking with 201 through the server (D2), the
/// citizen sending 1 kHz.
struct Scene {
    server: Server,
    anna: DeskPhone,
    bruno: Baresip,
    citizen: Caller,
    /// D1: the server's call to 201 (the citizen's leg).
    d1: desk::Answered,
    /// D2: 201's call to 202 through the server.
    d2: desk::Placed,
}

fn scene() -> Scene {
    let server = start();
    let mut anna = DeskPhone::register(sip(&server), "201", "pw201");
    let bruno = Baresip::start(BaresipConfig::staff("202", "pw202", sip(&server)).tone(800.0));
    bruno.wait_registered(SETUP);

    // The citizen calls 100 and presses 1: the server rings 201, which answers (D1).
    let citizen = Caller::call(sip(&server), "100");
    citizen.press('1');
    let d1 = anna
        .wait_answered(SETUP)
        .unwrap_or_else(|| panic!("201 was not called\n{}", story(&anna, &server)));
    anna.talk(d1.media, desk::Line::Answered, 600.0);
    citizen.send_tone(1000.0);
    let since = Instant::now();
    let talking = wait_until(HEAR, || has_tone(&citizen.heard_pcm_since(since), 600.0));
    assert!(
        talking,
        "the citizen does not hear 201: {}\n{}",
        describe(&citizen.heard_pcm_since(since), 600.0),
        story(&anna, &server)
    );

    // 201 calls 202 through the server (D2); Bruno answers; they hear each other.
    let d2 = anna.invite("202", SETUP);
    assert_eq!(
        d2.statuses.first(),
        Some(&401),
        "the first INVITE is challenged: {:?}",
        d2.statuses
    );
    anna.talk(d2.answer.rtp, desk::Line::Placed, 600.0);
    bruno.wait_event("CALL_ESTABLISHED", SETUP);
    let since = Instant::now();
    let crossed = wait_until(HEAR, || {
        has_tone(&bruno.recording(), 600.0) && has_tone(&anna.heard_since(since), 800.0)
    });
    assert!(
        crossed,
        "201 and 202 do not hear each other: 202 heard {}; 201 heard {}\n{}",
        describe(&bruno.recording(), 600.0),
        describe(&anna.heard_since(since), 800.0),
        story(&anna, &server)
    );
    assert!(
        !has_tone(&bruno.recording(), 1000.0),
        "202 hears the citizen before the transfer: {}",
        describe(&bruno.recording(), 1000.0)
    );
    Scene {
        server,
        anna,
        bruno,
        citizen,
        d1,
        d2,
    }
}

/// `Refer-To` naming D2 as 201 sees it (RFC 3891: to-tag is the server's, from-tag 201's).
fn refer_to_replacing(server: &Server, d2: &desk::Placed) -> String {
    let replaces = format!(
        "{};to-tag={};from-tag={}",
        d2.call_id, d2.remote_tag, d2.local_tag
    );
    format!(
        "<sip:202@{}?Replaces={}>",
        sip(server),
        escape_header_param(&replaces)
    )
}

/// 201 joins the citizen and 202 and drops out: REFER (202 Accepted), NOTIFYs up to 200 OK,
/// BYE on both of 201's calls; the citizen and 202 hear each other, 201 no more; the
/// citizen's call goes on until the citizen hangs up.
#[test]
fn staff_join_a_citizen_and_a_colleague_with_an_attended_transfer() {
    if !have_baresip() {
        return;
    }
    let Scene {
        server,
        mut anna,
        bruno,
        mut citizen,
        d1,
        d2,
    } = scene();

    let refer_to = refer_to_replacing(&server, &d2);
    let referred = Instant::now();
    let answer = anna.refer(&d1, &refer_to, SETUP);
    assert_eq!(
        answer.status(),
        Some(202),
        "REFER {refer_to}: {}\n{}",
        answer.start,
        story(&anna, &server)
    );

    // The outcome in NOTIFYs (Event: refer, message/sipfrag), ending in 200 OK.
    let notified = anna.wait_request(SETUP, |m| {
        m.method() == Some("NOTIFY")
            && m.header("Call-ID") == Some(d1.call_id.as_str())
            && m.body.starts_with("SIP/2.0 200")
    });
    let notify =
        notified.unwrap_or_else(|| panic!("no NOTIFY of 200 OK in D1\n{}", story(&anna, &server)));
    assert!(
        notify
            .header("Event")
            .is_some_and(|e| e.to_ascii_lowercase().starts_with("refer")),
        "{notify:?}"
    );
    assert!(
        notify
            .header("Content-Type")
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("message/sipfrag")),
        "{notify:?}"
    );
    // Before it, if anything, provisional outcomes only (100 Trying).
    let outcomes = anna.requests(|m| {
        m.method() == Some("NOTIFY") && m.header("Call-ID") == Some(d1.call_id.as_str())
    });
    let finals: Vec<&str> = outcomes
        .iter()
        .map(|m| m.body.lines().next().unwrap_or_default())
        .filter(|line| !line.starts_with("SIP/2.0 1"))
        .collect();
    assert_eq!(finals, ["SIP/2.0 200 OK"], "{}", anna.transcript());

    // 201 drops out of both calls.
    for (name, call_id) in [("D1", &d1.call_id), ("D2", &d2.call_id)] {
        let bye = anna.wait_request(SETUP, |m| {
            m.method() == Some("BYE") && m.header("Call-ID") == Some(call_id.as_str())
        });
        assert!(
            bye.is_some(),
            "no BYE for {name} ({call_id})\n{}",
            story(&anna, &server)
        );
    }
    // 201 goes on sending 600 Hz on both lines, as a slow phone might: the server ignores it.
    let released = Instant::now();

    // The citizen and 202 hear each other.
    let crossed = wait_until(HEAR, || {
        has_tone(&bruno.recording(), 1000.0) && has_tone(&citizen.heard_pcm_since(referred), 800.0)
    });
    assert!(
        crossed,
        "202 heard {}; the citizen heard since the REFER {}\n202's log:\n{}\n{}",
        describe(&bruno.recording(), 1000.0),
        describe(&citizen.heard_pcm_since(referred), 800.0),
        bruno.log(),
        story(&anna, &server)
    );
    // 201 is gone from the citizen's audio (half a second for the packets in flight): a
    // second and more of 202 and no 201.
    let after = released + Duration::from_millis(500);
    let long_enough = wait_until(HEAR, || {
        let heard = citizen.heard_pcm_since(after);
        heard.len() >= 8_000 && has_tone(&heard, 800.0)
    });
    let heard = citizen.heard_pcm_since(after);
    assert!(
        long_enough,
        "the citizen hears 202 no more: {}",
        describe(&heard, 800.0)
    );
    assert!(
        !has_tone(&heard, 600.0),
        "the citizen still hears 201: {}",
        describe(&heard, 600.0)
    );

    // The citizen's call goes on: no BYE to the citizen; their BYE is answered 200; 202's
    // call ends with it.
    assert!(
        citizen.await_bye(Duration::from_secs(2)).is_none(),
        "the citizen's call was ended by the transfer\n{}",
        story(&anna, &server)
    );
    assert_eq!(
        count(&bruno, "CALL_CLOSED"),
        0,
        "202's call ended: {:?}",
        bruno.events()
    );
    anna.hush();
    citizen.hang_up();
    bruno.wait_event("CALL_CLOSED", SETUP);
    assert!(wait_until(SETUP, || server.control(&["calls"])["calls"]
        .as_array()
        .is_some_and(Vec::is_empty)));
}

/// 202 stays in the dialog it answered (the server only re-INVITEs it): no CALL_CLOSED, no
/// second call, until the citizen hangs up; then its call ends.
#[test]
fn the_colleagues_call_goes_on_through_the_transfer_until_the_citizen_hangs_up() {
    if !have_baresip() {
        return;
    }
    let Scene {
        server,
        mut anna,
        bruno,
        mut citizen,
        d1,
        d2,
    } = scene();
    let established = count(&bruno, "CALL_ESTABLISHED");
    let d3 = bruno
        .wait_event("CALL_ESTABLISHED", SETUP)
        .call_id
        .expect("baresip names its call");
    let offers = count(&bruno, "CALL_REMOTE_SDP");
    let answer = anna.refer(&d1, &refer_to_replacing(&server, &d2), SETUP);
    assert_eq!(
        answer.status(),
        Some(202),
        "{}\n{}",
        answer.start,
        story(&anna, &server)
    );
    let referred = Instant::now();
    let crossed = wait_until(HEAR, || {
        has_tone(&citizen.heard_pcm_since(referred), 800.0) && has_tone(&bruno.recording(), 1000.0)
    });
    assert!(
        crossed,
        "no audio across: the citizen heard {}; 202 heard {}\n{}",
        describe(&citizen.heard_pcm_since(referred), 800.0),
        describe(&bruno.recording(), 1000.0),
        story(&anna, &server)
    );
    // A few seconds of talk: 202's one call is still the one it answered.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        count(&bruno, "CALL_CLOSED"),
        0,
        "202's dialog was ended: {:?}\n{}",
        bruno.events(),
        bruno.log()
    );
    assert_eq!(
        count(&bruno, "CALL_ESTABLISHED"),
        established,
        "202 got a new call instead of a re-INVITE: {:?}",
        bruno.events()
    );
    // The server moved 202's audio with a re-INVITE (a new offer) in the very same dialog.
    bruno.wait_event_count("CALL_REMOTE_SDP", offers + 1, SETUP);
    let calls: Vec<String> = bruno
        .events()
        .into_iter()
        .filter_map(|e| e.call_id)
        .collect();
    assert!(
        calls.iter().all(|c| *c == d3),
        "202 had another call than {d3}: {:?}",
        bruno.events()
    );
    assert!(bruno.is_in_call());

    citizen.hang_up();
    bruno.wait_event("CALL_CLOSED", SETUP);
    assert_eq!(count(&bruno, "CALL_CLOSED"), 1);
}

/// A REFER whose Replaces names no dialog of the server is refused (481, or 403), and the
/// citizen stays with 201: no BYE, and they still hear each other.
#[test]
fn a_refer_replacing_a_dialog_that_does_not_exist_is_refused_and_the_call_stays() {
    let server = start();
    let mut anna = DeskPhone::register(sip(&server), "201", "pw201");
    let citizen = Caller::call(sip(&server), "100");
    citizen.press('1');
    let d1 = anna
        .wait_answered(SETUP)
        .unwrap_or_else(|| panic!("201 was not called\n{}", story(&anna, &server)));
    anna.talk(d1.media, desk::Line::Answered, 600.0);
    citizen.send_tone(1000.0);

    let nowhere = "no-such-call-4711@127.0.0.1;to-tag=nobody;from-tag=nobody-either";
    let refer_to = format!(
        "<sip:202@{}?Replaces={}>",
        sip(&server),
        escape_header_param(nowhere)
    );
    let answer = anna.refer(&d1, &refer_to, SETUP);
    assert!(
        matches!(answer.status(), Some(481 | 403)),
        "REFER {refer_to}: {}\n{}",
        answer.start,
        story(&anna, &server)
    );
    let refused = Instant::now();

    // The citizen and 201 still talk, and nobody hangs up on 201.
    let crossed = wait_until(HEAR, || {
        has_tone(&citizen.heard_pcm_since(refused), 600.0)
            && has_tone(&anna.heard_answered_since(refused), 1000.0)
    });
    assert!(
        crossed,
        "the citizen heard {}; 201 heard {}\n{}",
        describe(&citizen.heard_pcm_since(refused), 600.0),
        describe(&anna.heard_answered_since(refused), 1000.0),
        story(&anna, &server)
    );
    let bye = anna.wait_request(Duration::from_secs(1), |m| m.method() == Some("BYE"));
    assert!(
        bye.is_none(),
        "201 was hung up on: {bye:?}\n{}",
        story(&anna, &server)
    );
    drop(citizen);
}

// ------------------------------------------------------------------ 201: a raw SIP phone

/// A desk phone written by hand, over UDP: a thread answers what the server sends (INVITE with
/// 200 and an SDP answer, NOTIFY, BYE, OPTIONS... with 200) and keeps every request; the test
/// places calls and sends REFER from its own thread.
///
/// ```text
///   register ─REGISTER─► 401 ─REGISTER + Authorization (MD5, qop=auth)─► 200
///   the server's INVITE ─► 200 OK (SDP: PCMU at the answered line's RTP socket) ◄─ ACK
///   invite("202") ─INVITE─► 401 ─ACK─ ─INVITE (CSeq 2) + Authorization─► 100/180/200 ─ACK─►
///   refer(D1) ─REFER (CSeq 1 of 201's side of D1, to the server's Contact)─► 202
/// ```
mod desk {
    use std::collections::HashMap;
    use std::net::{SocketAddr, UdpSocket};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use centralino_runtime::people::digest::{
        Algorithm, DigestCredentials, QopAuth, expected_response, ha1, parse_params,
    };

    use super::support::ua::{Answer, Arrival, SipMessage, Talker, decode_audio, parse_answer};

    const REALM: &str = "centralino";
    const CNONCE: &str = "a77e11de";

    /// Escapes a URI header's value (RFC 3261 §19.1.1, `hvalue`): what is not unreserved or
    /// one of `[]/?:+$` is written `%XX`, so `;` `=` `@` become `%3B` `%3D` `%40`.
    pub fn escape_header_param(value: &str) -> String {
        value
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.!~*'()[]/?:+$".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    /// The tag parameter of a From/To value.
    pub fn tag(value: &str) -> Option<String> {
        let after = value.rsplit_once('>').map_or(value, |(_, rest)| rest);
        after
            .split(';')
            .find_map(|p| p.trim().strip_prefix("tag=").map(str::to_owned))
    }

    /// The URI inside a Contact value (`<sip:...>;expires=...`).
    fn uri_of(contact: &str) -> String {
        let contact = contact.trim();
        match contact.strip_prefix('<') {
            Some(rest) => rest.split('>').next().unwrap_or_default().to_owned(),
            None => contact.split(';').next().unwrap_or_default().to_owned(),
        }
    }

    /// Which of the phone's two lines (RTP sockets).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Line {
        /// The call the server placed to the phone (D1).
        Answered,
        /// The call the phone placed (D2).
        Placed,
    }

    /// A call the server placed and the phone answered, as the phone sees it.
    #[derive(Debug, Clone)]
    pub struct Answered {
        pub call_id: String,
        /// The INVITE's From (the server's side, with its tag): To of our requests.
        pub remote: String,
        /// The INVITE's To with our tag: From of our requests.
        pub local: String,
        /// The server's Contact: where our requests in the dialog go.
        pub target: String,
        /// Where the server wants our audio.
        pub media: SocketAddr,
    }

    /// A call the phone placed and the server answered.
    #[derive(Debug, Clone)]
    pub struct Placed {
        pub call_id: String,
        pub local_tag: String,
        pub remote_tag: String,
        pub answer: Answer,
        /// Every status the INVITEs got (401 first, then 100, 180, 200).
        pub statuses: Vec<u16>,
    }

    #[derive(Default)]
    struct Shared {
        /// Every request the server sent (answered already), retransmissions left out.
        requests: Vec<SipMessage>,
        responses: Vec<SipMessage>,
        answered: Vec<Answered>,
        /// Our final answer to each INVITE (by Call-ID and CSeq), sent again to a
        /// retransmission.
        invite_answers: HashMap<(String, String), String>,
        /// Our SDP in each dialog (by Call-ID), offered again to a re-INVITE.
        sdp: HashMap<String, String>,
        /// Our tag in each dialog we answered (by Call-ID).
        tags: HashMap<String, String>,
        /// The ACK of each 200 OK we got (by Call-ID), sent again when the 200 OK is.
        acks: HashMap<String, String>,
    }

    /// One line's RTP: its socket, what arrived on it, and its talker.
    struct Rtp {
        socket: Arc<UdpSocket>,
        arrivals: Arc<Mutex<Vec<Arrival>>>,
        talker: Option<Talker>,
        receiver: Option<JoinHandle<Vec<Arrival>>>,
    }

    impl Rtp {
        fn new(stop: &Arc<AtomicBool>) -> Rtp {
            let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
            let arrivals = Arc::new(Mutex::new(Vec::new()));
            let receiver =
                super::support::ua::receive(socket.clone(), stop.clone(), arrivals.clone());
            Rtp {
                socket,
                arrivals,
                talker: None,
                receiver: Some(receiver),
            }
        }

        fn local(&self) -> SocketAddr {
            self.socket.local_addr().unwrap()
        }

        fn heard_since(&self, since: Instant) -> Vec<i16> {
            let arrivals: Vec<Arrival> = self
                .arrivals
                .lock()
                .unwrap()
                .iter()
                .filter(|a| a.at >= since)
                .cloned()
                .collect();
            decode_audio(&arrivals)
                .into_iter()
                .flat_map(|h| h.pcm)
                .collect()
        }
    }

    pub struct DeskPhone {
        user: String,
        password: String,
        socket: Arc<UdpSocket>,
        server: SocketAddr,
        shared: Arc<Mutex<Shared>>,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
        answered_line: Rtp,
        placed_line: Rtp,
        branches: u32,
        calls: u32,
        /// Our CSeq in each dialog (by Call-ID).
        cseq: HashMap<String, u32>,
        nonce: Option<String>,
        nc: u32,
    }

    impl DeskPhone {
        /// A phone for `user` that registers at `server` (401, then MD5 digest); panics when
        /// the REGISTER is not accepted.
        pub fn register(server: SocketAddr, user: &str, password: &str) -> DeskPhone {
            let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
            socket
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let shared = Arc::new(Mutex::new(Shared::default()));
            let answered_line = Rtp::new(&stop);
            let placed_line = Rtp::new(&stop);
            let thread = {
                let socket = socket.clone();
                let stop = stop.clone();
                let shared = shared.clone();
                let user = user.to_owned();
                let rtp = answered_line.local();
                std::thread::spawn(move || serve(&socket, &stop, &shared, &user, rtp))
            };
            let mut phone = DeskPhone {
                user: user.to_owned(),
                password: password.to_owned(),
                socket,
                server,
                shared,
                stop,
                thread: Some(thread),
                answered_line,
                placed_line,
                branches: 0,
                calls: 0,
                cseq: HashMap::new(),
                nonce: None,
                nc: 0,
            };
            let call_id = format!("reg-{user}-{}@127.0.0.1", phone.local().port());
            let uri = format!("sip:{}", phone.server);
            let to = format!("<sip:{user}@{}>", phone.server);
            let from = format!("{to};tag=reg{user}");
            let mut statuses = Vec::new();
            for _ in 0..2 {
                let cseq = phone.next_cseq(&call_id);
                let authorization = phone.authorization_line("REGISTER", &uri);
                let request = format!(
                    "REGISTER {uri} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\n\
                     To: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n\
                     Contact: {contact}\r\nExpires: 300\r\n{authorization}\
                     User-Agent: centralino-test-desk\r\nContent-Length: 0\r\n\r\n",
                    via = phone.via(),
                    contact = phone.contact(),
                );
                let answer = phone.transaction(&request, &call_id, cseq, Duration::from_secs(10));
                let answer = answer.expect("an answer to REGISTER");
                statuses.push(answer.status().unwrap_or(0));
                match answer.status() {
                    Some(200) => return phone,
                    Some(401) => phone.take_challenge(&answer),
                    _ => break,
                }
            }
            panic!("{user} did not register: {statuses:?}");
        }

        pub fn local(&self) -> SocketAddr {
            self.socket.local_addr().unwrap()
        }

        fn contact(&self) -> String {
            format!("<sip:{}@{}>", self.user, self.local())
        }

        fn via(&mut self) -> String {
            self.branches += 1;
            format!(
                "Via: SIP/2.0/UDP {};branch=z9hG4bK-desk{}-{}-{};rport",
                self.local(),
                self.user,
                self.local().port(),
                self.branches
            )
        }

        fn next_cseq(&mut self, call_id: &str) -> u32 {
            let cseq = self.cseq.entry(call_id.to_owned()).or_insert(0);
            *cseq += 1;
            *cseq
        }

        fn send(&self, text: &str) {
            self.socket.send_to(text.as_bytes(), self.server).unwrap();
        }

        /// Sends `request`, again every 500 ms until a response comes (UDP), and waits for
        /// its final response (CSeq number `cseq` in `call_id`); provisional ones are kept in
        /// `seen`.
        fn transaction_seeing(
            &self,
            request: &str,
            call_id: &str,
            cseq: u32,
            limit: Duration,
            seen: &mut Vec<u16>,
        ) -> Option<SipMessage> {
            let deadline = Instant::now() + limit;
            let mut resend = Instant::now();
            let mut answered = false;
            loop {
                if !answered && Instant::now() >= resend {
                    self.send(request);
                    resend = Instant::now() + Duration::from_millis(500);
                }
                let mine = {
                    let mut shared = self.shared.lock().unwrap();
                    let at = shared.responses.iter().position(|r| {
                        r.header("Call-ID") == Some(call_id)
                            && r.header("CSeq")
                                .and_then(|c| c.split_whitespace().next())
                                .and_then(|n| n.parse::<u32>().ok())
                                == Some(cseq)
                    });
                    at.map(|at| shared.responses.remove(at))
                };
                match mine {
                    Some(response) => {
                        let status = response.status().unwrap_or(0);
                        seen.push(status);
                        answered = true;
                        if status >= 200 {
                            return Some(response);
                        }
                    }
                    None => {
                        if Instant::now() >= deadline {
                            return None;
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
        }

        fn transaction(
            &self,
            request: &str,
            call_id: &str,
            cseq: u32,
            limit: Duration,
        ) -> Option<SipMessage> {
            self.transaction_seeing(request, call_id, cseq, limit, &mut Vec::new())
        }

        /// Keeps the MD5 nonce of a 401.
        fn take_challenge(&mut self, answer: &SipMessage) {
            let nonce = answer
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("WWW-Authenticate"))
                .filter_map(|(_, v)| parse_params(v.trim_start_matches("Digest ")).ok())
                .find(|params| {
                    params.iter().all(|(n, v)| {
                        !n.eq_ignore_ascii_case("algorithm") || v.eq_ignore_ascii_case("MD5")
                    })
                })
                .and_then(|params| params.into_iter().find(|(n, _)| n == "nonce"))
                .map(|(_, v)| v);
            assert!(nonce.is_some(), "no MD5 challenge in {answer:?}");
            self.nonce = nonce;
            self.nc = 0;
        }

        /// `Authorization: Digest ...` (MD5, qop=auth) for `method` on `uri`, with its line
        /// end; empty before a challenge.
        fn authorization_line(&mut self, method: &str, uri: &str) -> String {
            let Some(nonce) = self.nonce.clone() else {
                return String::new();
            };
            self.nc += 1;
            let mut credentials = DigestCredentials {
                username: self.user.clone(),
                realm: REALM.into(),
                nonce: nonce.clone(),
                uri: uri.into(),
                response: String::new(),
                algorithm: Algorithm::Md5,
                qop: Some(QopAuth {
                    cnonce: CNONCE.into(),
                    nc: self.nc,
                    nc_text: format!("{:08x}", self.nc),
                }),
                cnonce: Some(CNONCE.into()),
                opaque: None,
            };
            let stored = ha1(Algorithm::Md5.kind(), &self.user, REALM, &self.password);
            credentials.response = expected_response(&credentials, method, &stored);
            format!(
                "Authorization: Digest username=\"{}\", realm=\"{REALM}\", nonce=\"{nonce}\", \
                 uri=\"{uri}\", response=\"{}\", algorithm=MD5, qop=auth, nc={:08x}, \
                 cnonce=\"{CNONCE}\"\r\n",
                self.user, credentials.response, self.nc
            )
        }

        /// The first call the server placed to the phone (answered by the phone's thread).
        pub fn wait_answered(&self, limit: Duration) -> Option<Answered> {
            let deadline = Instant::now() + limit;
            loop {
                if let Some(call) = self.shared.lock().unwrap().answered.first() {
                    return Some(call.clone());
                }
                if Instant::now() > deadline {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }

        /// Send a continuous sine at `freq` Hz on `line` to `to`.
        pub fn talk(&mut self, to: SocketAddr, line: Line, freq: f32) {
            let rtp = match line {
                Line::Answered => &mut self.answered_line,
                Line::Placed => &mut self.placed_line,
            };
            let talker = Talker::start(rtp.socket.clone(), to);
            talker.tone(Some(freq));
            if let Some(old) = rtp.talker.replace(talker) {
                old.finish();
            }
        }

        /// Stop sending audio on both lines.
        pub fn hush(&mut self) {
            for rtp in [&mut self.answered_line, &mut self.placed_line] {
                if let Some(talker) = rtp.talker.take() {
                    talker.finish();
                }
            }
        }

        /// What arrived on the placed line (D2) since `since`, decoded.
        pub fn heard_since(&self, since: Instant) -> Vec<i16> {
            self.placed_line.heard_since(since)
        }

        /// What arrived on the answered line (D1) since `since`, decoded.
        pub fn heard_answered_since(&self, since: Instant) -> Vec<i16> {
            self.answered_line.heard_since(since)
        }

        /// INVITE `sip:USER@server` (SDP: PCMU at the placed line's RTP socket); a 401 is
        /// ACKed and the INVITE sent again with credentials (CSeq + 1, same Call-ID and
        /// From tag); the 200 OK is ACKed. Panics unless it is answered 200 within `limit`.
        pub fn invite(&mut self, user: &str, limit: Duration) -> Placed {
            self.calls += 1;
            let call_id = format!(
                "desk{}-{}-{}@127.0.0.1",
                self.user,
                self.local().port(),
                self.calls
            );
            let local_tag = format!("d{}x{}", self.user, self.calls);
            let uri = format!("sip:{user}@{}", self.server);
            let from = format!("<sip:{}@{}>;tag={local_tag}", self.user, self.server);
            let to = format!("<{uri}>");
            let sdp = sdp(self.placed_line.local(), 2);
            self.shared
                .lock()
                .unwrap()
                .sdp
                .insert(call_id.clone(), sdp.clone());
            let mut statuses = Vec::new();
            // As phones do: no credentials until this call is challenged.
            self.nonce = None;
            for _ in 0..2 {
                let cseq = self.next_cseq(&call_id);
                let via = self.via();
                let authorization = self.authorization_line("INVITE", &uri);
                let request = format!(
                    "INVITE {uri} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\n\
                     To: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n\
                     Contact: {contact}\r\n{authorization}\
                     Allow: INVITE, ACK, CANCEL, BYE, REFER, NOTIFY, OPTIONS\r\n\
                     Supported: replaces\r\nUser-Agent: centralino-test-desk\r\n\
                     Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
                    contact = self.contact(),
                    len = sdp.len(),
                );
                let answer = self
                    .transaction_seeing(&request, &call_id, cseq, limit, &mut statuses)
                    .unwrap_or_else(|| {
                        panic!("no final answer to INVITE {uri} (seen {statuses:?})")
                    });
                match answer.status() {
                    Some(401) => {
                        // The ACK of a non-2xx: the INVITE's branch, the 401's To.
                        let ack = format!(
                            "ACK {uri} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\n\
                             To: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} ACK\r\n\
                             Content-Length: 0\r\n\r\n",
                            to = answer.header("To").unwrap_or_default(),
                        );
                        self.send(&ack);
                        self.take_challenge(&answer);
                    }
                    Some(200) => {
                        let remote = answer.header("To").unwrap_or_default().to_owned();
                        let remote_tag = tag(&remote)
                            .unwrap_or_else(|| panic!("no To tag in the 200 OK: {answer:?}"));
                        let target = answer
                            .header("Contact")
                            .map(uri_of)
                            .unwrap_or_else(|| uri.clone());
                        let via = self.via();
                        let ack = format!(
                            "ACK {target} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\n\
                             To: {remote}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} ACK\r\n\
                             Content-Length: 0\r\n\r\n"
                        );
                        self.send(&ack);
                        self.shared
                            .lock()
                            .unwrap()
                            .acks
                            .insert(call_id.clone(), ack);
                        return Placed {
                            call_id,
                            local_tag,
                            remote_tag,
                            answer: parse_answer(&answer.body),
                            statuses,
                        };
                    }
                    _ => break,
                }
            }
            panic!("INVITE {uri} not answered 200: {statuses:?}");
        }

        /// REFER in the call the server placed (`call`), with `refer_to` as the Refer-To
        /// value, to the server's Contact; its final answer (a 401 is answered once with
        /// credentials). Panics when none comes within `limit`.
        pub fn refer(&mut self, call: &Answered, refer_to: &str, limit: Duration) -> SipMessage {
            let mut last = None;
            for _ in 0..2 {
                let cseq = self.next_cseq(&call.call_id);
                let via = self.via();
                let authorization = self.authorization_line("REFER", &call.target);
                let request = format!(
                    "REFER {target} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\nFrom: {local}\r\n\
                     To: {remote}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REFER\r\n\
                     Contact: {contact}\r\nRefer-To: {refer_to}\r\n\
                     Referred-By: <sip:{user}@{server}>\r\n{authorization}\
                     User-Agent: centralino-test-desk\r\nContent-Length: 0\r\n\r\n",
                    target = call.target,
                    local = call.local,
                    remote = call.remote,
                    call_id = call.call_id,
                    contact = self.contact(),
                    user = self.user,
                    server = self.server,
                );
                let answer = self
                    .transaction(&request, &call.call_id, cseq, limit)
                    .unwrap_or_else(|| panic!("no final answer to REFER:\n{request}"));
                if answer.status() == Some(401) {
                    self.take_challenge(&answer);
                    last = Some(answer);
                    continue;
                }
                return answer;
            }
            last.expect("an answer")
        }

        /// The first request received (since the phone started) that `wanted` accepts,
        /// waiting up to `limit` for it.
        pub fn wait_request(
            &self,
            limit: Duration,
            wanted: impl Fn(&SipMessage) -> bool,
        ) -> Option<SipMessage> {
            let deadline = Instant::now() + limit;
            loop {
                if let Some(found) = self
                    .shared
                    .lock()
                    .unwrap()
                    .requests
                    .iter()
                    .find(|r| wanted(r))
                {
                    return Some(found.clone());
                }
                if Instant::now() > deadline {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }

        /// Every request received so far that `wanted` accepts, in order.
        pub fn requests(&self, wanted: impl Fn(&SipMessage) -> bool) -> Vec<SipMessage> {
            let shared = self.shared.lock().unwrap();
            shared
                .requests
                .iter()
                .filter(|m| wanted(m))
                .cloned()
                .collect()
        }

        /// Every request received so far, one line each with the interesting headers.
        pub fn transcript(&self) -> String {
            let shared = self.shared.lock().unwrap();
            shared
                .requests
                .iter()
                .map(|m| {
                    let body = m.body.lines().next().unwrap_or_default();
                    format!(
                        "  {} | Call-ID {} | CSeq {} | Event {} | {body}\n",
                        m.start,
                        m.header("Call-ID").unwrap_or("-"),
                        m.header("CSeq").unwrap_or("-"),
                        m.header("Event").unwrap_or("-"),
                    )
                })
                .collect()
        }
    }

    impl Drop for DeskPhone {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            self.hush();
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
            for rtp in [&mut self.answered_line, &mut self.placed_line] {
                if let Some(receiver) = rtp.receiver.take() {
                    let _ = receiver.join();
                }
            }
        }
    }

    /// An SDP offer or answer: PCMU and telephone-event at `rtp`.
    fn sdp(rtp: SocketAddr, session: u32) -> String {
        format!(
            "v=0\r\no=desk {session} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n\
             a=sendrecv\r\n",
            ip = rtp.ip(),
            port = rtp.port()
        )
    }

    /// The phone's thread: reads the SIP socket until stopped; answers requests and keeps
    /// them, keeps responses for the test's thread, ACKs a 200 OK sent again.
    fn serve(
        socket: &UdpSocket,
        stop: &AtomicBool,
        shared: &Mutex<Shared>,
        user: &str,
        answered_rtp: SocketAddr,
    ) {
        let local = socket.local_addr().unwrap();
        let mut buf = vec![0u8; 65_536];
        while !stop.load(Ordering::Relaxed) {
            let Ok((n, from)) = socket.recv_from(&mut buf) else {
                continue;
            };
            let Some(message) = SipMessage::parse(&buf[..n]) else {
                continue;
            };
            let mut shared = shared.lock().unwrap();
            let call_id = message.header("Call-ID").unwrap_or_default().to_owned();
            if message.status().is_some() {
                let is_invite_ok = message.status() == Some(200)
                    && message
                        .header("CSeq")
                        .is_some_and(|c| c.ends_with("INVITE"));
                if is_invite_ok && let Some(ack) = shared.acks.get(&call_id) {
                    // The 200 OK again: our ACK was lost.
                    let _ = socket.send_to(ack.as_bytes(), from);
                    continue;
                }
                shared.responses.push(message);
                continue;
            }
            let method = message.method().unwrap_or_default().to_owned();
            let cseq = message.header("CSeq").unwrap_or_default().to_owned();
            let reply = match method.as_str() {
                "ACK" => None,
                "INVITE" => {
                    let key = (call_id.clone(), cseq.clone());
                    if let Some(again) = shared.invite_answers.get(&key) {
                        Some(again.clone())
                    } else {
                        let to = message.header("To").unwrap_or_default();
                        let known_tag = shared.tags.get(&call_id).cloned();
                        let (to, new_call) = match (tag(to), known_tag) {
                            (Some(_), _) => (to.to_owned(), false),
                            (None, Some(ours)) => (format!("{to};tag={ours}"), false),
                            (None, None) => {
                                let ours = format!("a{user}{}", shared.tags.len() + 1);
                                shared.tags.insert(call_id.clone(), ours.clone());
                                (format!("{to};tag={ours}"), true)
                            }
                        };
                        let sdp = shared
                            .sdp
                            .entry(call_id.clone())
                            .or_insert_with(|| sdp(answered_rtp, 1))
                            .clone();
                        if new_call {
                            let offer = parse_answer(&message.body);
                            shared.answered.push(Answered {
                                call_id: call_id.clone(),
                                remote: message.header("From").unwrap_or_default().to_owned(),
                                local: to.clone(),
                                target: message.header("Contact").map(uri_of).unwrap_or_default(),
                                media: offer.rtp,
                            });
                        }
                        let mut text = String::from("SIP/2.0 200 OK\r\n");
                        for via in message.header_lines("Via", "v") {
                            text.push_str(&format!("{via}\r\n"));
                        }
                        text.push_str(&format!(
                            "From: {}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n\
                             Contact: <sip:{user}@{local}>\r\n\
                             Allow: INVITE, ACK, CANCEL, BYE, REFER, NOTIFY, OPTIONS\r\n\
                             Supported: replaces\r\nContent-Type: application/sdp\r\n\
                             Content-Length: {}\r\n\r\n{sdp}",
                            message.header("From").unwrap_or_default(),
                            sdp.len()
                        ));
                        shared.invite_answers.insert(key, text.clone());
                        Some(text)
                    }
                }
                _ => {
                    let mut text = String::from("SIP/2.0 200 OK\r\n");
                    for via in message.header_lines("Via", "v") {
                        text.push_str(&format!("{via}\r\n"));
                    }
                    for name in ["From", "To", "Call-ID", "CSeq"] {
                        let value = message.header(name).unwrap_or_default();
                        text.push_str(&format!("{name}: {value}\r\n"));
                    }
                    text.push_str("Content-Length: 0\r\n\r\n");
                    Some(text)
                }
            };
            if let Some(reply) = reply {
                let _ = socket.send_to(reply.as_bytes(), from);
            }
            let retransmitted = shared.requests.iter().any(|r| {
                r.header("Call-ID") == Some(call_id.as_str())
                    && r.header("CSeq") == Some(cseq.as_str())
                    && r.method() == Some(method.as_str())
            });
            if !retransmitted {
                shared.requests.push(message);
            }
        }
    }
}
