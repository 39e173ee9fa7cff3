//! Media legs: the RTP side of live calls. One media thread per core paces every leg's stream;
//! a leg's outgoing audio comes from a source and its incoming audio goes to sinks.
//!
//! ```text
//!   call task ──LegCommand (start, prompts, source, join/leave a room, renegotiate, record)──┐
//!                                                                                           ▼
//!   media thread k:  every 1 ms: commands in ─► room mixes of this slot ─► slot t % 20 of the wheel
//!                    for each leg there: due frames out (sendto) ◄── its source
//!                                        inbound RTP drained (recvfrom) ──► its sinks
//!                                                                                           │
//!   call task ◄──MediaEvent (playback finished, digit, recorded audio, caller silent)───────┘
//!
//!   sources (outgoing)                          sinks (incoming)
//!   Source::Prompts   queued prompts in turn     DTMF (RFC 4733 + in-band)   always
//!   Source::Loop      one prompt, repeated       recorder (MediaEvent::Audio) ForwardAudio(true)
//!   Source::Leg(b)    what leg b receives        every leg whose source is this leg
//!   Source::Room(r)   room r's mix minus itself  room r's mix, after Join(r)
//! ```
//!
//! ARCHITECTURE.md measured this shape as the cheapest media clock on this machine: a call's
//! task no longer wakes every 20 ms (nor on every packet in); it wakes for what changes the
//! flow. Each leg sits in one of 20 slots of a 1 ms wheel, chosen when its media starts, and its
//! frames keep absolute deadlines on the thread's millisecond grid (`rtp::Pacer`: catch-up after
//! a short stall, skip-ahead after a long one). Legs are packed into few slots (up to
//! `SLOT_CAPACITY` each) and the thread sleeps to the next tick whose slot has legs, so a
//! thread with few calls wakes a few times per 20 ms, not every millisecond. Sockets are plain
//! non-blocking `std::net::UdpSocket`s, never registered with the reactor. Inbound RTP waits in
//! the socket until the leg's tick (at most 20 ms): DTMF and recordings are that much later.
//!
//! Legs that belong together (both legs of a bridge, the members of a room) are added to one
//! [`Group`], which places them on one media thread: audio passes between them inside the
//! thread, never through a channel. What a leg received on its tick waits, decoded, in the
//! listener's small jitter buffer (a few frames; the oldest are dropped on overflow, silence
//! goes out on underrun) and is encoded for the listener's codec when it sends. A room mixes
//! once per 20 ms on its own slot: each member hears the sum of the others (N-1), and a short
//! cue when someone joins (rising) or leaves (falling); a muted member hears without being
//! heard. Unrelated
//! legs are spread round robin. A leg that nobody listens to and that is in no room pays
//! nothing for any of this: its received audio is not copied.

mod jitter;
mod leg;
mod room;
mod socket;
mod thread;
mod wheel;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::engine::Id;
use crate::media::codec::Codec;
use crate::media::prompt::EncodedPrompt;

pub use leg::Leg;
pub use thread::{LegHandle, MediaLoops, RealtimeRefused, RtpPorts};

/// Frames paced by the media threads since the server started: for `/metrics`.
///
/// A frame is *late* when it left one frame time (20 ms) or more after its deadline: the media
/// thread was held up and the pacer caught up (`rtp::Pacer`); *skipped* frames were due during
/// a longer stall and never left (the stream went back on its grid instead).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameCounts {
    pub sent: u64,
    pub late: u64,
    pub skipped: u64,
}

impl FrameCounts {
    /// Counts one poll of a leg's pacer: the newest due frame is on time, the older ones late
    /// (sent) or skipped.
    fn count(&mut self, due: &crate::media::rtp::Due) {
        let frames = due.frames.end.saturating_sub(due.frames.start);
        self.sent += due.send();
        self.skipped += due.skipped;
        self.late += frames.saturating_sub(1).saturating_sub(due.skipped);
    }

    fn add(self, other: FrameCounts) -> FrameCounts {
        FrameCounts {
            sent: self.sent + other.sent,
            late: self.late + other.late,
            skipped: self.skipped + other.skipped,
        }
    }
}

/// One media thread's [`FrameCounts`] as other threads read them: written only by its thread
/// (once per wake, not per frame), read by `/metrics`.
#[derive(Debug, Default)]
struct PublishedCounts {
    sent: std::sync::atomic::AtomicU64,
    late: std::sync::atomic::AtomicU64,
    skipped: std::sync::atomic::AtomicU64,
}

impl PublishedCounts {
    fn publish(&self, counts: &FrameCounts) {
        use std::sync::atomic::Ordering::Relaxed;
        self.sent.store(counts.sent, Relaxed);
        self.late.store(counts.late, Relaxed);
        self.skipped.store(counts.skipped, Relaxed);
    }

    fn read(&self) -> FrameCounts {
        use std::sync::atomic::Ordering::Relaxed;
        FrameCounts {
            sent: self.sent.load(Relaxed),
            late: self.late.load(Relaxed),
            skipped: self.skipped.load(Relaxed),
        }
    }
}

/// The far end's stream as offer/answer settled it (SIP's SDP produces it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Where the far end wants RTP (only RTP from this address is accepted).
    pub remote: SocketAddr,
    pub codec: Codec,
    /// The payload type of telephone-event, when offered.
    pub dtmf_payload_type: Option<u8>,
    /// The far end holds the call (`sendonly`, `inactive`, or address 0.0.0.0).
    pub on_hold: bool,
}

/// When a leg listens for keys as in-band tones in the caller's audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InbandDtmf {
    /// Only when the far end did not offer telephone-event (RFC 4733): phones that send
    /// keys as events are not listened to twice (what Asterisk's and FreeSWITCH's defaults
    /// amount to). A re-INVITE that adds or drops telephone-event changes it.
    #[default]
    Auto,
    /// Always, also alongside RFC 4733 (for gateways that offer events but send tones).
    Always,
    /// Never (keys only as RFC 4733 events or SIP INFO).
    Never,
}

impl InbandDtmf {
    /// Whether a leg with this stream listens for in-band tones.
    pub fn listens(self, negotiated: &Negotiated) -> bool {
        match self {
            InbandDtmf::Auto => negotiated.dtmf_payload_type.is_none(),
            InbandDtmf::Always => true,
            InbandDtmf::Never => false,
        }
    }
}

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
    /// Where outgoing audio comes from from now on (`Source::Prompts` until told otherwise).
    /// The prompt queue stays as it is while another source plays, and resumes after.
    Source(Source),
    /// Become a member of a room on this leg's thread: this leg's audio goes into the room's
    /// mix and its source becomes the room (it hears the others). A leg is in one room at most:
    /// joining another leaves the first.
    Join(RoomId),
    /// Leave the room; if the room was the source, back to `Source::Prompts`.
    Leave,
    /// Keep this member's audio out of its room's mix (`true`) or put it back (`false`); it
    /// still hears the others. Joining a room starts unmuted.
    Mute(bool),
    /// Send a key to the far end as RFC 4733 events (100 ms, in place of the audio of those
    /// frames), when it accepted telephone-event; otherwise nothing is sent.
    SendKey(char),
}

/// Where a leg's outgoing audio comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The queued prompts in turn; silence when none is ready.
    Prompts,
    /// One prompt over and over (hold music), until the source changes. No `Finished` is told.
    Loop(Arc<EncodedPrompt>),
    /// What another leg of the same thread receives: a bridge (two legs whose sources are each
    /// other), or listening in. Silence when that leg is gone or on another thread. Audio only:
    /// in-band key tones pass, RFC 4733 events stay with the receiving leg's DTMF sink.
    Leg(LegId),
    /// The mix of a room of the same thread, without this leg's own audio when it is a member.
    Room(RoomId),
}

/// A leg, as another leg's source names it (`LegHandle::id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(u64);

/// A conference room: made by `MediaLoops::room` on one thread, mixed there while it has
/// members or listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoomId {
    id: u64,
    thread: usize,
}

impl RoomId {
    /// The media thread that mixes the room.
    pub fn thread(self) -> usize {
        self.thread
    }

    /// The group of the room's thread: its members' legs are added to it.
    pub fn group(self) -> Group {
        Group {
            thread: self.thread,
        }
    }
}

/// Legs that belong together (a bridge, a room): every leg added to one group is ticked by
/// one media thread. Made by `MediaLoops::group`, or taken from a leg (`LegHandle::group`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Group {
    thread: usize,
}

impl Group {
    /// The media thread of the group's legs.
    pub fn thread(self) -> usize {
        self.thread
    }
}

/// Bridging or mixing was asked of legs (or a leg and a room) on different media threads:
/// add them to one [`Group`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("media thread {first} and media thread {second}: legs that share audio need one group")]
pub struct NotOnOneThread {
    pub first: usize,
    pub second: usize,
}

/// A leg was given to a media thread where another leg has the same far end: their datagrams
/// would be indistinguishable (the thread's socket tells legs apart by sender address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{far_end} already has a call on media thread {thread}")]
pub struct FarEndInUse {
    pub far_end: SocketAddr,
    pub thread: usize,
}

/// What a media leg tells its call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// The last frame of this prompt left.
    Finished(Id),
    /// A DTMF digit heard as an in-band tone (it also passed in the audio).
    Digit(char),
    /// A key sent as an RFC 4733 event (not audio: a bridge passes it on with `SendKey`).
    Key(char),
    /// 20 ms of the caller's audio, while forwarding is on.
    Audio(Vec<i16>),
    /// No RTP from the caller for the RTP timeout (told once).
    Silent,
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod frame_count_tests {
    use std::time::{Duration, Instant};

    use super::FrameCounts;
    use crate::media::rtp::Pacer;

    #[test]
    fn frames_left_a_frame_time_late_are_late_and_those_of_a_long_stall_skipped() {
        let anchor = Instant::now();
        let mut pacer = Pacer::new(anchor);
        let mut counts = FrameCounts::default();
        let ms = |n: u64| anchor + Duration::from_millis(n);
        for now in [ms(0), ms(20), ms(30)] {
            counts.count(&pacer.poll(now));
        }
        assert_eq!(
            counts,
            FrameCounts {
                sent: 2,
                late: 0,
                skipped: 0
            },
            "on time"
        );
        // Held up 30 ms: frame 2 (due at 40) leaves at 70 with frame 3: one late.
        counts.count(&pacer.poll(ms(70)));
        assert_eq!((counts.sent, counts.late), (4, 1));
        // Held up 430 ms: 22 frames due, the newest leaves, 21 are skipped.
        counts.count(&pacer.poll(ms(500)));
        assert_eq!(
            counts,
            FrameCounts {
                sent: 5,
                late: 1,
                skipped: 21
            }
        );
    }
}
