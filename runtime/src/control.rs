//! The control socket of a running server: `status`, `versions`, `reload`,
//! `rollback ID`, `calls`, `registrations`, the call log (`calllog list`, `calllog show ID`), and the
//! records (`records tickets list`, `records callbacks
//! show RC-2026-000001`, `records tickets close PG-2026-000001 cli:anna fatto`).
//!
//! A Unix socket in the data directory (`control.sock`), one request line and
//! one JSON answer line per connection, so `centralino status`, `tickets list`
//! and friends talk to the server that owns the store without touching the store.
//! Records are citizens' data: the socket is made readable and writable by its
//! owner only (mode 0600) before it is given its name, so nobody else can connect.
//!
//! ```text
//!   request line ──Request::parse──► Request ──► status / versions / reload / rollback
//!                                       │
//!                                       └── Records(Question) ──spawn_blocking──► store::records::answer
//!   answer line: {"ok": true, ...} or {"ok": false, "error": "..."}
//! ```

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::calllog;
use crate::people::registrar::Registrar;
use crate::reload::{Deployment, Outcome};
use crate::server::Registry;
use crate::store::Store;
use crate::store::records::{
    self, Actor, BadActor, BadNote, BadReference, Kind, Note, Question, Reference, TicketWork,
};

/// The socket's name inside the data directory.
pub const SOCKET: &str = "control.sock";

pub fn socket_path(data: &Path) -> PathBuf {
    data.join(SOCKET)
}

/// One request to the control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Status,
    Versions,
    Reload,
    /// Serve the version whose id starts with this.
    Rollback(String),
    /// Records from the store the server holds.
    Records(Question),
    /// The live calls and the counters (the server's registry).
    Calls,
    /// Staff phones registered now (the registrar's bindings).
    Registrations,
    /// The call log: `calllog list`, `calllog show CALL-ID`.
    CallLog(calllog::Question),
}

/// Why a request line is not a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(
        "requests are: status, versions, reload, rollback ID, calls, registrations, records KIND list, records KIND show REF, records callbacks close REF [NOTE], records callbacks call REF, records tickets close|comment|assign REF BY [TEXT], calllog list, calllog show CALL-ID"
    )]
    Unknown,
    #[error("{0}")]
    BadCallId(#[from] calllog::BadCallId),
    #[error("records are: tickets, callbacks, appointments (not {0:?})")]
    RecordsKind(String),
    #[error(
        "records KIND takes list, show REF, (callbacks) close REF [NOTE], call REF, (tickets) close|comment|assign REF BY [TEXT] (not {0:?})"
    )]
    RecordsVerb(String),
    #[error("records KIND show takes one reference (close: a reference, then the note)")]
    RecordsReference,
    #[error("{0}")]
    BadReference(#[from] BadReference),
    #[error("{0}")]
    BadNote(#[from] BadNote),
    #[error("{0}")]
    BadActor(#[from] BadActor),
    #[error(
        "records tickets close|comment|assign takes a reference and who does it (comment: then its text)"
    )]
    TicketWork,
}

impl Request {
    /// Parses one request line (words separated by white space).
    pub fn parse(line: &str) -> Result<Request, RequestError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["status"] => Ok(Request::Status),
            ["versions"] => Ok(Request::Versions),
            ["reload"] => Ok(Request::Reload),
            ["calls"] => Ok(Request::Calls),
            ["registrations"] => Ok(Request::Registrations),
            ["rollback", id, ..] => Ok(Request::Rollback((*id).to_owned())),
            ["records", rest @ ..] => Request::parse_records(rest).map(Request::Records),
            ["calllog", "list"] => Ok(Request::CallLog(calllog::Question::List)),
            ["calllog", "show", id] => Ok(Request::CallLog(calllog::Question::Show(
                calllog::CallId::parse(id)?,
            ))),
            _ => Err(RequestError::Unknown),
        }
    }

    fn parse_records(words: &[&str]) -> Result<Question, RequestError> {
        let Some((kind, rest)) = words.split_first() else {
            return Err(RequestError::RecordsKind(String::new()));
        };
        let kind =
            Kind::from_plural(kind).ok_or_else(|| RequestError::RecordsKind((*kind).to_owned()))?;
        match rest {
            ["list"] => Ok(Question::List(kind)),
            ["show", reference] => Ok(Question::Show(kind, Reference::parse(reference)?)),
            ["show", ..] => Err(RequestError::RecordsReference),
            ["close", reference, note @ ..] if kind == Kind::Callbacks => {
                Ok(Question::CloseCallback(
                    Reference::parse(reference)?,
                    Note::parse(&note.join(" "))?,
                ))
            }
            [
                verb @ ("close" | "comment" | "assign"),
                reference,
                by,
                rest @ ..,
            ] if kind == Kind::Tickets => {
                let reference = Reference::parse(reference)?;
                let by = Actor::parse(by)?;
                let work = match *verb {
                    "close" => TicketWork::Close(Note::parse(&rest.join(" "))?),
                    "comment" => TicketWork::Comment(
                        Note::parse(&rest.join(" "))?.ok_or(RequestError::TicketWork)?,
                    ),
                    _ => match rest {
                        [] => TicketWork::Assign(None),
                        [to] => TicketWork::Assign(Some(Actor::parse(to)?)),
                        _ => return Err(RequestError::TicketWork),
                    },
                };
                Ok(Question::WorkTicket(reference, by, work))
            }
            ["close" | "comment" | "assign", ..] if kind == Kind::Tickets => {
                Err(RequestError::TicketWork)
            }
            ["call", reference] if kind == Kind::Callbacks => {
                Ok(Question::CallCallback(Reference::parse(reference)?))
            }
            ["close" | "call"] => Err(RequestError::RecordsReference),
            [verb, ..] => Err(RequestError::RecordsVerb((*verb).to_owned())),
            [] => Err(RequestError::RecordsVerb(String::new())),
        }
    }
}

/// The request line, as [`Request::parse`] reads it back.
impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Status => f.write_str("status"),
            Request::Versions => f.write_str("versions"),
            Request::Reload => f.write_str("reload"),
            Request::Calls => f.write_str("calls"),
            Request::Registrations => f.write_str("registrations"),
            Request::Rollback(id) => write!(f, "rollback {id}"),
            Request::CallLog(calllog::Question::List) => f.write_str("calllog list"),
            Request::CallLog(calllog::Question::Show(id)) => {
                write!(f, "calllog show {}", id.as_str())
            }
            Request::Records(Question::List(kind)) => write!(f, "records {} list", kind.plural()),
            Request::Records(Question::Show(kind, reference)) => {
                write!(f, "records {} show {}", kind.plural(), reference.as_str())
            }
            Request::Records(Question::WorkTicket(reference, by, work)) => {
                write!(
                    f,
                    "records tickets {} {} {}",
                    work.verb(),
                    reference.as_str(),
                    by.as_str()
                )?;
                let rest = match work {
                    TicketWork::Close(note) => note.as_ref().map(Note::as_str),
                    TicketWork::Comment(text) => Some(text.as_str()),
                    TicketWork::Assign(to) => to.as_ref().map(Actor::as_str),
                };
                match rest {
                    Some(rest) => write!(f, " {rest}"),
                    None => Ok(()),
                }
            }
            Request::Records(Question::CloseCallback(reference, note)) => {
                write!(f, "records callbacks close {}", reference.as_str())?;
                match note {
                    Some(note) => write!(f, " {}", note.as_str()),
                    None => Ok(()),
                }
            }
            Request::Records(Question::CallCallback(reference)) => {
                write!(f, "records callbacks call {}", reference.as_str())
            }
        }
    }
}

/// Binds the socket under a temporary name, makes it owner-only, then gives it
/// its name: there is no moment when others could connect.
fn bind_private(path: &Path) -> std::io::Result<UnixListener> {
    let fresh = path.with_extension("sock.new");
    let _ = std::fs::remove_file(&fresh);
    let listener = UnixListener::bind(&fresh)?;
    let named = std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&fresh, path));
    if let Err(error) = named {
        let _ = std::fs::remove_file(&fresh);
        return Err(error);
    }
    Ok(listener)
}

/// What the control socket answers from: the server's parts it may read or ask.
#[derive(Clone)]
pub struct Context {
    pub deployment: Arc<Deployment>,
    pub store: Arc<dyn Store>,
    pub registry: Arc<Registry>,
    pub registrar: Arc<Registrar>,
    /// Woken after `records callbacks call REF` (the dialer, when one runs).
    pub dialer_wake: Option<Arc<tokio::sync::Notify>>,
}

/// Serve control requests until `token` is cancelled; removes the socket file at the end.
pub async fn serve(path: PathBuf, context: Context, token: CancellationToken) {
    // A socket left by a killed server is in the way; a live server still holds
    // the store lock, so this one would not have started.
    let _ = std::fs::remove_file(&path);
    let listener = match bind_private(&path) {
        Ok(l) => l,
        Err(e) => {
            warn!(error = %e, path = %path.display(), "no control socket: status/versions/rollback, and records while serving, unavailable");
            return;
        }
    };
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = token.cancelled() => break,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let context = context.clone();
                    connections.spawn(async move {
                        if let Err(e) = answer(stream, context).await {
                            debug!(error = %e, "control connection");
                        }
                    });
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
    let _ = std::fs::remove_file(&path);
}

async fn answer(stream: UnixStream, context: Context) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read).take(4096);
    reader.read_line(&mut line).await?;
    let reply = match Request::parse(&line) {
        Ok(request) => reply(request, context).await,
        Err(error) => json!({"ok": false, "error": error.to_string()}),
    };
    let mut text = reply.to_string();
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    write.shutdown().await
}

async fn reply(request: Request, context: Context) -> Value {
    let Context {
        deployment,
        store,
        registry,
        registrar,
        dialer_wake,
    } = context;
    match request {
        Request::Registrations => {
            json!({"ok": true, "registrations": registrar.registrations(jiff::Timestamp::now())})
        }
        Request::Calls => {
            json!({"ok": true, "calls": registry.calls(), "counters": registry.counters()})
        }
        Request::Status => json!({"ok": true, "status": deployment.status()}),
        Request::Versions => json!({"ok": true, "versions": deployment.versions()}),
        Request::Reload => {
            let d = deployment.clone();
            match tokio::task::spawn_blocking(move || d.reload()).await {
                Ok(Outcome::Published { id }) => json!({"ok": true, "published": id}),
                Ok(Outcome::Unchanged) => json!({"ok": true, "unchanged": deployment.current_id()}),
                Ok(Outcome::Failed { diagnostics }) => {
                    json!({"ok": false, "error": "the flows have errors; the current version keeps serving", "diagnostics": diagnostics})
                }
                Err(e) => json!({"ok": false, "error": e.to_string()}),
            }
        }
        Request::Rollback(id) => match deployment.rollback(&id) {
            Ok(id) => json!({"ok": true, "current": id}),
            Err(e) => json!({"ok": false, "error": e}),
        },
        Request::CallLog(question) => {
            match tokio::task::spawn_blocking(move || calllog::answer(&*store, &question)).await {
                Ok(Ok(answer)) => json!({"ok": true, "calllog": answer}),
                Ok(Err(e)) => json!({"ok": false, "error": e.to_string()}),
                Err(e) => json!({"ok": false, "error": e.to_string()}),
            }
        }
        Request::Records(question) => {
            // Store reads touch the disk: off the reactor.
            match tokio::task::spawn_blocking(move || records::answer(&*store, &question)).await {
                Ok(Ok(answer)) => {
                    // The dialer works it at once rather than at its next tick.
                    if let (records::Answer::Called { .. }, Some(wake)) = (&answer, &dialer_wake) {
                        wake.notify_one();
                    }
                    json!({"ok": true, "records": answer})
                }
                Ok(Err(e)) => json!({"ok": false, "error": e.to_string()}),
                Err(e) => json!({"ok": false, "error": e.to_string()}),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn records(kind: Kind, reference: Option<&str>) -> Request {
        Request::Records(match reference {
            None => Question::List(kind),
            Some(r) => Question::Show(kind, Reference::parse(r).unwrap()),
        })
    }

    #[test]
    fn a_callback_call_line_names_one_request() {
        let request = Request::parse("records callbacks call RC-2026-000001\n").unwrap();
        assert_eq!(
            request,
            Request::Records(Question::CallCallback(
                Reference::parse("RC-2026-000001").unwrap()
            ))
        );
        assert_eq!(request.to_string(), "records callbacks call RC-2026-000001");
        assert_eq!(Request::parse(&request.to_string()), Ok(request));
        assert_eq!(
            Request::parse("records tickets call PG-2026-000001"),
            Err(RequestError::RecordsVerb("call".into()))
        );
        assert_eq!(
            Request::parse("records callbacks call"),
            Err(RequestError::RecordsReference)
        );
        assert_eq!(
            Request::parse("records callbacks call RC-2026-000001 now"),
            Err(RequestError::RecordsVerb("call".into()))
        );
    }

    #[test]
    fn a_callback_close_line_carries_its_note() {
        let request =
            Request::parse("records callbacks close RC-2026-000001 spedito  per posta\n").unwrap();
        assert_eq!(
            request,
            Request::Records(Question::CloseCallback(
                Reference::parse("RC-2026-000001").unwrap(),
                Note::parse("spedito per posta").unwrap()
            ))
        );
        assert_eq!(
            request.to_string(),
            "records callbacks close RC-2026-000001 spedito per posta"
        );
        assert_eq!(Request::parse(&request.to_string()), Ok(request));
        let bare = Request::parse("records callbacks close RC-2026-000001").unwrap();
        assert_eq!(bare.to_string(), "records callbacks close RC-2026-000001");
        assert_eq!(
            Request::parse("records tickets close PG-2026-000001"),
            Err(RequestError::TicketWork)
        );
        assert_eq!(
            Request::parse("records appointments close 10000001"),
            Err(RequestError::RecordsVerb("close".into()))
        );
        assert_eq!(
            Request::parse("records callbacks close"),
            Err(RequestError::RecordsReference)
        );
    }

    #[test]
    fn ticket_work_lines_carry_who_and_what() {
        let reference = || Reference::parse("PG-2026-000001").unwrap();
        let cli = || Actor::parse("cli:anna").unwrap();
        for (line, work) in [
            (
                "records tickets close PG-2026-000001 cli:anna buca chiusa",
                TicketWork::Close(Note::parse("buca chiusa").unwrap()),
            ),
            (
                "records tickets close PG-2026-000001 cli:anna",
                TicketWork::Close(None),
            ),
            (
                "records tickets comment PG-2026-000001 cli:anna richiamare lunedì",
                TicketWork::Comment(Note::parse("richiamare lunedì").unwrap().unwrap()),
            ),
            (
                "records tickets assign PG-2026-000001 cli:anna 201",
                TicketWork::Assign(Some(Actor::parse("201").unwrap())),
            ),
            (
                "records tickets assign PG-2026-000001 cli:anna",
                TicketWork::Assign(None),
            ),
        ] {
            let request = Request::parse(line).unwrap();
            assert_eq!(
                request,
                Request::Records(Question::WorkTicket(reference(), cli(), work))
            );
            assert_eq!(request.to_string(), line);
        }
        for bad in [
            "records tickets comment PG-2026-000001 cli:anna",
            "records tickets assign PG-2026-000001 cli:anna 201 202",
            "records tickets comment PG-2026-000001",
        ] {
            assert_eq!(Request::parse(bad), Err(RequestError::TicketWork), "{bad}");
        }
        assert!(matches!(
            Request::parse("records tickets close PG-2026-000001 cli/anna"),
            Err(RequestError::BadActor(_))
        ));
    }

    #[test]
    fn request_lines_are_parsed() {
        assert_eq!(Request::parse("status\n"), Ok(Request::Status));
        assert_eq!(Request::parse(" versions "), Ok(Request::Versions));
        assert_eq!(Request::parse("reload"), Ok(Request::Reload));
        assert_eq!(Request::parse("calls\n"), Ok(Request::Calls));
        assert_eq!(Request::parse("calls all"), Err(RequestError::Unknown));
        assert_eq!(
            Request::parse("rollback sha256:1a2b"),
            Ok(Request::Rollback("sha256:1a2b".into()))
        );
        assert_eq!(
            Request::parse("records tickets list\n"),
            Ok(records(Kind::Tickets, None))
        );
        assert_eq!(
            Request::parse("records callbacks show RC-2026-000001"),
            Ok(records(Kind::Callbacks, Some("RC-2026-000001")))
        );
        assert_eq!(
            Request::parse("records appointments show 10000008"),
            Ok(records(Kind::Appointments, Some("10000008")))
        );
    }

    #[test]
    fn bad_request_lines_are_errors_that_say_what_is_wrong() {
        let error = |line: &str| Request::parse(line).unwrap_err();
        assert_eq!(error(""), RequestError::Unknown);
        assert_eq!(error("status now"), RequestError::Unknown);
        assert_eq!(error("tickets list"), RequestError::Unknown);
        assert_eq!(error("records"), RequestError::RecordsKind(String::new()));
        assert_eq!(error("calllog show"), RequestError::Unknown);
        assert_eq!(
            error("calllog show a\u{7f}b"),
            RequestError::BadCallId(calllog::BadCallId::Character {
                character: '\u{7f}'
            })
        );
        assert_eq!(
            error("records parking list"),
            RequestError::RecordsKind("parking".into())
        );
        assert_eq!(
            error("records tickets"),
            RequestError::RecordsVerb(String::new())
        );
        assert_eq!(
            error("records tickets delete PG-2026-000001"),
            RequestError::RecordsVerb("delete".into())
        );
        assert_eq!(
            error("records tickets list PG-2026-000001"),
            RequestError::RecordsVerb("list".into())
        );
        assert_eq!(
            error("records tickets show"),
            RequestError::RecordsReference
        );
        assert_eq!(
            error("records tickets show a b"),
            RequestError::RecordsReference
        );
        assert_eq!(
            error("records tickets show ../db"),
            RequestError::BadReference(BadReference::Character { character: '/' })
        );
        let long = format!("records tickets show {}", "9".repeat(100));
        assert_eq!(
            error(&long),
            RequestError::BadReference(BadReference::TooLong { length: 100 })
        );
        assert!(
            error("records parking list")
                .to_string()
                .contains("tickets, callbacks, appointments")
        );
    }

    #[test]
    fn requests_are_written_as_they_are_read() {
        for request in [
            Request::Status,
            Request::Versions,
            Request::Reload,
            Request::Calls,
            Request::Registrations,
            Request::Rollback("sha256:1a2b".into()),
            records(Kind::Tickets, None),
            records(Kind::Callbacks, Some("RC-2026-000001")),
            records(Kind::Appointments, Some("10000008")),
            Request::CallLog(calllog::Question::List),
            Request::CallLog(calllog::Question::Show(
                calllog::CallId::parse("a84b4c76e66710@pc33.example.it").unwrap(),
            )),
        ] {
            assert_eq!(Request::parse(&request.to_string()), Ok(request));
        }
    }
}
