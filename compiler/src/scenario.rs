//! Flow tests: `.test` files of scenarios, parsed with pest and checked against a compiled graph.
//!
//! ```text
//!  .test text ──► parse (pest, in syntax::scenario) ──► ScenarioFile (plain data, spans)
//!                                                        │
//!                           compiled Graph ──► check ────┴──► diagnostics (E031-E034)
//! ```
//!
//! A scenario is one call: who calls which number and when, what the caller
//! presses, how the world outside the flow answers, and what must happen. The
//! binary's `centralino test` runs scenarios on the runtime's driver; this
//! module only reads and checks them. The grammar is `grammars/scenario.pest`,
//! read by [`crate::syntax::scenario`]: like flow files, a file with a syntax
//! error is split into its scenarios (each starts on a line beginning with
//! `scenario`) and each is parsed on its own, so one mistake does not hide the
//! rest of the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use crate::ast::{Ident, Str};
use crate::calendar::DEFAULT_TIMEZONE;
use crate::diagnostic::{Diagnostics, Problem, ScenarioFault, ScenarioName};
use crate::graph::{Action, Graph};
use crate::load::{LoadError, normalize};
use crate::source::{SourceId, Sources, Span};

/// The caller's number when a scenario's `call` has no `from`.
pub const DEFAULT_CALLER: &str = "+390750000000";
/// When a scenario's call happens if it has no `at`: a Tuesday morning, offices open.
pub const DEFAULT_TIME: &str = "2026-11-24 10:00";
/// The file extension of flow tests.
pub const EXTENSION: &str = "test";

// ------------------------------------------------------------------ syntax tree

/// One parsed `.test` file.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioFile {
    pub source: SourceId,
    pub scenarios: Vec<Scenario>,
    /// Scenarios that did not parse (each has a E031 diagnostic).
    pub broken: Vec<Broken>,
}

/// A scenario that did not parse: its name when readable, and where it is.
#[derive(Debug, Clone, Serialize)]
pub struct Broken {
    pub name: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub name: Str,
    /// The whole scenario, `scenario` to `}`.
    pub span: Span,
    /// In the order written.
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    pub kind: StatementKind,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub enum StatementKind {
    Call(CallLine),
    Press(Vec<Press>),
    Type(Str),
    Transfer(Answer),
    Queue(Answer),
    Webhook { url: Str, reply: WebhookReply },
    Absent(Vec<Who>),
    Expect(Expectation),
}

/// `call "NUMBER" from "CALLER" at "TIME"`.
#[derive(Debug, Clone, Serialize)]
pub struct CallLine {
    pub number: Str,
    pub from: Option<Str>,
    pub at: Option<Str>,
    /// `at` read as an instant ([`DEFAULT_TIME`] when there is no `at`, or it does not read).
    pub when: Timestamp,
}

impl CallLine {
    /// The caller's number: `from`, or [`DEFAULT_CALLER`].
    pub fn caller(&self) -> &str {
        self.from
            .as_ref()
            .map_or(DEFAULT_CALLER, |s| s.value.as_str())
    }
}

/// One thing the caller does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Press {
    Key(char),
    /// Let the current prompt or timeout run out.
    Wait,
    Hangup,
    /// Type the code of the booking made earlier in this call, key by key.
    Booking,
}

/// What the caller does, in order: keys, waits, typed text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Input {
    Press(Press),
    Text(String),
}

/// How a transfer or queue answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Answer {
    Answered,
    Busy,
    NoAnswer,
    Failed,
    /// Queues only: the caller waited the longest allowed.
    Timeout,
}

impl Answer {
    pub fn word(self) -> &'static str {
        match self {
            Answer::Answered => "answered",
            Answer::Busy => "busy",
            Answer::NoAnswer => "noanswer",
            Answer::Failed => "failed",
            Answer::Timeout => "timeout",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum WebhookReply {
    Returns(serde_json::Value),
    Fails,
}

/// Someone who is not there: a staff contact, or every member of an office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Who {
    Contact(Str),
    Office(Ident),
}

/// `expect [not] ...`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expectation {
    /// `expect not ...` / `expect no ...`: it must not happen.
    pub negated: bool,
    pub what: Expect,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Expect {
    /// A prompt the caller heard contains this text (case-insensitive).
    Say(Str),
    /// A ticket was stored (of this category, with this priority and these fields).
    Ticket {
        category: Option<Ident>,
        priority: Option<Ident>,
        fields: Vec<(Ident, Str)>,
    },
    Callback(Option<Ident>),
    /// A booking with an office or a service.
    Booking(Option<Ident>),
    /// A booking was found and cancelled.
    Cancelled,
    /// The call was put through to an office (whatever the answer).
    Transfer(Option<Ident>),
    Queue(Option<Ident>),
    Recording,
    Conference(Option<Str>),
    /// A state was entered; with no state, any state of the flow.
    State {
        flow: Ident,
        state: Option<Ident>,
    },
    /// The flow ended the call with `hangup` (not stuck, not cut off by a bound).
    Hangup,
    /// The last prompt the caller heard was in this language.
    Language(Ident),
}

impl Scenario {
    /// The first `call` line.
    pub fn call(&self) -> Option<&CallLine> {
        self.statements.iter().find_map(|s| match &s.kind {
            StatementKind::Call(call) => Some(call),
            _ => None,
        })
    }

    /// The caller's inputs, in the order written.
    pub fn inputs(&self) -> Vec<Input> {
        let mut inputs = Vec::new();
        for statement in &self.statements {
            match &statement.kind {
                StatementKind::Press(presses) => {
                    inputs.extend(presses.iter().cloned().map(Input::Press));
                }
                StatementKind::Type(text) => inputs.push(Input::Text(text.value.clone())),
                _ => {}
            }
        }
        inputs
    }

    pub fn transfer(&self) -> Option<Answer> {
        self.statements.iter().find_map(|s| match s.kind {
            StatementKind::Transfer(answer) => Some(answer),
            _ => None,
        })
    }

    pub fn queue(&self) -> Option<Answer> {
        self.statements.iter().find_map(|s| match s.kind {
            StatementKind::Queue(answer) => Some(answer),
            _ => None,
        })
    }

    /// Webhook answers by a part of their address, in the order written.
    pub fn webhooks(&self) -> Vec<(&str, &WebhookReply)> {
        self.statements
            .iter()
            .filter_map(|s| match &s.kind {
                StatementKind::Webhook { url, reply } => Some((url.value.as_str(), reply)),
                _ => None,
            })
            .collect()
    }

    /// Staff contacts who are absent, offices expanded to their staff.
    pub fn absent(&self, graph: &Graph) -> Vec<String> {
        let mut contacts = Vec::new();
        for statement in &self.statements {
            if let StatementKind::Absent(who) = &statement.kind {
                for one in who {
                    match one {
                        Who::Contact(contact) => contacts.push(contact.value.clone()),
                        Who::Office(office) => contacts.extend(
                            graph
                                .offices
                                .get(&office.name)
                                .into_iter()
                                .flat_map(|o| o.staff.iter().map(|s| s.contact.clone())),
                        ),
                    }
                }
            }
        }
        contacts
    }

    pub fn expectations(&self) -> impl Iterator<Item = &Expectation> {
        self.statements.iter().filter_map(|s| match &s.kind {
            StatementKind::Expect(e) => Some(e),
            _ => None,
        })
    }

    /// Whether a span lies inside this scenario.
    pub fn contains(&self, span: Span) -> bool {
        span.source == self.span.source
            && span.start >= self.span.start
            && span.end <= self.span.end
    }
}

// ------------------------------------------------------------------ finding files

/// Every `.test` file named by `paths`: files as given, directories searched
/// recursively (hidden entries and `target` skipped), sorted. None found is not an error.
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            crate::load::walk(path, &is_test_file, &mut found)?;
        } else if path.is_file() {
            if is_test_file(path) {
                found.push(normalize(path));
            }
        } else {
            return Err(LoadError::NotFound(path.clone()));
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// Whether a path names a flow test (`*.test`).
pub fn is_test_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == EXTENSION)
}

// ------------------------------------------------------------------ times

/// An `at` time as an instant: `2026-11-24 10:00` is Rome time; an offset
/// (`09:00Z`, `10:00+01:00`) or a zone (`10:00[Europe/London]`) says otherwise.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if !has_time_shape(text) {
        return Err(String::from("it should read like 2026-11-24 10:00"));
    }
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Ok(instant);
    }
    if text.contains('[') {
        return text
            .parse::<jiff::ZonedDateTime>()
            .map(|zoned| zoned.timestamp())
            .map_err(|e| e.to_string());
    }
    let civil: jiff::civil::DateTime = text.parse().map_err(|e: jiff::Error| e.to_string())?;
    let zone = crate::calendar::timezone(DEFAULT_TIMEZONE)
        .ok_or_else(|| format!("the time zone {DEFAULT_TIMEZONE} is not known"))?;
    civil
        .to_zoned_datetime(zone)
        .map(|zoned| zoned.timestamp())
        .map_err(|e| e.to_string())
}

/// Whether a text starts like `2026-11-24 10:00` (or with `T` between date and time).
fn has_time_shape(text: &str) -> bool {
    let shape = b"0000-00-00 00:00";
    text.len() >= shape.len()
        && text
            .bytes()
            .zip(shape.iter())
            .enumerate()
            .all(|(i, (byte, want))| match want {
                b'0' => byte.is_ascii_digit(),
                b' ' if i == 10 => byte == b' ' || byte == b'T' || byte == b't',
                other => byte == *other,
            })
}

/// [`DEFAULT_TIME`] as an instant.
pub fn default_time() -> Timestamp {
    parse_time(DEFAULT_TIME).unwrap_or(Timestamp::UNIX_EPOCH)
}

// ------------------------------------------------------------------ parsing

pub use crate::syntax::scenario::parse;

// ------------------------------------------------------------------ checks

/// What the flows have, by name, for checking the names scenarios use.
struct Known<'g> {
    graph: &'g Graph,
    /// State names of each flow.
    states: BTreeMap<&'g str, BTreeSet<&'g str>>,
    /// Field names the flows' tickets fill in, by category.
    fields: BTreeMap<&'g str, BTreeSet<&'g str>>,
    languages: BTreeSet<&'g str>,
    contacts: BTreeSet<&'g str>,
    webhooks: Vec<&'g str>,
}

const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];

impl<'g> Known<'g> {
    fn new(graph: &'g Graph) -> Self {
        let mut known = Known {
            graph,
            states: BTreeMap::new(),
            fields: BTreeMap::new(),
            languages: BTreeSet::new(),
            contacts: BTreeSet::new(),
            webhooks: Vec::new(),
        };
        for flow in &graph.flows {
            known.states.entry(flow.name.as_str()).or_default();
            known.languages.insert(flow.language.as_str());
        }
        for node in &graph.nodes {
            if let Some(flow) = graph.flow(node.flow) {
                known
                    .states
                    .entry(flow.name.as_str())
                    .or_default()
                    .insert(node.state.as_str());
            }
            match &node.action {
                Action::Ticket {
                    category, fields, ..
                } => known
                    .fields
                    .entry(category.as_str())
                    .or_default()
                    .extend(fields.keys().map(String::as_str)),
                Action::Webhook { url, .. } => known.webhooks.push(url.as_str()),
                _ => {}
            }
        }
        for prompt in graph.prompts.values() {
            known.languages.extend(
                prompt
                    .variants
                    .keys()
                    .map(String::as_str)
                    .filter(|l| *l != "*"),
            );
        }
        for office in graph.offices.values() {
            known
                .contacts
                .extend(office.staff.iter().map(|s| s.contact.as_str()));
        }
        known
    }
}

/// Report a name the flows do not have; `candidates` are the names they do.
fn unknown<'n>(
    diagnostics: &mut Diagnostics,
    what: ScenarioName,
    name: &str,
    span: Span,
    candidates: impl IntoIterator<Item = &'n str>,
) {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    let mut close = crate::check::suggest(name, candidates.iter().copied());
    // From a handful of choices (languages, priorities, numbers), offer them all.
    if close.is_empty() && candidates.len() <= FEW {
        close = candidates.iter().map(|c| (*c).to_owned()).collect();
    }
    diagnostics.report(Problem::ScenarioUnknownName {
        what,
        name: name.to_owned(),
        span,
        candidates: close,
    });
}

/// Up to this many choices are all offered when none is close to a wrong name.
const FEW: usize = 4;

/// Check every scenario of every file against the compiled flows: each
/// scenario makes one call to a number a flow answers (E034, E032), expects
/// something (E034), and names only offices, categories, services, flows,
/// states, fields, languages, staff and webhooks that exist (E032). Scenario
/// names are unique across all files (E034).
pub fn check(files: &[ScenarioFile], graph: &Graph, diagnostics: &mut Diagnostics) {
    let known = Known::new(graph);
    let mut names: BTreeMap<&str, Span> = BTreeMap::new();
    for scenario in files.iter().flat_map(|f| &f.scenarios) {
        match names.get(scenario.name.value.as_str()) {
            Some(previous) => diagnostics.report(Problem::ScenarioIncomplete {
                fault: ScenarioFault::DuplicateName {
                    name: scenario.name.value.clone(),
                    previous: *previous,
                },
                span: scenario.name.span,
            }),
            None => {
                names.insert(scenario.name.value.as_str(), scenario.name.span);
            }
        }
        check_scenario(scenario, &known, diagnostics);
    }
}

fn check_scenario(scenario: &Scenario, known: &Known<'_>, diagnostics: &mut Diagnostics) {
    let graph = known.graph;
    let mut call: Option<Span> = None;
    let mut transfer: Option<Span> = None;
    let mut queue: Option<Span> = None;
    let mut expects = false;
    for statement in &scenario.statements {
        match &statement.kind {
            StatementKind::Call(line) => {
                if let Some(previous) = call {
                    diagnostics.report(Problem::ScenarioIncomplete {
                        fault: ScenarioFault::CallTwice { previous },
                        span: statement.span,
                    });
                } else {
                    call = Some(statement.span);
                }
                if graph.flow_for_number(&line.number.value).is_none() {
                    unknown(
                        diagnostics,
                        ScenarioName::Number,
                        &line.number.value,
                        line.number.span,
                        graph.numbers.keys().map(String::as_str),
                    );
                }
            }
            StatementKind::Transfer(_) | StatementKind::Queue(_) => {
                let (seen, what) = if matches!(statement.kind, StatementKind::Transfer(_)) {
                    (&mut transfer, "transfer")
                } else {
                    (&mut queue, "queue")
                };
                match seen {
                    Some(previous) => diagnostics.report(Problem::ScenarioIncomplete {
                        fault: ScenarioFault::AnswerTwice {
                            what,
                            previous: *previous,
                        },
                        span: statement.span,
                    }),
                    None => *seen = Some(statement.span),
                }
            }
            StatementKind::Webhook { url, .. } => {
                if !known
                    .webhooks
                    .iter()
                    .any(|w| w.contains(url.value.as_str()))
                {
                    unknown(
                        diagnostics,
                        ScenarioName::Webhook,
                        &url.value,
                        url.span,
                        known.webhooks.iter().copied(),
                    );
                }
            }
            StatementKind::Absent(who) => {
                for one in who {
                    match one {
                        Who::Contact(contact) => {
                            if !known.contacts.contains(contact.value.as_str()) {
                                unknown(
                                    diagnostics,
                                    ScenarioName::Contact,
                                    &contact.value,
                                    contact.span,
                                    known.contacts.iter().copied(),
                                );
                            }
                        }
                        Who::Office(office) => check_office(office, graph, diagnostics),
                    }
                }
            }
            StatementKind::Expect(expectation) => {
                expects = true;
                check_expectation(&expectation.what, known, diagnostics);
            }
            StatementKind::Press(_) | StatementKind::Type(_) => {}
        }
    }
    if call.is_none() {
        diagnostics.report(Problem::ScenarioIncomplete {
            fault: ScenarioFault::NoCall,
            span: scenario.name.span,
        });
    }
    if !expects {
        diagnostics.report(Problem::ScenarioIncomplete {
            fault: ScenarioFault::NoExpectation,
            span: scenario.name.span,
        });
    }
}

fn check_office(office: &Ident, graph: &Graph, diagnostics: &mut Diagnostics) {
    if !graph.offices.contains_key(&office.name) {
        unknown(
            diagnostics,
            ScenarioName::Office,
            &office.name,
            office.span,
            graph.offices.keys().map(String::as_str),
        );
    }
}

fn check_expectation(what: &Expect, known: &Known<'_>, diagnostics: &mut Diagnostics) {
    let graph = known.graph;
    match what {
        Expect::Ticket {
            category,
            priority,
            fields,
        } => {
            if let Some(category) = category {
                if graph.categories.contains_key(&category.name) {
                    let filled = known.fields.get(category.name.as_str());
                    for (field, _) in fields {
                        if !filled.is_some_and(|f| f.contains(field.name.as_str())) {
                            unknown(
                                diagnostics,
                                ScenarioName::Field {
                                    category: category.name.clone(),
                                },
                                &field.name,
                                field.span,
                                filled.into_iter().flatten().copied(),
                            );
                        }
                    }
                } else {
                    unknown(
                        diagnostics,
                        ScenarioName::Category,
                        &category.name,
                        category.span,
                        graph.categories.keys().map(String::as_str),
                    );
                }
            }
            if let Some(priority) = priority
                && !PRIORITIES.contains(&priority.name.as_str())
            {
                unknown(
                    diagnostics,
                    ScenarioName::Priority,
                    &priority.name,
                    priority.span,
                    PRIORITIES,
                );
            }
        }
        Expect::Callback(Some(office))
        | Expect::Transfer(Some(office))
        | Expect::Queue(Some(office)) => {
            check_office(office, graph, diagnostics);
        }
        Expect::Booking(Some(name)) => {
            let bookable = graph
                .offices
                .iter()
                .filter(|(_, o)| o.appointments.is_some())
                .map(|(n, _)| n.as_str())
                .chain(graph.services.keys().map(String::as_str));
            if !bookable.clone().any(|n| n == name.name) {
                unknown(
                    diagnostics,
                    ScenarioName::Bookable,
                    &name.name,
                    name.span,
                    bookable,
                );
            }
        }
        Expect::State { flow, state } => match known.states.get(flow.name.as_str()) {
            Some(states) => {
                if let Some(state) = state
                    && !states.contains(state.name.as_str())
                {
                    unknown(
                        diagnostics,
                        ScenarioName::State {
                            flow: flow.name.clone(),
                        },
                        &state.name,
                        state.span,
                        states.iter().copied(),
                    );
                }
            }
            None => unknown(
                diagnostics,
                ScenarioName::Flow,
                &flow.name,
                flow.span,
                known.states.keys().copied(),
            ),
        },
        Expect::Language(language) => {
            if !known.languages.contains(language.name.as_str()) {
                unknown(
                    diagnostics,
                    ScenarioName::Language,
                    &language.name,
                    language.span,
                    known.languages.iter().copied(),
                );
            }
        }
        Expect::Say(_)
        | Expect::Callback(None)
        | Expect::Transfer(None)
        | Expect::Queue(None)
        | Expect::Booking(None)
        | Expect::Cancelled
        | Expect::Recording
        | Expect::Conference(_)
        | Expect::Hangup => {}
    }
}

/// Read and parse every `.test` file into `sources` (after the flows already
/// there), reporting syntax problems. Files that cannot be read are an error.
pub fn load(
    paths: &[PathBuf],
    sources: &mut Sources,
    diagnostics: &mut Diagnostics,
) -> Result<Vec<ScenarioFile>, LoadError> {
    let mut files = Vec::new();
    for path in paths {
        let text = crate::load::read_source(path)?;
        let id = sources.add(path.clone(), text);
        let text = sources.get(id).map(|f| f.text.as_str()).unwrap_or_default();
        files.push(parse(id, text, diagnostics));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> (ScenarioFile, Diagnostics) {
        let mut diagnostics = Diagnostics::new();
        let file = parse(SourceId(0), text, &mut diagnostics);
        (file, diagnostics)
    }

    #[test]
    fn a_full_scenario_reads() {
        let (file, diagnostics) = parse_text(
            r#"// a comment
scenario "buca" {
  call "075075075" from "+393331234567" at "2026-11-24 10:00"   // Rome
  press 2 1 1 123# wait
  type "ciao"
  transfer busy
  queue timeout
  webhook "avvisi" returns "Neve"
  webhook "meteo" returns { "allerta": "gialla", "livelli": [1, 2] }
  webhook "x" fails
  absent anagrafe, "sip:1@x"
  expect ticket buche priority urgent with { via: "123", civico: "5" }
  expect no booking
  expect not say "errore"
  expect state main.menu
  expect state segnalazione
  expect hangup
  expect language en
}
"#,
        );
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let [scenario] = file.scenarios.as_slice() else {
            panic!("one scenario: {file:?}");
        };
        assert_eq!(scenario.name.value, "buca");
        let call = scenario.call().expect("a call");
        assert_eq!(call.caller(), "+393331234567");
        assert_eq!(call.when.to_string(), "2026-11-24T09:00:00Z");
        let keys: Vec<Input> = "211123#"
            .chars()
            .map(|c| Input::Press(Press::Key(c)))
            .chain([Input::Press(Press::Wait), Input::Text(String::from("ciao"))])
            .collect();
        assert_eq!(scenario.inputs(), keys);
        assert_eq!(scenario.transfer(), Some(Answer::Busy));
        assert_eq!(scenario.queue(), Some(Answer::Timeout));
        let webhooks = scenario.webhooks();
        assert_eq!(
            webhooks.first().map(|w| w.1),
            Some(&WebhookReply::Returns(serde_json::json!("Neve")))
        );
        assert_eq!(
            webhooks.get(1).map(|w| w.1),
            Some(&WebhookReply::Returns(
                serde_json::json!({"allerta": "gialla", "livelli": [1, 2]})
            ))
        );
        assert_eq!(webhooks.get(2).map(|w| w.1), Some(&WebhookReply::Fails));
        let expectations: Vec<&Expectation> = scenario.expectations().collect();
        assert_eq!(expectations.len(), 7);
        assert!(matches!(
            &expectations[0].what,
            Expect::Ticket { category: Some(c), priority: Some(p), fields }
                if c.name == "buche" && p.name == "urgent" && fields.len() == 2
        ));
        assert!(expectations[1].negated && expectations[1].what == Expect::Booking(None));
        assert!(expectations[2].negated);
        assert!(matches!(
            &expectations[4].what,
            Expect::State { flow, state: None } if flow.name == "segnalazione"
        ));
    }

    #[test]
    fn a_name_never_swallows_the_next_line() {
        let (file, diagnostics) = parse_text(
            "scenario \"a\" {\n  call \"1\"\n  expect no ticket\n  expect transfer\n  expect hangup\n}\n",
        );
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let count = file
            .scenarios
            .first()
            .map_or(0, |s| s.expectations().count());
        assert_eq!(count, 3);
    }

    #[test]
    fn a_broken_scenario_does_not_hide_the_next() {
        let (file, diagnostics) = parse_text(
            "scenario \"rotto\" {\n  call \"1\"\n  expect tiket buche\n}\nscenario \"buono\" {\n  call \"1\"\n  expect hangup\n}\n",
        );
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(file.scenarios.len(), 1);
        assert_eq!(
            file.broken.first().and_then(|b| b.name.as_deref()),
            Some("rotto")
        );
    }

    #[test]
    fn times_are_rome_time_unless_they_say_otherwise() {
        let rome = parse_time("2026-07-01 10:00").map(|t| t.to_string());
        assert_eq!(rome.as_deref(), Ok("2026-07-01T08:00:00Z"));
        let utc = parse_time("2026-07-01 10:00Z").map(|t| t.to_string());
        assert_eq!(utc.as_deref(), Ok("2026-07-01T10:00:00Z"));
        let offset = parse_time("2026-07-01T10:00+01:00").map(|t| t.to_string());
        assert_eq!(offset.as_deref(), Ok("2026-07-01T09:00:00Z"));
        let zone = parse_time("2026-07-01 10:00[Europe/London]").map(|t| t.to_string());
        assert_eq!(zone.as_deref(), Ok("2026-07-01T09:00:00Z"));
        assert!(parse_time("2026-02-30 10:00").is_err());
        assert!(parse_time("domani").is_err());
    }
}
