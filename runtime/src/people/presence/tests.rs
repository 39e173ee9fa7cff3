//! Presence and subscription transcripts: events in (`>`), changes and NOTIFYs out (`<`), as
//! insta snapshots; the NOTIFY bodies in full in their own snapshots.

use jiff::{SignedDuration, Timestamp};

use super::body::{dialog_info, escape, pidf};
use super::*;
use crate::engine::Presence as _;

const DOMAIN: &str = "comune.example";

/// A presence, its subscriptions and a clock, writing down everything that happens.
struct Office {
    presence: Presence,
    subscriptions: Subscriptions,
    now: Timestamp,
    transcript: String,
}

impl Office {
    fn new() -> Office {
        Office {
            presence: Presence::new(["201", "202", "203"].map(String::from)),
            subscriptions: Subscriptions::new(DOMAIN, SubscriptionLimits::default()),
            now: "2026-03-02T09:00:00Z".parse().unwrap(),
            transcript: String::new(),
        }
    }

    fn advance(&mut self, seconds: i64) {
        self.now = self
            .now
            .checked_add(SignedDuration::from_secs(seconds))
            .unwrap();
        self.transcript
            .push_str(&format!("-- {} --\n", self.now.strftime("%H:%M:%S")));
    }

    fn later(&self, seconds: i64) -> Timestamp {
        self.now
            .checked_add(SignedDuration::from_secs(seconds))
            .unwrap()
    }

    fn apply(&mut self, label: &str, event: PresenceEvent) {
        self.transcript.push_str(&format!("> {label}\n"));
        let changes = self.presence.apply(event);
        self.show(changes);
    }

    fn show(&mut self, changes: Vec<Change>) {
        for change in &changes {
            let line = match change {
                Change::Status(PresenceChanged {
                    extension,
                    from,
                    to,
                }) => format!("{extension}: {} -> {}", from.label(), to.label()),
                Change::Dialogs(DialogsChanged { extension, ended }) => {
                    let ended: Vec<&str> = ended.iter().map(|d| d.call_id.as_str()).collect();
                    format!("{extension}: calls changed, ended {ended:?}")
                }
            };
            self.transcript.push_str(&format!("< {line}\n"));
        }
        let notifies = self
            .subscriptions
            .changed(&changes, &self.presence, self.now);
        self.show_notifies(&notifies);
    }

    fn show_notifies(&mut self, notifies: &[Notify]) {
        for notify in notifies {
            self.transcript
                .push_str(&format!("< {}\n", describe(notify)));
        }
    }

    fn register(&mut self, extension: &str, seconds: i64) {
        let event = PresenceEvent::Bindings {
            extension: extension.into(),
            expires: vec![self.later(seconds)],
            at: self.now,
        };
        self.apply(&format!("{extension} registers for {seconds} s"), event);
    }

    fn unregister(&mut self, extension: &str) {
        let event = PresenceEvent::Bindings {
            extension: extension.into(),
            expires: Vec::new(),
            at: self.now,
        };
        self.apply(&format!("{extension} unregisters"), event);
    }

    fn call(&mut self, extension: &str, call_id: &str, direction: Direction, state: CallState) {
        let event = PresenceEvent::Call {
            extension: extension.into(),
            call_id: call_id.into(),
            direction,
            state,
            at: self.now,
        };
        self.apply(
            &format!(
                "{extension} call {call_id} ({direction:?}): {}",
                state.as_str()
            ),
            event,
        );
    }

    fn dial(&mut self, extension: &str, user: &str) {
        self.transcript
            .push_str(&format!("> {extension} dials {user}\n"));
        match dialled(user) {
            Dialled::StarCode(code) => {
                self.transcript.push_str(&format!("< star code {code:?}\n"));
                let changes = self.presence.apply(code.event(extension, self.now));
                self.show(changes);
            }
            other => self.transcript.push_str(&format!("< {other:?}\n")),
        }
    }

    fn expire(&mut self) {
        self.transcript.push_str("> expiry timer\n");
        let changes = self.presence.expire(self.now);
        self.show(changes);
        let notifies = self.subscriptions.expire(self.now, &self.presence);
        self.show_notifies(&notifies);
    }

    fn subscribe(
        &mut self,
        id: &str,
        subscriber: &str,
        watched: &str,
        package: EventPackage,
        expires: Option<u32>,
    ) {
        self.transcript.push_str(&format!(
            "> SUBSCRIBE {id}: {subscriber} watches {watched} ({}), expires {expires:?}\n",
            package.name()
        ));
        let outcome = self.subscriptions.subscribe(
            SubscribeRequest {
                id: SubscriptionId(id.into()),
                subscriber: subscriber.into(),
                watched: watched.into(),
                package,
                expires,
                at: self.now,
            },
            &self.presence,
        );
        match outcome {
            SubscribeOutcome::Accepted { expires, notify } => {
                self.transcript
                    .push_str(&format!("< 200 OK, Expires: {expires}\n"));
                self.show_notifies(&[notify]);
            }
            SubscribeOutcome::Ended { notify } => {
                self.transcript.push_str("< 200 OK, Expires: 0\n");
                self.show_notifies(&[notify]);
            }
            other => self.transcript.push_str(&format!("< {other:?}\n")),
        }
    }

    fn status_line(&mut self) {
        let statuses: Vec<String> = self
            .presence
            .statuses()
            .iter()
            .map(|(extension, status)| format!("{extension} {}", status.label()))
            .collect();
        self.transcript
            .push_str(&format!("= {}\n", statuses.join(", ")));
    }
}

/// A NOTIFY in one line: subscription, state, and what its body says.
fn describe(notify: &Notify) -> String {
    let body = &notify.body;
    let summary = match notify.package {
        EventPackage::Presence => {
            let basic = between(body, "<basic>", "</basic>").unwrap_or("?");
            let activity = between(body, "<rpid:activities><rpid:", "/>").unwrap_or("-");
            let note = between(body, "<note>", "</note>").unwrap_or("?");
            format!("basic {basic}, activity {activity}, note {note:?}")
        }
        EventPackage::Dialog => {
            // The document's version, not the XML declaration's.
            let version = between(body, "\" version=\"", "\"").unwrap_or("?");
            let dialogs: Vec<String> = body
                .split("<dialog id=\"")
                .skip(1)
                .map(|dialog| {
                    format!(
                        "{} {}",
                        dialog.split('"').next().unwrap_or("?"),
                        between(dialog, "<state>", "</state>").unwrap_or("?")
                    )
                })
                .collect();
            format!("version {version}, dialogs [{}]", dialogs.join(", "))
        }
    };
    format!(
        "NOTIFY {} Event: {}, Subscription-State: {}, {}: {summary}",
        notify.subscription.0,
        notify.package.name(),
        notify.state.header_value(),
        notify.content_type,
    )
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let rest = text.get(from..)?;
    rest.get(..rest.find(end)?)
}

#[test]
fn presence_follows_registration_calls_and_star_codes() {
    let mut office = Office::new();
    office.status_line();
    office.register("201", 300);
    office.status_line();
    office.call("201", "in-1", Direction::Incoming, CallState::Trying);
    office.call("201", "in-1", Direction::Incoming, CallState::Early);
    office.advance(5);
    office.call("201", "in-1", Direction::Incoming, CallState::Confirmed);
    office.status_line();
    office.advance(60);
    office.call("201", "in-1", Direction::Incoming, CallState::Terminated);
    office.status_line();

    office.transcript.push_str("-- two calls --\n");
    office.call("201", "in-2", Direction::Incoming, CallState::Confirmed);
    office.call("201", "in-3", Direction::Incoming, CallState::Early);
    office.call("201", "in-2", Direction::Incoming, CallState::Terminated);
    office.call("201", "in-3", Direction::Incoming, CallState::Confirmed);
    office.call("201", "in-3", Direction::Incoming, CallState::Terminated);
    office.call("201", "in-3", Direction::Incoming, CallState::Terminated);
    office.call("201", "out-1", Direction::Outgoing, CallState::Trying);
    office.call("201", "out-1", Direction::Outgoing, CallState::Terminated);

    office.transcript.push_str("-- do not disturb --\n");
    office.dial("201", "*21");
    office.status_line();
    office.advance(120);
    office.register("201", 300);
    office.status_line();
    office.call("201", "in-4", Direction::Incoming, CallState::Early);
    office.call("201", "in-4", Direction::Incoming, CallState::Terminated);
    office.dial("201", "%2a20");
    office.dial("201", "*2");
    office.dial("201", "*99");
    office.dial("201", "0755771");

    office.transcript.push_str("-- leaving --\n");
    office.register("202", 60);
    office.unregister("201");
    office.advance(59);
    office.expire();
    office.advance(1);
    office.expire();
    office.status_line();
    office.apply(
        "a stranger's registration (not staff)",
        PresenceEvent::Bindings {
            extension: "999".into(),
            expires: vec![office.later(60)],
            at: office.now,
        },
    );
    office.status_line();
    insta::assert_snapshot!(office.transcript);
}

#[test]
fn subscriptions_notify_on_subscribe_change_expiry_and_unsubscribe() {
    let mut office = Office::new();
    office.register("201", 3600);
    office.register("202", 3600);
    office.subscribe("sub-a", "202", "201", EventPackage::Presence, Some(600));
    office.subscribe("sub-b", "202", "201", EventPackage::Dialog, None);
    office.subscribe("sub-c", "203", "201", EventPackage::Dialog, Some(7200));
    office.subscribe("sub-d", "201", "202", EventPackage::Presence, Some(3600));
    office.subscribe("sub-x", "202", "999", EventPackage::Dialog, Some(600));
    office.subscribe("sub-y", "999", "201", EventPackage::Presence, Some(600));
    office.subscribe("sub-z", "202", "201", EventPackage::Presence, Some(30));

    office.advance(10);
    office.call("201", "in-1", Direction::Incoming, CallState::Early);
    office.call("201", "in-1", Direction::Incoming, CallState::Confirmed);
    office.call("201", "in-2", Direction::Incoming, CallState::Early);
    office.call("201", "in-2", Direction::Incoming, CallState::Terminated);
    office.call("201", "in-1", Direction::Incoming, CallState::Terminated);
    office.dial("201", "*21");

    office
        .transcript
        .push_str("-- refresh, then sub-a lapses --\n");
    office.advance(290);
    office.subscribe("sub-b", "202", "201", EventPackage::Dialog, Some(3600));
    office.advance(300);
    office.expire();
    office.dial("201", "*20");

    office
        .transcript
        .push_str("-- unsubscribe, and a fetch --\n");
    office.subscribe("sub-b", "202", "201", EventPackage::Dialog, Some(0));
    office.subscribe("fetch", "203", "201", EventPackage::Presence, Some(0));
    office.call("201", "in-3", Direction::Incoming, CallState::Early);

    office.transcript.push_str("-- 201 is no longer staff --\n");
    let removed = office.presence.set_staff(["202", "203"].map(String::from));
    office
        .transcript
        .push_str(&format!("> reload removes {removed:?}\n"));
    let notifies = office
        .subscriptions
        .staff_removed(&removed, &office.presence);
    office.show_notifies(&notifies);
    office.transcript.push_str(&format!(
        "= {} subscriptions left\n",
        office.subscriptions.len()
    ));
    insta::assert_snapshot!(office.transcript);
}

#[test]
fn a_subscriber_cannot_hold_more_than_its_share() {
    let mut presence = Presence::new(["201", "202"].map(String::from));
    let at: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
    presence.apply(PresenceEvent::Bindings {
        extension: "201".into(),
        expires: vec![at.checked_add(SignedDuration::from_secs(60)).unwrap()],
        at,
    });
    let limits = SubscriptionLimits {
        per_subscriber: 2,
        ..SubscriptionLimits::default()
    };
    let mut subscriptions = Subscriptions::new(DOMAIN, limits);
    let request = |id: &str| SubscribeRequest {
        id: SubscriptionId(id.into()),
        subscriber: "202".into(),
        watched: "201".into(),
        package: EventPackage::Dialog,
        expires: Some(600),
        at,
    };
    assert!(matches!(
        subscriptions.subscribe(request("1"), &presence),
        SubscribeOutcome::Accepted { .. }
    ));
    assert!(matches!(
        subscriptions.subscribe(request("2"), &presence),
        SubscribeOutcome::Accepted { .. }
    ));
    assert_eq!(
        subscriptions.subscribe(request("3"), &presence),
        SubscribeOutcome::TooMany
    );
    // A refresh of a held one is not a new one; its version keeps counting.
    match subscriptions.subscribe(request("2"), &presence) {
        SubscribeOutcome::Accepted { notify, .. } => {
            assert!(notify.body.contains("version=\"1\""), "{}", notify.body)
        }
        other => panic!("{other:?}"),
    }
    assert!(subscriptions.remove(&SubscriptionId("1".into())));
    assert!(!subscriptions.remove(&SubscriptionId("1".into())));
    assert!(matches!(
        subscriptions.subscribe(request("3"), &presence),
        SubscribeOutcome::Accepted { .. }
    ));
    assert_eq!(
        subscriptions.next_expiry(),
        at.checked_add(SignedDuration::from_secs(600)).ok()
    );
    assert_eq!(subscriptions.shut_down(&presence).len(), 2);
    assert!(subscriptions.is_empty());
}

#[test]
fn only_available_staff_are_present_to_the_engine() {
    let at: Timestamp = "2026-03-02T09:00:00Z".parse().unwrap();
    let until = at.checked_add(SignedDuration::from_secs(60)).unwrap();
    let mut presence = Presence::new(["201", "202", "203"].map(String::from));
    for extension in ["201", "202", "203"] {
        presence.apply(PresenceEvent::Bindings {
            extension: extension.into(),
            expires: vec![until],
            at,
        });
    }
    presence.apply(StarCode::Away.event("202", at));
    presence.apply(PresenceEvent::Call {
        extension: "203".into(),
        call_id: "c".into(),
        direction: Direction::Incoming,
        state: CallState::Early,
        at,
    });
    assert_eq!(presence.away_extensions(), ["202"]);
    assert!(presence.is_present("sip:201@comune.example"));
    assert!(!presence.is_present("sip:202@comune.example"));
    assert!(!presence.is_present("sip:203@comune.example"));
    assert!(!presence.is_present("sip:204@comune.example"));
    assert!(!presence.is_present("comune.example"));
    assert_eq!(presence.next_expiry(), Some(until));

    let shared = std::sync::Arc::new(std::sync::Mutex::new(presence));
    let engine_view: std::sync::Arc<dyn crate::engine::Presence> = shared.clone();
    assert!(engine_view.is_present("sip:201@comune.example"));
    shared
        .lock()
        .unwrap()
        .apply(StarCode::Away.event("201", at));
    assert!(!engine_view.is_present("sip:201@comune.example"));
}

#[test]
fn star_codes_are_read_from_the_request_uri_user() {
    assert_eq!(dialled("*21"), Dialled::StarCode(StarCode::Away));
    assert_eq!(dialled("*20"), Dialled::StarCode(StarCode::Back));
    assert_eq!(dialled("%2A21"), Dialled::StarCode(StarCode::Away));
    assert_eq!(dialled("*"), Dialled::IncompleteStarCode);
    assert_eq!(dialled("*2"), Dialled::IncompleteStarCode);
    assert_eq!(dialled("*210"), Dialled::UnknownStarCode);
    assert_eq!(dialled("*99"), Dialled::UnknownStarCode);
    assert_eq!(dialled("*2\u{e9}"), Dialled::UnknownStarCode);
    assert_eq!(dialled("%2"), Dialled::Number);
    assert_eq!(dialled("201"), Dialled::Number);
    assert_eq!(dialled(""), Dialled::Number);
    assert_eq!(dialled("2*21"), Dialled::Number);
}

#[test]
fn pidf_bodies() {
    let entity = "sip:201@comune.example";
    let bodies: Vec<String> = [
        Status::Available,
        Status::Ringing,
        Status::OnCall,
        Status::Away,
        Status::Offline,
    ]
    .into_iter()
    .map(|status| format!("== {}\n{}", status.label(), pidf(entity, "201", status)))
    .collect();
    insta::assert_snapshot!(bodies.join("\n"));
}

#[test]
fn dialog_info_bodies() {
    let entity = "sip:201@comune.example";
    let dialog = |call_id: &str, direction, state| Dialog {
        call_id: call_id.into(),
        direction,
        state,
    };
    let bodies = [
        ("idle", dialog_info(entity, 0, &[], &[])),
        (
            "ringing",
            dialog_info(
                entity,
                1,
                &[dialog("in-1", Direction::Incoming, CallState::Early)],
                &[],
            ),
        ),
        (
            "on a call, calling out on another line",
            dialog_info(
                entity,
                2,
                &[
                    dialog("in-1", Direction::Incoming, CallState::Confirmed),
                    dialog("out-1", Direction::Outgoing, CallState::Trying),
                ],
                &[],
            ),
        ),
        (
            "a call just ended",
            dialog_info(
                entity,
                3,
                &[],
                &[dialog("in-1", Direction::Incoming, CallState::Terminated)],
            ),
        ),
        (
            "a hostile Call-ID is escaped",
            dialog_info(
                "sip:201@a\"b",
                4,
                &[dialog(
                    "x\"><evil/>&\u{1}",
                    Direction::Incoming,
                    CallState::Early,
                )],
                &[],
            ),
        ),
    ];
    let text: Vec<String> = bodies
        .iter()
        .map(|(label, body)| format!("== {label}\n{body}"))
        .collect();
    insta::assert_snapshot!(text.join("\n"));
}

#[test]
fn escaping_leaves_plain_text_alone_and_drops_what_xml_cannot_carry() {
    assert_eq!(escape("Anna 201"), "Anna 201");
    assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
    assert_eq!(escape("a\u{0}b\u{1b}c\td"), "abc\td");
}

#[test]
fn a_reader_of_the_first_dialog_only_sees_the_overall_state() {
    use rsipstack::sip::event_packages::{parse_dialog_info, pidf_basic, pidf_note};
    let entity = "sip:201@comune.example";
    let dialog = |call_id: &str, state| Dialog {
        call_id: call_id.into(),
        direction: Direction::Incoming,
        state,
    };
    let read = |dialogs: &[Dialog], ended: &[Dialog]| {
        parse_dialog_info(dialog_info(entity, 0, dialogs, ended).as_bytes()).map(|info| info.state)
    };
    assert_eq!(read(&[], &[]).as_deref(), Some("idle"));
    assert_eq!(
        read(&[dialog("b", CallState::Early)], &[]).as_deref(),
        Some("early")
    );
    assert_eq!(
        read(
            &[dialog("b", CallState::Confirmed)],
            &[dialog("a", CallState::Terminated)]
        )
        .as_deref(),
        Some("confirmed")
    );
    assert_eq!(
        read(
            &[
                dialog("a", CallState::Early),
                dialog("b", CallState::Confirmed)
            ],
            &[]
        )
        .as_deref(),
        Some("confirmed")
    );
    assert_eq!(
        read(&[], &[dialog("a", CallState::Terminated)]).as_deref(),
        Some("idle")
    );
    let away = pidf(entity, "201", Status::Away);
    assert_eq!(pidf_basic(away.as_bytes()).as_deref(), Some("open"));
    assert_eq!(
        pidf_note(away.as_bytes()).as_deref(),
        Some("Do not disturb")
    );
    let offline = pidf(entity, "201", Status::Offline);
    assert_eq!(pidf_basic(offline.as_bytes()).as_deref(), Some("closed"));
}
