//! `centralino directory [SEARCH]`: the shared address book (offices, staff, external
//! contacts) as the desk phones get it from `serve`, printed for a person or as a file.
//!
//! ```text
//!  --flows DIR (or [flows] dir) ─► compile ─┐
//!  --contacts FILE (or [directory] contacts) ┴─► Book ─► search ─► text │ yealink │ snom │ vcard
//! ```
//!
//! The same code builds the book the HTTP side serves, so what this prints is what phones show.

use std::path::PathBuf;

use centralino_compiler::{compile, render};
use centralino_runtime::http::directory::read_contacts;
use centralino_runtime::people::directory::{self, Book};
use clap::{Args, ValueEnum};

use super::serve::config::ServeConfig;
use super::{CLEAN, Color, PROBLEMS, load_sources, output};

#[derive(Debug, Args)]
pub struct DirectoryArgs {
    /// Words to look for in names, offices and numbers (case and accents ignored; every word
    /// must match) [default: the whole book].
    search: Vec<String>,
    /// The flows whose offices and staff make the book [default: flows, or the config's].
    #[arg(long, value_name = "DIR")]
    flows: Option<PathBuf>,
    /// External contacts, CSV `name,number,group` [default: the config's `directory.contacts`].
    #[arg(long, value_name = "FILE")]
    contacts: Option<PathBuf>,
    /// The `serve` configuration file to take `flows.dir` and `directory.contacts` from.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// `text` (aligned columns), `yealink` or `snom` (XML phone books), `vcard` (vCard 3.0).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Yealink,
    Snom,
    Vcard,
}

impl From<Format> for directory::Format {
    fn from(format: Format) -> Self {
        match format {
            Format::Text => directory::Format::Text,
            Format::Yealink => directory::Format::Yealink,
            Format::Snom => directory::Format::Snom,
            Format::Vcard => directory::Format::Vcard,
        }
    }
}

pub fn run(
    args: &DirectoryArgs,
    color: Color,
    lang: centralino_compiler::Lang,
) -> anyhow::Result<u8> {
    let config = match &args.config {
        Some(path) => Some(ServeConfig::load(path)?),
        None => None,
    };
    let flows = args
        .flows
        .clone()
        .or_else(|| config.as_ref().map(|c| c.flows.dir.clone()))
        .unwrap_or_else(|| PathBuf::from("flows"));
    let contacts_path = args
        .contacts
        .clone()
        .or_else(|| config.and_then(|c| c.directory.contacts));

    let sources = load_sources(std::slice::from_ref(&flows))?;
    let compiled = compile(&sources);
    let graph = match compiled.graph {
        Some(graph) if !compiled.diagnostics.has_errors() => graph,
        _ => {
            // Only errors are shown: warnings are `check`'s business, not the phone book's.
            eprint!(
                "{}",
                render::human(
                    &sources,
                    &compiled.diagnostics.clone().in_language(lang),
                    color.stderr(),
                )
            );
            eprintln!("error: the flows have errors; no address book");
            return Ok(PROBLEMS);
        }
    };
    let contacts = match &contacts_path {
        Some(path) => read_contacts(path)?,
        None => Vec::new(),
    };
    let book = Book::build(&graph, &contacts);
    let search = args.search.join(" ");
    let found = book.search(&search);
    if book.entries().is_empty() {
        eprintln!("the address book is empty: the flows have no office");
    } else if found.is_empty() {
        eprintln!("no entry matches `{search}`");
    }
    output::stdout(directory::render(args.format.into(), &found).as_bytes())?;
    Ok(CLEAN)
}
