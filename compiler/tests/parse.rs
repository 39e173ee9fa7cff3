//! Parse trees of `tests/parse/*.flow`, as YAML snapshots of the AST.

use centralino_compiler::diagnostic::Diagnostics;
use centralino_compiler::source::SourceId;
use centralino_compiler::syntax;

#[test]
fn parse_trees() {
    insta::glob!("parse/*.flow", |path| {
        let text = std::fs::read_to_string(path).expect("fixture readable");
        let mut diagnostics = Diagnostics::new();
        let parsed = syntax::parse(SourceId(0), &text, &mut diagnostics);
        assert!(
            diagnostics.is_empty(),
            "{} should parse cleanly: {:#?}",
            path.display(),
            diagnostics
        );
        insta::assert_yaml_snapshot!(parsed.file);
    });
}
