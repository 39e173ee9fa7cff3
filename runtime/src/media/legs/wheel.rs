//! One media thread's legs: which slot of the 20 ms wheel each started leg is in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::LegCommand;
use super::leg::Leg;
use super::thread::Control;
use crate::media::rtp::Pacer;

/// Wheel slots: one per millisecond of a 20 ms frame.
pub(super) const SLOTS: usize = 20;
/// Legs a slot takes before new legs go to another slot: at most this many frames leave
/// back to back on one tick (~4 µs of `sendto` each), while few calls still share few ticks.
const SLOT_CAPACITY: usize = 32;

/// One media thread's legs: a 1 ms tick over a 20-slot wheel.
pub(super) struct Wheel {
    /// Tick t is due at `anchor + t ms` and serves slot `t % 20`.
    pub(super) anchor: Instant,
    pub(super) legs: HashMap<u64, (Leg, Option<usize>)>,
    pub(super) slots: Vec<Vec<u64>>,
    /// Legs in a slot (started).
    pub(super) started: usize,
}

impl Wheel {
    pub(super) fn new(anchor: Instant) -> Wheel {
        Wheel {
            anchor,
            legs: HashMap::new(),
            slots: vec![Vec::new(); SLOTS],
            started: 0,
        }
    }

    /// Apply one control message; `current` is the tick now running.
    pub(super) fn apply(&mut self, control: Control, now: Instant, current: u64) {
        match control {
            Control::Add(id, leg) => {
                self.legs.insert(id, (*leg, None));
            }
            Control::Command(id, LegCommand::Start) => {
                let chosen = self.choose_slot(current);
                if let Some((leg, slot @ None)) = self.legs.get_mut(&id) {
                    // The first frame is due at the slot's next tick; the slot comes round
                    // every 20 ms after, exactly on the leg's deadlines.
                    let first = next_tick_of(chosen, current);
                    leg.pacer = Some(Pacer::new(self.anchor + Duration::from_millis(first)));
                    leg.rtp.start_talk_spurt();
                    leg.last_rtp_in = now;
                    *slot = Some(chosen);
                    if let Some(members) = self.slots.get_mut(chosen) {
                        members.push(id);
                        self.started += 1;
                    }
                }
            }
            Control::Command(id, command) => {
                if let Some((leg, _)) = self.legs.get_mut(&id) {
                    leg.command(command);
                }
            }
            Control::Remove(id) => {
                if let Some((_, Some(slot))) = self.legs.remove(&id)
                    && let Some(members) = self.slots.get_mut(slot)
                {
                    members.retain(|member| *member != id);
                    self.started -= 1;
                }
            }
        }
    }

    /// The slot for a leg starting now. Legs are packed: the fullest slot still under
    /// [`SLOT_CAPACITY`] takes it, so that a thread with few calls wakes a few times per 20 ms,
    /// not every millisecond; when every used slot is full, an empty one (the next to come
    /// round); when all are full, the emptiest, so that no tick sends far more than the others.
    fn choose_slot(&self, current: u64) -> usize {
        let fullest_open = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, members)| !members.is_empty() && members.len() < SLOT_CAPACITY)
            .max_by_key(|(_, members)| members.len())
            .map(|(slot, _)| slot);
        let next_empty = (1..=SLOTS as u64)
            .map(|ahead| slot_of(current + ahead))
            .find(|slot| self.slots.get(*slot).is_some_and(Vec::is_empty));
        let emptiest = || {
            self.slots
                .iter()
                .enumerate()
                .min_by_key(|(_, members)| members.len())
                .map_or(0, |(slot, _)| slot)
        };
        fullest_open.or(next_empty).unwrap_or_else(emptiest)
    }

    /// The first tick after `tick` whose slot holds legs (`tick + 20` when none does).
    pub(super) fn next_busy_tick(&self, tick: u64) -> u64 {
        (tick..tick + SLOTS as u64)
            .find(|t| self.slots.get(slot_of(*t)).is_some_and(|m| !m.is_empty()))
            .unwrap_or(tick + SLOTS as u64)
    }

    /// The tick number running at `now`.
    pub(super) fn current(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.anchor).as_millis();
        u64::try_from(elapsed).unwrap_or(u64::MAX)
    }
}

/// The wheel slot tick `tick` serves.
pub(super) fn slot_of(tick: u64) -> usize {
    usize::try_from(tick % SLOTS as u64).unwrap_or(0)
}

/// The first tick after `current` that serves `slot`.
fn next_tick_of(slot: usize, current: u64) -> u64 {
    let slots = SLOTS as u64;
    let slot = slot as u64 % slots;
    let ahead = (slot + slots - current % slots) % slots;
    current + if ahead == 0 { slots } else { ahead }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legs_are_packed_into_few_slots_until_a_slot_is_full() {
        let mut wheel = Wheel::new(Instant::now());
        let current = 1_000_000 + 7; // slot 7 is running
        // The first leg takes the next slot to come round.
        assert_eq!(wheel.choose_slot(current), 8);
        let mut id = 0;
        let mut place = |wheel: &mut Wheel, slot: usize| {
            id += 1;
            wheel.slots[slot].push(id);
        };
        place(&mut wheel, 8);
        // Then the same slot, until it holds SLOT_CAPACITY legs.
        for _ in 1..SLOT_CAPACITY {
            assert_eq!(wheel.choose_slot(current), 8);
            place(&mut wheel, 8);
        }
        // Full: the next empty slot to come round.
        assert_eq!(wheel.choose_slot(current), 9);
        place(&mut wheel, 9);
        assert_eq!(wheel.choose_slot(current), 9, "the fullest open slot");
        // Every slot full: the emptiest one.
        for slot in 0..SLOTS {
            while wheel.slots[slot].len() < SLOT_CAPACITY {
                place(&mut wheel, slot);
            }
        }
        place(&mut wheel, 3);
        let chosen = wheel.choose_slot(current);
        assert_ne!(chosen, 3);
        assert_eq!(wheel.slots[chosen].len(), SLOT_CAPACITY);
    }

    #[test]
    fn a_slots_next_tick_is_within_the_next_20_and_never_now() {
        for current in [0u64, 7, 19, 20, 1_234_567] {
            for slot in 0..SLOTS {
                let tick = next_tick_of(slot, current);
                assert!(tick > current && tick <= current + SLOTS as u64);
                assert_eq!(slot_of(tick), slot);
            }
        }
        let mut wheel = Wheel::new(Instant::now());
        assert_eq!(wheel.next_busy_tick(40), 60, "no legs: a whole turn");
        wheel.slots[5].push(1);
        assert_eq!(wheel.next_busy_tick(40), 45);
        assert_eq!(wheel.next_busy_tick(45), 45);
        assert_eq!(wheel.next_busy_tick(46), 65);
    }
}
