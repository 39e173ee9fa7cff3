//! [`SledStore`]: the embedded [`Store`], one sled tree per concern, JSON records.
//!
//! ```text
//!   tree        key                                   value
//!   meta        "schema"                              decimal text: the store's schema version
//!   counters    "tickets/PG/2026", "bookings"         u64 BE: the last number given out
//!   tickets     "PG-2026-000001"                      Ticket (JSON); `work` (assignee,
//!                                                     history) changed in a transaction
//!                                                     with its event
//!   callbacks   "RC-2026-000001"                      Callback (JSON); schema 2 adds
//!                                                     `dialing` (state, lease, attempts),
//!                                                     changed in a transaction only
//!   bookings    "10000009"                            Booking (JSON)
//!   slots       resource key ‖ FF ‖ start (16 B)      u32 BE: open bookings in the slot
//!   calls       call id                               CallRecord (JSON)
//!   steps       call id ‖ FF ‖ seq (u32 BE)           StepRecord (JSON)
//!   call_events call id                               CallEvents (JSON): what the engine was
//!                                                     given, for `centralino replay`
//!   calls_by_time  started (16 B) ‖ call id           empty: the call log in time order
//!                                                     (listing, retention)
//!   versions    content hash ("sha256:...")           KeptVersion (JSON): graph and sources
//!                                                     of a version that served calls
//!   recordings  created (16 B) ‖ call id ‖ FF ‖ var   Recording (JSON)
//!   staff_messages  recipient ‖ FF ‖ id (u64 BE)      StaffMessage (JSON), oldest first
//!   counters    "staff_messages"                      u64 BE: the last message id given out
//!   counters    "staff_messages/201"                  u64 BE: messages kept for 201
//!   registrations  extension                          StoredRegistrations (JSON): a staff
//!                                                     member's phones (people::registrar)
//!   outbox      seq (u64 BE)                          OutboxEvent (JSON): an event for other
//!                                                     systems, written in the transaction of
//!                                                     its change (crate::events)
//!   counters    "outbox"                              u64 BE: the last event seq given out
//!   counters    "outbox/delivered/NAME"               u64 BE: subscription NAME has every
//!                                                     event through this seq
//!   meta        "events_id"                           the store's random name, in event ids
//! ```
//!
//! `FF` never occurs in UTF-8, so it separates a string from what follows without
//! ambiguity; timestamps are nanoseconds with the sign bit flipped, big-endian, so
//! byte order is time order and a prefix scan returns a call's steps in sequence.
//!
//! Numbers are given out inside sled transactions together with the record they
//! name, so a reference is unique across threads and never reused. Booking a slot
//! and counting it happen in one transaction across `slots`, `bookings` and
//! `counters`; sled runs transactions one at a time (a process-wide lock), so two
//! callers can never both take the last place. Durable writes call
//! [`sled::Db::flush`] (fsync) before returning.
//!
//! A record that does not decode is reported as [`StoreError::Corrupt`] naming its
//! tree and key. Listings fail on the first damaged record rather than return a
//! list that looks complete and is not; [`Store::tickets_skipping_damaged`]
//! and [`Store::verify`] are there to see around it.
//!
//! An IO error (a full disk) is [`StoreError::Write`]. sled then refuses every
//! later write on this handle (its error is sticky) while reads go on working;
//! reopen the store once space is freed. A write that failed may or may not be
//! on disk, but nobody was told its reference; everything flushed before is kept.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionResult, Transactional,
    TransactionalTree,
};

use crate::people::registrar::Registration;

use super::dialing::{Change, DialState, Dialing, Refusal};
use super::ticketing::{TicketChange, TicketRefusal};
use super::{
    Booking, CALLBACK_SCHEMA, CallEvents, CallLogRetention, CallRecord, Callback, KeptVersion,
    Moved, NewBooking, NewCallback, NewTicket, Recording, Resource, SCHEMA_VERSION, Slot, Status,
    StepRecord, Store, StoreError, Ticket,
};
use crate::events::{EventKind, OutboxEvent};
use crate::people::messages::{NewStaffMessage, StaffMessage};

const META: &str = "meta";
const COUNTERS: &str = "counters";
const TICKETS: &str = "tickets";
const CALLBACKS: &str = "callbacks";
const BOOKINGS: &str = "bookings";
const SLOTS: &str = "slots";
const CALLS: &str = "calls";
const STEPS: &str = "steps";
const CALL_EVENTS: &str = "call_events";
const CALLS_BY_TIME: &str = "calls_by_time";
const VERSIONS: &str = "versions";
/// The call log is pruned on the first call saved and then every this many.
const PRUNE_EVERY: u64 = 64;
const RECORDINGS: &str = "recordings";
const STAFF_MESSAGES: &str = "staff_messages";
const REGISTRATIONS: &str = "registrations";
const OUTBOX: &str = "outbox";
const OUTBOX_COUNTER: &[u8] = b"outbox";
const EVENTS_ID_KEY: &[u8] = b"events_id";

const SCHEMA_KEY: &[u8] = b"schema";
const BOOKING_COUNTER: &[u8] = b"bookings";
const STAFF_MESSAGE_COUNTER: &[u8] = b"staff_messages";
/// The first booking sequence number: references are 8 digits (7 + check digit)
/// for the first nine million bookings.
const FIRST_BOOKING_SEQ: u64 = 1_000_000;
/// Separates a string from what follows it in a key (never a UTF-8 byte).
const SEP: u8 = 0xFF;

/// How long [`SledStore::open`] waits for the directory's lock. sled releases it
/// from a background thread some moments after the last handle is dropped, so a
/// store closed and reopened by the same process can briefly find it held.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// What a city configures about its store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Ticket references start with this: `PG` gives `PG-2026-000123`.
    pub ticket_prefix: String,
    /// Callback references start with this: `RC` gives `RC-2026-000042`.
    pub callback_prefix: String,
    /// IANA time zone whose calendar year goes into references (`Europe/Rome`).
    /// An unknown name falls back to UTC.
    pub time_zone: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            ticket_prefix: "PG".to_string(),
            callback_prefix: "RC".to_string(),
            time_zone: centralino_compiler::calendar::DEFAULT_TIMEZONE.to_string(),
        }
    }
}

/// The sled store. Cloning is cheap and every clone is the same store, so one
/// store can be handed to every call.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    counters: sled::Tree,
    tickets: sled::Tree,
    callbacks: sled::Tree,
    bookings: sled::Tree,
    slots: sled::Tree,
    calls: sled::Tree,
    steps: sled::Tree,
    call_events: sled::Tree,
    calls_by_time: sled::Tree,
    versions: sled::Tree,
    recordings: sled::Tree,
    staff_messages: sled::Tree,
    registrations: sled::Tree,
    outbox: sled::Tree,
    /// The store's random name: event ids are `{events_id}-{seq}`, unique across stores.
    events_id: Arc<str>,
    config: Arc<StoreConfig>,
    retention: CallLogRetention,
    /// Calls saved through this handle (and its clones), for pruning now and then.
    calls_saved: Arc<AtomicU64>,
    time_zone: TimeZone,
    location: Arc<str>,
}

impl fmt::Debug for SledStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledStore")
            .field("location", &self.location)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, waiting a moment for a lock this
    /// process is still releasing.
    ///
    /// Fails with [`StoreError::Locked`] when another process has the store open,
    /// and with [`StoreError::Open`] when the directory cannot be used or the store
    /// was written by a newer schema.
    pub fn open(dir: &Path, config: StoreConfig) -> Result<SledStore, StoreError> {
        SledStore::open_waiting(dir, config, LOCK_WAIT)
    }

    /// [`SledStore::open`] without the wait: a store held by another process (a
    /// running server) is refused at once with [`StoreError::Locked`]. For a
    /// command that reads the store and can ask the server instead.
    pub fn open_without_waiting(dir: &Path, config: StoreConfig) -> Result<SledStore, StoreError> {
        SledStore::open_waiting(dir, config, Duration::ZERO)
    }

    fn open_waiting(
        dir: &Path,
        config: StoreConfig,
        lock_wait: Duration,
    ) -> Result<SledStore, StoreError> {
        let location = dir.display().to_string();
        let sled_config = sled::Config::new().path(dir);
        let started = Instant::now();
        let db = loop {
            match sled_config.open() {
                Ok(db) => break db,
                Err(error) if is_lock_error(&error) => {
                    if started.elapsed() >= lock_wait {
                        return Err(StoreError::Locked {
                            path: location,
                            message: error.to_string(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(error) => {
                    return Err(StoreError::Open {
                        path: location,
                        message: error.to_string(),
                    });
                }
            }
        };
        SledStore::from_db(db, config, location)
    }

    /// A store in a temporary directory, deleted when the last clone is dropped:
    /// for tests and simulation. Uses [`StoreConfig::default`].
    pub fn temporary() -> Result<SledStore, StoreError> {
        SledStore::temporary_with(StoreConfig::default())
    }

    /// [`SledStore::temporary`] with a given configuration.
    pub fn temporary_with(config: StoreConfig) -> Result<SledStore, StoreError> {
        let location = "(temporary)".to_string();
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .map_err(|error| StoreError::Open {
                path: location.clone(),
                message: error.to_string(),
            })?;
        SledStore::from_db(db, config, location)
    }

    fn from_db(
        db: sled::Db,
        config: StoreConfig,
        location: String,
    ) -> Result<SledStore, StoreError> {
        let open_error = |message: String| StoreError::Open {
            path: location.clone(),
            message,
        };
        let tree = |name: &str| {
            db.open_tree(name)
                .map_err(|error| open_error(format!("cannot open tree {name}: {error}")))
        };
        let meta = tree(META)?;
        match meta
            .get(SCHEMA_KEY)
            .map_err(|error| open_error(error.to_string()))?
        {
            Some(bytes) => {
                let version = std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|text| text.parse::<u32>().ok())
                    .ok_or_else(|| {
                        open_error(format!(
                            "the schema version in tree {META} is unreadable ({})",
                            show_bytes(&bytes)
                        ))
                    })?;
                if version > SCHEMA_VERSION {
                    return Err(open_error(format!(
                        "written with store schema {version}, but this Centralino reads \
                         schema {SCHEMA_VERSION} at most; refusing to open it (upgrade \
                         Centralino or use a copy made before the upgrade)"
                    )));
                }
            }
            None => {
                meta.insert(SCHEMA_KEY, SCHEMA_VERSION.to_string().as_bytes())
                    .map_err(|error| open_error(error.to_string()))?;
                db.flush().map_err(|error| open_error(error.to_string()))?;
            }
        }
        let events_id = match meta
            .get(EVENTS_ID_KEY)
            .map_err(|error| open_error(error.to_string()))?
        {
            Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            None => {
                let mut random = [0u8; 6];
                getrandom::fill(&mut random).map_err(|error| open_error(error.to_string()))?;
                let id: String = random.iter().map(|b| format!("{b:02x}")).collect();
                meta.insert(EVENTS_ID_KEY, id.as_bytes())
                    .map_err(|error| open_error(error.to_string()))?;
                id
            }
        };
        let time_zone =
            centralino_compiler::calendar::timezone(&config.time_zone).unwrap_or(TimeZone::UTC);
        Ok(SledStore {
            outbox: tree(OUTBOX)?,
            events_id: events_id.into(),
            counters: tree(COUNTERS)?,
            tickets: tree(TICKETS)?,
            callbacks: tree(CALLBACKS)?,
            bookings: tree(BOOKINGS)?,
            slots: tree(SLOTS)?,
            calls: tree(CALLS)?,
            steps: tree(STEPS)?,
            call_events: tree(CALL_EVENTS)?,
            calls_by_time: tree(CALLS_BY_TIME)?,
            versions: tree(VERSIONS)?,
            retention: CallLogRetention::default(),
            calls_saved: Arc::new(AtomicU64::new(0)),
            recordings: tree(RECORDINGS)?,
            staff_messages: tree(STAFF_MESSAGES)?,
            registrations: tree(REGISTRATIONS)?,
            db,
            config: Arc::new(config),
            time_zone,
            location: location.into(),
        })
    }

    /// How much of the call log this handle keeps ([`Store::prune_call_log`]).
    pub fn with_call_log_retention(mut self, retention: CallLogRetention) -> SledStore {
        self.retention = retention;
        self
    }

    /// Removes one call's record, steps and events.
    fn forget_call(&self, index_key: &[u8], call_id: &str) -> Result<(), StoreError> {
        self.calls.remove(call_id.as_bytes()).map_err(write_error)?;
        self.call_events
            .remove(call_id.as_bytes())
            .map_err(write_error)?;
        for item in self.steps.scan_prefix(step_prefix(call_id)).keys() {
            let key = item.map_err(read_error)?;
            self.steps.remove(key).map_err(write_error)?;
        }
        self.calls_by_time.remove(index_key).map_err(write_error)?;
        Ok(())
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Open bookings held by `resource` at `start`.
    pub fn occupancy(&self, resource: &Resource, start: Timestamp) -> Result<u32, StoreError> {
        let key = slot_key(resource, start);
        match self.slots.get(&key).map_err(read_error)? {
            Some(bytes) => decode_u32(SLOTS, &key, &bytes),
            None => Ok(0),
        }
    }

    /// Calendar year of `at` in the configured time zone.
    fn year_of(&self, at: Timestamp) -> i16 {
        at.to_zoned_datetime(self.time_zone.clone()).year()
    }

    /// fsync everything written so far; the error is a write error because the
    /// write it follows is not known to be on disk.
    fn flush_durable(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(write_error)
    }

    /// Gives out the next `{prefix}-{year}-{seq:06}` and stores `build(reference)`
    /// under it, in one transaction with the counter.
    fn create_referenced<T: Serialize>(
        &self,
        tree_name: &'static str,
        tree: &sled::Tree,
        prefix: &str,
        created_at: Timestamp,
        event: Option<EventKind>,
        build: impl Fn(String) -> T,
    ) -> Result<T, StoreError> {
        let year = self.year_of(created_at);
        let counter = format!("{tree_name}/{prefix}/{year}");
        let result =
            (&self.counters, tree, &self.outbox).transaction(|(counters, records, outbox)| {
                let mut seq = read_counter(counters, counter.as_bytes())?.unwrap_or(0);
                let reference = loop {
                    seq = seq.checked_add(1).ok_or_else(|| {
                        ConflictableTransactionError::Abort(StoreError::Write(format!(
                            "counter {counter} is exhausted"
                        )))
                    })?;
                    let reference = format!("{prefix}-{year}-{seq:06}");
                    // The counter is authoritative; this only guards against a counter
                    // that was ever behind its records.
                    if records.get(reference.as_bytes())?.is_none() {
                        break reference;
                    }
                };
                counters.insert(counter.as_bytes(), seq.to_be_bytes().to_vec())?;
                let record = build(reference.clone());
                records.insert(
                    reference.as_bytes(),
                    encode(tree_name, &reference, &record)
                        .map_err(ConflictableTransactionError::Abort)?,
                )?;
                if let Some(kind) = event {
                    self.emit(counters, outbox, kind, &reference, created_at, &record)?;
                }
                Ok(record)
            });
        let record = transaction_result(result)?;
        self.flush_durable()?;
        Ok(record)
    }

    /// Writes the event `kind` about `subject` (the record after the change) to the outbox
    /// under the next seq, in the caller's transaction.
    fn emit<T: Serialize>(
        &self,
        counters: &TransactionalTree,
        outbox: &TransactionalTree,
        kind: EventKind,
        subject: &str,
        at: Timestamp,
        record: &T,
    ) -> Result<(), ConflictableTransactionError<StoreError>> {
        let seq = read_counter(counters, OUTBOX_COUNTER)?
            .unwrap_or(0)
            .checked_add(1)
            .ok_or_else(|| {
                ConflictableTransactionError::Abort(StoreError::Write(
                    "the outbox counter is exhausted".to_string(),
                ))
            })?;
        let record = serde_json::to_value(record).map_err(|error| {
            ConflictableTransactionError::Abort(StoreError::Write(error.to_string()))
        })?;
        let event = OutboxEvent {
            seq,
            id: format!("{}-{seq}", self.events_id),
            kind,
            at,
            subject: subject.to_owned(),
            record,
        };
        counters.insert(OUTBOX_COUNTER, seq.to_be_bytes().to_vec())?;
        outbox.insert(
            seq.to_be_bytes().to_vec(),
            encode(OUTBOX, &seq.to_string(), &event)
                .map_err(ConflictableTransactionError::Abort)?,
        )?;
        Ok(())
    }

    fn get<T: DeserializeOwned>(
        tree: &sled::Tree,
        tree_name: &'static str,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        match tree.get(key).map_err(read_error)? {
            Some(bytes) => decode(tree_name, key, &bytes).map(Some),
            None => Ok(None),
        }
    }
}

impl Store for SledStore {
    fn create_ticket(&self, ticket: NewTicket) -> Result<Ticket, StoreError> {
        let prefix = self.config.ticket_prefix.as_str();
        self.create_referenced(
            TICKETS,
            &self.tickets,
            prefix,
            ticket.created_at,
            Some(EventKind::TicketCreated),
            |reference| Ticket {
                schema: SCHEMA_VERSION,
                reference,
                status: Status::Open,
                request: ticket.clone(),
                work: Default::default(),
            },
        )
    }

    fn create_callback(&self, callback: NewCallback) -> Result<Callback, StoreError> {
        let prefix = self.config.callback_prefix.as_str();
        self.create_referenced(
            CALLBACKS,
            &self.callbacks,
            prefix,
            callback.created_at,
            None,
            |reference| Callback {
                schema: CALLBACK_SCHEMA,
                reference,
                status: Status::Open,
                request: callback.clone(),
                dialing: Dialing::default(),
            },
        )
    }

    fn book(&self, booking: NewBooking) -> Result<Option<Booking>, StoreError> {
        let result = (&self.slots, &self.bookings, &self.counters, &self.outbox).transaction(
            |(slots, bookings, counters, outbox)| {
                for slot in &booking.candidates {
                    let key = slot_key(&booking.resource, slot.start);
                    let held = match slots.get(&key)? {
                        Some(bytes) => decode_u32(SLOTS, &key, &bytes)
                            .map_err(ConflictableTransactionError::Abort)?,
                        None => 0,
                    };
                    if held >= booking.capacity {
                        continue;
                    }
                    let mut seq =
                        read_counter(counters, BOOKING_COUNTER)?.unwrap_or(FIRST_BOOKING_SEQ - 1);
                    let reference = loop {
                        seq = seq.checked_add(1).ok_or_else(|| {
                            ConflictableTransactionError::Abort(StoreError::Write(
                                "booking counter is exhausted".to_string(),
                            ))
                        })?;
                        let reference = booking_reference(seq);
                        if bookings.get(reference.as_bytes())?.is_none() {
                            break reference;
                        }
                    };
                    let record = Booking {
                        schema: SCHEMA_VERSION,
                        reference: reference.clone(),
                        status: Status::Open,
                        resource: booking.resource.clone(),
                        slot: *slot,
                        caller: booking.caller.clone(),
                        call_id: booking.call_id.clone(),
                        created_at: booking.created_at,
                    };
                    counters.insert(BOOKING_COUNTER, seq.to_be_bytes().to_vec())?;
                    slots.insert(key, held.saturating_add(1).to_be_bytes().to_vec())?;
                    bookings.insert(
                        reference.as_bytes(),
                        encode(BOOKINGS, &reference, &record)
                            .map_err(ConflictableTransactionError::Abort)?,
                    )?;
                    self.emit(
                        counters,
                        outbox,
                        EventKind::BookingMade,
                        &reference,
                        booking.created_at,
                        &record,
                    )?;
                    return Ok(Some(record));
                }
                Ok(None)
            },
        );
        let booked = transaction_result(result)?;
        if booked.is_some() {
            self.flush_durable()?;
        }
        Ok(booked)
    }

    fn cancel_booking(&self, reference: &str) -> Result<Option<Booking>, StoreError> {
        if !is_valid_booking_reference(reference) {
            return Ok(None);
        }
        let now = Timestamp::now();
        let result = (&self.bookings, &self.slots, &self.counters, &self.outbox).transaction(
            |(bookings, slots, counters, outbox)| {
                let Some(bytes) = bookings.get(reference.as_bytes())? else {
                    return Ok(None);
                };
                let mut booking: Booking = decode(BOOKINGS, reference.as_bytes(), &bytes)
                    .map_err(ConflictableTransactionError::Abort)?;
                if booking.status != Status::Open {
                    return Ok(None);
                }
                booking.status = Status::Cancelled;
                bookings.insert(
                    reference.as_bytes(),
                    encode(BOOKINGS, reference, &booking)
                        .map_err(ConflictableTransactionError::Abort)?,
                )?;
                let key = slot_key(&booking.resource, booking.slot.start);
                if let Some(bytes) = slots.get(&key)? {
                    let held = decode_u32(SLOTS, &key, &bytes)
                        .map_err(ConflictableTransactionError::Abort)?;
                    slots.insert(key, held.saturating_sub(1).to_be_bytes().to_vec())?;
                }
                self.emit(
                    counters,
                    outbox,
                    EventKind::BookingCancelled,
                    reference,
                    now,
                    &booking,
                )?;
                Ok(Some(booking))
            },
        );
        let cancelled = transaction_result(result)?;
        if cancelled.is_some() {
            self.flush_durable()?;
        }
        Ok(cancelled)
    }

    fn move_booking(
        &self,
        reference: &str,
        slot: Slot,
        capacity: u32,
    ) -> Result<Moved, StoreError> {
        if !is_valid_booking_reference(reference) {
            return Ok(Moved::NotFound);
        }
        let result = (&self.bookings, &self.slots).transaction(|(bookings, slots)| {
            let Some(bytes) = bookings.get(reference.as_bytes())? else {
                return Ok(Moved::NotFound);
            };
            let mut booking: Booking = decode(BOOKINGS, reference.as_bytes(), &bytes)
                .map_err(ConflictableTransactionError::Abort)?;
            if booking.status != Status::Open {
                return Ok(Moved::NotFound);
            }
            if booking.slot.start == slot.start {
                // Already there: it keeps its place.
                return Ok(Moved::Moved(booking));
            }
            let new_key = slot_key(&booking.resource, slot.start);
            let held = match slots.get(&new_key)? {
                Some(bytes) => decode_u32(SLOTS, &new_key, &bytes)
                    .map_err(ConflictableTransactionError::Abort)?,
                None => 0,
            };
            if held >= capacity {
                return Ok(Moved::Full);
            }
            let old_key = slot_key(&booking.resource, booking.slot.start);
            if let Some(bytes) = slots.get(&old_key)? {
                let old_held = decode_u32(SLOTS, &old_key, &bytes)
                    .map_err(ConflictableTransactionError::Abort)?;
                slots.insert(old_key, old_held.saturating_sub(1).to_be_bytes().to_vec())?;
            }
            slots.insert(new_key, held.saturating_add(1).to_be_bytes().to_vec())?;
            booking.slot = slot;
            bookings.insert(
                reference.as_bytes(),
                encode(BOOKINGS, reference, &booking)
                    .map_err(ConflictableTransactionError::Abort)?,
            )?;
            Ok(Moved::Moved(booking))
        });
        let moved = transaction_result(result)?;
        if matches!(moved, Moved::Moved(_)) {
            self.flush_durable()?;
        }
        Ok(moved)
    }

    fn free_slots(
        &self,
        resource: &Resource,
        candidates: &[Slot],
        capacity: u32,
        count: usize,
    ) -> Result<Vec<Slot>, StoreError> {
        let mut free = Vec::with_capacity(count);
        for slot in candidates {
            if free.len() >= count {
                break;
            }
            if self.occupancy(resource, slot.start)? < capacity {
                free.push(*slot);
            }
        }
        Ok(free)
    }

    fn save_recording(&self, recording: Recording) -> Result<(), StoreError> {
        let recording = Recording {
            schema: SCHEMA_VERSION,
            ..recording
        };
        let mut key = timestamp_key(recording.created_at).to_vec();
        key.extend_from_slice(recording.call_id.as_bytes());
        key.push(SEP);
        key.extend_from_slice(recording.variable.as_bytes());
        let value = encode(RECORDINGS, &render_key(RECORDINGS, &key), &recording)?;
        self.recordings.insert(key, value).map_err(write_error)?;
        self.flush_durable()
    }

    fn save_call(&self, call: CallRecord) -> Result<(), StoreError> {
        let call = CallRecord {
            schema: SCHEMA_VERSION,
            ..call
        };
        let value = encode(CALLS, &call.call_id, &call)?;
        self.calls
            .insert(call.call_id.as_bytes(), value)
            .map_err(write_error)?;
        let mut index = timestamp_key(call.started_at).to_vec();
        index.extend_from_slice(call.call_id.as_bytes());
        self.calls_by_time
            .insert(index, &[][..])
            .map_err(write_error)?;
        if self
            .calls_saved
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PRUNE_EVERY)
        {
            self.prune_call_log(call.started_at)?;
        }
        Ok(())
    }

    fn save_call_events(&self, events: CallEvents) -> Result<(), StoreError> {
        let events = CallEvents {
            schema: SCHEMA_VERSION,
            ..events
        };
        let value = encode(CALL_EVENTS, &events.call_id, &events)?;
        self.call_events
            .insert(events.call_id.as_bytes(), value)
            .map_err(write_error)?;
        Ok(())
    }

    fn keep_version(&self, version: KeptVersion) -> Result<bool, StoreError> {
        if self
            .versions
            .contains_key(version.version.as_bytes())
            .map_err(read_error)?
        {
            return Ok(false);
        }
        let version = KeptVersion {
            schema: SCHEMA_VERSION,
            ..version
        };
        let value = encode(VERSIONS, &version.version, &version)?;
        self.versions
            .insert(version.version.as_bytes(), value)
            .map_err(write_error)?;
        Ok(true)
    }

    fn prune_call_log(&self, now: Timestamp) -> Result<usize, StoreError> {
        let cutoff = now
            .checked_sub(self.retention.max_age)
            .unwrap_or(Timestamp::MIN);
        let total = self.calls_by_time.len();
        let mut removed = 0;
        for item in self.calls_by_time.iter().keys() {
            let key = item.map_err(read_error)?;
            let Some(started) = key.get(..16).and_then(timestamp_from_key) else {
                continue;
            };
            let over_count = total - removed > self.retention.max_calls;
            if !over_count && started >= cutoff {
                break;
            }
            let call_id = String::from_utf8_lossy(key.get(16..).unwrap_or_default()).into_owned();
            self.forget_call(&key, &call_id)?;
            removed += 1;
        }
        if removed > 0 {
            // Versions no kept call used, kept before the oldest kept call began.
            let oldest = match self.calls_by_time.first().map_err(read_error)? {
                Some((key, _)) => key.get(..16).and_then(timestamp_from_key),
                None => Some(now),
            };
            let used: std::collections::BTreeSet<String> = scan::<CallRecord>(&self.calls, CALLS)?
                .0
                .into_iter()
                .map(|c| c.graph_version)
                .collect();
            for item in self.versions.iter() {
                let (key, value) = item.map_err(read_error)?;
                let Ok(kept) = decode::<KeptVersion>(VERSIONS, &key, &value) else {
                    continue;
                };
                if !used.contains(&kept.version) && oldest.is_some_and(|o| kept.kept_at < o) {
                    self.versions.remove(key).map_err(write_error)?;
                }
            }
        }
        Ok(removed)
    }

    fn append_step(&self, step: StepRecord) -> Result<(), StoreError> {
        let step = StepRecord {
            schema: SCHEMA_VERSION,
            ..step
        };
        let mut key = step_prefix(&step.call_id);
        key.extend_from_slice(&step.seq.to_be_bytes());
        let value = encode(STEPS, &render_key(STEPS, &key), &step)?;
        self.steps.insert(key, value).map_err(write_error)?;
        Ok(())
    }

    /// Sorted by prefix, year and number. Fails with [`StoreError::Corrupt`] on
    /// the first damaged ticket (see [`Store::tickets_skipping_damaged`]).
    fn tickets(&self) -> Result<Vec<Ticket>, StoreError> {
        let (tickets, damaged) = self.tickets_skipping_damaged()?;
        match damaged.into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(tickets),
        }
    }

    /// Sorted like [`Store::tickets`].
    fn tickets_skipping_damaged(&self) -> Result<(Vec<Ticket>, Vec<StoreError>), StoreError> {
        let (mut tickets, damaged) = scan::<Ticket>(&self.tickets, TICKETS)?;
        tickets.sort_by(|a, b| reference_order(&a.reference).cmp(&reference_order(&b.reference)));
        Ok((tickets, damaged))
    }

    /// Also checks that each slot's count equals its open bookings.
    fn verify(&self) -> Result<Vec<StoreError>, StoreError> {
        let mut problems = Vec::new();
        problems.extend(scan::<Ticket>(&self.tickets, TICKETS)?.1);
        problems.extend(scan::<Callback>(&self.callbacks, CALLBACKS)?.1);
        problems.extend(scan::<CallRecord>(&self.calls, CALLS)?.1);
        problems.extend(scan::<StepRecord>(&self.steps, STEPS)?.1);
        problems.extend(scan::<CallEvents>(&self.call_events, CALL_EVENTS)?.1);
        problems.extend(scan::<KeptVersion>(&self.versions, VERSIONS)?.1);
        problems.extend(scan::<Recording>(&self.recordings, RECORDINGS)?.1);
        problems.extend(scan::<StoredRegistrations>(&self.registrations, REGISTRATIONS)?.1);
        problems.extend(self.verify_staff_messages()?);
        let (bookings, damaged) = scan::<Booking>(&self.bookings, BOOKINGS)?;
        problems.extend(damaged);
        for item in self.counters.iter() {
            let (key, value) = item.map_err(read_error)?;
            if let Err(problem) = decode_u64(COUNTERS, &key, &value) {
                problems.push(problem);
            }
        }

        let mut expected: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
        for booking in bookings.iter().filter(|b| b.status == Status::Open) {
            let held = expected
                .entry(slot_key(&booking.resource, booking.slot.start))
                .or_default();
            *held = held.saturating_add(1);
        }
        for item in self.slots.iter() {
            let (key, value) = item.map_err(read_error)?;
            let open = expected.remove(key.as_ref()).unwrap_or(0);
            match decode_u32(SLOTS, &key, &value) {
                Ok(held) if held == open => {}
                Ok(held) => problems.push(StoreError::Corrupt {
                    tree: SLOTS,
                    key: render_key(SLOTS, &key),
                    message: format!("counts {held} bookings but {open} are open"),
                }),
                Err(problem) => problems.push(problem),
            }
        }
        for (key, open) in expected {
            problems.push(StoreError::Corrupt {
                tree: SLOTS,
                key: render_key(SLOTS, &key),
                message: format!("has no count but {open} bookings are open"),
            });
        }
        Ok(problems)
    }

    fn ticket(&self, reference: &str) -> Result<Option<Ticket>, StoreError> {
        SledStore::get(&self.tickets, TICKETS, reference.as_bytes())
    }

    fn change_ticket(
        &self,
        reference: &str,
        change: &TicketChange,
    ) -> Result<Result<Ticket, TicketRefusal>, StoreError> {
        let key = reference.as_bytes();
        // A transaction (sled runs them one at a time) rather than a compare-and-swap, so the
        // change and its event are written together.
        let result = (&self.tickets, &self.counters, &self.outbox).transaction(
            |(tickets, counters, outbox)| {
                let Some(old_bytes) = tickets.get(key)? else {
                    return Ok(Err(TicketRefusal::NotFound));
                };
                let old: Ticket = decode(TICKETS, key, &old_bytes)
                    .map_err(ConflictableTransactionError::Abort)?;
                let (work, status) = match old.work.apply(old.status, change) {
                    Ok(changed) => changed,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                let new = Ticket {
                    status,
                    work,
                    ..old.clone()
                };
                tickets.insert(
                    key,
                    encode(TICKETS, reference, &new)
                        .map_err(ConflictableTransactionError::Abort)?,
                )?;
                if let Some(kind) = crate::events::of_ticket_change(&old, &new) {
                    self.emit(counters, outbox, kind, reference, change.at, &new)?;
                }
                Ok(Ok(new))
            },
        );
        let changed = transaction_result(result)?;
        if changed.is_ok() {
            self.flush_durable()?;
        }
        Ok(changed)
    }

    fn callbacks(&self) -> Result<Vec<Callback>, StoreError> {
        let mut callbacks = scan_strict::<Callback>(&self.callbacks, CALLBACKS)?;
        callbacks.sort_by(|a, b| reference_order(&a.reference).cmp(&reference_order(&b.reference)));
        Ok(callbacks)
    }

    /// Sorted by reference (the order they were made).
    fn callback(&self, reference: &str) -> Result<Option<Callback>, StoreError> {
        SledStore::get(&self.callbacks, CALLBACKS, reference.as_bytes())
    }

    fn change_callback(
        &self,
        reference: &str,
        change: &Change,
    ) -> Result<Result<Callback, Refusal>, StoreError> {
        let key = reference.as_bytes();
        let now = Timestamp::now();
        // One transaction (sled runs them one at a time): two workers can never both take a
        // request, and the change is written with its event.
        let result = (&self.callbacks, &self.counters, &self.outbox).transaction(
            |(callbacks, counters, outbox)| {
                let Some(old_bytes) = callbacks.get(key)? else {
                    return Ok(Err(Refusal::NotFound));
                };
                let old: Callback = decode(CALLBACKS, key, &old_bytes)
                    .map_err(ConflictableTransactionError::Abort)?;
                let dialing = match old.dialing.apply(change) {
                    Ok(dialing) => dialing,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                let status = match dialing.state {
                    DialState::Closed { .. } => Status::Closed,
                    _ => old.status,
                };
                let new = Callback {
                    schema: CALLBACK_SCHEMA,
                    status,
                    dialing,
                    ..old.clone()
                };
                callbacks.insert(
                    key,
                    encode(CALLBACKS, reference, &new)
                        .map_err(ConflictableTransactionError::Abort)?,
                )?;
                if let Some(kind) = crate::events::of_callback_change(&old, &new) {
                    self.emit(counters, outbox, kind, reference, now, &new)?;
                }
                Ok(Ok(new))
            },
        );
        let changed = transaction_result(result)?;
        if changed.is_ok() {
            self.flush_durable()?;
        }
        Ok(changed)
    }

    fn bookings(&self) -> Result<Vec<Booking>, StoreError> {
        let mut bookings = scan_strict::<Booking>(&self.bookings, BOOKINGS)?;
        bookings.sort_by(|a, b| {
            (a.reference.len(), &a.reference).cmp(&(b.reference.len(), &b.reference))
        });
        Ok(bookings)
    }

    fn booking(&self, reference: &str) -> Result<Option<Booking>, StoreError> {
        SledStore::get(&self.bookings, BOOKINGS, reference.as_bytes())
    }

    /// Sorted by start time, then call id.
    fn calls(&self) -> Result<Vec<CallRecord>, StoreError> {
        let mut calls = scan_strict::<CallRecord>(&self.calls, CALLS)?;
        calls.sort_by(|a, b| (a.started_at, &a.call_id).cmp(&(b.started_at, &b.call_id)));
        Ok(calls)
    }

    /// Only the range of the time index (`calls_by_time`), then each call by its id: a week's
    /// report reads a week of calls, not the whole log.
    fn calls_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<CallRecord>, StoreError> {
        let mut calls = Vec::new();
        if to <= from {
            return Ok(calls);
        }
        for item in self
            .calls_by_time
            .range(timestamp_key(from)..timestamp_key(to))
            .keys()
        {
            let key = item.map_err(read_error)?;
            let Some(call_id) = key.get(16..) else {
                continue;
            };
            // An index entry without its call (pruned between the two reads) is skipped.
            if let Some(call) = SledStore::get::<CallRecord>(&self.calls, CALLS, call_id)? {
                calls.push(call);
            }
        }
        Ok(calls)
    }

    /// In sequence order.
    fn call(&self, call_id: &str) -> Result<Option<CallRecord>, StoreError> {
        SledStore::get(&self.calls, CALLS, call_id.as_bytes())
    }

    fn call_events(&self, call_id: &str) -> Result<Option<CallEvents>, StoreError> {
        SledStore::get(&self.call_events, CALL_EVENTS, call_id.as_bytes())
    }

    fn kept_version(&self, version: &str) -> Result<Option<KeptVersion>, StoreError> {
        SledStore::get(&self.versions, VERSIONS, version.as_bytes())
    }

    fn steps(&self, call_id: &str) -> Result<Vec<StepRecord>, StoreError> {
        let mut steps = Vec::new();
        for item in self.steps.scan_prefix(step_prefix(call_id)) {
            let (key, value) = item.map_err(read_error)?;
            steps.push(decode(STEPS, &key, &value)?);
        }
        Ok(steps)
    }

    /// Sorted by creation time.
    fn recordings(&self) -> Result<Vec<Recording>, StoreError> {
        scan_strict::<Recording>(&self.recordings, RECORDINGS)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.flush_durable()
    }

    // ---- people: messages

    fn keep_staff_message(
        &self,
        message: NewStaffMessage,
        mailbox_limit: usize,
    ) -> Result<Option<StaffMessage>, StoreError> {
        let mailbox = mailbox_counter(&message.to);
        let result = (&self.counters, &self.staff_messages).transaction(|(counters, kept)| {
            let held = read_counter(counters, &mailbox)?.unwrap_or(0);
            if usize::try_from(held).map_or(true, |held| held >= mailbox_limit) {
                return Ok(None);
            }
            let id = read_counter(counters, STAFF_MESSAGE_COUNTER)?
                .unwrap_or(0)
                .checked_add(1)
                .ok_or_else(|| {
                    ConflictableTransactionError::Abort(StoreError::Write(
                        "the staff message counter is exhausted".to_string(),
                    ))
                })?;
            let record = StaffMessage {
                schema: SCHEMA_VERSION,
                id,
                message: message.clone(),
                attempts: 0,
                next_attempt_at: message.received_at,
            };
            let key = staff_message_key(&message.to, id);
            kept.insert(
                key.as_slice(),
                encode(STAFF_MESSAGES, &render_key(STAFF_MESSAGES, &key), &record)
                    .map_err(ConflictableTransactionError::Abort)?,
            )?;
            counters.insert(STAFF_MESSAGE_COUNTER, id.to_be_bytes().to_vec())?;
            counters.insert(
                mailbox.as_slice(),
                held.saturating_add(1).to_be_bytes().to_vec(),
            )?;
            Ok(Some(record))
        });
        let kept = transaction_result(result)?;
        if kept.is_some() {
            self.flush_durable()?;
        }
        Ok(kept)
    }

    /// In id order (the order they arrived).
    fn staff_messages_for(&self, extension: &str) -> Result<Vec<StaffMessage>, StoreError> {
        let mut prefix = extension.as_bytes().to_vec();
        prefix.push(SEP);
        let mut messages = Vec::new();
        for item in self.staff_messages.scan_prefix(prefix) {
            let (key, value) = item.map_err(read_error)?;
            messages.push(decode(STAFF_MESSAGES, &key, &value)?);
        }
        Ok(messages)
    }

    fn staff_messages(&self) -> Result<Vec<StaffMessage>, StoreError> {
        scan_strict::<StaffMessage>(&self.staff_messages, STAFF_MESSAGES)
    }

    fn update_staff_message(&self, message: &StaffMessage) -> Result<bool, StoreError> {
        let key = staff_message_key(&message.message.to, message.id);
        let record = StaffMessage {
            schema: SCHEMA_VERSION,
            ..message.clone()
        };
        let value = encode(STAFF_MESSAGES, &render_key(STAFF_MESSAGES, &key), &record)?;
        let result = self.staff_messages.transaction(|kept| {
            if kept.get(key.as_slice())?.is_none() {
                return Ok(false);
            }
            kept.insert(key.as_slice(), value.clone())?;
            Ok(true)
        });
        transaction_result(result)
    }

    fn remove_staff_message(&self, extension: &str, id: u64) -> Result<bool, StoreError> {
        let key = staff_message_key(extension, id);
        let mailbox = mailbox_counter(extension);
        let result = (&self.counters, &self.staff_messages).transaction(|(counters, kept)| {
            if kept.remove(key.as_slice())?.is_none() {
                return Ok(false);
            }
            let held = read_counter(counters, &mailbox)?.unwrap_or(0);
            if held <= 1 {
                counters.remove(mailbox.as_slice())?;
            } else {
                counters.insert(mailbox.as_slice(), (held - 1).to_be_bytes().to_vec())?;
            }
            Ok(true)
        });
        let removed = transaction_result(result)?;
        if removed {
            self.flush_durable()?;
        }
        Ok(removed)
    }

    // ---- people: registrar
    fn save_registrations(
        &self,
        extension: &str,
        registrations: &[Registration],
        durable: bool,
    ) -> Result<(), StoreError> {
        if registrations.is_empty() {
            self.registrations
                .remove(extension.as_bytes())
                .map_err(write_error)?;
        } else {
            let record = StoredRegistrations {
                schema: SCHEMA_VERSION,
                extension: extension.to_owned(),
                registrations: registrations.to_vec(),
            };
            let value = encode(REGISTRATIONS, extension, &record)?;
            self.registrations
                .insert(extension.as_bytes(), value)
                .map_err(write_error)?;
        }
        if durable {
            self.flush_durable()?;
        }
        Ok(())
    }

    fn events_after(&self, after: u64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        let start = after.saturating_add(1).to_be_bytes();
        let mut events = Vec::new();
        for item in self.outbox.range(start.to_vec()..).take(limit) {
            let (key, value) = item.map_err(read_error)?;
            events.push(decode(OUTBOX, &key, &value)?);
        }
        Ok(events)
    }

    fn last_event(&self) -> Result<u64, StoreError> {
        match self.counters.get(OUTBOX_COUNTER).map_err(read_error)? {
            Some(bytes) => decode_u64(COUNTERS, OUTBOX_COUNTER, &bytes),
            None => Ok(0),
        }
    }

    fn delivered_through(&self, subscriber: &str) -> Result<Option<u64>, StoreError> {
        let key = delivered_key(subscriber);
        match self.counters.get(&key).map_err(read_error)? {
            Some(bytes) => decode_u64(COUNTERS, &key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    fn set_delivered_through(&self, subscriber: &str, seq: u64) -> Result<(), StoreError> {
        self.counters
            .insert(delivered_key(subscriber), seq.to_be_bytes().to_vec())
            .map_err(write_error)?;
        self.flush_durable()
    }

    fn prune_events(&self, through: u64) -> Result<usize, StoreError> {
        let end = through.saturating_add(1).to_be_bytes();
        let mut removed = 0;
        for key in self.outbox.range(..end.to_vec()).keys() {
            let key = key.map_err(read_error)?;
            self.outbox.remove(key).map_err(write_error)?;
            removed += 1;
        }
        Ok(removed)
    }

    fn registrations(&self) -> Result<Vec<Registration>, StoreError> {
        Ok(
            scan_strict::<StoredRegistrations>(&self.registrations, REGISTRATIONS)?
                .into_iter()
                .flat_map(|stored| stored.registrations)
                .collect(),
        )
    }
}

/// One extension's registrations, as the `registrations` tree keeps them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct StoredRegistrations {
    schema: u32,
    extension: String,
    registrations: Vec<Registration>,
}

impl SledStore {
    /// Damaged staff messages, and mailbox counts that differ from the messages kept.
    fn verify_staff_messages(&self) -> Result<Vec<StoreError>, StoreError> {
        let (messages, mut problems) = scan::<StaffMessage>(&self.staff_messages, STAFF_MESSAGES)?;
        let mut expected: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for message in &messages {
            let held = expected
                .entry(mailbox_counter(&message.message.to))
                .or_default();
            *held = held.saturating_add(1);
        }
        for item in self.counters.scan_prefix(mailbox_counter("")) {
            let (key, value) = item.map_err(read_error)?;
            let kept = expected.remove(key.as_ref()).unwrap_or(0);
            match decode_u64(COUNTERS, &key, &value) {
                Ok(held) if held == kept => {}
                Ok(held) => problems.push(StoreError::Corrupt {
                    tree: COUNTERS,
                    key: render_key(COUNTERS, &key),
                    message: format!("counts {held} staff messages but {kept} are kept"),
                }),
                Err(problem) => problems.push(problem),
            }
        }
        for (key, kept) in expected {
            problems.push(StoreError::Corrupt {
                tree: COUNTERS,
                key: render_key(COUNTERS, &key),
                message: format!("has no count but {kept} staff messages are kept"),
            });
        }
        Ok(problems)
    }
}

/// `staff_messages/201`: the counter of messages kept for 201.
fn delivered_key(subscriber: &str) -> Vec<u8> {
    format!("outbox/delivered/{subscriber}").into_bytes()
}

fn mailbox_counter(extension: &str) -> Vec<u8> {
    format!("staff_messages/{extension}").into_bytes()
}

fn staff_message_key(extension: &str, id: u64) -> Vec<u8> {
    let mut key = extension.as_bytes().to_vec();
    key.push(SEP);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// True when `reference` could be a booking reference: at least 8 digits whose
/// last is the Luhn check digit of the others. A mistyped code (one digit wrong,
/// or most swaps of two neighbours) fails this without a lookup.
pub fn is_valid_booking_reference(reference: &str) -> bool {
    reference.len() >= 8
        && reference.bytes().all(|b| b.is_ascii_digit())
        && luhn_sum(reference.bytes().rev().map(|b| u32::from(b - b'0')), false).is_multiple_of(10)
}

/// The booking reference for sequence number `seq`: its digits and a Luhn check digit.
fn booking_reference(seq: u64) -> String {
    let digits = seq.to_string();
    let sum = luhn_sum(digits.bytes().rev().map(|b| u32::from(b - b'0')), true);
    format!("{digits}{}", (10 - sum % 10) % 10)
}

/// Luhn sum of digits given right to left; `double_first` doubles the rightmost
/// (true when computing a check digit, false when validating with one).
fn luhn_sum(digits: impl Iterator<Item = u32>, double_first: bool) -> u32 {
    digits
        .enumerate()
        .map(|(i, d)| {
            if (i % 2 == 0) == double_first {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum()
}

/// Sort key of `PG-2026-000123`: prefix, year, number (numeric, so a seventh
/// digit sorts after six). Anything else sorts after, by text.
fn reference_order(reference: &str) -> (u8, &str, i64, u64, &str) {
    let mut parts = reference.rsplitn(3, '-');
    let seq = parts.next().and_then(|s| s.parse::<u64>().ok());
    let year = parts.next().and_then(|s| s.parse::<i64>().ok());
    match (parts.next(), year, seq) {
        (Some(prefix), Some(year), Some(seq)) => (0, prefix, year, seq, reference),
        _ => (1, "", 0, 0, reference),
    }
}

fn slot_key(resource: &Resource, start: Timestamp) -> Vec<u8> {
    let mut key = resource.key().into_bytes();
    key.push(SEP);
    key.extend_from_slice(&timestamp_key(start));
    key
}

fn step_prefix(call_id: &str) -> Vec<u8> {
    let mut key = call_id.as_bytes().to_vec();
    key.push(SEP);
    key
}

/// Nanoseconds since the epoch, sign bit flipped, big-endian: byte order is time order.
fn timestamp_key(at: Timestamp) -> [u8; 16] {
    ((at.as_nanosecond() as u128) ^ (1 << 127)).to_be_bytes()
}

fn timestamp_from_key(bytes: &[u8]) -> Option<Timestamp> {
    let bytes: [u8; 16] = bytes.try_into().ok()?;
    Timestamp::from_nanosecond((u128::from_be_bytes(bytes) ^ (1 << 127)) as i128).ok()
}

/// A key as people read it in error messages.
fn render_key(tree: &str, key: &[u8]) -> String {
    let split = |key: &[u8]| {
        let at = key.iter().position(|&b| b == SEP)?;
        Some((key.get(..at)?.to_vec(), key.get(at + 1..)?.to_vec()))
    };
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let rendered = match tree {
        SLOTS => split(key).and_then(|(resource, start)| {
            Some(format!(
                "{}@{}",
                text(&resource),
                timestamp_from_key(&start)?
            ))
        }),
        STEPS => split(key).and_then(|(call, seq)| {
            let seq: [u8; 4] = seq.as_slice().try_into().ok()?;
            Some(format!("{}#{}", text(&call), u32::from_be_bytes(seq)))
        }),
        STAFF_MESSAGES => split(key).and_then(|(to, id)| {
            let id: [u8; 8] = id.as_slice().try_into().ok()?;
            Some(format!("{}#{}", text(&to), u64::from_be_bytes(id)))
        }),
        RECORDINGS => key.get(..16).zip(key.get(16..)).and_then(|(at, rest)| {
            let (call, variable) = split(rest)?;
            Some(format!(
                "{}/{}/{}",
                timestamp_from_key(at)?,
                text(&call),
                text(&variable)
            ))
        }),
        _ => std::str::from_utf8(key).ok().map(str::to_string),
    };
    rendered.unwrap_or_else(|| show_bytes(key))
}

fn show_bytes(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{hex}")
}

fn encode<T: Serialize>(tree: &'static str, key: &str, record: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record)
        .map_err(|error| StoreError::Write(format!("cannot encode {key} for {tree}: {error}")))
}

fn decode<T: DeserializeOwned>(
    tree: &'static str,
    key: &[u8],
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt {
        tree,
        key: render_key(tree, key),
        message: error.to_string(),
    })
}

fn decode_u32(tree: &'static str, key: &[u8], bytes: &[u8]) -> Result<u32, StoreError> {
    let array: [u8; 4] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        tree,
        key: render_key(tree, key),
        message: format!("expected a 4-byte count, found {}", show_bytes(bytes)),
    })?;
    Ok(u32::from_be_bytes(array))
}

fn decode_u64(tree: &'static str, key: &[u8], bytes: &[u8]) -> Result<u64, StoreError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        tree,
        key: render_key(tree, key),
        message: format!("expected an 8-byte counter, found {}", show_bytes(bytes)),
    })?;
    Ok(u64::from_be_bytes(array))
}

fn read_counter(
    counters: &TransactionalTree,
    key: &[u8],
) -> Result<Option<u64>, ConflictableTransactionError<StoreError>> {
    match counters.get(key)? {
        Some(bytes) => decode_u64(COUNTERS, key, &bytes)
            .map(Some)
            .map_err(ConflictableTransactionError::Abort),
        None => Ok(None),
    }
}

/// Every record of a tree, and the damaged ones as errors.
fn scan<T: DeserializeOwned>(
    tree: &sled::Tree,
    tree_name: &'static str,
) -> Result<(Vec<T>, Vec<StoreError>), StoreError> {
    let mut records = Vec::new();
    let mut damaged = Vec::new();
    for item in tree.iter() {
        let (key, value) = item.map_err(read_error)?;
        match decode(tree_name, &key, &value) {
            Ok(record) => records.push(record),
            Err(problem) => damaged.push(problem),
        }
    }
    Ok((records, damaged))
}

/// Every record of a tree in key order; the first damaged one is an error.
fn scan_strict<T: DeserializeOwned>(
    tree: &sled::Tree,
    tree_name: &'static str,
) -> Result<Vec<T>, StoreError> {
    let mut records = Vec::new();
    for item in tree.iter() {
        let (key, value) = item.map_err(read_error)?;
        records.push(decode(tree_name, &key, &value)?);
    }
    Ok(records)
}

fn transaction_result<A>(result: TransactionResult<A, StoreError>) -> Result<A, StoreError> {
    match result {
        Ok(value) => Ok(value),
        Err(TransactionError::Abort(error)) => Err(error),
        Err(TransactionError::Storage(error)) => Err(write_error(error)),
    }
}

fn is_lock_error(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

fn write_error(error: sled::Error) -> StoreError {
    StoreError::Write(error.to_string())
}

fn read_error(error: sled::Error) -> StoreError {
    StoreError::Read(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The range read gives the calls of the range, as filtering the whole log does: start
    /// included, end excluded, in start then id order; an empty or backwards range is empty.
    #[test]
    #[allow(clippy::unwrap_used)]
    fn calls_between_reads_only_the_range_and_agrees_with_the_whole_log() {
        let store = SledStore::temporary().unwrap();
        let base: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let at = |minutes: i64| {
            base.checked_add(jiff::SignedDuration::from_mins(minutes))
                .unwrap()
        };
        // Saved out of order; two calls at the same instant.
        for (id, minute) in [
            ("e", 300),
            ("a", 0),
            ("c", 120),
            ("b", 60),
            ("d", 120),
            ("f", -5),
        ] {
            store
                .save_call(CallRecord {
                    schema: SCHEMA_VERSION,
                    call_id: id.into(),
                    caller: String::new(),
                    number: "100".into(),
                    flow: "main".into(),
                    graph_version: "sha256:v".into(),
                    started_at: at(minute),
                    ended_at: None,
                    outcome: None,
                    channel: "sip".into(),
                    handoffs: Vec::new(),
                })
                .unwrap();
        }
        let ids = |from: i64, to: i64| -> Vec<String> {
            store
                .calls_between(at(from), at(to))
                .unwrap()
                .into_iter()
                .map(|c| c.call_id)
                .collect()
        };
        let whole = |from: i64, to: i64| -> Vec<String> {
            store
                .calls()
                .unwrap()
                .into_iter()
                .filter(|c| at(from) <= c.started_at && c.started_at < at(to))
                .map(|c| c.call_id)
                .collect()
        };
        assert_eq!(ids(0, 300), ["a", "b", "c", "d"]);
        assert_eq!(ids(60, 121), ["b", "c", "d"]);
        assert_eq!(ids(-10, 1000), ["f", "a", "b", "c", "d", "e"]);
        assert!(ids(120, 120).is_empty());
        assert!(ids(300, 0).is_empty());
        for (from, to) in [(0, 300), (60, 121), (-10, 1000), (120, 120), (301, 400)] {
            assert_eq!(ids(from, to), whole(from, to), "{from}..{to}");
        }
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn the_call_log_keeps_the_newest_calls_within_the_retention() {
        use crate::engine::{Event, Trace};
        let store = SledStore::temporary()
            .unwrap()
            .with_call_log_retention(CallLogRetention {
                max_calls: 3,
                max_age: jiff::SignedDuration::from_hours(24),
            });
        let day: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        let hours = |h: i64| {
            day.checked_add(jiff::SignedDuration::from_hours(h))
                .unwrap()
        };
        let graph = |version: &str| centralino_compiler::graph::Graph {
            content_hash: version.to_owned(),
            ..serde_json::from_value(serde_json::json!({
                "format_version": 1, "content_hash": "", "sources": [], "numbers": {},
                "flows": [], "nodes": [], "prompts": {}, "calendars": {}, "offices": {},
                "categories": {}, "services": {}
            }))
            .unwrap()
        };
        for (version, kept_at) in [("sha256:old", hours(-100)), ("sha256:new", hours(-1))] {
            let kept = KeptVersion {
                schema: SCHEMA_VERSION,
                version: version.to_owned(),
                kept_at,
                sources: BTreeMap::new(),
                graph: graph(version),
            };
            assert!(store.keep_version(kept.clone()).unwrap());
            assert!(!store.keep_version(kept).unwrap(), "kept once per version");
        }
        // Six calls an hour apart, the first (the old version's) far in the past.
        let starts = [hours(-48), hours(0), hours(1), hours(2), hours(3), hours(4)];
        for (i, started_at) in starts.into_iter().enumerate() {
            let call_id = format!("call-{i}");
            store
                .save_call(CallRecord {
                    schema: SCHEMA_VERSION,
                    call_id: call_id.clone(),
                    caller: String::new(),
                    number: "100".into(),
                    flow: "main".into(),
                    graph_version: if i == 0 { "sha256:old" } else { "sha256:new" }.into(),
                    started_at,
                    ended_at: None,
                    outcome: None,
                    channel: "sip".into(),
                    handoffs: Vec::new(),
                })
                .unwrap();
            store
                .append_step(StepRecord {
                    schema: SCHEMA_VERSION,
                    call_id: call_id.clone(),
                    seq: 1,
                    at: started_at,
                    trace: Trace {
                        flow: "main".into(),
                        state: "menu".into(),
                        location: "main.flow:3:3".into(),
                        note: "menu".into(),
                    },
                })
                .unwrap();
            store
                .save_call_events(CallEvents {
                    schema: SCHEMA_VERSION,
                    call_id,
                    events: vec![Event::Started { at: started_at }],
                    presence: Vec::new(),
                    truncated: false,
                })
                .unwrap();
        }
        assert_eq!(store.prune_call_log(hours(4)).unwrap(), 3);
        let kept: Vec<String> = store
            .calls()
            .unwrap()
            .into_iter()
            .map(|c| c.call_id)
            .collect();
        assert_eq!(kept, ["call-3", "call-4", "call-5"]);
        for gone in ["call-0", "call-1", "call-2"] {
            assert!(store.steps(gone).unwrap().is_empty());
            assert!(store.call_events(gone).unwrap().is_none());
            assert!(store.call(gone).unwrap().is_none());
        }
        assert_eq!(store.steps("call-3").unwrap().len(), 1);
        assert!(store.call_events("call-3").unwrap().is_some());
        // The version only the removed calls used is gone; the one still used stays.
        assert!(store.kept_version("sha256:old").unwrap().is_none());
        assert!(store.kept_version("sha256:new").unwrap().is_some());
        // By age: a day later only calls of the last 24 hours stay.
        assert_eq!(store.prune_call_log(hours(28)).unwrap(), 2);
        let kept: Vec<String> = store
            .calls()
            .unwrap()
            .into_iter()
            .map(|c| c.call_id)
            .collect();
        assert_eq!(kept, ["call-5"]);
        assert!(store.verify().unwrap().is_empty());
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn two_people_closing_one_ticket_at_once_one_wins_and_the_work_is_kept() {
        use crate::store::ticketing::{TicketAction, TicketChange, TicketRefusal};
        let store = Arc::new(SledStore::temporary().unwrap());
        let at: Timestamp = "2026-12-05T09:00:00Z".parse().unwrap();
        let ticket = store
            .create_ticket(NewTicket {
                category: "rifiuti".into(),
                title: "Ritiro ingombranti".into(),
                office: Some("ambiente".into()),
                priority: "normal".into(),
                fields: BTreeMap::new(),
                caller: "+393331234567".into(),
                call_id: "c1".into(),
                created_at: at,
                due_at: None,
            })
            .unwrap();
        let close = |by: &str| TicketChange {
            at,
            by: by.to_owned(),
            what: TicketAction::Close {
                note: Some(format!("chiuso da {by}")),
            },
        };
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = ["anna", "bruno", "carla", "dario"]
                .into_iter()
                .map(|by| {
                    let store = store.clone();
                    let change = close(by);
                    let reference = ticket.reference.clone();
                    scope.spawn(move || store.change_ticket(&reference, &change).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert_eq!(
            results.iter().filter(|r| r.is_err()).count(),
            3,
            "{results:?}"
        );
        assert!(
            results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .all(|e| *e == TicketRefusal::AlreadyClosed)
        );
        let stored = store.ticket(&ticket.reference).unwrap().unwrap();
        assert_eq!(stored.status, Status::Closed);
        assert_eq!(stored.work.history.len(), 1);
        assert_eq!(
            store
                .change_ticket("PG-2026-999999", &close("anna"))
                .unwrap(),
            Err(TicketRefusal::NotFound)
        );
        // A ticket written before tickets were worked reads as unassigned, with no history.
        let mut old = serde_json::to_value(&stored).unwrap();
        old.as_object_mut().unwrap().remove("work");
        let old: Ticket = serde_json::from_value(old).unwrap();
        assert_eq!(old.work, Default::default());
    }

    #[test]
    fn changes_other_systems_hear_of_are_written_with_their_event_in_order() {
        use crate::events::EventKind;
        use crate::store::ticketing::{TicketAction, TicketChange};
        let store = SledStore::temporary().unwrap();
        let at: Timestamp = "2026-12-05T09:00:00Z".parse().unwrap();
        let ticket = store
            .create_ticket(NewTicket {
                category: "buche".into(),
                title: String::new(),
                office: None,
                priority: "normale".into(),
                fields: BTreeMap::new(),
                caller: "0755771234".into(),
                call_id: "api:sportello".into(),
                created_at: at,
                due_at: None,
            })
            .unwrap();
        let change = |what| TicketChange {
            at,
            by: "api:sportello".into(),
            what,
        };
        let comment = TicketAction::Comment { text: "x".into() };
        store
            .change_ticket(&ticket.reference, &change(comment))
            .unwrap()
            .unwrap();
        let close = change(TicketAction::Close { note: None });
        store
            .change_ticket(&ticket.reference, &close)
            .unwrap()
            .unwrap();
        // Refused: nothing written, no event.
        assert!(
            store
                .change_ticket(&ticket.reference, &close)
                .unwrap()
                .is_err()
        );
        let callback = store
            .create_callback(NewCallback {
                office: "prova".into(),
                number: "0755771234".into(),
                note: None,
                call_id: "c".into(),
                created_at: at,
                window: None,
                ticket: None,
                category: None,
                citizen_first: false,
                language: None,
            })
            .unwrap();
        let fail = Change::Fail {
            at,
            reason: "premium".into(),
        };
        store
            .change_callback(&callback.reference, &fail)
            .unwrap()
            .unwrap();
        let events = store.events_after(0, 10).unwrap();
        let kinds: Vec<(u64, EventKind, &str)> = events
            .iter()
            .map(|e| (e.seq, e.kind, e.subject.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (1, EventKind::TicketCreated, ticket.reference.as_str()),
                (2, EventKind::TicketClosed, ticket.reference.as_str()),
                (3, EventKind::CallbackFailed, callback.reference.as_str()),
            ]
        );
        assert_eq!(events[1].record["status"], "closed");
        assert_ne!(events[0].id, events[1].id);
        assert_eq!(store.last_event().unwrap(), 3);
        assert_eq!(store.events_after(2, 10).unwrap().len(), 1);
        assert_eq!(store.delivered_through("portale").unwrap(), None);
        store.set_delivered_through("portale", 2).unwrap();
        assert_eq!(store.delivered_through("portale").unwrap(), Some(2));
        assert_eq!(store.prune_events(2).unwrap(), 2);
        let left = store.events_after(0, 10).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].seq, 3);
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_callback_written_before_citizen_first_reads_as_staff_first() {
        let store = SledStore::temporary().unwrap();
        let at: Timestamp = "2026-12-05T09:00:00Z".parse().unwrap();
        let new = |citizen_first: bool| NewCallback {
            office: "prova".into(),
            number: "3331234567".into(),
            note: None,
            call_id: "c".into(),
            created_at: at,
            window: None,
            ticket: None,
            category: None,
            citizen_first,
            language: citizen_first.then(|| "en".to_owned()),
        };
        let first = store.create_callback(new(true)).unwrap();
        let read = store.callback(&first.reference).unwrap().unwrap();
        assert!(read.request.citizen_first);
        assert_eq!(read.request.language.as_deref(), Some("en"));
        // An older record: the same bytes as before the fields existed (staff first is
        // not written at all), put straight into the tree.
        let staff = store.create_callback(new(false)).unwrap();
        let mut old = serde_json::to_value(&staff).unwrap();
        assert!(old.get("citizen_first").is_none() && old.get("language").is_none());
        old["reference"] = "RC-2020-000001".into();
        store
            .callbacks
            .insert("RC-2020-000001", serde_json::to_vec(&old).unwrap())
            .unwrap();
        let read = store.callback("RC-2020-000001").unwrap().unwrap();
        assert!(!read.request.citizen_first);
        assert_eq!(read.request.language, None);
        assert_eq!(store.callbacks().unwrap().len(), 3);
    }

    #[test]
    fn booking_references_carry_a_luhn_check_digit() {
        // 1000000: doubled right to left: 0,0,0,0,0,0,1 -> sum 2 -> check 8.
        assert_eq!(booking_reference(1_000_000), "10000008");
        for seq in [1_000_000, 1_000_001, 1_234_567, 9_999_999, 10_000_000] {
            let reference = booking_reference(seq);
            assert!(is_valid_booking_reference(&reference), "{reference}");
            // Every single-digit mistake is caught.
            for (i, b) in reference.bytes().enumerate() {
                for d in b'0'..=b'9' {
                    if d == b {
                        continue;
                    }
                    let mut typo = reference.clone().into_bytes();
                    typo[i] = d;
                    let typo = String::from_utf8(typo).unwrap();
                    assert!(!is_valid_booking_reference(&typo), "{typo} accepted");
                }
            }
        }
        assert!(!is_valid_booking_reference("1000000"));
        assert!(!is_valid_booking_reference("1000000a"));
        assert!(!is_valid_booking_reference(""));
    }

    #[test]
    fn keys_render_readably() {
        let at: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        let key = slot_key(&Resource::Office("anagrafe".into()), at);
        assert_eq!(
            render_key(SLOTS, &key),
            "office/anagrafe@2026-03-02T09:00:00Z"
        );
        let mut key = step_prefix("call-1");
        key.extend_from_slice(&7u32.to_be_bytes());
        assert_eq!(render_key(STEPS, &key), "call-1#7");
        assert_eq!(render_key(TICKETS, b"PG-2026-000001"), "PG-2026-000001");
        assert_eq!(render_key(TICKETS, &[0xff, 0x00]), "0xff00");
    }

    #[test]
    fn timestamp_keys_sort_in_time_order() {
        let times = [
            "1960-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
        ];
        let keys: Vec<[u8; 16]> = times
            .iter()
            .map(|t| timestamp_key(t.parse().unwrap()))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        for t in times {
            let at: Timestamp = t.parse().unwrap();
            assert_eq!(timestamp_from_key(&timestamp_key(at)), Some(at));
        }
    }

    #[test]
    fn registrations_are_kept_per_extension_and_removed_when_empty() {
        use crate::people::{Binding, SignalTransport};
        let store = SledStore::temporary().unwrap();
        let registration = |extension: &str, port: u16| Registration {
            binding: Binding {
                extension: extension.into(),
                contact: format!("sip:{extension}@192.0.2.7:{port}"),
                source: std::net::SocketAddr::from(([192, 0, 2, 7], port)),
                transport: SignalTransport::Udp,
                expires_at: "2026-12-04T10:00:00Z".parse().unwrap(),
                user_agent: Some("Yealink".into()),
            },
            call_id: format!("c{port}"),
            cseq: 7,
        };
        let two = [registration("201", 5060), registration("201", 5062)];
        store.save_registrations("201", &two, true).unwrap();
        store
            .save_registrations("202", &[registration("202", 5064)], false)
            .unwrap();
        let mut all = store.registrations().unwrap();
        all.sort_by(|a, b| a.binding.contact.cmp(&b.binding.contact));
        assert_eq!(all.len(), 3);
        assert_eq!(all[0], two[0]);
        store.save_registrations("201", &[], true).unwrap();
        assert_eq!(store.registrations().unwrap().len(), 1);
        assert!(store.verify().unwrap().is_empty());
    }

    #[test]
    fn references_sort_numerically() {
        let mut refs = vec!["PG-2026-1000000", "PG-2026-000002", "PG-2025-999999", "odd"];
        refs.sort_by_key(|r| reference_order(r));
        assert_eq!(
            refs,
            ["PG-2025-999999", "PG-2026-000002", "PG-2026-1000000", "odd"]
        );
    }
}
