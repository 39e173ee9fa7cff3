//! The send clock of one stream: absolute deadlines `anchor + k·20 ms`, never `sleep(20 ms)`.
//!
//! A sleep loop drifts (6% in 20 s was measured here); deadlines computed from the anchor do
//! not, however late a tick is. When the media loop was held up, the frames whose deadlines
//! passed are due at once: up to [`Pacer::max_catch_up`] of them are sent back to back (a short
//! stall: the receiver's jitter buffer absorbs it); after a longer stall the late frames are
//! skipped and only the newest is sent, so the stream is back on its grid at once (the skipped
//! frames advance the RTP timestamp: see `RtpStream::skip_frames`). Pure logic: the caller
//! passes `now`, so tests use synthetic instants.

use std::ops::Range;
use std::time::{Duration, Instant};

/// What is due at one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Frame indices k whose deadlines passed and that were not yet given out. The caller sends
    /// those of them that are not skipped.
    pub frames: Range<u64>,
    /// How many of the first frames of `frames` are too late and should be skipped, not sent.
    pub skipped: u64,
}

impl Due {
    /// Frames to send now (after the skipped ones).
    pub fn send(&self) -> u64 {
        (self.frames.end - self.frames.start).saturating_sub(self.skipped)
    }

    /// The frame indices to send now.
    pub fn to_send(&self) -> Range<u64> {
        self.frames.start.saturating_add(self.skipped)..self.frames.end
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// Absolute deadlines for frames k = 0, 1, 2, ...: `anchor + k·period`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pacer {
    anchor: Instant,
    period: Duration,
    next: u64,
    max_catch_up: u64,
}

impl Pacer {
    /// Frame 0 is due at `anchor`; one frame every 20 ms; catch up at most 3 frames.
    pub fn new(anchor: Instant) -> Self {
        Self::with_period(
            anchor,
            Duration::from_millis(u64::from(super::super::FRAME_MS)),
        )
    }

    /// Any period (a zero period is taken as 1 ms).
    pub fn with_period(anchor: Instant, period: Duration) -> Self {
        Pacer {
            anchor,
            period: period.max(Duration::from_millis(1)),
            next: 0,
            max_catch_up: 3,
        }
    }

    /// How many overdue frames are still sent back to back; more are skipped.
    pub fn with_max_catch_up(mut self, frames: u64) -> Self {
        self.max_catch_up = frames.max(1);
        self
    }

    pub fn max_catch_up(&self) -> u64 {
        self.max_catch_up
    }

    pub fn anchor(&self) -> Instant {
        self.anchor
    }

    /// The index of the next frame not yet given out.
    pub fn next_frame(&self) -> u64 {
        self.next
    }

    /// The deadline of frame `k`: `anchor + k·period` (past what `Instant` can hold, some
    /// centuries on, the anchor itself: unreachable for a call).
    pub fn deadline(&self, k: u64) -> Instant {
        let nanos = self.period.as_nanos().saturating_mul(u128::from(k));
        let offset = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        self.anchor.checked_add(offset).unwrap_or(self.anchor)
    }

    /// When the next frame is due: the time for the media loop's next wake-up.
    pub fn next_deadline(&self) -> Instant {
        self.deadline(self.next)
    }

    /// The frames due at `now` (deadline ≤ now), each given out once. Before the anchor, or
    /// between deadlines, nothing is due.
    pub fn poll(&mut self, now: Instant) -> Due {
        let Some(elapsed) = now.checked_duration_since(self.anchor) else {
            return Due {
                frames: self.next..self.next,
                skipped: 0,
            };
        };
        // Frames 0..=floor(elapsed / period) have deadlines at or before `now`.
        let last = elapsed.as_nanos() / self.period.as_nanos();
        let end = u64::try_from(last)
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1);
        if end <= self.next {
            return Due {
                frames: self.next..self.next,
                skipped: 0,
            };
        }
        let count = end - self.next;
        let skipped = if count > self.max_catch_up {
            count - 1
        } else {
            0
        };
        let due = Due {
            frames: self.next..end,
            skipped,
        };
        self.next = end;
        due
    }
}
