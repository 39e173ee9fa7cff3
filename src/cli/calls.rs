//! `centralino calls [list|show ID]` and `centralino replay ID [--with-current [FLOWS]]`: the
//! call log.
//!
//! ```text
//!   calls               ─► control socket `calls` ─► the live calls (serve must run)
//!   calls list|show ID  ─┐
//!   replay ID           ─┴─► --data DIR: SledStore ─► calllog::answer ─► Answer
//!                             │ held by a running `serve`                 │
//!                             └─► control.sock `calllog list|show ID` ────┘
//!   show:   rerun on the kept version ─► the simulator's transcript (each state with file:line)
//!   replay: rerun ─► compare with the recorded steps ─► "same N steps" (0) or the first difference (1)
//!           --with-current: the caller's inputs ─► Driver on the flows now ─► where the paths part (1)
//! ```
//!
//! Bare `calls` keeps its meaning (the server's live calls); `list` and `show` read the log of
//! calls that ended, from the store or through the server that holds it, like `tickets list`.
//! Exit codes: 0 listed, shown, replayed the same (or the same path with `--with-current`);
//! 1 no such call, a replay that differs, flows with errors; 2 the command could not run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use centralino_runtime::calllog::{
    self, Answer, CallId, Difference, LoggedCall, Question, Verdict,
};
use centralino_runtime::control::Request;
use centralino_runtime::engine::{Program, Trace};
use centralino_runtime::port::{Step, TimedStep};
use centralino_runtime::store::{CallRecord, SledStore, StoreConfig, StoreError};
use clap::{Args, Subcommand};
use jiff::Timestamp;
use serde_json::Value;

use super::transcript::{Transcript, short_location};
use super::{CLEAN, PROBLEMS, clock, control, output, records};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CallsArgs {
    #[command(subcommand)]
    log: Option<LogAction>,
    #[command(flatten)]
    live: control::ControlArgs,
}

#[derive(Debug, Subcommand)]
enum LogAction {
    /// The call log: calls that ended, most recent first.
    List(ListArgs),
    /// One logged call as a transcript (each state with its flow file and line).
    Show {
        /// The call's id (from `calls list`).
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Args)]
struct StoreArgs {
    /// The data directory of the store (or of the running server holding it).
    #[arg(long, value_name = "DIR", default_value = "data")]
    data: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ListArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Only calls that started at or after this time (`YYYY-MM-DD HH:MM` in the city's zone,
    /// or an RFC 3339 instant).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only calls to this number.
    #[arg(long)]
    number: Option<String>,
    /// Only calls from this caller.
    #[arg(long)]
    caller: Option<String>,
    /// At most this many calls (0: all).
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The call's id (from `calls list`).
    id: String,
    /// Instead: the same caller's keys against the flows as they are now (default: flows/),
    /// showing where the call would go differently.
    #[arg(long, value_name = "FLOWS", num_args = 0..=1, default_missing_value = "flows")]
    with_current: Option<PathBuf>,
    /// The data directory of the store (or of the running server holding it).
    #[arg(long, value_name = "DIR", default_value = "data")]
    data: PathBuf,
}

pub fn calls(args: &CallsArgs) -> anyhow::Result<u8> {
    match &args.log {
        None => control::calls(&args.live),
        Some(LogAction::List(list)) => self::list(list),
        Some(LogAction::Show { id, store }) => show(id, store),
    }
}

/// The answer from the store in `dir`, or from the running server that holds it.
fn ask(dir: &Path, question: &Question) -> anyhow::Result<Answer> {
    records::must_hold_a_store(dir)?;
    let cannot_open = || {
        format!(
            "cannot open the store in {} (is a running Centralino holding it?)",
            dir.display()
        )
    };
    match SledStore::open_without_waiting(dir, StoreConfig::default()) {
        Ok(store) => Ok(calllog::answer(&store, question)?),
        Err(locked @ StoreError::Locked { .. }) => {
            let request = Request::CallLog(question.clone()).to_string();
            let Ok(reply) = control::ask(dir, &request) else {
                return Err(anyhow::Error::new(locked).context(cannot_open()));
            };
            if reply.get("ok").and_then(Value::as_bool) != Some(true) {
                let error = reply
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("the server gave no reason");
                anyhow::bail!("{error}");
            }
            let answer = reply.get("calllog").cloned().unwrap_or_default();
            serde_json::from_value(answer).context("the server's call log is not readable")
        }
        Err(error) => Err(anyhow::Error::new(error).context(cannot_open())),
    }
}

fn list(args: &ListArgs) -> anyhow::Result<u8> {
    let since = match &args.since {
        Some(text) => Some(clock::parse(text).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let Answer::Listed { calls } = ask(&args.store.data, &Question::List)? else {
        anyhow::bail!("the call log answered something other than a list");
    };
    let mut calls: Vec<CallRecord> = calls
        .into_iter()
        .filter(|c| since.is_none_or(|s| c.started_at >= s))
        .filter(|c| args.number.as_ref().is_none_or(|n| &c.number == n))
        .filter(|c| args.caller.as_ref().is_none_or(|n| &c.caller == n))
        .collect();
    if args.limit > 0 {
        calls.truncate(args.limit);
    }
    let text = if args.store.json {
        let mut text = serde_json::to_string_pretty(&calls).context("cannot write JSON")?;
        text.push('\n');
        text
    } else if calls.is_empty() {
        format!("no calls in the log of {}\n", args.store.data.display())
    } else {
        let mut table = records::Table::new(&[
            "STARTED", "LENGTH", "CALLER", "NUMBER", "FLOW", "OUTCOME", "VERSION", "CALL ID",
        ]);
        for c in &calls {
            table.row(vec![
                clock::full(c.started_at),
                c.ended_at
                    .map_or_else(|| String::from("-"), |end| length(c.started_at, end)),
                or_dash(&c.caller),
                c.number.clone(),
                or_dash(&c.flow),
                c.outcome.clone().unwrap_or_else(|| String::from("-")),
                short_version(&c.graph_version),
                c.call_id.clone(),
            ]);
        }
        table.render()
    };
    output::stdout(text.as_bytes())?;
    Ok(CLEAN)
}

/// The logged call `id`, or a message and exit 1 when there is none.
fn fetch(data: &Path, id: &str) -> anyhow::Result<Result<LoggedCall, u8>> {
    let Ok(call_id) = CallId::parse(id.trim()) else {
        eprintln!("error: no call {id:?} in the log of {}", data.display());
        return Ok(Err(PROBLEMS));
    };
    match ask(data, &Question::Show(call_id))? {
        Answer::Shown { call: Some(call) } => Ok(Ok(*call)),
        Answer::Shown { call: None } => {
            eprintln!("error: no call {id} in the log of {}", data.display());
            Ok(Err(PROBLEMS))
        }
        Answer::Listed { .. } => anyhow::bail!("the call log answered a list, not one call"),
    }
}

/// The program of the version that served the call, when it is kept.
fn kept_program(logged: &LoggedCall) -> anyhow::Result<Option<Arc<Program>>> {
    let Some(version) = &logged.version else {
        return Ok(None);
    };
    let program = Program::new(version.graph.clone())
        .with_context(|| format!("the kept version {} does not load", version.version))?;
    Ok(Some(program))
}

fn show(id: &str, args: &StoreArgs) -> anyhow::Result<u8> {
    let logged = match fetch(&args.data, id)? {
        Ok(logged) => logged,
        Err(code) => return Ok(code),
    };
    let transcript = match (kept_program(&logged)?, &logged.events) {
        (Some(program), Some(events)) => Some(calllog::rerun(program, &logged.call, events).steps),
        _ => None,
    };
    if args.json {
        let value = serde_json::json!({
            "call": logged.call,
            "steps": logged.steps,
            "events": logged.events,
            "transcript": transcript,
        });
        let mut text = serde_json::to_string_pretty(&value).context("cannot write JSON")?;
        text.push('\n');
        output::stdout(text.as_bytes())?;
        return Ok(CLEAN);
    }
    let mut text = header(&logged.call);
    text.push('\n');
    let steps = match transcript {
        Some(steps) => steps,
        None => {
            text.push_str(
                "(the version that served this call, or its events, are no longer kept: the states it went through)\n",
            );
            logged
                .steps
                .iter()
                .map(|s| TimedStep {
                    at: s.at,
                    step: Step::Entered(s.trace.clone()),
                })
                .collect()
        }
    };
    for line in Transcript::lines(&steps) {
        text.push_str(&line);
        text.push('\n');
    }
    output::stdout(text.as_bytes())?;
    Ok(CLEAN)
}

fn header(call: &CallRecord) -> String {
    let mut text = String::new();
    let mut field = |name: &str, value: String| text.push_str(&format!("{name:<9} {value}\n"));
    field("call", call.call_id.clone());
    field(
        "caller",
        format!("{} -> {}", or_dash(&call.caller), call.number),
    );
    field("channel", or_dash(&call.channel));
    field("started", clock::full(call.started_at));
    if let Some(end) = call.ended_at {
        field(
            "ended",
            format!("{} ({})", clock::full(end), length(call.started_at, end)),
        );
    }
    field(
        "outcome",
        call.outcome.clone().unwrap_or_else(|| String::from("-")),
    );
    field("version", call.graph_version.clone());
    text
}

pub fn replay(args: &ReplayArgs) -> anyhow::Result<u8> {
    let logged = match fetch(&args.data, &args.id)? {
        Ok(logged) => logged,
        Err(code) => return Ok(code),
    };
    let Some(events) = &logged.events else {
        eprintln!(
            "error: call {} has no recorded events (logged before events were kept)",
            args.id
        );
        return Ok(PROBLEMS);
    };
    let Some(program) = kept_program(&logged)? else {
        eprintln!(
            "error: the version {} that served call {} is no longer kept",
            logged.call.graph_version, args.id
        );
        return Ok(PROBLEMS);
    };
    let rerun = calllog::rerun(program, &logged.call, events);
    match &args.with_current {
        None => replay_exact(&logged, events.truncated, &rerun),
        Some(flows) => replay_with_current(&logged, &rerun, flows),
    }
}

fn replay_exact(
    logged: &LoggedCall,
    truncated: bool,
    rerun: &calllog::Rerun,
) -> anyhow::Result<u8> {
    let version = &logged.call.graph_version;
    let verdict = calllog::compare(&logged.steps, &rerun.path());
    let mut text = String::new();
    if truncated {
        text.push_str("warning: the call had more events than the log keeps; only the first ones were replayed\n");
    }
    if rerun.presence_differed {
        text.push_str(
            "warning: the engine asked about staff presence differently than on the live call\n",
        );
    }
    let code = match verdict {
        Verdict::Same { steps } => {
            text.push_str(&format!(
                "replayed call {} on {version}: same {steps} steps\n",
                logged.call.call_id
            ));
            CLEAN
        }
        Verdict::Differs(difference) => {
            let Difference {
                index,
                recorded,
                replayed,
            } = *difference;
            text.push_str(&format!(
                "replayed call {} on {version}: differs at step {}\n",
                logged.call.call_id,
                index + 1
            ));
            text.push_str(&format!("  recorded: {}\n", describe(recorded.as_ref())));
            text.push_str(&format!("  replayed: {}\n", describe(replayed.as_ref())));
            PROBLEMS
        }
    };
    output::stdout(text.as_bytes())?;
    Ok(code)
}

fn replay_with_current(
    logged: &LoggedCall,
    rerun: &calllog::Rerun,
    flows: &Path,
) -> anyhow::Result<u8> {
    let sources = super::load_sources(&[flows.to_path_buf()])?;
    let compiled = centralino_compiler::compile(&sources);
    let graph = match compiled.graph {
        Some(graph) if !compiled.diagnostics.has_errors() => graph,
        _ => {
            eprint!(
                "{}",
                centralino_compiler::render::human(&sources, &compiled.diagnostics, false)
            );
            eprintln!("error: the flows in {} have errors", flows.display());
            return Ok(PROBLEMS);
        }
    };
    let current = graph.content_hash.clone();
    let program = Program::new(graph).context("loading the compiled flows")?;
    let now = calllog::with_current(program, &logged.call, rerun)?;
    let then_path = rerun.path();
    let now_path = calllog::path_of(&now);
    let mut text = format!(
        "call {} (served by {}) against the flows in {} ({current}):\n",
        logged.call.call_id,
        logged.call.graph_version,
        flows.display()
    );
    let code = match calllog::compare_paths(&then_path, &now_path) {
        Verdict::Same { steps } => {
            text.push_str(&format!("the same way: {steps} steps\n"));
            CLEAN
        }
        Verdict::Differs(difference) => {
            let Difference {
                index,
                recorded,
                replayed,
            } = *difference;
            text.push_str(&format!(
                "the call would go differently at step {}:\n",
                index + 1
            ));
            text.push_str(&format!("  then: {}\n", describe(recorded.as_ref())));
            text.push_str(&format!("  now:  {}\n", describe(replayed.as_ref())));
            text.push_str("\nwhat the caller would hear now:\n");
            for line in Transcript::lines(&now) {
                text.push_str(&line);
                text.push('\n');
            }
            PROBLEMS
        }
    };
    output::stdout(text.as_bytes())?;
    Ok(code)
}

/// `10:04:31 main.menu  flows/main.flow:12  key 1 -> passa`, or `(no step)`.
fn describe(step: Option<&(Timestamp, Trace)>) -> String {
    match step {
        Some((at, trace)) => format!(
            "{} {}.{}  {}  {}",
            clock::time(*at),
            trace.flow,
            trace.state,
            short_location(&trace.location),
            trace.note
        ),
        None => String::from("(no step: the call ended before)"),
    }
}

fn length(from: Timestamp, to: Timestamp) -> String {
    let seconds = to.duration_since(from).as_secs().max(0);
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s}s"),
        (m, s) => format!("{m}m {s:02}s"),
    }
}

fn short_version(version: &str) -> String {
    version.chars().take(15).collect()
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        String::from("-")
    } else {
        text.to_owned()
    }
}
