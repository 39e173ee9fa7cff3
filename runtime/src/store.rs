//! The store: what calls leave behind (tickets, callbacks, bookings, the call log).
//!
//! [`Store`] is the boundary: the engine's adapters talk to it, never to sled.
//! [`SledStore`] is the embedded implementation, one tree per concern; a city
//! that outgrows one machine can put a shared database behind the same trait.
//!
//! Records are serde values with a schema version. Writes whose result is told
//! to the caller (a reference number, a booked time) are flushed to disk before
//! the call returns.

pub mod dialing;
pub mod records;
mod sled_store;
pub mod ticketing;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::people::messages::{NewStaffMessage, StaffMessage};

pub use sled_store::{SledStore, StoreConfig, is_valid_booking_reference};

/// Current schema version of every record.
pub const SCHEMA_VERSION: u32 = 1;

/// Schema of the callback records written now: 2 carries [`dialing::Dialing`]
/// (state, lease, attempts); schema-1 records read as pending with no attempts.
pub const CALLBACK_SCHEMA: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store at {path}: {message}")]
    Open { path: String, message: String },
    /// Another process (a running server) has the store open.
    #[error("store at {path}: {message}")]
    Locked { path: String, message: String },
    #[error("store write failed: {0}")]
    Write(String),
    #[error("store read failed: {0}")]
    Read(String),
    #[error("record {key} in {tree} is damaged: {message}")]
    Corrupt {
        tree: &'static str,
        key: String,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Closed,
    Cancelled,
}

/// A request for a ticket, as the engine makes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTicket {
    pub category: String,
    pub title: String,
    pub office: Option<String>,
    pub priority: String,
    pub fields: BTreeMap<String, String>,
    pub caller: String,
    pub call_id: String,
    pub created_at: Timestamp,
    /// When the city promised to handle it (created_at + the category's SLA).
    pub due_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub schema: u32,
    /// Human-readable, unique, never reused: `PG-2026-000123`.
    pub reference: String,
    pub status: Status,
    #[serde(flatten)]
    pub request: NewTicket,
    /// Who has it, comments, closing (absent in records written before tickets were worked).
    #[serde(default)]
    pub work: ticketing::TicketWork,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCallback {
    pub office: String,
    /// The number to call back.
    pub number: String,
    pub note: Option<String>,
    pub call_id: String,
    pub created_at: Timestamp,
    /// When the citizen asked to be called, in the office's time zone; `None`: any
    /// time the office is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<CallWindow>,
    /// The ticket the caller opened earlier in the same call, if any (its reference and
    /// category): staff hear them when the dialer briefs them. Absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `callback … citizen first`: the dialer calls the citizen first, then staff. Absent in
    /// older records and for staff first (the default).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub citizen_first: bool,
    /// The call's language when the request was made (`it`, `en`): the citizen-first
    /// message is said in it. Absent in older records (then Italian).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// A daily time window (local times, `from` before `until`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallWindow {
    pub from: jiff::civil::Time,
    pub until: jiff::civil::Time,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Callback {
    pub schema: u32,
    /// `RC-2026-000042`
    pub reference: String,
    pub status: Status,
    #[serde(flatten)]
    pub request: NewCallback,
    /// The dialer's state, lease and attempts (absent in schema-1 records).
    #[serde(default)]
    pub dialing: dialing::Dialing,
}

#[cfg(test)]
impl Callback {
    /// An open callback request of `office`, asked at `created_at`, its dialer at `state` with no
    /// attempt yet (tests' fixture).
    #[allow(clippy::unwrap_used)]
    pub(crate) fn example(
        reference: &str,
        office: &str,
        created_at: &str,
        state: dialing::DialState,
    ) -> Callback {
        Callback {
            schema: 2,
            reference: reference.into(),
            status: Status::Open,
            request: NewCallback {
                office: office.into(),
                number: "0755771234".into(),
                note: None,
                call_id: "call-1".into(),
                created_at: created_at.parse().unwrap(),
                window: None,
                ticket: None,
                category: None,
                citizen_first: false,
                language: None,
            },
            dialing: dialing::Dialing {
                state,
                attempts: Vec::new(),
                next_attempt_at: None,
            },
        }
    }
}

/// What is booked: an appointment with an office, or a service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Resource {
    Office(String),
    Service(String),
}

impl Resource {
    pub fn key(&self) -> String {
        match self {
            Resource::Office(name) => format!("office/{name}"),
            Resource::Service(name) => format!("service/{name}"),
        }
    }
}

/// A bookable time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Slot {
    pub start: Timestamp,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewBooking {
    pub resource: Resource,
    /// Slots to try, earliest first; the first with room is taken.
    pub candidates: Vec<Slot>,
    /// Bookings a slot can hold.
    pub capacity: u32,
    pub caller: String,
    pub call_id: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booking {
    pub schema: u32,
    /// Digits only, so callers can type it on the keypad to cancel: `26004217`.
    pub reference: String,
    pub status: Status,
    pub resource: Resource,
    pub slot: Slot,
    pub caller: String,
    pub call_id: String,
    pub created_at: Timestamp,
}

/// What [`Store::move_booking`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Moved {
    /// The booking now holds the new slot (same reference); the old slot is free.
    Moved(Booking),
    /// No open booking has that reference.
    NotFound,
    /// The new slot is full: nothing changed.
    Full,
}

/// One call, as the call log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub schema: u32,
    pub call_id: String,
    pub caller: String,
    pub number: String,
    pub flow: String,
    /// The content hash of the graph version that served the call.
    pub graph_version: String,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub outcome: Option<String>,
    /// How the call came (`sip`); empty in records written before the call log kept it.
    #[serde(default)]
    pub channel: String,
    /// Each time the flow handed the caller to people (transfer, queue) and how it went, for
    /// reports; empty in records written before the call log kept it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handoffs: Vec<Handoff>,
}

/// The flow asked for people: a transfer to an office's staff or a place in its queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    pub kind: HandoffKind,
    pub office: String,
    /// When the flow asked (staff start ringing, the caller joins the queue).
    pub asked_at: Timestamp,
    /// How it ended; `None`: the call ended first (the caller hung up while it rang or waited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<crate::engine::TransferOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
}

/// How a caller was handed to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffKind {
    Transfer,
    Queue,
}

/// What a live call's engine was given, in order, with the times it came with: enough to
/// run the call again exactly (`centralino replay`). Kept next to its [`CallRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEvents {
    pub schema: u32,
    pub call_id: String,
    pub events: Vec<crate::engine::Event>,
    /// Each question the engine asked about staff presence, and the answer, in order.
    pub presence: Vec<PresenceAnswer>,
    /// More events came than the log keeps ([`crate::calllog::MAX_LOGGED_EVENTS`]): the
    /// first ones are kept, the call cannot be replayed to its end.
    pub truncated: bool,
}

/// One answer about staff presence a call was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceAnswer {
    pub contact: String,
    pub present: bool,
}

/// A graph version that served calls, kept once by its content hash so a call can be run
/// again on it: the compiled graph, and the source files it was compiled from (to show).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptVersion {
    pub schema: u32,
    /// The graph's content hash (`sha256:...`).
    pub version: String,
    pub kept_at: Timestamp,
    /// File name (as the compiler names it) to its text.
    pub sources: BTreeMap<String, String>,
    pub graph: centralino_compiler::graph::Graph,
}

/// How much of the call log is kept: the newest `max_calls` calls, none older than `max_age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLogRetention {
    pub max_calls: usize,
    pub max_age: jiff::SignedDuration,
}

impl Default for CallLogRetention {
    fn default() -> Self {
        CallLogRetention {
            max_calls: 100_000,
            max_age: jiff::SignedDuration::from_hours(24 * 90),
        }
    }
}

/// One step of one call (a node entered), for tracing and reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub schema: u32,
    pub call_id: String,
    pub seq: u32,
    pub at: Timestamp,
    #[serde(flatten)]
    pub trace: crate::engine::Trace,
}

/// A recorded message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    pub schema: u32,
    pub call_id: String,
    pub variable: String,
    /// Path of the WAV file, relative to the data directory.
    pub path: String,
    pub duration_ms: u64,
    pub created_at: Timestamp,
}

/// Everything the runtime stores. Implementations must be safe to share between
/// calls (`Send + Sync`), make reference numbers unique across concurrent
/// writers, never give one slot beyond its capacity, and flush before returning
/// from the methods marked *durable*.
pub trait Store: Send + Sync {
    /// *Durable.* Assigns the next ticket reference and stores the ticket.
    fn create_ticket(&self, ticket: NewTicket) -> Result<Ticket, StoreError>;
    /// *Durable.*
    fn create_callback(&self, callback: NewCallback) -> Result<Callback, StoreError>;
    /// *Durable.* Books the first candidate slot with room, atomically; `None` when all are full.
    fn book(&self, booking: NewBooking) -> Result<Option<Booking>, StoreError>;
    /// *Durable.* Cancels a booking by reference; `None` when there is no such open booking.
    fn cancel_booking(&self, reference: &str) -> Result<Option<Booking>, StoreError>;
    /// *Durable.* Moves an open booking to `slot` of the same resource, atomically: the new slot
    /// is counted and the old one freed together, or nothing changes.
    fn move_booking(&self, reference: &str, slot: Slot, capacity: u32)
    -> Result<Moved, StoreError>;
    /// The first `count` of `candidates` (earliest first) that have room for one more booking
    /// of `resource` now. A read: the room may be gone when the caller books.
    fn free_slots(
        &self,
        resource: &Resource,
        candidates: &[Slot],
        capacity: u32,
        count: usize,
    ) -> Result<Vec<Slot>, StoreError>;
    /// *Durable.*
    fn save_recording(&self, recording: Recording) -> Result<(), StoreError>;
    /// Call log writes: flushed in the background, not before the caller hears anything.
    fn save_call(&self, call: CallRecord) -> Result<(), StoreError>;
    fn append_step(&self, step: StepRecord) -> Result<(), StoreError>;
    /// The events of a call ([`CallEvents`]); written once, at the end of the call.
    fn save_call_events(&self, events: CallEvents) -> Result<(), StoreError>;
    /// Keeps a graph version by its hash; `false` (and nothing written) when it is kept already.
    fn keep_version(&self, version: KeptVersion) -> Result<bool, StoreError>;
    /// Removes the calls (record, steps, events) beyond the retention, oldest first, and the
    /// versions no kept call used; `now` is the newest call's start. The number of calls removed.
    fn prune_call_log(&self, now: Timestamp) -> Result<usize, StoreError>;

    fn tickets(&self) -> Result<Vec<Ticket>, StoreError>;
    /// Every ticket that can be read, and a [`StoreError::Corrupt`] for each that
    /// cannot: for listings and repair tools that must see around a damaged record.
    /// [`Store::tickets`] fails instead.
    fn tickets_skipping_damaged(&self) -> Result<(Vec<Ticket>, Vec<StoreError>), StoreError>;
    fn ticket(&self, reference: &str) -> Result<Option<Ticket>, StoreError>;
    /// Applies `change` to the ticket atomically (one transaction with the event it causes,
    /// [`crate::events`]), flushed before returning.
    fn change_ticket(
        &self,
        reference: &str,
        change: &ticketing::TicketChange,
    ) -> Result<Result<Ticket, ticketing::TicketRefusal>, StoreError>;
    fn callbacks(&self) -> Result<Vec<Callback>, StoreError>;
    /// One callback request by reference.
    fn callback(&self, reference: &str) -> Result<Option<Callback>, StoreError>;
    /// *Durable.* Applies `change` to a callback request's dialing state atomically
    /// (one transaction: a concurrent change makes it read and decide again), so
    /// two workers never both take one request. Closing sets the status to closed.
    /// The inner error says why the change was not made (nothing written then).
    fn change_callback(
        &self,
        reference: &str,
        change: &dialing::Change,
    ) -> Result<Result<Callback, dialing::Refusal>, StoreError>;
    fn bookings(&self) -> Result<Vec<Booking>, StoreError>;
    fn booking(&self, reference: &str) -> Result<Option<Booking>, StoreError>;
    fn calls(&self) -> Result<Vec<CallRecord>, StoreError>;
    /// The logged calls that started in `from..to` (start included, end not), in the order of
    /// [`Store::calls`]. Reports ask for their period only; this default reads the whole log,
    /// a store with a time index reads only the range.
    fn calls_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<CallRecord>, StoreError> {
        Ok(self
            .calls()?
            .into_iter()
            .filter(|call| from <= call.started_at && call.started_at < to)
            .collect())
    }
    fn steps(&self, call_id: &str) -> Result<Vec<StepRecord>, StoreError>;
    fn call(&self, call_id: &str) -> Result<Option<CallRecord>, StoreError>;
    fn call_events(&self, call_id: &str) -> Result<Option<CallEvents>, StoreError>;
    fn kept_version(&self, version: &str) -> Result<Option<KeptVersion>, StoreError>;
    fn recordings(&self) -> Result<Vec<Recording>, StoreError>;
    /// Reads every record and checks the store's own bookkeeping (e.g. slot
    /// counts). Returns the problems found (empty when the store is sound); fails
    /// only when the store cannot be read at all.
    fn verify(&self) -> Result<Vec<StoreError>, StoreError>;
    /// Flush everything written so far.
    fn flush(&self) -> Result<(), StoreError>;

    // ---- people: messages
    // Messages between staff, kept until a device of the recipient takes them
    // (crate::people::messages).

    /// *Durable.* Keeps a message in its recipient's mailbox under the next message number;
    /// `None` (and nothing kept) when the mailbox already holds `mailbox_limit` messages.
    fn keep_staff_message(
        &self,
        message: NewStaffMessage,
        mailbox_limit: usize,
    ) -> Result<Option<StaffMessage>, StoreError>;
    /// The messages kept for `extension`, oldest first.
    fn staff_messages_for(&self, extension: &str) -> Result<Vec<StaffMessage>, StoreError>;
    /// Every kept message, by recipient, each recipient's oldest first.
    fn staff_messages(&self) -> Result<Vec<StaffMessage>, StoreError>;
    /// Rewrites a kept message's delivery bookkeeping (attempts, next attempt); `false` when it
    /// is no longer kept. Not flushed: losing it in a crash only brings a retry forward.
    fn update_staff_message(&self, message: &StaffMessage) -> Result<bool, StoreError>;
    /// *Durable.* Removes a message (delivered, or given up); `false` when it was already gone.
    fn remove_staff_message(&self, extension: &str, id: u64) -> Result<bool, StoreError>;
    // ---- people: registrar
    /// The registrations (bindings of staff phones) of `extension`, replacing those stored;
    /// empty removes them. *Durable* when `durable` (contacts came or went); a refresh that
    /// only moves expiry times is flushed in the background.
    fn save_registrations(
        &self,
        extension: &str,
        registrations: &[crate::people::registrar::Registration],
        durable: bool,
    ) -> Result<(), StoreError>;
    /// Every stored registration, expired ones included (the registrar drops them on load).
    fn registrations(&self) -> Result<Vec<crate::people::registrar::Registration>, StoreError>;

    // ---- events out (crate::events)
    // Changes that other systems hear of are written with their event, in one transaction,
    // to the outbox. A store without an outbox tells of nothing (the defaults).

    /// Up to `limit` events of the outbox after `after`, in order.
    fn events_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<crate::events::OutboxEvent>, StoreError> {
        let _ = (after, limit);
        Ok(Vec::new())
    }
    /// The last event's seq given out (0: none yet).
    fn last_event(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
    /// How far `subscriber` has been delivered (`None`: it never ran).
    fn delivered_through(&self, subscriber: &str) -> Result<Option<u64>, StoreError> {
        let _ = subscriber;
        Ok(None)
    }
    /// *Durable.* `subscriber` has every event through `seq`.
    fn set_delivered_through(&self, subscriber: &str, seq: u64) -> Result<(), StoreError> {
        let _ = (subscriber, seq);
        Ok(())
    }
    /// Removes the events through `seq`; how many were removed.
    fn prune_events(&self, through: u64) -> Result<usize, StoreError> {
        let _ = through;
        Ok(0)
    }
}
