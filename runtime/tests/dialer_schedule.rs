//! The dialer's scheduler by event transcripts: hours, the citizen's window, the
//! per-office limit, presence, backoff and giving up, the numbering rule, expired
//! leases, staff skipping, `callbacks call REF`.
//!
//! Each transcript shows an event (`>`), the commands it gave (`<`), and after a
//! tick the requests as the store then has them (`=`). The store is played by
//! the same pure `Dialing::apply` the sled store runs under its compare-and-swap.

#![allow(clippy::unwrap_used)] // Tests may unwrap, helpers included: a panic is a failed test.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use centralino_compiler::graph::{Calendar, Weekday};
use centralino_runtime::dialer::rule::NumberRule;
use centralino_runtime::dialer::schedule::{
    Command, DialerSettings, Event, OfficeHours, Scheduler,
};
use centralino_runtime::people::presence::Status;
use centralino_runtime::store::dialing::{
    AfterAttempt, AttemptOutcome, Change, DialState, Dialing, Lease,
};
use centralino_runtime::store::{
    CALLBACK_SCHEMA, CallWindow, Callback, NewCallback, Status as RecordStatus,
};
use jiff::Timestamp;
use jiff::civil::Time;

/// Rome is UTC+1 in early March 2026; 2 March is a Monday.
fn local(hhmm: &str) -> Timestamp {
    format!("2026-03-02T{hhmm}:00+01:00")
        .parse::<Timestamp>()
        .unwrap()
}

fn rome_mornings() -> Calendar {
    let weekday_mornings: BTreeMap<Weekday, Vec<(u32, u32)>> = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ]
    .into_iter()
    .map(|day| (day, vec![(9 * 60, 13 * 60)]))
    .collect();
    Calendar {
        timezone: "Europe/Rome".into(),
        weekly: weekday_mornings,
        closures: Vec::new(),
    }
}

fn offices() -> BTreeMap<String, OfficeHours> {
    BTreeMap::from([
        (
            "prova".to_string(),
            OfficeHours {
                calendar: Some(rome_mornings()),
                staff: vec!["201".into(), "202".into(), "203".into()],
            },
        ),
        (
            "tributi".to_string(),
            OfficeHours {
                calendar: None,
                staff: vec!["203".into()],
            },
        ),
    ])
}

fn settings() -> DialerSettings {
    DialerSettings {
        per_office: 2,
        max_attempts: 3,
        backoff: Duration::from_secs(10 * 60),
        backoff_max: Duration::from_secs(30 * 60),
        skip_delay: Duration::from_secs(5 * 60),
        rule: NumberRule::default(),
    }
}

fn request(seq: u32, office: &str, number: &str, window: Option<(&str, &str)>) -> Callback {
    Callback {
        schema: CALLBACK_SCHEMA,
        reference: format!("RC-2026-{seq:06}"),
        status: RecordStatus::Open,
        request: NewCallback {
            office: office.into(),
            number: number.into(),
            note: None,
            call_id: format!("call-{seq}"),
            created_at: local("08:00") + jiff::SignedDuration::from_secs(i64::from(seq)),
            window: window.map(|(from, until)| CallWindow {
                from: from.parse::<Time>().unwrap(),
                until: until.parse::<Time>().unwrap(),
            }),
            ticket: None,
            category: None,
            citizen_first: false,
            language: None,
        },
        dialing: Dialing::default(),
    }
}

/// The scheduler, a store played in memory, and the transcript so far.
struct Run {
    scheduler: Scheduler,
    requests: Vec<Callback>,
    transcript: String,
    now: Timestamp,
}

const HOLDER: &str = "dialer-a";

impl Run {
    fn new(settings: DialerSettings, requests: Vec<Callback>) -> Run {
        Run {
            scheduler: Scheduler::new(settings, offices()),
            requests,
            transcript: String::new(),
            now: local("08:00"),
        }
    }

    fn present(&mut self, extensions: &[&str]) {
        for extension in extensions {
            self.event(Event::Presence {
                extension: (*extension).into(),
                status: Status::Available,
            });
        }
    }

    fn tick(&mut self, hhmm: &str) {
        self.now = local(hhmm);
        self.event(Event::Tick {
            now: self.now,
            requests: self.requests.clone(),
        });
        for request in &self.requests {
            writeln!(self.transcript, "  = {}", show_request(request)).unwrap();
        }
    }

    fn ended(&mut self, seq: u32, hhmm: &str, outcome: AttemptOutcome) {
        self.event(Event::AttemptEnded {
            reference: format!("RC-2026-{seq:06}"),
            at: local(hhmm),
            outcome,
            staff: None,
            detail: None,
        });
    }

    fn event(&mut self, event: Event) {
        writeln!(self.transcript, "> {}", show_event(&event)).unwrap();
        for command in self.scheduler.step(event) {
            writeln!(self.transcript, "  < {}", show_command(&command)).unwrap();
            self.apply(&command);
        }
    }

    /// What the dialer's adapter does with a command, to the in-memory store.
    fn apply(&mut self, command: &Command) {
        let (reference, change) = match command {
            Command::Dial { reference, .. } => (
                reference,
                Change::TakeLease {
                    holder: HOLDER.into(),
                    now: self.now,
                    until: self.now + jiff::SignedDuration::from_mins(5),
                },
            ),
            Command::Finish {
                reference,
                attempt,
                then,
            } => (
                reference,
                Change::FinishAttempt {
                    holder: HOLDER.into(),
                    attempt: attempt.clone(),
                    then: then.clone(),
                },
            ),
            Command::Release {
                reference,
                retry_at,
            } => (
                reference,
                Change::Release {
                    holder: HOLDER.into(),
                    retry_at: Some(*retry_at),
                },
            ),
            Command::Fail { reference, reason } => (
                reference,
                Change::Fail {
                    at: self.now,
                    reason: reason.clone(),
                },
            ),
        };
        let request = self
            .requests
            .iter_mut()
            .find(|r| r.reference == *reference)
            .unwrap();
        request.dialing = request.dialing.apply(&change).unwrap();
    }
}

fn clock(at: Timestamp) -> String {
    let local = centralino_compiler::calendar::timezone("Europe/Rome")
        .unwrap()
        .to_datetime(at);
    format!("{:02}:{:02}", local.hour(), local.minute())
}

fn short(reference: &str) -> &str {
    reference.strip_prefix("RC-2026-0000").unwrap_or(reference)
}

fn show_request(request: &Callback) -> String {
    let mut text = format!(
        "{} {} {}",
        short(&request.reference),
        request.request.office,
        request.dialing.state.name()
    );
    match &request.dialing.state {
        DialState::Working { lease } => {
            write!(text, " ({} until {})", lease.holder, clock(lease.until)).unwrap();
        }
        DialState::Failed { reason, .. } => write!(text, " ({reason})").unwrap(),
        DialState::Pending | DialState::Reached | DialState::Closed { .. } => {}
    }
    if !request.dialing.attempts.is_empty() {
        let outcomes: Vec<&str> = request
            .dialing
            .attempts
            .iter()
            .map(|a| a.outcome.name())
            .collect();
        write!(text, " attempts [{}]", outcomes.join(", ")).unwrap();
    }
    if let Some(next) = request.dialing.next_attempt_at {
        write!(text, " next {}", clock(next)).unwrap();
    }
    text
}

fn show_event(event: &Event) -> String {
    match event {
        Event::Tick { now, .. } => format!("tick {}", clock(*now)),
        Event::Presence { extension, status } => format!("{extension} is {}", status.label()),
        Event::AttemptEnded {
            reference,
            at,
            outcome,
            ..
        } => format!(
            "{} ended {}: {}",
            short(reference),
            clock(*at),
            outcome.name()
        ),
        Event::StaffSkipped { reference, at } => {
            format!("{} skipped by staff {}", short(reference), clock(*at))
        }
        Event::CallNow { reference } => format!("call {} now", short(reference)),
    }
}

fn show_command(command: &Command) -> String {
    match command {
        Command::Dial {
            reference,
            office,
            number,
            staff,
        } => format!(
            "dial {} ({office}): ring {staff}, then {number}",
            short(reference)
        ),
        Command::Finish {
            reference,
            attempt,
            then,
        } => {
            let then = match then {
                AfterAttempt::Reached => "reached".to_string(),
                AfterAttempt::RetryAt(at) => format!("retry at {}", clock(*at)),
                AfterAttempt::Failed { reason } => format!("failed: {reason}"),
            };
            format!(
                "record {} attempt {} by {}: {then}",
                short(reference),
                attempt.outcome.name(),
                attempt.staff.as_deref().unwrap_or("-")
            )
        }
        Command::Release {
            reference,
            retry_at,
        } => format!("release {} until {}", short(reference), clock(*retry_at)),
        Command::Fail { reference, reason } => format!("fail {}: {reason}", short(reference)),
    }
}

#[test]
fn hours_window_limit_and_presence_decide_what_is_dialled() {
    let mut run = Run::new(
        settings(),
        vec![
            request(1, "prova", "0755771234", None),
            request(2, "prova", "+39 333 123 4567", Some(("10:30", "12:00"))),
            request(3, "prova", "0755770000", None),
            request(4, "prova", "0755770001", None),
            request(5, "tributi", "0755779999", None),
        ],
    );
    // Nobody available yet, office closed: nothing.
    run.tick("08:30");
    run.present(&["201", "202"]);
    // Still closed at 08:59.
    run.tick("08:59");
    // Open: two of prova at once (limit 2), to two different staff; 2 waits for its
    // window; tributi has no staff present.
    run.tick("09:00");
    run.ended(1, "09:04", AttemptOutcome::Reached);
    // 201 is free again: 3 is next in line (4 waits for the limit).
    run.tick("09:05");
    run.present(&["203"]);
    // 203 takes tributi's request (always open), prova is at its limit.
    run.tick("09:06");
    run.ended(3, "09:08", AttemptOutcome::Reached);
    run.ended(4, "09:09", AttemptOutcome::Reached);
    // 2's window has not opened yet.
    run.tick("10:00");
    run.tick("10:30");
    insta::assert_snapshot!(run.transcript);
}

#[test]
fn no_answer_is_retried_with_backoff_then_failed() {
    let mut run = Run::new(settings(), vec![request(1, "prova", "0755771234", None)]);
    run.present(&["201"]);
    run.tick("09:00");
    run.ended(1, "09:01", AttemptOutcome::NoAnswer);
    // Backoff 10 minutes: not before 09:11.
    run.tick("09:10");
    run.tick("09:11");
    run.ended(1, "09:12", AttemptOutcome::Busy);
    // Doubled: 20 minutes.
    run.tick("09:31");
    run.tick("09:32");
    run.ended(1, "09:33", AttemptOutcome::NoAnswer);
    // Third attempt was the last: failed, never dialled again.
    run.tick("12:00");
    insta::assert_snapshot!(run.transcript);
}

#[test]
fn a_citizen_who_declines_is_failed_at_once_and_never_dialled_again() {
    let mut run = Run::new(settings(), vec![request(1, "prova", "0755771234", None)]);
    run.present(&["201"]);
    run.tick("09:00");
    // Refused by the network: retried (three attempts allowed).
    run.ended(1, "09:01", AttemptOutcome::Refused);
    run.tick("09:11");
    // The citizen answered and pressed 2: no more attempts, although one is left.
    run.ended(1, "09:12", AttemptOutcome::Declined);
    run.tick("12:00");
    insta::assert_snapshot!(run.transcript);
}

#[test]
fn numbers_the_rule_refuses_are_failed_and_never_dialled() {
    let mut run = Run::new(
        settings(),
        vec![
            request(1, "prova", "899123456", None),
            request(2, "prova", "+44 20 7946 0000", None),
            request(3, "prova", "anonymous", None),
            request(4, "prova", "0755771234", None),
        ],
    );
    run.present(&["201", "202"]);
    run.tick("09:00");
    run.tick("09:30");
    insta::assert_snapshot!(run.transcript);
}

#[test]
fn a_lease_held_elsewhere_waits_and_an_expired_one_is_worked_again() {
    let mut held = request(1, "prova", "0755771234", None);
    held.dialing.state = DialState::Working {
        lease: Lease {
            holder: "dialer-old".into(),
            until: local("09:10"),
        },
    };
    let mut run = Run::new(settings(), vec![held]);
    run.present(&["201"]);
    run.tick("09:05");
    run.tick("09:10");
    insta::assert_snapshot!(run.transcript);
}

#[test]
fn skipped_by_staff_comes_back_later_and_call_now_skips_hours() {
    let mut run = Run::new(
        settings(),
        vec![
            request(1, "prova", "0755771234", None),
            request(2, "prova", "0755770000", Some(("15:00", "16:00"))),
        ],
    );
    run.present(&["201"]);
    run.tick("09:00");
    run.event(Event::StaffSkipped {
        reference: "RC-2026-000001".into(),
        at: local("09:01"),
    });
    // 201 is free: 2 is outside its window, 1 waits out the skip delay.
    run.tick("09:02");
    run.tick("09:06");
    run.ended(1, "09:07", AttemptOutcome::Reached);
    // Closed at 14:00, and 2's window is later: staff ask for it now.
    run.tick("14:00");
    run.event(Event::CallNow {
        reference: "RC-2026-000002".into(),
    });
    run.tick("14:01");
    insta::assert_snapshot!(run.transcript);
}
