//! The server's HTTP side: one listener (loopback by default), one router, owned by the server
//! and stopped with it. It serves the address book to desk phones and the staff console
//! (login, live calls; [`console`]).
//!
//! ```text
//!   desk phones, address books ──GET──► TcpListener (config [http] listen)
//!                                          │ axum (hyper, HTTP/1.1)
//!                                          ▼
//!                                  router(HttpState) ── /directory/yealink.xml, /directory/snom.xml,
//!                                          │             /directory.vcf   (directory::routes)
//!                                          ▼
//!                                  HttpState: the current program (follows reloads), contacts file
//! ```
//!
//! [`run`] is what `Server::run` spawns: it serves until its token is cancelled, then gives open
//! requests [`SHUTDOWN_GRACE`] to finish. Connections are limited in number and lifetime
//! ([`guard`]), so clients that hold them open cannot starve the phones.

pub mod accounts;
pub mod api;
pub mod console;
pub mod directory;
pub mod guard;
pub mod metrics;
pub mod session;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio_util::sync::CancellationToken;

/// How long requests in progress may go on once the server stops.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What the HTTP side needs, as `centralino serve` prepares it: the listener is bound before
/// the server starts, so a port in use stops `serve` with a clear error. The contacts file
/// goes into the [`ServerView`]'s address book when the server starts.
#[derive(Debug)]
pub struct HttpParts {
    pub listener: std::net::TcpListener,
    /// The external contacts file of the address book (`[directory] contacts`).
    pub contacts: Option<PathBuf>,
    /// The console's accounts file (`DATA/accounts.toml`, [`accounts::Accounts::path_in`]).
    pub accounts: PathBuf,
    /// `[http] metrics_token`: `/metrics` asks for `Authorization: Bearer` with it.
    pub metrics_token: Option<String>,
    /// `[webchat]`: the citizens' chat at `/chat` ([`crate::channels::webchat`]), when enabled.
    pub webchat: Option<crate::channels::webchat::ChatParts>,
    /// The connectors API (`/api/v1`): its tokens file and limits.
    pub api: api::ApiConfig,
    /// `[http] tls_certificate`/`tls_key` read ([`tls::server_config`]): HTTPS instead of HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// `[callbacks] promise_h`: how soon offices without `callback` in the flows call back.
    pub callback_promise: jiff::SignedDuration,
}

/// The server's live parts, as HTTP pages read and change them (the console, metrics, the
/// API): cheap to clone, shared with the SIP side.
#[derive(Clone)]
pub struct ServerView {
    /// Live calls and counters.
    pub registry: Arc<crate::server::Registry>,
    /// The flows: current version, reload status, kept versions, rollback, the flows folder.
    pub deployment: Arc<crate::reload::Deployment>,
    /// Staff phones' bindings.
    pub registrar: Arc<crate::people::registrar::Registrar>,
    /// Presence and queues.
    pub desk: crate::desk::Desk,
    /// Tickets, callbacks, bookings, the call log.
    pub store: Arc<dyn crate::store::Store>,
    /// The server's data folder (the store, recordings, accounts).
    pub data_dir: PathBuf,
    /// The media threads (RTP pacing counters).
    pub media: Arc<crate::media::legs::MediaLoops>,
    /// The address book (offices, staff, external contacts): the one desk phones read.
    pub directory: Arc<directory::LiveBook>,
    /// Wakes the callback dialer to work a request now; `None`: no `[trunk]`, callbacks are
    /// kept, not dialled.
    pub dialer_wake: Option<Arc<tokio::sync::Notify>>,
    /// The promise of offices whose flows name none (`[callbacks] promise_h`).
    pub callback_promise: jiff::SignedDuration,
}

impl std::fmt::Debug for ServerView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerView")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl ServerView {
    /// A server view over the flows of `source` (one file, `test.flow`), a temporary store,
    /// no phones and no calls; for tests of pages and routes. The desk's task is not run:
    /// presence reads as everyone offline.
    #[cfg(test)]
    #[allow(clippy::unwrap_used)]
    pub fn for_tests(source: &str) -> ServerView {
        let mut sources = centralino_compiler::Sources::new();
        sources.add("test.flow", source);
        let compiled = centralino_compiler::compile(&sources);
        let program = crate::engine::Program::new(compiled.graph.unwrap()).unwrap();
        let prompts = Arc::new(crate::media::prompt::PromptCache::new(Default::default()));
        let deployment =
            crate::reload::Deployment::new(PathBuf::from("/nonexistent/flows"), program, prompts);
        let (desk, _task) = crate::desk::Desk::new(
            deployment.current(),
            crate::people::queue::QueueSettings::default(),
            "test.invalid",
            CancellationToken::new(),
        );
        let registrar = crate::people::registrar::Registrar::new(
            crate::people::registrar::RegistrarConfig::new("test.invalid", Default::default()),
            [7; 32],
            Vec::new(),
            jiff::Timestamp::now(),
        );
        let directory = Arc::new(directory::LiveBook::new(deployment.current(), None));
        ServerView {
            directory,
            callback_promise: crate::promise::DEFAULT_PROMISE,
            registry: crate::server::Registry::new(),
            deployment,
            registrar: Arc::new(registrar),
            desk,
            store: Arc::new(crate::store::SledStore::temporary().unwrap()),
            data_dir: PathBuf::from("/nonexistent/data"),
            dialer_wake: None,
            media: Arc::new(
                crate::media::legs::MediaLoops::start(
                    1,
                    crate::media::legs::RtpPorts::any(std::net::Ipv4Addr::LOCALHOST.into()),
                )
                .unwrap(),
            ),
        }
    }
}

/// What every route can read; cheap to clone.
#[derive(Clone)]
pub struct HttpState {
    pub directory: Arc<directory::LiveBook>,
}

/// Every route of the server: the address book (for desk phones, no login), the connectors
/// API (`/api/v1`, bearer tokens), the console's login form, and the console's staff routes
/// (all behind its login check).
pub fn router(
    state: HttpState,
    console: Arc<console::Console>,
    metrics: Router,
    api: Router,
) -> Router {
    Router::new()
        .merge(directory::routes())
        .with_state(state)
        .merge(metrics)
        .merge(api)
        .merge(console::public_routes(console.clone()))
        .merge(console::staff_routes(console))
}

/// Serve `router` on `listener` until `cancel`, with the [`guard::Limits`] on connections;
/// requests in progress then get [`SHUTDOWN_GRACE`] to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let listener = guard::GuardedListener::new(listener, guard::Limits::default());
    let graceful = cancel.clone().cancelled_owned();
    let served = async {
        match tls {
            None => {
                let service = router.into_make_service_with_connect_info::<guard::ClientAddress>();
                axum::serve(listener, service)
                    .with_graceful_shutdown(graceful)
                    .await
            }
            Some(config) => {
                let listener = tls::TlsListener::new(listener, config);
                let service = router.into_make_service_with_connect_info::<guard::ClientAddress>();
                axum::serve(listener, service)
                    .with_graceful_shutdown(graceful)
                    .await
            }
        }
    };
    tokio::select! {
        served = served => served,
        () = async {
            cancel.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => Ok(()),
    }
}

/// The HTTP side of a server: the address book of the current program, on the listener of
/// `parts`, until `cancel`. Failures are logged (the SIP side goes on without it).
pub async fn run(parts: HttpParts, view: ServerView, cancel: CancellationToken) {
    let address = parts.listener.local_addr().ok();
    let listener = match parts
        .listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(parts.listener))
    {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(error = %e, "HTTP cannot use its listener; the address book is not served");
            return;
        }
    };
    let state = HttpState {
        directory: view.directory.clone(),
    };
    let api = api::routes(api::Api::new(
        &parts.api,
        view.clone(),
        state.directory.clone(),
    ));
    match address {
        Some(address) => {
            tracing::info!(%address, tls = parts.tls.is_some(), "HTTP listening (console: /, metrics: /metrics, API: /api/v1, address book: /directory/yealink.xml, /directory/snom.xml, /directory.vcf)")
        }
        None => tracing::info!("HTTP listening"),
    }
    let tls = parts.tls;
    let console = Arc::new(console::Console::new(
        parts.accounts,
        view.clone(),
        tls.is_some(),
    ));
    let chats = parts.webchat.map(|chat| {
        crate::channels::webchat::ChatHub::new(chat, view.clone(), cancel.child_token())
    });
    let metrics = metrics::routes(metrics::MetricsSources(view), parts.metrics_token);
    let mut routes = router(state, console, metrics, api);
    if let Some(hub) = &chats {
        routes = routes.merge(crate::channels::webchat::routes::routes(
            hub.clone(),
            tls.is_some(),
        ));
    }
    if let Err(e) = serve(listener, routes, tls, cancel).await {
        tracing::error!(error = %e, "HTTP stopped");
    }
    if let Some(hub) = chats {
        hub.stopped().await;
    }
}
