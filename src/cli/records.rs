//! `centralino tickets|callbacks|appointments list|show`: what calls left in the store.
//!
//! ```text
//!   --data DIR (default ./data) ──SledStore──► records ──► aligned table / `show` fields / --json
//! ```
//!
//! The store is only opened when the directory already holds one: listing never
//! creates a data directory. Times are shown in Europe/Rome; `--json` keeps the
//! stored instants (RFC 3339, UTC). A damaged ticket is skipped with a warning
//! on stderr and the others are listed. Exit codes: 0 listed or shown, 1 no
//! record with that reference (or records that cannot be listed around a damaged
//! one), 2 no store there or it cannot be opened.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use centralino_runtime::store::{
    Booking, Callback, Resource, SledStore, Status, Store, StoreConfig, StoreError, Ticket,
};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::{CLEAN, PROBLEMS, clock, output};

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
}

#[derive(Debug, Args)]
struct StoreArgs {
    /// The data directory of the store.
    #[arg(long, value_name = "DIR", default_value = "data")]
    data: PathBuf,

    /// Print JSON (a list, or one record) instead of text.
    #[arg(long)]
    json: bool,
}

/// Which records a command is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tickets,
    Callbacks,
    Appointments,
}

impl Kind {
    /// The plural, as in the command name.
    fn plural(self) -> &'static str {
        match self {
            Kind::Tickets => "tickets",
            Kind::Callbacks => "callbacks",
            Kind::Appointments => "appointments",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Kind::Tickets => "ticket",
            Kind::Callbacks => "callback",
            Kind::Appointments => "appointment",
        }
    }
}

pub fn run(kind: Kind, args: &RecordsArgs) -> anyhow::Result<u8> {
    match &args.action {
        Action::List(store) => list(kind, store),
        Action::Show { reference, store } => show(kind, reference, store),
    }
}

/// Opens the store in `dir` without ever creating one: a missing directory, or
/// one sled never wrote, is an error (exit 2).
fn open(dir: &Path) -> anyhow::Result<SledStore> {
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
    SledStore::open(dir, StoreConfig::default()).with_context(|| {
        format!("cannot open the store in {shown} (is a running Centralino holding it?)")
    })
}

// ------------------------------------------------------------------ list

fn list(kind: Kind, args: &StoreArgs) -> anyhow::Result<u8> {
    let store = open(&args.data)?;
    let (text, damaged) = match kind {
        Kind::Tickets => {
            let (tickets, damaged) = store.tickets_skipping_damaged()?;
            (render(args.json, &tickets, ticket_rows)?, damaged)
        }
        Kind::Callbacks => match store.callbacks() {
            Ok(callbacks) => (render(args.json, &callbacks, callback_rows)?, Vec::new()),
            Err(error) => return cannot_list_around(kind, &store, error),
        },
        Kind::Appointments => match store.bookings() {
            Ok(bookings) => (render(args.json, &bookings, booking_rows)?, Vec::new()),
            Err(error) => return cannot_list_around(kind, &store, error),
        },
    };
    let text = if text.is_empty() {
        format!("no {} in {}\n", kind.plural(), args.data.display())
    } else {
        text
    };
    output::stdout(text.as_bytes())?;
    for problem in &damaged {
        eprintln!("warning: {problem}; it is not listed");
    }
    Ok(CLEAN)
}

/// A listing with no way around a damaged record: name every damaged record, fail.
fn cannot_list_around(kind: Kind, store: &SledStore, error: StoreError) -> anyhow::Result<u8> {
    let StoreError::Corrupt { .. } = error else {
        return Err(error.into());
    };
    let tree = match kind {
        Kind::Tickets => "tickets",
        Kind::Callbacks => "callbacks",
        Kind::Appointments => "bookings",
    };
    let problems: Vec<StoreError> = store
        .verify()?
        .into_iter()
        .filter(|p| matches!(p, StoreError::Corrupt { tree: t, .. } if *t == tree))
        .collect();
    if problems.is_empty() {
        eprintln!("warning: {error}");
    }
    for problem in &problems {
        eprintln!("warning: {problem}");
    }
    eprintln!(
        "error: cannot list {} around damaged records yet; `show REF` still reads the others",
        kind.plural()
    );
    Ok(PROBLEMS)
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

fn show(kind: Kind, reference: &str, args: &StoreArgs) -> anyhow::Result<u8> {
    let store = open(&args.data)?;
    let reference = reference.trim();
    let found = match kind {
        Kind::Tickets => store
            .ticket(reference)?
            .map(|t| present(args.json, &t, ticket_fields)),
        Kind::Callbacks => {
            find_callback(&store, reference)?.map(|c| present(args.json, &c, callback_fields))
        }
        Kind::Appointments => store
            .booking(reference)?
            .map(|b| present(args.json, &b, booking_fields)),
    };
    match found {
        Some(text) => {
            output::stdout(text?.as_bytes())?;
            Ok(CLEAN)
        }
        None => {
            eprintln!(
                "error: no {} {reference} in {}",
                kind.singular(),
                args.data.display()
            );
            Ok(PROBLEMS)
        }
    }
}

/// The store has no lookup by callback reference; callbacks are few.
fn find_callback(store: &SledStore, reference: &str) -> Result<Option<Callback>, StoreError> {
    Ok(store
        .callbacks()?
        .into_iter()
        .find(|c| c.reference == reference))
}

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
        field("schema", &t.schema.to_string()),
    ];
    out.extend(r.fields.iter().map(|(k, v)| (format!("· {k}"), v.clone())));
    out
}

fn callback_fields(c: &Callback) -> Vec<(String, String)> {
    let r = &c.request;
    vec![
        field("reference", &c.reference),
        field("status", status(c.status)),
        field("office", &r.office),
        field("call back", &or_dash(&r.number)),
        field("note", r.note.as_deref().unwrap_or("-")),
        field("created", &clock::full(r.created_at)),
        field("call", &r.call_id),
        field("schema", &c.schema.to_string()),
    ]
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
struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self) -> String {
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
        let error = open(&dir).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("no such data directory"), "{error}");
        assert!(!dir.exists());
    }
}
