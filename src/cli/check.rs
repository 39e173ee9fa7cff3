//! `centralino check`: report every problem in the flows, for people or for CI.

use std::path::PathBuf;

use centralino_compiler::{Lang, compile, render};
use clap::{Args, ValueEnum};

use super::{CLEAN, Color, PROBLEMS, format, load_sources, output};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Flow files or folders to check [default: flows/]
    paths: Vec<PathBuf>,

    /// How to print diagnostics: `human` (source snippets), `json`,
    /// `github` (GitHub Actions annotations) or `sarif` (code scanning).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,

    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    deny_warnings: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
    Github,
    Sarif,
}

pub fn run(args: &CheckArgs, color: Color, lang: Lang) -> anyhow::Result<u8> {
    let sources = load_sources(&args.paths)?;
    let compiled = compile(&sources);
    let diagnostics = &compiled.diagnostics.in_language(lang);
    let text = match args.format {
        Format::Human => render::human(&sources, diagnostics, color.stdout()),
        Format::Json => format::json(&sources, diagnostics)?,
        Format::Github => format::github(&sources, diagnostics),
        Format::Sarif => format::sarif(&sources, diagnostics)?,
    };
    output::stdout(text.as_bytes())?;
    let failed =
        diagnostics.has_errors() || (args.deny_warnings && diagnostics.warning_count() > 0);
    Ok(if failed { PROBLEMS } else { CLEAN })
}
