//! Web chat: a citizen page (`/chat`, no login) that runs the same flows as text.
//!
//! ```text
//!   POST /chat/start ─► ChatHub::start (rate per address, live chats at most N)
//!                          │ spawns, into the hub's JoinSet, with a child token:
//!                          ▼
//!   POST /chat/say ──► mpsc ──► chat task ── CallPort (engine, timers, call log) ──► store jobs
//!                               │   prompts ──► messages; menus ──► buttons; collect ──► input
//!   GET /chat, /chat/view ◄──── watch (ChatView: messages, what may be answered, over)
//! ```
//!
//! A chat is a call whose channel is text: the port is fed `Event::Text` for a key or an
//! answer, every prompt "plays" at once (its text becomes a message), the flow's timers run in
//! real time, and store requests run on the blocking pool as on a SIP call, so tickets,
//! callbacks and bookings get the same references. What a chat cannot do (transfer, queue,
//! conference) answers as failed, and the flow takes its `else`; a `record` asks for text,
//! kept as a file beside the recordings. The registry lists live chats (channel `webchat`)
//! and the call log keeps each one.
//!
//! Bounds: chats started per minute and messages per second per client address
//! ([`limit::RateLimit`]), live chats at most [`ChatSettings::max_chats`] and
//! [`MAX_CHATS_PER_ADDRESS`] per address, an idle chat ends after [`ChatSettings::idle`] (the
//! citizen left), a chat whose flow is over shows its end for [`LINGER`] and goes, input at
//! most [`ChatSettings::max_input_chars`], the transcript at most [`MAX_MESSAGES`] messages.

pub mod limit;
pub mod routes;
pub mod text;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::calllog::RecordedPresence;
use crate::engine::{
    CallInfo, ChannelCommand, Event, EveryonePresent, Id, LineLoss, Program, Session,
    TransferOutcome,
};
use crate::http::ServerView;
use crate::port::{Action, CallPort, PortOptions, RecordingFinished, StoreDone, StoreJob};
use crate::server::{CallEntry, ChannelKind, LiveCall};
use crate::webhook::WebhookClient;
use centralino_compiler::graph::EdgeLabel;
use limit::{Rate, RateLimit};
use text::Answer;

/// Messages a chat keeps (the oldest go first).
pub const MAX_MESSAGES: usize = 200;
/// How long a request waits for the flow to answer the citizen's message.
pub const ANSWER_WAIT: Duration = Duration::from_secs(5);
/// Messages queued for one chat at most (more are refused as too many).
const INPUT_QUEUE: usize = 8;
/// Chats of one client address at once (a library's or an office's citizens share one).
pub const MAX_CHATS_PER_ADDRESS: usize = 10;
/// How long a chat whose flow is over still shows its end (at most its idle timeout).
pub const LINGER: Duration = Duration::from_secs(60);

/// `[webchat]`: which flow answers, and the bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSettings {
    /// The number whose flow serves the chat; `None`: the first flow that answers a number.
    pub number: Option<String>,
    /// Live chats at most; more are refused until one ends.
    pub max_chats: usize,
    /// A chat with no message from the citizen for this long ends (the citizen left).
    pub idle: Duration,
    /// Characters of one message at most.
    pub max_input_chars: usize,
    /// Chats one address may start per minute.
    pub starts_per_minute: u32,
    /// Messages one address may send per second (bursts of twice that).
    pub messages_per_second: u32,
}

impl Default for ChatSettings {
    fn default() -> Self {
        ChatSettings {
            number: None,
            max_chats: 200,
            idle: Duration::from_secs(600),
            max_input_chars: 500,
            starts_per_minute: 5,
            messages_per_second: 2,
        }
    }
}

/// What the HTTP side needs to serve the chat.
#[derive(Clone)]
pub struct ChatParts {
    pub settings: ChatSettings,
    /// The flows' webhooks, as SIP calls call them.
    pub webhooks: Option<WebhookClient>,
}

impl std::fmt::Debug for ChatParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatParts")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Centralino,
    Citizen,
}

/// One message of the transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub seq: u64,
    pub from: Author,
    pub text: String,
}

/// A chat as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatView {
    pub messages: Vec<Message>,
    pub answer: Answer,
    /// The flow is over: nothing more will be said.
    pub over: bool,
}

/// Why a chat was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StartRefused {
    #[error("too many chats started from this address; wait {0:?}")]
    Throttled(Duration),
    #[error("the chat is full")]
    Full,
    #[error("no flow serves the chat")]
    NoFlow,
    #[error("the server is stopping")]
    Stopping,
}

/// Why a message was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SayRefused {
    #[error("too many messages; wait {0:?}")]
    Throttled(Duration),
    #[error("empty message")]
    Empty,
    #[error("message too long")]
    TooLong,
    #[error("the chat is over")]
    Over,
}

enum Input {
    Say {
        text: String,
        settled: oneshot::Sender<()>,
    },
    Leave,
}

/// One chat, as routes hold it.
pub struct ChatHandle {
    /// The chat's CSRF token: every form of the chat carries it back.
    pub csrf: String,
    /// Who started it.
    address: IpAddr,
    inputs: mpsc::Sender<Input>,
    view: watch::Receiver<ChatView>,
}

impl ChatHandle {
    pub fn view(&self) -> ChatView {
        self.view.borrow().clone()
    }

    /// Wait (at most [`ANSWER_WAIT`]) until the flow has said something or is over: a new
    /// chat's page then shows its greeting.
    pub async fn greeted(&self) {
        let mut view = self.view.clone();
        let _ = tokio::time::timeout(
            ANSWER_WAIT,
            view.wait_for(|v| !v.messages.is_empty() || v.over),
        )
        .await;
    }
}

type Chats = Arc<Mutex<HashMap<String, Arc<ChatHandle>>>>;

/// Every chat of the server: started, found by their cookie, bounded, stopped together.
pub struct ChatHub {
    settings: ChatSettings,
    server: ServerView,
    webhooks: Option<WebhookClient>,
    chats: Chats,
    tasks: Mutex<JoinSet<()>>,
    starts: Mutex<RateLimit>,
    messages: Mutex<RateLimit>,
    cancel: CancellationToken,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ChatHub {
    /// A hub whose chats stop when `cancel` is cancelled (each runs with a child token).
    pub fn new(parts: ChatParts, server: ServerView, cancel: CancellationToken) -> Arc<ChatHub> {
        let settings = parts.settings;
        let starts = Rate {
            burst: settings.starts_per_minute.max(1),
            rate: settings.starts_per_minute.max(1),
            per: Duration::from_secs(60),
        };
        let messages = Rate {
            burst: settings.messages_per_second.max(1).saturating_mul(2),
            rate: settings.messages_per_second.max(1),
            per: Duration::from_secs(1),
        };
        Arc::new(ChatHub {
            settings,
            server,
            webhooks: parts.webhooks,
            chats: Arc::default(),
            tasks: Mutex::new(JoinSet::new()),
            starts: Mutex::new(RateLimit::new(starts)),
            messages: Mutex::new(RateLimit::new(messages)),
            cancel,
        })
    }

    pub fn settings(&self) -> &ChatSettings {
        &self.settings
    }

    /// The chat whose cookie is `id`, if it is still there.
    pub fn get(&self, id: &str) -> Option<Arc<ChatHandle>> {
        lock(&self.chats).get(id).cloned()
    }

    /// Chats running or showing their end (for tests and logs).
    pub fn len(&self) -> usize {
        lock(&self.chats).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Start a chat for `address` (`phone`: a number the citizen gave to be called back).
    /// Its id (the cookie's value) and handle.
    pub fn start(
        &self,
        address: IpAddr,
        phone: Option<String>,
    ) -> Result<(String, Arc<ChatHandle>), StartRefused> {
        if self.cancel.is_cancelled() {
            return Err(StartRefused::Stopping);
        }
        lock(&self.starts)
            .take(address, std::time::Instant::now())
            .map_err(StartRefused::Throttled)?;
        let program = self
            .server
            .deployment
            .current()
            .read()
            .map(|p| p.clone())
            .map_err(|_| StartRefused::NoFlow)?;
        let number =
            chat_number(&program, self.settings.number.as_deref()).ok_or(StartRefused::NoFlow)?;
        let (id, csrf) = match (
            crate::http::session::random_token(),
            crate::http::session::random_token(),
        ) {
            (Ok(id), Ok(csrf)) => (id, csrf),
            _ => return Err(StartRefused::Stopping),
        };
        let call_id = format!("webchat-{}", id.get(..16).unwrap_or(&id));
        let caller = phone.unwrap_or_else(|| String::from("anonymous"));
        let now = Timestamp::now();
        let (view_sender, view) = watch::channel(ChatView {
            messages: Vec::new(),
            answer: Answer::None,
            over: false,
        });
        let (inputs, receiver) = mpsc::channel(INPUT_QUEUE);
        let handle = Arc::new(ChatHandle {
            csrf,
            address,
            inputs,
            view,
        });
        {
            let mut chats = lock(&self.chats);
            if chats.len() >= self.settings.max_chats {
                return Err(StartRefused::Full);
            }
            let mine = chats.values().filter(|c| c.address == address).count();
            if mine >= MAX_CHATS_PER_ADDRESS {
                return Err(StartRefused::Throttled(LINGER));
            }
            chats.insert(id.clone(), handle.clone());
        }
        let entry = self.server.registry.register(LiveCall {
            call_id: call_id.clone(),
            channel: ChannelKind::WebChat,
            caller: caller.clone(),
            number: number.clone(),
            version: program.version().to_owned(),
            flow: String::new(),
            state: String::new(),
            since: now,
            answered: false,
            legs: vec![format!("web chat from {address}")],
        });
        let info = CallInfo {
            call_id: call_id.clone(),
            caller,
            number,
        };
        let presence = Arc::new(RecordedPresence::new(
            Arc::new(EveryonePresent),
            program.clone(),
        ));
        let session = Session::new(program, info).with_presence(presence.clone());
        let options = PortOptions {
            call_log: Some(self.server.store.clone()),
            presence_log: Some(presence),
            channel: String::from("webchat"),
            journal: false,
        };
        let chat = Chat {
            port: CallPort::new(session, options, now),
            server: self.server.clone(),
            webhooks: self.webhooks.clone(),
            view: view_sender,
            messages: Vec::new(),
            next_seq: 1,
            jobs: JoinSet::new(),
            recording: None,
            entry: Some(entry),
            waiters: Vec::new(),
            over: false,
            audio_note: String::from("messaggio registrato"),
        };
        let chats = self.chats.clone();
        let token = self.cancel.child_token();
        let idle = self.settings.idle;
        let key = id.clone();
        info!(call = %call_id, %address, "web chat started");
        let mut tasks = lock(&self.tasks);
        // Chats that ended are reaped here, so the set does not grow.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            chat.run(receiver, token, idle).await;
            lock(&chats).remove(&key);
        });
        Ok((id, handle))
    }

    /// The citizen's message (a key of a button, or text): queued for the chat; returns once
    /// the flow has answered it (or after [`ANSWER_WAIT`]).
    pub async fn say(
        &self,
        address: IpAddr,
        chat: &ChatHandle,
        message: &str,
    ) -> Result<(), SayRefused> {
        lock(&self.messages)
            .take(address, std::time::Instant::now())
            .map_err(SayRefused::Throttled)?;
        let text =
            text::clean_input(message, self.settings.max_input_chars).map_err(|p| match p {
                text::InputProblem::Empty => SayRefused::Empty,
                text::InputProblem::TooLong => SayRefused::TooLong,
            })?;
        if chat.view.borrow().over {
            return Err(SayRefused::Over);
        }
        let (settled, answered) = oneshot::channel();
        chat.inputs
            .try_send(Input::Say { text, settled })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SayRefused::Throttled(Duration::from_secs(1)),
                mpsc::error::TrySendError::Closed(_) => SayRefused::Over,
            })?;
        let _ = tokio::time::timeout(ANSWER_WAIT, answered).await;
        Ok(())
    }

    /// The citizen ends the chat.
    pub fn leave(&self, chat: &ChatHandle) {
        let _ = chat.inputs.try_send(Input::Leave);
    }

    /// Wait for every chat to end (after the hub's token was cancelled: each is told the
    /// server shuts down, and its call log is written).
    pub async fn stopped(&self) {
        let mut tasks = std::mem::take(&mut *lock(&self.tasks));
        while tasks.join_next().await.is_some() {}
    }
}

/// The number whose flow serves the chat: the configured one if a flow answers it, else the
/// first number any flow answers (flows in source order).
pub fn chat_number(program: &Program, configured: Option<&str>) -> Option<String> {
    let graph = &program.graph;
    match configured {
        Some(number) => graph.flow_for_number(number).map(|_| number.to_owned()),
        None => graph
            .flows
            .iter()
            .find_map(|flow| flow.answers.first().cloned()),
    }
}

/// What a chat's jobs bring back.
enum Job {
    Stored(StoreDone),
    Webhook {
        request: Id,
        result: Result<serde_json::Value, String>,
    },
    /// The citizen's text for a `record` was written (or not: empty path).
    Written {
        request: Id,
        variable: String,
        path: String,
    },
}

/// One chat: its port and what the page shows.
struct Chat {
    port: CallPort,
    server: ServerView,
    webhooks: Option<WebhookClient>,
    view: watch::Sender<ChatView>,
    messages: Vec<Message>,
    next_seq: u64,
    jobs: JoinSet<Job>,
    /// A `record` waits for the citizen's text: its request and variable.
    recording: Option<(Id, String)>,
    /// The chat's line in the registry, while its flow runs.
    entry: Option<CallEntry>,
    /// Requests waiting for the flow to have answered (no job left).
    waiters: Vec<oneshot::Sender<()>>,
    over: bool,
    audio_note: String,
}

impl Chat {
    async fn run(
        mut self,
        mut inputs: mpsc::Receiver<Input>,
        cancel: CancellationToken,
        idle: Duration,
    ) {
        let actions = self.port.start(Timestamp::now());
        if let Some(entry) = &self.entry {
            entry.answered();
        }
        self.act(actions);
        self.publish();
        let mut idle_until = Instant::now() + idle;
        loop {
            if self.over {
                idle_until = idle_until.min(Instant::now() + LINGER);
            }
            let timer = self.port.next_timer().map(instant_of);
            tokio::select! {
                () = cancel.cancelled() => {
                    self.feed(Event::LineLost { loss: LineLoss::Shutdown, at: Timestamp::now() });
                    break;
                }
                input = inputs.recv() => match input {
                    Some(Input::Say { text, settled }) => {
                        idle_until = Instant::now() + idle;
                        self.waiters.push(settled);
                        self.said(text);
                    }
                    Some(Input::Leave) | None => {
                        self.feed(Event::Hangup { at: Timestamp::now() });
                        break;
                    }
                },
                Some(joined) = self.jobs.join_next(), if !self.jobs.is_empty() => {
                    match joined {
                        Ok(job) => self.job_done(job),
                        Err(e) => warn!(call = %self.port.call().call_id, error = %e, "a web chat job failed"),
                    }
                }
                () = sleep_until(timer), if timer.is_some() => {
                    while let Some(event) = self.port.pop_timer_due_by(Timestamp::now()) {
                        self.feed(event);
                    }
                }
                () = tokio::time::sleep_until(idle_until) => {
                    if !self.over {
                        info!(call = %self.port.call().call_id, "web chat idle: the citizen left");
                    }
                    self.feed(Event::Hangup { at: Timestamp::now() });
                    break;
                }
            }
            self.publish();
        }
        self.finish();
    }

    /// The flow is done or the chat ends: the call log gets its record once.
    fn finish(&mut self) {
        if !self.over {
            self.over = true;
            self.port.close(Timestamp::now());
        }
        self.entry = None;
        self.jobs.abort_all();
        self.publish();
    }

    fn feed(&mut self, event: Event) {
        let actions = self.port.feed(event);
        self.act(actions);
    }

    fn said(&mut self, text: String) {
        if self.over {
            return;
        }
        self.push(Author::Citizen, text.clone());
        match self.recording.take() {
            Some((request, variable)) => self.write_recording(request, variable, text),
            None => self.feed(Event::Text {
                text,
                at: Timestamp::now(),
            }),
        }
    }

    /// A `record` on chat: the citizen's text is kept as a file where recordings are, and the
    /// flow hears of it as of a recording.
    fn write_recording(&mut self, request: Id, variable: String, text: String) {
        let safe: String = self
            .port
            .call()
            .call_id
            .chars()
            .chain(std::iter::once('-'))
            .chain(variable.chars())
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let relative = format!("recordings/{safe}-{request}.txt");
        let path = self.server.data_dir.join(&relative);
        self.jobs.spawn(async move {
            if let Some(parent) = path.parent() {
                let _ = tokio::fs::create_dir_all(parent).await;
            }
            let written = tokio::fs::write(&path, text.as_bytes()).await;
            if let Err(e) = &written {
                warn!(path = %path.display(), error = %e, "cannot keep a web chat message as a recording");
            }
            Job::Written {
                request,
                variable,
                path: if written.is_ok() { relative } else { String::new() },
            }
        });
    }

    fn job_done(&mut self, job: Job) {
        if self.over {
            return;
        }
        match job {
            Job::Stored(done) => {
                self.port.store_done(done);
                self.act(Vec::new());
            }
            Job::Webhook { request, result } => self.feed(Event::WebhookResult {
                request,
                result,
                at: Timestamp::now(),
            }),
            Job::Written {
                request,
                variable,
                path,
            } => {
                let job = self.port.recorded(RecordingFinished {
                    request,
                    variable,
                    path,
                    duration_ms: 0,
                    at: Timestamp::now(),
                });
                self.store(job);
            }
        }
    }

    fn store(&mut self, job: StoreJob) {
        let store = self.server.store.clone();
        self.jobs
            .spawn_blocking(move || Job::Stored(job.run(store.as_ref())));
    }

    /// Carry out actions, then feed the port's pending events until none is left.
    fn act(&mut self, mut actions: Vec<Action>) {
        loop {
            for action in actions {
                self.act_one(action);
            }
            actions = match self.port.next_pending() {
                Some(Event::PlaybackFinished { playback, at }) => {
                    self.port.playback_finished(playback, at)
                }
                Some(event) => self.port.feed(event),
                None => break,
            };
        }
        if let (Some(entry), Some((flow, state))) = (&self.entry, self.port.session().position()) {
            entry.update(|call| {
                if call.flow != flow || call.state != state {
                    flow.clone_into(&mut call.flow);
                    state.clone_into(&mut call.state);
                }
            });
        }
    }

    fn act_one(&mut self, action: Action) {
        let now = Timestamp::now();
        match action {
            Action::Channel(ChannelCommand::Play {
                playback,
                prompt,
                media,
            }) => {
                let said = text::prompt_text(&prompt, &media, &self.audio_note);
                self.push(Author::Centralino, said);
                // Read at once: the flow goes on as after a prompt that played.
                self.port
                    .post(Event::PlaybackFinished { playback, at: now });
            }
            Action::Channel(ChannelCommand::StopPlayback { .. }) => {}
            // Nobody can be put through on a chat: the flow takes its `else`.
            Action::Channel(
                ChannelCommand::Transfer { request, .. } | ChannelCommand::Enqueue { request, .. },
            ) => self.port.post(Event::TransferResult {
                request,
                outcome: TransferOutcome::Failed,
                at: now,
            }),
            Action::Channel(ChannelCommand::JoinConference { request, .. }) => {
                let event = if self.port.session().can_follow(&EdgeLabel::Failed) {
                    Event::TransferResult {
                        request,
                        outcome: TransferOutcome::Failed,
                        at: now,
                    }
                } else {
                    Event::ConferenceLeft { request, at: now }
                };
                self.port.post(event);
            }
            Action::Channel(ChannelCommand::Webhook {
                request,
                url,
                body,
                timeout_ms,
            }) => match self.webhooks.clone() {
                Some(client) => {
                    let call_id = self.port.call().call_id.clone();
                    self.jobs.spawn(async move {
                        let result = client
                            .call(&call_id, &url, &body, Duration::from_millis(timeout_ms))
                            .await
                            .map_err(|e| e.to_string());
                        Job::Webhook { request, result }
                    });
                }
                None => self.port.post(Event::WebhookResult {
                    request,
                    result: Err(String::from("no webhooks on this server")),
                    at: now,
                }),
            },
            Action::Channel(ChannelCommand::Record {
                request, variable, ..
            }) => self.recording = Some((request, variable)),
            Action::Store(job) => self.store(job),
            Action::HangUp(_) => {}
            Action::Ended(reason) => {
                info!(call = %self.port.call().call_id, %reason, "web chat ended");
                self.over = true;
                self.recording = None;
                self.port.close(now);
                self.entry = None;
            }
        }
    }

    fn push(&mut self, from: Author, text: String) {
        if text.is_empty() {
            return;
        }
        self.messages.push(Message {
            seq: self.next_seq,
            from,
            text,
        });
        self.next_seq += 1;
        if self.messages.len() > MAX_MESSAGES {
            let extra = self.messages.len() - MAX_MESSAGES;
            self.messages.drain(..extra);
        }
    }

    fn publish(&mut self) {
        let answer = if self.over {
            Answer::None
        } else {
            let said = self
                .messages
                .iter()
                .rev()
                .find(|m| m.from == Author::Centralino)
                .map(|m| m.text.as_str())
                .unwrap_or("");
            text::answer_for(
                &self.port.session().awaiting(),
                said,
                self.recording.is_some(),
            )
        };
        let view = ChatView {
            messages: self.messages.clone(),
            answer,
            over: self.over,
        };
        self.view.send_if_modified(|old| {
            let changed = *old != view;
            *old = view;
            changed
        });
        if self.jobs.is_empty() {
            for waiter in self.waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
    }
}

/// When a port's timer is due, on tokio's clock.
fn instant_of(due: Timestamp) -> Instant {
    let wait = due
        .duration_since(Timestamp::now())
        .try_into()
        .unwrap_or(Duration::ZERO);
    Instant::now() + wait
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const FLOW: &str = r#"calendar sempre {
  timezone "Europe/Rome"
  mon-fri 00:00-23:59
  sat, sun 00:00-23:59
}
office o "Ufficio" {
  hours sempre
  staff "sip:201@x.example" as "Anna"
}
category cose "Cose da fare" {
  office o
  priority normal
}
flow main answers "100" {
  menu: menu "Per parlare con qualcuno, prema 1. Per scrivere, prema 2." timeout 1s retries 0 {
    1 -> passa
    2 -> scrivi
    timeout, invalid -> tardi
  }
  passa: transfer o ring 5s else -> nessuno
  nessuno: say "Nessuno risponde." -> scrivi
  scrivi: record "Scriva pure." into testo max 30s -> apri
  apri: ticket cose with { testo: testo } -> fatto else -> hangup
  fatto: say "Numero {{ ticket.ref }}." -> hangup
  tardi: say "Troppo tardi." -> hangup
}
"#;

    fn hub(dir: &std::path::Path) -> (Arc<ChatHub>, ServerView, CancellationToken) {
        let mut server = ServerView::for_tests(FLOW);
        server.data_dir = dir.to_path_buf();
        let cancel = CancellationToken::new();
        let parts = ChatParts {
            settings: ChatSettings::default(),
            webhooks: None,
        };
        (
            ChatHub::new(parts, server.clone(), cancel.child_token()),
            server,
            cancel,
        )
    }

    async fn until(chat: &ChatHandle, what: impl Fn(&ChatView) -> bool) -> ChatView {
        let mut view = chat.view.clone();
        let waited =
            tokio::time::timeout(Duration::from_secs(20), view.wait_for(|v| what(v))).await;
        assert!(waited.is_ok(), "{:#?}", chat.view());
        chat.view()
    }

    fn said(view: &ChatView) -> Vec<&str> {
        view.messages.iter().map(|m| m.text.as_str()).collect()
    }

    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn a_chat_takes_the_else_of_a_transfer_writes_its_recording_and_opens_a_ticket() {
        let dir = tempfile::tempdir().unwrap();
        let (hub, server, cancel) = hub(dir.path());
        let (_, chat) = hub
            .start(HERE, Some(String::from("+393331234567")))
            .unwrap();
        let view = until(&chat, |v| v.answer != Answer::None).await;
        assert_eq!(
            view.answer,
            Answer::Buttons {
                buttons: vec![
                    text::Button {
                        key: "1".into(),
                        label: "Per parlare con qualcuno".into()
                    },
                    text::Button {
                        key: "2".into(),
                        label: "Per scrivere".into()
                    },
                ]
            }
        );
        let live = server.registry.calls();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].channel, ChannelKind::WebChat);
        assert_eq!(
            (live[0].flow.as_str(), live[0].state.as_str()),
            ("main", "menu")
        );

        // 1: the transfer cannot happen on a chat, the flow takes its else, then asks for text.
        hub.say(HERE, &chat, "1").await.unwrap();
        let view = until(&chat, |v| v.answer == Answer::Text).await;
        assert_eq!(
            said(&view)[1..],
            ["1", "Nessuno risponde.", "Scriva pure."],
            "{view:#?}"
        );

        hub.say(HERE, &chat, "Una buca in via Roma").await.unwrap();
        let view = until(&chat, |v| v.over).await;
        let last = said(&view).last().copied().unwrap();
        let reference = last
            .trim_start_matches("Numero ")
            .trim_end_matches('.')
            .to_owned();
        let ticket = server.store.ticket(&reference).unwrap().unwrap();
        assert_eq!(ticket.request.category, "cose");
        assert_eq!(ticket.request.caller, "+393331234567");
        let kept = ticket.request.fields["testo"].clone();
        assert!(
            kept.starts_with("recordings/webchat-") && kept.ends_with(".txt"),
            "{kept}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(&kept)).unwrap(),
            "Una buca in via Roma"
        );
        assert_eq!(view.answer, Answer::None);
        assert_eq!(hub.say(HERE, &chat, "altro").await, Err(SayRefused::Over));

        // Over: out of the registry, in the call log as webchat.
        assert!(server.registry.calls().is_empty());
        let calls = server.store.calls().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].channel, "webchat");
        assert_eq!(calls[0].outcome.as_deref(), Some("the flow hung up"));
        cancel.cancel();
        hub.stopped().await;
        assert!(hub.is_empty());
    }

    #[tokio::test]
    async fn the_flows_timeouts_run_in_real_time_and_shutdown_ends_a_chat() {
        let dir = tempfile::tempdir().unwrap();
        let (hub, server, cancel) = hub(dir.path());
        let (_, chat) = hub.start(HERE, None).unwrap();
        // Nobody clicks: the menu's 1 s timeout runs out on the server.
        let view = until(&chat, |v| v.over).await;
        assert_eq!(said(&view).last().copied(), Some("Troppo tardi."));

        // A chat still running when the server stops ends as shut down, and is logged.
        let (_, chat) = hub.start(HERE, None).unwrap();
        until(&chat, |v| v.answer != Answer::None).await;
        cancel.cancel();
        hub.stopped().await;
        let calls = server.store.calls().unwrap();
        assert_eq!(calls.len(), 2);
        assert!(
            calls
                .iter()
                .any(|c| c.outcome.as_deref() == Some("the server shut down")),
            "{calls:#?}"
        );
        assert!(matches!(hub.start(HERE, None), Err(StartRefused::Stopping)));
    }

    #[tokio::test]
    async fn one_address_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut server = ServerView::for_tests(FLOW);
        server.data_dir = dir.path().to_path_buf();
        let cancel = CancellationToken::new();
        let parts = ChatParts {
            settings: ChatSettings {
                starts_per_minute: 100,
                max_chats: 12,
                ..ChatSettings::default()
            },
            webhooks: None,
        };
        let hub = ChatHub::new(parts, server, cancel.child_token());
        for _ in 0..MAX_CHATS_PER_ADDRESS {
            hub.start(HERE, None).unwrap();
        }
        assert!(matches!(
            hub.start(HERE, None),
            Err(StartRefused::Throttled(_))
        ));
        let other = IpAddr::from([192, 0, 2, 1]);
        hub.start(other, None).unwrap();
        hub.start(other, None).unwrap();
        assert_eq!(hub.start(other, None).err(), Some(StartRefused::Full));
        cancel.cancel();
        hub.stopped().await;
    }
}
