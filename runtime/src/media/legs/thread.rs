//! The media threads and the handles calls hold: control messages in, a wheel ticked per thread.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc as std_mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::warn;

use super::LegCommand;
use super::leg::Leg;
use super::wheel::{SLOTS, Wheel, slot_of};
use crate::media::rtp;

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

pub(super) enum Control {
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
