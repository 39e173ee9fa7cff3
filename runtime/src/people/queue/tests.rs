//! Queue transcripts: events in (`>`), commands out (`<`), the time of each event on the left
//! (seconds from the start), and the queues' snapshot where it tells the story; then a
//! property test feeding random event sequences and checking what must always hold.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};

use super::*;

const START: &str = "2026-12-01T08:00:00Z";

/// Drives the queues like the SIP adapter would (timers kept and fired when due) and writes
/// the transcript.
struct Switchboard {
    queues: Queues,
    start: Timestamp,
    now: Timestamp,
    /// Timers started and not cancelled, and when they are due.
    timers: BTreeMap<TimerId, Timestamp>,
    transcript: String,
}

fn later(at: Timestamp, seconds: i64) -> Timestamp {
    at.checked_add(SignedDuration::from_secs(seconds))
        .expect("instant")
}

fn caller(call: &str, office: &str, agents: &[&str]) -> Join {
    Join {
        call: call.to_owned(),
        office: office.to_owned(),
        agents: agents.iter().map(|a| (*a).to_owned()).collect(),
        ring_ms: 10_000,
        max_wait_ms: 300_000,
        announce_position: true,
        music: Some(Media::Audio {
            path: String::from("attesa.wav"),
        }),
    }
}

impl Switchboard {
    fn new() -> Switchboard {
        Switchboard::with(QueueSettings::default())
    }

    fn with(settings: QueueSettings) -> Switchboard {
        let start: Timestamp = START.parse().expect("instant");
        Switchboard {
            queues: Queues::new(settings),
            start,
            now: start,
            timers: BTreeMap::new(),
            transcript: String::new(),
        }
    }

    fn seconds(&self, at: Timestamp) -> String {
        format!("{}s", at.duration_since(self.start).as_secs())
    }

    fn send(&mut self, event: Event) {
        let line = format!("{:>5} > {}", self.seconds(self.now), describe_event(&event));
        writeln!(self.transcript, "{line}").expect("write");
        for command in self.queues.step(self.now, event) {
            match &command {
                Command::StartTimer { timer, at } => {
                    self.timers.insert(*timer, *at);
                }
                Command::CancelTimer { timer } => {
                    self.timers.remove(timer);
                }
                _ => {}
            }
            let line = self.describe_command(&command);
            writeln!(self.transcript, "      < {line}").expect("write");
        }
    }

    /// Let `seconds` pass: the timers due fire at their time, in order.
    fn wait(&mut self, seconds: i64) {
        let until = later(self.now, seconds);
        while let Some((timer, at)) = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= until)
            .min_by_key(|(timer, at)| (**at, **timer))
            .map(|(timer, at)| (*timer, *at))
        {
            self.timers.remove(&timer);
            self.now = at;
            self.send(Event::Timer { timer });
        }
        self.now = until;
    }

    fn join(&mut self, join: Join) {
        self.send(Event::Join(join));
    }

    fn available(&mut self, agent: &str) {
        self.send(Event::AgentAvailable {
            agent: agent.to_owned(),
        });
    }

    fn unavailable(&mut self, agent: &str, absence: Absence) {
        self.send(Event::AgentUnavailable {
            agent: agent.to_owned(),
            absence,
        });
    }

    fn answers(&mut self, agent: &str, call: &str) {
        self.send(Event::OfferAnswered {
            call: call.to_owned(),
            agent: agent.to_owned(),
        });
    }

    fn declines(&mut self, agent: &str, call: &str) {
        self.send(Event::OfferRejected {
            call: call.to_owned(),
            agent: agent.to_owned(),
        });
    }

    fn ends(&mut self, call: &str, agent: &str) {
        self.send(Event::CallEnded {
            call: call.to_owned(),
            agent: agent.to_owned(),
        });
    }

    fn hangs_up(&mut self, call: &str) {
        self.send(Event::CallerHungUp {
            call: call.to_owned(),
        });
    }

    fn closes(&mut self, office: &str) {
        self.send(Event::OfficeClosed {
            office: office.to_owned(),
        });
    }

    /// The snapshot as the console would show it.
    fn show(&mut self) {
        let snapshot = self.queues.snapshot();
        let mut text = format!("== at {}\n", self.seconds(self.now));
        for office in &snapshot.offices {
            writeln!(text, "   {}:", office.office).expect("write");
            for caller in &office.waiting {
                let ringing = caller
                    .offered_to
                    .as_ref()
                    .map(|agent| format!(", ringing {agent}"))
                    .unwrap_or_default();
                writeln!(
                    text,
                    "     {}. {} waiting since {}{ringing}",
                    caller.position,
                    caller.call,
                    self.seconds(caller.since)
                )
                .expect("write");
            }
            for agent in &office.agents {
                let idle = agent
                    .idle_since
                    .map_or_else(|| String::from("-"), |at| self.seconds(at));
                writeln!(
                    text,
                    "     agent {}: {:?}, idle since {idle}, missed {} in a row",
                    agent.agent, agent.state, agent.missed_in_a_row
                )
                .expect("write");
            }
        }
        self.transcript.push_str(&text);
    }

    fn describe_command(&self, command: &Command) -> String {
        match command {
            Command::StartTimer { timer, at } => {
                format!("timer #{timer} at {}", self.seconds(*at))
            }
            Command::CancelTimer { timer } => format!("cancel timer #{timer}"),
            Command::PlayMusic { call, music } => format!("music to {call}: {}", media(music)),
            Command::AnnouncePosition { call, position } => {
                format!("{call} hears: position {position}")
            }
            Command::Offer {
                call,
                office,
                agent,
            } => format!("ring {agent} for {call} ({office})"),
            Command::CancelOffer { call, agent } => format!("stop ringing {agent} for {call}"),
            Command::Connect { call, agent } => format!("connect {call} with {agent}"),
            Command::Leave { call, outcome } => format!("{call} leaves the queue: {outcome:?}"),
            Command::SetAway { agent } => format!("set {agent} away"),
        }
    }
}

fn media(media: &Media) -> String {
    match media {
        Media::Audio { path } => path.clone(),
        Media::Speech { text, language } => format!("[{language}] {text:?}"),
    }
}

fn describe_event(event: &Event) -> String {
    match event {
        Event::Join(join) => {
            let mut options = vec![
                format!("ring {}s", join.ring_ms / 1000),
                format!("max wait {}s", join.max_wait_ms / 1000),
            ];
            if join.announce_position {
                options.push(String::from("position"));
            }
            if join.music.is_some() {
                options.push(String::from("music"));
            }
            let staff = if join.agents.is_empty() {
                String::from("no staff")
            } else {
                format!("staff {}", join.agents.join(" "))
            };
            format!(
                "{} joins {} ({staff}; {})",
                join.call,
                join.office,
                options.join(", ")
            )
        }
        Event::CallerHungUp { call } => format!("{call} hangs up"),
        Event::OfficeClosed { office } => format!("{office} closes"),
        Event::AgentAvailable { agent } => format!("{agent} available"),
        Event::AgentUnavailable { agent, absence } => format!("{agent} unavailable: {absence:?}"),
        Event::OfferAnswered { call, agent } => format!("{agent} answers {call}"),
        Event::OfferRejected { call, agent } => format!("{agent} declines {call}"),
        Event::CallEnded { call, agent } => format!("{call} with {agent} ends"),
        Event::Timer { timer } => format!("timer #{timer}"),
    }
}

#[test]
fn two_callers_one_agent_the_second_waits_for_the_first_call_to_end() {
    let mut board = Switchboard::new();
    board.available("201");
    board.join(caller("call-a", "prova", &["201"]));
    board.wait(3);
    board.answers("201", "call-a");
    board.wait(2);
    board.join(caller("call-b", "prova", &["201"]));
    board.show();
    board.wait(40);
    board.ends("call-a", "201");
    board.wait(2);
    board.answers("201", "call-b");
    board.show();
    insta::assert_snapshot!(board.transcript);
}

#[test]
fn the_longest_idle_agent_is_offered_the_call() {
    let mut board = Switchboard::new();
    board.available("202");
    board.wait(10);
    board.available("201");
    board.wait(10);
    // 202 has been free longest, though listed second.
    board.join(caller("call-a", "prova", &["201", "202"]));
    board.answers("202", "call-a");
    board.join(caller("call-b", "prova", &["201", "202"]));
    board.answers("201", "call-b");
    board.wait(30);
    board.ends("call-b", "201");
    board.wait(10);
    board.ends("call-a", "202");
    board.wait(10);
    // 201 finished first, so has been idle longest.
    board.join(caller("call-c", "prova", &["201", "202"]));
    board.answers("201", "call-c");
    board.wait(5);
    board.ends("call-c", "201");
    // Equally idle since the same instant: the office's order decides.
    board.available("301");
    board.available("302");
    board.join(caller("call-d", "urp", &["302", "301"]));
    board.show();
    insta::assert_snapshot!(board.transcript);
}

#[test]
fn the_longest_waiting_caller_goes_first() {
    let mut board = Switchboard::new();
    board.join(caller("call-a", "prova", &["201", "202"]));
    board.wait(5);
    board.join(caller("call-b", "prova", &["201", "202"]));
    board.wait(5);
    board.join(caller("call-c", "prova", &["201", "202"]));
    board.wait(10);
    board.available("201");
    board.wait(2);
    board.answers("201", "call-a");
    board.wait(3);
    board.available("202");
    board.show();
    insta::assert_snapshot!(board.transcript);
}

#[test]
fn no_answer_passes_the_caller_to_the_next_agent() {
    let mut board = Switchboard::new();
    board.available("201");
    board.available("202");
    board.join(caller("call-a", "prova", &["201", "202"]));
    // 201 does not answer in the ring time: 202 rings, 201 goes to the back.
    board.wait(12);
    board.answers("202", "call-a");
    board.join(caller("call-b", "prova", &["201", "202"]));
    // 201 declines: the only one free, so rung again.
    board.declines("201", "call-b");
    board.wait(4);
    board.answers("201", "call-b");
    board.show();
    insta::assert_snapshot!(board.transcript);
}

#[test]
fn an_agent_who_misses_three_in_a_row_is_set_away() {
    let mut board = Switchboard::new();
    board.available("201");
    board.join(caller("call-a", "prova", &["201"]));
    board.wait(10); // no answer
    board.wait(10); // no answer
    board.wait(3);
    board.declines("201", "call-a"); // the third miss in a row
    board.show();
    board.wait(30);
    // *20: back at the desk, with a fresh count.
    board.available("201");
    board.wait(3);
    board.answers("201", "call-a");
    board.show();
    insta::assert_snapshot!(board.transcript);
}

#[test]
fn a_miss_count_of_zero_never_sets_anyone_away_and_an_answer_resets_the_count() {
    let mut board = Switchboard::with(QueueSettings {
        missed_before_away: 0,
    });
    board.available("201");
    board.join(caller("call-a", "prova", &["201"]));
    board.wait(40); // four misses
    board.show();
    board.answers("201", "call-a");
    board.show();
    insta::assert_snapshot!(board.transcript);
}

#[test]
fn the_maximum_wait_ends_in_timeout() {
    let mut board = Switchboard::new();
    board.join(Join {
        max_wait_ms: 60_000,
        ..caller("call-a", "prova", &["201"])
    });
    board.wait(55);
    board.join(Join {
        max_wait_ms: 60_000,
        announce_position: false,
        music: None,
        ..caller("call-b", "prova", &["201"])
    });
    board.wait(5); // call-a has waited 60 s
    board.wait(50);
    // 201 rings for call-b when its maximum wait passes: the offer is withdrawn, no miss.
    board.available("201");
    board.wait(10);
    board.show();
    insta::assert_snapshot!(board.transcript);
}

#[test]
fn the_office_closing_sends_its_callers_to_the_closed_path() {
    let mut board = Switchboard::new();
    board.available("201");
    board.join(caller("call-a", "prova", &["201"]));
    board.join(caller("call-b", "prova", &["201"]));
    board.join(caller("call-c", "urp", &["201", "301"]));
    board.wait(5);
    board.closes("prova");
    board.show();
    insta::assert_snapshot!(board.transcript);
}

#[test]
fn a_caller_who_hangs_up_leaves_and_the_others_move_up() {
    let mut board = Switchboard::new();
    board.available("201");
    board.join(caller("call-a", "prova", &["201"]));
    board.join(caller("call-b", "prova", &["201"]));
    board.join(caller("call-c", "prova", &["201"]));
    board.join(caller("call-d", "prova", &["201"]));
    board.wait(5);
    board.hangs_up("call-b"); // waiting: c and d move up
    board.wait(2);
    board.hangs_up("call-a"); // ringing: 201 stops ringing and rings for c
    board.show();
    insta::assert_snapshot!(board.transcript);
}

#[test]
fn an_agent_in_two_offices_takes_one_call_at_a_time() {
    let mut board = Switchboard::new();
    board.available("201");
    board.join(caller("call-a", "prova", &["201"]));
    board.wait(1);
    board.join(caller("call-b", "urp", &["201", "301"]));
    board.wait(1);
    board.join(caller("call-c", "prova", &["201"]));
    board.answers("201", "call-a");
    board.show();
    board.wait(30);
    // call-b (urp) has waited longer than call-c (prova): 201 rings for call-b.
    board.ends("call-a", "201");
    board.answers("201", "call-b");
    board.show();
    insta::assert_snapshot!(board.transcript);
}

#[test]
fn an_agent_going_offline_while_ringing_passes_the_caller_on() {
    let mut board = Switchboard::new();
    board.available("201");
    board.available("202");
    board.join(caller("call-a", "prova", &["201", "202"]));
    board.wait(2);
    board.unavailable("201", Absence::Offline); // no miss: the phone went away
    board.wait(1);
    // Presence echoing the queue's own ringing changes nothing.
    board.unavailable("202", Absence::Busy);
    board.answers("202", "call-a");
    board.wait(20);
    board.ends("call-a", "202");
    // 202 is offered calls again once presence says so.
    board.join(caller("call-b", "prova", &["201", "202"]));
    board.available("202");
    board.unavailable("202", Absence::Away);
    board.show();
    insta::assert_snapshot!(board.transcript);
}

#[test]
fn late_and_stray_events_change_nothing() {
    let mut board = Switchboard::new();
    board.join(caller("call-z", "prova", &[])); // nobody to offer it to
    board.available("201");
    board.join(caller("call-a", "prova", &["201"]));
    board.join(caller("call-a", "prova", &["201"])); // the same call again
    board.wait(10); // no answer: the first offer's timer fires, 201 rings again
    board.answers("201", "call-x"); // not a waiting caller
    board.send(Event::Timer { timer: 2 }); // the ring timer that already fired
    board.send(Event::Timer { timer: 99 }); // never started
    board.declines("202", "call-a"); // not the agent ringing
    board.ends("call-a", "201"); // not on that call
    board.hangs_up("call-q"); // not in a queue
    board.closes("anagrafe"); // nobody queued there
    board.answers("201", "call-a");
    board.answers("201", "call-a"); // twice
    board.show();
    insta::assert_snapshot!(board.transcript);
}

#[test]
fn queue_outcomes_answer_the_flow_as_transfer_outcomes() {
    assert_eq!(
        TransferOutcome::from(QueueOutcome::Answered),
        TransferOutcome::Answered
    );
    assert_eq!(
        TransferOutcome::from(QueueOutcome::Timeout),
        TransferOutcome::Timeout
    );
    assert_eq!(
        TransferOutcome::from(QueueOutcome::Closed),
        TransferOutcome::Closed
    );
    assert_eq!(
        TransferOutcome::from(QueueOutcome::NoStaff),
        TransferOutcome::Failed
    );
}

/// What the adapter has been told, kept from the commands alone, to check the queues against.
#[derive(Default)]
struct Ledger {
    now: Option<Timestamp>,
    timers: BTreeMap<TimerId, Timestamp>,
    timers_ever: BTreeSet<TimerId>,
    /// Caller → the agent ringing for them.
    offers: BTreeMap<String, String>,
    /// Agent → the caller they talk to.
    calls: BTreeMap<String, String>,
    waiting: BTreeSet<String>,
    gone: BTreeSet<String>,
    /// Callers who asked to hear their position, and the last position they were told.
    told: BTreeMap<String, Option<u32>>,
    next_call: u32,
}

const OFFICES: [(&str, &[&str]); 3] = [
    ("prova", &["201", "202", "203"]),
    ("urp", &["203", "204"]),
    ("anagrafe", &["205"]),
];
const AGENTS: [&str; 6] = ["201", "202", "203", "204", "205", "299"];

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        return None;
    }
    items.get(rng.usize(..items.len()))
}

impl Ledger {
    fn now(&self) -> Timestamp {
        self.now.expect("started")
    }

    /// Events an adapter could send now (a time step: the timers due, each at its time):
    /// mostly sensible, sometimes late or stray. Answers them with when each happens, and
    /// the time after them.
    fn invent(&mut self, rng: &mut fastrand::Rng) -> (Vec<(Timestamp, Event)>, Timestamp) {
        let now = self.now();
        let events = self.invent_events(rng);
        let until = self.now();
        self.now = Some(now);
        let timed = events
            .into_iter()
            .map(|event| {
                let at = match &event {
                    Event::Timer { timer } => self.timers.get(timer).copied(),
                    _ => None,
                };
                (at.map_or(now, |at| at.max(now)), event)
            })
            .collect();
        (timed, until)
    }

    fn invent_events(&mut self, rng: &mut fastrand::Rng) -> Vec<Event> {
        let waiting: Vec<String> = self.waiting.iter().cloned().collect();
        let offers: Vec<(String, String)> = self
            .offers
            .iter()
            .map(|(c, a)| (c.clone(), a.clone()))
            .collect();
        let calls: Vec<(String, String)> = self
            .calls
            .iter()
            .map(|(a, c)| (c.clone(), a.clone()))
            .collect();
        let some_call = |rng: &mut fastrand::Rng| {
            pick(rng, &waiting)
                .cloned()
                .unwrap_or_else(|| format!("stray-{}", rng.u8(..)))
        };
        let some_agent =
            |rng: &mut fastrand::Rng| pick(rng, &AGENTS).map_or("201", |a| *a).to_owned();
        match rng.u8(..100) {
            0..15 => {
                self.next_call += 1;
                let (office, staff) = pick(rng, &OFFICES).copied().unwrap_or(OFFICES[0]);
                let agents = if rng.u8(..20) == 0 {
                    Vec::new()
                } else {
                    staff.iter().map(|a| (*a).to_owned()).collect()
                };
                vec![Event::Join(Join {
                    call: format!("call-{}", self.next_call),
                    office: office.to_owned(),
                    agents,
                    ring_ms: rng.u64(5_000..20_000),
                    max_wait_ms: rng.u64(20_000..200_000),
                    announce_position: rng.bool(),
                    music: None,
                })]
            }
            15..20 => vec![Event::CallerHungUp {
                call: some_call(rng),
            }],
            20..22 => vec![Event::OfficeClosed {
                office: pick(rng, &OFFICES).map_or("prova", |o| o.0).to_owned(),
            }],
            22..37 => vec![Event::AgentAvailable {
                agent: some_agent(rng),
            }],
            37..45 => vec![Event::AgentUnavailable {
                agent: some_agent(rng),
                absence: *pick(rng, &[Absence::Busy, Absence::Away, Absence::Offline])
                    .unwrap_or(&Absence::Away),
            }],
            45..57 => {
                let (call, agent) = pick(rng, &offers)
                    .cloned()
                    .unwrap_or_else(|| (some_call(rng), some_agent(rng)));
                vec![Event::OfferAnswered { call, agent }]
            }
            57..63 => {
                let (call, agent) = pick(rng, &offers)
                    .cloned()
                    .unwrap_or_else(|| (some_call(rng), some_agent(rng)));
                vec![Event::OfferRejected { call, agent }]
            }
            63..73 => {
                let (call, agent) = pick(rng, &calls)
                    .cloned()
                    .unwrap_or_else(|| (some_call(rng), some_agent(rng)));
                vec![Event::CallEnded { call, agent }]
            }
            73..75 => vec![Event::Timer {
                timer: rng.u64(..self.timers_ever.len() as u64 + 3),
            }],
            _ => {
                // Time passes: the timers due fire at their time, in order.
                let until = later(self.now(), rng.i64(1..20));
                let mut due: Vec<(Timestamp, TimerId)> = self
                    .timers
                    .iter()
                    .filter(|(_, at)| **at <= until)
                    .map(|(timer, at)| (*at, *timer))
                    .collect();
                due.sort();
                self.now = Some(until);
                due.into_iter()
                    .map(|(_, timer)| Event::Timer { timer })
                    .collect()
            }
        }
    }

    /// Check one step's commands against what was told before, and take them in.
    fn take(&mut self, event: &Event, commands: &[Command]) -> Result<(), String> {
        if let Event::Timer { timer } = event {
            self.timers.remove(timer);
        }
        match event {
            Event::OfferRejected { call, agent } if self.offers.get(call) == Some(agent) => {
                self.offers.remove(call);
            }
            Event::CallEnded { call, agent } if self.calls.get(agent) == Some(call) => {
                self.calls.remove(agent);
            }
            Event::CallerHungUp { call } if self.waiting.remove(call) => {
                self.gone.insert(call.clone());
            }
            _ => {}
        }
        let joined = match event {
            Event::Join(join) if !self.waiting.contains(&join.call) => {
                if join.announce_position {
                    self.told.insert(join.call.clone(), None);
                }
                Some(join.call.clone())
            }
            _ => None,
        };
        for command in commands {
            match command {
                Command::StartTimer { timer, at } => {
                    if !self.timers_ever.insert(*timer) {
                        return Err(format!("timer #{timer} started twice"));
                    }
                    if *at < self.now() {
                        return Err(format!("timer #{timer} due in the past"));
                    }
                    self.timers.insert(*timer, *at);
                }
                Command::CancelTimer { timer } => {
                    if self.timers.remove(timer).is_none() {
                        return Err(format!("timer #{timer} cancelled but not running"));
                    }
                }
                Command::PlayMusic { call, .. } => {
                    return Err(format!("music for {call}, though no join had music"));
                }
                Command::AnnouncePosition { call, position } => {
                    if !self.waiting.contains(call) && joined.as_ref() != Some(call) {
                        return Err(format!("position {position} told to {call}, not waiting"));
                    }
                    if self.offers.contains_key(call) {
                        return Err(format!("position told to {call} while an agent rings"));
                    }
                    match self.told.get_mut(call) {
                        Some(told) => *told = Some(*position),
                        None => return Err(format!("position told to {call}, who did not ask")),
                    }
                }
                Command::Offer { call, agent, .. } => {
                    if !self.waiting.contains(call) && joined.as_ref() != Some(call) {
                        return Err(format!("{call} offered to {agent}, but not waiting"));
                    }
                    if let Some(other) = self.offers.get(call) {
                        return Err(format!("{call} offered to {agent} while {other} rings"));
                    }
                    if let Some(other) = self.offers.iter().find(|(_, a)| *a == agent) {
                        return Err(format!(
                            "{agent} offered {call} while ringing for {other:?}"
                        ));
                    }
                    if let Some(other) = self.calls.get(agent) {
                        return Err(format!(
                            "{agent} offered {call} while on a call with {other}"
                        ));
                    }
                    self.offers.insert(call.clone(), agent.clone());
                }
                Command::CancelOffer { call, agent } => {
                    if self.offers.get(call) != Some(agent) {
                        return Err(format!("offer of {call} to {agent} cancelled, not made"));
                    }
                    self.offers.remove(call);
                }
                Command::Connect { call, agent } => {
                    let answered = matches!(event, Event::OfferAnswered { call: c, agent: a } if c == call && a == agent);
                    if !answered || self.offers.get(call) != Some(agent) {
                        return Err(format!("{call} connected with {agent} unasked"));
                    }
                    self.offers.remove(call);
                    if self.calls.insert(agent.clone(), call.clone()).is_some() {
                        return Err(format!("{agent} on two calls"));
                    }
                }
                Command::Leave { call, outcome } => {
                    let known = self.waiting.remove(call) || joined.as_ref() == Some(call);
                    if !known || self.gone.contains(call) {
                        return Err(format!("{call} left ({outcome:?}) without waiting"));
                    }
                    if self.offers.contains_key(call) {
                        return Err(format!("{call} left with an agent still ringing"));
                    }
                    self.gone.insert(call.clone());
                }
                Command::SetAway { .. } => {}
            }
        }
        if let Some(call) = joined
            && !self.gone.contains(&call)
        {
            self.waiting.insert(call);
        }
        Ok(())
    }

    /// What the snapshot says agrees with what the adapter was told, and nothing is left idle.
    fn agrees(&self, queues: &Queues) -> Result<(), String> {
        let snapshot = queues.snapshot();
        let mut seen = BTreeSet::new();
        for office in &snapshot.offices {
            let positions: Vec<u32> = office.waiting.iter().map(|c| c.position).collect();
            let expected: Vec<u32> = (1..).take(positions.len()).collect();
            if positions != expected {
                return Err(format!("{}: positions {positions:?}", office.office));
            }
            let free: Vec<&str> = office
                .agents
                .iter()
                .filter(|a| a.state == AgentState::Available)
                .map(|a| a.agent.as_str())
                .collect();
            for caller in &office.waiting {
                if !seen.insert(caller.call.clone()) {
                    return Err(format!("{} in two queues", caller.call));
                }
                if caller.offered_to.as_ref() != self.offers.get(&caller.call) {
                    return Err(format!("{}: offer differs from what was told", caller.call));
                }
                if caller.offered_to.is_none() && !free.is_empty() {
                    return Err(format!("{} waits while {free:?} are free", caller.call));
                }
                if caller.offered_to.is_none()
                    && let Some(told) = self.told.get(&caller.call)
                    && *told != Some(caller.position)
                {
                    return Err(format!(
                        "{} is at {} but was told {told:?}",
                        caller.call, caller.position
                    ));
                }
            }
            for agent in &office.agents {
                let ringing = self.offers.values().any(|a| *a == agent.agent);
                let talking = self.calls.contains_key(&agent.agent);
                let state_ok = match agent.state {
                    AgentState::Ringing => ringing && !talking,
                    AgentState::OnCall => talking && !ringing,
                    AgentState::Available
                    | AgentState::Busy
                    | AgentState::Away
                    | AgentState::Offline => !ringing && !talking,
                };
                if !state_ok {
                    return Err(format!(
                        "{}: {:?} in the snapshot",
                        agent.agent, agent.state
                    ));
                }
            }
        }
        let waiting: BTreeSet<String> = self.waiting.clone();
        if seen != waiting {
            return Err(format!("waiting {seen:?}, told {waiting:?}"));
        }
        // One maximum-wait timer per waiting caller, one ring timer per offer, no more.
        if self.timers.len() != self.waiting.len() + self.offers.len() {
            return Err(format!(
                "{} timers running for {} callers and {} offers",
                self.timers.len(),
                self.waiting.len(),
                self.offers.len()
            ));
        }
        Ok(())
    }
}

#[test]
fn random_event_sequences_keep_the_invariants() {
    let start: Timestamp = START.parse().expect("instant");
    let mut offers = 0;
    let mut connected = 0;
    for seed in 0..300 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut queues = Queues::new(QueueSettings {
            missed_before_away: rng.u32(0..4),
        });
        let mut ledger = Ledger {
            now: Some(start),
            ..Ledger::default()
        };
        let mut history = Vec::new();
        for _ in 0..150 {
            let (events, until) = ledger.invent(&mut rng);
            for (now, event) in events {
                ledger.now = Some(now);
                history.push(format!("{now} {event:?}"));
                let commands = queues.step(now, event.clone());
                offers += commands
                    .iter()
                    .filter(|c| matches!(c, Command::Offer { .. }))
                    .count();
                connected += commands
                    .iter()
                    .filter(|c| matches!(c, Command::Connect { .. }))
                    .count();
                if let Err(problem) = ledger
                    .take(&event, &commands)
                    .and_then(|()| ledger.agrees(&queues))
                {
                    panic!(
                        "seed {seed}: {problem}\nafter:\n{}\ncommands: {commands:?}",
                        history.join("\n")
                    );
                }
            }
            ledger.now = Some(until);
        }
    }
    // The sequences did exercise distribution, not just strays.
    assert!(
        offers > 1000 && connected > 300,
        "{offers} offers, {connected} calls"
    );
}
