//! The dialer task against a real (temporary) store, with the SIP side scripted:
//! a refused number is never handed to the placer, a no-answer is retried, a
//! reached-and-closed attempt closes the request; cancelling the task ends the
//! running attempt and gives the request back (a crash leaves the lease to run
//! out instead: tests/store_dialing.rs); a running attempt's lease is written again
//! only when half of it is gone, and before it runs out.

#![allow(clippy::unwrap_used)] // Tests may unwrap, helpers included: a panic is a failed test.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use centralino_runtime::dialer::attempt::Finished;
use centralino_runtime::dialer::rule::NumberRule;
use centralino_runtime::dialer::schedule::{DialerSettings, OfficeHours, Scheduler};
use centralino_runtime::dialer::task::{DialerTask, Job, Placer, TaskSettings};
use centralino_runtime::people::presence::Status;
use centralino_runtime::store::dialing::{AttemptOutcome, DialState};
use centralino_runtime::store::{NewCallback, SledStore, Status as RecordStatus, Store};
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

/// Answers each job with the next scripted outcome; `None`: wait until cancelled.
struct Scripted {
    outcomes: Mutex<Vec<Option<Finished>>>,
    jobs: Mutex<Vec<Job>>,
}

impl Placer for Scripted {
    fn place(
        &self,
        job: Job,
        token: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Finished> + Send>> {
        self.jobs.lock().unwrap().push(job);
        let next = {
            let mut outcomes = self.outcomes.lock().unwrap();
            if outcomes.is_empty() {
                None
            } else {
                outcomes.remove(0)
            }
        };
        Box::pin(async move {
            match next {
                Some(finished) => finished,
                None => {
                    token.cancelled().await;
                    Finished::Skipped
                }
            }
        })
    }
}

fn callback(store: &SledStore, number: &str) -> String {
    store
        .create_callback(NewCallback {
            office: "prova".into(),
            number: number.into(),
            note: Some("certificato".into()),
            call_id: format!("call-{number}"),
            created_at: Timestamp::now(),
            window: None,
            ticket: None,
            category: None,
            citizen_first: false,
            language: None,
        })
        .unwrap()
        .reference
}

fn dialer(store: &SledStore, placer: Arc<Scripted>, token: CancellationToken) -> DialerTask {
    dialer_with_lease(store, placer, token, Duration::from_secs(60))
}

fn dialer_with_lease(
    store: &SledStore,
    placer: Arc<Scripted>,
    token: CancellationToken,
    lease: Duration,
) -> DialerTask {
    let settings = DialerSettings {
        per_office: 1,
        max_attempts: 3,
        backoff: Duration::ZERO,
        backoff_max: Duration::ZERO,
        skip_delay: Duration::ZERO,
        rule: NumberRule::default(),
    };
    let offices = BTreeMap::from([(
        "prova".to_string(),
        OfficeHours {
            calendar: None,
            staff: vec!["201".into()],
        },
    )]);
    DialerTask::new(
        Arc::new(store.clone()),
        Scheduler::new(settings, offices),
        placer,
        Box::new(|| BTreeMap::from([("201".to_string(), Status::Available)])),
        TaskSettings {
            holder: "test-dialer".into(),
            tick: Duration::from_millis(20),
            lease,
        },
        token,
    )
}

/// Until when the request's lease holds (it must be being worked).
fn lease_until(store: &SledStore, reference: &str) -> Timestamp {
    match store.callback(reference).unwrap().unwrap().dialing.state {
        DialState::Working { lease } => {
            assert_eq!(lease.holder, "test-dialer");
            lease.until
        }
        other => panic!("{reference} is not being worked: {other:?}"),
    }
}

/// Starts a dialer with `lease` whose one attempt waits until cancelled; runs `check` (with the
/// store and the request) once the attempt started, then stops the dialer.
async fn while_an_attempt_runs<T: Send + 'static>(
    lease: Duration,
    check: impl FnOnce(&SledStore, &str) -> T + Send + 'static,
) -> T {
    let store = SledStore::temporary().unwrap();
    let reference = callback(&store, "0755771234");
    let placer = Arc::new(Scripted {
        outcomes: Mutex::new(vec![None]),
        jobs: Mutex::new(Vec::new()),
    });
    let token = CancellationToken::new();
    let task = tokio::spawn(dialer_with_lease(&store, placer.clone(), token.clone(), lease).run());
    let checked = tokio::task::spawn_blocking(move || {
        wait_for("the attempt to start", || {
            !placer.jobs.lock().unwrap().is_empty()
        });
        check(&store, &reference)
    })
    .await
    .unwrap();
    token.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    checked
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_numbers_are_never_placed_and_a_retry_ends_closed() {
    let store = SledStore::temporary().unwrap();
    let premium = callback(&store, "899123456");
    let good = callback(&store, "+39 075 577 1234");
    let placer = Arc::new(Scripted {
        outcomes: Mutex::new(vec![
            Some(Finished::Ended {
                outcome: AttemptOutcome::NoAnswer,
                closed: false,
                detail: Some("SIP 480".into()),
            }),
            Some(Finished::Ended {
                outcome: AttemptOutcome::Reached,
                closed: true,
                detail: None,
            }),
        ]),
        jobs: Mutex::new(Vec::new()),
    });
    let token = CancellationToken::new();
    let task = tokio::spawn(dialer(&store, placer.clone(), token.clone()).run());

    let reader = store.clone();
    let good_ref = good.clone();
    tokio::task::spawn_blocking(move || {
        wait_for("the request to be closed", || {
            matches!(
                reader.callback(&good_ref).unwrap().unwrap().dialing.state,
                DialState::Closed { .. }
            )
        });
    })
    .await
    .unwrap();
    token.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();

    let jobs = placer.jobs.lock().unwrap().clone();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    for job in &jobs {
        assert_eq!(job.reference, good);
        assert_eq!(job.number, "0755771234");
        assert_eq!(job.staff, "201");
        assert_eq!(job.briefing.note.as_deref(), Some("certificato"));
    }
    let closed = store.callback(&good).unwrap().unwrap();
    assert_eq!(closed.status, RecordStatus::Closed);
    let outcomes: Vec<AttemptOutcome> = closed.dialing.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        vec![AttemptOutcome::NoAnswer, AttemptOutcome::Reached]
    );
    let details: Vec<Option<&str>> = closed
        .dialing
        .attempts
        .iter()
        .map(|a| a.detail.as_deref())
        .collect();
    assert_eq!(
        details,
        vec![Some("SIP 480"), None],
        "the placer's detail is kept"
    );
    assert!(
        closed
            .dialing
            .attempts
            .iter()
            .all(|a| a.staff.as_deref() == Some("201"))
    );
    let refused = store.callback(&premium).unwrap().unwrap();
    let DialState::Failed { reason, .. } = &refused.dialing.state else {
        panic!("{refused:?}");
    };
    assert!(reason.contains("premium-rate"), "{reason}");
    assert!(refused.dialing.attempts.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_task_ends_its_attempt_and_gives_the_request_back() {
    let store = SledStore::temporary().unwrap();
    let reference = callback(&store, "0755771234");
    let placer = Arc::new(Scripted {
        outcomes: Mutex::new(vec![None]),
        jobs: Mutex::new(Vec::new()),
    });
    let token = CancellationToken::new();
    let task = tokio::spawn(dialer(&store, placer.clone(), token.clone()).run());
    let watcher = placer.clone();
    tokio::task::spawn_blocking(move || {
        wait_for("the attempt to start", || {
            !watcher.jobs.lock().unwrap().is_empty()
        });
    })
    .await
    .unwrap();
    token.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    let left = store.callback(&reference).unwrap().unwrap();
    assert_eq!(left.dialing.state, DialState::Pending, "{left:?}");
    assert!(left.dialing.attempts.is_empty());
    assert_eq!(placer.jobs.lock().unwrap().len(), 1);
}

/// Every renewal is a durable store write: with most of a 60 s lease left, a second of 20 ms
/// ticks writes nothing (the dialer used to renew each lease at each tick).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_with_most_of_it_left_is_not_written_again() {
    let (taken, after) = while_an_attempt_runs(Duration::from_secs(60), |store, reference| {
        let taken = lease_until(store, reference);
        std::thread::sleep(Duration::from_secs(1));
        (taken, lease_until(store, reference))
    })
    .await;
    assert_eq!(
        taken, after,
        "the lease was written again with most of it left"
    );
}

/// A 2 s lease is renewed once less than half of it is left, by the same holder, and the
/// request stays with this dialer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_half_gone_is_renewed() {
    let (taken, renewed) = while_an_attempt_runs(Duration::from_secs(2), |store, reference| {
        let taken = lease_until(store, reference);
        wait_for("the lease to be renewed", || {
            lease_until(store, reference) != taken
        });
        (taken, lease_until(store, reference))
    })
    .await;
    assert!(renewed > taken, "{renewed} after {taken}");
}
