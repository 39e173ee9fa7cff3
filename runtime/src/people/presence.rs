//! Presence: who among the staff is available, ringing, on a call, away or offline, and the
//! star codes staff dial to say so themselves.
//!
//! ```text
//!   registrar ──Bindings{expires}──┐
//!   calls ─────Call{call, state}───┼─► Presence::apply ──► Vec<Change> ──► Subscriptions::changed
//!   *21 / *20 ─SetAway{away}───────┘        │                                  └─► NOTIFYs to send
//!   timer ─────────────────────────► Presence::expire(now)
//!   engine (transfers, queues, `open(office)`) ──► engine::Presence::is_present(contact)
//! ```
//!
//! A staff member's [`Status`] is derived, never stored: offline without a live binding; else
//! on a call when any call is answered or they are the one calling; else ringing when a call
//! rings them; else away when they dialled `*21` (kept until `*20`, across re-registrations);
//! else available. Calls are counted one by one (by Call-ID), so the end of one of two calls
//! leaves the other in place. Sans-IO: time comes with each event, and bindings lapse only when
//! [`Presence::expire`] is told the time ([`Presence::next_expiry`] says when to call it).
//!
//! Subscriptions and the NOTIFY bodies (PIDF, dialog-info) are in [`subscriptions`] and [`body`].

pub mod body;
pub mod subscriptions;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Binding, extension_of};
use crate::engine;

pub use subscriptions::{
    EventPackage, Notify, SubscribeOutcome, SubscribeRequest, SubscriptionId, SubscriptionLimits,
    SubscriptionState, Subscriptions, TerminatedReason,
};

/// What colleagues and the server see of a staff member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Registered, on no call, not away: the only status a transfer rings.
    Available,
    /// A call is ringing their phone and they are on no other call.
    Ringing,
    /// On a call (answered, or one they are placing).
    OnCall,
    /// Do not disturb: they dialled `*21`.
    Away,
    /// No live registration.
    Offline,
}

impl Status {
    /// Words for logs and the console.
    pub fn label(self) -> &'static str {
        match self {
            Status::Available => "available",
            Status::Ringing => "ringing",
            Status::OnCall => "on a call",
            Status::Away => "away",
            Status::Offline => "offline",
        }
    }
}

/// Who started a call, seen from the staff member (RFC 4235 `direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// They are calling out (`initiator`).
    Outgoing,
    /// They are being called (`recipient`).
    Incoming,
}

/// Where a call of a staff member stands (RFC 4235 dialog states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// INVITE sent or received, no ringing yet.
    Trying,
    /// Ringing (a provisional response with a tag): BLF keys blink.
    Early,
    /// Answered: BLF keys show busy.
    Confirmed,
    /// Over: the call is forgotten.
    Terminated,
}

impl CallState {
    /// The RFC 4235 `<state>` text.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Trying => "trying",
            CallState::Early => "early",
            CallState::Confirmed => "confirmed",
            CallState::Terminated => "terminated",
        }
    }
}

/// One call of a staff member, as dialog-info shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dialog {
    /// The Call-ID of the staff member's leg.
    pub call_id: String,
    pub direction: Direction,
    pub state: CallState,
}

/// Something the presence must know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PresenceEvent {
    /// The extension's bindings after a REGISTER (or at start-up, from the store): when each
    /// lapses. Empty when the last device unregistered.
    Bindings {
        extension: String,
        expires: Vec<Timestamp>,
        at: Timestamp,
    },
    /// A call of the extension started, progressed or ended (state `terminated`).
    Call {
        extension: String,
        call_id: String,
        direction: Direction,
        state: CallState,
        at: Timestamp,
    },
    /// They dialled `*21` (away: true) or `*20` (away: false).
    SetAway {
        extension: String,
        away: bool,
        at: Timestamp,
    },
}

impl PresenceEvent {
    /// [`PresenceEvent::Bindings`] from the registrar's bindings of one extension.
    pub fn bindings(extension: &str, bindings: &[Binding], at: Timestamp) -> PresenceEvent {
        PresenceEvent::Bindings {
            extension: extension.to_string(),
            expires: bindings.iter().map(|binding| binding.expires_at).collect(),
            at,
        }
    }
}

/// A staff member's status changed: presence subscribers are told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceChanged {
    pub extension: String,
    pub from: Status,
    pub to: Status,
}

/// A staff member's calls changed: dialog subscribers (BLF keys) are told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogsChanged {
    pub extension: String,
    /// Calls that just ended: shown once as `terminated`, then no more.
    pub ended: Vec<Dialog>,
}

/// What an event changed, for [`Subscriptions::changed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Status(PresenceChanged),
    Dialogs(DialogsChanged),
}

/// What a staff member can do by dialling a star code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StarCode {
    /// `*21`: do not disturb; transfers and queues pass them by.
    Away,
    /// `*20`: back again.
    Back,
}

impl StarCode {
    /// Every star code, as dialled.
    pub const ALL: [(&'static str, StarCode); 2] =
        [("*21", StarCode::Away), ("*20", StarCode::Back)];

    /// The event that applies the code for `extension`.
    pub fn event(self, extension: &str, at: Timestamp) -> PresenceEvent {
        PresenceEvent::SetAway {
            extension: extension.to_string(),
            away: match self {
                StarCode::Away => true,
                StarCode::Back => false,
            },
            at,
        }
    }
}

/// What the user part of an INVITE's Request-URI from a staff phone asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialled {
    /// Not a star code: route the call as usual.
    Number,
    /// A known star code: apply [`StarCode::event`], then end the call.
    StarCode(StarCode),
    /// The start of a known code (`*`, `*2`): answer 484 Address Incomplete.
    IncompleteStarCode,
    /// A star code nobody defined (`*99`, `*2a`): answer 404 Not Found.
    UnknownStarCode,
}

/// Reads the user part of a Request-URI (`*21`, or `%2A21` from phones that escape the star).
pub fn dialled(user: &str) -> Dialled {
    let code = if let Some(rest) = user.strip_prefix('*') {
        rest
    } else if let Some(rest) = user
        .get(..3)
        .filter(|prefix| prefix.eq_ignore_ascii_case("%2a"))
        .and_then(|_| user.get(3..))
    {
        rest
    } else {
        return Dialled::Number;
    };
    if let Some((_, star_code)) = StarCode::ALL
        .iter()
        .find(|(text, _)| text.get(1..) == Some(code))
    {
        return Dialled::StarCode(*star_code);
    }
    let is_prefix = StarCode::ALL
        .iter()
        .any(|(text, _)| text.get(1..).is_some_and(|known| known.starts_with(code)));
    if is_prefix {
        Dialled::IncompleteStarCode
    } else {
        Dialled::UnknownStarCode
    }
}

/// What presence knows of one staff member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Member {
    /// When each live binding lapses.
    expires: Vec<Timestamp>,
    /// Their calls by Call-ID.
    calls: BTreeMap<String, (Direction, CallState)>,
    away: bool,
}

impl Member {
    fn status(&self) -> Status {
        if self.expires.is_empty() {
            return Status::Offline;
        }
        let on_call = self.calls.values().any(|(direction, state)| {
            *state == CallState::Confirmed || *direction == Direction::Outgoing
        });
        if on_call {
            Status::OnCall
        } else if !self.calls.is_empty() {
            Status::Ringing
        } else if self.away {
            Status::Away
        } else {
            Status::Available
        }
    }

    fn dialogs(&self) -> Vec<Dialog> {
        self.calls
            .iter()
            .map(|(call_id, (direction, state))| Dialog {
                call_id: call_id.clone(),
                direction: *direction,
                state: *state,
            })
            .collect()
    }
}

/// The presence of every staff member. Extensions not given as staff are ignored, so nothing
/// from outside can make this grow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presence {
    members: BTreeMap<String, Member>,
}

impl Presence {
    /// Presence for these staff extensions, all offline.
    pub fn new(staff: impl IntoIterator<Item = String>) -> Presence {
        Presence {
            members: staff
                .into_iter()
                .map(|extension| (extension, Member::default()))
                .collect(),
        }
    }

    /// After a reload: new staff start offline, staff no longer named are forgotten (their
    /// subscriptions end with [`Subscriptions::staff_removed`]); the others keep their state.
    /// Returns the extensions removed.
    pub fn set_staff(&mut self, staff: impl IntoIterator<Item = String>) -> Vec<String> {
        let staff: BTreeSet<String> = staff.into_iter().collect();
        let removed: Vec<String> = self
            .members
            .keys()
            .filter(|extension| !staff.contains(*extension))
            .cloned()
            .collect();
        self.members
            .retain(|extension, _| staff.contains(extension));
        for extension in staff {
            self.members.entry(extension).or_default();
        }
        removed
    }

    pub fn is_staff(&self, extension: &str) -> bool {
        self.members.contains_key(extension)
    }

    /// `None` for an extension that is not staff.
    pub fn status(&self, extension: &str) -> Option<Status> {
        self.members.get(extension).map(Member::status)
    }

    /// The extension's calls, by Call-ID (empty for an unknown extension).
    pub fn dialogs(&self, extension: &str) -> Vec<Dialog> {
        self.members
            .get(extension)
            .map(Member::dialogs)
            .unwrap_or_default()
    }

    /// Every staff member's status, by extension: for the console.
    pub fn statuses(&self) -> BTreeMap<String, Status> {
        self.members
            .iter()
            .map(|(extension, member)| (extension.clone(), member.status()))
            .collect()
    }

    /// Who set themselves away, whatever their status now: for an adapter that keeps `*21`
    /// across a server restart (replay each as [`StarCode::Away`] at start-up).
    pub fn away_extensions(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|(_, member)| member.away)
            .map(|(extension, _)| extension.clone())
            .collect()
    }

    /// Applies an event; returns what changed (nothing for an extension that is not staff).
    pub fn apply(&mut self, event: PresenceEvent) -> Vec<Change> {
        let (extension, at) = match &event {
            PresenceEvent::Bindings { extension, at, .. }
            | PresenceEvent::Call { extension, at, .. }
            | PresenceEvent::SetAway { extension, at, .. } => (extension.clone(), *at),
        };
        let Some(member) = self.members.get_mut(&extension) else {
            return Vec::new();
        };
        let before = member.status();
        let mut ended = Vec::new();
        let mut dialogs_changed = false;
        match event {
            PresenceEvent::Bindings { expires, .. } => {
                member.expires = expires.into_iter().filter(|until| *until > at).collect();
            }
            PresenceEvent::Call {
                call_id,
                direction,
                state,
                ..
            } => match state {
                CallState::Terminated => {
                    if let Some((direction, _)) = member.calls.remove(&call_id) {
                        dialogs_changed = true;
                        ended.push(Dialog {
                            call_id,
                            direction,
                            state: CallState::Terminated,
                        });
                    }
                }
                CallState::Trying | CallState::Early | CallState::Confirmed => {
                    let previous = member.calls.insert(call_id, (direction, state));
                    dialogs_changed = previous != Some((direction, state));
                }
            },
            PresenceEvent::SetAway { away, .. } => member.away = away,
        }
        let after = member.status();
        let mut changes = Vec::new();
        if before != after {
            changes.push(Change::Status(PresenceChanged {
                extension: extension.clone(),
                from: before,
                to: after,
            }));
        }
        if dialogs_changed {
            changes.push(Change::Dialogs(DialogsChanged { extension, ended }));
        }
        changes
    }

    /// Drops bindings lapsed at `now`; returns the staff who went offline.
    pub fn expire(&mut self, now: Timestamp) -> Vec<Change> {
        let mut changes = Vec::new();
        for (extension, member) in &mut self.members {
            let before = member.status();
            member.expires.retain(|until| *until > now);
            let after = member.status();
            if before != after {
                changes.push(Change::Status(PresenceChanged {
                    extension: extension.clone(),
                    from: before,
                    to: after,
                }));
            }
        }
        changes
    }

    /// When the next binding lapses: call [`Presence::expire`] then.
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.members
            .values()
            .flat_map(|member| member.expires.iter().copied())
            .min()
    }
}

/// Only an available staff member is present: transfers, queues and `open(office)` ask this.
/// `contact` is a staff address (`sip:201@comune.example`); anything else is not present.
impl engine::Presence for Presence {
    fn is_present(&self, contact: &str) -> bool {
        extension_of(contact).and_then(|extension| self.status(extension))
            == Some(Status::Available)
    }
}

/// The shared form the engine holds (`Arc<Mutex<Presence>>` coerces to `Arc<dyn Presence>`).
/// A poisoned lock reads as nobody present.
impl engine::Presence for Mutex<Presence> {
    fn is_present(&self, contact: &str) -> bool {
        self.lock()
            .map(|presence| engine::Presence::is_present(&*presence, contact))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests;
