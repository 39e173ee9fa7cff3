//! `centralino graph`: a picture of the flows staff can open (dot, Mermaid, or SVG via Graphviz).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use centralino_compiler::emit;
use clap::{Args, ValueEnum};

use super::compile::graph_or_diagnostics;
use super::{CLEAN, Color, output};

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Flow files or folders to draw [default: flows/]
    paths: Vec<PathBuf>,

    /// `dot` (Graphviz source), `mermaid` (renders in GitHub markdown) or `svg` (needs Graphviz).
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    format: Format,

    /// Where to write the picture [default: standard output].
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Dot,
    Mermaid,
    Svg,
}

pub fn run(args: &GraphArgs, color: Color, lang: centralino_compiler::Lang) -> anyhow::Result<u8> {
    let graph = match graph_or_diagnostics(&args.paths, color, lang)? {
        Ok(graph) => graph,
        Err(code) => return Ok(code),
    };
    let picture = match args.format {
        Format::Dot => emit::dot(&graph).into_bytes(),
        Format::Mermaid => emit::mermaid(&graph).into_bytes(),
        Format::Svg => svg(&emit::dot(&graph))?,
    };
    match &args.output {
        Some(path) => output::write_atomic(path, &picture)?,
        None => output::stdout(&picture)?,
    }
    Ok(CLEAN)
}

/// Pipe dot source through Graphviz: `dot -Tsvg`.
fn svg(dot: &str) -> anyhow::Result<Vec<u8>> {
    let mut child = match Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("svg needs Graphviz (apt-get install graphviz)")
        }
        Err(e) => return Err(e).context("cannot run Graphviz `dot`"),
    };
    // Feed dot from another thread so a large picture cannot fill both pipes and stall.
    let mut stdin = child
        .stdin
        .take()
        .context("cannot write to Graphviz `dot`")?;
    let input = dot.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let done = child
        .wait_with_output()
        .context("Graphviz `dot` did not finish")?;
    let written = writer.join();
    if !done.status.success() {
        bail!(
            "Graphviz `dot` failed ({}): {}",
            done.status,
            String::from_utf8_lossy(&done.stderr).trim()
        );
    }
    match written {
        Ok(Ok(())) => Ok(done.stdout),
        Ok(Err(e)) => Err(e).context("cannot write to Graphviz `dot`"),
        Err(_) => bail!("cannot write to Graphviz `dot`"),
    }
}
