//! One attempt at a callback, staff first: sans-IO, `step(event) -> commands`.
//!
//! ```text
//!   RingStaff ──answered──► Brief (say what it is about; 1 start, 2 skip) ──1──► CallCitizen
//!      │ no answer / busy          │ 2, hang-up, no key                          │ answered
//!      ▼                           ▼                                            ▼
//!   Done(Skipped)              Done(Skipped)            Bridged ──citizen hangs up──► AskClose
//!                                                          │ staff hangs up            │ 1: Close
//!   citizen busy / no answer / refused / failed ──► Done(Ended(outcome))  ◄────────────┘ 2 / hang-up
//! ```
//!
//! The SIP adapter rings the staff member and the trunk, plays what `Say` asks
//! (by text to speech), bridges the legs, and feeds back what happened; this
//! machine decides what comes next and what the attempt's outcome is. A request
//! that staff skipped, or nobody took, is not an attempt ([`Finished::Skipped`]):
//! the scheduler offers it again later. Once the citizen is reached the outcome
//! is `Reached` whatever follows; whether staff also closed it from the phone is
//! [`Finished::Ended`]'s `closed`.

use crate::store::dialing::AttemptOutcome;

/// What the staff member hears before the citizen is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Briefing {
    pub reference: String,
    pub office: String,
    pub note: Option<String>,
    /// The ticket the citizen opened in the same call, and its category.
    pub ticket: Option<String>,
    pub category: Option<String>,
}

impl Briefing {
    /// The words said to staff (Italian, the city's staff language).
    pub fn text(&self) -> String {
        let mut text = format!(
            "Richiamata {} per l'ufficio {}.",
            spell_reference(&self.reference),
            self.office
        );
        if let Some(ticket) = &self.ticket {
            text.push_str(&format!(" Pratica {}", spell_reference(ticket)));
            if let Some(category) = &self.category {
                text.push_str(&format!(
                    ", categoria {}",
                    category.replace(['_', '-'], " ")
                ));
            }
            text.push('.');
        }
        if let Some(note) = &self.note {
            text.push_str(&format!(" Nota: {note}."));
        }
        text.push_str(" Prema 1 per chiamare il cittadino, 2 per saltare.");
        text
    }
}

/// The prompt after the citizen hung up.
pub const ASK_CLOSE: &str =
    "Il cittadino ha riagganciato. Prema 1 per chiudere la richiesta, 2 per lasciarla aperta.";

/// `RC-2026-000042` said as `RC 2026 42`, not as a long number.
fn spell_reference(reference: &str) -> String {
    reference
        .split('-')
        .map(|part| {
            let trimmed = part.trim_start_matches('0');
            if trimmed.is_empty() { part } else { trimmed }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the machine is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    StaffAnswered,
    /// The staff phone did not answer, was busy, or refused (any final non-2xx).
    StaffNotReached,
    StaffKey(char),
    /// No key within the time the adapter allows.
    KeyTimeout,
    StaffHungUp,
    CitizenAnswered,
    /// The trunk's final answer to the INVITE, when not 2xx.
    CitizenRejected {
        status: u16,
    },
    /// Nothing answered within the ring time (the adapter cancelled).
    CitizenRingTimeout,
    CitizenHungUp,
}

/// What the adapter must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Say this to the staff member (and listen for keys).
    SayToStaff(String),
    /// Call the citizen through the trunk.
    CallCitizen,
    /// Connect staff and citizen both ways.
    Bridge,
    HangUpStaff,
    HangUpCitizen,
    /// Close the request now (staff pressed the key).
    Close,
    /// The attempt is over.
    Finish(Finished),
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// No attempt was made (staff skipped, not reached, hung up first).
    Skipped,
    /// The citizen was called; `closed` when staff closed it from the phone; `detail`
    /// says why the call did not get through (the trunk's SIP status), kept with the attempt.
    Ended {
        outcome: AttemptOutcome,
        closed: bool,
        detail: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    RingingStaff,
    Briefing,
    CallingCitizen,
    Bridged,
    AskingClose,
    Done,
}

/// One attempt.
#[derive(Debug)]
pub struct Attempt {
    briefing: Briefing,
    phase: Phase,
}

impl Attempt {
    /// A new attempt; the adapter rings the staff member and reports.
    pub fn new(briefing: Briefing) -> Attempt {
        Attempt {
            briefing,
            phase: Phase::RingingStaff,
        }
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub fn step(&mut self, event: Event) -> Vec<Command> {
        use Command::{Bridge, CallCitizen, Close, Finish, HangUpCitizen, HangUpStaff, SayToStaff};
        let skipped = Finish(Finished::Skipped);
        let ended = |outcome, closed| {
            Finish(Finished::Ended {
                outcome,
                closed,
                detail: None,
            })
        };
        let refused = |status: u16| {
            Finish(Finished::Ended {
                outcome: outcome_of_status(status),
                closed: false,
                detail: Some(format!("SIP {status}")),
            })
        };
        let (next, out) = match (self.phase, event) {
            (Phase::RingingStaff, Event::StaffAnswered) => {
                (Phase::Briefing, vec![SayToStaff(self.briefing.text())])
            }
            (Phase::RingingStaff, Event::StaffNotReached | Event::StaffHungUp) => {
                (Phase::Done, vec![skipped])
            }
            (Phase::Briefing, Event::StaffKey('1')) => (Phase::CallingCitizen, vec![CallCitizen]),
            (Phase::Briefing, Event::StaffKey('2') | Event::KeyTimeout) => {
                (Phase::Done, vec![HangUpStaff, skipped])
            }
            (Phase::Briefing, Event::StaffHungUp) => (Phase::Done, vec![skipped]),
            (Phase::CallingCitizen, Event::CitizenAnswered) => (Phase::Bridged, vec![Bridge]),
            (Phase::CallingCitizen, Event::CitizenRejected { status }) => {
                (Phase::Done, vec![HangUpStaff, refused(status)])
            }
            (Phase::CallingCitizen, Event::CitizenRingTimeout) => (
                Phase::Done,
                vec![
                    HangUpStaff,
                    Finish(Finished::Ended {
                        outcome: AttemptOutcome::NoAnswer,
                        closed: false,
                        detail: Some(String::from("rang out, cancelled")),
                    }),
                ],
            ),
            // Staff gave up while the citizen's phone rang: the adapter cancels it.
            (Phase::CallingCitizen, Event::StaffHungUp) => (
                Phase::Done,
                vec![HangUpCitizen, ended(AttemptOutcome::Failed, false)],
            ),
            (Phase::Bridged, Event::CitizenHungUp) => {
                (Phase::AskingClose, vec![SayToStaff(ASK_CLOSE.to_owned())])
            }
            (Phase::Bridged, Event::StaffHungUp) => (
                Phase::Done,
                vec![HangUpCitizen, ended(AttemptOutcome::Reached, false)],
            ),
            (Phase::AskingClose, Event::StaffKey('1')) => (
                Phase::Done,
                vec![Close, HangUpStaff, ended(AttemptOutcome::Reached, true)],
            ),
            (Phase::AskingClose, Event::StaffKey('2') | Event::KeyTimeout) => (
                Phase::Done,
                vec![HangUpStaff, ended(AttemptOutcome::Reached, false)],
            ),
            (Phase::AskingClose, Event::StaffHungUp) => {
                (Phase::Done, vec![ended(AttemptOutcome::Reached, false)])
            }
            // Anything else (other keys, late or repeated reports) changes nothing.
            (phase, _) => (phase, Vec::new()),
        };
        self.phase = next;
        out
    }
}

/// The outcome a trunk's final non-2xx answer means.
pub fn outcome_of_status(status: u16) -> AttemptOutcome {
    match status {
        486 | 600 => AttemptOutcome::Busy,
        408 | 480 | 487 => AttemptOutcome::NoAnswer,
        403 | 603 => AttemptOutcome::Refused,
        _ => AttemptOutcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    fn run(events: &[Event]) -> String {
        let mut attempt = Attempt::new(Briefing {
            reference: "RC-2026-000042".into(),
            office: "prova".into(),
            note: Some("certificato di residenza".into()),
            ticket: None,
            category: None,
        });
        let mut transcript = String::new();
        for event in events {
            let _ = writeln!(transcript, "> {event:?}");
            for command in attempt.step(*event) {
                let _ = writeln!(transcript, "  < {command:?}");
            }
        }
        let _ = writeln!(transcript, "done: {}", attempt.is_done());
        transcript
    }

    #[test]
    fn reached_bridged_and_closed_from_the_phone() {
        insta::assert_snapshot!(run(&[
            Event::StaffAnswered,
            Event::StaffKey('7'),
            Event::StaffKey('1'),
            Event::CitizenAnswered,
            Event::StaffKey('1'),
            Event::CitizenHungUp,
            Event::StaffKey('1'),
            Event::StaffHungUp,
        ]));
    }

    #[test]
    fn skipped_or_not_reached_is_no_attempt() {
        insta::assert_snapshot!(
            [
                run(&[Event::StaffNotReached]),
                run(&[Event::StaffAnswered, Event::StaffKey('2')]),
                run(&[Event::StaffAnswered, Event::KeyTimeout]),
                run(&[Event::StaffAnswered, Event::StaffHungUp]),
            ]
            .join("---\n")
        );
    }

    #[test]
    fn the_citizen_not_answering_ends_the_attempt_with_its_outcome() {
        insta::assert_snapshot!(
            [
                run(&[
                    Event::StaffAnswered,
                    Event::StaffKey('1'),
                    Event::CitizenRingTimeout
                ]),
                run(&[
                    Event::StaffAnswered,
                    Event::StaffKey('1'),
                    Event::CitizenRejected { status: 486 }
                ]),
                run(&[
                    Event::StaffAnswered,
                    Event::StaffKey('1'),
                    Event::CitizenRejected { status: 603 }
                ]),
                run(&[
                    Event::StaffAnswered,
                    Event::StaffKey('1'),
                    Event::CitizenRejected { status: 503 }
                ]),
                run(&[
                    Event::StaffAnswered,
                    Event::StaffKey('1'),
                    Event::StaffHungUp
                ]),
                run(&[
                    Event::StaffAnswered,
                    Event::StaffKey('1'),
                    Event::CitizenAnswered,
                    Event::StaffHungUp
                ]),
            ]
            .join("---\n")
        );
    }

    #[test]
    fn a_callback_with_a_ticket_names_it_and_its_category() {
        let briefing = Briefing {
            reference: "RC-2026-000042".into(),
            office: "anagrafe".into(),
            note: Some("richiamare in mattinata".into()),
            ticket: Some("PG-2026-000017".into()),
            category: Some("certificato_residenza".into()),
        };
        assert_eq!(
            briefing.text(),
            "Richiamata RC 2026 42 per l'ufficio anagrafe. Pratica PG 2026 17, categoria \
             certificato residenza. Nota: richiamare in mattinata. Prema 1 per chiamare il \
             cittadino, 2 per saltare."
        );
    }

    #[test]
    fn sip_statuses_map_to_outcomes() {
        for (status, outcome) in [
            (486, AttemptOutcome::Busy),
            (600, AttemptOutcome::Busy),
            (480, AttemptOutcome::NoAnswer),
            (408, AttemptOutcome::NoAnswer),
            (487, AttemptOutcome::NoAnswer),
            (603, AttemptOutcome::Refused),
            (403, AttemptOutcome::Refused),
            (404, AttemptOutcome::Failed),
            (503, AttemptOutcome::Failed),
        ] {
            assert_eq!(outcome_of_status(status), outcome, "{status}");
        }
    }
}
