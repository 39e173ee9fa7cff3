//! The syntax tree of a flow file: plain owned data, every node with its span.
//!
//! Produced by [`crate::syntax`], consumed by [`crate::check`] and [`crate::graph`].
//! Nothing here knows about pest.

use serde::Serialize;

use crate::source::{SourceId, Span};

/// A name as written, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A string literal, unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Str {
    pub value: String,
    pub span: Span,
}

/// An option of `callback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum CallbackOption {
    /// `note "…"`: what staff are told.
    Note(Str),
    /// `citizen first` (`citizen: true`) or `staff first`: who the dialer calls first.
    First { citizen: bool, span: Span },
}

impl CallbackOption {
    /// The option's keyword as written in a flow (for messages).
    pub fn keyword(&self) -> &'static str {
        match self {
            CallbackOption::Note(_) => "note",
            CallbackOption::First { .. } => "first",
        }
    }

    pub fn span(&self) -> Span {
        match self {
            CallbackOption::Note(text) => text.span,
            CallbackOption::First { span, .. } => *span,
        }
    }
}

/// A duration literal (`6s`, `20m`, `5d`), in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Duration {
    pub millis: u64,
    pub span: Span,
}

/// An integer literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Int {
    pub value: u64,
    pub span: Span,
}

/// One parsed `.flow` file.
#[derive(Debug, Clone, Serialize)]
pub struct File {
    pub source: SourceId,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Serialize)]
pub enum Item {
    Import(Import),
    Calendar(Calendar),
    Office(Office),
    Category(Category),
    Service(Service),
    Prompt(PromptDef),
    Flow(Flow),
}

#[derive(Debug, Clone, Serialize)]
pub struct Import {
    pub path: Str,
    pub span: Span,
}

// ------------------------------------------------------------------ calendars

#[derive(Debug, Clone, Serialize)]
pub struct Calendar {
    pub name: Ident,
    pub timezone: Option<Str>,
    pub hours: Vec<WeeklyHours>,
    pub closures: Vec<Closure>,
    pub span: Span,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }
}

/// `mon-fri 08:30-13:30, 15:00-17:00`
#[derive(Debug, Clone, Serialize)]
pub struct WeeklyHours {
    /// Days as written, ranges expanded (`mon-wed` is mon, tue, wed).
    pub days: Vec<Weekday>,
    pub ranges: Vec<TimeRange>,
    pub span: Span,
}

/// A time of day in minutes since midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeOfDay {
    pub minutes: u32,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct TimeRange {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Closure {
    pub when: ClosureWhen,
    pub label: Option<Str>,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub enum ClosureWhen {
    /// `closed holidays italy`: a built-in set of public holidays.
    Holidays(Ident),
    /// `closed easter+1`: days after (or before) Easter Sunday.
    Easter { offset_days: i64 },
    /// `closed 01-29`: every year.
    Yearly { month: u32, day: u32 },
    /// `closed 2026-12-24`: once.
    Date(Date),
    /// `closed 2026-08-10..2026-08-14`: once, inclusive.
    Range { from: Date, to: Date },
}

/// A calendar date as written (not yet validated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

// ------------------------------------------------------------------ directory

#[derive(Debug, Clone, Serialize)]
pub struct Office {
    pub name: Ident,
    pub title: Str,
    pub hours: Option<Ident>,
    pub staff: Vec<Staff>,
    pub ring: Option<Duration>,
    pub appointments: Option<Appointments>,
    /// `callback 8h`: the office calls citizens back within this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<Duration>,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Staff {
    pub contact: Str,
    pub display_name: Option<Str>,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Appointments {
    pub slot: Duration,
    pub capacity: Option<Int>,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Category {
    pub name: Ident,
    pub title: Str,
    pub office: Option<Ident>,
    pub priority: Option<Ident>,
    pub sla: Option<Duration>,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: Ident,
    pub title: Str,
    pub office: Option<Ident>,
    pub hours: Option<Ident>,
    pub slot: Option<Duration>,
    pub capacity: Option<Int>,
    pub span: Span,
}

// ------------------------------------------------------------------ prompts

#[derive(Debug, Clone, Serialize)]
pub struct PromptDef {
    pub name: Ident,
    /// `None` language: the same body for every language.
    pub variants: Vec<PromptVariant>,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct PromptVariant {
    pub language: Option<Ident>,
    pub body: PromptBody,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub enum PromptBody {
    /// Templated text (minijinja syntax), spoken by text-to-speech.
    Text(Str),
    /// An audio file, relative to the flow file.
    Audio(Str),
}

/// What a `say`/`play`/`menu`/... speaks.
#[derive(Debug, Clone, Serialize)]
pub enum PromptRef {
    Inline(PromptBody),
    Named(Ident),
}

// ------------------------------------------------------------------ flows

#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    pub name: Ident,
    pub answers: Vec<Str>,
    pub language: Option<Ident>,
    pub fallback_language: Option<Ident>,
    pub max_duration: Option<Duration>,
    pub max_visits: Option<Int>,
    pub states: Vec<State>,
    pub span: Span,
    /// States that did not read (reported as syntax errors) and were left out: targets naming
    /// them are not unknown, and reachability is not judged without them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lost_states: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct State {
    pub name: Ident,
    pub action: Action,
    pub exits: Exits,
    pub span: Span,
}

/// Where a state goes next.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Exits {
    /// `-> target`
    pub next: Option<Target>,
    /// `else -> target`
    pub otherwise: Option<Target>,
    /// `{ label, label -> target ... }`
    pub branches: Vec<Branch>,
    /// Span of the block, when there is one.
    pub block: Option<Span>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Branch {
    pub labels: Vec<Ident>,
    pub target: Target,
    pub span: Span,
}

/// A state name, or the built-in `hangup` / `return`.
pub type Target = Ident;

#[derive(Debug, Clone, Serialize)]
pub enum Action {
    Say(PromptRef),
    Play(PromptRef),
    Menu {
        prompt: PromptRef,
        timeout: Option<Duration>,
        retries: Option<Retries>,
    },
    Collect {
        prompt: PromptRef,
        into: Ident,
        digits: Option<DigitsRange>,
        end: Option<Str>,
        pattern: Option<Str>,
        timeout: Option<Duration>,
        retries: Option<Retries>,
    },
    Set {
        var: Ident,
        value: Expr,
    },
    If {
        arms: Vec<IfArm>,
    },
    Goto(Target),
    Call(Ident),
    Return,
    Transfer {
        office: Ident,
        ring: Option<Duration>,
        /// `ring all`: every present person's phones ring at once (where `all` is written).
        ring_all: Option<Span>,
    },
    Queue {
        office: Ident,
        music: Option<PromptRef>,
        max_wait: Option<Duration>,
        announce_position: bool,
    },
    Callback {
        office: Ident,
        /// The options as written, in order (`note "…"`, `citizen first`, `staff first`); each
        /// may be written once (E040), the first one written counts.
        options: Vec<CallbackOption>,
    },
    Ticket {
        category: Ident,
        priority: Option<Ident>,
        fields: Vec<Field>,
    },
    /// `offer N`: the caller chooses among the next N free times.
    Appointment {
        office: Ident,
        offer: Option<Int>,
    },
    Book {
        service: Ident,
        offer: Option<Int>,
    },
    CancelBooking {
        reference: Ident,
    },
    /// `move booking VAR offer N`: the booking whose reference is in VAR moves to a time the
    /// caller chooses.
    MoveBooking {
        reference: Ident,
        offer: Int,
    },
    Record {
        prompt: PromptRef,
        into: Ident,
        max: Option<Duration>,
    },
    Conference {
        room: Str,
        pin: Option<Str>,
    },
    Webhook {
        url: Str,
        timeout: Option<Duration>,
        send: Vec<Field>,
        into: Option<Ident>,
    },
    Hangup,
}

/// The actions that wait for the caller (or another party) before going on, by keyword: the
/// one list behind [`Action::waits`] and the graph's [`crate::graph::Action::waits`].
pub const WAITING_ACTIONS: [&str; 6] = [
    "menu",
    "collect",
    "record",
    "transfer",
    "queue",
    "conference",
];

impl Action {
    /// Whether this action waits for the caller (or another party) before going on.
    pub fn waits(&self) -> bool {
        WAITING_ACTIONS.contains(&self.keyword())
    }

    /// The keyword that starts this action, as staff write it.
    pub fn keyword(&self) -> &'static str {
        match self {
            Action::Say(_) => "say",
            Action::Play(_) => "play",
            Action::Menu { .. } => "menu",
            Action::Collect { .. } => "collect",
            Action::Set { .. } => "set",
            Action::If { .. } => "if",
            Action::Goto(_) => "goto",
            Action::Call(_) => "call",
            Action::Return => "return",
            Action::Transfer { .. } => "transfer",
            Action::Queue { .. } => "queue",
            Action::Callback { .. } => "callback",
            Action::Ticket { .. } => "ticket",
            Action::Appointment { .. } => "appointment",
            Action::Book { .. } => "book",
            Action::CancelBooking { .. } => "cancel booking",
            Action::MoveBooking { .. } => "move booking",
            Action::Record { .. } => "record",
            Action::Conference { .. } => "conference",
            Action::Webhook { .. } => "webhook",
            Action::Hangup => "hangup",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub enum Retries {
    Count(Int),
    Unlimited(Span),
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct DigitsRange {
    pub min: Int,
    pub max: Int,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct IfArm {
    pub condition: Expr,
    pub target: Target,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

// ------------------------------------------------------------------ expressions

#[derive(Debug, Clone, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub enum ExprKind {
    Bool(bool),
    Int(u64),
    Str(String),
    /// `caller`, `ticket.ref`: dotted path, first segment is the variable.
    Var(Vec<Ident>),
    Call {
        function: Ident,
        args: Vec<Expr>,
    },
    Not(Box<Expr>),
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
        }
    }
}
