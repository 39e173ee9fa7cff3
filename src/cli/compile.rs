//! `centralino compile`: the graph the runtime loads, as JSON, written only when the flows are clean.

use std::path::PathBuf;

use anyhow::Context;
use centralino_compiler::{Graph, Lang, compile, render};
use clap::Args;

use super::{CLEAN, Color, PROBLEMS, load_sources, output};

#[derive(Debug, Args)]
pub struct CompileArgs {
    /// Flow files or folders to compile [default: flows/]
    paths: Vec<PathBuf>,

    /// Where to write the graph [default: standard output]. Left untouched when there are errors.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Load and compile; print the diagnostics to stderr. `Err(code)` when there is no graph to use.
pub(super) fn graph_or_diagnostics(
    paths: &[PathBuf],
    color: Color,
    lang: Lang,
) -> anyhow::Result<Result<Graph, u8>> {
    let sources = load_sources(paths)?;
    let compiled = compile(&sources);
    if !compiled.diagnostics.is_empty() {
        eprint!(
            "{}",
            render::human(
                &sources,
                &compiled.diagnostics.clone().in_language(lang),
                color.stderr(),
            )
        );
    }
    match compiled.graph {
        Some(graph) if !compiled.diagnostics.has_errors() => Ok(Ok(graph)),
        Some(_) => Ok(Err(PROBLEMS)),
        None if compiled.diagnostics.has_errors() => Ok(Err(PROBLEMS)),
        None => anyhow::bail!("the compiler produced no graph and reported no error (a bug)"),
    }
}

pub fn run(args: &CompileArgs, color: Color, lang: Lang) -> anyhow::Result<u8> {
    let graph = match graph_or_diagnostics(&args.paths, color, lang)? {
        Ok(graph) => graph,
        Err(code) => return Ok(code),
    };
    let mut json = serde_json::to_string_pretty(&graph).context("cannot serialize the graph")?;
    json.push('\n');
    match &args.output {
        Some(path) => output::write_atomic(path, json.as_bytes())?,
        None => output::stdout(json.as_bytes())?,
    }
    Ok(CLEAN)
}
