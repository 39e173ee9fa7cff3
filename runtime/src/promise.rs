//! The city's promise to call back: how soon a callback asked for must be made, per office,
//! and when one is late. One rule for the console's callbacks page, the reports' late
//! callbacks and the API.
//!
//! ```text
//!   office anagrafe "Anagrafe" { ... callback 8h }     (flows: graph::Office::callback_ms)
//!   [callbacks] promise_h = 24                         (configuration: every other office)
//!        │ CallbackPromise::new(default, graph)
//!        ▼
//!   due(callback)  = asked for + the office's promise
//!   is_late(c, now): still open (not closed or cancelled) and
//!                      failed (the dialer gave up: it will not be kept), or
//!                      pending / being dialled at or past its due time
//!                    (reached or closed by staff: never late)
//! ```
//!
//! Sans-IO: the time is an argument.

use std::collections::BTreeMap;

use centralino_compiler::graph::Graph;
use jiff::{SignedDuration, Timestamp};

use crate::store::dialing::DialState;
use crate::store::{Callback, Status};

/// The promise of offices that name none, unless the configuration says otherwise.
pub const DEFAULT_PROMISE: SignedDuration = SignedDuration::from_hours(24);

/// How soon each office promises to call back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackPromise {
    default: SignedDuration,
    offices: BTreeMap<String, SignedDuration>,
}

impl Default for CallbackPromise {
    fn default() -> Self {
        CallbackPromise::uniform(DEFAULT_PROMISE)
    }
}

impl CallbackPromise {
    /// The same promise for every office.
    pub fn uniform(within: SignedDuration) -> CallbackPromise {
        CallbackPromise {
            default: within,
            offices: BTreeMap::new(),
        }
    }

    /// The offices' own promises (`callback 8h` in the flows), `default` for the others.
    pub fn new(default: SignedDuration, graph: &Graph) -> CallbackPromise {
        let offices = graph
            .offices
            .iter()
            .filter_map(|(name, office)| {
                let millis = i64::try_from(office.callback_ms?).ok()?;
                Some((name.clone(), SignedDuration::from_millis(millis)))
            })
            .collect();
        CallbackPromise { default, offices }
    }

    /// The promise of offices that name none.
    pub fn default_within(&self) -> SignedDuration {
        self.default
    }

    /// How soon `office` promises to call back.
    pub fn within(&self, office: &str) -> SignedDuration {
        self.offices.get(office).copied().unwrap_or(self.default)
    }

    /// When `callback` is due: asked for + its office's promise.
    pub fn due(&self, callback: &Callback) -> Timestamp {
        let asked = callback.request.created_at;
        asked
            .checked_add(self.within(&callback.request.office))
            .unwrap_or(Timestamp::MAX)
    }

    /// Whether `callback` is late at `now` (see the module's rule).
    pub fn is_late(&self, callback: &Callback, now: Timestamp) -> bool {
        if callback.status != Status::Open {
            return false;
        }
        match &callback.dialing.state {
            DialState::Failed { .. } => true,
            DialState::Pending | DialState::Working { .. } => self.due(callback) <= now,
            DialState::Reached | DialState::Closed { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn graph(flows: &str) -> Graph {
        let mut sources = centralino_compiler::Sources::new();
        sources.add("test.flow", flows);
        centralino_compiler::compile(&sources).graph.unwrap()
    }

    /// `callback 8h` in an office is its promise; other offices take the configured default.
    #[test]
    fn each_office_keeps_its_own_promise_and_the_others_the_default() {
        let promise = CallbackPromise::new(
            SignedDuration::from_hours(48),
            &graph(
                r#"
office anagrafe "Anagrafe" {
  staff "sip:201@comune.example"
  callback 8h
}
office tributi "Tributi" { staff "sip:202@comune.example" }
flow main answers "100" {
  start: callback anagrafe -> hangup
}
"#,
            ),
        );
        assert_eq!(promise.within("anagrafe"), SignedDuration::from_hours(8));
        assert_eq!(promise.within("tributi"), SignedDuration::from_hours(48));
        assert_eq!(promise.within("gone"), SignedDuration::from_hours(48));
        assert_eq!(promise.default_within(), SignedDuration::from_hours(48));

        let asked = "2026-12-05T08:00:00Z";
        let at = |t: &str| -> Timestamp { t.parse().unwrap() };
        let anagrafe = Callback::example("RC-2026-000001", "anagrafe", asked, DialState::Pending);
        let tributi = Callback::example("RC-2026-000001", "tributi", asked, DialState::Pending);
        assert_eq!(promise.due(&anagrafe), at("2026-12-05T16:00:00Z"));
        // Late at its due time, not a second before.
        assert!(!promise.is_late(&anagrafe, at("2026-12-05T15:59:59Z")));
        assert!(promise.is_late(&anagrafe, at("2026-12-05T16:00:00Z")));
        assert!(!promise.is_late(&tributi, at("2026-12-05T16:00:00Z")));
        assert!(promise.is_late(&tributi, at("2026-12-07T08:00:00Z")));
    }

    #[test]
    fn failed_ones_are_late_and_reached_closed_or_cancelled_ones_never() {
        let promise = CallbackPromise::uniform(SignedDuration::from_hours(4));
        let asked = "2026-12-05T08:00:00Z";
        let now: Timestamp = "2026-12-05T09:00:00Z".parse().unwrap();
        let later: Timestamp = "2026-12-06T09:00:00Z".parse().unwrap();
        let failed = Callback::example(
            "RC-2026-000001",
            "x",
            asked,
            DialState::Failed {
                at: now,
                reason: "3 attempts".into(),
            },
        );
        assert!(promise.is_late(&failed, now), "it will not be kept");
        let reached = Callback::example("RC-2026-000001", "x", asked, DialState::Reached);
        assert!(!promise.is_late(&reached, later));
        let closed = Callback::example(
            "RC-2026-000001",
            "x",
            asked,
            DialState::Closed {
                at: now,
                by: None,
                note: None,
            },
        );
        assert!(!promise.is_late(&closed, later));
        let mut cancelled = Callback::example("RC-2026-000001", "x", asked, DialState::Pending);
        cancelled.status = Status::Cancelled;
        assert!(!promise.is_late(&cancelled, later));
        let working = Callback::example("RC-2026-000001", "x", asked, DialState::Pending);
        assert!(promise.is_late(&working, later));
    }
}
