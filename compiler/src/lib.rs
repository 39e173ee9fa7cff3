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
pub mod check;
pub mod diagnostic;
pub mod emit;
pub mod graph;
pub mod load;
pub mod render;
pub mod source;
pub mod syntax;

pub use diagnostic::{Diagnostic, Diagnostics, Problem, Severity};
pub use graph::Graph;
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
    for (id, file) in sources.iter() {
        let parsed = syntax::parse(id, &file.text, &mut diagnostics);
        files.push(parsed.file);
        broken.extend(parsed.broken);
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
