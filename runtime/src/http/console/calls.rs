//! The call log (supervisors and flow editors): calls that ended, filtered and paged
//! (`GET /calls`), one call with its step trace (`GET /calls/{id}`), and its replay
//! (`POST /calls/{id}/replay`), as `centralino calls list|show` and `centralino replay
//! [--with-current]` do.
//!
//! ```text
//!   GET /calls?from=&to=&outcome=&caller=&page=  ─► Filter::parse ─► store.calls ─► select ─► one page
//!   GET /calls/{id}   ─► calllog::logged_call ─► recorded steps + transcript (rerun on the kept version)
//!   POST /calls/{id}/replay ─► rerun ─► compare (exact: identical / differs at step N)
//!                             └─► with_current (the flows serving now) ─► compare_paths (+ what the caller would hear)
//! ```
//!
//! Store reads and reruns run on the blocking pool. Dates are days in the city's time zone.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use jiff::civil::Date;
use minijinja::context;
use serde::Serialize;

use super::clock::{Clock, length};
use super::{Console, Nav, Page, Viewer, supervisors};
use crate::calllog::{self, CallId, Difference, LoggedCall, Verdict};
use crate::engine::{Program, Trace};
use crate::port::{Step, TimedStep};
use crate::store::{CallRecord, StepRecord};

pub const PAGE: Page = Page {
    routes,
    templates: &[
        ("calls.html", include_str!("calls.html")),
        ("call.html", include_str!("call.html")),
    ],
    words: WORDS,
    nav: Some(Nav {
        path: "/calls",
        label: "calls.title",
        allowed: supervisors,
    }),
};

const WORDS: &[super::Word] = &[
    ("calls.title", "Registro chiamate", "Call log"),
    ("calls.from", "Dal giorno", "From"),
    ("calls.to", "Al giorno", "To"),
    ("calls.outcome", "Esito", "Outcome"),
    ("calls.any_outcome", "tutti", "any"),
    ("calls.caller", "Chiamante", "Caller"),
    ("calls.filter", "Filtra", "Filter"),
    ("calls.started", "Inizio", "Started"),
    ("calls.number", "Numero", "Number"),
    ("calls.flow", "Flusso", "Flow"),
    ("calls.length", "Durata", "Length"),
    (
        "calls.none",
        "Nessuna chiamata nel registro.",
        "No calls in the log.",
    ),
    ("calls.previous", "Precedenti", "Previous"),
    ("calls.next", "Successive", "Next"),
    ("calls.page", "Pagina", "Page"),
    ("calls.of", "di", "of"),
    ("calls.total", "chiamate", "calls"),
    (
        "calls.bad_date",
        "Data non valida: scrivere AAAA-MM-GG.",
        "Not a date: write YYYY-MM-DD.",
    ),
    ("calls.call", "Chiamata", "Call"),
    ("calls.channel", "Canale", "Channel"),
    ("calls.ended", "Fine", "Ended"),
    ("calls.version", "Versione dei flussi", "Flows version"),
    ("calls.steps", "Stati attraversati", "States entered"),
    ("calls.at", "Ora", "Time"),
    ("calls.state", "Stato", "State"),
    ("calls.where", "Dove", "Where"),
    ("calls.what", "Cosa è successo", "What happened"),
    (
        "calls.no_steps",
        "Il registro non ha passi per questa chiamata.",
        "The log has no steps for this call.",
    ),
    ("calls.transcript", "Trascrizione", "Transcript"),
    (
        "calls.no_transcript",
        "La versione dei flussi che ha servito la chiamata, o i suoi eventi, non sono più conservati.",
        "The flows version that served this call, or its events, are no longer kept.",
    ),
    ("calls.replay", "Riproduci", "Replay"),
    (
        "calls.replay_hint",
        "Rifà la chiamata con gli stessi eventi sulla versione che l'ha servita, e con i flussi attuali.",
        "Runs the call again with the same events on the version that served it, and on the current flows.",
    ),
    (
        "calls.replay_exact",
        "Sulla versione che l'ha servita",
        "On the version that served it",
    ),
    (
        "calls.replay_current",
        "Con i flussi attuali",
        "With the current flows",
    ),
    ("calls.identical", "identica", "identical"),
    ("calls.differs", "diversa", "differs"),
    ("calls.steps_count", "passi", "steps"),
    ("calls.differs_at", "dal passo", "from step"),
    ("calls.then", "allora", "then"),
    ("calls.now", "ora", "now"),
    ("calls.recorded", "registrato", "recorded"),
    ("calls.replayed", "riprodotto", "replayed"),
    (
        "calls.no_step",
        "(nessun passo: la chiamata era finita)",
        "(no step: the call had ended)",
    ),
    (
        "calls.would_hear",
        "Cosa sentirebbe ora il chiamante",
        "What the caller would hear now",
    ),
    (
        "calls.cannot_replay",
        "Questa chiamata non si può riprodurre",
        "This call cannot be replayed",
    ),
    (
        "calls.no_events",
        "gli eventi della chiamata non sono conservati",
        "the call's events are not kept",
    ),
    (
        "calls.no_version",
        "la versione dei flussi che l'ha servita non è più conservata",
        "the flows version that served it is no longer kept",
    ),
    (
        "calls.truncated",
        "La chiamata aveva più eventi di quanti il registro ne conservi: riprodotti solo i primi.",
        "The call had more events than the log keeps: only the first were replayed.",
    ),
    (
        "calls.presence_differed",
        "Il motore ha chiesto della presenza del personale in modo diverso dalla chiamata vera.",
        "The engine asked about staff presence differently than on the live call.",
    ),
    (
        "calls.not_found",
        "Chiamata non trovata nel registro.",
        "No such call in the log.",
    ),
    (
        "calls.store_failed",
        "Il registro non si può leggere ora.",
        "The log cannot be read now.",
    ),
    (
        "calls.caller_presses",
        "il chiamante preme",
        "caller presses",
    ),
    ("calls.caller_types", "il chiamante scrive", "caller types"),
    ("calls.caller_waits", "il chiamante attende", "caller waits"),
    (
        "calls.caller_hangs_up",
        "il chiamante riattacca",
        "caller hangs up",
    ),
    ("calls.call_ended", "chiamata conclusa", "call ended"),
];

/// Calls shown on one page of the list.
pub const PAGE_SIZE: usize = 50;

fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/calls", get(list))
        .route("/calls/{id}", get(show))
        .route("/calls/{id}/replay", post(replay))
}

/// What the list is narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filter {
    /// First day (city time), included.
    pub from: Option<Date>,
    /// Last day (city time), included.
    pub to: Option<Date>,
    /// Exactly this outcome.
    pub outcome: Option<String>,
    /// Callers containing this text.
    pub caller: Option<String>,
    /// From 1.
    pub page: usize,
}

/// A filter's field that does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadDate;

impl Filter {
    /// The filter of a query string; empty fields are no filter; an unreadable page is the
    /// first; a day that does not read is an error.
    pub fn parse(query: Option<&str>) -> Result<Filter, BadDate> {
        let mut filter = Filter {
            page: 1,
            ..Filter::default()
        };
        let Some(query) = query else {
            return Ok(filter);
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let text = || Some(value.chars().take(100).collect::<String>());
            match key.as_ref() {
                "from" => filter.from = Some(value.parse().map_err(|_| BadDate)?),
                "to" => filter.to = Some(value.parse().map_err(|_| BadDate)?),
                "outcome" => filter.outcome = text(),
                "caller" => filter.caller = text(),
                "page" => filter.page = value.parse().unwrap_or(1).max(1),
                _ => {}
            }
        }
        Ok(filter)
    }

    fn admits(&self, call: &CallRecord, clock: &Clock) -> bool {
        let day = clock.day(call.started_at);
        self.from.is_none_or(|from| day >= from)
            && self.to.is_none_or(|to| day <= to)
            && self
                .outcome
                .as_ref()
                .is_none_or(|outcome| call.outcome.as_ref() == Some(outcome))
            && self
                .caller
                .as_ref()
                .is_none_or(|caller| call.caller.contains(caller.as_str()))
    }

    /// The query string of this filter at page `page` (for the list's links).
    pub fn query(&self, page: usize) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(from) = self.from {
            query.append_pair("from", &from.to_string());
        }
        if let Some(to) = self.to {
            query.append_pair("to", &to.to_string());
        }
        if let Some(outcome) = &self.outcome {
            query.append_pair("outcome", outcome);
        }
        if let Some(caller) = &self.caller {
            query.append_pair("caller", caller);
        }
        query.append_pair("page", &page.to_string());
        query.finish()
    }
}

/// One page of the calls `filter` admits, most recent first (`calls` in the store's order,
/// oldest first): the calls, how many pages there are in all, the page shown.
pub fn select<'c>(
    calls: &'c [CallRecord],
    filter: &Filter,
    clock: &Clock,
) -> (Vec<&'c CallRecord>, usize, usize) {
    let admitted: Vec<&CallRecord> = calls
        .iter()
        .rev()
        .filter(|c| filter.admits(c, clock))
        .collect();
    let pages = admitted.len().div_ceil(PAGE_SIZE).max(1);
    let page = filter.page.clamp(1, pages);
    let shown = admitted
        .into_iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    (shown, pages, page)
}

/// A call as a row of the list.
#[derive(Debug, Clone, Serialize)]
struct CallRow {
    id: String,
    /// The id as a path segment (percent-encoded).
    segment: String,
    started: String,
    caller: String,
    number: String,
    flow: String,
    outcome: String,
    length: String,
}

fn row(call: &CallRecord, clock: &Clock) -> CallRow {
    CallRow {
        id: call.call_id.clone(),
        segment: form_urlencoded::byte_serialize(call.call_id.as_bytes()).collect(),
        started: clock.second(call.started_at),
        caller: or_dash(&call.caller),
        number: call.number.clone(),
        flow: or_dash(&call.flow),
        outcome: call.outcome.clone().unwrap_or_else(|| String::from("-")),
        length: call.ended_at.map_or_else(
            || String::from("-"),
            |end| length(end.duration_since(call.started_at).as_secs()),
        ),
    }
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        String::from("-")
    } else {
        text.to_owned()
    }
}

/// A text for people, or a word key the template translates.
fn failed(console: &Console, viewer: &Viewer, status: StatusCode, key: &str) -> Response {
    (status, console.word(key, viewer.lang)).into_response()
}

async fn list(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(refused) = console.require(&viewer, supervisors) {
        return refused;
    }
    let (filter, bad_date) = match Filter::parse(query.as_deref()) {
        Ok(filter) => (filter, false),
        Err(BadDate) => (
            Filter {
                page: 1,
                ..Filter::default()
            },
            true,
        ),
    };
    let store = console.server().store.clone();
    let calls = match tokio::task::spawn_blocking(move || store.calls()).await {
        Ok(Ok(calls)) => calls,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "console: the call log cannot be read");
            return failed(
                &console,
                &viewer,
                StatusCode::SERVICE_UNAVAILABLE,
                "calls.store_failed",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "console: reading the call log failed");
            return failed(
                &console,
                &viewer,
                StatusCode::SERVICE_UNAVAILABLE,
                "calls.store_failed",
            );
        }
    };
    let mut outcomes: Vec<String> = calls.iter().filter_map(|c| c.outcome.clone()).collect();
    outcomes.sort_unstable();
    outcomes.dedup();
    let clock = console.clock();
    let (shown, pages, page) = select(&calls, &filter, &clock);
    let total = calls.iter().filter(|c| filter.admits(c, &clock)).count();
    let rows: Vec<CallRow> = shown.into_iter().map(|c| row(c, &clock)).collect();
    let mut response = console.page(
        &viewer,
        "calls.html",
        context! {
            path => "/calls",
            calls => minijinja::Value::from(minijinja::value::Serde(&rows)),
            outcomes => outcomes,
            from => filter.from.map(|d| d.to_string()).unwrap_or_default(),
            to => filter.to.map(|d| d.to_string()).unwrap_or_default(),
            outcome => filter.outcome.clone().unwrap_or_default(),
            caller => filter.caller.clone().unwrap_or_default(),
            bad_date => bad_date,
            page => page,
            pages => pages,
            total => total,
            previous => (page > 1).then(|| filter.query(page - 1)),
            next => (page < pages).then(|| filter.query(page + 1)),
        },
    );
    if bad_date && response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

/// A line of a transcript: when, what (a state entered is `state`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub at: String,
    /// `flow.state` when a state is entered, else empty.
    pub state: String,
    pub location: String,
    /// What happened, in words (a word key first when `key` is set).
    pub key: Option<&'static str>,
    pub text: String,
}

/// `flows/main.flow:38:3` → `flows/main.flow:38`.
fn short_location(location: &str) -> &str {
    match location.rsplit_once(':') {
        Some((rest, column))
            if !column.is_empty()
                && column.bytes().all(|b| b.is_ascii_digit())
                && rest.contains(':') =>
        {
            rest
        }
        _ => location,
    }
}

fn trace_line(clock: &Clock, at: Timestamp, trace: &Trace) -> Line {
    Line {
        at: clock.time(at),
        state: if trace.flow.is_empty() {
            String::new()
        } else {
            format!("{}.{}", trace.flow, trace.state)
        },
        location: short_location(&trace.location).to_owned(),
        key: None,
        text: trace.note.clone(),
    }
}

/// The lines of a transcript: states entered, what the caller heard and did, what was stored.
pub fn transcript(clock: &Clock, steps: &[TimedStep]) -> Vec<Line> {
    steps
        .iter()
        .map(|TimedStep { at, step }| {
            let said = |key: Option<&'static str>, text: String| Line {
                at: clock.time(*at),
                state: String::new(),
                location: String::new(),
                key,
                text,
            };
            match step {
                Step::Entered(trace) => trace_line(clock, *at, trace),
                Step::Said { text, .. } => said(None, format!("«{text}»")),
                Step::Played { path, .. } => said(None, format!("♪ {path}")),
                Step::Pressed { key } => said(Some("calls.caller_presses"), key.to_string()),
                Step::Typed { text } => said(Some("calls.caller_types"), format!("{text:?}")),
                Step::Silence => said(Some("calls.caller_waits"), String::new()),
                Step::CallerHungUp => said(Some("calls.caller_hangs_up"), String::new()),
                Step::Ended { reason } => said(Some("calls.call_ended"), reason.to_string()),
                other => said(None, summary(other)),
            }
        })
        .collect()
}

/// Any other step as its name and fields: `ticket: reference T-1, category anagrafe`.
fn summary(step: &Step) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(step) else {
        return format!("{step:?}");
    };
    let name = fields
        .get("step")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("step")
        .replace('_', " ");
    let details: Vec<String> = fields
        .iter()
        .filter(|(key, _)| key.as_str() != "step")
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => format!("{key} {text}"),
            other => format!("{key} {other}"),
        })
        .collect();
    if details.is_empty() {
        name
    } else {
        format!("{name}: {}", details.join(", "))
    }
}

fn recorded_lines(clock: &Clock, steps: &[StepRecord]) -> Vec<Line> {
    steps
        .iter()
        .map(|s| trace_line(clock, s.at, &s.trace))
        .collect()
}

/// The program of the version that served the call, when it is kept and loads.
fn kept_program(logged: &LoggedCall) -> Option<Arc<Program>> {
    let version = logged.version.as_ref()?;
    match Program::new(version.graph.clone()) {
        Ok(program) => Some(program),
        Err(e) => {
            tracing::warn!(version = %version.version, error = %e, "a kept version does not load");
            None
        }
    }
}

/// A replay's verdict for the page.
#[derive(Debug, Clone, Serialize)]
pub struct VerdictView {
    pub identical: bool,
    /// Steps compared (identical) or the first that differs (from 1).
    pub steps: usize,
    pub recorded: Option<Line>,
    pub replayed: Option<Line>,
}

impl VerdictView {
    fn of(verdict: Verdict, clock: &Clock) -> VerdictView {
        match verdict {
            Verdict::Same { steps } => VerdictView {
                identical: true,
                steps,
                recorded: None,
                replayed: None,
            },
            Verdict::Differs(difference) => {
                let Difference {
                    index,
                    recorded,
                    replayed,
                } = *difference;
                VerdictView {
                    identical: false,
                    steps: index + 1,
                    recorded: recorded.map(|(at, trace)| trace_line(clock, at, &trace)),
                    replayed: replayed.map(|(at, trace)| trace_line(clock, at, &trace)),
                }
            }
        }
    }
}

/// What a replay found.
#[derive(Debug, Clone, Serialize)]
pub struct Replay {
    /// Why there is no replay (a word key), when there is none.
    pub impossible: Option<&'static str>,
    pub exact: Option<VerdictView>,
    pub current: Option<VerdictView>,
    /// The current flows' version.
    pub current_version: String,
    /// What the caller would hear now, when the current flows take the call elsewhere.
    pub now: Vec<Line>,
    pub truncated: bool,
    pub presence_differed: bool,
}

/// Replays `logged` on its kept version and on `current` (the flows serving now).
pub fn replay_call(logged: &LoggedCall, current: Arc<Program>, clock: &Clock) -> Replay {
    let mut replay = Replay {
        impossible: None,
        exact: None,
        current: None,
        current_version: current.version().to_owned(),
        now: Vec::new(),
        truncated: false,
        presence_differed: false,
    };
    let Some(events) = &logged.events else {
        replay.impossible = Some("calls.no_events");
        return replay;
    };
    let Some(program) = kept_program(logged) else {
        replay.impossible = Some("calls.no_version");
        return replay;
    };
    let rerun = calllog::rerun(program, &logged.call, events);
    replay.truncated = events.truncated;
    replay.presence_differed = rerun.presence_differed;
    replay.exact = Some(VerdictView::of(
        calllog::compare(&logged.steps, &rerun.path()),
        clock,
    ));
    match calllog::with_current(current, &logged.call, &rerun) {
        Ok(now) => {
            let verdict = calllog::compare_paths(&rerun.path(), &calllog::path_of(&now));
            if matches!(verdict, Verdict::Differs(_)) {
                replay.now = transcript(clock, &now);
            }
            replay.current = Some(VerdictView::of(verdict, clock));
        }
        Err(e) => tracing::warn!(error = %e, "console: replay with the current flows failed"),
    }
    replay
}

/// The logged call `id` and, when asked, its replay; `None`: no such call.
async fn load(
    console: &Console,
    id: &str,
    with_replay: bool,
) -> Result<Option<(LoggedCall, Vec<Line>, Option<Replay>)>, ()> {
    let Ok(id) = CallId::parse(id) else {
        return Ok(None);
    };
    let store = console.server().store.clone();
    let current = console
        .server()
        .deployment
        .current()
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let clock = console.clock();
    let work = move || {
        let Some(logged) = calllog::logged_call(store.as_ref(), id.as_str())? else {
            return Ok(None);
        };
        let transcript = match (kept_program(&logged), &logged.events) {
            (Some(program), Some(events)) => {
                transcript(&clock, &calllog::rerun(program, &logged.call, events).steps)
            }
            _ => Vec::new(),
        };
        let replay = with_replay.then(|| replay_call(&logged, current, &clock));
        Ok(Some((logged, transcript, replay)))
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(e)) => {
            let e: crate::store::StoreError = e;
            tracing::error!(error = %e, "console: the call log cannot be read");
            Err(())
        }
        Err(e) => {
            tracing::error!(error = %e, "console: reading a logged call failed");
            Err(())
        }
    }
}

async fn call_page(console: &Console, viewer: &Viewer, id: &str, with_replay: bool) -> Response {
    if let Err(refused) = console.require(viewer, supervisors) {
        return refused;
    }
    let (logged, transcript, replay) = match load(console, id, with_replay).await {
        Ok(Some(found)) => found,
        Ok(None) => return failed(console, viewer, StatusCode::NOT_FOUND, "calls.not_found"),
        Err(()) => {
            return failed(
                console,
                viewer,
                StatusCode::SERVICE_UNAVAILABLE,
                "calls.store_failed",
            );
        }
    };
    let call = &logged.call;
    let clock = console.clock();
    console.page(
        viewer,
        "call.html",
        context! {
            path => "/calls",
            call => minijinja::Value::from(minijinja::value::Serde(row(call, &clock))),
            channel => or_dash(&call.channel),
            ended => call.ended_at.map(|at| clock.second(at)),
            version => &call.graph_version,
            steps => minijinja::Value::from(minijinja::value::Serde(recorded_lines(&clock, &logged.steps))),
            transcript => minijinja::Value::from(minijinja::value::Serde(&transcript)),
            replay => replay.map(|r| minijinja::Value::from(minijinja::value::Serde(&r))),
        },
    )
}

async fn show(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    call_page(&console, &viewer, &id, false).await
}

async fn replay(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    call_page(&console, &viewer, &id, true).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn rome() -> Clock {
        Clock::new(
            jiff::tz::TimeZone::get("Europe/Rome").unwrap(),
            Timestamp::UNIX_EPOCH,
        )
    }

    fn call(id: &str, started: &str, caller: &str, outcome: &str) -> CallRecord {
        let started_at: Timestamp = started.parse().unwrap();
        CallRecord {
            schema: 1,
            call_id: id.to_owned(),
            caller: caller.to_owned(),
            number: String::from("100"),
            flow: String::from("main"),
            graph_version: String::from("sha256:1"),
            started_at,
            ended_at: Some(started_at + jiff::SignedDuration::from_secs(65)),
            outcome: Some(outcome.to_owned()),
            channel: String::from("sip"),
            handoffs: Vec::new(),
        }
    }

    #[test]
    fn a_filter_reads_from_a_query_and_refuses_bad_days() {
        assert_eq!(Filter::parse(None).unwrap().page, 1);
        let filter = Filter::parse(Some(
            "from=2026-12-01&to=&outcome=caller+hung+up&caller=333&page=2",
        ))
        .unwrap();
        assert_eq!(filter.from, Some("2026-12-01".parse().unwrap()));
        assert_eq!(filter.to, None);
        assert_eq!(filter.outcome.as_deref(), Some("caller hung up"));
        assert_eq!(filter.caller.as_deref(), Some("333"));
        assert_eq!(filter.page, 2);
        assert_eq!(Filter::parse(Some("page=x")).unwrap().page, 1);
        assert_eq!(Filter::parse(Some("page=0")).unwrap().page, 1);
        assert_eq!(Filter::parse(Some("from=1st+of+May")), Err(BadDate));
        assert_eq!(Filter::parse(Some("to=2026-13-01")), Err(BadDate));
        let back = Filter::parse(Some(&filter.query(3))).unwrap();
        assert_eq!(back, Filter { page: 3, ..filter });
    }

    #[test]
    fn the_list_is_newest_first_filtered_by_city_day_outcome_caller_and_paged() {
        let calls = vec![
            // 23:30 UTC on 30 November is 00:30 on 1 December in Perugia.
            call(
                "a",
                "2026-11-30T23:30:00Z",
                "+393331111111",
                "caller hung up",
            ),
            call(
                "b",
                "2026-12-01T10:00:00Z",
                "+393332222222",
                "the flow hung up",
            ),
            call(
                "c",
                "2026-12-02T10:00:00Z",
                "+393331111111",
                "the flow hung up",
            ),
        ];
        let ids = |filter: &Filter| -> Vec<String> {
            select(&calls, filter, &rome())
                .0
                .iter()
                .map(|c| c.call_id.clone())
                .collect()
        };
        let all = Filter::parse(None).unwrap();
        assert_eq!(ids(&all), ["c", "b", "a"]);
        let first_day = Filter::parse(Some("from=2026-12-01&to=2026-12-01")).unwrap();
        assert_eq!(ids(&first_day), ["b", "a"]);
        let outcome = Filter::parse(Some("outcome=the+flow+hung+up")).unwrap();
        assert_eq!(ids(&outcome), ["c", "b"]);
        let caller = Filter::parse(Some("caller=1111")).unwrap();
        assert_eq!(ids(&caller), ["c", "a"]);

        let many: Vec<CallRecord> = (0..(PAGE_SIZE * 2 + 3))
            .map(|n| {
                let at = format!("2026-12-01T08:{:02}:{:02}Z", n / 60, n % 60);
                call(&format!("{n:03}"), &at, "x", "o")
            })
            .collect();
        let (shown, pages, page) = select(&many, &Filter::parse(Some("page=3")).unwrap(), &rome());
        assert_eq!((pages, page, shown.len()), (3, 3, 3));
        assert_eq!(shown[0].call_id, "002");
        let (shown, _, page) = select(&many, &Filter::parse(Some("page=99")).unwrap(), &rome());
        assert_eq!((page, shown.len()), (3, 3));
        let (none, pages, page) = select(&[], &Filter::parse(None).unwrap(), &rome());
        assert_eq!((none.len(), pages, page), (0, 1, 1));
    }

    #[test]
    fn a_transcript_names_states_and_what_the_caller_did() {
        let at: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
        let steps = vec![
            TimedStep {
                at,
                step: Step::Entered(Trace {
                    flow: String::from("main"),
                    state: String::from("menu"),
                    location: String::from("flows/main.flow:12:3"),
                    note: String::from("menu"),
                }),
            },
            TimedStep {
                at,
                step: Step::Pressed { key: '1' },
            },
            TimedStep {
                at,
                step: Step::Ticket {
                    reference: String::from("T-1"),
                    category: String::from("anagrafe"),
                },
            },
        ];
        let lines = transcript(&rome(), &steps);
        assert_eq!(lines[0].at, "10:00:00");
        assert_eq!(lines[0].state, "main.menu");
        assert_eq!(lines[0].location, "flows/main.flow:12");
        assert_eq!(lines[1].key, Some("calls.caller_presses"));
        assert_eq!(lines[1].text, "1");
        assert_eq!(lines[2].text, "ticket: category anagrafe, reference T-1");
    }

    /// The call page in its three replay states, in both languages: identical, differs
    /// (recorded vs replayed, and what the caller would hear now), impossible.
    #[test]
    fn a_call_page_renders_every_verdict() {
        let console = super::super::tests::test_console();
        let at: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
        let trace = Trace {
            flow: String::from("main"),
            state: String::from("menu"),
            location: String::from("flows/main.flow:12:3"),
            note: String::from("key 1 -> passa"),
        };
        let differs = VerdictView::of(
            Verdict::Differs(Box::new(Difference {
                index: 2,
                recorded: Some((at, trace.clone())),
                replayed: None,
            })),
            &rome(),
        );
        let replays = [
            Replay {
                impossible: None,
                exact: Some(VerdictView::of(Verdict::Same { steps: 4 }, &rome())),
                current: Some(differs),
                current_version: String::from("sha256:2"),
                now: transcript(
                    &rome(),
                    &[TimedStep {
                        at,
                        step: Step::Said {
                            prompt: String::from("p"),
                            text: String::from("Arrivederci."),
                            language: String::from("it"),
                        },
                    }],
                ),
                truncated: true,
                presence_differed: true,
            },
            Replay {
                impossible: Some("calls.no_events"),
                exact: None,
                current: None,
                current_version: String::new(),
                now: Vec::new(),
                truncated: false,
                presence_differed: false,
            },
        ];
        let record = call("a/b@c", "2026-12-01T09:00:00Z", "+39333", "caller hung up");
        let languages = [super::super::Lang::It, super::super::Lang::En];
        for (lang, replay) in languages.into_iter().zip(&replays) {
            let page = console
                .templates
                .get_template("call.html")
                .unwrap()
                .render(context! {
                    lang => lang.as_str(),
                    call => minijinja::Value::from(minijinja::value::Serde(row(&record, &rome()))),
                    steps => minijinja::Value::from(minijinja::value::Serde(vec![trace_line(&rome(), at, &trace)])),
                    transcript => Vec::<String>::new(),
                    replay => minijinja::Value::from(minijinja::value::Serde(replay)),
                    csrf => "t",
                })
                .unwrap();
            assert!(
                page.contains("action=\"/calls/a%2Fb%40c/replay\""),
                "{page}"
            );
            if replay.impossible.is_some() {
                assert!(page.contains("id=\"replay-impossible\""), "{page}");
                assert!(
                    page.contains("the call&#x27;s events are not kept"),
                    "{page}"
                );
            } else {
                assert!(
                    page.contains("id=\"verdict-exact\" data-verdict=\"identical\""),
                    "{page}"
                );
                assert!(
                    page.contains("id=\"verdict-current\" data-verdict=\"differs\""),
                    "{page}"
                );
                assert!(page.contains("dal passo 3"), "{page}");
                assert!(page.contains("flows&#x2f;main.flow:12"), "{page}");
                assert!(
                    page.contains("(nessun passo: la chiamata era finita)"),
                    "{page}"
                );
                assert!(page.contains("«Arrivederci.»"), "{page}");
            }
        }
    }
}
