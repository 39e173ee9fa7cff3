//! The dialer's owned task: ticks the [`Scheduler`] with the store's requests and
//! staff presence, takes leases, hands each attempt to a [`Placer`] (the SIP side),
//! and writes every outcome back to the store.
//!
//! ```text
//!   every tick: presence ──► Scheduler ◄── store.callbacks()
//!                              │ Dial ──► store: TakeLease ──ok──► JoinSet: placer.place(job)
//!                              │ Finish / Release / Fail ──► store: change_callback
//!   placer's Finished ──► Scheduler (AttemptEnded / StaffSkipped) ──► store
//!   in-flight leases renewed when half gone; cancel: attempts cancelled, their reports written
//! ```
//!
//! Every attempt is a task in the dialer's [`JoinSet`] with a child token of the
//! dialer's, so shutdown cancels them all and waits. A lease not renewed (a
//! crash, `kill -9`) runs out and another server takes the request again.
//!
//! A tick also comes at once when someone asks ([`DialerTask::with_wake`]: staff asked
//! for a request to be called now), and the offices follow the flows after a reload
//! ([`DialerTask::with_program`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::attempt::{Briefing, Finished, Language};
use super::schedule::{Command, Event, OfficeHours, Scheduler};
use crate::engine::Program;
use crate::people::presence::Status;
use crate::store::Store;
use crate::store::dialing::Change;

/// One attempt for the SIP side to work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub reference: String,
    pub office: String,
    /// As the numbering rule wrote it.
    pub number: String,
    /// The staff member to ring (first, or once the citizen pressed 1).
    pub staff: String,
    pub briefing: Briefing,
    /// `callback … citizen first`: the citizen is called first and hears this language.
    pub citizen_first: Option<Language>,
}

/// How an attempt is placed (the SIP adapter; tests script it).
pub trait Placer: Send + Sync + 'static {
    /// Works `job` to its end; stops early when `token` is cancelled.
    fn place(
        &self,
        job: Job,
        token: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Finished> + Send>>;
}

/// Where the dialer reads who is available.
pub type Statuses = Box<dyn Fn() -> BTreeMap<String, Status> + Send>;

/// The task's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSettings {
    /// This server's name on its leases (a new one each start).
    pub holder: String,
    /// How often the store and presence are looked at.
    pub tick: Duration,
    /// How long a lease lasts without renewal (several ticks).
    pub lease: Duration,
}

/// The dialer task; [`DialerTask::run`] until its token is cancelled.
pub struct DialerTask {
    store: Arc<dyn Store>,
    scheduler: Scheduler,
    placer: Arc<dyn Placer>,
    statuses: Statuses,
    settings: TaskSettings,
    token: CancellationToken,
    seen: BTreeMap<String, Status>,
    attempts: JoinSet<(String, Finished)>,
    /// References with an attempt running here, and until when their leases hold.
    running: BTreeMap<String, Timestamp>,
    /// Notified when a tick should come now.
    wake: Arc<Notify>,
    /// The flows served (their offices, hours and staff), and the version last read.
    program: Option<(Arc<std::sync::RwLock<Arc<Program>>>, String)>,
}

/// The offices of the flows as the scheduler needs them: their calendars and staff.
pub fn offices_of(program: &Program) -> BTreeMap<String, OfficeHours> {
    let graph = &program.graph;
    graph
        .offices
        .iter()
        .map(|(name, office)| {
            let hours = OfficeHours {
                calendar: office
                    .hours
                    .as_ref()
                    .and_then(|calendar| graph.calendars.get(calendar))
                    .cloned(),
                staff: office
                    .staff
                    .iter()
                    .filter_map(|member| crate::people::extension_of(&member.contact))
                    .map(str::to_owned)
                    .collect(),
            };
            (name.clone(), hours)
        })
        .collect()
}

impl DialerTask {
    pub fn new(
        store: Arc<dyn Store>,
        scheduler: Scheduler,
        placer: Arc<dyn Placer>,
        statuses: Statuses,
        settings: TaskSettings,
        token: CancellationToken,
    ) -> DialerTask {
        DialerTask {
            store,
            scheduler,
            placer,
            statuses,
            settings,
            token,
            seen: BTreeMap::new(),
            attempts: JoinSet::new(),
            running: BTreeMap::new(),
            wake: Arc::new(Notify::new()),
            program: None,
        }
    }

    /// Tick at once whenever `wake` is notified (as well as every tick).
    #[must_use]
    pub fn with_wake(mut self, wake: Arc<Notify>) -> DialerTask {
        self.wake = wake;
        self
    }

    /// Follow the flows served: after a reload, the scheduler gets the new offices.
    #[must_use]
    pub fn with_program(mut self, program: Arc<std::sync::RwLock<Arc<Program>>>) -> DialerTask {
        let version = String::new();
        self.program = Some((program, version));
        self
    }

    fn follow_program(&mut self) {
        let Some((program, version)) = self.program.as_mut() else {
            return;
        };
        let Some(current) = program.read().ok().map(|p| p.clone()) else {
            return;
        };
        if current.version() != version.as_str() {
            *version = current.version().to_owned();
            self.scheduler.set_offices(offices_of(&current));
        }
    }

    pub async fn run(mut self) {
        let mut ticks = tokio::time::interval(self.settings.tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = self.token.cancelled() => break,
                _ = ticks.tick() => self.tick(Timestamp::now()),
                () = self.wake.notified() => self.tick(Timestamp::now()),
                Some(joined) = self.attempts.join_next(), if !self.attempts.is_empty() => {
                    match joined {
                        Ok((reference, finished)) => self.finished(reference, finished, Timestamp::now()),
                        Err(error) => warn!(%error, "a callback attempt task failed"),
                    }
                }
            }
        }
        // Attempts see the cancelled token (a child of ours) and end; what they report is
        // written as usual (a skipped one is given back at once). Only a crash leaves a
        // lease to run out.
        while let Some(joined) = self.attempts.join_next().await {
            match joined {
                Ok((reference, finished)) => self.finished(reference, finished, Timestamp::now()),
                Err(error) => warn!(%error, "a callback attempt task failed"),
            }
        }
    }

    fn tick(&mut self, now: Timestamp) {
        self.follow_program();
        let statuses = (self.statuses)();
        for (extension, status) in statuses {
            if self.seen.get(&extension) != Some(&status) {
                self.seen.insert(extension.clone(), status);
                self.scheduler.step(Event::Presence { extension, status });
            }
        }
        self.renew_leases(now);
        let requests = match self.store.callbacks() {
            Ok(requests) => requests,
            Err(error) => {
                warn!(%error, "dialer: callback requests unreadable");
                return;
            }
        };
        let notes: BTreeMap<String, Notes> = requests
            .iter()
            .map(|r| {
                let notes = Notes {
                    note: r.request.note.clone(),
                    ticket: r.request.ticket.clone(),
                    category: r.request.category.clone(),
                    citizen_first: r
                        .request
                        .citizen_first
                        .then(|| Language::of(r.request.language.as_deref())),
                };
                (r.reference.clone(), notes)
            })
            .collect();
        for command in self.scheduler.step(Event::Tick { now, requests }) {
            self.command(command, now, &notes);
        }
    }

    /// Renew the leases of the attempts running here once half of a lease is gone: every
    /// renewal is a durable store write (a flush), so renewing each tick would cost one per
    /// attempt per second; at half the lease a missed tick or two still leaves it held.
    fn renew_leases(&mut self, now: Timestamp) {
        let half = self.settings.lease / 2;
        for (reference, until) in &mut self.running {
            if later(now, half) < *until {
                continue;
            }
            let renewed = later(now, self.settings.lease);
            let change = Change::TakeLease {
                holder: self.settings.holder.clone(),
                now,
                until: renewed,
            };
            match self.store.change_callback(reference, &change) {
                Ok(Ok(_)) => *until = renewed,
                Ok(Err(refusal)) => warn!(%reference, %refusal, "dialer: lease not renewed"),
                Err(error) => warn!(%reference, %error, "dialer: lease not renewed"),
            }
        }
    }

    fn command(&mut self, command: Command, now: Timestamp, notes: &BTreeMap<String, Notes>) {
        let holder = self.settings.holder.clone();
        let (reference, change) = match command {
            Command::Dial {
                reference,
                office,
                number,
                staff,
            } => {
                let until = later(now, self.settings.lease);
                let take = Change::TakeLease { holder, now, until };
                // Not taken: out of the scheduler's in-flight set; the Release it answers
                // with is not ours to write (no lease held), so it is dropped.
                match self.store.change_callback(&reference, &take) {
                    Ok(Ok(_)) => {}
                    Ok(Err(refusal)) => {
                        info!(%reference, %refusal, "dialer: not taken");
                        self.scheduler
                            .step(Event::StaffSkipped { reference, at: now });
                        return;
                    }
                    Err(error) => {
                        warn!(%reference, %error, "dialer: lease not written");
                        self.scheduler
                            .step(Event::StaffSkipped { reference, at: now });
                        return;
                    }
                }
                let told = notes.get(&reference).cloned().unwrap_or_default();
                let job = Job {
                    briefing: Briefing {
                        reference: reference.clone(),
                        office: office.clone(),
                        note: told.note,
                        ticket: told.ticket,
                        category: told.category,
                    },
                    reference: reference.clone(),
                    office,
                    number,
                    staff,
                    citizen_first: told.citizen_first,
                };
                info!(%reference, staff = %job.staff, "dialer: working a callback");
                let placer = self.placer.clone();
                let token = self.token.child_token();
                self.running.insert(reference.clone(), until);
                self.attempts
                    .spawn(async move { (reference, placer.place(job, token).await) });
                return;
            }
            Command::Finish {
                reference,
                attempt,
                then,
            } => (
                reference,
                Change::FinishAttempt {
                    holder,
                    attempt,
                    then,
                },
            ),
            Command::Release {
                reference,
                retry_at,
            } => (
                reference,
                Change::Release {
                    holder,
                    retry_at: Some(retry_at),
                },
            ),
            Command::Fail { reference, reason } => {
                info!(%reference, %reason, "dialer: number refused, never dialled");
                (reference, Change::Fail { at: now, reason })
            }
        };
        match self.store.change_callback(&reference, &change) {
            Ok(Ok(_)) => {}
            Ok(Err(refusal)) => warn!(%reference, %refusal, "dialer: change refused"),
            Err(error) => warn!(%reference, %error, "dialer: change not written"),
        }
    }

    fn finished(&mut self, reference: String, finished: Finished, now: Timestamp) {
        self.running.remove(&reference);
        let commands = match finished {
            Finished::Skipped => self.scheduler.step(Event::StaffSkipped {
                reference: reference.clone(),
                at: now,
            }),
            Finished::Ended {
                outcome,
                closed,
                detail,
            } => {
                let commands = self.scheduler.step(Event::AttemptEnded {
                    reference: reference.clone(),
                    at: now,
                    outcome,
                    staff: None,
                    detail,
                });
                if closed {
                    // Recorded first (the attempt), then closed by the staff member.
                    for command in commands {
                        self.command(command, now, &BTreeMap::new());
                    }
                    let close = Change::Close {
                        at: now,
                        by: Some("staff phone".to_owned()),
                        note: None,
                    };
                    if let Ok(Err(refusal)) = self.store.change_callback(&reference, &close) {
                        warn!(%reference, %refusal, "dialer: not closed");
                    }
                    return;
                }
                commands
            }
        };
        for command in commands {
            self.command(command, now, &BTreeMap::new());
        }
    }
}

/// What staff are told about a request besides its reference and office.
#[derive(Debug, Clone, Default)]
struct Notes {
    note: Option<String>,
    ticket: Option<String>,
    category: Option<String>,
    citizen_first: Option<Language>,
}

fn later(at: Timestamp, wait: Duration) -> Timestamp {
    SignedDuration::try_from(wait)
        .ok()
        .and_then(|wait| at.checked_add(wait).ok())
        .unwrap_or(Timestamp::MAX)
}
