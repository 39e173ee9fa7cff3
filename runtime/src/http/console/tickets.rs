//! The tickets pages: a list filtered by category, office, status and date (newest first, in
//! pages), a ticket's page with its fields, history and recorded description, and the forms
//! that work it (assign, comment, close, reopen) through [`Store::change_ticket`].
//!
//! ```text
//!   GET  /tickets?category=&office=&status=&from=&to=&page=   ─► TicketFilter ─► one page
//!   GET  /tickets/{ref}                                        ─► fields, history, <audio>
//!   POST /tickets/{ref}/assign|comment|close|reopen            ─► change_ticket(by = account)
//!          refused (already closed...) ─► the ticket's page with the reason, 409
//!   GET  /tickets/{ref}/recordings/{n}                         ─► audio/wav
//! ```
//!
//! A recording is served only as the n-th of the store's recordings of the ticket's call: the
//! file's path comes from the store's record (and must lie in `DATA/recordings`), never from
//! the request. Operators, office staff and supervisors work tickets; office staff pick their
//! office with the filter (accounts have no office).
//!
//! [`Store::change_ticket`]: crate::store::Store::change_ticket

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use jiff::civil::Date;
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::clock::Clock;
use super::record_pages::{self, blocking, link, paged, query, query_string, segment};
use super::{Console, Nav, Page, Viewer, supervisors};
use crate::channels::email::MAIL_CALL_PREFIX;
use crate::http::accounts::Role;
use crate::store::records::Reference;
use crate::store::ticketing::{TicketAction, TicketChange, TicketRefusal};
use crate::store::{CallRecord, Recording, Status, Ticket};

pub const PAGE: Page = Page {
    routes,
    templates: &[
        ("tickets.html", include_str!("tickets.html")),
        ("ticket.html", include_str!("ticket.html")),
    ],
    words: WORDS,
    nav: Some(Nav {
        path: "/tickets",
        label: "tickets.title",
        allowed: ticket_workers,
    }),
};

/// Operators, office staff and supervisors work tickets and callbacks.
pub fn ticket_workers(role: Role) -> bool {
    match role {
        Role::Operator | Role::OfficeStaff | Role::Supervisor => true,
        Role::FlowEditor => false,
    }
}

/// The longest assignee (an account or an extension) accepted.
const MAX_ASSIGNEE_CHARS: usize = 64;

const WORDS: &[super::Word] = &[
    ("tickets.title", "Segnalazioni", "Tickets"),
    ("tickets.reference", "Numero", "Reference"),
    ("tickets.created", "Aperta il", "Created"),
    ("tickets.category", "Categoria", "Category"),
    ("tickets.office", "Ufficio", "Office"),
    ("tickets.status", "Stato", "Status"),
    ("tickets.assignee", "Assegnata a", "Assigned to"),
    ("tickets.due", "Scadenza", "Due"),
    ("tickets.late", "in ritardo", "late"),
    ("tickets.caller", "Chiamante", "Caller"),
    ("tickets.title_field", "Oggetto", "Title"),
    ("tickets.priority", "Priorità", "Priority"),
    ("tickets.call", "Chiamata", "Call"),
    ("tickets.channel", "Canale", "Channel"),
    ("tickets.channel.sip", "telefono", "phone"),
    ("tickets.channel.webchat", "chat sul sito", "web chat"),
    ("tickets.channel.email", "posta elettronica", "email"),
    ("tickets.fields", "Dati raccolti", "Collected fields"),
    ("tickets.from", "Dal", "From"),
    ("tickets.to", "Al", "To"),
    ("tickets.all", "Tutte", "All"),
    ("tickets.status.open", "aperta", "open"),
    ("tickets.status.closed", "chiusa", "closed"),
    ("tickets.status.cancelled", "annullata", "cancelled"),
    (
        "tickets.none",
        "Nessuna segnalazione con questi filtri.",
        "No tickets match these filters.",
    ),
    ("tickets.count", "segnalazioni", "tickets"),
    ("tickets.page", "Pagina", "Page"),
    ("tickets.previous", "Precedente", "Previous"),
    ("tickets.next", "Successiva", "Next"),
    (
        "tickets.bad_date",
        "Una data del filtro non è valida (AAAA-MM-GG): è stata ignorata.",
        "A date of the filter is not valid (YYYY-MM-DD): it was ignored.",
    ),
    (
        "tickets.bad_status",
        "Lo stato del filtro non è valido: è stato ignorato.",
        "The status of the filter is not valid: it was ignored.",
    ),
    (
        "tickets.damaged",
        "Alcune segnalazioni danneggiate non sono elencate:",
        "Some damaged tickets are not listed:",
    ),
    ("tickets.history", "Storia", "History"),
    ("tickets.no_history", "Nessuna modifica.", "No changes."),
    ("tickets.when", "Quando", "When"),
    ("tickets.who", "Chi", "Who"),
    ("tickets.what", "Cosa", "What"),
    ("tickets.action.assign", "assegnata", "assigned"),
    ("tickets.action.unassign", "tolta a tutti", "unassigned"),
    ("tickets.action.comment", "commento", "comment"),
    ("tickets.action.close", "chiusa", "closed"),
    ("tickets.action.cancel", "annullata", "cancelled"),
    ("tickets.action.reopen", "riaperta", "reopened"),
    (
        "tickets.recordings",
        "Descrizione registrata",
        "Recorded description",
    ),
    (
        "tickets.no_recordings",
        "Nessuna registrazione.",
        "No recordings.",
    ),
    ("tickets.assign", "Assegna", "Assign"),
    (
        "tickets.assign_to",
        "A (account o interno; vuoto: a nessuno)",
        "To (account or extension; empty: nobody)",
    ),
    ("tickets.comment", "Commenta", "Comment"),
    ("tickets.close", "Chiudi", "Close"),
    ("tickets.reopen", "Riapri", "Reopen"),
    ("tickets.note", "Nota", "Note"),
    (
        "tickets.not_found",
        "Nessuna segnalazione ha questo numero.",
        "No ticket has this reference.",
    ),
    (
        "tickets.refused.already_closed",
        "La segnalazione è già chiusa.",
        "The ticket is already closed.",
    ),
    (
        "tickets.refused.cancelled",
        "La segnalazione è stata annullata.",
        "The ticket was cancelled.",
    ),
    (
        "tickets.refused.not_closed",
        "La segnalazione è aperta: non c'è niente da riaprire.",
        "The ticket is open: there is nothing to reopen.",
    ),
    (
        "tickets.refused.empty",
        "Il testo è vuoto.",
        "The text is empty.",
    ),
    (
        "tickets.refused.too_long",
        "Il testo è troppo lungo.",
        "The text is too long.",
    ),
];

fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/tickets", get(list))
        .route("/tickets/{reference}", get(show))
        .route("/tickets/{reference}/assign", post(assign))
        .route("/tickets/{reference}/comment", post(comment))
        .route("/tickets/{reference}/close", post(close))
        .route("/tickets/{reference}/reopen", post(reopen))
        .route("/tickets/{reference}/recordings/{index}", get(recording))
}

/// What the list shows: a ticket matches every filter given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub category: Option<String>,
    pub office: Option<String>,
    pub status: Option<Status>,
    /// Created on or after this day (city time).
    pub from: Option<Date>,
    /// Created on or before this day (city time).
    pub to: Option<Date>,
    /// 1-based.
    pub page: usize,
}

impl TicketFilter {
    /// The filter in a query's fields, and the words of the problems found (a bad value is
    /// ignored and named).
    pub fn read(fields: &BTreeMap<String, String>) -> (TicketFilter, Vec<&'static str>) {
        let mut problems = Vec::new();
        let field = |name: &str| fields.get(name).cloned();
        let status = match field("status").as_deref() {
            None | Some("all") => None,
            Some(text) => {
                let status = status_named(text);
                if status.is_none() {
                    problems.push("tickets.bad_status");
                }
                status
            }
        };
        let mut date = |name: &str| {
            let text = field(name)?;
            let date = record_pages::parse_date(&text);
            if date.is_none() && !problems.contains(&"tickets.bad_date") {
                problems.push("tickets.bad_date");
            }
            date
        };
        let (from, to) = (date("from"), date("to"));
        let filter = TicketFilter {
            category: field("category"),
            office: field("office"),
            status,
            from,
            to,
            page: field("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        };
        (filter, problems)
    }

    /// Whether `ticket` passes the filter (its days are `clock`'s local days).
    pub fn matches(&self, ticket: &Ticket, clock: &Clock) -> bool {
        let request = &ticket.request;
        let day = clock.day(request.created_at);
        self.category
            .as_ref()
            .is_none_or(|c| *c == request.category)
            && self
                .office
                .as_ref()
                .is_none_or(|o| request.office.as_ref() == Some(o))
            && self.status.is_none_or(|s| s == ticket.status)
            && self.from.is_none_or(|from| day >= from)
            && self.to.is_none_or(|to| day <= to)
    }

    /// The matching tickets, newest first.
    pub fn select(&self, tickets: Vec<Ticket>, clock: &Clock) -> Vec<Ticket> {
        let mut selected: Vec<Ticket> = tickets
            .into_iter()
            .filter(|t| self.matches(t, clock))
            .collect();
        selected.sort_by(|a, b| {
            (b.request.created_at, &b.reference).cmp(&(a.request.created_at, &a.reference))
        });
        selected
    }

    /// The filter as a query string (without the page), for links to other pages.
    fn query(&self) -> String {
        let from = self.from.map(|d| d.to_string()).unwrap_or_default();
        let to = self.to.map(|d| d.to_string()).unwrap_or_default();
        query_string([
            ("category", self.category.as_deref().unwrap_or_default()),
            ("office", self.office.as_deref().unwrap_or_default()),
            ("status", self.status.map(status_name).unwrap_or_default()),
            ("from", from.as_str()),
            ("to", to.as_str()),
        ])
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Open => "open",
        Status::Closed => "closed",
        Status::Cancelled => "cancelled",
    }
}

fn status_named(text: &str) -> Option<Status> {
    [Status::Open, Status::Closed, Status::Cancelled]
        .into_iter()
        .find(|s| status_name(*s) == text)
}

/// A ticket as the list shows it.
#[derive(Debug, Serialize)]
struct Row {
    reference: String,
    created: String,
    category: String,
    office: String,
    status: &'static str,
    assignee: String,
    due: String,
    late: bool,
    caller: String,
}

impl Row {
    fn of(ticket: &Ticket, clock: &Clock) -> Row {
        let request = &ticket.request;
        Row {
            reference: ticket.reference.clone(),
            created: clock.minute(request.created_at),
            category: request.category.clone(),
            office: request.office.clone().unwrap_or_default(),
            status: status_name(ticket.status),
            assignee: ticket.work.assignee.clone().unwrap_or_default(),
            due: request
                .due_at
                .map(|due| clock.minute(due))
                .unwrap_or_default(),
            late: is_late(ticket, clock.now()),
            caller: request.caller.clone(),
        }
    }
}

/// Open past its due time.
fn is_late(ticket: &Ticket, now: Timestamp) -> bool {
    ticket.status == Status::Open && ticket.request.due_at.is_some_and(|due| due < now)
}

async fn list(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(refused) = console.require(&viewer, ticket_workers) {
        return refused;
    }
    let (filter, problems) = TicketFilter::read(&query(raw.as_deref()));
    let (tickets, damaged) =
        match blocking(&console.server().store, |s| s.tickets_skipping_damaged()).await {
            Ok(found) => found,
            Err(failed) => return failed,
        };
    let program = console.server().deployment.current();
    let (mut categories, mut offices): (BTreeSet<String>, BTreeSet<String>) = program
        .read()
        .map(|p| {
            (
                p.graph.categories.keys().cloned().collect(),
                p.graph.offices.keys().cloned().collect(),
            )
        })
        .unwrap_or_default();
    for ticket in &tickets {
        categories.insert(ticket.request.category.clone());
        offices.extend(ticket.request.office.clone());
    }
    let clock = console.clock();
    let mut selected = filter.select(tickets, &clock);
    // Office staff see their offices' tickets first (then the rest, read only).
    if let Some(mine) = console.offices_of(&viewer) {
        selected.sort_by_key(|t| !t.request.office.as_ref().is_some_and(|o| mine.contains(o)));
    }
    let page = paged(selected, filter.page);
    let rows: Vec<Row> = page.rows.iter().map(|t| Row::of(t, &clock)).collect();
    let base = filter.query();
    let page_link = |n: usize| {
        let sep = if base.is_empty() { "" } else { "&" };
        format!("/tickets?{base}{sep}page={n}")
    };
    console.page(
        &viewer,
        "tickets.html",
        context! {
            path => "/tickets",
            rows => minijinja::Value::from(minijinja::value::Serde(&rows)),
            page => page.page,
            pages => page.pages,
            total => page.total,
            previous => (page.page > 1).then(|| link(&page_link(page.page - 1))),
            next => (page.page < page.pages).then(|| link(&page_link(page.page + 1))),
            categories => categories,
            offices => offices,
            filter => context! {
                category => filter.category,
                office => filter.office,
                status => filter.status.map(status_name),
                from => filter.from.map(|d| d.to_string()),
                to => filter.to.map(|d| d.to_string()),
            },
            problems => problems,
            damaged => damaged.iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
    )
}

/// A history entry as the page shows it.
#[derive(Debug, Serialize)]
struct Event {
    at: String,
    by: String,
    /// The word of the action.
    action: &'static str,
    text: String,
}

fn events(ticket: &Ticket, clock: &Clock) -> Vec<Event> {
    ticket
        .work
        .history
        .iter()
        .map(|event| {
            let (action, text) = match &event.what {
                TicketAction::Assign { to: Some(to) } => ("tickets.action.assign", to.clone()),
                TicketAction::Assign { to: None } => ("tickets.action.unassign", String::new()),
                TicketAction::Comment { text } => ("tickets.action.comment", text.clone()),
                TicketAction::Close { note } => {
                    ("tickets.action.close", note.clone().unwrap_or_default())
                }
                TicketAction::Cancel { note } => {
                    ("tickets.action.cancel", note.clone().unwrap_or_default())
                }
                TicketAction::Reopen { note } => {
                    ("tickets.action.reopen", note.clone().unwrap_or_default())
                }
            };
            Event {
                at: clock.minute(event.at),
                by: event.by.clone(),
                action,
                text,
            }
        })
        .collect()
}

/// How the ticket came, as the word that names it: the channel of its call in the call log,
/// or a mail; `None` when neither says (a call not logged, a channel with no word).
fn channel_of(call_id: &str, logged: Option<&CallRecord>) -> Option<&'static str> {
    match logged.map(|call| call.channel.as_str()) {
        Some("sip") => Some("tickets.channel.sip"),
        Some("webchat") => Some("tickets.channel.webchat"),
        Some(_) => None,
        None if call_id.starts_with(MAIL_CALL_PREFIX) => Some("tickets.channel.email"),
        None => None,
    }
}

/// The recordings of the ticket's call, oldest first (the order the page numbers them in).
fn recordings_of(ticket: &Ticket, all: Vec<Recording>) -> Vec<Recording> {
    let mut mine: Vec<Recording> = all
        .into_iter()
        .filter(|r| !ticket.request.call_id.is_empty() && r.call_id == ticket.request.call_id)
        .collect();
    mine.sort_by(|a, b| (a.created_at, &a.variable).cmp(&(b.created_at, &b.variable)));
    mine
}

async fn show(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    UrlPath(reference): UrlPath<String>,
) -> Response {
    ticket_page(&console, &viewer, &reference, None).await
}

/// The ticket's page, with `problem` (a word: why a change was refused) if any.
async fn ticket_page(
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
        let Some(ticket) = s.ticket(reference.as_str())? else {
            return Ok(None);
        };
        let recordings = recordings_of(&ticket, s.recordings()?);
        let logged = match ticket.request.call_id.as_str() {
            "" => None,
            call_id => s.call(call_id)?,
        };
        Ok(Some((ticket, recordings, logged)))
    })
    .await;
    let (ticket, recordings, logged) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(console, viewer),
        Err(failed) => return failed,
    };
    let request = &ticket.request;
    let clock = console.clock();
    let audio: Vec<minijinja::Value> = recordings
        .iter()
        .map(|r| {
            context! {
                variable => &r.variable,
                seconds => r.duration_ms.div_ceil(1000),
                at => clock.minute(r.created_at),
            }
        })
        .collect();
    let mut response = console.page(
        viewer,
        "ticket.html",
        context! {
            path => "/tickets",
            reference => &ticket.reference,
            status => status_name(ticket.status),
            category => &request.category,
            title => &request.title,
            office => request.office.as_deref().unwrap_or_default(),
            priority => &request.priority,
            created => clock.minute(request.created_at),
            due => request.due_at.map(|due| clock.minute(due)),
            late => is_late(&ticket, clock.now()),
            can_work => console.may_work(viewer, request.office.as_deref()),
            caller => &request.caller,
            call_id => &request.call_id,
            // A link only where it leads: a call the log has, for those who may read the log.
            call_href => (logged.is_some() && supervisors(viewer.staff.role))
                .then(|| link(&format!("/calls/{}", segment(&request.call_id)))),
            channel => channel_of(&request.call_id, logged.as_ref()),
            fields => &request.fields,
            assignee => ticket.work.assignee.as_deref().unwrap_or_default(),
            history => minijinja::Value::from(minijinja::value::Serde(events(&ticket, &clock))),
            recordings => audio,
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
        console.word("tickets.not_found", viewer.lang),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct AssignForm {
    #[serde(default)]
    to: String,
}

#[derive(Debug, Deserialize)]
struct CommentForm {
    #[serde(default)]
    text: String,
}

#[derive(Debug, Deserialize)]
struct NoteForm {
    #[serde(default)]
    note: String,
}

fn optional(text: String) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

async fn assign(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    UrlPath(reference): UrlPath<String>,
    axum::Form(form): axum::Form<AssignForm>,
) -> Response {
    let to = optional(form.to);
    if to.as_ref().is_some_and(|to| {
        to.chars().count() > MAX_ASSIGNEE_CHARS || to.chars().any(char::is_control)
    }) {
        return ticket_page(
            &console,
            &viewer,
            &reference,
            Some("tickets.refused.too_long"),
        )
        .await;
    }
    work(&console, &viewer, &reference, TicketAction::Assign { to }).await
}

async fn comment(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    UrlPath(reference): UrlPath<String>,
    axum::Form(form): axum::Form<CommentForm>,
) -> Response {
    let what = TicketAction::Comment { text: form.text };
    work(&console, &viewer, &reference, what).await
}

async fn close(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    UrlPath(reference): UrlPath<String>,
    axum::Form(form): axum::Form<NoteForm>,
) -> Response {
    let what = TicketAction::Close {
        note: optional(form.note),
    };
    work(&console, &viewer, &reference, what).await
}

async fn reopen(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    UrlPath(reference): UrlPath<String>,
    axum::Form(form): axum::Form<NoteForm>,
) -> Response {
    let what = TicketAction::Reopen {
        note: optional(form.note),
    };
    work(&console, &viewer, &reference, what).await
}

/// Applies `what` to the ticket as the viewer; back to its page, or the page with the reason
/// it was refused.
/// [`work`] for other pages' tests.
#[cfg(test)]
pub(super) async fn work_for_tests(
    console: &Console,
    viewer: &Viewer,
    reference: &str,
    what: TicketAction,
) -> Response {
    work(console, viewer, reference, what).await
}

async fn work(console: &Console, viewer: &Viewer, reference: &str, what: TicketAction) -> Response {
    if let Err(refused) = console.require(viewer, ticket_workers) {
        return refused;
    }
    let Ok(parsed) = Reference::parse(reference) else {
        return not_found(console, viewer);
    };
    // Office staff work only their offices' tickets (the others they may read).
    if console.offices_of(viewer).is_some() {
        let wanted = parsed.clone();
        let office =
            match blocking(&console.server().store, move |s| s.ticket(wanted.as_str())).await {
                Ok(Some(ticket)) => ticket.request.office,
                Ok(None) => return not_found(console, viewer),
                Err(failed) => return failed,
            };
        if let Err(refused) = console.require_office(viewer, office.as_deref()) {
            return refused;
        }
    }
    let change = TicketChange {
        at: Timestamp::now(),
        by: viewer.staff.name.clone(),
        what,
    };
    let changed = blocking(&console.server().store, move |s| {
        s.change_ticket(parsed.as_str(), &change)
    })
    .await;
    match changed {
        Ok(Ok(ticket)) => {
            tracing::info!(ticket = %ticket.reference, by = %viewer.staff.name, "ticket changed from the console");
            Redirect::to(&format!("/tickets/{}", segment(&ticket.reference))).into_response()
        }
        Ok(Err(refusal)) => {
            let problem = match refusal {
                TicketRefusal::NotFound => return not_found(console, viewer),
                TicketRefusal::AlreadyClosed => "tickets.refused.already_closed",
                TicketRefusal::Cancelled => "tickets.refused.cancelled",
                TicketRefusal::NotClosed => "tickets.refused.not_closed",
                TicketRefusal::EmptyText => "tickets.refused.empty",
                TicketRefusal::TooLong => "tickets.refused.too_long",
            };
            ticket_page(console, viewer, reference, Some(problem)).await
        }
        Err(failed) => failed,
    }
}

/// `GET /tickets/{ref}/recordings/{n}`: the n-th recording of the ticket's call, as WAV.
async fn recording(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    UrlPath((reference, index)): UrlPath<(String, String)>,
) -> Response {
    if let Err(refused) = console.require(&viewer, ticket_workers) {
        return refused;
    }
    let (Ok(reference), Ok(index)) = (Reference::parse(&reference), index.parse::<usize>()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let found = blocking(&console.server().store, move |s| {
        let Some(ticket) = s.ticket(reference.as_str())? else {
            return Ok(None);
        };
        Ok(recordings_of(&ticket, s.recordings()?)
            .into_iter()
            .nth(index))
    })
    .await;
    let recording = match found {
        Ok(Some(recording)) => recording,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(failed) => return failed,
    };
    let data_dir = console.server().data_dir.clone();
    let Some(file) = recording_file(&data_dir, &recording.path) else {
        tracing::warn!(path = %recording.path.escape_debug(), "console: a recording's path is not under DATA/recordings");
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(&file).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "audio/wav"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CACHE_CONTROL, "private, no-store"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e, "console: a recording cannot be read");
            StatusCode::NOT_FOUND.into_response()
        }
    }
}

/// The file of a recording's stored `path` (relative to the data folder), if it names a
/// file under `DATA/recordings`: plain names only, no `..`, no absolute path, no link out.
fn recording_file(data_dir: &Path, stored: &str) -> Option<PathBuf> {
    let relative = Path::new(stored);
    let plain = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !plain || !relative.starts_with("recordings") {
        return None;
    }
    let folder = data_dir.join("recordings").canonicalize().ok()?;
    let file = data_dir.join(relative).canonicalize().ok()?;
    (file.starts_with(&folder) && file.is_file()).then_some(file)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::store::NewTicket;

    fn ticket(reference: &str, category: &str, office: Option<&str>, at: &str) -> Ticket {
        Ticket {
            schema: 1,
            reference: reference.into(),
            status: Status::Open,
            request: NewTicket {
                category: category.into(),
                title: String::new(),
                office: office.map(Into::into),
                priority: "normale".into(),
                fields: BTreeMap::new(),
                caller: "0755771234".into(),
                call_id: format!("call-{reference}"),
                created_at: at.parse().unwrap(),
                due_at: None,
            },
            work: Default::default(),
        }
    }

    fn rome() -> Clock {
        Clock::new(
            jiff::tz::TimeZone::get("Europe/Rome").unwrap(),
            jiff::Timestamp::UNIX_EPOCH,
        )
    }

    fn filter(query: &str) -> (TicketFilter, Vec<&'static str>) {
        TicketFilter::read(&record_pages::query(Some(query)))
    }

    #[test]
    fn filters_select_by_category_office_status_and_city_day_newest_first() {
        let mut closed = ticket("PG-3", "buche", Some("strade"), "2026-12-03T10:00:00Z");
        closed.status = Status::Closed;
        let tickets = vec![
            ticket("PG-1", "buche", Some("strade"), "2026-12-01T10:00:00Z"),
            // 23:30 UTC on the 1st is the 2nd in Rome.
            ticket("PG-2", "rifiuti", None, "2026-12-01T23:30:00Z"),
            closed,
            ticket("PG-4", "buche", Some("verde"), "2026-12-04T10:00:00Z"),
        ];
        let refs = |query: &str| -> Vec<String> {
            let (f, problems) = filter(query);
            assert!(problems.is_empty(), "{query}: {problems:?}");
            f.select(tickets.clone(), &rome())
                .into_iter()
                .map(|t| t.reference)
                .collect()
        };
        assert_eq!(refs(""), ["PG-4", "PG-3", "PG-2", "PG-1"]);
        assert_eq!(refs("category=buche"), ["PG-4", "PG-3", "PG-1"]);
        assert_eq!(refs("category=buche&office=strade"), ["PG-3", "PG-1"]);
        assert_eq!(refs("status=open"), ["PG-4", "PG-2", "PG-1"]);
        assert_eq!(refs("status=closed"), ["PG-3"]);
        assert_eq!(
            refs("status=all&from=2026-12-02&to=2026-12-03"),
            ["PG-3", "PG-2"]
        );
        assert_eq!(refs("to=2026-12-01"), ["PG-1"]);
    }

    #[test]
    fn bad_filter_values_are_named_and_ignored() {
        let (f, problems) = filter("status=maybe&from=ieri&to=2026-02-30&page=x");
        assert_eq!(
            f,
            TicketFilter {
                page: 1,
                ..TicketFilter::default()
            }
        );
        assert_eq!(problems, ["tickets.bad_status", "tickets.bad_date"]);
        let (f, _) = filter("category=buche+stradali&status=open&from=2026-12-01&page=3");
        assert_eq!(f.page, 3);
        assert_eq!(
            f.query(),
            "category=buche+stradali&status=open&from=2026-12-01"
        );
    }

    #[test]
    fn only_files_under_the_recordings_folder_are_served() {
        let data = tempfile::tempdir().unwrap();
        std::fs::create_dir(data.path().join("recordings")).unwrap();
        std::fs::write(data.path().join("recordings/call-1-descr.wav"), b"RIFF").unwrap();
        std::fs::write(data.path().join("accounts.toml"), b"secret").unwrap();
        assert!(recording_file(data.path(), "recordings/call-1-descr.wav").is_some());
        for bad in [
            "accounts.toml",
            "recordings/../accounts.toml",
            "/etc/passwd",
            "recordings",
            "recordings/missing.wav",
            "./recordings/call-1-descr.wav",
        ] {
            assert_eq!(recording_file(data.path(), bad), None, "{bad}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(
                data.path().join("accounts.toml"),
                data.path().join("recordings/link.wav"),
            )
            .unwrap();
            assert_eq!(recording_file(data.path(), "recordings/link.wav"), None);
        }
    }

    #[test]
    fn the_channel_is_the_logged_calls_or_a_mails() {
        let logged = |channel: &str| CallRecord {
            schema: 1,
            call_id: "c".into(),
            caller: String::new(),
            number: "100".into(),
            flow: "ufficio".into(),
            graph_version: String::new(),
            started_at: "2026-12-01T10:00:00Z".parse().unwrap(),
            ended_at: None,
            outcome: None,
            channel: channel.into(),
            handoffs: Vec::new(),
        };
        assert_eq!(
            channel_of("c", Some(&logged("sip"))),
            Some("tickets.channel.sip")
        );
        assert_eq!(
            channel_of("webchat-1", Some(&logged("webchat"))),
            Some("tickets.channel.webchat")
        );
        let mail = crate::channels::email::mail_call_id("<1@example.org>");
        assert_eq!(channel_of(&mail, None), Some("tickets.channel.email"));
        // Not logged (yet), or logged before the log kept channels: nothing is claimed.
        assert_eq!(channel_of("call-1", None), None);
        assert_eq!(channel_of("c", Some(&logged(""))), None);
        for key in ["sip", "webchat", "email"] {
            let word = format!("tickets.channel.{key}");
            assert!(WORDS.iter().any(|(k, _, _)| *k == word), "{word}");
        }
    }

    #[test]
    fn the_history_reads_as_words() {
        let mut t = ticket("PG-1", "buche", None, "2026-12-01T10:00:00Z");
        let at: Timestamp = "2026-12-01T11:00:00Z".parse().unwrap();
        for what in [
            TicketAction::Assign {
                to: Some("201".into()),
            },
            TicketAction::Comment {
                text: "richiamato".into(),
            },
            TicketAction::Close { note: None },
        ] {
            let (work, status) = t
                .work
                .apply(
                    t.status,
                    &TicketChange {
                        at,
                        by: "anna".into(),
                        what,
                    },
                )
                .unwrap();
            t.work = work;
            t.status = status;
        }
        let shown: Vec<(&str, String)> = events(&t, &rome())
            .into_iter()
            .map(|e| (e.action, e.text))
            .collect();
        assert_eq!(
            shown,
            [
                ("tickets.action.assign", "201".to_string()),
                ("tickets.action.comment", "richiamato".to_string()),
                ("tickets.action.close", String::new()),
            ]
        );
        assert_eq!(events(&t, &rome())[0].at, "2026-12-01 12:00");
    }
}
