//! RTP for G.711 and telephone-events: packets out ([`RtpStream`]), packets in ([`parse`]), and
//! the send clock ([`Pacer`]).
//!
//! Writing and parsing use the `rtp-types` crate: its builder keeps CSRCs and payload slices in
//! inline `SmallVec`s and writes into a caller's `&mut [u8]`, so a packet costs no allocation;
//! its parser checks version, length, CSRC count, header extension and padding and borrows the
//! payload. This module adds the per-stream state (random SSRC, sequence number, timestamp
//! +160 per 20 ms frame, marker bit on the first packet of a talk spurt).

mod pacer;

pub use pacer::{Due, Pacer};

use rtp_types::{RtpPacket, RtpPacketBuilder, RtpParseError, RtpWriteError};

use super::FRAME_SAMPLES;

/// Bytes of a fixed RTP header (no CSRC, no extension).
pub const HEADER_LEN: usize = 12;
/// A G.711 packet of 20 ms: header and 160 code words.
pub const G711_PACKET_LEN: usize = HEADER_LEN + FRAME_SAMPLES;

/// Why a packet could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("the output buffer holds {have} bytes, the packet needs {need}")]
    BufferTooSmall { need: usize, have: usize },
    #[error("payload type {0} is not a 7-bit value")]
    InvalidPayloadType(u8),
    #[error("packet of {actual} bytes is too short: the header says {expected}")]
    Truncated { expected: usize, actual: usize },
    #[error("RTP version {0} (only 2 exists)")]
    UnsupportedVersion(u8),
    #[error("invalid padding length {0}")]
    InvalidPadding(u8),
    #[error("invalid RTP packet: {0}")]
    Other(String),
}

impl From<RtpParseError> for RtpError {
    fn from(err: RtpParseError) -> Self {
        match err {
            RtpParseError::UnsupportedVersion(v) => RtpError::UnsupportedVersion(v),
            RtpParseError::Truncated { expected, actual } => {
                RtpError::Truncated { expected, actual }
            }
            RtpParseError::PaddingInvalid(p) => RtpError::InvalidPadding(p),
        }
    }
}

fn write_error(err: RtpWriteError, have: usize) -> RtpError {
    match err {
        RtpWriteError::OutputTooSmall(need) => RtpError::BufferTooSmall { need, have },
        RtpWriteError::InvalidPayloadType(pt) => RtpError::InvalidPayloadType(pt),
        other => RtpError::Other(other.to_string()),
    }
}

/// A received packet, validated; the payload borrows the datagram (padding removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    pub payload_type: u8,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// Parses and validates one datagram. Malformed input is an error, never a panic: a short
/// datagram, a version other than 2, a CSRC list, header extension or padding that runs past
/// the end, or a padding count of zero.
pub fn parse(datagram: &[u8]) -> Result<Packet<'_>, RtpError> {
    let packet = RtpPacket::parse(datagram)?;
    // `parse` checks the header, CSRCs and extension, and that padding fits after the payload
    // offset; check again that the payload range it implies is inside the datagram.
    let start = packet.payload_offset();
    let len = packet.payload_len();
    let payload = start
        .checked_add(len)
        .and_then(|end| datagram.get(start..end))
        .ok_or(RtpError::Truncated {
            expected: start.saturating_add(len),
            actual: datagram.len(),
        })?;
    Ok(Packet {
        payload_type: packet.payload_type(),
        marker: packet.marker_bit(),
        sequence: packet.sequence_number(),
        timestamp: packet.timestamp(),
        ssrc: packet.ssrc(),
        payload,
    })
}

/// Writes one packet with a fixed 12-byte header into `buf`; returns its length.
pub fn write_packet(
    buf: &mut [u8],
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) -> Result<usize, RtpError> {
    RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(payload_type)
        .marker_bit(marker)
        .sequence_number(sequence)
        .timestamp(timestamp)
        .ssrc(ssrc)
        .payload(payload)
        .write_into(buf)
        .map_err(|err| write_error(err, buf.len()))
}

/// The sending side of one RTP stream: SSRC, next sequence number and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpStream {
    payload_type: u8,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    samples_per_frame: u32,
    marker_pending: bool,
}

impl RtpStream {
    /// A stream with a chosen SSRC and starting points (tests, or resuming a stream). The first
    /// packet carries the marker bit.
    pub fn new(payload_type: u8, ssrc: u32, first_sequence: u16, first_timestamp: u32) -> Self {
        RtpStream {
            payload_type,
            ssrc,
            sequence: first_sequence,
            timestamp: first_timestamp,
            samples_per_frame: FRAME_SAMPLES as u32,
            marker_pending: true,
        }
    }

    /// A stream with a random SSRC, sequence number and timestamp, as RFC 3550 asks.
    pub fn random(payload_type: u8) -> Self {
        Self::new(
            payload_type,
            fastrand::u32(..),
            fastrand::u16(..),
            fastrand::u32(..),
        )
    }

    /// Timestamp units a frame advances (160 for 20 ms at 8 kHz, the default).
    pub fn with_samples_per_frame(mut self, samples: u32) -> Self {
        self.samples_per_frame = samples;
        self
    }

    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The sequence number of the next packet.
    pub fn next_sequence(&self) -> u16 {
        self.sequence
    }

    /// The timestamp of the next packet.
    pub fn next_timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Marks the next packet as the first of a talk spurt (after silence or a pause).
    pub fn start_talk_spurt(&mut self) {
        self.marker_pending = true;
    }

    /// Frames the pacer skipped: the timestamp moves on as if they had been sent (the receiver
    /// sees a gap, like loss), the sequence number does not.
    pub fn skip_frames(&mut self, frames: u64) {
        let units = u64::from(self.samples_per_frame).wrapping_mul(frames);
        // Timestamps are modulo 2^32: truncating is the wrap-around itself.
        self.timestamp = self.timestamp.wrapping_add(units as u32);
    }

    /// Writes the next packet as an RFC 4733 event packet: `payload_type` (telephone-event),
    /// the event's start as its timestamp, `payload` the 4-byte event. The sequence number
    /// advances by one and the stream's timestamp by one frame (the audio clock goes on), so
    /// audio after the event continues in time. On error nothing advances.
    pub fn next_event_packet(
        &mut self,
        payload_type: u8,
        event_timestamp: u32,
        marker: bool,
        payload: &[u8; 4],
        buf: &mut [u8],
    ) -> Result<usize, RtpError> {
        let len = write_packet(
            buf,
            payload_type,
            marker,
            self.sequence,
            event_timestamp,
            self.ssrc,
            payload,
        )?;
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(self.samples_per_frame);
        Ok(len)
    }

    /// Writes the next packet, carrying `frame` (one frame of audio), into `buf`; returns its
    /// length. On success the sequence number advances by one and the timestamp by one frame.
    /// On error nothing advances.
    pub fn next_packet(&mut self, frame: &[u8], buf: &mut [u8]) -> Result<usize, RtpError> {
        let len = write_packet(
            buf,
            self.payload_type,
            self.marker_pending,
            self.sequence,
            self.timestamp,
            self.ssrc,
            frame,
        )?;
        self.marker_pending = false;
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(self.samples_per_frame);
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_too_small_advances_nothing() {
        let mut stream = RtpStream::new(0, 1, 10, 100);
        let mut buf = [0u8; 20];
        assert_eq!(
            stream.next_packet(&[0xFF; 160], &mut buf),
            Err(RtpError::BufferTooSmall {
                need: 172,
                have: 20
            })
        );
        assert_eq!(stream.next_sequence(), 10);
        assert_eq!(stream.next_timestamp(), 100);
    }

    #[test]
    fn invalid_payload_type() {
        let mut buf = [0u8; 64];
        assert_eq!(
            write_packet(&mut buf, 200, false, 0, 0, 0, &[]),
            Err(RtpError::InvalidPayloadType(200))
        );
    }
}
