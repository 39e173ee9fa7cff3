//! The address book over HTTP, for desk phones and address books: the adapter around
//! [`crate::people::directory`].
//!
//! ```text
//!  GET /directory/yealink.xml?q=…  ─┐                      ┌─ program version changed? ─┐
//!  GET /directory/snom.xml?q=…     ─┼─► search_of(query) ─► LiveBook::book ─┤  contacts file changed?    ├─► rebuild
//!  GET /directory.vcf?q=…          ─┘   (400 if hostile)                   └─ else the cached Book ─────┘
//! ```
//!
//! The book is built once per program version and contacts file (length and modification
//! time), so it follows reloads and edits of the contacts without a restart. A contacts file
//! that becomes invalid is logged and the last good contacts stay.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::HttpState;
use crate::engine::Program;
use crate::people::directory::{
    Book, Contact, ContactProblem, ContactsError, Format, MAX_CONTACTS_BYTES, parse_contacts,
    render,
};

/// Longest search accepted, in characters.
pub const MAX_SEARCH: usize = 100;
/// Longest query string accepted, in bytes (before decoding).
pub const MAX_QUERY: usize = 1024;

/// The routes of the address book.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/directory/yealink.xml", get(yealink))
        .route("/directory/snom.xml", get(snom))
        .route("/directory.vcf", get(vcard))
}

async fn yealink(State(state): State<HttpState>, RawQuery(query): RawQuery) -> Response {
    respond(&state, Format::Yealink, query.as_deref()).await
}

async fn snom(State(state): State<HttpState>, RawQuery(query): RawQuery) -> Response {
    respond(&state, Format::Snom, query.as_deref()).await
}

async fn vcard(State(state): State<HttpState>, RawQuery(query): RawQuery) -> Response {
    respond(&state, Format::Vcard, query.as_deref()).await
}

async fn respond(state: &HttpState, format: Format, query: Option<&str>) -> Response {
    let search = match search_of(query) {
        Ok(search) => search,
        Err(bad) => {
            let status = match bad {
                BadSearch::TooLong => StatusCode::URI_TOO_LONG,
                BadSearch::BadEscape | BadSearch::NotUtf8 | BadSearch::ControlCharacter => {
                    StatusCode::BAD_REQUEST
                }
            };
            return (
                status,
                [(header::CONTENT_TYPE, Format::Text.content_type())],
                format!("{}\n", bad.reason()),
            )
                .into_response();
        }
    };
    let book = state.directory.book().await;
    let body = render(format, &book.search(&search));
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Why a search in a query string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadSearch {
    TooLong,
    BadEscape,
    NotUtf8,
    ControlCharacter,
}

impl BadSearch {
    pub fn reason(self) -> &'static str {
        match self {
            BadSearch::TooLong => "the search is too long (at most 100 characters)",
            BadSearch::BadEscape => "the query string has a bad %-escape",
            BadSearch::NotUtf8 => "the search is not UTF-8",
            BadSearch::ControlCharacter => "the search has control characters",
        }
    }
}

/// The search of a query string: its `q` parameter, form-decoded (`+` a space, `%XX` a
/// byte), strictly: bad escapes, bytes that are not UTF-8 and control characters are refused
/// rather than replaced. No `q`: the whole book. Other parameters are ignored.
pub fn search_of(query: Option<&str>) -> Result<String, BadSearch> {
    let Some(query) = query else {
        return Ok(String::new());
    };
    if query.len() > MAX_QUERY {
        return Err(BadSearch::TooLong);
    }
    let Some(value) = query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find_map(|(name, value)| (name == "q").then_some(value))
    else {
        return Ok(String::new());
    };
    let bytes = form_decode(value)?;
    let search = String::from_utf8(bytes).map_err(|_| BadSearch::NotUtf8)?;
    if search.chars().count() > MAX_SEARCH {
        return Err(BadSearch::TooLong);
    }
    if search.chars().any(char::is_control) {
        return Err(BadSearch::ControlCharacter);
    }
    Ok(search)
}

fn form_decode(value: &str) -> Result<Vec<u8>, BadSearch> {
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let high = bytes.next().and_then(hex).ok_or(BadSearch::BadEscape)?;
                let low = bytes.next().and_then(hex).ok_or(BadSearch::BadEscape)?;
                out.push(high << 4 | low);
            }
            b => out.push(b),
        }
    }
    Ok(out)
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Reads and checks the external contacts file (at most [`MAX_CONTACTS_BYTES`]).
pub fn read_contacts(path: &Path) -> Result<Vec<Contact>, ContactsError> {
    let whole = |problem| ContactsError::whole_file(path, problem);
    let size = std::fs::metadata(path)
        .map_err(|e| whole(ContactProblem::Unreadable(e.to_string())))?
        .len();
    if size > MAX_CONTACTS_BYTES {
        return Err(whole(ContactProblem::TooLarge));
    }
    let bytes =
        std::fs::read(path).map_err(|e| whole(ContactProblem::Unreadable(e.to_string())))?;
    parse_contacts(&bytes, path)
}

/// What tells a contacts file changed: its length and modification time.
type Stamp = Option<(u64, Option<SystemTime>)>;

/// The book of the program serving now, rebuilt when a reload publishes another version or
/// the contacts file changes.
pub struct LiveBook {
    program: Arc<RwLock<Arc<Program>>>,
    contacts_path: Option<PathBuf>,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    version: String,
    stamp: Stamp,
    contacts: Arc<Vec<Contact>>,
    book: Option<Arc<Book>>,
}

impl LiveBook {
    pub fn new(program: Arc<RwLock<Arc<Program>>>, contacts_path: Option<PathBuf>) -> LiveBook {
        LiveBook {
            program,
            contacts_path,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The book now: the cached one when neither the version nor the contacts changed.
    pub async fn book(&self) -> Arc<Book> {
        let program = self
            .program
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let stamp = match &self.contacts_path {
            // One stat per request: cheap enough not to leave the async thread for it.
            Some(path) => std::fs::metadata(path)
                .ok()
                .map(|m| (m.len(), m.modified().ok())),
            None => None,
        };
        let (contacts, contacts_changed) = {
            let cache = self.lock();
            if let Some(book) = &cache.book
                && cache.version == program.version()
                && cache.stamp == stamp
            {
                return book.clone();
            }
            (
                cache.contacts.clone(),
                cache.book.is_none() || cache.stamp != stamp,
            )
        };
        let contacts = match (&self.contacts_path, contacts_changed) {
            (Some(path), true) => {
                let path = path.clone();
                let read = tokio::task::spawn_blocking(move || read_contacts(&path)).await;
                match read {
                    Ok(Ok(read)) => Arc::new(read),
                    Ok(Err(e)) => {
                        tracing::warn!(
                            "address book: the contacts file has problems; the last good contacts stay\n{e}"
                        );
                        contacts
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "address book: reading the contacts failed");
                        contacts
                    }
                }
            }
            (Some(_), false) | (None, _) => contacts,
        };
        let book = Arc::new(Book::build(&program.graph, &contacts));
        tracing::debug!(
            version = program.version(),
            entries = book.entries().len(),
            "address book built"
        );
        let mut cache = self.lock();
        *cache = Cache {
            version: program.version().to_owned(),
            stamp,
            contacts,
            book: Some(book.clone()),
        };
        book
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_search_is_the_q_parameter_form_decoded() {
        assert_eq!(search_of(None).unwrap(), "");
        assert_eq!(search_of(Some("")).unwrap(), "");
        assert_eq!(search_of(Some("x=1")).unwrap(), "");
        assert_eq!(search_of(Some("q=rossi")).unwrap(), "rossi");
        assert_eq!(search_of(Some("x=1&q=maria+rossi")).unwrap(), "maria rossi");
        assert_eq!(search_of(Some("q=Nicol%C3%B2")).unwrap(), "Nicolò");
        assert_eq!(search_of(Some("q=%3C%26%22%27%3E")).unwrap(), "<&\"'>");
        assert_eq!(search_of(Some("q")).unwrap(), "");
    }

    #[test]
    fn hostile_searches_are_refused() {
        assert_eq!(search_of(Some("q=%FF")), Err(BadSearch::NotUtf8));
        assert_eq!(search_of(Some("q=%C3")), Err(BadSearch::NotUtf8));
        assert_eq!(search_of(Some("q=%G1")), Err(BadSearch::BadEscape));
        assert_eq!(search_of(Some("q=%4")), Err(BadSearch::BadEscape));
        assert_eq!(search_of(Some("q=%")), Err(BadSearch::BadEscape));
        assert_eq!(
            search_of(Some("q=%1B%5B31m")),
            Err(BadSearch::ControlCharacter)
        );
        assert_eq!(search_of(Some("q=%00")), Err(BadSearch::ControlCharacter));
        let long = format!("q={}", "a".repeat(MAX_SEARCH + 1));
        assert_eq!(search_of(Some(&long)), Err(BadSearch::TooLong));
        let huge = format!("x={}&q=a", "a".repeat(MAX_QUERY));
        assert_eq!(search_of(Some(&huge)), Err(BadSearch::TooLong));
        let accented = format!("q={}", "%C3%A8".repeat(MAX_SEARCH));
        assert_eq!(
            search_of(Some(&accented)).unwrap().chars().count(),
            MAX_SEARCH
        );
    }

    const FLOW: &str = r#"
office anagrafe "Anagrafe" {
  staff "sip:201@comune.example" as "Anna Rossi"
}
flow main answers "100" {
  language it
  inizio: say "Buongiorno." -> hangup
}
"#;

    fn program(source: &str) -> Arc<Program> {
        let mut sources = centralino_compiler::Sources::new();
        sources.add("test.flow", source);
        let compiled = centralino_compiler::compile(&sources);
        Program::new(compiled.graph.unwrap()).unwrap()
    }

    fn names(book: &Book) -> Vec<String> {
        book.entries().iter().map(|e| e.name.clone()).collect()
    }

    #[tokio::test]
    async fn the_live_book_follows_the_program_and_the_contacts_file() {
        let dir = tempfile::tempdir().unwrap();
        let contacts = dir.path().join("contacts.csv");
        std::fs::write(&contacts, "name,number\nCarabinieri,112\n").unwrap();
        let current = Arc::new(RwLock::new(program(FLOW)));
        let live = LiveBook::new(current.clone(), Some(contacts.clone()));

        let first = live.book().await;
        assert_eq!(names(&first), ["Anagrafe", "Anna Rossi", "Carabinieri"]);
        assert!(Arc::ptr_eq(&first, &live.book().await), "cached");

        // A reload publishes another version.
        *current.write().unwrap() = program(&FLOW.replace("Anna Rossi", "Anna Bianchi"));
        assert_eq!(
            names(&*live.book().await),
            ["Anagrafe", "Anna Bianchi", "Carabinieri"]
        );

        // The contacts file changes (another length, so no wait for the clock).
        std::fs::write(&contacts, "name,number\nVigili del fuoco,115\n").unwrap();
        assert_eq!(
            names(&*live.book().await),
            ["Anagrafe", "Anna Bianchi", "Vigili del fuoco"]
        );

        // A broken file keeps the last good contacts.
        std::fs::write(&contacts, "name,number\n,115\n").unwrap();
        assert_eq!(
            names(&*live.book().await),
            ["Anagrafe", "Anna Bianchi", "Vigili del fuoco"]
        );
    }

    #[test]
    fn reading_a_missing_or_huge_file_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.csv");
        let error = read_contacts(&missing).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("{}: cannot read the contacts", missing.display())),
            "{error}"
        );
        let huge = dir.path().join("huge.csv");
        let file = std::fs::File::create(&huge).unwrap();
        file.set_len(MAX_CONTACTS_BYTES + 1).unwrap();
        let error = read_contacts(&huge).unwrap_err().to_string();
        assert!(error.contains("larger than 4 MiB"), "{error}");
    }
}
