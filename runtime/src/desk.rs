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
//!
//! The desk also holds the phones' subscriptions (`people::presence::Subscriptions`): it sees
//! every presence change, so after each one it works out the NOTIFYs and puts them in its
//! [`DeskOut`] box, which the SIP adapter takes once ([`Desk::take_outbox`]) and sends from
//! (`sip::staff`). Registrations go there too, so waiting messages are delivered at once.
//!
//! ```text
//!   SIP ──Subscribe{request, answer}──► desk ──SubscribeOutcome (200 + first NOTIFY, 404, 423)──► SIP
//!   presence changes, subscription expiry ──► Subscriptions ──► DeskOut::Notify ──► SIP: NOTIFY
//!   SIP: NOTIFY answered 481 / no answer ──SubscriptionGone──► desk forgets it
//!   registrar ──Bindings──► desk ──► DeskOut::Registered ──► SIP: deliver waiting messages
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::engine::{Media, Program};
use crate::people::presence::{
    CallState, Change, Direction, Notify, Presence, PresenceEvent, Status, SubscribeOutcome,
    SubscribeRequest, SubscriptionId, SubscriptionLimits, Subscriptions,
};
use crate::people::queue::{
    self, Absence, QueueOutcome, QueueSettings, Queues, QueuesSnapshot, TimerId,
};
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
    /// A SUBSCRIBE (new, refresh or Expires: 0) from an authenticated staff phone; what to
    /// answer goes back on `answer` (with the first or last NOTIFY, for the adapter to send).
    Subscribe {
        request: SubscribeRequest,
        answer: oneshot::Sender<SubscribeOutcome>,
    },
    /// A NOTIFY was answered 481 (the phone no longer has the subscription) or not at all.
    SubscriptionGone { id: SubscriptionId },
}

/// What the desk asks of the SIP adapter.
#[derive(Debug, Clone, PartialEq)]
pub enum DeskOut {
    /// Send this NOTIFY in its subscription's dialog (the last one when its state is
    /// terminated).
    Notify(Notify),
    /// An extension's devices after a REGISTER (not empty): deliver the messages waiting for it.
    Registered {
        extension: String,
        bindings: Vec<Binding>,
    },
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
    /// The queues as the desk task last left them (for the console and metrics).
    queues: Arc<Mutex<QueuesSnapshot>>,
    /// The receiving end of [`DeskOut`], until the SIP adapter takes it.
    outbox: Arc<Mutex<Option<mpsc::UnboundedReceiver<DeskOut>>>>,
}

impl Desk {
    /// The desk and its task (run it on a task the server owns, with `token` to stop it).
    ///
    /// `domain` is the host of the staff URIs in NOTIFY bodies (`sip:201@domain`).
    pub fn new(
        program: Arc<RwLock<Arc<Program>>>,
        settings: QueueSettings,
        domain: &str,
        token: CancellationToken,
    ) -> (Desk, DeskTask) {
        let (events, receiver) = mpsc::unbounded_channel();
        let (out, outbox) = mpsc::unbounded_channel();
        let staff = read_program(&program)
            .map(|p| staff_extensions(&p))
            .unwrap_or_default();
        let presence = Arc::new(Mutex::new(Presence::new(staff)));
        let queues_view = Arc::new(Mutex::new(QueuesSnapshot::default()));
        let desk = Desk {
            events,
            presence: presence.clone(),
            queues: queues_view.clone(),
            outbox: Arc::new(Mutex::new(Some(outbox))),
        };
        let task = DeskTask {
            receiver,
            program,
            version: String::new(),
            presence,
            queues: Queues::new(settings),
            queues_view,
            routes: HashMap::new(),
            timers: BTreeMap::new(),
            subscriptions: Subscriptions::new(domain, SubscriptionLimits::default()),
            out,
            token,
        };
        (desk, task)
    }

    /// What the desk asks of the SIP adapter; the first caller gets it, later ones `None`.
    pub fn take_outbox(&self) -> Option<mpsc::UnboundedReceiver<DeskOut>> {
        self.outbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
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

    /// Who waits in which office's queue, and its agents, as of the desk's last event.
    pub fn queues(&self) -> QueuesSnapshot {
        self.queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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
    /// Where [`Desk::queues`] reads the queues from; written after every event.
    queues_view: Arc<Mutex<QueuesSnapshot>>,
    routes: HashMap<String, mpsc::UnboundedSender<QueueOrder>>,
    /// The queues' timers: when each is due.
    timers: BTreeMap<TimerId, Timestamp>,
    /// Who watches whom (SUBSCRIBE/NOTIFY).
    subscriptions: Subscriptions,
    /// To the SIP adapter: NOTIFYs to send, registrations.
    out: mpsc::UnboundedSender<DeskOut>,
    token: CancellationToken,
}

fn read_program(program: &RwLock<Arc<Program>>) -> Option<Arc<Program>> {
    program.read().ok().map(|p| p.clone())
}

/// The extensions of every staff member the flows name.
pub fn staff_extensions(program: &Program) -> Vec<String> {
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
            self.publish_queues();
        }
    }

    /// Let [`Desk::queues`] see the queues as they are now.
    fn publish_queues(&self) {
        let snapshot = self.queues.snapshot();
        *self
            .queues_view
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = snapshot;
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        let timer = self.timers.values().min().copied();
        let expiry = self.lock_presence().next_expiry();
        let subscription = self.subscriptions.next_expiry();
        [timer, expiry, subscription].into_iter().flatten().min()
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
                let presence = self.presence.lock().unwrap_or_else(PoisonError::into_inner);
                let notifies = self.subscriptions.staff_removed(&removed, &presence);
                drop(presence);
                self.send_notifies(notifies);
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
                if !bindings.is_empty() {
                    self.send_out(DeskOut::Registered {
                        extension,
                        bindings,
                    });
                }
            }
            DeskEvent::Subscribe { request, answer } => {
                let presence = self.presence.lock().unwrap_or_else(PoisonError::into_inner);
                let outcome = self.subscriptions.subscribe(request, &presence);
                drop(presence);
                if answer.send(outcome).is_err() {
                    debug!("the SUBSCRIBE's answer is no longer awaited");
                }
            }
            DeskEvent::SubscriptionGone { id } => {
                if self.subscriptions.remove(&id) {
                    info!(subscription = %id.0, "subscription gone (NOTIFY not taken)");
                }
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
        let presence = self.presence.lock().unwrap_or_else(PoisonError::into_inner);
        let notifies = self.subscriptions.expire(now, &presence);
        drop(presence);
        self.send_notifies(notifies);
    }

    fn send_out(&self, out: DeskOut) {
        if self.out.send(out).is_err() {
            debug!("nobody takes the desk's outbox (no SIP adapter)");
        }
    }

    fn send_notifies(&self, notifies: Vec<Notify>) {
        for notify in notifies {
            self.send_out(DeskOut::Notify(notify));
        }
    }

    fn presence_event(&mut self, event: PresenceEvent, at: Timestamp) {
        let changes = self.lock_presence().apply(event);
        self.changed(changes, at);
    }

    /// Presence changed: subscribers are told, and the queues hear of agents coming and going.
    fn changed(&mut self, changes: Vec<Change>, at: Timestamp) {
        if !changes.is_empty() {
            let presence = self.presence.lock().unwrap_or_else(PoisonError::into_inner);
            let notifies = self.subscriptions.changed(&changes, &presence, at);
            drop(presence);
            self.send_notifies(notifies);
        }
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
            "centralino",
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
            "centralino",
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

    /// A NOTIFY in a line: subscription, package, state, and what its body says.
    fn summary(notify: &Notify) -> String {
        let between = |from: &str, to: &str| -> Vec<String> {
            notify
                .body
                .split(from)
                .skip(1)
                .filter_map(|rest| rest.split(to).next())
                .map(str::to_owned)
                .collect()
        };
        let says = match notify.package {
            crate::people::presence::EventPackage::Presence => format!(
                "basic={} note={}",
                between("<basic>", "</basic>").join(","),
                between("<note>", "</note>").join(",")
            ),
            crate::people::presence::EventPackage::Dialog => format!(
                "version={} dialogs=[{}]",
                between("\" version=\"", "\"").join(","),
                between("<state>", "</state>").join(",")
            ),
        };
        format!(
            "NOTIFY {} {} {} {says}",
            notify.subscription.0,
            notify.package.name(),
            notify.state.header_value()
        )
    }

    fn outs(outbox: &mut mpsc::UnboundedReceiver<DeskOut>) -> Vec<String> {
        std::iter::from_fn(|| outbox.try_recv().ok())
            .map(|out| match out {
                DeskOut::Notify(notify) => summary(&notify),
                DeskOut::Registered {
                    extension,
                    bindings,
                } => format!("REGISTERED {extension} devices={}", bindings.len()),
            })
            .collect()
    }

    fn subscribe(
        task: &mut DeskTask,
        id: &str,
        package: crate::people::presence::EventPackage,
        expires: Option<u32>,
        at_s: i64,
    ) -> String {
        let (answer, mut answered) = oneshot::channel();
        task.on_event(
            DeskEvent::Subscribe {
                request: SubscribeRequest {
                    id: SubscriptionId(id.to_owned()),
                    subscriber: String::from("201"),
                    watched: String::from("202"),
                    package,
                    expires,
                    at: at(at_s),
                },
                answer,
            },
            at(at_s),
        );
        match answered.try_recv().unwrap() {
            SubscribeOutcome::Accepted { expires, notify } => {
                format!("200 Expires: {expires}, then {}", summary(&notify))
            }
            SubscribeOutcome::Ended { notify } => {
                format!("200 Expires: 0, then {}", summary(&notify))
            }
            other => format!("{other:?}"),
        }
    }

    /// 201 watches 202 (presence and dialog) while 202 registers, is rung, answers, hangs up,
    /// unregisters; a refresh, an unsubscribe, a NOTIFY refused with 481, and expiry.
    #[test]
    fn subscribers_are_notified_of_every_change_the_desk_sees() {
        use crate::people::presence::EventPackage;
        let (desk, mut task) = Desk::new(
            program(),
            QueueSettings::default(),
            "centralino",
            CancellationToken::new(),
        );
        let mut outbox = desk.take_outbox().unwrap();
        assert!(desk.take_outbox().is_none(), "taken once");
        let mut transcript = Vec::new();
        let mut step = |title: &str, lines: Vec<String>| {
            transcript.push(format!("# {title}"));
            transcript.extend(lines.into_iter().map(|l| format!("  {l}")));
        };

        let line = subscribe(&mut task, "p1", EventPackage::Presence, Some(600), 0);
        step("201 subscribes to 202's presence (202 offline)", vec![line]);
        let line = subscribe(&mut task, "d1", EventPackage::Dialog, None, 0);
        step("201 subscribes to 202's dialogs (a BLF key)", vec![line]);
        let line = subscribe(&mut task, "x1", EventPackage::Presence, Some(10), 0);
        step("asking for 10 s", vec![line]);

        let event = |task: &mut DeskTask, event: DeskEvent, s: i64| task.on_event(event, at(s));
        event(
            &mut task,
            DeskEvent::Bindings {
                extension: String::from("202"),
                bindings: vec![device("202")],
            },
            1,
        );
        step("202 registers", outs(&mut outbox));
        for (state, s) in [
            (CallState::Early, 2),
            (CallState::Confirmed, 3),
            (CallState::Terminated, 4),
        ] {
            event(
                &mut task,
                DeskEvent::StaffLeg {
                    extension: String::from("202"),
                    call_id: String::from("leg-1"),
                    state,
                },
                s,
            );
            step(&format!("202's leg: {}", state.as_str()), outs(&mut outbox));
        }
        event(
            &mut task,
            DeskEvent::SetAway {
                extension: String::from("202"),
                away: true,
            },
            5,
        );
        step("202 dials *21", outs(&mut outbox));
        event(
            &mut task,
            DeskEvent::Bindings {
                extension: String::from("202"),
                bindings: Vec::new(),
            },
            6,
        );
        step("202 unregisters", outs(&mut outbox));

        let line = subscribe(&mut task, "d1", EventPackage::Dialog, Some(300), 7);
        step("201 refreshes the dialog subscription", vec![line]);
        let line = subscribe(&mut task, "p1", EventPackage::Presence, Some(0), 8);
        step("201 unsubscribes from presence (Expires: 0)", vec![line]);
        event(
            &mut task,
            DeskEvent::SubscriptionGone {
                id: SubscriptionId(String::from("d1")),
            },
            9,
        );
        event(
            &mut task,
            DeskEvent::SetAway {
                extension: String::from("202"),
                away: false,
            },
            10,
        );
        event(
            &mut task,
            DeskEvent::StaffLeg {
                extension: String::from("202"),
                call_id: String::from("leg-2"),
                state: CallState::Early,
            },
            10,
        );
        step(
            "the phone answered a NOTIFY with 481; 202's next call tells nobody",
            outs(&mut outbox),
        );
        assert_eq!(task.subscriptions.len(), 0);

        let line = subscribe(&mut task, "p2", EventPackage::Presence, Some(60), 20);
        step("201 subscribes for 60 s", vec![line]);
        assert_eq!(task.next_deadline(), Some(at(80)));
        task.fire(at(80));
        step("60 s later, not refreshed", outs(&mut outbox));
        insta::assert_snapshot!(transcript.join("\n"));
    }
}
