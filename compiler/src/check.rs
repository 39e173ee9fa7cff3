//! Checks: everything that can be wrong with a deployment that parses.
//!
//! ```text
//!  files ──► Symbols (definitions; E003 duplicates)
//!              ├─► names      unknown names, values, prompts, templates, audio, calendars, unused
//!              └─► structure  exits, dead ends, reachability, loops, sub-flow calls
//! ```
//!
//! Every check reports [`Problem`]s and goes on; nothing stops at the first.

pub mod audio;
pub mod exits;
mod names;
mod structure;
pub mod templates;
pub mod values;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::ast::{self, Item};
use crate::diagnostic::{Diagnostics, NameKind, Problem};
use crate::source::Sources;

/// Most retries a menu or collect may have.
pub const MAX_RETRIES: u64 = 5;

/// Every definition of a deployment by name. When a name is defined twice the
/// first one wins (the second is reported as E003).
#[derive(Debug, Default)]
pub struct Symbols<'a> {
    pub calendars: BTreeMap<&'a str, &'a ast::Calendar>,
    pub offices: BTreeMap<&'a str, &'a ast::Office>,
    pub categories: BTreeMap<&'a str, &'a ast::Category>,
    pub services: BTreeMap<&'a str, &'a ast::Service>,
    pub prompts: BTreeMap<&'a str, &'a ast::PromptDef>,
    pub flows: BTreeMap<&'a str, &'a ast::Flow>,
    /// Every flow in source order (including duplicates), for per-flow checks.
    pub all_flows: Vec<&'a ast::Flow>,
    /// Definitions that failed to parse: never reported as unknown.
    pub broken: Vec<(NameKind, String)>,
}

impl<'a> Symbols<'a> {
    pub fn build(
        files: &'a [ast::File],
        broken: &[(NameKind, String)],
        diagnostics: &mut Diagnostics,
    ) -> Self {
        let mut symbols = Symbols {
            broken: broken.to_vec(),
            ..Symbols::default()
        };
        fn insert<'a, T>(
            map: &mut BTreeMap<&'a str, &'a T>,
            kind: NameKind,
            name: &'a ast::Ident,
            item: &'a T,
            span_of: impl Fn(&T) -> crate::source::Span,
            diagnostics: &mut Diagnostics,
        ) {
            match map.get(name.name.as_str()) {
                Some(previous) => diagnostics.report(Problem::DuplicateDefinition {
                    kind,
                    name: name.name.clone(),
                    span: name.span,
                    previous: span_of(previous),
                }),
                None => {
                    map.insert(name.name.as_str(), item);
                }
            }
        }
        for file in files {
            for item in &file.items {
                match item {
                    Item::Import(_) => {}
                    Item::Calendar(c) => insert(
                        &mut symbols.calendars,
                        NameKind::Calendar,
                        &c.name,
                        c,
                        |p| p.name.span,
                        diagnostics,
                    ),
                    Item::Office(o) => insert(
                        &mut symbols.offices,
                        NameKind::Office,
                        &o.name,
                        o,
                        |p| p.name.span,
                        diagnostics,
                    ),
                    Item::Category(c) => insert(
                        &mut symbols.categories,
                        NameKind::Category,
                        &c.name,
                        c,
                        |p| p.name.span,
                        diagnostics,
                    ),
                    Item::Service(s) => insert(
                        &mut symbols.services,
                        NameKind::Service,
                        &s.name,
                        s,
                        |p| p.name.span,
                        diagnostics,
                    ),
                    Item::Prompt(p) => insert(
                        &mut symbols.prompts,
                        NameKind::Prompt,
                        &p.name,
                        p,
                        |p| p.name.span,
                        diagnostics,
                    ),
                    Item::Flow(f) => {
                        symbols.all_flows.push(f);
                        insert(
                            &mut symbols.flows,
                            NameKind::Flow,
                            &f.name,
                            f,
                            |p| p.name.span,
                            diagnostics,
                        );
                    }
                }
            }
        }
        symbols
    }

    /// Whether a definition of this kind and name failed to parse.
    pub fn is_broken(&self, kind: NameKind, name: &str) -> bool {
        self.broken.iter().any(|(k, n)| *k == kind && n == name)
    }
}

/// Facts the checks learned that the graph needs.
#[derive(Debug, Default)]
pub struct Checked {
    /// Audio files the prompts play, by the path the runtime will open.
    pub audio: BTreeMap<PathBuf, AudioFacts>,
    /// Variables each template reads, by template text (parsed once, reused by lowering).
    pub templates: std::collections::HashMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct AudioFacts {
    pub info: audio::AudioInfo,
    pub sha256: String,
}

/// Run every check over the parsed files.
pub fn check(
    sources: &Sources,
    files: &[ast::File],
    broken: &[(NameKind, String)],
    diagnostics: &mut Diagnostics,
) -> Checked {
    let symbols = Symbols::build(files, broken, diagnostics);
    let mut checked = Checked::default();
    names::check(sources, files, &symbols, &mut checked, diagnostics);
    structure::check(&symbols, diagnostics);
    checked
}

/// Up to three names close to `name`, best first, for "did you mean".
pub fn suggest<'n>(name: &str, candidates: impl IntoIterator<Item = &'n str>) -> Vec<String> {
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| {
            (
                strsim::jaro_winkler(&name.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_owned())
        .collect()
}
