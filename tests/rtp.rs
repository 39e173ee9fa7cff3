//! `centralino serve` seen from the wire, by a small user agent written here: SIP by hand over a
//! plain `UdpSocket`, RTP in and out on the test's own socket.
//!
//! ```text
//!   test UA                                   centralino serve
//!   ───────                                   ────────────────
//!   INVITE (SDP: PCMU 0, telephone-event 101) ──►
//!                       ◄── 100 / 180 / 200 OK (SDP answer: the server's RTP address)
//!   ACK ──►
//!   receiver thread ◄── RTP every 20 ms ──── prompts (espeak-ng → G.711)
//!   sender thread ──── RTP every 20 ms ──►   silence, sox DTMF tones, RFC 4733 events
//!   stranger socket ── RTP ──►               (must be ignored)
//!                       ◄── BYE;  200 OK ──►
//! ```
//!
//! What is checked: the stream's pacing (packets per elapsed time, median and p95 of the
//! inter-arrival times, printed), its headers (sequence +1, timestamp +160, one SSRC, payload
//! type 0, marker on the first packet only), that its payload *is* the prompt audio, that
//! in-band tones and RFC 4733 events from the caller drive the flow, and that RTP from any other
//! address does not.
//!
//! Every test starts its own server on free ports and stops it by PID, also on failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use centralino_runtime::engine::Media;
use centralino_runtime::media::codec::Codec;
use centralino_runtime::media::dtmf::detect_all;
use centralino_runtime::media::prompt::{
    EncodedPrompt, Frame, PromptCache, PromptCacheConfig, SpeechCommand, load_pcm,
};
use centralino_runtime::media::rtp;
use centralino_runtime::media::{FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE};
use support::{Server, test_flows};

const FRAME: Duration = Duration::from_millis(FRAME_MS as u64);
/// The dynamic payload type the test offers for telephone-event.
const EVENT_PT: u8 = 101;

// ------------------------------------------------------------------ SIP by hand

/// One SIP message as text: start line, headers in order, body.
#[derive(Debug, Clone)]
struct SipMessage {
    start: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl SipMessage {
    fn parse(bytes: &[u8]) -> Option<SipMessage> {
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
    fn header(&self, name: &str) -> Option<&str> {
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
    fn header_lines(&self, name: &str, compact: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name) || n.eq_ignore_ascii_case(compact))
            .map(|(n, v)| format!("{n}: {v}"))
            .collect()
    }

    fn status(&self) -> Option<u16> {
        let rest = self.start.strip_prefix("SIP/2.0 ")?;
        rest.split(' ').next()?.parse().ok()
    }

    fn method(&self) -> Option<&str> {
        if self.start.starts_with("SIP/2.0") {
            return None;
        }
        self.start.split(' ').next()
    }
}

/// The server's SDP answer, as far as the test needs it.
#[derive(Debug, Clone, Copy)]
struct Answer {
    rtp: SocketAddr,
    payload_type: u8,
    event_payload_type: Option<u8>,
}

fn parse_answer(sdp: &str) -> Answer {
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

/// One call from the test to the server, SIP side.
struct SipCall {
    socket: UdpSocket,
    server: SocketAddr,
    number: String,
    call_id: String,
    from: String,
    /// The To header of the 200 OK (with the server's tag).
    to: Option<String>,
    /// Where in-dialog requests go (the server's Contact).
    remote_target: Option<String>,
    branches: u32,
}

impl SipCall {
    fn new(server: SocketAddr, number: &str) -> SipCall {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let local = socket.local_addr().unwrap();
        let n = CALLS.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n}", std::process::id());
        SipCall {
            socket,
            server,
            number: number.to_owned(),
            call_id: format!("rtp-test-{id}@127.0.0.1"),
            from: format!("<sip:3331234567@{local}>;tag=ua-{id}"),
            to: None,
            remote_target: None,
            branches: 0,
        }
    }

    fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    fn via(&mut self) -> String {
        self.branches += 1;
        format!(
            "Via: SIP/2.0/UDP {};branch=z9hG4bK-rtp-{}-{};rport",
            self.local(),
            self.call_id.split('@').next().unwrap_or_default(),
            self.branches
        )
    }

    fn send(&self, text: &str) {
        self.socket.send_to(text.as_bytes(), self.server).unwrap();
    }

    /// The next SIP message within `timeout`, if any.
    fn recv(&self, timeout: Duration) -> Option<SipMessage> {
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
    fn invite(&mut self, rtp: SocketAddr) -> (Vec<u16>, Answer) {
        let sdp = format!(
            "v=0\r\no=rtp-test 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0 {EVENT_PT}\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:{EVENT_PT} telephone-event/8000\r\na=fmtp:{EVENT_PT} 0-15\r\n\
             a=ptime:20\r\na=sendrecv\r\n",
            ip = rtp.ip(),
            port = rtp.port()
        );
        let via = self.via();
        let invite = format!(
            "INVITE sip:{number}@{server} SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\n\
             From: {from}\r\nTo: <sip:{number}@{server}>\r\nCall-ID: {call_id}\r\n\
             CSeq: 1 INVITE\r\nContact: <sip:3331234567@{local}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            number = self.number,
            server = self.server,
            from = self.from,
            call_id = self.call_id,
            local = self.local(),
            len = sdp.len(),
        );
        self.send(&invite);
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        let ok = loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .expect("no final response to the INVITE within 10 s");
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
    fn ack(&mut self) {
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
    fn await_bye(&mut self, limit: Duration) -> Option<Instant> {
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
                _ => {}
            }
        }
    }
}

// ------------------------------------------------------------------ RTP out (the caller's voice)

/// What the caller sends in one 20 ms slot.
#[derive(Debug, Clone)]
enum Slot {
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
struct RtpWriter {
    ssrc: u32,
    sequence: u16,
    clock: u32,
    event_start: u32,
    first: bool,
}

impl RtpWriter {
    fn new(ssrc: u32) -> RtpWriter {
        RtpWriter {
            ssrc,
            sequence: 1000,
            clock: 160_000,
            event_start: 0,
            first: true,
        }
    }

    /// The packet of the next slot; the clock moves 20 ms whatever it holds.
    fn packet(&mut self, slot: &Slot) -> Vec<u8> {
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
fn event_slots(code: u8, ms: u32) -> Vec<Slot> {
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
fn audio_slots(pcm: &[i16]) -> Vec<Slot> {
    pcm.chunks(FRAME_SAMPLES)
        .map(|chunk| {
            let mut frame = chunk.to_vec();
            frame.resize(FRAME_SAMPLES, 0);
            Slot::Audio(frame)
        })
        .collect()
}

/// The caller's outgoing stream: a thread sending one packet every 20 ms (absolute deadlines),
/// the queued slots first, silence when the queue is empty, as a phone does.
struct Talker {
    queue: Arc<Mutex<VecDeque<Slot>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Talker {
    fn start(socket: Arc<UdpSocket>, to: SocketAddr) -> Talker {
        let queue = Arc::new(Mutex::new(VecDeque::<Slot>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (q, s) = (queue.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut writer = RtpWriter::new(0x7e57_ca11);
            let anchor = Instant::now();
            let mut sent = 0u64;
            while !s.load(Ordering::Relaxed) {
                let slot = q
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or_else(|| Slot::Audio(vec![0; FRAME_SAMPLES]));
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
            stop,
            thread: Some(thread),
        }
    }

    fn say(&self, slots: Vec<Slot>) {
        self.queue.lock().unwrap().extend(slots);
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map_or(0, |t| t.join().unwrap())
    }
}

impl Drop for Talker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The DTMF tone of `key` (100 ms on, then 100 ms of silence) as 8 kHz PCM: a WAV made by sox
/// and decoded by the server's own prompt decoder; synthesized here only when sox is missing.
fn dtmf_tone(key: char, dir: &Path) -> Vec<i16> {
    let (low, high) = match key {
        '1' => (697.0, 1209.0),
        '2' => (697.0, 1336.0),
        '5' => (770.0, 1336.0),
        '#' => (941.0, 1477.0),
        other => panic!("no tone table entry for {other}"),
    };
    let wav = dir.join(format!("dtmf-{}.wav", u32::from(key)));
    let made = Command::new("sox")
        .args([
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
        ])
        .arg(&wav)
        .args(["synth", "0.1", "sine", &format!("{low}"), "sine", "mix"])
        .arg(format!("{high}"))
        .args(["gain", "-6", "pad", "0", "0.1"])
        .status();
    let mut pcm = match made {
        Ok(status) if status.success() => load_pcm(&wav, 10).unwrap(),
        _ => {
            eprintln!("note: sox is not installed; the DTMF tone is synthesized in the test");
            (0..800)
                .map(|n| {
                    let t = f64::from(n) / f64::from(SAMPLE_RATE);
                    let s = (2.0 * std::f64::consts::PI * low * t).sin()
                        + (2.0 * std::f64::consts::PI * high * t).sin();
                    (s * 6000.0) as i16
                })
                .chain(std::iter::repeat_n(0, 800))
                .collect()
        }
    };
    pcm.resize(1600, 0);
    // The tone must be a key press for the server's own detector before it goes on the wire.
    assert_eq!(detect_all(&pcm), key.to_string(), "the tone of {key}");
    pcm
}

// ------------------------------------------------------------------ RTP in (what the server says)

struct Arrival {
    at: Instant,
    from: SocketAddr,
    bytes: Vec<u8>,
}

/// Records every datagram arriving on `socket` until stopped.
fn receive(socket: Arc<UdpSocket>, stop: Arc<AtomicBool>) -> JoinHandle<Vec<Arrival>> {
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    std::thread::spawn(move || {
        let mut arrivals = Vec::new();
        let mut buf = vec![0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                arrivals.push(Arrival {
                    at: Instant::now(),
                    from,
                    bytes: buf[..n].to_vec(),
                });
            }
        }
        arrivals
    })
}

/// The figures of one received stream.
#[derive(Debug)]
struct StreamReport {
    packets: usize,
    /// Packets the elapsed time (first to last arrival) calls for at one per 20 ms.
    expected: usize,
    median_ms: f64,
    p95_ms: f64,
    max_ms: f64,
    /// Timestamp jumps of more than one frame (frames the server's pacer skipped after a stall).
    skipped_frames: u64,
    /// The PCMU payloads, in order.
    frames: Vec<Vec<u8>>,
}

/// Checks the RTP headers of the server's stream and measures its pacing.
fn check_stream(arrivals: &[Arrival], answer: &Answer) -> StreamReport {
    assert!(arrivals.len() > 50, "too little RTP: {}", arrivals.len());
    for a in arrivals {
        // Symmetric RTP: the server sends from the address its SDP answer gave.
        assert_eq!(a.from, answer.rtp, "RTP from an unexpected address");
    }
    let packets: Vec<rtp::Packet<'_>> = arrivals
        .iter()
        .map(|a| rtp::parse(&a.bytes).unwrap())
        .collect();
    let first = packets[0];
    assert!(first.marker, "the first packet carries the marker bit");
    let mut skipped_frames = 0u64;
    for (i, pair) in packets.windows(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        assert_eq!(b.ssrc, first.ssrc, "one SSRC (packet {})", i + 1);
        assert_eq!(b.payload_type, 0, "PCMU (packet {})", i + 1);
        assert!(!b.marker, "marker bit on packet {} (only the first)", i + 1);
        assert_eq!(
            b.sequence,
            a.sequence.wrapping_add(1),
            "sequence numbers are continuous (packet {})",
            i + 1
        );
        let step = b.timestamp.wrapping_sub(a.timestamp);
        // +160 per packet. The pacer may skip frames after a stall of more than 60 ms (the
        // timestamp then jumps by whole frames and the sequence does not): allowed, counted,
        // and bounded below.
        assert!(
            step >= 160 && step % 160 == 0 && step <= 160 * 200,
            "timestamp step {step} at packet {}",
            i + 1
        );
        skipped_frames += u64::from(step / 160 - 1);
    }
    assert_eq!(first.payload_type, answer.payload_type);
    for p in &packets {
        assert_eq!(p.payload.len(), FRAME_SAMPLES, "20 ms of G.711 per packet");
    }
    let mut gaps: Vec<f64> = arrivals
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at).as_secs_f64() * 1000.0)
        .collect();
    // The stream starts on its own 20 ms grid: no burst of frames "due" since the INVITE.
    let opening = &gaps[..5];
    eprintln!("RTP from the server: the first inter-arrival gaps (ms): {opening:.2?}");
    assert!(
        opening.iter().all(|&gap| gap > 5.0),
        "the stream opens with a burst: {opening:.2?} ms"
    );
    gaps.sort_by(f64::total_cmp);
    let quantile = |q: f64| gaps[((gaps.len() - 1) as f64 * q).round() as usize];
    let elapsed = arrivals
        .last()
        .unwrap()
        .at
        .duration_since(arrivals[0].at)
        .as_secs_f64();
    let report = StreamReport {
        packets: packets.len(),
        expected: (elapsed * 1000.0 / f64::from(FRAME_MS)).round() as usize + 1,
        median_ms: quantile(0.5),
        p95_ms: quantile(0.95),
        max_ms: *gaps.last().unwrap(),
        skipped_frames,
        frames: packets.iter().map(|p| p.payload.to_vec()).collect(),
    };
    eprintln!(
        "RTP from the server: {} packets over {:.3} s (expected {} at 20 ms), inter-arrival \
         median {:.2} ms, p95 {:.2} ms, max {:.2} ms, frames skipped by the pacer: {}",
        report.packets,
        elapsed,
        report.expected,
        report.median_ms,
        report.p95_ms,
        report.max_ms,
        report.skipped_frames
    );
    assert!(
        report.packets.abs_diff(report.expected) <= 3 + report.expected / 200,
        "packet count {} for {:.3} s: expected {} ± {}",
        report.packets,
        elapsed,
        report.expected,
        3 + report.expected / 200
    );
    assert!(
        (18.0..=22.0).contains(&report.median_ms),
        "median inter-arrival {:.2} ms",
        report.median_ms
    );
    assert!(
        report.p95_ms < 30.0,
        "p95 inter-arrival {:.2} ms",
        report.p95_ms
    );
    assert!(
        report.skipped_frames <= 2 + report.packets as u64 / 100,
        "the pacer skipped {} frames",
        report.skipped_frames
    );
    report
}

/// A text prompt rendered the way the server renders it: the same `PromptCache` pipeline
/// (espeak-ng, voice `it`, decode, resample to 8 kHz, G.711), with its own speech directory.
fn render(text: &str) -> Arc<EncodedPrompt> {
    let dir = tempfile::tempdir().unwrap();
    let defaults = PromptCacheConfig::default();
    let cache = PromptCache::new(PromptCacheConfig {
        speech: SpeechCommand {
            dir: dir.path().join("speech"),
            ..defaults.speech.clone()
        },
        ..defaults
    });
    cache
        .get_or_load(&Media::Speech {
            text: text.to_owned(),
            language: String::from("it"),
        })
        .unwrap_or_else(|e| panic!("cannot render {text:?} (is espeak-ng installed?): {e}"))
}

fn is_silence(frame: &[u8]) -> bool {
    // μ-law has two zeros: 0xFF (+0) and 0x7F (−0).
    frame.iter().all(|&b| b == 0xFF || b == 0x7F)
}

/// Where the prompt plays in the received frames: the index of its first non-silent frame.
///
/// The comparison is byte-for-byte, not a correlation: the server sends the prompt's
/// pre-encoded 20 ms frames as they are, one per packet, and the test renders the same text
/// with the same deterministic pipeline (espeak-ng's output does not vary from run to run, the
/// resampler and the G.711 tables are pure), so any difference is a real fault (a lost,
/// repeated, reordered or re-encoded frame). The prompt's leading silent frames are skipped:
/// they cannot be told from the silence the server sends while a prompt is loading.
fn find_prompt(received: &[Vec<u8>], prompt: &EncodedPrompt, name: &str) -> usize {
    let frames: &[Frame] = prompt.frames(Codec::Pcmu);
    let start = frames
        .iter()
        .position(|f| !is_silence(f))
        .unwrap_or_else(|| panic!("the rendered {name} is all silence"));
    let wanted = &frames[start..];
    let mut best = (0usize, 0usize);
    for (at, _) in received
        .iter()
        .enumerate()
        .filter(|(_, f)| f.as_slice() == wanted[0].as_slice())
    {
        let matching = wanted
            .iter()
            .zip(&received[at..])
            .take_while(|(w, r)| w.as_slice() == r.as_slice())
            .count();
        if matching == wanted.len() {
            eprintln!(
                "{name}: all {} non-silent frames found byte-for-byte from received frame {at}",
                wanted.len()
            );
            return at;
        }
        best = best.max((matching, at));
    }
    panic!(
        "{name} ({} frames) is not in the received audio; best run: {} frames from frame {}",
        wanted.len(),
        best.0,
        best.1
    );
}

/// One call from the test UA: SIP plus its RTP socket, receiver thread and talker.
struct Caller {
    sip: SipCall,
    rtp: Arc<UdpSocket>,
    answer: Answer,
    statuses: Vec<u16>,
    stop: Arc<AtomicBool>,
    receiver: Option<JoinHandle<Vec<Arrival>>>,
    talker: Option<Talker>,
}

impl Caller {
    fn call(server: &Server, number: &str) -> Caller {
        let rtp = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        // Listen before the INVITE: the first packet may follow the ACK at once.
        let receiver = receive(rtp.clone(), stop.clone());
        let mut sip = SipCall::new(server.addr(), number);
        let (statuses, answer) = sip.invite(rtp.local_addr().unwrap());
        let talker = Talker::start(rtp.clone(), answer.rtp);
        Caller {
            sip,
            rtp,
            answer,
            statuses,
            stop,
            receiver: Some(receiver),
            talker: Some(talker),
        }
    }

    fn talker(&self) -> &Talker {
        self.talker.as_ref().unwrap()
    }

    /// Waits for the server's BYE (answered), then stops the media threads; returns what
    /// arrived and how many packets the caller sent.
    fn hang_up_after_bye(&mut self, limit: Duration, server: &Server) -> (Vec<Arrival>, u64) {
        let bye = self.sip.await_bye(limit);
        assert!(
            bye.is_some(),
            "no BYE from the server within {limit:?}:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
        let sent = self.talker.take().unwrap().finish();
        self.stop.store(true, Ordering::Relaxed);
        let arrivals = self.receiver.take().unwrap().join().unwrap();
        (arrivals, sent)
    }
}

impl Drop for Caller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn have_tools() -> bool {
    let espeak = Command::new("espeak-ng").arg("--version").output().is_ok();
    if !espeak {
        eprintln!("espeak-ng is not installed: the RTP tests cannot compare prompts; not run");
    }
    espeak
}

// ------------------------------------------------------------------ the tests

/// The welcome prompt arrives as a well-formed, 20 ms-paced PCMU stream carrying exactly the
/// prompt's audio; key 1 sent as in-band tones (a sox WAV, as RTP) opens a ticket, which is read
/// back before the server hangs up.
#[test]
fn prompt_audio_is_paced_and_inband_tones_drive_the_menu() {
    if !have_tools() {
        return;
    }
    let mut server = Server::start(&test_flows(), &[]);
    let tones = tempfile::tempdir().unwrap();
    let one = dtmf_tone('1', tones.path());
    let mut caller = Caller::call(&server, "100");
    eprintln!("the INVITE got {:?}", caller.statuses);
    assert_eq!(caller.statuses.last(), Some(&200));
    assert!(
        caller.statuses.contains(&100) && caller.statuses.contains(&180),
        "trying and ringing before the answer: {:?}",
        caller.statuses
    );
    assert_eq!(caller.answer.payload_type, 0, "PCMU was offered first");
    assert_eq!(caller.answer.event_payload_type, Some(EVENT_PT));
    let rtp_local = caller.rtp.local_addr().unwrap();
    assert_ne!(caller.answer.rtp, rtp_local);

    // "Benvenuto." (about 1 s), then the menu: press 1 while it plays (barge-in).
    std::thread::sleep(Duration::from_millis(2500));
    caller.talker().say(audio_slots(&one));
    let (arrivals, sent) = caller.hang_up_after_bye(Duration::from_secs(20), &server);
    eprintln!("the caller sent {sent} packets (silence and the tone of 1)");
    let report = check_stream(&arrivals, &caller.answer);

    assert!(server.stop().success(), "clean shutdown:\n{}", server.log());
    let tickets = server.tickets();
    assert_eq!(
        tickets.len(),
        1,
        "one ticket: {tickets:?}\n{}",
        server.log()
    );
    assert_eq!(tickets[0]["category"], "prova");
    let reference = tickets[0]["reference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with("PG-"), "{tickets:?}");

    let welcome = find_prompt(&report.frames, &render("Benvenuto."), "Benvenuto.");
    let read_back_text = format!("Segnalazione {reference}.");
    let read_back = find_prompt(&report.frames, &render(&read_back_text), &read_back_text);
    assert!(
        welcome < read_back,
        "the welcome plays before the read-back"
    );
}

/// Key 1 from a stranger's address (in-band tones and RFC 4733 events, to the server's RTP
/// port) is ignored; key 2 as RFC 4733 events from the caller takes the message path: the long
/// message plays, then goodbye, and no ticket is opened. The server rings 45 ms before it
/// answers, as a far caller's round trip would delay the ACK: the stream must still open on its
/// 20 ms grid (it once sent the frames "due" since the INVITE back to back).
#[test]
fn rfc4733_events_work_and_rtp_from_a_stranger_is_ignored() {
    if !have_tools() {
        return;
    }
    let mut server = Server::start(&test_flows(), &["--answer-after-ms", "45"]);
    let tones = tempfile::tempdir().unwrap();
    let one = dtmf_tone('1', tones.path());
    let mut caller = Caller::call(&server, "100");
    std::thread::sleep(Duration::from_millis(2000));

    // The stranger: another socket, its own SSRC, key 1 twice over, while the menu plays.
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut writer = RtpWriter::new(0x0bad_0bad);
    let mut slots = audio_slots(&one);
    slots.extend(event_slots(1, 100));
    for slot in &slots {
        stranger
            .send_to(&writer.packet(slot), caller.answer.rtp)
            .unwrap();
        std::thread::sleep(FRAME);
    }
    std::thread::sleep(Duration::from_millis(800));
    caller.talker().say(event_slots(2, 100));

    let (arrivals, _) = caller.hang_up_after_bye(Duration::from_secs(30), &server);
    let report = check_stream(&arrivals, &caller.answer);
    assert!(server.stop().success(), "clean shutdown:\n{}", server.log());
    let tickets = server.tickets();
    assert!(
        tickets.is_empty(),
        "the stranger's key 1 opened a ticket: {tickets:?}"
    );
    let message = find_prompt(
        &report.frames,
        &render(
            "Questo è un messaggio lungo che dura parecchi secondi, così il chiamante può \
             riattaccare mentre lo ascolta, prima della fine.",
        ),
        "the long message",
    );
    let goodbye = find_prompt(&report.frames, &render("Arrivederci."), "Arrivederci.");
    assert!(message < goodbye);
}

/// Issue 5: reloading the flows (ten publishes while the caller listens to a long message)
/// does not disturb the pacing of the call in progress, which also keeps its version.
#[test]
fn pacing_holds_while_the_flows_are_reloaded() {
    if !have_tools() {
        return;
    }
    let flows = tempfile::tempdir().unwrap();
    let file = flows.path().join("main.flow");
    let original = std::fs::read_to_string(test_flows().join("main.flow")).unwrap();
    std::fs::write(&file, &original).unwrap();
    let server = Server::start(flows.path(), &[]);
    server.wait_for("watching the flows", Duration::from_secs(10));
    let mut caller = Caller::call(&server, "100");
    assert_eq!(caller.statuses.last(), Some(&200));
    // Key 2: the long message (several seconds), then goodbye.
    std::thread::sleep(Duration::from_millis(2500));
    caller.talker().say(event_slots(2, 100));
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..10 {
        let edited = original.replace("Arrivederci.", &format!("Arrivederci ({i})."));
        std::fs::write(&file, edited).unwrap();
        std::thread::sleep(Duration::from_millis(250));
    }
    let (arrivals, _) = caller.hang_up_after_bye(Duration::from_secs(30), &server);
    let publishes = server.log().matches("published").count();
    eprintln!("{publishes} versions published during the call");
    assert!(
        publishes >= 5,
        "the edits were published:\n{}",
        server.log()
    );
    // check_stream asserts the pacing (median 18-22 ms, p95 < 30 ms, no burst of skips).
    let report = check_stream(&arrivals, &caller.answer);
    // The call kept its version: it says the original goodbye, not an edited one.
    find_prompt(&report.frames, &render("Arrivederci."), "Arrivederci.");
}
