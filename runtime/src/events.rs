//! Events out: what happened to tickets, callbacks and bookings, told to the city's other
//! systems as signed webhooks, in order, never lost across a restart.
//!
//! ```text
//!   Store::create_ticket / change_ticket / change_callback / book / cancel_booking
//!        │ one sled transaction: the record AND its event (outbox tree, next seq)
//!        ▼
//!   outbox: seq 1, 2, 3 ...  ◄──── events_after(cursor) ──── one task per subscription
//!                                                              │ POST JSON, signed (HMAC-SHA256)
//!   counters "outbox/delivered/NAME" ◄── cursor, durable ────── 2xx: next event
//!                                                              └ else: the same event again
//!                                                                after 1 s, 2 s, 4 s ... 5 min
//! ```
//!
//! The event is written in the same transaction as the change it tells of, so a change is
//! never kept without its event (nor an event without its change), whoever made it: a call,
//! the console, the API, the command line. Each subscription keeps how far it was delivered
//! (its cursor) in the store, advanced only after the receiver answered 2xx; a server killed
//! between the answer and the cursor's write sends that event again on restart, so receivers
//! dedupe by the event's `id` (unique, never reused). Events go out one at a time per
//! subscription in the order they were written: in order per ticket, and overall. A new
//! subscription starts with the events written after it first ran. Events every
//! subscription has received are removed from the outbox.
//!
//! A delivery is `POST` with the JSON body [`Delivery`] and the headers
//! `Centralino-Event-Id`, `Centralino-Event` and `Centralino-Signature: t=UNIX,v1=HEX`, where
//! HEX is the HMAC-SHA256, keyed by the subscription's secret, of `UNIX.` followed by the
//! body's bytes ([`signature`]).

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::store::{Booking, Callback, Store, StoreError, Ticket};
use crate::webhook::AllowList;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "ticket.created")]
    TicketCreated,
    #[serde(rename = "ticket.closed")]
    TicketClosed,
    #[serde(rename = "callback.reached")]
    CallbackReached,
    #[serde(rename = "callback.failed")]
    CallbackFailed,
    #[serde(rename = "booking.made")]
    BookingMade,
    #[serde(rename = "booking.cancelled")]
    BookingCancelled,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::TicketCreated,
        EventKind::TicketClosed,
        EventKind::CallbackReached,
        EventKind::CallbackFailed,
        EventKind::BookingMade,
        EventKind::BookingCancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::TicketCreated => "ticket.created",
            EventKind::TicketClosed => "ticket.closed",
            EventKind::CallbackReached => "callback.reached",
            EventKind::CallbackFailed => "callback.failed",
            EventKind::BookingMade => "booking.made",
            EventKind::BookingCancelled => "booking.cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// One event as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// Its place in the outbox (1, 2, 3 ...): the order of delivery.
    pub seq: u64,
    /// Unique and never reused (the store's own random name and the seq): receivers dedupe by it.
    pub id: String,
    pub kind: EventKind,
    pub at: Timestamp,
    /// The reference of the record it is about.
    pub subject: String,
    /// The record after the change, as the store keeps it.
    pub record: serde_json::Value,
}

/// Which events a change of a ticket tells of.
pub fn of_ticket_change(old: &Ticket, new: &Ticket) -> Option<EventKind> {
    use crate::store::Status;
    (old.status != Status::Closed && new.status == Status::Closed)
        .then_some(EventKind::TicketClosed)
}

/// Which events a change of a callback request tells of.
pub fn of_callback_change(old: &Callback, new: &Callback) -> Option<EventKind> {
    use crate::store::dialing::DialState;
    match (&old.dialing.state, &new.dialing.state) {
        (DialState::Reached, DialState::Reached)
        | (DialState::Failed { .. }, DialState::Failed { .. }) => None,
        (_, DialState::Reached) => Some(EventKind::CallbackReached),
        (_, DialState::Failed { .. }) => Some(EventKind::CallbackFailed),
        (_, DialState::Pending | DialState::Working { .. } | DialState::Closed { .. }) => None,
    }
}

/// A receiver of events, from `[[api.subscriptions]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Names its cursor in the store: renaming it starts it afresh.
    pub name: String,
    pub url: String,
    /// Keys the signature.
    pub secret: String,
    /// The kinds it wants; empty: all.
    pub events: Vec<EventKind>,
}

impl Subscription {
    fn wants(&self, kind: EventKind) -> bool {
        self.events.is_empty() || self.events.contains(&kind)
    }
}

/// The events' delivery, as `serve` configures it.
#[derive(Debug, Clone, Default)]
pub struct EventsConfig {
    pub subscriptions: Vec<Subscription>,
    /// The origins that may be called (`[webhooks] allow`).
    pub allow: AllowList,
}

/// The body of a delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// When the change was made.
    pub created_at: Timestamp,
    /// The reference of the ticket, callback request or booking.
    pub subject: String,
    /// The record after the change, as the API shows it (`GET /api/v1/tickets/{reference}`...).
    pub data: serde_json::Value,
}

impl Delivery {
    pub fn of(event: &OutboxEvent) -> Delivery {
        use crate::http::api::{
            bookings::BookingView, callbacks::CallbackView, tickets::TicketView,
        };
        let view = |value: &serde_json::Value| -> Option<serde_json::Value> {
            match event.kind {
                EventKind::TicketCreated | EventKind::TicketClosed => {
                    let ticket: Ticket = serde_json::from_value(value.clone()).ok()?;
                    serde_json::to_value(TicketView::from(&ticket)).ok()
                }
                EventKind::CallbackReached | EventKind::CallbackFailed => {
                    let callback: Callback = serde_json::from_value(value.clone()).ok()?;
                    serde_json::to_value(CallbackView::from(&callback)).ok()
                }
                EventKind::BookingMade | EventKind::BookingCancelled => {
                    let booking: Booking = serde_json::from_value(value.clone()).ok()?;
                    serde_json::to_value(BookingView::from(&booking)).ok()
                }
            }
        };
        Delivery {
            id: event.id.clone(),
            kind: event.kind,
            created_at: event.at,
            subject: event.subject.clone(),
            data: view(&event.record).unwrap_or_else(|| event.record.clone()),
        }
    }
}

/// `t=UNIX,v1=HEX`: HMAC-SHA256 keyed by `secret` of `UNIX.` and the body.
pub fn signature(secret: &str, unix: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this cannot happen.
        Err(_) => return String::new(),
    };
    mac.update(unix.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={unix},v1={hex}")
}

/// How long a receiver has to answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle subscription looks for new events.
const POLL: Duration = Duration::from_millis(200);
/// The first retry's wait; doubled each time up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often events every subscription has are removed.
const PRUNE_EVERY: Duration = Duration::from_secs(30);

/// The wait before retry number `failures` (1, 2, ...).
pub fn backoff(failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Why a delivery failed (the event is sent again later).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("{0}")]
    NotAllowed(crate::webhook::WebhookError),
    #[error("the receiver answered HTTP {0}")]
    Status(u16),
    #[error("the request failed: {0}")]
    Request(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Deliver the outbox to every subscription until `cancel`; the server owns this task.
pub async fn deliver(store: Arc<dyn Store>, config: EventsConfig, cancel: CancellationToken) {
    let _already = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(DELIVERY_TIMEOUT)
        .user_agent(concat!("centralino/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "events: the HTTP client cannot start; no event is delivered");
            return;
        }
    };
    let allow = Arc::new(config.allow);
    let mut tasks = JoinSet::new();
    for subscription in &config.subscriptions {
        tasks.spawn(subscriber(
            store.clone(),
            client.clone(),
            allow.clone(),
            subscription.clone(),
            cancel.child_token(),
        ));
    }
    let names: Vec<String> = config
        .subscriptions
        .iter()
        .map(|s| s.name.clone())
        .collect();
    loop {
        prune(store.clone(), names.clone()).await;
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Remove the events every subscription has (all of them when there is none).
async fn prune(store: Arc<dyn Store>, names: Vec<String>) {
    let pruned = tokio::task::spawn_blocking(move || -> Result<usize, StoreError> {
        let mut through = store.last_event()?;
        for name in &names {
            through = through.min(store.delivered_through(name)?.unwrap_or(0));
        }
        store.prune_events(through)
    })
    .await;
    match pruned {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::debug!(removed = n, "events: delivered events removed"),
        Ok(Err(e)) => tracing::warn!(error = %e, "events: pruning the outbox failed"),
        Err(e) => tracing::warn!(error = %e, "events: pruning the outbox failed"),
    }
}

async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    work: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || work(store.as_ref()))
        .await
        .map_err(|e| StoreError::Read(e.to_string()))?
}

/// One subscription: its events in order, each until the receiver takes it.
async fn subscriber(
    store: Arc<dyn Store>,
    client: reqwest::Client,
    allow: Arc<AllowList>,
    subscription: Subscription,
    cancel: CancellationToken,
) {
    let name = subscription.name.clone();
    let start = blocking(&store, move |store| {
        Ok(match store.delivered_through(&name)? {
            Some(cursor) => cursor,
            None => {
                let last = store.last_event()?;
                store.set_delivered_through(&name, last)?;
                last
            }
        })
    })
    .await;
    let mut cursor = match start {
        Ok(cursor) => cursor,
        Err(e) => {
            tracing::error!(subscription = %subscription.name, error = %e, "events: cannot read where delivery stands; this subscription is not served");
            return;
        }
    };
    let mut failures = 0u32;
    while !cancel.is_cancelled() {
        let after = cursor;
        let events = match blocking(&store, move |store| store.events_after(after, 32)).await {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(subscription = %subscription.name, error = %e, "events: cannot read the outbox");
                Vec::new()
            }
        };
        if events.is_empty() {
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(POLL) => continue,
            }
        }
        let mut skipped_to = None;
        let mut failed = false;
        for event in events {
            if !subscription.wants(event.kind) {
                skipped_to = Some(event.seq);
                continue;
            }
            let sent = tokio::select! {
                () = cancel.cancelled() => return,
                sent = send(&client, &allow, &subscription, &event) => sent,
            };
            match sent {
                Ok(()) => {
                    let (name, seq) = (subscription.name.clone(), event.seq);
                    if let Err(e) =
                        blocking(&store, move |store| store.set_delivered_through(&name, seq)).await
                    {
                        tracing::warn!(subscription = %subscription.name, error = %e, "events: the cursor was not saved; the event may be sent again");
                    }
                    cursor = event.seq;
                    skipped_to = None;
                    failures = 0;
                    tracing::info!(subscription = %subscription.name, id = %event.id, kind = event.kind.as_str(), subject = %event.subject, "event delivered");
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = backoff(failures);
                    tracing::warn!(subscription = %subscription.name, id = %event.id, error = %e, retry_in_s = wait.as_secs(), "event not delivered; it will be sent again");
                    failed = true;
                    if let Some(seq) = skipped_to.take() {
                        save_skipped(&store, &subscription.name, seq).await;
                        cursor = seq;
                    }
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(wait) => {}
                    }
                    break;
                }
            }
        }
        if !failed && let Some(seq) = skipped_to {
            save_skipped(&store, &subscription.name, seq).await;
            cursor = seq;
        }
    }
}

async fn save_skipped(store: &Arc<dyn Store>, name: &str, seq: u64) {
    let name = name.to_owned();
    if let Err(e) = blocking(store, move |store| store.set_delivered_through(&name, seq)).await {
        tracing::warn!(error = %e, "events: the cursor was not saved");
    }
}

async fn send(
    client: &reqwest::Client,
    allow: &AllowList,
    subscription: &Subscription,
    event: &OutboxEvent,
) -> Result<(), DeliveryError> {
    let url = allow
        .check(&subscription.url)
        .map_err(DeliveryError::NotAllowed)?;
    let body = serde_json::to_vec(&Delivery::of(event))
        .map_err(|e| DeliveryError::Request(e.to_string()))?;
    let unix = Timestamp::now().as_second();
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("centralino-event-id", &event.id)
        .header("centralino-event", event.kind.as_str())
        .header(
            "centralino-signature",
            signature(&subscription.secret, unix, &body),
        )
        .body(body)
        .send()
        .await
        .map_err(|e| DeliveryError::Request(e.without_url().to_string()))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(DeliveryError::Status(status.as_u16()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // Known answer, computed independently:
        // printf '1764925200.{"a":1}' | openssl dgst -sha256 -hmac secret
        let signed = signature("secret", 1_764_925_200, br#"{"a":1}"#);
        assert_eq!(
            signed,
            "t=1764925200,v1=36b01ea64770477453196370df8fa818dee539077c26493bfb409613b0f17167"
        );
        assert_ne!(signed, signature("other", 1_764_925_200, br#"{"a":1}"#));
        assert_ne!(signed, signature("secret", 1_764_925_201, br#"{"a":1}"#));
    }

    #[test]
    fn retries_back_off_up_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(20), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    /// A subscription that wants only closings skips the opening, receives the closing once,
    /// signed, and its cursor ends past both; the outbox is then pruned.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_subscription_receives_the_kinds_it_wants_once_in_order() {
        use crate::store::ticketing::{TicketAction, TicketChange};
        use crate::store::{NewTicket, SledStore};
        use std::sync::Mutex;

        let received: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let log = received.clone();
        let app = axum::Router::new().route(
            "/e",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let log = log.clone();
                async move {
                    let signature = headers["centralino-signature"].to_str().unwrap().to_owned();
                    log.lock().unwrap().push((signature, body));
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cancel = CancellationToken::new();
        let server_cancel = cancel.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(server_cancel.cancelled_owned())
                .await
        });

        let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
        let at: Timestamp = "2026-12-05T09:00:00Z".parse().unwrap();
        let ticket = store
            .create_ticket(NewTicket {
                category: "buche".into(),
                title: String::new(),
                office: None,
                priority: "normale".into(),
                fields: Default::default(),
                caller: String::new(),
                call_id: "api:x".into(),
                created_at: at,
                due_at: None,
            })
            .unwrap();
        let close = TicketChange {
            at,
            by: "api:x".into(),
            what: TicketAction::Close { note: None },
        };
        store
            .change_ticket(&ticket.reference, &close)
            .unwrap()
            .unwrap();
        // As if it had run before the ticket was opened.
        store.set_delivered_through("closings", 0).unwrap();
        let config = EventsConfig {
            subscriptions: vec![Subscription {
                name: "closings".into(),
                url: format!("http://{addr}/e"),
                secret: "s".repeat(32),
                events: vec![EventKind::TicketClosed],
            }],
            allow: AllowList::parse(&[format!("http://{addr}")]).unwrap(),
        };
        let task = tokio::spawn(deliver(store.clone(), config, cancel.child_token()));
        let started = std::time::Instant::now();
        while store.delivered_through("closings").unwrap() != Some(2) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "never delivered"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        cancel.cancel();
        task.await.unwrap();
        server.await.unwrap().unwrap();
        let received = received.lock().unwrap().clone();
        assert_eq!(received.len(), 1, "{received:?}");
        let (signature_header, body) = &received[0];
        let delivery: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(delivery["type"], "ticket.closed");
        assert_eq!(delivery["subject"], ticket.reference.as_str());
        assert_eq!(delivery["data"]["status"], "closed");
        let unix: i64 = signature_header
            .strip_prefix("t=")
            .and_then(|rest| rest.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            *signature_header,
            signature(&"s".repeat(32), unix, body.as_bytes())
        );
        // The prune at start ran before delivery; a later store pass removes both.
        assert_eq!(store.prune_events(2).unwrap(), 2);
    }

    #[test]
    fn kinds_are_named_as_written() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
    }
}
