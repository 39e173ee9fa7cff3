//! A small SIP user agent written by hand for the end-to-end tests: SIP over a plain
//! `UdpSocket` (INVITE with an SDP offer, ACK, BYE both ways), RTP in and out on the test's own
//! socket: a talker thread sending a packet every 20 ms (queued audio or RFC 4733 key presses,
//! else a continuous sine or silence) and a receiver thread keeping every datagram with its
//! arrival time, so a test can check the stream's pacing or decode what the caller heard.
//!
//! Shared by `tests/rtp.rs` (the server's prompts on the wire) and the tests of calls with two
//! parties (a citizen calling through Centralino to a staff phone, `support::baresip`).

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use centralino_runtime::media::codec::Codec;
use centralino_runtime::media::rtp;
use centralino_runtime::media::{FRAME_MS, FRAME_SAMPLES};

use super::tone;

pub const FRAME: Duration = Duration::from_millis(FRAME_MS as u64);
/// The dynamic payload type the test offers for telephone-event.
pub const EVENT_PT: u8 = 101;

// ------------------------------------------------------------------ SIP by hand

/// One SIP message as text: start line, headers in order, body.
#[derive(Debug, Clone)]
pub struct SipMessage {
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl SipMessage {
    pub fn parse(bytes: &[u8]) -> Option<SipMessage> {
        let text = String::from_utf8_lossy(bytes);
        let (head, body) = text.split_once("\r\n\r\n")?;
        let mut lines = head.split("\r\n");
        let start = lines.next()?.to_owned();
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect();
        Some(SipMessage {
            start,
            headers,
            body: body.to_owned(),
        })
    }

    /// The first header of this name (full or compact form).
    pub fn header(&self, name: &str) -> Option<&str> {
        let compact = match name.to_ascii_lowercase().as_str() {
            "via" => "v",
            "from" => "f",
            "to" => "t",
            "call-id" => "i",
            "contact" => "m",
            "content-type" => "c",
            "content-length" => "l",
            _ => "",
        };
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name) || n.eq_ignore_ascii_case(compact))
            .map(|(_, v)| v.as_str())
    }

    /// Every header line of this name, as written (for the Vias of a reply).
    pub fn header_lines(&self, name: &str, compact: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name) || n.eq_ignore_ascii_case(compact))
            .map(|(n, v)| format!("{n}: {v}"))
            .collect()
    }

    pub fn status(&self) -> Option<u16> {
        let rest = self.start.strip_prefix("SIP/2.0 ")?;
        rest.split(' ').next()?.parse().ok()
    }

    pub fn method(&self) -> Option<&str> {
        if self.start.starts_with("SIP/2.0") {
            return None;
        }
        self.start.split(' ').next()
    }
}

/// The server's SDP answer, as far as the test needs it.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub rtp: SocketAddr,
    pub payload_type: u8,
    pub event_payload_type: Option<u8>,
}

pub fn parse_answer(sdp: &str) -> Answer {
    let line = |prefix: &str| {
        sdp.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(str::to_owned))
            .unwrap_or_else(|| panic!("no `{prefix}` in the SDP answer:\n{sdp}"))
    };
    let ip = line("c=IN IP4 ");
    let media = line("m=audio ");
    let mut fields = media.split_whitespace();
    let port: u16 = fields.next().unwrap().parse().unwrap();
    assert_eq!(fields.next(), Some("RTP/AVP"), "{sdp}");
    let formats: Vec<u8> = fields.map(|f| f.parse().unwrap()).collect();
    let event_payload_type = formats
        .iter()
        .copied()
        .find(|pt| sdp.contains(&format!("a=rtpmap:{pt} telephone-event/8000")));
    Answer {
        rtp: SocketAddr::new(ip.parse().unwrap(), port),
        payload_type: formats[0],
        event_payload_type,
    }
}

static CALLS: AtomicU32 = AtomicU32::new(0);

/// One call from the test to the server (or to any user agent), SIP side.
pub struct SipCall {
    socket: UdpSocket,
    server: SocketAddr,
    number: String,
    pub call_id: String,
    /// The user part of the caller's address (the citizen's number).
    caller: String,
    from: String,
    /// The To header of the 200 OK (with the server's tag).
    to: Option<String>,
    /// Where in-dialog requests go (the server's Contact).
    remote_target: Option<String>,
    branches: u32,
    /// The CSeq of the last request this side sent in the dialog (the INVITE's is 1).
    cseq: u32,
    /// The SDP offer of the INVITE, offered again to a re-INVITE.
    sdp: String,
}

/// The caller's number when the test does not choose one.
pub const DEFAULT_CALLER: &str = "3331234567";

impl SipCall {
    /// A call from [`DEFAULT_CALLER`] to `number` at `server`.
    pub fn new(server: SocketAddr, number: &str) -> SipCall {
        SipCall::new_from(server, number, DEFAULT_CALLER)
    }

    /// A call from `caller` (the user part of From and Contact) to `number` at `server`.
    pub fn new_from(server: SocketAddr, number: &str, caller: &str) -> SipCall {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let local = socket.local_addr().unwrap();
        let n = CALLS.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n}", std::process::id());
        SipCall {
            socket,
            server,
            number: number.to_owned(),
            call_id: format!("rtp-test-{id}@127.0.0.1"),
            caller: caller.to_owned(),
            from: format!("<sip:{caller}@{local}>;tag=ua-{id}"),
            to: None,
            remote_target: None,
            branches: 0,
            cseq: 1,
            sdp: String::new(),
        }
    }

    pub fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    pub fn via(&mut self) -> String {
        self.branches += 1;
        format!(
            "Via: SIP/2.0/UDP {};branch=z9hG4bK-rtp-{}-{};rport",
            self.local(),
            self.call_id.split('@').next().unwrap_or_default(),
            self.branches
        )
    }

    pub fn send(&self, text: &str) {
        self.socket.send_to(text.as_bytes(), self.server).unwrap();
    }

    /// The next SIP message within `timeout`, if any.
    pub fn recv(&self, timeout: Duration) -> Option<SipMessage> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65_536];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            self.socket
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            if let Ok((n, _)) = self.socket.recv_from(&mut buf)
                && let Some(message) = SipMessage::parse(&buf[..n])
            {
                return Some(message);
            }
        }
    }

    /// INVITE with an SDP offer of PCMU and telephone-event on `rtp`; reads the provisional
    /// responses and the 200 OK, sends the ACK. Returns the status codes seen and the answer.
    pub fn invite(&mut self, rtp: SocketAddr) -> (Vec<u16>, Answer) {
        let sdp = format!(
            "v=0\r\no=rtp-test 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0 {EVENT_PT}\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:{EVENT_PT} telephone-event/8000\r\na=fmtp:{EVENT_PT} 0-15\r\n\
             a=ptime:20\r\na=sendrecv\r\n",
            ip = rtp.ip(),
            port = rtp.port()
        );
        self.sdp = sdp.clone();
        let via = self.via();
        let invite = format!(
            "INVITE sip:{number}@{server} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\n\
             From: {from}\r\nTo: <sip:{number}@{server}>\r\nCall-ID: {call_id}\r\n\
             CSeq: 1 INVITE\r\nContact: <sip:{caller}@{local}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            number = self.number,
            server = self.server,
            caller = self.caller,
            from = self.from,
            call_id = self.call_id,
            local = self.local(),
            len = sdp.len(),
        );
        self.send(&invite);
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let ok = loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .expect("no final response to the INVITE within 20 s");
            let Some(message) = self.recv(left) else {
                continue;
            };
            let Some(status) = message.status() else {
                continue;
            };
            seen.push(status);
            match status {
                100..=199 => {}
                200 => break message,
                other => panic!("the INVITE got {other}: {}", message.start),
            }
        };
        assert_eq!(ok.header("CSeq"), Some("1 INVITE"));
        assert_eq!(ok.header("Call-ID"), Some(self.call_id.as_str()));
        assert!(
            ok.header("Content-Type")
                .is_some_and(|c| c.starts_with("application/sdp")),
            "{ok:?}"
        );
        let to = ok.header("To").unwrap().to_owned();
        assert!(to.contains("tag="), "the 200 OK's To has a tag: {to}");
        self.to = Some(to);
        self.remote_target = ok.header("Contact").map(|c| {
            c.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        self.ack();
        (seen, parse_answer(&ok.body))
    }

    /// The ACK of a 2xx: a new transaction, to the server's Contact.
    pub fn ack(&mut self) {
        let target = self
            .remote_target
            .clone()
            .unwrap_or_else(|| format!("sip:{}@{}", self.number, self.server));
        let via = self.via();
        let ack = format!(
            "ACK {target} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
            from = self.from,
            to = self.to.as_deref().unwrap_or_default(),
            call_id = self.call_id,
        );
        self.send(&ack);
    }

    /// Waits for the server's BYE and answers 200 OK; `None` if none came in time.
    pub fn await_bye(&mut self, limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let message = self.recv(left)?;
            match (message.method(), message.status()) {
                (Some("BYE"), _) => {
                    let at = Instant::now();
                    assert_eq!(message.header("Call-ID"), Some(self.call_id.as_str()));
                    let mut reply = String::from("SIP/2.0 200 OK\r\n");
                    for via in message.header_lines("Via", "v") {
                        reply.push_str(&via);
                        reply.push_str("\r\n");
                    }
                    for name in ["From", "To", "Call-ID", "CSeq"] {
                        let value = message.header(name).unwrap_or_default();
                        reply.push_str(&format!("{name}: {value}\r\n"));
                    }
                    reply.push_str("Content-Length: 0\r\n\r\n");
                    self.send(&reply);
                    return Some(at);
                }
                // A retransmitted 200 OK: our ACK was lost, send it again.
                (None, Some(200)) => self.ack(),
                (Some("ACK"), _) => {}
                // OPTIONS, a re-INVITE (offered the same media again), INFO, UPDATE...
                (Some(_), _) => self.reply_ok(&message),
                (None, _) => {}
            }
        }
    }

    /// Answers the other side's requests for up to `limit`: a re-INVITE gets 200 OK with the
    /// call's SDP, and where its offer wants RTP is returned (the last one, if several came).
    /// Other requests get 200 OK; responses are left alone.
    pub fn serve(&mut self, limit: Duration) -> Option<SocketAddr> {
        let deadline = Instant::now() + limit;
        let mut moved = None;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Some(message) = self.recv(left) else {
                break;
            };
            match message.method() {
                Some("INVITE") => {
                    moved = Some(parse_answer(&message.body).rtp);
                    self.reply_ok(&message);
                }
                Some("ACK") | None => {}
                Some(_) => self.reply_ok(&message),
            }
        }
        moved
    }

    /// Answers a request from the other side with 200 OK (with the call's SDP to an INVITE).
    fn reply_ok(&self, request: &SipMessage) {
        let mut reply = String::from("SIP/2.0 200 OK\r\n");
        for via in request.header_lines("Via", "v") {
            reply.push_str(&via);
            reply.push_str("\r\n");
        }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            let value = request.header(name).unwrap_or_default();
            reply.push_str(&format!("{name}: {value}\r\n"));
        }
        if request.method() == Some("INVITE") {
            reply.push_str(&format!(
                "Contact: <sip:{}@{}>\r\nContent-Type: application/sdp\r\n\
                 Content-Length: {}\r\n\r\n{}",
                self.caller,
                self.local(),
                self.sdp.len(),
                self.sdp
            ));
        } else {
            reply.push_str("Content-Length: 0\r\n\r\n");
        }
        self.send(&reply);
    }

    /// Hangs up: BYE to the other side's Contact; the status of its final response, `None` if
    /// none came within `limit` (the BYE is sent again every 500 ms meanwhile, as over UDP).
    /// Requests crossing it (the other side's own BYE) are answered.
    pub fn bye(&mut self, limit: Duration) -> Option<u16> {
        self.cseq += 1;
        let target = self
            .remote_target
            .clone()
            .unwrap_or_else(|| format!("sip:{}@{}", self.number, self.server));
        let via = self.via();
        let bye = format!(
            "BYE {target} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} BYE\r\nContent-Length: 0\r\n\r\n",
            from = self.from,
            to = self.to.as_deref().unwrap_or_default(),
            call_id = self.call_id,
            cseq = self.cseq,
        );
        let wanted = format!("{} BYE", self.cseq);
        let deadline = Instant::now() + limit;
        loop {
            self.send(&bye);
            let resend = Instant::now() + Duration::from_millis(500);
            while let Some(left) = deadline.min(resend).checked_duration_since(Instant::now()) {
                let Some(message) = self.recv(left) else {
                    break;
                };
                match (message.method(), message.status()) {
                    (None, Some(status)) if message.header("CSeq") == Some(wanted.as_str()) => {
                        if status >= 200 {
                            return Some(status);
                        }
                    }
                    (None, Some(200)) if message.header("CSeq") == Some("1 INVITE") => self.ack(),
                    (None, _) | (Some("ACK"), _) => {}
                    (Some(_), _) => self.reply_ok(&message),
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
        }
    }
}

// ------------------------------------------------------------------ RTP out (the caller's voice)

/// What the caller sends in one 20 ms slot.
#[derive(Debug, Clone)]
pub enum Slot {
    /// One frame of PCM, sent as PCMU.
    Audio(Vec<i16>),
    /// One RFC 4733 packet of an event.
    Event {
        code: u8,
        duration: u16,
        end: bool,
        first: bool,
    },
}

/// RTP packets of one outgoing stream: a 20 ms clock, one SSRC, sequence +1 per packet.
pub struct RtpWriter {
    ssrc: u32,
    sequence: u16,
    clock: u32,
    event_start: u32,
    first: bool,
}

impl RtpWriter {
    pub fn new(ssrc: u32) -> RtpWriter {
        RtpWriter {
            ssrc,
            sequence: 1000,
            clock: 160_000,
            event_start: 0,
            first: true,
        }
    }

    /// The packet of the next slot; the clock moves 20 ms whatever it holds.
    pub fn packet(&mut self, slot: &Slot) -> Vec<u8> {
        let mut buf = vec![0u8; rtp::HEADER_LEN + FRAME_SAMPLES];
        let len = match slot {
            Slot::Audio(pcm) => {
                let mut payload = [Codec::Pcmu.silence(); FRAME_SAMPLES];
                Codec::Pcmu.encode(pcm, &mut payload);
                let marker = std::mem::take(&mut self.first);
                rtp::write_packet(
                    &mut buf,
                    0,
                    marker,
                    self.sequence,
                    self.clock,
                    self.ssrc,
                    &payload,
                )
            }
            Slot::Event {
                code,
                duration,
                end,
                first,
            } => {
                if *first {
                    self.event_start = self.clock;
                }
                // E bit, reserved bit, volume 10 (−10 dBm0); duration in timestamp units.
                let flags = if *end { 0x80 } else { 0 } | 10;
                let [high, low] = duration.to_be_bytes();
                rtp::write_packet(
                    &mut buf,
                    EVENT_PT,
                    *first,
                    self.sequence,
                    self.event_start,
                    self.ssrc,
                    &[*code, flags, high, low],
                )
            }
        }
        .unwrap();
        buf.truncate(len);
        self.sequence = self.sequence.wrapping_add(1);
        self.clock = self.clock.wrapping_add(FRAME_SAMPLES as u32);
        buf
    }
}

/// The slots of one key press as RFC 4733 events: `ms` long, the end packet sent three times.
pub fn event_slots(code: u8, ms: u32) -> Vec<Slot> {
    let frames = (ms / FRAME_MS).max(1);
    let mut slots: Vec<Slot> = (1..=frames)
        .map(|k| Slot::Event {
            code,
            duration: (k * FRAME_SAMPLES as u32) as u16,
            end: false,
            first: k == 1,
        })
        .collect();
    for _ in 0..3 {
        slots.push(Slot::Event {
            code,
            duration: (frames * FRAME_SAMPLES as u32) as u16,
            end: true,
            first: false,
        });
    }
    slots
}

/// PCM cut into 20 ms audio slots (the last one padded with silence).
pub fn audio_slots(pcm: &[i16]) -> Vec<Slot> {
    pcm.chunks(FRAME_SAMPLES)
        .map(|chunk| {
            let mut frame = chunk.to_vec();
            frame.resize(FRAME_SAMPLES, 0);
            Slot::Audio(frame)
        })
        .collect()
}

/// The caller's outgoing stream: a thread sending one packet every 20 ms (absolute deadlines),
/// the queued slots first; when the queue is empty, the continuous tone if one is set (see
/// [`Talker::tone`]), else silence, as a phone does.
pub struct Talker {
    queue: Arc<Mutex<VecDeque<Slot>>>,
    /// Where the packets go (a re-INVITE may move it).
    to: Arc<Mutex<SocketAddr>>,
    /// The frequency of the tone sent when nothing is queued, if any.
    tone: Arc<Mutex<Option<f32>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Talker {
    pub fn start(socket: Arc<UdpSocket>, to: SocketAddr) -> Talker {
        let queue = Arc::new(Mutex::new(VecDeque::<Slot>::new()));
        let tone = Arc::new(Mutex::new(None::<f32>));
        let stop = Arc::new(AtomicBool::new(false));
        let to = Arc::new(Mutex::new(to));
        let (q, t, s, destination) = (queue.clone(), tone.clone(), stop.clone(), to.clone());
        let thread = std::thread::spawn(move || {
            let mut writer = RtpWriter::new(0x7e57_ca11);
            let anchor = Instant::now();
            let mut sent = 0u64;
            // Samples of the tone sent so far: its phase runs on across frames.
            let mut tone_samples = 0u64;
            while !s.load(Ordering::Relaxed) {
                let queued = q.lock().unwrap().pop_front();
                let slot = queued.unwrap_or_else(|| match *t.lock().unwrap() {
                    Some(freq) => {
                        let frame = tone::sine_from(freq, tone_samples, FRAME_SAMPLES);
                        tone_samples += FRAME_SAMPLES as u64;
                        Slot::Audio(frame)
                    }
                    None => Slot::Audio(vec![0; FRAME_SAMPLES]),
                });
                let to = *destination.lock().unwrap();
                let _ = socket.send_to(&writer.packet(&slot), to);
                sent += 1;
                let next = anchor + FRAME * u32::try_from(sent).unwrap_or(u32::MAX);
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            sent
        });
        Talker {
            queue,
            to,
            tone,
            stop,
            thread: Some(thread),
        }
    }

    /// Send to `to` from the next packet on.
    pub fn retarget(&self, to: SocketAddr) {
        *self.to.lock().unwrap() = to;
    }

    /// Queue slots to send next, one per 20 ms, before anything else.
    pub fn say(&self, slots: Vec<Slot>) {
        self.queue.lock().unwrap().extend(slots);
    }

    /// From now on, whenever nothing is queued, send a continuous sine at `freq` Hz
    /// (`None`: silence).
    pub fn tone(&self, freq: Option<f32>) {
        *self.tone.lock().unwrap() = freq;
    }

    /// Stops the thread; how many packets it sent.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map_or(0, |t| t.join().unwrap())
    }
}

impl Drop for Talker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The RFC 4733 event code of a key: `0`-`9`, `*` (10), `#` (11).
pub fn event_code(key: char) -> u8 {
    match key {
        '0'..='9' => key as u8 - b'0',
        '*' => 10,
        '#' => 11,
        other => panic!("no RFC 4733 event for key {other:?}"),
    }
}

// ------------------------------------------------------------------ RTP in (what the caller hears)

/// One datagram as it arrived on the caller's RTP socket.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Instant,
    pub from: SocketAddr,
    pub bytes: Vec<u8>,
}

/// One received 20 ms frame of audio, decoded.
#[derive(Debug, Clone)]
pub struct Heard {
    pub at: Instant,
    pub pcm: Vec<i16>,
}

/// Records every datagram arriving on `socket` into `sink` until stopped; the thread returns
/// them all.
pub fn receive(
    socket: Arc<UdpSocket>,
    stop: Arc<AtomicBool>,
    sink: Arc<Mutex<Vec<Arrival>>>,
) -> JoinHandle<Vec<Arrival>> {
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                sink.lock().unwrap().push(Arrival {
                    at: Instant::now(),
                    from,
                    bytes: buf[..n].to_vec(),
                });
            }
        }
        sink.lock().unwrap().clone()
    })
}

/// The G.711 audio among `arrivals` (PCMU or PCMA packets; events and other payload types
/// left out), decoded, in arrival order.
pub fn decode_audio(arrivals: &[Arrival]) -> Vec<Heard> {
    arrivals
        .iter()
        .filter_map(|a| {
            let packet = rtp::parse(&a.bytes).ok()?;
            let codec = Codec::from_payload_type(packet.payload_type)?;
            Some(Heard {
                at: a.at,
                pcm: codec.decode_to_vec(packet.payload),
            })
        })
        .collect()
}

// ------------------------------------------------------------------ one call

/// One call from the test UA: SIP plus its RTP socket, receiver thread and talker.
///
/// ```text
///   let mut citizen = Caller::call(server.addr(), "100");
///   citizen.press('1');            // RFC 4733, 100 ms
///   citizen.send_tone(1000.0);     // then a continuous 1 kHz sine (PCMU)
///   ...
///   assert!(tone::has_tone(&citizen.heard_pcm_since(t0), 600.0));
///   citizen.hang_up();             // BYE, 200 OK   (or: citizen.await_bye(limit))
/// ```
///
/// Dropping it stops its threads (it sends no BYE).
pub struct Caller {
    pub sip: SipCall,
    pub rtp: Arc<UdpSocket>,
    pub answer: Answer,
    /// The status codes the INVITE got (provisional ones, then 200).
    pub statuses: Vec<u16>,
    stop: Arc<AtomicBool>,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    receiver: Option<JoinHandle<Vec<Arrival>>>,
    talker: Option<Talker>,
}

impl Caller {
    /// INVITE `number` at `server` (request URI `sip:number@server`), wait for the 200 OK
    /// (20 s at most, else panic), ACK, and start sending silence and receiving.
    pub fn call(server: SocketAddr, number: &str) -> Caller {
        Caller::call_from(server, number, DEFAULT_CALLER)
    }

    /// [`Caller::call`] from the number `caller` (the user part of From).
    pub fn call_from(server: SocketAddr, number: &str, caller: &str) -> Caller {
        let rtp = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        // Listen before the INVITE: the first packet may follow the ACK at once.
        let receiver = receive(rtp.clone(), stop.clone(), arrivals.clone());
        let mut sip = SipCall::new_from(server, number, caller);
        let (statuses, answer) = sip.invite(rtp.local_addr().unwrap());
        let talker = Talker::start(rtp.clone(), answer.rtp);
        Caller {
            sip,
            rtp,
            answer,
            statuses,
            stop,
            arrivals,
            receiver: Some(receiver),
            talker: Some(talker),
        }
    }

    pub fn talker(&self) -> &Talker {
        self.talker.as_ref().expect("the call's media is running")
    }

    /// Press `key` (`0`-`9`, `*`, `#`) as RFC 4733 events lasting 100 ms.
    pub fn press(&self, key: char) {
        self.talker().say(event_slots(event_code(key), 100));
    }

    /// Send a continuous sine at `freq` Hz (PCMU) from now on, after whatever is queued
    /// (a key pressed just before goes out first).
    pub fn send_tone(&self, freq: f32) {
        self.talker().tone(Some(freq));
    }

    /// Answer the server's requests for up to `limit` (see [`SipCall::serve`]); a re-INVITE
    /// moves the audio: sent to, and heard from, the address it offers. Whether one did.
    pub fn serve(&mut self, limit: Duration) -> bool {
        let Some(moved) = self.sip.serve(limit) else {
            return false;
        };
        self.answer.rtp = moved;
        self.talker().retarget(moved);
        true
    }

    /// Send silence from now on (after whatever is queued).
    pub fn send_silence(&self) {
        self.talker().tone(None);
    }

    /// Every datagram received so far (from anyone), in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals.lock().unwrap().clone()
    }

    /// The audio received so far from the address of the SDP answer, decoded, frame by frame
    /// with arrival times.
    pub fn heard(&self) -> Vec<Heard> {
        let arrivals = self.arrivals.lock().unwrap();
        let from_peer: Vec<Arrival> = arrivals
            .iter()
            .filter(|a| a.from == self.answer.rtp)
            .cloned()
            .collect();
        decode_audio(&from_peer)
    }

    /// The audio received from the answer's address since `since`, decoded and joined
    /// (8 kHz PCM, frames in arrival order): what `tone::has_tone` looks at.
    pub fn heard_pcm_since(&self, since: Instant) -> Vec<i16> {
        self.heard()
            .into_iter()
            .filter(|h| h.at >= since)
            .flat_map(|h| h.pcm)
            .collect()
    }

    /// Hang up: BYE, and wait (10 s at most) for its final response, which must be 200;
    /// then stop the media threads. Panics with what happened otherwise.
    pub fn hang_up(&mut self) {
        let status = self.sip.bye(Duration::from_secs(10));
        self.stop_media();
        assert_eq!(
            status,
            Some(200),
            "the BYE of call {} got {status:?} (None: no answer in 10 s)",
            self.sip.call_id
        );
    }

    /// Wait up to `limit` for the other side's BYE and answer it 200 OK; when it came
    /// (`None`: it did not). The media threads go on until [`Caller::stop_media`] or drop.
    pub fn await_bye(&mut self, limit: Duration) -> Option<Instant> {
        self.sip.await_bye(limit)
    }

    /// Stops the talker and the receiver: what arrived, and how many packets were sent.
    pub fn stop_media(&mut self) -> (Vec<Arrival>, u64) {
        let sent = self.talker.take().map_or(0, Talker::finish);
        self.stop.store(true, Ordering::Relaxed);
        let arrivals = match self.receiver.take() {
            Some(receiver) => receiver.join().unwrap(),
            None => self.arrivals(),
        };
        (arrivals, sent)
    }

    /// Waits for the other side's BYE (answered), lets 200 ms of media arrive, then stops the
    /// media threads: what arrived and how many packets the caller sent; `None` when no BYE
    /// came within `limit`.
    pub fn finish_after_bye(&mut self, limit: Duration) -> Option<(Vec<Arrival>, u64)> {
        self.sip.await_bye(limit)?;
        std::thread::sleep(Duration::from_millis(200));
        Some(self.stop_media())
    }
}

impl Drop for Caller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
