//! The phone-less adapter: runs one call of a [`Session`] against a real store
//! in virtual time, with the caller's keys from a script or a terminal.
//!
//! Used by `centralino simulate` and `centralino test`. Prompts "play" for an
//! estimated duration, timers fire when the virtual clock reaches them, store
//! requests go to the [`Store`], and transfers, queues and webhooks answer as
//! the [`Script`] says. Every step is reported as a [`Step`] with its time.

use std::collections::VecDeque;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::engine::{
    CallInfo, ChannelCommand, Event, Id, Media, Passage, Presence, Program, Session,
    TransferOutcome,
};
use crate::port::{Action, CallPort, Phase, PortOptions, RecordingFinished, Step, TimedStep};
use crate::store::Store;

/// Most events one simulated call may take: a stuck flow ends instead of spinning.
pub const MAX_EVENTS: usize = 10_000;

/// What the caller does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Key(char),
    Text(String),
    /// Do nothing: let the current prompt or timeout run out.
    Wait,
    Hangup,
}

impl Input {
    /// `1`, `#`, `wait`, `hangup`, or `"text"` for typed text.
    pub fn parse_all(text: &str) -> Result<Vec<Input>, String> {
        let mut inputs = Vec::new();
        for word in text.split_whitespace() {
            match word {
                "wait" => inputs.push(Input::Wait),
                "hangup" => inputs.push(Input::Hangup),
                w if w
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '*' || c == '#') =>
                {
                    inputs.extend(w.chars().map(Input::Key));
                }
                w => {
                    return Err(format!(
                        "`{w}` is not a key: use digits, * and #, `wait` or `hangup`"
                    ));
                }
            }
        }
        Ok(inputs)
    }
}

/// Where the caller's inputs come from.
pub trait InputSource {
    /// The next input, or `None` when the caller has nothing more to do.
    fn next_input(&mut self) -> Option<Input>;

    /// The caller's next input comes while a prompt still plays (a replayed caller who hung
    /// up mid-prompt), not after it ended as usual.
    fn interrupts(&mut self) -> bool {
        false
    }
}

impl InputSource for VecDeque<Input> {
    fn next_input(&mut self) -> Option<Input> {
        self.pop_front()
    }
}

/// How the world outside the flow answers, for one simulated call.
#[derive(Debug, Clone)]
pub struct Script {
    pub transfer: TransferOutcome,
    pub queue: TransferOutcome,
    /// Webhook answers by a part of their URL; unlisted webhooks fail.
    pub webhooks: Vec<(String, Result<serde_json::Value, String>)>,
    /// Staff contacts who are not present.
    pub absent: Vec<String>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            transfer: TransferOutcome::Answered,
            queue: TransferOutcome::Answered,
            webhooks: Vec::new(),
            absent: Vec::new(),
        }
    }
}

struct Absent(Vec<String>);

impl Presence for Absent {
    fn is_present(&self, contact: &str) -> bool {
        !self.0.iter().any(|a| a == contact)
    }
}

/// Estimated speaking time of a text: about 14 characters a second.
fn speech_ms(text: &str) -> i64 {
    let chars = i64::try_from(text.chars().count()).unwrap_or(i64::MAX);
    (chars.saturating_mul(1000) / 14).max(500)
}

/// How long an audio prompt plays: its duration in the graph, else 3 s.
fn audio_ms(program: &Program, path: &str) -> i64 {
    program
        .graph
        .prompts
        .values()
        .flat_map(|p| p.variants.values())
        .find_map(|b| match b {
            centralino_compiler::graph::PromptBody::Audio {
                path: p,
                duration_ms,
                ..
            } if p == path => i64::try_from(*duration_ms).ok(),
            _ => None,
        })
        .filter(|ms| *ms > 0)
        .unwrap_or(3_000)
}

/// What one simulated call did.
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    pub steps: Vec<TimedStep>,
    /// Every node entered and edge followed, in order.
    pub route: Vec<Passage>,
}

/// Runs simulated calls against one store.
pub struct Driver<'a> {
    program: Arc<Program>,
    store: &'a dyn Store,
    script: Script,
}

/// One simulated call: the port, and what the simulated world is doing.
struct Run<'s> {
    port: CallPort,
    now: Timestamp,
    /// The prompt that plays last, and when it ends (prompts queue up).
    playing: Option<(Id, Timestamp)>,
    steps: Vec<TimedStep>,
    on_step: &'s mut dyn FnMut(&TimedStep),
    /// A webhook went unanswered: the session waits for its own timeout, not
    /// for the caller, so no input is taken until a timer fires.
    awaiting_timeout: bool,
}

impl Run<'_> {
    fn push(&mut self, step: Step) {
        self.port.note(step, self.now);
        self.collect();
    }

    /// The port's new steps, to the transcript.
    fn collect(&mut self) {
        for timed in self.port.take_journal() {
            (self.on_step)(&timed);
            self.steps.push(timed);
        }
    }

    fn later(&self, ms: i64) -> Timestamp {
        self.now
            .checked_add(SignedDuration::from_millis(ms))
            .unwrap_or(self.now)
    }

    fn is_over(&self) -> bool {
        self.port.outcome().is_some() || self.port.phase() == Phase::Over
    }
}

impl<'a> Driver<'a> {
    pub fn new(program: Arc<Program>, store: &'a dyn Store, script: Script) -> Self {
        Driver {
            program,
            store,
            script,
        }
    }

    /// Run one call from `at` until it ends, the inputs run out with nothing left
    /// to wait for, or [`MAX_EVENTS`] events. `on_step` sees each step as it happens.
    pub fn run(
        &self,
        call: CallInfo,
        at: Timestamp,
        inputs: &mut dyn InputSource,
        on_step: &mut dyn FnMut(&TimedStep),
    ) -> Vec<TimedStep> {
        self.run_routed(call, at, inputs, on_step).steps
    }

    /// [`Driver::run`], also keeping the call's way through the graph (for coverage).
    pub fn run_routed(
        &self,
        call: CallInfo,
        at: Timestamp,
        inputs: &mut dyn InputSource,
        on_step: &mut dyn FnMut(&TimedStep),
    ) -> Ran {
        let session = Session::new(self.program.clone(), call)
            .with_presence(Arc::new(Absent(self.script.absent.clone())))
            .recording_route();
        let options = PortOptions {
            journal: true,
            ..PortOptions::default()
        };
        let mut run = Run {
            port: CallPort::new(session, options, at),
            now: at,
            playing: None,
            steps: Vec::new(),
            on_step,
            awaiting_timeout: false,
        };
        let actions = run.port.start(at);
        self.act(&mut run, actions);
        let mut events = 1;
        while !run.is_over() && events < MAX_EVENTS {
            events += 1;
            let event = match run.port.next_pending() {
                Some(event) => {
                    run.now = run.now.max(event.at());
                    event
                }
                None => match self.next_event(&mut run, inputs) {
                    Some(event) => event,
                    None => {
                        run.push(Step::Stuck);
                        break;
                    }
                },
            };
            let actions = match event {
                Event::PlaybackFinished { playback, at } => {
                    run.port.playback_finished(playback, at)
                }
                event => run.port.feed(event),
            };
            self.act(&mut run, actions);
            // Staff answered: the caller talks to them and the flow has nothing
            // more to do (the engine only waits for the call's maximum duration).
            if run.port.session().is_bridged() && !run.is_over() {
                run.port.bridged(run.now);
                run.collect();
            }
        }
        Ran {
            route: run.port.session().route().to_vec(),
            steps: run.steps,
        }
    }

    /// What happens next when nothing is pending: the prompt ends, the caller acts, or a timer fires.
    fn next_event(&self, run: &mut Run<'_>, inputs: &mut dyn InputSource) -> Option<Event> {
        if run.playing.is_some() && inputs.interrupts() {
            run.playing = None;
        }
        if let Some((playback, ends)) = run.playing.take() {
            run.now = run.now.max(ends);
            return Some(Event::PlaybackFinished {
                playback,
                at: run.now,
            });
        }
        // The caller acts only when the session is not waiting on a timer of its own
        // making other than an input timeout; inputs are given after prompts end.
        if run.awaiting_timeout {
            run.awaiting_timeout = false;
            return self.fire_next_timer(run);
        }
        if let Some(input) = inputs.next_input() {
            run.now = run.later(1_000);
            return match input {
                Input::Key(key) => {
                    run.push(Step::Pressed { key });
                    Some(Event::Digit {
                        digit: key,
                        at: run.now,
                    })
                }
                Input::Text(text) => {
                    run.push(Step::Typed { text: text.clone() });
                    Some(Event::Text { text, at: run.now })
                }
                Input::Hangup => {
                    run.push(Step::CallerHungUp);
                    Some(Event::Hangup { at: run.now })
                }
                Input::Wait => {
                    run.push(Step::Silence);
                    self.fire_next_timer(run)
                }
            };
        }
        self.fire_next_timer(run)
    }

    fn fire_next_timer(&self, run: &mut Run<'_>) -> Option<Event> {
        let event = run.port.pop_timer_due_by(Timestamp::MAX)?;
        run.now = run.now.max(event.at());
        Some(event)
    }

    fn act(&self, run: &mut Run<'_>, actions: Vec<Action>) {
        run.collect();
        for action in actions {
            match action {
                Action::Channel(command) => self.channel(run, command),
                Action::Store(job) => {
                    let done = job.run(self.store);
                    run.port.store_done(done);
                }
                // The simulated line hangs up at once, and the port noted the end.
                Action::HangUp(_) | Action::Ended(_) => {}
            }
            run.collect();
        }
    }

    /// The simulated world: prompts take their estimated time, the script answers the rest.
    fn channel(&self, run: &mut Run<'_>, command: ChannelCommand) {
        let now = run.now;
        match command {
            ChannelCommand::Play {
                playback, media, ..
            } => {
                // The port wrote what is said or played in the journal, in the command's turn.
                let ms = match &media {
                    Media::Speech { text, .. } => speech_ms(text),
                    Media::Audio { path } => audio_ms(&self.program, path),
                };
                // Prompts queue up: a second one starts when the first ends.
                let start = run.playing.map_or(now, |(_, ends)| ends.max(now));
                let ends = start
                    .checked_add(SignedDuration::from_millis(ms))
                    .unwrap_or(start);
                run.playing = Some((playback, ends));
            }
            ChannelCommand::StopPlayback { playback } => {
                if run.playing.is_some_and(|(p, _)| p == playback) {
                    run.playing = None;
                }
            }
            ChannelCommand::Transfer {
                request,
                office,
                contacts,
                ..
            } => {
                let outcome = self.script.transfer;
                run.push(Step::Transfer {
                    office,
                    contacts,
                    outcome,
                });
                run.port.post(Event::TransferResult {
                    request,
                    outcome,
                    at: run.later(5_000),
                });
            }
            ChannelCommand::Enqueue {
                request, office, ..
            } => {
                let outcome = self.script.queue;
                run.push(Step::Queue { office, outcome });
                run.port.post(Event::TransferResult {
                    request,
                    outcome,
                    at: run.later(30_000),
                });
            }
            ChannelCommand::Record {
                request,
                variable,
                max_ms,
            } => {
                // The simulated caller speaks for 5 seconds (or less, if the bound is shorter).
                let duration_ms = max_ms.min(5_000);
                let call_id = &run.port.call().call_id;
                let path = format!("recordings/{call_id}-{variable}.wav");
                let job = run.port.recorded(RecordingFinished {
                    request,
                    variable,
                    path,
                    duration_ms,
                    at: run.later(i64::try_from(duration_ms).unwrap_or(0)),
                });
                let done = job.run(self.store);
                run.port.store_done(done);
            }
            ChannelCommand::JoinConference { request, room, .. } => {
                run.push(Step::Conference { room });
                run.port.post(Event::ConferenceLeft {
                    request,
                    at: run.later(60_000),
                });
            }
            ChannelCommand::Webhook { request, url, .. } => {
                let answer = self
                    .script
                    .webhooks
                    .iter()
                    .find(|(part, _)| url.contains(part.as_str()))
                    .map(|(_, answer)| answer.clone());
                match answer {
                    Some(result) => {
                        run.push(Step::Webhook {
                            url,
                            ok: result.is_ok(),
                        });
                        run.port.post(Event::WebhookResult {
                            request,
                            result,
                            at: run.later(200),
                        });
                    }
                    // No answer: the engine's own timeout decides, before the caller acts.
                    None => {
                        run.push(Step::Webhook { url, ok: false });
                        run.awaiting_timeout = true;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::store::SledStore;

    const FLOW: &str = r#"
calendar orario {
  timezone "Europe/Rome"
  mon-fri 09:00-13:00
}

office ufficio "Ufficio" {
  hours orario
  staff "sip:1@example.it" as "Uno"
}

flow main answers "100" {
  language it
  max duration 10m
  avvisi: webhook "https://example.it/avvisi" timeout 3s into avviso -> menu else -> menu
  menu: menu "Prema 1." timeout 5s retries 1 {
    1 -> passa
    timeout, invalid -> fine
  }
  passa: transfer ufficio else -> fine
  fine: say "Arrivederci." -> hangup
}
"#;

    fn run(inputs: &str) -> Vec<Step> {
        let mut sources = centralino_compiler::Sources::new();
        sources.add("test.flow", FLOW);
        let compiled = centralino_compiler::compile(&sources);
        assert!(
            !compiled.diagnostics.has_errors(),
            "{}",
            centralino_compiler::render::human(&sources, &compiled.diagnostics, false)
        );
        let program = Program::new(compiled.graph.unwrap()).unwrap();
        let store = SledStore::temporary().unwrap();
        let driver = Driver::new(program, &store, Script::default());
        let call = CallInfo {
            call_id: String::from("call-1"),
            caller: String::from("+393331234567"),
            number: String::from("100"),
        };
        let mut inputs: VecDeque<Input> = Input::parse_all(inputs).unwrap().into();
        let at: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        driver
            .run(call, at, &mut inputs, &mut |_| {})
            .into_iter()
            .map(|s| s.step)
            .collect()
    }

    #[test]
    fn keys_wait_for_an_unanswered_webhook_to_time_out() {
        let steps = run("1");
        let ignored = steps
            .iter()
            .any(|s| matches!(s, Step::Entered(trace) if trace.note.contains("ignored")));
        assert!(!ignored, "{steps:#?}");
        assert!(
            steps.iter().any(|s| matches!(s, Step::Transfer { .. })),
            "{steps:#?}"
        );
    }

    #[test]
    fn the_route_names_each_edge_followed() {
        use centralino_compiler::graph::EdgeLabel;
        let mut sources = centralino_compiler::Sources::new();
        sources.add("test.flow", FLOW);
        let compiled = centralino_compiler::compile(&sources);
        let graph = compiled.graph.unwrap();
        let node = |state: &str| graph.nodes.iter().find(|n| n.state == state).unwrap().id;
        let (avvisi, menu, fine) = (node("avvisi"), node("menu"), node("fine"));
        let program = Program::new(graph.clone()).unwrap();
        let store = SledStore::temporary().unwrap();
        let driver = Driver::new(program, &store, Script::default());
        let call = CallInfo {
            call_id: String::from("call-1"),
            caller: String::from("+393331234567"),
            number: String::from("100"),
        };
        let mut inputs: VecDeque<Input> = Input::parse_all("wait wait").unwrap().into();
        let at: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        let ran = driver.run_routed(call, at, &mut inputs, &mut |_| {});
        assert_eq!(
            ran.route,
            vec![
                Passage::Entered(avvisi),
                Passage::Followed {
                    from: avvisi,
                    on: EdgeLabel::Failed
                },
                Passage::Entered(menu),
                Passage::Followed {
                    from: menu,
                    on: EdgeLabel::Timeout
                },
                Passage::Entered(fine),
                Passage::Followed {
                    from: fine,
                    on: EdgeLabel::Ok
                },
            ]
        );
    }

    #[test]
    fn the_route_counts_a_return_and_an_answered_transfer_as_the_ok_way_out() {
        use centralino_compiler::graph::EdgeLabel;
        let flow = r#"
calendar orario {
  timezone "Europe/Rome"
  mon-fri 09:00-13:00
}

office ufficio "Ufficio" {
  hours orario
  staff "sip:1@example.it" as "Uno"
}

flow main answers "100" {
  language it
  entra: call aiuto -> passa
  passa: transfer ufficio else -> fine
  fine: say "Arrivederci." -> hangup
}

flow aiuto {
  spiega: say "Aiuto." -> return
}
"#;
        let mut sources = centralino_compiler::Sources::new();
        sources.add("test.flow", flow);
        let graph = centralino_compiler::compile(&sources).graph.unwrap();
        let node = |state: &str| graph.nodes.iter().find(|n| n.state == state).unwrap().id;
        let (entra, passa) = (node("entra"), node("passa"));
        let program = Program::new(graph.clone()).unwrap();
        let store = SledStore::temporary().unwrap();
        let driver = Driver::new(program, &store, Script::default());
        let call = CallInfo {
            call_id: String::from("call-2"),
            caller: String::from("+393331234567"),
            number: String::from("100"),
        };
        let at: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
        let ran = driver.run_routed(call, at, &mut VecDeque::new(), &mut |_| {});
        for from in [entra, passa] {
            assert!(
                ran.route.contains(&Passage::Followed {
                    from,
                    on: EdgeLabel::Ok
                }),
                "{:#?}",
                ran.route
            );
        }
    }

    #[test]
    fn an_answered_transfer_ends_the_run() {
        let steps = run("1");
        assert_eq!(
            steps.last(),
            Some(&Step::Ended {
                reason: crate::engine::EndReason::Bridged
            }),
            "{steps:#?}"
        );
    }
}
