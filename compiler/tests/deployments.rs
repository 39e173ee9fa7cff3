//! The real Perugia deployment (`flows/`) and every example in `examples/` compile
//! with zero diagnostics; the Perugia graph is snapshotted.

use std::path::PathBuf;

use centralino_compiler::{compile, load, render};

fn compile_clean(dir: &str) -> centralino_compiler::Graph {
    let sources = load::load(&[PathBuf::from(dir)]).expect("deployment loads");
    let compiled = compile(&sources);
    assert!(
        compiled.diagnostics.is_empty(),
        "{dir} must compile with zero diagnostics:\n{}",
        render::human(&sources, &compiled.diagnostics, false)
    );
    compiled.graph.expect("graph")
}

#[test]
fn perugia_compiles_with_zero_diagnostics() {
    let graph = compile_clean("../flows");
    assert!(
        graph.flow_for_number("075075075").is_some(),
        "075 075 075 must be answered"
    );
    insta::assert_json_snapshot!("perugia_graph", graph);
}

#[test]
fn examples_compile_with_zero_diagnostics() {
    let mut count = 0;
    for entry in std::fs::read_dir("../examples").expect("examples/") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            let graph = compile_clean(&path.to_string_lossy());
            assert!(
                !graph.numbers.is_empty(),
                "{} answers no number",
                path.display()
            );
            count += 1;
        }
    }
    assert!(count >= 1, "examples/ holds at least one deployment");
}
