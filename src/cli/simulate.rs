//! `centralino simulate`: one call through the flows, without a phone, as a transcript.
//!
//! ```text
//!   flows ──compile──► Program ──► Driver (virtual time) ──steps──► transcript / JSON lines
//!                                    ▲          │
//!          --input "2 1 #" / stdin ──┘          └──► store (--data DIR, or a temporary one)
//! ```
//!
//! The caller's keys come from `--input`, else from standard input: a terminal
//! gets a `keys> ` prompt whenever the call waits for the caller; piped lines
//! are read the same way without the prompt. Time is virtual: prompts take as
//! long as they would to speak, timeouts fire at once when nobody presses.
//!
//! Exit codes: 0 the call ended normally (the flow or the caller hung up, or
//! the call was put through), 1 the flows have errors or the call got stuck
//! or ended badly (dead end, loop limit, store failure), 2 bad usage.

use std::collections::VecDeque;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;
use centralino_runtime::driver::{Driver, Input, InputSource, MAX_EVENTS, Script};
use centralino_runtime::engine::{CallInfo, Program};
use centralino_runtime::port::{Step, TimedStep};
use centralino_runtime::store::{SledStore, Store, StoreConfig};
use clap::Args;
use jiff::Timestamp;

use super::transcript::{Transcript, short_location};
use super::{CLEAN, Color, FAILED, PROBLEMS, clock, compile, output};

/// The caller when `--from` is not given: a made-up Italian mobile number
/// (long enough to be called back).
const DEFAULT_CALLER: &str = "+393331234567";

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Flow files or folders [default: flows/]
    paths: Vec<PathBuf>,

    /// The number dialled: picks the flow that answers it.
    #[arg(long, value_name = "NUMBER")]
    number: String,

    /// The caller's number.
    #[arg(long = "from", value_name = "CALLER", default_value = DEFAULT_CALLER)]
    caller: String,

    /// When the call starts: `YYYY-MM-DD HH:MM` in Europe/Rome, or an RFC 3339
    /// instant (`2026-03-02T09:00:00Z`) [default: now]
    #[arg(long, value_name = "TIME", value_parser = clock::parse)]
    at: Option<Timestamp>,

    /// The caller's keys, in order: digits, `*`, `#`, `wait` (let a timeout run
    /// out), `hangup`; once they are used up the caller stays silent. Without it,
    /// keys are read a line at a time from standard input (a terminal is asked with
    /// `keys> `; an empty line waits, end of input hangs up).
    #[arg(long, value_name = "KEYS")]
    input: Option<Keys>,

    /// Keep what the call stores in this data directory (created if missing)
    /// [default: a temporary store, removed afterwards]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,

    /// Print the steps as JSON lines instead of a transcript.
    #[arg(long)]
    json: bool,
}

/// `--input`: checked when the command line is parsed, so a typo is a usage error.
#[derive(Debug, Clone)]
struct Keys(Vec<Input>);

impl FromStr for Keys {
    type Err = String;

    fn from_str(text: &str) -> Result<Keys, String> {
        Input::parse_all(text).map(Keys)
    }
}

pub fn run(
    args: &SimulateArgs,
    color: Color,
    lang: centralino_compiler::Lang,
) -> anyhow::Result<u8> {
    let graph = match compile::graph_or_diagnostics(&args.paths, color, lang)? {
        Ok(graph) => graph,
        Err(code) => return Ok(code),
    };
    let Some(flow) = graph.flow_for_number(&args.number) else {
        let answered: Vec<&str> = graph.numbers.keys().map(String::as_str).collect();
        let known = if answered.is_empty() {
            String::from("no flow answers any number")
        } else {
            format!("the flows answer {}", answered.join(", "))
        };
        eprintln!("error: no flow answers {}; {known}", args.number);
        return Ok(FAILED);
    };
    let header = format!(
        "call to {} from {}, flow {} ({})",
        args.number,
        args.caller,
        flow.name,
        short_location(&flow.location.to_string())
    );
    let program = Program::new(graph).context("cannot load the compiled flows")?;

    let at = args.at.unwrap_or_else(Timestamp::now);
    // Keep the temporary directory alive until the store is closed.
    let (store, temporary, shown) = match &args.data {
        Some(dir) => (
            SledStore::open(dir, StoreConfig::default())?,
            None,
            dir.display().to_string(),
        ),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("centralino-simulate-")
                .tempdir()
                .context("cannot create a temporary store")?;
            let store = SledStore::open(dir.path(), StoreConfig::default())?;
            (store, Some(dir), String::from("temporary"))
        }
    };

    let mut printer = Printer::new(args.json);
    if !args.json {
        printer.line(&format!(
            "{header}, {} ({})",
            clock::minute(at),
            clock::ZONE
        ));
        printer.line(&format!("store: {shown}"));
    }

    let call = CallInfo {
        call_id: format!("sim-{}", at.as_millisecond()),
        caller: args.caller.clone(),
        number: args.number.clone(),
    };
    let driver = Driver::new(program, &store, Script::default());
    let mut print = |step: &TimedStep| printer.step(step);
    let (steps, unused, bad_input) = match &args.input {
        Some(Keys(keys)) => {
            let mut inputs: VecDeque<Input> = keys.iter().cloned().collect();
            let steps = driver.run(call, at, &mut inputs, &mut print);
            (steps, inputs.into_iter().collect::<Vec<_>>(), None)
        }
        None => {
            let stdin = std::io::stdin();
            let terminal = stdin.is_terminal();
            if terminal {
                eprintln!(
                    "type the caller's keys when asked (digits, * and #, `wait`, `hangup`); \
                     an empty line waits, end of input (Ctrl-D) hangs up"
                );
            }
            let mut keyboard = Keyboard::new(stdin.lock(), terminal);
            let steps = driver.run(call, at, &mut keyboard, &mut print);
            (steps, Vec::new(), keyboard.bad_line)
        }
    };
    drop(driver);
    let flushed = store.flush();
    drop(store);
    drop(temporary);
    flushed?;

    // A normal end is already the transcript's last line; anything else is explained.
    let outcome = Outcome::of(&steps);
    if !outcome.is_normal() {
        if args.json {
            eprintln!("{}", outcome.describe());
        } else {
            printer.line(&outcome.describe());
        }
    }
    printer.finish()?;
    if !unused.is_empty() {
        eprintln!(
            "warning: the call ended before these inputs were used: {}",
            describe_inputs(&unused)
        );
    }
    if let Some(problem) = bad_input {
        eprintln!("error: {problem}");
        return Ok(FAILED);
    }
    Ok(if outcome.is_normal() { CLEAN } else { PROBLEMS })
}

// ------------------------------------------------------------------ outcome

/// How the simulated call ended, judged from its last steps.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The flow or the caller hung up, or staff answered.
    Ended(String),
    /// The engine ended the call because something is wrong with the flow or the store.
    Failed(String),
    /// Waiting for something that will never come.
    Stuck,
    /// The run stopped at the event limit.
    Unfinished,
}

impl Outcome {
    fn of(steps: &[TimedStep]) -> Outcome {
        let store_failed = steps.iter().find_map(|s| match &s.step {
            Step::StoreFailed { message } => Some(message.clone()),
            _ => None,
        });
        match steps.last().map(|s| &s.step) {
            Some(Step::Ended { reason }) => match store_failed {
                Some(message) => {
                    Outcome::Failed(format!("{reason} (a store write failed: {message})"))
                }
                None if reason.is_normal() => Outcome::Ended(reason.to_string()),
                None => Outcome::Failed(reason.to_string()),
            },
            Some(Step::Stuck) => Outcome::Stuck,
            _ => Outcome::Unfinished,
        }
    }

    fn is_normal(&self) -> bool {
        matches!(self, Outcome::Ended(_))
    }

    fn describe(&self) -> String {
        match self {
            Outcome::Ended(reason) => format!("call ended: {reason}"),
            Outcome::Failed(reason) => format!("call failed: {reason}"),
            Outcome::Stuck => String::from(
                "call stuck: it waits for the caller, no input is left and no timer runs",
            ),
            Outcome::Unfinished => format!(
                "call stopped after {MAX_EVENTS} events without ending (a loop that never waits?)"
            ),
        }
    }
}

// ------------------------------------------------------------------ keyboard

/// The caller's keys from standard input, a line at a time, read only when the
/// call waits for the caller. A terminal gets a `keys> ` prompt and a second
/// chance after a typo; a pipe does not. An empty line waits; end of input hangs up.
struct Keyboard<R> {
    lines: R,
    terminal: bool,
    queued: VecDeque<Input>,
    line: usize,
    finished: bool,
    /// A piped line that is not keys: the call hangs up and the command fails.
    bad_line: Option<String>,
}

impl<R: BufRead> Keyboard<R> {
    fn new(lines: R, terminal: bool) -> Self {
        Keyboard {
            lines,
            terminal,
            queued: VecDeque::new(),
            line: 0,
            finished: false,
            bad_line: None,
        }
    }

    fn hang_up(&mut self) -> Option<Input> {
        self.finished = true;
        Some(Input::Hangup)
    }
}

impl<R: BufRead> InputSource for Keyboard<R> {
    fn next_input(&mut self) -> Option<Input> {
        loop {
            if let Some(input) = self.queued.pop_front() {
                return Some(input);
            }
            if self.finished {
                return None;
            }
            if self.terminal {
                let mut err = std::io::stderr().lock();
                // A prompt that cannot be shown changes nothing about the call.
                let _ = write!(err, "keys> ").and_then(|()| err.flush());
            }
            let mut text = String::new();
            match self.lines.read_line(&mut text) {
                Ok(0) => return self.hang_up(),
                Ok(_) => self.line += 1,
                Err(error) => {
                    self.bad_line = Some(format!("cannot read standard input: {error}"));
                    return self.hang_up();
                }
            }
            let text = text.trim();
            if text.is_empty() {
                return Some(Input::Wait);
            }
            match Input::parse_all(text) {
                Ok(inputs) => self.queued.extend(inputs),
                Err(problem) if self.terminal => eprintln!("{problem}"),
                Err(problem) => {
                    self.bad_line = Some(format!("standard input, line {}: {problem}", self.line));
                    return self.hang_up();
                }
            }
        }
    }
}

fn describe_inputs(inputs: &[Input]) -> String {
    let words: Vec<String> = inputs
        .iter()
        .map(|input| match input {
            Input::Key(key) => key.to_string(),
            Input::Text(text) => format!("{text:?}"),
            Input::Wait => String::from("wait"),
            Input::Hangup => String::from("hangup"),
        })
        .collect();
    words.join(" ")
}

// ------------------------------------------------------------------ transcript

/// Prints steps as they happen: a transcript, or one JSON object a line.
struct Printer {
    json: bool,
    transcript: Transcript,
    /// The first write that failed (a closed pipe is not a failure).
    error: Option<anyhow::Error>,
}

impl Printer {
    fn new(json: bool) -> Self {
        Printer {
            json,
            transcript: Transcript::default(),
            error: None,
        }
    }

    fn line(&mut self, text: &str) {
        if self.error.is_some() {
            return;
        }
        let mut text = text.to_owned();
        text.push('\n');
        if let Err(error) = output::stdout(text.as_bytes()) {
            self.error = Some(error);
        }
    }

    fn finish(self) -> anyhow::Result<()> {
        self.error.map_or(Ok(()), Err)
    }

    fn step(&mut self, step: &TimedStep) {
        if self.json {
            match serde_json::to_string(step) {
                Ok(line) => self.line(&line),
                Err(error) => {
                    self.error = Some(anyhow::Error::new(error).context("cannot write JSON"));
                }
            }
            return;
        }
        let text = self.transcript.line(step);
        self.line(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyboard_reads_lines_waits_on_empty_ones_and_hangs_up_at_the_end() {
        let mut keyboard = Keyboard::new("2 1\n\n#\n".as_bytes(), false);
        let mut seen = Vec::new();
        while let Some(input) = keyboard.next_input() {
            seen.push(input);
        }
        assert_eq!(
            seen,
            vec![
                Input::Key('2'),
                Input::Key('1'),
                Input::Wait,
                Input::Key('#'),
                Input::Hangup
            ]
        );
        assert_eq!(keyboard.bad_line, None);
    }

    #[test]
    fn a_bad_piped_line_hangs_up_and_is_reported() {
        let mut keyboard = Keyboard::new("2\nciao\n3\n".as_bytes(), false);
        assert_eq!(keyboard.next_input(), Some(Input::Key('2')));
        assert_eq!(keyboard.next_input(), Some(Input::Hangup));
        assert_eq!(keyboard.next_input(), None);
        let problem = keyboard.bad_line.unwrap_or_default();
        assert!(
            problem.starts_with("standard input, line 2: `ciao`"),
            "{problem}"
        );
    }

    #[test]
    fn keys_are_checked_when_parsed() {
        assert!("2 1 # wait hangup".parse::<Keys>().is_ok());
        assert!("2 x".parse::<Keys>().is_err());
    }
}
