//! The staff desk: one owned task that keeps who is available (presence) and the queues of
//! citizens waiting for an office, fed by the registrar and by calls; it tells each waiting
//! call what the queues decided.
//!
//! ```text
//!   registrar ──Bindings──────┐                        ┌──► Presence (engine reads: who is present)
//!   calls ──StaffLeg (ringing, on a call, ended)──┤   desk task   ├──► status changes ──► queues: agent available / busy
//!   calls ──Join / CallerHungUp / OfferAnswered ──┤ (sans-IO cores│
//!          / OfferRejected / CallEnded ───────────┘  + timers)     └──► QueueOrder to the waiting call:
//!                                                                      music, position, offer (ring the
//!                                                                      agent), cancel, connect, leave
//! ```
//!
//! The logic is in `people::presence` and `people::queue`; this task only holds them, keeps
//! their timers and routes their commands. Every call that joins a queue gives the desk a
//! channel for its orders.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::engine::{Media, Program};
use crate::people::presence::{CallState, Change, Direction, Presence, PresenceEvent, Status};
use crate::people::queue::{self, Absence, QueueOutcome, QueueSettings, Queues, TimerId};
use crate::people::{Binding, extension_of};

/// What the desk is told.
#[derive(Debug)]
pub enum DeskEvent {
    /// The devices registered for an extension now (empty: the last one left).
    Bindings {
        extension: String,
        bindings: Vec<Binding>,
    },
    /// A call the server placed to staff (a transfer, a queue offer) changed state.
    StaffLeg {
        extension: String,
        call_id: String,
        state: CallState,
    },
    /// A staff member set themselves away (`*21`) or back (`*20`).
    SetAway { extension: String, away: bool },
    /// A caller joins an office's queue; the desk's orders for that call go to `orders`.
    Join {
        join: queue::Join,
        orders: mpsc::UnboundedSender<QueueOrder>,
    },
    /// Something that happened to a waiting call or its agent.
    Queue(queue::Event),
}

/// What the queues ask of one waiting call.
#[derive(Debug, Clone, PartialEq)]
pub enum QueueOrder {
    /// Loop this music until the call leaves the queue.
    Music(Media),
    /// Tell the caller their position (1: next), then the music again.
    Position(u32),
    /// Ring the agent's devices for the caller; answer with `OfferAnswered` or `OfferRejected`.
    Offer { agent: String },
    /// Stop ringing the agent (or hang up on them if they answered just now).
    CancelOffer { agent: String },
    /// Bridge the caller with the agent who answered.
    Connect { agent: String },
    /// Out of the queue: the flow hears `outcome`.
    Leave(QueueOutcome),
}

/// The handle calls and the registrar hold.
#[derive(Clone)]
pub struct Desk {
    events: mpsc::UnboundedSender<DeskEvent>,
    presence: Arc<Mutex<Presence>>,
}

impl Desk {
    /// The desk and its task (run it on a task the server owns, with `token` to stop it).
    pub fn new(
        program: Arc<RwLock<Arc<Program>>>,
        settings: QueueSettings,
        token: CancellationToken,
    ) -> (Desk, DeskTask) {
        let (events, receiver) = mpsc::unbounded_channel();
        let staff = read_program(&program)
            .map(|p| staff_extensions(&p))
            .unwrap_or_default();
        let presence = Arc::new(Mutex::new(Presence::new(staff)));
        let desk = Desk {
            events,
            presence: presence.clone(),
        };
        let task = DeskTask {
            receiver,
            program,
            version: String::new(),
            presence,
            queues: Queues::new(settings),
            routes: HashMap::new(),
            timers: BTreeMap::new(),
            token,
        };
        (desk, task)
    }

    pub fn send(&self, event: DeskEvent) {
        if self.events.send(event).is_err() {
            debug!("the desk has stopped");
        }
    }

    /// Presence as the engine asks it (who is available now).
    pub fn presence(&self) -> Arc<Mutex<Presence>> {
        self.presence.clone()
    }

    /// Every staff member's status, for the console and the control socket.
    pub fn statuses(&self) -> BTreeMap<String, Status> {
        self.presence
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .statuses()
    }
}

/// The desk's state and inbox; [`DeskTask::run`] until the token is cancelled.
pub struct DeskTask {
    receiver: mpsc::UnboundedReceiver<DeskEvent>,
    program: Arc<RwLock<Arc<Program>>>,
    /// The graph version whose staff presence knows.
    version: String,
    presence: Arc<Mutex<Presence>>,
    queues: Queues,
    routes: HashMap<String, mpsc::UnboundedSender<QueueOrder>>,
    /// The queues' timers: when each is due.
    timers: BTreeMap<TimerId, Timestamp>,
    token: CancellationToken,
}

fn read_program(program: &RwLock<Arc<Program>>) -> Option<Arc<Program>> {
    program.read().ok().map(|p| p.clone())
}

/// The extensions of every staff member the flows name.
fn staff_extensions(program: &Program) -> Vec<String> {
    program
        .graph
        .offices
        .values()
        .flat_map(|office| office.staff.iter())
        .filter_map(|member| extension_of(&member.contact).map(str::to_owned))
        .collect()
}

impl DeskTask {
    pub async fn run(mut self) {
        loop {
            let next = self.next_deadline();
            let sleep = async {
                match next {
                    Some(at) => {
                        let wait = at.duration_since(Timestamp::now());
                        let wait = std::time::Duration::try_from(wait).unwrap_or_default();
                        tokio::time::sleep(wait).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.token.cancelled() => break,
                event = self.receiver.recv() => match event {
                    Some(event) => self.on_event(event, Timestamp::now()),
                    None => break,
                },
                () = sleep => self.fire(Timestamp::now()),
            }
        }
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        let timer = self.timers.values().min().copied();
        let expiry = self.lock_presence().next_expiry();
        match (timer, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn lock_presence(&self) -> std::sync::MutexGuard<'_, Presence> {
        self.presence.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// After a reload, presence follows the new staff list.
    fn follow_reload(&mut self) {
        let Some(program) = read_program(&self.program) else {
            return;
        };
        if program.version() != self.version {
            self.version = program.version().to_owned();
            let removed = self.lock_presence().set_staff(staff_extensions(&program));
            if !removed.is_empty() {
                info!(?removed, "staff no longer in the flows");
            }
        }
    }

    pub fn on_event(&mut self, event: DeskEvent, at: Timestamp) {
        self.follow_reload();
        match event {
            DeskEvent::Bindings {
                extension,
                bindings,
            } => {
                let event = PresenceEvent::bindings(&extension, &bindings, at);
                self.presence_event(event, at);
            }
            DeskEvent::StaffLeg {
                extension,
                call_id,
                state,
            } => self.presence_event(
                PresenceEvent::Call {
                    extension,
                    call_id,
                    direction: Direction::Incoming,
                    state,
                    at,
                },
                at,
            ),
            DeskEvent::SetAway { extension, away } => self.presence_event(
                PresenceEvent::SetAway {
                    extension,
                    away,
                    at,
                },
                at,
            ),
            DeskEvent::Join { join, orders } => {
                self.routes.insert(join.call.clone(), orders);
                self.queue_step(queue::Event::Join(join), at);
            }
            DeskEvent::Queue(event) => {
                let gone = match &event {
                    queue::Event::CallerHungUp { call } => Some(call.clone()),
                    queue::Event::Join(_)
                    | queue::Event::OfficeClosed { .. }
                    | queue::Event::AgentAvailable { .. }
                    | queue::Event::AgentUnavailable { .. }
                    | queue::Event::OfferAnswered { .. }
                    | queue::Event::OfferRejected { .. }
                    | queue::Event::CallEnded { .. }
                    | queue::Event::Timer { .. } => None,
                };
                self.queue_step(event, at);
                if let Some(call) = gone {
                    self.routes.remove(&call);
                }
            }
        }
    }

    /// Timers and presence expiries due by `now`.
    pub fn fire(&mut self, now: Timestamp) {
        let due: Vec<TimerId> = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(timer, _)| *timer)
            .collect();
        for timer in due {
            self.timers.remove(&timer);
            self.queue_step(queue::Event::Timer { timer }, now);
        }
        let changes = self.lock_presence().expire(now);
        self.changed(changes, now);
    }

    fn presence_event(&mut self, event: PresenceEvent, at: Timestamp) {
        let changes = self.lock_presence().apply(event);
        self.changed(changes, at);
    }

    /// Presence changed: the queues hear of agents coming and going.
    fn changed(&mut self, changes: Vec<Change>, at: Timestamp) {
        for change in changes {
            let status = match change {
                Change::Status(status) => status,
                Change::Dialogs(_) => continue,
            };
            info!(extension = %status.extension, from = status.from.label(), to = status.to.label(), "presence");
            let agent = status.extension;
            let event = match status.to {
                Status::Available => queue::Event::AgentAvailable { agent },
                Status::Ringing | Status::OnCall => queue::Event::AgentUnavailable {
                    agent,
                    absence: Absence::Busy,
                },
                Status::Away => queue::Event::AgentUnavailable {
                    agent,
                    absence: Absence::Away,
                },
                Status::Offline => queue::Event::AgentUnavailable {
                    agent,
                    absence: Absence::Offline,
                },
            };
            self.queue_step(event, at);
        }
    }

    fn queue_step(&mut self, event: queue::Event, at: Timestamp) {
        let mut pending = VecDeque::from([event]);
        while let Some(event) = pending.pop_front() {
            for command in self.queues.step(at, event) {
                self.carry_out(command, at, &mut pending);
            }
        }
    }

    fn carry_out(
        &mut self,
        command: queue::Command,
        at: Timestamp,
        pending: &mut VecDeque<queue::Event>,
    ) {
        match command {
            queue::Command::StartTimer { timer, at } => {
                self.timers.insert(timer, at);
            }
            queue::Command::CancelTimer { timer } => {
                self.timers.remove(&timer);
            }
            queue::Command::PlayMusic { call, music } => {
                self.order(&call, QueueOrder::Music(music))
            }
            queue::Command::AnnouncePosition { call, position } => {
                self.order(&call, QueueOrder::Position(position));
            }
            queue::Command::Offer {
                call,
                office,
                agent,
            } => {
                debug!(%call, %office, %agent, "queue offer");
                self.order(&call, QueueOrder::Offer { agent });
            }
            queue::Command::CancelOffer { call, agent } => {
                self.order(&call, QueueOrder::CancelOffer { agent });
            }
            queue::Command::Connect { call, agent } => {
                self.order(&call, QueueOrder::Connect { agent });
            }
            queue::Command::Leave { call, outcome } => {
                self.order(&call, QueueOrder::Leave(outcome));
                self.routes.remove(&call);
            }
            queue::Command::SetAway { agent } => {
                info!(%agent, "missed calls in a row: set away");
                let changes = self.lock_presence().apply(PresenceEvent::SetAway {
                    extension: agent,
                    away: true,
                    at,
                });
                for change in changes {
                    if let Change::Status(status) = change
                        && status.to == Status::Away
                    {
                        pending.push_back(queue::Event::AgentUnavailable {
                            agent: status.extension,
                            absence: Absence::Away,
                        });
                    }
                }
            }
        }
    }

    /// An order for a waiting call; a call that has gone is told to leave the queue.
    fn order(&mut self, call: &str, order: QueueOrder) {
        let delivered = self
            .routes
            .get(call)
            .is_some_and(|route| route.send(order).is_ok());
        if !delivered && self.routes.remove(call).is_some() {
            self.queue_step(
                queue::Event::CallerHungUp {
                    call: call.to_owned(),
                },
                Timestamp::now(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::people::SignalTransport;

    const FLOW: &str = r#"
calendar sempre {
  timezone "Europe/Rome"
  mon-fri 00:00-23:59
  sat, sun 00:00-23:59
}
office prova "Prova" {
  hours sempre
  staff "sip:201@x" as "Anna"
  staff "sip:202@x" as "Bruno"
  ring 8s
}
flow main answers "100" {
  coda: queue prova max wait 60s announce position else -> fine
  fine: say "Arrivederci." -> hangup
}
"#;

    fn program() -> Arc<RwLock<Arc<Program>>> {
        let mut sources = centralino_compiler::Sources::new();
        sources.add("test.flow", FLOW);
        let compiled = centralino_compiler::compile(&sources);
        Arc::new(RwLock::new(Program::new(compiled.graph.unwrap()).unwrap()))
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn device(extension: &str) -> Binding {
        Binding {
            extension: extension.to_owned(),
            contact: format!("sip:{extension}@127.0.0.1:5070"),
            source: "127.0.0.1:5070".parse().unwrap(),
            transport: SignalTransport::Udp,
            expires_at: at(3600),
            user_agent: None,
        }
    }

    fn join(call: &str) -> queue::Join {
        queue::Join {
            call: call.to_owned(),
            office: String::from("prova"),
            agents: vec![String::from("201"), String::from("202")],
            ring_ms: 8_000,
            max_wait_ms: 60_000,
            announce_position: true,
            music: None,
        }
    }

    fn drain(orders: &mut mpsc::UnboundedReceiver<QueueOrder>) -> Vec<QueueOrder> {
        std::iter::from_fn(|| orders.try_recv().ok()).collect()
    }

    #[test]
    fn registrations_make_staff_available_and_queued_callers_are_offered_to_them() {
        let (desk, mut task) = Desk::new(
            program(),
            QueueSettings::default(),
            CancellationToken::new(),
        );
        // Nobody registered: the caller waits, told their position.
        let (orders, mut received) = mpsc::unbounded_channel();
        task.on_event(
            DeskEvent::Join {
                join: join("c1"),
                orders,
            },
            at(0),
        );
        assert_eq!(drain(&mut received), vec![QueueOrder::Position(1)]);
        assert!(!crate::engine::Presence::is_present(
            &*desk.presence(),
            "sip:201@x"
        ));

        // 201 registers: available, and the waiting caller is offered to them.
        task.on_event(
            DeskEvent::Bindings {
                extension: String::from("201"),
                bindings: vec![device("201")],
            },
            at(5),
        );
        assert!(crate::engine::Presence::is_present(
            &*desk.presence(),
            "sip:201@x"
        ));
        assert_eq!(desk.statuses().get("201"), Some(&Status::Available));
        assert_eq!(
            drain(&mut received),
            vec![QueueOrder::Offer {
                agent: String::from("201")
            }]
        );

        // 201 answers: connect, then leave as answered; their leg shows them on a call.
        task.on_event(
            DeskEvent::Queue(queue::Event::OfferAnswered {
                call: String::from("c1"),
                agent: String::from("201"),
            }),
            at(7),
        );
        assert_eq!(
            drain(&mut received),
            vec![
                QueueOrder::Connect {
                    agent: String::from("201")
                },
                QueueOrder::Leave(QueueOutcome::Answered)
            ]
        );
        task.on_event(
            DeskEvent::StaffLeg {
                extension: String::from("201"),
                call_id: String::from("leg-1"),
                state: CallState::Confirmed,
            },
            at(7),
        );
        assert_eq!(desk.statuses().get("201"), Some(&Status::OnCall));
    }

    #[test]
    fn an_unanswered_offer_times_out_on_the_desk_clock_and_a_gone_caller_leaves() {
        let (_desk, mut task) = Desk::new(
            program(),
            QueueSettings::default(),
            CancellationToken::new(),
        );
        task.on_event(
            DeskEvent::Bindings {
                extension: String::from("202"),
                bindings: vec![device("202")],
            },
            at(0),
        );
        let (orders, mut received) = mpsc::unbounded_channel();
        task.on_event(
            DeskEvent::Join {
                join: join("c1"),
                orders,
            },
            at(1),
        );
        assert!(drain(&mut received).contains(&QueueOrder::Offer {
            agent: String::from("202")
        }));
        // The ring time (8 s) passes: the offer is withdrawn and made again (only 202 is free).
        assert_eq!(task.next_deadline(), Some(at(9)));
        task.fire(at(9));
        let after = drain(&mut received);
        assert_eq!(
            after.first(),
            Some(&QueueOrder::CancelOffer {
                agent: String::from("202")
            }),
            "{after:?}"
        );
        // The caller's task is gone (its channel closed): the desk takes it out of the queue.
        drop(received);
        task.fire(at(17));
        assert!(task.routes.is_empty());
        assert!(!task.queues.is_waiting("c1"));
    }
}
