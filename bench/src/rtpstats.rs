//! What the caller measures on the server's RTP stream of one call.
//!
//! Definitions (all times are the kernel's receive timestamps, `SO_TIMESTAMPNS`, so the
//! caller's own scheduling delays do not count against the server):
//!
//! - **transit** of a packet: arrival time − RTP timestamp / 8000 (an unknown constant apart
//!   from the true one-way delay: only differences matter).
//! - **interarrival jitter**: RFC 3550 §6.4.1 (A.8): `J += (|D| − J) / 16`, with D the
//!   difference of the transits of two packets received one after the other, in timestamp
//!   units; reported in milliseconds, at the end of the call and its largest value in the call.
//! - **lateness** of a packet: its transit minus the smallest transit of the call's packets up
//!   to and including it, i.e. how much later it arrived than the earliest-arriving packet's
//!   clock predicts. A packet that left exactly on the 20 ms grid has lateness 0. A packet is
//!   **late** when its lateness exceeds 20 ms (one packet time: it would miss a one-frame
//!   jitter buffer); the count above 5 ms is reported too.
//! - **sequence gaps**: packets never received (expected from the highest extended sequence
//!   number minus the first, minus those received); **out of order**: a sequence number at or
//!   below the highest seen.
//! - **frames skipped**: in-sequence packets whose timestamp advanced by more than one frame
//!   (160): the server's pacer dropped frames after a stall (`RtpStream::skip_frames`).
//! - **new streams**: a packet of another SSRC than the last (the server moved the call's
//!   audio, e.g. to a conference room's media thread after a re-INVITE): the statistics above
//!   start again from it (sequence gaps of the earlier stream are kept), so the switch is not
//!   counted as lateness.

use serde::Serialize;

use crate::stats::Histogram;

/// Timestamp units per second (G.711).
const CLOCK_HZ: i64 = 8_000;
const NS_PER_UNIT: i64 = 1_000_000_000 / CLOCK_HZ;
/// Samples in one 20 ms frame.
const FRAME: i64 = 160;

/// Receive statistics of one stream.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamStats {
    pub packets: u64,
    pub bytes: u64,
    pub other_payload_types: u64,
    pub out_of_order: u64,
    pub frames_skipped: u64,
    pub late_5ms: u64,
    pub late_20ms: u64,
    pub max_lateness_ms: f64,
    /// RFC 3550 jitter at the last packet, ms.
    pub jitter_ms: f64,
    /// Largest RFC 3550 jitter during the call, ms.
    pub max_jitter_ms: f64,
    /// Streams after the first (another SSRC).
    pub new_streams: u64,
    #[serde(skip)]
    state: Option<State>,
    #[serde(skip)]
    ssrc: Option<u32>,
    /// Sequence gaps of the streams before the current one.
    #[serde(skip)]
    earlier_gaps: u64,
    /// Packets of the streams before the current one.
    #[serde(skip)]
    earlier_packets: u64,
}

#[derive(Debug, Clone, Copy)]
struct State {
    base_seq: i64,
    max_seq: i64,
    last_seq: u16,
    last_seq_ext: i64,
    last_ts: u32,
    last_ts_ext: i64,
    last_transit_ns: i64,
    min_transit_ns: i64,
    /// Jitter in timestamp units.
    jitter: f64,
}

impl StreamStats {
    /// Packets the sequence numbers say were sent (first to highest).
    pub fn expected(&self) -> u64 {
        self.state.map_or(0, |s| {
            u64::try_from(s.max_seq - s.base_seq + 1).unwrap_or(0)
        })
    }

    /// Packets never received.
    pub fn sequence_gaps(&self) -> u64 {
        self.earlier_gaps
            + self
                .expected()
                .saturating_sub(self.packets - self.earlier_packets)
    }

    /// The SSRC of the next packet: another one than before starts a new stream.
    pub fn source(&mut self, ssrc: u32) {
        if self.ssrc.is_some_and(|before| before != ssrc) && self.state.is_some() {
            self.earlier_gaps = self.sequence_gaps();
            self.earlier_packets = self.packets;
            self.state = None;
            self.new_streams += 1;
        }
        self.ssrc = Some(ssrc);
    }

    /// One packet: `arrival_ns` is the kernel's receive time (any epoch); lateness values (ms)
    /// go to `lateness`.
    pub fn push(
        &mut self,
        sequence: u16,
        timestamp: u32,
        payload_type: u8,
        len: usize,
        arrival_ns: i64,
        lateness: &mut Histogram,
    ) {
        self.packets += 1;
        self.bytes += len as u64;
        if payload_type != 0 && payload_type != 8 {
            self.other_payload_types += 1;
            return;
        }
        let Some(mut s) = self.state else {
            let transit = arrival_ns - i64::from(timestamp) * NS_PER_UNIT;
            self.state = Some(State {
                base_seq: i64::from(sequence),
                max_seq: i64::from(sequence),
                last_seq: sequence,
                last_seq_ext: i64::from(sequence),
                last_ts: timestamp,
                last_ts_ext: i64::from(timestamp),
                last_transit_ns: transit,
                min_transit_ns: transit,
                jitter: 0.0,
            });
            lateness.record(0.0);
            return;
        };
        // Extended sequence number and timestamp, relative to the last packet received.
        let seq_delta = i64::from(sequence.wrapping_sub(s.last_seq) as i16);
        let this_seq = s.last_seq_ext + seq_delta;
        let ts_delta = i64::from(timestamp.wrapping_sub(s.last_ts) as i32);
        let ts_ext = s.last_ts_ext + ts_delta;
        if this_seq <= s.max_seq {
            self.out_of_order += 1;
        } else {
            if this_seq == s.max_seq + 1 && ts_delta > FRAME {
                self.frames_skipped += u64::try_from(ts_delta / FRAME - 1).unwrap_or(0);
            }
            s.max_seq = this_seq;
        }
        let transit = arrival_ns - ts_ext * NS_PER_UNIT;
        // RFC 3550 A.8, in timestamp units.
        let d = (transit - s.last_transit_ns).abs() as f64 / NS_PER_UNIT as f64;
        s.jitter += (d - s.jitter) / 16.0;
        s.min_transit_ns = s.min_transit_ns.min(transit);
        let late_ms = (transit - s.min_transit_ns) as f64 / 1e6;
        lateness.record(late_ms);
        if late_ms > 5.0 {
            self.late_5ms += 1;
        }
        if late_ms > 20.0 {
            self.late_20ms += 1;
        }
        self.max_lateness_ms = self.max_lateness_ms.max(late_ms);
        s.last_seq = sequence;
        s.last_seq_ext = this_seq;
        s.last_ts = timestamp;
        s.last_ts_ext = ts_ext;
        s.last_transit_ns = transit;
        let jitter_ms = s.jitter * NS_PER_UNIT as f64 / 1e6;
        self.jitter_ms = jitter_ms;
        self.max_jitter_ms = self.max_jitter_ms.max(jitter_ms);
        self.state = Some(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    #[test]
    fn a_perfect_stream_has_no_jitter_or_lateness() {
        let mut h = Histogram::new(0.05, 1000);
        let mut s = StreamStats::default();
        for k in 0..100u16 {
            let seq = 65_500u16.wrapping_add(k);
            let ts = (u32::MAX - 1000).wrapping_add(u32::from(k) * 160);
            s.push(seq, ts, 0, 172, 5 * MS + i64::from(k) * 20 * MS, &mut h);
        }
        assert_eq!(s.packets, 100);
        assert_eq!(s.expected(), 100);
        assert_eq!(s.sequence_gaps(), 0);
        assert_eq!(s.out_of_order, 0);
        assert_eq!(s.late_5ms, 0);
        assert!(s.max_jitter_ms < 1e-9);
    }

    #[test]
    fn a_late_packet_a_gap_and_a_skip() {
        let mut h = Histogram::new(0.05, 1000);
        let mut s = StreamStats::default();
        let at = |k: i64| k * 20 * MS;
        s.push(0, 0, 0, 172, at(0), &mut h);
        s.push(1, 160, 0, 172, at(1) + 25 * MS, &mut h); // 25 ms late
        s.push(3, 480, 0, 172, at(3), &mut h); // seq 2 lost
        s.push(4, 800, 0, 172, at(5), &mut h); // one frame skipped by the sender
        assert_eq!(s.late_20ms, 1);
        assert_eq!(s.late_5ms, 1);
        assert_eq!(s.sequence_gaps(), 1);
        assert_eq!(s.frames_skipped, 1);
        assert!(s.max_jitter_ms > 1.0);
        assert!((s.max_lateness_ms - 25.0).abs() < 1e-9);
    }

    #[test]
    fn a_new_ssrc_starts_a_new_stream_keeping_the_earlier_gaps() {
        let mut h = Histogram::new(0.05, 1000);
        let mut s = StreamStats::default();
        let at = |k: i64| k * 20 * MS;
        s.source(1);
        s.push(0, 0, 0, 172, at(0), &mut h);
        s.source(1);
        s.push(2, 320, 0, 172, at(2), &mut h); // seq 1 lost
        // The call moves: another SSRC, sequence and clock from elsewhere, on time.
        for k in 0..5u16 {
            s.source(2);
            let ts = 9_000_000 + u32::from(k) * 160;
            s.push(40_000 + k, ts, 0, 172, at(3 + i64::from(k)), &mut h);
        }
        assert_eq!(s.new_streams, 1);
        assert_eq!(s.sequence_gaps(), 1);
        assert_eq!(s.late_5ms, 0);
        assert_eq!(s.out_of_order, 0);
    }
}
