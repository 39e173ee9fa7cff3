//! Store requests of the engine, carried out: shared by every adapter (simulate, test, SIP).
//!
//! The engine asks (`CreateTicket`, `Book`, ...); this module asks the [`Store`]
//! and answers with the [`Event`] to feed back, plus a [`Fact`] saying what
//! happened, for transcripts and logs. Booking slots come from the calendar.

use jiff::{SignedDuration, Timestamp};

use crate::engine::{Bookable, CallInfo, Command, Event, Program, StoreReply};
use crate::store::{NewBooking, NewCallback, NewTicket, Resource, Store};

/// What a store request did.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    Ticket {
        reference: String,
        category: String,
    },
    Callback {
        reference: String,
        office: String,
    },
    Booking {
        reference: String,
        resource: String,
        start: Timestamp,
    },
    NoSlot {
        resource: String,
    },
    Cancelled {
        reference: String,
        found: bool,
    },
    Failed {
        message: String,
    },
}

/// Days ahead in which bookings are offered.
pub const BOOKING_DAYS: u32 = 28;

/// Carry out a store command; `None` when `command` is not a store request.
pub fn store_request(
    store: &dyn Store,
    program: &Program,
    call: &CallInfo,
    now: Timestamp,
    command: &Command,
) -> Option<(Event, Fact)> {
    let failed = |request, e: crate::store::StoreError| {
        let message = e.to_string();
        (
            Event::StoreResult {
                request,
                result: Err(message.clone()),
                at: now,
            },
            Fact::Failed { message },
        )
    };
    let answer = |request, reply: StoreReply, fact: Fact| {
        (
            Event::StoreResult {
                request,
                result: Ok(reply),
                at: now,
            },
            fact,
        )
    };
    Some(match command {
        Command::CreateTicket {
            request,
            category,
            title,
            office,
            priority,
            fields,
            due_at,
        } => match store.create_ticket(NewTicket {
            category: category.clone(),
            title: title.clone(),
            office: office.clone(),
            priority: priority.clone(),
            fields: fields.clone(),
            caller: call.caller.clone(),
            call_id: call.call_id.clone(),
            created_at: now,
            due_at: *due_at,
        }) {
            Ok(ticket) => answer(
                *request,
                StoreReply::Ticket {
                    reference: ticket.reference.clone(),
                },
                Fact::Ticket {
                    reference: ticket.reference,
                    category: category.clone(),
                },
            ),
            Err(e) => failed(*request, e),
        },
        Command::CreateCallback {
            request,
            office,
            number,
            note,
        } => match store.create_callback(NewCallback {
            office: office.clone(),
            number: number.clone(),
            note: note.clone(),
            call_id: call.call_id.clone(),
            created_at: now,
        }) {
            Ok(callback) => answer(
                *request,
                StoreReply::Callback {
                    reference: callback.reference.clone(),
                },
                Fact::Callback {
                    reference: callback.reference,
                    office: office.clone(),
                },
            ),
            Err(e) => failed(*request, e),
        },
        Command::Book {
            request,
            resource,
            calendar,
            slot_ms,
            capacity,
        } => {
            let (resource, name) = match resource {
                Bookable::Office(name) => (Resource::Office(name.clone()), name.clone()),
                Bookable::Service(name) => (Resource::Service(name.clone()), name.clone()),
            };
            // Slots from tomorrow on, in the calendar's opening hours.
            let from = now
                .checked_add(SignedDuration::from_hours(24))
                .unwrap_or(now);
            let candidates = calendar
                .as_ref()
                .and_then(|c| program.graph.calendars.get(c))
                .map(|calendar| {
                    crate::calendar::slots(
                        calendar,
                        centralino_compiler::graph::SlotPolicy {
                            slot_ms: *slot_ms,
                            capacity: *capacity,
                        },
                        from,
                        BOOKING_DAYS,
                    )
                })
                .unwrap_or_default();
            match store.book(NewBooking {
                resource,
                candidates,
                capacity: *capacity,
                caller: call.caller.clone(),
                call_id: call.call_id.clone(),
                created_at: now,
            }) {
                Ok(Some(booking)) => answer(
                    *request,
                    StoreReply::Booked {
                        reference: booking.reference.clone(),
                        start: booking.slot.start,
                    },
                    Fact::Booking {
                        reference: booking.reference,
                        resource: name,
                        start: booking.slot.start,
                    },
                ),
                Ok(None) => answer(
                    *request,
                    StoreReply::NoSlot,
                    Fact::NoSlot { resource: name },
                ),
                Err(e) => failed(*request, e),
            }
        }
        Command::CancelBooking { request, reference } => match store.cancel_booking(reference) {
            Ok(Some(booking)) => answer(
                *request,
                StoreReply::Cancelled {
                    reference: booking.reference,
                },
                Fact::Cancelled {
                    reference: reference.clone(),
                    found: true,
                },
            ),
            Ok(None) => answer(
                *request,
                StoreReply::NotFound,
                Fact::Cancelled {
                    reference: reference.clone(),
                    found: false,
                },
            ),
            Err(e) => failed(*request, e),
        },
        _ => return None,
    })
}
