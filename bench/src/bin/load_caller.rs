//! A cheap SIP caller for load: N concurrent calls to `centralino serve` (or any UAS), each
//! INVITE (SDP: PCMU + telephone-event) → ACK → hold → BYE, over UDP on loopback.
//!
//! ```text
//!  call tasks (tokio, one per call) ──INVITE/ACK/BYE──► SIP sockets (--sip-sockets, shared)
//!        ▲ responses and the server's BYE, by Call-ID ◄── one receive task per SIP socket
//!  server RTP ──► RTP sockets (--rtp-sockets, shared; every call's SDP names one of them,
//!                 at an address of the call's own: 127.1.0.0 + call index + 1)
//!                 └─ one thread each: recvmmsg, kernel timestamps, demux by the address the
//!                    server sent to (IP_PKTINFO) ─► per-call RFC 3550 statistics
//!
//! Each call has its own RTP address because a server may tell its calls apart by the
//! caller's address alone (centralino's media threads share one socket among their calls): the
//! shared sockets are bound to the wildcard address (so that they receive what is sent to any
//! 127.1.x.y) and send each call's packets from its address (IP_PKTINFO).
//! ```
//!
//! What the caller sends as media (`--send-rtp`): `none`; `keepalive` (default: one PCMU
//! silence packet every `--keepalive-ms`, enough for the server's RTP timeout); or `full` (a
//! PCMU silence packet every 20 ms, the realistic load on the server's receive path, at a
//! cost on the caller's side). Keys in `--keys` are sent as RFC 4733 events (100 ms, three end
//! packets) `--key-delay-ms` after the answer and `--key-gap-ms` apart.
//!
//! Measures, as RFC 6076 names them: session establishment ratio (answered / attempted),
//! session request delay (INVITE → first 180/183, or the 200 when no ringing came), INVITE →
//! 200, session disconnect delay (BYE → 200), failures by status code; and per call the
//! server's stream as `centralino_bench::rtpstats` defines it. With `--server-pid`, samples the
//! server's CPU and RSS every 250 ms and reports CPU µs per call-second over the steady window
//! (all calls up) and over the whole run, and RSS per call. Prints one JSON document on
//! stdout, and a one-line summary on stderr.

use std::collections::{BTreeMap, HashMap};
use std::io::IoSlice;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use centralino_bench::dtmf::{DTMF_PT, KeyPress, key_event};
use centralino_bench::procfs::{self, CpuWindow, ProcSample, UdpCounters};
use centralino_bench::rtprecv;
use centralino_bench::rtpstats::StreamStats;
use centralino_bench::sip::{Dialog, Message, branch};
use centralino_bench::stats::{Histogram, Summary};
use clap::{Parser, ValueEnum};
use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrIn, sendmsg, setsockopt, sockopt};
use serde::Serialize;
use serde_json::json;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::sleep_until;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum SendRtp {
    None,
    Keepalive,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Arrivals {
    Uniform,
    Poisson,
}

#[derive(Debug, Parser)]
#[command(about = "N concurrent SIP calls with RTP statistics (see the file header)")]
struct Args {
    /// The server's SIP address (loopback only).
    #[arg(long)]
    target: SocketAddr,
    /// The number called (the request URI's user part).
    #[arg(long, default_value = "100")]
    number: String,
    /// Spread the calls over this many numbers, as many calls to each (a numeric `--number`:
    /// `number` to `number + N - 1`), e.g. one conference room per number.
    #[arg(long, default_value_t = 1)]
    number_spread: u32,
    /// Calls to place.
    #[arg(long, default_value_t = 1)]
    calls: usize,
    /// New calls per second.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Seconds each call stays up after the answer, then BYE.
    #[arg(long, default_value_t = 10.0)]
    hold: f64,
    /// Keys pressed in each call (RFC 4733), e.g. "1" or "12".
    #[arg(long, default_value = "")]
    keys: String,
    #[arg(long, default_value_t = 5000)]
    key_delay_ms: u64,
    #[arg(long, default_value_t = 8000)]
    key_gap_ms: u64,
    /// The caller's own media: none, keepalive or full (20 ms).
    #[arg(long, value_enum, default_value = "keepalive")]
    send_rtp: SendRtp,
    #[arg(long, default_value_t = 5000)]
    keepalive_ms: u64,
    /// Local address of the caller's sockets.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    #[arg(long, default_value_t = 2)]
    sip_sockets: usize,
    #[arg(long, default_value_t = 2)]
    rtp_sockets: usize,
    /// Read the RTP sockets every this many ms instead of sleeping on them (0: sleep on them).
    /// On loopback, a packet sent to a thread asleep on its socket makes the sender wake it,
    /// and that wake-up is counted in the sender's CPU (the server's): polling keeps the
    /// server's figure to what it would spend sending through a NIC.
    #[arg(long, default_value_t = 0)]
    receive_poll_ms: u64,
    /// A call not answered within this many ms counts as failed (timeout).
    #[arg(long, default_value_t = 8000)]
    answer_timeout_ms: u64,
    /// The server's PID, to sample its CPU and RSS from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds after the last answer before the steady CPU window opens.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
    /// How new calls are spaced: `uniform` (every 1/rate s, like sipp) or `poisson`
    /// (exponential gaps of mean 1/rate, as independent callers arrive).
    #[arg(long, value_enum, default_value = "uniform")]
    arrivals: Arrivals,
    /// A name for this run in the JSON.
    #[arg(long, default_value = "")]
    label: String,
}

/// A message from the server, with the time it was read.
struct Incoming {
    message: Message,
    at: Instant,
}

struct RtpPort {
    socket: StdUdpSocket,
    port: u16,
    /// The RTP address of each answered call (where the server sends) → the call's index.
    streams: Mutex<HashMap<Ipv4Addr, u32>>,
}

impl RtpPort {
    /// Sends `packet` to `to` from the call's address `from`.
    fn send(&self, packet: &[u8], from: Ipv4Addr, to: SocketAddr) {
        let SocketAddr::V4(to) = to else {
            return;
        };
        let info = nix::libc::in_pktinfo {
            ipi_ifindex: 0,
            ipi_spec_dst: nix::libc::in_addr {
                s_addr: u32::from(from).to_be(),
            },
            ipi_addr: nix::libc::in_addr { s_addr: 0 },
        };
        let _ = sendmsg(
            self.socket.as_raw_fd(),
            &[IoSlice::new(packet)],
            &[ControlMessage::Ipv4PacketInfo(&info)],
            MsgFlags::empty(),
            Some(&SockaddrIn::from(to)),
        );
    }
}

/// Call `index`'s own RTP address (loopback: 127.1.0.1, 127.1.0.2, ...).
fn call_ip(index: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 1, 0, 1)).wrapping_add(index))
}

struct Shared {
    args: Args,
    sip: Vec<Arc<UdpSocket>>,
    rtp: Vec<Arc<RtpPort>>,
    calls: Mutex<HashMap<String, mpsc::UnboundedSender<Incoming>>>,
    live: AtomicUsize,
    /// Answered so far.
    answered: AtomicUsize,
    /// Calls whose setup finished (answered or failed).
    settled: AtomicUsize,
}

#[derive(Debug, Default, Clone, Serialize)]
struct CallResult {
    index: u32,
    answered: bool,
    /// Final status of the INVITE (0: none).
    status: u16,
    timed_out: bool,
    srd_ms: Option<f64>,
    setup_ms: Option<f64>,
    disconnect_ms: Option<f64>,
    invite_retransmissions: u32,
    bye_retransmissions: u32,
    bye_answered: bool,
    ended_by_server: bool,
    /// Seconds from the answer to the end (BYE sent or received).
    held_s: f64,
    keys_sent: u32,
    /// Re-INVITEs from the server answered during the call.
    reinvites: u32,
    rtp_sent: u64,
    #[serde(skip)]
    answered_at: Option<Instant>,
    #[serde(skip)]
    ended_at: Option<Instant>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.target.ip().is_loopback() && args.bind.is_loopback(),
        "the load caller only calls loopback addresses"
    );
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(args))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn rtp_port() -> anyhow::Result<RtpPort> {
    // The wildcard address: what the server sends to any call's 127.1.x.y arrives here.
    let socket = StdUdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))?;
    setsockopt(&socket, sockopt::ReceiveTimestampns, &true)?;
    setsockopt(&socket, sockopt::Ipv4PacketInfo, &true)?;
    setsockopt(&socket, sockopt::RxqOvfl, &1)?;
    // As large as the system allows (rmem_max); the kernel doubles it.
    let _ = setsockopt(&socket, sockopt::RcvBuf, &(8 << 20));
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let port = socket.local_addr()?.port();
    Ok(RtpPort {
        socket,
        port,
        streams: Mutex::new(HashMap::new()),
    })
}

/// The caller's own RTP stream of one call (keepalives, full-rate silence, RFC 4733 keys).
struct CallerStream {
    ssrc: u32,
    sequence: u16,
    timestamp0: u32,
    started: Instant,
    sent: u64,
}

impl CallerStream {
    fn new(started: Instant) -> CallerStream {
        CallerStream {
            ssrc: fastrand::u32(..),
            sequence: fastrand::u16(..),
            timestamp0: fastrand::u32(..),
            started,
            sent: 0,
        }
    }

    fn timestamp_now(&self) -> u32 {
        // 8 samples per ms, on the 20 ms grid.
        let frames = self.started.elapsed().as_millis() / 20;
        self.timestamp0
            .wrapping_add(u32::try_from(frames * 160).unwrap_or_default())
    }

    fn packet(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut p = Vec::with_capacity(12 + payload.len());
        p.push(0x80);
        p.push(payload_type | if marker { 0x80 } else { 0 });
        p.extend_from_slice(&self.sequence.to_be_bytes());
        p.extend_from_slice(&timestamp.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        self.sequence = self.sequence.wrapping_add(1);
        self.sent += 1;
        p
    }
}

async fn send_sip(socket: &UdpSocket, text: &str, to: SocketAddr) {
    let _ = socket.send_to(text.as_bytes(), to).await;
}

async fn sip_receiver(shared: Arc<Shared>, socket: Arc<UdpSocket>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let at = Instant::now();
        let Some(text) = buf.get(..len).and_then(|b| std::str::from_utf8(b).ok()) else {
            continue;
        };
        let Some(message) = Message::parse(text) else {
            continue;
        };
        let sender = lock(&shared.calls).get(&message.call_id).cloned();
        match sender {
            Some(sender) => {
                let _ = sender.send(Incoming { message, at });
            }
            None if message.status == 0 && message.method != "ACK" => {
                // A request for a call already finished (e.g. a retransmitted BYE).
                let status = if message.method == "BYE" {
                    "200 OK"
                } else {
                    "481 Call/Transaction Does Not Exist"
                };
                send_sip(&socket, &message.response(status), from).await;
            }
            None => {}
        }
    }
}

async fn call(shared: Arc<Shared>, index: u32, start_at: Instant) -> CallResult {
    sleep_until(start_at.into()).await;
    let args = &shared.args;
    let mut result = CallResult {
        index,
        ..CallResult::default()
    };
    let sip_i = index as usize % shared.sip.len();
    let sip = shared.sip.get(sip_i).cloned();
    let rtp = shared.rtp.get(index as usize % shared.rtp.len()).cloned();
    let (Some(sip), Some(rtp)) = (sip, rtp) else {
        return result;
    };
    let Ok(local) = sip.local_addr() else {
        return result;
    };
    let target = args.target;
    let number = match args.number.parse::<u64>() {
        Ok(first) if args.number_spread > 1 => {
            // Each block of `spread` calls covers every number once, shifted by one per
            // block: consecutive callers of one number are not all of one parity (the
            // server gives calls to its media threads in turn).
            let spread = args.number_spread;
            (first + u64::from((index % spread + index / spread) % spread)).to_string()
        }
        _ => args.number.clone(),
    };
    let mut dialog = Dialog::new(&number, target, local, &format!("3{index:09}"));
    let (sender, mut incoming) = mpsc::unbounded_channel();
    lock(&shared.calls).insert(dialog.call_id.clone(), sender);
    let media_ip = call_ip(index);
    let invite = dialog.invite(SocketAddr::from((media_ip, rtp.port)), u64::from(index));

    // INVITE until a final response (timer A: 500 ms doubling, until a provisional).
    let t0 = Instant::now();
    send_sip(&sip, &invite, target).await;
    let mut retransmit_at = t0 + Duration::from_millis(500);
    let mut interval = Duration::from_millis(500);
    let deadline = t0 + Duration::from_millis(args.answer_timeout_ms);
    let mut provisional = false;
    let mut server_rtp = None;
    loop {
        tokio::select! {
            got = incoming.recv() => {
                let Some(Incoming { message, at }) = got else { break };
                if message.status == 0 {
                    if message.method == "BYE" {
                        send_sip(&sip, &message.response("200 OK"), target).await;
                    }
                    continue;
                }
                if message.cseq_method != "INVITE" {
                    continue;
                }
                let elapsed = ms(at.duration_since(t0));
                if message.status < 200 {
                    provisional = true;
                    if message.status != 100 && result.srd_ms.is_none() {
                        result.srd_ms = Some(elapsed);
                    }
                    continue;
                }
                result.status = message.status;
                if message.status < 300 {
                    result.setup_ms = Some(elapsed);
                    result.srd_ms.get_or_insert(elapsed);
                    dialog.to_tag = message.to_tag.clone();
                    if let Some(contact) = &message.contact {
                        dialog.remote_target = contact.clone();
                    }
                    server_rtp = message.sdp_audio();
                    if server_rtp.is_some() {
                        lock(&rtp.streams).insert(media_ip, index);
                    }
                    send_sip(&sip, &dialog.ack(true), target).await;
                    result.answered = true;
                } else {
                    send_sip(&sip, &dialog.ack(false), target).await;
                }
                break;
            }
            () = sleep_until(retransmit_at.into()), if !provisional => {
                send_sip(&sip, &invite, target).await;
                result.invite_retransmissions += 1;
                interval = (interval * 2).min(Duration::from_secs(4));
                retransmit_at = Instant::now() + interval;
            }
            () = sleep_until(deadline.into()) => {
                result.timed_out = true;
                break;
            }
        }
    }
    shared.settled.fetch_add(1, Ordering::Relaxed);
    if !result.answered {
        lock(&shared.calls).remove(&dialog.call_id);
        return result;
    }

    // In the call.
    shared.answered.fetch_add(1, Ordering::Relaxed);
    shared.live.fetch_add(1, Ordering::Relaxed);
    let answered_at = Instant::now();
    result.answered_at = Some(answered_at);
    let hold_end = answered_at + Duration::from_secs_f64(args.hold);
    let mut stream = CallerStream::new(answered_at);
    let far = answered_at + Duration::from_secs(86_400);
    let media_period = match args.send_rtp {
        SendRtp::None => None,
        SendRtp::Keepalive => Some(Duration::from_millis(args.keepalive_ms.max(20))),
        SendRtp::Full => Some(Duration::from_millis(20)),
    };
    let mut media_at = match (args.send_rtp, media_period) {
        (SendRtp::Full, _) => answered_at,
        (_, Some(p)) => answered_at + p,
        _ => far,
    };
    let keys: Vec<u8> = args.keys.chars().filter_map(key_event).collect();
    let mut next_key = 0usize;
    let mut key_at = if keys.is_empty() {
        far
    } else {
        answered_at + Duration::from_millis(args.key_delay_ms)
    };
    let mut press: Option<KeyPress> = None;
    let silence = [0xffu8; 160];
    loop {
        tokio::select! {
            got = incoming.recv() => {
                let Some(Incoming { message, at }) = got else { break };
                if message.status == 200 && message.cseq_method == "INVITE" {
                    // Our ACK was lost: acknowledge the retransmitted 200 again.
                    send_sip(&sip, &dialog.ack(true), target).await;
                } else if message.method == "BYE" {
                    send_sip(&sip, &message.response("200 OK"), target).await;
                    result.ended_by_server = true;
                    result.ended_at = Some(at);
                    break;
                } else if message.status == 0 && message.method == "INVITE" {
                    // A re-INVITE (a conference room moving the call's audio to its media
                    // thread): answered with this call's SDP, and the audio follows it.
                    if let Some(moved) = message.sdp_audio() {
                        server_rtp = Some(moved);
                    }
                    result.reinvites += 1;
                    let sdp = Dialog::sdp(SocketAddr::from((media_ip, rtp.port)), u64::from(index));
                    let answer = message.response_with_sdp("200 OK", &dialog.contact(), &sdp);
                    send_sip(&sip, &answer, target).await;
                } else if message.status == 0 && message.method != "ACK" {
                    send_sip(&sip, &message.response("200 OK"), target).await;
                }
            }
            () = sleep_until(media_at.into()) => {
                if let Some(to) = server_rtp {
                    let ts = stream.timestamp_now();
                    let packet = stream.packet(0, false, ts, &silence);
                    rtp.send(&packet, media_ip, to);
                }
                media_at += media_period.unwrap_or(Duration::from_secs(86_400));
            }
            () = sleep_until(key_at.into()) => {
                let current = match press.take() {
                    Some(p) => p,
                    None => {
                        let Some(&event) = keys.get(next_key) else {
                            key_at = far;
                            continue;
                        };
                        next_key += 1;
                        result.keys_sent += 1;
                        KeyPress::new(event, stream.timestamp_now())
                    }
                };
                let (payload, times) = current.payload();
                if let Some(to) = server_rtp {
                    for _ in 0..times {
                        let packet =
                            stream.packet(DTMF_PT, current.marker(), current.timestamp, &payload);
                        rtp.send(&packet, media_ip, to);
                    }
                }
                press = current.next();
                key_at = if press.is_some() {
                    key_at + Duration::from_millis(20)
                } else if next_key < keys.len() {
                    key_at + Duration::from_millis(args.key_gap_ms)
                } else {
                    far
                };
            }
            () = sleep_until(hold_end.into()) => break,
        }
    }
    shared.live.fetch_sub(1, Ordering::Relaxed);
    result.rtp_sent = stream.sent;
    if result.ended_by_server {
        result.held_s = result
            .ended_at
            .map_or(0.0, |e| e.duration_since(answered_at).as_secs_f64());
        lock(&shared.calls).remove(&dialog.call_id);
        return result;
    }

    // BYE, retransmitted (timer E) until a final response, for at most 8 s.
    let bye_branch = branch();
    let bye = dialog.bye(&bye_branch);
    let sent_at = Instant::now();
    result.ended_at = Some(sent_at);
    result.held_s = sent_at.duration_since(answered_at).as_secs_f64();
    send_sip(&sip, &bye, target).await;
    let mut retransmit_at = sent_at + Duration::from_millis(500);
    let mut interval = Duration::from_millis(500);
    let give_up = sent_at + Duration::from_secs(8);
    loop {
        tokio::select! {
            got = incoming.recv() => {
                let Some(Incoming { message, at }) = got else { break };
                if message.status >= 200 && message.cseq_method == "BYE" {
                    result.bye_answered = message.status < 300;
                    result.disconnect_ms = Some(ms(at.duration_since(sent_at)));
                    break;
                }
                if message.method == "BYE" {
                    send_sip(&sip, &message.response("200 OK"), target).await;
                }
            }
            () = sleep_until(retransmit_at.into()) => {
                send_sip(&sip, &bye, target).await;
                result.bye_retransmissions += 1;
                interval = (interval * 2).min(Duration::from_secs(4));
                retransmit_at = Instant::now() + interval;
            }
            () = sleep_until(give_up.into()) => break,
        }
    }
    lock(&shared.calls).remove(&dialog.call_id);
    result
}

/// One /proc sample of the server with the number of live calls.
#[derive(Clone)]
struct Tick {
    proc: ProcSample,
    live: usize,
    threads: BTreeMap<String, u64>,
}

async fn monitor(shared: Arc<Shared>, pid: u32, stop: Arc<AtomicBool>) -> Vec<Tick> {
    let mut ticks = Vec::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Ok(proc) = procfs::sample(pid) {
            ticks.push(Tick {
                proc,
                live: shared.live.load(Ordering::Relaxed),
                threads: procfs::threads_cpu(pid),
            });
        }
        next += Duration::from_millis(250);
        sleep_until(next.into()).await;
    }
    ticks
}

async fn run(args: Args) -> anyhow::Result<serde_json::Value> {
    let poll = (args.receive_poll_ms > 0).then(|| Duration::from_millis(args.receive_poll_ms));
    let mut sip = Vec::new();
    for _ in 0..args.sip_sockets.max(1) {
        let socket = UdpSocket::bind(SocketAddr::new(args.bind, 0)).await?;
        sip.push(Arc::new(socket));
    }
    let mut rtp = Vec::new();
    for _ in 0..args.rtp_sockets.max(1) {
        rtp.push(Arc::new(rtp_port().context("an RTP socket")?));
    }
    let calls = args.calls;
    let rate = args.rate;
    let hold = args.hold;
    let pid = args.server_pid;
    let load_start = procfs::load_average();
    let shared = Arc::new(Shared {
        args,
        sip: sip.clone(),
        rtp: rtp.clone(),
        calls: Mutex::new(HashMap::new()),
        live: AtomicUsize::new(0),
        answered: AtomicUsize::new(0),
        settled: AtomicUsize::new(0),
    });

    let stop_rtp = Arc::new(AtomicBool::new(false));
    let receivers: Vec<_> = rtp
        .iter()
        .map(|port| {
            let port = port.clone();
            let stop = stop_rtp.clone();
            std::thread::spawn(move || rtprecv::receive(&port.socket, &port.streams, &stop, poll))
        })
        .collect();
    let mut sip_tasks = Vec::new();
    for socket in &sip {
        sip_tasks.push(tokio::spawn(sip_receiver(shared.clone(), socket.clone())));
    }
    let udp_before = UdpCounters::read();
    let own_before = procfs::sample(std::process::id()).ok();
    let baseline = match pid {
        Some(pid) => Some(procfs::sample(pid).context("reading the server's /proc entry")?),
        None => None,
    };
    let stop_monitor = Arc::new(AtomicBool::new(false));
    let monitor_task =
        pid.map(|pid| tokio::spawn(monitor(shared.clone(), pid, stop_monitor.clone())));

    let start = Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::with_capacity(calls);
    let mut offset = 0.0f64;
    for i in 0..calls {
        let at = start + Duration::from_secs_f64(offset);
        offset += match shared.args.arrivals {
            Arrivals::Uniform => 1.0 / rate,
            // Exponential gaps: -ln(U)/rate, U in (0, 1].
            Arrivals::Poisson => -(1.0 - fastrand::f64()).ln() / rate,
        };
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        tasks.push(tokio::spawn(call(shared.clone(), index, at)));
    }
    // Every call ends by itself (answer timeout, hold, BYE timeout); this bound is a backstop.
    let ramp = calls as f64 / rate;
    let bound =
        Duration::from_secs_f64(ramp + hold + shared.args.answer_timeout_ms as f64 / 1000.0 + 20.0);
    let mut results = Vec::with_capacity(calls);
    let mut unfinished = 0usize;
    let backstop = tokio::time::Instant::now() + bound;
    for task in tasks {
        match tokio::time::timeout_at(backstop, task).await {
            Ok(Ok(r)) => results.push(r),
            _ => unfinished += 1,
        }
    }
    let end = Instant::now();
    // Late packets still in flight.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop_monitor.store(true, Ordering::Relaxed);
    let ticks = match monitor_task {
        Some(t) => t.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let after = pid.and_then(|pid| procfs::sample(pid).ok());
    stop_rtp.store(true, Ordering::Relaxed);
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
    for t in sip_tasks {
        t.abort();
    }
    let udp = UdpCounters::read().since(&udp_before);
    let own_after = procfs::sample(std::process::id()).ok();
    let load_end = procfs::load_average();

    // Signalling.
    let attempted = results.len() + unfinished;
    let answered = results.iter().filter(|r| r.answered).count();
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    for r in &results {
        if !r.answered {
            let key = if r.timed_out {
                String::from("timeout")
            } else {
                r.status.to_string()
            };
            *failures.entry(key).or_default() += 1;
        }
    }
    if unfinished > 0 {
        failures.insert(String::from("unfinished"), unfinished);
    }
    let held_short = results
        .iter()
        .filter(|r| r.answered && r.held_s + 0.5 < hold)
        .count();
    let summary =
        |f: fn(&CallResult) -> Option<f64>| Summary::of(results.iter().filter_map(f).collect());
    let call_seconds: f64 = results.iter().map(|r| r.held_s).sum();

    // Media.
    let mut media = StreamStats::default();
    let mut expected = 0u64;
    let mut gaps = 0u64;
    let mut jitter = Vec::new();
    let mut max_jitter = Vec::new();
    let mut calls_with_late = 0usize;
    for s in streams.values() {
        media.packets += s.packets;
        media.other_payload_types += s.other_payload_types;
        media.out_of_order += s.out_of_order;
        media.frames_skipped += s.frames_skipped;
        media.late_5ms += s.late_5ms;
        media.late_20ms += s.late_20ms;
        expected += s.expected();
        gaps += s.sequence_gaps();
        jitter.push(s.jitter_ms);
        max_jitter.push(s.max_jitter_ms);
        if s.late_20ms > 0 {
            calls_with_late += 1;
        }
    }
    let answered_without_media = results
        .iter()
        .filter(|r| r.answered && !streams.contains_key(&r.index))
        .count();

    // Server CPU and RSS.
    let server = match (baseline, after) {
        (Some(baseline), Some(after)) => {
            let peak_live = ticks.iter().map(|t| t.live).max().unwrap_or(0);
            // Steady: samples with every answered call live, after `settle` seconds.
            let plateau: Vec<&Tick> = ticks.iter().filter(|t| t.live == peak_live).collect();
            let mut by_thread: BTreeMap<String, f64> = BTreeMap::new();
            let steady = match (plateau.first(), plateau.last()) {
                (Some(first), Some(last)) if peak_live > 0 => {
                    let open = first.proc.at + Duration::from_secs_f64(shared.args.settle);
                    let from = plateau.iter().find(|t| t.proc.at >= open).copied();
                    from.and_then(|from| {
                        let secs = last
                            .proc
                            .at
                            .checked_duration_since(from.proc.at)?
                            .as_secs_f64();
                        let call_seconds = secs * peak_live as f64;
                        for (name, end) in &last.threads {
                            let start = from.threads.get(name).copied().unwrap_or_default();
                            by_thread.insert(
                                name.clone(),
                                end.saturating_sub(start) as f64 / call_seconds,
                            );
                        }
                        CpuWindow::new(&from.proc, &last.proc, call_seconds)
                    })
                }
                _ => None,
            };
            let whole = CpuWindow::new(&baseline, &after, call_seconds);
            let peak_rss = ticks
                .iter()
                .filter(|t| t.live == peak_live)
                .map(|t| t.proc.rss_kib)
                .max()
                .unwrap_or(baseline.rss_kib);
            let peak_fds = ticks
                .iter()
                .filter(|t| t.live == peak_live)
                .map(|t| t.proc.fds)
                .max()
                .unwrap_or(baseline.fds);
            let per_call = |v: u64, base: u64| {
                if peak_live == 0 {
                    0.0
                } else {
                    v.saturating_sub(base) as f64 / peak_live as f64
                }
            };
            json!({
                "pid": pid,
                "baseline": baseline,
                "peak_live_calls": peak_live,
                "peak_rss_kib": peak_rss,
                "rss_per_call_kib": per_call(peak_rss, baseline.rss_kib),
                "fds_per_call": per_call(peak_fds, baseline.fds),
                "threads": after.threads,
                "steady": steady,
                "steady_us_per_call_second_by_thread": by_thread,
                "whole_run": whole,
                "after": after,
            })
        }
        _ => serde_json::Value::Null,
    };
    let caller_cpu = match (own_before, own_after) {
        (Some(a), Some(b)) if call_seconds > 0.0 => {
            json!(b.cpu_us.saturating_sub(a.cpu_us) as f64 / call_seconds)
        }
        _ => serde_json::Value::Null,
    };

    let args = &shared.args;
    let ratio = if attempted == 0 {
        0.0
    } else {
        answered as f64 / attempted as f64
    };
    let report = json!({
        "label": args.label,
        "target": args.target.to_string(),
        "calls": calls,
        "rate_per_s": rate,
        "arrivals": shared.args.arrivals,
        "hold_s": hold,
        "keys": args.keys,
        "caller_media": {
            "send_rtp": args.send_rtp,
            "keepalive_ms": args.keepalive_ms,
            "rtp_packets_sent": results.iter().map(|r| r.rtp_sent).sum::<u64>(),
            "keys_sent": results.iter().map(|r| u64::from(r.keys_sent)).sum::<u64>(),
            "reinvites_answered": results.iter().map(|r| u64::from(r.reinvites)).sum::<u64>(),
        },
        "duration_s": end.duration_since(start).as_secs_f64(),
        "load_average": {"start": load_start, "end": load_end},
        "sip": {
            "attempted": attempted,
            "answered": answered,
            "session_establishment_ratio": ratio,
            "failures": failures,
            "answered_calls_ended_early": held_short,
            "ended_by_server": results.iter().filter(|r| r.ended_by_server).count(),
            "session_request_delay_ms": summary(|r| r.srd_ms),
            "invite_to_200_ms": summary(|r| r.setup_ms),
            "session_disconnect_delay_ms": summary(|r| r.disconnect_ms),
            "invite_retransmissions": results.iter().map(|r| u64::from(r.invite_retransmissions)).sum::<u64>(),
            "bye_retransmissions": results.iter().map(|r| u64::from(r.bye_retransmissions)).sum::<u64>(),
            "bye_unanswered": results.iter().filter(|r| r.answered && !r.ended_by_server && !r.bye_answered).count(),
            "call_seconds": call_seconds,
        },
        "media": {
            "calls_with_media": streams.len(),
            "answered_calls_without_media": answered_without_media,
            "packets": media.packets,
            "packets_per_call_second": if call_seconds > 0.0 { media.packets as f64 / call_seconds } else { 0.0 },
            "expected": expected,
            "sequence_gaps": gaps,
            "out_of_order": media.out_of_order,
            "frames_skipped_by_sender": media.frames_skipped,
            "other_payload_types": media.other_payload_types,
            "late_over_5ms": media.late_5ms,
            "late_over_20ms": media.late_20ms,
            "calls_with_late_packets": calls_with_late,
            "lateness_ms": {
                "p50": lateness.percentile(50.0),
                "p99": lateness.percentile(99.0),
                "p99_9": lateness.percentile(99.9),
                "max": lateness.percentile(100.0),
            },
            "jitter_ms_end_of_call": Summary::of(jitter),
            "jitter_ms_max_in_call": Summary::of(max_jitter),
            "unmatched_packets": unmatched,
            "caller_socket_drops": socket_drops,
        },
        "udp_counters": udp,
        "server": server,
        "caller_cpu_us_per_call_second": caller_cpu,
    });
    eprintln!("{}", one_line(&report));
    Ok(report)
}

fn one_line(r: &serde_json::Value) -> String {
    let f = |p: &str| r.pointer(p).cloned().unwrap_or(serde_json::Value::Null);
    let num = |p: &str| f(p).as_f64().unwrap_or(f64::NAN);
    format!(
        "calls={} answered={} SER={:.4} failures={} setup p50/p95/p99={:.2}/{:.2}/{:.2} ms \
         late>20ms={} late>5ms={} lateness p99={:.2} ms jitter p50/max={:.3}/{:.3} ms gaps={} \
         cpu steady={:.0} whole={:.0} us/call-s rss/call={:.1} KiB load={}→{}",
        f("/calls"),
        f("/sip/answered"),
        num("/sip/session_establishment_ratio"),
        f("/sip/failures"),
        num("/sip/invite_to_200_ms/p50"),
        num("/sip/invite_to_200_ms/p95"),
        num("/sip/invite_to_200_ms/p99"),
        f("/media/late_over_20ms"),
        f("/media/late_over_5ms"),
        num("/media/lateness_ms/p99"),
        num("/media/jitter_ms_end_of_call/p50"),
        num("/media/jitter_ms_max_in_call/max"),
        f("/media/sequence_gaps"),
        num("/server/steady/cpu_us_per_call_second"),
        num("/server/whole_run/cpu_us_per_call_second"),
        num("/server/rss_per_call_kib"),
        f("/load_average/start"),
        f("/load_average/end"),
    )
}
