//! The call port: the one place between a call's [`Session`] and the world.
//!
//! ```text
//!  channel adapter (SIP leg, simulator, web chat; later the callback dialer)
//!      │ events: keys, text, playback finished, timers, results          ▲ Action: channel commands
//!      ▼                                                                 │ (play, record, transfer...),
//!  CallPort::feed ──► Session::step ──► Command ──► timers, pending events, │ store jobs, hang up
//!                                                   trace, call log (here) ┘
//!  store job ──(run where blocking is fine: inline in the simulator, a blocking pool on SIP)──►
//!  CallPort::store_done ──► a step in the journal, the flow's answer queued (an error: its `else`)
//! ```
//!
//! Every command of the engine is matched here, exhaustively: what the port keeps (timers, the
//! trace, the end) it does itself; the rest goes to the channel as an [`Action`]. Events the
//! adapter owes the call (a transfer that cannot happen, a store answer) are queued as pending
//! events, not posted by spawning tasks. Store requests run through [`StoreJob::run`], shared by
//! every adapter, and a failed write becomes the flow's `else` path and a log line, never dropped.
//! What happened is kept as [`Step`]s (the transcripts of `simulate` and `test`), and, for live
//! calls, written to the store's call log.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use tracing::{debug, warn};

use crate::calllog::{MAX_LOGGED_EVENTS, RecordedPresence};
use crate::engine::{
    CallInfo, ChannelCommand, Command, EndReason, Event, Id, Media, Program, Resource, Session,
    StoreReply, StoreRequest, Trace, TransferOutcome,
};
use crate::store::{
    CallEvents, CallRecord, Handoff, HandoffKind, Moved, NewBooking, NewCallback, NewTicket,
    Recording, SCHEMA_VERSION, StepRecord, Store, StoreError,
};

/// The most handoffs (transfers, queues) one call record keeps; a flow looping through a
/// transfer is bounded by its `max visits`, this bounds the record whatever the flow.
pub const MAX_LOGGED_HANDOFFS: usize = 64;

/// Days ahead in which bookings are offered.
pub const BOOKING_DAYS: u32 = 28;

/// One thing that happened on a call: the vocabulary of transcripts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Entered(Trace),
    Said {
        prompt: String,
        text: String,
        language: String,
    },
    Played {
        prompt: String,
        path: String,
    },
    Pressed {
        key: char,
    },
    Typed {
        text: String,
    },
    Silence,
    Ticket {
        reference: String,
        category: String,
    },
    Callback {
        reference: String,
        office: String,
    },
    Booking {
        reference: String,
        resource: String,
        start: Timestamp,
    },
    NoSlot {
        resource: String,
    },
    /// Free times offered to the caller (none: nothing to offer).
    Offered {
        resource: String,
        starts: Vec<Timestamp>,
    },
    /// A booking looked up by reference (to move it).
    Found {
        reference: String,
        found: bool,
    },
    /// A booking moved to the time the caller chose.
    Moved {
        reference: String,
        resource: String,
        start: Timestamp,
    },
    Cancelled {
        reference: String,
        found: bool,
    },
    Transfer {
        office: String,
        contacts: Vec<String>,
        outcome: TransferOutcome,
    },
    Queue {
        office: String,
        outcome: TransferOutcome,
    },
    Recording {
        variable: String,
        path: String,
    },
    Conference {
        room: String,
    },
    Webhook {
        url: String,
        ok: bool,
    },
    StoreFailed {
        message: String,
    },
    CallerHungUp,
    HungUp {
        reason: EndReason,
    },
    Ended {
        reason: EndReason,
    },
    /// The call waits for something that will never come (no input left, no timer).
    Stuck,
}

/// A step and when it happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimedStep {
    pub at: Timestamp,
    #[serde(flatten)]
    pub step: Step,
}

/// What the channel adapter must do for the port.
#[derive(Debug)]
pub enum Action {
    /// Audio or the call's other parties: only the channel can.
    Channel(ChannelCommand),
    /// Run it (where blocking is fine) and give its result to [`CallPort::store_done`].
    Store(StoreJob),
    /// End the call once the prompts already given have played ([`CallPort::ready_to_hang_up`]).
    HangUp(EndReason),
    /// The flow is over (once per call), for the channel's log; the call record follows at
    /// [`CallPort::close`].
    Ended(EndReason),
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not answered yet: no event has been fed.
    Waiting,
    Running,
    /// The engine hung up; the prompts it gave before still play.
    HangingUp,
    /// The flow is over (the caller left, or the call was hung up): nothing more to do.
    Over,
}

/// How a port keeps what happened.
#[derive(Clone, Default)]
pub struct PortOptions {
    /// Live calls: write each step to the store's step trace, and at the end the call
    /// record and every event the engine was given ([`CallEvents`], for replay).
    pub call_log: Option<Arc<dyn Store>>,
    /// The presence the session asks, recording its answers for the call log.
    pub presence_log: Option<Arc<RecordedPresence>>,
    /// How the call came, for the call log (`sip`).
    pub channel: String,
    /// Keep every [`TimedStep`] for [`CallPort::take_journal`] (the simulator's transcripts).
    pub journal: bool,
}

/// One call's session with its timers, pending events, playing prompts and call log.
pub struct CallPort {
    session: Session,
    options: PortOptions,
    now: Timestamp,
    started_at: Timestamp,
    timers: BTreeMap<Id, Timestamp>,
    pending: VecDeque<Event>,
    playing: BTreeSet<Id>,
    phase: Phase,
    outcome: Option<EndReason>,
    journal: Vec<TimedStep>,
    traced: u32,
    /// Every event given to the session (live calls only), up to [`MAX_LOGGED_EVENTS`].
    events: Vec<Event>,
    events_truncated: bool,
    /// Each time the flow asked for people (transfer, queue), for the call record.
    handoffs: Vec<Handoff>,
    /// The request of each handoff still waiting for its outcome, to its place in `handoffs`.
    handoffs_waiting: BTreeMap<Id, usize>,
}

impl CallPort {
    pub fn new(session: Session, options: PortOptions, now: Timestamp) -> CallPort {
        CallPort {
            session,
            options,
            now,
            started_at: now,
            timers: BTreeMap::new(),
            pending: VecDeque::new(),
            playing: BTreeSet::new(),
            phase: Phase::Waiting,
            outcome: None,
            journal: Vec::new(),
            traced: 0,
            events: Vec::new(),
            events_truncated: false,
            handoffs: Vec::new(),
            handoffs_waiting: BTreeMap::new(),
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn call(&self) -> &CallInfo {
        self.session.call()
    }

    pub fn program(&self) -> &Arc<Program> {
        self.session.program()
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Why the flow ended, once it has.
    pub fn outcome(&self) -> Option<EndReason> {
        self.outcome
    }

    /// The engine hung up and every prompt it gave has played: end the call now.
    pub fn ready_to_hang_up(&self) -> bool {
        self.phase == Phase::HangingUp && self.playing.is_empty()
    }

    /// Whether a prompt the engine gave is still playing.
    pub fn is_prompt_playing(&self) -> bool {
        !self.playing.is_empty()
    }

    /// Whether the channel should still tell about this prompt.
    pub fn is_playing(&self, playback: Id) -> bool {
        self.playing.contains(&playback)
    }

    /// The call is answered: the flow starts.
    pub fn start(&mut self, at: Timestamp) -> Vec<Action> {
        if self.phase != Phase::Waiting {
            return Vec::new();
        }
        self.started_at = at;
        self.phase = Phase::Running;
        self.feed(Event::Started { at })
    }

    /// Give the session one event; the actions are for the channel.
    pub fn feed(&mut self, event: Event) -> Vec<Action> {
        self.now = self.now.max(event.at());
        if self.options.call_log.is_some() {
            if self.events.len() < MAX_LOGGED_EVENTS {
                self.events.push(event.clone());
            } else {
                self.events_truncated = true;
            }
        }
        if let Event::TransferResult {
            request,
            outcome,
            at,
        } = &event
            && let Some(handoff) = self
                .handoffs_waiting
                .remove(request)
                .and_then(|index| self.handoffs.get_mut(index))
        {
            handoff.outcome = Some(*outcome);
            handoff.ended_at = Some(*at);
        }
        let commands = self.session.step(event);
        let mut actions = Vec::new();
        for command in commands {
            self.apply(command, &mut actions);
        }
        actions
    }

    /// A prompt played to its end (or could not play): the flow hears of it once.
    pub fn playback_finished(&mut self, playback: Id, at: Timestamp) -> Vec<Action> {
        if self.playing.remove(&playback) {
            self.feed(Event::PlaybackFinished { playback, at })
        } else {
            Vec::new()
        }
    }

    /// An event the channel owes the call (a transfer that cannot happen, a webhook's answer):
    /// it is fed after the current one, in order.
    pub fn post(&mut self, event: Event) {
        self.pending.push_back(event);
    }

    /// The next pending event, oldest first.
    pub fn next_pending(&mut self) -> Option<Event> {
        self.pending.pop_front()
    }

    /// The timers running now.
    pub fn timer_ids(&self) -> impl Iterator<Item = Id> + '_ {
        self.timers.keys().copied()
    }

    /// When the next timer is due.
    pub fn next_timer(&self) -> Option<Timestamp> {
        self.timers.values().min().copied()
    }

    /// The earliest timer due by `limit` (ties: the one started first), taken off the list
    /// as the event that fires it, at its due time or the latest event's, whichever is later.
    pub fn pop_timer_due_by(&mut self, limit: Timestamp) -> Option<Event> {
        let (&timer, &due) = self.timers.iter().min_by_key(|(id, due)| (**due, **id))?;
        if due > limit {
            return None;
        }
        self.timers.remove(&timer);
        Some(Event::TimerFired {
            timer,
            at: self.now.max(due),
        })
    }

    /// Something the channel saw that belongs in the journal (a key, a transfer's outcome).
    pub fn note(&mut self, step: Step, at: Timestamp) {
        if let Step::StoreFailed { message } = &step {
            warn!(call = %self.call().call_id, error = %message, "store write failed");
        }
        if self.options.journal {
            self.journal.push(TimedStep { at, step });
        }
    }

    /// The steps kept since the last call.
    pub fn take_journal(&mut self) -> Vec<TimedStep> {
        std::mem::take(&mut self.journal)
    }

    /// A store job's result: its steps go in the journal, its answer to the flow is queued.
    pub fn store_done(&mut self, done: StoreDone) {
        for step in done.steps {
            self.note(step, self.now);
        }
        self.pending.push_back(done.event);
    }

    /// A recording the channel made ended: save its record (a store job), then tell the flow.
    pub fn recorded(&self, finished: RecordingFinished) -> StoreJob {
        StoreJob {
            work: Work::Recording(finished),
            call: self.call().clone(),
            program: self.program().clone(),
            at: self.now,
        }
    }

    /// Staff answered a transfer or queue: the caller talks to them, and the flow is done.
    pub fn bridged(&mut self, at: Timestamp) {
        if self.outcome.is_none() {
            self.outcome = Some(EndReason::Bridged);
            self.note(
                Step::Ended {
                    reason: EndReason::Bridged,
                },
                at,
            );
        }
        self.phase = Phase::Over;
    }

    /// The channel is gone (the caller left, the line dropped): nothing more will happen.
    pub fn gone(&mut self) {
        self.phase = Phase::Over;
    }

    /// The call is over: the call log gets its record (live calls).
    pub fn close(&mut self, at: Timestamp) {
        self.phase = Phase::Over;
        let Some(store) = self.options.call_log.clone() else {
            return;
        };
        let call = self.call().clone();
        let record = CallRecord {
            schema: SCHEMA_VERSION,
            flow: self
                .session
                .flow()
                .map(|f| f.name.clone())
                .unwrap_or_default(),
            graph_version: self.program().version().to_owned(),
            started_at: self.started_at,
            ended_at: Some(at),
            outcome: self.outcome.map(String::from),
            call_id: call.call_id.clone(),
            caller: call.caller,
            number: call.number,
            channel: self.options.channel.clone(),
            handoffs: std::mem::take(&mut self.handoffs),
        };
        let events = CallEvents {
            schema: SCHEMA_VERSION,
            call_id: call.call_id,
            events: std::mem::take(&mut self.events),
            presence: self
                .options
                .presence_log
                .as_ref()
                .map(|p| p.answers())
                .unwrap_or_default(),
            truncated: self.events_truncated,
        };
        // Events first: a listed call can then always be replayed.
        if let Err(e) = store.save_call_events(events) {
            warn!(call = %self.call().call_id, error = %e, "the call's events could not be written to the call log");
        }
        if let Err(e) = store.save_call(record) {
            warn!(call = %self.call().call_id, error = %e, "the call log could not be written");
        }
    }

    fn apply(&mut self, command: Command, actions: &mut Vec<Action>) {
        match command {
            Command::StartTimer { timer, after_ms } => {
                let after =
                    SignedDuration::from_millis(i64::try_from(after_ms).unwrap_or(i64::MAX));
                let due = self.now.checked_add(after).unwrap_or(Timestamp::MAX);
                self.timers.insert(timer, due);
            }
            Command::CancelTimer { timer } => {
                self.timers.remove(&timer);
            }
            Command::Trace(trace) => self.trace(trace),
            Command::Hangup { reason } => {
                debug!(call = %self.call().call_id, %reason, "hanging up once the prompts have played");
                self.note(Step::HungUp { reason }, self.now);
                self.phase = Phase::HangingUp;
                actions.push(Action::HangUp(reason));
            }
            Command::Ended { reason } => {
                debug!(call = %self.call().call_id, %reason, "the flow ended");
                self.note(Step::Ended { reason }, self.now);
                self.outcome = Some(reason);
                self.timers.clear();
                if self.phase != Phase::HangingUp {
                    self.phase = Phase::Over;
                }
                actions.push(Action::Ended(reason));
            }
            Command::Channel(command) => {
                match &command {
                    ChannelCommand::Play {
                        playback,
                        prompt,
                        media,
                    } => {
                        self.playing.insert(*playback);
                        let prompt = prompt.clone();
                        let step = match media {
                            Media::Speech { text, language } => Step::Said {
                                prompt,
                                text: text.clone(),
                                language: language.clone(),
                            },
                            Media::Audio { path } => Step::Played {
                                prompt,
                                path: path.clone(),
                            },
                        };
                        self.note(step, self.now);
                    }
                    ChannelCommand::StopPlayback { playback } => {
                        self.playing.remove(playback);
                    }
                    ChannelCommand::Transfer {
                        request, office, ..
                    } => self.handoff(*request, HandoffKind::Transfer, office),
                    ChannelCommand::Enqueue {
                        request, office, ..
                    } => self.handoff(*request, HandoffKind::Queue, office),
                    ChannelCommand::Record { .. }
                    | ChannelCommand::JoinConference { .. }
                    | ChannelCommand::Webhook { .. } => {}
                }
                actions.push(Action::Channel(command));
            }
            Command::Store(request) => actions.push(Action::Store(StoreJob {
                work: Work::Request(request),
                call: self.call().clone(),
                program: self.program().clone(),
                at: self.now,
            })),
        }
    }

    /// The flow asked for people: kept for the call record, its outcome filled in when it comes.
    fn handoff(&mut self, request: Id, kind: HandoffKind, office: &str) {
        if self.handoffs.len() >= MAX_LOGGED_HANDOFFS {
            return;
        }
        self.handoffs_waiting.insert(request, self.handoffs.len());
        self.handoffs.push(Handoff {
            kind,
            office: office.to_owned(),
            asked_at: self.now,
            outcome: None,
            ended_at: None,
        });
    }

    fn trace(&mut self, trace: Trace) {
        debug!(call = %self.call().call_id, flow = %trace.flow, state = %trace.state, location = %trace.location, note = %trace.note, "step");
        if let Some(store) = self.options.call_log.clone() {
            self.traced += 1;
            let record = StepRecord {
                schema: SCHEMA_VERSION,
                call_id: self.call().call_id.clone(),
                seq: self.traced,
                at: self.now,
                trace: trace.clone(),
            };
            if let Err(e) = store.append_step(record) {
                warn!(call = %self.call().call_id, error = %e, "a step of the call log could not be written");
            }
        }
        self.note(Step::Entered(trace), self.now);
    }
}

/// A recording the channel finished: where its audio is and how long it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingFinished {
    pub request: Id,
    pub variable: String,
    /// Relative to the data directory; empty when nothing could be recorded.
    pub path: String,
    pub duration_ms: u64,
    /// When the flow hears of it.
    pub at: Timestamp,
}

#[derive(Debug)]
enum Work {
    Request(StoreRequest),
    Recording(RecordingFinished),
}

/// A store request of one call, ready to run wherever blocking is fine.
#[derive(Debug)]
pub struct StoreJob {
    work: Work,
    call: CallInfo,
    program: Arc<Program>,
    at: Timestamp,
}

/// What a [`StoreJob`] did: steps for the journal and the answer for the flow.
#[derive(Debug)]
pub struct StoreDone {
    pub steps: Vec<Step>,
    pub event: Event,
}

impl StoreJob {
    /// The flow's request, when it is one (not a finished recording).
    pub fn request(&self) -> Option<&StoreRequest> {
        match &self.work {
            Work::Request(request) => Some(request),
            Work::Recording(_) => None,
        }
    }

    /// Carry the request out against `store`.
    pub fn run(self, store: &dyn Store) -> StoreDone {
        match self.work {
            Work::Request(request) => {
                let id = request.id();
                let (result, step) =
                    match carry_out(store, &self.program, &self.call, self.at, request) {
                        Ok((reply, step)) => (Ok(reply), step),
                        Err(e) => {
                            let message = e.to_string();
                            (Err(message.clone()), Step::StoreFailed { message })
                        }
                    };
                StoreDone {
                    steps: vec![step],
                    event: Event::StoreResult {
                        request: id,
                        result,
                        at: self.at,
                    },
                }
            }
            Work::Recording(finished) => {
                let mut steps = Vec::new();
                if !finished.path.is_empty() {
                    let saved = store.save_recording(Recording {
                        schema: SCHEMA_VERSION,
                        call_id: self.call.call_id.clone(),
                        variable: finished.variable.clone(),
                        path: finished.path.clone(),
                        duration_ms: finished.duration_ms,
                        created_at: self.at,
                    });
                    if let Err(e) = saved {
                        steps.push(Step::StoreFailed {
                            message: e.to_string(),
                        });
                    }
                    steps.push(Step::Recording {
                        variable: finished.variable,
                        path: finished.path.clone(),
                    });
                }
                StoreDone {
                    steps,
                    event: Event::RecordingFinished {
                        request: finished.request,
                        path: finished.path,
                        duration_ms: finished.duration_ms,
                        at: finished.at,
                    },
                }
            }
        }
    }
}

fn resource_name(resource: &Resource) -> String {
    match resource {
        Resource::Office(name) | Resource::Service(name) => name.clone(),
    }
}

/// The slots a calendar offers for booking: from tomorrow (24 hours after `now`) on, for
/// [`BOOKING_DAYS`] days, in its opening hours; none without a calendar. The connectors API
/// offers and books the same slots (`http::api::bookings`).
pub(crate) fn bookable_slots(
    program: &Program,
    calendar: Option<&str>,
    slot_ms: u64,
    now: Timestamp,
) -> Vec<crate::store::Slot> {
    let from = now
        .checked_add(SignedDuration::from_hours(24))
        .unwrap_or(now);
    calendar
        .and_then(|c| program.graph.calendars.get(c))
        .map(|calendar| {
            crate::calendar::slots(
                calendar,
                centralino_compiler::graph::SlotPolicy {
                    slot_ms,
                    capacity: 1,
                },
                from,
                BOOKING_DAYS,
            )
        })
        .unwrap_or_default()
}

/// One store request against the store: the answer for the flow and the step for the journal.
fn carry_out(
    store: &dyn Store,
    program: &Program,
    call: &CallInfo,
    now: Timestamp,
    request: StoreRequest,
) -> Result<(StoreReply, Step), StoreError> {
    Ok(match request {
        StoreRequest::CreateTicket {
            category,
            title,
            office,
            priority,
            fields,
            due_at,
            ..
        } => {
            let ticket = store.create_ticket(NewTicket {
                category: category.clone(),
                title,
                office,
                priority,
                fields,
                caller: call.caller.clone(),
                call_id: call.call_id.clone(),
                created_at: now,
                due_at,
            })?;
            (
                StoreReply::Ticket {
                    reference: ticket.reference.clone(),
                },
                Step::Ticket {
                    reference: ticket.reference,
                    category,
                },
            )
        }
        StoreRequest::CreateCallback {
            office,
            number,
            note,
            ticket,
            category,
            citizen_first,
            ..
        } => {
            let callback = store.create_callback(NewCallback {
                office: office.clone(),
                number,
                note,
                call_id: call.call_id.clone(),
                created_at: now,
                window: None,
                ticket,
                category,
                citizen_first: citizen_first.is_some(),
                language: citizen_first.map(|first| first.language),
            })?;
            (
                StoreReply::Callback {
                    reference: callback.reference.clone(),
                },
                Step::Callback {
                    reference: callback.reference,
                    office,
                },
            )
        }
        StoreRequest::Book {
            resource,
            calendar,
            slot_ms,
            capacity,
            slot,
            ..
        } => {
            let name = resource_name(&resource);
            let mut candidates = bookable_slots(program, calendar.as_deref(), slot_ms, now);
            if let Some(chosen) = slot {
                // Only the time the caller chose, and only if it is one the calendar offers.
                candidates.retain(|s| *s == chosen);
            }
            let booked = store.book(NewBooking {
                resource,
                candidates,
                capacity,
                caller: call.caller.clone(),
                call_id: call.call_id.clone(),
                created_at: now,
            })?;
            match booked {
                Some(booking) => (
                    StoreReply::Booked {
                        reference: booking.reference.clone(),
                        start: booking.slot.start,
                    },
                    Step::Booking {
                        reference: booking.reference,
                        resource: name,
                        start: booking.slot.start,
                    },
                ),
                None => (StoreReply::NoSlot, Step::NoSlot { resource: name }),
            }
        }
        StoreRequest::FreeSlots {
            resource,
            calendar,
            slot_ms,
            capacity,
            after,
            except,
            count,
            ..
        } => {
            let mut candidates = bookable_slots(program, calendar.as_deref(), slot_ms, now);
            candidates.retain(|s| after.is_none_or(|a| s.start > a) && Some(s.start) != except);
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            let slots = store.free_slots(&resource, &candidates, capacity, count)?;
            (
                StoreReply::Slots {
                    slots: slots.clone(),
                },
                Step::Offered {
                    resource: resource_name(&resource),
                    starts: slots.iter().map(|s| s.start).collect(),
                },
            )
        }
        StoreRequest::FindBooking { reference, .. } => {
            let open = if crate::store::is_valid_booking_reference(&reference) {
                store
                    .booking(&reference)?
                    .filter(|b| b.status == crate::store::Status::Open)
            } else {
                None
            };
            match open {
                Some(booking) => (
                    StoreReply::Found {
                        reference: booking.reference.clone(),
                        resource: booking.resource.clone(),
                        start: booking.slot.start,
                    },
                    Step::Found {
                        reference,
                        found: true,
                    },
                ),
                None => (
                    StoreReply::NotFound,
                    Step::Found {
                        reference,
                        found: false,
                    },
                ),
            }
        }
        StoreRequest::MoveBooking {
            reference,
            calendar,
            slot,
            capacity,
            ..
        } => {
            let offered =
                bookable_slots(program, calendar.as_deref(), slot.duration_ms, now).contains(&slot);
            let moved = if offered {
                store.move_booking(&reference, slot, capacity)?
            } else {
                Moved::Full
            };
            match moved {
                Moved::Moved(booking) => (
                    StoreReply::Booked {
                        reference: booking.reference.clone(),
                        start: booking.slot.start,
                    },
                    Step::Moved {
                        reference: booking.reference,
                        resource: resource_name(&booking.resource),
                        start: booking.slot.start,
                    },
                ),
                Moved::Full => (
                    StoreReply::NoSlot,
                    Step::NoSlot {
                        resource: format!("booking {reference}"),
                    },
                ),
                Moved::NotFound => (
                    StoreReply::NotFound,
                    Step::Found {
                        reference,
                        found: false,
                    },
                ),
            }
        }
        StoreRequest::CancelBooking { reference, .. } => match store.cancel_booking(&reference)? {
            Some(booking) => (
                StoreReply::Cancelled {
                    reference: booking.reference,
                },
                Step::Cancelled {
                    reference,
                    found: true,
                },
            ),
            None => (
                StoreReply::NotFound,
                Step::Cancelled {
                    reference,
                    found: false,
                },
            ),
        },
    })
}
