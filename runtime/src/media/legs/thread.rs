//! The media threads and the handles calls hold: control messages in, a wheel ticked per thread.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc as std_mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::warn;

use super::leg::Leg;
use super::receive::Receiver;
use super::wheel::{SLOTS, Wheel};
use super::{Group, LegCommand, LegId, NotOnOneThread, RoomId, Source};
use crate::media::rtp;

/// What a call's task holds of its leg: commands go to the leg's thread; dropping it removes
/// the leg (and closes its socket) there.
pub struct LegHandle {
    id: LegId,
    thread: usize,
    control: std_mpsc::Sender<Control>,
}

impl LegHandle {
    pub fn send(&self, command: LegCommand) {
        let _ = self.control.send(Control::Command(self.id, command));
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
        let _ = self.control.send(Control::Remove(self.id));
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
    next_thread: AtomicUsize,
    /// Leg and room numbers (one sequence: unique per server).
    next_id: AtomicU64,
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
            let poll = Receiver::poll()?;
            let handle = std::thread::Builder::new()
                .name(format!("media-{index}"))
                .spawn(move || {
                    run_thread(Wheel::new(Instant::now(), poll), &commands, &stop_flag)
                })?;
            started.push(MediaThread {
                control,
                stop,
                handle: Some(handle),
            });
        }
        Ok(MediaLoops {
            threads: started,
            next_thread: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
        })
    }

    /// One media thread per available core.
    pub fn per_core() -> std::io::Result<MediaLoops> {
        MediaLoops::start(std::thread::available_parallelism().map_or(1, usize::from))
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

    /// Give `leg` to a media thread (round robin); the handle sends it commands.
    pub fn add(&self, leg: Leg) -> LegHandle {
        self.add_to(self.group(), leg)
    }

    /// Give `leg` to the thread of `group`, with the legs it will share audio with.
    pub fn add_to(&self, group: Group, leg: Leg) -> LegHandle {
        let id = LegId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let control = match self.threads.get(group.thread) {
            Some(thread) => thread.control.clone(),
            // Unreachable (groups come from this value, which has at least one thread); a
            // handle whose commands go nowhere keeps the call alive without media rather than
            // panicking.
            None => std_mpsc::channel().0,
        };
        let _ = control.send(Control::Add(id, Box::new(leg)));
        LegHandle {
            id,
            thread: group.thread,
            control,
        }
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
    let mut packet = [0u8; rtp::G711_PACKET_LEN];
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
            wheel.run_tick(tick, now, &mut packet);
            tick += 1;
        }
        // Then what the callers sent meanwhile, from the sockets that have something.
        wheel.receive(now);
        // Sleep to the next tick whose slot has legs (ticks in between have nothing to do).
        let next = wheel.anchor + Duration::from_millis(wheel.next_busy_tick(tick));
        let wait = next.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}
