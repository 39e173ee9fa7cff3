//! Diagnostics: every problem the compiler can find, as data, and how it is put into words.
//!
//! Checks report a [`Problem`] (what is wrong, where, with the facts needed to
//! explain it). This module alone turns problems into words: a [`Diagnostic`]
//! with a stable code, a message, a primary label, secondary labels and a
//! help line. The words themselves are Fluent messages in `locales/en` and
//! `locales/it` ([`crate::lang`]); this module picks the message and gives it
//! the facts. Renderers (human, JSON, GitHub, SARIF) only print diagnostics.

use fluent_bundle::{FluentArgs, FluentValue};
use serde::Serialize;

use crate::lang::{self, Lang};
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
    /// The id of the Fluent message that names this kind in diagnostics.
    pub fn message_id(self) -> &'static str {
        match self {
            NameKind::State => "kind-state",
            NameKind::Flow => "kind-flow",
            NameKind::Calendar => "kind-calendar",
            NameKind::Office => "kind-office",
            NameKind::Category => "kind-category",
            NameKind::Service => "kind-service",
            NameKind::Prompt => "kind-prompt",
            NameKind::Function => "kind-function",
            NameKind::Variable => "kind-variable",
            NameKind::Language => "kind-language",
            NameKind::HolidaySet => "kind-holiday-set",
            NameKind::Priority => "kind-priority",
        }
    }

    /// The kind in English words, for the language server's hover and completion.
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

/// The values a setting may take, for E022.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Allowed {
    /// `between 1s and 60s`: the bounds as written in flow files.
    Between {
        min: &'static str,
        max: &'static str,
    },
    /// An end key: `#` or `*`.
    EndKey,
    /// Days from Easter, at most `max` either way.
    Easter { max: u64 },
    /// A setting that must be written, within these bounds.
    SlotMissing {
        min: &'static str,
        max: &'static str,
    },
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
    /// E040: an option of an action written twice (`callback x note "a" note "b"`,
    /// `citizen first … staff first`).
    OptionTwice {
        action: &'static str,
        option: &'static str,
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
        /// The message id of what the action needs (`needs-next`, `needs-else-failure`...).
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
        /// The message id of what is out of range (`what-timeout`...).
        what: &'static str,
        span: Span,
        allowed: Allowed,
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
        /// The message id of what the function takes (`takes-calendar`...).
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

/// Arguments of a Fluent message: `args!(name = value, ...)`.
macro_rules! args {
    ($($key:ident = $value:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut args = FluentArgs::new();
        $(args.set(stringify!($key), FluentValue::from($value));)*
        args
    }};
}

/// The words of one language: Fluent messages, with the lists and phrases built from them.
#[derive(Debug, Clone, Copy)]
struct Words {
    lang: Lang,
}

impl Words {
    fn t(self, id: &str, args: &FluentArgs<'_>) -> String {
        lang::text(self.lang, id, None, Some(args))
    }

    fn plain(self, id: &str) -> String {
        lang::text(self.lang, id, None, None)
    }

    fn attr(self, id: &str, attribute: &str, args: &FluentArgs<'_>) -> String {
        lang::text(self.lang, id, Some(attribute), Some(args))
    }

    /// A message with its `.label` and `.help`.
    fn three(self, id: &str, args: &FluentArgs<'_>) -> (String, String, String) {
        (
            self.t(id, args),
            self.attr(id, "label", args),
            self.attr(id, "help", args),
        )
    }

    /// A phrase of a syntax error: code (starting with a backtick) as it is, otherwise a message id.
    fn phrase(self, phrase: &str) -> String {
        if phrase.starts_with('`') || phrase.is_empty() {
            phrase.to_owned()
        } else {
            self.plain(phrase)
        }
    }

    /// `a`, `a or b`, `a, b or c`.
    fn or_list(self, items: &[String]) -> String {
        match items {
            [] => self.plain("something-else"),
            [one] => one.clone(),
            [init @ .., last] => self.t(
                "list-or",
                &args!(init = init.join(", "), last = last.as_str()),
            ),
        }
    }

    fn quoted_or_list(self, items: &[String]) -> String {
        let quoted: Vec<String> = items.iter().map(|c| format!("`{c}`")).collect();
        if quoted.is_empty() {
            String::new()
        } else {
            self.or_list(&quoted)
        }
    }

    fn did_you_mean(self, candidates: &[String], otherwise: String) -> String {
        if candidates.is_empty() {
            otherwise
        } else {
            self.t(
                "did-you-mean",
                &args!(names = self.quoted_or_list(candidates)),
            )
        }
    }

    /// The word for a kind of name and its grammatical gender.
    fn kind(self, kind: NameKind) -> (String, String) {
        let id = kind.message_id();
        (
            self.plain(id),
            lang::text(self.lang, id, Some("gender"), None),
        )
    }

    /// What to do about an unknown name when nothing close is known.
    fn unknown_name_help(self, kind: NameKind) -> String {
        match kind {
            NameKind::Language => self.plain("e002-help-language"),
            NameKind::Priority => self.plain("e002-help-priority"),
            NameKind::HolidaySet => self.plain("e002-help-holiday-set"),
            NameKind::Function => self.plain("e002-help-function"),
            other => {
                let (what, gender) = self.kind(other);
                self.t("e002-help", &args!(what = what, gender = gender))
            }
        }
    }

    /// " for the menu of `scegli`", " for flow `main`"; empty when the owner is not known.
    fn brace_owner(self, owner: &BraceOwner) -> String {
        let words = match owner {
            BraceOwner::Definition { keyword, name } => self.t(
                "owner-definition",
                &args!(keyword = keyword.as_str(), name = name.as_str()),
            ),
            BraceOwner::State { state, action } if action == "menu" => {
                self.t("owner-menu", &args!(state = state.as_str()))
            }
            BraceOwner::State { state, .. } => {
                self.t("owner-branches", &args!(state = state.as_str()))
            }
            BraceOwner::Fields { state: Some(state) } => {
                self.t("owner-fields-of", &args!(state = state.as_str()))
            }
            BraceOwner::Fields { state: None } => self.plain("owner-fields"),
            BraceOwner::Other => return String::new(),
        };
        format!(" {words}")
    }

    /// The message, label and help of E037, adding the other place to `secondary`.
    fn unbalanced(self, what: &Unbalanced, secondary: &mut Vec<Label>) -> (String, String, String) {
        match what {
            Unbalanced::UnclosedBrace {
                owner,
                line,
                closer,
            } => {
                if let Some(closer) = closer {
                    secondary.push(Label {
                        span: *closer,
                        message: self.plain("e037-closer"),
                    });
                }
                self.three(
                    "e037-unclosed-brace",
                    &args!(line = line.to_string(), owner = self.brace_owner(owner)),
                )
            }
            Unbalanced::UnclosedText { line, end } => {
                secondary.push(Label {
                    span: *end,
                    message: self.plain("e037-text-end"),
                });
                self.three("e037-unclosed-text", &args!(line = line.to_string()))
            }
            Unbalanced::ExtraBrace { owner, closed } => {
                if let Some(closed) = closed {
                    let whose = owner
                        .as_ref()
                        .map(|o| self.brace_owner(o))
                        .unwrap_or_default();
                    secondary.push(Label {
                        span: *closed,
                        message: self.t("e037-already-closed", &args!(owner = whose)),
                    });
                }
                self.three("e037-extra-brace", &args!())
            }
        }
    }

    /// A template engine's syntax error in plain words: `{{`/`}}` rather than "variable block".
    fn template_message(self, message: &str) -> String {
        let message = message.strip_prefix("syntax error: ").unwrap_or(message);
        message
            .replace(
                "expected end of variable block",
                &self.plain("template-expected-close"),
            )
            .replace(
                "expected end of block",
                &self.plain("template-expected-block-end"),
            )
            .replace(
                "unexpected end of input",
                &self.plain("template-input-ends"),
            )
            .replace(
                "unexpected end of variable block",
                &self.plain("template-unexpected-close"),
            )
            .split(", ")
            .map(|part| match part.strip_prefix("unexpected ") {
                // "unexpected `}`": the token is code, the words around it are ours.
                Some(token) if token.starts_with('`') => {
                    self.t("template-unexpected", &args!(token = token))
                }
                _ => part.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The message, label and help of E036.
    fn habit(self, habit: &Habit) -> (String, String, String) {
        match habit {
            Habit::CurlyQuote => self.three("e036-curly-quote", &args!()),
            Habit::SingleQuote => self.three("e036-single-quote", &args!()),
            Habit::AccentedName { name, plain } => self.three(
                "e036-accented-name",
                &args!(name = name.as_str(), plain = plain.as_str()),
            ),
            Habit::MissingColon { state } => {
                self.three("e036-missing-colon", &args!(state = state.as_str()))
            }
            Habit::DurationWithoutUnit { number } => self.three(
                "e036-duration-without-unit",
                &args!(number = number.as_str()),
            ),
            Habit::ItalianDay { day, english } => self.three(
                "e036-italian-day",
                &args!(day = day.as_str(), english = *english),
            ),
        }
    }

    /// The message, label and help of E039.
    fn value(self, kind: ValueKind, fault: &ValueFault, text: &str) -> (String, String, String) {
        let kind = match kind {
            ValueKind::StaffAddress => "staff",
            ValueKind::Number => "number",
            ValueKind::Pin => "pin",
            ValueKind::WebhookAddress => "webhook",
        };
        let (fault, written) = match fault {
            ValueFault::Space => ("space", ""),
            ValueFault::SchemeBackwards { written } => ("backwards", written.as_str()),
            ValueFault::NoScheme => ("no-scheme", ""),
            ValueFault::NoAt => ("no-at", ""),
            ValueFault::NoUser => ("no-user", ""),
            ValueFault::NoHost => ("no-host", ""),
            ValueFault::NotDigits => ("not-digits", ""),
            ValueFault::NoDigits => ("no-digits", ""),
            ValueFault::PlusInside => ("plus-inside", ""),
        };
        self.three(
            "e039",
            &args!(kind = kind, fault = fault, text = text, written = written),
        )
    }

    /// The allowed range of E022 in words.
    fn allowed(self, allowed: &Allowed) -> String {
        match allowed {
            Allowed::Between { min, max } => {
                self.t("allowed-between", &args!(min = *min, max = *max))
            }
            Allowed::EndKey => self.plain("allowed-end-key"),
            Allowed::Easter { max } => self.t("allowed-easter", &args!(max = max.to_string())),
            Allowed::SlotMissing { min, max } => {
                self.t("allowed-slot-missing", &args!(min = *min, max = *max))
            }
        }
    }

    /// The message and help of an unknown name in a flow test.
    fn scenario_name(self, what: &ScenarioName, name: &str) -> (String, String) {
        let (id, args) = match what {
            ScenarioName::Number => ("e032-number", args!(name = name)),
            ScenarioName::Category => ("e032-category", args!(name = name)),
            ScenarioName::Office => ("e032-office", args!(name = name)),
            ScenarioName::Bookable => ("e032-bookable", args!(name = name)),
            ScenarioName::Flow => ("e032-flow", args!(name = name)),
            ScenarioName::State { flow } => {
                ("e032-state", args!(name = name, flow = flow.as_str()))
            }
            ScenarioName::Priority => ("e032-priority", args!(name = name)),
            ScenarioName::Field { category } => (
                "e032-field",
                args!(name = name, category = category.as_str()),
            ),
            ScenarioName::Language => ("e032-language", args!(name = name)),
            ScenarioName::Contact => ("e032-contact", args!(name = name)),
            ScenarioName::Webhook => ("e032-webhook", args!(name = name)),
        };
        (self.t(id, &args), self.attr(id, "help", &args))
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
            Problem::OptionTwice { .. } => "E040",
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

    /// Turn the problem into words of a language. The words are in `locales/*/diagnostics.ftl`;
    /// this picks the message and gives it the facts.
    pub fn to_diagnostic(&self, lang: Lang) -> Diagnostic {
        let w = Words { lang };
        let mut secondary = Vec::new();
        let mut also = |span: Span, message: String| secondary.push(Label { span, message });
        let (span, (message, label, help)) = match self {
            Problem::Syntax {
                span,
                expected,
                found,
            } => {
                let expected: Vec<String> = expected.iter().map(|e| w.phrase(e)).collect();
                (
                    *span,
                    w.three(
                        "e001",
                        &args!(expected = w.or_list(&expected), found = w.phrase(found)),
                    ),
                )
            }
            Problem::Habit { habit, span } => (*span, w.habit(habit)),
            Problem::Unbalanced { what, span } => {
                let mut labels = Vec::new();
                let words = w.unbalanced(what, &mut labels);
                for label in labels {
                    also(label.span, label.message);
                }
                (*span, words)
            }
            Problem::UnknownName {
                kind,
                name,
                span,
                candidates,
            } => {
                let (what, gender) = w.kind(*kind);
                let args = args!(what = what, gender = gender, name = name.as_str());
                (
                    *span,
                    (
                        w.t("e002", &args),
                        w.attr("e002", "label", &args),
                        w.did_you_mean(candidates, w.unknown_name_help(*kind)),
                    ),
                )
            }
            Problem::DuplicateDefinition {
                kind,
                name,
                span,
                previous,
            } => {
                also(*previous, w.plain("e003-first"));
                let (what, gender) = w.kind(*kind);
                (
                    *span,
                    w.three(
                        "e003",
                        &args!(what = what, gender = gender, name = name.as_str()),
                    ),
                )
            }
            Problem::OptionTwice {
                action,
                option,
                span,
                previous,
            } => {
                let args = args!(action = *action, option = *option);
                also(*previous, w.t("e040-first", &args));
                (*span, w.three("e040", &args))
            }
            Problem::DuplicateMenuKey {
                key,
                span,
                previous,
            } => {
                also(*previous, w.plain("e004-first"));
                (*span, w.three("e004", &args!(key = key.as_str())))
            }
            Problem::DuplicateNumber {
                number,
                span,
                flow,
                previous,
                previous_flow,
            } => {
                let args = args!(
                    number = number.as_str(),
                    flow = flow.as_str(),
                    previous = previous_flow.as_str()
                );
                if flow == previous_flow {
                    also(*previous, w.plain("e005-same-flow-first"));
                    (*span, w.three("e005-same-flow", &args))
                } else {
                    also(*previous, w.t("e005-first", &args));
                    (*span, w.three("e005", &args))
                }
            }
            Problem::DeadEnd {
                state,
                action,
                span,
                needs,
            } => (
                *span,
                w.three(
                    "e006",
                    &args!(
                        state = state.as_str(),
                        action = *action,
                        needs = w.plain(needs)
                    ),
                ),
            ),
            Problem::LoopWithoutWaiting {
                states,
                span,
                others,
            } => {
                for other in others {
                    also(*other, w.plain("e007-part"));
                }
                (*span, w.three("e007", &args!(states = states.join(" -> "))))
            }
            Problem::UnboundedRetries { span, max } => {
                (*span, w.three("e008", &args!(max = max.to_string())))
            }
            Problem::MenuWithoutFallback {
                span,
                missing_timeout,
                missing_invalid,
                example,
            } => {
                let missing = match (missing_timeout, missing_invalid) {
                    (true, true) => "both",
                    (true, false) => "timeout",
                    _ => "invalid",
                };
                let example = example.as_deref().unwrap_or("hangup");
                (
                    *span,
                    w.three("e009", &args!(missing = missing, example = example)),
                )
            }
            Problem::AudioMissing { path, span } => {
                (*span, w.three("e010", &args!(path = path.as_str())))
            }
            Problem::AudioUndecodable { path, reason, span } => (
                *span,
                w.three(
                    "e011",
                    &args!(path = path.as_str(), reason = reason.as_str()),
                ),
            ),
            Problem::TemplateSyntax { message, span } => (
                *span,
                w.three("e012", &args!(error = w.template_message(message))),
            ),
            Problem::UndefinedVariable {
                name,
                span,
                candidates,
            } => {
                let args = args!(name = name.as_str());
                (
                    *span,
                    (
                        w.t("e013", &args),
                        w.attr("e013", "label", &args),
                        w.did_you_mean(candidates, w.plain("e013-help")),
                    ),
                )
            }
            Problem::UnknownFilter {
                name,
                span,
                candidates,
            } => {
                let args = args!(name = name.as_str());
                (
                    *span,
                    (
                        w.t("e035", &args),
                        w.attr("e035", "label", &args),
                        w.did_you_mean(candidates, w.plain("e035-help")),
                    ),
                )
            }
            Problem::RangeEndsBeforeStart { span } => (*span, w.three("e014", &args!())),
            Problem::OverlappingRanges {
                day,
                span,
                previous,
            } => {
                also(*previous, w.plain("e015-other"));
                (*span, w.three("e015", &args!(day = *day)))
            }
            Problem::UnknownTimeZone {
                name,
                span,
                candidates,
            } => {
                let args = args!(name = name.as_str());
                (
                    *span,
                    (
                        w.t("e016", &args),
                        w.attr("e016", "label", &args),
                        w.did_you_mean(candidates, w.plain("e016-help")),
                    ),
                )
            }
            Problem::NoOverflow { action, span } => {
                (*span, w.three("e017", &args!(action = *action)))
            }
            Problem::ImportNotFound { path, span, reason } => (
                *span,
                w.three(
                    "e018",
                    &args!(path = path.as_str(), reason = reason.as_str()),
                ),
            ),
            Problem::BadPattern { message, span } => {
                let args = args!();
                (
                    *span,
                    (
                        w.t("e019", &args),
                        message.clone(),
                        w.attr("e019", "help", &args),
                    ),
                )
            }
            Problem::BadDigitsRange { min, max, span } => (
                *span,
                w.three("e020", &args!(min = min.to_string(), max = max.to_string())),
            ),
            Problem::UnknownBranch {
                action,
                label,
                span,
                expected,
            } => {
                let expected: Vec<String> = expected.iter().map(|e| (*e).to_owned()).collect();
                (
                    *span,
                    w.three(
                        "e021",
                        &args!(
                            action = *action,
                            branch = label.as_str(),
                            expected = w.quoted_or_list(&expected)
                        ),
                    ),
                )
            }
            Problem::ValueOutOfRange {
                what,
                span,
                allowed,
            } => (
                *span,
                w.three(
                    "e022",
                    &args!(what = w.plain(what), allowed = w.allowed(allowed)),
                ),
            ),
            Problem::InvalidDateOrTime { text, span } => {
                (*span, w.three("e023", &args!(text = text.as_str())))
            }
            Problem::ReturnOutsideSubflow { flow, span } => {
                (*span, w.three("e024", &args!(flow = flow.as_str())))
            }
            Problem::EmptyFlow { flow, span } => {
                (*span, w.three("e025", &args!(flow = flow.as_str())))
            }
            Problem::WrongArguments {
                function,
                span,
                takes,
            } => {
                let takes = w.t(takes, &args!(function = function.as_str()));
                (
                    *span,
                    w.three("e026", &args!(function = function.as_str(), takes = takes)),
                )
            }
            Problem::ReservedName { name, span } => {
                (*span, w.three("e027", &args!(name = name.as_str())))
            }
            Problem::OfficeCannot {
                office,
                lack,
                span,
                office_span,
            } => {
                let lack = match lack {
                    OfficeLack::NoStaff => "staff",
                    OfficeLack::NoAppointments => "appointments",
                    OfficeLack::NoHours => "hours",
                };
                let args = args!(office = office.as_str(), lack = lack);
                also(*office_span, w.t("e028-office", &args));
                (*span, w.three("e028", &args))
            }
            Problem::RecursiveCall { flows, span } => {
                (*span, w.three("e029", &args!(flows = flows.join(" -> "))))
            }
            Problem::MissingPromptLanguage {
                prompt,
                language,
                span,
                available,
            } => {
                let args = args!(
                    prompt = prompt.as_str(),
                    language = language.as_str(),
                    available = available
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let help = if available.is_empty() {
                    w.t("e030-help", &args)
                } else {
                    w.t("e030-help-fallback", &args)
                };
                (
                    *span,
                    (w.t("e030", &args), w.attr("e030", "label", &args), help),
                )
            }
            Problem::ScenarioSyntax {
                span,
                expected,
                found,
                candidates,
            } => {
                let mut expected: Vec<String> = expected.iter().map(|e| w.phrase(e)).collect();
                expected.sort();
                let args = args!(expected = w.or_list(&expected), found = w.phrase(found));
                (
                    *span,
                    (
                        w.t("e031", &args),
                        w.attr("e031", "label", &args),
                        w.did_you_mean(candidates, w.plain("e031-help")),
                    ),
                )
            }
            Problem::ScenarioUnknownName {
                what,
                name,
                span,
                candidates,
            } => {
                let (message, otherwise) = w.scenario_name(what, name);
                (
                    *span,
                    (
                        message,
                        w.plain("e032-label"),
                        w.did_you_mean(candidates, otherwise),
                    ),
                )
            }
            Problem::ScenarioBadValue {
                what,
                text,
                reason,
                span,
            } => {
                let id = match what {
                    ScenarioValue::Time => "e033-time",
                    ScenarioValue::Json => "e033-json",
                };
                (
                    *span,
                    w.three(id, &args!(text = text.as_str(), reason = reason.as_str())),
                )
            }
            Problem::ScenarioIncomplete { fault, span } => {
                let words = match fault {
                    ScenarioFault::NoCall => w.three("e034-no-call", &args!()),
                    ScenarioFault::CallTwice { previous } => {
                        also(*previous, w.plain("e034-call-twice-first"));
                        w.three("e034-call-twice", &args!())
                    }
                    ScenarioFault::AnswerTwice { what, previous } => {
                        also(*previous, w.plain("e034-answer-twice-first"));
                        w.three("e034-answer-twice", &args!(what = *what))
                    }
                    ScenarioFault::NoExpectation => w.three("e034-no-expectation", &args!()),
                    ScenarioFault::DuplicateName { name, previous } => {
                        also(*previous, w.plain("e034-duplicate-name-first"));
                        w.three("e034-duplicate-name", &args!(name = name.as_str()))
                    }
                };
                (*span, words)
            }
            Problem::NoFlow { span } => (*span, w.three("e038", &args!())),
            Problem::BadValue {
                kind,
                fault,
                text,
                span,
            } => (*span, w.value(*kind, fault, text)),
            Problem::EmptyFile { file, span } => {
                (*span, w.three("w006", &args!(file = file.as_str())))
            }
            Problem::UnreachableState { state, span } => {
                (*span, w.three("w001", &args!(state = state.as_str())))
            }
            Problem::UnusedDefinition { kind, name, span } => {
                let (what, gender) = w.kind(*kind);
                (
                    *span,
                    w.three(
                        "w002",
                        &args!(what = what, gender = gender, name = name.as_str()),
                    ),
                )
            }
            Problem::CalendarWithoutTimeZone { calendar, span } => {
                (*span, w.three("w003", &args!(calendar = calendar.as_str())))
            }
            Problem::NothingAnswers { span } => (*span, w.three("w004", &args!())),
            Problem::RingAllWithOneStaff {
                office,
                span,
                office_span,
            } => {
                let args = args!(office = office.as_str());
                also(*office_span, w.t("w005-office", &args));
                (*span, w.three("w005", &args))
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
///
/// Each keeps the problem it came from, so the whole run can be put into another language
/// ([`Diagnostics::in_language`]); they are worded in English until then.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    problems: Vec<Problem>,
    lang: Lang,
}

impl Serialize for Diagnostics {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.items.serialize(serializer)
    }
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn report(&mut self, problem: Problem) {
        self.items.push(problem.to_diagnostic(self.lang));
        self.problems.push(problem);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        for problem in other.problems {
            self.report(problem);
        }
    }

    /// The language the diagnostics are worded in.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The same diagnostics worded in `lang` (codes, spans and order of positions unchanged).
    pub fn in_language(self, lang: Lang) -> Diagnostics {
        if lang == self.lang {
            return self;
        }
        let mut translated = Diagnostics {
            lang,
            ..Diagnostics::default()
        };
        for problem in self.problems {
            translated.report(problem);
        }
        translated.sort();
        translated
    }

    /// Sort by position and drop exact duplicates.
    pub fn sort(&mut self) {
        let mut both: Vec<(Diagnostic, Problem)> = std::mem::take(&mut self.items)
            .into_iter()
            .zip(std::mem::take(&mut self.problems))
            .collect();
        both.sort_by(|(a, _), (b, _)| {
            (a.span.source, a.span.start, a.severity, a.code, &a.message).cmp(&(
                b.span.source,
                b.span.start,
                b.severity,
                b.code,
                &b.message,
            ))
        });
        both.dedup_by(|(a, _), (b, _)| a == b);
        (self.items, self.problems) = both.into_iter().unzip();
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

/// What a grammar rule stands for in a syntax error ("expected a duration such as 6s"): a
/// message id of the words, or the code to write (starting with a backtick), which is the same
/// in every language. The syntax module passes rule names as strings so pest types stay there;
/// several rules share words (every action keyword reads "an action ...").
pub fn rule_words(rule: &str) -> String {
    let id = match rule {
        "EOI" => "rule-end",
        "ident" | "target" => "rule-name",
        "string" | "string_inner" => "rule-text",
        "int" => "rule-int",
        "duration" => "rule-duration",
        "time" | "time_range" => "rule-time",
        "date" | "date_range" | "month_day" => "rule-date",
        "dtmf_key" => "rule-key",
        "day" | "day_spec" | "days" | "weekly_hours" => "rule-days",
        "closure_when" | "holiday_set" | "easter_offset" => "rule-closure",
        "kw_import" | "kw_calendar" | "kw_office" | "kw_category" | "kw_service" | "kw_prompt"
        | "kw_flow" | "item" => "rule-definition",
        "kw_say" | "kw_play" | "kw_menu" | "kw_collect" | "kw_set" | "kw_if" | "kw_goto"
        | "kw_call" | "kw_return" | "kw_transfer" | "kw_queue" | "kw_callback" | "kw_ticket"
        | "kw_appointment" | "kw_book" | "kw_cancel" | "kw_record" | "kw_conference"
        | "kw_webhook" | "kw_hangup" | "action" => "rule-action",
        "state" => "rule-state",
        "next" => return String::from("`-> state`"),
        "otherwise" => return String::from("`else -> state`"),
        "branches" => "rule-branches",
        "branch" | "branch_label" => "rule-branch",
        "prompt_ref" => "rule-prompt",
        "expr" | "or_expr" | "and_expr" | "not_expr" | "comparison" | "sum" | "negation"
        | "function_call" | "variable" | "boolean" => "rule-expression",
        "cmp_op" => "rule-comparison",
        "add_op" | "offset_sign" => "rule-sign",
        "field" => "rule-field",
        "prompt_variants" | "prompt_variant" => "rule-prompt-texts",
        other => {
            if let Some(keyword) = other.strip_prefix("kw_") {
                return format!("`{keyword}`");
            }
            return String::from(match other {
                "timeout_opt" => "`timeout 6s`",
                "retries_opt" => "`retries 2`",
                "digits_opt" => "`digits 1..4`",
                "end_opt" => "`end \"#\"`",
                "pattern_opt" => "`pattern \"...\"`",
                "music_opt" => "`music prompt`",
                "max_wait_opt" => "`max wait 5m`",
                "announce_opt" => "`announce position`",
                "note_opt" => "`note \"...\"`",
                "fields" => "`with { field: value }`",
                "priority" => "`priority normal`",
                "ring" => "`ring 20s`",
                "pin_opt" => "`pin \"1234\"`",
                "send_opt" => "`send { field: value }`",
                "into_opt" => "`into name`",
                "max_len_opt" => "`max 2m`",
                "timezone" => "`timezone \"Europe/Rome\"`",
                "closure" => "`closed ...`",
                "hours_ref" => "`hours calendar`",
                "staff" => "`staff \"sip:...\"`",
                "appointments" => "`appointments 20m`",
                "office_callback" => "`callback 8h`",
                "office_ref" => "`office name`",
                "sla" => "`sla 5d`",
                "slot" => "`slot 30m`",
                "capacity" => "`capacity 2`",
                "audio_file" => "`file \"prompts/x.wav\"`",
                "answers" => "`answers \"number\"`",
                "language" => "`language it`",
                "max_duration" => "`max duration 20m`",
                "max_visits" => "`max visits 5`",
                "if_arm" => "`if condition -> state`",
                _ => return format!("`{other}`"),
            });
        }
    };
    String::from(id)
}

/// What a rule of the flow-test grammar (`grammars/scenario.pest`) stands for, for E031 (a
/// message id or code, as [`rule_words`]), with how specific it is: when a syntax error could
/// be fixed in several ways, only the most specific words are shown (after `expect`, what can
/// be expected; inside `with { ... }`, a field), not every line that could follow.
pub fn scenario_rule_words(rule: &str) -> (u8, String) {
    let (specific, words) = match rule {
        "EOI" => (1, "rule-end"),
        "kw_scenario" | "scenario" | "file" => (1, "scenario-rule-scenario"),
        "string" | "string_inner" => (2, "rule-text"),
        "name" => (2, "rule-name"),
        "open_brace" => (2, "`{`"),
        "close_brace" => (1, "`}`"),
        "keys" | "kw_wait" | "kw_hangup" | "kw_booking" => (1, "scenario-rule-keys"),
        "kw_from" | "from_opt" => (1, "`from \"+39...\"`"),
        "kw_at" | "at_opt" => (1, "`at \"2026-11-24 10:00\"`"),
        "kw_call" | "call" | "kw_press" | "press" | "kw_type" | "type_text" | "kw_transfer"
        | "transfer_answer" | "kw_queue" | "queue_answer" | "kw_webhook" | "webhook_answer"
        | "kw_absent" | "absent" | "kw_expect" | "expect" => (1, "scenario-rule-statement"),
        "kw_answered" | "kw_busy" | "kw_noanswer" | "kw_failed" | "kw_timeout" => {
            (2, "scenario-rule-answer")
        }
        "kw_returns" | "returns_opt" | "kw_fails" => (2, "scenario-rule-returns"),
        "json_block" | "json_literal" => (2, "scenario-rule-json"),
        "kw_not" | "kw_say" | "expect_say" | "kw_ticket" | "expect_ticket" | "kw_callback"
        | "expect_callback" | "expect_booking" | "kw_cancelled" | "expect_cancelled"
        | "expect_transfer" | "expect_queue" | "kw_recording" | "expect_recording"
        | "kw_conference" | "expect_conference" | "kw_state" | "expect_state" | "expect_hangup"
        | "kw_language" | "expect_language" => (2, "scenario-rule-expectation"),
        "kw_priority" | "priority_opt" => (1, "`priority urgent`"),
        "kw_with" | "with_opt" => (1, "`with { field: \"value\" }`"),
        "field" => (2, "scenario-rule-field"),
        "state_ref" => (2, "scenario-rule-state-ref"),
        other => return (0, format!("`{other}`")),
    };
    (specific, String::from(words))
}

/// What a syntax error found at a position: the token as code, or the id of "the end of the file".
pub fn found_words(token: Option<&str>) -> String {
    match token {
        None => String::from("found-end"),
        Some(t) => format!("`{t}`"),
    }
}

/// `2 errors, 1 warning` / `no problems found`, in the language of the diagnostics.
pub fn summary(diagnostics: &Diagnostics) -> String {
    let w = Words {
        lang: diagnostics.lang(),
    };
    let errors = w.t("summary-errors", &args!(errors = diagnostics.error_count()));
    let warnings = w.t(
        "summary-warnings",
        &args!(warnings = diagnostics.warning_count()),
    );
    match (diagnostics.error_count(), diagnostics.warning_count()) {
        (0, 0) => w.plain("summary-none"),
        (_, 0) => errors,
        (0, _) => warnings,
        (_, _) => w.t("summary-both", &args!(errors = errors, warnings = warnings)),
    }
}

/// `error` / `warning` in a language.
pub fn severity_word(lang: Lang, severity: Severity) -> String {
    let id = match severity {
        Severity::Error => "severity-error",
        Severity::Warning => "severity-warning",
    };
    Words { lang }.plain(id)
}

/// `help: ...` in the language of the diagnostics.
pub fn help_line(lang: Lang, help: &str) -> String {
    Words { lang }.t("help-prefix", &args!(help = help))
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}
