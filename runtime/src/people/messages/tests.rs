//! Messages between staff: a transcript of store and forward (online, offline then
//! registering, failures and retries), the limits, and the sled mailbox across a reopen.

use std::collections::BTreeMap;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::people::SignalTransport;
use crate::store::{SledStore, StoreConfig};

/// The registrar, as far as messages ask it.
#[derive(Default)]
struct Phones(Mutex<BTreeMap<String, Vec<Binding>>>);

impl Phones {
    /// Registers a device until `until`; returns the extension's live bindings at `now`.
    fn register(
        &self,
        extension: &str,
        port: u16,
        now: Timestamp,
        until: Timestamp,
    ) -> Vec<Binding> {
        let binding = Binding {
            extension: extension.into(),
            contact: format!("sip:{extension}@192.0.2.7:{port}"),
            source: std::net::SocketAddr::from(([192, 0, 2, 7], port)),
            transport: SignalTransport::Udp,
            expires_at: until,
            user_agent: None,
        };
        let mut phones = self.0.lock().unwrap();
        let bindings = phones.entry(extension.into()).or_default();
        bindings.retain(|held| held.contact != binding.contact);
        bindings.push(binding);
        drop(phones);
        self.bindings(extension, now)
    }
}

impl Location for Phones {
    fn bindings(&self, extension: &str, now: Timestamp) -> Vec<Binding> {
        self.0
            .lock()
            .unwrap()
            .get(extension)
            .map(|bindings| {
                bindings
                    .iter()
                    .filter(|binding| binding.expires_at > now)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn staff() -> Messages {
    Messages::new(
        ["201", "202", "203"].map(String::from),
        MessageLimits::default(),
    )
}

fn at(seconds: i64) -> Timestamp {
    let start: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
    start
        .checked_add(SignedDuration::from_secs(seconds))
        .unwrap()
}

fn text(from: &str, to: &str, body: &str, seconds: i64) -> IncomingMessage {
    IncomingMessage {
        from: Some(from.into()),
        to: to.into(),
        content_type: Some("text/plain".into()),
        body: body.as_bytes().to_vec(),
        at: at(seconds),
    }
}

fn describe_deliveries(deliveries: &[Delivery]) -> String {
    if deliveries.is_empty() {
        return "no delivery".into();
    }
    deliveries
        .iter()
        .map(|delivery| {
            format!(
                "MESSAGE #{} {}→{} to {} via {} (attempt {}, retry at {}): {:?}",
                delivery.message.id,
                delivery.message.message.from,
                delivery.message.message.to,
                delivery.binding.contact,
                delivery.binding.source,
                delivery.message.attempts,
                delivery.message.next_attempt_at.strftime("%H:%M:%S"),
                delivery.message.message.body,
            )
        })
        .collect::<Vec<_>>()
        .join("\n< ")
}

fn describe_received(received: &Received) -> String {
    match received {
        Received::Accepted {
            message,
            deliveries,
        } => format!(
            "202 Accepted, kept as #{}\n< {}",
            message.id,
            describe_deliveries(deliveries)
        ),
        other => format!("{other:?}"),
    }
}

#[test]
fn messages_are_kept_until_a_device_takes_them() {
    let store = SledStore::temporary().unwrap();
    let phones = Phones::default();
    let messages = staff();
    let mut transcript = String::new();
    let mut log = |line: String| {
        transcript.push_str(&line);
        transcript.push('\n');
    };

    log("-- 202 is online with two devices --".into());
    phones.register("202", 5062, at(0), at(3600));
    phones.register("202", 5064, at(0), at(3600));
    let received = messages
        .receive(&store, &phones, text("201", "202", "Riunione alle 10?", 0))
        .unwrap();
    log("> MESSAGE 201→202 \"Riunione alle 10?\"".into());
    log(format!("< {}", describe_received(&received)));
    let Received::Accepted { deliveries, .. } = received else {
        panic!("not accepted");
    };
    log(format!(
        "> 200 from the first device: removed {}",
        messages.delivered(&store, &deliveries[0]).unwrap()
    ));
    log(format!(
        "> 200 from the second device: removed {}",
        messages.delivered(&store, &deliveries[1]).unwrap()
    ));
    log(format!(
        "= kept for 202: {}",
        store.staff_messages_for("202").unwrap().len()
    ));

    log("-- 203 is offline --".into());
    for (body, seconds) in [("Ciao", 10), ("Mi richiami", 20)] {
        let received = messages
            .receive(&store, &phones, text("201", "203", body, seconds))
            .unwrap();
        log(format!("> MESSAGE 201→203 {body:?}"));
        log(format!("< {}", describe_received(&received)));
    }
    log(format!(
        "> retry timer at 09:05:00: {}",
        describe_deliveries(&messages.retry_due(&store, &phones, at(300)).unwrap())
    ));
    let bindings = phones.register("203", 5070, at(300), at(3900));
    let deliveries = messages
        .registered(&store, "203", &bindings, at(300))
        .unwrap();
    log("> 203 registers at 09:05:00".into());
    log(format!("< {}", describe_deliveries(&deliveries)));
    log(format!(
        "> 200 for #{}: removed {}",
        deliveries[0].message.id,
        messages.delivered(&store, &deliveries[0]).unwrap()
    ));
    log(format!(
        "> 480 for #{}: {:?}",
        deliveries[1].message.id,
        messages
            .delivery_failed(&store, &deliveries[1], at(301))
            .unwrap()
    ));
    log(format!(
        "> retry timer at 09:05:20: {}",
        describe_deliveries(&messages.retry_due(&store, &phones, at(320)).unwrap())
    ));
    let next = messages.next_retry(&store).unwrap().unwrap();
    let deliveries = messages.retry_due(&store, &phones, next).unwrap();
    log(format!(
        "> retry timer at {}\n< {}",
        next.strftime("%H:%M:%S"),
        describe_deliveries(&deliveries)
    ));
    log(format!(
        "> no answer: {:?}",
        messages
            .delivery_failed(&store, &deliveries[0], at(400))
            .unwrap()
    ));
    log(format!(
        "> 203's registration lapses (10:05:00); retry timer at 10:06:40: {}",
        describe_deliveries(&messages.retry_due(&store, &phones, at(4000)).unwrap())
    ));
    let bindings = phones.register("203", 5072, at(4000), at(8000));
    let deliveries = messages
        .registered(&store, "203", &bindings, at(4000))
        .unwrap();
    log(format!(
        "> 203 registers again from another device\n< {}",
        describe_deliveries(&deliveries)
    ));
    log(format!(
        "> 200: removed {}",
        messages.delivered(&store, &deliveries[0]).unwrap()
    ));
    log(format!(
        "= kept: {}, next retry {:?}, store problems {:?}",
        store.staff_messages().unwrap().len(),
        messages.next_retry(&store).unwrap(),
        store.verify().unwrap()
    ));
    insta::assert_snapshot!(transcript);
}

#[test]
fn a_message_is_dropped_after_the_last_failed_attempt() {
    let store = SledStore::temporary().unwrap();
    let phones = Phones::default();
    let messages = Messages::new(
        ["201", "202"].map(String::from),
        MessageLimits {
            max_attempts: 3,
            ..MessageLimits::default()
        },
    );
    phones.register("202", 5062, at(0), at(100_000));
    let Received::Accepted { deliveries, .. } = messages
        .receive(&store, &phones, text("201", "202", "x", 0))
        .unwrap()
    else {
        panic!("not accepted");
    };
    let mut delivery = deliveries[0].clone();
    let mut waits = Vec::new();
    let mut now = at(0);
    loop {
        match messages.delivery_failed(&store, &delivery, now).unwrap() {
            AfterFailure::RetryAt(retry_at) => {
                waits.push(retry_at.duration_since(now).as_secs());
                now = retry_at;
                let due = messages.retry_due(&store, &phones, now).unwrap();
                assert_eq!(due.len(), 1);
                delivery = due[0].clone();
            }
            AfterFailure::GaveUp => break,
            AfterFailure::Gone => panic!("gone"),
        }
    }
    assert_eq!(waits, [30, 60]);
    assert!(store.staff_messages().unwrap().is_empty());
    assert_eq!(
        messages.delivery_failed(&store, &delivery, now).unwrap(),
        AfterFailure::Gone
    );
    assert!(!messages.delivered(&store, &delivery).unwrap());
}

#[test]
fn strangers_and_odd_messages_are_refused() {
    let store = SledStore::temporary().unwrap();
    let phones = Phones::default();
    let messages = Messages::new(
        ["201", "202"].map(String::from),
        MessageLimits {
            per_mailbox: 3,
            ..MessageLimits::default()
        },
    );
    let receive = |incoming: IncomingMessage| messages.receive(&store, &phones, incoming).unwrap();

    // Unknown sender, unauthenticated sender, unknown recipient: one answer, whatever else is
    // wrong with the message (no hint that 202 exists and 299 does not).
    let mut unauthenticated = text("201", "202", "hi", 0);
    unauthenticated.from = None;
    let mut stranger_html = text("999", "202", "<b>hi</b>", 0);
    stranger_html.content_type = Some("text/html".into());
    for incoming in [
        text("999", "202", "hi", 0),
        unauthenticated,
        text("201", "299", "hi", 0),
        stranger_html,
        text("201", "299", &"x".repeat(5000), 0),
    ] {
        assert_eq!(receive(incoming), Received::UnknownNumber);
    }

    for content_type in [
        None,
        Some("text/html"),
        Some("application/im-iscomposing+xml"),
        Some("text/plain;charset=ISO-8859-1"),
        Some("text/plainx"),
    ] {
        let mut incoming = text("201", "202", "hi", 0);
        incoming.content_type = content_type.map(String::from);
        assert_eq!(
            receive(incoming),
            Received::UnsupportedMediaType,
            "{content_type:?}"
        );
    }
    let mut latin1 = text("201", "202", "", 0);
    latin1.body = vec![b'c', b'a', 0xe8];
    assert_eq!(receive(latin1), Received::UnsupportedMediaType);

    assert_eq!(
        receive(text("201", "202", &"x".repeat(1301), 0)),
        Received::TooLarge { max_bytes: 1300 }
    );
    for content_type in [
        "TEXT/PLAIN",
        "text/plain; charset=\"utf-8\"",
        "text/plain;format=flowed",
    ] {
        let mut incoming = text("201", "202", &"è".repeat(650), 0);
        incoming.content_type = Some(content_type.into());
        match receive(incoming) {
            Received::Accepted { message, .. } => {
                assert_eq!(message.message.content_type, TEXT_PLAIN);
            }
            other => panic!("{content_type}: {other:?}"),
        }
    }
    // The mailbox holds three: the fourth is refused, and 201's own mailbox is separate.
    assert_eq!(store.staff_messages_for("202").unwrap().len(), 3);
    assert_eq!(
        receive(text("201", "202", "one more", 0)),
        Received::MailboxFull
    );
    assert!(matches!(
        receive(text("202", "201", "reply", 0)),
        Received::Accepted { .. }
    ));
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn the_mailbox_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let phones = Phones::default();
    let messages = staff();
    let first_id = {
        let store = SledStore::open(dir.path(), StoreConfig::default()).unwrap();
        for body in ["uno", "due"] {
            assert!(matches!(
                messages
                    .receive(&store, &phones, text("201", "202", body, 0))
                    .unwrap(),
                Received::Accepted { .. }
            ));
        }
        store.staff_messages_for("202").unwrap()[0].id
    };
    let store = SledStore::open(dir.path(), StoreConfig::default()).unwrap();
    let kept = store.staff_messages_for("202").unwrap();
    let bodies: Vec<&str> = kept
        .iter()
        .map(|message| message.message.body.as_str())
        .collect();
    assert_eq!(bodies, ["uno", "due"]);
    assert!(store.verify().unwrap().is_empty());

    let bindings = phones.register("202", 5062, at(0), at(3600));
    let deliveries = messages
        .registered(&store, "202", &bindings, at(10))
        .unwrap();
    assert_eq!(deliveries.len(), 2);
    assert!(messages.delivered(&store, &deliveries[0]).unwrap());
    drop(store);

    let store = SledStore::open(dir.path(), StoreConfig::default()).unwrap();
    let kept = store.staff_messages().unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].message.body, "due");
    assert_eq!(kept[0].attempts, 1);
    // Numbers are never given out twice.
    let Received::Accepted { message, .. } = messages
        .receive(&store, &phones, text("203", "202", "tre", 20))
        .unwrap()
    else {
        panic!("not accepted");
    };
    assert_eq!(message.id, first_id + 2);
    assert!(store.verify().unwrap().is_empty());
}
