//! One media thread's legs and rooms: which slot of the 20 ms wheel each started leg is in,
//! who listens to whom, and the audio moved between legs after their ticks.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use tracing::warn;

use super::jitter::CAPACITY;
use super::leg::{Leg, far_end};
use super::room::{Cue, Room, SILENT};
use super::socket::{Outbox, RtpSocket};
use super::thread::Control;
use super::{FrameCounts, PublishedCounts};
use super::{LegCommand, LegId, RoomId, Source};
use crate::media::codec::Codec;
use crate::media::rtp::Pacer;
use std::sync::Arc;

/// Wheel slots: one per millisecond of a 20 ms frame.
pub(super) const SLOTS: usize = 20;
/// Legs a slot takes before new legs go to another slot: at most this many frames leave
/// together on one tick (one `sendmmsg`), while few calls still share few ticks. Larger than
/// when each frame was a `sendto` of its own: each wake of a thread costs a batch of sends and
/// the wake-ups of the callers it reaches, so fewer, fuller ticks cost less CPU per call. Load
/// benchmark, 1000 callers sending audio (docs/benchmarks.md): 128 gave 261-283 µs per
/// call-second but a lateness p99 of 1.8-2.7 ms; 64 gives 282-308 µs with the lateness of
/// before (p99 0.7-1.1 ms).
const SLOT_CAPACITY: usize = 64;

/// Datagrams read from a leg's own socket per wake, at most.
const OWN_SOCKET_READS: usize = 16;

/// The hasher of the media thread's maps, looked up on every packet and every tick: aHash
/// (keys seeded at random per process, so callers cannot choose colliding SDP addresses),
/// several times cheaper than the standard SipHash for these small keys.
type FastHash = ahash::RandomState;

/// One media thread's legs: a 1 ms tick over a 20-slot wheel.
pub(super) struct Wheel {
    /// Tick t is due at `anchor + t ms` and serves slot `t % 20`.
    pub(super) anchor: Instant,
    pub(super) legs: HashMap<LegId, (Leg, Option<usize>), FastHash>,
    pub(super) slots: Vec<Vec<LegId>>,
    /// The rooms of this thread's legs, while they have members or listeners.
    pub(super) rooms: HashMap<RoomId, Room, FastHash>,
    /// Legs in a slot (started).
    pub(super) started: usize,
    /// The thread's socket, shared by all its legs.
    socket: RtpSocket,
    /// The frames of this wake, sent together by `flush`.
    outbox: Outbox,
    /// The far end of each started leg: who a datagram is for. One leg per address: a second
    /// leg with the same far end is refused (`MediaLoops::add_to`), never given the first one's
    /// audio.
    pub(super) far_ends: HashMap<SocketAddr, LegId, FastHash>,
    /// Started legs with a socket of their own (`Leg::own`), read on each wake after the
    /// thread's socket.
    own_sockets: Vec<LegId>,
    /// Frames paced on this thread, published now and then to `published`.
    counts: FrameCounts,
    published: Arc<PublishedCounts>,
    /// What a bridge's speaker heard, on its way to the listener: swapped with the speaker's
    /// (empty after each datagram), so it is neither copied nor allocated.
    passing: Vec<u8>,
}

impl Wheel {
    pub(super) fn new(
        anchor: Instant,
        socket: UdpSocket,
        published: Arc<PublishedCounts>,
    ) -> Wheel {
        Wheel {
            counts: FrameCounts::default(),
            published,
            passing: Vec::new(),
            anchor,
            legs: HashMap::default(),
            slots: vec![Vec::new(); SLOTS],
            rooms: HashMap::default(),
            started: 0,
            socket: RtpSocket::new(socket),
            outbox: Outbox::new(),
            far_ends: HashMap::default(),
            own_sockets: Vec::new(),
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
                    if leg.own.is_some() {
                        self.own_sockets.push(id);
                    } else {
                        let far_end = leg.far_end();
                        self.hear(id, None, far_end);
                    }
                    if let Some(members) = self.slots.get_mut(chosen) {
                        members.push(id);
                        self.started += 1;
                    }
                }
            }
            Control::Command(id, LegCommand::Source(source)) => {
                self.set_source(id, source, current);
            }
            Control::Command(id, LegCommand::Join(room)) => self.join(id, room, current),
            Control::Command(id, LegCommand::Leave) => self.leave(id),
            Control::Command(id, LegCommand::Mute(muted)) => self.mute(id, muted),
            Control::Command(id, LegCommand::Renegotiated(negotiated)) => {
                if let Some((leg, slot)) = self.legs.get_mut(&id) {
                    let before = leg.far_end();
                    let started = slot.is_some();
                    let after = far_end(&negotiated);
                    leg.command(LegCommand::Renegotiated(negotiated));
                    // A hold to `0.0.0.0` keeps the address heard until a new one comes.
                    if started && leg.own.is_none() && after.is_some() && after != before {
                        self.hear(id, before, after);
                    }
                }
            }
            Control::Command(id, command) => {
                if let Some((leg, _)) = self.legs.get_mut(&id) {
                    leg.command(command);
                }
            }
            Control::Remove(id) => {
                self.leave(id);
                let Some((leg, slot)) = self.legs.remove(&id) else {
                    return;
                };
                self.stop_listening(id, &leg.source);
                self.far_ends.retain(|_, owner| *owner != id);
                self.own_sockets.retain(|owner| *owner != id);
                if let Some(slot) = slot
                    && let Some(members) = self.slots.get_mut(slot)
                {
                    members.retain(|member| *member != id);
                    self.started -= 1;
                }
            }
        }
    }

    /// Datagrams from `after` go to `id` from now on, no longer those from `before`. An address
    /// another leg of this thread hears stays that leg's (the call admitting `id` checked, so
    /// only a re-INVITE to another call's address gets here): `id` then hears nothing.
    fn hear(&mut self, id: LegId, before: Option<SocketAddr>, after: Option<SocketAddr>) {
        if let Some(before) = before
            && self.far_ends.get(&before) == Some(&id)
        {
            self.far_ends.remove(&before);
        }
        let Some(after) = after else {
            return;
        };
        match self.far_ends.get(&after) {
            Some(owner) if *owner != id => {
                warn!(%after, "another call's far end: this call's RTP is not heard");
            }
            _ => {
                self.far_ends.insert(after, id);
            }
        }
    }

    /// `id`'s outgoing audio comes from `source`; the leg or room it names learns that `id`
    /// listens (and the previous one that it no longer does).
    fn set_source(&mut self, id: LegId, source: Source, current: u64) {
        let Some((leg, _)) = self.legs.get_mut(&id) else {
            return;
        };
        let previous = std::mem::replace(&mut leg.source, Source::Prompts);
        leg.set_source(source.clone());
        self.stop_listening(id, &previous);
        match source {
            Source::Prompts | Source::Loop(_) => {}
            Source::Leg(speaker) => {
                if let Some((speaker, _)) = self.legs.get_mut(&speaker)
                    && !speaker.listeners.contains(&id)
                {
                    speaker.listeners.push(id);
                }
            }
            Source::Room(room) => {
                let room = self.room(room, current);
                if !room.listeners.contains(&id) {
                    room.listeners.push(id);
                }
            }
        }
    }

    /// Undoes what `set_source` registered for `source`.
    fn stop_listening(&mut self, id: LegId, source: &Source) {
        match source {
            Source::Prompts | Source::Loop(_) => {}
            Source::Leg(speaker) => {
                if let Some((speaker, _)) = self.legs.get_mut(speaker) {
                    speaker.listeners.retain(|listener| *listener != id);
                    if speaker.listeners.is_empty() {
                        speaker.heard.clear();
                    }
                }
            }
            Source::Room(room) => {
                if let Some(entry) = self.rooms.get_mut(room) {
                    entry.listeners.retain(|listener| *listener != id);
                    if entry.is_empty() {
                        self.rooms.remove(room);
                    }
                }
            }
        }
    }

    /// The room `id`, made now if no leg of this thread uses it yet. A new room mixes on the
    /// next tick's slot; `join` moves it to its first started member's slot.
    fn room(&mut self, id: RoomId, current: u64) -> &mut Room {
        self.rooms
            .entry(id)
            .or_insert_with(|| Room::new(slot_of(current + 1)))
    }

    /// `id` joins `room`: its audio goes into the mix and it hears the others.
    fn join(&mut self, id: LegId, room: RoomId, current: u64) {
        self.leave(id);
        let Some((leg, slot)) = self.legs.get_mut(&id) else {
            return;
        };
        leg.room = Some(room);
        let slot = *slot;
        let entry = self.room(room, current);
        if entry.members.is_empty()
            && entry.listeners.is_empty()
            && let Some(slot) = slot
        {
            // Mixed just before its first member sends: its audio is in the mix at once.
            entry.slot = slot;
        }
        entry.members.push(id);
        entry.cue(Cue::Joined);
        self.set_source(id, Source::Room(room), current);
    }

    /// Leave `id`'s audio out of its room's mix, or put it back.
    fn mute(&mut self, id: LegId, muted: bool) {
        let Some(room) = self.legs.get(&id).and_then(|(leg, _)| leg.room) else {
            return;
        };
        if let Some(entry) = self.rooms.get_mut(&room) {
            entry.muted.retain(|member| *member != id);
            if muted {
                entry.muted.push(id);
            }
        }
    }

    /// `id` leaves its room, if in one; a room it heard gives way to the prompts.
    fn leave(&mut self, id: LegId) {
        let Some((leg, _)) = self.legs.get_mut(&id) else {
            return;
        };
        let Some(room) = leg.room.take() else {
            return;
        };
        leg.to_room.clear();
        if leg.source == Source::Room(room) {
            leg.set_source(Source::Prompts);
            self.stop_listening(id, &Source::Room(room));
        }
        if let Some(entry) = self.rooms.get_mut(&room) {
            entry.members.retain(|member| *member != id);
            entry.muted.retain(|member| *member != id);
            if entry.is_empty() {
                self.rooms.remove(&room);
            } else if !entry.members.is_empty() {
                entry.cue(Cue::Left);
            }
        }
    }

    /// Runs tick `tick`: the rooms that mix on its slot, then the slot's legs, whose frames wait
    /// in the outbox for `flush`.
    pub(super) fn run_tick(&mut self, tick: u64, now: Instant) {
        let slot = slot_of(tick);
        if !self.rooms.is_empty() {
            for room in self.rooms.values_mut() {
                if room.slot == slot {
                    mix(room, &mut self.legs);
                }
            }
        }
        let Some(members) = self.slots.get(slot) else {
            return;
        };
        for id in members {
            if let Some((leg, _)) = self.legs.get_mut(id) {
                leg.tick(now, &mut self.outbox, &mut self.counts);
            }
        }
    }

    /// Sends the frames of the ticks run since the last flush, with as few system calls as
    /// the socket takes them in (one `sendmmsg` per 256).
    pub(super) fn flush(&mut self) {
        if self.outbox.len() > 0 {
            self.socket.send(&mut self.outbox);
        }
        self.published.publish(&self.counts);
    }

    /// What arrived on the thread's socket: each datagram goes to the leg whose far end sent
    /// it (others are dropped: RTP bleed), to its sinks, and what the leg heard to those
    /// listening to it.
    pub(super) fn receive(&mut self, now: Instant) {
        let legs = &mut self.legs;
        let far_ends = &self.far_ends;
        let passing = &mut self.passing;
        self.socket.receive(|datagram, from| {
            let Some(id) = far_ends.get(&from) else {
                return;
            };
            let Some((leg, _)) = legs.get_mut(id) else {
                return;
            };
            leg.on_rtp(datagram, from, now);
            // Empty unless someone listens: the common leg stops here.
            if leg.heard.is_empty() {
                return;
            }
            if let [listener] = leg.listeners[..] {
                // A bridge: what was heard goes to the one listener, found once.
                std::mem::swap(&mut leg.heard, passing);
                let codec = leg.heard_codec;
                if let Some((listener, _)) = legs.get_mut(&listener) {
                    give(listener, passing, codec, &mut None);
                }
                passing.clear();
            } else {
                hand_over(*id, legs);
            }
        });
        let mut buffer = [0u8; 2048];
        for id in &self.own_sockets {
            // A few datagrams per wake at most: a flood cannot keep the thread from its ticks.
            for _ in 0..OWN_SOCKET_READS {
                let Some((leg, _)) = self.legs.get_mut(id) else {
                    break;
                };
                let Some(Ok((len, from))) = leg.own.as_ref().map(|s| s.recv_from(&mut buffer))
                else {
                    break;
                };
                leg.on_rtp(buffer.get(..len).unwrap_or_default(), from, now);
                if !leg.heard.is_empty() {
                    hand_over(*id, &mut self.legs);
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

/// What `speaker` just received goes to the jitter buffer of each leg listening to it: as it
/// came to a listener of the same codec, decoded (once) for one of another codec.
fn hand_over(speaker: LegId, legs: &mut HashMap<LegId, (Leg, Option<usize>), FastHash>) {
    let Some((leg, _)) = legs.get_mut(&speaker) else {
        return;
    };
    // Taken out for the loop (no allocation) and put back after.
    let heard = std::mem::take(&mut leg.heard);
    let listeners = std::mem::take(&mut leg.listeners);
    let codec = leg.heard_codec;
    let mut decoded = None;
    for listener in &listeners {
        if let Some((listener, _)) = legs.get_mut(listener) {
            give(listener, &heard, codec, &mut decoded);
        }
    }
    if let Some((leg, _)) = legs.get_mut(&speaker) {
        leg.listeners = listeners;
        leg.heard = heard;
        leg.heard.clear();
    }
}

/// What a speaker of `codec` heard, into `listener`'s jitter buffer: as it came to a listener
/// of the same codec, decoded (once, into `decoded`, shared by the listeners) for another.
fn give(
    listener: &mut Leg,
    heard: &[u8],
    codec: Codec,
    decoded: &mut Option<([i16; CAPACITY], usize)>,
) {
    if listener.negotiated.codec == codec {
        listener.incoming_same_codec.push(heard);
    } else {
        let (pcm, len) = decoded.get_or_insert_with(|| {
            let mut pcm = [0i16; CAPACITY];
            let len = codec.decode(heard, &mut pcm);
            (pcm, len)
        });
        listener.incoming.push(pcm.get(..*len).unwrap_or_default());
    }
}

/// One mix of `room`: a frame from each member (silence when it has none ready), the sum, and
/// each listener's share of it into that listener's jitter buffer.
fn mix(room: &mut Room, legs: &mut HashMap<LegId, (Leg, Option<usize>), FastHash>) {
    room.frames.resize(room.members.len(), SILENT);
    for (member, frame) in room.members.iter().zip(room.frames.iter_mut()) {
        let taken = legs
            .get_mut(member)
            .is_some_and(|(leg, _)| leg.to_room.pop_frame(frame));
        if !taken || room.muted.contains(member) {
            *frame = SILENT;
        }
    }
    room.sum();
    let mut heard = SILENT;
    for listener in &room.listeners {
        room.heard_by(*listener, &mut heard);
        if let Some((leg, _)) = legs.get_mut(listener) {
            leg.incoming.push(&heard);
        }
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
    #![allow(clippy::unwrap_used)]

    use tokio::sync::mpsc;

    use super::*;
    use crate::media::codec::Codec;
    use crate::media::legs::Negotiated;

    /// A leg that is never started (its far end is nobody).
    fn idle_leg() -> Box<Leg> {
        let negotiated = Negotiated {
            remote: "127.0.0.1:9".parse().unwrap(),
            codec: Codec::Pcmu,
            dtmf_payload_type: None,
            on_hold: false,
        };
        let events = mpsc::unbounded_channel().0;
        Box::new(Leg::new(negotiated, Duration::from_secs(60), events))
    }

    fn socket() -> UdpSocket {
        UdpSocket::bind("127.0.0.1:0").unwrap()
    }

    #[test]
    fn listeners_and_rooms_follow_sources_and_are_forgotten_with_their_legs() {
        let now = Instant::now();
        let mut wheel = Wheel::new(now, socket(), Default::default());
        let (a, b, c) = (LegId(1), LegId(2), LegId(3));
        for id in [a, b, c] {
            wheel.apply(Control::Add(id, idle_leg()), now, 0);
        }
        let command = |wheel: &mut Wheel, id: LegId, command: LegCommand| {
            wheel.apply(Control::Command(id, command), now, 0);
        };
        let listeners = |wheel: &Wheel, id: LegId| wheel.legs[&id].0.listeners.clone();

        command(&mut wheel, a, LegCommand::Source(Source::Leg(b)));
        command(&mut wheel, c, LegCommand::Source(Source::Leg(b)));
        assert_eq!(listeners(&wheel, b), [a, c]);
        command(&mut wheel, a, LegCommand::Source(Source::Prompts));
        assert_eq!(listeners(&wheel, b), [c]);

        let room = RoomId { id: 9, thread: 0 };
        command(&mut wheel, a, LegCommand::Join(room));
        command(&mut wheel, b, LegCommand::Join(room));
        assert_eq!(wheel.rooms[&room].members, [a, b]);
        assert_eq!(wheel.rooms[&room].listeners, [a, b]);
        command(&mut wheel, a, LegCommand::Mute(true));
        assert!(wheel.rooms[&room].is_muted(a));
        command(&mut wheel, a, LegCommand::Mute(false));
        assert!(!wheel.rooms[&room].is_muted(a));
        command(&mut wheel, a, LegCommand::Mute(true));
        assert_eq!(wheel.legs[&a].0.source, Source::Room(room));
        command(&mut wheel, a, LegCommand::Leave);
        assert!(!wheel.rooms[&room].is_muted(a), "leaving forgets the mute");
        assert_eq!(wheel.legs[&a].0.source, Source::Prompts);
        assert_eq!(wheel.legs[&a].0.room, None);
        assert_eq!(wheel.rooms[&room].members, [b]);
        assert_eq!(wheel.rooms[&room].listeners, [b]);

        // The last member gone, the room is gone; a leg listening to a removed leg stays
        // (silent) until told otherwise.
        wheel.apply(Control::Remove(b), now, 0);
        assert!(wheel.rooms.is_empty());
        assert_eq!(wheel.legs[&c].0.source, Source::Leg(b));
        command(&mut wheel, c, LegCommand::Source(Source::Prompts));
        wheel.apply(Control::Remove(c), now, 0);
        wheel.apply(Control::Remove(a), now, 0);
        assert!(wheel.legs.is_empty());
    }

    #[test]
    fn legs_are_packed_into_few_slots_until_a_slot_is_full() {
        let mut wheel = Wheel::new(Instant::now(), socket(), Default::default());
        let current = 1_000_000 + 7; // slot 7 is running
        // The first leg takes the next slot to come round.
        assert_eq!(wheel.choose_slot(current), 8);
        let mut id = 0;
        let mut place = |wheel: &mut Wheel, slot: usize| {
            id += 1;
            wheel.slots[slot].push(LegId(id));
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
        let mut wheel = Wheel::new(Instant::now(), socket(), Default::default());
        assert_eq!(wheel.next_busy_tick(40), 60, "no legs: a whole turn");
        wheel.slots[5].push(LegId(1));
        assert_eq!(wheel.next_busy_tick(40), 45);
        assert_eq!(wheel.next_busy_tick(45), 45);
        assert_eq!(wheel.next_busy_tick(46), 65);
    }
}
