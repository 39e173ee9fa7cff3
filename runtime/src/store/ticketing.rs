//! The work done on a ticket after it was opened: who has it, comments, closing and reopening,
//! each with who did it and when (staff in the console, a connected system through the API, the
//! command line).
//!
//! ```text
//!            Assign / Comment (open only)          Close {note}
//!   open ─────────────────────────────────► open ──────────────► closed ──Reopen──► open
//!     └──────────────────────────────────── Cancel {note} ─────► cancelled
//! ```
//!
//! Every change is a [`TicketChange`] applied by [`TicketWork::apply`], a pure function of the
//! ticket and the change (the time is in the change, never read from a clock). The store
//! applies it in one transaction on the ticket's record, with the event it causes
//! ([`super::Store::change_ticket`], `crate::events`),
//! so two people closing one ticket at once cannot both succeed: the second is refused with
//! [`TicketRefusal::AlreadyClosed`]. Records written before this existed have no `work` field
//! and read as unassigned, with no history.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Status;

/// The longest comment or closing note kept (characters).
pub const MAX_NOTE_CHARS: usize = 4000;

/// Who did something to a ticket: a console account, an API token's name, `cli`.
pub type Actor = String;

/// What happened to a ticket since it was opened.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TicketWork {
    /// The staff member (account or extension) working it; `None`: nobody yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Every change, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<TicketEvent>,
}

/// One change, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEvent {
    pub at: Timestamp,
    pub by: Actor,
    #[serde(flatten)]
    pub what: TicketAction,
}

/// What a change does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TicketAction {
    /// Given to someone (`None`: taken back, nobody has it).
    Assign {
        to: Option<String>,
    },
    Comment {
        text: String,
    },
    Close {
        note: Option<String>,
    },
    /// Withdrawn (the citizen no longer needs it, a duplicate).
    Cancel {
        note: Option<String>,
    },
    Reopen {
        note: Option<String>,
    },
}

/// A change asked for: the action, by whom, at what time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketChange {
    pub at: Timestamp,
    pub by: Actor,
    pub what: TicketAction,
}

/// Why a change was not made; the record is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketRefusal {
    #[error("no ticket has this reference")]
    NotFound,
    #[error("the ticket is already closed")]
    AlreadyClosed,
    #[error("the ticket was cancelled")]
    Cancelled,
    #[error("the ticket is open, there is nothing to reopen")]
    NotClosed,
    #[error("the text is empty")]
    EmptyText,
    #[error("the text is longer than {MAX_NOTE_CHARS} characters")]
    TooLong,
}

impl TicketWork {
    /// The work and status after `change`, or why it cannot be made from `status`.
    pub fn apply(
        &self,
        status: Status,
        change: &TicketChange,
    ) -> Result<(TicketWork, Status), TicketRefusal> {
        let mut work = self.clone();
        let what = normalised(&change.what)?;
        let status = match (&what, status) {
            (_, Status::Cancelled) => return Err(TicketRefusal::Cancelled),
            (TicketAction::Reopen { .. }, Status::Closed) => Status::Open,
            (TicketAction::Reopen { .. }, Status::Open) => return Err(TicketRefusal::NotClosed),
            (_, Status::Closed) => return Err(TicketRefusal::AlreadyClosed),
            (TicketAction::Assign { to }, Status::Open) => {
                work.assignee = to.clone();
                Status::Open
            }
            (TicketAction::Comment { .. }, Status::Open) => Status::Open,
            (TicketAction::Close { .. }, Status::Open) => Status::Closed,
            (TicketAction::Cancel { .. }, Status::Open) => Status::Cancelled,
        };
        work.history.push(TicketEvent {
            at: change.at,
            by: change.by.clone(),
            what,
        });
        Ok((work, status))
    }

    /// When it was last closed, if it is.
    pub fn closed_at(&self) -> Option<Timestamp> {
        for event in self.history.iter().rev() {
            match event.what {
                TicketAction::Close { .. } => return Some(event.at),
                TicketAction::Reopen { .. } | TicketAction::Cancel { .. } => return None,
                TicketAction::Assign { .. } | TicketAction::Comment { .. } => {}
            }
        }
        None
    }
}

/// Texts trimmed, empty notes as none; a comment must say something; nothing too long.
fn normalised(what: &TicketAction) -> Result<TicketAction, TicketRefusal> {
    let note = |note: &Option<String>| -> Result<Option<String>, TicketRefusal> {
        match note.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) if text.chars().count() > MAX_NOTE_CHARS => Err(TicketRefusal::TooLong),
            Some(text) => Ok(Some(text.to_owned())),
        }
    };
    Ok(match what {
        TicketAction::Assign { to } => TicketAction::Assign {
            to: note(to)?.filter(|to| !to.is_empty()),
        },
        TicketAction::Comment { text } => TicketAction::Comment {
            text: note(&Some(text.clone()))?.ok_or(TicketRefusal::EmptyText)?,
        },
        TicketAction::Close { note: n } => TicketAction::Close { note: note(n)? },
        TicketAction::Cancel { note: n } => TicketAction::Cancel { note: note(n)? },
        TicketAction::Reopen { note: n } => TicketAction::Reopen { note: note(n)? },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn change(what: TicketAction) -> TicketChange {
        TicketChange {
            at: "2026-12-05T09:00:00Z".parse().unwrap(),
            by: String::from("anna"),
            what,
        }
    }

    #[test]
    fn an_open_ticket_is_assigned_commented_and_closed_with_its_history() {
        let work = TicketWork::default();
        let (work, status) = work
            .apply(
                Status::Open,
                &change(TicketAction::Assign {
                    to: Some(String::from("201")),
                }),
            )
            .unwrap();
        assert_eq!(
            (work.assignee.as_deref(), status),
            (Some("201"), Status::Open)
        );
        let (work, status) = work
            .apply(
                status,
                &change(TicketAction::Comment {
                    text: String::from("  chiamato, richiamare lunedì  "),
                }),
            )
            .unwrap();
        let (work, status) = work
            .apply(
                status,
                &change(TicketAction::Close {
                    note: Some(String::from("risolto")),
                }),
            )
            .unwrap();
        assert_eq!(status, Status::Closed);
        assert_eq!(work.history.len(), 3);
        assert_eq!(
            work.history[1].what,
            TicketAction::Comment {
                text: String::from("chiamato, richiamare lunedì")
            }
        );
        assert_eq!(work.closed_at(), Some(work.history[2].at));
    }

    #[test]
    fn a_closed_ticket_refuses_everything_but_reopen() {
        let closed = Status::Closed;
        let work = TicketWork::default();
        for what in [
            TicketAction::Close { note: None },
            TicketAction::Comment {
                text: String::from("x"),
            },
            TicketAction::Assign { to: None },
            TicketAction::Cancel { note: None },
        ] {
            assert_eq!(
                work.apply(closed, &change(what)),
                Err(TicketRefusal::AlreadyClosed)
            );
        }
        let (work, status) = work
            .apply(closed, &change(TicketAction::Reopen { note: None }))
            .unwrap();
        assert_eq!(status, Status::Open);
        assert_eq!(work.closed_at(), None);
        assert_eq!(
            TicketWork::default().apply(Status::Open, &change(TicketAction::Reopen { note: None })),
            Err(TicketRefusal::NotClosed)
        );
    }

    #[test]
    fn empty_and_oversized_texts_are_refused_and_a_cancelled_ticket_stays_so() {
        let work = TicketWork::default();
        assert_eq!(
            work.apply(
                Status::Open,
                &change(TicketAction::Comment {
                    text: String::from("   ")
                })
            ),
            Err(TicketRefusal::EmptyText)
        );
        assert_eq!(
            work.apply(
                Status::Open,
                &change(TicketAction::Close {
                    note: Some("x".repeat(MAX_NOTE_CHARS + 1))
                })
            ),
            Err(TicketRefusal::TooLong)
        );
        assert_eq!(
            work.apply(
                Status::Cancelled,
                &change(TicketAction::Reopen { note: None })
            ),
            Err(TicketRefusal::Cancelled)
        );
    }

    #[test]
    fn records_without_work_read_as_unassigned() {
        let work: TicketWork = serde_json::from_str("{}").unwrap();
        assert_eq!(work, TicketWork::default());
    }
}
