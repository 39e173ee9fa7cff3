//! Callback requests with the dialer: leases taken atomically across threads and
//! restarts, attempts kept, old (schema 1) callback records still readable.

#![allow(clippy::unwrap_used)] // Tests may unwrap, helpers included: a panic is a failed test.

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use centralino_runtime::store::dialing::{
    AfterAttempt, Attempt, AttemptOutcome, Change, DialState, Lease, Refusal,
};
use centralino_runtime::store::{
    CALLBACK_SCHEMA, NewCallback, SledStore, Status, Store, StoreConfig,
};
use jiff::Timestamp;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn new_callback() -> NewCallback {
    NewCallback {
        office: "prova".into(),
        number: "0755771234".into(),
        note: Some("certificato di residenza".into()),
        call_id: "call-cb".into(),
        created_at: at("2026-03-02T08:00:00Z"),
        window: None,
        ticket: None,
        category: None,
        citizen_first: false,
        language: None,
    }
}

fn take(holder: &str, now: &str, until: &str) -> Change {
    Change::TakeLease {
        holder: holder.into(),
        now: at(now),
        until: at(until),
    }
}

/// Opens `dir`, waiting while the previous handle (same process) releases its lock.
fn reopen(dir: &Path) -> SledStore {
    SledStore::open(dir, StoreConfig::default()).unwrap()
}

#[test]
fn of_many_threads_taking_one_request_exactly_one_gets_it() {
    let store = SledStore::temporary().unwrap();
    let reference = store.create_callback(new_callback()).unwrap().reference;
    let workers = 8;
    let barrier = Arc::new(Barrier::new(workers));
    let handles: Vec<_> = (0..workers)
        .map(|n| {
            let store = store.clone();
            let reference = reference.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                store
                    .change_callback(
                        &reference,
                        &take(
                            &format!("worker-{n}"),
                            "2026-03-02T09:00:00Z",
                            "2026-03-02T09:05:00Z",
                        ),
                    )
                    .unwrap()
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let DialState::Working { lease } = &winners[0].dialing.state else {
        panic!("not working: {:?}", winners[0]);
    };
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(
            refused,
            &Refusal::HeldBy {
                holder: lease.holder.clone(),
                until: at("2026-03-02T09:05:00Z")
            }
        );
    }
    assert_eq!(
        store.callback(&reference).unwrap().unwrap().dialing.state,
        DialState::Working {
            lease: lease.clone()
        }
    );
}

/// A server killed while working a request leaves its lease on disk: the next
/// server cannot take the request before the lease runs out, and then can; the
/// attempt it records is the only one.
#[test]
fn a_lease_survives_a_restart_and_is_taken_again_once_it_runs_out() {
    let dir = tempfile::tempdir().unwrap();
    let reference = {
        let store = reopen(dir.path());
        let reference = store.create_callback(new_callback()).unwrap().reference;
        store
            .change_callback(
                &reference,
                &take("first", "2026-03-02T09:00:00Z", "2026-03-02T09:02:00Z"),
            )
            .unwrap()
            .unwrap();
        reference
        // Dropped without releasing: the crash.
    };
    let store = reopen(dir.path());
    assert_eq!(
        store
            .change_callback(
                &reference,
                &take("second", "2026-03-02T09:01:00Z", "2026-03-02T09:03:00Z")
            )
            .unwrap(),
        Err(Refusal::HeldBy {
            holder: "first".into(),
            until: at("2026-03-02T09:02:00Z")
        })
    );
    store
        .change_callback(
            &reference,
            &take("second", "2026-03-02T09:02:00Z", "2026-03-02T09:04:00Z"),
        )
        .unwrap()
        .unwrap();
    let reached = store
        .change_callback(
            &reference,
            &Change::FinishAttempt {
                holder: "second".into(),
                attempt: Attempt {
                    at: at("2026-03-02T09:02:30Z"),
                    outcome: AttemptOutcome::Reached,
                    staff: Some("201".into()),
                    detail: None,
                },
                then: AfterAttempt::Reached,
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(reached.dialing.attempts.len(), 1);
    let closed = store
        .change_callback(
            &reference,
            &Change::Close {
                at: at("2026-03-02T09:10:00Z"),
                by: Some("201".into()),
                note: Some("spedito".into()),
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(closed.status, Status::Closed);
    drop(store);
    let store = reopen(dir.path());
    let read = store.callback(&reference).unwrap().unwrap();
    assert_eq!(read, closed);
    assert_eq!(read.schema, CALLBACK_SCHEMA);
}

#[test]
fn an_old_callback_record_reads_as_pending_and_can_be_worked() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("callbacks")
            .unwrap()
            .insert(
                "RC-2025-000007",
                br#"{"schema":1,"reference":"RC-2025-000007","status":"open","office":"prova","number":"0755771234","note":null,"call_id":"call-old","created_at":"2025-11-02T08:00:00Z"}"#.to_vec(),
            )
            .unwrap();
        db.flush().unwrap();
    }
    let started = Instant::now();
    let store = loop {
        match SledStore::open(dir.path(), StoreConfig::default()) {
            Ok(store) => break store,
            Err(error) if started.elapsed() < Duration::from_secs(5) => {
                let _ = error;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => panic!("{error}"),
        }
    };
    let old = store.callback("RC-2025-000007").unwrap().unwrap();
    assert_eq!(old.schema, 1);
    assert_eq!(old.dialing.state, DialState::Pending);
    assert!(old.dialing.attempts.is_empty());
    assert_eq!(old.request.window, None);
    let taken = store
        .change_callback(
            "RC-2025-000007",
            &take("a", "2026-03-02T09:00:00Z", "2026-03-02T09:05:00Z"),
        )
        .unwrap()
        .unwrap();
    assert_eq!(taken.schema, CALLBACK_SCHEMA);
    assert_eq!(
        taken.dialing.state,
        DialState::Working {
            lease: Lease {
                holder: "a".into(),
                until: at("2026-03-02T09:05:00Z")
            }
        }
    );
    assert_eq!(taken.request, old.request);
    assert_eq!(
        store
            .change_callback(
                "RC-2099-000001",
                &Change::Close {
                    at: at("2026-03-02T09:00:00Z"),
                    by: None,
                    note: None
                }
            )
            .unwrap(),
        Err(Refusal::NotFound)
    );
}
