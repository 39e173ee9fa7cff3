//! N staff phones in one process, for load (issue 9): they REGISTER with MD5 digest, re-register
//! every `--interval` seconds, and answer the calls the server places to them (transfers) with
//! 200 OK, PCMU audio every 20 ms and the server's audio received and measured.
//!
//! ```text
//!  phone tasks (tokio, one per phone) ──REGISTER (digest MD5, qop=auth)──► SIP sockets
//!     (--sip-sockets, shared; phone i sends from socket i % n, its Contact names that socket)
//!  SIP sockets ──responses by Call-ID──► the phone's pending REGISTER
//!              ──INVITE / ACK / BYE / CANCEL / OPTIONS──► answered at once (200 OK + SDP)
//!  media: one sender thread ticks every 20 ms and sends one PCMU packet per live call from the
//!         call's own address (127.2.0.0 + call number + 1, IP_PKTINFO) on shared wildcard RTP
//!         sockets (--rtp-sockets); one receive thread per socket (recvmmsg, kernel timestamps)
//!         keeps the RFC 3550 statistics of what each call hears (centralino_bench::rtpstats).
//! ```
//!
//! A phone on a call answers another INVITE with 486 Busy Here, as a one-line desk phone does
//! (`--answer-when-busy` answers it all the same, as a phone with call waiting would). How late
//! the sender thread's ticks were is reported, so that the lateness a caller hears through the
//! bridge can be told apart from this process's own.
//!
//! Registration like a phone: the first REGISTER goes without credentials and takes the 401's
//! nonce; later ones reuse that nonce with the next nonce count (`nc`), and a 401 (the nonce is
//! stale after 5 minutes) is answered once more with the new challenge;
//! `--challenge-each-time` starts every refresh without credentials instead. Passwords are
//! `--password-prefix` + extension (bench only), so HA1 = MD5(ext:realm:password), which
//! `bench/load.sh` writes into the server's `[staff.accounts]`.
//!
//! Keys: with `--keys 1` a phone presses 1 (RFC 4733) `--key-delay-ms` after answering, and with
//! `--key-every-ms` again and again for as long as the call lasts (staff answering every prompt
//! of the callback dialer with 1: "call the citizen", then "close the request").
//!
//! The trunk gateway: with `--gateway ADDR` the process also listens there as the gateway the
//! callback dialer calls citizens through. An INVITE there is answered at once for any number,
//! with its own RTP address and audio both ways like a phone's call, and hung up with a BYE
//! (retransmitted until answered, at most 8 s) `--gateway-hold` seconds after the answer. The
//! times of the phones' and the gateway's answers are reported (the dialer's setup rate).
//!
//! With `--interval 0` every phone registers once (for `--expires`) and then only answers calls;
//! `--ready-file` is written once every phone has registered. The run ends after `--duration`
//! seconds or on SIGTERM/SIGINT; then one JSON document goes to stdout (registrations: answers by
//! status, failures, timeouts, latency, answers per second; calls: answered, ended, media), a
//! one-line summary to stderr. With `--server-pid`, the server's CPU and RSS are sampled every
//! second: CPU over the steady part (from one interval + 2 s after the start to the end), and
//! RSS per phone against the server's RSS before the first REGISTER.

use std::collections::{BTreeMap, HashMap};
use std::io::IoSlice;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use centralino_bench::dtmf::{DTMF_PT, KeyPress, key_event};
use centralino_bench::procfs::{self, CpuWindow, ProcSample, UdpCounters};
use centralino_bench::rtprecv;
use centralino_bench::rtpstats::StreamStats;
use centralino_bench::sip::{Message, branch};
use centralino_bench::stats::{Histogram, Summary};
use clap::Parser;
use md5::{Digest, Md5};
use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrIn, sendmsg, setsockopt, sockopt};
use serde::Serialize;
use serde_json::json;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::sleep_until;

#[derive(Debug, Parser)]
#[command(
    about = "N staff phones: REGISTER with digest, answer calls with audio (see the file header)"
)]
struct Args {
    /// The server's SIP address (loopback only).
    #[arg(long)]
    target: SocketAddr,
    /// Phones (one extension each).
    #[arg(long, default_value_t = 10)]
    phones: usize,
    /// The first extension; phone i is `first + i`.
    #[arg(long, default_value_t = 10_000)]
    first_extension: u32,
    #[arg(long, default_value = "centralino")]
    realm: String,
    /// Each phone's password is this prefix and its extension.
    #[arg(long, default_value = "pw")]
    password_prefix: String,
    /// Expires asked in each REGISTER, seconds.
    #[arg(long, default_value_t = 3600)]
    expires: u32,
    /// Seconds between a phone's REGISTERs (0: once). Phones start at random offsets within
    /// one interval, as phones booted at different times do.
    #[arg(long, default_value_t = 0.0)]
    interval: f64,
    /// First REGISTERs per second when `--interval` is 0.
    #[arg(long, default_value_t = 500.0)]
    register_rate: f64,
    /// Seconds to run (SIGTERM ends it earlier).
    #[arg(long, default_value_t = 3600.0)]
    duration: f64,
    #[arg(long, default_value_t = 8)]
    sip_sockets: usize,
    #[arg(long, default_value_t = 2)]
    rtp_sockets: usize,
    /// Read the RTP sockets every this many ms instead of sleeping on them (0: sleep on them).
    /// On loopback, a packet sent to a thread asleep on its socket makes the sender wake it,
    /// and that wake-up is counted in the sender's CPU (the server's): polling keeps the
    /// server's figure to what it would spend sending through a NIC.
    #[arg(long, default_value_t = 0)]
    receive_poll_ms: u64,
    /// Start every refresh without credentials (401, then the answer), as phones that do not
    /// keep the nonce do: two transactions per refresh.
    #[arg(long)]
    challenge_each_time: bool,
    /// Answer a call to a phone already on a call (else 486 Busy Here).
    #[arg(long)]
    answer_when_busy: bool,
    /// Written (empty) once every phone has registered once.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// The server's PID, to sample its CPU and RSS from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// A name for this run in the JSON.
    #[arg(long, default_value = "")]
    label: String,
    /// Keys pressed (RFC 4733) in each call a phone answers, e.g. "1".
    #[arg(long, default_value = "")]
    keys: String,
    /// When the keys are first pressed, ms after the answer.
    #[arg(long, default_value_t = 500)]
    key_delay_ms: u64,
    /// Press the keys again every this many ms while the call lasts (0: once).
    #[arg(long, default_value_t = 0)]
    key_every_ms: u64,
    /// Also be the trunk gateway at this address (loopback): INVITEs there are answered for any
    /// number, with audio both ways, and hung up after `--gateway-hold` seconds.
    #[arg(long)]
    gateway: Option<SocketAddr>,
    /// Seconds from the gateway's answer to its BYE.
    #[arg(long, default_value_t = 30.0)]
    gateway_hold: f64,
}

/// The SIP sockets, the RTP sockets and the counters every task shares.
struct Shared {
    args: Args,
    rtp: Vec<Arc<RtpPort>>,
    /// REGISTER transactions waiting for their answer, by Call-ID (one per phone).
    pending: Mutex<HashMap<String, mpsc::UnboundedSender<Message>>>,
    /// Calls placed to the phones, by Call-ID.
    calls: Mutex<HashMap<String, Call>>,
    started: Instant,
    counts: Counts,
    /// Final answers to REGISTER per second since the start.
    answers_by_second: Vec<AtomicU64>,
    registered_once: AtomicUsize,
    /// Calls answered so far: each gets its own RTP address.
    next_call: AtomicU32,
    /// The gateway's calls to hang up, to the task that sends their BYEs.
    hang_ups: mpsc::UnboundedSender<HangUp>,
}

/// A gateway call to end with a BYE at `at`.
struct HangUp {
    call_id: String,
    bye: String,
    at: Instant,
}

#[derive(Default)]
struct Counts {
    register_requests: AtomicU64,
    register_retransmissions: AtomicU64,
    ok: AtomicU64,
    challenged: AtomicU64,
    refreshes_ok: AtomicU64,
    refreshes_failed: AtomicU64,
    timeouts: AtomicU64,
    other_statuses: Mutex<BTreeMap<u16, u64>>,
    /// Milliseconds from a refresh's first REGISTER to its 200 (with any 401 between).
    refresh_ms: Mutex<Vec<f64>>,
    /// Milliseconds from a REGISTER to its final answer (each transaction).
    transaction_ms: Mutex<Vec<f64>>,
    invites: AtomicU64,
    invite_retransmissions: AtomicU64,
    answered: AtomicU64,
    acks: AtomicU64,
    byes: AtomicU64,
    cancels: AtomicU64,
    other_requests: AtomicU64,
    unknown_user: AtomicU64,
    no_sdp: AtomicU64,
    /// Calls that came to a phone already on a call (486, unless `--answer-when-busy`).
    second_calls: AtomicU64,
    live: AtomicUsize,
    peak_live: AtomicUsize,
    rtp_sent: AtomicU64,
    keys_sent: AtomicU64,
    /// Seconds since the start of each phone's answer.
    answered_at_s: Mutex<Vec<f64>>,
    gateway: GatewayCounts,
}

/// The trunk gateway's calls.
#[derive(Default)]
struct GatewayCounts {
    /// INVITE requests, retransmissions included.
    invites: AtomicU64,
    invite_retransmissions: AtomicU64,
    answered: AtomicU64,
    /// Seconds since the start of each answer.
    answered_at_s: Mutex<Vec<f64>>,
    byes_sent: AtomicU64,
    bye_retransmissions: AtomicU64,
    byes_answered: AtomicU64,
    bye_timeouts: AtomicU64,
    /// Calls the server hung up before the hold ended.
    ended_by_server: AtomicU64,
}

/// A call a phone (or the gateway) answered.
struct Call {
    /// `None`: a gateway call.
    phone: Option<u32>,
    /// Its RTP address.
    ip: Ipv4Addr,
    to_tag: String,
    answer: String,
    answered_at: Instant,
    acked: bool,
}

/// One live outgoing RTP stream (the sender thread's list).
struct Outgoing {
    from: Ipv4Addr,
    to: SocketAddr,
    socket: usize,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    keys: Option<Keys>,
}

/// The keys a phone presses in one call: all of them from `at`, again every `every`.
struct Keys {
    events: Vec<u8>,
    next: usize,
    round_at: Instant,
    at: Instant,
    every: Option<Duration>,
    press: Option<KeyPress>,
}

/// Between two keys of one round.
const KEY_GAP: Duration = Duration::from_millis(200);

impl Keys {
    /// The press to send a packet of at `now` (whose RTP timestamp is `timestamp`), if any.
    fn due(&mut self, now: Instant, timestamp: u32) -> Option<KeyPress> {
        if self.press.is_none() && now >= self.at {
            let event = *self.events.get(self.next)?;
            self.next += 1;
            self.press = Some(KeyPress::new(event, timestamp));
        }
        let current = self.press?;
        self.press = current.next();
        if self.press.is_none() {
            if self.next < self.events.len() {
                self.at = now + KEY_GAP;
            } else if let Some(every) = self.every {
                self.next = 0;
                self.round_at += every;
                self.at = self.round_at.max(now);
            }
        }
        Some(current)
    }
}

struct RtpPort {
    socket: StdUdpSocket,
    port: u16,
    /// A call's RTP address → the call's number.
    calls: Mutex<HashMap<Ipv4Addr, u32>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The times in `times`, in order.
fn sorted(times: &Mutex<Vec<f64>>) -> Vec<f64> {
    let mut times = lock(times).clone();
    times.sort_by(f64::total_cmp);
    times
}

fn md5_hex(text: &str) -> String {
    hex(&Md5::digest(text.as_bytes()))
}

/// Call `index`'s RTP address (127.2.0.1, 127.2.0.2, ...).
fn call_ip(index: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 2, 0, 1)).wrapping_add(index))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.target.ip().is_loopback(),
        "the load phones only talk to loopback addresses"
    );
    anyhow::ensure!(args.register_rate > 0.0, "--register-rate must be positive");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(args))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn rtp_port() -> anyhow::Result<RtpPort> {
    let socket = StdUdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))?;
    setsockopt(&socket, sockopt::ReceiveTimestampns, &true)?;
    setsockopt(&socket, sockopt::Ipv4PacketInfo, &true)?;
    setsockopt(&socket, sockopt::RxqOvfl, &1)?;
    let _ = setsockopt(&socket, sockopt::RcvBuf, &(8 << 20));
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let port = socket.local_addr()?.port();
    Ok(RtpPort {
        socket,
        port,
        calls: Mutex::new(HashMap::new()),
    })
}

/// Sends one PCMU silence packet per live call every 20 ms (one thread for all calls); returns
/// how late each tick with calls began, ms.
fn send_media(
    shared: Arc<Shared>,
    outgoing: Arc<Mutex<HashMap<String, Outgoing>>>,
    stop: Arc<AtomicBool>,
) -> Vec<f64> {
    let silence = [0xffu8; 160];
    let mut packet = Vec::with_capacity(172);
    let mut next = Instant::now();
    let mut late = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        next += Duration::from_millis(20);
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            // Behind by more than a tick: do not burst to catch up.
            next = now;
        }
        let mut streams = lock(&outgoing);
        if !streams.is_empty() {
            late.push(ms(Instant::now().saturating_duration_since(next)));
        }
        let now = Instant::now();
        for stream in streams.values_mut() {
            let (Some(port), SocketAddr::V4(to)) = (shared.rtp.get(stream.socket), stream.to)
            else {
                continue;
            };
            // A key press replaces the tick's audio (RFC 4733 §2.5.1.2).
            let press = stream
                .keys
                .as_mut()
                .and_then(|keys| keys.due(now, stream.timestamp));
            let event;
            let (payload_type, marker, timestamp, payload, times): (u8, bool, u32, &[u8], usize) =
                match &press {
                    Some(press) => {
                        let times;
                        (event, times) = press.payload();
                        if press.marker() {
                            shared.counts.keys_sent.fetch_add(1, Ordering::Relaxed);
                        }
                        (DTMF_PT, press.marker(), press.timestamp, &event, times)
                    }
                    None => (0, false, stream.timestamp, &silence, 1),
                };
            stream.timestamp = stream.timestamp.wrapping_add(160);
            let info = nix::libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: nix::libc::in_addr {
                    s_addr: u32::from(stream.from).to_be(),
                },
                ipi_addr: nix::libc::in_addr { s_addr: 0 },
            };
            for _ in 0..times {
                packet.clear();
                packet.push(0x80);
                packet.push(payload_type | if marker { 0x80 } else { 0 });
                packet.extend_from_slice(&stream.sequence.to_be_bytes());
                packet.extend_from_slice(&timestamp.to_be_bytes());
                packet.extend_from_slice(&stream.ssrc.to_be_bytes());
                packet.extend_from_slice(payload);
                stream.sequence = stream.sequence.wrapping_add(1);
                if sendmsg(
                    port.socket.as_raw_fd(),
                    &[IoSlice::new(&packet)],
                    &[ControlMessage::Ipv4PacketInfo(&info)],
                    MsgFlags::empty(),
                    Some(&SockaddrIn::from(to)),
                )
                .is_ok()
                {
                    shared.counts.rtp_sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    late
}

/// The last challenge a phone took, reused with the next nonce count.
struct Challenge {
    nonce: String,
    opaque: Option<String>,
    qop: bool,
    nc: u32,
}

/// One phone's registration state.
struct Phone {
    index: u32,
    extension: String,
    ha1: String,
    call_id: String,
    from_tag: String,
    cseq: u32,
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    challenge: Option<Challenge>,
}

/// A `Digest ...` challenge's parameters (quoted or not).
fn challenge_param(header: &str, name: &str) -> Option<String> {
    let rest = header.trim().strip_prefix("Digest")?;
    for part in rest.split(',') {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case(name) {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// The MD5 `WWW-Authenticate` challenge of a 401 (the first one offering MD5 or no algorithm).
fn md5_challenge(answer: &Message) -> Option<Challenge> {
    answer
        .www_authenticate
        .iter()
        .find(|value| {
            challenge_param(value, "algorithm").is_none_or(|a| a.eq_ignore_ascii_case("MD5"))
        })
        .and_then(|value| {
            Some(Challenge {
                nonce: challenge_param(value, "nonce")?,
                opaque: challenge_param(value, "opaque"),
                qop: challenge_param(value, "qop")
                    .is_some_and(|q| q.split(',').any(|q| q.trim() == "auth")),
                nc: 0,
            })
        })
}

impl Phone {
    fn register(&mut self, realm: &str, target: SocketAddr, expires: u32) -> String {
        self.cseq += 1;
        let uri = format!("sip:{target}");
        let mut authorization = String::new();
        if let Some(challenge) = &mut self.challenge {
            challenge.nc += 1;
            let ha2 = md5_hex(&format!("REGISTER:{uri}"));
            let nonce = &challenge.nonce;
            let mut line = format!(
                "Authorization: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
                 uri=\"{uri}\", algorithm=MD5",
                user = self.extension
            );
            if challenge.qop {
                let cnonce = format!("{:016x}", fastrand::u64(..));
                let nc = format!("{:08x}", challenge.nc);
                let response = digest_response(&self.ha1, nonce, &nc, &cnonce, &ha2);
                line.push_str(&format!(
                    ", qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\""
                ));
            } else {
                let response = md5_hex(&format!("{ha1}:{nonce}:{ha2}", ha1 = self.ha1));
                line.push_str(&format!(", response=\"{response}\""));
            }
            if let Some(opaque) = &challenge.opaque {
                line.push_str(&format!(", opaque=\"{opaque}\""));
            }
            line.push_str("\r\n");
            authorization = line;
        }
        format!(
            "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{user}@{host}>;tag={tag}\r\nTo: <sip:{user}@{host}>\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{local}>\r\n\
             Expires: {expires}\r\n{authorization}User-Agent: centralino-load-staff\r\n\
             Content-Length: 0\r\n\r\n",
            local = self.local,
            branch = branch(),
            user = self.extension,
            host = target.ip(),
            tag = self.from_tag,
            call_id = self.call_id,
            cseq = self.cseq,
        )
    }
}

/// RFC 2617 §3.2.2.1 with qop=auth: MD5(HA1:nonce:nc:cnonce:auth:HA2).
fn digest_response(ha1: &str, nonce: &str, nc: &str, cnonce: &str, ha2: &str) -> String {
    md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
}

/// What a refresh ended with.
enum Refresh {
    Registered,
    Failed,
}

/// One REGISTER transaction: sent, retransmitted (timer E, 500 ms doubling to 4 s) until a
/// final answer, for at most 32 s (timer F).
async fn transaction(
    shared: &Shared,
    phone: &Phone,
    request: &str,
    incoming: &mut mpsc::UnboundedReceiver<Message>,
) -> Option<Message> {
    let target = shared.args.target;
    let sent_at = Instant::now();
    shared
        .counts
        .register_requests
        .fetch_add(1, Ordering::Relaxed);
    let _ = phone.socket.send_to(request.as_bytes(), target).await;
    let mut interval = Duration::from_millis(500);
    let mut retransmit_at = sent_at + interval;
    let give_up = sent_at + Duration::from_secs(32);
    let cseq = phone.cseq;
    loop {
        tokio::select! {
            got = incoming.recv() => {
                let message = got?;
                if message.status < 200 || message.cseq_method != "REGISTER" || message.cseq != cseq {
                    continue;
                }
                lock(&shared.counts.transaction_ms).push(ms(sent_at.elapsed()));
                let second = shared.started.elapsed().as_secs() as usize;
                if let Some(bucket) = shared.answers_by_second.get(second) {
                    bucket.fetch_add(1, Ordering::Relaxed);
                }
                return Some(message);
            }
            () = sleep_until(retransmit_at.into()) => {
                let _ = phone.socket.send_to(request.as_bytes(), target).await;
                shared.counts.register_retransmissions.fetch_add(1, Ordering::Relaxed);
                interval = (interval * 2).min(Duration::from_secs(4));
                retransmit_at = Instant::now() + interval;
            }
            () = sleep_until(give_up.into()) => {
                shared.counts.timeouts.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        }
    }
}

/// One refresh: REGISTER with the last challenge (if any); a 401 is answered once with the
/// new challenge.
async fn refresh(
    shared: &Shared,
    phone: &mut Phone,
    incoming: &mut mpsc::UnboundedReceiver<Message>,
) -> Refresh {
    let args = &shared.args;
    let started = Instant::now();
    if args.challenge_each_time {
        phone.challenge = None;
    }
    for _ in 0..3 {
        let request = phone.register(&args.realm, args.target, args.expires);
        let Some(answer) = transaction(shared, phone, &request, incoming).await else {
            return Refresh::Failed;
        };
        match answer.status {
            200 => {
                shared.counts.ok.fetch_add(1, Ordering::Relaxed);
                lock(&shared.counts.refresh_ms).push(ms(started.elapsed()));
                return Refresh::Registered;
            }
            401 => {
                shared.counts.challenged.fetch_add(1, Ordering::Relaxed);
                match md5_challenge(&answer) {
                    Some(challenge) => phone.challenge = Some(challenge),
                    None => return Refresh::Failed,
                }
            }
            status => {
                *lock(&shared.counts.other_statuses)
                    .entry(status)
                    .or_default() += 1;
                return Refresh::Failed;
            }
        }
    }
    Refresh::Failed
}

async fn phone_task(shared: Arc<Shared>, mut phone: Phone, first_at: Instant, end_at: Instant) {
    let (sender, mut incoming) = mpsc::unbounded_channel();
    lock(&shared.pending).insert(phone.call_id.clone(), sender);
    let mut at = first_at;
    let mut first = true;
    while at < end_at {
        sleep_until(at.into()).await;
        match refresh(&shared, &mut phone, &mut incoming).await {
            Refresh::Registered => {
                shared.counts.refreshes_ok.fetch_add(1, Ordering::Relaxed);
                if first {
                    let done = shared.registered_once.fetch_add(1, Ordering::Relaxed) + 1;
                    if done == shared.args.phones
                        && let Some(file) = &shared.args.ready_file
                    {
                        let _ = std::fs::write(file, b"");
                    }
                }
                first = false;
            }
            Refresh::Failed => {
                shared
                    .counts
                    .refreshes_failed
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        if shared.args.interval <= 0.0 {
            break;
        }
        at += Duration::from_secs_f64(shared.args.interval);
    }
    let _ = phone.index;
    lock(&shared.pending).remove(&phone.call_id);
}

/// The request URI's user (`sip:10001@127.0.0.1:5000` → `10001`).
fn request_user(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("sip:")?;
    let (user, _) = rest.split_once('@')?;
    Some(user)
}

/// A response to `request` with our To tag, Contact and an optional SDP body.
fn response(request: &Message, status: &str, to_tag: &str, contact: &str, sdp: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for h in &request.reply_headers {
        out.push_str(h);
        let is_to = h
            .split_once(':')
            .is_some_and(|(n, _)| matches!(n.trim().to_ascii_lowercase().as_str(), "to" | "t"));
        if is_to && request.to_tag.is_empty() && !to_tag.is_empty() {
            out.push_str(";tag=");
            out.push_str(to_tag);
        }
        out.push_str("\r\n");
    }
    if !contact.is_empty() {
        out.push_str(&format!("Contact: <{contact}>\r\n"));
    }
    if sdp.is_empty() {
        out.push_str("Content-Length: 0\r\n\r\n");
    } else {
        out.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ));
    }
    out
}

/// What to send back for a request from the server (calls to a phone), and the media changes.
fn on_request(
    shared: &Shared,
    outgoing: &Mutex<HashMap<String, Outgoing>>,
    message: &Message,
    local: SocketAddr,
) -> Option<String> {
    let counts = &shared.counts;
    let args = &shared.args;
    let gateway = args.gateway == Some(local);
    match message.method.as_str() {
        "INVITE" => {
            if gateway {
                counts.gateway.invites.fetch_add(1, Ordering::Relaxed);
            } else {
                counts.invites.fetch_add(1, Ordering::Relaxed);
            }
            let user = request_user(&message.request_uri)?.to_owned();
            let phone = user
                .parse::<u32>()
                .ok()
                .and_then(|e| e.checked_sub(args.first_extension))
                .filter(|i| (*i as usize) < args.phones);
            if phone.is_none() && !gateway {
                counts.unknown_user.fetch_add(1, Ordering::Relaxed);
                return Some(message.response("404 Not Found"));
            }
            let contact = format!("sip:{user}@{local}");
            let mut calls = lock(&shared.calls);
            if let Some(call) = calls.get(&message.call_id) {
                // A retransmission (our 200 was lost or late) or a re-INVITE: the same answer.
                if gateway {
                    &counts.gateway.invite_retransmissions
                } else {
                    &counts.invite_retransmissions
                }
                .fetch_add(1, Ordering::Relaxed);
                return Some(response(
                    message,
                    "200 OK",
                    &call.to_tag,
                    &contact,
                    &call.answer,
                ));
            }
            let Some(remote) = message.sdp_audio() else {
                counts.no_sdp.fetch_add(1, Ordering::Relaxed);
                return Some(message.response("488 Not Acceptable Here"));
            };
            if phone.is_some() && calls.values().any(|c| c.phone == phone) {
                counts.second_calls.fetch_add(1, Ordering::Relaxed);
                if !args.answer_when_busy {
                    return Some(message.response("486 Busy Here"));
                }
            }
            let number = shared.next_call.fetch_add(1, Ordering::Relaxed);
            let socket = number as usize % shared.rtp.len().max(1);
            let port = shared.rtp.get(socket)?;
            let ip = call_ip(number);
            lock(&port.calls).insert(ip, number);
            let answer = format!(
                "v=0\r\no=load-staff {number} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
                 m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
                 a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n",
                port = port.port
            );
            let to_tag = format!("{:08x}", fastrand::u32(..));
            let text = response(message, "200 OK", &to_tag, &contact, &answer);
            let now = Instant::now();
            let since_start = ms(now.saturating_duration_since(shared.started)) / 1000.0;
            let keys = if gateway {
                counts.gateway.answered.fetch_add(1, Ordering::Relaxed);
                lock(&counts.gateway.answered_at_s).push(since_start);
                let bye = message.callee_bye(&to_tag, local, &branch(), 1);
                if let Some(bye) = bye {
                    let _ = shared.hang_ups.send(HangUp {
                        call_id: message.call_id.clone(),
                        bye,
                        at: now + Duration::from_secs_f64(args.gateway_hold.max(0.0)),
                    });
                }
                None
            } else {
                counts.answered.fetch_add(1, Ordering::Relaxed);
                lock(&counts.answered_at_s).push(since_start);
                let events: Vec<u8> = args.keys.chars().filter_map(key_event).collect();
                let at = now + Duration::from_millis(args.key_delay_ms);
                (!events.is_empty()).then(|| Keys {
                    events,
                    next: 0,
                    round_at: at,
                    at,
                    every: (args.key_every_ms > 0)
                        .then(|| Duration::from_millis(args.key_every_ms)),
                    press: None,
                })
            };
            calls.insert(
                message.call_id.clone(),
                Call {
                    phone,
                    ip,
                    to_tag,
                    answer,
                    answered_at: now,
                    acked: false,
                },
            );
            let live = counts.live.fetch_add(1, Ordering::Relaxed) + 1;
            counts.peak_live.fetch_max(live, Ordering::Relaxed);
            lock(outgoing).insert(
                message.call_id.clone(),
                Outgoing {
                    from: ip,
                    to: remote,
                    socket,
                    ssrc: fastrand::u32(..),
                    sequence: fastrand::u16(..),
                    timestamp: fastrand::u32(..),
                    keys,
                },
            );
            Some(text)
        }
        "ACK" => {
            counts.acks.fetch_add(1, Ordering::Relaxed);
            if let Some(call) = lock(&shared.calls).get_mut(&message.call_id) {
                call.acked = true;
            }
            None
        }
        "BYE" => {
            if gateway {
                counts
                    .gateway
                    .ended_by_server
                    .fetch_add(1, Ordering::Relaxed);
            } else {
                counts.byes.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(call) = lock(&shared.calls).remove(&message.call_id) {
                counts.live.fetch_sub(1, Ordering::Relaxed);
                let _ = (call.answered_at, call.acked, call.ip);
            }
            lock(outgoing).remove(&message.call_id);
            Some(message.response("200 OK"))
        }
        "CANCEL" => {
            counts.cancels.fetch_add(1, Ordering::Relaxed);
            Some(message.response("200 OK"))
        }
        _ => {
            counts.other_requests.fetch_add(1, Ordering::Relaxed);
            Some(message.response("200 OK"))
        }
    }
}

async fn sip_receiver(
    shared: Arc<Shared>,
    socket: Arc<UdpSocket>,
    outgoing: Arc<Mutex<HashMap<String, Outgoing>>>,
) {
    let Ok(local) = socket.local_addr() else {
        return;
    };
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Some(text) = buf.get(..len).and_then(|b| std::str::from_utf8(b).ok()) else {
            continue;
        };
        let Some(message) = Message::parse(text) else {
            continue;
        };
        if message.status != 0 {
            let sender = lock(&shared.pending).get(&message.call_id).cloned();
            if let Some(sender) = sender {
                let _ = sender.send(message);
            }
            continue;
        }
        if let Some(reply) = on_request(&shared, &outgoing, &message, local) {
            let _ = socket.send_to(reply.as_bytes(), from).await;
        }
    }
}

/// Ends the gateway's calls as their holds run out (each in a task of this one's).
async fn gateway_hang_ups(
    shared: Arc<Shared>,
    socket: Arc<UdpSocket>,
    outgoing: Arc<Mutex<HashMap<String, Outgoing>>>,
    mut hang_ups: mpsc::UnboundedReceiver<HangUp>,
) {
    let mut calls = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            got = hang_ups.recv() => match got {
                Some(hang_up) => {
                    calls.spawn(gateway_hang_up(shared.clone(), socket.clone(), outgoing.clone(), hang_up));
                }
                None => break,
            },
            Some(_) = calls.join_next(), if !calls.is_empty() => {}
        }
    }
    while calls.join_next().await.is_some() {}
}

/// One gateway call's BYE when its hold is over (unless the server hung up first),
/// retransmitted (500 ms doubling to 4 s) until a final answer, for at most 8 s.
async fn gateway_hang_up(
    shared: Arc<Shared>,
    socket: Arc<UdpSocket>,
    outgoing: Arc<Mutex<HashMap<String, Outgoing>>>,
    hang_up: HangUp,
) {
    sleep_until(hang_up.at.into()).await;
    let counts = &shared.counts.gateway;
    if !lock(&shared.calls).contains_key(&hang_up.call_id) {
        return;
    }
    lock(&outgoing).remove(&hang_up.call_id);
    let (sender, mut incoming) = mpsc::unbounded_channel();
    lock(&shared.pending).insert(hang_up.call_id.clone(), sender);
    let target = shared.args.target;
    counts.byes_sent.fetch_add(1, Ordering::Relaxed);
    let _ = socket.send_to(hang_up.bye.as_bytes(), target).await;
    let sent_at = Instant::now();
    let mut interval = Duration::from_millis(500);
    let mut retransmit_at = sent_at + interval;
    let give_up = sent_at + Duration::from_secs(8);
    loop {
        tokio::select! {
            got = incoming.recv() => {
                let Some(answer) = got else { break };
                if answer.status >= 200 && answer.cseq_method == "BYE" {
                    counts.byes_answered.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
            () = sleep_until(retransmit_at.into()) => {
                let _ = socket.send_to(hang_up.bye.as_bytes(), target).await;
                counts.bye_retransmissions.fetch_add(1, Ordering::Relaxed);
                interval = (interval * 2).min(Duration::from_secs(4));
                retransmit_at = Instant::now() + interval;
            }
            () = sleep_until(give_up.into()) => {
                counts.bye_timeouts.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    }
    lock(&shared.pending).remove(&hang_up.call_id);
    if lock(&shared.calls).remove(&hang_up.call_id).is_some() {
        shared.counts.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One /proc sample of the server, with seconds since the start.
struct Tick {
    proc: ProcSample,
}

async fn monitor(pid: u32, stop: Arc<AtomicBool>) -> Vec<Tick> {
    let mut ticks = Vec::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Ok(proc) = procfs::sample(pid) {
            ticks.push(Tick { proc });
        }
        next += Duration::from_secs(1);
        sleep_until(next.into()).await;
    }
    ticks
}

async fn stop_signal() {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[derive(Serialize)]
struct ServerWindow {
    baseline_rss_kib: u64,
    peak_rss_kib: u64,
    rss_per_phone_kib: f64,
    /// From one interval + 2 s after the start to the end, per phone-second.
    steady: Option<CpuWindow>,
    whole_run: Option<CpuWindow>,
    threads: u64,
}

async fn run(args: Args) -> anyhow::Result<serde_json::Value> {
    let poll = (args.receive_poll_ms > 0).then(|| Duration::from_millis(args.receive_poll_ms));
    let mut sip = Vec::new();
    for _ in 0..args.sip_sockets.max(1) {
        let socket = UdpSocket::bind(SocketAddr::new(IpAddr::from(Ipv4Addr::LOCALHOST), 0)).await?;
        sip.push(Arc::new(socket));
    }
    let mut rtp = Vec::new();
    for _ in 0..args.rtp_sockets.max(1) {
        rtp.push(Arc::new(rtp_port().context("an RTP socket")?));
    }
    let seconds = args.duration.max(0.0) as usize + 120;
    let phones = args.phones;
    let pid = args.server_pid;
    let load_start = procfs::load_average();
    let baseline = match pid {
        Some(pid) => Some(procfs::sample(pid).context("reading the server's /proc entry")?),
        None => None,
    };
    let gateway = match args.gateway {
        Some(address) => {
            anyhow::ensure!(
                address.ip().is_loopback(),
                "the load gateway listens on loopback only"
            );
            let socket = UdpSocket::bind(address)
                .await
                .with_context(|| format!("the gateway's address {address}"))?;
            Some(Arc::new(socket))
        }
        None => None,
    };
    let (hang_ups, hang_ups_due) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        args,
        rtp: rtp.clone(),
        pending: Mutex::new(HashMap::new()),
        calls: Mutex::new(HashMap::new()),
        started: Instant::now(),
        counts: Counts::default(),
        answers_by_second: (0..seconds).map(|_| AtomicU64::new(0)).collect(),
        registered_once: AtomicUsize::new(0),
        next_call: AtomicU32::new(0),
        hang_ups,
    });
    let outgoing: Arc<Mutex<HashMap<String, Outgoing>>> = Arc::new(Mutex::new(HashMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let receivers: Vec<_> = rtp
        .iter()
        .map(|port| {
            let port = port.clone();
            let stop = stop.clone();
            std::thread::spawn(move || rtprecv::receive(&port.socket, &port.calls, &stop, poll))
        })
        .collect();
    let sender = {
        let shared = shared.clone();
        let outgoing = outgoing.clone();
        let stop = stop.clone();
        std::thread::spawn(move || send_media(shared, outgoing, stop))
    };
    let mut sip_tasks = tokio::task::JoinSet::new();
    for socket in sip.iter().chain(&gateway) {
        sip_tasks.spawn(sip_receiver(
            shared.clone(),
            socket.clone(),
            outgoing.clone(),
        ));
    }
    if let Some(socket) = &gateway {
        sip_tasks.spawn(gateway_hang_ups(
            shared.clone(),
            socket.clone(),
            outgoing.clone(),
            hang_ups_due,
        ));
    }
    let udp_before = UdpCounters::read();
    let own_before = procfs::sample(std::process::id()).ok();
    let stop_monitor = Arc::new(AtomicBool::new(false));
    let monitor_task = pid.map(|pid| tokio::spawn(monitor(pid, stop_monitor.clone())));

    let start = Instant::now() + Duration::from_millis(100);
    let end_at = start + Duration::from_secs_f64(shared.args.duration.max(0.0));
    let mut phone_tasks = tokio::task::JoinSet::new();
    for i in 0..phones {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let extension = (shared.args.first_extension + index).to_string();
        let password = format!("{}{extension}", shared.args.password_prefix);
        let ha1 = md5_hex(&format!("{extension}:{}:{password}", shared.args.realm));
        let socket = sip[i % sip.len()].clone();
        let local = socket.local_addr()?;
        let offset = if shared.args.interval > 0.0 {
            fastrand::f64() * shared.args.interval
        } else {
            i as f64 / shared.args.register_rate
        };
        let phone = Phone {
            index,
            extension,
            ha1,
            call_id: format!("{:016x}@load-staff", fastrand::u64(..)),
            from_tag: format!("{:08x}", fastrand::u32(..)),
            cseq: 0,
            socket,
            local,
            challenge: None,
        };
        phone_tasks.spawn(phone_task(
            shared.clone(),
            phone,
            start + Duration::from_secs_f64(offset),
            end_at,
        ));
    }
    tokio::select! {
        () = sleep_until(end_at.into()) => {}
        () = stop_signal() => {}
    }
    let end = Instant::now();
    phone_tasks.abort_all();
    while phone_tasks.join_next().await.is_some() {}
    stop_monitor.store(true, Ordering::Relaxed);
    let ticks = match monitor_task {
        Some(t) => t.await.unwrap_or_default(),
        None => Vec::new(),
    };
    stop.store(true, Ordering::Relaxed);
    let sender_late = sender.join().unwrap_or_default();
    let mut streams: HashMap<u32, StreamStats> = HashMap::new();
    let mut lateness = Histogram::new(0.01, 100_000);
    let mut unmatched = 0;
    let mut socket_drops = 0;
    for r in receivers {
        if let Ok(r) = r.join() {
            streams.extend(r.streams);
            lateness.merge(&r.lateness);
            unmatched += r.unmatched;
            socket_drops += r.socket_drops;
        }
    }
    sip_tasks.abort_all();
    while sip_tasks.join_next().await.is_some() {}
    let udp = UdpCounters::read().since(&udp_before);
    let own_after = procfs::sample(std::process::id()).ok();
    let load_end = procfs::load_average();
    let elapsed = end.duration_since(start).as_secs_f64();

    let c = &shared.counts;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let interval = shared.args.interval;
    // Answers per second after the first interval (every phone has its nonce by then).
    let per_second: Vec<u64> = shared
        .answers_by_second
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .collect();
    let steady_from = if interval > 0.0 {
        (interval.ceil() as usize) + 1
    } else {
        0
    };
    let steady_to = (elapsed.floor() as usize).min(per_second.len());
    let steady_answers: Vec<f64> = per_second
        .get(steady_from..steady_to.max(steady_from))
        .unwrap_or_default()
        .iter()
        .map(|&n| n as f64)
        .collect();

    let mut media = StreamStats::default();
    let mut gaps = 0u64;
    let mut jitter = Vec::new();
    for s in streams.values() {
        media.packets += s.packets;
        media.late_5ms += s.late_5ms;
        media.late_20ms += s.late_20ms;
        media.frames_skipped += s.frames_skipped;
        media.out_of_order += s.out_of_order;
        gaps += s.sequence_gaps();
        jitter.push(s.jitter_ms);
    }

    let server = match (baseline, ticks.last()) {
        (Some(baseline), Some(last)) => {
            let open = start + Duration::from_secs_f64(interval.max(0.0) + 2.0);
            let from = ticks.iter().find(|t| t.proc.at >= open);
            let steady = from.and_then(|from| {
                let secs = last
                    .proc
                    .at
                    .checked_duration_since(from.proc.at)?
                    .as_secs_f64();
                CpuWindow::new(&from.proc, &last.proc, secs * phones as f64)
            });
            let whole = CpuWindow::new(&baseline, &last.proc, elapsed * phones as f64);
            let peak_rss = ticks
                .iter()
                .map(|t| t.proc.rss_kib)
                .max()
                .unwrap_or(baseline.rss_kib);
            serde_json::to_value(ServerWindow {
                baseline_rss_kib: baseline.rss_kib,
                peak_rss_kib: peak_rss,
                rss_per_phone_kib: if phones == 0 {
                    0.0
                } else {
                    peak_rss.saturating_sub(baseline.rss_kib) as f64 / phones as f64
                },
                steady,
                whole_run: whole,
                threads: last.proc.threads,
            })?
        }
        _ => serde_json::Value::Null,
    };
    let own_cpu_s = match (own_before, own_after) {
        (Some(a), Some(b)) => b.cpu_us.saturating_sub(a.cpu_us) as f64 / 1e6,
        _ => f64::NAN,
    };
    let args = &shared.args;
    let report = json!({
        "label": args.label,
        "target": args.target.to_string(),
        "phones": phones,
        "interval_s": interval,
        "expires_s": args.expires,
        "duration_s": elapsed,
        "load_average": {"start": load_start, "end": load_end},
        "registrations": {
            "phones_registered_once": shared.registered_once.load(Ordering::Relaxed),
            "refreshes_ok": get(&c.refreshes_ok),
            "refreshes_failed": get(&c.refreshes_failed),
            "register_requests": get(&c.register_requests),
            "retransmissions": get(&c.register_retransmissions),
            "answers_200": get(&c.ok),
            "answers_401": get(&c.challenged),
            "answers_other": *lock(&c.other_statuses),
            "timeouts": get(&c.timeouts),
            "refresh_ms": Summary::of(std::mem::take(&mut *lock(&c.refresh_ms))),
            "transaction_ms": Summary::of(std::mem::take(&mut *lock(&c.transaction_ms))),
            "answers_per_second_steady": Summary::of(steady_answers),
            "answers_per_second": per_second.get(..steady_to).unwrap_or_default(),
        },
        "calls": {
            "invites": get(&c.invites),
            "invite_retransmissions": get(&c.invite_retransmissions),
            "answered": get(&c.answered),
            "acks": get(&c.acks),
            "byes": get(&c.byes),
            "cancels": get(&c.cancels),
            "other_requests": get(&c.other_requests),
            "unknown_user": get(&c.unknown_user),
            "no_sdp": get(&c.no_sdp),
            "second_calls_to_a_busy_phone": get(&c.second_calls),
            "peak_live": c.peak_live.load(Ordering::Relaxed),
            "live_at_end": c.live.load(Ordering::Relaxed),
            "keys_sent": get(&c.keys_sent),
            "answered_at_s": sorted(&c.answered_at_s),
        },
        "gateway": {
            "invites": get(&c.gateway.invites),
            "invite_retransmissions": get(&c.gateway.invite_retransmissions),
            "answered": get(&c.gateway.answered),
            "byes_sent": get(&c.gateway.byes_sent),
            "bye_retransmissions": get(&c.gateway.bye_retransmissions),
            "byes_answered": get(&c.gateway.byes_answered),
            "bye_timeouts": get(&c.gateway.bye_timeouts),
            "ended_by_server": get(&c.gateway.ended_by_server),
            "answered_at_s": sorted(&c.gateway.answered_at_s),
        },
        "media": {
            "rtp_sent": get(&c.rtp_sent),
            "sender_tick_late_ms": Summary::of(sender_late),
            "calls_with_media": streams.len(),
            "packets": media.packets,
            "sequence_gaps": gaps,
            "out_of_order": media.out_of_order,
            "frames_skipped_by_sender": media.frames_skipped,
            "late_over_5ms": media.late_5ms,
            "late_over_20ms": media.late_20ms,
            "lateness_ms": {
                "p50": lateness.percentile(50.0),
                "p99": lateness.percentile(99.0),
                "max": lateness.percentile(100.0),
            },
            "jitter_ms_end_of_call": Summary::of(jitter),
            "unmatched_packets": unmatched,
            "socket_drops": socket_drops,
        },
        "udp_counters": udp,
        "server": server,
        "own_cpu_s": own_cpu_s,
    });
    eprintln!(
        "phones={} registered_once={} refreshes ok={} failed={} answers 200={} 401={} other={:?} \
         timeouts={} calls answered={} byes={} rtp sent={} received={} gaps={}",
        phones,
        shared.registered_once.load(Ordering::Relaxed),
        get(&c.refreshes_ok),
        get(&c.refreshes_failed),
        get(&c.ok),
        get(&c.challenged),
        *lock(&c.other_statuses),
        get(&c.timeouts),
        get(&c.answered),
        get(&c.byes),
        get(&c.rtp_sent),
        media.packets,
        gaps,
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_response_matches_rfc_2617() {
        // RFC 2617 §3.5 (its example is a GET; the arithmetic is the same for REGISTER).
        let ha1 = md5_hex("Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = md5_hex("GET:/dir/index.html");
        let response = digest_response(
            &ha1,
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "00000001",
            "0a4f113b",
            &ha2,
        );
        assert_eq!(response, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn keys_are_pressed_from_the_delay_and_again_every_round() {
        let start = Instant::now();
        let at = start + Duration::from_millis(100);
        let mut keys = Keys {
            events: vec![1, 2],
            next: 0,
            round_at: at,
            at,
            every: Some(Duration::from_millis(1000)),
            press: None,
        };
        // Ticks every 20 ms for 1.5 s: the first packet of each press, with its time.
        let mut starts = Vec::new();
        for tick in 0..75u32 {
            let now = start + Duration::from_millis(20) * tick;
            if let Some(press) = keys.due(now, tick * 160)
                && press.marker()
            {
                starts.push((tick * 20, press.event));
            }
        }
        // 1 at 100 ms, its 6 steps end at 200 ms; 2 after the 200 ms gap; again at 1100 ms.
        assert_eq!(starts, vec![(100, 1), (400, 2), (1100, 1), (1400, 2)]);
    }

    #[test]
    fn takes_the_md5_challenge_and_answers_with_the_next_count() {
        let text = "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 127.0.0.1:5000;branch=z9hG4bKx\r\n\
            From: <sip:10000@127.0.0.1>;tag=1\r\nTo: <sip:10000@127.0.0.1>;tag=2\r\nCall-ID: c@x\r\n\
            CSeq: 3 REGISTER\r\n\
            WWW-Authenticate: Digest realm=\"centralino\", nonce=\"s256\", algorithm=SHA-256, qop=\"auth\"\r\n\
            WWW-Authenticate: Digest realm=\"centralino\", nonce=\"n1\", algorithm=MD5, qop=\"auth\"\r\n\
            Content-Length: 0\r\n\r\n";
        let message = Message::parse(text).expect("parses");
        assert_eq!(message.cseq, 3);
        let challenge = md5_challenge(&message).expect("an MD5 challenge");
        assert_eq!(challenge.nonce, "n1");
        assert!(challenge.qop);
        assert_eq!(request_user("sip:10001@127.0.0.1:5000"), Some("10001"));
    }
}
