//! Queues: citizens waiting for an office, and the staff who answer them (the switchboard's
//! automatic call distribution), as sans-IO logic shared by every call.
//!
//! ```text
//!   events in, each at a time given           commands out, carried out in order
//!   flow's `queue` ─Join ─────────────────┐          ┌─► PlayMusic, AnnouncePosition ─► caller
//!   caller ─CallerHungUp ─────────────────┤          ├─► Offer, CancelOffer ─► staff phones
//!   hours ─OfficeClosed ──────────────────┤          ├─► Connect ─► bridge caller and agent
//!   presence ─AgentAvailable/Unavailable ─┼─► Queues ┼─► Leave { outcome } ─► flow's answer
//!   staff ─OfferAnswered/Rejected ────────┤   ::step ├─► SetAway ─► presence
//!   bridge ─CallEnded ────────────────────┤          └─► StartTimer, CancelTimer ─► timers
//!   timers ─Timer ────────────────────────┘
//! ```
//!
//! One [`Queues`] value serves the whole server: a queue per office, one state per agent (an
//! agent in several offices' queues is one person, offered one call at a time). The adapter
//! holds it behind a lock, feeds it [`Event`]s with the time they happened, and carries out the
//! [`Command`]s it answers with, in order. Nothing here reads a clock or touches a socket.
//!
//! Distribution: after every event, callers without an offer are taken longest-waiting first
//! (join order, across offices), and each is offered to the longest-idle available agent among
//! its office's staff (ties: the office's staff order). An offer rings for the office's ring
//! time; an agent who does not answer, or declines, goes to the back of the idle order, and
//! the caller is offered again (to the next agent, or the same one if nobody else is free).
//! An agent who misses [`QueueSettings::missed_before_away`] offers in a row is set away.
//!
//! A caller hears the music from joining until they leave, and their position (1 = next) on
//! joining and whenever it changes, unless an agent's phone is ringing for them. Positions count
//! every caller still in the office's queue, those being offered included.
//!
//! An agent is offered a call when presence last said available and the queue has nothing of
//! theirs in progress: presence (registered, away, on another call) and the queue's own
//! engagement (ringing for a caller, on a queue call) are kept apart, so presence echoing the
//! queue's own calls ("busy") never cancels an offer; going away or offline does.
//!
//! Wiring: the engine's `ChannelCommand::Enqueue` becomes a [`Join`] (with every staff extension
//! of the office, not only those present, and the office's ring time); [`Command::Leave`]
//! answers that request as `Event::TransferResult`, its outcome converted by
//! `TransferOutcome::from`. Answers that cross a cancellation, late timers and events about
//! callers or agents the queues do not know change nothing.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::engine::{Media, TransferOutcome};

/// Identifies a timer the queues asked for; it comes back as [`Event::Timer`].
pub type TimerId = u64;

/// Offers missed in a row before an agent is set away, unless configured otherwise.
pub const DEFAULT_MISSED_BEFORE_AWAY: u32 = 3;

/// How the queues behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// Offers an agent may miss in a row (not answered in the ring time, or declined) before
    /// the queues set them away; 0: never.
    pub missed_before_away: u32,
}

impl Default for QueueSettings {
    fn default() -> QueueSettings {
        QueueSettings {
            missed_before_away: DEFAULT_MISSED_BEFORE_AWAY,
        }
    }
}

/// A caller joining an office's queue (from the engine's `ChannelCommand::Enqueue`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Join {
    /// The caller's call (its SIP Call-ID): how every later event and command names it.
    pub call: String,
    pub office: String,
    /// The office's staff extensions, in the flow's order (all of them, present or not: the
    /// queues follow presence themselves). The latest join sets the office's list.
    pub agents: Vec<String>,
    /// How long each offer rings (the office's ring time).
    pub ring_ms: u64,
    pub max_wait_ms: u64,
    pub announce_position: bool,
    /// What the caller hears while waiting, looped by the adapter.
    pub music: Option<Media>,
}

/// Something that happened to a queue, a caller or an agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Join(Join),
    /// The caller hung up (or their line was lost): they leave without an outcome.
    CallerHungUp {
        call: String,
    },
    /// The office closed (its hours ended): everyone waiting leaves with [`QueueOutcome::Closed`].
    OfficeClosed {
        office: String,
    },
    /// Presence: the agent is registered and present (or came back).
    AgentAvailable {
        agent: String,
    },
    /// Presence: the agent is on another call, away, or no device is registered.
    AgentUnavailable {
        agent: String,
        absence: Absence,
    },
    /// The agent's phone answered the offer.
    OfferAnswered {
        call: String,
        agent: String,
    },
    /// The agent declined the offer, or their device could not be reached: a missed offer.
    OfferRejected {
        call: String,
        agent: String,
    },
    /// The call between a caller and the agent who took it ended.
    CallEnded {
        call: String,
        agent: String,
    },
    /// A timer asked for with [`Command::StartTimer`] is due.
    Timer {
        timer: TimerId,
    },
}

/// Why presence says an agent cannot take a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Absence {
    /// On a call the queues did not put through (while ringing for a queue, or on a queue
    /// call, this is taken as presence echoing that call and changes nothing now).
    Busy,
    /// Do not disturb (`*21`), or set away by the queues.
    Away,
    /// No device registered.
    Offline,
}

/// Something the adapter must do, in the order given.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Send [`Event::Timer`] at `at` (a timer cancelled first is never sent; a late one is ignored).
    StartTimer {
        timer: TimerId,
        at: Timestamp,
    },
    CancelTimer {
        timer: TimerId,
    },
    /// Loop the music to the caller until they leave (or hang up).
    PlayMusic {
        call: String,
        music: Media,
    },
    /// Tell the caller their position (1: next), then go on with the music.
    AnnouncePosition {
        call: String,
        position: u32,
    },
    /// Ring the agent's devices for the caller (show who calls and for which office).
    Offer {
        call: String,
        office: String,
        agent: String,
    },
    /// Stop ringing the agent for the caller; an answer that crosses this is ignored, and the
    /// adapter ends that staff leg.
    CancelOffer {
        call: String,
        agent: String,
    },
    /// The agent answered: bridge them with the caller (the music stops). [`Command::Leave`]
    /// with [`QueueOutcome::Answered`] follows.
    Connect {
        call: String,
        agent: String,
    },
    /// The caller is out of the queue: answer their flow with `outcome` (as
    /// `Event::TransferResult`); the music stops.
    Leave {
        call: String,
        outcome: QueueOutcome,
    },
    /// The agent missed too many offers in a row: presence sets them away.
    SetAway {
        agent: String,
    },
}

/// How a caller's wait ended (a caller who hangs up has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueOutcome {
    /// Put through to an agent.
    Answered,
    /// The maximum wait passed.
    Timeout,
    /// The office closed while the caller waited.
    Closed,
    /// The office has no staff to offer the call to.
    NoStaff,
}

impl From<QueueOutcome> for TransferOutcome {
    fn from(outcome: QueueOutcome) -> TransferOutcome {
        match outcome {
            QueueOutcome::Answered => TransferOutcome::Answered,
            QueueOutcome::Timeout => TransferOutcome::Timeout,
            QueueOutcome::Closed => TransferOutcome::Closed,
            QueueOutcome::NoStaff => TransferOutcome::Failed,
        }
    }
}

/// What the console and the registry see of an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    Available,
    /// Ringing for a queue's caller.
    Ringing,
    /// On a call the queues put through.
    OnCall,
    /// On another call.
    Busy,
    Away,
    Offline,
}

/// The queues as they are now, for the console and the registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueuesSnapshot {
    /// Every office a caller has queued for, by name.
    pub offices: Vec<OfficeSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfficeSnapshot {
    pub office: String,
    /// In queue order: position 1 first.
    pub waiting: Vec<WaitingCaller>,
    /// The office's staff, in its order.
    pub agents: Vec<AgentSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingCaller {
    pub call: String,
    pub since: Timestamp,
    pub position: u32,
    /// The agent whose phone rings for this caller now.
    pub offered_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentSnapshot {
    pub agent: String,
    pub state: AgentState,
    /// Since when an available agent has been free (the longest idle is offered first; a
    /// missed offer counts as just freed); none when the agent is not available.
    pub idle_since: Option<Timestamp>,
    pub missed_in_a_row: u32,
}

/// Every office's queue and every agent's state: one value per server.
#[derive(Debug, Clone, Default)]
pub struct Queues {
    settings: QueueSettings,
    offices: BTreeMap<String, Office>,
    agents: BTreeMap<String, Agent>,
    /// Timers started and neither fired nor cancelled, and what each is for.
    timers: BTreeMap<TimerId, Purpose>,
    next_timer: TimerId,
    next_seq: u64,
}

#[derive(Debug, Clone, Default)]
struct Office {
    agents: Vec<String>,
    ring_ms: u64,
    /// In join order.
    waiting: Vec<Caller>,
}

#[derive(Debug, Clone)]
struct Caller {
    call: String,
    /// Join order across every office: who has waited longest.
    seq: u64,
    since: Timestamp,
    announce: bool,
    announced: Option<u32>,
    max_wait: TimerId,
    offer: Option<Ringing>,
}

#[derive(Debug, Clone)]
struct Ringing {
    agent: String,
    timer: TimerId,
}

#[derive(Debug, Clone)]
enum Purpose {
    MaxWait { call: String },
    Ring { call: String },
}

#[derive(Debug, Clone)]
struct Agent {
    /// What presence said last (or away, set by the queues).
    presence: Presence,
    /// What the queues have in progress with the agent.
    engagement: Engagement,
    idle_since: Option<Timestamp>,
    missed_in_a_row: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Available,
    Absent(Absence),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Engagement {
    Idle,
    Ringing { call: String },
    OnCall { call: String },
}

impl Agent {
    /// Offline until presence says otherwise.
    fn new() -> Agent {
        Agent {
            presence: Presence::Absent(Absence::Offline),
            engagement: Engagement::Idle,
            idle_since: None,
            missed_in_a_row: 0,
        }
    }

    fn can_be_offered(&self) -> bool {
        self.presence == Presence::Available && self.engagement == Engagement::Idle
    }

    fn state(&self) -> AgentState {
        match (&self.engagement, self.presence) {
            (Engagement::Ringing { .. }, _) => AgentState::Ringing,
            (Engagement::OnCall { .. }, _) => AgentState::OnCall,
            (Engagement::Idle, Presence::Available) => AgentState::Available,
            (Engagement::Idle, Presence::Absent(Absence::Busy)) => AgentState::Busy,
            (Engagement::Idle, Presence::Absent(Absence::Away)) => AgentState::Away,
            (Engagement::Idle, Presence::Absent(Absence::Offline)) => AgentState::Offline,
        }
    }
}

/// `at` plus `ms`, saturating at the end of time.
fn after(at: Timestamp, ms: u64) -> Timestamp {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    at.checked_add(SignedDuration::from_millis(ms))
        .unwrap_or(Timestamp::MAX)
}

impl Queues {
    pub fn new(settings: QueueSettings) -> Queues {
        Queues {
            settings,
            ..Queues::default()
        }
    }

    /// Take one event that happened at `at`; answer with what to do, in order.
    pub fn step(&mut self, at: Timestamp, event: Event) -> Vec<Command> {
        let mut out = Vec::new();
        match event {
            Event::Join(join) => self.join(at, join, &mut out),
            Event::CallerHungUp { call } => {
                if let Some(caller) = self.take_caller(&call) {
                    self.release(caller, &mut out);
                }
            }
            Event::OfficeClosed { office } => {
                let waiting = self
                    .offices
                    .get_mut(&office)
                    .map(|office| std::mem::take(&mut office.waiting))
                    .unwrap_or_default();
                for caller in waiting {
                    let call = caller.call.clone();
                    self.release(caller, &mut out);
                    out.push(Command::Leave {
                        call,
                        outcome: QueueOutcome::Closed,
                    });
                }
            }
            Event::AgentAvailable { agent } => self.agent_available(at, &agent),
            Event::AgentUnavailable { agent, absence } => {
                self.agent_unavailable(&agent, absence, &mut out);
            }
            Event::OfferAnswered { call, agent } => self.offer_answered(&call, &agent, &mut out),
            Event::OfferRejected { call, agent } => {
                if let Some(timer) = self.withdraw_offer(&call, &agent) {
                    self.cancel_timer(timer, &mut out);
                    self.missed(at, &agent, &mut out);
                }
            }
            Event::CallEnded { call, agent } => {
                if let Some(state) = self.agents.get_mut(&agent)
                    && state.engagement == (Engagement::OnCall { call })
                {
                    state.engagement = Engagement::Idle;
                    state.idle_since = Some(at);
                }
            }
            Event::Timer { timer } => match self.timers.remove(&timer) {
                Some(Purpose::MaxWait { call }) => {
                    if let Some(caller) = self.take_caller(&call) {
                        self.release(caller, &mut out);
                        out.push(Command::Leave {
                            call,
                            outcome: QueueOutcome::Timeout,
                        });
                    }
                }
                Some(Purpose::Ring { call }) => {
                    let agent = self
                        .find_caller(&call)
                        .and_then(|caller| caller.offer.as_ref())
                        .filter(|offer| offer.timer == timer)
                        .map(|offer| offer.agent.clone());
                    if let Some(agent) = agent
                        && self.withdraw_offer(&call, &agent).is_some()
                    {
                        out.push(Command::CancelOffer {
                            call,
                            agent: agent.clone(),
                        });
                        self.missed(at, &agent, &mut out);
                    }
                }
                // Cancelled (or never started): a timer that crossed its cancellation.
                None => {}
            },
        }
        self.distribute(at, &mut out);
        self.announce_positions(&mut out);
        out
    }

    /// Whether the call is waiting in a queue now.
    pub fn is_waiting(&self, call: &str) -> bool {
        self.find_caller(call).is_some()
    }

    /// Every office's waiting callers and staff, for the console and the registry.
    pub fn snapshot(&self) -> QueuesSnapshot {
        let offices = self
            .offices
            .iter()
            .map(|(name, office)| OfficeSnapshot {
                office: name.clone(),
                waiting: office
                    .waiting
                    .iter()
                    .zip(1u32..)
                    .map(|(caller, position)| WaitingCaller {
                        call: caller.call.clone(),
                        since: caller.since,
                        position,
                        offered_to: caller.offer.as_ref().map(|offer| offer.agent.clone()),
                    })
                    .collect(),
                agents: office
                    .agents
                    .iter()
                    .map(|agent| {
                        let known = self.agents.get(agent);
                        let state = known.map_or(AgentState::Offline, Agent::state);
                        AgentSnapshot {
                            agent: agent.clone(),
                            state,
                            idle_since: known
                                .and_then(|known| known.idle_since)
                                .filter(|_| state == AgentState::Available),
                            missed_in_a_row: known.map_or(0, |known| known.missed_in_a_row),
                        }
                    })
                    .collect(),
            })
            .collect();
        QueuesSnapshot { offices }
    }

    fn join(&mut self, at: Timestamp, join: Join, out: &mut Vec<Command>) {
        let Join {
            call,
            office,
            agents,
            ring_ms,
            max_wait_ms,
            announce_position,
            music,
        } = join;
        if self.is_waiting(&call) {
            // The engine waits for one answer per call: a second join changes nothing.
            return;
        }
        if agents.is_empty() {
            out.push(Command::Leave {
                call,
                outcome: QueueOutcome::NoStaff,
            });
            return;
        }
        let mut staff: Vec<String> = Vec::with_capacity(agents.len());
        for agent in agents {
            if !staff.contains(&agent) {
                self.agents.entry(agent.clone()).or_insert_with(Agent::new);
                staff.push(agent);
            }
        }
        let max_wait = self.new_timer(Purpose::MaxWait { call: call.clone() });
        out.push(Command::StartTimer {
            timer: max_wait,
            at: after(at, max_wait_ms),
        });
        if let Some(music) = music {
            out.push(Command::PlayMusic {
                call: call.clone(),
                music,
            });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let office = self.offices.entry(office).or_default();
        office.agents = staff;
        office.ring_ms = ring_ms;
        office.waiting.push(Caller {
            call,
            seq,
            since: at,
            announce: announce_position,
            announced: None,
            max_wait,
            offer: None,
        });
    }

    fn agent_available(&mut self, at: Timestamp, agent: &str) {
        let state = self
            .agents
            .entry(agent.to_owned())
            .or_insert_with(Agent::new);
        match state.presence {
            Presence::Available => {}
            Presence::Absent(absence) => {
                if matches!(absence, Absence::Away | Absence::Offline) {
                    // Back at the desk: a fresh start.
                    state.missed_in_a_row = 0;
                }
                state.presence = Presence::Available;
                if state.engagement == Engagement::Idle {
                    state.idle_since = Some(at);
                }
            }
        }
    }

    fn agent_unavailable(&mut self, agent: &str, absence: Absence, out: &mut Vec<Command>) {
        let state = self
            .agents
            .entry(agent.to_owned())
            .or_insert_with(Agent::new);
        state.presence = Presence::Absent(absence);
        let ringing_for = match (&state.engagement, absence) {
            (Engagement::Ringing { call }, Absence::Away | Absence::Offline) => Some(call.clone()),
            (Engagement::Ringing { .. }, Absence::Busy)
            | (Engagement::OnCall { .. } | Engagement::Idle, _) => None,
        };
        if let Some(call) = ringing_for
            && let Some(timer) = self.withdraw_offer(&call, agent)
        {
            self.cancel_timer(timer, out);
            out.push(Command::CancelOffer {
                call,
                agent: agent.to_owned(),
            });
        }
    }

    fn offer_answered(&mut self, call: &str, agent: &str, out: &mut Vec<Command>) {
        let offered = self
            .find_caller(call)
            .and_then(|caller| caller.offer.as_ref())
            .is_some_and(|offer| offer.agent == agent);
        if !offered {
            // An answer that crossed a CancelOffer: the adapter ends that leg.
            return;
        }
        let Some(mut caller) = self.take_caller(call) else {
            return;
        };
        if let Some(offer) = caller.offer.take() {
            self.cancel_timer(offer.timer, out);
        }
        self.cancel_timer(caller.max_wait, out);
        if let Some(state) = self.agents.get_mut(agent) {
            state.engagement = Engagement::OnCall {
                call: call.to_owned(),
            };
            state.missed_in_a_row = 0;
        }
        out.push(Command::Connect {
            call: call.to_owned(),
            agent: agent.to_owned(),
        });
        out.push(Command::Leave {
            call: call.to_owned(),
            outcome: QueueOutcome::Answered,
        });
    }

    /// The agent missed an offer: to the back of the idle order, and away after too many.
    fn missed(&mut self, at: Timestamp, agent: &str, out: &mut Vec<Command>) {
        let limit = self.settings.missed_before_away;
        let Some(state) = self.agents.get_mut(agent) else {
            return;
        };
        state.missed_in_a_row = state.missed_in_a_row.saturating_add(1);
        state.idle_since = Some(at);
        if limit > 0 && state.missed_in_a_row >= limit && state.presence == Presence::Available {
            state.presence = Presence::Absent(Absence::Away);
            out.push(Command::SetAway {
                agent: agent.to_owned(),
            });
        }
    }

    /// Longest-waiting caller first, to the longest-idle agent of their office free now.
    fn distribute(&mut self, at: Timestamp, out: &mut Vec<Command>) {
        let mut unoffered: Vec<(u64, String, String)> = self
            .offices
            .iter()
            .flat_map(|(name, office)| {
                office
                    .waiting
                    .iter()
                    .filter(|caller| caller.offer.is_none())
                    .map(move |caller| (caller.seq, name.clone(), caller.call.clone()))
            })
            .collect();
        unoffered.sort();
        for (_, office_name, call) in unoffered {
            let Some(office) = self.offices.get(&office_name) else {
                continue;
            };
            let chosen = office
                .agents
                .iter()
                .enumerate()
                .filter_map(|(order, agent)| {
                    let state = self.agents.get(agent)?;
                    state
                        .can_be_offered()
                        .then_some((state.idle_since, order, agent))
                })
                .min()
                .map(|(_, _, agent)| agent.clone());
            let Some(agent) = chosen else {
                continue;
            };
            let ring_until = after(at, office.ring_ms);
            let timer = self.new_timer(Purpose::Ring { call: call.clone() });
            if let Some(caller) = self
                .offices
                .get_mut(&office_name)
                .and_then(|office| office.waiting.iter_mut().find(|c| c.call == call))
            {
                caller.offer = Some(Ringing {
                    agent: agent.clone(),
                    timer,
                });
            }
            if let Some(state) = self.agents.get_mut(&agent) {
                state.engagement = Engagement::Ringing { call: call.clone() };
            }
            out.push(Command::Offer {
                call,
                office: office_name,
                agent,
            });
            out.push(Command::StartTimer {
                timer,
                at: ring_until,
            });
        }
    }

    /// Each caller who asked for it hears their position when it changes (not while ringing).
    fn announce_positions(&mut self, out: &mut Vec<Command>) {
        for office in self.offices.values_mut() {
            for (caller, position) in office.waiting.iter_mut().zip(1u32..) {
                if caller.announce && caller.offer.is_none() && caller.announced != Some(position) {
                    caller.announced = Some(position);
                    out.push(Command::AnnouncePosition {
                        call: caller.call.clone(),
                        position,
                    });
                }
            }
        }
    }

    /// A timer the queues will wait for; the caller sends its `StartTimer`.
    fn new_timer(&mut self, purpose: Purpose) -> TimerId {
        self.next_timer += 1;
        let timer = self.next_timer;
        self.timers.insert(timer, purpose);
        timer
    }

    fn cancel_timer(&mut self, timer: TimerId, out: &mut Vec<Command>) {
        if self.timers.remove(&timer).is_some() {
            out.push(Command::CancelTimer { timer });
        }
    }

    fn find_caller(&self, call: &str) -> Option<&Caller> {
        self.offices
            .values()
            .find_map(|office| office.waiting.iter().find(|caller| caller.call == call))
    }

    fn take_caller(&mut self, call: &str) -> Option<Caller> {
        self.offices.values_mut().find_map(|office| {
            let index = office
                .waiting
                .iter()
                .position(|caller| caller.call == call)?;
            Some(office.waiting.remove(index))
        })
    }

    /// The caller's offer to `agent` is over: the agent is free of it, the caller waits on.
    /// Answers the ring timer to cancel (none: no such offer).
    fn withdraw_offer(&mut self, call: &str, agent: &str) -> Option<TimerId> {
        let caller = self
            .offices
            .values_mut()
            .find_map(|office| office.waiting.iter_mut().find(|caller| caller.call == call))?;
        if caller
            .offer
            .as_ref()
            .is_none_or(|offer| offer.agent != agent)
        {
            return None;
        }
        let offer = caller.offer.take()?;
        if let Some(state) = self.agents.get_mut(agent) {
            state.engagement = Engagement::Idle;
        }
        Some(offer.timer)
    }

    /// A caller out of the queue: their timers stop, and an agent ringing for them stops.
    fn release(&mut self, caller: Caller, out: &mut Vec<Command>) {
        self.cancel_timer(caller.max_wait, out);
        if let Some(offer) = caller.offer {
            self.cancel_timer(offer.timer, out);
            if let Some(state) = self.agents.get_mut(&offer.agent) {
                state.engagement = Engagement::Idle;
            }
            out.push(Command::CancelOffer {
                call: caller.call,
                agent: offer.agent,
            });
        }
    }
}

#[cfg(test)]
mod tests;
