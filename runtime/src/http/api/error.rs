//! The API's errors: one enum, each variant with a stable `code` (what clients match on), an
//! HTTP status and a message in English. The wording is here and nowhere else.
//!
//! ```json
//! {"error": {"code": "ticket_not_found", "message": "no ticket has this reference"}}
//! ```

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::tokens::Scope;

/// Why a request was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("a valid token is needed: Authorization: Bearer <token>")]
    Unauthenticated,
    #[error("the token does not have the scope {scope}")]
    MissingScope { scope: Scope },
    #[error("too many requests: try again in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("no such route in the API (see /api/v1/openapi.json)")]
    NoRoute,
    #[error("the request body is not valid: {reason}")]
    BadBody { reason: String },
    #[error("the query is not valid: {reason}")]
    BadQuery { reason: String },
    #[error("field `{field}`: {reason}")]
    Invalid { field: String, reason: String },
    #[error("no ticket category `{category}` in the flows")]
    UnknownCategory { category: String },
    #[error("no office `{office}` in the flows")]
    UnknownOffice { office: String },
    #[error("no service `{service}` in the flows")]
    UnknownService { service: String },
    #[error("`{name}` takes no appointments (no slots in the flows)")]
    NotBookable { name: String },
    #[error("no ticket has this reference")]
    TicketNotFound,
    #[error("no callback request has this reference")]
    CallbackNotFound,
    #[error("no open booking has this reference")]
    BookingNotFound,
    #[error("no call has this id")]
    CallNotFound,
    #[error("no request matches this reference and phone number")]
    RequestNotFound,
    #[error("the change is not possible: {reason}")]
    Conflict { reason: String },
    #[error("the time asked for is not free (full, or not a time the calendar offers)")]
    SlotTaken,
    #[error("the number cannot be called back: {reason}")]
    NumberRefused { reason: String },
    #[error("the store failed; the request was not carried out")]
    Store,
}

impl ApiError {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::MissingScope { .. } => "missing_scope",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::NoRoute => "no_route",
            ApiError::BadBody { .. } => "bad_body",
            ApiError::BadQuery { .. } => "bad_query",
            ApiError::Invalid { .. } => "invalid_field",
            ApiError::UnknownCategory { .. } => "unknown_category",
            ApiError::UnknownOffice { .. } => "unknown_office",
            ApiError::UnknownService { .. } => "unknown_service",
            ApiError::NotBookable { .. } => "not_bookable",
            ApiError::TicketNotFound => "ticket_not_found",
            ApiError::CallbackNotFound => "callback_not_found",
            ApiError::BookingNotFound => "booking_not_found",
            ApiError::CallNotFound => "call_not_found",
            ApiError::RequestNotFound => "not_found",
            ApiError::Conflict { .. } => "conflict",
            ApiError::SlotTaken => "slot_taken",
            ApiError::NumberRefused { .. } => "number_refused",
            ApiError::Store => "store_failed",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::MissingScope { .. } => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NoRoute
            | ApiError::TicketNotFound
            | ApiError::CallbackNotFound
            | ApiError::BookingNotFound
            | ApiError::CallNotFound
            | ApiError::RequestNotFound => StatusCode::NOT_FOUND,
            ApiError::BadBody { .. }
            | ApiError::BadQuery { .. }
            | ApiError::Invalid { .. }
            | ApiError::UnknownCategory { .. }
            | ApiError::UnknownOffice { .. }
            | ApiError::UnknownService { .. }
            | ApiError::NotBookable { .. }
            | ApiError::NumberRefused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict { .. } | ApiError::SlotTaken => StatusCode::CONFLICT,
            ApiError::Store => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn invalid(field: &str, reason: impl Into<String>) -> ApiError {
        ApiError::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A store failure: logged in full, answered without details.
impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        tracing::error!(%error, "API: the store failed");
        ApiError::Store
    }
}

/// The error body, as the OpenAPI document describes it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable: what clients match on (`ticket_not_found`, `missing_scope`, ...).
    pub code: String,
    /// For people; may change.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
            },
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_s } = self
            && let Ok(value) = axum::http::HeaderValue::from_str(&retry_after_s.to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

/// JSON bodies: a body that does not read is a [`ApiError::BadBody`] in the API's shape
/// (axum's own rejection is plain text).
pub struct Body<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(ApiError::BadBody {
                reason: rejection.body_text(),
            }),
        }
    }
}

/// Query strings, likewise.
pub struct Query<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(ApiError::BadQuery {
                reason: rejection.body_text(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let all = [
            ApiError::Unauthenticated,
            ApiError::MissingScope {
                scope: Scope::CallsRead,
            },
            ApiError::RateLimited { retry_after_s: 1 },
            ApiError::NoRoute,
            ApiError::BadBody {
                reason: String::new(),
            },
            ApiError::BadQuery {
                reason: String::new(),
            },
            ApiError::invalid("x", "y"),
            ApiError::UnknownCategory {
                category: String::new(),
            },
            ApiError::UnknownOffice {
                office: String::new(),
            },
            ApiError::UnknownService {
                service: String::new(),
            },
            ApiError::NotBookable {
                name: String::new(),
            },
            ApiError::TicketNotFound,
            ApiError::CallbackNotFound,
            ApiError::BookingNotFound,
            ApiError::CallNotFound,
            ApiError::RequestNotFound,
            ApiError::Conflict {
                reason: String::new(),
            },
            ApiError::SlotTaken,
            ApiError::NumberRefused {
                reason: String::new(),
            },
            ApiError::Store,
        ];
        let codes: std::collections::BTreeSet<&str> = all.iter().map(ApiError::code).collect();
        assert_eq!(codes.len(), all.len());
    }
}
