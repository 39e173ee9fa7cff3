//! The callbacks pages: the list of callback requests (state, office, number, next attempt,
//! attempts; late ones marked), a request's page with its attempts, and the forms that work
//! it through [`Store::change_callback`]: call now, reschedule, close with a note.
//!
//! ```text
//!   GET  /callbacks?state=&office=&page=      ─► CallbackFilter ─► one page, late ones marked
//!   GET  /callbacks/{ref}                     ─► fields, attempts (time, outcome, staff, detail)
//!   POST /callbacks/{ref}/call                ─► Change::Reschedule { at: now }, dialer woken
//!   POST /callbacks/{ref}/reschedule  at=…    ─► Change::Reschedule { at } (the deployment's time zone)
//!   POST /callbacks/{ref}/close       note=…  ─► Change::Close { by: account }
//!          refused (held by the dialer, closed) ─► the request's page with the reason, 409
//! ```
//!
//! Without a dialer (no `[trunk]`) nothing calls a request: its page says so and offers no
//! "call now".
//!
//! A request is late by the one rule of [`crate::promise`]: failed, or still waiting
//! (pending or being dialled) past its office's promise (`callback 8h` in the flows, else
//! `[callbacks] promise_h`). Each row says when it is due; late rows are marked.
//!
//! [`Store::change_callback`]: crate::store::Store::change_callback

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::{SignedDuration, Timestamp};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::clock::Clock;
use super::record_pages::{blocking, link, paged, query, query_string, segment};
use super::tickets::ticket_workers;
use super::{Console, Nav, Page, Viewer, supervisors};
use crate::promise::CallbackPromise;
use crate::store::Callback;
use crate::store::dialing::{Change, DialState, Refusal};
use crate::store::records::{Note, Reference};

pub const PAGE: Page = Page {
    routes,
    templates: &[
        ("callbacks.html", include_str!("callbacks.html")),
        ("callback.html", include_str!("callback.html")),
    ],
    words: WORDS,
    nav: Some(Nav {
        path: "/callbacks",
        label: "callbacks.title",
        allowed: ticket_workers,
    }),
};

/// The states a list can be filtered by, as [`DialState::name`] names them.
const STATES: [&str; 5] = ["pending", "working", "reached", "closed", "failed"];

const WORDS: &[super::Word] = &[
    ("callbacks.title", "Richiamate", "Callbacks"),
    ("callbacks.reference", "Numero", "Reference"),
    ("callbacks.office", "Ufficio", "Office"),
    ("callbacks.number", "Da chiamare", "Number"),
    ("callbacks.state", "Stato", "State"),
    ("callbacks.next", "Prossimo tentativo", "Next attempt"),
    ("callbacks.attempts", "Tentativi", "Attempts"),
    ("callbacks.created", "Chiesta il", "Requested"),
    ("callbacks.note", "Nota", "Note"),
    ("callbacks.window", "Fascia oraria", "Time window"),
    ("callbacks.call", "Chiamata", "Call"),
    ("callbacks.late", "in ritardo", "late"),
    ("callbacks.due", "Da richiamare entro", "Due by"),
    ("callbacks.all", "Tutti", "All"),
    ("callbacks.now", "appena possibile", "as soon as possible"),
    ("callbacks.state.pending", "in attesa", "pending"),
    ("callbacks.state.working", "in corso", "being dialled"),
    ("callbacks.state.reached", "raggiunto", "reached"),
    ("callbacks.state.closed", "chiusa", "closed"),
    ("callbacks.state.failed", "non riuscita", "failed"),
    ("callbacks.outcome.reached", "raggiunto", "reached"),
    (
        "callbacks.outcome.no answer",
        "nessuna risposta",
        "no answer",
    ),
    ("callbacks.outcome.busy", "occupato", "busy"),
    ("callbacks.outcome.refused", "rifiutata", "refused"),
    (
        "callbacks.outcome.declined",
        "il cittadino non vuole essere richiamato",
        "the citizen declined",
    ),
    ("callbacks.outcome.failed", "non riuscita", "failed"),
    ("callbacks.when", "Quando", "When"),
    ("callbacks.outcome", "Esito", "Outcome"),
    ("callbacks.staff", "Personale", "Staff"),
    ("callbacks.detail", "Dettaglio", "Detail"),
    ("callbacks.no_attempts", "Nessun tentativo.", "No attempts."),
    (
        "callbacks.none",
        "Nessuna richiamata con questi filtri.",
        "No callbacks match these filters.",
    ),
    ("callbacks.count", "richiamate", "callbacks"),
    ("callbacks.call_now", "Chiama ora", "Call now"),
    (
        "callbacks.no_dialer",
        "Nessuna linea esterna configurata: il centralino non richiama da solo. Chiami il numero e chiuda la richiesta.",
        "No outside line is configured: the switchboard does not call back by itself. Call the number and close the request.",
    ),
    ("callbacks.reschedule", "Sposta", "Reschedule"),
    (
        "callbacks.reschedule_at",
        "Non prima del (ora di {zone})",
        "Not before ({zone} time)",
    ),
    ("callbacks.close", "Chiudi", "Close"),
    ("callbacks.closed_by", "Chiusa da", "Closed by"),
    ("callbacks.failed_because", "Motivo", "Reason"),
    (
        "callbacks.not_found",
        "Nessuna richiamata ha questo numero.",
        "No callback request has this reference.",
    ),
    (
        "callbacks.refused.held",
        "Il centralino la sta chiamando proprio ora: riprovi tra poco.",
        "The dialer is calling it right now: try again shortly.",
    ),
    (
        "callbacks.refused.finished",
        "La richiamata è già chiusa.",
        "The callback request is already closed.",
    ),
    (
        "callbacks.refused.bad_time",
        "La data e l'ora non sono valide (AAAA-MM-GG OO:MM).",
        "The date and time are not valid (YYYY-MM-DD HH:MM).",
    ),
    (
        "callbacks.refused.bad_note",
        "La nota è troppo lunga o contiene caratteri di controllo.",
        "The note is too long or has control characters.",
    ),
    (
        "callbacks.bad_state",
        "Lo stato del filtro non è valido: è stato ignorato.",
        "The state of the filter is not valid: it was ignored.",
    ),
];

fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/callbacks", get(list))
        .route("/callbacks/{reference}", get(show))
        .route("/callbacks/{reference}/call", post(call_now))
        .route("/callbacks/{reference}/reschedule", post(reschedule))
        .route("/callbacks/{reference}/close", post(close))
}

/// What the list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackFilter {
    /// A [`DialState::name`].
    pub state: Option<&'static str>,
    pub office: Option<String>,
    pub page: usize,
}

impl CallbackFilter {
    /// The filter in a query's fields, and the words of the problems found.
    pub fn read(fields: &BTreeMap<String, String>) -> (CallbackFilter, Vec<&'static str>) {
        let mut problems = Vec::new();
        let state = match fields.get("state").map(String::as_str) {
            None | Some("all") => None,
            Some(text) => {
                let state = STATES.into_iter().find(|s| *s == text);
                if state.is_none() {
                    problems.push("callbacks.bad_state");
                }
                state
            }
        };
        let filter = CallbackFilter {
            state,
            office: fields.get("office").cloned(),
            page: fields.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        };
        (filter, problems)
    }

    /// The matching requests: late ones first (by `promise` at `now`), then newest first.
    pub fn select(
        &self,
        callbacks: Vec<Callback>,
        promise: &CallbackPromise,
        now: Timestamp,
    ) -> Vec<Callback> {
        let is_late = |c: &Callback| promise.is_late(c, now);
        let mut selected: Vec<Callback> = callbacks
            .into_iter()
            .filter(|c| self.state.is_none_or(|s| s == c.dialing.state.name()))
            .filter(|c| self.office.as_ref().is_none_or(|o| *o == c.request.office))
            .collect();
        selected.sort_by(|a, b| {
            (is_late(b), b.request.created_at, &b.reference).cmp(&(
                is_late(a),
                a.request.created_at,
                &a.reference,
            ))
        });
        selected
    }

    fn query(&self) -> String {
        query_string([
            ("state", self.state.unwrap_or_default()),
            ("office", self.office.as_deref().unwrap_or_default()),
        ])
    }
}

#[derive(Debug, Serialize)]
struct Row {
    reference: String,
    office: String,
    number: String,
    state: &'static str,
    next: String,
    attempts: usize,
    created: String,
    /// When it is due (asked for + the office's promise).
    due: String,
    late: bool,
}

impl Row {
    fn of(callback: &Callback, promise: &CallbackPromise, clock: &Clock) -> Row {
        Row {
            reference: callback.reference.clone(),
            office: callback.request.office.clone(),
            number: callback.request.number.clone(),
            state: callback.dialing.state.name(),
            next: next_attempt(callback, clock),
            attempts: callback.dialing.attempts.len(),
            created: clock.minute(callback.request.created_at),
            due: clock.minute(promise.due(callback)),
            late: promise.is_late(callback, clock.now()),
        }
    }
}

/// When the dialer may try next: a time, `now` (empty) while waiting, nothing when done.
fn next_attempt(callback: &Callback, clock: &Clock) -> String {
    match &callback.dialing.state {
        DialState::Pending => callback
            .dialing
            .next_attempt_at
            .map(|at| clock.minute(at))
            .unwrap_or_default(),
        DialState::Working { lease } => clock.minute(lease.until),
        DialState::Reached | DialState::Closed { .. } | DialState::Failed { .. } => {
            String::from("-")
        }
    }
}

async fn list(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(refused) = console.require(&viewer, ticket_workers) {
        return refused;
    }
    let (filter, problems) = CallbackFilter::read(&query(raw.as_deref()));
    let callbacks = match blocking(&console.server().store, |s| s.callbacks()).await {
        Ok(found) => found,
        Err(failed) => return failed,
    };
    let mut offices: BTreeSet<String> = console
        .server()
        .deployment
        .current()
        .read()
        .map(|p| p.graph.offices.keys().cloned().collect())
        .unwrap_or_default();
    offices.extend(callbacks.iter().map(|c| c.request.office.clone()));
    let clock = console.clock();
    let now = clock.now();
    let promise = console.callback_promise();
    let late = callbacks.iter().filter(|c| promise.is_late(c, now)).count();
    let mut selected = filter.select(callbacks, &promise, now);
    // Office staff see their offices' requests first (then the rest, read only).
    if let Some(mine) = console.offices_of(&viewer) {
        selected.sort_by_key(|c| !mine.contains(&c.request.office));
    }
    let page = paged(selected, filter.page);
    let rows: Vec<Row> = page
        .rows
        .iter()
        .map(|c| Row::of(c, &promise, &clock))
        .collect();
    let base = filter.query();
    let page_link = |n: usize| {
        let sep = if base.is_empty() { "" } else { "&" };
        format!("/callbacks?{base}{sep}page={n}")
    };
    console.page(
        &viewer,
        "callbacks.html",
        context! {
            path => "/callbacks",
            rows => minijinja::Value::from(minijinja::value::Serde(&rows)),
            late => late,
            page => page.page,
            pages => page.pages,
            total => page.total,
            previous => (page.page > 1).then(|| link(&page_link(page.page - 1))),
            next => (page.page < page.pages).then(|| link(&page_link(page.page + 1))),
            offices => offices,
            states => STATES,
            filter => context! { state => filter.state, office => filter.office },
            problems => problems,
        },
    )
}

async fn show(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    UrlPath(reference): UrlPath<String>,
) -> Response {
    callback_page(&console, &viewer, &reference, None).await
}

#[derive(Debug, Serialize)]
struct AttemptRow {
    at: String,
    outcome: &'static str,
    staff: String,
    detail: String,
}

async fn callback_page(
    console: &Console,
    viewer: &Viewer,
    reference: &str,
    problem: Option<&'static str>,
) -> Response {
    if let Err(refused) = console.require(viewer, ticket_workers) {
        return refused;
    }
    let Ok(reference) = Reference::parse(reference) else {
        return not_found(console, viewer);
    };
    let found = blocking(&console.server().store, move |s| {
        let Some(callback) = s.callback(reference.as_str())? else {
            return Ok(None);
        };
        let logged = match callback.request.call_id.as_str() {
            "" => false,
            call_id => s.call(call_id)?.is_some(),
        };
        Ok(Some((callback, logged)))
    })
    .await;
    let (callback, logged) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(console, viewer),
        Err(failed) => return failed,
    };
    let clock = console.clock();
    let now = clock.now();
    let promise = console.callback_promise();
    let attempts: Vec<AttemptRow> = callback
        .dialing
        .attempts
        .iter()
        .map(|a| AttemptRow {
            at: clock.minute(a.at),
            outcome: a.outcome.name(),
            staff: a.staff.clone().unwrap_or_default(),
            detail: a.detail.clone().unwrap_or_default(),
        })
        .collect();
    let (closed, failed) = match &callback.dialing.state {
        DialState::Closed { at, by, note } => (
            Some(context! { at => clock.minute(*at), by => by, note => note }),
            None,
        ),
        DialState::Failed { at, reason } => (
            None,
            Some(context! { at => clock.minute(*at), reason => reason }),
        ),
        DialState::Pending | DialState::Working { .. } | DialState::Reached => (None, None),
    };
    let request = &callback.request;
    let window = request
        .window
        .map(|w| format!("{}-{}", w.from.strftime("%H:%M"), w.until.strftime("%H:%M")));
    let mut response = console.page(
        viewer,
        "callback.html",
        context! {
            path => "/callbacks",
            reference => &callback.reference,
            state => callback.dialing.state.name(),
            finished => matches!(callback.dialing.state, DialState::Closed { .. }),
            office => &request.office,
            number => &request.number,
            note => request.note.as_deref().unwrap_or_default(),
            window => window,
            created => clock.minute(request.created_at),
            call_id => &request.call_id,
            // A link only where it leads: a call the log has, for those who may read the log.
            call_href => (logged && supervisors(viewer.staff.role))
                .then(|| link(&format!("/calls/{}", segment(&request.call_id)))),
            next => next_attempt(&callback, &clock),
            late => promise.is_late(&callback, now),
            due => clock.minute(promise.due(&callback)),
            can_work => console.may_work(viewer, Some(&request.office)),
            attempts => minijinja::Value::from(minijinja::value::Serde(&attempts)),
            closed => closed,
            failed => failed,
            suggested => clock.input(now.checked_add(SignedDuration::from_hours(1)).unwrap_or(now)),
            dialer => console.server().dialer_wake.is_some(),
            problem => problem,
        },
    );
    if problem.is_some() {
        *response.status_mut() = StatusCode::CONFLICT;
    }
    response
}

fn not_found(console: &Console, viewer: &Viewer) -> Response {
    (
        StatusCode::NOT_FOUND,
        console.word("callbacks.not_found", viewer.lang),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct RescheduleForm {
    #[serde(default)]
    at: String,
}

#[derive(Debug, Deserialize)]
struct NoteForm {
    #[serde(default)]
    note: String,
}

async fn call_now(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    UrlPath(reference): UrlPath<String>,
) -> Response {
    let change = Change::Reschedule {
        at: Timestamp::now(),
    };
    let response = apply(&console, &viewer, &reference, change).await;
    // Moved to now: the dialer need not wait for its next tick.
    if response.status() == StatusCode::SEE_OTHER
        && let Some(wake) = &console.server().dialer_wake
    {
        wake.notify_one();
    }
    response
}

async fn reschedule(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    UrlPath(reference): UrlPath<String>,
    axum::Form(form): axum::Form<RescheduleForm>,
) -> Response {
    let Some(at) = console.clock().parse_input(&form.at) else {
        return callback_page(
            &console,
            &viewer,
            &reference,
            Some("callbacks.refused.bad_time"),
        )
        .await;
    };
    apply(&console, &viewer, &reference, Change::Reschedule { at }).await
}

async fn close(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    UrlPath(reference): UrlPath<String>,
    axum::Form(form): axum::Form<NoteForm>,
) -> Response {
    let Ok(note) = Note::parse(&form.note) else {
        return callback_page(
            &console,
            &viewer,
            &reference,
            Some("callbacks.refused.bad_note"),
        )
        .await;
    };
    let change = Change::Close {
        at: Timestamp::now(),
        by: Some(viewer.staff.name.clone()),
        note: note.map(|n| n.as_str().to_owned()),
    };
    apply(&console, &viewer, &reference, change).await
}

/// Applies `change`; back to the request's page, or the page with the reason it was refused.
async fn apply(console: &Console, viewer: &Viewer, reference: &str, change: Change) -> Response {
    if let Err(refused) = console.require(viewer, ticket_workers) {
        return refused;
    }
    let Ok(parsed) = Reference::parse(reference) else {
        return not_found(console, viewer);
    };
    // Office staff work only their offices' callbacks (the others they may read).
    if console.offices_of(viewer).is_some() {
        let wanted = parsed.clone();
        let office = match blocking(&console.server().store, move |s| {
            s.callback(wanted.as_str())
        })
        .await
        {
            Ok(Some(callback)) => callback.request.office,
            Ok(None) => return not_found(console, viewer),
            Err(failed) => return failed,
        };
        if let Err(refused) = console.require_office(viewer, Some(&office)) {
            return refused;
        }
    }
    let changed = blocking(&console.server().store, move |s| {
        s.change_callback(parsed.as_str(), &change)
    })
    .await;
    match changed {
        Ok(Ok(callback)) => {
            tracing::info!(callback = %callback.reference, by = %viewer.staff.name, state = callback.dialing.state.name(), "callback changed from the console");
            Redirect::to(&format!("/callbacks/{}", segment(&callback.reference))).into_response()
        }
        Ok(Err(refusal)) => {
            let problem = match refusal {
                Refusal::NotFound => return not_found(console, viewer),
                Refusal::HeldBy { .. } | Refusal::NotHolder { .. } => "callbacks.refused.held",
                Refusal::Finished { .. } => "callbacks.refused.finished",
            };
            callback_page(console, viewer, reference, Some(problem)).await
        }
        Err(failed) => failed,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::store::NewCallback;
    use crate::store::dialing::{Attempt, AttemptOutcome};

    /// With a dialer the page offers "call now" and the call wakes the dialer; without one
    /// (no trunk) the page says nothing will call and offers no such button.
    #[tokio::test]
    async fn call_now_is_offered_only_with_a_dialer_and_wakes_it() {
        use crate::http::ServerView;
        use crate::http::accounts::Role;
        use crate::http::console::words::Lang;
        use crate::http::session::Staff;

        for with_dialer in [false, true] {
            let mut view = ServerView::for_tests(super::super::tests::TEST_FLOWS);
            let wake = Arc::new(tokio::sync::Notify::new());
            if with_dialer {
                view.dialer_wake = Some(wake.clone());
            }
            let console = Arc::new(Console::new(
                std::path::PathBuf::from("/nonexistent/accounts.toml"),
                view,
                false,
            ));
            let made = console
                .server()
                .store
                .create_callback(
                    Callback::example("x", "anagrafe", "2026-12-05T09:00:00Z", DialState::Pending)
                        .request,
                )
                .unwrap();
            let viewer = || Viewer {
                staff: Staff {
                    name: "marco".into(),
                    role: Role::Operator,
                    csrf: "t".into(),
                },
                lang: Lang::It,
            };
            let page = callback_page(&console, &viewer(), &made.reference, None).await;
            assert_eq!(page.status(), StatusCode::OK);
            let body = axum::body::to_bytes(page.into_body(), usize::MAX)
                .await
                .unwrap();
            let html = String::from_utf8(body.to_vec()).unwrap();
            assert_eq!(html.contains("id=\"call-now\""), with_dialer, "{html}");
            assert_eq!(html.contains("id=\"no-dialer\""), !with_dialer, "{html}");
            let called = call_now(
                State(console.clone()),
                viewer(),
                UrlPath(made.reference.clone()),
            )
            .await;
            assert_eq!(called.status(), StatusCode::SEE_OTHER);
            if with_dialer {
                tokio::time::timeout(std::time::Duration::from_secs(5), wake.notified())
                    .await
                    .expect("the dialer is woken");
            }
        }
    }

    #[test]
    fn late_ones_are_failed_or_waiting_past_the_promise_and_come_first() {
        let now: Timestamp = "2026-12-05T12:00:00Z".parse().unwrap();
        let failed = DialState::Failed {
            at: now,
            reason: "3 attempts".into(),
        };
        let closed = DialState::Closed {
            at: now,
            by: None,
            note: None,
        };
        let mut tried = Callback::example(
            "RC-5",
            "tributi",
            "2026-12-05T08:00:00Z",
            DialState::Pending,
        );
        tried.dialing.attempts.push(Attempt {
            at: now,
            outcome: AttemptOutcome::Busy,
            staff: None,
            detail: None,
        });
        let all = vec![
            Callback::example(
                "RC-1",
                "anagrafe",
                "2026-12-03T09:00:00Z",
                DialState::Pending,
            ),
            Callback::example(
                "RC-2",
                "anagrafe",
                "2026-12-05T09:00:00Z",
                DialState::Pending,
            ),
            Callback::example("RC-3", "tributi", "2026-12-05T10:00:00Z", failed),
            Callback::example("RC-4", "tributi", "2026-12-01T10:00:00Z", closed),
            tried,
        ];
        let promise = CallbackPromise::uniform(SignedDuration::from_hours(24));
        let late: Vec<bool> = all.iter().map(|c| promise.is_late(c, now)).collect();
        assert_eq!(late, [true, false, true, false, false]);
        let refs = |text: &str| -> Vec<String> {
            let (f, problems) = CallbackFilter::read(&query(Some(text)));
            assert!(problems.is_empty(), "{problems:?}");
            f.select(all.clone(), &promise, now)
                .into_iter()
                .map(|c| c.reference)
                .collect()
        };
        assert_eq!(refs(""), ["RC-3", "RC-1", "RC-2", "RC-5", "RC-4"]);
        assert_eq!(refs("state=pending"), ["RC-1", "RC-2", "RC-5"]);
        assert_eq!(refs("office=tributi&state=all"), ["RC-3", "RC-5", "RC-4"]);
        let (f, problems) = CallbackFilter::read(&query(Some("state=gone")));
        assert_eq!((f.state, problems), (None, vec!["callbacks.bad_state"]));
    }

    /// The page judges each request by its office's promise (`callback 1h` in the flows, the
    /// configured 24 h for the other), marks the late one, says when each is due, and counts it.
    #[tokio::test]
    async fn the_page_marks_late_requests_by_their_office_promise() {
        let flows = r#"
office anagrafe "Anagrafe" {
  staff "sip:201@comune.example"
  callback 1h
}
office tributi "Tributi" { staff "sip:202@comune.example" }
flow main answers "100" {
  start: callback anagrafe -> hangup
}
"#;
        let console = Arc::new(Console::new(
            std::path::PathBuf::from("/nonexistent/accounts.toml"),
            crate::http::ServerView::for_tests(flows),
            false,
        ));
        let two_hours_ago = Timestamp::now()
            .checked_sub(SignedDuration::from_hours(2))
            .unwrap();
        let mut references = Vec::new();
        for office in ["anagrafe", "tributi"] {
            let created = console
                .server()
                .store
                .create_callback(NewCallback {
                    office: office.into(),
                    number: "0755771234".into(),
                    note: None,
                    call_id: format!("call-{office}"),
                    created_at: two_hours_ago,
                    window: None,
                    ticket: None,
                    category: None,
                    citizen_first: false,
                    language: None,
                })
                .unwrap();
            references.push(created.reference);
        }
        let viewer = Viewer {
            staff: crate::http::session::Staff {
                name: String::from("anna"),
                role: crate::http::accounts::Role::Operator,
                csrf: String::from("t"),
            },
            lang: super::super::Lang::It,
        };
        let response = list(State(console.clone()), viewer, RawQuery(None)).await;
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let page = String::from_utf8(bytes.to_vec()).unwrap();
        let row_of = |reference: &str| -> String {
            let at = page.find(&format!(">{reference}</a>")).unwrap();
            let start = page[..at].rfind("<tr").unwrap();
            let end = at + page[at..].find("</tr>").unwrap();
            page[start..end].to_owned()
        };
        let (anagrafe, tributi) = (row_of(&references[0]), row_of(&references[1]));
        assert!(anagrafe.contains("class=\"callback late\""), "{anagrafe}");
        assert!(
            anagrafe.contains("<strong class=\"late\">in ritardo</strong>"),
            "{anagrafe}"
        );
        assert!(!tributi.contains("late"), "{tributi}");
        let clock = console.clock();
        let due = |hours: i64| {
            clock.minute(
                two_hours_ago
                    .checked_add(SignedDuration::from_hours(hours))
                    .unwrap(),
            )
        };
        assert!(
            anagrafe.contains(&format!("<td class=\"due\">{}</td>", due(1))),
            "{anagrafe}"
        );
        assert!(
            tributi.contains(&format!("<td class=\"due\">{}</td>", due(24))),
            "{tributi}"
        );
        assert!(
            page.contains("<strong id=\"late-count\">1</strong>"),
            "{page}"
        );
    }

    /// Office staff get their offices (the flows' staff list by extension, and the account's
    /// own), see those requests and tickets first, and may change only those: another
    /// office's callback or ticket is refused (403) and its page has no forms. A supervisor
    /// works everything.
    #[tokio::test]
    async fn office_staff_work_only_their_offices_and_see_them_first() {
        use crate::http::accounts::{Accounts, Role};
        use crate::store::NewTicket;
        let flows = r#"
office anagrafe "Anagrafe" { staff "sip:201@comune.example" }
office tributi "Tributi" { staff "sip:202@comune.example" }
office ambiente "Ambiente" { staff "sip:203@comune.example" }
flow main answers "100" {
  start: callback anagrafe -> hangup
}
"#;
        let dir = tempfile::tempdir().unwrap();
        let path = Accounts::path_in(dir.path());
        let mut accounts = Accounts::default();
        accounts
            .add("olga", Role::OfficeStaff, "olga-password")
            .unwrap();
        accounts.set_extension("olga", Some("201")).unwrap();
        accounts.set_offices("olga", &["ambiente".into()]).unwrap();
        accounts
            .add("sara", Role::Supervisor, "sara-password")
            .unwrap();
        assert!(accounts.set_offices("sara", &["no way".into()]).is_err());
        accounts.save(&path).unwrap();
        let console = Arc::new(Console::new(
            path,
            crate::http::ServerView::for_tests(flows),
            false,
        ));
        let viewer = |name: &str, role: Role| Viewer {
            staff: crate::http::session::Staff {
                name: name.into(),
                role,
                csrf: String::from("t"),
            },
            lang: super::super::Lang::It,
        };
        let olga = viewer("olga", Role::OfficeStaff);
        let sara = viewer("sara", Role::Supervisor);
        let mine: Vec<String> = console.offices_of(&olga).unwrap().into_iter().collect();
        assert_eq!(mine, ["ambiente", "anagrafe"]);
        assert_eq!(console.offices_of(&sara), None);

        let store = console.server().store.clone();
        let asked = Timestamp::now()
            .checked_sub(SignedDuration::from_hours(1))
            .unwrap();
        let callback_of = |office: &str, minutes: i64| {
            store
                .create_callback(NewCallback {
                    office: office.into(),
                    number: "0755771234".into(),
                    note: None,
                    call_id: format!("call-{office}"),
                    created_at: asked
                        .checked_add(SignedDuration::from_mins(minutes))
                        .unwrap(),
                    window: None,
                    ticket: None,
                    category: None,
                    citizen_first: false,
                    language: None,
                })
                .unwrap()
                .reference
        };
        // The tributi request is the newest: without the preset it would be listed first.
        let anagrafe = callback_of("anagrafe", 0);
        let tributi = callback_of("tributi", 10);

        let body = |response: Response| async move {
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        };
        let (_, page) =
            body(list(State(console.clone()), olga.clone(), RawQuery(None)).await).await;
        let first = |page: &str| {
            page.find(&format!(">{anagrafe}</a>")) < page.find(&format!(">{tributi}</a>"))
        };
        assert!(first(&page), "{page}");
        let (_, page) =
            body(list(State(console.clone()), sara.clone(), RawQuery(None)).await).await;
        assert!(
            !first(&page),
            "a supervisor's list is by lateness and age only"
        );

        // Another office's request: refused, nothing changed, its page has no forms.
        let later = Change::Reschedule {
            at: Timestamp::now(),
        };
        let (status, page) = body(apply(&console, &olga, &tributi, later.clone()).await).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
        assert!(page.contains("non è del suo ufficio"), "{page}");
        let (_, page) = body(callback_page(&console, &olga, &tributi, None).await).await;
        assert!(page.contains("id=\"read-only\""), "{page}");
        assert!(!page.contains("id=\"reschedule\""), "{page}");
        // Their own office's: done.
        let (status, _) = body(apply(&console, &olga, &anagrafe, later.clone()).await).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, page) = body(callback_page(&console, &olga, &anagrafe, None).await).await;
        assert!(page.contains("id=\"reschedule\""), "{page}");
        // A supervisor works any office's.
        let (status, _) = body(apply(&console, &sara, &tributi, later).await).await;
        assert_eq!(status, StatusCode::SEE_OTHER);

        // Tickets: the same rule.
        let ticket_of = |office: &str| {
            store
                .create_ticket(NewTicket {
                    category: "buche".into(),
                    title: String::new(),
                    office: Some(office.into()),
                    priority: "normale".into(),
                    fields: BTreeMap::new(),
                    caller: "0755771234".into(),
                    call_id: format!("call-t-{office}"),
                    created_at: asked,
                    due_at: None,
                })
                .unwrap()
                .reference
        };
        let (own, other) = (ticket_of("ambiente"), ticket_of("tributi"));
        let comment = || crate::store::ticketing::TicketAction::Comment {
            text: "visto".into(),
        };
        let (status, page) =
            body(super::super::tickets::work_for_tests(&console, &olga, &other, comment()).await)
                .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
        let (status, _) =
            body(super::super::tickets::work_for_tests(&console, &olga, &own, comment()).await)
                .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(store.ticket(&other).unwrap().unwrap().work.history.len(), 0);
        assert_eq!(store.ticket(&own).unwrap().unwrap().work.history.len(), 1);
    }
}
