//! End-to-end tests of the `centralino` binary: exit codes, every output format, files written.
//!
//! Fixtures are in `tests/fixtures/`: `clean/` (two files, an import, a
//! sub-flow), `broken/` (two different errors in one file) and `warning/`.
//! The binary runs from the package root with relative paths, so the file
//! names it prints (and the snapshots) do not depend on where the repo is.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use centralino_compiler::Graph;
use serde_json::Value;
use support::{assert_no_panic, centralino, code, root, stderr, stdout};

const CLEAN: &str = "tests/fixtures/clean";
const BROKEN: &str = "tests/fixtures/broken";
const WARNING: &str = "tests/fixtures/warning";

fn has_graphviz() -> bool {
    Command::new("dot")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

// ------------------------------------------------------------------ check

#[test]
fn check_clean_exits_0() {
    let out = centralino(&["check", CLEAN]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out), "no problems found\n");
}

#[test]
fn check_broken_exits_1_and_shows_every_error() {
    let out = centralino(&["check", BROKEN]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(text.contains("error[E004]"), "{text}");
    assert!(text.contains("error[E002]"), "{text}");
    assert!(text.ends_with("2 errors\n"), "{text}");
    // Not a terminal, so no colour.
    assert!(!text.contains('\u{1b}'), "{text}");
    insta::assert_snapshot!("check_broken_human", text);
}

#[test]
fn check_colours_only_when_asked() {
    let always = stdout(&centralino(&["check", BROKEN, "--color", "always"]));
    assert!(always.contains('\u{1b}'), "{always}");
    let never = stdout(&centralino(&["check", BROKEN, "--color", "never"]));
    assert!(!never.contains('\u{1b}'), "{never}");
}

#[test]
fn warnings_alone_pass_unless_denied() {
    let out = centralino(&["check", WARNING]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(stdout(&out).contains("warning[W001]"), "{}", stdout(&out));
    assert!(stdout(&out).ends_with("1 warning\n"), "{}", stdout(&out));
    let denied = centralino(&["check", WARNING, "--deny-warnings"]);
    assert_eq!(code(&denied), 1);
}

#[test]
fn a_single_file_with_its_imports_checks() {
    let out = centralino(&["check", "tests/fixtures/clean/main.flow"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
}

#[test]
fn missing_path_exits_2_with_one_clear_line() {
    let out = centralino(&["check", "tests/fixtures/no-such-folder"]);
    assert_eq!(code(&out), 2);
    assert_no_panic(&out);
    assert_eq!(
        stderr(&out),
        "error: tests/fixtures/no-such-folder: no such file or directory\n"
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn a_folder_without_flows_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = centralino(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert_no_panic(&out);
    assert!(
        stderr(&out).contains("no .flow files found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_file_that_is_not_text_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("main.flow");
    std::fs::write(&path, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let out = centralino(&["check", path.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert_no_panic(&out);
    assert!(stderr(&out).contains("not a text file"), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["check", "--format", "xml"][..],
        &["frobnicate"][..],
        &["graph", CLEAN, "--format", "png"][..],
        &[][..],
    ] {
        let out = centralino(args);
        assert_eq!(code(&out), 2, "{args:?}");
        assert_no_panic(&out);
    }
}

#[test]
fn json_has_codes_lines_and_counts() {
    let out = centralino(&["check", BROKEN, "--format", "json"]);
    assert_eq!(code(&out), 1);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["errors"], 2);
    assert_eq!(report["warnings"], 0);
    let diagnostics = report["diagnostics"].as_array().unwrap();
    let found: Vec<(&str, u64)> = diagnostics
        .iter()
        .map(|d| (d["code"].as_str().unwrap(), d["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(found, vec![("E004", 9), ("E002", 10)]);
    let unknown = &diagnostics[1];
    assert_eq!(unknown["file"], "tests/fixtures/broken/main.flow");
    assert_eq!(unknown["severity"], "error");
    assert_eq!(unknown["column"], 25);
    assert_eq!(unknown["end_line"], 10);
    assert_eq!(unknown["end_column"], 32);
    assert_eq!(unknown["help"], "did you mean `saluto`?");
    let duplicate = &diagnostics[0];
    assert_eq!(duplicate["related"][0]["line"], 8);
    assert!(duplicate["related"][0]["message"].is_string());
    for field in ["message", "label"] {
        assert!(duplicate[field].is_string(), "{field}");
    }
}

#[test]
fn json_of_a_clean_deployment_is_empty() {
    let out = centralino(&["check", CLEAN, "--format", "json"]);
    assert_eq!(code(&out), 0);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["diagnostics"], Value::Array(Vec::new()));
    assert_eq!(report["errors"], 0);
}

#[test]
fn github_annotations_one_per_diagnostic() {
    let out = centralino(&["check", BROKEN, "--format", "github"]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for line in &lines[..2] {
        assert!(line.starts_with("::error file="), "{line}");
    }
    assert!(
        lines[1].starts_with(
            "::error file=tests/fixtures/broken/main.flow,line=10,col=25,endLine=10,endColumn=32,title=E002::"
        ),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains("%0Ahelp: did you mean `saluto`?"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "2 errors");
}

#[test]
fn github_warnings_are_warning_commands() {
    let out = centralino(&["check", WARNING, "--format", "github"]);
    let text = stdout(&out);
    assert!(text.starts_with("::warning file="), "{text}");
    assert!(text.contains("title=W001::"), "{text}");
}

#[test]
fn sarif_is_2_1_0_with_a_result_per_diagnostic() {
    let out = centralino(&["check", BROKEN, "--format", "sarif"]);
    assert_eq!(code(&out), 1);
    let log: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "centralino");
    assert!(
        driver["informationUri"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let rules: Vec<&str> = driver["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, vec!["E002", "E004"]);
    for rule in driver["rules"].as_array().unwrap() {
        assert!(rule["shortDescription"]["text"].is_string());
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let second = &results[1];
    assert_eq!(second["ruleId"], "E002");
    assert_eq!(second["level"], "error");
    assert_eq!(
        rules[second["ruleIndex"].as_u64().unwrap() as usize],
        "E002"
    );
    assert!(
        second["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("unknown state")
    );
    let physical = &second["locations"][0]["physicalLocation"];
    assert_eq!(
        physical["artifactLocation"]["uri"],
        "tests/fixtures/broken/main.flow"
    );
    let region = &physical["region"];
    assert_eq!(
        (
            &region["startLine"],
            &region["startColumn"],
            &region["endLine"],
            &region["endColumn"]
        ),
        (
            &Value::from(10),
            &Value::from(25),
            &Value::from(10),
            &Value::from(32)
        )
    );
    assert_eq!(
        results[0]["relatedLocations"][0]["physicalLocation"]["region"]["startLine"],
        8
    );
}

#[test]
fn sarif_of_a_clean_deployment_has_no_results() {
    let out = centralino(&["check", CLEAN, "--format", "sarif"]);
    assert_eq!(code(&out), 0);
    let log: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(log["runs"][0]["results"], Value::Array(Vec::new()));
}

// ------------------------------------------------------------------ compile

#[test]
fn compile_writes_graph_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graph.json");
    let out = centralino(&["compile", CLEAN, "-o", path.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let graph = Graph::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let names: Vec<&str> = graph.flows.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["main", "orari"]);
    assert!(graph.flow_for_number("075075075").is_some());
    // Nothing but the output is left in the folder (the temporary file was renamed).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn compile_without_output_prints_the_graph() {
    let out = centralino(&["compile", CLEAN]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let graph = Graph::from_json(&stdout(&out)).unwrap();
    assert_eq!(graph.flows.len(), 2);
}

#[test]
fn compile_with_errors_does_not_create_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graph.json");
    let out = centralino(&["compile", BROKEN, "-o", path.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("error[E002]"), "{}", stderr(&out));
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn compile_with_errors_leaves_an_old_output_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graph.json");
    std::fs::write(&path, "the graph that is running").unwrap();
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    let out = centralino(&["compile", BROKEN, "-o", path.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "the graph that is running"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        before
    );
}

#[test]
fn compile_into_a_missing_folder_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-folder").join("graph.json");
    let out = centralino(&["compile", CLEAN, "-o", path.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert_no_panic(&out);
    assert!(
        stderr(&out).starts_with("error: cannot write "),
        "{}",
        stderr(&out)
    );
}

// ------------------------------------------------------------------ graph

#[test]
fn graph_dot_and_mermaid() {
    let dot = centralino(&["graph", CLEAN, "--format", "dot"]);
    assert_eq!(code(&dot), 0, "{}", stderr(&dot));
    let text = stdout(&dot);
    assert!(text.starts_with("digraph"), "{text}");
    assert!(text.contains("flow main (075075075)"), "{text}");
    assert!(text.contains("menu (6s, 2 retries)"), "{text}");
    assert!(text.contains("transfer anagrafe"), "{text}");
    assert!(text.contains("style=dashed"), "{text}");

    let mermaid = centralino(&["graph", CLEAN, "--format", "mermaid"]);
    assert_eq!(code(&mermaid), 0, "{}", stderr(&mermaid));
    let text = stdout(&mermaid);
    assert!(text.starts_with("flowchart"), "{text}");
    assert!(text.contains("-.->"), "{text}");
}

#[test]
fn graph_writes_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("perugia.mmd");
    let out = centralino(&[
        "graph",
        CLEAN,
        "--format",
        "mermaid",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("flowchart")
    );
}

#[test]
fn graph_of_broken_flows_exits_1() {
    let out = centralino(&["graph", BROKEN]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("2 errors"), "{}", stderr(&out));
}

#[test]
fn graph_svg_with_graphviz() {
    if !has_graphviz() {
        eprintln!(
            "note: Graphviz `dot` is not installed; skipping the svg test (scripts/test installs it)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("perugia.svg");
    let out = centralino(&[
        "graph",
        CLEAN,
        "--format",
        "svg",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.contains("benvenuto"), "{svg}");
}

#[test]
fn graph_svg_without_graphviz_exits_2() {
    // A PATH with no `dot` on it.
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_centralino"))
        .args(["graph", CLEAN, "--format", "svg"])
        .current_dir(root())
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert_eq!(
        stderr(&out),
        "error: svg needs Graphviz (apt-get install graphviz)\n"
    );
}
