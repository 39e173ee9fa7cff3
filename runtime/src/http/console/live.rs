//! The live calls page (`GET /`): the server's registry of calls in progress and its counters.
//! The page refreshes its calls and counters every few seconds (`poll.html`, by fetching
//! itself), so it follows calls without a reload. A call's start is shown in the deployment's
//! zone with how long ago it was, and its flows version short (the full id in its title),
//! through [`super::clock`].

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use minijinja::context;

use super::clock::{Clock, short_version};
use super::{Console, Nav, Page, Viewer, everyone};
use crate::server::LiveCall;

pub const PAGE: Page = Page {
    routes,
    templates: &[("live.html", include_str!("live.html"))],
    words: WORDS,
    nav: Some(Nav {
        path: "/",
        label: "live.title",
        allowed: everyone,
    }),
};

const WORDS: &[super::Word] = &[
    ("live.title", "Chiamate in corso", "Live calls"),
    ("live.counters", "contatori", "counters"),
    ("live.accepted", "Accettate", "Accepted"),
    ("live.answered", "Risposte", "Answered"),
    ("live.ended", "Concluse", "Ended"),
    (
        "live.refused_busy",
        "Rifiutate (occupato)",
        "Refused (busy)",
    ),
    (
        "live.refused_unknown",
        "Rifiutate (numero sconosciuto)",
        "Refused (unknown number)",
    ),
    ("live.caller", "Chiamante", "Caller"),
    ("live.number", "Numero", "Number"),
    ("live.flow", "Flusso", "Flow"),
    ("live.state", "Stato", "State"),
    ("live.since", "Dal", "Since"),
    ("live.for", "Da", "For"),
    ("live.version", "Versione", "Version"),
    (
        "live.none",
        "Nessuna chiamata in corso.",
        "No calls in progress.",
    ),
];

fn routes() -> Router<Arc<Console>> {
    Router::new().route("/", get(live_calls))
}

/// A live call as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
struct Row {
    caller: String,
    number: String,
    flow: String,
    state: String,
    /// When it arrived (`10:04:31`, local).
    since: String,
    /// How long ago (`3m 05s`).
    length: String,
    /// The flows version, short, and in full.
    version: String,
    version_id: String,
}

fn row(call: &LiveCall, clock: &Clock) -> Row {
    Row {
        caller: call.caller.clone(),
        number: call.number.clone(),
        flow: call.flow.clone(),
        state: call.state.clone(),
        since: clock.time(call.since),
        length: clock.since(call.since),
        version: short_version(&call.version),
        version_id: call.version.clone(),
    }
}

async fn live_calls(State(console): State<Arc<Console>>, viewer: Viewer) -> Response {
    let registry = &console.server().registry;
    let clock = console.clock();
    let calls: Vec<Row> = registry.calls().iter().map(|c| row(c, &clock)).collect();
    let counters = registry.counters();
    console.page(
        &viewer,
        "live.html",
        context! {
            path => "/",
            calls => minijinja::Value::from(minijinja::value::Serde(&calls)),
            counters => minijinja::Value::from(minijinja::value::Serde(counters)),
        },
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::server::ChannelKind;

    /// Local time in the zone given, how long ago, and the short version with the full one kept.
    #[test]
    fn a_live_call_reads_in_local_time_with_its_length_and_short_version() {
        let since: jiff::Timestamp = "2026-12-05T09:04:31Z".parse().unwrap();
        let call = LiveCall {
            call_id: String::from("c1"),
            channel: ChannelKind::Sip,
            caller: String::from("+39075"),
            number: String::from("100"),
            version: String::from("sha256:0123456789abcdef0123"),
            flow: String::from("main"),
            state: String::from("menu"),
            since,
            answered: true,
            legs: Vec::new(),
        };
        let clock = Clock::new(
            jiff::tz::TimeZone::get("America/New_York").unwrap(),
            "2026-12-05T10:06:31Z".parse().unwrap(),
        );
        let shown = row(&call, &clock);
        assert_eq!(shown.since, "04:04:31");
        assert_eq!(shown.length, "1h 02m");
        assert_eq!(shown.version, "0123456789ab");
        assert_eq!(shown.version_id, "sha256:0123456789abcdef0123");
    }

    /// The page, for a deployment whose calendars are in New York: the call's start in New
    /// York time, how long ago, the short version with the full one as its title.
    #[tokio::test]
    async fn the_page_shows_calls_in_the_zone_of_the_flows_calendars() {
        let flows = r#"
calendar uffici {
  timezone "America/New_York"
  mon-fri 09:00-17:00
}
flow main answers "100" {
  language en
  start: say "Hello." -> hangup
}
"#;
        let console = Arc::new(Console::new(
            std::path::PathBuf::from("/nonexistent/accounts.toml"),
            crate::http::ServerView::for_tests(flows),
            false,
        ));
        assert_eq!(console.clock().zone_name(), "America/New_York");
        let since = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_secs(125))
            .unwrap();
        let _entry = console.server().registry.register(LiveCall {
            call_id: String::from("c1"),
            channel: ChannelKind::Sip,
            caller: String::from("+39075"),
            number: String::from("100"),
            version: String::from("sha256:0123456789abcdef0123"),
            flow: String::from("main"),
            state: String::from("start"),
            since,
            answered: true,
            legs: Vec::new(),
        });
        let viewer = Viewer {
            staff: crate::http::session::Staff {
                name: String::from("anna"),
                role: crate::http::accounts::Role::Operator,
                csrf: String::from("t"),
            },
            lang: super::super::Lang::En,
        };
        let response = live_calls(State(console.clone()), viewer).await;
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let page = String::from_utf8(bytes.to_vec()).unwrap();
        let new_york = since
            .to_zoned_datetime(jiff::tz::TimeZone::get("America/New_York").unwrap())
            .strftime("%H:%M:%S")
            .to_string();
        assert!(page.contains(&format!("<td>{new_york}</td>")), "{page}");
        // 2m 05s, or a second or two more on a slow machine.
        assert!(page.contains("<td class=\"length\">2m 0"), "{page}");
        assert!(
            page.contains("<code title=\"sha256:0123456789abcdef0123\">0123456789ab</code>"),
            "{page}"
        );
    }
}
