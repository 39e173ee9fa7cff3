//! Which callback request the dialer works next, and what follows an attempt: sans-IO.
//!
//! ```text
//!   Tick{now, requests} ─┐                     ┌─► Dial{reference, office, number, staff}
//!   Presence{ext,status} ┤                     ├─► Finish{reference, attempt, then}
//!   AttemptEnded{..} ────┤──► Scheduler ───────┼─► Release{reference, retry_at}
//!   StaffSkipped{..} ────┤   (in-flight set)   └─► Fail{reference, reason}   (numbering rule)
//!   CallNow{reference} ──┘
//! ```
//!
//! No clock, no socket, no store: the time comes in the events, the store's
//! requests come with each tick, and the commands say what the adapter must do
//! (take the lease and ring staff, write an attempt, give a request back). A
//! request is dialled only
//! - while it is pending (or its lease ran out), its backoff is over, and it is
//!   not already in flight here;
//! - inside its office's hours (the compiled calendar) and the citizen's window;
//! - while its office has fewer than [`DialerSettings::per_office`] in flight;
//! - when a staff member of the office is available (presence) and not already
//!   given another request here;
//! - when its number passes the numbering rule; one that does not is failed
//!   with the rule's reason and never dialled.
//!
//! `CallNow` (staff asked with `centralino callbacks call REF`) skips the
//! backoff, the hours and the window, never the staff, the limit or the rule.
//!
//! After an attempt that did not reach the citizen, the request is retried after
//! [`DialerSettings::backoff`] (doubling each time, up to `backoff_max`) until
//! [`DialerSettings::max_attempts`] attempts were made, then failed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use centralino_compiler::graph::Calendar;
use jiff::{SignedDuration, Timestamp};

use crate::calendar;
use crate::people::presence::Status;
use crate::store::dialing::{AfterAttempt, Attempt, AttemptOutcome, DialState};
use crate::store::{CallWindow, Callback};

use super::rule::NumberRule;

/// The dialer's limits, from `[dialer]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialerSettings {
    /// At most this many requests of one office in flight at once.
    pub per_office: usize,
    /// Attempts at reaching the citizen before the request is failed.
    pub max_attempts: u32,
    /// Wait before the first retry; each later retry waits twice as long.
    pub backoff: Duration,
    /// The longest wait between attempts.
    pub backoff_max: Duration,
    /// Wait before offering a request again when staff skipped it or nobody took it.
    pub skip_delay: Duration,
    /// Which numbers may be dialled.
    pub rule: NumberRule,
}

impl Default for DialerSettings {
    fn default() -> Self {
        DialerSettings {
            per_office: 2,
            max_attempts: 3,
            backoff: Duration::from_secs(15 * 60),
            backoff_max: Duration::from_secs(4 * 60 * 60),
            skip_delay: Duration::from_secs(5 * 60),
            rule: NumberRule::default(),
        }
    }
}

/// An office as the scheduler needs it: its hours and its staff.
#[derive(Debug, Clone, PartialEq)]
pub struct OfficeHours {
    /// `None`: always open.
    pub calendar: Option<Calendar>,
    /// Extensions of the office's staff, in the order the flow lists them.
    pub staff: Vec<String>,
}

/// What the scheduler is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Time has passed; the store's callback requests as they are now.
    Tick {
        now: Timestamp,
        requests: Vec<Callback>,
    },
    /// A staff member's presence changed.
    Presence { extension: String, status: Status },
    /// An attempt at reaching the citizen ended.
    AttemptEnded {
        reference: String,
        at: Timestamp,
        outcome: AttemptOutcome,
        staff: Option<String>,
        detail: Option<String>,
    },
    /// The staff member rung skipped the request, did not answer, or the lease
    /// could not be taken: no attempt was made.
    StaffSkipped { reference: String, at: Timestamp },
    /// Work this request at the next tick regardless of backoff, hours and window.
    CallNow { reference: String },
}

/// What the adapter must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Take the request's lease, ring `staff`, then call `number` (as the numbering
    /// rule wrote it) and bridge.
    Dial {
        reference: String,
        office: String,
        number: String,
        staff: String,
    },
    /// Record the attempt and what follows it (under the lease).
    Finish {
        reference: String,
        attempt: Attempt,
        then: AfterAttempt,
    },
    /// Give the request back without an attempt.
    Release {
        reference: String,
        retry_at: Timestamp,
    },
    /// Never dial it: mark it failed.
    Fail { reference: String, reason: String },
}

/// A request being worked here.
#[derive(Debug, Clone, PartialEq, Eq)]
struct InFlight {
    office: String,
    staff: String,
    /// Attempts made before this one.
    attempts_before: u32,
}

/// The dialer's decisions. Holds only what is in flight, presence and requests
/// asked for now; the requests themselves come from the store with each tick.
#[derive(Debug)]
pub struct Scheduler {
    settings: DialerSettings,
    offices: BTreeMap<String, OfficeHours>,
    presence: BTreeMap<String, Status>,
    in_flight: BTreeMap<String, InFlight>,
    asked_now: BTreeSet<String>,
}

impl Scheduler {
    pub fn new(settings: DialerSettings, offices: BTreeMap<String, OfficeHours>) -> Scheduler {
        Scheduler {
            settings,
            offices,
            presence: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            asked_now: BTreeSet::new(),
        }
    }

    /// New offices after a reload; what is in flight goes on.
    pub fn set_offices(&mut self, offices: BTreeMap<String, OfficeHours>) {
        self.offices = offices;
    }

    /// How many requests are in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    pub fn step(&mut self, event: Event) -> Vec<Command> {
        match event {
            Event::Tick { now, requests } => self.tick(now, requests),
            Event::Presence { extension, status } => {
                self.presence.insert(extension, status);
                Vec::new()
            }
            Event::AttemptEnded {
                reference,
                at,
                outcome,
                staff,
                detail,
            } => {
                let Some(flight) = self.in_flight.remove(&reference) else {
                    return Vec::new();
                };
                let then = self.after(outcome, flight.attempts_before + 1, at);
                vec![Command::Finish {
                    reference,
                    attempt: Attempt {
                        at,
                        outcome,
                        staff: staff.or(Some(flight.staff)),
                        detail,
                    },
                    then,
                }]
            }
            Event::StaffSkipped { reference, at } => {
                if self.in_flight.remove(&reference).is_none() {
                    return Vec::new();
                }
                vec![Command::Release {
                    reference,
                    retry_at: later(at, self.settings.skip_delay),
                }]
            }
            Event::CallNow { reference } => {
                self.asked_now.insert(reference);
                Vec::new()
            }
        }
    }

    /// What follows the `made`-th attempt ending in `outcome` at `at`.
    fn after(&self, outcome: AttemptOutcome, made: u32, at: Timestamp) -> AfterAttempt {
        match outcome {
            AttemptOutcome::Reached => AfterAttempt::Reached,
            // The citizen said no: calling again would be harassment.
            AttemptOutcome::Declined => AfterAttempt::Failed {
                reason: String::from("the citizen declined to be called back"),
            },
            AttemptOutcome::NoAnswer
            | AttemptOutcome::Busy
            | AttemptOutcome::Refused
            | AttemptOutcome::Failed => {
                if made >= self.settings.max_attempts {
                    AfterAttempt::Failed {
                        reason: format!(
                            "not reached in {made} attempts (last: {})",
                            outcome.name()
                        ),
                    }
                } else {
                    AfterAttempt::RetryAt(later(at, self.backoff(made)))
                }
            }
        }
    }

    /// The wait after the `made`-th failed attempt: `backoff`, doubled each time.
    fn backoff(&self, made: u32) -> Duration {
        let doublings = made.saturating_sub(1).min(30);
        self.settings
            .backoff
            .saturating_mul(1 << doublings)
            .min(self.settings.backoff_max)
    }

    fn tick(&mut self, now: Timestamp, mut requests: Vec<Callback>) -> Vec<Command> {
        let mut out = Vec::new();
        // Oldest first: the store lists by reference, but a restart may hand them over in
        // any order.
        requests.sort_by(|a, b| {
            (a.request.created_at, &a.reference).cmp(&(b.request.created_at, &b.reference))
        });
        for request in requests {
            let reference = request.reference.clone();
            if self.in_flight.contains_key(&reference) {
                continue;
            }
            let workable = match &request.dialing.state {
                DialState::Pending => true,
                DialState::Working { lease } => lease.until <= now,
                DialState::Reached | DialState::Closed { .. } | DialState::Failed { .. } => {
                    self.asked_now.remove(&reference);
                    false
                }
            };
            if !workable {
                continue;
            }
            let number = match self.settings.rule.check(&request.request.number) {
                Ok(dialable) => dialable.number,
                Err(refusal) => {
                    self.asked_now.remove(&reference);
                    out.push(Command::Fail {
                        reference,
                        reason: refusal.to_string(),
                    });
                    continue;
                }
            };
            let office_name = &request.request.office;
            let Some(office) = self.offices.get(office_name) else {
                continue;
            };
            let asked_now = self.asked_now.contains(&reference);
            if !asked_now {
                if request
                    .dialing
                    .next_attempt_at
                    .is_some_and(|next| next > now)
                {
                    continue;
                }
                if let Some(calendar) = &office.calendar
                    && !calendar::is_open(calendar, now)
                {
                    continue;
                }
                if let Some(window) = request.request.window
                    && !inside(window, office.calendar.as_ref(), now)
                {
                    continue;
                }
            }
            let busy = self
                .in_flight
                .values()
                .filter(|flight| flight.office == *office_name)
                .count();
            if busy >= self.settings.per_office {
                continue;
            }
            let taken: BTreeSet<&str> = self
                .in_flight
                .values()
                .map(|flight| flight.staff.as_str())
                .collect();
            let Some(staff) = office
                .staff
                .iter()
                .find(|ext| {
                    self.presence.get(ext.as_str()) == Some(&Status::Available)
                        && !taken.contains(ext.as_str())
                })
                .cloned()
            else {
                continue;
            };
            self.asked_now.remove(&reference);
            self.in_flight.insert(
                reference.clone(),
                InFlight {
                    office: office_name.clone(),
                    staff: staff.clone(),
                    attempts_before: u32::try_from(request.dialing.attempts.len())
                        .unwrap_or(u32::MAX),
                },
            );
            out.push(Command::Dial {
                reference,
                office: office_name.clone(),
                number,
                staff,
            });
        }
        out
    }
}

/// `at + wait`, saturating at the largest instant.
fn later(at: Timestamp, wait: Duration) -> Timestamp {
    SignedDuration::try_from(wait)
        .ok()
        .and_then(|wait| at.checked_add(wait).ok())
        .unwrap_or(Timestamp::MAX)
}

/// Whether `now` is inside the citizen's window, in the office's time zone.
fn inside(window: CallWindow, calendar: Option<&Calendar>, now: Timestamp) -> bool {
    let zone = match calendar {
        Some(calendar) => calendar::zone(calendar),
        None => centralino_compiler::calendar::default_timezone(),
    };
    let time = zone.to_datetime(now).time();
    window.from <= time && time < window.until
}
