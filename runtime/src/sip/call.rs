//! One live call: the engine session and its signalling, in one owned task; its RTP stream is a
//! leg on a media thread (`media_loop`).
//!
//! ```text
//!   CallSignal (answer, ACK, INFO, re-INVITE, BYE) ──┐
//!   MediaEvent (prompt finished, digit, audio) ──────┼─► Call::run ─► Session::step ─► commands
//!   engine timers ───────────────────────────────────┤                 │
//!   finished blocking jobs (prompts, store) ─────────┘                 └─► leg / timers / store / BYE
//! ```
//!
//! The task sleeps between events: frames leave from the media thread on absolute deadlines,
//! and RTP is accepted only from the address the caller's SDP gave.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rsipstack::dialog::dialog::TransactionHandle;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, Request, StatusCode};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::Services;
use super::sdp::{self, Negotiated};
use crate::effects;
use crate::engine::{CallInfo, Command, Event, Id, Media, Program, Session, TransferOutcome};
use crate::media::dtmf::parse_info_body;
use crate::media::legs::{Leg, LegCommand, LegHandle, MediaEvent};
use crate::media::prompt::{EncodedPrompt, PromptError};
use crate::media::wav::Recorder;
use crate::store::{CallRecord, Recording, SCHEMA_VERSION, StepRecord};

/// What the server tells a call about its signalling.
pub enum CallSignal {
    /// The INVITE arrived and the dialog is ready: ring and answer.
    Offered,
    /// The caller acknowledged our 200 OK: the flow starts.
    Confirmed,
    Info(Request, TransactionHandle),
    Reinvite(Request, TransactionHandle),
    Options(TransactionHandle),
    Terminated {
        by_caller: bool,
        reason: String,
    },
}

pub struct CallSetup {
    pub dialog: InviteDialog,
    pub program: Arc<Program>,
    pub services: Services,
    pub socket: std::net::UdpSocket,
    pub negotiated: Negotiated,
    pub number: String,
    pub caller: String,
    pub rtp_timeout: Duration,
    /// Ring this long before answering (0: answer at once).
    pub answer_delay: Duration,
    pub token: CancellationToken,
}

/// Work done off the media loop.
enum Job {
    Loaded {
        playback: Id,
        prompt: Result<Arc<EncodedPrompt>, PromptError>,
    },
    Event(Event),
    Done,
}

struct ActiveRecording {
    request: Id,
    variable: String,
    recorder: Recorder,
    relative: String,
}

pub struct Call {
    dialog: InviteDialog,
    program: Arc<Program>,
    services: Services,
    session: Session,
    local: SocketAddr,
    negotiated: Negotiated,
    media: LegHandle,
    media_events: mpsc::UnboundedReceiver<MediaEvent>,
    /// Prompts given to the leg that have not finished (nor been dropped).
    playing: BTreeSet<Id>,
    timers: BTreeMap<Id, Instant>,
    jobs: JoinSet<Job>,
    recording: Option<ActiveRecording>,
    answer_delay: Duration,
    answer_at: Option<Instant>,
    token: CancellationToken,
    sdp_version: u64,
    session_id: u64,
    started: bool,
    hanging_up: bool,
    ended: bool,
    steps: u32,
    started_at: jiff::Timestamp,
    outcome: Option<String>,
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

impl Call {
    pub fn new(setup: CallSetup) -> std::io::Result<Call> {
        let local = setup.socket.local_addr()?;
        let (events, media_events) = mpsc::unbounded_channel();
        let leg = Leg::new(
            setup.socket,
            setup.negotiated.clone(),
            setup.rtp_timeout,
            events,
        )?;
        let media = setup.services.media.add(leg);
        let call_info = CallInfo {
            call_id: setup.dialog.id().call_id.clone(),
            caller: setup.caller,
            number: setup.number,
        };
        let session = Session::new(setup.program.clone(), call_info);
        let session_id = u64::from(local.port()) << 32 | u64::from(rand_u32());
        Ok(Call {
            dialog: setup.dialog,
            program: setup.program,
            services: setup.services,
            session,
            local,
            negotiated: setup.negotiated,
            media,
            media_events,
            playing: BTreeSet::new(),
            timers: BTreeMap::new(),
            jobs: JoinSet::new(),
            recording: None,
            answer_delay: setup.answer_delay,
            answer_at: None,
            token: setup.token,
            sdp_version: 1,
            session_id,
            started: false,
            hanging_up: false,
            ended: false,
            steps: 0,
            started_at: now(),
            outcome: None,
        })
    }

    fn call_id(&self) -> String {
        self.session.call().call_id.clone()
    }

    /// Run until the call ends; then the server forgets it.
    pub async fn run(mut self, mut signals: mpsc::UnboundedReceiver<CallSignal>) {
        while !self.ended {
            if self.hanging_up && self.playing.is_empty() {
                let _ = self.dialog.bye().await;
                break;
            }
            let timer_deadline = self.timers.values().min().copied();
            tokio::select! {
                () = self.token.cancelled() => {
                    info!(call = %self.call_id(), "ending the call (shutdown)");
                    let commands = self.session.step(Event::Hangup { at: now() });
                    self.execute(commands);
                    let _ = self.dialog.bye().await;
                    break;
                }
                signal = signals.recv() => match signal {
                    Some(signal) => self.on_signal(signal).await,
                    None => break,
                },
                event = self.media_events.recv() => match event {
                    Some(MediaEvent::Silent) => {
                        warn!(call = %self.call_id(), "no RTP from the caller: ending the call");
                        let commands = self.session.step(Event::Hangup { at: now() });
                        self.execute(commands);
                        let _ = self.dialog.bye().await;
                        break;
                    }
                    Some(event) => self.on_media(event),
                    None => break,
                },
                () = sleep_until(timer_deadline) => self.fire_timers(),
                () = sleep_until(self.answer_at) => {
                    self.answer_at = None;
                    self.answer();
                }
                Some(done) = self.jobs.join_next(), if !self.jobs.is_empty() => {
                    if let Ok(job) = done {
                        self.on_job(job);
                    }
                }
            }
        }
        self.jobs.shutdown().await;
        self.save_call_record();
    }

    async fn on_signal(&mut self, signal: CallSignal) {
        match signal {
            CallSignal::Offered => {
                let _ = self.dialog.ringing(None, None);
                if self.answer_delay.is_zero() {
                    self.answer();
                } else {
                    self.answer_at = Some(Instant::now() + self.answer_delay);
                }
            }
            CallSignal::Confirmed => {
                if !self.started {
                    self.started = true;
                    info!(call = %self.call_id(), version = %self.program.version(), "call answered");
                    self.media.send(LegCommand::Start);
                    let commands = self.session.step(Event::Started { at: now() });
                    self.execute(commands);
                }
            }
            CallSignal::Info(request, handle) => {
                let content_type = request
                    .headers
                    .iter()
                    .find_map(|h| match h {
                        Header::ContentType(c) => Some(c.value().to_owned()),
                        _ => None,
                    })
                    .unwrap_or_default();
                match parse_info_body(&content_type, &request.body) {
                    Ok(digit) => {
                        let _ = handle.reply(StatusCode::OK).await;
                        self.digit(digit.digit);
                    }
                    Err(e) => {
                        debug!(error = %e, "INFO without a DTMF digit");
                        let _ = handle.reply(StatusCode::UnsupportedMediaType).await;
                    }
                }
            }
            CallSignal::Reinvite(request, handle) => match sdp::negotiate(&request.body) {
                Ok(negotiated) => {
                    self.sdp_version += 1;
                    self.media
                        .send(LegCommand::Renegotiated(negotiated.clone()));
                    self.negotiated = negotiated;
                    let body = sdp::answer(
                        self.local,
                        &self.negotiated,
                        self.session_id,
                        self.sdp_version,
                    );
                    let headers = vec![Header::ContentType("application/sdp".into())];
                    let _ = handle
                        .respond(StatusCode::OK, Some(headers), Some(body.into_bytes()))
                        .await;
                    info!(call = %self.call_id(), hold = self.negotiated.on_hold, "re-INVITE");
                }
                Err(e) => {
                    debug!(error = %e, "re-INVITE refused");
                    let _ = handle.reply(StatusCode::NotAcceptableHere).await;
                }
            },
            CallSignal::Options(handle) => {
                let _ = handle.reply(StatusCode::OK).await;
            }
            CallSignal::Terminated { by_caller, reason } => {
                if by_caller {
                    debug!(call = %self.call_id(), %reason, "dialog terminated by the caller");
                } else {
                    // E.g. `Timeout`: no ACK for our 200 OK within 64·T1 (rsipstack sends BYE).
                    info!(call = %self.call_id(), %reason, "dialog terminated by the SIP stack");
                }
                let commands = self.session.step(Event::Hangup { at: now() });
                self.execute(commands);
                self.ended = true;
            }
        }
    }

    /// 200 OK with our SDP answer.
    fn answer(&mut self) {
        let body = sdp::answer(
            self.local,
            &self.negotiated,
            self.session_id,
            self.sdp_version,
        );
        let headers = vec![Header::ContentType("application/sdp".into())];
        if let Err(e) = self.dialog.accept(Some(headers), Some(body.into_bytes())) {
            debug!(error = %e, "the caller left before the answer");
            self.ended = true;
        }
    }

    fn on_media(&mut self, event: MediaEvent) {
        match event {
            MediaEvent::Finished(playback) => {
                if self.playing.remove(&playback) {
                    let commands = self.session.step(Event::PlaybackFinished {
                        playback,
                        at: now(),
                    });
                    self.execute(commands);
                }
            }
            MediaEvent::Digit(digit) => self.digit(digit),
            MediaEvent::Audio(pcm) => {
                if let Some(recording) = self.recording.as_mut() {
                    let _ = recording.recorder.write_pcm(&pcm);
                    if recording.recorder.is_full() {
                        self.finish_recording();
                    }
                }
            }
            // Handled by the run loop (it ends the call).
            MediaEvent::Silent => {}
        }
    }

    fn digit(&mut self, digit: char) {
        if !self.started {
            return;
        }
        if self.recording.is_some() {
            // A key ends the recording (callers press # when done).
            self.finish_recording();
            return;
        }
        let commands = self.session.step(Event::Digit { digit, at: now() });
        self.execute(commands);
    }

    fn fire_timers(&mut self) {
        let now_instant = Instant::now();
        let due: Vec<Id> = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= now_instant)
            .map(|(id, _)| *id)
            .collect();
        for timer in due {
            self.timers.remove(&timer);
            let commands = self.session.step(Event::TimerFired { timer, at: now() });
            self.execute(commands);
        }
    }

    fn on_job(&mut self, job: Job) {
        match job {
            Job::Loaded { playback, prompt } => match prompt {
                Ok(frames) => {
                    if self.playing.contains(&playback) {
                        self.media.send(LegCommand::Loaded(playback, frames));
                    }
                }
                Err(e) => {
                    if self.services.prompts.first_report(&e) {
                        warn!(call = %self.call_id(), error = %e, "prompt skipped");
                    } else {
                        debug!(call = %self.call_id(), error = %e, "prompt skipped");
                    }
                    self.media.send(LegCommand::Drop(playback));
                    if !self.playing.remove(&playback) {
                        return;
                    }
                    let commands = self.session.step(Event::PlaybackFinished {
                        playback,
                        at: now(),
                    });
                    self.execute(commands);
                }
            },
            Job::Event(event) => {
                let commands = self.session.step(event);
                self.execute(commands);
            }
            Job::Done => {}
        }
    }

    fn execute(&mut self, commands: Vec<Command>) {
        for command in commands {
            self.execute_one(command);
        }
    }

    fn execute_one(&mut self, command: Command) {
        match command {
            Command::Play {
                playback, media, ..
            } => self.play(playback, media),
            Command::StopPlayback { playback } => {
                self.playing.remove(&playback);
                self.media.send(LegCommand::Drop(playback));
            }
            Command::StartTimer { timer, after_ms } => {
                self.timers
                    .insert(timer, Instant::now() + Duration::from_millis(after_ms));
            }
            Command::CancelTimer { timer } => {
                self.timers.remove(&timer);
            }
            Command::Transfer {
                request, office, ..
            }
            | Command::Enqueue {
                request, office, ..
            } => {
                // Bridging to staff needs the outbound leg, which comes with the transfer work.
                info!(call = %self.call_id(), %office, "transfer not available on this server yet: overflow path");
                self.jobs.spawn(async move {
                    Job::Event(Event::TransferResult {
                        request,
                        outcome: TransferOutcome::Failed,
                        at: now(),
                    })
                });
            }
            Command::Webhook { request, url, .. } => {
                info!(call = %self.call_id(), %url, "webhooks are not called by this server yet: fallback path");
                self.jobs.spawn(async move {
                    Job::Event(Event::WebhookResult {
                        request,
                        result: Err(String::from("webhooks are not configured")),
                        at: now(),
                    })
                });
            }
            Command::JoinConference { request, room, .. } => {
                info!(call = %self.call_id(), %room, "conferences are not available on this server yet");
                self.jobs
                    .spawn(async move { Job::Event(Event::ConferenceLeft { request, at: now() }) });
            }
            Command::Record {
                request,
                variable,
                max_ms,
            } => self.start_recording(request, variable, max_ms),
            Command::Hangup { reason } => {
                debug!(call = %self.call_id(), %reason, "hanging up once the prompts have played");
                self.hanging_up = true;
            }
            Command::Ended { reason } => {
                info!(call = %self.call_id(), %reason, version = %self.program.version(), "call ended");
                if !self.hanging_up {
                    self.ended = true;
                }
                self.outcome = Some(reason);
            }
            Command::Trace {
                flow,
                state,
                location,
                note,
            } => {
                debug!(call = %self.call_id(), %flow, %state, %location, %note, "step");
                self.steps += 1;
                let _ = self.services.store.append_step(StepRecord {
                    schema: SCHEMA_VERSION,
                    call_id: self.call_id(),
                    seq: self.steps,
                    at: now(),
                    flow,
                    state,
                    location,
                    note,
                });
            }
            other => {
                let store = self.services.store.clone();
                let program = self.program.clone();
                let call = self.session.call().clone();
                self.jobs.spawn_blocking(move || {
                    match effects::store_request(store.as_ref(), &program, &call, now(), &other) {
                        Some((event, _)) => Job::Event(event),
                        None => Job::Done,
                    }
                });
            }
        }
    }

    fn play(&mut self, playback: Id, media: Media) {
        self.playing.insert(playback);
        self.media.send(LegCommand::Enqueue(playback));
        let prompts = self.services.prompts.clone();
        self.jobs.spawn_blocking(move || Job::Loaded {
            playback,
            prompt: prompts.get_or_load(&media),
        });
    }

    fn start_recording(&mut self, request: Id, variable: String, max_ms: u64) {
        let call_id = self.call_id();
        let relative = format!("recordings/{}-{variable}-{request}.wav", sanitize(&call_id));
        let path = self.services.data_dir.join(&relative);
        let created = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .map_err(|e| e.to_string())
            .and_then(|()| Recorder::create(&path).map_err(|e| e.to_string()));
        match created {
            Ok(recorder) => {
                self.media.send(LegCommand::ForwardAudio(true));
                self.recording = Some(ActiveRecording {
                    request,
                    variable,
                    recorder: recorder.with_max_ms(max_ms),
                    relative,
                });
            }
            Err(e) => {
                warn!(call = %call_id, error = %e, "cannot record");
                self.jobs.spawn(async move {
                    Job::Event(Event::RecordingFinished {
                        request,
                        path: String::new(),
                        duration_ms: 0,
                        at: now(),
                    })
                });
            }
        }
    }

    fn finish_recording(&mut self) {
        let Some(active) = self.recording.take() else {
            return;
        };
        self.media.send(LegCommand::ForwardAudio(false));
        let store = self.services.store.clone();
        let call_id = self.call_id();
        self.jobs.spawn_blocking(move || {
            let duration_ms = match active.recorder.finish() {
                Ok(done) => done.duration_ms,
                Err(_) => 0,
            };
            let _ = store.save_recording(Recording {
                schema: SCHEMA_VERSION,
                call_id,
                variable: active.variable,
                path: active.relative.clone(),
                duration_ms,
                created_at: now(),
            });
            Job::Event(Event::RecordingFinished {
                request: active.request,
                path: active.relative,
                duration_ms,
                at: now(),
            })
        });
    }

    fn save_call_record(&self) {
        let flow = self
            .session
            .flow()
            .map(|f| f.name.clone())
            .unwrap_or_default();
        let call = self.session.call();
        let _ = self.services.store.save_call(CallRecord {
            schema: SCHEMA_VERSION,
            call_id: call.call_id.clone(),
            caller: call.caller.clone(),
            number: call.number.clone(),
            flow,
            graph_version: self.program.version().to_owned(),
            started_at: self.started_at,
            ended_at: Some(now()),
            outcome: self.outcome.clone(),
        });
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Call-IDs may hold any character; file names get letters, digits, `-` and `.` only.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect()
}

fn rand_u32() -> u32 {
    // Seeded from the clock: only distinguishes SDP sessions, not a secret.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos ^ 0x5bd1_e995
}
