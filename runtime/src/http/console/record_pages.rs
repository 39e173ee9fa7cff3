//! What the record pages (tickets, callbacks, bookings) share: dates typed in filters, the
//! query string read into fields, pages of a long list, store calls off the reactor, and a
//! path segment made safe for a link. (Times are written by [`super::clock`].)
//!
//! ```text
//!   ?status=open&from=2026-12-01&page=2 ──query()──► fields ──page filter──► rows ──paged()──► 1 page
//!   store (sled: disk) ◄──blocking()── handler
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;

use crate::store::{Store, StoreError};

/// Rows on one page of a list.
pub const PAGE_SIZE: usize = 50;

/// The longest query or form value read (longer values are cut: no filter needs more).
pub const MAX_FIELD_CHARS: usize = 200;

/// A date typed in a filter (`YYYY-MM-DD`).
pub fn parse_date(text: &str) -> Option<Date> {
    text.trim().parse().ok()
}

/// The fields of a query string (the last of a repeated name), each cut to
/// [`MAX_FIELD_CHARS`] and trimmed; empty values are left out.
pub fn query(raw: Option<&str>) -> BTreeMap<String, String> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(key, value)| {
            let value: String = value.chars().take(MAX_FIELD_CHARS).collect();
            (key.into_owned(), value.trim().to_owned())
        })
        .filter(|(_, value)| !value.is_empty())
        .collect()
}

/// One page of a list: its rows and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Paged<T> {
    pub rows: Vec<T>,
    /// 1-based, within `1..=pages`.
    pub page: usize,
    /// At least 1 (an empty list has one empty page).
    pub pages: usize,
    pub total: usize,
}

/// Page `page` (1-based; out of range: the nearest page) of `rows`, [`PAGE_SIZE`] a page.
pub fn paged<T>(rows: Vec<T>, page: usize) -> Paged<T> {
    paged_by(rows, page, PAGE_SIZE)
}

fn paged_by<T>(rows: Vec<T>, page: usize, size: usize) -> Paged<T> {
    let total = rows.len();
    let pages = total.div_ceil(size).max(1);
    let page = page.clamp(1, pages);
    let rows = rows
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    Paged {
        rows,
        page,
        pages,
        total,
    }
}

/// `f` on the store, on the blocking pool (sled reads and flushes touch the disk); a store
/// that fails is a 500 with the error logged.
#[allow(clippy::result_large_err)]
pub async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Response> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || f(&*store)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "console: the store failed");
            Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                "archivio non disponibile",
            )
                .into_response())
        }
        Err(e) => {
            tracing::error!(error = %e, "console: a store task failed");
            Err((StatusCode::INTERNAL_SERVER_ERROR, "errore interno").into_response())
        }
    }
}

/// `text` as one path segment of a link: unreserved characters kept, the rest %-encoded.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A link built here from [`segment`]s and [`query_string`]s, for a template's `href`: its
/// characters need no escaping but `&` (written `&amp;`), so it is marked safe and the
/// template writes `/` as `/` (minijinja's escaping would write `&#x2f;`).
pub fn link(url: &str) -> minijinja::Value {
    minijinja::Value::from_safe_string(url.replace('&', "&amp;"))
}

/// `pairs` as a query string (percent-encoded), for links that keep a list's filters.
pub fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        if !value.is_empty() {
            out.append_pair(key, value);
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn pages_hold_their_rows_and_stay_in_range() {
        let rows: Vec<u32> = (1..=7).collect();
        let first = paged_by(rows.clone(), 1, 3);
        assert_eq!((first.rows, first.page, first.pages), (vec![1, 2, 3], 1, 3));
        let last = paged_by(rows.clone(), 3, 3);
        assert_eq!(last.rows, vec![7]);
        assert_eq!(paged_by(rows.clone(), 99, 3).page, 3);
        assert_eq!(paged_by(rows, 0, 3).page, 1);
        let empty = paged_by(Vec::<u32>::new(), 2, 3);
        assert_eq!((empty.page, empty.pages, empty.total), (1, 1, 0));
    }

    #[test]
    fn staff_type_dates() {
        assert_eq!(
            parse_date("2026-12-05"),
            Some(jiff::civil::date(2026, 12, 5))
        );
        assert_eq!(parse_date("5/12/2026"), None);
    }

    #[test]
    fn queries_are_read_and_written_encoded() {
        let fields = query(Some(
            "status=open&office=&category=buche+stradali&x=%2F..%2F",
        ));
        assert_eq!(fields.get("status").map(String::as_str), Some("open"));
        assert_eq!(fields.get("office"), None);
        assert_eq!(
            fields.get("category").map(String::as_str),
            Some("buche stradali")
        );
        assert_eq!(fields.get("x").map(String::as_str), Some("/../"));
        let long = "a".repeat(MAX_FIELD_CHARS * 2);
        assert_eq!(
            query(Some(&format!("q={long}")))["q"].len(),
            MAX_FIELD_CHARS
        );
        assert_eq!(
            query_string([("category", "buche stradali"), ("office", "")]),
            "category=buche+stradali"
        );
        assert_eq!(segment("call-1/../x y"), "call-1%2F..%2Fx%20y");
    }
}
