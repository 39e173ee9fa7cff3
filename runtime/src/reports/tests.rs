//! The report over a store filled here: calls of every ending, transfers and queues, callbacks
//! with attempts, tickets worked, bookings; each number checked against what was put in.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::date;
use jiff::tz::TimeZone;

use super::*;
use crate::engine::Trace;
use crate::store::dialing::{AfterAttempt, Attempt, Change};
use crate::store::ticketing::TicketChange;
use crate::store::{Handoff, NewBooking, NewCallback, NewTicket, SCHEMA_VERSION, SledStore, Slot};

fn rome() -> TimeZone {
    TimeZone::get("Europe/Rome").unwrap()
}

/// A local time in Rome, `2026-12-DD HH:MM`.
fn at(day: i8, hour: i8, minute: i8) -> Timestamp {
    date(2026, 12, day)
        .at(hour, minute, 0, 0)
        .to_zoned_datetime(rome())
        .unwrap()
        .timestamp()
}

fn secs(t: Timestamp, s: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(s)).unwrap()
}

struct Filler<'s> {
    store: &'s SledStore,
}

impl Filler<'_> {
    /// A call through `states` (state, note), each step a second apart, ending with `outcome`.
    fn call(
        &self,
        id: &str,
        start: Timestamp,
        states: &[(&str, &str)],
        outcome: Option<EndReason>,
        handoffs: Vec<Handoff>,
        length_s: i64,
    ) {
        for (seq, (state, note)) in states.iter().enumerate() {
            self.store
                .append_step(StepRecord {
                    schema: SCHEMA_VERSION,
                    call_id: id.into(),
                    seq: u32::try_from(seq + 1).unwrap(),
                    at: secs(start, i64::try_from(seq).unwrap()),
                    trace: Trace {
                        flow: "ufficio".into(),
                        state: (*state).into(),
                        location: "office.flow:1:1".into(),
                        note: (*note).into(),
                    },
                })
                .unwrap();
        }
        self.store
            .save_call(CallRecord {
                schema: SCHEMA_VERSION,
                call_id: id.into(),
                caller: "sip:3331234567@example.net".into(),
                number: "100".into(),
                flow: "ufficio".into(),
                graph_version: "sha256:test".into(),
                started_at: start,
                ended_at: Some(secs(start, length_s)),
                outcome: outcome.map(String::from),
                channel: "sip".into(),
                handoffs,
            })
            .unwrap();
    }

    fn callback(&self, created: Timestamp) -> String {
        self.store
            .create_callback(NewCallback {
                office: "prova".into(),
                number: "3331234567".into(),
                note: None,
                call_id: "c".into(),
                created_at: created,
                window: None,
                ticket: None,
                category: None,
                citizen_first: false,
                language: None,
            })
            .unwrap()
            .reference
    }

    fn attempt(&self, reference: &str, when: Timestamp, outcome: AttemptOutcome) {
        let holder = String::from("dialer-1");
        self.store
            .change_callback(
                reference,
                &Change::TakeLease {
                    holder: holder.clone(),
                    now: when,
                    until: secs(when, 300),
                },
            )
            .unwrap()
            .unwrap();
        let then = match outcome {
            AttemptOutcome::Reached => AfterAttempt::Reached,
            _ => AfterAttempt::RetryAt(secs(when, 600)),
        };
        self.store
            .change_callback(
                reference,
                &Change::FinishAttempt {
                    holder,
                    attempt: Attempt {
                        at: when,
                        outcome,
                        staff: Some("201".into()),
                        detail: None,
                    },
                    then,
                },
            )
            .unwrap()
            .unwrap();
    }

    fn ticket(&self, category: &str, created: Timestamp, due: Option<Timestamp>) -> String {
        self.store
            .create_ticket(NewTicket {
                category: category.into(),
                title: "t".into(),
                office: Some("prova".into()),
                priority: "normal".into(),
                fields: BTreeMap::new(),
                caller: "sip:333@example.net".into(),
                call_id: "c".into(),
                created_at: created,
                due_at: due,
            })
            .unwrap()
            .reference
    }

    fn work(&self, reference: &str, when: Timestamp, what: TicketAction) {
        self.store
            .change_ticket(
                reference,
                &TicketChange {
                    at: when,
                    by: "anna".into(),
                    what,
                },
            )
            .unwrap()
            .unwrap();
    }

    fn book(&self, resource: Resource, created: Timestamp, start: Timestamp) -> String {
        self.store
            .book(NewBooking {
                resource,
                candidates: vec![Slot {
                    start,
                    duration_ms: 1_800_000,
                }],
                capacity: 5,
                caller: "sip:333@example.net".into(),
                call_id: "c".into(),
                created_at: created,
            })
            .unwrap()
            .unwrap()
            .reference
    }
}

fn handoff(
    kind: HandoffKind,
    asked: Timestamp,
    outcome: Option<TransferOutcome>,
    after_s: i64,
) -> Handoff {
    Handoff {
        kind,
        office: "prova".into(),
        asked_at: asked,
        outcome,
        ended_at: outcome.map(|_| secs(asked, after_s)),
    }
}

/// The store of a small office's three days (1-3 December 2026, Rome), and one call before.
fn filled() -> SledStore {
    let store = SledStore::temporary().unwrap();
    let fill = Filler { store: &store };
    use EndReason::*;
    use HandoffKind::{Queue, Transfer};
    let menu = ("menu", "menu");
    // Served by the flow: a callback asked for.
    fill.call(
        "c1",
        at(1, 9, 10),
        &[
            menu,
            ("menu", "key 4"),
            ("richiamata", "callback"),
            ("richiamata_fatta", "play"),
            ("saluti", "play"),
            ("fine", "hangup"),
        ],
        Some(FlowHungUp),
        vec![],
        40,
    );
    // Hung up at the menu.
    fill.call("c2", at(1, 9, 40), &[menu], Some(CallerHungUp), vec![], 5);
    // Transfer with nobody present: no phone rang.
    fill.call(
        "c3",
        at(2, 10, 5),
        &[
            menu,
            ("menu", "key 1"),
            ("passa", "transfer"),
            ("passa", "nobody of `prova` is present"),
            ("nessuno", "play"),
            ("saluti", "play"),
            ("fine", "hangup"),
        ],
        Some(FlowHungUp),
        vec![],
        20,
    );
    // Transfer answered after 12 s.
    fill.call(
        "c4",
        at(2, 11, 0),
        &[menu, ("menu", "key 1"), ("passa", "transfer")],
        Some(Bridged),
        vec![handoff(
            Transfer,
            secs(at(2, 11, 0), 3),
            Some(TransferOutcome::Answered),
            12,
        )],
        200,
    );
    // Hung up after 45 s in the queue.
    fill.call(
        "c5",
        at(2, 11, 30),
        &[menu, ("menu", "key 2"), ("coda", "queue")],
        Some(CallerHungUp),
        vec![handoff(Queue, secs(at(2, 11, 30), 3), None, 0)],
        48,
    );
    // Queue answered after 30 s.
    fill.call(
        "c6",
        at(3, 15, 0),
        &[menu, ("menu", "key 2"), ("coda", "queue")],
        Some(Bridged),
        vec![handoff(
            Queue,
            secs(at(3, 15, 0), 3),
            Some(TransferOutcome::Answered),
            30,
        )],
        300,
    );
    // Transfer not answered: rang out.
    fill.call(
        "c7",
        at(3, 16, 0),
        &[
            menu,
            ("menu", "key 1"),
            ("passa", "transfer"),
            ("nessuno", "play"),
            ("saluti", "play"),
            ("fine", "hangup"),
        ],
        Some(FlowHungUp),
        vec![handoff(
            Transfer,
            secs(at(3, 16, 0), 3),
            Some(TransferOutcome::NoAnswer),
            8,
        )],
        20,
    );
    // A call the log kept no ending of, and one whose line went silent.
    fill.call("c8", at(3, 16, 30), &[menu], None, vec![], 10);
    fill.call("c9", at(3, 16, 45), &[menu], Some(CallerSilent), vec![], 30);
    // Before the period: not counted.
    fill.call(
        "c0",
        date(2026, 11, 30)
            .at(23, 59, 0, 0)
            .to_zoned_datetime(rome())
            .unwrap()
            .timestamp(),
        &[menu],
        Some(CallerHungUp),
        vec![],
        5,
    );

    // Callbacks: one waiting since the first morning (late), one reached on the second
    // attempt after 150 minutes, one asked an hour before `now` (not late yet), one from
    // November still waiting (late, not counted in the period).
    fill.callback(at(1, 9, 11));
    let reached = fill.callback(at(2, 8, 0));
    fill.attempt(&reached, at(2, 9, 0), AttemptOutcome::NoAnswer);
    fill.attempt(&reached, at(2, 10, 30), AttemptOutcome::Reached);
    fill.callback(at(3, 17, 0));
    fill.callback(
        date(2026, 11, 20)
            .at(12, 0, 0, 0)
            .to_zoned_datetime(rome())
            .unwrap()
            .timestamp(),
    );

    // Tickets: closed after 4.5 hours; open past its due time; cancelled.
    let closed = fill.ticket("rifiuti", at(1, 10, 0), None);
    fill.work(
        &closed,
        at(1, 11, 0),
        TicketAction::Assign {
            to: Some("anna".into()),
        },
    );
    fill.work(&closed, at(1, 14, 30), TicketAction::Close { note: None });
    fill.ticket("rifiuti", at(2, 9, 0), Some(at(2, 20, 0)));
    let cancelled = fill.ticket("strade", at(3, 9, 0), None);
    fill.work(
        &cancelled,
        at(3, 9, 30),
        TicketAction::Cancel { note: None },
    );

    // Bookings: two of the service (one cancelled), one with the office.
    fill.book(
        Resource::Service("prova".into()),
        at(1, 9, 20),
        at(10, 9, 0),
    );
    let gone = fill.book(
        Resource::Service("prova".into()),
        at(2, 9, 20),
        at(10, 9, 30),
    );
    store.cancel_booking(&gone).unwrap().unwrap();
    fill.book(Resource::Office("prova".into()), at(3, 9, 20), at(11, 9, 0));
    store
}

fn period() -> Period {
    Period::days(date(2026, 12, 1), date(2026, 12, 3), rome()).unwrap()
}

fn the_report() -> Report {
    let store = filled();
    let facts = Facts::read(&store, &period()).unwrap();
    let settings = Settings {
        promise: crate::promise::CallbackPromise::uniform(SignedDuration::from_hours(4)),
    };
    report(&facts, &period(), at(3, 18, 0), &settings)
}

#[test]
fn the_numbers_are_those_of_the_calls_and_records_made() {
    let report = the_report();
    let o = &report.overview;
    assert_eq!(o.calls, 9, "c0 started before the period");
    assert_eq!(o.contained, 1, "only c1 was served by the flow alone");
    assert_eq!(o.contained_percent, Some(11.1));
    assert_eq!(o.put_through, 2);
    assert_eq!(
        o.person_not_reached, 2,
        "c3 and c7: the flow said nobody could answer"
    );
    assert_eq!(
        o.contained + o.put_through + o.person_not_reached + o.abandoned + o.lost + o.failed,
        o.calls,
        "every call is counted once"
    );
    assert_eq!((o.abandoned, o.abandoned_waiting), (2, 1));
    assert_eq!((o.lost, o.failed), (1, 1));
    assert_eq!(o.transfers_unanswered, 2, "c3 nobody present, c7 no answer");
    let prova = report.offices.iter().find(|r| r.office == "prova").unwrap();
    assert_eq!(
        (
            prova.asked,
            prova.answered,
            prova.nobody_present,
            prova.no_answer
        ),
        (3, 1, 1, 1)
    );
    assert_eq!(prova.answer_percent, Some(33.3));
    let queue = report.queues.first().unwrap();
    assert_eq!((queue.joined, queue.answered, queue.hung_up), (2, 1, 1));
    assert_eq!(queue.answered_wait_avg_s, Some(30));
    assert_eq!(queue.wait_avg_s, Some(37), "(30 + 45) / 2");
    assert_eq!(report.callbacks.requested, 3);
    assert_eq!(report.callbacks.reach_median_min, Some(150));
    assert_eq!(report.late_callbacks.len(), 2);
    assert_eq!(report.hangups.len(), 2);
    let days: Vec<u64> = report.days.iter().map(|d| d.calls).collect();
    assert_eq!(days, [2, 3, 4]);
}

#[test]
fn report_snapshot() {
    insta::assert_yaml_snapshot!(the_report());
}

#[test]
fn csv_of_each_table() {
    let report = the_report();
    let mut all = String::new();
    for name in TABLES {
        let table = report.table(name).unwrap();
        all.push_str(&format!("## {name}\n{}", csv(&table).unwrap()));
    }
    insta::assert_snapshot!(all);
    assert!(report.table("nothing").is_none());
}

#[test]
fn cells_that_a_spreadsheet_would_run_are_quoted_and_prefixed() {
    let table = Table {
        name: "t",
        columns: vec!["a", "b"],
        rows: vec![Row {
            key: "k".into(),
            cells: vec!["=HYPERLINK(\"x\")".into(), "a,b \"c\"\nd".into()],
        }],
    };
    assert_eq!(
        csv(&table).unwrap(),
        "a,b\n\"'=HYPERLINK(\"\"x\"\")\",\"a,b \"\"c\"\"\nd\"\n"
    );
    for bad in ["+1", "-1", "@SUM(A1)", "\t=1", "\r=1"] {
        assert!(spreadsheet_safe(bad).starts_with('\''), "{bad:?}");
    }
    assert_eq!(spreadsheet_safe("prova"), "prova");
}

#[test]
fn periods_are_local_days() {
    let p = period();
    assert!(p.contains(at(1, 0, 0)));
    assert!(!p.contains(at(4, 0, 0)));
    assert!(p.contains(secs(at(4, 0, 0), -1)));
    assert!(matches!(
        Period::days(date(2026, 12, 3), date(2026, 12, 1), rome()),
        Err(PeriodError::Backwards { .. })
    ));
    assert_eq!(
        Period::days(date(2025, 1, 1), date(2026, 12, 1), rome()),
        Err(PeriodError::TooLong)
    );
    let today = Period::last_days(at(3, 23, 30), 1, rome()).unwrap();
    assert_eq!(
        (today.first, today.last),
        (date(2026, 12, 3), date(2026, 12, 3))
    );
    let week = Period::last_days(at(3, 0, 30), 7, rome()).unwrap();
    assert_eq!(week.first, date(2026, 11, 27));
}

#[test]
fn engine_notes_of_transfers_that_rang_nobody_are_read() {
    assert_eq!(
        nobody_present("nobody of `prova` is present"),
        Some("prova")
    );
    assert_eq!(office_closed("office `prova` is closed now"), Some("prova"));
    assert_eq!(nobody_present("key 1"), None);
}
