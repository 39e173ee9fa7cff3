//! One attempt at a callback, staff first or citizen first: sans-IO, `step(event) -> commands`.
//!
//! Staff first ([`Attempt::new`]):
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
//! Citizen first ([`Attempt::citizen_first`]; the adapter starts with [`Attempt::start`]):
//!
//! ```text
//!   CallCitizen ──answered──► Announce ("… press 1 to be connected, 2 if not"; said twice at most)
//!      │ busy / no answer           │ 1                       │ 2: Refused · nothing twice, hang-up:
//!      ▼                            ▼                         ▼ NoAnswer
//!   Done(Ended(outcome))     HoldCitizen + RingStaff ──answered──► Brief ──1──► Bridged ─► (as above)
//!                                   │ not reached                  │ 2, no key, hang-up
//!                                   ▼                              ▼
//!                            SaySorry to the citizen ──said──► Done(Ended(Failed, "no staff …"))
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
        self.text_ending(" Prema 1 per chiamare il cittadino, 2 per saltare.")
    }

    /// The words said to staff when the citizen is already on the line (citizen first).
    pub fn text_citizen_waiting(&self) -> String {
        self.text_ending(
            " Il cittadino è in linea. Prema 1 per parlare con il cittadino, 2 per saltare.",
        )
    }

    /// What the citizen hears first (citizen first), in the request's language: who calls,
    /// about what, and the keys.
    pub fn announcement(&self, language: Language) -> String {
        let office = self.office.replace(['_', '-'], " ");
        let reference = spell_reference(&self.reference);
        let ticket = self.ticket.as_ref().map(|ticket| {
            let category = self.category.as_ref().map(|c| c.replace(['_', '-'], " "));
            (spell_reference(ticket), category)
        });
        match language {
            Language::Italian => {
                let mut text = format!(
                    "Buongiorno, la richiama il Comune, ufficio {office}, per la sua richiesta {reference}."
                );
                if let Some((ticket, category)) = ticket {
                    text.push_str(&format!(" Pratica {ticket}"));
                    if let Some(category) = category {
                        text.push_str(&format!(", categoria {category}"));
                    }
                    text.push('.');
                }
                text.push_str(
                    " Prema 1 per parlare con l'ufficio, 2 se non desidera essere richiamato.",
                );
                text
            }
            Language::English => {
                let mut text = format!(
                    "Hello, this is the City calling you back, office {office}, about your request {reference}."
                );
                if let Some((ticket, category)) = ticket {
                    text.push_str(&format!(" Case {ticket}"));
                    if let Some(category) = category {
                        text.push_str(&format!(", category {category}"));
                    }
                    text.push('.');
                }
                text.push_str(
                    " Press 1 to be connected to the office, 2 if you do not wish to be called back.",
                );
                text
            }
        }
    }

    fn text_ending(&self, keys: &str) -> String {
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
        text.push_str(keys);
        text
    }
}

/// The language the citizen hears (citizen first): the call's language when the request was
/// made; Italian for anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Italian,
    English,
}

impl Language {
    /// `en…` is English; anything else (or nothing) is Italian.
    pub fn of(code: Option<&str>) -> Language {
        match code {
            Some(code) if code.starts_with("en") => Language::English,
            _ => Language::Italian,
        }
    }

    /// The code the text to speech takes.
    pub fn code(self) -> &'static str {
        match self {
            Language::Italian => "it",
            Language::English => "en",
        }
    }

    /// What the citizen hears while staff are rung.
    pub fn hold(self) -> &'static str {
        match self {
            Language::Italian => "Attenda in linea, la mettiamo in contatto con l'ufficio.",
            Language::English => "Please hold, we are connecting you with the office.",
        }
    }

    /// What the citizen hears when no staff member took the call.
    pub fn sorry(self) -> &'static str {
        match self {
            Language::Italian => {
                "Ci scusi, in questo momento nessuno dell'ufficio può rispondere. \
                 La richiameremo più tardi. Arrivederci."
            }
            Language::English => {
                "We are sorry, nobody at the office can take the call right now. \
                 We will call you back later. Goodbye."
            }
        }
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
    /// A key from the citizen (citizen first: the announcement's keys).
    CitizenKey(char),
    /// What was said to the citizen has been said.
    CitizenHeard,
}

/// What the adapter must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Say this to the staff member (and listen for keys).
    SayToStaff(String),
    /// Say this to the citizen (in `language`), and tell when it has been said.
    SayToCitizen {
        text: String,
        language: Language,
    },
    /// The citizen hears this over and over while staff are rung.
    HoldCitizen {
        text: String,
        language: Language,
    },
    /// Wait the key time for the citizen's key (then `KeyTimeout`).
    WaitForCitizenKey,
    /// Ring the staff member (citizen first; staff first begins with it in the adapter).
    RingStaff,
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
    /// Citizen first: the citizen's phone rings.
    CallingCitizenFirst,
    /// Citizen first: the citizen hears who calls and the keys (`said` times so far).
    Announcing {
        said: u8,
    },
    /// Citizen first: the citizen holds while staff are rung.
    RingingStaffForCitizen,
    /// Citizen first: staff hear the briefing while the citizen holds.
    BriefingWithCitizen,
    /// Citizen first: no staff took it; the citizen hears the sorry message.
    SayingSorry,
    Done,
}

/// Who an attempt calls first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum First {
    Staff,
    Citizen(Language),
}

/// One attempt.
#[derive(Debug)]
pub struct Attempt {
    briefing: Briefing,
    first: First,
    phase: Phase,
    /// Why a citizen-first attempt found no staff (kept with the attempt).
    no_staff: &'static str,
}

impl Attempt {
    /// A new attempt; the adapter rings the staff member and reports.
    pub fn new(briefing: Briefing) -> Attempt {
        Attempt {
            briefing,
            first: First::Staff,
            phase: Phase::RingingStaff,
            no_staff: "",
        }
    }

    /// A new citizen-first attempt; [`Attempt::start`] says to call the citizen.
    pub fn citizen_first(briefing: Briefing, language: Language) -> Attempt {
        Attempt {
            briefing,
            first: First::Citizen(language),
            phase: Phase::CallingCitizenFirst,
            no_staff: "",
        }
    }

    /// What the adapter does first: ring staff (staff first) or call the citizen.
    pub fn start(&self) -> Vec<Command> {
        match self.first {
            First::Staff => vec![Command::RingStaff],
            First::Citizen(_) => vec![Command::CallCitizen],
        }
    }

    /// Whether the citizen is called first.
    pub fn is_citizen_first(&self) -> bool {
        matches!(self.first, First::Citizen(_))
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub fn step(&mut self, event: Event) -> Vec<Command> {
        if let First::Citizen(language) = self.first
            && let Some((next, out)) = self.step_citizen_first(language, event)
        {
            self.phase = next;
            return out;
        }
        self.step_shared(event)
    }

    /// The citizen-first phases; `None` for the phases both orders share (bridged, closing).
    fn step_citizen_first(
        &mut self,
        language: Language,
        event: Event,
    ) -> Option<(Phase, Vec<Command>)> {
        use Command::{Finish, HangUpCitizen, HangUpStaff};
        let ended = |outcome, detail: &str| {
            Finish(Finished::Ended {
                outcome,
                closed: false,
                detail: Some(detail.to_owned()),
            })
        };
        let announce = || Command::SayToCitizen {
            text: self.briefing.announcement(language),
            language,
        };
        let sorry = Command::SayToCitizen {
            text: language.sorry().to_owned(),
            language,
        };
        let waited = "hung up while staff were called";
        Some(match (self.phase, event) {
            (Phase::CallingCitizenFirst, Event::CitizenAnswered) => {
                (Phase::Announcing { said: 1 }, vec![announce()])
            }
            (Phase::CallingCitizenFirst, Event::CitizenRejected { status }) => (
                Phase::Done,
                vec![Finish(Finished::Ended {
                    outcome: outcome_of_status(status),
                    closed: false,
                    detail: Some(format!("SIP {status}")),
                })],
            ),
            (Phase::CallingCitizenFirst, Event::CitizenRingTimeout) => (
                Phase::Done,
                vec![ended(AttemptOutcome::NoAnswer, "rang out, cancelled")],
            ),
            (Phase::Announcing { .. }, Event::CitizenKey('1')) => (
                Phase::RingingStaffForCitizen,
                vec![
                    Command::HoldCitizen {
                        text: language.hold().to_owned(),
                        language,
                    },
                    Command::RingStaff,
                ],
            ),
            (Phase::Announcing { .. }, Event::CitizenKey('2')) => (
                Phase::Done,
                vec![
                    HangUpCitizen,
                    ended(AttemptOutcome::Declined, "declined by the citizen (key 2)"),
                ],
            ),
            (Phase::Announcing { .. }, Event::CitizenHeard) => {
                (self.phase, vec![Command::WaitForCitizenKey])
            }
            (Phase::Announcing { said }, Event::KeyTimeout) if said < 2 => {
                (Phase::Announcing { said: said + 1 }, vec![announce()])
            }
            (Phase::Announcing { .. }, Event::KeyTimeout) => (
                Phase::Done,
                vec![
                    HangUpCitizen,
                    ended(AttemptOutcome::NoAnswer, "no key pressed"),
                ],
            ),
            (Phase::Announcing { .. }, Event::CitizenHungUp) => (
                Phase::Done,
                vec![ended(AttemptOutcome::NoAnswer, "hung up before pressing 1")],
            ),
            (Phase::RingingStaffForCitizen, Event::StaffAnswered) => (
                Phase::BriefingWithCitizen,
                vec![Command::SayToStaff(self.briefing.text_citizen_waiting())],
            ),
            (Phase::RingingStaffForCitizen, Event::StaffNotReached | Event::StaffHungUp) => {
                self.no_staff = "no staff member answered";
                (Phase::SayingSorry, vec![sorry])
            }
            (Phase::BriefingWithCitizen, Event::StaffKey('1')) => {
                (Phase::Bridged, vec![Command::Bridge])
            }
            (Phase::BriefingWithCitizen, Event::StaffKey('2') | Event::KeyTimeout) => {
                self.no_staff = "skipped by staff";
                (Phase::SayingSorry, vec![HangUpStaff, sorry])
            }
            (Phase::BriefingWithCitizen, Event::StaffHungUp) => {
                self.no_staff = "skipped by staff";
                (Phase::SayingSorry, vec![sorry])
            }
            (Phase::RingingStaffForCitizen | Phase::BriefingWithCitizen, Event::CitizenHungUp) => (
                Phase::Done,
                vec![HangUpStaff, ended(AttemptOutcome::NoAnswer, waited)],
            ),
            (Phase::SayingSorry, Event::CitizenHeard) => (
                Phase::Done,
                vec![HangUpCitizen, ended(AttemptOutcome::Failed, self.no_staff)],
            ),
            (Phase::SayingSorry, Event::CitizenHungUp) => (
                Phase::Done,
                vec![ended(AttemptOutcome::Failed, self.no_staff)],
            ),
            // Keys while bridged or after, late reports: as staff first (or nothing).
            (
                Phase::CallingCitizenFirst
                | Phase::Announcing { .. }
                | Phase::RingingStaffForCitizen
                | Phase::BriefingWithCitizen
                | Phase::SayingSorry,
                _,
            ) => (self.phase, Vec::new()),
            (
                Phase::RingingStaff
                | Phase::Briefing
                | Phase::CallingCitizen
                | Phase::Bridged
                | Phase::AskingClose
                | Phase::Done,
                _,
            ) => return None,
        })
    }

    fn step_shared(&mut self, event: Event) -> Vec<Command> {
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
        play(&mut attempt, String::new(), events)
    }

    /// `transcript` followed by each event and the commands it gives, then whether it is done.
    fn play(attempt: &mut Attempt, mut transcript: String, events: &[Event]) -> String {
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

    fn run_citizen_first(events: &[Event]) -> String {
        let mut attempt = Attempt::citizen_first(
            Briefing {
                reference: "RC-2026-000042".into(),
                office: "tributi".into(),
                note: Some("rimborso TARI".into()),
                ticket: None,
                category: None,
            },
            Language::Italian,
        );
        let mut transcript = String::new();
        for command in attempt.start() {
            let _ = writeln!(transcript, "  < {command:?}");
        }
        play(&mut attempt, transcript, events)
    }

    #[test]
    fn citizen_first_presses_1_holds_while_staff_are_briefed_then_talks_and_closes() {
        insta::assert_snapshot!(run_citizen_first(&[
            Event::CitizenAnswered,
            Event::CitizenKey('7'),
            Event::CitizenKey('1'),
            Event::CitizenKey('1'),
            Event::StaffAnswered,
            Event::StaffKey('1'),
            Event::CitizenKey('2'),
            Event::CitizenHungUp,
            Event::StaffKey('1'),
            Event::StaffHungUp,
        ]));
    }

    #[test]
    fn citizen_first_without_a_1_never_rings_staff() {
        insta::assert_snapshot!(
            [
                run_citizen_first(&[Event::CitizenAnswered, Event::CitizenKey('2')]),
                run_citizen_first(&[
                    Event::CitizenAnswered,
                    Event::CitizenHeard,
                    Event::KeyTimeout,
                    Event::CitizenHeard,
                    Event::KeyTimeout,
                ]),
                run_citizen_first(&[Event::CitizenAnswered, Event::CitizenHungUp]),
                run_citizen_first(&[Event::CitizenRejected { status: 486 }]),
                run_citizen_first(&[Event::CitizenRingTimeout]),
            ]
            .join("---\n")
        );
    }

    #[test]
    fn citizen_first_without_staff_says_sorry_and_fails_the_attempt() {
        let pressed = [Event::CitizenAnswered, Event::CitizenKey('1')];
        let then = |more: &[Event]| run_citizen_first(&[&pressed[..], more].concat());
        insta::assert_snapshot!(
            [
                then(&[Event::StaffNotReached, Event::CitizenHeard]),
                then(&[
                    Event::StaffAnswered,
                    Event::StaffKey('2'),
                    Event::CitizenHeard
                ]),
                then(&[
                    Event::StaffAnswered,
                    Event::KeyTimeout,
                    Event::CitizenHungUp
                ]),
                then(&[Event::CitizenHungUp]),
                then(&[Event::StaffAnswered, Event::CitizenHungUp]),
            ]
            .join("---\n")
        );
    }

    #[test]
    fn the_citizen_hears_who_calls_in_the_requests_language() {
        let briefing = Briefing {
            reference: "RC-2026-000042".into(),
            office: "polizia_locale".into(),
            note: Some("solo per staff".into()),
            ticket: Some("PG-2026-000017".into()),
            category: Some("buche".into()),
        };
        assert_eq!(
            briefing.announcement(Language::of(Some("it"))),
            "Buongiorno, la richiama il Comune, ufficio polizia locale, per la sua richiesta \
             RC 2026 42. Pratica PG 2026 17, categoria buche. Prema 1 per parlare con \
             l'ufficio, 2 se non desidera essere richiamato."
        );
        assert_eq!(
            briefing.announcement(Language::of(Some("en"))),
            "Hello, this is the City calling you back, office polizia locale, about your \
             request RC 2026 42. Case PG 2026 17, category buche. Press 1 to be connected to \
             the office, 2 if you do not wish to be called back."
        );
        assert_eq!(Language::of(None), Language::Italian);
        assert_eq!(Language::of(Some("de")), Language::Italian);
        assert!(briefing.text_citizen_waiting().ends_with(
            "Il cittadino è in linea. Prema 1 per parlare con il cittadino, 2 per saltare."
        ));
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
