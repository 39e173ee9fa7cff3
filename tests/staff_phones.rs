//! Staff phones among themselves, end to end against `centralino serve` (tests/staff_phones:
//! office `prova`, staff 201 and 202, passwords pw201 and pw202, MD5 digest).
//!
//! Raw SIP phones over UDP (each a socket on loopback, answering what the server sends them)
//! register, subscribe to a colleague (`presence` and `dialog`), refresh and end their
//! subscriptions, and send each other messages, delivered at once or when the recipient
//! registers again; a stranger gets the answer of an unknown number. A sipp citizen calls 100
//! and is transferred to 202 (a raw phone that answers), so 201 sees 202 on the phone and free
//! again; ringing (`early`) is in the desk's transcript
//! (`desk::tests::subscribers_are_notified_of_every_change_the_desk_sees`). baresip watches a
//! colleague too. Every server runs on free ports and is stopped by PID, also when a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use centralino_runtime::people::digest::{
    Algorithm, DigestCredentials, QopAuth, expected_response, ha1, parse_params,
};
use support::{Server, root};

fn start() -> Server {
    let config = root().join("tests/staff_phones/centralino.toml");
    Server::start(
        &root().join("tests/staff_phones/flows"),
        &["--config", config.to_str().unwrap()],
    )
}

// ------------------------------------------------------------------ a raw phone over UDP

/// A SIP message as text: its first line, headers in order, body.
#[derive(Debug, Clone)]
struct Message {
    first_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Message {
    fn parse(text: &str) -> Message {
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let mut lines = head.split("\r\n");
        let first_line = lines.next().unwrap().to_owned();
        let headers = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (name, value) = l.split_once(':').unwrap();
                (name.trim().to_owned(), value.trim().to_owned())
            })
            .collect();
        Message {
            first_line,
            headers,
            body: body.to_owned(),
        }
    }

    fn is_response(&self) -> bool {
        self.first_line.starts_with("SIP/2.0 ")
    }

    fn code(&self) -> u16 {
        self.first_line.split(' ').nth(1).unwrap().parse().unwrap()
    }

    fn method(&self) -> &str {
        self.first_line.split(' ').next().unwrap()
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn header(&self, name: &str) -> &str {
        self.all(name)
            .first()
            .copied()
            .unwrap_or_else(|| panic!("no {name}: {self:?}"))
    }

    /// The status line and each header with what echoes the request (or is fresh each time)
    /// blanked: what two answers must share to say nothing different.
    fn shape(&self) -> Vec<String> {
        let mut shape = vec![self.first_line.clone()];
        for (name, value) in &self.headers {
            let echoed = ["via", "from", "to", "call-id", "cseq"]
                .iter()
                .any(|h| name.eq_ignore_ascii_case(h));
            let value = if echoed { "(echoed)" } else { value.as_str() };
            shape.push(format!("{name}: {value}"));
        }
        shape
    }
}

/// The tag parameter of a From/To value.
fn tag(value: &str) -> Option<String> {
    value
        .split(';')
        .skip(1)
        .find_map(|p| p.trim().strip_prefix("tag=").map(str::to_owned))
}

struct Phone {
    user: String,
    password: String,
    socket: UdpSocket,
    server: SocketAddr,
    /// Requests the server sent us, answered already, not yet looked at.
    inbox: VecDeque<Message>,
    /// How we answer the server's requests.
    answer_code: u16,
    branches: u32,
    cseq: u32,
    nc: u32,
    nonce: Option<String>,
}

impl Phone {
    fn new(user: &str, password: &str, ip: &str, server: SocketAddr) -> Phone {
        let socket = UdpSocket::bind((ip, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        Phone {
            user: user.into(),
            password: password.into(),
            socket,
            server,
            inbox: VecDeque::new(),
            answer_code: 200,
            branches: 0,
            cseq: 0,
            nc: 0,
            nonce: None,
        }
    }

    fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    fn contact(&self) -> String {
        format!("<sip:{}@{}>", self.user, self.local())
    }

    /// Read one message within `limit`; requests are answered (with `answer_code`) and kept.
    fn read(&mut self, limit: Duration) -> Option<Message> {
        let started = Instant::now();
        let mut buf = [0u8; 16384];
        while started.elapsed() < limit {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let message = Message::parse(&String::from_utf8_lossy(&buf[..n]));
                if !message.is_response() {
                    self.answer(&message);
                }
                return Some(message);
            }
        }
        None
    }

    fn answer(&self, request: &Message) {
        if request.method() == "ACK" {
            return;
        }
        let invite = request.method() == "INVITE";
        let code = if invite { 200 } else { self.answer_code };
        let mut text = format!("SIP/2.0 {code} Whatever\r\n");
        for (name, value) in &request.headers {
            let lower = name.to_ascii_lowercase();
            if ["via", "from", "call-id", "cseq"].contains(&lower.as_str()) {
                text.push_str(&format!("{name}: {value}\r\n"));
            } else if lower == "to" {
                let value = if tag(value).is_some() {
                    value.clone()
                } else {
                    format!("{value};tag=phone{}", self.local().port())
                };
                text.push_str(&format!("To: {value}\r\n"));
            }
        }
        if invite {
            // Answered at once, audio to a port nobody reads.
            let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
                       t=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
            text.push_str(&format!(
                "Contact: {}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                self.contact(),
                sdp.len()
            ));
        } else {
            text.push_str("Content-Length: 0\r\n\r\n");
        }
        self.socket.send_to(text.as_bytes(), self.server).unwrap();
    }

    /// The next request of `method` the server sends us within `limit`.
    fn expect_request(&mut self, method: &str, limit: Duration) -> Message {
        self.maybe_request(method, limit)
            .unwrap_or_else(|| panic!("{}: no {method} within {limit:?}", self.user))
    }

    fn maybe_request(&mut self, method: &str, limit: Duration) -> Option<Message> {
        let started = Instant::now();
        loop {
            if let Some(at) = self.inbox.iter().position(|m| m.method() == method) {
                return self.inbox.remove(at);
            }
            let left = limit.checked_sub(started.elapsed())?;
            match self.read(left) {
                Some(m) if !m.is_response() => self.inbox.push_back(m),
                Some(_) | None => {}
            }
        }
    }

    /// Send a request and wait for its final answer (requests meanwhile are answered and kept).
    fn send(&mut self, request: &str) -> Message {
        self.socket
            .send_to(request.as_bytes(), self.server)
            .unwrap();
        let call_id = Message::parse(request).header("Call-ID").to_owned();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            match self.read(Duration::from_millis(200)) {
                Some(m) if m.is_response() && m.code() >= 200 && m.header("Call-ID") == call_id => {
                    return m;
                }
                Some(m) if m.is_response() => {}
                Some(m) => self.inbox.push_back(m),
                None => {}
            }
        }
        panic!("no answer to:\n{request}");
    }

    /// A request out of dialog or in one (`to_tag`), with our credentials when we have a nonce.
    #[allow(clippy::too_many_arguments)]
    fn request(
        &mut self,
        method: &str,
        to_user: &str,
        call_id: &str,
        to_tag: Option<&str>,
        extra: &[String],
        body: &str,
        with_credentials: bool,
    ) -> String {
        self.branches += 1;
        self.cseq += 1;
        let uri = format!("sip:{to_user}@{}", self.server);
        let authorization = match (&self.nonce, with_credentials) {
            (Some(nonce), true) => {
                let nonce = nonce.clone();
                format!(
                    "Authorization: {}\r\n",
                    self.authorization(method, &uri, &nonce)
                )
            }
            _ => String::new(),
        };
        let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        let extra: String = extra.iter().map(|h| format!("{h}\r\n")).collect();
        format!(
            "{method} {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK-{user}-{branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@{server}>;tag=from{user}\r\n\
             To: <{uri}>{to_tag}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: {contact}\r\n\
             {authorization}{extra}\
             Content-Length: {length}\r\n\r\n{body}",
            local = self.local(),
            user = self.user,
            branch = self.branches,
            server = self.server,
            cseq = self.cseq,
            contact = self.contact(),
            length = body.len(),
        )
    }

    fn authorization(&mut self, method: &str, uri: &str, nonce: &str) -> String {
        self.nc += 1;
        let mut credentials = DigestCredentials {
            username: self.user.clone(),
            realm: "centralino".into(),
            nonce: nonce.into(),
            uri: uri.into(),
            response: String::new(),
            algorithm: Algorithm::Md5,
            qop: Some(QopAuth {
                cnonce: "0a4f113b".into(),
                nc: self.nc,
                nc_text: format!("{:08x}", self.nc),
            }),
            cnonce: Some("0a4f113b".into()),
            opaque: None,
        };
        let stored = ha1(
            Algorithm::Md5.kind(),
            &self.user,
            "centralino",
            &self.password,
        );
        credentials.response = expected_response(&credentials, method, &stored);
        format!(
            "Digest username=\"{}\", realm=\"centralino\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{}\", algorithm=MD5, qop=auth, nc={:08x}, cnonce=\"0a4f113b\"",
            self.user, credentials.response, self.nc
        )
    }

    /// Take the nonce of a 401.
    fn take_challenge(&mut self, answer: &Message) {
        let challenge = answer.header("WWW-Authenticate");
        let params = parse_params(challenge.trim_start_matches("Digest ")).unwrap();
        self.nonce = Some(params.into_iter().find(|(n, _)| n == "nonce").unwrap().1);
        self.nc = 0;
    }

    /// A request as phones send it: with credentials if we have a nonce; a 401 is answered
    /// once with the new nonce.
    fn ask(
        &mut self,
        method: &str,
        to_user: &str,
        call_id: &str,
        to_tag: Option<&str>,
        extra: &[String],
        body: &str,
    ) -> Message {
        let request = self.request(method, to_user, call_id, to_tag, extra, body, true);
        let answer = self.send(&request);
        if answer.code() != 401 {
            return answer;
        }
        self.take_challenge(&answer);
        let request = self.request(method, to_user, call_id, to_tag, extra, body, true);
        self.send(&request)
    }

    fn register(&mut self, expires: u32) -> Message {
        let user = self.user.clone();
        let call_id = format!("reg-{user}-{}", self.local().port());
        let answer = self.ask(
            "REGISTER",
            &user,
            &call_id,
            None,
            &[format!("Expires: {expires}")],
            "",
        );
        assert_eq!(answer.code(), 200, "{answer:?}");
        answer
    }
}

fn subscription_state(notify: &Message) -> &str {
    notify.header("Subscription-State")
}

// ------------------------------------------------------------------ the tests

/// 201 watches 202: presence (PIDF) and dialog (BLF); 202 comes and goes; 201 refreshes and
/// ends a subscription; a NOTIFY answered 481 ends another.
#[test]
fn a_softphone_subscribed_to_a_colleague_is_notified_as_they_come_and_go() {
    let server = start();
    let wait = Duration::from_secs(5);
    let mut bruno = Phone::new("202", "pw202", "127.0.0.1", server.addr());
    let mut anna = Phone::new("201", "pw201", "127.0.0.1", server.addr());
    bruno.register(300);
    anna.register(300);

    // Presence: 200 (with our Expires), then a NOTIFY saying 202 is there.
    let presence = [
        String::from("Event: presence"),
        String::from("Expires: 600"),
    ];
    let ok = anna.ask("SUBSCRIBE", "202", "sub-presence", None, &presence, "");
    assert_eq!(ok.code(), 200, "{ok:?}");
    assert_eq!(ok.header("Expires"), "600");
    assert!(ok.header("Contact").contains("sip:202@127.0.0.1"), "{ok:?}");
    let presence_tag = tag(ok.header("To")).expect("a To tag");
    let notify = anna.expect_request("NOTIFY", wait);
    assert_eq!(notify.header("Event"), "presence");
    assert!(subscription_state(&notify).starts_with("active;expires="));
    assert_eq!(notify.header("Content-Type"), "application/pidf+xml");
    assert!(
        notify.body.contains("<basic>open</basic>"),
        "{}",
        notify.body
    );
    assert_eq!(tag(notify.header("From")), Some(presence_tag.clone()));
    assert_eq!(notify.header("Call-ID"), "sub-presence");

    // Dialog (a BLF key): idle, version 0.
    let dialog = [
        String::from("Event: dialog"),
        String::from("Accept: application/dialog-info+xml"),
    ];
    let ok = anna.ask("SUBSCRIBE", "202", "sub-dialog", None, &dialog, "");
    assert_eq!(ok.code(), 200, "{ok:?}");
    assert_eq!(ok.header("Expires"), "3600", "the default");
    let notify = anna.expect_request("NOTIFY", wait);
    assert_eq!(notify.header("Event"), "dialog");
    assert_eq!(notify.header("Content-Type"), "application/dialog-info+xml");
    assert!(notify.body.contains("version=\"0\""), "{}", notify.body);
    assert!(!notify.body.contains("<dialog "), "idle: {}", notify.body);

    // 202 unregisters: closed. 202 is back: open.
    bruno.register(0);
    let notify = anna.expect_request("NOTIFY", wait);
    assert_eq!(notify.header("Call-ID"), "sub-presence");
    assert!(
        notify.body.contains("<basic>closed</basic>"),
        "{}",
        notify.body
    );
    bruno.register(300);
    let notify = anna.expect_request("NOTIFY", wait);
    assert!(
        notify.body.contains("<basic>open</basic>"),
        "{}",
        notify.body
    );

    // A refresh inside the dialog: a new Expires, and the state again.
    let refresh = [
        String::from("Event: presence"),
        String::from("Expires: 300"),
    ];
    let request = anna.request(
        "SUBSCRIBE",
        "202",
        "sub-presence",
        Some(&presence_tag),
        &refresh,
        "",
        false,
    );
    let ok = anna.send(&request);
    assert_eq!(ok.code(), 200, "{ok:?}");
    assert_eq!(ok.header("Expires"), "300");
    let notify = anna.expect_request("NOTIFY", wait);
    assert!(
        subscription_state(&notify).starts_with("active;expires=3"),
        "{notify:?}"
    );

    // Unsubscribe (Expires: 0): 200, a last NOTIFY; then 202's changes tell it nothing.
    let end = [String::from("Event: presence"), String::from("Expires: 0")];
    let request = anna.request(
        "SUBSCRIBE",
        "202",
        "sub-presence",
        Some(&presence_tag),
        &end,
        "",
        false,
    );
    let ok = anna.send(&request);
    assert_eq!(ok.code(), 200, "{ok:?}");
    assert_eq!(ok.header("Expires"), "0");
    let notify = anna.expect_request("NOTIFY", wait);
    assert_eq!(subscription_state(&notify), "terminated;reason=timeout");
    bruno.register(0);
    assert!(
        anna.maybe_request("NOTIFY", Duration::from_secs(1))
            .is_none(),
        "no NOTIFY after the unsubscribe"
    );
    // The dialog is gone: a refresh in it is refused.
    let request = anna.request(
        "SUBSCRIBE",
        "202",
        "sub-presence",
        Some(&presence_tag),
        &refresh,
        "",
        false,
    );
    assert_eq!(anna.send(&request).code(), 481);

    // A phone that answers a NOTIFY with 481 has lost the subscription: the server drops it.
    let again = [
        String::from("Event: presence"),
        String::from("Expires: 600"),
    ];
    let ok = anna.ask("SUBSCRIBE", "202", "sub-lost", None, &again, "");
    assert_eq!(ok.code(), 200, "{ok:?}");
    let first = anna.expect_request("NOTIFY", wait);
    assert!(
        first.body.contains("<basic>closed</basic>"),
        "{}",
        first.body
    );
    anna.answer_code = 481;
    bruno.register(300);
    let refused = anna.expect_request("NOTIFY", wait);
    assert_eq!(refused.header("Call-ID"), "sub-lost");
    server.wait_for("NOTIFY not taken: subscription removed", wait);
    anna.answer_code = 200;
    bruno.register(0);
    assert!(
        anna.maybe_request("NOTIFY", Duration::from_secs(1))
            .is_none_or(|n| n.header("Call-ID") != "sub-lost"),
        "a removed subscription is not notified"
    );
}

/// The NOTIFYs of `subscription` (a Call-ID) that arrive within `limit`, bodies only.
fn notifies(phone: &mut Phone, call_id: &str, count: usize, limit: Duration) -> Vec<String> {
    let started = Instant::now();
    let mut bodies = Vec::new();
    while bodies.len() < count {
        let left = limit
            .checked_sub(started.elapsed())
            .unwrap_or_else(|| panic!("{count} NOTIFYs in {call_id}: only {bodies:?}"));
        let notify = phone.expect_request("NOTIFY", left);
        if notify.header("Call-ID") == call_id {
            bodies.push(notify.body);
        }
    }
    bodies
}

/// A citizen calls 100 and is put through to 202 (the only one registered); 201 watches 202
/// and sees their phone ring, then them on the phone, then free again when the call ends.
#[test]
fn a_colleague_on_a_call_shows_busy_and_free_again() {
    if !support::have_sipp() {
        return;
    }
    let server = start();
    let wait = Duration::from_secs(15);
    let mut bruno = Phone::new("202", "pw202", "127.0.0.1", server.addr());
    bruno.register(300);
    // 201 is not registered (the transfer rings only 202), but authenticates from this address.
    let mut anna = Phone::new("201", "pw201", "127.0.0.1", server.addr());
    let presence = [String::from("Event: presence")];
    assert_eq!(
        anna.ask("SUBSCRIBE", "202", "watch-p", None, &presence, "")
            .code(),
        200
    );
    let first = notifies(&mut anna, "watch-p", 1, wait);
    assert!(first[0].contains("<note>Available</note>"), "{first:?}");
    let dialog = [String::from("Event: dialog")];
    assert_eq!(
        anna.ask("SUBSCRIBE", "202", "watch-d", None, &dialog, "")
            .code(),
        200
    );
    let first = notifies(&mut anna, "watch-d", 1, wait);
    assert!(!first[0].contains("<dialog "), "idle: {first:?}");

    // The citizen stays on the line 5 s, then hangs up.
    let port = server.port;
    let citizen = std::thread::spawn(move || {
        support::sipp(
            port,
            "hold_call.xml",
            &["-s", "100", "-m", "1", "-l", "1"],
            40,
        )
    });
    let invite = bruno.expect_request("INVITE", wait);
    assert!(invite.header("From").contains("3331234567"), "{invite:?}");
    // Ringing first (BLF keys blink), then on the phone.
    let ringing = notifies(&mut anna, "watch-p", 1, wait);
    assert!(ringing[0].contains("<note>Ringing</note>"), "{ringing:?}");
    let busy = notifies(&mut anna, "watch-p", 1, wait);
    assert!(busy[0].contains("<rpid:on-the-phone/>"), "{busy:?}");
    // The dialog NOTIFYs went out meanwhile: `early` (version 1, read past while waiting for
    // the presence ones), then `confirmed`.
    let blf = notifies(&mut anna, "watch-d", 1, wait);
    assert!(blf[0].contains("<state>confirmed</state>"), "{blf:?}");
    assert!(blf[0].contains("version=\"2\""), "{blf:?}");

    // The citizen hangs up: the server hangs up on 202, who is free again.
    bruno.expect_request("BYE", wait);
    let free = notifies(&mut anna, "watch-p", 1, wait);
    assert!(free[0].contains("<note>Available</note>"), "{free:?}");
    let blf = notifies(&mut anna, "watch-d", 1, wait);
    assert!(blf[0].contains("<state>terminated</state>"), "{blf:?}");
    let out = citizen.join().unwrap();
    assert!(out.status.success(), "{}", server.log());
}

/// A MESSAGE reaches a registered colleague at once, and one who is offline when they
/// register again.
#[test]
fn a_message_reaches_a_registered_phone_and_a_phone_that_registers_later() {
    let server = start();
    let wait = Duration::from_secs(5);
    let mut bruno = Phone::new("202", "pw202", "127.0.0.1", server.addr());
    let mut anna = Phone::new("201", "pw201", "127.0.0.1", server.addr());
    bruno.register(300);
    anna.register(300);

    let text = [String::from("Content-Type: text/plain;charset=UTF-8")];
    let accepted = anna.ask(
        "MESSAGE",
        "202",
        "msg-1",
        None,
        &text,
        "Ciao Bruno, sei in ufficio?",
    );
    assert_eq!(accepted.code(), 202, "{accepted:?}");
    let message = bruno.expect_request("MESSAGE", wait);
    assert_eq!(message.body, "Ciao Bruno, sei in ufficio?");
    assert!(message.header("From").contains("sip:201@"), "{message:?}");
    assert!(message.header("Content-Type").starts_with("text/plain"));
    server.wait_for("message delivered", wait);

    // 202 is offline: the message is kept, and comes when 202 registers.
    bruno.register(0);
    let accepted = anna.ask(
        "MESSAGE",
        "202",
        "msg-2",
        None,
        &text,
        "Richiamami quando torni.",
    );
    assert_eq!(accepted.code(), 202, "{accepted:?}");
    assert!(
        bruno
            .maybe_request("MESSAGE", Duration::from_secs(1))
            .is_none(),
        "nothing reaches an offline phone"
    );
    bruno.register(300);
    let message = bruno.expect_request("MESSAGE", wait);
    assert_eq!(message.body, "Richiamami quando torni.");
    server.wait_for_times("message delivered", 2, wait);
    // Delivered once: registering again brings nothing more.
    bruno.register(300);
    assert!(
        bruno
            .maybe_request("MESSAGE", Duration::from_secs(1))
            .is_none()
    );

    // What is not text is refused.
    let html = [String::from("Content-Type: text/html")];
    let refused = anna.ask("MESSAGE", "202", "msg-3", None, &html, "<b>no</b>");
    assert_eq!(refused.code(), 415, "{refused:?}");
}

/// MESSAGE and SUBSCRIBE from a source with no staff device, without or with wrong
/// credentials, are answered exactly as a message to an extension that does not exist.
#[test]
fn strangers_get_the_answer_of_an_unknown_number() {
    let server = start();
    let mut anna = Phone::new("201", "pw201", "127.0.0.1", server.addr());
    anna.register(300);
    let text = [String::from("Content-Type: text/plain")];

    // Staff 201, authenticated, to an extension that does not exist: 404.
    let unknown = anna.ask("MESSAGE", "299", "to-299", None, &text, "c'è qualcuno?");
    assert_eq!(unknown.code(), 404, "{unknown:?}");

    // A stranger (another address, no device registered there), no credentials.
    let mut stranger = Phone::new("201", "guess", "127.0.0.2", server.addr());
    let request = stranger.request("MESSAGE", "202", "s-1", None, &text, "ciao", false);
    let message = stranger.send(&request);
    assert_eq!(message.shape(), unknown.shape(), "{message:?}\n{unknown:?}");
    let events = [String::from("Event: dialog")];
    let request = stranger.request("SUBSCRIBE", "202", "s-2", None, &events, "", false);
    let subscribe = stranger.send(&request);
    assert_eq!(subscribe.shape(), unknown.shape(), "{subscribe:?}");
    let request = stranger.request("MESSAGE", "299", "s-3", None, &text, "ciao", false);
    assert_eq!(stranger.send(&request).shape(), unknown.shape());

    // With a real nonce (from a REGISTER's challenge) and a wrong password: the same.
    let request = stranger.request("REGISTER", "201", "s-4", None, &[], "", false);
    let challenge = stranger.send(&request);
    assert_eq!(challenge.code(), 401);
    stranger.take_challenge(&challenge);
    let request = stranger.request("MESSAGE", "202", "s-5", None, &text, "ciao", true);
    assert_eq!(stranger.send(&request).shape(), unknown.shape());

    // From the address of a registered phone, no credentials: the REGISTER challenge,
    // whether the extension exists or not.
    let mut colleague = Phone::new("202", "pw202", "127.0.0.1", server.addr());
    let request = colleague.request("MESSAGE", "202", "c-1", None, &text, "ciao", false);
    let to_real = colleague.send(&request);
    let request = colleague.request("MESSAGE", "299", "c-2", None, &text, "ciao", false);
    let to_unknown = colleague.send(&request);
    assert_eq!(to_real.code(), 401);
    let without_nonce = |m: &Message| {
        m.shape()
            .into_iter()
            .map(|line| line.split("nonce=").next().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(without_nonce(&to_real), without_nonce(&to_unknown));
    assert!(
        server.lines_with(&["request from a stranger"]) >= 3,
        "{}",
        server.log()
    );
}

/// baresip (a real softphone) with 202 in its contacts (`presence=p2p`) subscribes to 202's
/// presence with its digest credentials and takes the NOTIFYs as 202 comes and goes.
#[test]
fn baresip_watches_a_colleague() {
    if std::process::Command::new("baresip")
        .arg("-h")
        .output()
        .is_err()
    {
        eprintln!("baresip is not installed (apt-get install baresip): test not run");
        return;
    }
    let server = start();
    let mut bruno = Phone::new("202", "pw202", "127.0.0.1", server.addr());
    bruno.register(300);
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "poll_method\t\tpoll\n\
         sip_listen\t\t127.0.0.1:{}\n\
         module_path\t\t/usr/lib/baresip/modules\n\
         module\t\t\tg711.so\n\
         module\t\t\taufile.so\n\
         module_app\t\taccount.so\n\
         module_app\t\tcontact.so\n\
         module_app\t\tpresence.so\n\
         audio_player\t\taufile,/dev/null\n\
         audio_source\t\taufile,/dev/null\n",
        support::free_port()
    );
    std::fs::write(home.path().join("config"), config).unwrap();
    let port = server.port;
    std::fs::write(
        home.path().join("accounts"),
        format!("<sip:201@127.0.0.1:{port};transport=udp>;auth_pass=pw201;regint=600\n"),
    )
    .unwrap();
    std::fs::write(
        home.path().join("contacts"),
        format!("\"Bruno\" <sip:202@127.0.0.1:{port}>;presence=p2p\n"),
    )
    .unwrap();
    let mut phone = Reaped(
        std::process::Command::new("baresip")
            .arg("-f")
            .arg(home.path())
            .args(["-t", "12"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let wait = Duration::from_secs(8);
    server.wait_for("subscribed", wait);
    assert_eq!(
        server.lines_with(&[
            "subscribed",
            "subscriber=201",
            "watched=202",
            "package=\"presence\""
        ]),
        1,
        "{}",
        server.log()
    );
    // 202 goes and comes back: baresip takes each NOTIFY (a refusal would end it).
    bruno.register(0);
    std::thread::sleep(Duration::from_millis(500));
    bruno.register(300);
    std::thread::sleep(Duration::from_millis(500));
    let _ = phone.0.kill();
    let _ = phone.0.wait();
    let mut text = String::new();
    if let Some(mut out) = phone.0.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut out, &mut text);
    }
    // Its console, without colours.
    let mut plain = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find('\u{1b}') {
        plain.push_str(&rest[..at]);
        rest = rest[at..].split_once('m').map_or("", |(_, after)| after);
    }
    plain.push_str(rest);
    let watched = format!("<sip:202@127.0.0.1:{port}> changed status from");
    assert!(
        plain.contains(&format!("{watched} Online to Offline"))
            && plain.contains(&format!("{watched} Offline to Online")),
        "{plain}"
    );
    assert!(
        !server.log().contains("NOTIFY not taken"),
        "{}\n{text}",
        server.log()
    );
}

/// A child process killed (by PID) and reaped when dropped, also when a test fails.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
