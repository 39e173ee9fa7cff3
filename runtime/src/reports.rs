//! Reports for supervisors: how the service did over a period, from the call log and the store.
//!
//! ```text
//!   Store ──Facts::read(period)──► Facts { calls (+ steps), tickets, callbacks, bookings }
//!                                      │ report(facts, period, now, settings)   (sans-IO: no clock,
//!                                      ▼                                          no file, no socket)
//!   Report { overview, volume (hours/days/weeks), endings, offices, queues, callbacks,
//!            late callbacks, tickets, bookings, paths, hang-ups }
//!                                      │ Report::table(name)
//!                                      ▼
//!   Table { columns, rows }  ──► the console's HTML tables and `/reports/NAME.csv`, the CLI
//! ```
//!
//! What the numbers mean (the same words the console shows):
//! - a *call* is one the service answered and logged ([`crate::store::CallRecord`]), counted in
//!   the period when it started;
//! - *served by the flows* (tier-1 containment): the flow reached its end (`hangup`) and never
//!   asked for a person: no transfer, queue or conference state was entered;
//! - *put through*: staff answered a transfer or a queue (the call ended bridged); *person not
//!   reached*: the flow ended the call after asking for a person who did not answer (the
//!   overview's endings add up to the calls);
//! - *abandoned*: the caller hung up before the flow ended; *abandoned waiting* is the part of
//!   them that hung up while staff rang or in a queue; *lost*: no audio or the signalling
//!   dropped; *failed*: every other ending (flow errors, maximum duration, shutdown);
//! - transfers per office come from the call record's handoffs and from the steps that say
//!   nobody was present or the office was closed (no phone rang then, the caller still did
//!   not reach the office); *unanswered* is every transfer not answered;
//! - a callback is *reached* at its first reached attempt (the SLA runs from the request to
//!   it); it is *late* by the one rule of [`crate::promise`] (failed, or still pending or
//!   being worked past its office's promise, [`Settings::promise`]), whenever it was asked
//!   for; *reached late* when reached after its office's promise;
//! - a ticket's time to close runs from its creation to its last closing in its history;
//! - paths are the states a call entered, in order (repeats in a row counted once); the
//!   hang-up place is the last state entered before the caller hung up.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::Serialize;

use crate::engine::{EndReason, TransferOutcome};
use crate::promise::CallbackPromise;
use crate::store::dialing::{AttemptOutcome, DialState};
use crate::store::ticketing::TicketAction;
use crate::store::{
    Booking, CallRecord, Callback, HandoffKind, Resource, Status, StepRecord, Store, StoreError,
    Ticket,
};

/// The longest period a report covers (days).
pub const MAX_DAYS: i64 = 366;
/// The most distinct paths and hang-up places listed (the most frequent first).
pub const MAX_PATH_ROWS: usize = 25;
/// States of a path shown before it is cut (`…`).
pub const MAX_PATH_STATES: usize = 12;

/// Why a period cannot be reported on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("the period ends ({to}) before it starts ({from})")]
    Backwards { from: Date, to: Date },
    #[error("the period is longer than {MAX_DAYS} days")]
    TooLong,
    #[error("the dates cannot be placed in time: {0}")]
    Time(String),
}

/// What a report covers: from the start of local day `first` to the end of local day `last`.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub first: Date,
    pub last: Date,
    pub tz: TimeZone,
    from: Timestamp,
    to: Timestamp,
}

impl Period {
    /// Local days `first..=last` in `tz`.
    pub fn days(first: Date, last: Date, tz: TimeZone) -> Result<Period, PeriodError> {
        if last < first {
            return Err(PeriodError::Backwards {
                from: first,
                to: last,
            });
        }
        let span = first
            .until(last)
            .map_err(|e| PeriodError::Time(e.to_string()))?;
        if i64::from(span.get_days()) >= MAX_DAYS {
            return Err(PeriodError::TooLong);
        }
        let from = tz
            .to_timestamp(first.to_datetime(jiff::civil::Time::midnight()))
            .map_err(|e| PeriodError::Time(e.to_string()))?;
        let next = last
            .checked_add(1.day())
            .map_err(|e| PeriodError::Time(e.to_string()))?;
        let to = tz
            .to_timestamp(next.to_datetime(jiff::civil::Time::midnight()))
            .map_err(|e| PeriodError::Time(e.to_string()))?;
        Ok(Period {
            first,
            last,
            tz,
            from,
            to,
        })
    }

    /// The last `days` local days up to the day of `now` (1: today).
    pub fn last_days(now: Timestamp, days: i64, tz: TimeZone) -> Result<Period, PeriodError> {
        let today = now.to_zoned_datetime(tz.clone()).date();
        let first = today
            .checked_sub((days.max(1) - 1).days())
            .map_err(|e| PeriodError::Time(e.to_string()))?;
        Period::days(first, today, tz)
    }

    /// Whether `at` falls in the period.
    pub fn contains(&self, at: Timestamp) -> bool {
        self.from <= at && at < self.to
    }

    /// The local days of the period, in order.
    fn dates(&self) -> Vec<Date> {
        let mut dates = Vec::new();
        let mut day = self.first;
        while day <= self.last {
            dates.push(day);
            match day.tomorrow() {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        dates
    }
}

/// The targets reports judge against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// How soon each office promised to call back ([`CallbackPromise::is_late`]).
    pub promise: CallbackPromise,
}

/// One logged call and its steps.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedCall {
    pub record: CallRecord,
    pub steps: Vec<StepRecord>,
}

/// What a report is computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The calls started in the period, with their steps.
    pub calls: Vec<LoggedCall>,
    /// Every ticket, callback and booking (the report picks those of the period, and late
    /// callbacks of any time).
    pub tickets: Vec<Ticket>,
    pub callbacks: Vec<Callback>,
    pub bookings: Vec<Booking>,
}

impl Facts {
    /// Reads what a report of `period` needs from `store`: the calls of the period only
    /// ([`Store::calls_between`]), every ticket, callback and booking.
    pub fn read(store: &dyn Store, period: &Period) -> Result<Facts, StoreError> {
        let mut calls = Vec::new();
        for record in store.calls_between(period.from, period.to)? {
            let steps = store.steps(&record.call_id)?;
            calls.push(LoggedCall { record, steps });
        }
        Ok(Facts {
            calls,
            tickets: store.tickets_skipping_damaged()?.0,
            callbacks: store.callbacks()?,
            bookings: store.bookings()?,
        })
    }
}

/// Everything a supervisor reads about a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// First and last local day.
    pub first: String,
    pub last: String,
    pub overview: Overview,
    pub hours: Vec<Bar>,
    pub days: Vec<Bar>,
    pub weeks: Vec<Bar>,
    pub endings: Vec<Ending>,
    pub offices: Vec<OfficeTransfers>,
    pub queues: Vec<OfficeQueue>,
    pub callbacks: Callbacks,
    pub late_callbacks: Vec<LateCallback>,
    pub tickets: Vec<TicketCategory>,
    pub bookings: Vec<BookingResource>,
    pub paths: Vec<PathCount>,
    pub hangups: Vec<HangupPlace>,
}

/// The answers at a glance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub calls: u64,
    /// Served by the flows without a person.
    pub contained: u64,
    /// `contained` of `calls`, in percent with one decimal; `None` without calls.
    pub contained_percent: Option<f64>,
    pub put_through: u64,
    /// The flow ended the call after asking for a person who was not reached.
    pub person_not_reached: u64,
    pub abandoned: u64,
    pub abandoned_waiting: u64,
    pub lost: u64,
    pub failed: u64,
    /// Transfers asked for and not answered, over every office.
    pub transfers_unanswered: u64,
    pub callbacks_late: u64,
}

/// One bar of a chart: its label and count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bar {
    pub label: String,
    pub calls: u64,
}

/// How many calls ended one way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ending {
    /// The call log's wording of the end ([`EndReason::describe`]), or `unknown`.
    pub ending: String,
    pub calls: u64,
}

/// Transfers to one office.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct OfficeTransfers {
    pub office: String,
    pub asked: u64,
    pub answered: u64,
    pub unanswered: u64,
    /// Of the unanswered: phones rang, nobody took it in time.
    pub no_answer: u64,
    pub busy: u64,
    /// No phone rang: nobody of the office was present.
    pub nobody_present: u64,
    /// No phone rang: the office was closed.
    pub closed: u64,
    pub failed: u64,
    /// The caller hung up while it rang.
    pub hung_up: u64,
    pub answer_percent: Option<f64>,
}

/// Callers in one office's queue.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct OfficeQueue {
    pub office: String,
    pub joined: u64,
    pub answered: u64,
    /// Waited the longest wait and went on in the flow.
    pub timed_out: u64,
    /// The caller hung up while waiting.
    pub hung_up: u64,
    /// Left for another reason (office closed, failure).
    pub other: u64,
    /// Average and longest wait of those answered (seconds).
    pub answered_wait_avg_s: Option<u64>,
    pub answered_wait_max_s: Option<u64>,
    /// Average wait of everyone who left the queue, however (seconds).
    pub wait_avg_s: Option<u64>,
}

/// Callback requests asked for in the period.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Callbacks {
    pub requested: u64,
    pub reached: u64,
    /// Reached later than its office's promise.
    pub reached_late: u64,
    pub pending: u64,
    pub failed: u64,
    pub closed: u64,
    pub attempts: u64,
    /// Attempts per request that had any, one decimal.
    pub attempts_avg: Option<f64>,
    /// From the request to the citizen reached (minutes): median and longest.
    pub reach_median_min: Option<u64>,
    pub reach_max_min: Option<u64>,
    /// The promise of offices that name none (minutes): a callback is late after its
    /// office's promise.
    pub target_min: u64,
}

/// A callback late by [`CallbackPromise::is_late`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LateCallback {
    pub reference: String,
    pub office: String,
    /// Local time of the request (`YYYY-MM-DD HH:MM`).
    pub requested: String,
    /// How long ago it was asked for (minutes).
    pub waiting_min: u64,
    pub attempts: u64,
    pub state: String,
    /// Its office's promise (minutes).
    pub promise_min: u64,
}

/// Tickets of one category opened in the period.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TicketCategory {
    pub category: String,
    pub opened: u64,
    pub open: u64,
    pub closed: u64,
    pub cancelled: u64,
    /// Open and past their due time.
    pub overdue: u64,
    /// From opening to closing (hours, one decimal): median and longest.
    pub close_median_h: Option<f64>,
    pub close_max_h: Option<f64>,
}

/// Bookings of one office or service made in the period.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BookingResource {
    /// `service/NAME` or `office/NAME`.
    pub resource: String,
    pub booked: u64,
    /// Still standing.
    pub open: u64,
    pub cancelled: u64,
}

/// A path through the flows and how many calls took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathCount {
    pub flow: String,
    /// States entered, ` > ` between them.
    pub path: String,
    pub calls: u64,
}

/// A state callers hung up in, and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HangupPlace {
    pub flow: String,
    pub state: String,
    pub calls: u64,
}

/// How one call went, as reports count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Contained,
    PutThrough,
    Abandoned {
        waiting: bool,
    },
    Lost,
    Failed,
    /// Ended by the flow after asking for a person who was not reached.
    PersonNotReached,
}

/// A step's note when the flow entered a state that asks for a person.
fn asks_for_a_person(note: &str) -> bool {
    matches!(note, "transfer" | "queue" | "conference")
}

/// The office of an engine note `nobody of `X` is present` (no transfer rang).
fn nobody_present(note: &str) -> Option<&str> {
    note.strip_prefix("nobody of `")?
        .strip_suffix("` is present")
}

/// The office of an engine note `office `X` is closed now` (no transfer rang).
fn office_closed(note: &str) -> Option<&str> {
    note.strip_prefix("office `")?
        .strip_suffix("` is closed now")
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

fn one_decimal(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

fn median(values: &mut [i64]) -> Option<i64> {
    values.sort_unstable();
    let len = values.len();
    if len == 0 {
        return None;
    }
    let middle = values.get(len / 2).copied()?;
    if len % 2 == 1 {
        Some(middle)
    } else {
        let before = values.get(len / 2 - 1).copied()?;
        Some((before + middle) / 2)
    }
}

fn seconds(from: Timestamp, to: Timestamp) -> i64 {
    to.duration_since(from).as_secs().max(0)
}

fn local_minute(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// The report of `period` from `facts`, judged at `now`.
pub fn report(facts: &Facts, period: &Period, now: Timestamp, settings: &Settings) -> Report {
    let tz = &period.tz;
    let mut overview = Overview {
        calls: 0,
        contained: 0,
        contained_percent: None,
        put_through: 0,
        person_not_reached: 0,
        abandoned: 0,
        abandoned_waiting: 0,
        lost: 0,
        failed: 0,
        transfers_unanswered: 0,
        callbacks_late: 0,
    };
    let mut hours = [0u64; 24];
    let dates = period.dates();
    let mut days: BTreeMap<Date, u64> = dates.iter().map(|d| (*d, 0)).collect();
    let mut weeks: BTreeMap<(i16, i8), u64> = BTreeMap::new();
    for date in &dates {
        let week = date.iso_week_date();
        weeks.insert((week.year(), week.week()), 0);
    }
    let mut endings: BTreeMap<String, u64> = BTreeMap::new();
    let mut offices: BTreeMap<String, OfficeTransfers> = BTreeMap::new();
    let mut queues: BTreeMap<String, (OfficeQueue, Vec<i64>, Vec<i64>)> = BTreeMap::new();
    let mut paths: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut hangups: BTreeMap<(String, String), u64> = BTreeMap::new();

    for call in facts
        .calls
        .iter()
        .filter(|c| period.contains(c.record.started_at))
    {
        let record = &call.record;
        overview.calls += 1;
        let local = record.started_at.to_zoned_datetime(tz.clone());
        if let Some(count) = hours.get_mut(usize::from(local.hour().unsigned_abs())) {
            *count += 1;
        }
        *days.entry(local.date()).or_default() += 1;
        let week = local.date().iso_week_date();
        *weeks.entry((week.year(), week.week())).or_default() += 1;
        let ending = record
            .outcome
            .clone()
            .unwrap_or_else(|| String::from("unknown"));
        *endings.entry(ending).or_default() += 1;

        // Transfers and queues, from the record's handoffs and the steps' refusals.
        for handoff in &record.handoffs {
            match handoff.kind {
                HandoffKind::Transfer => {
                    let row = offices.entry(handoff.office.clone()).or_default();
                    row.asked += 1;
                    match handoff.outcome {
                        Some(TransferOutcome::Answered) => row.answered += 1,
                        Some(TransferOutcome::NoAnswer | TransferOutcome::Timeout) => {
                            row.no_answer += 1
                        }
                        Some(TransferOutcome::Busy) => row.busy += 1,
                        Some(TransferOutcome::Closed) => row.closed += 1,
                        Some(TransferOutcome::Failed) => row.failed += 1,
                        None => row.hung_up += 1,
                    }
                }
                HandoffKind::Queue => {
                    let (row, answered_waits, waits) =
                        queues.entry(handoff.office.clone()).or_default();
                    row.joined += 1;
                    let left = handoff.ended_at.or(record.ended_at);
                    let wait = left.map(|left| seconds(handoff.asked_at, left));
                    match handoff.outcome {
                        Some(TransferOutcome::Answered) => {
                            row.answered += 1;
                            answered_waits.extend(wait);
                        }
                        Some(TransferOutcome::Timeout) => row.timed_out += 1,
                        None => row.hung_up += 1,
                        Some(
                            TransferOutcome::NoAnswer
                            | TransferOutcome::Busy
                            | TransferOutcome::Failed
                            | TransferOutcome::Closed,
                        ) => row.other += 1,
                    }
                    waits.extend(wait);
                }
            }
        }
        for step in &call.steps {
            if let Some(office) = nobody_present(&step.trace.note) {
                let row = offices.entry(office.to_owned()).or_default();
                row.asked += 1;
                row.nobody_present += 1;
            } else if let Some(office) = office_closed(&step.trace.note) {
                let row = offices.entry(office.to_owned()).or_default();
                row.asked += 1;
                row.closed += 1;
            }
        }

        // The states entered, in order (repeats in a row once).
        let mut states: Vec<(&str, &str)> = Vec::new();
        for step in &call.steps {
            let here = (step.trace.flow.as_str(), step.trace.state.as_str());
            if states.last() != Some(&here) {
                states.push(here);
            }
        }
        let path: Vec<String> = states
            .iter()
            .take(MAX_PATH_STATES)
            .map(|(flow, state)| {
                if *flow == record.flow {
                    (*state).to_owned()
                } else {
                    format!("{flow}.{state}")
                }
            })
            .chain((states.len() > MAX_PATH_STATES).then(|| String::from("…")))
            .collect();
        *paths
            .entry((record.flow.clone(), path.join(" > ")))
            .or_default() += 1;

        let person = call
            .steps
            .iter()
            .any(|step| asks_for_a_person(&step.trace.note));
        let waiting = record.handoffs.last().is_some_and(|h| h.outcome.is_none());
        let reason = record
            .outcome
            .clone()
            .and_then(|text| EndReason::try_from(text).ok());
        let kind = match reason {
            Some(EndReason::FlowHungUp) if person => Kind::PersonNotReached,
            Some(EndReason::FlowHungUp) => Kind::Contained,
            Some(EndReason::Bridged) => Kind::PutThrough,
            Some(EndReason::CallerHungUp) => Kind::Abandoned { waiting },
            Some(EndReason::CallerSilent | EndReason::SignallingLost) => Kind::Lost,
            Some(
                EndReason::MaxDuration
                | EndReason::NoFlow
                | EndReason::NoCurrentState
                | EndReason::DeadEnd
                | EndReason::ReturnWithNothing
                | EndReason::NoSuchState
                | EndReason::TooManySteps
                | EndReason::LoopLimit
                | EndReason::ServerShutdown,
            )
            | None => Kind::Failed,
        };
        match kind {
            Kind::Contained => overview.contained += 1,
            Kind::PutThrough => overview.put_through += 1,
            Kind::Abandoned { waiting } => {
                overview.abandoned += 1;
                if waiting {
                    overview.abandoned_waiting += 1;
                }
                if let Some(step) = call.steps.last() {
                    *hangups
                        .entry((step.trace.flow.clone(), step.trace.state.clone()))
                        .or_default() += 1;
                }
            }
            Kind::Lost => overview.lost += 1,
            Kind::Failed => overview.failed += 1,
            Kind::PersonNotReached => overview.person_not_reached += 1,
        }
    }
    overview.contained_percent = percent(overview.contained, overview.calls);

    let offices: Vec<OfficeTransfers> = offices
        .into_iter()
        .map(|(office, mut row)| {
            row.office = office;
            row.unanswered = row.asked - row.answered.min(row.asked);
            row.answer_percent = percent(row.answered, row.asked);
            row
        })
        .collect();
    overview.transfers_unanswered = offices.iter().map(|row| row.unanswered).sum();
    let queues = queues
        .into_iter()
        .map(|(office, (mut row, answered_waits, waits))| {
            row.office = office;
            let average = |waits: &[i64]| {
                (!waits.is_empty())
                    .then(|| (waits.iter().sum::<i64>() / waits.len() as i64).unsigned_abs())
            };
            row.answered_wait_avg_s = average(&answered_waits);
            row.answered_wait_max_s = answered_waits.iter().max().map(|w| w.unsigned_abs());
            row.wait_avg_s = average(&waits);
            row
        })
        .collect();

    let (callbacks, late_callbacks) = callbacks(facts, period, now, settings);
    overview.callbacks_late = late_callbacks.len() as u64;

    let mut paths: Vec<PathCount> = paths
        .into_iter()
        .map(|((flow, path), calls)| PathCount { flow, path, calls })
        .collect();
    paths.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.path.cmp(&b.path)));
    paths.truncate(MAX_PATH_ROWS);
    let mut hangups: Vec<HangupPlace> = hangups
        .into_iter()
        .map(|((flow, state), calls)| HangupPlace { flow, state, calls })
        .collect();
    hangups.sort_by(|a, b| {
        b.calls
            .cmp(&a.calls)
            .then_with(|| (&a.flow, &a.state).cmp(&(&b.flow, &b.state)))
    });
    hangups.truncate(MAX_PATH_ROWS);

    Report {
        first: period.first.to_string(),
        last: period.last.to_string(),
        overview,
        hours: hours
            .iter()
            .enumerate()
            .map(|(hour, calls)| Bar {
                label: format!("{hour:02}"),
                calls: *calls,
            })
            .collect(),
        days: days
            .into_iter()
            .map(|(date, calls)| Bar {
                label: date.to_string(),
                calls,
            })
            .collect(),
        weeks: weeks
            .into_iter()
            .map(|((year, week), calls)| Bar {
                label: format!("{year}-W{week:02}"),
                calls,
            })
            .collect(),
        endings: endings
            .into_iter()
            .map(|(ending, calls)| Ending { ending, calls })
            .collect(),
        offices,
        queues,
        callbacks,
        late_callbacks,
        tickets: tickets(facts, period, now),
        bookings: bookings(facts, period),
        paths,
        hangups,
    }
}

fn callbacks(
    facts: &Facts,
    period: &Period,
    now: Timestamp,
    settings: &Settings,
) -> (Callbacks, Vec<LateCallback>) {
    let promise = &settings.promise;
    let minutes = |d: SignedDuration| (d.as_secs().max(0) / 60).unsigned_abs();
    let mut report = Callbacks {
        target_min: minutes(promise.default_within()),
        ..Callbacks::default()
    };
    let mut with_attempts = 0u64;
    let mut reach_minutes = Vec::new();
    let mut late = Vec::new();
    for callback in &facts.callbacks {
        let created = callback.request.created_at;
        let reached_at = callback
            .dialing
            .attempts
            .iter()
            .find(|a| a.outcome == AttemptOutcome::Reached)
            .map(|a| a.at);
        let within = promise.within(&callback.request.office);
        if promise.is_late(callback, now) {
            late.push(LateCallback {
                reference: callback.reference.clone(),
                office: callback.request.office.clone(),
                requested: local_minute(created, &period.tz),
                waiting_min: (seconds(created, now) / 60).unsigned_abs(),
                attempts: callback.dialing.attempts.len() as u64,
                state: callback.dialing.state.name().to_owned(),
                promise_min: minutes(within),
            });
        }
        if !period.contains(created) {
            continue;
        }
        report.requested += 1;
        let attempts = callback.dialing.attempts.len() as u64;
        report.attempts += attempts;
        if attempts > 0 {
            with_attempts += 1;
        }
        if let Some(at) = reached_at {
            report.reached += 1;
            if at.duration_since(created) > within {
                report.reached_late += 1;
            }
            reach_minutes.push(seconds(created, at) / 60);
        }
        match callback.dialing.state {
            DialState::Pending | DialState::Working { .. } => report.pending += 1,
            DialState::Failed { .. } => report.failed += 1,
            DialState::Closed { .. } => report.closed += 1,
            DialState::Reached => {}
        }
    }
    report.attempts_avg =
        (with_attempts > 0).then(|| one_decimal(report.attempts as f64 / with_attempts as f64));
    report.reach_max_min = reach_minutes.iter().max().map(|m| m.unsigned_abs());
    report.reach_median_min = median(&mut reach_minutes).map(i64::unsigned_abs);
    late.sort_by(|a, b| {
        b.waiting_min
            .cmp(&a.waiting_min)
            .then_with(|| a.reference.cmp(&b.reference))
    });
    (report, late)
}

fn tickets(facts: &Facts, period: &Period, now: Timestamp) -> Vec<TicketCategory> {
    let mut rows: BTreeMap<String, (TicketCategory, Vec<i64>)> = BTreeMap::new();
    for ticket in facts
        .tickets
        .iter()
        .filter(|t| period.contains(t.request.created_at))
    {
        let (row, times) = rows.entry(ticket.request.category.clone()).or_default();
        row.opened += 1;
        match ticket.status {
            Status::Open => {
                row.open += 1;
                if ticket.request.due_at.is_some_and(|due| due < now) {
                    row.overdue += 1;
                }
            }
            Status::Closed => {
                row.closed += 1;
                let closed_at = ticket
                    .work
                    .history
                    .iter()
                    .rev()
                    .find(|event| matches!(event.what, TicketAction::Close { .. }))
                    .map(|event| event.at);
                times.extend(closed_at.map(|at| seconds(ticket.request.created_at, at)));
            }
            Status::Cancelled => row.cancelled += 1,
        }
    }
    rows.into_iter()
        .map(|(category, (mut row, mut times))| {
            row.category = category;
            let hours = |s: i64| one_decimal(s as f64 / 3600.0);
            row.close_max_h = times.iter().max().map(|s| hours(*s));
            row.close_median_h = median(&mut times).map(hours);
            row
        })
        .collect()
}

fn bookings(facts: &Facts, period: &Period) -> Vec<BookingResource> {
    let mut rows: BTreeMap<String, BookingResource> = BTreeMap::new();
    for booking in facts
        .bookings
        .iter()
        .filter(|b| period.contains(b.created_at))
    {
        let key = match &booking.resource {
            Resource::Office(_) | Resource::Service(_) => booking.resource.key(),
        };
        let row = rows.entry(key).or_default();
        row.booked += 1;
        match booking.status {
            Status::Open => row.open += 1,
            Status::Cancelled => row.cancelled += 1,
            Status::Closed => {}
        }
    }
    rows.into_iter()
        .map(|(resource, mut row)| {
            row.resource = resource;
            row
        })
        .collect()
}

/// One report as rows: what the console's tables show and the CSV files hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub name: &'static str,
    /// Column names (stable, English: the CSV header, and the key of the console's words).
    pub columns: Vec<&'static str>,
    pub rows: Vec<Row>,
}

/// One row: a key naming it (for cell ids) and its cells, as text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub key: String,
    pub cells: Vec<String>,
}

/// The tables of a report, by name, in the order the console shows them.
pub const TABLES: [&str; 13] = [
    "overview",
    "hours",
    "days",
    "weeks",
    "endings",
    "offices",
    "queues",
    "callbacks",
    "late_callbacks",
    "tickets",
    "bookings",
    "paths",
    "hangups",
];

fn number(value: u64) -> String {
    value.to_string()
}

fn maybe<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

impl Report {
    /// Report `name` as a table; `None` when there is no such report ([`TABLES`]).
    pub fn table(&self, name: &str) -> Option<Table> {
        let bars = |name: &'static str, key: &'static str, bars: &[Bar]| Table {
            name,
            columns: vec![key, "calls"],
            rows: bars
                .iter()
                .map(|bar| Row {
                    key: bar.label.clone(),
                    cells: vec![bar.label.clone(), number(bar.calls)],
                })
                .collect(),
        };
        let o = &self.overview;
        let metric = |key: &str, value: String| Row {
            key: key.to_owned(),
            cells: vec![key.to_owned(), value],
        };
        let table = match name {
            "overview" => Table {
                name: "overview",
                columns: vec!["measure", "value"],
                rows: vec![
                    metric("calls", number(o.calls)),
                    metric("contained", number(o.contained)),
                    metric("contained_percent", maybe(o.contained_percent)),
                    metric("put_through", number(o.put_through)),
                    metric("person_not_reached", number(o.person_not_reached)),
                    metric("abandoned", number(o.abandoned)),
                    metric("abandoned_waiting", number(o.abandoned_waiting)),
                    metric("lost", number(o.lost)),
                    metric("failed", number(o.failed)),
                    metric("transfers_unanswered", number(o.transfers_unanswered)),
                    metric("callbacks_late", number(o.callbacks_late)),
                ],
            },
            "hours" => bars("hours", "hour", &self.hours),
            "days" => bars("days", "day", &self.days),
            "weeks" => bars("weeks", "week", &self.weeks),
            "endings" => Table {
                name: "endings",
                columns: vec!["ending", "calls"],
                rows: self
                    .endings
                    .iter()
                    .map(|e| Row {
                        key: e.ending.clone(),
                        cells: vec![e.ending.clone(), number(e.calls)],
                    })
                    .collect(),
            },
            "offices" => Table {
                name: "offices",
                columns: vec![
                    "office",
                    "asked",
                    "answered",
                    "unanswered",
                    "answer_percent",
                    "no_answer",
                    "busy",
                    "nobody_present",
                    "closed",
                    "failed",
                    "hung_up",
                ],
                rows: self
                    .offices
                    .iter()
                    .map(|r| Row {
                        key: r.office.clone(),
                        cells: vec![
                            r.office.clone(),
                            number(r.asked),
                            number(r.answered),
                            number(r.unanswered),
                            maybe(r.answer_percent),
                            number(r.no_answer),
                            number(r.busy),
                            number(r.nobody_present),
                            number(r.closed),
                            number(r.failed),
                            number(r.hung_up),
                        ],
                    })
                    .collect(),
            },
            "queues" => Table {
                name: "queues",
                columns: vec![
                    "office",
                    "joined",
                    "answered",
                    "timed_out",
                    "hung_up",
                    "other",
                    "answered_wait_avg_s",
                    "answered_wait_max_s",
                    "wait_avg_s",
                ],
                rows: self
                    .queues
                    .iter()
                    .map(|r| Row {
                        key: r.office.clone(),
                        cells: vec![
                            r.office.clone(),
                            number(r.joined),
                            number(r.answered),
                            number(r.timed_out),
                            number(r.hung_up),
                            number(r.other),
                            maybe(r.answered_wait_avg_s),
                            maybe(r.answered_wait_max_s),
                            maybe(r.wait_avg_s),
                        ],
                    })
                    .collect(),
            },
            "callbacks" => {
                let c = &self.callbacks;
                Table {
                    name: "callbacks",
                    columns: vec!["measure", "value"],
                    rows: vec![
                        metric("requested", number(c.requested)),
                        metric("reached", number(c.reached)),
                        metric("reached_late", number(c.reached_late)),
                        metric("pending", number(c.pending)),
                        metric("given_up", number(c.failed)),
                        metric("closed", number(c.closed)),
                        metric("attempts", number(c.attempts)),
                        metric("attempts_avg", maybe(c.attempts_avg)),
                        metric("reach_median_min", maybe(c.reach_median_min)),
                        metric("reach_max_min", maybe(c.reach_max_min)),
                        metric("target_min", number(c.target_min)),
                    ],
                }
            }
            "late_callbacks" => Table {
                name: "late_callbacks",
                columns: vec![
                    "reference",
                    "office",
                    "requested",
                    "waiting_min",
                    "attempts",
                    "state",
                    "promise_min",
                ],
                rows: self
                    .late_callbacks
                    .iter()
                    .map(|r| Row {
                        key: r.reference.clone(),
                        cells: vec![
                            r.reference.clone(),
                            r.office.clone(),
                            r.requested.clone(),
                            number(r.waiting_min),
                            number(r.attempts),
                            r.state.clone(),
                            number(r.promise_min),
                        ],
                    })
                    .collect(),
            },
            "tickets" => Table {
                name: "tickets",
                columns: vec![
                    "category",
                    "opened",
                    "open",
                    "closed",
                    "cancelled",
                    "overdue",
                    "close_median_h",
                    "close_max_h",
                ],
                rows: self
                    .tickets
                    .iter()
                    .map(|r| Row {
                        key: r.category.clone(),
                        cells: vec![
                            r.category.clone(),
                            number(r.opened),
                            number(r.open),
                            number(r.closed),
                            number(r.cancelled),
                            number(r.overdue),
                            maybe(r.close_median_h),
                            maybe(r.close_max_h),
                        ],
                    })
                    .collect(),
            },
            "bookings" => Table {
                name: "bookings",
                columns: vec!["resource", "booked", "open", "cancelled"],
                rows: self
                    .bookings
                    .iter()
                    .map(|r| Row {
                        key: r.resource.clone(),
                        cells: vec![
                            r.resource.clone(),
                            number(r.booked),
                            number(r.open),
                            number(r.cancelled),
                        ],
                    })
                    .collect(),
            },
            "paths" => Table {
                name: "paths",
                columns: vec!["flow", "path", "calls"],
                rows: self
                    .paths
                    .iter()
                    .enumerate()
                    .map(|(i, r)| Row {
                        key: (i + 1).to_string(),
                        cells: vec![r.flow.clone(), r.path.clone(), number(r.calls)],
                    })
                    .collect(),
            },
            "hangups" => Table {
                name: "hangups",
                columns: vec!["flow", "state", "calls"],
                rows: self
                    .hangups
                    .iter()
                    .map(|r| Row {
                        key: format!("{}.{}", r.flow, r.state),
                        cells: vec![r.flow.clone(), r.state.clone(), number(r.calls)],
                    })
                    .collect(),
            },
            _ => return None,
        };
        Some(table)
    }
}

/// A cell as a spreadsheet must not run it: text starting with `=`, `+`, `-`, `@` (or a tab or
/// carriage return, which some programs skip before looking) gets a leading `'`.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{cell}")),
        _ => std::borrow::Cow::Borrowed(cell),
    }
}

/// `table` as CSV text (RFC 4180 quoting by the `csv` crate, every cell made
/// [`spreadsheet_safe`]), the column names first.
pub fn csv(table: &Table) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&table.columns)?;
    for row in &table.rows {
        writer.write_record(
            row.cells
                .iter()
                .map(|cell| spreadsheet_safe(cell).into_owned()),
        )?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests;
