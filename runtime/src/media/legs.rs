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

mod leg;
mod thread;
mod wheel;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::engine::Id;
use crate::media::codec::Codec;
use crate::media::prompt::EncodedPrompt;

pub use leg::Leg;
pub use thread::{LegHandle, MediaLoops};

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

#[cfg(test)]
mod tests;
