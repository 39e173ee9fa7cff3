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
pub mod console;
pub mod directory;
pub mod guard;
pub mod metrics;
pub mod session;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::engine::Program;

/// How long requests in progress may go on once the server stops.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// What the HTTP side needs, as `centralino serve` prepares it: the listener is bound before
/// the server starts, so a port in use stops `serve` with a clear error.
#[derive(Debug)]
pub struct HttpParts {
    pub listener: std::net::TcpListener,
    /// The external contacts file of the address book (`[directory] contacts`).
    pub contacts: Option<PathBuf>,
    /// The console's accounts file (`DATA/accounts.toml`, [`accounts::Accounts::path_in`]).
    pub accounts: PathBuf,
    /// `[http] metrics_token`: `/metrics` asks for `Authorization: Bearer` with it.
    pub metrics_token: Option<String>,
}

/// What every route can read; cheap to clone.
#[derive(Clone)]
pub struct HttpState {
    pub directory: Arc<directory::LiveBook>,
}

/// Every route of the server: the address book (for desk phones, no login), the console's
/// login form, and the console's staff routes (all behind its login check).
pub fn router(state: HttpState, console: Arc<console::Console>, metrics: Router) -> Router {
    Router::new()
        .merge(directory::routes())
        .with_state(state)
        .merge(metrics)
        .merge(console::public_routes(console.clone()))
        .merge(console::staff_routes(console))
}

/// Serve `router` on `listener` until `cancel`, with the [`guard::Limits`] on connections;
/// requests in progress then get [`SHUTDOWN_GRACE`] to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let listener = guard::GuardedListener::new(listener, guard::Limits::default());
    let service = router.into_make_service_with_connect_info::<guard::ClientAddress>();
    let graceful =
        axum::serve(listener, service).with_graceful_shutdown(cancel.clone().cancelled_owned());
    tokio::select! {
        served = graceful => served,
        () = async {
            cancel.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => Ok(()),
    }
}

/// The HTTP side of a server: the address book of the current program, on the listener of
/// `parts`, until `cancel`. Failures are logged (the SIP side goes on without it).
pub async fn run(
    parts: HttpParts,
    program: Arc<RwLock<Arc<Program>>>,
    sources: metrics::MetricsSources,
    cancel: CancellationToken,
) {
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
        directory: Arc::new(directory::LiveBook::new(program, parts.contacts)),
    };
    match address {
        Some(address) => {
            tracing::info!(%address, "HTTP listening (console: /, metrics: /metrics, address book: /directory/yealink.xml, /directory/snom.xml, /directory.vcf)")
        }
        None => tracing::info!("HTTP listening"),
    }
    let console = Arc::new(console::Console::new(
        parts.accounts,
        sources.registry.clone(),
        false,
    ));
    let metrics = metrics::routes(sources, parts.metrics_token);
    if let Err(e) = serve(listener, router(state, console, metrics), cancel).await {
        tracing::error!(error = %e, "HTTP stopped");
    }
}
