//! The bookings page: a week's calendar per office (appointments) or service — days across,
//! the calendar's slots down, the booked ones marked — with the week's bookings listed below,
//! each with a form to cancel it and one to move it to a free slot.
//!
//! ```text
//!   GET  /bookings?resource=service/prova&week=2026-12-07 ─► WeekGrid (7 days × slot times)
//!                                                            + bookings of the week + free slots
//!   POST /bookings/{ref}/cancel            ─► Store::cancel_booking
//!   POST /bookings/{ref}/move  slot=START  ─► offered like the phone offers? ─► Store::move_booking
//!          refused (full, not offered, not open) ─► the week's page with the reason, 409
//! ```
//!
//! The free slots to move to are computed as a call computes them (`port::bookable_slots`: from
//! 24 hours ahead, the calendar's opening hours, [`crate::port::BOOKING_DAYS`] days; then
//! [`Store::free_slots`] with the office's or service's capacity), and a move is accepted only
//! to a slot the calendar offers, with that capacity, as the phone's `move booking` does.
//!
//! [`Store::free_slots`]: crate::store::Store::free_slots

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use centralino_compiler::graph::{Calendar, Graph, SlotPolicy};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::clock::Clock;
use super::record_pages::{blocking, link, parse_date, query, query_string};
use super::{Console, Nav, Page, Viewer};
use crate::engine::Program;
use crate::http::accounts::Role;
use crate::store::records::Reference;
use crate::store::{Booking, Moved, Resource, Slot, Status};

pub const PAGE: Page = Page {
    routes,
    templates: &[("bookings.html", include_str!("bookings.html"))],
    words: WORDS,
    nav: Some(Nav {
        path: "/bookings",
        label: "bookings.title",
        allowed: booking_staff,
    }),
};

/// Office staff and supervisors handle appointments and bookings.
pub fn booking_staff(role: Role) -> bool {
    match role {
        Role::OfficeStaff | Role::Supervisor => true,
        Role::Operator | Role::FlowEditor => false,
    }
}

/// How far the week links reach from this week.
const WEEKS_BACK: i64 = 12;
const WEEKS_AHEAD: i64 = 8;

/// The free slots offered to move a booking to.
const MOVE_CHOICES: usize = 40;

const WORDS: &[super::Word] = &[
    ("bookings.title", "Appuntamenti", "Bookings"),
    (
        "bookings.resource",
        "Ufficio o servizio",
        "Office or service",
    ),
    ("bookings.office", "ufficio", "office"),
    ("bookings.service", "servizio", "service"),
    ("bookings.week", "Settimana del", "Week of"),
    ("bookings.previous", "Settimana precedente", "Previous week"),
    ("bookings.next", "Settimana successiva", "Next week"),
    ("bookings.show", "Mostra", "Show"),
    ("bookings.time", "Ora", "Time"),
    ("bookings.day.mon", "lun", "Mon"),
    ("bookings.day.tue", "mar", "Tue"),
    ("bookings.day.wed", "mer", "Wed"),
    ("bookings.day.thu", "gio", "Thu"),
    ("bookings.day.fri", "ven", "Fri"),
    ("bookings.day.sat", "sab", "Sat"),
    ("bookings.day.sun", "dom", "Sun"),
    ("bookings.free", "libero", "free"),
    ("bookings.full", "pieno", "full"),
    ("bookings.reference", "Codice", "Reference"),
    ("bookings.start", "Inizio", "Start"),
    ("bookings.caller", "Chiamante", "Caller"),
    ("bookings.created", "Prenotato il", "Booked on"),
    ("bookings.capacity", "posti per orario", "places per slot"),
    (
        "bookings.cancel",
        "Annulla l'appuntamento",
        "Cancel the booking",
    ),
    ("bookings.move", "Sposta a", "Move to"),
    ("bookings.move_submit", "Sposta", "Move"),
    ("bookings.no_free", "Nessun orario libero.", "No free slot."),
    (
        "bookings.none",
        "Nessun appuntamento in questa settimana.",
        "No bookings this week.",
    ),
    (
        "bookings.no_resources",
        "I flussi non hanno uffici con appuntamenti né servizi prenotabili.",
        "The flows have no office with appointments and no bookable service.",
    ),
    (
        "bookings.no_calendar",
        "Non ha un orario: nessun appuntamento si può prenotare.",
        "It has no hours: nothing can be booked.",
    ),
    (
        "bookings.unknown_resource",
        "Ufficio o servizio sconosciuto: si mostra il primo.",
        "Unknown office or service: the first one is shown.",
    ),
    (
        "bookings.bad_week",
        "La settimana non è una data valida (AAAA-MM-GG): si mostra quella di oggi.",
        "The week is not a valid date (YYYY-MM-DD): this week is shown.",
    ),
    (
        "bookings.refused.not_open",
        "Nessun appuntamento aperto ha questo codice.",
        "No open booking has this reference.",
    ),
    (
        "bookings.refused.full",
        "L'orario scelto è pieno: l'appuntamento non è stato spostato.",
        "The chosen slot is full: the booking was not moved.",
    ),
    (
        "bookings.refused.not_offered",
        "L'orario scelto non è tra quelli prenotabili.",
        "The chosen slot is not one that can be booked.",
    ),
    (
        "bookings.refused.no_policy",
        "L'ufficio o il servizio non è più prenotabile nei flussi attuali.",
        "The office or service can no longer be booked in the current flows.",
    ),
];

fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/bookings", get(week))
        .route("/bookings/{reference}/cancel", post(cancel))
        .route("/bookings/{reference}/move", post(move_to))
}

/// Something that can be booked, as the flows define it.
#[derive(Debug, Clone, PartialEq)]
struct Bookable {
    resource: Resource,
    title: String,
    calendar: Option<String>,
    policy: SlotPolicy,
}

/// Every office with appointments and every service of the flows, services first.
fn bookables(graph: &Graph) -> Vec<Bookable> {
    let services = graph.services.iter().map(|(name, service)| Bookable {
        resource: Resource::Service(name.clone()),
        title: service.title.clone(),
        calendar: service.hours.clone(),
        policy: service.slots,
    });
    let offices = graph.offices.iter().filter_map(|(name, office)| {
        Some(Bookable {
            resource: Resource::Office(name.clone()),
            title: office.title.clone(),
            calendar: office.hours.clone(),
            policy: office.appointments?,
        })
    });
    services.chain(offices).collect()
}

fn current_program(console: &Console) -> Option<Arc<Program>> {
    console
        .server()
        .deployment
        .current()
        .read()
        .ok()
        .map(|p| p.clone())
}

/// The Monday of `date`'s week.
fn monday_of(date: Date) -> Date {
    let back = i64::from(date.weekday().to_monday_zero_offset());
    date.checked_sub(SignedDuration::from_hours(24 * back))
        .unwrap_or(date)
}

/// One week of a calendar: its days, the slot times of those days (rows), and per row and day
/// the slot there, if the calendar offers one or something is booked then.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekGrid {
    pub days: Vec<Day>,
    pub rows: Vec<GridRow>,
}

/// A day of the week shown: the word of its weekday and its date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    /// `bookings.day.mon` ...
    pub weekday: &'static str,
    /// `2026-12-07`
    pub date: String,
}

/// The word of a weekday.
fn weekday_word(weekday: jiff::civil::Weekday) -> &'static str {
    use jiff::civil::Weekday;
    match weekday {
        Weekday::Monday => "bookings.day.mon",
        Weekday::Tuesday => "bookings.day.tue",
        Weekday::Wednesday => "bookings.day.wed",
        Weekday::Thursday => "bookings.day.thu",
        Weekday::Friday => "bookings.day.fri",
        Weekday::Saturday => "bookings.day.sat",
        Weekday::Sunday => "bookings.day.sun",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridRow {
    /// `09:30`
    pub time: String,
    pub cells: Vec<Option<Cell>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// Open bookings in the slot.
    pub booked: Vec<String>,
    pub capacity: u32,
    pub full: bool,
}

/// The grid of the week starting `monday` in `tz`: `slots` are what the calendar offers,
/// `bookings` the open ones of the resource (a booking outside the offered slots still shows).
pub fn week_grid(
    monday: Date,
    tz: &TimeZone,
    slots: &[Slot],
    bookings: &[Booking],
    capacity: u32,
) -> WeekGrid {
    let days: Vec<Date> = (0..7)
        .filter_map(|n| monday.checked_add(SignedDuration::from_hours(24 * n)).ok())
        .collect();
    let place = |at: Timestamp| -> Option<(Time, usize)> {
        let local = at.to_zoned_datetime(tz.clone());
        let day = days.iter().position(|d| *d == local.date())?;
        Some((local.time(), day))
    };
    let mut cells: BTreeMap<(Time, usize), Cell> = BTreeMap::new();
    for slot in slots {
        if let Some(key) = place(slot.start) {
            cells.entry(key).or_insert_with(|| Cell {
                booked: Vec::new(),
                capacity,
                full: false,
            });
        }
    }
    for booking in bookings.iter().filter(|b| b.status == Status::Open) {
        if let Some(key) = place(booking.slot.start) {
            let cell = cells.entry(key).or_insert_with(|| Cell {
                booked: Vec::new(),
                capacity,
                full: false,
            });
            cell.booked.push(booking.reference.clone());
        }
    }
    let times: BTreeSet<Time> = cells.keys().map(|(time, _)| *time).collect();
    let rows = times
        .into_iter()
        .map(|time| GridRow {
            time: time.strftime("%H:%M").to_string(),
            cells: (0..days.len())
                .map(|day| {
                    cells.get(&(time, day)).map(|cell| {
                        let mut cell = cell.clone();
                        cell.booked.sort();
                        cell.full =
                            u32::try_from(cell.booked.len()).unwrap_or(u32::MAX) >= capacity;
                        cell
                    })
                })
                .collect(),
        })
        .collect();
    WeekGrid {
        days: days
            .iter()
            .map(|d| Day {
                weekday: weekday_word(d.weekday()),
                date: d.to_string(),
            })
            .collect(),
        rows,
    }
}

/// Which resource and week a page shows, from the query (or a booking's own).
struct Shown {
    resource: Option<String>,
    week: Option<Date>,
}

async fn week(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    let fields = query(raw.as_deref());
    let mut problems = Vec::new();
    let week = fields.get("week").and_then(|w| {
        let date = parse_date(w);
        if date.is_none() {
            problems.push("bookings.bad_week");
        }
        date
    });
    let shown = Shown {
        resource: fields.get("resource").cloned(),
        week,
    };
    week_page(&console, &viewer, shown, problems).await
}

#[derive(Debug, Serialize)]
struct BookingRow {
    reference: String,
    start: String,
    /// The slot's start as the move form sends it (RFC 3339).
    start_value: String,
    caller: String,
    created: String,
}

async fn week_page(
    console: &Console,
    viewer: &Viewer,
    shown: Shown,
    mut problems: Vec<&'static str>,
) -> Response {
    if let Err(refused) = console.require(viewer, booking_staff) {
        return refused;
    }
    let Some(program) = current_program(console) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "flussi non disponibili").into_response();
    };
    let all = bookables(&program.graph);
    let choice = match &shown.resource {
        Some(key) => {
            let found = all.iter().find(|b| b.resource.key() == *key);
            if found.is_none() {
                problems.push("bookings.unknown_resource");
            }
            found.or(all.first())
        }
        None => all.first(),
    };
    let resources: Vec<minijinja::Value> = all
        .iter()
        .map(|b| {
            let kind = match b.resource {
                Resource::Office(_) => "bookings.office",
                Resource::Service(_) => "bookings.service",
            };
            context! { key => b.resource.key(), title => &b.title, kind => kind }
        })
        .collect();
    let Some(bookable) = choice.cloned() else {
        return page_with(
            console,
            viewer,
            context! { resources => resources, problems => problems, no_resources => true },
            false,
        );
    };
    let calendar: Option<Calendar> = bookable
        .calendar
        .as_deref()
        .and_then(|c| program.graph.calendars.get(c))
        .cloned();
    let tz = calendar
        .as_ref()
        .map(crate::calendar::zone)
        .unwrap_or_else(|| console.clock().zone().clone());
    let now = Timestamp::now();
    // The bookable's times in its calendar's zone (the deployment's without a calendar).
    let clock = Clock::new(tz.clone(), now);
    let monday = monday_of(
        shown
            .week
            .unwrap_or_else(|| now.to_zoned_datetime(tz.clone()).date()),
    );
    let week_start = monday
        .to_zoned_datetime(tz.clone())
        .map(|z| z.timestamp())
        .unwrap_or(now);
    let week_slots = calendar
        .as_ref()
        .map(|c| crate::calendar::slots(c, bookable.policy, week_start, 7))
        .unwrap_or_default();
    let candidates = crate::port::bookable_slots(
        &program,
        bookable.calendar.as_deref(),
        bookable.policy.slot_ms,
        now,
    );
    let resource = bookable.resource.clone();
    let capacity = bookable.policy.capacity;
    let found = blocking(&console.server().store, move |s| {
        let bookings: Vec<Booking> = s
            .bookings()?
            .into_iter()
            .filter(|b| b.resource == resource && b.status == Status::Open)
            .collect();
        let free = s.free_slots(&resource, &candidates, capacity, MOVE_CHOICES)?;
        Ok((bookings, free))
    })
    .await;
    let (bookings, free) = match found {
        Ok(found) => found,
        Err(failed) => return failed,
    };
    let grid = week_grid(monday, &tz, &week_slots, &bookings, capacity);
    let week_end = week_start
        .checked_add(SignedDuration::from_hours(24 * 7))
        .unwrap_or(week_start);
    let mut this_week: Vec<&Booking> = bookings
        .iter()
        .filter(|b| b.slot.start >= week_start && b.slot.start < week_end)
        .collect();
    this_week.sort_by_key(|b| (b.slot.start, b.reference.clone()));
    let rows: Vec<BookingRow> = this_week
        .iter()
        .map(|b| BookingRow {
            reference: b.reference.clone(),
            start: clock.minute(b.slot.start),
            start_value: b.slot.start.to_string(),
            caller: b.caller.clone(),
            created: clock.minute(b.created_at),
        })
        .collect();
    let free: Vec<minijinja::Value> = free
        .iter()
        .map(|s| context! { value => s.start.to_string(), label => clock.minute(s.start) })
        .collect();
    let key = bookable.resource.key();
    let week_link = |date: Option<Date>| {
        date.map(|d| {
            link(&format!(
                "/bookings?{}",
                query_string([("resource", key.as_str()), ("week", d.to_string().as_str())])
            ))
        })
    };
    // Links reach [`WEEKS_BACK`] weeks back and [`WEEKS_AHEAD`] ahead (beyond: the date field),
    // so the pages linked from each other are finite.
    let this_monday = monday_of(now.to_zoned_datetime(tz.clone()).date());
    let weeks = |n: i64| SignedDuration::from_hours(24 * 7 * n);
    let earliest = this_monday
        .checked_sub(weeks(WEEKS_BACK))
        .unwrap_or(this_monday);
    let latest = this_monday
        .checked_add(weeks(WEEKS_AHEAD))
        .unwrap_or(this_monday);
    let previous = week_link(monday.checked_sub(weeks(1)).ok().filter(|d| *d >= earliest));
    let next = week_link(monday.checked_add(weeks(1)).ok().filter(|d| *d <= latest));
    page_with(
        console,
        viewer,
        context! {
            resources => resources,
            resource => key,
            title => &bookable.title,
            capacity => capacity,
            no_calendar => calendar.is_none(),
            week => monday.to_string(),
            previous => previous,
            next => next,
            grid => minijinja::Value::from(minijinja::value::Serde(&grid)),
            bookings => minijinja::Value::from(minijinja::value::Serde(&rows)),
            free => free,
            problems => problems,
        },
        false,
    )
}

/// The bookings page with `values`; `refused`: answered 409 (a change was refused).
fn page_with(
    console: &Console,
    viewer: &Viewer,
    values: minijinja::Value,
    refused: bool,
) -> Response {
    let mut response = console.page(
        viewer,
        "bookings.html",
        context! { path => "/bookings", ..values },
    );
    if refused {
        *response.status_mut() = StatusCode::CONFLICT;
    }
    response
}

/// Back to the week of `booking` after a change.
fn week_of(booking: &Booking, clock: &Clock) -> String {
    let day = clock.day(booking.slot.start);
    format!(
        "/bookings?{}",
        query_string([
            ("resource", booking.resource.key().as_str()),
            ("week", day.to_string().as_str()),
        ])
    )
}

/// The week page of `booking` (if it is known) with `problem`, answered 409.
async fn refused(
    console: &Console,
    viewer: &Viewer,
    booking: Option<&Booking>,
    problem: &'static str,
) -> Response {
    let shown = Shown {
        resource: booking.map(|b| b.resource.key()),
        week: booking.map(|b| console.clock().day(b.slot.start)),
    };
    let mut response = week_page(console, viewer, shown, vec![problem]).await;
    if response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::CONFLICT;
    }
    response
}

async fn cancel(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    UrlPath(reference): UrlPath<String>,
) -> Response {
    if let Err(refused) = console.require(&viewer, booking_staff) {
        return refused;
    }
    let Ok(reference) = Reference::parse(&reference) else {
        return refused(&console, &viewer, None, "bookings.refused.not_open").await;
    };
    let cancelled = blocking(&console.server().store, move |s| {
        s.cancel_booking(reference.as_str())
    })
    .await;
    match cancelled {
        Ok(Some(booking)) => {
            tracing::info!(booking = %booking.reference, by = %viewer.staff.name, "booking cancelled from the console");
            Redirect::to(&week_of(&booking, &console.clock())).into_response()
        }
        Ok(None) => refused(&console, &viewer, None, "bookings.refused.not_open").await,
        Err(failed) => failed,
    }
}

#[derive(Debug, Deserialize)]
struct MoveForm {
    #[serde(default)]
    slot: String,
}

async fn move_to(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    UrlPath(reference): UrlPath<String>,
    axum::Form(form): axum::Form<MoveForm>,
) -> Response {
    if let Err(refused) = console.require(&viewer, booking_staff) {
        return refused;
    }
    let Ok(reference) = Reference::parse(&reference) else {
        return refused(&console, &viewer, None, "bookings.refused.not_open").await;
    };
    let asked = reference.clone();
    let booking = match blocking(&console.server().store, move |s| s.booking(asked.as_str())).await
    {
        Ok(Some(booking)) if booking.status == Status::Open => booking,
        Ok(_) => return refused(&console, &viewer, None, "bookings.refused.not_open").await,
        Err(failed) => return failed,
    };
    let Some(program) = current_program(&console) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "flussi non disponibili").into_response();
    };
    let Some(bookable) = bookables(&program.graph)
        .into_iter()
        .find(|b| b.resource == booking.resource)
    else {
        return refused(
            &console,
            &viewer,
            Some(&booking),
            "bookings.refused.no_policy",
        )
        .await;
    };
    let Ok(start) = form.slot.trim().parse::<Timestamp>() else {
        return refused(
            &console,
            &viewer,
            Some(&booking),
            "bookings.refused.not_offered",
        )
        .await;
    };
    let slot = Slot {
        start,
        duration_ms: bookable.policy.slot_ms,
    };
    // Only a slot the calendar offers a caller now, as the phone's `move booking` checks.
    let offered = crate::port::bookable_slots(
        &program,
        bookable.calendar.as_deref(),
        slot.duration_ms,
        Timestamp::now(),
    )
    .contains(&slot);
    if !offered {
        return refused(
            &console,
            &viewer,
            Some(&booking),
            "bookings.refused.not_offered",
        )
        .await;
    }
    let capacity = bookable.policy.capacity;
    let moved = blocking(&console.server().store, move |s| {
        s.move_booking(reference.as_str(), slot, capacity)
    })
    .await;
    match moved {
        Ok(Moved::Moved(moved)) => {
            tracing::info!(booking = %moved.reference, by = %viewer.staff.name, start = %moved.slot.start, "booking moved from the console");
            Redirect::to(&week_of(&moved, &console.clock())).into_response()
        }
        Ok(Moved::Full) => {
            refused(&console, &viewer, Some(&booking), "bookings.refused.full").await
        }
        Ok(Moved::NotFound) => refused(&console, &viewer, None, "bookings.refused.not_open").await,
        Err(failed) => failed,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn booking(reference: &str, start: &str) -> Booking {
        Booking {
            schema: 1,
            reference: reference.into(),
            status: Status::Open,
            resource: Resource::Service("prova".into()),
            slot: Slot {
                start: start.parse().unwrap(),
                duration_ms: 1_800_000,
            },
            caller: String::new(),
            call_id: "call-1".into(),
            created_at: "2026-12-01T08:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn a_week_is_days_across_and_slot_times_down_with_the_booked_ones() {
        let rome = centralino_compiler::calendar::default_timezone();
        let monday: Date = "2026-12-07".parse().unwrap();
        assert_eq!(monday_of("2026-12-10".parse().unwrap()), monday);
        assert_eq!(monday_of("2026-12-13".parse().unwrap()), monday);
        assert_eq!(monday_of(monday), monday);
        let slot = |at: &str| Slot {
            start: at.parse().unwrap(),
            duration_ms: 1_800_000,
        };
        // Monday and Tuesday 09:00 and 09:30 Rome (08:00Z, 08:30Z in December).
        let slots = [
            slot("2026-12-07T08:00:00Z"),
            slot("2026-12-07T08:30:00Z"),
            slot("2026-12-08T08:00:00Z"),
            slot("2026-12-08T08:30:00Z"),
            // Next Monday: not in this week.
            slot("2026-12-14T08:00:00Z"),
        ];
        let mut cancelled = booking("3", "2026-12-08T08:30:00Z");
        cancelled.status = Status::Cancelled;
        let bookings = [
            booking("1", "2026-12-07T08:30:00Z"),
            booking("2", "2026-12-08T08:00:00Z"),
            cancelled,
            // Outside the calendar's slots (hours changed since): still shown, at 12:00.
            booking("4", "2026-12-09T11:00:00Z"),
        ];
        let grid = week_grid(monday, &rome, &slots, &bookings, 1);
        assert_eq!(grid.days.len(), 7);
        assert_eq!(
            grid.days[0],
            Day {
                weekday: "bookings.day.mon",
                date: "2026-12-07".into()
            }
        );
        assert_eq!(grid.days[6].weekday, "bookings.day.sun");
        let times: Vec<&str> = grid.rows.iter().map(|r| r.time.as_str()).collect();
        assert_eq!(times, ["09:00", "09:30", "12:00"]);
        let show = |row: usize| -> Vec<String> {
            grid.rows[row]
                .cells
                .iter()
                .map(|cell| match cell {
                    None => String::from("-"),
                    Some(cell) if cell.booked.is_empty() => String::from("free"),
                    Some(cell) => format!(
                        "{}{}",
                        cell.booked.join("+"),
                        if cell.full { "!" } else { "" }
                    ),
                })
                .collect()
        };
        assert_eq!(show(0), ["free", "2!", "-", "-", "-", "-", "-"]);
        assert_eq!(show(1), ["1!", "free", "-", "-", "-", "-", "-"]);
        assert_eq!(show(2), ["-", "-", "4!", "-", "-", "-", "-"]);
        let roomy = week_grid(monday, &rome, &slots, &bookings, 2);
        assert!(!roomy.rows[1].cells[0].as_ref().unwrap().full);
    }
}
