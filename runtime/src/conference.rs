//! Conference rooms on live calls, the parts without IO: the PIN a caller types to enter a
//! room, the key that mutes and unmutes, and which media room each named room is while
//! someone is in it. The SIP call (`sip::call`) asks and plays; this module decides.
//!
//! Staff in a bridged call open a three-way call with `*3`, the number, `#`
//! ([`StaffKeys`]): the colleague or office is rung and, on answer, the three share a room.
//!
//! ```text
//!   flow: conference "sala" pin "1234"
//!     │ (pin)  "enter the PIN, then #"  ──keys──► PinEntry ──► Accepted │ Wrong (ask again) │ Refused
//!     ▼                                                          │            (flow goes on)
//!   Rooms::enter("sala") ─► the media room (made on the first member's media thread)
//!     │  welcome prompt (says *6), then the caller's leg joins: N-1 mix, join cue to all
//!     │  keys: MuteKeys (*6 toggles)           hang-up / lost line: leave cue, Rooms::leave
//!     ▼
//!   last one out: the name is free, the media room is gone
//! ```

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::media::legs::RoomId;

/// Wrong PINs a caller may type before the flow goes on without them.
pub const PIN_TRIES: u32 = 3;

/// Keys kept of one attempt at most (a PIN is at most this long).
const PIN_MAX_KEYS: usize = 16;

/// The key pressed after `*` that toggles the microphone (`*6`, as in many conference systems).
pub const MUTE_KEY: char = '6';

/// What a key did to the PIN being typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinStep {
    /// More keys are needed.
    Typing,
    /// The PIN is right: the caller enters.
    Accepted,
    /// Wrong: ask again (this many tries are left).
    Wrong { tries_left: u32 },
    /// Wrong for the last time: the flow goes on without the caller in the room.
    Refused,
}

/// A caller typing a room's PIN: digits, then `#`; the PIN is checked as soon as as many
/// digits as it has were typed (no `#` needed), or at `#`. `*` starts the attempt again. A
/// caller who types nothing for a while gets `timed_out` (a wrong try).
#[derive(Debug, Clone)]
pub struct PinEntry {
    expected: String,
    typed: String,
    wrong: u32,
}

impl PinEntry {
    pub fn new(expected: &str) -> PinEntry {
        PinEntry {
            expected: expected.to_owned(),
            typed: String::new(),
            wrong: 0,
        }
    }

    pub fn key(&mut self, key: char) -> PinStep {
        match key {
            '#' => self.check(),
            '*' => {
                self.typed.clear();
                PinStep::Typing
            }
            digit if digit.is_ascii_digit() => {
                if self.typed.len() < PIN_MAX_KEYS {
                    self.typed.push(digit);
                }
                if self.typed.chars().count() >= self.expected.chars().count() {
                    self.check()
                } else {
                    PinStep::Typing
                }
            }
            // A, B, C, D: not part of any PIN.
            _ => PinStep::Typing,
        }
    }

    /// No key for the entry's time: counts as a wrong try.
    pub fn timed_out(&mut self) -> PinStep {
        self.typed.clear();
        self.wrong()
    }

    fn check(&mut self) -> PinStep {
        let typed = std::mem::take(&mut self.typed);
        if typed == self.expected {
            PinStep::Accepted
        } else {
            self.wrong()
        }
    }

    fn wrong(&mut self) -> PinStep {
        self.wrong += 1;
        match PIN_TRIES.checked_sub(self.wrong) {
            Some(tries_left) if tries_left > 0 => PinStep::Wrong { tries_left },
            _ => PinStep::Refused,
        }
    }
}

/// The keys of a caller in a room: `*` then [`MUTE_KEY`] toggles the microphone; any other key
/// is ignored.
#[derive(Debug, Clone, Default)]
pub struct MuteKeys {
    star: bool,
}

impl MuteKeys {
    /// Whether this key completes the toggle.
    pub fn key(&mut self, key: char) -> bool {
        let toggle = self.star && key == MUTE_KEY;
        self.star = key == '*';
        toggle
    }
}

/// The key after `*` that starts a three-way call from a bridged call (`*3` + number + `#`).
pub const THREE_WAY_KEY: char = '3';

/// Digits of a number kept at most (longer is not an extension or an office).
const NUMBER_MAX_KEYS: usize = 16;

/// What a staff member's key in a bridged call does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffKey {
    /// Held back: it may start a code (`*`), or it is part of one.
    Held,
    /// Passed on to the caller (a `*` held back, then this key, gives two).
    Pass(Vec<char>),
    /// `*3`, a number and `#`: add this extension or office to the call.
    AddParty(String),
    /// A code given up (`*` again, or `#` with no number): nothing is sent.
    Dropped,
}

/// The keys staff press in a bridged call: passed on to the caller, except `*3` + number + `#`.
/// A `*` is held back until the next key says whether it starts the code.
#[derive(Debug, Clone, Default)]
pub struct StaffKeys {
    state: StaffKeysState,
}

#[derive(Debug, Clone, Default)]
enum StaffKeysState {
    #[default]
    Idle,
    Star,
    Number(String),
}

impl StaffKeys {
    pub fn key(&mut self, key: char) -> StaffKey {
        match std::mem::take(&mut self.state) {
            StaffKeysState::Idle if key == '*' => {
                self.state = StaffKeysState::Star;
                StaffKey::Held
            }
            StaffKeysState::Idle => StaffKey::Pass(vec![key]),
            StaffKeysState::Star if key == THREE_WAY_KEY => {
                self.state = StaffKeysState::Number(String::new());
                StaffKey::Held
            }
            StaffKeysState::Star if key == '*' => {
                self.state = StaffKeysState::Star;
                StaffKey::Pass(vec!['*'])
            }
            StaffKeysState::Star => StaffKey::Pass(vec!['*', key]),
            StaffKeysState::Number(number) if key == '#' && number.is_empty() => StaffKey::Dropped,
            StaffKeysState::Number(number) if key == '#' => StaffKey::AddParty(number),
            StaffKeysState::Number(mut number) if key.is_ascii_digit() => {
                if number.len() < NUMBER_MAX_KEYS {
                    number.push(key);
                }
                self.state = StaffKeysState::Number(number);
                StaffKey::Held
            }
            // `*` (or a letter) gives the code up.
            StaffKeysState::Number(_) => StaffKey::Dropped,
        }
    }
}

/// The rooms in use, by the name the flows give them: which media room each is and how many
/// callers it counts. Shared by every call of a server.
#[derive(Default)]
pub struct Rooms {
    rooms: Mutex<HashMap<String, Place>>,
}

struct Place {
    room: RoomId,
    members: usize,
}

impl Rooms {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Place>> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A caller enters the room `name`: the media room it is, made by `make` when nobody is in
    /// it yet.
    pub fn enter(&self, name: &str, make: impl FnOnce() -> RoomId) -> RoomId {
        let mut rooms = self.lock();
        let place = rooms.entry(name.to_owned()).or_insert_with(|| Place {
            room: make(),
            members: 0,
        });
        place.members += 1;
        place.room
    }

    /// A caller who entered `name` left it; the last one out frees the name (the next caller
    /// starts a new room). How many are still in it.
    pub fn leave(&self, name: &str) -> usize {
        let mut rooms = self.lock();
        let Some(place) = rooms.get_mut(name) else {
            return 0;
        };
        place.members = place.members.saturating_sub(1);
        let left = place.members;
        if left == 0 {
            rooms.remove(name);
        }
        left
    }

    /// How many callers are in the room `name`.
    pub fn members(&self, name: &str) -> usize {
        self.lock().get(name).map_or(0, |place| place.members)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::media::legs::{MediaLoops, RtpPorts};

    fn typed(entry: &mut PinEntry, keys: &str) -> Vec<PinStep> {
        keys.chars().map(|key| entry.key(key)).collect()
    }

    #[test]
    fn the_right_pin_enters_without_hash_and_with_it() {
        let mut entry = PinEntry::new("1234");
        assert_eq!(
            typed(&mut entry, "1234"),
            [
                PinStep::Typing,
                PinStep::Typing,
                PinStep::Typing,
                PinStep::Accepted
            ]
        );
        let mut entry = PinEntry::new("1234");
        assert_eq!(
            typed(&mut entry, "12*1234").last(),
            Some(&PinStep::Accepted)
        );
    }

    #[test]
    fn three_wrong_pins_refuse_and_each_wrong_one_says_how_many_are_left() {
        let mut entry = PinEntry::new("1234");
        assert_eq!(
            typed(&mut entry, "12#").last(),
            Some(&PinStep::Wrong { tries_left: 2 })
        );
        assert_eq!(entry.timed_out(), PinStep::Wrong { tries_left: 1 });
        assert_eq!(typed(&mut entry, "9999").last(), Some(&PinStep::Refused));
    }

    #[test]
    fn an_entry_is_checked_at_the_pins_length_and_letters_are_ignored() {
        let mut entry = PinEntry::new("1234");
        assert_eq!(
            typed(&mut entry, "AB98765"),
            [
                PinStep::Typing,
                PinStep::Typing,
                PinStep::Typing,
                PinStep::Typing,
                PinStep::Typing,
                PinStep::Wrong { tries_left: 2 },
                PinStep::Typing,
            ]
        );
    }

    #[test]
    fn star_six_toggles_and_other_keys_do_not() {
        let mut keys = MuteKeys::default();
        let toggles: Vec<bool> = "*6 6 *16 **6 #6*6"
            .chars()
            .filter(|c| *c != ' ')
            .map(|key| keys.key(key))
            .collect();
        assert_eq!(
            toggles,
            [
                false, true, false, false, false, false, false, false, true, false, false, false,
                true
            ]
        );
    }

    #[test]
    fn staff_keys_pass_on_except_star_three_number_hash() {
        let mut keys = StaffKeys::default();
        let pressed = |keys: &mut StaffKeys, text: &str| -> Vec<StaffKey> {
            text.chars().map(|key| keys.key(key)).collect()
        };
        assert_eq!(
            pressed(&mut keys, "5*1"),
            [
                StaffKey::Pass(vec!['5']),
                StaffKey::Held,
                StaffKey::Pass(vec!['*', '1'])
            ]
        );
        assert_eq!(
            pressed(&mut keys, "*3202#"),
            [
                StaffKey::Held,
                StaffKey::Held,
                StaffKey::Held,
                StaffKey::Held,
                StaffKey::Held,
                StaffKey::AddParty(String::from("202"))
            ]
        );
        assert_eq!(
            pressed(&mut keys, "**3#*32*7"),
            [
                StaffKey::Held,
                StaffKey::Pass(vec!['*']),
                StaffKey::Held,
                StaffKey::Dropped,
                StaffKey::Held,
                StaffKey::Held,
                StaffKey::Held,
                StaffKey::Dropped,
                StaffKey::Pass(vec!['7'])
            ]
        );
    }

    #[test]
    fn a_room_is_one_media_room_until_the_last_one_leaves() {
        let loops =
            MediaLoops::start(2, RtpPorts::any(Ipv4Addr::LOCALHOST.into())).expect("media threads");
        let rooms = Rooms::default();
        let first = rooms.enter("sala", || loops.room(loops.group()));
        let second = rooms.enter("sala", || panic!("the room exists"));
        assert_eq!(first, second);
        let other = rooms.enter("giunta", || loops.room(loops.group()));
        assert_ne!(first, other);
        assert_eq!(rooms.members("sala"), 2);
        assert_eq!(rooms.leave("sala"), 1);
        assert_eq!(rooms.leave("sala"), 0);
        assert_eq!(rooms.members("sala"), 0);
        assert_eq!(rooms.leave("sala"), 0, "leaving twice does no harm");
        let again = rooms.enter("sala", || loops.room(loops.group()));
        assert_ne!(again, first, "a new room after the last one left");
    }
}
