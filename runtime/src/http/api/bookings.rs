//! `/api/v1/slots` and `/api/v1/bookings`: the free times of a service or an office (the same
//! ones the phone offers: its calendar from tomorrow on, [`crate::port::bookable_slots`], less
//! the full ones), book one (never beyond its capacity: [`crate::store::Store::book`] counts
//! the slot in the same transaction), read, move and cancel a booking by its reference.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{Body, ErrorBody, Query};
use super::tickets::status_name;
use super::tokens::Scope;
use super::{Api, ApiError, Caller, phone_field, reference};
use crate::store::{Booking, Moved, NewBooking, Resource, Slot};

/// The most free times one request lists.
pub const MAX_SLOTS: usize = 50;

pub fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .routes(routes!(free))
        .routes(routes!(book))
        .routes(routes!(show, cancel))
        .routes(routes!(move_to))
}

/// What is booked: exactly one of `service` and `office`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SlotQuery {
    /// A service of the flows (`service carta_identita ...`).
    pub service: Option<String>,
    /// An office of the flows that takes appointments.
    pub office: Option<String>,
    /// How many free times (1 to 50, default 10).
    pub count: Option<usize>,
    /// Only times after this instant (RFC 3339).
    pub after: Option<String>,
}

/// A bookable time.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SlotView {
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    pub duration_minutes: u64,
}

/// Free times, earliest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct FreeSlots {
    /// `service/NAME` or `office/NAME`.
    pub resource: String,
    pub slots: Vec<SlotView>,
}

/// A booking as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingView {
    /// Digits only (the caller can type it on the keypad): `10000009`.
    pub reference: String,
    /// `open` or `cancelled`.
    pub status: String,
    /// `service/NAME` or `office/NAME`.
    pub resource: String,
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    pub duration_minutes: u64,
    pub phone: String,
    pub channel: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<&Booking> for BookingView {
    fn from(booking: &Booking) -> Self {
        BookingView {
            reference: booking.reference.clone(),
            status: status_name(booking.status).to_owned(),
            resource: booking.resource.key(),
            start: booking.slot.start,
            duration_minutes: booking.slot.duration_ms / 60_000,
            phone: booking.caller.clone(),
            channel: booking.call_id.clone(),
            created_at: booking.created_at,
        }
    }
}

/// How a resource is booked: its calendar, slot length and capacity (as the engine reads them).
struct Policy {
    resource: Resource,
    calendar: Option<String>,
    slot_ms: u64,
    capacity: u32,
}

fn policy(
    program: &crate::engine::Program,
    service: Option<String>,
    office: Option<String>,
) -> Result<Policy, ApiError> {
    let graph = &program.graph;
    match (service, office) {
        (Some(name), None) => {
            let service = graph
                .services
                .get(&name)
                .ok_or_else(|| ApiError::UnknownService {
                    service: name.chars().take(64).collect(),
                })?;
            Ok(Policy {
                calendar: service.hours.clone(),
                slot_ms: service.slots.slot_ms,
                capacity: service.slots.capacity,
                resource: Resource::Service(name),
            })
        }
        (None, Some(name)) => {
            let office = graph
                .offices
                .get(&name)
                .ok_or_else(|| ApiError::UnknownOffice {
                    office: name.chars().take(64).collect(),
                })?;
            let appointments = office
                .appointments
                .ok_or_else(|| ApiError::NotBookable { name: name.clone() })?;
            Ok(Policy {
                calendar: office.hours.clone(),
                slot_ms: appointments.slot_ms,
                capacity: appointments.capacity,
                resource: Resource::Office(name),
            })
        }
        _ => Err(ApiError::invalid(
            "service",
            "give exactly one of service and office",
        )),
    }
}

fn offered(program: &crate::engine::Program, policy: &Policy, now: Timestamp) -> Vec<Slot> {
    crate::port::bookable_slots(program, policy.calendar.as_deref(), policy.slot_ms, now)
}

/// The free times of a service or an office.
#[utoipa::path(get, path = "/api/v1/slots", tag = "bookings", params(SlotQuery),
    responses(
        (status = 200, description = "Free times, earliest first", body = FreeSlots),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks bookings:read", body = ErrorBody),
        (status = 422, description = "unknown_service, unknown_office, not_bookable", body = ErrorBody),
    ))]
async fn free(
    State(api): State<Api>,
    caller: Caller,
    Query(query): Query<SlotQuery>,
) -> Result<Json<FreeSlots>, ApiError> {
    caller.require(Scope::BookingsRead)?;
    let program = api.program();
    let policy = policy(&program, query.service, query.office)?;
    let count = query.count.unwrap_or(10);
    if !(1..=MAX_SLOTS).contains(&count) {
        return Err(ApiError::invalid("count", format!("1 to {MAX_SLOTS}")));
    }
    let after = query
        .after
        .map(|t| {
            t.parse::<Timestamp>()
                .map_err(|_| ApiError::invalid("after", "an RFC 3339 instant"))
        })
        .transpose()?;
    let mut candidates = offered(&program, &policy, Timestamp::now());
    candidates.retain(|s| after.is_none_or(|a| s.start > a));
    let resource = policy.resource.clone();
    let capacity = policy.capacity;
    let slots = api
        .store(move |store| Ok(store.free_slots(&resource, &candidates, capacity, count)?))
        .await?;
    Ok(Json(FreeSlots {
        resource: policy.resource.key(),
        slots: slots
            .iter()
            .map(|s| SlotView {
                start: s.start,
                duration_minutes: s.duration_ms / 60_000,
            })
            .collect(),
    }))
}

/// A time to book.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBookingRequest {
    /// Exactly one of `service` and `office`.
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub office: Option<String>,
    /// One of the free times (`GET /api/v1/slots`).
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    /// The citizen's phone number.
    pub phone: String,
}

/// Book a time (never beyond its capacity).
#[utoipa::path(post, path = "/api/v1/bookings", tag = "bookings", request_body = NewBookingRequest,
    responses(
        (status = 201, description = "Booked", body = BookingView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks bookings:write", body = ErrorBody),
        (status = 409, description = "slot_taken: full, or not a time the calendar offers", body = ErrorBody),
        (status = 422, description = "unknown_service, unknown_office, invalid_field", body = ErrorBody),
    ))]
async fn book(
    State(api): State<Api>,
    caller: Caller,
    Body(body): Body<NewBookingRequest>,
) -> Result<(StatusCode, Json<BookingView>), ApiError> {
    caller.require(Scope::BookingsWrite)?;
    let program = api.program();
    let policy = policy(&program, body.service, body.office)?;
    let phone = phone_field("phone", &body.phone)?;
    let now = Timestamp::now();
    let mut candidates = offered(&program, &policy, now);
    candidates.retain(|s| s.start == body.start);
    if candidates.is_empty() {
        return Err(ApiError::SlotTaken);
    }
    let new = NewBooking {
        resource: policy.resource,
        candidates,
        capacity: policy.capacity,
        caller: phone,
        call_id: caller.actor(),
        created_at: now,
    };
    let booking = api
        .store(move |store| store.book(new)?.ok_or(ApiError::SlotTaken))
        .await?;
    tracing::info!(reference = %booking.reference, by = %caller.actor(), "API: booked");
    Ok((StatusCode::CREATED, Json(BookingView::from(&booking))))
}

/// One booking by its reference.
#[utoipa::path(get, path = "/api/v1/bookings/{reference}", tag = "bookings",
    params(("reference" = String, Path, description = "10000009")),
    responses(
        (status = 200, description = "The booking", body = BookingView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks bookings:read", body = ErrorBody),
        (status = 404, description = "booking_not_found", body = ErrorBody),
    ))]
async fn show(
    State(api): State<Api>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Json<BookingView>, ApiError> {
    caller.require(Scope::BookingsRead)?;
    let reference = reference(&text, ApiError::BookingNotFound)?;
    let booking = api
        .store(move |store| store.booking(&reference)?.ok_or(ApiError::BookingNotFound))
        .await?;
    Ok(Json(BookingView::from(&booking)))
}

/// Cancel a booking by its reference (its time is free again).
#[utoipa::path(delete, path = "/api/v1/bookings/{reference}", tag = "bookings",
    params(("reference" = String, Path, description = "10000009")),
    responses(
        (status = 200, description = "Cancelled", body = BookingView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks bookings:write", body = ErrorBody),
        (status = 404, description = "booking_not_found (or already cancelled)", body = ErrorBody),
    ))]
async fn cancel(
    State(api): State<Api>,
    caller: Caller,
    Path(text): Path<String>,
) -> Result<Json<BookingView>, ApiError> {
    caller.require(Scope::BookingsWrite)?;
    let reference = reference(&text, ApiError::BookingNotFound)?;
    let booking = api
        .store(move |store| {
            store
                .cancel_booking(&reference)?
                .ok_or(ApiError::BookingNotFound)
        })
        .await?;
    tracing::info!(reference = %booking.reference, by = %caller.actor(), "API: booking cancelled");
    Ok(Json(BookingView::from(&booking)))
}

/// The new time of a booking.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// One of the free times of the same service or office.
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
}

/// Move a booking to another free time (same reference; the old time is freed).
#[utoipa::path(post, path = "/api/v1/bookings/{reference}/move", tag = "bookings",
    params(("reference" = String, Path, description = "10000009")),
    request_body = MoveRequest,
    responses(
        (status = 200, description = "Moved", body = BookingView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token lacks bookings:write", body = ErrorBody),
        (status = 404, description = "booking_not_found", body = ErrorBody),
        (status = 409, description = "slot_taken", body = ErrorBody),
    ))]
async fn move_to(
    State(api): State<Api>,
    caller: Caller,
    Path(text): Path<String>,
    Body(body): Body<MoveRequest>,
) -> Result<Json<BookingView>, ApiError> {
    caller.require(Scope::BookingsWrite)?;
    let reference = reference(&text, ApiError::BookingNotFound)?;
    let lookup = reference.clone();
    let booking = api
        .store(move |store| store.booking(&lookup)?.ok_or(ApiError::BookingNotFound))
        .await?;
    let program = api.program();
    let (service, office) = match &booking.resource {
        Resource::Service(name) => (Some(name.clone()), None),
        Resource::Office(name) => (None, Some(name.clone())),
    };
    let policy = policy(&program, service, office)?;
    let slot = offered(&program, &policy, Timestamp::now())
        .into_iter()
        .find(|s| s.start == body.start)
        .ok_or(ApiError::SlotTaken)?;
    let capacity = policy.capacity;
    let moved = api
        .store(move |store| Ok(store.move_booking(&reference, slot, capacity)?))
        .await?;
    match moved {
        Moved::Moved(booking) => {
            tracing::info!(reference = %booking.reference, by = %caller.actor(), "API: booking moved");
            Ok(Json(BookingView::from(&booking)))
        }
        Moved::NotFound => Err(ApiError::BookingNotFound),
        Moved::Full => Err(ApiError::SlotTaken),
    }
}
