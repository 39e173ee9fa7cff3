//! `POST /api/v1/lookup`: a citizen asks, without a token, where their request stands, by its
//! reference and their phone number (the portal's "state of my request"). It answers only the
//! kind, the status and the dates; nothing else of the record.
//!
//! A reference with the wrong phone number answers exactly as an unknown reference (same
//! status, same body), and the work done is the same: every kind of record is read and a
//! phone number compared in constant time, against a stand-in when there is no record, so
//! neither the answer nor its time tells whether a reference exists. Requests are limited per
//! client address (`[api] lookups_per_minute`), so references cannot be tried in bulk.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{Body, ErrorBody};
use super::tickets::status_name;
use super::{Api, ApiError};
use crate::http::guard::ClientAddress;

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new().routes(routes!(lookup))
}

/// What the citizen gives.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    /// The reference they were given (`PG-2026-000123`, `RC-2026-000042`, `10000009`).
    pub reference: String,
    /// The phone number they called from or gave.
    pub phone: String,
}

/// Where the request stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct LookupView {
    pub reference: String,
    /// `ticket`, `callback` or `booking`.
    pub kind: String,
    /// `open`, `closed` or `cancelled`.
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it was closed (tickets).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<Timestamp>,
    /// The booked time (bookings).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start: Option<Timestamp>,
}

/// The significant digits of a phone number: the national number for Italian ones (`+39`,
/// `0039` dropped), every digit for others; empty when there are none.
fn significant(phone: &str) -> String {
    let trimmed = phone.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let international = trimmed.starts_with('+') || digits.starts_with("00");
    let digits = if trimmed.starts_with('+') {
        digits
    } else {
        digits
            .strip_prefix("00")
            .map_or(digits.clone(), str::to_owned)
    };
    match digits.strip_prefix("39") {
        Some(national) if international => national.to_owned(),
        _ if international => format!("+{digits}"),
        _ => digits,
    }
}

/// Whether two numbers are the same, in time that depends only on their lengths' maximum.
fn same_phone(given: &str, kept: &str) -> bool {
    let (a, b) = (significant(given), significant(kept));
    let width = 40;
    let pad = |s: &str| {
        let mut bytes = s.as_bytes().to_vec();
        bytes.resize(width, 0);
        bytes
    };
    let lengths_ok = a.len() <= width && b.len() <= width && !a.is_empty();
    bool::from(pad(&a).ct_eq(&pad(&b))) && lengths_ok
}

/// The address of the client, for the rate limit.
struct Client(std::net::IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let address = parts
            .extensions
            .get::<axum::extract::ConnectInfo<ClientAddress>>()
            .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |info| info.0.0.ip());
        Ok(Client(address))
    }
}

/// Stands in for a record that does not exist, so the comparison is made all the same.
const STAND_IN_PHONE: &str = "+390000000000";

/// The state of a citizen's request, by reference and phone number (no token).
#[utoipa::path(post, path = "/api/v1/lookup", tag = "citizens", request_body = LookupRequest,
    responses(
        (status = 200, description = "The request's state", body = LookupView),
        (status = 404, description = "not_found: no such reference, or not with this phone number (the same answer)", body = ErrorBody),
        (status = 429, description = "Too many lookups from this address (Retry-After)", body = ErrorBody),
    ))]
async fn lookup(
    State(api): State<Api>,
    Client(address): Client,
    Body(body): Body<LookupRequest>,
) -> Result<Json<LookupView>, ApiError> {
    if let Err(wait) = api.per_address.take(address, std::time::Instant::now()) {
        return Err(ApiError::RateLimited {
            retry_after_s: wait.as_secs().max(1),
        });
    }
    let reference = crate::store::records::Reference::parse(body.reference.trim())
        .map(|r| r.as_str().to_owned())
        .unwrap_or_default();
    let phone = body.phone;
    let found = api
        .store(move |store| {
            // Every kind is read whatever the reference looks like: the same work each time.
            let ticket = store.ticket(&reference)?;
            let callback = store.callback(&reference)?;
            let booking = if crate::store::is_valid_booking_reference(&reference) {
                store.booking(&reference)?
            } else {
                let _ = store.booking("00000000")?;
                None
            };
            let (kept_phone, view) = if let Some(t) = ticket {
                (
                    t.request.caller.clone(),
                    Some(LookupView {
                        reference: t.reference.clone(),
                        kind: "ticket".into(),
                        status: status_name(t.status).into(),
                        created_at: t.request.created_at,
                        closed_at: t.work.closed_at(),
                        start: None,
                    }),
                )
            } else if let Some(c) = callback {
                (
                    c.request.number.clone(),
                    Some(LookupView {
                        reference: c.reference.clone(),
                        kind: "callback".into(),
                        status: status_name(c.status).into(),
                        created_at: c.request.created_at,
                        closed_at: None,
                        start: None,
                    }),
                )
            } else if let Some(b) = booking {
                (
                    b.caller.clone(),
                    Some(LookupView {
                        reference: b.reference.clone(),
                        kind: "booking".into(),
                        status: status_name(b.status).into(),
                        created_at: b.created_at,
                        closed_at: None,
                        start: Some(b.slot.start),
                    }),
                )
            } else {
                (STAND_IN_PHONE.to_owned(), None)
            };
            let matches = same_phone(&phone, &kept_phone);
            Ok(view.filter(|_| matches))
        })
        .await?;
    found.map(Json).ok_or(ApiError::RequestNotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_their_national_digits() {
        assert!(same_phone("+39 075 577 1234", "0755771234"));
        assert!(same_phone("0039 333 1234567", "+393331234567"));
        assert!(same_phone("075-577.1234", "0755771234"));
        assert!(!same_phone("0755771235", "0755771234"));
        assert!(!same_phone("+44 20 7946 0000", "0207946 0000"));
        assert!(!same_phone("", ""), "no number matches nothing");
        assert!(!same_phone("abc", ""));
    }
}
