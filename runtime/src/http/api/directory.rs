//! `/api/v1/directory`, `/api/v1/presence`, `/api/v1/calls`: read-only views of the address
//! book (offices, staff, external contacts: [`crate::http::directory::LiveBook`]), of staff
//! presence (the desk) and of the call log (the store's call records).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ErrorBody, Query};
use super::tokens::Scope;
use super::{Api, ApiError, Caller};
use crate::people::directory::EntryKind;
use crate::store::CallRecord;

/// The most calls one request lists.
pub const MAX_CALLS: usize = 500;

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(book))
        .routes(routes!(presence))
        .routes(routes!(calls))
        .routes(routes!(call))
}

/// One entry of the address book.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    /// `office`, `staff` or `external`.
    pub kind: String,
    pub name: String,
    /// What a phone dials: an extension, an office's name, a number.
    pub number: String,
    pub groups: Vec<String>,
}

/// The address book: offices, staff, then external contacts, each by name.
#[utoipa::path(get, path = "/api/v1/directory", tag = "directory",
    responses(
        (status = 200, description = "Every entry", body = Vec<EntryView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks directory:read", body = ErrorBody),
    ))]
async fn book(State(api): State<Api>, caller: Caller) -> Result<Json<Vec<EntryView>>, ApiError> {
    caller.require(Scope::DirectoryRead)?;
    let book = api.directory.book().await;
    Ok(Json(
        book.entries()
            .iter()
            .map(|entry| EntryView {
                kind: match entry.kind {
                    EntryKind::Office => "office",
                    EntryKind::Staff => "staff",
                    EntryKind::External => "external",
                }
                .to_owned(),
                name: entry.name.clone(),
                number: entry.number.clone(),
                groups: entry.groups.clone(),
            })
            .collect(),
    ))
}

/// Every staff member's presence, by extension: `available`, `ringing`, `on_call`, `away`,
/// `offline`.
#[utoipa::path(get, path = "/api/v1/presence", tag = "directory",
    responses(
        (status = 200, description = "Status by extension", body = BTreeMap<String, String>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks directory:read", body = ErrorBody),
    ))]
async fn presence(
    State(api): State<Api>,
    caller: Caller,
) -> Result<Json<BTreeMap<String, crate::people::presence::Status>>, ApiError> {
    caller.require(Scope::DirectoryRead)?;
    Ok(Json(api.server.desk.statuses()))
}

/// One call of the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallView {
    pub call_id: String,
    /// Who called.
    pub caller: String,
    /// The number called.
    pub number: String,
    pub flow: String,
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
    pub outcome: Option<String>,
}

impl From<&CallRecord> for CallView {
    fn from(call: &CallRecord) -> Self {
        CallView {
            call_id: call.call_id.clone(),
            caller: call.caller.clone(),
            number: call.number.clone(),
            flow: call.flow.clone(),
            started_at: call.started_at,
            ended_at: call.ended_at,
            outcome: call.outcome.clone(),
        }
    }
}

/// Which calls.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CallFilter {
    /// Calls started at or after this instant (RFC 3339).
    pub since: Option<String>,
    /// At most this many, newest first (1 to 500, default 50).
    pub limit: Option<usize>,
}

/// The call log, newest first.
#[utoipa::path(get, path = "/api/v1/calls", tag = "calls", params(CallFilter),
    responses(
        (status = 200, description = "Calls, newest first", body = Vec<CallView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks calls:read", body = ErrorBody),
        (status = 422, description = "A filter is not valid", body = ErrorBody),
    ))]
async fn calls(
    State(api): State<Api>,
    caller: Caller,
    Query(filter): Query<CallFilter>,
) -> Result<Json<Vec<CallView>>, ApiError> {
    caller.require(Scope::CallsRead)?;
    let since = filter
        .since
        .map(|t| {
            t.parse::<Timestamp>()
                .map_err(|_| ApiError::invalid("since", "an RFC 3339 instant"))
        })
        .transpose()?;
    let limit = filter.limit.unwrap_or(50);
    if !(1..=MAX_CALLS).contains(&limit) {
        return Err(ApiError::invalid("limit", format!("1 to {MAX_CALLS}")));
    }
    let calls = api.store(|store| Ok(store.calls()?)).await?;
    Ok(Json(
        calls
            .iter()
            .rev()
            .filter(|c| since.is_none_or(|s| c.started_at >= s))
            .take(limit)
            .map(CallView::from)
            .collect(),
    ))
}

/// One call of the log by its id.
#[utoipa::path(get, path = "/api/v1/calls/{call_id}", tag = "calls",
    params(("call_id" = String, Path)),
    responses(
        (status = 200, description = "The call", body = CallView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks calls:read", body = ErrorBody),
        (status = 404, description = "call_not_found", body = ErrorBody),
    ))]
async fn call(
    State(api): State<Api>,
    caller: Caller,
    Path(call_id): Path<String>,
) -> Result<Json<CallView>, ApiError> {
    caller.require(Scope::CallsRead)?;
    if call_id.len() > 256 {
        return Err(ApiError::CallNotFound);
    }
    let call = api
        .store(move |store| store.call(&call_id)?.ok_or(ApiError::CallNotFound))
        .await?;
    Ok(Json(CallView::from(&call)))
}
