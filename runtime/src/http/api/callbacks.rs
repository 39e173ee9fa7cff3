//! `/api/v1/callbacks`: ask for a callback for a citizen (the office must exist in the flows,
//! the number must pass the dialer's numbering rule, [`crate::dialer::rule`]), read one, and
//! cancel it (closed with the token's name and a note; the dialer stops working it).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{Body, ErrorBody};
use super::tickets::status_name;
use super::tokens::Scope;
use super::{Api, ApiError, Caller, reference, text_field};
use crate::store::dialing::{Change, DialState, Refusal};
use crate::store::{Callback, NewCallback};

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(request))
        .routes(routes!(show))
        .routes(routes!(cancel))
}

/// A callback asked for by another channel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCallbackRequest {
    /// An office of the flows: its staff call back.
    pub office: String,
    /// The number to call: Italian landlines and mobiles (premium-rate, short codes and, unless
    /// configured, other countries are refused).
    pub phone: String,
    #[serde(default)]
    pub note: Option<String>,
    /// Call the citizen first ("press 1 to be connected"), then staff; default: staff first.
    #[serde(default)]
    pub citizen_first: bool,
    /// The language the citizen hears when called first: `it` (default) or `en`.
    #[serde(default)]
    pub language: Option<String>,
}

/// A callback request as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackView {
    /// `RC-2026-000042`
    pub reference: String,
    /// `open` or `closed`.
    pub status: String,
    pub office: String,
    /// The number to call, in the form the dialer uses.
    pub phone: String,
    pub note: Option<String>,
    pub channel: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// The dialer's state: `pending`, `working`, `reached`, `closed`, `failed`.
    pub state: String,
    /// Attempts made so far.
    pub attempts: usize,
    /// Who closed it (closed only).
    pub closed_by: Option<String>,
    /// The citizen is called first, then staff.
    pub citizen_first: bool,
}

impl From<&Callback> for CallbackView {
    fn from(callback: &Callback) -> Self {
        let closed_by = match &callback.dialing.state {
            DialState::Closed { by, .. } => by.clone(),
            DialState::Pending
            | DialState::Working { .. }
            | DialState::Reached
            | DialState::Failed { .. } => None,
        };
        CallbackView {
            reference: callback.reference.clone(),
            status: status_name(callback.status).to_owned(),
            office: callback.request.office.clone(),
            phone: callback.request.number.clone(),
            note: callback.request.note.clone(),
            channel: callback.request.call_id.clone(),
            created_at: callback.request.created_at,
            state: callback.dialing.state.name().to_owned(),
            attempts: callback.dialing.attempts.len(),
            closed_by,
            citizen_first: callback.request.citizen_first,
        }
    }
}

/// Ask for a callback.
#[utoipa::path(post, path = "/api/v1/callbacks", tag = "callbacks", request_body = NewCallbackRequest,
    responses(
        (status = 201, description = "Asked for", body = CallbackView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks callbacks:write", body = ErrorBody),
        (status = 422, description = "unknown_office, number_refused, invalid_field", body = ErrorBody),
    ))]
async fn request(
    State(api): State<Api>,
    caller: Caller,
    Body(body): Body<NewCallbackRequest>,
) -> Result<(StatusCode, Json<CallbackView>), ApiError> {
    caller.require(Scope::CallbacksWrite)?;
    if !api.program().graph.offices.contains_key(&body.office) {
        return Err(ApiError::UnknownOffice {
            office: body.office.chars().take(64).collect(),
        });
    }
    let number = api
        .number_rule
        .check(&body.phone)
        .map_err(|refused| ApiError::NumberRefused {
            reason: refused.to_string(),
        })?
        .number;
    let note = body
        .note
        .map(|note| text_field("note", &note, 500))
        .transpose()?
        .filter(|note| !note.is_empty());
    let language = match body.language.as_deref() {
        None => None,
        Some(code @ ("it" | "en")) => Some(code.to_owned()),
        Some(_) => return Err(ApiError::invalid("language", "`it` or `en`")),
    };
    let new = NewCallback {
        office: body.office,
        number,
        note,
        call_id: caller.actor(),
        created_at: Timestamp::now(),
        window: None,
        ticket: None,
        category: None,
        citizen_first: body.citizen_first,
        language: language.filter(|_| body.citizen_first),
    };
    let callback = api
        .store(move |store| Ok(store.create_callback(new)?))
        .await?;
    tracing::info!(reference = %callback.reference, by = %caller.actor(), "API: callback asked for");
    Ok((StatusCode::CREATED, Json(CallbackView::from(&callback))))
}

/// One callback request by its reference.
#[utoipa::path(get, path = "/api/v1/callbacks/{reference}", tag = "callbacks",
    params(("reference" = String, Path, description = "RC-2026-000042")),
    responses(
        (status = 200, description = "The callback request", body = CallbackView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks callbacks:read", body = ErrorBody),
        (status = 404, description = "callback_not_found", body = ErrorBody),
    ))]
async fn show(
    State(api): State<Api>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Json<CallbackView>, ApiError> {
    caller.require(Scope::CallbacksRead)?;
    let reference = reference(&text, ApiError::CallbackNotFound)?;
    let callback = api
        .store(move |store| {
            store
                .callback(&reference)?
                .ok_or(ApiError::CallbackNotFound)
        })
        .await?;
    Ok(Json(CallbackView::from(&callback)))
}

/// Why a callback is cancelled.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    #[serde(default)]
    pub note: Option<String>,
}

/// Cancel a callback request: it is closed (by the token's name) and no longer dialled.
#[utoipa::path(post, path = "/api/v1/callbacks/{reference}/cancel", tag = "callbacks",
    params(("reference" = String, Path, description = "RC-2026-000042")),
    request_body = CancelRequest,
    responses(
        (status = 200, description = "Closed", body = CallbackView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks callbacks:write", body = ErrorBody),
        (status = 404, description = "callback_not_found", body = ErrorBody),
        (status = 409, description = "Already closed", body = ErrorBody),
    ))]
async fn cancel(
    State(api): State<Api>,
    caller: Caller,
    Path(text): Path<String>,
    Body(body): Body<CancelRequest>,
) -> Result<Json<CallbackView>, ApiError> {
    caller.require(Scope::CallbacksWrite)?;
    let reference = reference(&text, ApiError::CallbackNotFound)?;
    let note = body
        .note
        .map(|note| text_field("note", &note, 500))
        .transpose()?
        .filter(|note| !note.is_empty());
    let change = Change::Close {
        at: Timestamp::now(),
        by: Some(caller.actor()),
        note,
    };
    let callback = api
        .store(move |store| {
            store
                .change_callback(&reference, &change)?
                .map_err(|refusal| match refusal {
                    Refusal::NotFound => ApiError::CallbackNotFound,
                    other => ApiError::Conflict {
                        reason: other.to_string(),
                    },
                })
        })
        .await?;
    tracing::info!(reference = %callback.reference, by = %caller.actor(), "API: callback cancelled");
    Ok(Json(CallbackView::from(&callback)))
}
