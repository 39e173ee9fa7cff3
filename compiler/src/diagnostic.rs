//! Diagnostics: every problem the compiler can find, as data, and ALL the wording.
//!
//! Checks report a [`Problem`] (what is wrong, where, with the facts needed to
//! explain it). This module alone turns problems into words: a [`Diagnostic`]
//! with a stable code, a message, a primary label, secondary labels and a
//! help line. Renderers (human, JSON, GitHub, SARIF) only print diagnostics.

use serde::Serialize;

use crate::source::{Location, Sources, Span};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// The kind of a named thing, for messages like "unknown office `x`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum NameKind {
    State,
    Flow,
    Calendar,
    Office,
    Category,
    Service,
    Prompt,
    Function,
    Variable,
    Language,
    HolidaySet,
    Priority,
}

impl NameKind {
    pub fn describe(self) -> &'static str {
        match self {
            NameKind::State => "state",
            NameKind::Flow => "flow",
            NameKind::Calendar => "calendar",
            NameKind::Office => "office",
            NameKind::Category => "ticket category",
            NameKind::Service => "service",
            NameKind::Prompt => "prompt",
            NameKind::Function => "function",
            NameKind::Variable => "variable",
            NameKind::Language => "language",
            NameKind::HolidaySet => "holiday set",
            NameKind::Priority => "priority",
        }
    }
}

/// What an office was asked to do that it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OfficeLack {
    /// `transfer`/`queue` to an office with no staff.
    NoStaff,
    /// `appointment` with an office without `appointments`.
    NoAppointments,
    /// `available(office)` or `transfer` to an office without `hours`.
    NoHours,
}

/// What a name in a flow test (`.test` scenario) was meant to be, for E032.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ScenarioName {
    /// `call "NUMBER"`: no flow answers it.
    Number,
    Category,
    Office,
    /// `expect booking NAME`: an office with appointments, or a service.
    Bookable,
    Flow,
    /// `expect state FLOW.STATE`: a state of this flow.
    State {
        flow: String,
    },
    Priority,
    /// `expect ticket CATEGORY with { FIELD: ... }`: a field tickets of this category have.
    Field {
        category: String,
    },
    Language,
    /// `absent "sip:..."`: a staff contact.
    Contact,
    /// `webhook "PART" ...`: a part of a webhook's address.
    Webhook,
}

/// A value in a flow test that does not read, for E033.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ScenarioValue {
    /// `at "..."`
    Time,
    /// `webhook ... returns ...`
    Json,
}

/// A scenario that is not complete or repeats itself, for E034.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ScenarioFault {
    /// No `call` line.
    NoCall,
    /// A second `call` line.
    CallTwice { previous: Span },
    /// A second `transfer ...` or `queue ...` answer.
    AnswerTwice { what: &'static str, previous: Span },
    /// No `expect` line.
    NoExpectation,
    /// Two scenarios with the same name.
    DuplicateName { name: String, previous: Span },
}

/// What a habit or a word processor brought into a flow file, for E036.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Habit {
    /// “ ” ‘ ’ instead of `"`.
    CurlyQuote,
    /// `'text'` instead of `"text"`.
    SingleQuote,
    /// `festività`: a name with an accented letter; `plain` is the name without accents.
    AccentedName { name: String, plain: String },
    /// `benvenuto say ...`: a state name without its `:`.
    MissingColon { state: String },
    /// `ring 20`: a duration without its unit.
    DurationWithoutUnit { number: String },
    /// `lun`, `lunedì`: a day in Italian; `english` is how it is written.
    ItalianDay { day: String, english: &'static str },
}

/// What a `{` opens, read from the words before it, for E037.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum BraceOwner {
    /// `flow main ... {`, `calendar uffici {`...: the keyword and the name.
    Definition { keyword: String, name: String },
    /// `scegli: menu ... {`: the state and its action keyword.
    State { state: String, action: String },
    /// `with {` / `send {`, in a state when one is named on the line.
    Fields { state: Option<String> },
    /// Anything else.
    Other,
}

/// A delimiter without its partner, for E037.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Unbalanced {
    /// A `{` never closed; `closer` is the `}` that closed an outer `{` instead.
    UnclosedBrace {
        owner: BraceOwner,
        line: usize,
        closer: Option<Span>,
    },
    /// A text whose closing `"` is missing: it runs on to `end` (the next `"`, or the end of the file).
    UnclosedText { line: usize, end: Span },
    /// A `}` that closes nothing: `owner` was already closed at `closed`.
    ExtraBrace {
        owner: Option<BraceOwner>,
        closed: Option<Span>,
    },
}

/// A value the runtime uses as written, for E039.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ValueKind {
    /// `staff "sip:201@comune.perugia.it"`
    StaffAddress,
    /// `answers "075 075 075"`
    Number,
    /// `conference "giunta" pin "1234"`
    Pin,
    /// `webhook "https://..."`
    WebhookAddress,
}

/// What is wrong with the shape of a value, for E039.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ValueFault {
    /// A space inside an address.
    Space,
    /// `pis:` or `...:sip` instead of `sip:` at the start.
    SchemeBackwards { written: String },
    /// No `sip:` (or `https://`) at the start.
    NoScheme,
    /// No `@` between the user and the host.
    NoAt,
    /// Nothing before the `@`.
    NoUser,
    /// Nothing (or something broken) after the `@` or `://`.
    NoHost,
    /// Letters or signs where only digits go.
    NotDigits,
    /// No digit at all.
    NoDigits,
    /// A `+` after the start of a number.
    PlusInside,
}

/// Every problem the compiler reports. Each variant has one stable code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Problem {
    /// E001
    Syntax {
        span: Span,
        /// What would have been accepted, already in words ("a duration such as 6s").
        expected: Vec<String>,
        /// What was found, in words.
        found: String,
    },
    /// E036: a syntax error that a habit explains (curly quotes, accents, Italian days...).
    Habit { habit: Habit, span: Span },
    /// E037: a `{` never closed, a text never closed, a `}` too many.
    Unbalanced { what: Unbalanced, span: Span },
    /// E002
    UnknownName {
        kind: NameKind,
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    /// E003
    DuplicateDefinition {
        kind: NameKind,
        name: String,
        span: Span,
        previous: Span,
    },
    /// E004
    DuplicateMenuKey {
        key: String,
        span: Span,
        previous: Span,
    },
    /// E005
    DuplicateNumber {
        number: String,
        span: Span,
        /// The flow that lists the number again.
        flow: String,
        previous: Span,
        previous_flow: String,
    },
    /// E006: a state with no way on.
    DeadEnd {
        state: String,
        action: &'static str,
        span: Span,
        /// What the action needs, in words: "`-> next`", "`else -> target`"...
        needs: &'static str,
    },
    /// E007: a cycle of states that never waits for the caller.
    LoopWithoutWaiting {
        states: Vec<String>,
        span: Span,
        /// The spans of the other states in the cycle.
        others: Vec<Span>,
    },
    /// E008
    UnboundedRetries { span: Span, max: u64 },
    /// E009
    MenuWithoutFallback {
        span: Span,
        missing_timeout: bool,
        missing_invalid: bool,
        /// A state of the same flow to show in the help, when there is one.
        example: Option<String>,
    },
    /// E010
    AudioMissing { path: String, span: Span },
    /// E011
    AudioUndecodable {
        path: String,
        reason: String,
        span: Span,
    },
    /// E012
    TemplateSyntax { message: String, span: Span },
    /// E013
    UndefinedVariable {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    /// E035
    UnknownFilter {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    /// E014
    RangeEndsBeforeStart { span: Span },
    /// E015
    OverlappingRanges {
        day: &'static str,
        span: Span,
        previous: Span,
    },
    /// E016
    UnknownTimeZone {
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    /// E017: transfer or queue that does not say where the call goes when nobody answers.
    NoOverflow { action: &'static str, span: Span },
    /// E018
    ImportNotFound {
        path: String,
        span: Span,
        reason: String,
    },
    /// E019
    BadPattern { message: String, span: Span },
    /// E020
    BadDigitsRange { min: u64, max: u64, span: Span },
    /// E021
    UnknownBranch {
        action: &'static str,
        label: String,
        span: Span,
        expected: Vec<&'static str>,
    },
    /// E022
    ValueOutOfRange {
        what: &'static str,
        span: Span,
        /// The allowed range in words, e.g. "between 1s and 60s".
        allowed: String,
    },
    /// E023
    InvalidDateOrTime { text: String, span: Span },
    /// E024
    ReturnOutsideSubflow { flow: String, span: Span },
    /// E025
    EmptyFlow { flow: String, span: Span },
    /// E026
    WrongArguments {
        function: String,
        span: Span,
        /// What the function takes, e.g. "one calendar name".
        takes: &'static str,
    },
    /// E027
    ReservedName { name: String, span: Span },
    /// E028
    OfficeCannot {
        office: String,
        lack: OfficeLack,
        span: Span,
        office_span: Span,
    },
    /// E029
    RecursiveCall { flows: Vec<String>, span: Span },
    /// E030
    MissingPromptLanguage {
        prompt: String,
        language: String,
        span: Span,
        available: Vec<String>,
    },
    /// E031: a flow test (`.test`) that does not read as scenarios.
    ScenarioSyntax {
        span: Span,
        expected: Vec<String>,
        found: String,
        /// Keywords close to the word found (a misspelt `expect`, `ticket`...).
        candidates: Vec<String>,
    },
    /// E032: a name in a flow test that the flows do not have.
    ScenarioUnknownName {
        what: ScenarioName,
        name: String,
        span: Span,
        candidates: Vec<String>,
    },
    /// E033
    ScenarioBadValue {
        what: ScenarioValue,
        text: String,
        reason: String,
        span: Span,
    },
    /// E034
    ScenarioIncomplete { fault: ScenarioFault, span: Span },
    /// E038: the deployment has no flow at all, so no call is answered.
    NoFlow { span: Span },
    /// E039: a value the runtime will use does not have the shape it needs.
    BadValue {
        kind: ValueKind,
        fault: ValueFault,
        text: String,
        span: Span,
    },
    /// W006: a file that defines nothing (empty, or only comments).
    EmptyFile { file: String, span: Span },
    /// W001
    UnreachableState { state: String, span: Span },
    /// W002
    UnusedDefinition {
        kind: NameKind,
        name: String,
        span: Span,
    },
    /// W003
    CalendarWithoutTimeZone { calendar: String, span: Span },
    /// W004
    NothingAnswers { span: Span },
    /// W005
    RingAllWithOneStaff {
        office: String,
        span: Span,
        office_span: Span,
    },
}

/// A secondary label: another place that helps explain the problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// A problem in words, ready to render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    /// What the primary span shows.
    pub label: String,
    pub secondary: Vec<Label>,
    pub help: String,
}

fn quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|c| format!("`{c}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

fn words_list(items: &[String]) -> String {
    match items {
        [] => String::from("something else"),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

fn did_you_mean(candidates: &[String], otherwise: String) -> String {
    if candidates.is_empty() {
        otherwise
    } else {
        format!("did you mean {}?", quoted_list(candidates))
    }
}

/// What to do about an unknown name when nothing close is known.
fn unknown_name_help(kind: NameKind) -> String {
    match kind {
        NameKind::Language => {
            String::from("write a language as two lowercase letters, e.g. `it` or `en`")
        }
        NameKind::Priority => String::from("a priority is `low`, `normal`, `high` or `urgent`"),
        NameKind::HolidaySet => String::from("the built-in holiday set is `italy`"),
        NameKind::Function => String::from(
            "the functions are `open`, `closed`, `holiday`, `available`, `starts_with` and `len`",
        ),
        other => format!("define the {} or correct the name", other.describe()),
    }
}

/// The message of an unknown name in a flow test, and the help when nothing is close.
fn scenario_name_words(what: &ScenarioName, name: &str) -> (String, String) {
    match what {
        ScenarioName::Number => (
            format!("no flow answers \"{name}\""),
            String::from("call a number written in a flow's `answers`"),
        ),
        ScenarioName::Category => (
            format!("unknown ticket category `{name}`"),
            String::from("use the name of a `category` of the flows"),
        ),
        ScenarioName::Office => (
            format!("unknown office `{name}`"),
            String::from("use the name of an `office` of the flows"),
        ),
        ScenarioName::Bookable => (
            format!("nothing called `{name}` can be booked"),
            String::from("name an office with `appointments`, or a `service`"),
        ),
        ScenarioName::Flow => (
            format!("unknown flow `{name}`"),
            String::from("write the state as `flow.state`, e.g. `main.menu`"),
        ),
        ScenarioName::State { flow } => (
            format!("flow `{flow}` has no state `{name}`"),
            format!("use a state of flow `{flow}`"),
        ),
        ScenarioName::Priority => (
            format!("unknown priority `{name}`"),
            String::from("a priority is `low`, `normal`, `high` or `urgent`"),
        ),
        ScenarioName::Field { category } => (
            format!("tickets of category `{category}` have no field `{name}`"),
            format!("use a field that the flows' `ticket {category} with {{ ... }}` fill in"),
        ),
        ScenarioName::Language => (
            format!("no prompt is written in language `{name}`"),
            String::from("write a language as two lowercase letters, e.g. `it` or `en`"),
        ),
        ScenarioName::Contact => (
            format!("no office has staff \"{name}\""),
            String::from(
                "copy the contact from a `staff` line, or name the office: `absent anagrafe`",
            ),
        ),
        ScenarioName::Webhook => (
            format!("no webhook of the flows has \"{name}\" in its address"),
            String::from("use a part of the address written after `webhook` in the flows"),
        ),
    }
}

/// "for the menu of `scegli`", "for flow `main`"; empty when the owner is not known.
fn brace_owner_words(owner: &BraceOwner) -> String {
    match owner {
        BraceOwner::Definition { keyword, name } => format!(" for {keyword} `{name}`"),
        BraceOwner::State { state, action } if action == "menu" => {
            format!(" for the menu of `{state}`")
        }
        BraceOwner::State { state, .. } => format!(" for the branches of `{state}`"),
        BraceOwner::Fields { state: Some(state) } => format!(" for the fields of `{state}`"),
        BraceOwner::Fields { state: None } => String::from(" for the fields"),
        BraceOwner::Other => String::new(),
    }
}

/// The message, label and help of E037, adding the other place to `secondary`.
fn unbalanced_words(what: &Unbalanced, secondary: &mut Vec<Label>) -> (String, String, String) {
    match what {
        Unbalanced::UnclosedBrace {
            owner,
            line,
            closer,
        } => {
            if let Some(closer) = closer {
                secondary.push(Label {
                    span: *closer,
                    message: String::from("this `}` closes the block around it, not this one"),
                });
            }
            (
                format!(
                    "the `{{` opened at line {line}{} is never closed",
                    brace_owner_words(owner)
                ),
                String::from("opened here"),
                String::from(
                    "add a `}` where the block ends, indented like the line that opens it",
                ),
            )
        }
        Unbalanced::UnclosedText { line, end } => {
            secondary.push(Label {
                span: *end,
                message: String::from("the text runs on to here"),
            });
            (
                format!("this text, opened at line {line}, is never closed"),
                String::from("the text starts here"),
                String::from(
                    "end the text with `\"` on the same line; a `\"` inside a text is written `\\\"`",
                ),
            )
        }
        Unbalanced::ExtraBrace { owner, closed } => {
            if let Some(closed) = closed {
                let whose = owner.as_ref().map(brace_owner_words).unwrap_or_default();
                secondary.push(Label {
                    span: *closed,
                    message: format!("the `{{`{whose} is already closed here"),
                });
            }
            (
                String::from("one `}` too many: it closes nothing"),
                String::from("nothing left to close"),
                String::from(
                    "remove the `}` that is too many: this one, or the one above that closes the block too early",
                ),
            )
        }
    }
}

/// A template engine's syntax error in plain words: `{{`/`}}` rather than "variable block".
fn template_message_words(message: &str) -> String {
    let message = message.strip_prefix("syntax error: ").unwrap_or(message);
    message
        .replace(
            "expected end of variable block",
            "expected `}}` to close the `{{`",
        )
        .replace("expected end of block", "expected `%}`")
        .replace("unexpected end of input", "the text ends")
        .replace("unexpected end of variable block", "unexpected `}}`")
}

/// The message, label and help of E039.
fn value_words(kind: ValueKind, fault: &ValueFault, text: &str) -> (String, String, String) {
    let (what, example) = match kind {
        ValueKind::StaffAddress => ("staff address", "`staff \"sip:201@comune.perugia.it\"`"),
        ValueKind::Number => ("number", "`answers \"075 075 075\"`"),
        ValueKind::Pin => ("PIN", "`pin \"1234\"`"),
        ValueKind::WebhookAddress => (
            "webhook address",
            "`webhook \"https://servizi.comune.perugia.it/avvisi\"`",
        ),
    };
    let (problem, label) = match fault {
        ValueFault::Space => (String::from("has a space in it"), "space"),
        ValueFault::SchemeBackwards { written } => (
            format!("has `{written}` where `sip:` goes, at the start"),
            "`sip:` written backwards",
        ),
        ValueFault::NoScheme if kind == ValueKind::WebhookAddress => (
            String::from("does not start with `https://` or `http://`"),
            "`https://` missing",
        ),
        ValueFault::NoScheme => (String::from("does not start with `sip:`"), "`sip:` missing"),
        ValueFault::NoAt => (
            String::from("has no `@` between the extension and the host"),
            "`@` missing",
        ),
        ValueFault::NoUser => (
            String::from("has no extension before the `@`"),
            "extension missing",
        ),
        ValueFault::NoHost => (String::from("has no host name"), "host missing"),
        ValueFault::NotDigits => (String::from("may only have digits"), "not only digits"),
        ValueFault::NoDigits => (String::from("has no digits"), "no digits"),
        ValueFault::PlusInside => (
            String::from("has a `+` that is not at the start"),
            "`+` out of place",
        ),
    };
    let shape = match kind {
        ValueKind::StaffAddress => {
            "a staff address is written `sip:EXTENSION@HOST`, with no spaces"
        }
        ValueKind::Number => {
            "a number has digits, optionally a `+` at the start, spaces, `-`, `.`, `/` or brackets"
        }
        ValueKind::Pin => "a PIN is digits only, as the caller types them",
        ValueKind::WebhookAddress => {
            "a webhook address is a web address starting with `https://` (or `http://`)"
        }
    };
    (
        format!("the {what} \"{text}\" {problem}"),
        String::from(label),
        format!("{shape}, e.g. {example}"),
    )
}

/// The message, label and help of E036.
fn habit_words(habit: &Habit) -> (String, String, String) {
    match habit {
        Habit::CurlyQuote => (
            String::from("this text is in curly quotes, as a word processor writes them"),
            String::from("curly quote"),
            String::from(
                "use straight quotes \": write `\"Benvenuto\"`, not “Benvenuto”; copy flow files with a plain text editor",
            ),
        ),
        Habit::SingleQuote => (
            String::from("texts are written in double quotes, not single quotes"),
            String::from("single quote"),
            String::from("use straight double quotes \": write `\"Benvenuto\"`, not `'Benvenuto'`"),
        ),
        Habit::AccentedName { name, plain } => (
            format!("the name `{name}` has an accented letter"),
            String::from("accented letter"),
            format!(
                "names are written without accents (letters a-z, digits and `_`): write `{plain}`; texts in quotes may have accents"
            ),
        ),
        Habit::MissingColon { state } => (
            format!("the state name `{state}` needs a `:` after it"),
            String::from("`:` missing here"),
            format!("write the state as `{state}: ...`, e.g. `{state}: say \"...\" -> next`"),
        ),
        Habit::DurationWithoutUnit { number } => (
            format!("the duration `{number}` has no unit"),
            String::from("seconds, minutes, hours or days?"),
            format!(
                "write the unit right after the number: `{number}s` (seconds), `{number}m` (minutes), `{number}h` (hours) or `{number}d` (days)"
            ),
        ),
        Habit::ItalianDay { day, english } => (
            format!("days are written in English: `{day}` is `{english}`"),
            String::from("day in Italian"),
            format!(
                "write `{english}`; the days are `mon`, `tue`, `wed`, `thu`, `fri`, `sat` and `sun`, e.g. `mon-fri 08:30-13:30`"
            ),
        ),
    }
}

impl Problem {
    /// The stable code of this problem.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::Syntax { .. } => "E001",
            Problem::Habit { .. } => "E036",
            Problem::Unbalanced { .. } => "E037",
            Problem::UnknownName { .. } => "E002",
            Problem::DuplicateDefinition { .. } => "E003",
            Problem::DuplicateMenuKey { .. } => "E004",
            Problem::DuplicateNumber { .. } => "E005",
            Problem::DeadEnd { .. } => "E006",
            Problem::LoopWithoutWaiting { .. } => "E007",
            Problem::UnboundedRetries { .. } => "E008",
            Problem::MenuWithoutFallback { .. } => "E009",
            Problem::AudioMissing { .. } => "E010",
            Problem::AudioUndecodable { .. } => "E011",
            Problem::TemplateSyntax { .. } => "E012",
            Problem::UndefinedVariable { .. } => "E013",
            Problem::UnknownFilter { .. } => "E035",
            Problem::RangeEndsBeforeStart { .. } => "E014",
            Problem::OverlappingRanges { .. } => "E015",
            Problem::UnknownTimeZone { .. } => "E016",
            Problem::NoOverflow { .. } => "E017",
            Problem::ImportNotFound { .. } => "E018",
            Problem::BadPattern { .. } => "E019",
            Problem::BadDigitsRange { .. } => "E020",
            Problem::UnknownBranch { .. } => "E021",
            Problem::ValueOutOfRange { .. } => "E022",
            Problem::InvalidDateOrTime { .. } => "E023",
            Problem::ReturnOutsideSubflow { .. } => "E024",
            Problem::EmptyFlow { .. } => "E025",
            Problem::WrongArguments { .. } => "E026",
            Problem::ReservedName { .. } => "E027",
            Problem::OfficeCannot { .. } => "E028",
            Problem::RecursiveCall { .. } => "E029",
            Problem::MissingPromptLanguage { .. } => "E030",
            Problem::ScenarioSyntax { .. } => "E031",
            Problem::ScenarioUnknownName { .. } => "E032",
            Problem::ScenarioBadValue { .. } => "E033",
            Problem::ScenarioIncomplete { .. } => "E034",
            Problem::NoFlow { .. } => "E038",
            Problem::BadValue { .. } => "E039",
            Problem::EmptyFile { .. } => "W006",
            Problem::UnreachableState { .. } => "W001",
            Problem::UnusedDefinition { .. } => "W002",
            Problem::CalendarWithoutTimeZone { .. } => "W003",
            Problem::NothingAnswers { .. } => "W004",
            Problem::RingAllWithOneStaff { .. } => "W005",
        }
    }

    pub fn severity(&self) -> Severity {
        if self.code().starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        }
    }

    /// Turn the problem into words. All user-facing text of the compiler is here.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let mut secondary = Vec::new();
        let (span, message, label, help) = match self {
            Problem::Syntax {
                span,
                expected,
                found,
            } => (
                *span,
                format!(
                    "this line does not read as flow language: expected {}",
                    words_list(expected)
                ),
                format!("found {found}"),
                String::from(
                    "check the spelling and the order of the words; docs/language.md has an example of every construct",
                ),
            ),
            Problem::Habit { habit, span } => {
                let (message, label, help) = habit_words(habit);
                (*span, message, label, help)
            }
            Problem::Unbalanced { what, span } => {
                let (message, label, help) = unbalanced_words(what, &mut secondary);
                (*span, message, label, help)
            }
            Problem::UnknownName {
                kind,
                name,
                span,
                candidates,
            } => (
                *span,
                format!("unknown {} `{name}`", kind.describe()),
                format!("no {} is called `{name}`", kind.describe()),
                did_you_mean(candidates, unknown_name_help(*kind)),
            ),
            Problem::DuplicateDefinition {
                kind,
                name,
                span,
                previous,
            } => {
                secondary.push(Label {
                    span: *previous,
                    message: String::from("first defined here"),
                });
                (
                    *span,
                    format!("{} `{name}` is defined twice", kind.describe()),
                    String::from("defined again here"),
                    String::from("rename one of them, or remove the copy"),
                )
            }
            Problem::DuplicateMenuKey {
                key,
                span,
                previous,
            } => {
                secondary.push(Label {
                    span: *previous,
                    message: String::from("first used here"),
                });
                (
                    *span,
                    format!("key `{key}` is used twice in this menu"),
                    String::from("used again here"),
                    String::from("each key can lead to one place only; pick another key"),
                )
            }
            Problem::DuplicateNumber {
                number,
                span,
                flow,
                previous,
                previous_flow,
            } => {
                if flow == previous_flow {
                    secondary.push(Label {
                        span: *previous,
                        message: String::from("first listed here"),
                    });
                    (
                        *span,
                        format!("flow `{flow}` lists number \"{number}\" twice"),
                        String::from("listed again here"),
                        String::from(
                            "numbers are compared by their digits, so `+39 075 075075` and `075075075` are the same; remove the repeat",
                        ),
                    )
                } else {
                    secondary.push(Label {
                        span: *previous,
                        message: format!("answered by flow `{previous_flow}`"),
                    });
                    (
                        *span,
                        format!(
                            "number \"{number}\" is answered by two flows, `{previous_flow}` and `{flow}`"
                        ),
                        format!("also answered by flow `{flow}`"),
                        String::from(
                            "a number is answered by one flow only; remove it from one of the two (numbers are compared by their digits)",
                        ),
                    )
                }
            }
            Problem::DeadEnd {
                state,
                action,
                span,
                needs,
            } => (
                *span,
                format!("state `{state}` has no way on"),
                format!("after this `{action}` the call has nowhere to go"),
                format!("add {needs}, or end the call with `-> hangup`"),
            ),
            Problem::LoopWithoutWaiting {
                states,
                span,
                others,
            } => {
                for other in others {
                    secondary.push(Label {
                        span: *other,
                        message: String::from("part of the loop"),
                    });
                }
                (
                    *span,
                    format!(
                        "these states go round in a loop without waiting for the caller: {}",
                        states.join(" -> ")
                    ),
                    String::from("the loop starts here"),
                    String::from(
                        "put a `menu`, `collect` or `record` in the loop, so the caller decides when it goes round again",
                    ),
                )
            }
            Problem::UnboundedRetries { span, max } => (
                *span,
                format!("too many retries: a caller is asked again at most {max} times"),
                String::from("too many retries"),
                format!(
                    "use `retries N` with N at most {max}, then send the caller somewhere useful with a `timeout`/`invalid` branch"
                ),
            ),
            Problem::MenuWithoutFallback {
                span,
                missing_timeout,
                missing_invalid,
                example,
            } => {
                let example = example.as_deref().unwrap_or("hangup");
                let missing = match (missing_timeout, missing_invalid) {
                    (true, true) => "`timeout` or `invalid` branch",
                    (true, false) => "`timeout` branch",
                    _ => "`invalid` branch",
                };
                (
                    *span,
                    format!("this menu has no {missing}"),
                    String::from("a caller who presses nothing or a wrong key is stuck here"),
                    format!(
                        "add for example `timeout, invalid -> {example}` to the menu's branches"
                    ),
                )
            }
            Problem::AudioMissing { path, span } => (
                *span,
                format!("audio file \"{path}\" does not exist"),
                String::from("file not found"),
                String::from(
                    "paths are relative to the flow file; check the name, or use a text prompt",
                ),
            ),
            Problem::AudioUndecodable { path, reason, span } => (
                *span,
                format!("audio file \"{path}\" cannot be played: {reason}"),
                String::from("this file does not decode"),
                String::from("export it again as WAV (PCM), MP3, FLAC or Ogg Vorbis"),
            ),
            Problem::TemplateSyntax { message, span } => (
                *span,
                format!(
                    "the text of this prompt has a template error: {}",
                    template_message_words(message)
                ),
                String::from("template error"),
                String::from(
                    "variables are written `{{ name }}`; check that every `{{` has its `}}`",
                ),
            ),
            Problem::UndefinedVariable {
                name,
                span,
                candidates,
            } => (
                *span,
                format!("variable `{name}` is never set"),
                String::from("undefined variable"),
                did_you_mean(
                    candidates,
                    String::from(
                        "set it first (`set`, `collect ... into`), or use a built-in such as `caller`",
                    ),
                ),
            ),
            Problem::UnknownFilter {
                name,
                span,
                candidates,
            } => (
                *span,
                format!("template filter `{name}` does not exist"),
                String::from("unknown filter"),
                did_you_mean(
                    candidates,
                    String::from(
                        "filters change a value as it is spoken, e.g. `{{ booking.ref | spell }}`; docs/language.md#templates lists them",
                    ),
                ),
            ),
            Problem::RangeEndsBeforeStart { span } => (
                *span,
                String::from("this range ends before it starts"),
                String::from("end is not after start"),
                String::from(
                    "write the earlier time or date first, e.g. `08:30-13:30` or `2026-08-10..2026-08-14`",
                ),
            ),
            Problem::OverlappingRanges {
                day,
                span,
                previous,
            } => {
                secondary.push(Label {
                    span: *previous,
                    message: String::from("overlaps this range"),
                });
                (
                    *span,
                    format!("opening hours overlap on {day}"),
                    String::from("overlapping range"),
                    String::from("merge the two ranges into one, or correct the times"),
                )
            }
            Problem::UnknownTimeZone {
                name,
                span,
                candidates,
            } => (
                *span,
                format!("unknown time zone \"{name}\""),
                String::from("not a time zone name"),
                did_you_mean(
                    candidates,
                    String::from("use an IANA time zone name such as \"Europe/Rome\""),
                ),
            ),
            Problem::NoOverflow { action, span } => (
                *span,
                format!("this `{action}` does not say where the call goes when nobody answers"),
                String::from("what happens when nobody answers?"),
                String::from(
                    "add `else -> state` for when the office is closed, busy or does not answer (a callback is a good choice)",
                ),
            ),
            Problem::ImportNotFound { path, span, reason } => (
                *span,
                format!("cannot import \"{path}\": {reason}"),
                String::from("file not found"),
                String::from("imports are relative to the importing file"),
            ),
            Problem::BadPattern { message, span } => (
                *span,
                String::from("this pattern is not a valid regular expression"),
                message.clone(),
                String::from("a pattern such as \"[0-9]{5}\" accepts five digits"),
            ),
            Problem::BadDigitsRange { min, max, span } => (
                *span,
                format!("digits {min}..{max} is not a valid range"),
                String::from("invalid range"),
                String::from(
                    "write the smaller number first, between 1 and 32, e.g. `digits 1..4`",
                ),
            ),
            Problem::UnknownBranch {
                action,
                label,
                span,
                expected,
            } => (
                *span,
                format!("a `{action}` never ends with `{label}`"),
                format!("not possible after `{action}`"),
                format!(
                    "after a `{action}` the call can go on with {}",
                    quoted_list(&expected.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>())
                ),
            ),
            Problem::ValueOutOfRange {
                what,
                span,
                allowed,
            } => (
                *span,
                format!("{what} out of range"),
                String::from("value out of range"),
                format!("{what} must be {allowed}"),
            ),
            Problem::InvalidDateOrTime { text, span } => (
                *span,
                format!("`{text}` is not a valid date or time"),
                String::from("no such date or time"),
                String::from(
                    "dates are written YYYY-MM-DD or MM-DD, times HH:MM from 00:00 to 24:00",
                ),
            ),
            Problem::ReturnOutsideSubflow { flow, span } => (
                *span,
                format!("flow `{flow}` answers a number, so it cannot `return`"),
                String::from("nothing to return to"),
                String::from(
                    "end the call with `hangup`, or move these states into a sub-flow that others `call`",
                ),
            ),
            Problem::EmptyFlow { flow, span } => (
                *span,
                format!("flow `{flow}` has no states"),
                String::from("empty flow"),
                String::from("add at least one state, e.g. `start: say \"...\" -> hangup`"),
            ),
            Problem::WrongArguments {
                function,
                span,
                takes,
            } => (
                *span,
                format!("wrong arguments to `{function}`"),
                String::from("wrong arguments"),
                format!("`{function}` takes {takes}"),
            ),
            Problem::ReservedName { name, span } => (
                *span,
                format!("`{name}` is a reserved name"),
                String::from("reserved"),
                format!("`-> {name}` already has a meaning; give this state another name"),
            ),
            Problem::OfficeCannot {
                office,
                lack,
                span,
                office_span,
            } => {
                secondary.push(Label {
                    span: *office_span,
                    message: format!("office `{office}` is defined here"),
                });
                let (what, help) = match lack {
                    OfficeLack::NoStaff => (
                        "has no staff to ring",
                        "add `staff \"sip:...\"` lines to the office",
                    ),
                    OfficeLack::NoAppointments => (
                        "does not take appointments",
                        "add `appointments 20m` (slot length) to the office",
                    ),
                    OfficeLack::NoHours => (
                        "has no opening hours",
                        "add `hours calendar_name` to the office",
                    ),
                };
                (
                    *span,
                    format!("office `{office}` {what}"),
                    String::from("used here"),
                    String::from(help),
                )
            }
            Problem::RecursiveCall { flows, span } => (
                *span,
                format!(
                    "sub-flows call each other in a loop: {}",
                    flows.join(" -> ")
                ),
                String::from("this call closes the loop"),
                String::from("use `return` to go back instead of calling the caller again"),
            ),
            Problem::MissingPromptLanguage {
                prompt,
                language,
                span,
                available,
            } => (
                *span,
                format!("prompt `{prompt}` has no `{language}` text"),
                String::from("used here"),
                if available.is_empty() {
                    format!("add a variant for `{language}` to the prompt")
                } else {
                    format!(
                        "add a variant for `{language}` to the prompt (it has {}), or set `fallback` on the flow",
                        available
                            .iter()
                            .map(|a| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            ),
            Problem::ScenarioSyntax {
                span,
                expected,
                found,
                candidates,
            } => (
                *span,
                format!(
                    "this line does not read as a flow test: expected {}",
                    words_list(expected)
                ),
                format!("found {found}"),
                did_you_mean(
                    candidates,
                    String::from(
                        "a scenario reads `scenario \"name\" { call \"075075075\" ... press 1 ... expect say \"...\" }`; docs/language.md#flow-tests lists every line",
                    ),
                ),
            ),
            Problem::ScenarioUnknownName {
                what,
                name,
                span,
                candidates,
            } => {
                let (message, otherwise) = scenario_name_words(what, name);
                (
                    *span,
                    message,
                    String::from("not in the flows"),
                    did_you_mean(candidates, otherwise),
                )
            }
            Problem::ScenarioBadValue {
                what,
                text,
                reason,
                span,
            } => {
                let (message, help) = match what {
                    ScenarioValue::Time => (
                        format!("\"{text}\" is not a date and time: {reason}"),
                        "write the time of the call as \"2026-11-24 10:00\" (Rome time), or add a zone: \"2026-11-24 09:00Z\", \"2026-11-24 10:00+01:00\"",
                    ),
                    ScenarioValue::Json => (
                        format!("the webhook answer is not valid JSON: {reason}"),
                        "write the answer as JSON, e.g. `returns { \"allerta\": \"gialla\" }`, or as text in quotes: `returns \"Scuole chiuse\"`",
                    ),
                };
                (
                    *span,
                    message,
                    String::from("cannot read this"),
                    String::from(help),
                )
            }
            Problem::ScenarioIncomplete { fault, span } => {
                let (message, label, help) = match fault {
                    ScenarioFault::NoCall => (
                        String::from("this scenario makes no call"),
                        "no `call` line",
                        "add a line such as `call \"075075075\" at \"2026-11-24 10:00\"`",
                    ),
                    ScenarioFault::CallTwice { previous } => {
                        secondary.push(Label {
                            span: *previous,
                            message: String::from("the call of this scenario"),
                        });
                        (
                            String::from("a scenario makes one call only"),
                            "a second call",
                            "write the second call as a scenario of its own",
                        )
                    }
                    ScenarioFault::AnswerTwice { what, previous } => {
                        secondary.push(Label {
                            span: *previous,
                            message: String::from("first answer"),
                        });
                        (
                            format!("how the {what} answers is said twice"),
                            "said again here",
                            "keep one answer; to try another, write another scenario",
                        )
                    }
                    ScenarioFault::NoExpectation => (
                        String::from("this scenario expects nothing, so it can never fail"),
                        "no `expect` line",
                        "add what must happen, e.g. `expect say \"...\"`, `expect ticket buche` or `expect hangup`",
                    ),
                    ScenarioFault::DuplicateName { name, previous } => {
                        secondary.push(Label {
                            span: *previous,
                            message: String::from("first used here"),
                        });
                        (
                            format!("two scenarios are called \"{name}\""),
                            "used again here",
                            "give each scenario its own name, so a failure points to one",
                        )
                    }
                };
                (*span, message, String::from(label), String::from(help))
            }
            Problem::NoFlow { span } => (
                *span,
                String::from("there is no flow: no call would be answered"),
                String::from("no `flow` in any file"),
                String::from(
                    "write at least the main flow, e.g. `flow main answers \"075075075\" { benvenuto: say \"Buongiorno\" -> hangup }`",
                ),
            ),
            Problem::BadValue {
                kind,
                fault,
                text,
                span,
            } => {
                let (message, label, help) = value_words(*kind, fault, text);
                (*span, message, label, help)
            }
            Problem::EmptyFile { file, span } => (
                *span,
                format!("the file `{file}` defines nothing: it is empty or has only comments"),
                String::from("nothing here"),
                String::from(
                    "write its flows or definitions, or remove the file; if a word processor saved it, save it again as plain text",
                ),
            ),
            Problem::UnreachableState { state, span } => (
                *span,
                format!("state `{state}` can never be reached"),
                String::from("unreachable"),
                String::from("send a caller here with `-> name` from another state, or remove it"),
            ),
            Problem::UnusedDefinition { kind, name, span } => (
                *span,
                format!("{} `{name}` is never used", kind.describe()),
                String::from("unused"),
                String::from("use it in a flow, or remove it"),
            ),
            Problem::CalendarWithoutTimeZone { calendar, span } => (
                *span,
                format!("calendar `{calendar}` has no time zone; Europe/Rome is assumed"),
                String::from("no `timezone` line"),
                String::from("add `timezone \"Europe/Rome\"` to make it explicit"),
            ),
            Problem::NothingAnswers { span } => (
                *span,
                String::from("no flow answers a phone number"),
                String::from("nothing answers"),
                String::from(
                    "add `answers \"number\"` to the main flow, e.g. `flow main answers \"075075075\" { ... }`",
                ),
            ),
            Problem::RingAllWithOneStaff {
                office,
                span,
                office_span,
            } => {
                secondary.push(Label {
                    span: *office_span,
                    message: format!("office `{office}` has one `staff` line"),
                });
                (
                    *span,
                    format!(
                        "`ring all` rings the staff of `{office}` at once, but it has only one person"
                    ),
                    String::from("nobody else to ring"),
                    String::from(
                        "add the other people of the office as `staff` lines, or write `ring 20s` to ring in turn",
                    ),
                )
            }
        };
        Diagnostic {
            code: self.code(),
            severity: self.severity(),
            message,
            span,
            label,
            secondary,
            help,
        }
    }
}

/// Every diagnostic of one run, sorted by position (file, offset), errors first at equal positions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn report(&mut self, problem: Problem) {
        self.items.push(problem.to_diagnostic());
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Sort by position and drop exact duplicates.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            (a.span.source, a.span.start, a.severity, a.code, &a.message).cmp(&(
                b.span.source,
                b.span.start,
                b.severity,
                b.code,
                &b.message,
            ))
        });
        self.items.dedup();
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

/// A diagnostic with its spans resolved to file:line:col, for machine formats.
#[derive(Debug, Clone, Serialize)]
pub struct LocatedDiagnostic<'a> {
    pub code: &'static str,
    pub severity: Severity,
    pub message: &'a str,
    pub location: Location,
    pub label: &'a str,
    pub help: &'a str,
    pub related: Vec<(Location, &'a str)>,
}

impl Diagnostic {
    pub fn located<'a>(&'a self, sources: &Sources) -> LocatedDiagnostic<'a> {
        LocatedDiagnostic {
            code: self.code,
            severity: self.severity,
            message: &self.message,
            location: sources.location(self.span),
            label: &self.label,
            help: &self.help,
            related: self
                .secondary
                .iter()
                .map(|l| (sources.location(l.span), l.message.as_str()))
                .collect(),
        }
    }
}

/// Words for a grammar rule, used in syntax errors ("expected a duration such as 6s").
///
/// The syntax module passes rule names as strings so pest types stay there;
/// several rules share words (every action keyword reads "an action ...").
pub fn rule_words(rule: &str) -> String {
    let action = "an action such as `say`, `menu`, `collect`, `transfer` or `hangup`";
    let definition =
        "a definition (`flow`, `office`, `calendar`, `category`, `service`, `prompt` or `import`)";
    let words = match rule {
        "EOI" => "the end of the file",
        "ident" | "target" => "a name",
        "string" | "string_inner" => "a text in double quotes",
        "int" => "a whole number",
        "duration" => "a duration such as `6s`, `20m` or `5d`",
        "time" | "time_range" => "a time range such as `08:30-13:30`",
        "date" | "date_range" | "month_day" => "a date such as `2026-12-24` or `01-29`",
        "dtmf_key" => "a key (0-9, * or #)",
        "day" | "day_spec" | "days" | "weekly_hours" => "days such as `mon-fri`",
        "closure_when" | "holiday_set" | "easter_offset" => {
            "a closure such as `holidays italy`, `easter+1`, `01-29` or `2026-12-24`"
        }
        "kw_import" | "kw_calendar" | "kw_office" | "kw_category" | "kw_service" | "kw_prompt"
        | "kw_flow" | "item" => definition,
        "kw_say" | "kw_play" | "kw_menu" | "kw_collect" | "kw_set" | "kw_if" | "kw_goto"
        | "kw_call" | "kw_return" | "kw_transfer" | "kw_queue" | "kw_callback" | "kw_ticket"
        | "kw_appointment" | "kw_book" | "kw_cancel" | "kw_record" | "kw_conference"
        | "kw_webhook" | "kw_hangup" | "action" => action,
        "state" => "a state such as `menu: ...`",
        "next" => "`-> state`",
        "otherwise" => "`else -> state`",
        "branches" => "a block of branches `{ 1 -> state ... }`",
        "branch" | "branch_label" => "a branch such as `1 -> state`",
        "prompt_ref" => "a prompt: text in quotes, `file \"...\"` or a prompt name",
        "expr" | "or_expr" | "and_expr" | "not_expr" | "comparison" | "sum" | "negation"
        | "function_call" | "variable" | "boolean" => "an expression",
        "cmp_op" => "a comparison (`==`, `!=`, `<`, `>`, ...)",
        "add_op" => "`+` or `-`",
        "field" => "a field such as `via: via_code`",
        "offset_sign" => "`+` or `-`",
        other => {
            if let Some(keyword) = other.strip_prefix("kw_") {
                return format!("`{keyword}`");
            }
            return match other {
                "timeout_opt" => String::from("`timeout 6s`"),
                "retries_opt" => String::from("`retries 2`"),
                "digits_opt" => String::from("`digits 1..4`"),
                "end_opt" => String::from("`end \"#\"`"),
                "pattern_opt" => String::from("`pattern \"...\"`"),
                "music_opt" => String::from("`music prompt`"),
                "max_wait_opt" => String::from("`max wait 5m`"),
                "announce_opt" => String::from("`announce position`"),
                "note_opt" => String::from("`note \"...\"`"),
                "fields" => String::from("`with { field: value }`"),
                "priority" => String::from("`priority normal`"),
                "ring" => String::from("`ring 20s`"),
                "pin_opt" => String::from("`pin \"1234\"`"),
                "send_opt" => String::from("`send { field: value }`"),
                "into_opt" => String::from("`into name`"),
                "max_len_opt" => String::from("`max 2m`"),
                "timezone" => String::from("`timezone \"Europe/Rome\"`"),
                "closure" => String::from("`closed ...`"),
                "hours_ref" => String::from("`hours calendar`"),
                "staff" => String::from("`staff \"sip:...\"`"),
                "appointments" => String::from("`appointments 20m`"),
                "office_ref" => String::from("`office name`"),
                "sla" => String::from("`sla 5d`"),
                "slot" => String::from("`slot 30m`"),
                "capacity" => String::from("`capacity 2`"),
                "audio_file" => String::from("`file \"prompts/x.wav\"`"),
                "prompt_variants" | "prompt_variant" => {
                    String::from("prompt texts such as `it \"...\"`")
                }
                "answers" => String::from("`answers \"number\"`"),
                "language" => String::from("`language it`"),
                "max_duration" => String::from("`max duration 20m`"),
                "max_visits" => String::from("`max visits 5`"),
                "if_arm" => String::from("`if condition -> state`"),
                _ => format!("`{other}`"),
            };
        }
    };
    String::from(words)
}

/// Words for a rule of the flow-test grammar (`grammars/scenario.pest`), for E031,
/// with how specific they are: when a syntax error could be fixed in several
/// ways, only the most specific words are shown (after `expect`, what can be
/// expected; inside `with { ... }`, a field), not every line that could follow.
pub fn scenario_rule_words(rule: &str) -> (u8, String) {
    const STATEMENT: &str = "another line such as `press 1 2` or `expect ...`";
    const KEYS: &str = "keys (0-9, * and #), `wait`, `hangup` or `booking`";
    const EXPECTATION: &str = "what to expect: `say \"...\"`, `ticket`, `callback`, `booking`, `cancelled`, `transfer`, `queue`, `recording`, `conference`, `state`, `hangup` or `language`";
    let (specific, words) = match rule {
        "EOI" => (1, "the end of the file"),
        "kw_scenario" | "scenario" | "file" => (1, "`scenario \"name\" { ... }`"),
        "string" | "string_inner" => (2, "a text in double quotes"),
        "name" => (2, "a name"),
        "open_brace" => (2, "`{`"),
        "close_brace" => (1, "`}`"),
        "keys" | "kw_wait" | "kw_hangup" | "kw_booking" => (1, KEYS),
        "kw_from" | "from_opt" => (1, "`from \"+39...\"`"),
        "kw_at" | "at_opt" => (1, "`at \"2026-11-24 10:00\"`"),
        "kw_call" | "call" | "kw_press" | "press" | "kw_type" | "type_text" | "kw_transfer"
        | "transfer_answer" | "kw_queue" | "queue_answer" | "kw_webhook" | "webhook_answer"
        | "kw_absent" | "absent" | "kw_expect" | "expect" => (1, STATEMENT),
        "kw_answered" | "kw_busy" | "kw_noanswer" | "kw_failed" | "kw_timeout" => (
            2,
            "an answer: `answered`, `busy`, `noanswer`, `failed` (or, for a queue, `timeout`)",
        ),
        "kw_returns" | "returns_opt" | "kw_fails" => (2, "`returns ...` or `fails`"),
        "json_block" | "json_literal" => (
            2,
            "an answer in JSON such as `{ \"testo\": \"...\" }`, or a text in quotes",
        ),
        "kw_not" | "kw_say" | "expect_say" | "kw_ticket" | "expect_ticket" | "kw_callback"
        | "expect_callback" | "expect_booking" | "kw_cancelled" | "expect_cancelled"
        | "expect_transfer" | "expect_queue" | "kw_recording" | "expect_recording"
        | "kw_conference" | "expect_conference" | "kw_state" | "expect_state" | "expect_hangup"
        | "kw_language" | "expect_language" => (2, EXPECTATION),
        "kw_priority" | "priority_opt" => (1, "`priority urgent`"),
        "kw_with" | "with_opt" => (1, "`with { field: \"value\" }`"),
        "field" => (2, "a field such as `via: \"123\"`"),
        "state_ref" => (2, "a state such as `main.menu`"),
        other => return (0, format!("`{other}`")),
    };
    (specific, String::from(words))
}

/// Words for what a syntax error found at a position.
pub fn found_words(token: Option<&str>) -> String {
    match token {
        None => String::from("the end of the file"),
        Some(t) => format!("`{t}`"),
    }
}

/// `2 errors, 1 warning` / `no problems found`.
pub fn summary(diagnostics: &Diagnostics) -> String {
    let errors = diagnostics.error_count();
    let warnings = diagnostics.warning_count();
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("1 {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    match (errors, warnings) {
        (0, 0) => String::from("no problems found"),
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}
