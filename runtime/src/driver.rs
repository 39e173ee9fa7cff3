//! The phone-less adapter: runs one call of a [`Session`] against a real store
//! in virtual time, with the caller's keys from a script or a terminal.
//!
//! Used by `centralino simulate` and `centralino test`. Prompts "play" for an
//! estimated duration, timers fire when the virtual clock reaches them, store
//! requests go to the [`Store`], and transfers, queues and webhooks answer as
//! the [`Script`] says. Every step is reported as a [`Step`] with its time.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::effects::{self, Fact};
use crate::engine::{
    CallInfo, Command, Event, Id, Media, Presence, Program, Session, TransferOutcome,
};
use crate::store::{Recording, Store};

/// Most events one simulated call may take: a stuck flow ends instead of spinning.
pub const MAX_EVENTS: usize = 10_000;

/// The reason of the [`Step::Ended`] the driver adds when a transfer or queue is
/// answered: the call is bridged to staff and the simulation stops there.
pub const BRIDGED: &str = "put through to staff";

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

/// One thing that happened on the simulated call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Entered {
        flow: String,
        state: String,
        location: String,
        note: String,
    },
    Said {
        prompt: String,
        text: String,
        language: String,
    },
    Played {
        prompt: String,
        path: String,
    },
    Pressed {
        key: char,
    },
    Typed {
        text: String,
    },
    Silence,
    Ticket {
        reference: String,
        category: String,
    },
    Callback {
        reference: String,
        office: String,
    },
    Booking {
        reference: String,
        resource: String,
        start: Timestamp,
    },
    NoSlot {
        resource: String,
    },
    Cancelled {
        reference: String,
        found: bool,
    },
    Transfer {
        office: String,
        contacts: Vec<String>,
        outcome: TransferOutcome,
    },
    Queue {
        office: String,
        outcome: TransferOutcome,
    },
    Recording {
        variable: String,
        path: String,
    },
    Conference {
        room: String,
    },
    Webhook {
        url: String,
        ok: bool,
    },
    StoreFailed {
        message: String,
    },
    CallerHungUp,
    HungUp {
        reason: String,
    },
    Ended {
        reason: String,
    },
    /// The call waits for something that will never come (no input left, no timer).
    Stuck,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimedStep {
    pub at: Timestamp,
    #[serde(flatten)]
    pub step: Step,
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

/// Runs simulated calls against one store.
pub struct Driver<'a> {
    program: Arc<Program>,
    store: &'a dyn Store,
    script: Script,
}

struct Run<'s> {
    session: Session,
    now: Timestamp,
    playing: Option<(Id, Timestamp)>,
    timers: BTreeMap<Id, Timestamp>,
    pending: VecDeque<Event>,
    steps: Vec<TimedStep>,
    on_step: &'s mut dyn FnMut(&TimedStep),
    ended: bool,
    /// A webhook went unanswered: the session waits for its own timeout, not
    /// for the caller, so no input is taken until a timer fires.
    awaiting_timeout: bool,
}

impl Run<'_> {
    fn push(&mut self, step: Step) {
        let timed = TimedStep { at: self.now, step };
        (self.on_step)(&timed);
        self.steps.push(timed);
    }

    fn later(&self, ms: i64) -> Timestamp {
        self.now
            .checked_add(SignedDuration::from_millis(ms))
            .unwrap_or(self.now)
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
        let session = Session::new(self.program.clone(), call)
            .with_presence(Arc::new(Absent(self.script.absent.clone())));
        let mut run = Run {
            session,
            now: at,
            playing: None,
            timers: BTreeMap::new(),
            pending: VecDeque::from([Event::Started { at }]),
            steps: Vec::new(),
            on_step,
            ended: false,
            awaiting_timeout: false,
        };
        let mut events = 0;
        while !run.ended && events < MAX_EVENTS {
            events += 1;
            let event = match run.pending.pop_front() {
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
            let answered = matches!(
                event,
                Event::TransferResult {
                    outcome: TransferOutcome::Answered,
                    ..
                }
            );
            let commands = run.session.step(event);
            let accepted = !commands.is_empty();
            for command in commands {
                self.execute(&mut run, command);
            }
            // Staff answered: the caller talks to them and the flow has nothing
            // more to do (the engine only waits for the call's maximum duration).
            if answered && accepted && !run.ended && !run.session.is_ended() {
                run.push(Step::Ended {
                    reason: String::from(BRIDGED),
                });
                run.ended = true;
            }
        }
        run.steps
    }

    /// What happens next when nothing is pending: the prompt ends, the caller acts, or a timer fires.
    fn next_event(&self, run: &mut Run<'_>, inputs: &mut dyn InputSource) -> Option<Event> {
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
        // The earliest timer; ties go to the one started first.
        let (&timer, &due) = run.timers.iter().min_by_key(|(id, due)| (**due, **id))?;
        run.timers.remove(&timer);
        run.now = run.now.max(due);
        Some(Event::TimerFired { timer, at: run.now })
    }

    fn execute(&self, run: &mut Run<'_>, command: Command) {
        let now = run.now;
        match command {
            Command::Trace {
                flow,
                state,
                location,
                note,
            } => run.push(Step::Entered {
                flow,
                state,
                location,
                note,
            }),
            Command::Play {
                playback,
                prompt,
                media,
            } => {
                let ms = match &media {
                    Media::Speech { text, language } => {
                        run.push(Step::Said {
                            prompt,
                            text: text.clone(),
                            language: language.clone(),
                        });
                        speech_ms(text)
                    }
                    Media::Audio { path } => {
                        run.push(Step::Played {
                            prompt,
                            path: path.clone(),
                        });
                        audio_ms(&self.program, path)
                    }
                };
                // Prompts queue up: a second one starts when the first ends.
                let start = run.playing.map_or(now, |(_, ends)| ends.max(now));
                let ends = start
                    .checked_add(SignedDuration::from_millis(ms))
                    .unwrap_or(start);
                run.playing = Some((playback, ends));
            }
            Command::StopPlayback { playback } => {
                if run.playing.is_some_and(|(p, _)| p == playback) {
                    run.playing = None;
                }
            }
            Command::StartTimer { timer, after_ms } => {
                let due = run.later(i64::try_from(after_ms).unwrap_or(i64::MAX));
                run.timers.insert(timer, due);
            }
            Command::CancelTimer { timer } => {
                run.timers.remove(&timer);
            }
            Command::Transfer {
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
                run.pending.push_back(Event::TransferResult {
                    request,
                    outcome,
                    at: run.later(5_000),
                });
            }
            Command::Enqueue {
                request, office, ..
            } => {
                let outcome = self.script.queue;
                run.push(Step::Queue { office, outcome });
                run.pending.push_back(Event::TransferResult {
                    request,
                    outcome,
                    at: run.later(30_000),
                });
            }
            command @ (Command::CreateTicket { .. }
            | Command::CreateCallback { .. }
            | Command::Book { .. }
            | Command::CancelBooking { .. }) => {
                let call = run.session.call().clone();
                if let Some((event, fact)) =
                    effects::store_request(self.store, &self.program, &call, now, &command)
                {
                    run.push(match fact {
                        Fact::Ticket {
                            reference,
                            category,
                        } => Step::Ticket {
                            reference,
                            category,
                        },
                        Fact::Callback { reference, office } => {
                            Step::Callback { reference, office }
                        }
                        Fact::Booking {
                            reference,
                            resource,
                            start,
                        } => Step::Booking {
                            reference,
                            resource,
                            start,
                        },
                        Fact::NoSlot { resource } => Step::NoSlot { resource },
                        Fact::Cancelled { reference, found } => {
                            Step::Cancelled { reference, found }
                        }
                        Fact::Failed { message } => Step::StoreFailed { message },
                    });
                    run.pending.push_back(event);
                }
            }
            Command::Record {
                request,
                variable,
                max_ms,
            } => {
                // The simulated caller speaks for 5 seconds (or less, if the bound is shorter).
                let duration_ms = max_ms.min(5_000);
                let call_id = run.session.call().call_id.clone();
                let path = format!("recordings/{call_id}-{variable}.wav");
                let saved = self.store.save_recording(Recording {
                    schema: crate::store::SCHEMA_VERSION,
                    call_id,
                    variable: variable.clone(),
                    path: path.clone(),
                    duration_ms,
                    created_at: now,
                });
                if let Err(e) = saved {
                    self.store_failed(run, e);
                }
                run.push(Step::Recording {
                    variable,
                    path: path.clone(),
                });
                run.pending.push_back(Event::RecordingFinished {
                    request,
                    path,
                    duration_ms,
                    at: run.later(i64::try_from(duration_ms).unwrap_or(0)),
                });
            }
            Command::JoinConference { request, room, .. } => {
                run.push(Step::Conference { room });
                run.pending.push_back(Event::ConferenceLeft {
                    request,
                    at: run.later(60_000),
                });
            }
            Command::Webhook { request, url, .. } => {
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
                        run.pending.push_back(Event::WebhookResult {
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
            Command::Hangup { reason } => run.push(Step::HungUp { reason }),
            Command::Ended { reason } => {
                run.push(Step::Ended { reason });
                run.ended = true;
            }
        }
    }

    fn store_failed(&self, run: &mut Run<'_>, error: crate::store::StoreError) -> String {
        let message = error.to_string();
        run.push(Step::StoreFailed {
            message: message.clone(),
        });
        message
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
            .any(|s| matches!(s, Step::Entered { note, .. } if note.contains("ignored")));
        assert!(!ignored, "{steps:#?}");
        assert!(
            steps.iter().any(|s| matches!(s, Step::Transfer { .. })),
            "{steps:#?}"
        );
    }

    #[test]
    fn an_answered_transfer_ends_the_run() {
        let steps = run("1");
        assert_eq!(
            steps.last(),
            Some(&Step::Ended {
                reason: String::from(BRIDGED)
            }),
            "{steps:#?}"
        );
    }
}
