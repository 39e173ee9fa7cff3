//! The SIP side of what staff phones do among themselves: SUBSCRIBE/NOTIFY for `presence` and
//! `dialog` (BLF keys), and MESSAGE, kept and forwarded. One owned task, [`StaffSide::run`].
//!
//! ```text
//!  Server::on_transaction
//!    SUBSCRIBE (no To tag) ─► auth::staff_caller ─► Staff ─┐            ┌─► desk: Subscribe ─► outcome
//!    SUBSCRIBE (To tag: refresh / Expires: 0) ─────────────┼─► StaffSide┤   200 / 423 / 404 / 503, then
//!    MESSAGE ──────────────► auth::staff_caller ─► Staff ─┘   (task)   │   the first / last NOTIFY
//!                                           Challenged: 401 sent       │
//!                                           Stranger: 404 as an unknown number
//!  desk outbox ── Notify ─────────────────────────────────────────────► NOTIFY in the subscription's
//!              │                                                         dialog; 481 / no answer /
//!              │                                                         error ─► SubscriptionGone
//!              └─ Registered{ext, devices} ──► Messages::registered ─┐
//!  MESSAGE job: Messages::receive (store) ─► 202 / 404 / 415 / 413 / 480 ├─► a MESSAGE to each device
//!  retry timer: Messages::retry_due ───────────────────────────────────┘   2xx: delivered, else failed
//! ```
//!
//! Subscriptions are dialogs of our own (not rsipstack's dialog layer): the task keeps, for
//! each, the Call-ID, tags, the phone's Contact and where its SUBSCRIBE came from, and sends
//! NOTIFYs as client transactions in the order the desk produced them (each is on the wire
//! before the next is built; only the wait for its answer runs apart). A refresh or an
//! unsubscribe inside the dialog is known by its Call-ID and tags, which are unguessable, so
//! it is not challenged again. The store's durable writes (keeping, removing a message) run
//! on blocking threads, in jobs this task owns.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::future::join_all;
use jiff::Timestamp;
use rsipstack::sip::param::Tag;
use rsipstack::sip::{Header, HeadersExt, Request, SipMessage, StatusCode, StatusCodeKind};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::{SipAddr, SipConnection};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::auth::{source_of, unknown_number};
use super::dial::reachable_local;
use crate::desk::{Desk, DeskEvent, DeskOut, staff_extensions};
use crate::engine::Program;
use crate::people::messages::{
    AfterFailure, Delivery, IncomingMessage, MessageLimits, Messages, Received,
};
use crate::people::presence::{
    EventPackage, Notify, SubscribeOutcome, SubscribeRequest, SubscriptionId, SubscriptionState,
};
use crate::people::registrar::{ContactSpec, parse_contacts};
use crate::people::{Binding, Location, SignalTransport};
use crate::store::Store;

/// The `Allow-Events` the server answers with.
pub const ALLOW_EVENTS: &str = "presence, dialog";

/// A staff request the server's loop hands to [`StaffSide`].
pub enum StaffRequest {
    /// A SUBSCRIBE out of dialog from this authenticated staff member.
    Subscribe { tx: Transaction, subscriber: String },
    /// A SUBSCRIBE inside a subscription's dialog: a refresh, or Expires: 0.
    Resubscribe { tx: Transaction },
    /// A MESSAGE out of dialog from this authenticated staff member.
    Message { tx: Transaction, from: String },
}

/// What the staff task is made of.
pub struct StaffSide {
    pub endpoint: EndpointInnerRef,
    /// Where the server listens (an unspecified IP is replaced by the route to each phone).
    pub listen: SocketAddr,
    pub desk: Desk,
    pub outbox: mpsc::UnboundedReceiver<DeskOut>,
    pub requests: mpsc::UnboundedReceiver<StaffRequest>,
    pub store: Arc<dyn Store>,
    pub location: Arc<dyn Location>,
    /// Whose staff may send and receive messages: the flows' staff now.
    pub program: Arc<RwLock<Arc<Program>>>,
    pub token: CancellationToken,
}

/// One subscription's dialog, as NOTIFYs need it.
#[derive(Debug, Clone)]
struct SubscriptionDialog {
    call_id: String,
    /// The SUBSCRIBE's To with our tag: the From of our NOTIFYs.
    local: String,
    /// The SUBSCRIBE's From (with the phone's tag): the To of our NOTIFYs.
    remote: String,
    /// The phone's Contact: the Request-URI of our NOTIFYs.
    target: String,
    /// Where the SUBSCRIBE came from, and how.
    destination: SocketAddr,
    transport: SignalTransport,
    /// The Event header value, echoed (with its `id`).
    event: String,
    cseq: u32,
    subscriber: String,
    watched: String,
    package: EventPackage,
}

/// What a job of the task reports when it ends.
enum Done {
    /// A NOTIFY's final answer (`None`: none came).
    Notify {
        id: SubscriptionId,
        status: Option<StatusCode>,
    },
    /// Messages were kept, delivered or failed: the next retry may have moved.
    Messages,
}

/// What delivering messages needs; cloned into each job.
#[derive(Clone)]
struct Postman {
    endpoint: EndpointInnerRef,
    listen: SocketAddr,
    store: Arc<dyn Store>,
    messages: Messages,
}

impl StaffSide {
    /// Serve until the token is cancelled.
    pub async fn run(mut self) {
        let mut dialogs: HashMap<SubscriptionId, SubscriptionDialog> = HashMap::new();
        let mut jobs: JoinSet<Done> = JoinSet::new();
        let mut next_retry = self.next_retry(Timestamp::now());
        loop {
            let retry = async {
                match next_retry {
                    Some(at) => {
                        let wait = at.duration_since(Timestamp::now());
                        tokio::time::sleep(Duration::try_from(wait).unwrap_or_default()).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.token.cancelled() => break,
                Some(request) = self.requests.recv() => match request {
                    StaffRequest::Subscribe { tx, subscriber } => {
                        self.subscribe(tx, Some(subscriber), &mut dialogs, &mut jobs).await;
                    }
                    StaffRequest::Resubscribe { tx } => {
                        self.subscribe(tx, None, &mut dialogs, &mut jobs).await;
                    }
                    StaffRequest::Message { tx, from } => {
                        jobs.spawn(receive_message(self.postman(), self.location.clone(), tx, from));
                    }
                },
                Some(out) = self.outbox.recv() => match out {
                    DeskOut::Notify(notify) => self.notify(notify, &mut dialogs, &mut jobs).await,
                    DeskOut::Registered { extension, bindings } => {
                        jobs.spawn(registered(self.postman(), extension, bindings));
                    }
                },
                Some(done) = jobs.join_next(), if !jobs.is_empty() => match done {
                    Ok(Done::Notify { id, status }) => {
                        let taken = status.as_ref().is_some_and(|s| s.kind() == StatusCodeKind::Successful);
                        if !taken {
                            info!(subscription = %id.0, status = ?status, "NOTIFY not taken: subscription removed");
                            dialogs.remove(&id);
                            self.desk.send(DeskEvent::SubscriptionGone { id });
                        }
                    }
                    Ok(Done::Messages) => next_retry = self.next_retry(Timestamp::now()),
                    Err(e) => debug!(error = %e, "staff job"),
                },
                () = retry => {
                    next_retry = None;
                    jobs.spawn(retry_due(self.postman(), self.location.clone()));
                }
            }
        }
        jobs.shutdown().await;
    }

    fn postman(&self) -> Postman {
        let staff = self
            .program
            .read()
            .ok()
            .map(|program| staff_extensions(&program))
            .unwrap_or_default();
        Postman {
            endpoint: self.endpoint.clone(),
            listen: self.listen,
            store: self.store.clone(),
            messages: Messages::new(staff, MessageLimits::default()),
        }
    }

    /// When to look for messages to try again: their next attempt, but not sooner than a
    /// retry interval from now (those due for offline staff wait for their REGISTER).
    fn next_retry(&self, now: Timestamp) -> Option<Timestamp> {
        let postman = self.postman();
        let next = match postman.messages.next_retry(&*self.store) {
            Ok(next) => next?,
            Err(e) => {
                warn!(error = %e, "cannot read the kept messages");
                return None;
            }
        };
        let soonest = now
            .checked_add(postman.messages.limits().retry_after)
            .unwrap_or(now);
        Some(next.max(soonest))
    }

    /// A SUBSCRIBE: new (`subscriber` authenticated) or inside a dialog (`None`).
    async fn subscribe(
        &self,
        mut tx: Transaction,
        subscriber: Option<String>,
        dialogs: &mut HashMap<SubscriptionId, SubscriptionDialog>,
        jobs: &mut JoinSet<Done>,
    ) {
        let request = &tx.original;
        let event = request.headers.iter().find_map(|header| match header {
            Header::Event(value) => Some(value.value().trim().to_owned()),
            _ => None,
        });
        let Some((event, package)) =
            event.and_then(|e| EventPackage::from_event_header(&e).map(|p| (e, p)))
        else {
            let allow = vec![Header::Other(
                String::from("Allow-Events"),
                String::from(ALLOW_EVENTS),
            )];
            reply(&mut tx, StatusCode::BadEvent, allow).await;
            return;
        };
        let expires_text = request.headers.iter().find_map(|header| match header {
            Header::Expires(value) => Some(value.value().trim().to_owned()),
            _ => None,
        });
        let ids = DialogIds::read(request);
        let watched = request.uri.auth.as_ref().map(|a| a.user.clone());
        let expires = match expires_text {
            None => None,
            Some(text) => match text.parse::<u32>() {
                Ok(seconds) => Some(seconds),
                Err(_) => {
                    reply(&mut tx, StatusCode::BadRequest, Vec::new()).await;
                    return;
                }
            },
        };
        let Some(ids) = ids else {
            reply(&mut tx, StatusCode::BadRequest, Vec::new()).await;
            return;
        };
        let (id, dialog) = match subscriber {
            Some(subscriber) => {
                let Some(watched) = watched else {
                    unknown_number(&mut tx).await;
                    return;
                };
                let Some(dialog) =
                    self.new_dialog(&mut tx, &ids, event, package, subscriber, watched)
                else {
                    reply(&mut tx, StatusCode::BadRequest, Vec::new()).await;
                    return;
                };
                (ids.id(&dialog.event, &local_tag(&dialog.local)), dialog)
            }
            None => {
                let Some(to_tag) = ids.to_tag.clone() else {
                    reply(&mut tx, StatusCode::CallTransactionDoesNotExist, Vec::new()).await;
                    return;
                };
                let id = ids.id(&event, &to_tag);
                match dialogs.get(&id) {
                    Some(dialog) if dialog.package == package => (id, dialog.clone()),
                    Some(_) | None => {
                        reply(&mut tx, StatusCode::CallTransactionDoesNotExist, Vec::new()).await;
                        return;
                    }
                }
            }
        };
        let (answer, answered) = oneshot::channel();
        self.desk.send(DeskEvent::Subscribe {
            request: SubscribeRequest {
                id: id.clone(),
                subscriber: dialog.subscriber.clone(),
                watched: dialog.watched.clone(),
                package,
                expires,
                at: Timestamp::now(),
            },
            answer,
        });
        let Ok(outcome) = answered.await else {
            reply(&mut tx, StatusCode::ServiceUnavailable, Vec::new()).await;
            return;
        };
        let contact = Header::Contact(
            format!(
                "<{}>",
                local_uri(&dialog.watched, self.local_for(&dialog), dialog.transport)
            )
            .into(),
        );
        match outcome {
            SubscribeOutcome::Accepted { expires, notify } => {
                let headers = vec![Header::Expires(expires.to_string().into()), contact];
                reply(&mut tx, StatusCode::OK, headers).await;
                info!(subscriber = %dialog.subscriber, watched = %dialog.watched, package = package.name(), expires, "subscribed");
                dialogs.insert(id, dialog);
                self.notify(notify, dialogs, jobs).await;
            }
            SubscribeOutcome::Ended { notify } => {
                let headers = vec![Header::Expires("0".into()), contact];
                reply(&mut tx, StatusCode::OK, headers).await;
                info!(subscriber = %dialog.subscriber, watched = %dialog.watched, package = package.name(), "unsubscribed");
                dialogs.insert(id, dialog);
                self.notify(notify, dialogs, jobs).await;
            }
            SubscribeOutcome::IntervalTooBrief { min_expires } => {
                let headers = vec![Header::MinExpires(min_expires.to_string().into())];
                reply(&mut tx, StatusCode::IntervalTooBrief, headers).await;
            }
            SubscribeOutcome::UnknownNumber => unknown_number(&mut tx).await,
            SubscribeOutcome::TooMany => {
                reply(&mut tx, StatusCode::ServiceUnavailable, Vec::new()).await;
            }
        }
    }

    /// A new subscription's dialog: our tag goes on the request's To (the answer carries it).
    fn new_dialog(
        &self,
        tx: &mut Transaction,
        ids: &DialogIds,
        event: String,
        package: EventPackage,
        subscriber: String,
        watched: String,
    ) -> Option<SubscriptionDialog> {
        let destination = source_of(&tx.original)?;
        let transport = match tx.connection.as_ref().map(SipConnection::is_reliable) {
            Some(true) => SignalTransport::Tcp,
            Some(false) | None => SignalTransport::Udp,
        };
        let to = tx.original.to_header().ok()?.clone();
        let tagged = to.with_tag(Tag::new(random_hex(8)?));
        let local = tagged.value().to_owned();
        tx.original.headers.unique_push(tagged.into());
        let remote = tx.original.from_header().ok()?.value().to_owned();
        let target = tx
            .original
            .headers
            .iter()
            .find_map(|header| match header {
                Header::Contact(value) => parse_contacts(value.value()),
                _ => None,
            })
            .and_then(|contacts| {
                contacts.into_iter().find_map(|c| match c {
                    ContactSpec::Uri { uri, .. } => Some(uri),
                    ContactSpec::All => None,
                })
            })?;
        Some(SubscriptionDialog {
            call_id: ids.call_id.clone(),
            local,
            remote,
            target,
            destination,
            transport,
            event,
            cseq: 0,
            subscriber,
            watched,
            package,
        })
    }

    fn local_for(&self, dialog: &SubscriptionDialog) -> SocketAddr {
        reachable_local(self.listen, dialog.destination)
    }

    /// Sends a NOTIFY in its dialog (forgetting the dialog after a final one); its answer is
    /// awaited in a job.
    async fn notify(
        &self,
        notify: Notify,
        dialogs: &mut HashMap<SubscriptionId, SubscriptionDialog>,
        jobs: &mut JoinSet<Done>,
    ) {
        let terminated = matches!(notify.state, SubscriptionState::Terminated { .. });
        let id = notify.subscription.clone();
        let Some(dialog) = dialogs.get_mut(&id) else {
            debug!(subscription = %id.0, "NOTIFY for a dialog we do not have");
            if !terminated {
                self.desk.send(DeskEvent::SubscriptionGone { id });
            }
            return;
        };
        dialog.cseq = dialog.cseq.saturating_add(1);
        let dialog = dialog.clone();
        if terminated {
            dialogs.remove(&id);
        }
        let local = self.local_for(&dialog);
        let transport = via_transport(dialog.transport);
        let Some(branch) = random_hex(10) else {
            return;
        };
        let head = format!(
            "NOTIFY {target} SIP/2.0\r\n\
             Via: SIP/2.0/{transport} {local};branch=z9hG4bK{branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: {from}\r\n\
             To: {to}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} NOTIFY\r\n\
             Contact: <{contact}>\r\n\
             Event: {event}\r\n\
             Subscription-State: {state}\r\n\
             Content-Type: {content_type}\r\n\
             Content-Length: {length}\r\n\r\n",
            target = dialog.target,
            from = dialog.local,
            to = dialog.remote,
            call_id = dialog.call_id,
            cseq = dialog.cseq,
            contact = local_uri(&dialog.watched, local, dialog.transport),
            event = dialog.event,
            state = notify.state.header_value(),
            content_type = notify.content_type,
            length = notify.body.len(),
        );
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(notify.body.as_bytes());
        match send(&self.endpoint, bytes, dialog.destination, dialog.transport).await {
            Some(tx) => {
                jobs.spawn(async move {
                    let status = final_status(tx).await;
                    Done::Notify { id, status }
                });
            }
            None => {
                dialogs.remove(&id);
                self.desk.send(DeskEvent::SubscriptionGone { id });
            }
        }
    }
}

/// The Call-ID and tags of a request, which name a subscription with its Event id.
struct DialogIds {
    call_id: String,
    from_tag: String,
    to_tag: Option<String>,
}

impl DialogIds {
    fn read(request: &Request) -> Option<DialogIds> {
        let call_id = request.call_id_header().ok()?.value().to_owned();
        let from_tag = request.from_header().ok()?.tag().ok()??.to_string();
        let to_tag = request
            .to_header()
            .ok()?
            .tag()
            .ok()?
            .map(|tag| tag.to_string());
        Some(DialogIds {
            call_id,
            from_tag,
            to_tag,
        })
    }

    /// `call-id;from-tag;to-tag;event-id`.
    fn id(&self, event: &str, to_tag: &str) -> SubscriptionId {
        let event_id = event
            .split(';')
            .skip(1)
            .filter_map(|p| p.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("id"))
            .map(|(_, value)| value.trim())
            .unwrap_or("");
        SubscriptionId(format!(
            "{};{};{};{}",
            self.call_id, self.from_tag, to_tag, event_id
        ))
    }
}

/// The tag of a To/From value we made (`...;tag=abc`).
fn local_tag(value: &str) -> String {
    value
        .rsplit_once(";tag=")
        .map(|(_, tag)| tag.split(';').next().unwrap_or(tag).to_owned())
        .unwrap_or_default()
}

fn via_transport(transport: SignalTransport) -> &'static str {
    match transport {
        SignalTransport::Udp => "UDP",
        SignalTransport::Tcp => "TCP",
    }
}

/// `sip:{user}@{local}` (with `;transport=tcp` over TCP).
fn local_uri(user: &str, local: SocketAddr, transport: SignalTransport) -> String {
    match transport {
        SignalTransport::Udp => format!("sip:{user}@{local}"),
        SignalTransport::Tcp => format!("sip:{user}@{local};transport=tcp"),
    }
}

/// Hex of `bytes` random bytes (tags, branches, Call-IDs); `None` without OS randomness.
fn random_hex(bytes: usize) -> Option<String> {
    let mut random = vec![0u8; bytes];
    getrandom::fill(&mut random).ok()?;
    Some(random.iter().map(|b| format!("{b:02x}")).collect())
}

async fn reply(tx: &mut Transaction, status: StatusCode, headers: Vec<Header>) {
    if let Err(e) = tx.reply_with(status, headers, None).await {
        debug!(error = %e, "answer not sent");
    }
}

/// Starts a client transaction for `bytes` (a whole request) to `destination`; `None` when
/// the request does not parse or cannot be sent.
async fn send(
    endpoint: &EndpointInnerRef,
    bytes: Vec<u8>,
    destination: SocketAddr,
    transport: SignalTransport,
) -> Option<Transaction> {
    let request = match Request::try_from(bytes) {
        Ok(request) => request,
        Err(e) => {
            warn!(error = %e, "a request we built does not parse");
            return None;
        }
    };
    let key = TransactionKey::from_request(&request, TransactionRole::Client).ok()?;
    let mut tx = Transaction::new_client(key, request, endpoint.clone(), None);
    let mut address = SipAddr::from(destination);
    address.r#type = Some(match transport {
        SignalTransport::Udp => rsipstack::sip::Transport::Udp,
        SignalTransport::Tcp => rsipstack::sip::Transport::Tcp,
    });
    tx.destination = Some(address);
    match tx.send().await {
        Ok(()) => Some(tx),
        Err(e) => {
            info!(%destination, error = %e, "request not sent");
            None
        }
    }
}

/// The final answer of a client transaction (`None`: none came before it timed out).
async fn final_status(mut tx: Transaction) -> Option<StatusCode> {
    while let Some(message) = tx.receive().await {
        if let SipMessage::Response(response) = message
            && response.status_code.kind() != StatusCodeKind::Provisional
        {
            return Some(response.status_code);
        }
    }
    None
}

/// A MESSAGE from staff: keep it (durably), answer, deliver.
async fn receive_message(
    postman: Postman,
    location: Arc<dyn Location>,
    mut tx: Transaction,
    from: String,
) -> Done {
    let request = &tx.original;
    let incoming = IncomingMessage {
        from: Some(from),
        to: request
            .uri
            .auth
            .as_ref()
            .map(|a| a.user.clone())
            .unwrap_or_default(),
        content_type: request.headers.iter().find_map(|header| match header {
            Header::ContentType(value) => Some(value.value().to_owned()),
            _ => None,
        }),
        body: request.body.clone(),
        at: Timestamp::now(),
    };
    let (store, messages) = (postman.store.clone(), postman.messages.clone());
    let received =
        tokio::task::spawn_blocking(move || messages.receive(&*store, &*location, incoming)).await;
    let received = match received {
        Ok(Ok(received)) => received,
        Ok(Err(e)) => {
            warn!(error = %e, "message not kept: 500");
            reply(&mut tx, StatusCode::ServerInternalError, Vec::new()).await;
            return Done::Messages;
        }
        Err(e) => {
            warn!(error = %e, "message not kept: 500");
            reply(&mut tx, StatusCode::ServerInternalError, Vec::new()).await;
            return Done::Messages;
        }
    };
    match received {
        Received::Accepted {
            message,
            deliveries,
        } => {
            reply(&mut tx, StatusCode::Accepted, Vec::new()).await;
            info!(from = %message.message.from, to = %message.message.to, id = message.id, devices = deliveries.len(), "message kept");
            deliver_all(&postman, deliveries).await;
        }
        Received::UnknownNumber => unknown_number(&mut tx).await,
        Received::UnsupportedMediaType => {
            let accept = vec![Header::Accept("text/plain".into())];
            reply(&mut tx, StatusCode::UnsupportedMediaType, accept).await;
        }
        Received::TooLarge { max_bytes } => {
            debug!(max_bytes, "message too large");
            reply(&mut tx, StatusCode::RequestEntityTooLarge, Vec::new()).await;
        }
        Received::MailboxFull => {
            reply(&mut tx, StatusCode::TemporarilyUnavailable, Vec::new()).await;
        }
    }
    Done::Messages
}

/// A staff member registered: what waits for them goes to their devices.
async fn registered(postman: Postman, extension: String, bindings: Vec<Binding>) -> Done {
    let (store, messages) = (postman.store.clone(), postman.messages.clone());
    let deliveries = tokio::task::spawn_blocking(move || {
        messages.registered(&*store, &extension, &bindings, Timestamp::now())
    })
    .await;
    match deliveries {
        Ok(Ok(deliveries)) => deliver_all(&postman, deliveries).await,
        Ok(Err(e)) => warn!(error = %e, "cannot read the kept messages"),
        Err(e) => warn!(error = %e, "cannot read the kept messages"),
    }
    Done::Messages
}

/// Messages whose retry time has come.
async fn retry_due(postman: Postman, location: Arc<dyn Location>) -> Done {
    let (store, messages) = (postman.store.clone(), postman.messages.clone());
    let deliveries = tokio::task::spawn_blocking(move || {
        messages.retry_due(&*store, &*location, Timestamp::now())
    })
    .await;
    match deliveries {
        Ok(Ok(deliveries)) => deliver_all(&postman, deliveries).await,
        Ok(Err(e)) => warn!(error = %e, "cannot read the kept messages"),
        Err(e) => warn!(error = %e, "cannot read the kept messages"),
    }
    Done::Messages
}

async fn deliver_all(postman: &Postman, deliveries: Vec<Delivery>) {
    join_all(deliveries.into_iter().map(|d| deliver(postman, d))).await;
}

/// One MESSAGE to one device, then the bookkeeping of its answer.
async fn deliver(postman: &Postman, delivery: Delivery) {
    let binding = &delivery.binding;
    let local = reachable_local(postman.listen, binding.source);
    let (Some(tag), Some(call_id), Some(branch)) = (random_hex(8), random_hex(12), random_hex(10))
    else {
        return;
    };
    let message = &delivery.message.message;
    let head = format!(
        "MESSAGE {target} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{from}@{local}>;tag={tag}\r\n\
         To: <sip:{to}@{local}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 MESSAGE\r\n\
         Content-Type: {content_type}\r\n\
         Content-Length: {length}\r\n\r\n",
        target = binding.contact,
        transport = via_transport(binding.transport),
        from = message.from,
        to = message.to,
        content_type = message.content_type,
        length = message.body.len(),
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(message.body.as_bytes());
    let status = match send(&postman.endpoint, bytes, binding.source, binding.transport).await {
        Some(tx) => final_status(tx).await,
        None => None,
    };
    let taken = status
        .as_ref()
        .is_some_and(|s| s.kind() == StatusCodeKind::Successful);
    let (store, messages) = (postman.store.clone(), postman.messages.clone());
    let id = delivery.message.id;
    let contact = binding.contact.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let now = Timestamp::now();
        if taken {
            messages.delivered(&*store, &delivery).map(|_| None)
        } else {
            messages.delivery_failed(&*store, &delivery, now).map(Some)
        }
    })
    .await;
    match outcome {
        Ok(Ok(None)) => info!(id, %contact, "message delivered"),
        Ok(Ok(Some(AfterFailure::RetryAt(at)))) => {
            info!(id, %contact, status = ?status, retry_at = %at, "message not delivered: kept")
        }
        Ok(Ok(Some(AfterFailure::GaveUp))) => {
            warn!(id, %contact, "message not delivered after every attempt: dropped")
        }
        Ok(Ok(Some(AfterFailure::Gone))) => debug!(id, "message already taken"),
        Ok(Err(e)) => warn!(error = %e, "message bookkeeping"),
        Err(e) => warn!(error = %e, "message bookkeeping"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn subscriptions_are_named_by_their_dialog_and_event_id() {
        let ids = DialogIds {
            call_id: String::from("c1"),
            from_tag: String::from("a"),
            to_tag: None,
        };
        assert_eq!(ids.id("presence", "b").0, "c1;a;b;");
        assert_eq!(ids.id("dialog; id=7", "b").0, "c1;a;b;7");
        assert_eq!(local_tag("<sip:202@x>;tag=abc"), "abc");
        assert_eq!(local_tag("<sip:202@x>;tag=abc;other=1"), "abc");
    }
}
