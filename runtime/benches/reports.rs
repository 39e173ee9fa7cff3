//! What a report reads (`cargo bench -p centralino-runtime --bench reports`).
//!
//! A temporary store with 10,000 logged calls (two steps each) spread over 100 days; a
//! report of the last 7 days reads its facts the old way (the whole call log, filtered) and
//! the new way (`Store::calls_between`: the time index's range only), 20 times each. Prints
//! the medians and the calls read; no assertion: the figures go to docs/benchmarks.md.

use std::time::{Duration, Instant};

use centralino_runtime::engine::Trace;
use centralino_runtime::reports::{Facts, Period};
use centralino_runtime::store::{CallRecord, SledStore, StepRecord, Store};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

const CALLS: i64 = 10_000;
const DAYS: i64 = 100;
const RUNS: usize = 20;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn main() {
    let store = SledStore::temporary().expect("a temporary store");
    let end: Timestamp = "2026-12-05T12:00:00Z".parse().expect("a time");
    let spacing = DAYS * 24 * 3600 / CALLS;
    for n in 0..CALLS {
        let started_at = end
            .checked_sub(SignedDuration::from_secs((CALLS - n) * spacing))
            .expect("a time");
        let call_id = format!("call-{n:05}");
        store
            .save_call(CallRecord {
                schema: 1,
                call_id: call_id.clone(),
                caller: String::from("+390755771234"),
                number: String::from("100"),
                flow: String::from("main"),
                graph_version: String::from("sha256:v"),
                started_at,
                ended_at: Some(started_at),
                outcome: Some(String::from("the flow hung up")),
                channel: String::from("sip"),
                handoffs: Vec::new(),
            })
            .expect("saved");
        for seq in 1..=2 {
            store
                .append_step(StepRecord {
                    schema: 1,
                    call_id: call_id.clone(),
                    seq,
                    at: started_at,
                    trace: Trace {
                        flow: String::from("main"),
                        state: format!("s{seq}"),
                        location: String::from("main.flow:3:3"),
                        note: String::new(),
                    },
                })
                .expect("step saved");
        }
    }
    let tz = TimeZone::get("Europe/Rome").expect("Rome");
    let period = Period::last_days(end, 7, tz).expect("a period");

    let mut whole = Vec::new();
    let mut in_period = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        // What Facts::read did before: every call, then the period's.
        let calls: Vec<CallRecord> = store
            .calls()
            .expect("calls")
            .into_iter()
            .filter(|c| period.contains(c.started_at))
            .collect();
        for call in &calls {
            store.steps(&call.call_id).expect("steps");
        }
        in_period = calls.len();
        whole.push(started.elapsed());
    }
    let mut ranged = Vec::new();
    let mut read = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let facts = Facts::read(&store, &period).expect("facts");
        read = facts.calls.len();
        ranged.push(started.elapsed());
    }
    assert_eq!(read, in_period, "both ways read the same calls");
    println!(
        "{CALLS} calls over {DAYS} days, a 7-day report ({in_period} calls in it), median of {RUNS}:"
    );
    println!("  whole call log, filtered: {:?}", median(whole));
    println!("  time index range:         {:?}", median(ranged));
}
