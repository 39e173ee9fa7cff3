//! Large synthetic deployments compile cleanly, to the expected size.

use centralino_compiler::{compile, render, synthetic};

#[test]
fn ten_thousand_states_compile_cleanly() {
    let sources = synthetic::deployment(10_000);
    let compiled = compile(&sources);
    assert!(
        compiled.diagnostics.is_empty(),
        "{}",
        render::human(&sources, &compiled.diagnostics, false)
    );
    let graph = compiled.graph.expect("graph");
    assert_eq!(graph.nodes.len(), 10_000);
    assert_eq!(graph.flows.len(), 1_000);
    assert_eq!(graph.numbers.len(), 1_000);
}
