//! Diagnostics and graphs of the fixtures in `tests/ui/`.
//!
//! - `err_<code>_<what>.flow`: must report `<code>` (e.g. `err_e002_unknown_state.flow`
//!   reports E002); the snapshot shows the source, then every rendered diagnostic.
//! - `ok_<what>.flow`: must compile with no diagnostic at all; the snapshot is its graph.

use std::path::Path;

use centralino_compiler::{Lang, Sources, compile, render};

fn load(path: &Path) -> Sources {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    // Relative to the crate, so snapshots do not depend on where the repo lives.
    let relative = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .expect("fixture inside the crate");
    let mut sources = Sources::new();
    sources.add(relative, text);
    sources
}

fn expected_code(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    stem.split('_').nth(1).unwrap_or("").to_uppercase()
}

#[test]
fn error_fixtures() {
    insta::glob!("ui/err_*.flow", |path| {
        let sources = load(path);
        let compiled = compile(&sources);
        let code = expected_code(path);
        assert!(
            compiled.diagnostics.iter().any(|d| d.code == code),
            "{} should report {code}, got: {:?}",
            path.display(),
            compiled
                .diagnostics
                .iter()
                .map(|d| d.code)
                .collect::<Vec<_>>()
        );
        if code.starts_with('E') {
            assert!(compiled.graph.is_none(), "an error must stop the graph");
        }
        let source = sources
            .iter()
            .next()
            .map(|(_, f)| f.text.clone())
            .unwrap_or_default();
        let rendered = render::human(&sources, &compiled.diagnostics, false);
        insta::assert_snapshot!(format!("SOURCE CODE\n{source}\nDIAGNOSTICS\n{rendered}"));
    });
}

#[test]
fn ok_fixtures() {
    insta::glob!("ui/ok_*.flow", |path| {
        let sources = load(path);
        let compiled = compile(&sources);
        assert!(
            compiled.diagnostics.is_empty(),
            "{} should compile cleanly:\n{}",
            path.display(),
            render::human(&sources, &compiled.diagnostics, false)
        );
        let graph = compiled.graph.expect("graph");
        insta::assert_json_snapshot!(graph);
    });
}

/// A few fixtures rendered in Italian too (`--lang it`): the same diagnostics, in other words.
#[test]
fn error_fixtures_in_italian() {
    for name in [
        "err_e001_syntax",
        "err_e002_unknown_state",
        "err_e003_duplicate_state",
        "err_e009_menu_without_fallbacks",
        "err_e022_flow_bounds",
        "err_e036_curly_quotes",
        "err_e036_italian_days",
        "err_e037_unclosed_text",
        "err_e039_staff_address",
        "err_w002_unused_definitions",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/ui")
            .join(format!("{name}.flow"));
        let sources = load(&path);
        let english = compile(&sources).diagnostics;
        let italian = english.clone().in_language(Lang::It);
        let codes = |d: &centralino_compiler::Diagnostics| {
            d.iter().map(|d| (d.code, d.span)).collect::<Vec<_>>()
        };
        assert_eq!(codes(&english), codes(&italian), "{name}: same problems");
        let rendered = render::human(&sources, &italian, false);
        insta::assert_snapshot!(format!("{name}_it"), rendered);
    }
}
