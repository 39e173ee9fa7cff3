//! A conference room's mix: once per 20 ms it takes one frame from each member and gives every
//! listener the sum of the others (N-1: a member never hears itself), saturated to 16 bits.
//! A muted member's frame counts as silence. When someone joins or leaves, a short cue (two
//! notes, rising for a join, falling for a leave) is added to what everyone in the room hears.
//!
//! The room only keeps who is in it and the mix; the members' frames come from, and the mixed
//! frames go to, the legs' own jitter buffers (the wheel moves them, see `Wheel::mix`).

use std::sync::OnceLock;

use super::LegId;
use super::jitter::PcmFrame;
use crate::media::FRAME_SAMPLES;

/// One frame of silence.
pub(super) const SILENT: PcmFrame = [0; FRAME_SAMPLES];

/// The notes of the cues (C5 and G5: no key's DTMF tone, far from speech's formants' peaks).
const CUE_LOW_HZ: f32 = 523.25;
const CUE_HIGH_HZ: f32 = 783.99;
/// Each note's length: five frames (100 ms).
const CUE_NOTE_FRAMES: usize = 5;
/// About -16 dBFS: heard over the talk, far from clipping it.
const CUE_AMPLITUDE: f32 = 5_000.0;

/// Someone joined (rising) or left (falling) the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cue {
    Joined,
    Left,
}

impl Cue {
    /// The cue's samples (8 kHz), made once.
    pub(super) fn samples(self) -> &'static [i16] {
        static JOINED: OnceLock<Vec<i16>> = OnceLock::new();
        static LEFT: OnceLock<Vec<i16>> = OnceLock::new();
        match self {
            Cue::Joined => JOINED.get_or_init(|| two_notes(CUE_LOW_HZ, CUE_HIGH_HZ)),
            Cue::Left => LEFT.get_or_init(|| two_notes(CUE_HIGH_HZ, CUE_LOW_HZ)),
        }
    }
}

/// Two notes of [`CUE_NOTE_FRAMES`] frames each, with 5 ms ramps so they do not click.
fn two_notes(first: f32, second: f32) -> Vec<i16> {
    let note = CUE_NOTE_FRAMES * FRAME_SAMPLES;
    let ramp = 40.0_f32;
    [first, second]
        .into_iter()
        .flat_map(|hz| {
            (0..note).map(move |n| {
                let t = n as f32;
                let envelope = (t / ramp).min((note as f32 - t) / ramp).min(1.0);
                let phase = std::f32::consts::TAU * hz * t / 8_000.0;
                // |value| <= CUE_AMPLITUDE: in range.
                (CUE_AMPLITUDE * envelope * phase.sin()) as i16
            })
        })
        .collect()
}

pub(super) struct Room {
    /// The wheel slot whose ticks mix (before that slot's legs send).
    pub(super) slot: usize,
    /// Legs whose audio goes into the mix (they joined).
    pub(super) members: Vec<LegId>,
    /// Legs whose source is the room (the members, and any that only listen).
    pub(super) listeners: Vec<LegId>,
    /// Members whose audio is left out of the mix.
    pub(super) muted: Vec<LegId>,
    /// The cue playing (added to everyone's mix), and the next sample of it.
    cue: Option<(Cue, usize)>,
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
            muted: Vec::new(),
            cue: None,
            frames: Vec::new(),
            sum: [0; FRAME_SAMPLES],
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.members.is_empty() && self.listeners.is_empty()
    }

    /// Plays `cue` to everyone in the room from the next mix (in place of one playing).
    pub(super) fn cue(&mut self, cue: Cue) {
        self.cue = Some((cue, 0));
    }

    /// Whether `member`'s audio is left out of the mix.
    #[cfg(test)]
    pub(super) fn is_muted(&self, member: LegId) -> bool {
        self.muted.contains(&member)
    }

    /// Sums the members' frames (after `frames` was filled), and the cue's next frame.
    pub(super) fn sum(&mut self) {
        sum_frames(&self.frames, &mut self.sum);
        if let Some((cue, position)) = self.cue.as_mut() {
            let samples = cue.samples();
            let frame = samples.get(*position..).unwrap_or_default();
            for (total, sample) in self.sum.iter_mut().zip(frame) {
                *total += i32::from(*sample);
            }
            *position += FRAME_SAMPLES;
            if *position >= samples.len() {
                self.cue = None;
            }
        }
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
    fn a_cue_is_heard_by_everyone_on_top_of_the_others_then_stops() {
        let mut room = Room::new(0);
        room.members = vec![LegId(1), LegId(2)];
        room.frames = vec![[100; FRAME_SAMPLES], [20; FRAME_SAMPLES]];
        room.cue(Cue::Joined);
        let samples = Cue::Joined.samples();
        assert_eq!(samples.len(), 2 * CUE_NOTE_FRAMES * FRAME_SAMPLES);
        let mut out = SILENT;
        for frame in 0..2 * CUE_NOTE_FRAMES {
            room.sum();
            let cue = &samples[frame * FRAME_SAMPLES..(frame + 1) * FRAME_SAMPLES];
            room.heard_by(LegId(1), &mut out);
            for (heard, cue) in out.iter().zip(cue) {
                assert_eq!(i32::from(*heard), 20 + i32::from(*cue), "frame {frame}");
            }
        }
        room.sum();
        room.heard_by(LegId(1), &mut out);
        assert_eq!(out, [20; FRAME_SAMPLES], "the cue is over");
    }

    #[test]
    fn the_cues_rise_for_a_join_and_fall_for_a_leave_without_clicks() {
        let joined = Cue::Joined.samples();
        let left = Cue::Left.samples();
        let note = CUE_NOTE_FRAMES * FRAME_SAMPLES;
        // Zero crossings count the pitch of each note.
        let crossings = |pcm: &[i16]| pcm.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!(crossings(&joined[..note]) < crossings(&joined[note..]));
        assert!(crossings(&left[..note]) > crossings(&left[note..]));
        for cue in [joined, left] {
            assert!(cue.iter().all(|s| i32::from(s.unsigned_abs()) <= 5_000));
            // Ramped: each note starts and ends near silence.
            for edge in [0, note - 1, note, 2 * note - 1] {
                assert!(
                    cue[edge].unsigned_abs() < 200,
                    "sample {edge}: {}",
                    cue[edge]
                );
            }
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
