//! The RTP side of live calls: one media thread per core paces every call's stream.
//!
//! ```text
//!   call task ──LegCommand (start, enqueue/loaded/drop a prompt, renegotiate, record)──┐
//!                                                                                     ▼
//!   media thread k:  every 1 ms: commands in ─► slot t % 20 of the wheel ─► for each leg there:
//!                      due frames out (sendto) ─ inbound RTP drained (recvfrom) ─► DTMF, audio
//!                                                                                     │
//!   call task ◄──MediaEvent (playback finished, digit, recorded audio, caller silent)─┘
//! ```
//!
//! ARCHITECTURE.md measured this shape as the cheapest media clock on this machine: a call's
//! task no longer wakes every 20 ms (nor on every packet in); it wakes for what changes the
//! flow. Each leg sits in one of 20 slots of a 1 ms wheel, chosen when its media starts, and its
//! frames keep absolute deadlines on the thread's millisecond grid (`rtp::Pacer`: catch-up after
//! a short stall, skip-ahead after a long one). Legs are packed into few slots (up to
//! `SLOT_CAPACITY` each) and the thread sleeps to the next tick whose slot has legs, so a
//! thread with few calls wakes a few times per 20 ms, not every millisecond. Sockets are plain non-blocking
//! `std::net::UdpSocket`s, never registered with the reactor. Inbound RTP waits in the socket
//! until the leg's tick (at most 20 ms): DTMF and recordings are that much later.
//!
//! A later bridge (a call transferred to staff) or conference mixes legs of one thread here.

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc as std_mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::warn;

use super::sdp::Negotiated;
use crate::engine::Id;
use crate::media::FRAME_SAMPLES;
use crate::media::codec::Codec;
use crate::media::dtmf::{InbandDetector, Rfc4733Receiver};
use crate::media::prompt::EncodedPrompt;
use crate::media::rtp::{self, Pacer, RtpStream};

/// Wheel slots: one per millisecond of a 20 ms frame.
const SLOTS: usize = 20;
/// Legs a slot takes before new legs go to another slot: at most this many frames leave
/// back to back on one tick (~4 µs of `sendto` each), while few calls still share few ticks.
const SLOT_CAPACITY: usize = 32;
/// Datagrams read from one leg's socket per tick, at most (50 would be 1 s of audio).
const MAX_READS_PER_TICK: usize = 64;

/// What a call asks of its media leg.
#[derive(Debug)]
pub enum LegCommand {
    /// The caller acknowledged the answer: frames start on the next tick of a slot.
    Start,
    /// A prompt will play after those queued before it (silence until it is loaded).
    Enqueue(Id),
    /// The frames of a queued prompt.
    Loaded(Id, Arc<EncodedPrompt>),
    /// Forget a queued or playing prompt (no `Finished` follows).
    Drop(Id),
    /// A re-INVITE changed the remote address, codec or hold state.
    Renegotiated(Negotiated),
    /// Send the caller's decoded audio as `MediaEvent::Audio` (a recording), or stop.
    ForwardAudio(bool),
}

/// What a media leg tells its call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// The last frame of this prompt left.
    Finished(Id),
    /// A DTMF digit (RFC 4733 event or in-band tone).
    Digit(char),
    /// 20 ms of the caller's audio, while forwarding is on.
    Audio(Vec<i16>),
    /// No RTP from the caller for the RTP timeout (told once).
    Silent,
}

/// A prompt waiting or playing.
struct Queued {
    playback: Id,
    frames: Option<Arc<EncodedPrompt>>,
    position: usize,
}

/// One call's stream, owned by a media thread.
pub struct Leg {
    socket: UdpSocket,
    negotiated: Negotiated,
    rtp: RtpStream,
    dtmf: Option<Rfc4733Receiver>,
    inband: InbandDetector,
    queue: VecDeque<Queued>,
    pacer: Option<Pacer>,
    forward_audio: bool,
    rtp_timeout: Duration,
    last_rtp_in: Instant,
    silent_told: bool,
    /// The last packet in, decoded (reused).
    pcm: Vec<i16>,
    events: mpsc::UnboundedSender<MediaEvent>,
}

impl Leg {
    /// A leg on `socket` (made non-blocking here) for the stream `negotiated` describes.
    pub fn new(
        socket: UdpSocket,
        negotiated: Negotiated,
        rtp_timeout: Duration,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> std::io::Result<Leg> {
        socket.set_nonblocking(true)?;
        Ok(Leg {
            socket,
            dtmf: negotiated.dtmf_payload_type.map(Rfc4733Receiver::new),
            rtp: RtpStream::random(negotiated.codec.payload_type()),
            negotiated,
            inband: InbandDetector::default(),
            queue: VecDeque::new(),
            pacer: None,
            forward_audio: false,
            rtp_timeout,
            last_rtp_in: Instant::now(),
            silent_told: false,
            pcm: Vec::new(),
            events,
        })
    }

    fn command(&mut self, command: LegCommand) {
        match command {
            // Start is handled by the thread (it picks the slot).
            LegCommand::Start => {}
            LegCommand::Enqueue(playback) => self.queue.push_back(Queued {
                playback,
                frames: None,
                position: 0,
            }),
            LegCommand::Loaded(playback, prompt) => {
                if let Some(q) = self.queue.iter_mut().find(|q| q.playback == playback) {
                    q.frames = Some(prompt);
                }
            }
            LegCommand::Drop(playback) => self.queue.retain(|q| q.playback != playback),
            LegCommand::Renegotiated(negotiated) => {
                if negotiated.codec != self.negotiated.codec {
                    self.rtp = RtpStream::new(
                        negotiated.codec.payload_type(),
                        self.rtp.ssrc(),
                        self.rtp.next_sequence(),
                        self.rtp.next_timestamp(),
                    );
                }
                if negotiated.dtmf_payload_type != self.negotiated.dtmf_payload_type {
                    self.dtmf = negotiated.dtmf_payload_type.map(Rfc4733Receiver::new);
                }
                if self.negotiated.on_hold && !negotiated.on_hold {
                    // Back from hold: the caller was not sending; the timeout starts again.
                    self.last_rtp_in = Instant::now();
                }
                self.negotiated = negotiated;
            }
            LegCommand::ForwardAudio(on) => self.forward_audio = on,
        }
    }

    /// The leg's tick: frames due at `now` out, then what the caller sent in.
    fn tick(&mut self, now: Instant, packet: &mut [u8], buf: &mut [u8]) {
        let Some(pacer) = self.pacer.as_mut() else {
            return;
        };
        let due = pacer.poll(now);
        if due.skipped > 0 {
            self.rtp.skip_frames(due.skipped);
        }
        for _ in due.to_send() {
            self.send_frame(packet);
        }
        for _ in 0..MAX_READS_PER_TICK {
            let Ok((len, from)) = self.socket.recv_from(buf) else {
                break;
            };
            if let Some(datagram) = buf.get(..len) {
                self.on_rtp(datagram, from, now);
            }
        }
        if !self.silent_told
            && !self.negotiated.on_hold
            && now.saturating_duration_since(self.last_rtp_in) > self.rtp_timeout
        {
            self.silent_told = true;
            let _ = self.events.send(MediaEvent::Silent);
        }
    }

    fn send_frame(&mut self, packet: &mut [u8]) {
        if self.negotiated.on_hold {
            return;
        }
        let codec = self.negotiated.codec;
        let silence = [codec.silence(); FRAME_SAMPLES];
        let mut finished = None;
        let frame: &[u8] = match self.queue.front_mut() {
            Some(Queued {
                frames: Some(prompt),
                position,
                playback,
            }) => {
                let frames = prompt.frames(codec);
                match frames.get(*position) {
                    Some(frame) => {
                        *position += 1;
                        if *position >= frames.len() {
                            finished = Some(*playback);
                        }
                        frame
                    }
                    None => {
                        finished = Some(*playback);
                        &silence
                    }
                }
            }
            _ => &silence,
        };
        if let Ok(len) = self.rtp.next_packet(frame, packet)
            && let Some(bytes) = packet.get(..len)
        {
            let _ = self.socket.send_to(bytes, self.negotiated.remote);
        }
        if let Some(playback) = finished {
            self.queue.pop_front();
            let _ = self.events.send(MediaEvent::Finished(playback));
        }
    }

    fn on_rtp(&mut self, datagram: &[u8], from: SocketAddr, now: Instant) {
        // Against RTP bleed: only the address negotiated in SDP.
        if from != self.negotiated.remote {
            return;
        }
        let Ok(packet) = rtp::parse(datagram) else {
            return;
        };
        self.last_rtp_in = now;
        if let Some(receiver) = self.dtmf.as_mut()
            && packet.payload_type == receiver.payload_type()
        {
            if let Some(digit) = receiver.push(&packet, now) {
                let _ = self.events.send(MediaEvent::Digit(digit));
            }
            return;
        }
        let Some(codec) = Codec::from_payload_type(packet.payload_type) else {
            return;
        };
        // Decoded into the leg's own buffer: no allocation per packet unless recording.
        self.pcm.resize(packet.payload.len(), 0);
        let decoded = codec.decode(packet.payload, &mut self.pcm);
        let pcm = self.pcm.get(..decoded).unwrap_or_default();
        let mut digits = Vec::new();
        self.inband.push(pcm, &mut digits);
        if self.forward_audio {
            let _ = self.events.send(MediaEvent::Audio(pcm.to_vec()));
        }
        for digit in digits {
            let _ = self.events.send(MediaEvent::Digit(digit));
        }
    }
}

/// What a call's task holds of its leg: commands go to the leg's thread; dropping it removes
/// the leg (and closes its socket) there.
pub struct LegHandle {
    id: u64,
    control: std_mpsc::Sender<Control>,
}

impl LegHandle {
    pub fn send(&self, command: LegCommand) {
        let _ = self.control.send(Control::Command(self.id, command));
    }
}

impl Drop for LegHandle {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Remove(self.id));
    }
}

enum Control {
    Add(u64, Box<Leg>),
    Command(u64, LegCommand),
    Remove(u64),
}

/// The media threads of a server: legs are spread over them; dropping it stops and joins them.
pub struct MediaLoops {
    threads: Vec<MediaThread>,
    next_thread: AtomicUsize,
    next_leg: AtomicU64,
}

struct MediaThread {
    control: std_mpsc::Sender<Control>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl MediaLoops {
    /// `threads` media threads (at least one): one per core is the intended number.
    pub fn start(threads: usize) -> std::io::Result<MediaLoops> {
        let mut started = Vec::new();
        for index in 0..threads.max(1) {
            let (control, commands) = std_mpsc::channel();
            let stop = Arc::new(AtomicBool::new(false));
            let stop_flag = stop.clone();
            let handle = std::thread::Builder::new()
                .name(format!("media-{index}"))
                .spawn(move || run_thread(&commands, &stop_flag))?;
            started.push(MediaThread {
                control,
                stop,
                handle: Some(handle),
            });
        }
        Ok(MediaLoops {
            threads: started,
            next_thread: AtomicUsize::new(0),
            next_leg: AtomicU64::new(1),
        })
    }

    /// One media thread per available core.
    pub fn per_core() -> std::io::Result<MediaLoops> {
        MediaLoops::start(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// Give `leg` to a media thread (round robin); the handle sends it commands.
    pub fn add(&self, leg: Leg) -> LegHandle {
        let id = self.next_leg.fetch_add(1, Ordering::Relaxed);
        let index = self.next_thread.fetch_add(1, Ordering::Relaxed) % self.threads.len().max(1);
        let control = match self.threads.get(index) {
            Some(thread) => thread.control.clone(),
            // Unreachable (start makes at least one thread); a handle whose commands go
            // nowhere keeps the call alive without media rather than panicking.
            None => std_mpsc::channel().0,
        };
        let _ = control.send(Control::Add(id, Box::new(leg)));
        LegHandle { id, control }
    }
}

impl Drop for MediaLoops {
    fn drop(&mut self) {
        for thread in &self.threads {
            thread.stop.store(true, Ordering::Relaxed);
        }
        for thread in &mut self.threads {
            if let Some(handle) = thread.handle.take()
                && handle.join().is_err()
            {
                warn!("a media thread panicked");
            }
        }
    }
}

/// One media thread's legs: a 1 ms tick over a 20-slot wheel.
struct Wheel {
    /// Tick t is due at `anchor + t ms` and serves slot `t % 20`.
    anchor: Instant,
    legs: HashMap<u64, (Leg, Option<usize>)>,
    slots: Vec<Vec<u64>>,
    /// Legs in a slot (started).
    started: usize,
}

impl Wheel {
    fn new(anchor: Instant) -> Wheel {
        Wheel {
            anchor,
            legs: HashMap::new(),
            slots: vec![Vec::new(); SLOTS],
            started: 0,
        }
    }

    /// Apply one control message; `current` is the tick now running.
    fn apply(&mut self, control: Control, now: Instant, current: u64) {
        match control {
            Control::Add(id, leg) => {
                self.legs.insert(id, (*leg, None));
            }
            Control::Command(id, LegCommand::Start) => {
                let chosen = self.choose_slot(current);
                if let Some((leg, slot @ None)) = self.legs.get_mut(&id) {
                    // The first frame is due at the slot's next tick; the slot comes round
                    // every 20 ms after, exactly on the leg's deadlines.
                    let first = next_tick_of(chosen, current);
                    leg.pacer = Some(Pacer::new(self.anchor + Duration::from_millis(first)));
                    leg.rtp.start_talk_spurt();
                    leg.last_rtp_in = now;
                    *slot = Some(chosen);
                    if let Some(members) = self.slots.get_mut(chosen) {
                        members.push(id);
                        self.started += 1;
                    }
                }
            }
            Control::Command(id, command) => {
                if let Some((leg, _)) = self.legs.get_mut(&id) {
                    leg.command(command);
                }
            }
            Control::Remove(id) => {
                if let Some((_, Some(slot))) = self.legs.remove(&id)
                    && let Some(members) = self.slots.get_mut(slot)
                {
                    members.retain(|member| *member != id);
                    self.started -= 1;
                }
            }
        }
    }

    /// The slot for a leg starting now. Legs are packed: the fullest slot still under
    /// [`SLOT_CAPACITY`] takes it, so that a thread with few calls wakes a few times per 20 ms,
    /// not every millisecond; when every used slot is full, an empty one (the next to come
    /// round); when all are full, the emptiest, so that no tick sends far more than the others.
    fn choose_slot(&self, current: u64) -> usize {
        let fullest_open = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, members)| !members.is_empty() && members.len() < SLOT_CAPACITY)
            .max_by_key(|(_, members)| members.len())
            .map(|(slot, _)| slot);
        let next_empty = (1..=SLOTS as u64)
            .map(|ahead| slot_of(current + ahead))
            .find(|slot| self.slots.get(*slot).is_some_and(Vec::is_empty));
        let emptiest = || {
            self.slots
                .iter()
                .enumerate()
                .min_by_key(|(_, members)| members.len())
                .map_or(0, |(slot, _)| slot)
        };
        fullest_open.or(next_empty).unwrap_or_else(emptiest)
    }

    /// The first tick after `tick` whose slot holds legs (`tick + 20` when none does).
    fn next_busy_tick(&self, tick: u64) -> u64 {
        (tick..tick + SLOTS as u64)
            .find(|t| self.slots.get(slot_of(*t)).is_some_and(|m| !m.is_empty()))
            .unwrap_or(tick + SLOTS as u64)
    }

    /// The tick number running at `now`.
    fn current(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.anchor).as_millis();
        u64::try_from(elapsed).unwrap_or(u64::MAX)
    }
}

/// The wheel slot tick `tick` serves.
fn slot_of(tick: u64) -> usize {
    usize::try_from(tick % SLOTS as u64).unwrap_or(0)
}

/// The first tick after `current` that serves `slot`.
fn next_tick_of(slot: usize, current: u64) -> u64 {
    let slots = SLOTS as u64;
    let slot = slot as u64 % slots;
    let ahead = (slot + slots - current % slots) % slots;
    current + if ahead == 0 { slots } else { ahead }
}

/// One media thread: a 1 ms tick over a 20-slot wheel of legs; with no leg started, it waits
/// for commands instead of ticking.
fn run_thread(commands: &std_mpsc::Receiver<Control>, stop: &AtomicBool) {
    let mut wheel = Wheel::new(Instant::now());
    let mut packet = [0u8; rtp::G711_PACKET_LEN];
    let mut buf = vec![0u8; 2048];
    // The next tick to run.
    let mut tick: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        if wheel.started == 0 {
            // Idle: no 1 ms wake-ups; the stop flag is looked at every 50 ms.
            if let Ok(control) = commands.recv_timeout(Duration::from_millis(50)) {
                let now = Instant::now();
                let current = wheel.current(now);
                wheel.apply(control, now, current);
                tick = tick.max(current + 1);
            }
            continue;
        }
        let now = Instant::now();
        let current = wheel.current(now);
        while let Ok(control) = commands.try_recv() {
            wheel.apply(control, now, current);
        }
        // Run every tick up to now; after a stall longer than the wheel, each slot once
        // (the pacer then skips or catches up the late frames).
        if current >= tick + SLOTS as u64 {
            tick = current + 1 - SLOTS as u64;
        }
        while tick <= current {
            let slot = slot_of(tick);
            if let Some(members) = wheel.slots.get(slot) {
                for id in members {
                    if let Some((leg, _)) = wheel.legs.get_mut(id) {
                        leg.tick(now, &mut packet, &mut buf);
                    }
                }
            }
            tick += 1;
        }
        // Sleep to the next tick whose slot has legs (ticks in between have nothing to do).
        let next = wheel.anchor + Duration::from_millis(wheel.next_busy_tick(tick));
        let wait = next.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A leg whose caller is a plain socket on loopback, and that caller.
    fn leg(timeout: Duration) -> (Leg, UdpSocket, mpsc::UnboundedReceiver<MediaEvent>) {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let caller = UdpSocket::bind("127.0.0.1:0").unwrap();
        caller
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let negotiated = Negotiated {
            remote: caller.local_addr().unwrap(),
            codec: Codec::Pcmu,
            dtmf_payload_type: Some(101),
            on_hold: false,
        };
        let (events, receiver) = mpsc::unbounded_channel();
        let leg = Leg::new(server, negotiated, timeout, events).unwrap();
        (leg, caller, receiver)
    }

    /// Packets the caller receives until `count` arrived: (arrival, sequence, payload).
    fn receive(caller: &UdpSocket, count: usize) -> Vec<(Instant, u16, Vec<u8>)> {
        let mut buf = [0u8; 2048];
        (0..count)
            .map(|_| {
                let len = caller.recv(&mut buf).expect("a packet within 500 ms");
                let packet = rtp::parse(&buf[..len]).unwrap();
                (Instant::now(), packet.sequence, packet.payload.to_vec())
            })
            .collect()
    }

    #[test]
    fn two_legs_on_one_thread_get_their_prompts_paced_and_finished() {
        let loops = MediaLoops::start(1).unwrap();
        let timeout = Duration::from_secs(60);
        let (first, first_caller, mut first_events) = leg(timeout);
        let (second, second_caller, mut second_events) = leg(timeout);
        let first = loops.add(first);
        let second = loops.add(second);
        // A prompt of 10 frames of a constant non-silent sample.
        let prompt = Arc::new(EncodedPrompt::from_pcm(&[4000; FRAME_SAMPLES * 10]));
        let tone = prompt.frames(Codec::Pcmu)[0].to_vec();
        for (handle, playback) in [(&first, 1), (&second, 2)] {
            handle.send(LegCommand::Enqueue(playback));
            handle.send(LegCommand::Loaded(playback, prompt.clone()));
        }
        first.send(LegCommand::Start);
        std::thread::sleep(Duration::from_millis(7));
        second.send(LegCommand::Start);

        // Both callers listen at once (a packet's arrival time is when it is read).
        let (first_packets, second_packets) = std::thread::scope(|scope| {
            let first = scope.spawn(|| receive(&first_caller, 15));
            let second = receive(&second_caller, 15);
            (first.join().unwrap(), second)
        });
        for (packets, events, playback) in [
            (first_packets, &mut first_events, 1),
            (second_packets, &mut second_events, 2),
        ] {
            // The prompt first, then silence; sequence numbers without a gap.
            assert!(packets[..10].iter().all(|(_, _, payload)| *payload == tone));
            let silence = vec![Codec::Pcmu.silence(); FRAME_SAMPLES];
            assert!(
                packets[10..]
                    .iter()
                    .all(|(_, _, payload)| *payload == silence)
            );
            for pair in packets.windows(2) {
                assert_eq!(pair[1].1, pair[0].1.wrapping_add(1));
            }
            // 14 gaps of 20 ms: 280 ms, paced, not a burst. The upper bound is loose: a stalled
            // thread skips frames (timestamps jump, sequence numbers do not), which takes longer.
            let span = packets[14].0 - packets[0].0;
            assert!(
                span > Duration::from_millis(200) && span < Duration::from_secs(1),
                "{span:?}"
            );
            assert_eq!(events.try_recv(), Ok(MediaEvent::Finished(playback)));
        }
    }

    #[test]
    fn a_silent_caller_is_reported_once_and_a_dropped_prompt_never_plays() {
        let loops = MediaLoops::start(1).unwrap();
        let (leg, caller, mut events) = leg(Duration::from_millis(100));
        let handle = loops.add(leg);
        let prompt = Arc::new(EncodedPrompt::from_pcm(&[4000; FRAME_SAMPLES * 3]));
        handle.send(LegCommand::Enqueue(7));
        handle.send(LegCommand::Loaded(7, prompt));
        handle.send(LegCommand::Drop(7));
        handle.send(LegCommand::Start);
        let packets = receive(&caller, 10);
        let silence = vec![Codec::Pcmu.silence(); FRAME_SAMPLES];
        assert!(packets.iter().all(|(_, _, payload)| *payload == silence));
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(events.try_recv(), Ok(MediaEvent::Silent));
        assert!(events.try_recv().is_err(), "told once, no Finished");
    }

    #[test]
    fn legs_are_packed_into_few_slots_until_a_slot_is_full() {
        let mut wheel = Wheel::new(Instant::now());
        let current = 1_000_000 + 7; // slot 7 is running
        // The first leg takes the next slot to come round.
        assert_eq!(wheel.choose_slot(current), 8);
        let mut id = 0;
        let mut place = |wheel: &mut Wheel, slot: usize| {
            id += 1;
            wheel.slots[slot].push(id);
        };
        place(&mut wheel, 8);
        // Then the same slot, until it holds SLOT_CAPACITY legs.
        for _ in 1..SLOT_CAPACITY {
            assert_eq!(wheel.choose_slot(current), 8);
            place(&mut wheel, 8);
        }
        // Full: the next empty slot to come round.
        assert_eq!(wheel.choose_slot(current), 9);
        place(&mut wheel, 9);
        assert_eq!(wheel.choose_slot(current), 9, "the fullest open slot");
        // Every slot full: the emptiest one.
        for slot in 0..SLOTS {
            while wheel.slots[slot].len() < SLOT_CAPACITY {
                place(&mut wheel, slot);
            }
        }
        place(&mut wheel, 3);
        let chosen = wheel.choose_slot(current);
        assert_ne!(chosen, 3);
        assert_eq!(wheel.slots[chosen].len(), SLOT_CAPACITY);
    }

    #[test]
    fn a_slots_next_tick_is_within_the_next_20_and_never_now() {
        for current in [0u64, 7, 19, 20, 1_234_567] {
            for slot in 0..SLOTS {
                let tick = next_tick_of(slot, current);
                assert!(tick > current && tick <= current + SLOTS as u64);
                assert_eq!(slot_of(tick), slot);
            }
        }
        let mut wheel = Wheel::new(Instant::now());
        assert_eq!(wheel.next_busy_tick(40), 60, "no legs: a whole turn");
        wheel.slots[5].push(1);
        assert_eq!(wheel.next_busy_tick(40), 45);
        assert_eq!(wheel.next_busy_tick(45), 45);
        assert_eq!(wheel.next_busy_tick(46), 65);
    }

    #[test]
    fn dropping_the_handle_closes_the_legs_socket() {
        let loops = MediaLoops::start(1).unwrap();
        let (leg, _caller, _events) = leg(Duration::from_secs(60));
        let port = leg.socket.local_addr().unwrap();
        let handle = loops.add(leg);
        handle.send(LegCommand::Start);
        drop(handle);
        let start = Instant::now();
        while UdpSocket::bind(port).is_err() {
            assert!(start.elapsed() < Duration::from_secs(2), "port still bound");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
