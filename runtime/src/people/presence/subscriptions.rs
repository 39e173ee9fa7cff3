//! Who watches whom: SUBSCRIBE/NOTIFY for the `presence` and `dialog` event packages
//! (RFC 6665), sans-IO. The SIP adapter hands in each SUBSCRIBE and presence's changes; this
//! answers with what to reply and the NOTIFYs to send.
//!
//! ```text
//!   SUBSCRIBE ──► subscribe(request, &presence) ──► SubscribeOutcome: 200 + initial NOTIFY,
//!                                                   200 + final NOTIFY (Expires: 0), 423, 404, 503
//!   Presence::apply ─► Vec<Change> ─► changed(&changes, &presence, now) ─► NOTIFYs (active)
//!   timer ──► expire(now, &presence) ──► final NOTIFYs (terminated;reason=timeout)
//!   NOTIFY answered 481 / timed out ──► remove(id)
//! ```
//!
//! A subscription is known by a [`SubscriptionId`] the adapter makes from the SUBSCRIBE's
//! dialog (Call-ID and tags) and its Event `id`; a SUBSCRIBE inside that dialog refreshes it.
//! Every dialog-info NOTIFY of a subscription carries the next `version` (0 first), as
//! RFC 4235 §4.1 asks. Both packages send full state every time.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::body::{DIALOG_INFO_CONTENT_TYPE, PIDF_CONTENT_TYPE, dialog_info, pidf};
use super::{Change, Dialog, Presence, Status};

/// The event packages a phone can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventPackage {
    /// `Event: presence`, bodies in PIDF: softphones' buddy lists.
    Presence,
    /// `Event: dialog`, bodies in dialog-info: desk phones' BLF keys.
    Dialog,
}

impl EventPackage {
    /// The package named by an Event header value (`presence`, `dialog;id=1`); `None` for any
    /// other (the adapter answers 489 Bad Event with `Allow-Events: presence, dialog`).
    pub fn from_event_header(value: &str) -> Option<EventPackage> {
        let name = value.split(';').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("presence") {
            Some(EventPackage::Presence)
        } else if name.eq_ignore_ascii_case("dialog") {
            Some(EventPackage::Dialog)
        } else {
            None
        }
    }

    /// The Event header value of its NOTIFYs.
    pub fn name(self) -> &'static str {
        match self {
            EventPackage::Presence => "presence",
            EventPackage::Dialog => "dialog",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            EventPackage::Presence => PIDF_CONTENT_TYPE,
            EventPackage::Dialog => DIALOG_INFO_CONTENT_TYPE,
        }
    }
}

/// One subscription, as the adapter names it: the SUBSCRIBE dialog and Event id, e.g.
/// `call-id;from-tag;to-tag;event-id`. Opaque here.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SubscriptionId(pub String);

/// A SUBSCRIBE from a staff phone whose sender the adapter has authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeRequest {
    pub id: SubscriptionId,
    /// The extension of the authenticated subscriber.
    pub subscriber: String,
    /// The extension in the Request-URI: whom they watch.
    pub watched: String,
    pub package: EventPackage,
    /// The Expires header in seconds; `None` when absent (the default applies); 0 unsubscribes.
    pub expires: Option<u32>,
    pub at: Timestamp,
}

/// How a subscription ended (the `reason` of `Subscription-State: terminated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminatedReason {
    /// It lapsed, or the subscriber ended it (Expires: 0).
    Timeout,
    /// The watched extension is no longer staff.
    NoResource,
    /// The server is stopping: the phone may subscribe again at once.
    Deactivated,
    /// The subscriber may no longer watch (no longer staff): it should not try again.
    Rejected,
}

/// The Subscription-State of a NOTIFY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SubscriptionState {
    Active { expires: u32 },
    Terminated { reason: TerminatedReason },
}

impl SubscriptionState {
    /// The header value: `active;expires=3599`, `terminated;reason=timeout`.
    pub fn header_value(&self) -> String {
        match self {
            SubscriptionState::Active { expires } => format!("active;expires={expires}"),
            SubscriptionState::Terminated { reason } => {
                let reason = match reason {
                    TerminatedReason::Timeout => "timeout",
                    TerminatedReason::NoResource => "noresource",
                    TerminatedReason::Deactivated => "deactivated",
                    TerminatedReason::Rejected => "rejected",
                };
                format!("terminated;reason={reason}")
            }
        }
    }
}

/// A NOTIFY to send inside the subscription's dialog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notify {
    pub subscription: SubscriptionId,
    /// The Event header ([`EventPackage::name`]).
    pub package: EventPackage,
    /// The Content-Type header.
    pub content_type: &'static str,
    pub body: String,
    /// The Subscription-State header ([`SubscriptionState::header_value`]).
    pub state: SubscriptionState,
}

/// What to answer a SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SubscribeOutcome {
    /// 200 OK with `Expires: {expires}`, then send `notify` (RFC 6665: at once).
    Accepted { expires: u32, notify: Notify },
    /// Expires 0 (an unsubscribe, or a one-time fetch): 200 OK with `Expires: 0`, then send
    /// `notify`, which is the last.
    Ended { notify: Notify },
    /// 423 Interval Too Brief with `Min-Expires: {min_expires}`.
    IntervalTooBrief { min_expires: u32 },
    /// The watched or the subscriber is not staff: answer exactly as an INVITE to a number that
    /// does not exist (404), so nobody learns which extensions are real.
    UnknownNumber,
    /// The subscriber, or the server, holds as many subscriptions as allowed:
    /// 503 Service Unavailable.
    TooMany,
}

/// Bounds on subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionLimits {
    /// Shorter Expires values are refused with 423.
    pub min_expires: u32,
    /// Longer ones are shortened to this.
    pub max_expires: u32,
    /// When a SUBSCRIBE has no Expires (RFC 6665 lets each package choose; 3600 is common).
    pub default_expires: u32,
    /// Per subscriber extension (a desk phone with a side car has ~100 BLF keys).
    pub per_subscriber: usize,
    pub total: usize,
}

impl Default for SubscriptionLimits {
    fn default() -> Self {
        SubscriptionLimits {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            per_subscriber: 200,
            total: 20_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Subscription {
    subscriber: String,
    watched: String,
    package: EventPackage,
    expires_at: Timestamp,
    /// The version of the next dialog-info document.
    version: u32,
}

/// Every live subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriptions {
    /// The host of the entity URIs in bodies: `sip:201@{domain}`.
    domain: String,
    limits: SubscriptionLimits,
    subscriptions: BTreeMap<SubscriptionId, Subscription>,
}

impl Subscriptions {
    pub fn new(domain: impl Into<String>, limits: SubscriptionLimits) -> Subscriptions {
        Subscriptions {
            domain: domain.into(),
            limits,
            subscriptions: BTreeMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.subscriptions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.subscriptions.is_empty()
    }

    /// A SUBSCRIBE, new or a refresh (same id), or an unsubscribe (Expires: 0).
    pub fn subscribe(
        &mut self,
        request: SubscribeRequest,
        presence: &Presence,
    ) -> SubscribeOutcome {
        if !presence.is_staff(&request.watched) || !presence.is_staff(&request.subscriber) {
            return SubscribeOutcome::UnknownNumber;
        }
        let asked = request.expires.unwrap_or(self.limits.default_expires);
        if asked == 0 {
            let mut subscription =
                self.subscriptions
                    .remove(&request.id)
                    .unwrap_or_else(|| Subscription {
                        subscriber: request.subscriber.clone(),
                        watched: request.watched.clone(),
                        package: request.package,
                        expires_at: request.at,
                        version: 0,
                    });
            let notify = self.notify(
                &request.id,
                &mut subscription,
                presence,
                SubscriptionState::Terminated {
                    reason: TerminatedReason::Timeout,
                },
                &[],
            );
            return SubscribeOutcome::Ended { notify };
        }
        if asked < self.limits.min_expires {
            return SubscribeOutcome::IntervalTooBrief {
                min_expires: self.limits.min_expires,
            };
        }
        let expires = asked.min(self.limits.max_expires);
        let previous = self.subscriptions.remove(&request.id);
        let held = self
            .subscriptions
            .values()
            .filter(|held| held.subscriber == request.subscriber)
            .count();
        if held >= self.limits.per_subscriber || self.subscriptions.len() >= self.limits.total {
            if let Some(previous) = previous {
                self.subscriptions.insert(request.id, previous);
            }
            return SubscribeOutcome::TooMany;
        }
        // A refresh keeps the version count; a changed watched or package starts over.
        let version = previous
            .filter(|previous| {
                previous.watched == request.watched && previous.package == request.package
            })
            .map_or(0, |previous| previous.version);
        let mut subscription = Subscription {
            subscriber: request.subscriber,
            watched: request.watched,
            package: request.package,
            expires_at: request
                .at
                .checked_add(SignedDuration::from_secs(i64::from(expires)))
                .unwrap_or(request.at),
            version,
        };
        let notify = self.notify(
            &request.id,
            &mut subscription,
            presence,
            SubscriptionState::Active { expires },
            &[],
        );
        self.subscriptions.insert(request.id, subscription);
        SubscribeOutcome::Accepted { expires, notify }
    }

    /// The NOTIFYs presence changes call for: status changes to `presence` subscribers,
    /// call changes to `dialog` subscribers of that extension.
    pub fn changed(
        &mut self,
        changes: &[Change],
        presence: &Presence,
        now: Timestamp,
    ) -> Vec<Notify> {
        let mut notifies = Vec::new();
        for change in changes {
            let (extension, package, ended): (&str, EventPackage, &[Dialog]) = match change {
                Change::Status(changed) => (&changed.extension, EventPackage::Presence, &[]),
                Change::Dialogs(changed) => {
                    (&changed.extension, EventPackage::Dialog, &changed.ended)
                }
            };
            let ids: Vec<SubscriptionId> = self
                .subscriptions
                .iter()
                .filter(|(_, subscription)| {
                    subscription.watched == extension
                        && subscription.package == package
                        && subscription.expires_at > now
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in ids {
                let Some(mut subscription) = self.subscriptions.remove(&id) else {
                    continue;
                };
                let expires = seconds_until(now, subscription.expires_at);
                notifies.push(self.notify(
                    &id,
                    &mut subscription,
                    presence,
                    SubscriptionState::Active { expires },
                    ended,
                ));
                self.subscriptions.insert(id, subscription);
            }
        }
        notifies
    }

    /// Ends the subscriptions lapsed at `now`, each with a final NOTIFY.
    pub fn expire(&mut self, now: Timestamp, presence: &Presence) -> Vec<Notify> {
        self.end_where(presence, TerminatedReason::Timeout, |subscription| {
            subscription.expires_at <= now
        })
    }

    /// When the next subscription lapses: call [`Subscriptions::expire`] then.
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.subscriptions
            .values()
            .map(|subscription| subscription.expires_at)
            .min()
    }

    /// After a reload removed staff ([`Presence::set_staff`]): their watchers are told
    /// (`noresource`), and their own subscriptions end (`rejected`: not staff, they may not
    /// subscribe again).
    pub fn staff_removed(&mut self, removed: &[String], presence: &Presence) -> Vec<Notify> {
        let mut notifies = self.end_where(presence, TerminatedReason::NoResource, |subscription| {
            removed.contains(&subscription.watched)
        });
        notifies.extend(
            self.end_where(presence, TerminatedReason::Rejected, |subscription| {
                removed.contains(&subscription.subscriber)
            }),
        );
        notifies
    }

    /// The server is stopping: every subscription ends with `deactivated`, so phones subscribe
    /// again when it is back.
    pub fn shut_down(&mut self, presence: &Presence) -> Vec<Notify> {
        self.end_where(presence, TerminatedReason::Deactivated, |_| true)
    }

    /// Forgets a subscription without a NOTIFY: its NOTIFY was answered 481 (the phone no
    /// longer has it) or timed out. Returns whether it was there.
    pub fn remove(&mut self, id: &SubscriptionId) -> bool {
        self.subscriptions.remove(id).is_some()
    }

    fn end_where(
        &mut self,
        presence: &Presence,
        reason: TerminatedReason,
        ends: impl Fn(&Subscription) -> bool,
    ) -> Vec<Notify> {
        let ids: Vec<SubscriptionId> = self
            .subscriptions
            .iter()
            .filter(|(_, subscription)| ends(subscription))
            .map(|(id, _)| id.clone())
            .collect();
        let mut notifies = Vec::new();
        for id in ids {
            if let Some(mut subscription) = self.subscriptions.remove(&id) {
                notifies.push(self.notify(
                    &id,
                    &mut subscription,
                    presence,
                    SubscriptionState::Terminated { reason },
                    &[],
                ));
            }
        }
        notifies
    }

    fn notify(
        &self,
        id: &SubscriptionId,
        subscription: &mut Subscription,
        presence: &Presence,
        state: SubscriptionState,
        ended: &[Dialog],
    ) -> Notify {
        let entity = format!("sip:{}@{}", subscription.watched, self.domain);
        let body = match subscription.package {
            EventPackage::Presence => pidf(
                &entity,
                &subscription.watched,
                presence
                    .status(&subscription.watched)
                    .unwrap_or(Status::Offline),
            ),
            EventPackage::Dialog => {
                let version = subscription.version;
                subscription.version = subscription.version.wrapping_add(1);
                dialog_info(
                    &entity,
                    version,
                    &presence.dialogs(&subscription.watched),
                    ended,
                )
            }
        };
        Notify {
            subscription: id.clone(),
            package: subscription.package,
            content_type: subscription.package.content_type(),
            body,
            state,
        }
    }
}

/// Whole seconds from `now` to `until` (0 when past), for `Subscription-State: active;expires=`.
fn seconds_until(now: Timestamp, until: Timestamp) -> u32 {
    let seconds = until.duration_since(now).as_secs();
    u32::try_from(seconds.max(0)).unwrap_or(u32::MAX)
}
