//! The live calls page (`GET /`): the server's registry of calls in progress and its counters.
//! The page refreshes its calls and counters every few seconds (`poll.html`, by fetching
//! itself), so it follows calls without a reload.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use minijinja::context;

use super::{Console, Nav, Page, Viewer, everyone};

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

async fn live_calls(State(console): State<Arc<Console>>, viewer: Viewer) -> Response {
    let registry = &console.server().registry;
    let calls = registry.calls();
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
