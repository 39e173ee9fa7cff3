//! The address book (`GET /addressbook?q=…`): the book desk phones read (offices, staff,
//! external contacts; [`crate::http::directory::LiveBook`]), searchable, with each staff
//! member's presence beside them.
//!
//! ```text
//!   ?q=… ──search_of (strict: 400 on bad escapes, control characters; 414 too long)──┐
//!   LiveBook::book (follows reloads and the contacts file) ──► Book::search ─────────┴─► rows
//!   desk: statuses ──► a staff row's presence
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use minijinja::context;
use serde::Serialize;

use super::presence::status_word;
use super::{Console, Nav, Page, Viewer, everyone};
use crate::http::directory::{BadSearch, search_of};
use crate::people::directory::{Entry, EntryKind};
use crate::people::presence::Status;

pub const PAGE: Page = Page {
    routes,
    templates: &[("directory.html", include_str!("directory.html"))],
    words: WORDS,
    nav: Some(Nav {
        path: "/addressbook",
        label: "directory.title",
        allowed: everyone,
    }),
};

const WORDS: &[super::Word] = &[
    ("directory.title", "Rubrica", "Address book"),
    ("directory.search", "Cerca", "Search"),
    (
        "directory.search_hint",
        "nome, ufficio o numero",
        "name, office or number",
    ),
    ("directory.name", "Nome", "Name"),
    ("directory.number", "Numero", "Number"),
    ("directory.groups", "Uffici o gruppo", "Offices or group"),
    ("directory.kind", "Tipo", "Kind"),
    ("directory.presence", "Presenza", "Presence"),
    ("directory.office", "Ufficio", "Office"),
    ("directory.staff", "Personale", "Staff"),
    ("directory.external", "Contatto esterno", "External contact"),
    (
        "directory.none",
        "Nessuna voce corrisponde alla ricerca.",
        "No entry matches the search.",
    ),
    (
        "directory.bad_search",
        "La ricerca non è valida (al massimo 100 caratteri, senza caratteri di controllo).",
        "The search is not valid (at most 100 characters, no control characters).",
    ),
];

fn routes() -> Router<Arc<Console>> {
    Router::new().route("/addressbook", get(show))
}

/// One line of the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The word key of its kind.
    pub kind: &'static str,
    pub name: String,
    pub number: String,
    pub groups: String,
    /// A staff member's presence (word key); none for offices and contacts.
    pub presence: Option<&'static str>,
    /// `available`, `away`…: for styling and tests.
    pub status: Option<Status>,
}

/// The rows of `entries`, a staff member's with their presence (offline when the desk does
/// not know them).
pub fn rows(entries: &[&Entry], statuses: &BTreeMap<String, Status>) -> Vec<Row> {
    entries
        .iter()
        .map(|entry| {
            let status = match entry.kind {
                EntryKind::Staff => Some(
                    statuses
                        .get(&entry.number)
                        .copied()
                        .unwrap_or(Status::Offline),
                ),
                EntryKind::Office | EntryKind::External => None,
            };
            Row {
                kind: match entry.kind {
                    EntryKind::Office => "directory.office",
                    EntryKind::Staff => "directory.staff",
                    EntryKind::External => "directory.external",
                },
                name: entry.name.clone(),
                number: entry.number.clone(),
                groups: entry.groups_line(),
                presence: status.map(status_word),
                status,
            }
        })
        .collect()
}

async fn show(
    State(console): State<Arc<Console>>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Response {
    let (search, status) = match search_of(query.as_deref()) {
        Ok(search) => (Ok(search), StatusCode::OK),
        Err(bad @ BadSearch::TooLong) => (Err(bad), StatusCode::URI_TOO_LONG),
        Err(bad @ (BadSearch::BadEscape | BadSearch::NotUtf8 | BadSearch::ControlCharacter)) => {
            (Err(bad), StatusCode::BAD_REQUEST)
        }
    };
    let server = console.server();
    let book = server.directory.book().await;
    let statuses = server.desk.statuses();
    let found = match &search {
        Ok(search) => rows(&book.search(search), &statuses),
        Err(_) => Vec::new(),
    };
    let mut page = console.page(
        &viewer,
        "directory.html",
        context! {
            path => "/addressbook",
            q => search.as_deref().unwrap_or(""),
            bad_search => search.is_err(),
            rows => minijinja::Value::from(minijinja::value::Serde(&found)),
        },
    );
    if page.status() == StatusCode::OK {
        *page.status_mut() = status;
    }
    page.into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn entry(kind: EntryKind, name: &str, number: &str, groups: &[&str]) -> Entry {
        Entry {
            kind,
            name: name.to_owned(),
            number: number.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    #[test]
    fn staff_rows_carry_their_presence_and_others_none() {
        let office = entry(EntryKind::Office, "Anagrafe", "anagrafe", &[]);
        let anna = entry(EntryKind::Staff, "Anna", "201", &["Anagrafe", "Tributi"]);
        let bruno = entry(EntryKind::Staff, "Bruno", "202", &["Anagrafe"]);
        let vigili = entry(EntryKind::External, "Vigili", "+390755771", &["Sicurezza"]);
        let statuses = BTreeMap::from([(String::from("201"), Status::Away)]);
        let rows = rows(&[&office, &anna, &bruno, &vigili], &statuses);
        let seen: Vec<(&str, &str, Option<Status>)> = rows
            .iter()
            .map(|r| (r.kind, r.groups.as_str(), r.status))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("directory.office", "", None),
                ("directory.staff", "Anagrafe, Tributi", Some(Status::Away)),
                ("directory.staff", "Anagrafe", Some(Status::Offline)),
                ("directory.external", "Sicurezza", None),
            ]
        );
        assert_eq!(rows[1].presence, Some("presence.away"));
    }
}
