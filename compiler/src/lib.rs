//! centralino-compiler: turns a city's `.flow` files into a checked state-machine graph.
//!
//! ```text
//!  .flow text ──► syntax (pest) ──► ast ──► check ──► graph ──► emit (json, dot, mermaid)
//!                      │                      │
//!                      └──── diagnostics ◄────┘   (codes, spans, labels, help; all collected)
//! ```
//!
//! The only I/O here is reading flow sources and the audio files that prompts name.

pub mod ast;
pub mod audio;
pub mod calendar;
pub mod check;
pub mod coverage;
pub mod diagnostic;
pub mod emit;
pub mod graph;
pub mod index;
pub mod lang;
pub mod load;
pub mod render;
pub mod scenario;
pub mod source;
pub mod syntax;
pub mod synthetic;

pub use diagnostic::{Diagnostic, Diagnostics, Problem, Severity};
pub use graph::Graph;
pub use lang::Lang;
pub use source::{SourceId, Sources, Span};

/// The outcome of a compilation: the graph when there were no errors, and every diagnostic.
#[derive(Debug)]
pub struct Compiled {
    pub graph: Option<Graph>,
    pub diagnostics: Diagnostics,
}

/// Parse, check and lower every source. Never stops at the first problem.
pub fn compile(sources: &Sources) -> Compiled {
    let mut diagnostics = Diagnostics::new();
    let mut files = Vec::new();
    let mut broken = Vec::new();
    let mut syntax_errors = false;
    for (parsed, file_diagnostics) in parse_all(sources) {
        syntax_errors |= file_diagnostics.has_errors();
        if parsed.file.items.is_empty() && parsed.broken.is_empty() && file_diagnostics.is_empty() {
            diagnostics.report(Problem::EmptyFile {
                file: sources
                    .get(parsed.file.source)
                    .map(source::SourceFile::name)
                    .unwrap_or_default(),
                span: Span::empty_at(parsed.file.source),
            });
        }
        files.push(parsed.file);
        broken.extend(parsed.broken);
        diagnostics.extend(file_diagnostics);
    }
    let no_flow = !files
        .iter()
        .flat_map(|f| &f.items)
        .any(|item| matches!(item, ast::Item::Flow(_)))
        && !broken
            .iter()
            .any(|(kind, _)| *kind == diagnostic::NameKind::Flow);
    if let Some((first, _)) = sources.iter().next()
        && no_flow
        && !syntax_errors
    {
        diagnostics.report(Problem::NoFlow {
            span: Span::empty_at(first),
        });
    }
    let checked = check::check(sources, &files, &broken, &mut diagnostics);
    let graph = if diagnostics.has_errors() {
        None
    } else {
        Some(graph::lower(sources, &files, &checked))
    };
    diagnostics.sort();
    Compiled { graph, diagnostics }
}

/// Below this much source text, parsing on one thread is faster than starting others.
const PARALLEL_PARSE_BYTES: usize = 256 * 1024;

/// Parse every file, in order; large deployments are split across the machine's cores.
fn parse_all(sources: &Sources) -> Vec<(syntax::Parsed, Diagnostics)> {
    let files: Vec<(SourceId, &str)> = sources
        .iter()
        .map(|(id, f)| (id, f.text.as_str()))
        .collect();
    let parse_one = |(id, text): &(SourceId, &str)| {
        let mut diagnostics = Diagnostics::new();
        let parsed = syntax::parse(*id, text, &mut diagnostics);
        (parsed, diagnostics)
    };
    let total: usize = files.iter().map(|(_, t)| t.len()).sum();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if threads < 2 || files.len() < 2 || total < PARALLEL_PARSE_BYTES {
        return files.iter().map(parse_one).collect();
    }
    // Contiguous chunks of about equal text, so results stay in file order.
    let per_thread = total.div_ceil(threads);
    let mut chunks: Vec<&[(SourceId, &str)]> = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, (_, text)) in files.iter().enumerate() {
        size += text.len();
        if size >= per_thread {
            chunks.push(files.get(start..=i).unwrap_or_default());
            start = i + 1;
            size = 0;
        }
    }
    if start < files.len() {
        chunks.push(files.get(start..).unwrap_or_default());
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| scope.spawn(move || chunk.iter().map(parse_one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(parsed) => parsed,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}
