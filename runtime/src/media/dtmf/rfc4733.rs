//! RFC 4733 telephone-events: one key press is one event, sent as several packets with the
//! same RTP timestamp (start with the marker bit, updates with a growing duration, and the end
//! packet, usually three times). Each press is reported once, at its first packet, whichever
//! packets are lost, repeated or reordered.
//!
//! An event is identified by (SSRC, RTP timestamp). Two senders' habits need more than that:
//! - long presses (over 8 s of duration units) continue in a new segment: a new timestamp, no
//!   marker bit, the same key, contiguous sequence numbers: not a new press;
//! - a replaying tool reuses timestamps: sipp 3.6 replays `dtmf_2833_5.pcap` with the same
//!   sequence numbers and timestamps every time (checked here), so "5" pressed twice is the
//!   same packets twice. A packet of a known event that is not an end packet, arriving at
//!   least [`Rfc4733Receiver::repress_gap`] after that event ended (or carrying the marker bit
//!   after such a gap), is a new press.
//!
//! The payload is parsed with the `audio-codec` crate's telephone-event helper.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::media::rtp::Packet;

/// One telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    /// In RTP timestamp units (1/8000 s).
    pub duration: u16,
}

/// Parses a telephone-event payload (4 bytes; with several 4-byte blocks, the last one).
pub fn parse_event(payload: &[u8]) -> Option<TelephoneEvent> {
    audio_codec::telephone_event::parse_telephone_event(payload).map(|ev| TelephoneEvent {
        event: ev.event,
        end: ev.end,
        volume: ev.volume,
        duration: ev.duration,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    ssrc: u32,
    timestamp: u32,
    event: u8,
    ended: bool,
    last_sequence: u16,
    last_at: Instant,
}

/// Turns telephone-event packets into key presses, each reported once.
#[derive(Debug, Clone)]
pub struct Rfc4733Receiver {
    payload_type: u8,
    repress_gap: Duration,
    /// Recent events, newest last.
    recent: VecDeque<Seen>,
}

const RECENT: usize = 16;

impl Rfc4733Receiver {
    /// Listens to the telephone-event payload type negotiated in SDP (often 101).
    pub fn new(payload_type: u8) -> Self {
        Rfc4733Receiver {
            payload_type,
            repress_gap: Duration::from_millis(100),
            recent: VecDeque::with_capacity(RECENT),
        }
    }

    /// How long after an event's last packet a reused timestamp counts as a new press.
    pub fn with_repress_gap(mut self, gap: Duration) -> Self {
        self.repress_gap = gap;
        self
    }

    pub fn repress_gap(&self) -> Duration {
        self.repress_gap
    }

    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Feeds one received packet (any payload type: others are ignored), `now` being its
    /// arrival time. Returns the key when this packet starts a new press.
    pub fn push(&mut self, packet: &Packet<'_>, now: Instant) -> Option<char> {
        if packet.payload_type != self.payload_type {
            return None;
        }
        let event = parse_event(packet.payload)?;
        let digit = super::event_to_digit(event.event)?;

        if let Some(seen) = self
            .recent
            .iter_mut()
            .find(|s| s.ssrc == packet.ssrc && s.timestamp == packet.timestamp)
        {
            let gap = now.saturating_duration_since(seen.last_at);
            let repressed = !event.end
                && seen.event == event.event
                && (seen.ended || packet.marker)
                && gap >= self.repress_gap;
            let changed_key = seen.event != event.event;
            seen.last_at = now;
            seen.last_sequence = packet.sequence;
            if repressed || changed_key {
                seen.event = event.event;
                seen.ended = event.end;
                return Some(digit);
            }
            seen.ended |= event.end;
            return None;
        }

        // A long press continues in a new segment: same key, no marker, the previous segment
        // not ended, the very next few sequence numbers.
        if let Some(last) = self.recent.back_mut() {
            let ahead = packet.sequence.wrapping_sub(last.last_sequence);
            if !packet.marker
                && !last.ended
                && last.ssrc == packet.ssrc
                && last.event == event.event
                && (1..=8).contains(&ahead)
                && is_newer(packet.timestamp, last.timestamp)
            {
                last.timestamp = packet.timestamp;
                last.last_sequence = packet.sequence;
                last.last_at = now;
                last.ended = event.end;
                return None;
            }
        }

        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(Seen {
            ssrc: packet.ssrc,
            timestamp: packet.timestamp,
            event: event.event,
            ended: event.end,
            last_sequence: packet.sequence,
            last_at: now,
        });
        Some(digit)
    }
}

/// RFC 3550 serial-number comparison of timestamps (modulo 2^32).
fn is_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}
