//! A conference room's mix: once per 20 ms it takes one frame from each member and gives every
//! listener the sum of the others (N-1: a member never hears itself), saturated to 16 bits.
//!
//! The room only keeps who is in it and the mix; the members' frames come from, and the mixed
//! frames go to, the legs' own jitter buffers (the wheel moves them, see `Wheel::mix`).

use super::LegId;
use super::jitter::PcmFrame;
use crate::media::FRAME_SAMPLES;

/// One frame of silence.
pub(super) const SILENT: PcmFrame = [0; FRAME_SAMPLES];

pub(super) struct Room {
    /// The wheel slot whose ticks mix (before that slot's legs send).
    pub(super) slot: usize,
    /// Legs whose audio goes into the mix (they joined).
    pub(super) members: Vec<LegId>,
    /// Legs whose source is the room (the members, and any that only listen).
    pub(super) listeners: Vec<LegId>,
    /// The members' frames of the current mix, in the order of `members`.
    pub(super) frames: Vec<PcmFrame>,
    /// The sum of `frames`.
    sum: [i32; FRAME_SAMPLES],
}

impl Room {
    pub(super) fn new(slot: usize) -> Room {
        Room {
            slot,
            members: Vec::new(),
            listeners: Vec::new(),
            frames: Vec::new(),
            sum: [0; FRAME_SAMPLES],
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.members.is_empty() && self.listeners.is_empty()
    }

    /// Sums the members' frames (after `frames` was filled).
    pub(super) fn sum(&mut self) {
        sum_frames(&self.frames, &mut self.sum);
    }

    /// What `listener` hears of the last sum: the others' audio.
    pub(super) fn heard_by(&self, listener: LegId, out: &mut PcmFrame) {
        let own = self
            .members
            .iter()
            .position(|member| *member == listener)
            .and_then(|index| self.frames.get(index));
        mix_minus(&self.sum, own, out);
    }
}

/// The sample-wise sum of `frames`, without clipping (i32 holds 65 536 full-scale frames).
pub(super) fn sum_frames(frames: &[PcmFrame], sum: &mut [i32; FRAME_SAMPLES]) {
    sum.fill(0);
    for frame in frames {
        for (total, sample) in sum.iter_mut().zip(frame) {
            *total += i32::from(*sample);
        }
    }
}

/// `sum` without `own` (a member's own frame, if the listener is one), saturated to 16 bits.
pub(super) fn mix_minus(sum: &[i32; FRAME_SAMPLES], own: Option<&PcmFrame>, out: &mut PcmFrame) {
    let own = own.unwrap_or(&SILENT);
    for ((slot, total), own) in out.iter_mut().zip(sum).zip(own) {
        let mixed = (*total - i32::from(*own)).clamp(i32::from(i16::MIN), i32::from(i16::MAX));
        // In range after the clamp.
        *slot = mixed as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_member_hears_the_others_and_a_listener_hears_all() {
        let mut room = Room::new(0);
        room.members = vec![LegId(1), LegId(2), LegId(3)];
        room.frames = vec![
            [100; FRAME_SAMPLES],
            [20; FRAME_SAMPLES],
            [3; FRAME_SAMPLES],
        ];
        room.sum();
        let mut out = SILENT;
        for (listener, expected) in [(1, 23), (2, 103), (3, 120), (9, 123)] {
            room.heard_by(LegId(listener), &mut out);
            assert_eq!(out, [expected; FRAME_SAMPLES], "leg {listener}");
        }
    }

    #[test]
    fn loud_members_saturate_instead_of_wrapping() {
        let frames = [
            [30_000; FRAME_SAMPLES],
            [30_000; FRAME_SAMPLES],
            [-30_000; FRAME_SAMPLES],
        ];
        let mut sum = [0; FRAME_SAMPLES];
        sum_frames(&frames, &mut sum);
        let mut out = SILENT;
        mix_minus(&sum, Some(&frames[2]), &mut out);
        assert_eq!(out, [i16::MAX; FRAME_SAMPLES]);
        let negative = [[-30_000; FRAME_SAMPLES]; 3];
        sum_frames(&negative, &mut sum);
        mix_minus(&sum, Some(&negative[0]), &mut out);
        assert_eq!(out, [i16::MIN; FRAME_SAMPLES]);
    }
}
