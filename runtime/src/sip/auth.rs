//! Who sent a request other than REGISTER: staff devices authenticate INVITE, MESSAGE,
//! SUBSCRIBE and REFER with the digest credentials they register with.
//!
//! ```text
//!   request ──► staff_caller(tx, registrar)
//!                 read: source (top Via with received/rport), method,
//!                       Authorization + Proxy-Authorization values
//!                 Registrar::authenticate ──► Staff(ext)                       ──► Authenticated::Staff
//!                                         ├─► Challenge (a device is here) ──► 401 ──► Challenged
//!                                         └─► Stranger                     ──► (caller: 404) Stranger
//! ```
//!
//! **The rule, so nobody can enumerate extensions** (issue 9, item 7):
//! - valid credentials (any extension with an account, from any address) → `Staff(extension)`;
//! - no credentials, or a stale nonce, from an IP address where some staff device is registered
//!   → 401 with the very `WWW-Authenticate` headers REGISTER gets (SHA-256 and/or MD5, a fresh
//!   nonce), whatever extension the request is for → `Challenged`;
//! - anyone else, and wrong credentials once the source is throttled → `Stranger`: the caller
//!   answers exactly as to a number that does not exist ([`unknown_number`]: 404 Not Found,
//!   same reason phrase and headers as an INVITE to an unknown number).
//!
//! Wrong credentials count as failures of the source together with REGISTER's; a throttled
//! source is answered late (this function sleeps, so run it in a task of its own, never on the
//! server's loop), and past the drop limit it is a stranger at once.

use std::net::SocketAddr;

use jiff::Timestamp;
use rsipstack::sip::{Header, HeadersExt, Request, StatusCode};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::SipConnection;
use tracing::{debug, info, warn};

use crate::people::registrar::{AuthDecision, AuthEvent, AuthRequest, Registrar};

/// Who sent the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authenticated {
    /// A staff member proved to be this extension.
    Staff(String),
    /// A 401 was sent: the phone will send the request again with credentials.
    Challenged,
    /// Not staff: answer exactly as to an unknown number ([`unknown_number`]).
    Stranger,
}

/// Authenticates the sender of `tx` (INVITE, MESSAGE, SUBSCRIBE, REFER) as a staff member;
/// sends the 401 itself when it challenges. May sleep (a throttled source): call it from a
/// task of its own.
pub async fn staff_caller(tx: &mut Transaction, registrar: &Registrar) -> Authenticated {
    let Some(request) = read(&tx.original) else {
        return Authenticated::Stranger;
    };
    let mut random = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut random) {
        warn!(error = %e, "no randomness for a nonce: treated as a stranger");
        return Authenticated::Stranger;
    }
    let outcome = registrar.authenticate(&request, Timestamp::now(), random);
    log(&request, &outcome.event);
    if let Some(delay) = outcome.delay {
        let Some(_place) = registrar.hold_delayed() else {
            debug!(source = %request.source, "too many answers delayed already");
            return Authenticated::Stranger;
        };
        tokio::time::sleep(delay).await;
    }
    match outcome.decision {
        AuthDecision::Staff(extension) => Authenticated::Staff(extension),
        AuthDecision::Stranger => Authenticated::Stranger,
        AuthDecision::Challenge { challenges } => {
            let headers = challenges
                .into_iter()
                .map(|c| Header::WwwAuthenticate(c.into()))
                .collect();
            if let Err(e) = tx.reply_with(StatusCode::Unauthorized, headers, None).await {
                debug!(error = %e, "401 not sent");
            }
            Authenticated::Challenged
        }
    }
}

/// The answer to a request for a number or extension that does not exist, and to a stranger:
/// 404 Not Found with nothing else, the same as `Server::on_invite` gives an unknown number.
pub async fn unknown_number(tx: &mut Transaction) {
    if let Err(e) = tx.reply(StatusCode::NotFound).await {
        debug!(error = %e, "404 not sent");
    }
}

/// Where a request came from: its top Via, with `received`/`rport` when the proxy-less phone is
/// behind NAT.
pub fn source_of(request: &Request) -> Option<SocketAddr> {
    let (_, address) = SipConnection::parse_target_from_via(request.via_header().ok()?).ok()?;
    SocketAddr::try_from(address).ok()
}

fn read(request: &Request) -> Option<AuthRequest> {
    let source = source_of(request)?;
    let authorization = request
        .headers
        .iter()
        .filter_map(|header| match header {
            Header::Authorization(value) => Some(value.value().to_owned()),
            Header::ProxyAuthorization(value) => Some(value.value().to_owned()),
            _ => None,
        })
        .collect();
    Some(AuthRequest {
        source,
        method: request.method.to_string(),
        authorization,
    })
}

fn log(request: &AuthRequest, event: &AuthEvent) {
    let source = request.source;
    let method = &request.method;
    match event {
        AuthEvent::Authenticated { extension } => {
            debug!(%source, method, extension, "staff authenticated")
        }
        AuthEvent::Challenged => debug!(%source, method, "staff request challenged"),
        AuthEvent::Stale => debug!(%source, method, "stale nonce: challenged again"),
        AuthEvent::NoDeviceHere => {
            info!(%source, method, "request from a stranger: answered as an unknown number")
        }
        AuthEvent::Refused { refusal, failures } => {
            warn!(%source, method, %refusal, failures, "staff credentials refused")
        }
        AuthEvent::Throttled { failures } => {
            warn!(%source, method, failures, "too many failures from this source: a stranger")
        }
    }
}
