//! The server as a value: what a running Centralino is, and what its parts share.
//!
//! ```text
//!   centralino serve (reads the configuration) ──► Server::new(parts) ──► Server::run(shutdown)
//!                                                      │
//!        ┌──────────────────────┬──────────────────────┼──────────────────────────┐
//!        ▼                      ▼                      ▼                          ▼
//!   SIP adapter (sip::serve)  reload watcher      control socket, HTTP      Registry (read-only view:
//!   calls register here ───────────────────────────────────────────────────► live calls, counters)
//! ```
//!
//! The [`Registry`] is the server's live state that others read: each live call (its channel,
//! flow and state, graph version, since when, its legs) and the counters. A call holds a
//! [`CallEntry`] that keeps its line up to date and removes it when dropped, so a call that ends
//! in any way (even a panic of its task) leaves the registry. A console and metrics read
//! [`Registry::calls`] and [`Registry::counters`]; the control socket answers `calls` with them.
//! `/metrics` reads them too ([`crate::http::metrics`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use jiff::Timestamp;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::desk::{Desk, DeskTask};
use crate::media::legs::MediaLoops;
use crate::media::prompt::PromptCache;
use crate::people::queue::QueueSettings;
use crate::people::registrar::Registrar;
use crate::reload::Deployment;
use crate::sip::{self, Services, SipConfig, SipError};
use crate::store::Store;

/// Which kind of channel carries a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Sip,
    /// A citizen writing on the web chat page (`/chat`): the same flows as text.
    #[serde(rename = "webchat")]
    WebChat,
}

/// One live call, as the registry shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCall {
    pub call_id: String,
    pub channel: ChannelKind,
    pub caller: String,
    pub number: String,
    /// The graph version the call runs on (calls keep theirs across reloads).
    pub version: String,
    /// Where the call is in its flow (empty before the flow starts).
    pub flow: String,
    pub state: String,
    /// When the call arrived.
    pub since: Timestamp,
    /// Answered, and the flow running.
    pub answered: bool,
    /// Its media legs, e.g. `rtp 127.0.0.1:20000 <-> 127.0.0.1:6000 PCMU`.
    pub legs: Vec<String>,
}

/// Counts since the server started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Calls accepted (given a call task).
    pub accepted: u64,
    /// Calls whose flow started (answered and acknowledged).
    pub answered: u64,
    /// Calls that ended.
    pub ended: u64,
    /// Calls refused with 503: over the limit, draining, or no RTP port.
    pub refused_busy: u64,
    /// Calls to a number no flow answers (404).
    pub refused_unknown_number: u64,
}

/// What a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Accepted,
    Answered,
    Ended,
    RefusedBusy,
    RefusedUnknownNumber,
}

/// The live calls and the counters; shared by the adapters that write it and whoever reads it.
#[derive(Debug, Default)]
pub struct Registry {
    calls: Mutex<BTreeMap<u64, LiveCall>>,
    next: AtomicU64,
    accepted: AtomicU64,
    answered: AtomicU64,
    ended: AtomicU64,
    refused_busy: AtomicU64,
    refused_unknown_number: AtomicU64,
    setup: SetupTimes,
}

/// How long calls took from INVITE accepted to their flow started, for `/metrics`.
#[derive(Debug)]
struct SetupTimes(Histogram);

impl Default for SetupTimes {
    fn default() -> Self {
        // 10 ms to ~20 s: answered at once, after `answer_after_ms`, or after a slow ACK.
        SetupTimes(Histogram::new(exponential_buckets(0.01, 2.0, 12)))
    }
}

impl Registry {
    pub fn new() -> Arc<Registry> {
        Arc::new(Registry::default())
    }

    /// A call arrived: it is listed until the returned entry is dropped.
    pub fn register(self: &Arc<Self>, call: LiveCall) -> CallEntry {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(key, call);
        self.count(Count::Accepted);
        CallEntry {
            registry: self.clone(),
            key,
            registered: Instant::now(),
        }
    }

    pub fn count(&self, what: Count) {
        let counter = match what {
            Count::Accepted => &self.accepted,
            Count::Answered => &self.answered,
            Count::Ended => &self.ended,
            Count::RefusedBusy => &self.refused_busy,
            Count::RefusedUnknownNumber => &self.refused_unknown_number,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The live calls, oldest first.
    pub fn calls(&self) -> Vec<LiveCall> {
        let mut calls: Vec<LiveCall> = self.lock().values().cloned().collect();
        calls.sort_by(|a, b| (a.since, &a.call_id).cmp(&(b.since, &b.call_id)));
        calls
    }

    pub fn counters(&self) -> Counters {
        Counters {
            accepted: self.accepted.load(Ordering::Relaxed),
            answered: self.answered.load(Ordering::Relaxed),
            ended: self.ended.load(Ordering::Relaxed),
            refused_busy: self.refused_busy.load(Ordering::Relaxed),
            refused_unknown_number: self.refused_unknown_number.load(Ordering::Relaxed),
        }
    }

    /// Setup times of the calls answered so far (seconds).
    pub fn setup_times(&self) -> &Histogram {
        &self.setup.0
    }

    /// The map, also after a panic elsewhere while it was held (its lines are plain data).
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, LiveCall>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A call's line in the registry; dropping it removes the line and counts the call as ended.
#[derive(Debug)]
pub struct CallEntry {
    registry: Arc<Registry>,
    key: u64,
    registered: Instant,
}

impl CallEntry {
    /// Change the call's line (cheap: a short lock, no allocation unless a field changes).
    pub fn update(&self, change: impl FnOnce(&mut LiveCall)) {
        if let Some(call) = self.registry.lock().get_mut(&self.key) {
            change(call);
        }
    }

    /// The call's flow started.
    pub fn answered(&self) {
        self.update(|call| call.answered = true);
        self.registry.count(Count::Answered);
        self.registry
            .setup
            .0
            .observe(self.registered.elapsed().as_secs_f64());
    }
}

impl Drop for CallEntry {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.key);
        self.registry.count(Count::Ended);
    }
}

/// What a server is made of; `centralino serve` builds it from the configuration.
pub struct ServerParts {
    pub sip: SipConfig,
    pub deployment: Arc<Deployment>,
    pub store: Arc<dyn Store>,
    pub prompts: Arc<PromptCache>,
    pub media: Arc<MediaLoops>,
    /// The store, recordings and the control socket live here.
    pub data_dir: PathBuf,
    /// The HTTP side (the address book), when enabled.
    pub http: Option<crate::http::HttpParts>,
    /// Staff phones register here; its bindings are where staff can be reached.
    pub registrar: Arc<Registrar>,
    /// The flows' webhooks (the `[webhooks]` allow-list and bounds).
    pub webhooks: crate::webhook::WebhookClient,
    /// `[email]`: mail in a maildir becomes tickets ([`crate::channels::email`]), when enabled.
    pub email: Option<crate::channels::email::EmailSettings>,
    /// Events out to the city's systems (`[[api.subscriptions]]`).
    pub events: crate::events::EventsConfig,
    /// The callback dialer, when a trunk is configured.
    pub dialer: Option<sip::DialerSetup>,
}

/// A Centralino server: SIP, hot reload and the control socket around one registry.
pub struct Server {
    sip: SipConfig,
    deployment: Arc<Deployment>,
    services: Services,
    /// Stops the helpers (reload watcher, control socket, the desk) once SIP has stopped.
    helpers_token: CancellationToken,
    desk: DeskTask,
    http: Option<crate::http::HttpParts>,
    email: Option<crate::channels::email::EmailSettings>,
    events: crate::events::EventsConfig,
    dialer: Option<sip::DialerSetup>,
}

impl Server {
    pub fn new(parts: ServerParts) -> Server {
        let helpers_token = CancellationToken::new();
        let (desk, desk_task) = Desk::new(
            parts.deployment.current(),
            QueueSettings::default(),
            &parts.registrar.config().realm,
            helpers_token.child_token(),
        );
        let services = Services {
            program: parts.deployment.current(),
            store: parts.store,
            prompts: parts.prompts,
            media: parts.media,
            data_dir: parts.data_dir,
            registry: Registry::new(),
            location: parts.registrar.clone(),
            desk,
            registrar: parts.registrar,
            handovers: Arc::default(),
            webhooks: parts.webhooks,
            rooms: Arc::default(),
        };
        // Phones registered before a restart are where they were: presence starts from them.
        let now = jiff::Timestamp::now();
        let mut restored: BTreeMap<String, Vec<crate::people::Binding>> = BTreeMap::new();
        for binding in services.registrar.registrations(now) {
            restored
                .entry(binding.extension.clone())
                .or_default()
                .push(binding);
        }
        for (extension, bindings) in restored {
            services.desk.send(crate::desk::DeskEvent::Bindings {
                extension,
                bindings,
            });
        }
        Server {
            sip: parts.sip,
            deployment: parts.deployment,
            services,
            helpers_token,
            desk: desk_task,
            http: parts.http,
            email: parts.email,
            events: parts.events,
            dialer: parts.dialer,
        }
    }

    /// Staff phones' bindings, for transfers, presence and the console.
    pub fn registrar(&self) -> Arc<Registrar> {
        self.services.registrar.clone()
    }

    /// The live calls and counters, for a console or metrics.
    pub fn registry(&self) -> Arc<Registry> {
        self.services.registry.clone()
    }

    /// Serve until `shutdown` is cancelled and live calls have finished (or the grace period
    /// passed). The reload watcher and the control socket run as long as the SIP side does.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), SipError> {
        let helpers_token = self.helpers_token;
        let mut helpers = JoinSet::new();
        helpers.spawn(self.desk.run());
        helpers.spawn(self.deployment.clone().watch(helpers_token.child_token()));
        helpers.spawn(crate::control::serve(
            crate::control::socket_path(&self.services.data_dir),
            crate::control::Context {
                deployment: self.deployment.clone(),
                store: self.services.store.clone(),
                registry: self.services.registry.clone(),
                registrar: self.services.registrar.clone(),
                dialer_wake: self.dialer.as_ref().map(|dialer| dialer.wake.clone()),
            },
            helpers_token.child_token(),
        ));
        if let Some(email) = self.email {
            helpers.spawn(crate::channels::email::run(
                email,
                self.services.store.clone(),
                self.deployment.current(),
                helpers_token.child_token(),
            ));
        }
        helpers.spawn(crate::events::deliver(
            self.services.store.clone(),
            self.events,
            helpers_token.child_token(),
        ));
        if let Some(http) = self.http {
            let view = crate::http::ServerView {
                callback_promise: http.callback_promise,
                registry: self.services.registry.clone(),
                deployment: self.deployment.clone(),
                registrar: self.services.registrar.clone(),
                desk: self.services.desk.clone(),
                store: self.services.store.clone(),
                data_dir: self.services.data_dir.clone(),
                media: self.services.media.clone(),
                directory: Arc::new(crate::http::directory::LiveBook::new(
                    self.deployment.current(),
                    http.contacts.clone(),
                )),
                dialer_wake: self.dialer.as_ref().map(|dialer| dialer.wake.clone()),
            };
            helpers.spawn(crate::http::run(http, view, helpers_token.child_token()));
        }
        let served = sip::serve(self.sip, self.services, shutdown, self.dialer).await;
        helpers_token.cancel();
        while helpers.join_next().await.is_some() {}
        served
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn call(id: &str, since: &str) -> LiveCall {
        LiveCall {
            call_id: id.to_owned(),
            channel: ChannelKind::Sip,
            caller: String::from("+393331234567"),
            number: String::from("075075075"),
            version: String::from("sha256:1"),
            flow: String::new(),
            state: String::new(),
            since: since.parse().unwrap(),
            answered: false,
            legs: Vec::new(),
        }
    }

    #[test]
    fn a_call_is_listed_while_its_entry_lives_and_counted() {
        let registry = Registry::new();
        let second = registry.register(call("b", "2026-12-04T10:00:05Z"));
        let first = registry.register(call("a", "2026-12-04T10:00:00Z"));
        first.answered();
        first.update(|c| {
            c.flow = String::from("main");
            c.state = String::from("menu");
        });
        let calls = registry.calls();
        assert_eq!(
            calls.iter().map(|c| c.call_id.as_str()).collect::<Vec<_>>(),
            ["a", "b"],
            "oldest first"
        );
        assert_eq!((calls[0].answered, calls[0].state.as_str()), (true, "menu"));
        assert!(!calls[1].answered);
        drop(first);
        assert_eq!(registry.calls().len(), 1);
        drop(second);
        assert!(registry.calls().is_empty());
        assert_eq!(
            registry.counters(),
            Counters {
                accepted: 2,
                answered: 1,
                ended: 2,
                ..Counters::default()
            }
        );
    }
}
