//! `/api/v1/tickets`: open a ticket from another channel (a front desk, the portal), read it,
//! list with filters and pages, and work it (comment, assign, close, cancel, reopen) through
//! the same rules as the console ([`crate::store::ticketing`]), the token's name as the actor.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{Body, ErrorBody, Query};
use super::tokens::Scope;
use super::{Api, ApiError, Caller, phone_field, reference, text_field};
use crate::store::ticketing::{TicketAction, TicketChange, TicketEvent, TicketRefusal};
use crate::store::{NewTicket, Status, Ticket};

/// Fields a ticket may carry at most.
pub const MAX_FIELDS: usize = 30;
/// The longest field value (characters).
pub const MAX_FIELD_CHARS: usize = 1000;
/// The largest page of a listing.
pub const MAX_PAGE_SIZE: usize = 100;

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show))
        .routes(routes!(change))
}

/// A ticket opened by another channel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicketRequest {
    /// A ticket category of the flows (`category buche ...`).
    pub category: String,
    /// What the citizen told (names: lowercase letters, digits, `_`; at most 30).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Defaults to the category's title.
    #[serde(default)]
    pub title: Option<String>,
    /// An office of the flows; defaults to the category's office.
    #[serde(default)]
    pub office: Option<String>,
    /// The citizen's phone number (for the citizen lookup and callbacks).
    #[serde(default)]
    pub phone: Option<String>,
}

/// A ticket as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    /// `PG-2026-000123`: unique, never reused (the same counter as the phone's).
    pub reference: String,
    /// `open`, `closed` or `cancelled`.
    pub status: String,
    pub category: String,
    pub title: String,
    pub office: Option<String>,
    pub priority: String,
    pub fields: BTreeMap<String, String>,
    /// The citizen's number (the caller's, for tickets opened by phone).
    pub phone: String,
    /// Where it came from: a call's id, or `api:NAME` for a connected system.
    pub channel: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<Timestamp>,
    pub assignee: Option<String>,
    /// Every change, oldest first, with who made it.
    pub history: Vec<HistoryEntry>,
}

/// One change of a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// A console account, `api:NAME`, `cli`.
    pub by: String,
    /// `assign`, `comment`, `close`, `cancel`, `reopen`.
    pub action: String,
    /// The comment or note, if any.
    pub text: Option<String>,
    /// Who it was assigned to (assign).
    pub to: Option<String>,
}

impl From<&TicketEvent> for HistoryEntry {
    fn from(event: &TicketEvent) -> Self {
        let (action, text, to) = match &event.what {
            TicketAction::Assign { to } => ("assign", None, to.clone()),
            TicketAction::Comment { text } => ("comment", Some(text.clone()), None),
            TicketAction::Close { note } => ("close", note.clone(), None),
            TicketAction::Cancel { note } => ("cancel", note.clone(), None),
            TicketAction::Reopen { note } => ("reopen", note.clone(), None),
        };
        HistoryEntry {
            at: event.at,
            by: event.by.clone(),
            action: action.to_owned(),
            text,
            to,
        }
    }
}

pub(crate) fn status_name(status: Status) -> &'static str {
    match status {
        Status::Open => "open",
        Status::Closed => "closed",
        Status::Cancelled => "cancelled",
    }
}

impl From<&Ticket> for TicketView {
    fn from(ticket: &Ticket) -> Self {
        TicketView {
            reference: ticket.reference.clone(),
            status: status_name(ticket.status).to_owned(),
            category: ticket.request.category.clone(),
            title: ticket.request.title.clone(),
            office: ticket.request.office.clone(),
            priority: ticket.request.priority.clone(),
            fields: ticket.request.fields.clone(),
            phone: ticket.request.caller.clone(),
            channel: ticket.request.call_id.clone(),
            created_at: ticket.request.created_at,
            due_at: ticket.request.due_at,
            closed_at: ticket.work.closed_at(),
            assignee: ticket.work.assignee.clone(),
            history: ticket.work.history.iter().map(HistoryEntry::from).collect(),
        }
    }
}

fn field_name_ok(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The store's request for `body`, checked against the flows, or why not.
fn new_ticket(
    program: &crate::engine::Program,
    caller: &Caller,
    body: NewTicketRequest,
    now: Timestamp,
) -> Result<NewTicket, ApiError> {
    let graph = &program.graph;
    let category =
        graph
            .categories
            .get(&body.category)
            .ok_or_else(|| ApiError::UnknownCategory {
                category: body.category.chars().take(64).collect(),
            })?;
    if body.fields.len() > MAX_FIELDS {
        return Err(ApiError::invalid(
            "fields",
            format!("at most {MAX_FIELDS} fields"),
        ));
    }
    let mut fields = BTreeMap::new();
    for (name, value) in &body.fields {
        if !field_name_ok(name) {
            return Err(ApiError::invalid(
                "fields",
                "names are 1 to 40 lowercase letters, digits or `_`",
            ));
        }
        fields.insert(
            name.clone(),
            text_field(&format!("fields.{name}"), value, MAX_FIELD_CHARS)?,
        );
    }
    let office = match body.office {
        Some(office) => {
            if !graph.offices.contains_key(&office) {
                return Err(ApiError::UnknownOffice {
                    office: office.chars().take(64).collect(),
                });
            }
            Some(office)
        }
        None => category.office.clone(),
    };
    let title = match body.title {
        Some(title) => text_field("title", &title, 200)?,
        None => category.title.clone(),
    };
    let phone = match body.phone {
        Some(phone) => phone_field("phone", &phone)?,
        None => String::new(),
    };
    let due_at = category
        .sla_ms
        .and_then(|ms| i64::try_from(ms).ok())
        .and_then(|ms| now.checked_add(jiff::SignedDuration::from_millis(ms)).ok());
    Ok(NewTicket {
        category: body.category,
        title,
        office,
        priority: category.priority.clone(),
        fields,
        caller: phone,
        call_id: caller.actor(),
        created_at: now,
        due_at,
    })
}

/// Open a ticket from another channel.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = NewTicketRequest,
    responses(
        (status = 201, description = "Opened", body = TicketView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks tickets:write", body = ErrorBody),
        (status = 422, description = "Unknown category or office, a field not valid", body = ErrorBody),
        (status = 429, description = "Too many requests (Retry-After)", body = ErrorBody),
    ))]
async fn create(
    State(api): State<Api>,
    caller: Caller,
    Body(body): Body<NewTicketRequest>,
) -> Result<(StatusCode, Json<TicketView>), ApiError> {
    caller.require(Scope::TicketsWrite)?;
    let request = new_ticket(&api.program(), &caller, body, Timestamp::now())?;
    let ticket = api
        .store(move |store| Ok(store.create_ticket(request)?))
        .await?;
    tracing::info!(reference = %ticket.reference, by = %caller.actor(), "API: ticket opened");
    Ok((StatusCode::CREATED, Json(TicketView::from(&ticket))))
}

/// Filters and page of a ticket listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TicketFilter {
    /// `open`, `closed` or `cancelled`.
    pub status: Option<String>,
    pub category: Option<String>,
    pub office: Option<String>,
    /// Created at or after this instant (RFC 3339).
    pub created_from: Option<String>,
    /// Created before this instant (RFC 3339).
    pub created_to: Option<String>,
    /// From 1 (default 1).
    pub page: Option<usize>,
    /// 1 to 100 (default 20).
    pub size: Option<usize>,
}

/// One page of tickets, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPage {
    pub tickets: Vec<TicketView>,
    pub page: usize,
    pub size: usize,
    /// Tickets matching the filters, on every page.
    pub total: usize,
}

fn instant(field: &str, text: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    text.map(|t| {
        t.parse::<Timestamp>()
            .map_err(|_| ApiError::invalid(field, "an RFC 3339 instant, e.g. 2026-12-05T09:00:00Z"))
    })
    .transpose()
}

/// Tickets with filters, a page at a time.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(TicketFilter),
    responses(
        (status = 200, description = "A page of tickets, oldest first", body = TicketPage),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks tickets:read", body = ErrorBody),
        (status = 422, description = "A filter is not valid", body = ErrorBody),
    ))]
async fn list(
    State(api): State<Api>,
    caller: Caller,
    Query(filter): Query<TicketFilter>,
) -> Result<Json<TicketPage>, ApiError> {
    caller.require(Scope::TicketsRead)?;
    let status = match filter.status.as_deref() {
        None => None,
        Some("open") => Some(Status::Open),
        Some("closed") => Some(Status::Closed),
        Some("cancelled") => Some(Status::Cancelled),
        Some(_) => return Err(ApiError::invalid("status", "open, closed or cancelled")),
    };
    let from = instant("created_from", filter.created_from.as_deref())?;
    let to = instant("created_to", filter.created_to.as_deref())?;
    let page = filter.page.unwrap_or(1);
    let size = filter.size.unwrap_or(20);
    if page == 0 || page > 1_000_000 {
        return Err(ApiError::invalid("page", "from 1"));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::invalid("size", format!("1 to {MAX_PAGE_SIZE}")));
    }
    let (category, office) = (filter.category, filter.office);
    let (tickets, skipped) = api
        .store(|store| Ok(store.tickets_skipping_damaged()?))
        .await?;
    for damaged in &skipped {
        tracing::warn!(%damaged, "API: a damaged ticket is left out of a listing");
    }
    let matching: Vec<&Ticket> = tickets
        .iter()
        .filter(|t| status.is_none_or(|s| t.status == s))
        .filter(|t| category.as_ref().is_none_or(|c| &t.request.category == c))
        .filter(|t| {
            office
                .as_ref()
                .is_none_or(|o| t.request.office.as_ref() == Some(o))
        })
        .filter(|t| from.is_none_or(|f| t.request.created_at >= f))
        .filter(|t| to.is_none_or(|until| t.request.created_at < until))
        .collect();
    let total = matching.len();
    let tickets = matching
        .into_iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(TicketView::from)
        .collect();
    Ok(Json(TicketPage {
        tickets,
        page,
        size,
        total,
    }))
}

/// One ticket by its reference.
#[utoipa::path(get, path = "/api/v1/tickets/{reference}", tag = "tickets",
    params(("reference" = String, Path, description = "PG-2026-000123")),
    responses(
        (status = 200, description = "The ticket", body = TicketView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks tickets:read", body = ErrorBody),
        (status = 404, description = "ticket_not_found", body = ErrorBody),
    ))]
async fn show(
    State(api): State<Api>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Json<TicketView>, ApiError> {
    caller.require(Scope::TicketsRead)?;
    let reference = reference(&text, ApiError::TicketNotFound)?;
    let ticket = api
        .store(move |store| store.ticket(&reference)?.ok_or(ApiError::TicketNotFound))
        .await?;
    Ok(Json(TicketView::from(&ticket)))
}

/// A change to a ticket: `{"action": "comment", "text": ...}`, `{"action": "assign", "to":
/// "201"}` (`to` absent: nobody), `{"action": "close"|"cancel"|"reopen", "note": ...}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChangeRequest {
    Comment {
        text: String,
    },
    Assign {
        #[serde(default)]
        to: Option<String>,
    },
    Close {
        #[serde(default)]
        note: Option<String>,
    },
    Cancel {
        #[serde(default)]
        note: Option<String>,
    },
    Reopen {
        #[serde(default)]
        note: Option<String>,
    },
}

fn refusal(refusal: TicketRefusal) -> ApiError {
    match refusal {
        TicketRefusal::NotFound => ApiError::TicketNotFound,
        TicketRefusal::EmptyText => ApiError::invalid("text", refusal.to_string()),
        TicketRefusal::TooLong => ApiError::invalid("text", refusal.to_string()),
        TicketRefusal::AlreadyClosed | TicketRefusal::Cancelled | TicketRefusal::NotClosed => {
            ApiError::Conflict {
                reason: refusal.to_string(),
            }
        }
    }
}

/// Comment, assign, close, cancel or reopen a ticket (recorded with the token's name).
#[utoipa::path(post, path = "/api/v1/tickets/{reference}/changes", tag = "tickets",
    params(("reference" = String, Path, description = "PG-2026-000123")),
    request_body = ChangeRequest,
    responses(
        (status = 200, description = "The ticket after the change", body = TicketView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks tickets:write", body = ErrorBody),
        (status = 404, description = "ticket_not_found", body = ErrorBody),
        (status = 409, description = "Not possible now (closed, cancelled, not closed)", body = ErrorBody),
        (status = 422, description = "Empty or too long a text", body = ErrorBody),
    ))]
async fn change(
    State(api): State<Api>,
    caller: Caller,
    Path(text): Path<String>,
    Body(body): Body<ChangeRequest>,
) -> Result<Json<TicketView>, ApiError> {
    caller.require(Scope::TicketsWrite)?;
    let reference = reference(&text, ApiError::TicketNotFound)?;
    let what = match body {
        ChangeRequest::Comment { text } => TicketAction::Comment { text },
        ChangeRequest::Assign { to } => TicketAction::Assign {
            to: to.map(|to| text_field("to", &to, 64)).transpose()?,
        },
        ChangeRequest::Close { note } => TicketAction::Close { note },
        ChangeRequest::Cancel { note } => TicketAction::Cancel { note },
        ChangeRequest::Reopen { note } => TicketAction::Reopen { note },
    };
    let change = TicketChange {
        at: Timestamp::now(),
        by: caller.actor(),
        what,
    };
    let ticket = api
        .store(move |store| store.change_ticket(&reference, &change)?.map_err(refusal))
        .await?;
    tracing::info!(reference = %ticket.reference, by = %caller.actor(), "API: ticket changed");
    Ok(Json(TicketView::from(&ticket)))
}
