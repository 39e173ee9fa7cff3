//! `centralino tickets|callbacks|appointments list|show`: what calls left in the store;
//! `centralino callbacks close REF [--note]` closes a callback request;
//! `centralino callbacks call REF` asks for one to be worked now;
//! `centralino tickets close|comment|assign REF ...` works a ticket, as `cli:<unix user>`
//! (kept in the ticket's history, which `tickets show` prints).
//!
//! ```text
//!   --data DIR (default ./data) ──SledStore──────────────► records::answer ──► Answer
//!        │ held by a running `serve`                                            │
//!        └──► DIR/control.sock `records KIND list|show REF` ──► the server's Answer ┤
//!                                                  aligned table / `show` fields / --json
//! ```
//!
//! The store is only opened when the directory already holds one: listing never
//! creates a data directory. While `serve` runs it holds the store, so the
//! question goes to the server over its control socket; both ways run the same
//! query and print through the same code here, so the output is the same. Times
//! are shown in Europe/Rome; `--json` keeps the stored instants (RFC 3339, UTC).
//! A damaged ticket is skipped with a warning on stderr and the others are
//! listed. Exit codes: 0 listed or shown, 1 no record with that reference (or
//! records that cannot be listed around a damaged one), 2 no store there or it
//! cannot be opened (nor asked of a running server).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use centralino_runtime::control::Request;
use centralino_runtime::store::dialing::Refusal;
use centralino_runtime::store::dialing::{DialState, Dialing};
pub use centralino_runtime::store::records::Kind;
use centralino_runtime::store::records::{
    self, Actor, Answer, Note, Question, Record, Records, Reference, TicketWork,
};
use centralino_runtime::store::ticketing::TicketAction;
use centralino_runtime::store::{
    Booking, Callback, Resource, SledStore, Status, StoreConfig, StoreError, Ticket,
};
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::Value;

use super::{CLEAN, PROBLEMS, clock, control, output};

#[derive(Debug, Args)]
pub struct RecordsArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// A table of every record, oldest first.
    List(StoreArgs),
    /// Every field of one record.
    Show {
        /// The reference the caller heard (`PG-2026-000001`, `RC-2026-000001`, `10000009`).
        reference: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Work a callback request now (callbacks only): the dialer calls it at once if staff of
    /// its office are available (hours, window and the numbering rule still apply); a failed
    /// or reached request is worked again.
    Call {
        /// The callback request's reference (`RC-2026-000001`).
        reference: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Close a callback request (the dialer stops working it) or a ticket.
    Close {
        /// The request's or ticket's reference (`RC-2026-000001`, `PG-2026-000001`).
        reference: String,
        /// What was done, kept with the request (one line).
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Add a comment to an open ticket (tickets only).
    Comment {
        /// The ticket's reference (`PG-2026-000001`).
        reference: String,
        /// The comment (one line).
        text: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Give an open ticket to an account or extension; without one, to nobody (tickets only).
    Assign {
        /// The ticket's reference (`PG-2026-000001`).
        reference: String,
        /// The account or extension (`anna`, `201`).
        to: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Args)]
struct StoreArgs {
    /// The data directory of the store (or of the running server holding it).
    #[arg(long, value_name = "DIR", default_value = "data")]
    data: PathBuf,

    /// Print JSON (a list, or one record) instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(kind: Kind, args: &RecordsArgs) -> anyhow::Result<u8> {
    let (store, reference) = match &args.action {
        Action::List(store) => (store, None),
        Action::Show { reference, store } => (store, Some(reference.trim())),
        Action::Close {
            reference,
            note,
            store,
        } if kind == Kind::Tickets => {
            let work = TicketWork::Close(Note::parse(note.as_deref().unwrap_or_default())?);
            return work_ticket(reference.trim(), work, store);
        }
        Action::Close {
            reference,
            note,
            store,
        } => return close(kind, reference.trim(), note.as_deref(), store),
        Action::Call { reference, store } => return call(kind, reference.trim(), store),
        Action::Comment {
            reference,
            text,
            store,
        } => {
            only_tickets(kind, "comment")?;
            let Some(text) = Note::parse(text)? else {
                anyhow::bail!("the comment is empty");
            };
            return work_ticket(reference.trim(), TicketWork::Comment(text), store);
        }
        Action::Assign {
            reference,
            to,
            store,
        } => {
            only_tickets(kind, "assign")?;
            let to = match to.as_deref().map(str::trim).filter(|to| !to.is_empty()) {
                Some(to) => {
                    Some(Actor::parse(to).with_context(|| format!("cannot assign to `{to}`"))?)
                }
                None => None,
            };
            return work_ticket(reference.trim(), TicketWork::Assign(to), store);
        }
    };
    must_hold_a_store(&store.data)?;
    let answer = match reference.map(Reference::parse) {
        None => ask(&store.data, &Question::List(kind))?,
        Some(Ok(reference)) => ask(&store.data, &Question::Show(kind, reference))?,
        // What cannot be a reference names no record: not found, as a lookup would say.
        Some(Err(_)) => Answer::Shown { record: None },
    };
    print(kind, reference.unwrap_or_default(), &answer, store)
}

fn only_tickets(kind: Kind, verb: &str) -> anyhow::Result<()> {
    if kind != Kind::Tickets {
        anyhow::bail!(
            "{} cannot be given `{verb}`; `tickets {verb} REF` works a ticket",
            kind.plural()
        );
    }
    Ok(())
}

/// Who works a ticket from here: `cli:` and the Unix user (`$USER`, else `$LOGNAME`), kept
/// to the characters an [`Actor`] allows.
fn command_line_actor() -> anyhow::Result<Actor> {
    let user: String = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        .take(Actor::MAX_LENGTH - 4)
        .collect();
    let user = if user.is_empty() { "unknown" } else { &user };
    Ok(Actor::parse(&format!("cli:{user}"))?)
}

/// `tickets close|comment|assign REF ...`, in the store or through the running server.
fn work_ticket(reference: &str, work: TicketWork, store: &StoreArgs) -> anyhow::Result<u8> {
    must_hold_a_store(&store.data)?;
    let answer = match Reference::parse(reference) {
        Ok(parsed) => ask(
            &store.data,
            &Question::WorkTicket(parsed, command_line_actor()?, work),
        )?,
        Err(_) => Answer::NotWorked {
            reason: String::from("no ticket has this reference"),
        },
    };
    print(Kind::Tickets, reference, &answer, store)
}

/// `callbacks close REF [--note]`, in the store or through the running server.
fn close(kind: Kind, reference: &str, note: Option<&str>, store: &StoreArgs) -> anyhow::Result<u8> {
    if kind != Kind::Callbacks {
        anyhow::bail!(
            "{} cannot be closed from here; `callbacks close REF` closes a callback request",
            kind.plural()
        );
    }
    let note = Note::parse(note.unwrap_or_default())?;
    must_hold_a_store(&store.data)?;
    let answer = match Reference::parse(reference) {
        Ok(reference) => ask(&store.data, &Question::CloseCallback(reference, note))?,
        Err(_) => Answer::NotClosed {
            reason: Refusal::NotFound.to_string(),
        },
    };
    print(kind, reference, &answer, store)
}

/// `callbacks call REF`, in the store or through the running server (which wakes its dialer).
fn call(kind: Kind, reference: &str, store: &StoreArgs) -> anyhow::Result<u8> {
    if kind != Kind::Callbacks {
        anyhow::bail!(
            "{} cannot be called from here; `callbacks call REF` works a callback request now",
            kind.plural()
        );
    }
    must_hold_a_store(&store.data)?;
    let answer = match Reference::parse(reference) {
        Ok(reference) => ask(&store.data, &Question::CallCallback(reference))?,
        Err(_) => Answer::NotCalled {
            reason: Refusal::NotFound.to_string(),
        },
    };
    print(kind, reference, &answer, store)
}

/// Refuses a directory that holds no store (exit 2): opening it would create one.
pub(super) fn must_hold_a_store(dir: &Path) -> anyhow::Result<()> {
    let shown = dir.display();
    if !dir.exists() {
        anyhow::bail!(
            "{shown}: no such data directory (give the store's directory with --data DIR)"
        );
    }
    if !dir.is_dir() {
        anyhow::bail!("{shown}: not a directory (give the store's directory with --data DIR)");
    }
    // sled keeps its data in `DIR/db`; without it, opening would start a new store here.
    if !dir.join("db").is_file() {
        anyhow::bail!("{shown}: not a Centralino store (there is no `db` file in it)");
    }
    Ok(())
}

/// The answer from the store in `dir` (checked by [`must_hold_a_store`]), or from
/// the running server that holds it.
fn ask(dir: &Path, question: &Question) -> anyhow::Result<Answer> {
    let cannot_open = || {
        format!(
            "cannot open the store in {} (is a running Centralino holding it?)",
            dir.display()
        )
    };
    match SledStore::open_without_waiting(dir, StoreConfig::default()) {
        Ok(store) => Ok(records::answer(&store, question)?),
        Err(locked @ StoreError::Locked { .. }) => match ask_server(dir, question) {
            Some(answer) => answer,
            None => Err(anyhow::Error::new(locked).context(cannot_open())),
        },
        Err(error) => Err(anyhow::Error::new(error).context(cannot_open())),
    }
}

/// The running server's answer; `None` when no server answers on the control socket.
fn ask_server(dir: &Path, question: &Question) -> Option<anyhow::Result<Answer>> {
    let reply = control::ask(dir, &Request::Records(question.clone()).to_string()).ok()?;
    if reply.get("ok").and_then(Value::as_bool) != Some(true) {
        let error = reply
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("the server gave no reason");
        return Some(Err(anyhow::anyhow!("{error}")));
    }
    let records = reply.get("records").cloned().unwrap_or_default();
    Some(serde_json::from_value(records).context("the server's records are not readable"))
}

/// Prints an answer, from the store or from the server alike (`reference`: the
/// one asked for, if any); the exit code.
fn print(kind: Kind, reference: &str, answer: &Answer, args: &StoreArgs) -> anyhow::Result<u8> {
    match answer {
        Answer::Listed { records, skipped } => {
            let text = match records {
                Records::Tickets(tickets) => render(args.json, tickets, ticket_rows)?,
                Records::Callbacks(callbacks) => render(args.json, callbacks, callback_rows)?,
                Records::Appointments(bookings) => render(args.json, bookings, booking_rows)?,
            };
            let text = if text.is_empty() {
                format!("no {} in {}\n", kind.plural(), args.data.display())
            } else {
                text
            };
            output::stdout(text.as_bytes())?;
            for problem in skipped {
                eprintln!("warning: {problem}; it is not listed");
            }
            Ok(CLEAN)
        }
        Answer::Unlistable { damaged } => {
            for problem in damaged {
                eprintln!("warning: {problem}");
            }
            eprintln!(
                "error: cannot list {} around damaged records yet; `show REF` still reads the others",
                kind.plural()
            );
            Ok(PROBLEMS)
        }
        Answer::Shown {
            record: Some(record),
        } => {
            let text = match record {
                Record::Ticket(t) => present(args.json, t, ticket_fields)?,
                Record::Callback(c) => present(args.json, c, callback_fields)?,
                Record::Appointment(b) => present(args.json, b, booking_fields)?,
            };
            output::stdout(text.as_bytes())?;
            Ok(CLEAN)
        }
        Answer::Closed { record } | Answer::Called { record } => {
            let text = match record {
                Record::Callback(c) => present(args.json, c, callback_fields)?,
                Record::Ticket(t) => present(args.json, t, ticket_fields)?,
                Record::Appointment(b) => present(args.json, b, booking_fields)?,
            };
            output::stdout(text.as_bytes())?;
            Ok(CLEAN)
        }
        Answer::Worked { record } => {
            let text = match record {
                Record::Ticket(t) => present(args.json, t, ticket_fields)?,
                Record::Callback(c) => present(args.json, c, callback_fields)?,
                Record::Appointment(b) => present(args.json, b, booking_fields)?,
            };
            output::stdout(text.as_bytes())?;
            Ok(CLEAN)
        }
        Answer::NotWorked { reason } => {
            eprintln!(
                "error: {} {reference} not changed: {reason}",
                kind.singular()
            );
            Ok(PROBLEMS)
        }
        Answer::NotClosed { reason } => {
            eprintln!(
                "error: {} {reference} not closed: {reason}",
                kind.singular()
            );
            Ok(PROBLEMS)
        }
        Answer::NotCalled { reason } => {
            eprintln!(
                "error: {} {reference} cannot be called now: {reason}",
                kind.singular()
            );
            Ok(PROBLEMS)
        }
        Answer::Shown { record: None } => {
            eprintln!(
                "error: no {} {reference} in {}",
                kind.singular(),
                args.data.display()
            );
            Ok(PROBLEMS)
        }
    }
}

/// The records as JSON (a list), or as a table; empty when there are none.
fn render<T: Serialize>(
    json: bool,
    records: &[T],
    rows: fn(&[T]) -> Table,
) -> anyhow::Result<String> {
    if json {
        let mut text = serde_json::to_string_pretty(records).context("cannot write JSON")?;
        text.push('\n');
        return Ok(text);
    }
    if records.is_empty() {
        return Ok(String::new());
    }
    Ok(rows(records).render())
}

/// Longest a cell grows in a table before it is cut with `…`.
const CELL_MAX: usize = 40;

fn ticket_rows(tickets: &[Ticket]) -> Table {
    let mut table = Table::new(&[
        "REFERENCE",
        "CREATED",
        "CATEGORY",
        "OFFICE",
        "PRIORITY",
        "STATUS",
        "CALLER",
        "DUE",
        "FIELDS",
    ]);
    for t in tickets {
        let r = &t.request;
        table.row(vec![
            t.reference.clone(),
            clock::minute(r.created_at),
            r.category.clone(),
            r.office.clone().unwrap_or_else(|| String::from("-")),
            r.priority.clone(),
            status(t.status).to_owned(),
            or_dash(&r.caller),
            r.due_at.map_or_else(|| String::from("-"), clock::minute),
            cut(&fields_line(&r.fields)),
        ]);
    }
    table
}

fn callback_rows(callbacks: &[Callback]) -> Table {
    let mut table = Table::new(&[
        "REFERENCE",
        "CREATED",
        "OFFICE",
        "STATUS",
        "DIALER",
        "CALL BACK",
        "NOTE",
    ]);
    for c in callbacks {
        let r = &c.request;
        table.row(vec![
            c.reference.clone(),
            clock::minute(r.created_at),
            r.office.clone(),
            status(c.status).to_owned(),
            dialer_cell(&c.dialing),
            or_dash(&r.number),
            cut(r.note.as_deref().unwrap_or("-")),
        ]);
    }
    table
}

fn booking_rows(bookings: &[Booking]) -> Table {
    let mut table = Table::new(&[
        "REFERENCE",
        "BOOKED",
        "FOR",
        "WHEN",
        "LENGTH",
        "STATUS",
        "CALLER",
    ]);
    for b in bookings {
        table.row(vec![
            b.reference.clone(),
            clock::minute(b.created_at),
            resource(&b.resource),
            clock::minute(b.slot.start),
            minutes(b.slot.duration_ms),
            status(b.status).to_owned(),
            or_dash(&b.caller),
        ]);
    }
    table
}

// ------------------------------------------------------------------ show

fn present<T: Serialize>(
    json: bool,
    record: &T,
    fields: fn(&T) -> Vec<(String, String)>,
) -> anyhow::Result<String> {
    if json {
        let mut text = serde_json::to_string_pretty(record).context("cannot write JSON")?;
        text.push('\n');
        return Ok(text);
    }
    let fields = fields(record);
    let width = fields
        .iter()
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (name, value) in fields {
        let pad = width - name.chars().count();
        out.push_str(&format!("{name}{}  {value}\n", " ".repeat(pad)));
    }
    Ok(out)
}

fn ticket_fields(t: &Ticket) -> Vec<(String, String)> {
    let r = &t.request;
    let mut out = vec![
        field("reference", &t.reference),
        field("status", status(t.status)),
        field("category", &r.category),
        field("title", &or_dash(&r.title)),
        field("office", r.office.as_deref().unwrap_or("-")),
        field("priority", &r.priority),
        field("created", &clock::full(r.created_at)),
        field(
            "due",
            &r.due_at.map_or_else(|| String::from("-"), clock::full),
        ),
        field("caller", &or_dash(&r.caller)),
        field("call", &r.call_id),
        field("assigned to", t.work.assignee.as_deref().unwrap_or("-")),
        field("schema", &t.schema.to_string()),
    ];
    out.extend(r.fields.iter().map(|(k, v)| (format!("· {k}"), v.clone())));
    for (n, event) in t.work.history.iter().enumerate() {
        let (verb, text) = match &event.what {
            TicketAction::Assign { to } => {
                ("assigned to", to.clone().or(Some(String::from("nobody"))))
            }
            TicketAction::Comment { text } => ("comment", Some(text.clone())),
            TicketAction::Close { note } => ("closed", note.clone()),
            TicketAction::Cancel { note } => ("cancelled", note.clone()),
            TicketAction::Reopen { note } => ("reopened", note.clone()),
        };
        let mut line = format!("{} by {}: {verb}", clock::full(event.at), event.by);
        if let Some(text) = text {
            line.push_str(&format!(" {}", cut(&text)));
        }
        out.push((format!("· change {}", n + 1), line));
    }
    out
}

fn callback_fields(c: &Callback) -> Vec<(String, String)> {
    let r = &c.request;
    let mut out = vec![
        field("reference", &c.reference),
        field("status", status(c.status)),
        field("office", &r.office),
        field("call back", &or_dash(&r.number)),
        field("note", r.note.as_deref().unwrap_or("-")),
        field("created", &clock::full(r.created_at)),
        field("call", &r.call_id),
        field("schema", &c.schema.to_string()),
    ];
    out.extend(dialing_fields(&c.dialing));
    out
}

/// The dialer's state in a cell: `pending`, `failed, 3 attempts`.
fn dialer_cell(dialing: &Dialing) -> String {
    match dialing.attempts.len() {
        0 => dialing.state.name().to_owned(),
        1 => format!("{}, 1 attempt", dialing.state.name()),
        n => format!("{}, {n} attempts", dialing.state.name()),
    }
}

fn dialing_fields(dialing: &Dialing) -> Vec<(String, String)> {
    let state = match &dialing.state {
        DialState::Pending | DialState::Reached => dialing.state.name().to_owned(),
        DialState::Working { lease } => format!(
            "working ({} until {})",
            lease.holder,
            clock::full(lease.until)
        ),
        DialState::Closed { at, by, note } => {
            let mut text = format!("closed {}", clock::full(*at));
            if let Some(by) = by {
                text.push_str(&format!(" by {by}"));
            }
            if let Some(note) = note {
                text.push_str(&format!(": {}", cut(note)));
            }
            text
        }
        DialState::Failed { at, reason } => {
            format!("failed {}: {}", clock::full(*at), cut(reason))
        }
    };
    let mut out = vec![field("dialer", &state)];
    if let Some(next) = dialing.next_attempt_at {
        out.push(field("next attempt", &clock::full(next)));
    }
    for (n, attempt) in dialing.attempts.iter().enumerate() {
        let mut text = format!("{} {}", clock::full(attempt.at), attempt.outcome.name());
        if let Some(staff) = &attempt.staff {
            text.push_str(&format!(", staff {staff}"));
        }
        if let Some(detail) = &attempt.detail {
            text.push_str(&format!(": {}", cut(detail)));
        }
        out.push((format!("· attempt {}", n + 1), text));
    }
    out
}

fn booking_fields(b: &Booking) -> Vec<(String, String)> {
    vec![
        field("reference", &b.reference),
        field("status", status(b.status)),
        field("for", &resource(&b.resource)),
        field("when", &clock::full(b.slot.start)),
        field("length", &minutes(b.slot.duration_ms)),
        field("caller", &or_dash(&b.caller)),
        field("booked", &clock::full(b.created_at)),
        field("call", &b.call_id),
        field("schema", &b.schema.to_string()),
    ]
}

fn field(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

// ------------------------------------------------------------------ cells

fn status(status: Status) -> &'static str {
    match status {
        Status::Open => "open",
        Status::Closed => "closed",
        Status::Cancelled => "cancelled",
    }
}

fn resource(resource: &Resource) -> String {
    match resource {
        Resource::Office(name) => format!("office {name}"),
        Resource::Service(name) => format!("service {name}"),
    }
}

fn minutes(ms: u64) -> String {
    format!("{} min", ms / 60_000)
}

fn or_dash(text: &str) -> String {
    if text.is_empty() {
        String::from("-")
    } else {
        text.to_owned()
    }
}

/// `civico=5 via=123`: a ticket's fields on one line.
fn fields_line(fields: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    or_dash(&pairs.join(" "))
}

/// At most [`CELL_MAX`] characters, on one line.
fn cut(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= CELL_MAX {
        return one_line;
    }
    let mut out: String = one_line.chars().take(CELL_MAX - 1).collect();
    out.push('…');
    out
}

/// Columns padded to their widest cell, two spaces apart; the last is not padded.
pub(super) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    pub(super) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(super) fn render(&self) -> String {
        let mut widths: Vec<usize> = Vec::new();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                let width = cell.chars().count();
                match widths.get_mut(i) {
                    Some(w) => *w = (*w).max(width),
                    None => widths.push(width),
                }
            }
        }
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if i + 1 < row.len() {
                    let width = widths.get(i).copied().unwrap_or(0);
                    line.push_str(&" ".repeat(width.saturating_sub(cell.chars().count())));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_on_the_widest_cell() {
        let mut table = Table::new(&["A", "LONG HEADER", "LAST"]);
        table.row(vec!["wider cell".into(), "x".into(), "end".into()]);
        assert_eq!(
            table.render(),
            "A           LONG HEADER  LAST\nwider cell  x            end\n"
        );
    }

    #[test]
    fn long_cells_are_cut_and_kept_on_one_line() {
        assert_eq!(cut("a\nb"), "a b");
        let long = "è".repeat(60);
        let cut = cut(&long);
        assert_eq!(cut.chars().count(), CELL_MAX);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn a_missing_directory_is_not_created() {
        let dir = std::env::temp_dir().join("centralino-no-such-store-dir");
        let error = must_hold_a_store(&dir)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("no such data directory"), "{error}");
        assert!(!dir.exists());
    }
}
