//! The compiled graph: what the runtime loads and runs.
//!
//! A versioned, serializable state machine. Each flow is a set of [`Node`]s;
//! a node does one [`Action`] and leaves by one of its [`Edge`]s, chosen by
//! the outcome of the action ([`EdgeLabel`]). Every node keeps the span of the
//! state it came from, so the runtime can trace each step to a source line.
//! Definitions (calendars, offices, categories, services, prompts) are
//! resolved and stored by name in ordered maps, so the JSON is deterministic.

mod lower;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::ast::{BinaryOp, Weekday};
pub use crate::source::Location;
pub use lower::lower;

/// Bumped whenever the shape of [`Graph`] changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

/// Defaults for bounds the flow does not set.
pub const DEFAULT_MAX_DURATION_MS: u64 = 30 * 60 * 1000;
pub const DEFAULT_MAX_VISITS: u32 = 10;
pub const DEFAULT_MENU_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_RETRIES: u32 = 2;
pub const DEFAULT_RING_MS: u64 = 20_000;
pub const DEFAULT_QUEUE_WAIT_MS: u64 = 5 * 60 * 1000;
pub const DEFAULT_WEBHOOK_TIMEOUT_MS: u64 = 3_000;
pub const DEFAULT_RECORD_MAX_MS: u64 = 2 * 60 * 1000;
pub const DEFAULT_LANGUAGE: &str = "it";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    pub format_version: u32,
    /// `sha256:<hex>` over every source file and every audio file the flows play.
    pub content_hash: String,
    pub sources: Vec<SourceEntry>,
    /// Dialled number (as written in `answers`) to the flow that answers it.
    pub numbers: BTreeMap<String, FlowId>,
    pub flows: Vec<Flow>,
    pub nodes: Vec<Node>,
    pub prompts: BTreeMap<String, Prompt>,
    pub calendars: BTreeMap<String, Calendar>,
    pub offices: BTreeMap<String, Office>,
    pub categories: BTreeMap<String, Category>,
    pub services: BTreeMap<String, Service>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FlowId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u32);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    pub id: FlowId,
    pub name: String,
    pub answers: Vec<String>,
    pub entry: NodeId,
    pub language: String,
    pub fallback_language: Option<String>,
    pub max_duration_ms: u64,
    /// How many times one call may enter any one state of this flow.
    pub max_visits: u32,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: NodeId,
    pub flow: FlowId,
    /// The state name as written.
    pub state: String,
    pub location: Location,
    pub action: Action,
    pub edges: Vec<Edge>,
}

impl Node {
    /// Where this node goes on `label`, if it has such an edge.
    pub fn edge(&self, label: &EdgeLabel) -> Option<Target> {
        self.edges.iter().find(|e| &e.on == label).map(|e| e.to)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    pub on: EdgeLabel,
    pub to: Target,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Node(NodeId),
    Hangup,
    /// Back to the state after the `call` that entered this sub-flow.
    Return,
}

/// The outcome an edge is taken on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeLabel {
    /// The action finished normally (said, stored, booked, answered...).
    Ok,
    /// A menu key.
    Key(String),
    /// No input in time (after retries), or a queue's max wait passed.
    Timeout,
    /// Wrong input (after retries).
    Invalid,
    /// The n-th `if` condition held.
    Case(u32),
    /// No `if` condition held.
    Else,
    /// Transfer/queue: the office is closed now.
    Closed,
    /// Transfer: every staff member busy or absent.
    Busy,
    /// Transfer: nobody answered within the ring time.
    NoAnswer,
    /// Store write or webhook failed; booking found no slot; reference not found.
    Failed,
}

impl EdgeLabel {
    pub fn describe(&self) -> String {
        match self {
            EdgeLabel::Ok => String::from("ok"),
            EdgeLabel::Key(k) => k.clone(),
            EdgeLabel::Timeout => String::from("timeout"),
            EdgeLabel::Invalid => String::from("invalid"),
            EdgeLabel::Case(i) => format!("if #{}", i + 1),
            EdgeLabel::Else => String::from("else"),
            EdgeLabel::Closed => String::from("closed"),
            EdgeLabel::Busy => String::from("busy"),
            EdgeLabel::NoAnswer => String::from("noanswer"),
            EdgeLabel::Failed => String::from("failed"),
        }
    }
}

/// What a node does. Prompts are keys of [`Graph::prompts`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// `say` / `play`: speak a prompt, then `Ok`.
    Play {
        prompt: String,
    },
    Menu {
        prompt: String,
        timeout_ms: u64,
        retries: u32,
    },
    Collect {
        prompt: String,
        var: String,
        min_digits: u32,
        max_digits: u32,
        terminator: Option<String>,
        pattern: Option<String>,
        timeout_ms: u64,
        retries: u32,
    },
    Set {
        var: String,
        value: Expr,
    },
    /// `if`: edges `Case(i)` for the first condition that holds, else `Else`.
    Branch {
        conditions: Vec<Expr>,
    },
    Goto,
    /// Enter a sub-flow; `Ok` is taken when it returns.
    Call {
        flow: FlowId,
        entry: NodeId,
    },
    Return,
    Hangup,
    Transfer {
        office: String,
        ring_ms: u64,
        /// Every present person's phones ring at once (`ring all`), instead of in turn.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ring_all: bool,
    },
    Queue {
        office: String,
        music: Option<String>,
        max_wait_ms: u64,
        announce_position: bool,
    },
    Callback {
        office: String,
        note: Option<String>,
        /// `citizen first`: the dialer calls the citizen first, then staff (absent: staff first).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        citizen_first: bool,
    },
    Ticket {
        category: String,
        priority: String,
        fields: BTreeMap<String, Expr>,
    },
    /// `offer`: how many free times the caller chooses among (none: the first is taken).
    Appointment {
        office: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offer: Option<u32>,
    },
    BookService {
        service: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offer: Option<u32>,
    },
    CancelBooking {
        var: String,
    },
    /// Moves the booking whose reference is in `var` to a time the caller chooses among `offer`.
    MoveBooking {
        var: String,
        offer: u32,
    },
    Record {
        prompt: String,
        var: String,
        max_ms: u64,
    },
    Conference {
        room: String,
        pin: Option<String>,
    },
    Webhook {
        url: String,
        timeout_ms: u64,
        send: BTreeMap<String, Expr>,
        into: Option<String>,
    },
}

impl Action {
    /// Whether this action waits for the caller (or another party) before going on.
    /// The list is [`crate::ast::WAITING_ACTIONS`], shared with the checks.
    pub fn waits(&self) -> bool {
        crate::ast::WAITING_ACTIONS.contains(&self.kind())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Action::Play { .. } => "play",
            Action::Menu { .. } => "menu",
            Action::Collect { .. } => "collect",
            Action::Set { .. } => "set",
            Action::Branch { .. } => "if",
            Action::Goto => "goto",
            Action::Call { .. } => "call",
            Action::Return => "return",
            Action::Hangup => "hangup",
            Action::Transfer { .. } => "transfer",
            Action::Queue { .. } => "queue",
            Action::Callback { .. } => "callback",
            Action::Ticket { .. } => "ticket",
            Action::Appointment { .. } => "appointment",
            Action::BookService { .. } => "book",
            Action::CancelBooking { .. } => "cancel booking",
            Action::MoveBooking { .. } => "move booking",
            Action::Record { .. } => "record",
            Action::Conference { .. } => "conference",
            Action::Webhook { .. } => "webhook",
        }
    }
}

/// An expression, resolved: definition names are [`Expr::Name`], call variables [`Expr::Var`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    Bool(bool),
    Int(i64),
    Str(String),
    /// A call variable, as a dotted path (`ticket.ref`).
    Var(String),
    /// A calendar or office named as a function argument.
    Name(String),
    Call {
        function: Function,
        args: Vec<Expr>,
    },
    Not(Box<Expr>),
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
}

/// The built-in functions of the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    /// `open(calendar)`: the calendar is open now.
    Open,
    /// `closed(calendar)`
    Closed,
    /// `holiday(calendar)`: today is a closure day of the calendar.
    Holiday,
    /// `available(office)`: open by its hours and someone present.
    Available,
    /// `starts_with(text, prefix)`
    StartsWith,
    /// `len(text)`
    Len,
}

impl Function {
    pub const ALL: [(&'static str, Function); 6] = [
        ("open", Function::Open),
        ("closed", Function::Closed),
        ("holiday", Function::Holiday),
        ("available", Function::Available),
        ("starts_with", Function::StartsWith),
        ("len", Function::Len),
    ];

    pub fn from_name(name: &str) -> Option<Function> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// Language code (`it`, `en`) or `*` for every language.
    pub variants: BTreeMap<String, PromptBody>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PromptBody {
    /// minijinja template text, spoken by text-to-speech.
    Text {
        template: String,
        /// Variables the template reads (dotted paths), sorted.
        variables: Vec<String>,
    },
    Audio {
        /// Path as the runtime opens it (relative to where the compiler ran, or absolute).
        path: String,
        duration_ms: u64,
        sha256: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calendar {
    pub timezone: String,
    /// Opening ranges per weekday, minutes since midnight, sorted.
    pub weekly: BTreeMap<Weekday, Vec<(u32, u32)>>,
    pub closures: Vec<Closure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closure {
    pub when: ClosureRule,
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClosureRule {
    /// A built-in set of public holidays, e.g. `italy`.
    Holidays {
        set: String,
    },
    Easter {
        offset_days: i64,
    },
    Yearly {
        month: u32,
        day: u32,
    },
    Dates {
        from: String,
        to: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Office {
    pub title: String,
    pub hours: Option<String>,
    pub staff: Vec<StaffMember>,
    pub ring_ms: u64,
    pub appointments: Option<SlotPolicy>,
    /// `callback 8h`: callbacks of this office are promised within this time; `None`: the
    /// deployment's default (`[callbacks] promise`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    pub contact: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotPolicy {
    pub slot_ms: u64,
    pub capacity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    pub title: String,
    pub office: Option<String>,
    pub priority: String,
    pub sla_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub title: String,
    pub office: Option<String>,
    pub hours: Option<String>,
    pub slots: SlotPolicy,
}

impl Graph {
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.0 as usize)
    }

    pub fn flow(&self, id: FlowId) -> Option<&Flow> {
        self.flows.get(id.0 as usize)
    }

    /// The flow answering a dialled number. Numbers match as written or by their
    /// digits alone, so `+39 075 075075` finds `075075075` only if written so;
    /// see [`normalize_number`].
    pub fn flow_for_number(&self, number: &str) -> Option<&Flow> {
        let wanted = normalize_number(number);
        self.numbers
            .iter()
            .find(|(n, _)| normalize_number(n) == wanted)
            .and_then(|(_, id)| self.flow(*id))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Graph, GraphError> {
        let graph: Graph =
            serde_json::from_str(text).map_err(|e| GraphError::Malformed(e.to_string()))?;
        if graph.format_version != FORMAT_VERSION {
            return Err(GraphError::Version {
                found: graph.format_version,
                expected: FORMAT_VERSION,
            });
        }
        Ok(graph)
    }
}

/// A number as digits (and a leading `+`), without spaces, dots or dashes.
pub fn normalize_number(number: &str) -> String {
    number
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("not a Centralino graph: {0}")]
    Malformed(String),
    #[error("graph format version {found}, this build reads version {expected}")]
    Version { found: u32, expected: u32 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph_waits_where_the_checks_say_a_flow_waits() {
        let conference = Action::Conference {
            room: "sala".to_owned(),
            pin: None,
        };
        assert!(conference.waits());
        assert!(!Action::Hangup.waits());
        assert!(!Action::Return.waits());
        assert!(!Action::Goto.waits());
    }
}
