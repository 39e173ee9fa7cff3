//! Messages between staff: SIP MESSAGE (RFC 3428), store and forward. Every message is kept
//! in the store first, then delivered to each registered device of the recipient; it leaves
//! the store only when a device has taken it (a 2xx). A recipient who is offline gets their
//! messages when they register again.
//!
//! ```text
//!   MESSAGE 201→202 ──► Messages::receive ──► Received::Accepted (202) + deliveries to make now
//!                                         └─► UnknownNumber (404) | 415 | 413 | MailboxFull (480)
//!   REGISTER of 202 ──► Messages::registered ──► deliveries of what waits for 202
//!   delivery answered 2xx ──► delivered (removed)     other / timeout ──► delivery_failed
//!   timer at next_retry ──► retry_due ──► deliveries again (with backoff, while registered)
//! ```
//!
//! The logic talks to the [`Store`] and the [`Location`] through their traits and is given the
//! time; the SIP adapter sends the MESSAGEs and reports their answers. Handing out a delivery
//! counts an attempt and sets when to retry, so a delivery whose answer is lost is retried too.
//! A message that reaches no device after [`MessageLimits::max_attempts`] failures is dropped.
//!
//! Only authenticated staff may send, and only to staff: anything else gets
//! [`Received::UnknownNumber`], which the adapter answers exactly like a call to a number that
//! does not exist, so MESSAGE cannot be used to find out which extensions are real.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{Binding, Location};
use crate::store::{Store, StoreError};

/// The one content type kept and forwarded (with its charset, as sent on).
pub const TEXT_PLAIN: &str = "text/plain;charset=UTF-8";

/// A message as it is about to be kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStaffMessage {
    /// The sender's extension.
    pub from: String,
    /// The recipient's extension: whose mailbox keeps it.
    pub to: String,
    pub content_type: String,
    pub body: String,
    pub received_at: Timestamp,
}

/// A message kept for its recipient until a device of theirs takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMessage {
    pub schema: u32,
    /// Unique in the store, increasing: the order messages arrived.
    pub id: u64,
    #[serde(flatten)]
    pub message: NewStaffMessage,
    /// Deliveries handed out so far.
    pub attempts: u32,
    /// When to try again if no device has taken it by then.
    pub next_attempt_at: Timestamp,
}

/// Bounds on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    /// The most body bytes one message may carry: 1300 keeps a MESSAGE within one UDP datagram
    /// under a 1500-byte MTU, as RFC 3428 §8 asks.
    pub max_body_bytes: usize,
    /// The most messages kept for one recipient.
    pub per_mailbox: usize,
    /// Wait before the first retry; doubled for each further attempt, up to `max_retry_after`.
    pub retry_after: SignedDuration,
    pub max_retry_after: SignedDuration,
    /// Failed deliveries after which a message is dropped.
    pub max_attempts: u32,
}

impl Default for MessageLimits {
    fn default() -> Self {
        MessageLimits {
            max_body_bytes: 1300,
            per_mailbox: 100,
            retry_after: SignedDuration::from_secs(30),
            max_retry_after: SignedDuration::from_secs(3600),
            max_attempts: 20,
        }
    }
}

/// A MESSAGE as the adapter received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    /// The extension the sender authenticated as; `None` when they did not.
    pub from: Option<String>,
    /// The user part of the Request-URI.
    pub to: String,
    /// The Content-Type header, if any.
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub at: Timestamp,
}

/// What to answer a MESSAGE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Kept: answer 202 Accepted, then make these deliveries (none when the recipient is
    /// offline: they come with [`Messages::registered`]).
    Accepted {
        message: StaffMessage,
        deliveries: Vec<Delivery>,
    },
    /// The sender is not authenticated staff, or the recipient is not staff: answer exactly as
    /// to a call for a number that does not exist (404, same reason phrase and headers).
    UnknownNumber,
    /// Not `text/plain` in UTF-8: 415 Unsupported Media Type with `Accept: text/plain`.
    UnsupportedMediaType,
    /// 413 Request Entity Too Large.
    TooLarge { max_bytes: usize },
    /// The recipient's mailbox is full: 480 Temporarily Unavailable.
    MailboxFull,
}

/// A MESSAGE the adapter must send: `message` to the device of `binding` (its Contact, through
/// the address and transport its REGISTER came from), From `sip:{from}@domain`, To
/// `sip:{to}@domain`, Content-Type and body from the message. Report the answer with
/// [`Messages::delivered`] (2xx) or [`Messages::delivery_failed`] (anything else, or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub binding: Binding,
    pub message: StaffMessage,
}

/// What happens to a message after a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Tried again at this time if still registered, or when they register again.
    RetryAt(Timestamp),
    /// Too many failures: dropped (log it).
    GaveUp,
    /// Another device took it meanwhile, or it was dropped: nothing to do.
    Gone,
}

/// The messages service: who is staff, and the limits. The messages themselves live in the
/// store, so any number of adapters may share one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Messages {
    staff: BTreeSet<String>,
    limits: MessageLimits,
}

impl Messages {
    pub fn new(staff: impl IntoIterator<Item = String>, limits: MessageLimits) -> Messages {
        Messages {
            staff: staff.into_iter().collect(),
            limits,
        }
    }

    /// After a reload. Messages kept for removed staff stay in the store until they are staff
    /// again (nothing is delivered to them meanwhile).
    pub fn set_staff(&mut self, staff: impl IntoIterator<Item = String>) {
        self.staff = staff.into_iter().collect();
    }

    pub fn limits(&self) -> MessageLimits {
        self.limits
    }

    /// A MESSAGE from a staff phone: checks it, keeps it (durably) and returns the deliveries
    /// to the recipient's live devices.
    pub fn receive(
        &self,
        store: &dyn Store,
        location: &dyn Location,
        incoming: IncomingMessage,
    ) -> Result<Received, StoreError> {
        let known_sender = incoming
            .from
            .as_ref()
            .is_some_and(|from| self.staff.contains(from));
        if !known_sender || !self.staff.contains(&incoming.to) {
            return Ok(Received::UnknownNumber);
        }
        if !incoming.content_type.as_deref().is_some_and(is_plain_text) {
            return Ok(Received::UnsupportedMediaType);
        }
        if incoming.body.len() > self.limits.max_body_bytes {
            return Ok(Received::TooLarge {
                max_bytes: self.limits.max_body_bytes,
            });
        }
        let Ok(body) = String::from_utf8(incoming.body) else {
            return Ok(Received::UnsupportedMediaType);
        };
        let new = NewStaffMessage {
            from: incoming.from.unwrap_or_default(),
            to: incoming.to,
            content_type: TEXT_PLAIN.to_string(),
            body,
            received_at: incoming.at,
        };
        let Some(message) = store.keep_staff_message(new, self.limits.per_mailbox)? else {
            return Ok(Received::MailboxFull);
        };
        let bindings = location.bindings(&message.message.to, incoming.at);
        let deliveries = self.issue(store, vec![message.clone()], &bindings, incoming.at)?;
        // The message as kept, with the attempt just counted when there was a device.
        let message = deliveries
            .first()
            .map_or(message, |delivery| delivery.message.clone());
        Ok(Received::Accepted {
            message,
            deliveries,
        })
    }

    /// A staff member registered (a new device, or one back): every message waiting for them,
    /// to each of their live devices, whatever its retry time.
    pub fn registered(
        &self,
        store: &dyn Store,
        extension: &str,
        bindings: &[Binding],
        now: Timestamp,
    ) -> Result<Vec<Delivery>, StoreError> {
        if !self.staff.contains(extension) {
            return Ok(Vec::new());
        }
        let waiting = store.staff_messages_for(extension)?;
        self.issue(store, waiting, bindings, now)
    }

    /// Messages whose retry time has come, to registered recipients.
    pub fn retry_due(
        &self,
        store: &dyn Store,
        location: &dyn Location,
        now: Timestamp,
    ) -> Result<Vec<Delivery>, StoreError> {
        let due: Vec<StaffMessage> = store
            .staff_messages()?
            .into_iter()
            .filter(|message| {
                message.next_attempt_at <= now && self.staff.contains(&message.message.to)
            })
            .collect();
        let mut deliveries = Vec::new();
        let mut start = 0;
        // Messages come grouped by recipient: one location look-up per recipient.
        while let Some(first) = due.get(start) {
            let recipient = first.message.to.clone();
            let end = due
                .iter()
                .skip(start)
                .position(|message| message.message.to != recipient)
                .map_or(due.len(), |offset| start + offset);
            let group = due.get(start..end).unwrap_or_default().to_vec();
            let bindings = location.bindings(&recipient, now);
            deliveries.extend(self.issue(store, group, &bindings, now)?);
            start = end;
        }
        Ok(deliveries)
    }

    /// When [`Messages::retry_due`] has something to do next (some of it may be for people
    /// who are offline then; they get theirs when they register).
    pub fn next_retry(&self, store: &dyn Store) -> Result<Option<Timestamp>, StoreError> {
        Ok(store
            .staff_messages()?
            .iter()
            .filter(|message| self.staff.contains(&message.message.to))
            .map(|message| message.next_attempt_at)
            .min())
    }

    /// A device answered the delivery with 2xx: the message is done. Returns false when it
    /// was already gone (another device took it first).
    pub fn delivered(&self, store: &dyn Store, delivery: &Delivery) -> Result<bool, StoreError> {
        store.remove_staff_message(&delivery.message.message.to, delivery.message.id)
    }

    /// A device answered the delivery with an error, or not at all.
    pub fn delivery_failed(
        &self,
        store: &dyn Store,
        delivery: &Delivery,
        now: Timestamp,
    ) -> Result<AfterFailure, StoreError> {
        let to = &delivery.message.message.to;
        let Some(mut message) = store
            .staff_messages_for(to)?
            .into_iter()
            .find(|message| message.id == delivery.message.id)
        else {
            return Ok(AfterFailure::Gone);
        };
        if message.attempts >= self.limits.max_attempts {
            return Ok(if store.remove_staff_message(to, message.id)? {
                AfterFailure::GaveUp
            } else {
                AfterFailure::Gone
            });
        }
        let retry_at = self.retry_time(message.attempts, now);
        message.next_attempt_at = message.next_attempt_at.max(retry_at);
        Ok(if store.update_staff_message(&message)? {
            AfterFailure::RetryAt(message.next_attempt_at)
        } else {
            AfterFailure::Gone
        })
    }

    /// Hands out one delivery per message and device, counting an attempt for each message and
    /// setting when to retry. Nothing for a recipient with no device.
    fn issue(
        &self,
        store: &dyn Store,
        messages: Vec<StaffMessage>,
        bindings: &[Binding],
        now: Timestamp,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut deliveries = Vec::new();
        if bindings.is_empty() {
            return Ok(deliveries);
        }
        for mut message in messages {
            message.attempts = message.attempts.saturating_add(1);
            message.next_attempt_at = self.retry_time(message.attempts, now);
            if !store.update_staff_message(&message)? {
                continue;
            }
            for binding in bindings {
                deliveries.push(Delivery {
                    binding: binding.clone(),
                    message: message.clone(),
                });
            }
        }
        Ok(deliveries)
    }

    /// `now` plus the wait after `attempts` attempts: retry_after · 2^(attempts-1), capped.
    fn retry_time(&self, attempts: u32, now: Timestamp) -> Timestamp {
        let doublings = attempts.saturating_sub(1).min(20);
        let wait = self
            .limits
            .retry_after
            .checked_mul(1_i32 << doublings)
            .unwrap_or(self.limits.max_retry_after)
            .min(self.limits.max_retry_after);
        now.checked_add(wait).unwrap_or(now)
    }
}

/// `text/plain`, with no charset or a UTF-8 compatible one (RFC 3428 §9: UTF-8 by default).
fn is_plain_text(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let media_type = parts.next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("text/plain") {
        return false;
    }
    parts.all(|parameter| {
        let Some((name, value)) = parameter.split_once('=') else {
            return parameter.trim().is_empty();
        };
        if !name.trim().eq_ignore_ascii_case("charset") {
            return true;
        }
        let value = value.trim().trim_matches('"');
        value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("us-ascii")
    })
}

#[cfg(test)]
mod tests;
