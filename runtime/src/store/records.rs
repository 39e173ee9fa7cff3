//! What `centralino tickets|callbacks|appointments` ask of a store, and the answers: listing,
//! showing, closing a callback request, and working a ticket (close, comment, assign).
//!
//! ```text
//!   records command ── Question ──► answer(&dyn Store) ── Answer ──► table / fields / --json
//!         │ store held by `serve`                 ▲
//!         └── control socket: `records tickets list` ──► the server runs answer() ──► Answer (JSON)
//! ```
//!
//! The command asks the store itself when it can open it, and the running server
//! when the server holds it; both run [`answer`], so what is listed, in which
//! order, and which damaged records are named, is the same either way. Answers
//! are serde values so they cross the control socket; damaged records travel as
//! the text of their [`StoreError`].

use serde::{Deserialize, Serialize};

use super::dialing::Change;
use super::ticketing::{TicketAction, TicketChange};
use super::{Booking, Callback, Store, StoreError, Ticket};

/// Which records a question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tickets,
    Callbacks,
    Appointments,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Tickets, Kind::Callbacks, Kind::Appointments];

    /// The plural, as in the command name and the control request.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Tickets => "tickets",
            Kind::Callbacks => "callbacks",
            Kind::Appointments => "appointments",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Kind::Tickets => "ticket",
            Kind::Callbacks => "callback",
            Kind::Appointments => "appointment",
        }
    }

    /// The kind named by its plural (`tickets`), if any.
    pub fn from_plural(word: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.plural() == word)
    }

    /// The store tree the records live in (as [`StoreError::Corrupt`] names it).
    fn tree(self) -> &'static str {
        match self {
            Kind::Tickets => "tickets",
            Kind::Callbacks => "callbacks",
            Kind::Appointments => "bookings",
        }
    }
}

/// A reference as a question may carry it: what the store gives out
/// (`PG-2026-000001`, `RC-2026-000001`, `10000008`) is ASCII letters, digits and
/// dashes; `_` and `.` are allowed too. Anything else cannot name a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference(String);

/// Why a text is not a [`Reference`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadReference {
    #[error("the reference is empty")]
    Empty,
    #[error(
        "the reference is {length} characters long (at most {} are allowed)",
        Reference::MAX_LENGTH
    )]
    TooLong { length: usize },
    #[error(
        "the reference has the character {character:?} (allowed: letters, digits, `-`, `_`, `.`)"
    )]
    Character { character: char },
}

impl Reference {
    /// Longest reference accepted; the store's are 8 to 20 characters.
    pub const MAX_LENGTH: usize = 64;

    pub fn parse(text: &str) -> Result<Reference, BadReference> {
        if text.is_empty() {
            return Err(BadReference::Empty);
        }
        let length = text.chars().count();
        if length > Reference::MAX_LENGTH {
            return Err(BadReference::TooLong { length });
        }
        if let Some(character) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(BadReference::Character { character });
        }
        Ok(Reference(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Staff's note when closing a request: one line of at most [`Note::MAX_LENGTH`]
/// characters, white space folded to single spaces (so it crosses the control
/// socket's one-line requests unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note(String);

/// Why a text is not a [`Note`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadNote {
    #[error(
        "the note is {length} characters long (at most {} are allowed)",
        Note::MAX_LENGTH
    )]
    TooLong { length: usize },
    #[error("the note has the control character {character:?}")]
    Control { character: char },
}

impl Note {
    pub const MAX_LENGTH: usize = 500;

    /// The note, or `None` for an empty (or all-blank) text.
    pub fn parse(text: &str) -> Result<Option<Note>, BadNote> {
        let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(character) = folded.chars().find(|c| c.is_control()) {
            return Err(BadNote::Control { character });
        }
        let length = folded.chars().count();
        if length > Note::MAX_LENGTH {
            return Err(BadNote::TooLong { length });
        }
        Ok((!folded.is_empty()).then_some(Note(folded)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who works a ticket from outside the console (`cli:anna`): one word of at most
/// [`Actor::MAX_LENGTH`] letters, digits and `-_.:@`, so it crosses the control socket's
/// one-line requests as a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

/// Why a text is not an [`Actor`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadActor {
    #[error("the actor is empty")]
    Empty,
    #[error("the actor is longer than {} characters", Actor::MAX_LENGTH)]
    TooLong,
    #[error("the actor has the character {character:?} (allowed: letters, digits, `-_.:@`)")]
    Character { character: char },
}

impl Actor {
    pub const MAX_LENGTH: usize = 64;

    pub fn parse(text: &str) -> Result<Actor, BadActor> {
        if text.is_empty() {
            return Err(BadActor::Empty);
        }
        if text.chars().count() > Actor::MAX_LENGTH {
            return Err(BadActor::TooLong);
        }
        if let Some(character) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@')))
        {
            return Err(BadActor::Character { character });
        }
        Ok(Actor(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Work on a ticket asked from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketWork {
    /// Close, with an optional note.
    Close(Option<Note>),
    /// A comment (never empty).
    Comment(Note),
    /// Give it to an account or extension (one word); `None`: to nobody.
    Assign(Option<Actor>),
}

impl TicketWork {
    /// The verb, as in the command and the control request.
    pub fn verb(&self) -> &'static str {
        match self {
            TicketWork::Close(_) => "close",
            TicketWork::Comment(_) => "comment",
            TicketWork::Assign(_) => "assign",
        }
    }

    fn action(&self) -> TicketAction {
        match self {
            TicketWork::Close(note) => TicketAction::Close {
                note: note.as_ref().map(|n| n.as_str().to_owned()),
            },
            TicketWork::Comment(text) => TicketAction::Comment {
                text: text.as_str().to_owned(),
            },
            TicketWork::Assign(to) => TicketAction::Assign {
                to: to.as_ref().map(|to| to.as_str().to_owned()),
            },
        }
    }
}

/// What a records command asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// Every record of a kind, oldest first.
    List(Kind),
    /// One record by its reference.
    Show(Kind, Reference),
    /// Close a callback request (staff reached the citizen, or it is no longer
    /// needed), with an optional note; the dialer stops working it.
    CloseCallback(Reference, Option<Note>),
    /// Work a callback request now (`centralino callbacks call REF`): a pending one moves
    /// up, a failed or reached one is worked again; the dialer is woken.
    CallCallback(Reference),
    /// Work a ticket as `Actor` (close, comment, assign), now.
    WorkTicket(Reference, Actor, TicketWork),
}

impl Question {
    pub fn kind(&self) -> Kind {
        match self {
            Question::List(kind) | Question::Show(kind, _) => *kind,
            Question::CloseCallback(..) | Question::CallCallback(_) => Kind::Callbacks,
            Question::WorkTicket(..) => Kind::Tickets,
        }
    }
}

/// Records of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "records", rename_all = "snake_case")]
pub enum Records {
    Tickets(Vec<Ticket>),
    Callbacks(Vec<Callback>),
    Appointments(Vec<Booking>),
}

/// One record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "record", rename_all = "snake_case")]
pub enum Record {
    Ticket(Ticket),
    Callback(Callback),
    Appointment(Booking),
}

/// The answer to a [`Question`].
#[allow(
    clippy::large_enum_variant,
    reason = "one answer per command; boxing would only add noise at every use"
)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// The records that can be read; `skipped` names each damaged one left out.
    Listed {
        records: Records,
        skipped: Vec<String>,
    },
    /// A listing that cannot go around damaged records yet: each damaged record.
    Unlistable { damaged: Vec<String> },
    /// The record with the reference asked for, or none.
    Shown { record: Option<Record> },
    /// The callback request as closed.
    Closed { record: Record },
    /// Why the request was not closed (no such request, already closed).
    NotClosed { reason: String },
    /// The callback request, to be worked now.
    Called { record: Record },
    /// Why it cannot be worked now (no such request, closed, being worked).
    NotCalled { reason: String },
    /// The ticket as worked.
    Worked { record: Record },
    /// Why the ticket was not worked (no such ticket, already closed, empty text).
    NotWorked { reason: String },
}

/// Answers `question` from `store`. Fails when the store cannot be read, or
/// (`Show`) when the record asked for is damaged.
pub fn answer(store: &dyn Store, question: &Question) -> Result<Answer, StoreError> {
    match question {
        Question::List(kind) => list(store, *kind),
        Question::Show(kind, reference) => show(store, *kind, reference.as_str()),
        Question::WorkTicket(reference, by, work) => {
            let change = TicketChange {
                at: jiff::Timestamp::now(),
                by: by.as_str().to_owned(),
                what: work.action(),
            };
            Ok(match store.change_ticket(reference.as_str(), &change)? {
                Ok(ticket) => Answer::Worked {
                    record: Record::Ticket(ticket),
                },
                Err(refusal) => Answer::NotWorked {
                    reason: refusal.to_string(),
                },
            })
        }
        Question::CloseCallback(reference, note) => {
            let change = Change::Close {
                at: jiff::Timestamp::now(),
                by: Some(CLOSED_FROM_COMMAND.to_owned()),
                note: note.as_ref().map(|n| n.as_str().to_owned()),
            };
            Ok(match store.change_callback(reference.as_str(), &change)? {
                Ok(callback) => Answer::Closed {
                    record: Record::Callback(callback),
                },
                Err(refusal) => Answer::NotClosed {
                    reason: refusal.to_string(),
                },
            })
        }
        Question::CallCallback(reference) => {
            let change = Change::Reschedule {
                at: jiff::Timestamp::now(),
            };
            Ok(match store.change_callback(reference.as_str(), &change)? {
                Ok(callback) => Answer::Called {
                    record: Record::Callback(callback),
                },
                Err(refusal) => Answer::NotCalled {
                    reason: refusal.to_string(),
                },
            })
        }
    }
}

/// Who closed a request closed with `centralino callbacks close`.
pub const CLOSED_FROM_COMMAND: &str = "command line";

fn list(store: &dyn Store, kind: Kind) -> Result<Answer, StoreError> {
    let strict = match kind {
        Kind::Tickets => {
            let (tickets, damaged) = store.tickets_skipping_damaged()?;
            return Ok(Answer::Listed {
                records: Records::Tickets(tickets),
                skipped: damaged.iter().map(ToString::to_string).collect(),
            });
        }
        Kind::Callbacks => store.callbacks().map(Records::Callbacks),
        Kind::Appointments => store.bookings().map(Records::Appointments),
    };
    match strict {
        Ok(records) => Ok(Answer::Listed {
            records,
            skipped: Vec::new(),
        }),
        Err(error @ StoreError::Corrupt { .. }) => Ok(Answer::Unlistable {
            damaged: damaged_in(store, kind, &error)?,
        }),
        Err(error) => Err(error),
    }
}

/// Every damaged record of `kind`'s tree, or `error` itself when `verify` finds none.
fn damaged_in(
    store: &dyn Store,
    kind: Kind,
    error: &StoreError,
) -> Result<Vec<String>, StoreError> {
    let damaged: Vec<String> = store
        .verify()?
        .iter()
        .filter(|p| matches!(p, StoreError::Corrupt { tree, .. } if *tree == kind.tree()))
        .map(ToString::to_string)
        .collect();
    if damaged.is_empty() {
        return Ok(vec![error.to_string()]);
    }
    Ok(damaged)
}

fn show(store: &dyn Store, kind: Kind, reference: &str) -> Result<Answer, StoreError> {
    let record = match kind {
        Kind::Tickets => store.ticket(reference)?.map(Record::Ticket),
        Kind::Callbacks => store.callback(reference)?.map(Record::Callback),
        Kind::Appointments => store.booking(reference)?.map(Record::Appointment),
    };
    Ok(Answer::Shown { record })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn references_are_what_the_store_gives_out() {
        for good in ["PG-2026-000001", "RC-2026-000042", "10000008", "a_b.c"] {
            assert_eq!(Reference::parse(good).unwrap().as_str(), good);
        }
        assert_eq!(Reference::parse(""), Err(BadReference::Empty));
        assert_eq!(
            Reference::parse("PG 1"),
            Err(BadReference::Character { character: ' ' })
        );
        assert_eq!(
            Reference::parse("../db"),
            Err(BadReference::Character { character: '/' })
        );
        assert_eq!(
            Reference::parse("è"),
            Err(BadReference::Character { character: 'è' })
        );
        let long = "1".repeat(Reference::MAX_LENGTH + 1);
        assert_eq!(
            Reference::parse(&long),
            Err(BadReference::TooLong { length: 65 })
        );
    }

    /// The server sends an answer as JSON and the command reads it back: nothing
    /// may change on the way (nanosecond instants, absent fields, tagged enums).
    #[test]
    fn answers_cross_the_socket_unchanged() {
        use std::collections::BTreeMap;

        use crate::store::{NewBooking, NewCallback, NewTicket, Resource, SledStore, Slot};

        let at = |text: &str| text.parse::<jiff::Timestamp>().unwrap();
        let store = SledStore::temporary().unwrap();
        let ticket = store
            .create_ticket(NewTicket {
                category: "buche".into(),
                title: String::new(),
                office: None,
                priority: "normale".into(),
                fields: BTreeMap::from([
                    ("via".into(), "123".into()),
                    ("civico".into(), "5".into()),
                ]),
                caller: "+390612345678".into(),
                call_id: "call-1".into(),
                created_at: at("2026-03-02T08:00:00.123456789Z"),
                due_at: None,
            })
            .unwrap();
        let callback = store
            .create_callback(NewCallback {
                office: "tributi".into(),
                number: "+390698765432".into(),
                note: None,
                call_id: "call-2".into(),
                created_at: at("2026-03-02T08:01:00Z"),
                window: None,
                ticket: None,
                category: None,
                citizen_first: false,
                language: None,
            })
            .unwrap();
        let booking = store
            .book(NewBooking {
                resource: Resource::Service("carta d'identità".into()),
                candidates: vec![Slot {
                    start: at("2026-03-03T09:40:00Z"),
                    duration_ms: 900_000,
                }],
                capacity: 1,
                caller: String::new(),
                call_id: "call-3".into(),
                created_at: at("2026-03-02T08:02:00Z"),
            })
            .unwrap()
            .unwrap();
        let reference = |r: &str| Reference::parse(r).unwrap();
        let questions = [
            Question::List(Kind::Tickets),
            Question::List(Kind::Callbacks),
            Question::List(Kind::Appointments),
            Question::Show(Kind::Tickets, reference(&ticket.reference)),
            Question::Show(Kind::Callbacks, reference(&callback.reference)),
            Question::Show(Kind::Appointments, reference(&booking.reference)),
            Question::Show(Kind::Tickets, reference("PG-2026-000099")),
        ];
        for question in &questions {
            let answer = answer(&store, question).unwrap();
            let wire = serde_json::to_string(&answer).unwrap();
            let read: Answer = serde_json::from_str(&wire).unwrap();
            assert_eq!(read, answer, "{wire}");
        }
        assert_eq!(
            answer(&store, &questions[4]).unwrap(),
            Answer::Shown {
                record: Some(Record::Callback(callback))
            }
        );
        assert_eq!(
            answer(&store, &questions[6]).unwrap(),
            Answer::Shown { record: None }
        );
    }

    #[test]
    fn a_failed_callback_is_called_again_and_a_closed_one_is_not() {
        use crate::store::dialing::{Change, DialState};
        use crate::store::{NewCallback, SledStore};

        let store = SledStore::temporary().unwrap();
        let callback = store
            .create_callback(NewCallback {
                office: "prova".into(),
                number: "0755771234".into(),
                note: None,
                call_id: "call-1".into(),
                created_at: "2026-03-02T08:01:00Z".parse().unwrap(),
                window: None,
                ticket: None,
                category: None,
                citizen_first: false,
                language: None,
            })
            .unwrap();
        let failed = Change::Fail {
            at: "2026-03-02T09:00:00Z".parse().unwrap(),
            reason: "not reached in 3 attempts".into(),
        };
        store
            .change_callback(&callback.reference, &failed)
            .unwrap()
            .unwrap();
        let call = Question::CallCallback(Reference::parse(&callback.reference).unwrap());
        let before = jiff::Timestamp::now();
        let Answer::Called {
            record: Record::Callback(called),
        } = answer(&store, &call).unwrap()
        else {
            panic!("not called");
        };
        assert_eq!(called.dialing.state, DialState::Pending);
        assert!(
            called
                .dialing
                .next_attempt_at
                .is_some_and(|at| at >= before)
        );
        let close = Question::CloseCallback(Reference::parse(&callback.reference).unwrap(), None);
        answer(&store, &close).unwrap();
        assert_eq!(
            answer(&store, &call).unwrap(),
            Answer::NotCalled {
                reason: "the request is already closed".into()
            }
        );
        let wire = serde_json::to_string(&answer(&store, &call).unwrap()).unwrap();
        assert_eq!(
            serde_json::from_str::<Answer>(&wire).unwrap(),
            answer(&store, &call).unwrap()
        );
    }

    #[test]
    fn a_callback_is_closed_once_with_its_note() {
        use crate::store::dialing::DialState;
        use crate::store::{NewCallback, SledStore, Status};

        let store = SledStore::temporary().unwrap();
        let callback = store
            .create_callback(NewCallback {
                office: "prova".into(),
                number: "0755771234".into(),
                note: None,
                call_id: "call-1".into(),
                created_at: "2026-03-02T08:01:00Z".parse().unwrap(),
                window: None,
                ticket: None,
                category: None,
                citizen_first: false,
                language: None,
            })
            .unwrap();
        let reference = Reference::parse(&callback.reference).unwrap();
        let note = Note::parse("  certificato\tspedito \n per posta ").unwrap();
        assert_eq!(
            note.as_ref().unwrap().as_str(),
            "certificato spedito per posta"
        );
        let close = Question::CloseCallback(reference, note);
        let Answer::Closed {
            record: Record::Callback(closed),
        } = answer(&store, &close).unwrap()
        else {
            panic!("not closed");
        };
        assert_eq!(closed.status, Status::Closed);
        let DialState::Closed { by, note, .. } = &closed.dialing.state else {
            panic!("{closed:?}");
        };
        assert_eq!(by.as_deref(), Some(CLOSED_FROM_COMMAND));
        assert_eq!(note.as_deref(), Some("certificato spedito per posta"));
        assert_eq!(
            answer(&store, &close).unwrap(),
            Answer::NotClosed {
                reason: "the request is already closed".into()
            }
        );
        assert_eq!(
            answer(
                &store,
                &Question::CloseCallback(Reference::parse("RC-2026-000099").unwrap(), None)
            )
            .unwrap(),
            Answer::NotClosed {
                reason: "no callback request has this reference".into()
            }
        );
        assert_eq!(
            Note::parse(&"x".repeat(501)),
            Err(BadNote::TooLong { length: 501 })
        );
        assert_eq!(Note::parse(" \t "), Ok(None));
        assert_eq!(
            Note::parse("a\u{7}b"),
            Err(BadNote::Control { character: '\u{7}' })
        );
    }

    #[test]
    fn a_ticket_is_worked_by_its_actor_and_a_closed_one_refuses() {
        use crate::store::{NewTicket, SledStore, Status};

        let store = SledStore::temporary().unwrap();
        let ticket = store
            .create_ticket(NewTicket {
                category: "buche".into(),
                title: String::new(),
                office: None,
                priority: "normale".into(),
                fields: Default::default(),
                caller: String::new(),
                call_id: "call-1".into(),
                created_at: "2026-03-02T08:00:00Z".parse().unwrap(),
                due_at: None,
            })
            .unwrap();
        let reference = Reference::parse(&ticket.reference).unwrap();
        let cli = Actor::parse("cli:anna").unwrap();
        let work = |work: TicketWork| {
            answer(
                &store,
                &Question::WorkTicket(reference.clone(), cli.clone(), work),
            )
            .unwrap()
        };
        work(TicketWork::Assign(Some(Actor::parse("201").unwrap())));
        work(TicketWork::Comment(
            Note::parse("chiamato il cittadino").unwrap().unwrap(),
        ));
        let Answer::Worked {
            record: Record::Ticket(closed),
        } = work(TicketWork::Close(Note::parse("fatto").unwrap()))
        else {
            panic!("not worked");
        };
        assert_eq!(closed.status, Status::Closed);
        assert_eq!(closed.work.assignee.as_deref(), Some("201"));
        assert_eq!(closed.work.history.len(), 3);
        assert!(closed.work.history.iter().all(|e| e.by == "cli:anna"));
        assert_eq!(
            work(TicketWork::Comment(Note::parse("x").unwrap().unwrap())),
            Answer::NotWorked {
                reason: "the ticket is already closed".into()
            }
        );
        assert_eq!(
            Actor::parse("cli:anna bella"),
            Err(BadActor::Character { character: ' ' })
        );
        assert_eq!(Actor::parse(""), Err(BadActor::Empty));
        assert_eq!(Actor::parse(&"a".repeat(65)), Err(BadActor::TooLong));
    }

    #[test]
    fn kinds_are_named_by_their_plural() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_plural(kind.plural()), Some(kind));
        }
        assert_eq!(Kind::from_plural("ticket"), None);
        assert_eq!(Kind::from_plural("bookings"), None);
    }
}
