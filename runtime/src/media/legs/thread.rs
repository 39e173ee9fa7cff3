//! The media threads and the handles calls hold: control messages in, a wheel ticked per thread,
//! one RTP socket per thread shared by its legs.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc as std_mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::warn;

use super::leg::{Leg, far_end};
use super::socket;
use super::wheel::{SLOTS, Wheel};
use super::{FarEndInUse, Group, LegCommand, LegId, NotOnOneThread, RoomId, Source};
use super::{FrameCounts, PublishedCounts};

/// The media threads' real-time priority: `SCHED_RR` priority 10 of Linux's 1-99, low among
/// real-time threads, so the kernel's own stay above it (`LimitRTPRIO=10` allows it).
const REALTIME_PRIORITY: u8 = 10;

/// The system refused real-time priority to the media threads.
#[derive(Debug, thiserror::Error)]
#[error("real-time priority refused: {message}")]
pub struct RealtimeRefused {
    message: String,
}

/// Where the media threads' sockets are bound: `ip`, on the first free even ports of
/// `first..=last` (one per thread; `0..=0`: ports the system picks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPorts {
    pub ip: IpAddr,
    pub first: u16,
    pub last: u16,
}

impl RtpPorts {
    /// The range a server uses unless configured otherwise.
    pub const DEFAULT_RANGE: (u16, u16) = (20_000, 29_999);

    /// Ports the system picks, on `ip`.
    pub fn any(ip: IpAddr) -> RtpPorts {
        RtpPorts {
            ip,
            first: 0,
            last: 0,
        }
    }
}

/// The far ends of one thread's legs, as calls admit them: a second leg with a far end already
/// there would be indistinguishable from the first, and is refused.
type Claims = Arc<Mutex<HashMap<SocketAddr, LegId>>>;

fn claims(claims: &Claims) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, LegId>> {
    claims.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a call's task holds of its leg: commands go to the leg's thread; dropping it removes
/// the leg there.
pub struct LegHandle {
    id: LegId,
    thread: usize,
    control: std_mpsc::Sender<Control>,
    /// The thread's socket address (the call's side of the RTP stream, in its SDP).
    local: SocketAddr,
    claims: Claims,
    /// The leg has a socket of its own: it claims no far end on its thread.
    own_socket: bool,
}

impl LegHandle {
    pub fn send(&self, command: LegCommand) {
        if let LegCommand::Renegotiated(negotiated) = &command
            && !self.own_socket
            && let Some(new) = far_end(negotiated)
        {
            // The leg's claim moves with it; an address another leg holds stays that leg's
            // (the thread then does not hand this leg that address's datagrams either).
            let mut claims = claims(&self.claims);
            if claims.get(&new).is_none_or(|owner| *owner == self.id) {
                claims.retain(|_, owner| *owner != self.id);
                claims.insert(new, self.id);
            }
        }
        let _ = self.control.send(Control::Command(self.id, command));
    }

    /// The address the leg's RTP leaves from and is expected at (its media thread's socket).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The leg, as another leg's `Source::Leg` names it.
    pub fn id(&self) -> LegId {
        self.id
    }

    /// The media thread that ticks the leg (read-only: a leg never moves).
    pub fn thread(&self) -> usize {
        self.thread
    }

    /// The leg's group: legs added to it land on this leg's thread.
    pub fn group(&self) -> Group {
        Group {
            thread: self.thread,
        }
    }

    /// Bridges two legs of one thread: each sends what the other receives.
    pub fn bridge(&self, other: &LegHandle) -> Result<(), NotOnOneThread> {
        same_thread(self.thread, other.thread)?;
        self.send(LegCommand::Source(Source::Leg(other.id)));
        other.send(LegCommand::Source(Source::Leg(self.id)));
        Ok(())
    }

    /// Joins a room of this leg's thread (`LegCommand::Join`).
    pub fn join(&self, room: RoomId) -> Result<(), NotOnOneThread> {
        same_thread(self.thread, room.thread)?;
        self.send(LegCommand::Join(room));
        Ok(())
    }
}

fn same_thread(first: usize, second: usize) -> Result<(), NotOnOneThread> {
    if first == second {
        Ok(())
    } else {
        Err(NotOnOneThread { first, second })
    }
}

impl Drop for LegHandle {
    fn drop(&mut self) {
        // Removed before its far end is free again: a new leg from that address comes after.
        let _ = self.control.send(Control::Remove(self.id));
        claims(&self.claims).retain(|_, owner| *owner != self.id);
    }
}

pub(super) enum Control {
    Add(LegId, Box<Leg>),
    Command(LegId, LegCommand),
    Remove(LegId),
}

/// The media threads of a server: unrelated legs are spread over them round robin, legs of one
/// [`Group`] share one; dropping it stops and joins them.
pub struct MediaLoops {
    threads: Vec<MediaThread>,
    /// Where legs' own sockets are bound (`add`), and where the next search starts.
    ports: RtpPorts,
    next_own_port: AtomicUsize,
    next_thread: AtomicUsize,
    /// Leg and room numbers (one sequence: unique per server).
    next_id: AtomicU64,
}

struct MediaThread {
    /// Frames this thread paced.
    counts: Arc<PublishedCounts>,
    control: std_mpsc::Sender<Control>,
    local: SocketAddr,
    claims: Claims,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl MediaLoops {
    /// `threads` media threads (at least one): one per core is the intended number. Each binds
    /// its socket on the next free even port of `ports`.
    pub fn start(threads: usize, ports: RtpPorts) -> std::io::Result<MediaLoops> {
        let mut started = Vec::new();
        let mut skip = 0;
        for index in 0..threads.max(1) {
            let (control, commands) = std_mpsc::channel();
            let stop = Arc::new(AtomicBool::new(false));
            let stop_flag = stop.clone();
            let socket = socket::bind(ports.ip, ports.first, ports.last, skip)?;
            let local = socket.local_addr()?;
            // The next thread looks from the port after this one.
            skip = (local.port().saturating_sub(ports.first) / 2).saturating_add(1);
            let counts = Arc::new(PublishedCounts::default());
            let published = counts.clone();
            let handle = std::thread::Builder::new()
                .name(format!("media-{index}"))
                .spawn(move || {
                    run_thread(
                        Wheel::new(Instant::now(), socket, published),
                        &commands,
                        &stop_flag,
                    )
                })?;
            started.push(MediaThread {
                counts,
                control,
                local,
                claims: Claims::default(),
                stop,
                handle: Some(handle),
            });
        }
        Ok(MediaLoops {
            threads: started,
            ports,
            next_own_port: AtomicUsize::new(usize::from(skip)),
            next_thread: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
        })
    }

    /// Puts every media thread at real-time priority (`SCHED_RR`, a low real-time priority:
    /// above every ordinary thread, below the kernel's own), as Asterisk's `-p` does: a thread
    /// woken for its tick then runs at once instead of after whatever woke meanwhile (on a
    /// loaded machine, the callers its own sends woke). The threads sleep between ticks, and
    /// the kernel keeps 5 % of each second for ordinary threads (`sched_rt_runtime_us`), so a
    /// busy media thread cannot freeze the machine. Refused without the privilege
    /// (`CAP_SYS_NICE`, or an `RLIMIT_RTPRIO`): the threads then stay as they were.
    pub fn set_realtime_priority(&self) -> Result<(), RealtimeRefused> {
        use std::os::unix::thread::JoinHandleExt;
        use thread_priority::{
            RealtimeThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue,
            ThreadSchedulePolicy, set_thread_priority_and_policy,
        };
        let value = ThreadPriorityValue::try_from(REALTIME_PRIORITY)
            .map_err(|message| RealtimeRefused { message })?;
        for thread in &self.threads {
            let Some(handle) = thread.handle.as_ref() else {
                continue;
            };
            set_thread_priority_and_policy(
                handle.as_pthread_t(),
                ThreadPriority::Crossplatform(value),
                ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::RoundRobin),
            )
            .map_err(|e| RealtimeRefused {
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// How many media threads run at real-time priority now.
    pub fn realtime_threads(&self) -> usize {
        use std::os::unix::thread::JoinHandleExt;
        use thread_priority::{ThreadSchedulePolicy, thread_schedule_policy_param};
        self.threads
            .iter()
            .filter_map(|thread| thread.handle.as_ref())
            .filter(|handle| {
                matches!(
                    thread_schedule_policy_param(handle.as_pthread_t()),
                    Ok((ThreadSchedulePolicy::Realtime(_), _))
                )
            })
            .count()
    }

    /// One media thread per available core.
    pub fn per_core(ports: RtpPorts) -> std::io::Result<MediaLoops> {
        MediaLoops::start(
            std::thread::available_parallelism().map_or(1, usize::from),
            ports,
        )
    }

    /// The socket address of `group`'s thread: its legs' side of their RTP streams.
    pub fn local_addr(&self, group: Group) -> Option<SocketAddr> {
        self.threads.get(group.thread).map(|thread| thread.local)
    }

    /// Frames paced by every media thread so far (sent, late, skipped).
    pub fn frame_counts(&self) -> FrameCounts {
        self.threads
            .iter()
            .map(|thread| thread.counts.read())
            .fold(FrameCounts::default(), FrameCounts::add)
    }

    /// How many media threads there are.
    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    /// A new group, on the next thread in turn (round robin).
    pub fn group(&self) -> Group {
        let thread = self.next_thread.fetch_add(1, Ordering::Relaxed) % self.threads.len().max(1);
        Group { thread }
    }

    /// Give `leg` to a media thread (round robin; the next ones in turn when the leg's far end
    /// already has a leg there; when it has one on every thread, the leg gets a socket of its
    /// own, on the next free even port of the range); the handle sends it commands. Refused
    /// only when no port is free for that socket.
    pub fn add(&self, mut leg: Leg) -> Result<LegHandle, FarEndInUse> {
        let first = self.group();
        let id = LegId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let threads = self.threads.len().max(1);
        for ahead in 0..threads {
            let group = Group {
                thread: (first.thread + ahead) % threads,
            };
            if self.claim(group, leg.far_end(), id).is_ok() {
                return self.place(group, id, leg, None);
            }
        }
        let skip = self.next_own_port.fetch_add(1, Ordering::Relaxed);
        let refused = FarEndInUse {
            far_end: leg.negotiated.remote,
            thread: first.thread,
        };
        let Ok(socket) = socket::bind_own(
            self.ports.ip,
            self.ports.first,
            self.ports.last,
            u16::try_from(skip % usize::from(u16::MAX)).unwrap_or(0),
        ) else {
            return Err(refused);
        };
        let Ok(local) = socket.local_addr() else {
            return Err(refused);
        };
        leg.own = Some(socket);
        self.place(first, id, leg, Some(local))
    }

    /// Give `leg` to the thread of `group`, with the legs it will share audio with. Refused
    /// when a leg of that thread has the same far end: its datagrams could not be told apart.
    pub fn add_to(&self, group: Group, leg: Leg) -> Result<LegHandle, FarEndInUse> {
        let id = LegId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.claim(group, leg.far_end(), id)?;
        self.place(group, id, leg, None)
    }

    /// Claim `far_end` for leg `id` on `group`'s thread, checked and taken under one lock (a leg
    /// without an address claims nothing).
    fn claim(
        &self,
        group: Group,
        far_end: Option<SocketAddr>,
        id: LegId,
    ) -> Result<(), FarEndInUse> {
        let Some(far_end) = far_end else {
            return Ok(());
        };
        let refused = FarEndInUse {
            far_end,
            thread: group.thread,
        };
        // Unreachable without a thread (groups come from this value, which has at least one).
        let thread = self.threads.get(group.thread).ok_or(refused)?;
        let mut claims = claims(&thread.claims);
        if claims.contains_key(&far_end) {
            return Err(refused);
        }
        claims.insert(far_end, id);
        Ok(())
    }

    /// Hand leg `id` to `group`'s thread. `own`: the address of the leg's own socket (it then
    /// claims no far end on its thread); `None`: the leg uses the thread's socket.
    fn place(
        &self,
        group: Group,
        id: LegId,
        leg: Leg,
        own: Option<SocketAddr>,
    ) -> Result<LegHandle, FarEndInUse> {
        let Some(thread) = self.threads.get(group.thread) else {
            // Unreachable (groups come from this value, which has at least one thread).
            return Err(FarEndInUse {
                far_end: leg.negotiated.remote,
                thread: group.thread,
            });
        };
        let _ = thread.control.send(Control::Add(id, Box::new(leg)));
        Ok(LegHandle {
            id,
            thread: group.thread,
            control: thread.control.clone(),
            local: own.unwrap_or(thread.local),
            claims: thread.claims.clone(),
            own_socket: own.is_some(),
        })
    }

    /// A new conference room on the thread of `group`; its members are added to that group.
    pub fn room(&self, group: Group) -> RoomId {
        RoomId {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            thread: group.thread,
        }
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

/// One media thread: a 1 ms tick over a 20-slot wheel of legs; with no leg started, it waits
/// for commands instead of ticking.
fn run_thread(mut wheel: Wheel, commands: &std_mpsc::Receiver<Control>, stop: &AtomicBool) {
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
            wheel.run_tick(tick, now);
            tick += 1;
        }
        // Their frames leave together.
        wheel.flush();
        // Then what the callers sent meanwhile.
        wheel.receive(now);
        // Sleep to the next tick whose slot has legs (ticks in between have nothing to do).
        let next = wheel.anchor + Duration::from_millis(wheel.next_busy_tick(tick));
        let wait = next.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}
