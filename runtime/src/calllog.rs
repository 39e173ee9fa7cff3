//! The call log's second life: a live call run again, exactly, from what the log kept.
//!
//! ```text
//!  live call: CallPort::feed(event) ──► Session::step          RecordedPresence (answers kept)
//!                │ events (with their times)                        │
//!                ▼                                                  ▼
//!  store: calls (CallRecord) · steps (StepRecord) · call_events (CallEvents) · versions (KeptVersion)
//!                │
//!  replay:  LoggedCall ──► rerun(program of the kept version) ──► steps ──compare──► Same / Differs
//!                │                                                  (the recorded steps)
//!  --with-current: caller_inputs + script_for ──► Driver (virtual time, current flows) ──► compare_paths
//! ```
//!
//! Sans-IO except [`logged_call`], which reads a [`Store`]. The engine is deterministic given
//! its events (their times included) and the answers it gets about staff presence, so feeding
//! the recorded events to a session of the same graph version must produce the same steps;
//! [`rerun`] does that through a [`CallPort`] (so the transcript shows prompts and keys as
//! `centralino simulate` does) and [`compare`] checks it step by step, times included.
//!
//! Against the flows as they are now the events cannot be fed as they are (prompts, timers and
//! requests get other ids): [`caller_inputs`] keeps what the caller did (keys, text, silences
//! that ran out a menu's timeout, hanging up) and [`script_for`] what the world answered
//! (transfers, queues, webhooks, absent staff), for the simulator's [`Driver`]; [`compare_paths`]
//! finds the first state where the two calls part (by flow, state and what happened there,
//! not by line: moving a state in its file is no difference).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::driver::{Driver, Input, InputSource, Script};
use crate::engine::{
    CallInfo, ChannelCommand, Event, Id, Presence, Program, Resource, Session, StoreReply,
    StoreRequest, Trace,
};
use crate::port::{Action, CallPort, PortOptions, Step, TimedStep};
use crate::store::{
    CallEvents, CallRecord, KeptVersion, PresenceAnswer, SledStore, StepRecord, Store, StoreError,
};

/// Most events (and presence answers) one call keeps in the log; a longer call is kept
/// truncated.
pub const MAX_LOGGED_EVENTS: usize = 10_000;

/// A [`Presence`] that keeps every answer it gives, in order, for the call log.
///
/// A transfer asks about every person of the office in turn, so a call to an office of 500
/// keeps 500 answers: they are kept as bits, and the contacts as runs of positions in the
/// program's staff list ([`Program::staff_position`]), a few bytes per transfer.
pub struct RecordedPresence {
    inner: Arc<dyn Presence>,
    program: Arc<Program>,
    answers: Mutex<Answers>,
}

/// The answers a call was given, compactly.
#[derive(Default)]
struct Answers {
    /// Whom each question was about, in order.
    asked: Vec<AskedAbout>,
    /// Each answer, one bit per question in order (bit `i % 64` of word `i / 64`).
    present: Vec<u64>,
    count: usize,
}

/// Whom a run of questions was about.
enum AskedAbout {
    /// `len` contacts of the program's staff list, one after the other from `first` on.
    Staff { first: u32, len: u32 },
    /// A contact not in the program's staff list.
    Other(Box<str>),
}

impl Answers {
    fn push(&mut self, program: &Program, contact: &str, present: bool) {
        let next = match self.asked.last() {
            Some(AskedAbout::Staff { first, len }) => first.saturating_add(*len),
            _ => u32::MAX,
        };
        match (program.staff_position(contact, next), self.asked.last_mut()) {
            (Some(position), Some(AskedAbout::Staff { len, .. })) if position == next => *len += 1,
            (Some(position), _) => self.asked.push(AskedAbout::Staff {
                first: position,
                len: 1,
            }),
            (None, _) => self.asked.push(AskedAbout::Other(contact.into())),
        }
        let (word, bit) = (self.count / 64, self.count % 64);
        if word == self.present.len() {
            self.present.push(0);
        }
        if present {
            self.present[word] |= 1 << bit;
        }
        self.count += 1;
    }

    fn to_vec(&self, program: &Program) -> Vec<PresenceAnswer> {
        let contacts = self.asked.iter().flat_map(|asked| {
            let (staff, other) = match asked {
                AskedAbout::Staff { first, len } => (*first..first.saturating_add(*len), None),
                AskedAbout::Other(contact) => (0..0, Some(contact.to_string())),
            };
            staff
                .map(|position| {
                    program
                        .staff_contact(position)
                        .unwrap_or_default()
                        .to_owned()
                })
                .chain(other)
        });
        contacts
            .enumerate()
            .map(|(i, contact)| PresenceAnswer {
                contact,
                present: self.present[i / 64] & (1 << (i % 64)) != 0,
            })
            .collect()
    }
}

impl RecordedPresence {
    /// Answers from `inner`, kept; `program` is the call's (its staff list names the contacts).
    pub fn new(inner: Arc<dyn Presence>, program: Arc<Program>) -> RecordedPresence {
        RecordedPresence {
            inner,
            program,
            answers: Mutex::new(Answers::default()),
        }
    }

    /// The answers given so far.
    pub fn answers(&self) -> Vec<PresenceAnswer> {
        self.answers
            .lock()
            .map(|a| a.to_vec(&self.program))
            .unwrap_or_default()
    }
}

impl Presence for RecordedPresence {
    fn is_present(&self, contact: &str) -> bool {
        let present = self.inner.is_present(contact);
        if let Ok(mut answers) = self.answers.lock()
            && answers.count < MAX_LOGGED_EVENTS
        {
            answers.push(&self.program, contact, present);
        }
        present
    }
}

/// Gives the recorded answers again, in order; a question that was not asked then (another
/// contact, or one too many) is answered "present" and marks the replay as different.
struct ReplayedPresence {
    answers: Mutex<VecDeque<PresenceAnswer>>,
    differed: AtomicBool,
}

impl Presence for ReplayedPresence {
    fn is_present(&self, contact: &str) -> bool {
        let next = self.answers.lock().ok().and_then(|mut a| a.pop_front());
        match next {
            Some(answer) if answer.contact == contact => answer.present,
            _ => {
                self.differed.store(true, Ordering::Relaxed);
                true
            }
        }
    }
}

/// Everything the log keeps of one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedCall {
    pub call: CallRecord,
    /// `None` for calls logged before events were kept.
    pub events: Option<CallEvents>,
    pub steps: Vec<StepRecord>,
    /// The graph version that served it, if it is still kept.
    pub version: Option<KeptVersion>,
}

/// The call `call_id` as the log keeps it; `None` when the log has no such call.
pub fn logged_call(store: &dyn Store, call_id: &str) -> Result<Option<LoggedCall>, StoreError> {
    let Some(call) = store.call(call_id)? else {
        return Ok(None);
    };
    Ok(Some(LoggedCall {
        events: store.call_events(call_id)?,
        steps: store.steps(call_id)?,
        version: store.kept_version(&call.graph_version)?,
        call,
    }))
}

/// A logged call run again on a graph.
#[derive(Debug, Clone)]
pub struct Rerun {
    /// The transcript, as the simulator writes it.
    pub steps: Vec<TimedStep>,
    /// The engine asked about staff presence other than it did on the live call.
    pub presence_differed: bool,
    /// What the caller did, for [`Driver`] runs against other flows (keys the engine ignored
    /// are left out: the simulator gives keys only when prompts end).
    pub inputs: Vec<Input>,
    /// The caller hung up while a prompt played (the last input is then the hang-up).
    pub hung_up_mid_prompt: bool,
    /// How the world answered, for the same.
    pub script: Script,
}

impl Rerun {
    /// The states entered (and what happened there), with their times.
    pub fn path(&self) -> Vec<(Timestamp, Trace)> {
        path_of(&self.steps)
    }
}

/// The [`Step::Entered`] traces of a transcript, with their times.
pub fn path_of(steps: &[TimedStep]) -> Vec<(Timestamp, Trace)> {
    steps
        .iter()
        .filter_map(|s| match &s.step {
            Step::Entered(trace) => Some((s.at, trace.clone())),
            _ => None,
        })
        .collect()
}

/// What a transfer or queue request was, to describe its answer.
enum Asked {
    Transfer {
        office: String,
        contacts: Vec<String>,
    },
    Queue {
        office: String,
    },
}

/// Feeds the recorded events of `call` to a session of `program`, as the live call's port did.
pub fn rerun(program: Arc<Program>, call: &CallRecord, events: &CallEvents) -> Rerun {
    let presence = Arc::new(ReplayedPresence {
        answers: Mutex::new(events.presence.iter().cloned().collect()),
        differed: AtomicBool::new(false),
    });
    let info = CallInfo {
        call_id: call.call_id.clone(),
        caller: call.caller.clone(),
        number: call.number.clone(),
    };
    let session = Session::new(program, info).with_presence(presence.clone());
    let options = PortOptions {
        journal: true,
        ..PortOptions::default()
    };
    let mut port = CallPort::new(session, options, call.started_at);
    let mut asked: BTreeMap<Id, Asked> = BTreeMap::new();
    let mut stored: BTreeMap<Id, StoreRequest> = BTreeMap::new();
    let mut webhooks: BTreeMap<Id, String> = BTreeMap::new();
    let mut webhook_timers: BTreeSet<Id> = BTreeSet::new();
    let mut max_duration_timers: BTreeSet<Id> = BTreeSet::new();
    let mut inputs = Vec::new();
    let mut script = Script::default();
    let mut steps: Vec<TimedStep> = Vec::new();
    let mut hung_up_mid_prompt = false;
    let mut transfer_seen = false;
    let mut queue_seen = false;
    for event in &events.events {
        let at = event.at();
        match event {
            Event::Digit { digit, .. } => {
                port.note(Step::Pressed { key: *digit }, at);
                inputs.push(Input::Key(*digit));
            }
            Event::Text { text, .. } => {
                port.note(Step::Typed { text: text.clone() }, at);
                inputs.push(Input::Text(text.clone()));
            }
            Event::Hangup { .. } | Event::LineLost { .. } => {
                port.note(Step::CallerHungUp, at);
                inputs.push(Input::Hangup);
                hung_up_mid_prompt = port.is_prompt_playing();
            }
            Event::TimerFired { timer, .. } => {
                // The caller let a menu or collect run out (or the call's time): a silence.
                // A webhook's own timeout is the driver's to fire.
                if !webhook_timers.contains(timer) {
                    port.note(Step::Silence, at);
                    if !max_duration_timers.contains(timer) {
                        inputs.push(Input::Wait);
                    }
                }
            }
            Event::TransferResult {
                request, outcome, ..
            } => match asked.remove(request) {
                Some(Asked::Transfer { office, contacts }) => {
                    if !transfer_seen {
                        script.transfer = *outcome;
                        transfer_seen = true;
                    }
                    port.note(
                        Step::Transfer {
                            office,
                            contacts,
                            outcome: *outcome,
                        },
                        at,
                    );
                }
                Some(Asked::Queue { office }) => {
                    if !queue_seen {
                        script.queue = *outcome;
                        queue_seen = true;
                    }
                    port.note(
                        Step::Queue {
                            office,
                            outcome: *outcome,
                        },
                        at,
                    );
                }
                None => {}
            },
            Event::WebhookResult {
                request, result, ..
            } => {
                if let Some(url) = webhooks.remove(request) {
                    port.note(
                        Step::Webhook {
                            url: url.clone(),
                            ok: result.is_ok(),
                        },
                        at,
                    );
                    script.webhooks.push((url, result.clone()));
                }
            }
            Event::StoreResult {
                request, result, ..
            } => {
                if let Some(step) = stored
                    .remove(request)
                    .and_then(|asked| store_step(asked, result))
                {
                    port.note(step, at);
                }
            }
            Event::RecordingFinished { .. } => {}
            Event::Started { .. }
            | Event::PlaybackFinished { .. }
            | Event::ConferenceLeft { .. } => {}
        }
        let before: BTreeSet<Id> = port.timer_ids().collect();
        let actions = match event {
            Event::PlaybackFinished { playback, at } => port.playback_finished(*playback, *at),
            event => port.feed(event.clone()),
        };
        let started: BTreeSet<Id> = port.timer_ids().filter(|id| !before.contains(id)).collect();
        if matches!(event, Event::Started { .. }) {
            max_duration_timers.extend(started.iter().copied());
        }
        for action in actions {
            match action {
                Action::Channel(ChannelCommand::Transfer {
                    request,
                    office,
                    contacts,
                    ..
                }) => {
                    asked.insert(request, Asked::Transfer { office, contacts });
                }
                Action::Channel(ChannelCommand::Enqueue {
                    request, office, ..
                }) => {
                    asked.insert(request, Asked::Queue { office });
                }
                Action::Channel(ChannelCommand::Webhook { request, url, .. }) => {
                    webhooks.insert(request, url);
                    webhook_timers.extend(started.iter().copied());
                }
                Action::Channel(ChannelCommand::JoinConference { room, .. }) => {
                    port.note(Step::Conference { room }, at);
                }
                // The store's answer is among the recorded events: kept to describe it.
                Action::Store(job) => {
                    if let Some(request) = job.request() {
                        stored.insert(request.id(), request.clone());
                    }
                }
                // Recordings' ends are among the recorded events.
                Action::Channel(
                    ChannelCommand::Play { .. }
                    | ChannelCommand::StopPlayback { .. }
                    | ChannelCommand::Record { .. },
                )
                | Action::HangUp(_)
                | Action::Ended(_) => {}
            }
        }
        if port.session().is_bridged() && port.outcome().is_none() {
            port.bridged(at);
        }
        let new = port.take_journal();
        let ignored = new.iter().any(
            |s| matches!(&s.step, Step::Entered(trace) if trace.note.ends_with("ignored here")),
        );
        if ignored && matches!(event, Event::Digit { .. } | Event::Text { .. }) {
            inputs.pop();
        }
        steps.extend(new);
    }
    script.absent = events
        .presence
        .iter()
        .filter(|a| !a.present)
        .map(|a| a.contact.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Rerun {
        steps,
        hung_up_mid_prompt,
        presence_differed: presence.differed.load(Ordering::Relaxed),
        inputs,
        script,
    }
}

/// The transcript's line for a store request and the answer the live call got.
fn store_step(request: StoreRequest, result: &Result<StoreReply, String>) -> Option<Step> {
    let reply = match result {
        Ok(reply) => reply.clone(),
        Err(message) => {
            return Some(Step::StoreFailed {
                message: message.clone(),
            });
        }
    };
    Some(match (request, reply) {
        (StoreRequest::CreateTicket { category, .. }, StoreReply::Ticket { reference }) => {
            Step::Ticket {
                reference,
                category,
            }
        }
        (StoreRequest::CreateCallback { office, .. }, StoreReply::Callback { reference }) => {
            Step::Callback { reference, office }
        }
        (StoreRequest::Book { resource, .. }, StoreReply::Booked { reference, start }) => {
            Step::Booking {
                reference,
                resource: resource_name(resource),
                start,
            }
        }
        (StoreRequest::Book { resource, .. }, StoreReply::NoSlot) => Step::NoSlot {
            resource: resource_name(resource),
        },
        (StoreRequest::CancelBooking { reference, .. }, StoreReply::Cancelled { .. }) => {
            Step::Cancelled {
                reference,
                found: true,
            }
        }
        (StoreRequest::CancelBooking { reference, .. }, StoreReply::NotFound) => Step::Cancelled {
            reference,
            found: false,
        },
        _ => return None,
    })
}

fn resource_name(resource: Resource) -> String {
    match resource {
        Resource::Office(name) | Resource::Service(name) => name,
    }
}

/// How two runs of a call compare.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The same steps, this many.
    Same {
        steps: usize,
    },
    Differs(Box<Difference>),
}

/// The first step where two runs of a call part.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// From 0.
    pub index: usize,
    /// `None` where that run has no such step.
    pub recorded: Option<(Timestamp, Trace)>,
    pub replayed: Option<(Timestamp, Trace)>,
}

/// Compares the recorded steps of a call with a replay's, exactly (times included).
pub fn compare(recorded: &[StepRecord], replayed: &[(Timestamp, Trace)]) -> Verdict {
    let recorded: Vec<(Timestamp, Trace)> =
        recorded.iter().map(|s| (s.at, s.trace.clone())).collect();
    first_difference(&recorded, replayed, |a, b| a == b)
}

/// Where a call's way through the flows parts from another's: by flow, state and what
/// happened there (lines and times may differ).
pub fn compare_paths(recorded: &[(Timestamp, Trace)], now: &[(Timestamp, Trace)]) -> Verdict {
    first_difference(recorded, now, |(_, a), (_, b)| {
        a.flow == b.flow && a.state == b.state && a.note == b.note
    })
}

fn first_difference(
    left: &[(Timestamp, Trace)],
    right: &[(Timestamp, Trace)],
    same: impl Fn(&(Timestamp, Trace), &(Timestamp, Trace)) -> bool,
) -> Verdict {
    let longest = left.len().max(right.len());
    for index in 0..longest {
        let (l, r) = (left.get(index), right.get(index));
        let equal = match (l, r) {
            (Some(l), Some(r)) => same(l, r),
            _ => false,
        };
        if !equal {
            return Verdict::Differs(Box::new(Difference {
                index,
                recorded: l.cloned(),
                replayed: r.cloned(),
            }));
        }
    }
    Verdict::Same { steps: longest }
}

/// The caller of a logged call, again, against `program` (the flows as they are now), in the
/// simulator's virtual time from the call's start. Store requests go to a temporary store.
pub fn with_current(
    program: Arc<Program>,
    call: &CallRecord,
    rerun: &Rerun,
) -> Result<Vec<TimedStep>, StoreError> {
    let store = SledStore::temporary()?;
    let driver = Driver::new(program, &store, rerun.script.clone());
    let info = CallInfo {
        call_id: call.call_id.clone(),
        caller: call.caller.clone(),
        number: call.number.clone(),
    };
    let mut caller = Caller {
        inputs: rerun.inputs.iter().cloned().collect(),
        hangs_up_mid_prompt: rerun.hung_up_mid_prompt,
    };
    Ok(driver.run(info, call.started_at, &mut caller, &mut |_| {}))
}

/// The caller of a logged call, for the simulator.
struct Caller {
    inputs: VecDeque<Input>,
    hangs_up_mid_prompt: bool,
}

impl InputSource for Caller {
    fn next_input(&mut self) -> Option<Input> {
        self.inputs.pop_front()
    }

    fn interrupts(&mut self) -> bool {
        self.hangs_up_mid_prompt && self.inputs.front() == Some(&Input::Hangup)
    }
}

/// A call id as a question may carry it: SIP Call-IDs are printable ASCII without spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallId(String);

/// Why a text is not a [`CallId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadCallId {
    #[error("the call id is empty")]
    Empty,
    #[error(
        "the call id is {length} characters long (at most {} are allowed)",
        CallId::MAX_LENGTH
    )]
    TooLong { length: usize },
    #[error("the call id has the character {character:?} (allowed: printable ASCII, no spaces)")]
    Character { character: char },
}

impl CallId {
    pub const MAX_LENGTH: usize = 256;

    pub fn parse(text: &str) -> Result<CallId, BadCallId> {
        if text.is_empty() {
            return Err(BadCallId::Empty);
        }
        let length = text.chars().count();
        if length > CallId::MAX_LENGTH {
            return Err(BadCallId::TooLong { length });
        }
        if let Some(character) = text.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(BadCallId::Character { character });
        }
        Ok(CallId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What `centralino calls list|show` and `replay` ask of the call log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// Every logged call, most recent first.
    List,
    /// One call with everything kept of it.
    Show(CallId),
}

/// The answer to a [`Question`]: the same whether the store is read directly or through
/// the running server's control socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Listed { calls: Vec<CallRecord> },
    Shown { call: Option<Box<LoggedCall>> },
}

/// Answers `question` from `store`.
pub fn answer(store: &dyn Store, question: &Question) -> Result<Answer, StoreError> {
    match question {
        Question::List => {
            let mut calls = store.calls()?;
            calls.reverse();
            Ok(Answer::Listed { calls })
        }
        Question::Show(id) => Ok(Answer::Shown {
            call: logged_call(store, id.as_str())?.map(Box::new),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::engine::TransferOutcome;
    use crate::port::Phase;
    use jiff::SignedDuration;

    const FLOW: &str = r#"
category prova "Prova" { priority normal sla 1d }

calendar orario {
  timezone "Europe/Rome"
  mon-fri 09:00-13:00
}

office ufficio "Ufficio" {
  hours orario
  staff "sip:201@example.it" as "Uno"
  staff "sip:202@example.it" as "Due"
}

flow main answers "100" {
  language it
  max duration 5m
  benvenuto: say "Benvenuto." -> menu
  menu: menu "Prema 1 per una segnalazione, 2 per un operatore." timeout 5s retries 1 {
    1 -> segnala
    2 -> passa
    timeout, invalid -> fine
  }
  segnala: ticket prova with { canale: "telefono" } -> letto
  letto: say "Segnalazione {{ ticket.ref }}." -> hangup
  passa: transfer ufficio else -> fine
  fine: say "Arrivederci." -> hangup
}
"#;

    fn program(text: &str) -> Arc<Program> {
        let mut sources = centralino_compiler::Sources::new();
        sources.add("main.flow", text);
        let compiled = centralino_compiler::compile(&sources);
        assert!(
            !compiled.diagnostics.has_errors(),
            "{}",
            centralino_compiler::render::human(&sources, &compiled.diagnostics, false)
        );
        Program::new(compiled.graph.unwrap()).unwrap()
    }

    fn at(seconds: i64) -> Timestamp {
        let start: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        start
            .checked_add(SignedDuration::from_secs(seconds))
            .unwrap()
    }

    #[test]
    fn presence_answers_are_kept_compactly_and_given_back_as_asked() {
        // 70 people in one office (more than one word of bits), 201 in two offices.
        let staff: String = (0..70)
            .map(|i| format!("  staff \"sip:{}@example.it\"\n", 300 + i))
            .collect();
        let text = FLOW.replace(
            "office ufficio",
            &format!("office grande \"Grande\" {{\n{staff}  staff \"sip:201@example.it\"\n}}\n\noffice ufficio"),
        );
        let program = program(&text);
        let presence = RecordedPresence::new(Arc::new(OnlyFirst), program.clone());
        let grande: Vec<String> = program.graph.offices["grande"]
            .staff
            .iter()
            .map(|s| s.contact.clone())
            .collect();
        let mut asked: Vec<String> = grande.clone();
        asked.extend(["sip:201@example.it", "sip:202@example.it"].map(String::from));
        asked.push(String::from("sip:999@elsewhere.it"));
        asked.extend(grande[10..12].iter().cloned());
        let answers: Vec<bool> = asked.iter().map(|c| presence.is_present(c)).collect();
        let kept = presence.answers();
        assert_eq!(
            kept.iter().map(|a| a.contact.clone()).collect::<Vec<_>>(),
            asked
        );
        assert_eq!(kept.iter().map(|a| a.present).collect::<Vec<_>>(), answers);
        assert_eq!(
            answers.iter().filter(|p| **p).count(),
            2,
            "201 twice, 3xx never"
        );
        // Runs: grande's 71 and ufficio's two (next in the program's list), the stranger,
        // then two of grande again.
        let runs = presence.answers.lock().unwrap().asked.len();
        assert_eq!(runs, 3);
    }

    /// 202 is away.
    struct OnlyFirst;

    impl Presence for OnlyFirst {
        fn is_present(&self, contact: &str) -> bool {
            contact.contains("201")
        }
    }

    /// A live call as a channel adapter makes it: prompts take 2 s, store jobs run against
    /// the store, transfers are answered after 5 s, the caller presses `keys` (one when
    /// nothing else is due), and the call log is written at the end.
    fn live_call(
        program: Arc<Program>,
        store: Arc<dyn Store>,
        id: &str,
        keys: &str,
    ) -> Option<crate::engine::EndReason> {
        let presence = Arc::new(RecordedPresence::new(Arc::new(OnlyFirst), program.clone()));
        let info = CallInfo {
            call_id: id.to_owned(),
            caller: String::from("+393331234567"),
            number: String::from("100"),
        };
        let session = Session::new(program, info).with_presence(presence.clone());
        let options = PortOptions {
            call_log: Some(store.clone()),
            presence_log: Some(presence),
            channel: String::from("sip"),
            journal: false,
        };
        let mut port = CallPort::new(session, options, at(0));
        let mut now = at(0);
        let mut playing: VecDeque<Id> = VecDeque::new();
        let mut keys: VecDeque<char> = keys.chars().collect();
        let mut actions = port.start(now);
        for _ in 0..200 {
            for action in actions.drain(..) {
                match action {
                    Action::Channel(ChannelCommand::Play { playback, .. }) => {
                        playing.push_back(playback);
                    }
                    Action::Channel(ChannelCommand::Transfer { request, .. }) => {
                        port.post(Event::TransferResult {
                            request,
                            outcome: TransferOutcome::Answered,
                            at: now.checked_add(SignedDuration::from_secs(5)).unwrap(),
                        });
                    }
                    Action::Store(job) => {
                        let done = job.run(&*store);
                        port.store_done(done);
                    }
                    _ => {}
                }
            }
            if port.phase() == Phase::Over || port.session().is_bridged() {
                break;
            }
            if let Some(event) = port.next_pending() {
                now = now.max(event.at());
                actions = port.feed(event);
            } else if keys.front() != Some(&'h')
                && let Some(playback) = playing.pop_front()
            {
                now = now.checked_add(SignedDuration::from_secs(2)).unwrap();
                actions = port.playback_finished(playback, now);
            } else if keys.front() == Some(&'h') {
                // The caller hangs up at once, whatever plays.
                keys.pop_front();
                now = now.checked_add(SignedDuration::from_millis(300)).unwrap();
                actions = port.feed(Event::Hangup { at: now });
            } else if let Some(key) = keys.pop_front() {
                now = now.checked_add(SignedDuration::from_millis(700)).unwrap();
                actions = port.feed(Event::Digit {
                    digit: key,
                    at: now,
                });
            } else if let Some(event) = port.pop_timer_due_by(Timestamp::MAX) {
                now = now.max(event.at());
                actions = port.feed(event);
            } else {
                break;
            }
        }
        if port.session().is_bridged() {
            port.bridged(now);
        }
        port.close(now);
        port.outcome()
    }

    fn keep(store: &SledStore, program: &Program) {
        store
            .keep_version(KeptVersion {
                schema: 1,
                version: program.version().to_owned(),
                kept_at: at(0),
                sources: BTreeMap::from([(String::from("main.flow"), String::from(FLOW))]),
                graph: program.graph.clone(),
            })
            .unwrap();
    }

    fn logged(store: &SledStore, id: &str) -> LoggedCall {
        logged_call(store, id).unwrap().unwrap()
    }

    fn states(path: &[(Timestamp, Trace)]) -> Vec<String> {
        let mut states: Vec<String> = Vec::new();
        for (_, trace) in path {
            let state = format!("{}.{}", trace.flow, trace.state);
            if states.last() != Some(&state) {
                states.push(state);
            }
        }
        states
    }

    /// The call record keeps each transfer the flow asked for, and how it ended, for reports.
    #[test]
    fn a_transferred_call_keeps_its_handoff_in_the_record() {
        let store = Arc::new(SledStore::temporary().unwrap());
        live_call(program(FLOW), store.clone(), "call-t", "2");
        let record = store.call("call-t").unwrap().unwrap();
        assert_eq!(record.outcome.as_deref(), Some("put through to staff"));
        let [handoff] = record.handoffs.as_slice() else {
            panic!("one handoff: {:?}", record.handoffs);
        };
        assert_eq!(handoff.kind, crate::store::HandoffKind::Transfer);
        assert_eq!(handoff.office, "ufficio");
        assert_eq!(handoff.outcome, Some(TransferOutcome::Answered));
        let rang = handoff.ended_at.unwrap().duration_since(handoff.asked_at);
        assert_eq!(rang, SignedDuration::from_secs(5));
        // A call that asked for nobody keeps none (and its record reads as before).
        live_call(program(FLOW), store.clone(), "call-n", "1");
        assert!(store.call("call-n").unwrap().unwrap().handoffs.is_empty());
    }

    #[test]
    fn a_logged_call_runs_again_to_the_same_steps_on_its_version() {
        let program = program(FLOW);
        let store = Arc::new(SledStore::temporary().unwrap());
        keep(&store, &program);
        live_call(program.clone(), store.clone(), "call-1", "1");
        let call = logged(&store, "call-1");
        assert_eq!(call.call.channel, "sip");
        assert_eq!(call.call.outcome.as_deref(), Some("the flow hung up"));
        let events = call.events.as_ref().unwrap();
        assert!(!events.truncated);
        assert!(
            matches!(events.events.first(), Some(Event::Started { at: t }) if *t == at(0)),
            "{:?}",
            events.events
        );
        let version = call.version.as_ref().unwrap();
        let kept = Program::new(version.graph.clone()).unwrap();

        let rerun = rerun(kept, &call.call, events);
        let verdict = compare(&call.steps, &rerun.path());
        assert_eq!(
            verdict,
            Verdict::Same {
                steps: call.steps.len()
            }
        );
        assert!(call.steps.len() >= 4, "{:?}", call.steps);
        assert_eq!(
            states(&rerun.path()),
            ["main.benvenuto", "main.menu", "main.segnala", "main.letto"]
        );
        // The transcript names what the store answered the live call.
        assert!(
            rerun
                .steps
                .iter()
                .any(|s| matches!(&s.step, Step::Ticket { reference, category }
                    if reference == "PG-2026-000001" && category == "prova")),
            "{:#?}",
            rerun.steps
        );
        assert_eq!(rerun.inputs, vec![Input::Key('1')]);

        // The recorded events and the rerun's transcript, one line each.
        let mut lines: Vec<String> = events
            .events
            .iter()
            .map(|e| format!("event {}", serde_json::to_string(e).unwrap()))
            .collect();
        lines.extend(
            rerun
                .steps
                .iter()
                .map(|s| format!("step  {}", serde_json::to_string(s).unwrap())),
        );
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn a_changed_event_is_the_first_difference() {
        let program = program(FLOW);
        let store = Arc::new(SledStore::temporary().unwrap());
        live_call(program.clone(), store.clone(), "call-1", "1");
        let call = logged(&store, "call-1");
        let mut events = call.events.clone().unwrap();
        for event in &mut events.events {
            if let Event::Digit { digit, .. } = event {
                *digit = '9';
            }
        }
        let rerun = rerun(program, &call.call, &events);
        let Verdict::Differs(difference) = compare(&call.steps, &rerun.path()) else {
            panic!("a different key must make a difference");
        };
        let (_, recorded) = difference.recorded.unwrap();
        let (_, replayed) = difference.replayed.unwrap();
        assert_eq!(recorded.state, "menu");
        assert_eq!(replayed.state, "menu");
        assert_ne!(recorded.note, replayed.note);
    }

    #[test]
    fn presence_answers_are_kept_and_given_again() {
        let program = program(FLOW);
        let store = Arc::new(SledStore::temporary().unwrap());
        live_call(program.clone(), store.clone(), "call-2", "2");
        let call = logged(&store, "call-2");
        let events = call.events.clone().unwrap();
        assert!(
            events
                .presence
                .iter()
                .any(|a| a.contact == "sip:202@example.it" && !a.present),
            "{:?}",
            events.presence
        );
        let again = rerun(program.clone(), &call.call, &events);
        assert!(!again.presence_differed);
        assert_eq!(
            compare(&call.steps, &again.path()),
            Verdict::Same {
                steps: call.steps.len()
            }
        );
        assert_eq!(
            again.script.absent,
            vec![String::from("sip:202@example.it")]
        );
        assert_eq!(again.script.transfer, TransferOutcome::Answered);
        assert!(again.steps.iter().any(|s| matches!(&s.step,
            Step::Transfer { contacts, outcome: TransferOutcome::Answered, .. }
                if contacts == &vec![String::from("sip:201@example.it")])));

        // Answers that run out (or name someone else) are noticed.
        let mut other = events;
        other.presence.clear();
        assert!(rerun(program, &call.call, &other).presence_differed);
    }

    #[test]
    fn with_the_current_flows_the_same_keys_show_where_the_call_parts() {
        let program = program(FLOW);
        let store = Arc::new(SledStore::temporary().unwrap());
        live_call(program.clone(), store.clone(), "call-3", "1");
        let call = logged(&store, "call-3");
        let events = call.events.clone().unwrap();
        let then = rerun(program.clone(), &call.call, &events);

        // Unchanged flows: the same way.
        let same = with_current(program, &call.call, &then).unwrap();
        assert!(matches!(
            compare_paths(&then.path(), &path_of(&same)),
            Verdict::Same { .. }
        ));

        // Key 1 now goes to an operator; the state moved down a line too.
        let edited = FLOW
            .replace("    1 -> segnala", "    1 -> passa")
            .replace("  language it\n", "  language it\n\n");
        let now = with_current(self::program(&edited), &call.call, &then).unwrap();
        let Verdict::Differs(difference) = compare_paths(&then.path(), &path_of(&now)) else {
            panic!("key 1 goes elsewhere now");
        };
        let (_, before) = difference.recorded.unwrap();
        let (_, after) = difference.replayed.unwrap();
        assert_eq!(
            (before.state.as_str(), after.state.as_str()),
            ("segnala", "passa")
        );
        assert!(before.location.starts_with("main.flow:"), "{before:?}");
        assert_ne!(before.location, after.location);
    }

    #[test]
    fn answers_cross_the_control_socket_unchanged() {
        let program = program(FLOW);
        let store = Arc::new(SledStore::temporary().unwrap());
        keep(&store, &program);
        live_call(program.clone(), store.clone(), "call-1@host", "1");
        live_call(program, store.clone(), "call-2@host", "2");
        for question in [
            Question::List,
            Question::Show(CallId::parse("call-1@host").unwrap()),
            Question::Show(CallId::parse("nobody").unwrap()),
        ] {
            let answer = answer(&*store, &question).unwrap();
            let wire = serde_json::to_string(&answer).unwrap();
            let read: Answer = serde_json::from_str(&wire).unwrap();
            assert_eq!(read, answer);
        }
        assert!(matches!(
            answer(&*store, &Question::Show(CallId::parse("nobody").unwrap())).unwrap(),
            Answer::Shown { call: None }
        ));
        assert_eq!(CallId::parse(""), Err(BadCallId::Empty));
        assert_eq!(
            CallId::parse("a b"),
            Err(BadCallId::Character { character: ' ' })
        );
        assert!(matches!(
            CallId::parse(&"x".repeat(300)),
            Err(BadCallId::TooLong { length: 300 })
        ));
    }

    /// The store, except that every call log write fails (a full disk).
    struct LogFails(SledStore);

    fn full() -> StoreError {
        StoreError::Write(String::from("No space left on device"))
    }

    impl Store for LogFails {
        fn create_ticket(
            &self,
            ticket: crate::store::NewTicket,
        ) -> Result<crate::store::Ticket, StoreError> {
            self.0.create_ticket(ticket)
        }
        fn create_callback(
            &self,
            callback: crate::store::NewCallback,
        ) -> Result<crate::store::Callback, StoreError> {
            self.0.create_callback(callback)
        }
        fn book(
            &self,
            booking: crate::store::NewBooking,
        ) -> Result<Option<crate::store::Booking>, StoreError> {
            self.0.book(booking)
        }
        fn cancel_booking(
            &self,
            reference: &str,
        ) -> Result<Option<crate::store::Booking>, StoreError> {
            self.0.cancel_booking(reference)
        }
        fn move_booking(
            &self,
            reference: &str,
            slot: crate::store::Slot,
            capacity: u32,
        ) -> Result<crate::store::Moved, StoreError> {
            self.0.move_booking(reference, slot, capacity)
        }
        fn free_slots(
            &self,
            resource: &Resource,
            candidates: &[crate::store::Slot],
            capacity: u32,
            count: usize,
        ) -> Result<Vec<crate::store::Slot>, StoreError> {
            self.0.free_slots(resource, candidates, capacity, count)
        }
        fn save_recording(&self, recording: crate::store::Recording) -> Result<(), StoreError> {
            self.0.save_recording(recording)
        }
        fn save_call(&self, _: CallRecord) -> Result<(), StoreError> {
            Err(full())
        }
        fn append_step(&self, _: StepRecord) -> Result<(), StoreError> {
            Err(full())
        }
        fn save_call_events(&self, _: CallEvents) -> Result<(), StoreError> {
            Err(full())
        }
        fn keep_version(&self, _: KeptVersion) -> Result<bool, StoreError> {
            Err(full())
        }
        fn prune_call_log(&self, now: Timestamp) -> Result<usize, StoreError> {
            self.0.prune_call_log(now)
        }
        fn change_ticket(
            &self,
            reference: &str,
            change: &crate::store::ticketing::TicketChange,
        ) -> Result<Result<crate::store::Ticket, crate::store::ticketing::TicketRefusal>, StoreError>
        {
            self.0.change_ticket(reference, change)
        }
        fn callback(&self, reference: &str) -> Result<Option<crate::store::Callback>, StoreError> {
            self.0.callback(reference)
        }
        fn change_callback(
            &self,
            reference: &str,
            change: &crate::store::dialing::Change,
        ) -> Result<Result<crate::store::Callback, crate::store::dialing::Refusal>, StoreError>
        {
            self.0.change_callback(reference, change)
        }
        fn tickets(&self) -> Result<Vec<crate::store::Ticket>, StoreError> {
            self.0.tickets()
        }
        fn tickets_skipping_damaged(
            &self,
        ) -> Result<(Vec<crate::store::Ticket>, Vec<StoreError>), StoreError> {
            self.0.tickets_skipping_damaged()
        }
        fn ticket(&self, reference: &str) -> Result<Option<crate::store::Ticket>, StoreError> {
            self.0.ticket(reference)
        }
        fn callbacks(&self) -> Result<Vec<crate::store::Callback>, StoreError> {
            self.0.callbacks()
        }
        fn bookings(&self) -> Result<Vec<crate::store::Booking>, StoreError> {
            self.0.bookings()
        }
        fn booking(&self, reference: &str) -> Result<Option<crate::store::Booking>, StoreError> {
            self.0.booking(reference)
        }
        fn calls(&self) -> Result<Vec<CallRecord>, StoreError> {
            self.0.calls()
        }
        fn steps(&self, call_id: &str) -> Result<Vec<StepRecord>, StoreError> {
            self.0.steps(call_id)
        }
        fn call(&self, call_id: &str) -> Result<Option<CallRecord>, StoreError> {
            self.0.call(call_id)
        }
        fn call_events(&self, call_id: &str) -> Result<Option<CallEvents>, StoreError> {
            self.0.call_events(call_id)
        }
        fn kept_version(&self, version: &str) -> Result<Option<KeptVersion>, StoreError> {
            self.0.kept_version(version)
        }
        fn recordings(&self) -> Result<Vec<crate::store::Recording>, StoreError> {
            self.0.recordings()
        }
        fn verify(&self) -> Result<Vec<StoreError>, StoreError> {
            self.0.verify()
        }
        fn flush(&self) -> Result<(), StoreError> {
            self.0.flush()
        }
        fn keep_staff_message(
            &self,
            message: crate::people::messages::NewStaffMessage,
            mailbox_limit: usize,
        ) -> Result<Option<crate::people::messages::StaffMessage>, StoreError> {
            self.0.keep_staff_message(message, mailbox_limit)
        }
        fn staff_messages_for(
            &self,
            extension: &str,
        ) -> Result<Vec<crate::people::messages::StaffMessage>, StoreError> {
            self.0.staff_messages_for(extension)
        }
        fn staff_messages(&self) -> Result<Vec<crate::people::messages::StaffMessage>, StoreError> {
            self.0.staff_messages()
        }
        fn update_staff_message(
            &self,
            message: &crate::people::messages::StaffMessage,
        ) -> Result<bool, StoreError> {
            self.0.update_staff_message(message)
        }
        fn remove_staff_message(&self, extension: &str, id: u64) -> Result<bool, StoreError> {
            self.0.remove_staff_message(extension, id)
        }
        fn save_registrations(
            &self,
            extension: &str,
            registrations: &[crate::people::registrar::Registration],
            durable: bool,
        ) -> Result<(), StoreError> {
            self.0.save_registrations(extension, registrations, durable)
        }
        fn registrations(&self) -> Result<Vec<crate::people::registrar::Registration>, StoreError> {
            self.0.registrations()
        }
    }

    #[test]
    fn a_call_log_that_cannot_be_written_does_not_break_the_call() {
        let program = program(FLOW);
        let inner = SledStore::temporary().unwrap();
        let store: Arc<dyn Store> = Arc::new(LogFails(inner.clone()));
        let outcome = live_call(program, store.clone(), "call-4", "1");
        assert_eq!(outcome, Some(crate::engine::EndReason::FlowHungUp));
        // The caller's ticket was stored; the log has nothing, and says so without failing.
        assert_eq!(inner.tickets().unwrap().len(), 1);
        assert!(logged_call(&*store, "call-4").unwrap().is_none());
    }

    #[test]
    fn a_caller_who_hung_up_mid_prompt_hangs_up_there_again() {
        let program = program(FLOW);
        let store = Arc::new(SledStore::temporary().unwrap());
        live_call(program.clone(), store.clone(), "call-5", "h");
        let call = logged(&store, "call-5");
        let then = rerun(program.clone(), &call.call, call.events.as_ref().unwrap());
        assert!(then.hung_up_mid_prompt);
        assert_eq!(states(&then.path()), ["main.benvenuto"]);
        let now = with_current(program, &call.call, &then).unwrap();
        assert!(
            matches!(
                compare_paths(&then.path(), &path_of(&now)),
                Verdict::Same { .. }
            ),
            "{now:#?}"
        );
    }
}
