//! The call engine: one call as a value, driven by events, answering with commands.
//!
//! ```text
//!   Event (started, digit, playback finished, timer, results, hangup)
//!      │
//!      ▼
//!   Session::step ──► Vec<Command> (play, timers, store requests, transfer, hangup, trace)
//! ```
//!
//! Sans-IO: no sockets, clocks or files. Time arrives with every event, so a
//! test (or `centralino simulate`) controls it completely. A session holds the
//! [`Program`] (graph version) it started with until it ends, so a reload never
//! changes a call in progress.

mod eval;
mod program;
pub mod speech;

use std::collections::BTreeMap;
use std::sync::Arc;

use centralino_compiler::graph::{Action, EdgeLabel, Flow, Node, NodeId, Target};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use crate::store::{Resource, Slot};

pub use eval::Value;
pub use program::{Program, ProgramError};

/// Who called whom, on which call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallInfo {
    pub call_id: String,
    /// The caller's number as the network gave it (may be empty or "anonymous").
    pub caller: String,
    /// The number dialled.
    pub number: String,
}

/// Staff presence, as the runtime knows it now. The engine only asks.
pub trait Presence: Send + Sync {
    fn is_present(&self, contact: &str) -> bool;
}

/// Everyone is present: the default until a presence source is connected.
#[derive(Debug, Default, Clone, Copy)]
pub struct EveryonePresent;

impl Presence for EveryonePresent {
    fn is_present(&self, _contact: &str) -> bool {
        true
    }
}

/// Identifies a timer or a request this session started.
pub type Id = u64;

/// Something that happened to the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The call was answered: the flow starts.
    Started {
        at: Timestamp,
    },
    /// A key pressed (0-9, *, #).
    Digit {
        digit: char,
        at: Timestamp,
    },
    /// Typed text (chat channels): a menu key, or the whole answer to a collect.
    Text {
        text: String,
        at: Timestamp,
    },
    PlaybackFinished {
        playback: Id,
        at: Timestamp,
    },
    TimerFired {
        timer: Id,
        at: Timestamp,
    },
    TransferResult {
        request: Id,
        outcome: TransferOutcome,
        at: Timestamp,
    },
    StoreResult {
        request: Id,
        result: Result<StoreReply, String>,
        at: Timestamp,
    },
    WebhookResult {
        request: Id,
        result: Result<serde_json::Value, String>,
        at: Timestamp,
    },
    RecordingFinished {
        request: Id,
        path: String,
        duration_ms: u64,
        at: Timestamp,
    },
    ConferenceLeft {
        request: Id,
        at: Timestamp,
    },
    /// The caller hung up.
    Hangup {
        at: Timestamp,
    },
    /// The line went away without the caller hanging up.
    LineLost {
        loss: LineLoss,
        at: Timestamp,
    },
}

/// How a line can go away without the caller hanging up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineLoss {
    /// No audio from the caller for the RTP timeout.
    Silence,
    /// The signalling ended the call (e.g. no ACK to the answer).
    Signalling,
    /// The server is shutting down and the grace period is over.
    Shutdown,
}

impl From<LineLoss> for EndReason {
    fn from(loss: LineLoss) -> EndReason {
        match loss {
            LineLoss::Silence => EndReason::CallerSilent,
            LineLoss::Signalling => EndReason::SignallingLost,
            LineLoss::Shutdown => EndReason::ServerShutdown,
        }
    }
}

impl Event {
    pub fn at(&self) -> Timestamp {
        match self {
            Event::Started { at }
            | Event::Digit { at, .. }
            | Event::Text { at, .. }
            | Event::PlaybackFinished { at, .. }
            | Event::TimerFired { at, .. }
            | Event::TransferResult { at, .. }
            | Event::StoreResult { at, .. }
            | Event::WebhookResult { at, .. }
            | Event::RecordingFinished { at, .. }
            | Event::ConferenceLeft { at, .. }
            | Event::Hangup { at }
            | Event::LineLost { at, .. } => *at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferOutcome {
    /// Someone answered: the call is bridged and the flow is done.
    Answered,
    Busy,
    NoAnswer,
    Failed,
    /// Queue only: the caller waited the maximum time.
    Timeout,
    /// Queue only: the office closed while the caller waited.
    Closed,
}

/// What the store answered to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoreReply {
    Ticket {
        reference: String,
    },
    Callback {
        reference: String,
    },
    Booked {
        reference: String,
        start: Timestamp,
    },
    /// No slot with room (for a chosen slot: it was taken meanwhile).
    NoSlot,
    /// The free slots to offer, earliest first (empty: none).
    Slots {
        slots: Vec<Slot>,
    },
    /// The open booking a reference names.
    Found {
        reference: String,
        resource: Resource,
        start: Timestamp,
    },
    Cancelled {
        reference: String,
    },
    NotFound,
}

/// What to play: an audio file, or text to speak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Media {
    Audio { path: String },
    Speech { text: String, language: String },
}

/// Something the adapters must do. The call port ([`crate::port`]) keeps the timers, the
/// trace and the call log itself, runs store requests, and hands the rest to the channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    StartTimer {
        timer: Id,
        after_ms: u64,
    },
    CancelTimer {
        timer: Id,
    },
    /// The engine ends the call, once the prompts already sent have played.
    Hangup {
        reason: EndReason,
    },
    /// A node was entered (or something worth tracing happened there).
    Trace(Trace),
    /// The session is over (sent once): write the call log.
    Ended {
        reason: EndReason,
    },
    /// Audio, and the call's other parties: what only the channel can do.
    /// Serialized as the command itself (`{"command": "play", ...}`).
    #[serde(untagged)]
    Channel(ChannelCommand),
    /// A write to (or read of) the store; its answer comes back as [`Event::StoreResult`].
    /// Serialized as the request itself (`{"command": "book", ...}`).
    #[serde(untagged)]
    Store(StoreRequest),
}

/// What the engine asks of the channel that carries the call (a SIP leg, the simulator, a chat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ChannelCommand {
    Play {
        playback: Id,
        /// The prompt's key in the graph (for caches and logs).
        prompt: String,
        media: Media,
    },
    StopPlayback {
        playback: Id,
    },
    Transfer {
        request: Id,
        office: String,
        contacts: Vec<String>,
        ring_ms: u64,
        /// Ring every contact's phones at once (`ring all`), not in turn.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ring_all: bool,
    },
    Enqueue {
        request: Id,
        office: String,
        contacts: Vec<String>,
        music: Option<Media>,
        max_wait_ms: u64,
        announce_position: bool,
    },
    Record {
        request: Id,
        variable: String,
        max_ms: u64,
    },
    JoinConference {
        request: Id,
        room: String,
        pin: Option<String>,
    },
    Webhook {
        request: Id,
        url: String,
        body: BTreeMap<String, String>,
        timeout_ms: u64,
    },
}

/// A callback request's `citizen first`: the dialer calls the citizen first and tells them,
/// in the call's language, what it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitizenFirst {
    pub language: String,
}

/// What the engine asks of the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum StoreRequest {
    CreateTicket {
        request: Id,
        category: String,
        title: String,
        office: Option<String>,
        priority: String,
        fields: BTreeMap<String, String>,
        due_at: Option<Timestamp>,
    },
    CreateCallback {
        request: Id,
        office: String,
        number: String,
        note: Option<String>,
        /// The ticket opened earlier in the call (`ticket.ref`, `ticket.category`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ticket: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
        /// `citizen first`, with the call's language for the message the citizen hears.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        citizen_first: Option<CitizenFirst>,
    },
    /// Book the first free slot of an office (appointment) or a service.
    Book {
        request: Id,
        resource: Resource,
        /// The calendar whose opening hours give the slots.
        calendar: Option<String>,
        slot_ms: u64,
        capacity: u32,
        /// Exactly this slot (the caller chose it), not the first free one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        slot: Option<Slot>,
    },
    /// The first `count` free slots (after `after`, when given) to offer the caller.
    FreeSlots {
        request: Id,
        resource: Resource,
        calendar: Option<String>,
        slot_ms: u64,
        capacity: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Timestamp>,
        /// Not this one (the time of the booking being moved).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        except: Option<Timestamp>,
        count: u32,
    },
    CancelBooking {
        request: Id,
        reference: String,
    },
    /// The open booking with this reference (to move it).
    FindBooking {
        request: Id,
        reference: String,
    },
    /// Move a booking to the slot the caller chose, if it still has room.
    MoveBooking {
        request: Id,
        reference: String,
        calendar: Option<String>,
        slot: Slot,
        capacity: u32,
    },
}

impl StoreRequest {
    /// The request's id, which its answer carries.
    pub fn id(&self) -> Id {
        match self {
            StoreRequest::CreateTicket { request, .. }
            | StoreRequest::CreateCallback { request, .. }
            | StoreRequest::Book { request, .. }
            | StoreRequest::FreeSlots { request, .. }
            | StoreRequest::CancelBooking { request, .. }
            | StoreRequest::FindBooking { request, .. }
            | StoreRequest::MoveBooking { request, .. } => *request,
        }
    }
}

/// Where a call is in its flow, and why it is noted: what the call log's step trace keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    pub flow: String,
    pub state: String,
    /// `file:line:col` of the state in the flow source.
    pub location: String,
    pub note: String,
}

/// Why a call ended. The wording (in logs, transcripts, the call log and `centralino test`)
/// is [`EndReason::describe`], the only place it is written; serialized as that wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum EndReason {
    /// The flow reached `hangup`.
    FlowHungUp,
    CallerHungUp,
    MaxDuration,
    NoFlow,
    NoCurrentState,
    DeadEnd,
    ReturnWithNothing,
    NoSuchState,
    TooManySteps,
    LoopLimit,
    /// Staff answered a transfer or a queue: the caller talks to them, the flow is done.
    Bridged,
    /// The caller sent no audio for the RTP timeout.
    CallerSilent,
    /// The signalling ended the call without the caller (e.g. no ACK to the answer).
    SignallingLost,
    /// The server shut down and the call was still going at the end of the grace period.
    ServerShutdown,
}

impl EndReason {
    pub const ALL: [EndReason; 14] = [
        EndReason::FlowHungUp,
        EndReason::CallerHungUp,
        EndReason::MaxDuration,
        EndReason::NoFlow,
        EndReason::NoCurrentState,
        EndReason::DeadEnd,
        EndReason::ReturnWithNothing,
        EndReason::NoSuchState,
        EndReason::TooManySteps,
        EndReason::LoopLimit,
        EndReason::Bridged,
        EndReason::CallerSilent,
        EndReason::SignallingLost,
        EndReason::ServerShutdown,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            EndReason::FlowHungUp => "the flow hung up",
            EndReason::CallerHungUp => "caller hung up",
            EndReason::MaxDuration => "maximum call duration",
            EndReason::NoFlow => "no flow answers this number",
            EndReason::NoCurrentState => "no current state",
            EndReason::DeadEnd => "dead end",
            EndReason::ReturnWithNothing => "return with nothing to return to",
            EndReason::NoSuchState => "the graph has no such state",
            EndReason::TooManySteps => "too many steps",
            EndReason::LoopLimit => "loop limit",
            EndReason::Bridged => "put through to staff",
            EndReason::CallerSilent => "no audio from the caller",
            EndReason::SignallingLost => "the signalling was lost",
            EndReason::ServerShutdown => "the server shut down",
        }
    }

    /// A call that ended as calls should: the flow or the caller hung up, or staff took it.
    pub fn is_normal(self) -> bool {
        match self {
            EndReason::FlowHungUp | EndReason::CallerHungUp | EndReason::Bridged => true,
            EndReason::MaxDuration
            | EndReason::NoFlow
            | EndReason::NoCurrentState
            | EndReason::DeadEnd
            | EndReason::ReturnWithNothing
            | EndReason::NoSuchState
            | EndReason::TooManySteps
            | EndReason::LoopLimit
            | EndReason::CallerSilent
            | EndReason::SignallingLost
            | EndReason::ServerShutdown => false,
        }
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

impl From<EndReason> for String {
    fn from(reason: EndReason) -> String {
        reason.describe().to_owned()
    }
}

impl TryFrom<String> for EndReason {
    type Error = String;

    fn try_from(text: String) -> Result<EndReason, String> {
        EndReason::ALL
            .into_iter()
            .find(|reason| reason.describe() == text)
            .ok_or_else(|| format!("not a reason a call ends for: {text:?}"))
    }
}

/// What the session waits for.
#[derive(Debug, Clone, PartialEq)]
enum Wait {
    /// Not started yet.
    Start,
    /// A say/play to finish.
    Playback {
        playback: Id,
    },
    /// Menu or collect input.
    Input(Input),
    /// A request (store, transfer, queue, webhook, record, conference) to be answered.
    Request {
        request: Id,
        timer: Option<Id>,
    },
    /// Bridged to staff: the flow is done, the call goes on.
    Bridged,
    Ended,
}

/// What the caller can answer now ([`Session::awaiting`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Awaiting {
    /// Nothing the caller can give: a prompt, a request, or the end.
    Nothing,
    /// A menu: its keys as written, each with the state it leads to.
    Menu { keys: Vec<(String, String)> },
    /// Digits (or, on a text channel, the whole answer) for a `collect`.
    Collect { min_digits: u32, max_digits: u32 },
    /// Times offered for a booking: keys 1 to `choices` (the last may be "other times").
    Offer { choices: u32 },
}

/// Free times offered to the caller (`book ... offer N`, `move booking ... offer N`).
#[derive(Debug, Clone, PartialEq)]
struct Offer {
    resource: Resource,
    policy: BookingPolicy,
    /// How many times are offered at once.
    count: u32,
    /// The booking being moved (its reference and its time), or none for a new booking.
    moving: Option<String>,
    current: Option<Timestamp>,
    /// The times offered were searched after this one (none: from the first bookable time).
    after: Option<Timestamp>,
    /// The times offered now; key 1 is the first.
    slots: Vec<Slot>,
}

/// Where a resource's slots come from.
#[derive(Debug, Clone, PartialEq)]
struct BookingPolicy {
    calendar: Option<String>,
    slot_ms: u64,
    capacity: u32,
}

/// Times offered again after no key or a wrong one, as for a menu with no `retries`.
const OFFER_RETRIES: u32 = 2;

#[derive(Debug, Clone, PartialEq)]
struct Input {
    node: NodeId,
    attempt: u32,
    playback: Option<Id>,
    timer: Option<Id>,
    digits: String,
}

/// One call in progress.
pub struct Session {
    program: Arc<Program>,
    call: CallInfo,
    presence: Arc<dyn Presence>,
    now: Timestamp,
    vars: BTreeMap<String, Value>,
    /// Where `return` goes: each `call` node and the target after it.
    returns: Vec<(NodeId, Target)>,
    visits: BTreeMap<NodeId, u32>,
    node: Option<NodeId>,
    wait: Wait,
    next_id: Id,
    call_timer: Option<Id>,
    out: Vec<Command>,
    /// Steps taken since the last event: bounds chains of non-waiting nodes.
    steps_this_event: u32,
    /// The nodes entered and edges followed, when [`Session::recording_route`] asked.
    route: Option<Vec<Passage>>,
    /// The times offered by the current booking node, if it offers any.
    offer: Option<Offer>,
}

/// One step of a call's way through the graph: what `centralino test --coverage` counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Passage {
    /// The node was entered (its action started).
    Entered(NodeId),
    /// The node was left by its edge for this outcome (a `call` node's `Ok` when the sub-flow returned).
    Followed { from: NodeId, on: EdgeLabel },
}

/// Most nodes entered in reaction to one event; the compiler rejects loops
/// that never wait, so this only guards against a damaged graph.
const MAX_STEPS_PER_EVENT: u32 = 10_000;

impl Session {
    pub fn new(program: Arc<Program>, call: CallInfo) -> Session {
        let mut vars = BTreeMap::new();
        vars.insert(String::from("caller"), Value::Str(call.caller.clone()));
        vars.insert(String::from("number"), Value::Str(call.number.clone()));
        vars.insert(String::from("call.id"), Value::Str(call.call_id.clone()));
        Session {
            program,
            call,
            presence: Arc::new(EveryonePresent),
            now: Timestamp::UNIX_EPOCH,
            vars,
            returns: Vec::new(),
            visits: BTreeMap::new(),
            node: None,
            wait: Wait::Start,
            next_id: 1,
            call_timer: None,
            out: Vec::new(),
            steps_this_event: 0,
            route: None,
            offer: None,
        }
    }

    /// Keep the call's [`Passage`]s (for the simulator; a live call keeps none).
    pub fn recording_route(mut self) -> Session {
        self.route = Some(Vec::new());
        self
    }

    /// The nodes entered and edges followed so far, if [`Session::recording_route`] was asked.
    pub fn route(&self) -> &[Passage] {
        self.route.as_deref().unwrap_or_default()
    }

    fn pass(&mut self, passage: Passage) {
        if let Some(route) = &mut self.route {
            route.push(passage);
        }
    }

    pub fn with_presence(mut self, presence: Arc<dyn Presence>) -> Session {
        self.presence = presence;
        self
    }

    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    pub fn call(&self) -> &CallInfo {
        &self.call
    }

    /// The flow answering this call's number, if any.
    pub fn flow(&self) -> Option<&Flow> {
        self.program.graph.flow_for_number(&self.call.number)
    }

    pub fn is_ended(&self) -> bool {
        self.wait == Wait::Ended
    }

    /// The flow and the state the call is in now (none before the flow starts).
    pub fn position(&self) -> Option<(&str, &str)> {
        let node = self.current()?;
        let flow = self.flow_of(node)?;
        Some((flow.name.as_str(), node.state.as_str()))
    }

    /// What the caller can answer now, for channels that show it (web chat: buttons, inputs).
    pub fn awaiting(&self) -> Awaiting {
        let Wait::Input(_) = &self.wait else {
            return Awaiting::Nothing;
        };
        let Some(node) = self.current() else {
            return Awaiting::Nothing;
        };
        match &node.action {
            Action::Menu { .. } => Awaiting::Menu {
                keys: node
                    .edges
                    .iter()
                    .filter_map(|edge| match &edge.on {
                        EdgeLabel::Key(key) => Some((key.clone(), self.target_name(edge.to))),
                        _ => None,
                    })
                    .collect(),
            },
            Action::Collect {
                min_digits,
                max_digits,
                ..
            } => Awaiting::Collect {
                min_digits: *min_digits,
                max_digits: *max_digits,
            },
            Action::Appointment { .. }
            | Action::BookService { .. }
            | Action::MoveBooking { .. } => match &self.offer {
                Some(offer) => {
                    let shown = u32::try_from(offer.slots.len()).unwrap_or(u32::MAX);
                    let more = u32::from(shown >= offer.count);
                    Awaiting::Offer {
                        choices: shown.saturating_add(more),
                    }
                }
                None => Awaiting::Nothing,
            },
            _ => Awaiting::Nothing,
        }
    }

    /// Whether the state the call is in has a way on for `label` (a channel that cannot do
    /// what the state asks answers with the outcome the flow handles).
    pub fn can_follow(&self, label: &EdgeLabel) -> bool {
        self.current()
            .is_some_and(|node| node.edge(label).is_some())
    }

    fn target_name(&self, target: Target) -> String {
        match target {
            Target::Node(id) => self
                .program
                .graph
                .node(id)
                .map(|n| n.state.clone())
                .unwrap_or_default(),
            Target::Hangup => String::from("hangup"),
            Target::Return => String::from("return"),
        }
    }

    /// Staff answered a transfer or queue: the flow is done, the call goes on.
    pub fn is_bridged(&self) -> bool {
        self.wait == Wait::Bridged
    }

    /// A variable's current value (for tests and transcripts).
    pub fn var(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    fn id(&mut self) -> Id {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Feed one event; get what to do.
    pub fn step(&mut self, event: Event) -> Vec<Command> {
        if self.wait == Wait::Ended {
            return Vec::new();
        }
        self.now = self.now.max(event.at());
        self.steps_this_event = 0;
        match event {
            Event::Started { .. } => self.on_started(),
            Event::Hangup { .. } => self.end(EndReason::CallerHungUp, false),
            Event::LineLost { loss, .. } => self.end(loss.into(), false),
            Event::TimerFired { timer, .. } if Some(timer) == self.call_timer => {
                self.call_timer = None;
                self.trace_here("the call reached the flow's maximum duration");
                self.say_system(speech::SystemText::Goodbye);
                self.end(EndReason::MaxDuration, true);
            }
            Event::Digit { digit, .. } => self.on_input(InputEvent::Digit(digit)),
            Event::Text { text, .. } => self.on_input(InputEvent::Text(text)),
            Event::PlaybackFinished { playback, .. } => self.on_playback_finished(playback),
            Event::TimerFired { timer, .. } => self.on_timer(timer),
            Event::TransferResult {
                request, outcome, ..
            } => self.on_transfer_result(request, outcome),
            Event::StoreResult {
                request, result, ..
            } => self.on_store_result(request, result),
            Event::WebhookResult {
                request, result, ..
            } => self.on_webhook_result(request, result),
            Event::RecordingFinished {
                request,
                path,
                duration_ms,
                ..
            } => {
                if self.is_waiting_for(request) {
                    if let Some(Action::Record { var, .. }) =
                        self.current().map(|n| n.action.clone())
                    {
                        self.vars.insert(var, Value::Str(path));
                    }
                    self.vars.insert(
                        String::from("recording.duration"),
                        Value::Int(i64::try_from(duration_ms / 1000).unwrap_or(i64::MAX)),
                    );
                    self.follow(&EdgeLabel::Ok);
                }
            }
            Event::ConferenceLeft { request, .. } => {
                if self.is_waiting_for(request) {
                    self.follow(&EdgeLabel::Ok);
                }
            }
        }
        std::mem::take(&mut self.out)
    }

    fn on_started(&mut self) {
        if self.wait != Wait::Start {
            return;
        }
        let Some(flow) = self.flow().cloned() else {
            self.out.push(Command::Trace(Trace {
                flow: String::new(),
                state: String::new(),
                location: String::new(),
                note: format!("no flow answers {}", self.call.number),
            }));
            self.end(EndReason::NoFlow, true);
            return;
        };
        self.vars
            .insert(String::from("language"), Value::Str(flow.language.clone()));
        let timer = self.id();
        self.call_timer = Some(timer);
        self.out.push(Command::StartTimer {
            timer,
            after_ms: flow.max_duration_ms,
        });
        self.enter(flow.entry);
    }

    fn current(&self) -> Option<&Node> {
        self.node.and_then(|id| self.program.graph.node(id))
    }

    fn is_waiting_for(&self, id: Id) -> bool {
        matches!(self.wait, Wait::Request { request, .. } if request == id)
    }

    fn flow_of(&self, node: &Node) -> Option<&Flow> {
        self.program.graph.flow(node.flow)
    }

    fn trace(&mut self, node: &Node, note: impl Into<String>) {
        let flow = self
            .flow_of(node)
            .map(|f| f.name.clone())
            .unwrap_or_default();
        self.out.push(Command::Trace(Trace {
            flow,
            state: node.state.clone(),
            location: node.location.to_string(),
            note: note.into(),
        }));
    }

    fn trace_here(&mut self, note: &str) {
        if let Some(node) = self.current().cloned() {
            self.trace(&node, note);
        }
    }

    /// End the session. `hangup`: the engine hangs up (rather than the caller).
    fn end(&mut self, reason: EndReason, hangup: bool) {
        if self.wait == Wait::Ended {
            return;
        }
        self.cancel_input_timer();
        if let Some(timer) = self.call_timer.take() {
            self.out.push(Command::CancelTimer { timer });
        }
        if hangup {
            self.out.push(Command::Hangup { reason });
        }
        self.out.push(Command::Ended { reason });
        self.wait = Wait::Ended;
    }

    fn cancel_input_timer(&mut self) {
        match &mut self.wait {
            Wait::Input(input) => {
                if let Some(timer) = input.timer.take() {
                    self.out.push(Command::CancelTimer { timer });
                }
            }
            Wait::Request { timer, .. } => {
                if let Some(timer) = timer.take() {
                    self.out.push(Command::CancelTimer { timer });
                }
            }
            _ => {}
        }
    }

    /// Take the edge of the current node for `label`.
    fn follow(&mut self, label: &EdgeLabel) {
        self.cancel_input_timer();
        let Some(node) = self.current().cloned() else {
            self.end(EndReason::NoCurrentState, true);
            return;
        };
        match node.edge(label) {
            Some(target) => {
                self.pass(Passage::Followed {
                    from: node.id,
                    on: label.clone(),
                });
                self.go(target);
            }
            None => {
                self.trace(&node, format!("no way on for `{}`", label.describe()));
                self.end(EndReason::DeadEnd, true);
            }
        }
    }

    fn go(&mut self, target: Target) {
        match target {
            Target::Node(id) => self.enter(id),
            Target::Hangup => self.end(EndReason::FlowHungUp, true),
            Target::Return => self.do_return(),
        }
    }

    fn do_return(&mut self) {
        match self.returns.pop() {
            Some((from, target)) => {
                self.pass(Passage::Followed {
                    from,
                    on: EdgeLabel::Ok,
                });
                self.go(target);
            }
            None => self.end(EndReason::ReturnWithNothing, true),
        }
    }

    /// Enter a node: count the visit, trace it, start its action.
    fn enter(&mut self, id: NodeId) {
        self.steps_this_event += 1;
        let Some(node) = self.program.graph.node(id).cloned() else {
            self.end(EndReason::NoSuchState, true);
            return;
        };
        if self.steps_this_event > MAX_STEPS_PER_EVENT {
            self.trace(&node, "too many steps without waiting");
            self.end(EndReason::TooManySteps, true);
            return;
        }
        self.node = Some(id);
        self.offer = None;
        let visits = self.visits.entry(id).or_insert(0);
        *visits += 1;
        let visits = *visits;
        let max = self.flow_of(&node).map_or(u32::MAX, |f| f.max_visits);
        if visits > max {
            self.trace(
                &node,
                format!("entered {visits} times, more than `max visits {max}`"),
            );
            self.say_system(speech::SystemText::Goodbye);
            self.end(EndReason::LoopLimit, true);
            return;
        }
        self.trace(&node, node.action.kind());
        self.pass(Passage::Entered(id));
        self.start(&node);
    }

    fn start(&mut self, node: &Node) {
        match &node.action {
            Action::Play { prompt } => match self.play(prompt) {
                Some(playback) => self.wait = Wait::Playback { playback },
                None => self.follow(&EdgeLabel::Ok),
            },
            Action::Menu { prompt, .. } | Action::Collect { prompt, .. } => {
                let playback = self.play(prompt);
                self.wait = Wait::Input(Input {
                    node: node.id,
                    attempt: 0,
                    playback,
                    timer: None,
                    digits: String::new(),
                });
                if playback.is_none() {
                    self.start_input_timer();
                }
            }
            Action::Set { var, value } => {
                let value = eval::eval(value, &self.context());
                self.vars.insert(var.clone(), value);
                self.follow(&EdgeLabel::Ok);
            }
            Action::Branch { conditions } => {
                let context = self.context();
                let chosen = conditions
                    .iter()
                    .position(|c| eval::eval(c, &context).truthy());
                match chosen {
                    Some(i) => self.follow(&EdgeLabel::Case(u32::try_from(i).unwrap_or(u32::MAX))),
                    None => self.follow(&EdgeLabel::Else),
                }
            }
            Action::Goto => self.follow(&EdgeLabel::Ok),
            Action::Call { entry, .. } => {
                let back = node.edge(&EdgeLabel::Ok).unwrap_or(Target::Hangup);
                self.returns.push((node.id, back));
                self.enter(*entry);
            }
            Action::Return => self.do_return(),
            Action::Hangup => self.end(EndReason::FlowHungUp, true),
            Action::Transfer {
                office,
                ring_ms,
                ring_all,
            } => self.transfer(node, office, *ring_ms, *ring_all),
            Action::Queue {
                office,
                music,
                max_wait_ms,
                announce_position,
            } => self.enqueue(office, music.as_deref(), *max_wait_ms, *announce_position),
            Action::Callback {
                office,
                note,
                citizen_first,
            } => {
                let request = self.request(None);
                let number = self.call.caller.clone();
                let text = |name: &str| match self.vars.get(name) {
                    Some(Value::Str(text)) => Some(text.clone()),
                    _ => None,
                };
                let (ticket, category) = (text("ticket.ref"), text("ticket.category"));
                self.out.push(Command::Store(StoreRequest::CreateCallback {
                    request,
                    office: office.clone(),
                    number,
                    note: note.clone(),
                    ticket,
                    category,
                    citizen_first: citizen_first.then(|| CitizenFirst {
                        language: self.language(),
                    }),
                }));
            }
            Action::Ticket {
                category,
                priority,
                fields,
            } => {
                let context = self.context();
                let fields = fields
                    .iter()
                    .map(|(k, v)| (k.clone(), eval::eval(v, &context).to_string()))
                    .collect();
                let definition = self.program.graph.categories.get(category).cloned();
                let due_at = definition.as_ref().and_then(|c| c.sla_ms).and_then(|ms| {
                    self.now
                        .checked_add(jiff::SignedDuration::from_millis(
                            i64::try_from(ms).unwrap_or(i64::MAX),
                        ))
                        .ok()
                });
                let request = self.request(None);
                self.out.push(Command::Store(StoreRequest::CreateTicket {
                    request,
                    category: category.clone(),
                    title: definition
                        .as_ref()
                        .map(|c| c.title.clone())
                        .unwrap_or_default(),
                    office: definition.and_then(|c| c.office),
                    priority: priority.clone(),
                    fields,
                    due_at,
                }));
            }
            Action::Appointment { office, offer } => {
                self.book(Resource::Office(office.clone()), *offer);
            }
            Action::BookService { service, offer } => {
                self.book(Resource::Service(service.clone()), *offer);
            }
            Action::MoveBooking { var, .. } => {
                let reference = self.vars.get(var).map(Value::to_string).unwrap_or_default();
                let request = self.request(None);
                self.out.push(Command::Store(StoreRequest::FindBooking {
                    request,
                    reference,
                }));
            }
            Action::CancelBooking { var } => {
                let reference = self.vars.get(var).map(Value::to_string).unwrap_or_default();
                let request = self.request(None);
                self.out.push(Command::Store(StoreRequest::CancelBooking {
                    request,
                    reference,
                }));
            }
            Action::Record {
                prompt,
                var,
                max_ms,
            } => {
                // The prompt first; recording starts when it has played.
                match self.play(prompt) {
                    Some(playback) => self.wait = Wait::Playback { playback },
                    None => self.start_recording(var, *max_ms),
                }
            }
            Action::Conference { room, pin } => {
                let request = self.request(None);
                self.out
                    .push(Command::Channel(ChannelCommand::JoinConference {
                        request,
                        room: room.clone(),
                        pin: pin.clone(),
                    }));
            }
            Action::Webhook {
                url,
                timeout_ms,
                send,
                ..
            } => {
                let context = self.context();
                let body = send
                    .iter()
                    .map(|(k, v)| (k.clone(), eval::eval(v, &context).to_string()))
                    .collect();
                let timer = self.id();
                let request = self.request(Some(timer));
                self.out.push(Command::Channel(ChannelCommand::Webhook {
                    request,
                    url: url.clone(),
                    body,
                    timeout_ms: *timeout_ms,
                }));
                self.out.push(Command::StartTimer {
                    timer,
                    after_ms: *timeout_ms,
                });
            }
        }
    }

    /// Wait for a request's answer; returns its id.
    fn request(&mut self, timer: Option<Id>) -> Id {
        let request = self.id();
        self.wait = Wait::Request { request, timer };
        request
    }

    // ------------------------------------------------------------- bookings

    /// Where the slots of `resource` come from: an office's `appointments`, a service's `slot`.
    fn policy_of(&self, resource: &Resource) -> Option<BookingPolicy> {
        match resource {
            Resource::Office(name) => {
                let office = self.program.graph.offices.get(name)?;
                let policy = office.appointments?;
                Some(BookingPolicy {
                    calendar: office.hours.clone(),
                    slot_ms: policy.slot_ms,
                    capacity: policy.capacity,
                })
            }
            Resource::Service(name) => {
                let service = self.program.graph.services.get(name)?;
                Some(BookingPolicy {
                    calendar: service.hours.clone(),
                    slot_ms: service.slots.slot_ms,
                    capacity: service.slots.capacity,
                })
            }
        }
    }

    /// The time zone of a resource's calendar (for saying its times).
    fn zone_of(&self, resource: &Resource) -> Option<String> {
        self.policy_of(resource)
            .and_then(|p| p.calendar)
            .and_then(|c| self.program.graph.calendars.get(&c))
            .map(|c| c.timezone.clone())
    }

    /// `book` / `appointment`: the first free slot, or (`offer N`) the first N to choose from.
    fn book(&mut self, resource: Resource, offer: Option<u32>) {
        let Some(policy) = self.policy_of(&resource) else {
            self.follow(&EdgeLabel::Failed);
            return;
        };
        match offer {
            None => {
                let request = self.request(None);
                self.out.push(Command::Store(StoreRequest::Book {
                    request,
                    resource,
                    calendar: policy.calendar,
                    slot_ms: policy.slot_ms,
                    capacity: policy.capacity,
                    slot: None,
                }));
            }
            Some(count) => {
                self.offer = Some(Offer {
                    resource,
                    policy,
                    count,
                    moving: None,
                    current: None,
                    after: None,
                    slots: Vec::new(),
                });
                self.ask_free_slots(None);
            }
        }
    }

    /// Ask the store for the next free times of the offer, after `after` (none: the first).
    fn ask_free_slots(&mut self, after: Option<Timestamp>) {
        let Some(offer) = self.offer.as_mut() else {
            return;
        };
        offer.after = after;
        offer.slots.clear();
        let (resource, policy, count, except) = (
            offer.resource.clone(),
            offer.policy.clone(),
            offer.count,
            offer.current,
        );
        let request = self.request(None);
        self.out.push(Command::Store(StoreRequest::FreeSlots {
            request,
            resource,
            calendar: policy.calendar,
            slot_ms: policy.slot_ms,
            capacity: policy.capacity,
            after,
            except,
            count,
        }));
    }

    /// Say the offered times with their keys; returns the playback.
    fn say_offer(&mut self) -> Option<Id> {
        let offer = self.offer.as_ref()?;
        let language = self.language();
        let zone = self.zone_of(&offer.resource);
        let starts: Vec<Timestamp> = offer.slots.iter().map(|s| s.start).collect();
        let more = u32::try_from(starts.len()).unwrap_or(u32::MAX) >= offer.count;
        let text = speech::offer_list(&starts, zone.as_deref(), &language, more);
        let playback = self.id();
        self.out.push(Command::Channel(ChannelCommand::Play {
            playback,
            prompt: String::from("system.offer"),
            media: Media::Speech { text, language },
        }));
        Some(playback)
    }

    /// The store found free times: offer them and wait for a key.
    fn offer_slots(&mut self, slots: Vec<Slot>) {
        let Some(offer) = self.offer.as_mut() else {
            self.follow(&EdgeLabel::Failed);
            return;
        };
        if slots.is_empty() {
            if offer.after.is_some() {
                // Other times asked for, and there are none: the first ones again.
                self.say_system(speech::SystemText::NoMoreSlots);
                self.ask_free_slots(None);
            } else {
                self.trace_here("no free time to offer");
                self.follow(&EdgeLabel::Failed);
            }
            return;
        }
        let offered = slots.len();
        offer.slots = slots;
        let Some(node) = self.node else {
            return;
        };
        self.trace_here(&format!("free times offered: {offered}"));
        let playback = self.say_offer();
        self.wait = Wait::Input(Input {
            node,
            attempt: 0,
            playback,
            timer: None,
            digits: String::new(),
        });
        if playback.is_none() {
            self.start_input_timer();
        }
    }

    /// A key while times are offered: book the one chosen, or look for other times.
    fn on_offer_key(&mut self, node: &Node, key: &str) {
        let Some(offer) = self.offer.clone() else {
            return;
        };
        let more = u32::try_from(offer.slots.len()).unwrap_or(u32::MAX) >= offer.count;
        let chosen = key
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1 && *n <= offer.slots.len() + usize::from(more));
        let Some(n) = chosen else {
            self.trace(node, format!("key {key} is not one of the times offered"));
            self.retry_or(EdgeLabel::Invalid);
            return;
        };
        self.cancel_input_timer();
        match offer.slots.get(n - 1) {
            Some(slot) => {
                self.trace(node, format!("key {key}: {}", slot.start));
                let slot = *slot;
                let request = self.request(None);
                let command = match offer.moving {
                    Some(reference) => StoreRequest::MoveBooking {
                        request,
                        reference,
                        calendar: offer.policy.calendar,
                        slot,
                        capacity: offer.policy.capacity,
                    },
                    None => StoreRequest::Book {
                        request,
                        resource: offer.resource,
                        calendar: offer.policy.calendar,
                        slot_ms: offer.policy.slot_ms,
                        capacity: offer.policy.capacity,
                        slot: Some(slot),
                    },
                };
                self.out.push(Command::Store(command));
            }
            None => {
                self.trace(node, format!("key {key}: other times"));
                let last = offer.slots.last().map(|s| s.start);
                self.ask_free_slots(last);
            }
        }
    }

    fn start_recording(&mut self, var: &str, max_ms: u64) {
        let request = self.request(None);
        self.out.push(Command::Channel(ChannelCommand::Record {
            request,
            variable: var.to_owned(),
            max_ms,
        }));
    }

    fn transfer(&mut self, node: &Node, office: &str, ring_ms: u64, ring_all: bool) {
        let Some(definition) = self.program.graph.offices.get(office).cloned() else {
            self.follow(&EdgeLabel::Failed);
            return;
        };
        if !self.office_open(&definition) {
            self.trace(node, format!("office `{office}` is closed now"));
            self.follow(&EdgeLabel::Closed);
            return;
        }
        let contacts = self.present_staff(&definition);
        if contacts.is_empty() {
            self.trace(node, format!("nobody of `{office}` is present"));
            self.follow(&EdgeLabel::Busy);
            return;
        }
        let request = self.request(None);
        self.out.push(Command::Channel(ChannelCommand::Transfer {
            request,
            office: office.to_owned(),
            contacts,
            ring_ms,
            ring_all,
        }));
    }

    fn enqueue(
        &mut self,
        office: &str,
        music: Option<&str>,
        max_wait_ms: u64,
        announce_position: bool,
    ) {
        let Some(definition) = self.program.graph.offices.get(office).cloned() else {
            self.follow(&EdgeLabel::Failed);
            return;
        };
        if !self.office_open(&definition) {
            self.follow(&EdgeLabel::Closed);
            return;
        }
        let contacts = self.present_staff(&definition);
        let music = music.and_then(|key| self.media(key));
        let request = self.request(None);
        self.out.push(Command::Channel(ChannelCommand::Enqueue {
            request,
            office: office.to_owned(),
            contacts,
            music,
            max_wait_ms,
            announce_position,
        }));
    }

    fn office_open(&self, office: &centralino_compiler::graph::Office) -> bool {
        office
            .hours
            .as_ref()
            .and_then(|name| self.program.graph.calendars.get(name))
            .is_none_or(|calendar| crate::calendar::is_open(calendar, self.now))
    }

    fn present_staff(&self, office: &centralino_compiler::graph::Office) -> Vec<String> {
        office
            .staff
            .iter()
            .filter(|s| self.presence.is_present(&s.contact))
            .map(|s| s.contact.clone())
            .collect()
    }

    // ------------------------------------------------------------- prompts

    fn language(&self) -> String {
        self.vars
            .get("language")
            .map(Value::to_string)
            .unwrap_or_else(|| String::from(centralino_compiler::graph::DEFAULT_LANGUAGE))
    }

    fn fallback_language(&self) -> Option<String> {
        self.current()
            .and_then(|n| self.flow_of(n))
            .and_then(|f| f.fallback_language.clone())
            .or_else(|| self.flow().and_then(|f| f.fallback_language.clone()))
    }

    /// The media of a prompt in the call's language; a broken prompt is traced and skipped.
    fn media(&mut self, key: &str) -> Option<Media> {
        let language = self.language();
        let fallback = self.fallback_language();
        let context = self.context();
        match self
            .program
            .media(key, &language, fallback.as_deref(), &context)
        {
            Ok(media) => Some(media),
            Err(problem) => {
                self.trace_here(&format!("prompt `{key}` skipped: {problem}"));
                None
            }
        }
    }

    /// Play a prompt; `None` when there is nothing to play (the caller hears nothing).
    fn play(&mut self, key: &str) -> Option<Id> {
        let media = self.media(key)?;
        let playback = self.id();
        self.out.push(Command::Channel(ChannelCommand::Play {
            playback,
            prompt: key.to_owned(),
            media,
        }));
        Some(playback)
    }

    fn say_system(&mut self, text: speech::SystemText) {
        let language = self.language();
        let playback = self.id();
        self.out.push(Command::Channel(ChannelCommand::Play {
            playback,
            prompt: format!("system.{}", text.key()),
            media: Media::Speech {
                text: text.words(&language).to_owned(),
                language,
            },
        }));
    }

    fn context(&self) -> eval::Context<'_> {
        eval::Context {
            vars: &self.vars,
            graph: &self.program.graph,
            presence: self.presence.as_ref(),
            now: self.now,
        }
    }

    // ------------------------------------------------------------- events

    fn on_playback_finished(&mut self, playback: Id) {
        match &mut self.wait {
            Wait::Playback { playback: p } if *p == playback => {
                if let Some(Action::Record { var, max_ms, .. }) =
                    self.current().map(|n| n.action.clone())
                {
                    self.start_recording(&var, max_ms);
                } else {
                    self.follow(&EdgeLabel::Ok);
                }
            }
            Wait::Input(input) if input.playback == Some(playback) => {
                input.playback = None;
                self.start_input_timer();
            }
            _ => {}
        }
    }

    fn input_timeout(&self) -> u64 {
        match self.current().map(|n| &n.action) {
            Some(Action::Menu { timeout_ms, .. } | Action::Collect { timeout_ms, .. }) => {
                *timeout_ms
            }
            _ => centralino_compiler::graph::DEFAULT_MENU_TIMEOUT_MS,
        }
    }

    fn start_input_timer(&mut self) {
        let after_ms = self.input_timeout();
        let timer = self.id();
        if let Wait::Input(input) = &mut self.wait {
            if let Some(old) = input.timer.replace(timer) {
                self.out.push(Command::CancelTimer { timer: old });
            }
            self.out.push(Command::StartTimer { timer, after_ms });
        }
    }

    fn on_timer(&mut self, timer: Id) {
        match &self.wait {
            Wait::Input(input) if input.timer == Some(timer) => {
                let has_digits = !input.digits.is_empty();
                if let Wait::Input(input) = &mut self.wait {
                    input.timer = None;
                }
                let is_collect = matches!(
                    self.current().map(|n| &n.action),
                    Some(Action::Collect { .. })
                );
                if is_collect && has_digits {
                    self.finish_collect();
                } else {
                    self.retry_or(EdgeLabel::Timeout);
                }
            }
            Wait::Request { timer: Some(t), .. } if *t == timer => {
                if let Wait::Request { timer, .. } = &mut self.wait {
                    *timer = None;
                }
                self.trace_here("no answer in time");
                self.follow(&EdgeLabel::Failed);
            }
            _ => {}
        }
    }

    fn on_input(&mut self, input: InputEvent) {
        let Wait::Input(state) = &self.wait else {
            if let Some(node) = self.current().cloned() {
                self.trace(&node, format!("input {} ignored here", input.describe()));
            }
            return;
        };
        let playing = state.playback;
        let Some(node) = self.current().cloned() else {
            return;
        };
        match &node.action {
            Action::Menu { .. } => {
                let key = match &input {
                    InputEvent::Digit(d) => d.to_string(),
                    InputEvent::Text(t) => t.trim().to_owned(),
                };
                if let Some(playback) = playing {
                    self.out
                        .push(Command::Channel(ChannelCommand::StopPlayback { playback }));
                }
                if let Wait::Input(state) = &mut self.wait {
                    state.playback = None;
                }
                let label = EdgeLabel::Key(key.clone());
                if node.edge(&label).is_some() {
                    self.trace(&node, format!("key {key}"));
                    self.follow(&label);
                } else {
                    self.trace(&node, format!("key {key} is not in the menu"));
                    self.retry_or(EdgeLabel::Invalid);
                }
            }
            Action::Collect {
                max_digits,
                terminator,
                ..
            } => {
                match input {
                    InputEvent::Text(text) => {
                        if let Wait::Input(state) = &mut self.wait {
                            state.digits = text.trim().to_owned();
                        }
                        self.finish_collect();
                    }
                    InputEvent::Digit(d) => {
                        if let Some(playback) = playing {
                            self.out
                                .push(Command::Channel(ChannelCommand::StopPlayback { playback }));
                        }
                        let ends = terminator.as_deref().is_some_and(|t| t.starts_with(d));
                        let full = if let Wait::Input(state) = &mut self.wait {
                            state.playback = None;
                            if !ends {
                                state.digits.push(d);
                            }
                            u32::try_from(state.digits.chars().count()).unwrap_or(u32::MAX)
                                >= *max_digits
                        } else {
                            false
                        };
                        if ends || full {
                            self.finish_collect();
                        } else {
                            // Inter-digit timeout: restart the clock on every key.
                            self.start_input_timer();
                        }
                    }
                }
            }
            Action::Appointment { .. }
            | Action::BookService { .. }
            | Action::MoveBooking { .. } => {
                if let Some(playback) = playing {
                    self.out
                        .push(Command::Channel(ChannelCommand::StopPlayback { playback }));
                }
                if let Wait::Input(state) = &mut self.wait {
                    state.playback = None;
                }
                let key = match &input {
                    InputEvent::Digit(d) => d.to_string(),
                    InputEvent::Text(t) => t.trim().to_owned(),
                };
                self.on_offer_key(&node, &key);
            }
            _ => {}
        }
    }

    fn finish_collect(&mut self) {
        let Some(node) = self.current().cloned() else {
            return;
        };
        let Action::Collect {
            var,
            min_digits,
            max_digits,
            pattern,
            ..
        } = &node.action
        else {
            return;
        };
        let digits = match &self.wait {
            Wait::Input(state) => state.digits.clone(),
            _ => return,
        };
        let count = u32::try_from(digits.chars().count()).unwrap_or(u32::MAX);
        let fits = count >= *min_digits && count <= *max_digits;
        let matches = pattern
            .as_deref()
            .is_none_or(|p| self.program.pattern_matches(p, &digits));
        if fits && matches {
            self.trace(&node, format!("collected {digits}"));
            self.vars.insert(var.clone(), Value::Str(digits));
            self.follow(&EdgeLabel::Ok);
        } else {
            self.trace(&node, format!("`{digits}` is not a valid answer"));
            self.retry_or(EdgeLabel::Invalid);
        }
    }

    /// A wrong or missing answer: ask again while retries last, then take `label`.
    fn retry_or(&mut self, label: EdgeLabel) {
        let Some(node) = self.current().cloned() else {
            return;
        };
        let offering = self.offer.is_some();
        let (retries, prompt) = match &node.action {
            Action::Menu {
                retries, prompt, ..
            }
            | Action::Collect {
                retries, prompt, ..
            } => (*retries, prompt.clone()),
            Action::Appointment { .. }
            | Action::BookService { .. }
            | Action::MoveBooking { .. }
                if offering =>
            {
                (OFFER_RETRIES, String::new())
            }
            _ => (0, String::new()),
        };
        let attempt = match &self.wait {
            Wait::Input(state) => state.attempt,
            _ => return,
        };
        if attempt >= retries {
            // A booking node has no `timeout`/`invalid` ways: nothing chosen is its `else`.
            let label = if offering { EdgeLabel::Failed } else { label };
            self.follow(&label);
            return;
        }
        self.cancel_input_timer();
        if label == EdgeLabel::Invalid {
            self.say_system(speech::SystemText::InvalidChoice);
        }
        let playback = if offering {
            self.say_offer()
        } else {
            self.play(&prompt)
        };
        self.wait = Wait::Input(Input {
            node: node.id,
            attempt: attempt + 1,
            playback,
            timer: None,
            digits: String::new(),
        });
        if playback.is_none() {
            self.start_input_timer();
        }
    }

    fn on_transfer_result(&mut self, request: Id, outcome: TransferOutcome) {
        if !self.is_waiting_for(request) {
            return;
        }
        match outcome {
            TransferOutcome::Answered => {
                self.trace_here("answered: the call is bridged");
                // The node's `Ok` (answered) is its way out, though the flow goes no further.
                if let Some(from) = self.node {
                    self.pass(Passage::Followed {
                        from,
                        on: EdgeLabel::Ok,
                    });
                }
                // The flow's bounds end here: staff talk to the caller as long as needed.
                if let Some(timer) = self.call_timer.take() {
                    self.out.push(Command::CancelTimer { timer });
                }
                self.wait = Wait::Bridged;
            }
            TransferOutcome::Busy => self.follow(&EdgeLabel::Busy),
            TransferOutcome::NoAnswer => self.follow(&EdgeLabel::NoAnswer),
            TransferOutcome::Timeout => self.follow(&EdgeLabel::Timeout),
            TransferOutcome::Failed => self.follow(&EdgeLabel::Failed),
            TransferOutcome::Closed => self.follow(&EdgeLabel::Closed),
        }
    }

    fn on_store_result(&mut self, request: Id, result: Result<StoreReply, String>) {
        if !self.is_waiting_for(request) {
            return;
        }
        match result {
            Ok(StoreReply::Ticket { reference }) => {
                if let Some(Action::Ticket { category, .. }) =
                    self.current().map(|n| n.action.clone())
                {
                    self.vars
                        .insert(String::from("ticket.category"), Value::Str(category));
                }
                self.vars
                    .insert(String::from("ticket.ref"), Value::Str(reference));
                self.follow(&EdgeLabel::Ok);
            }
            Ok(StoreReply::Callback { reference }) => {
                self.vars
                    .insert(String::from("callback.ref"), Value::Str(reference));
                self.follow(&EdgeLabel::Ok);
            }
            Ok(StoreReply::Booked { reference, start }) => {
                let resource = match self.current().map(|n| n.action.clone()) {
                    Some(Action::Appointment { office, .. }) => Some(Resource::Office(office)),
                    Some(Action::BookService { service, .. }) => Some(Resource::Service(service)),
                    Some(Action::MoveBooking { .. }) => {
                        self.offer.as_ref().map(|o| o.resource.clone())
                    }
                    _ => None,
                };
                let tz = resource.as_ref().and_then(|r| self.zone_of(r));
                let (name, kind) = match resource {
                    Some(Resource::Office(office)) => (office, "office"),
                    Some(Resource::Service(service)) => (service, "service"),
                    None => (String::new(), ""),
                };
                self.offer = None;
                let language = self.language();
                let spoken = speech::spoken_time(start, tz.as_deref(), &language);
                self.vars
                    .insert(String::from("booking.ref"), Value::Str(reference));
                self.vars
                    .insert(String::from("booking.time"), Value::Str(spoken));
                self.vars
                    .insert(format!("booking.{kind}"), Value::Str(name));
                self.follow(&EdgeLabel::Ok);
            }
            Ok(StoreReply::Cancelled { reference }) => {
                self.vars
                    .insert(String::from("booking.ref"), Value::Str(reference));
                self.follow(&EdgeLabel::Ok);
            }
            Ok(StoreReply::Slots { slots }) => self.offer_slots(slots),
            Ok(StoreReply::Found {
                reference,
                resource,
                start,
            }) => {
                let count = match self.current().map(|n| &n.action) {
                    Some(Action::MoveBooking { offer, .. }) => *offer,
                    _ => 1,
                };
                let Some(policy) = self.policy_of(&resource) else {
                    self.trace_here("the booking is for something these flows no longer book");
                    self.follow(&EdgeLabel::Failed);
                    return;
                };
                let language = self.language();
                let zone = self.zone_of(&resource);
                self.vars
                    .insert(String::from("booking.ref"), Value::Str(reference.clone()));
                self.vars.insert(
                    String::from("booking.time"),
                    Value::Str(speech::spoken_time(start, zone.as_deref(), &language)),
                );
                self.offer = Some(Offer {
                    resource,
                    policy,
                    count,
                    moving: Some(reference),
                    current: Some(start),
                    after: None,
                    slots: Vec::new(),
                });
                self.ask_free_slots(None);
            }
            Ok(StoreReply::NoSlot) if self.offer.is_some() => {
                // The time chosen was taken meanwhile: say so and offer the free ones again.
                self.trace_here("the time chosen was taken meanwhile");
                self.say_system(speech::SystemText::SlotTaken);
                let after = self.offer.as_ref().and_then(|o| o.after);
                self.ask_free_slots(after);
            }
            Ok(StoreReply::NoSlot | StoreReply::NotFound) => self.follow(&EdgeLabel::Failed),
            Err(error) => {
                self.trace_here(&format!("store error: {error}"));
                self.follow(&EdgeLabel::Failed);
            }
        }
    }

    fn on_webhook_result(&mut self, request: Id, result: Result<serde_json::Value, String>) {
        if !self.is_waiting_for(request) {
            return;
        }
        match result {
            Ok(value) => {
                if let Some(Action::Webhook {
                    into: Some(var), ..
                }) = self.current().map(|n| n.action.clone())
                {
                    for (name, value) in eval::flatten(&var, &value) {
                        self.vars.insert(name, value);
                    }
                }
                self.follow(&EdgeLabel::Ok);
            }
            Err(error) => {
                self.trace_here(&format!("webhook failed: {error}"));
                self.follow(&EdgeLabel::Failed);
            }
        }
    }
}

enum InputEvent {
    Digit(char),
    Text(String),
}

impl InputEvent {
    fn describe(&self) -> String {
        match self {
            InputEvent::Digit(d) => format!("key {d}"),
            InputEvent::Text(t) => format!("text {t:?}"),
        }
    }
}
