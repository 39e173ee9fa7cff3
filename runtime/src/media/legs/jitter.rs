//! A few frames of audio on their way from the leg that received them to the leg (or room) that
//! sends them: a bridge's far ends keep their own clocks and the legs have their own slots, so
//! frames arrive in small bursts and leave one per 20 ms. Decoded samples (`Jitter<i16>`, for a
//! room or another codec) or, between two legs of the same G.711 codec, the received bytes as
//! they are (`Jitter<u8>`: nothing decoded or encoded on the way).
//!
//! Bounded: when more than [`CAPACITY`] samples wait, the oldest are dropped (latency stays
//! under 80 ms); when less than a frame waits, the sender plays silence and keeps what is there.
//! Storage is reserved on the first push, so a leg that never shares audio allocates nothing.

use std::collections::VecDeque;

use crate::media::FRAME_SAMPLES;

/// Samples that may wait: four 20 ms frames.
pub(super) const CAPACITY: usize = FRAME_SAMPLES * 4;

/// One frame of 8 kHz PCM.
pub(super) type PcmFrame = [i16; FRAME_SAMPLES];

#[derive(Debug)]
pub(super) struct Jitter<T> {
    samples: VecDeque<T>,
}

impl<T> Default for Jitter<T> {
    fn default() -> Self {
        Jitter {
            samples: VecDeque::new(),
        }
    }
}

impl<T: Copy> Jitter<T> {
    /// Appends received audio, dropping the oldest samples beyond [`CAPACITY`].
    pub(super) fn push(&mut self, pcm: &[T]) {
        if self.samples.capacity() < CAPACITY {
            self.samples.reserve_exact(CAPACITY - self.samples.len());
        }
        let pcm = pcm
            .get(pcm.len().saturating_sub(CAPACITY)..)
            .unwrap_or_default();
        let overflow = (self.samples.len() + pcm.len()).saturating_sub(CAPACITY);
        self.samples.drain(..overflow.min(self.samples.len()));
        self.samples.extend(pcm);
    }

    /// Takes the oldest whole frame into `out`; false (and `out` untouched) when less than a
    /// frame waits.
    pub(super) fn pop_frame(&mut self, out: &mut [T; FRAME_SAMPLES]) -> bool {
        if self.samples.len() < FRAME_SAMPLES {
            return false;
        }
        // The ring's two halves copied as slices, not sample by sample.
        let (front, back) = self.samples.as_slices();
        let from_front = front.len().min(FRAME_SAMPLES);
        let (out_head, out_tail) = out.split_at_mut(from_front);
        if let (Some(head), Some(tail)) = (front.get(..from_front), back.get(..out_tail.len())) {
            out_head.copy_from_slice(head);
            out_tail.copy_from_slice(tail);
        }
        self.samples.drain(..FRAME_SAMPLES);
        true
    }

    /// Forgets what waits (the source changed).
    pub(super) fn clear(&mut self) {
        self.samples.clear();
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.samples.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_leave_in_order_and_underrun_keeps_the_partial_frame() {
        let mut jitter = Jitter::<i16>::default();
        let mut out = [7i16; FRAME_SAMPLES];
        assert!(!jitter.pop_frame(&mut out), "empty: silence");
        assert_eq!(out, [7; FRAME_SAMPLES], "untouched");
        jitter.push(&[1; FRAME_SAMPLES]);
        jitter.push(&[2; 100]);
        assert!(jitter.pop_frame(&mut out));
        assert_eq!(out, [1; FRAME_SAMPLES]);
        assert!(!jitter.pop_frame(&mut out), "100 samples are not a frame");
        assert_eq!(jitter.len(), 100);
        jitter.push(&[3; 60]);
        assert!(jitter.pop_frame(&mut out));
        assert_eq!(out[..100], [2; 100]);
        assert_eq!(out[100..], [3; 60]);
    }

    #[test]
    fn overflow_drops_the_oldest_audio() {
        let mut jitter = Jitter::<i16>::default();
        for frame in 0..6i16 {
            jitter.push(&[frame; FRAME_SAMPLES]);
        }
        assert_eq!(jitter.len(), CAPACITY);
        let mut out = [0i16; FRAME_SAMPLES];
        assert!(jitter.pop_frame(&mut out));
        assert_eq!(out, [2; FRAME_SAMPLES], "frames 0 and 1 were dropped");
        // A push longer than the whole buffer keeps its newest part.
        let long: Vec<i16> = (0..(CAPACITY as i16 + 10)).collect();
        jitter.push(&long);
        assert_eq!(jitter.len(), CAPACITY);
        assert!(jitter.pop_frame(&mut out));
        assert_eq!(out[0], 10);
    }
}
