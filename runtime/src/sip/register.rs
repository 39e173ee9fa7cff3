//! The SIP side of the registrar: a REGISTER transaction in, `people::registrar` decides, the
//! answer out.
//!
//! ```text
//!  Server::on_transaction (REGISTER) ──spawn──► answer(tx)
//!     read: source (top Via with received/rport), transport, To user, Call-ID, CSeq,
//!           Contact, Expires, Authorization, User-Agent   (text; the registrar parses)
//!     Registrar::register(request, now, OS randomness) ──► Outcome
//!     log it (refusals and throttling at warn) ─► sleep if throttled ─► store (flushed when
//!     contacts came or went) ─► 401 / 200 / 423 / 400 / 500, or nothing (dropped)
//! ```
//!
//! A 401 carries two `WWW-Authenticate` headers, SHA-256 then MD5, and nothing that depends on
//! who asked: unknown extensions and wrong passwords get the same status, reason and headers.

use std::net::SocketAddr;
use std::sync::Arc;

use jiff::Timestamp;
use rsipstack::sip::{Header, HeadersExt, StatusCode};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::SipConnection;
use tracing::{debug, info, warn};

use crate::desk::{Desk, DeskEvent};
use crate::people::SignalTransport;
use crate::people::registrar::{Event, Outcome, RegisterRequest, Registrar, Reply};
use crate::store::Store;

/// Answer one REGISTER (run it in an owned task: a throttled source is answered late).
pub async fn answer(
    mut tx: Transaction,
    registrar: Arc<Registrar>,
    store: Arc<dyn Store>,
    desk: Desk,
) {
    let Some(request) = read(&tx) else {
        let _ = tx.reply(StatusCode::BadRequest).await;
        return;
    };
    let mut random = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut random) {
        warn!(error = %e, "no randomness for a nonce: 500");
        let _ = tx.reply(StatusCode::ServerInternalError).await;
        return;
    }
    let outcome = registrar.register(&request, Timestamp::now(), random);
    log(&request, &outcome);
    let Outcome {
        reply,
        delay,
        persist,
        event: _,
    } = outcome;
    if let Some(delay) = delay {
        let Some(_place) = registrar.hold_delayed() else {
            debug!(source = %request.source, "too many answers delayed already: dropped");
            return;
        };
        tokio::time::sleep(delay).await;
    }
    if let Some(persist) = persist {
        let bindings = DeskEvent::Bindings {
            extension: persist.extension.clone(),
            bindings: persist
                .registrations
                .iter()
                .map(|r| r.binding.clone())
                .collect(),
        };
        let saved = tokio::task::spawn_blocking(move || {
            store.save_registrations(&persist.extension, &persist.registrations, persist.durable)
        })
        .await;
        let failed = match saved {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(error) = failed {
            warn!(%error, "registrations not stored: 500");
            let _ = tx.reply(StatusCode::ServerInternalError).await;
            return;
        }
        // Presence follows the devices (a refresh moves their expiry).
        desk.send(bindings);
    }
    let (status, headers) = match reply {
        Reply::Drop => return,
        Reply::Unauthorized { challenges } => (
            StatusCode::Unauthorized,
            challenges
                .into_iter()
                .map(|c| Header::WwwAuthenticate(c.into()))
                .collect(),
        ),
        Reply::Registered { contacts } => (
            StatusCode::OK,
            contacts
                .into_iter()
                .map(|(uri, expires)| Header::Contact(format!("<{uri}>;expires={expires}").into()))
                .collect(),
        ),
        Reply::IntervalTooBrief { min_expires } => (
            StatusCode::IntervalTooBrief,
            vec![Header::MinExpires(min_expires.to_string().into())],
        ),
        Reply::BadRequest(why) => (
            StatusCode::BadRequest,
            vec![Header::Warning(format!("399 centralino \"{why}\"").into())],
        ),
        Reply::OutOfOrder => (StatusCode::ServerInternalError, Vec::new()),
    };
    if let Err(e) = tx.reply_with(status, headers, None).await {
        debug!(error = %e, "REGISTER answer not sent");
    }
}

/// A new secret for signing nonces (the OS's randomness), once per server start.
pub fn new_secret() -> Result<[u8; 32], getrandom::Error> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)?;
    Ok(secret)
}

/// The request's parts as text; `None` when its Via, Call-ID or CSeq cannot be read.
fn read(tx: &Transaction) -> Option<RegisterRequest> {
    let request = &tx.original;
    let (_, via_address) = SipConnection::parse_target_from_via(request.via_header().ok()?).ok()?;
    let source = SocketAddr::try_from(via_address).ok()?;
    let transport = match tx.connection.as_ref().map(SipConnection::is_reliable) {
        Some(true) => SignalTransport::Tcp,
        Some(false) | None => SignalTransport::Udp,
    };
    let to_user = request
        .to_header()
        .ok()
        .and_then(|to| to.uri().ok())
        .and_then(|uri| uri.auth.map(|auth| auth.user));
    let call_id = request.call_id_header().ok()?.value().to_owned();
    let cseq = request.cseq_header().ok()?.seq().ok()?;
    let mut contacts = Vec::new();
    let mut expires = None;
    let mut authorization = Vec::new();
    let mut user_agent = None;
    for header in request.headers.iter() {
        match header {
            Header::Contact(value) => contacts.push(value.value().to_owned()),
            Header::Expires(value) => expires = Some(value.value().to_owned()),
            Header::Authorization(value) => authorization.push(value.value().to_owned()),
            Header::UserAgent(value) => user_agent = Some(value.value().to_owned()),
            _ => {}
        }
    }
    Some(RegisterRequest {
        source,
        transport,
        to_user,
        call_id,
        cseq,
        contacts,
        expires,
        authorization,
        user_agent,
    })
}

fn log(request: &RegisterRequest, outcome: &Outcome) {
    let source = request.source;
    let to = request.to_user.as_deref().unwrap_or("");
    match &outcome.event {
        Event::Challenged => debug!(%source, to, "REGISTER challenged"),
        Event::Stale => debug!(%source, to, "REGISTER with a stale nonce: challenged again"),
        Event::Refused { refusal, failures } => warn!(
            %source, to, %refusal, failures, slowed = outcome.delay.is_some(),
            "REGISTER refused"
        ),
        Event::Dropped { failures } => {
            warn!(%source, to, failures, "REGISTER dropped: too many failures from this source")
        }
        Event::Registered { extension, devices } => {
            info!(%source, extension, devices, "registered")
        }
        Event::Unregistered { extension, devices } => {
            info!(%source, extension, devices, "unregistered")
        }
        Event::Queried { extension } => debug!(%source, extension, "registrations queried"),
        Event::Rejected(why) => info!(%source, to, why, "REGISTER rejected"),
    }
}
