//! `centralino test`: run the flow tests (`.test` scenarios) against the flows, for staff and CI.
//!
//! ```text
//!  PATHS ──► .flow files ──► compile ──► Graph ──► Program ─┐
//!        └─► .test files ──► scenario::parse + check ───────┤   (E031-E034 shown, those scenarios fail)
//!                                                           ▼
//!             for each scenario: fresh SledStore::temporary() + Driver(Script, inputs)
//!                                ──► steps + store ──► expectations ──► ok / FAIL + transcript
//! ```
//!
//! With `--coverage` (or `--min-coverage N`), the simulator's route of each call
//! (nodes entered, edges followed) is gathered into a coverage report
//! ([`centralino_compiler::coverage`]), printed before the tally.
//!
//! The last line is always `N passed, N failed`. Exit 0 when every scenario
//! passes, 1 when one fails (or the flows have errors, or the branches covered are
//! below `--min-coverage`), 2 when the command cannot run (unreadable paths, no
//! `.test` files, no store).

mod coverage;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use anyhow::{Context, bail};
use centralino_compiler::coverage::{Point, Report, Visits};
use centralino_compiler::scenario::{
    self, Answer, Expect, Expectation, Press, Scenario, ScenarioFile, WebhookReply,
};
use centralino_compiler::{Diagnostics, Graph, Sources, compile, render};
use centralino_runtime::driver::{Driver, Input, InputSource, Script};
use centralino_runtime::engine::{CallInfo, Passage, Program, TransferOutcome};
use centralino_runtime::port::{Step, TimedStep};
use centralino_runtime::store::{Resource, SledStore, Store};
use clap::{Args, ValueEnum};

use super::transcript::{self, Transcript};
use super::{CLEAN, Color, PROBLEMS, clock, format, load_sources, output, paths_or_default};

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Folders with flows and `.test` scenarios (searched recursively), or single files [default: flows/]
    paths: Vec<PathBuf>,

    /// `human` (a line per scenario, transcripts of failures) or `github`
    /// (the same, plus GitHub Actions annotations on the failing lines).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,

    /// Run only the scenarios whose name contains this text (case-insensitive).
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,

    /// Report the states and branches of the flows that no scenario visits,
    /// per flow and in total (with `--format github`, a warning on each line).
    #[arg(long)]
    coverage: bool,

    /// Fail when fewer than N percent of the branches are visited (or justified
    /// with `// coverage: skip <reason>`); implies `--coverage`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=100))]
    min_coverage: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Github,
}

pub fn run(args: &TestArgs, color: Color, lang: centralino_compiler::Lang) -> anyhow::Result<u8> {
    let paths = paths_or_default(&args.paths);
    // Flows come from the folders and `.flow` files given; tests from the folders and `.test` files.
    let flow_paths: Vec<PathBuf> = paths
        .iter()
        .filter(|p| !scenario::is_test_file(p))
        .cloned()
        .collect();
    let sources = load_sources(&flow_paths)?;
    let compiled = compile(&sources);
    let colored = color.stdout();
    let graph = match compiled.graph {
        Some(graph) if !compiled.diagnostics.has_errors() => graph,
        _ => {
            let diagnostics = compiled.diagnostics.clone().in_language(lang);
            let text = diagnostics_text(args.format, &sources, &diagnostics, colored);
            output::stdout(text.as_bytes())?;
            output::stdout(b"the flows have errors, so no scenario ran\n0 passed, 0 failed\n")?;
            return Ok(PROBLEMS);
        }
    };

    let wants_coverage = args.coverage || args.min_coverage.is_some();
    let points: Vec<Point> = if wants_coverage {
        centralino_compiler::coverage::points(&sources, &graph)
    } else {
        Vec::new()
    };
    let test_files = scenario::files(&paths)?;
    if test_files.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        bail!("no .test files found in {}", names.join(", "));
    }
    let mut all_sources = sources;
    let mut diagnostics = Diagnostics::new();
    let files = scenario::load(&test_files, &mut all_sources, &mut diagnostics)?;
    scenario::check(&files, &graph, &mut diagnostics);
    diagnostics.sort();
    let diagnostics = diagnostics.in_language(lang);
    if !diagnostics.is_empty() {
        let text = diagnostics_text(args.format, &all_sources, &diagnostics, colored);
        output::stdout(text.as_bytes())?;
    }

    let program = Program::new(graph).context("cannot load the compiled flows")?;
    let filter = args.filter.as_deref().map(str::to_lowercase);
    let wanted = |name: Option<&str>| match (&filter, name) {
        (Some(filter), Some(name)) => name.to_lowercase().contains(filter),
        _ => true,
    };
    let runner = Runner {
        program,
        sources: &all_sources,
        format: args.format,
        colored,
        visits: RefCell::new(Visits::default()),
    };
    let mut tally = Tally::default();
    let mut index = 0;
    for file in &files {
        for entry in entries(file) {
            match entry {
                Entry::Broken { name, span } => {
                    if !wanted(name) {
                        continue;
                    }
                    let at = all_sources.location(span);
                    let shown = name.unwrap_or("(a scenario that does not read)");
                    runner.report_unrunnable(&at.file, at.line, shown)?;
                    tally.failed += 1;
                }
                Entry::Scenario(scenario) => {
                    if !wanted(Some(&scenario.name.value)) {
                        continue;
                    }
                    index += 1;
                    let broken = diagnostics.iter().any(|d| {
                        d.severity == centralino_compiler::Severity::Error
                            && scenario.contains(d.span)
                    });
                    let passed = if broken {
                        let at = all_sources.location(scenario.span);
                        runner.report_unrunnable(&at.file, at.line, &scenario.name.value)?;
                        false
                    } else {
                        runner.run(scenario, index)?
                    };
                    if passed {
                        tally.passed += 1;
                    } else {
                        tally.failed += 1;
                    }
                }
            }
        }
    }
    if let (Some(filter), 0) = (&args.filter, tally.passed + tally.failed) {
        eprintln!("no scenario's name contains \"{filter}\"");
    }
    let mut below = false;
    if wants_coverage {
        let report = Report::new(&points, &runner.visits.borrow());
        let mut text = coverage::text(&report, &all_sources);
        if args.format == Format::Github {
            text.push_str(&coverage::github(&report, &all_sources));
        }
        if let Some(min) = args.min_coverage
            && let Some(line) = coverage::below(&report, min)
        {
            below = true;
            text.push_str(&line);
            if args.format == Format::Github {
                let _ = writeln!(
                    text,
                    "::error title=flow test coverage::{}",
                    format::github_data(line.trim_end())
                );
            }
        }
        output::stdout(text.as_bytes())?;
    }
    output::stdout(format!("{} passed, {} failed\n", tally.passed, tally.failed).as_bytes())?;
    // Every problem of a `.test` file belongs to a scenario (and fails it when
    // it runs); one that belongs to none would otherwise go unnoticed.
    let stray = diagnostics.iter().any(|d| {
        d.severity == centralino_compiler::Severity::Error
            && !files.iter().any(|f| {
                f.scenarios.iter().any(|s| s.contains(d.span))
                    || f.broken.iter().any(|b| {
                        b.span.source == d.span.source
                            && b.span.start <= d.span.start
                            && d.span.end <= b.span.end
                    })
            })
    });
    Ok(if tally.failed > 0 || stray || below {
        PROBLEMS
    } else {
        CLEAN
    })
}

fn diagnostics_text(
    format: Format,
    sources: &Sources,
    diagnostics: &Diagnostics,
    colored: bool,
) -> String {
    match format {
        Format::Human => render::human(sources, diagnostics, colored),
        Format::Github => format::github(sources, diagnostics),
    }
}

#[derive(Debug, Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

/// A scenario of a file, or a part of it that did not read, in file order.
enum Entry<'a> {
    Scenario(&'a Scenario),
    Broken {
        name: Option<&'a str>,
        span: centralino_compiler::Span,
    },
}

fn entries(file: &ScenarioFile) -> Vec<Entry<'_>> {
    let mut entries: Vec<(u32, Entry<'_>)> = file
        .scenarios
        .iter()
        .map(|s| (s.span.start, Entry::Scenario(s)))
        .chain(file.broken.iter().map(|b| {
            (
                b.span.start,
                Entry::Broken {
                    name: b.name.as_deref(),
                    span: b.span,
                },
            )
        }))
        .collect();
    entries.sort_by_key(|(start, _)| *start);
    entries.into_iter().map(|(_, e)| e).collect()
}

// ------------------------------------------------------------------ running one scenario

struct Runner<'a> {
    program: Arc<Program>,
    sources: &'a Sources,
    format: Format,
    colored: bool,
    /// What every scenario run so far visited (for `--coverage`).
    visits: RefCell<Visits>,
}

/// What the scenario's caller does, with `press booking` typed from the call itself.
struct Caller {
    inputs: VecDeque<scenario::Input>,
    typing: VecDeque<char>,
    last_booking: Rc<RefCell<Option<String>>>,
    problems: Rc<RefCell<Vec<String>>>,
}

impl InputSource for Caller {
    fn next_input(&mut self) -> Option<Input> {
        loop {
            if let Some(key) = self.typing.pop_front() {
                return Some(Input::Key(key));
            }
            return Some(match self.inputs.pop_front()? {
                scenario::Input::Press(Press::Key(key)) => Input::Key(key),
                scenario::Input::Press(Press::Wait) => Input::Wait,
                scenario::Input::Press(Press::Hangup) => Input::Hangup,
                scenario::Input::Text(text) => Input::Text(text),
                scenario::Input::Press(Press::Booking) => {
                    match self.last_booking.borrow().as_deref() {
                        Some(reference) => self.typing.extend(reference.chars()),
                        None => self.problems.borrow_mut().push(String::from(
                            "`press booking`: no booking had been made in this call yet, so nothing was typed",
                        )),
                    }
                    continue;
                }
            });
        }
    }
}

fn transfer_outcome(answer: Answer) -> TransferOutcome {
    match answer {
        Answer::Answered => TransferOutcome::Answered,
        Answer::Busy => TransferOutcome::Busy,
        Answer::NoAnswer => TransferOutcome::NoAnswer,
        Answer::Failed => TransferOutcome::Failed,
        Answer::Timeout => TransferOutcome::Timeout,
    }
}

fn script(scenario: &Scenario, graph: &Graph) -> Script {
    let defaults = Script::default();
    Script {
        transfer: scenario
            .transfer()
            .map_or(defaults.transfer, transfer_outcome),
        queue: scenario.queue().map_or(defaults.queue, transfer_outcome),
        webhooks: scenario
            .webhooks()
            .into_iter()
            .map(|(part, reply)| {
                let answer = match reply {
                    WebhookReply::Returns(value) => Ok(value.clone()),
                    WebhookReply::Fails => Err(String::from("the scenario says it fails")),
                };
                (part.to_owned(), answer)
            })
            .collect(),
        absent: scenario.absent(graph),
    }
}

/// What one call left behind: its steps, and the store's records.
struct Outcome {
    steps: Vec<TimedStep>,
    store: SledStore,
    /// Problems of the scenario itself, found while it ran.
    problems: Vec<String>,
}

impl Runner<'_> {
    fn report_unrunnable(&self, file: &str, line: usize, name: &str) -> anyhow::Result<()> {
        let mut text = format!("{} {file}:{line} {name}\n", self.fail_word());
        text.push_str("     not run: the scenario has errors (shown above)\n");
        if self.format == Format::Github {
            let _ = writeln!(
                text,
                "::error file={},line={line},title={}::the scenario has errors and did not run",
                format::github_property(file),
                format::github_property(name)
            );
        }
        output::stdout(text.as_bytes())
    }

    fn fail_word(&self) -> &'static str {
        if self.colored {
            "\u{1b}[1;31mFAIL\u{1b}[0m"
        } else {
            "FAIL"
        }
    }

    fn ok_word(&self) -> &'static str {
        if self.colored {
            "\u{1b}[32mok  \u{1b}[0m"
        } else {
            "ok  "
        }
    }

    /// Run one scenario and print its line (and, when it fails, why, with a transcript).
    fn run(&self, scenario: &Scenario, index: usize) -> anyhow::Result<bool> {
        let at = self.sources.location(scenario.span);
        let Some(call) = scenario.call() else {
            self.report_unrunnable(&at.file, at.line, &scenario.name.value)?;
            return Ok(false);
        };
        let outcome = self.call(scenario, index)?;
        let mut failures: Vec<(usize, String, String)> = Vec::new();
        for problem in &outcome.problems {
            failures.push((at.line, String::from("the scenario"), problem.clone()));
        }
        for expectation in scenario.expectations() {
            if let Some(why) = evaluate(expectation, &outcome) {
                let line = self.sources.location(expectation.span).line;
                failures.push((line, self.source_text(expectation.span), why));
            }
        }
        let mut text = String::new();
        if failures.is_empty() {
            let _ = writeln!(
                text,
                "{} {}:{} {}",
                self.ok_word(),
                at.file,
                at.line,
                scenario.name.value
            );
            output::stdout(text.as_bytes())?;
            return Ok(true);
        }
        let _ = writeln!(
            text,
            "{} {}:{} {}",
            self.fail_word(),
            at.file,
            at.line,
            scenario.name.value
        );
        for (line, written, why) in &failures {
            let _ = writeln!(text, "     line {line}: {written}");
            let _ = writeln!(text, "       {why}");
        }
        let _ = writeln!(
            text,
            "     the call: \"{}\" from \"{}\" at {} ({})",
            call.number.value,
            call.caller(),
            clock::minute(call.when),
            centralino_compiler::calendar::DEFAULT_TIMEZONE
        );
        for line in Transcript::lines(&outcome.steps) {
            let _ = writeln!(text, "       {line}");
        }
        if self.format == Format::Github {
            for (line, written, why) in &failures {
                let _ = writeln!(
                    text,
                    "::error file={},line={line},title={}::{}",
                    format::github_property(&at.file),
                    format::github_property(&scenario.name.value),
                    format::github_data(&format!("{written}\n{why}"))
                );
            }
        }
        output::stdout(text.as_bytes())?;
        Ok(false)
    }

    /// The scenario's call, on a fresh store.
    fn call(&self, scenario: &Scenario, index: usize) -> anyhow::Result<Outcome> {
        let store = SledStore::temporary().context("cannot create a temporary store")?;
        let Some(call) = scenario.call() else {
            bail!("scenario without a call");
        };
        let last_booking = Rc::new(RefCell::new(None));
        let problems = Rc::new(RefCell::new(Vec::new()));
        let mut caller = Caller {
            inputs: scenario.inputs().into(),
            typing: VecDeque::new(),
            last_booking: Rc::clone(&last_booking),
            problems: Rc::clone(&problems),
        };
        let mut on_step = |step: &TimedStep| {
            if let Step::Booking { reference, .. } = &step.step {
                *last_booking.borrow_mut() = Some(reference.clone());
            }
        };
        let info = CallInfo {
            call_id: format!("scenario-{index}"),
            caller: call.caller().to_owned(),
            number: call.number.value.clone(),
        };
        let driver = Driver::new(
            Arc::clone(&self.program),
            &store,
            script(scenario, &self.program.graph),
        );
        let ran = driver.run_routed(info, call.when, &mut caller, &mut on_step);
        let mut visits = self.visits.borrow_mut();
        for passage in ran.route {
            match passage {
                Passage::Entered(node) => {
                    visits.entered.insert(node);
                }
                Passage::Followed { from, on } => {
                    visits.followed.insert((from, on));
                }
            }
        }
        let steps = ran.steps;
        let problems = problems.borrow().clone();
        Ok(Outcome {
            steps,
            store,
            problems,
        })
    }

    /// The text of a span, on one line.
    fn source_text(&self, span: centralino_compiler::Span) -> String {
        self.sources
            .get(span.source)
            .and_then(|f| f.text.get(span.range()))
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }
}

// ------------------------------------------------------------------ expectations

/// `None` when the expectation holds; otherwise what happened instead, in words.
fn evaluate(expectation: &Expectation, outcome: &Outcome) -> Option<String> {
    let negated = expectation.negated;
    let steps = || outcome.steps.iter().map(|s| &s.step);
    match &expectation.what {
        Expect::Say(text) => {
            let needle = text.value.to_lowercase();
            let heard = steps().find_map(|s| match s {
                Step::Said { text, .. } if text.to_lowercase().contains(&needle) => Some(text),
                _ => None,
            });
            match (heard, negated) {
                (None, false) => Some(format!(
                    "no prompt the caller heard contains \"{}\"",
                    text.value
                )),
                (Some(prompt), true) => Some(format!("the caller heard it: \"{prompt}\"")),
                _ => None,
            }
        }
        Expect::Ticket {
            category,
            priority,
            fields,
        } => {
            let tickets = match outcome.store.tickets() {
                Ok(tickets) => tickets,
                Err(e) => return Some(format!("cannot read the tickets: {e}")),
            };
            let matches = |t: &centralino_runtime::store::Ticket| {
                category
                    .as_ref()
                    .is_none_or(|c| t.request.category == c.name)
                    && priority
                        .as_ref()
                        .is_none_or(|p| t.request.priority == p.name)
                    && fields.iter().all(|(name, value)| {
                        t.request.fields.get(&name.name).map(String::as_str)
                            == Some(value.value.as_str())
                    })
            };
            let describe = |t: &centralino_runtime::store::Ticket| {
                let mut words = format!(
                    "{} (category {}, priority {}",
                    t.reference, t.request.category, t.request.priority
                );
                for (name, value) in &t.request.fields {
                    let _ = write!(words, ", {name}: \"{value}\"");
                }
                words.push(')');
                words
            };
            let found = tickets.iter().find(|t| matches(t));
            match (found, negated) {
                (None, false) if tickets.is_empty() => Some(String::from("no ticket was stored")),
                (None, false) => Some(format!(
                    "no stored ticket matches; stored: {}",
                    tickets.iter().map(describe).collect::<Vec<_>>().join("; ")
                )),
                (Some(ticket), true) => Some(format!("a ticket was stored: {}", describe(ticket))),
                _ => None,
            }
        }
        Expect::Callback(office) => {
            let callbacks = match outcome.store.callbacks() {
                Ok(callbacks) => callbacks,
                Err(e) => return Some(format!("cannot read the callbacks: {e}")),
            };
            let all: Vec<String> = callbacks
                .iter()
                .map(|c| format!("{} for {}", c.reference, c.request.office))
                .collect();
            let found = callbacks
                .iter()
                .find(|c| office.as_ref().is_none_or(|o| c.request.office == o.name));
            presence(
                found.map(|c| {
                    format!(
                        "callback {} for {} was stored",
                        c.reference, c.request.office
                    )
                }),
                negated,
                "no callback was stored",
                &all,
                "callback",
            )
        }
        Expect::Booking(name) => {
            let bookings = match outcome.store.bookings() {
                Ok(bookings) => bookings,
                Err(e) => return Some(format!("cannot read the bookings: {e}")),
            };
            let describe = |b: &centralino_runtime::store::Booking| {
                let what = match &b.resource {
                    Resource::Office(n) | Resource::Service(n) => n,
                };
                format!(
                    "{} with {what} on {}",
                    b.reference,
                    clock::minute(b.slot.start)
                )
            };
            let all: Vec<String> = bookings.iter().map(describe).collect();
            let found = bookings.iter().find(|b| {
                name.as_ref().is_none_or(|n| match &b.resource {
                    Resource::Office(r) | Resource::Service(r) => *r == n.name,
                })
            });
            presence(
                found.map(|b| format!("booking {} was made", describe(b))),
                negated,
                "no booking was made",
                &all,
                "booking",
            )
        }
        Expect::Cancelled => {
            let cancelled = steps().find_map(|s| match s {
                Step::Cancelled {
                    reference,
                    found: true,
                } => Some(format!("booking {reference} was cancelled")),
                _ => None,
            });
            let tried: Vec<String> = steps()
                .filter_map(|s| match s {
                    Step::Cancelled {
                        reference,
                        found: false,
                    } => Some(format!("no booking {reference} to cancel")),
                    _ => None,
                })
                .collect();
            match (cancelled, negated) {
                (None, false) if tried.is_empty() => Some(String::from("no booking was cancelled")),
                (None, false) => Some(format!("no booking was cancelled: {}", tried.join("; "))),
                (Some(cancelled), true) => Some(cancelled),
                _ => None,
            }
        }
        Expect::Transfer(office) => {
            let all: Vec<String> = steps()
                .filter_map(|s| match s {
                    Step::Transfer { office, .. } => Some(format!("to {office}")),
                    _ => None,
                })
                .collect();
            let found = steps().find_map(|s| match s {
                Step::Transfer {
                    office: to,
                    outcome,
                    ..
                } if office.as_ref().is_none_or(|o| *to == o.name) => Some(format!(
                    "the call was put through to {to} ({})",
                    transcript::outcome_words(*outcome)
                )),
                _ => None,
            });
            presence(
                found,
                negated,
                "the call was never put through to an office",
                &all,
                "transfer",
            )
        }
        Expect::Queue(office) => {
            let all: Vec<String> = steps()
                .filter_map(|s| match s {
                    Step::Queue { office, .. } => Some(format!("for {office}")),
                    _ => None,
                })
                .collect();
            let found = steps().find_map(|s| match s {
                Step::Queue {
                    office: to,
                    outcome,
                } if office.as_ref().is_none_or(|o| *to == o.name) => Some(format!(
                    "the caller queued for {to} ({})",
                    transcript::outcome_words(*outcome)
                )),
                _ => None,
            });
            presence(found, negated, "the caller never queued", &all, "queue")
        }
        Expect::Recording => {
            let found = steps().find_map(|s| match s {
                Step::Recording { variable, .. } => {
                    Some(format!("a message was recorded into {variable}"))
                }
                _ => None,
            });
            presence(found, negated, "nothing was recorded", &[], "recording")
        }
        Expect::Conference(room) => {
            let found = steps().find_map(|s| match s {
                Step::Conference { room: joined }
                    if room.as_ref().is_none_or(|r| *joined == r.value) =>
                {
                    Some(format!("the caller joined conference \"{joined}\""))
                }
                _ => None,
            });
            let all: Vec<String> = steps()
                .filter_map(|s| match s {
                    Step::Conference { room } => Some(format!("\"{room}\"")),
                    _ => None,
                })
                .collect();
            presence(
                found,
                negated,
                "the caller joined no conference",
                &all,
                "conference",
            )
        }
        Expect::State { flow, state } => {
            let entered = steps().any(|s| match s {
                Step::Entered(trace) => {
                    trace.flow == flow.name
                        && state.as_ref().is_none_or(|want| trace.state == want.name)
                }
                _ => false,
            });
            let name = match state {
                Some(state) => format!("{}.{}", flow.name, state.name),
                None => format!("flow {}", flow.name),
            };
            match (entered, negated) {
                (false, false) => Some(format!("the call never reached {name}")),
                (true, true) => Some(format!("the call reached {name}")),
                _ => None,
            }
        }
        Expect::Hangup => {
            let ending = ending(&outcome.steps);
            let hung_up = ending == "the flow hung up";
            match (hung_up, negated) {
                (false, false) => Some(format!("the flow did not hang up: {ending}")),
                (true, true) => Some(String::from("the flow hung up")),
                _ => None,
            }
        }
        Expect::Language(language) => {
            let last = steps().rev().find_map(|s| match s {
                Step::Said { language, .. } => Some(language.as_str()),
                _ => None,
            });
            let same = last == Some(language.name.as_str());
            match (same, negated, last) {
                (false, false, Some(last)) => {
                    Some(format!("the last prompt the caller heard was in `{last}`"))
                }
                (false, false, None) => Some(String::from("the caller heard no prompt")),
                (true, true, _) => Some(format!(
                    "the last prompt the caller heard was in `{}`",
                    language.name
                )),
                _ => None,
            }
        }
    }
}

/// The verdict on "this happened" / "this did not happen": `found` is the match, if any.
fn presence(
    found: Option<String>,
    negated: bool,
    none: &str,
    others: &[String],
    kind: &str,
) -> Option<String> {
    match (found, negated) {
        (None, false) if others.is_empty() => Some(none.to_owned()),
        (None, false) => Some(format!(
            "no {kind} matches; there was: {}",
            others.join("; ")
        )),
        (Some(found), true) => Some(found),
        _ => None,
    }
}

/// How the call ended, in words: the engine's reason (`the flow hung up`,
/// `caller hung up`, `loop limit`...), the driver's (put through to staff), or why it stopped.
fn ending(steps: &[TimedStep]) -> String {
    match steps.last().map(|s| &s.step) {
        Some(Step::Ended { reason }) => reason.to_string(),
        Some(Step::Stuck) => String::from(
            "the call was left waiting: the scenario had no more keys and nothing else could happen",
        ),
        _ => String::from(
            "the call did not end (too many steps: a loop the flow's bounds should stop)",
        ),
    }
}

// ------------------------------------------------------------------ transcripts

// ------------------------------------------------------------------ GitHub annotations

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(inputs: Vec<scenario::Input>) -> Caller {
        Caller {
            inputs: inputs.into(),
            typing: VecDeque::new(),
            last_booking: Rc::new(RefCell::new(None)),
            problems: Rc::new(RefCell::new(Vec::new())),
        }
    }

    #[test]
    fn press_booking_types_the_code_of_the_booking_made_in_the_call() {
        let mut caller = caller(vec![
            scenario::Input::Press(Press::Key('4')),
            scenario::Input::Press(Press::Booking),
            scenario::Input::Press(Press::Key('#')),
        ]);
        assert_eq!(caller.next_input(), Some(Input::Key('4')));
        *caller.last_booking.borrow_mut() = Some(String::from("107"));
        let typed: Vec<Input> = std::iter::from_fn(|| caller.next_input()).collect();
        assert_eq!(
            typed,
            vec![
                Input::Key('1'),
                Input::Key('0'),
                Input::Key('7'),
                Input::Key('#')
            ]
        );
        assert!(caller.problems.borrow().is_empty());
    }

    #[test]
    fn press_booking_before_any_booking_is_a_problem_of_the_scenario() {
        let mut caller = caller(vec![
            scenario::Input::Press(Press::Booking),
            scenario::Input::Press(Press::Wait),
        ]);
        assert_eq!(caller.next_input(), Some(Input::Wait));
        assert_eq!(caller.next_input(), None);
        assert_eq!(caller.problems.borrow().len(), 1);
    }

    #[test]
    fn a_call_ends_with_the_engine_reason_or_stuck() {
        let at = jiff::Timestamp::UNIX_EPOCH;
        let ended = [TimedStep {
            at,
            step: Step::Ended {
                reason: centralino_runtime::engine::EndReason::FlowHungUp,
            },
        }];
        assert_eq!(ending(&ended), "the flow hung up");
        let stuck = [TimedStep {
            at,
            step: Step::Stuck,
        }];
        assert!(ending(&stuck).contains("no more keys"));
        assert!(ending(&[]).contains("did not end"));
    }

    #[test]
    fn negated_expectations_name_what_happened() {
        let found = presence(
            Some(String::from("callback X was stored")),
            true,
            "",
            &[],
            "",
        );
        assert_eq!(found.as_deref(), Some("callback X was stored"));
        let none = presence(None, false, "no callback was stored", &[], "callback");
        assert_eq!(none.as_deref(), Some("no callback was stored"));
        let other = presence(None, false, "", &[String::from("Y")], "callback");
        assert_eq!(other.as_deref(), Some("no callback matches; there was: Y"));
        assert_eq!(presence(None, true, "", &[], ""), None);
    }
}
