//! Where a callback request stands with the dialer: its state, lease and attempts.
//!
//! ```text
//!              TakeLease                      FinishAttempt(Reached)
//!   pending ─────────────► working {lease} ───────────────────────► reached ──Close──► closed
//!      ▲                     │  │  │  lease expired (crash, kill -9):
//!      │  FinishAttempt      │  │  └─ TakeLease by anyone succeeds again
//!      └──(RetryAt) / Release┘  └── FinishAttempt(Failed) / Fail ──► failed
//! ```
//!
//! Every change is a [`Change`] applied by [`Dialing::apply`], a pure function
//! of the record and the change (the time is in the change, never read from a
//! clock). The store applies it in one transaction on the callback's record
//! ([`super::Store::change_callback`]; with the event it causes, `crate::events`),
//! so two workers, or a server restarted while another still runs, can never
//! both hold one request: the second transaction sees the first's lease and is
//! refused.
//!
//! Records written before the dialer existed have no `dialing` field and read
//! as pending with no attempts (`#[serde(default)]`); callbacks written since
//! carry [`super::CALLBACK_SCHEMA`].

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The dialer's bookkeeping for one callback request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dialing {
    /// `"state": "working", "lease": {..}` side by side with the attempts.
    #[serde(flatten, default)]
    pub state: DialState,
    /// Every attempt made, oldest first.
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// Not to be worked before this time (a retry's backoff); `None`: at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
}

/// Where a request stands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DialState {
    /// Waiting to be worked.
    #[default]
    Pending,
    /// A dialer instance is working it until the lease runs out.
    Working { lease: Lease },
    /// Staff and citizen were connected; staff have not closed it yet.
    Reached,
    /// Closed by staff (from the phone or the command line).
    Closed {
        at: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Given up: attempts exhausted, or the number breaks the numbering rule.
    Failed { at: Timestamp, reason: String },
}

impl DialState {
    /// The state's name, as listings show it.
    pub fn name(&self) -> &'static str {
        match self {
            DialState::Pending => "pending",
            DialState::Working { .. } => "working",
            DialState::Reached => "reached",
            DialState::Closed { .. } => "closed",
            DialState::Failed { .. } => "failed",
        }
    }

    /// Whether the dialer is done with the request (nothing more will be dialled).
    pub fn is_finished(&self) -> bool {
        match self {
            DialState::Pending | DialState::Working { .. } => false,
            DialState::Reached | DialState::Closed { .. } | DialState::Failed { .. } => true,
        }
    }
}

/// A dialer instance's claim on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The instance holding it (each `serve` start picks a new one).
    pub holder: String,
    /// After this the lease is void and anyone may take the request.
    pub until: Timestamp,
}

/// One try at reaching the citizen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: Timestamp,
    pub outcome: AttemptOutcome,
    /// The staff member who took it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// What went wrong, in words (a SIP status, a refusal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The citizen answered and was connected to staff.
    Reached,
    NoAnswer,
    Busy,
    /// The citizen (or the network) declined the call.
    Refused,
    /// The citizen answered and said not to be called back (a citizen-first call's key 2):
    /// the request ends here, never dialled again.
    Declined,
    /// Nothing could be set up (trunk down, no staff took it, an error).
    Failed,
}

impl AttemptOutcome {
    pub fn name(self) -> &'static str {
        match self {
            AttemptOutcome::Reached => "reached",
            AttemptOutcome::NoAnswer => "no answer",
            AttemptOutcome::Busy => "busy",
            AttemptOutcome::Refused => "refused",
            AttemptOutcome::Declined => "declined",
            AttemptOutcome::Failed => "failed",
        }
    }
}

/// What happens to a request after an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterAttempt {
    /// Connected: wait for staff to close it.
    Reached,
    /// Try again, not before this time.
    RetryAt(Timestamp),
    /// Give up.
    Failed { reason: String },
}

/// A change to a request's [`Dialing`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Claim the request for `holder` until `until`: a pending request, one whose
    /// lease ran out at `now`, or one `holder` already holds (a renewal).
    TakeLease {
        holder: String,
        now: Timestamp,
        until: Timestamp,
    },
    /// `holder` records an attempt and what follows it; only the lease's holder may.
    FinishAttempt {
        holder: String,
        attempt: Attempt,
        then: AfterAttempt,
    },
    /// `holder` gives the request back without an attempt (staff skipped it,
    /// shutdown), to be worked again not before `retry_at`.
    Release {
        holder: String,
        retry_at: Option<Timestamp>,
    },
    /// Staff close the request (whoever holds it).
    Close {
        at: Timestamp,
        by: Option<String>,
        note: Option<String>,
    },
    /// Give up without an attempt (a number the rule refuses): never dialled.
    Fail { at: Timestamp, reason: String },
    /// Staff ask for the request to be worked not before `at` (`at` = now: "call now",
    /// `centralino callbacks call REF`): a pending one moves, a failed or reached one is
    /// worked again (its attempts kept). Refused while a dialer holds it, and once closed.
    Reschedule { at: Timestamp },
}

/// Why a [`Change`] was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no callback request has this reference")]
    NotFound,
    #[error("the request is being worked by {holder} until {until}")]
    HeldBy { holder: String, until: Timestamp },
    #[error("the request is already {state}")]
    Finished { state: &'static str },
    #[error("{holder} does not hold the request")]
    NotHolder { holder: String },
}

impl Dialing {
    /// The record after `change`, or why it cannot be made.
    pub fn apply(&self, change: &Change) -> Result<Dialing, Refusal> {
        let mut next = self.clone();
        match change {
            Change::TakeLease { holder, now, until } => {
                match &self.state {
                    DialState::Pending => {}
                    DialState::Working { lease } => {
                        if lease.holder != *holder && lease.until > *now {
                            return Err(Refusal::HeldBy {
                                holder: lease.holder.clone(),
                                until: lease.until,
                            });
                        }
                    }
                    finished => {
                        return Err(Refusal::Finished {
                            state: finished.name(),
                        });
                    }
                }
                next.state = DialState::Working {
                    lease: Lease {
                        holder: holder.clone(),
                        until: *until,
                    },
                };
                next.next_attempt_at = None;
            }
            Change::FinishAttempt {
                holder,
                attempt,
                then,
            } => {
                self.check_holder(holder)?;
                next.attempts.push(attempt.clone());
                match then {
                    AfterAttempt::Reached => {
                        next.state = DialState::Reached;
                        next.next_attempt_at = None;
                    }
                    AfterAttempt::RetryAt(at) => {
                        next.state = DialState::Pending;
                        next.next_attempt_at = Some(*at);
                    }
                    AfterAttempt::Failed { reason } => {
                        next.state = DialState::Failed {
                            at: attempt.at,
                            reason: reason.clone(),
                        };
                        next.next_attempt_at = None;
                    }
                }
            }
            Change::Release { holder, retry_at } => {
                self.check_holder(holder)?;
                next.state = DialState::Pending;
                next.next_attempt_at = *retry_at;
            }
            Change::Close { at, by, note } => {
                if let DialState::Closed { .. } = self.state {
                    return Err(Refusal::Finished { state: "closed" });
                }
                next.state = DialState::Closed {
                    at: *at,
                    by: by.clone(),
                    note: note.clone(),
                };
                next.next_attempt_at = None;
            }
            Change::Reschedule { at } => {
                match &self.state {
                    DialState::Pending | DialState::Reached | DialState::Failed { .. } => {}
                    DialState::Working { lease } => {
                        return Err(Refusal::HeldBy {
                            holder: lease.holder.clone(),
                            until: lease.until,
                        });
                    }
                    DialState::Closed { .. } => {
                        return Err(Refusal::Finished { state: "closed" });
                    }
                }
                next.state = DialState::Pending;
                next.next_attempt_at = Some(*at);
            }
            Change::Fail { at, reason } => {
                if self.state.is_finished() {
                    return Err(Refusal::Finished {
                        state: self.state.name(),
                    });
                }
                next.state = DialState::Failed {
                    at: *at,
                    reason: reason.clone(),
                };
                next.next_attempt_at = None;
            }
        }
        Ok(next)
    }

    /// Only the lease's holder may record an attempt or release it; a lease that
    /// ran out still counts as long as nobody else took the request.
    fn check_holder(&self, holder: &str) -> Result<(), Refusal> {
        match &self.state {
            DialState::Working { lease } if lease.holder == holder => Ok(()),
            DialState::Working { .. } | DialState::Pending => Err(Refusal::NotHolder {
                holder: holder.to_owned(),
            }),
            finished => Err(Refusal::Finished {
                state: finished.name(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn take(holder: &str, now: &str, until: &str) -> Change {
        Change::TakeLease {
            holder: holder.into(),
            now: at(now),
            until: at(until),
        }
    }

    fn attempt(outcome: AttemptOutcome, when: &str) -> Attempt {
        Attempt {
            at: at(when),
            outcome,
            staff: Some("201".into()),
            detail: None,
        }
    }

    #[test]
    fn a_lease_is_exclusive_until_it_runs_out() {
        let pending = Dialing::default();
        let held = pending
            .apply(&take("a", "2026-03-02T09:00:00Z", "2026-03-02T09:05:00Z"))
            .unwrap();
        assert_eq!(
            held.apply(&take("b", "2026-03-02T09:04:59Z", "2026-03-02T09:10:00Z")),
            Err(Refusal::HeldBy {
                holder: "a".into(),
                until: at("2026-03-02T09:05:00Z")
            })
        );
        // The holder renews.
        let renewed = held
            .apply(&take("a", "2026-03-02T09:04:00Z", "2026-03-02T09:09:00Z"))
            .unwrap();
        assert_eq!(
            renewed.state,
            DialState::Working {
                lease: Lease {
                    holder: "a".into(),
                    until: at("2026-03-02T09:09:00Z")
                }
            }
        );
        // Run out (a crash): taken again by another instance, and the old holder
        // can no longer record anything.
        let taken = held
            .apply(&take("b", "2026-03-02T09:05:00Z", "2026-03-02T09:10:00Z"))
            .unwrap();
        assert_eq!(
            taken.apply(&Change::FinishAttempt {
                holder: "a".into(),
                attempt: attempt(AttemptOutcome::Reached, "2026-03-02T09:06:00Z"),
                then: AfterAttempt::Reached,
            }),
            Err(Refusal::NotHolder { holder: "a".into() })
        );
    }

    #[test]
    fn attempts_accumulate_until_reached_then_closed() {
        let held = Dialing::default()
            .apply(&take("a", "2026-03-02T09:00:00Z", "2026-03-02T09:05:00Z"))
            .unwrap();
        let retry = held
            .apply(&Change::FinishAttempt {
                holder: "a".into(),
                attempt: attempt(AttemptOutcome::NoAnswer, "2026-03-02T09:01:00Z"),
                then: AfterAttempt::RetryAt(at("2026-03-02T09:11:00Z")),
            })
            .unwrap();
        assert_eq!(retry.state, DialState::Pending);
        assert_eq!(retry.next_attempt_at, Some(at("2026-03-02T09:11:00Z")));
        let reached = retry
            .apply(&take("a", "2026-03-02T09:11:00Z", "2026-03-02T09:16:00Z"))
            .unwrap()
            .apply(&Change::FinishAttempt {
                holder: "a".into(),
                attempt: attempt(AttemptOutcome::Reached, "2026-03-02T09:12:00Z"),
                then: AfterAttempt::Reached,
            })
            .unwrap();
        assert_eq!(reached.state, DialState::Reached);
        assert_eq!(reached.attempts.len(), 2);
        assert_eq!(
            reached.apply(&take("b", "2026-03-02T10:00:00Z", "2026-03-02T10:05:00Z")),
            Err(Refusal::Finished { state: "reached" })
        );
        let close = Change::Close {
            at: at("2026-03-02T09:20:00Z"),
            by: Some("201".into()),
            note: Some("certificato spedito".into()),
        };
        let closed = reached.apply(&close).unwrap();
        assert_eq!(closed.state.name(), "closed");
        assert_eq!(
            closed.apply(&close),
            Err(Refusal::Finished { state: "closed" })
        );
    }

    #[test]
    fn staff_reschedule_a_waiting_failed_or_reached_request_but_not_a_held_or_closed_one() {
        let now = Change::Reschedule {
            at: at("2026-03-02T09:30:00Z"),
        };
        let moved = Dialing::default().apply(&now).unwrap();
        assert_eq!(
            (moved.state.clone(), moved.next_attempt_at),
            (DialState::Pending, Some(at("2026-03-02T09:30:00Z")))
        );
        let failed = Dialing::default()
            .apply(&Change::Fail {
                at: at("2026-03-02T09:00:00Z"),
                reason: "tried 5 times".into(),
            })
            .unwrap();
        let revived = failed.apply(&now).unwrap();
        assert_eq!(revived.state, DialState::Pending);
        let held = Dialing::default()
            .apply(&take("a", "2026-03-02T09:00:00Z", "2026-03-02T09:05:00Z"))
            .unwrap();
        assert!(matches!(held.apply(&now), Err(Refusal::HeldBy { .. })));
        let closed = Dialing::default()
            .apply(&Change::Close {
                at: at("2026-03-02T09:20:00Z"),
                by: None,
                note: None,
            })
            .unwrap();
        assert_eq!(
            closed.apply(&now),
            Err(Refusal::Finished { state: "closed" })
        );
    }

    #[test]
    fn a_refused_number_fails_without_an_attempt() {
        let failed = Dialing::default()
            .apply(&Change::Fail {
                at: at("2026-03-02T09:00:00Z"),
                reason: "premium-rate number".into(),
            })
            .unwrap();
        assert!(failed.attempts.is_empty());
        assert_eq!(failed.state.name(), "failed");
        assert!(failed.state.is_finished());
    }

    #[test]
    fn release_gives_the_request_back() {
        let held = Dialing::default()
            .apply(&take("a", "2026-03-02T09:00:00Z", "2026-03-02T09:05:00Z"))
            .unwrap();
        let release = |holder: &str| Change::Release {
            holder: holder.into(),
            retry_at: Some(at("2026-03-02T09:30:00Z")),
        };
        assert_eq!(
            held.apply(&release("b")),
            Err(Refusal::NotHolder { holder: "b".into() })
        );
        let released = held.apply(&release("a")).unwrap();
        assert_eq!(released.state, DialState::Pending);
        assert!(released.attempts.is_empty());
    }
}
