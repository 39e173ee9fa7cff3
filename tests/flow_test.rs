//! End-to-end tests of `centralino test`: the Perugia scenarios pass, a changed
//! menu branch makes them fail, and scenario mistakes are reported readably.
//!
//! - `flows/tests/*.test` run against `flows/` (must all pass), and against a
//!   copy of `flows/` with one menu branch swapped (must fail, naming the scenarios).
//! - `tests/fixtures/scenarios/err_<code>_<what>.test`: scenarios with mistakes,
//!   checked against the small city in `tests/fixtures/scenarios/city/`; each
//!   must report `<code>`, and the snapshot shows the source, then the diagnostics.
//! - `tests/fixtures/scenarios/run_*.test`: scenarios that run against the city;
//!   the snapshot is the command's output.
//!
//! The binary runs with relative paths, so the names it prints (and the
//! snapshots) do not depend on where the repository is.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};

use centralino_compiler::{Diagnostics, Sources, compile, render, scenario};
use support::{centralino, centralino_in, code, root, stderr, stdout};

const CITY: &str = "tests/fixtures/scenarios/city";
const RUN_FAILING: &str = "tests/fixtures/scenarios/run_failing.test";

/// `(passed, failed)` from the last line, which must read exactly `N passed, N failed`.
fn tally(text: &str) -> (usize, usize) {
    let last = text.lines().last().unwrap_or_default();
    let (passed, failed) = last
        .strip_suffix(" failed")
        .and_then(|rest| rest.split_once(" passed, "))
        .unwrap_or_else(|| panic!("the last line is not `N passed, N failed`: {last:?}"));
    (passed.parse().unwrap(), failed.parse().unwrap())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

// ------------------------------------------------------------------ the Perugia scenarios

#[test]
fn the_perugia_scenarios_pass() {
    let out = centralino(&["test", "flows/"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    let (passed, failed) = tally(&text);
    assert_eq!(failed, 0, "{text}");
    assert!(passed >= 100, "every menu path has a scenario: {text}");
    assert!(text.ends_with(&format!("{passed} passed, 0 failed\n")));
    assert!(!text.contains("FAIL"), "{text}");
    assert!(
        text.lines()
            .all(|l| l.starts_with("ok   flows/tests/") || l.ends_with(" failed")),
        "{text}"
    );
}

#[test]
fn no_paths_means_flows() {
    let out = centralino(&["test"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("ok   flows/tests/main.test:"));
}

/// Swap two keys of the call-back menu in a copy of the flows: the scenarios
/// that press them must fail, say what they expected, and show the call.
#[test]
fn a_changed_menu_branch_fails_the_scenarios_that_use_it() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("flows"), &dir.path().join("flows"));
    let servizi = dir.path().join("flows/servizi.flow");
    let text = std::fs::read_to_string(&servizi).unwrap();
    let original = "  anagrafe: set ufficio = \"anagrafe\" -> prenota\n  tributi: set ufficio = \"tributi\" -> prenota\n";
    let swapped = "  anagrafe: set ufficio = \"tributi\" -> prenota\n  tributi: set ufficio = \"anagrafe\" -> prenota\n";
    assert_eq!(
        text.matches(original).count(),
        1,
        "the flow changed; update this test"
    );
    std::fs::write(&servizi, text.replace(original, swapped)).unwrap();

    // The changed flows are still valid: only the scenarios can tell.
    let check = centralino_in(dir.path(), &["check", "flows"]);
    assert_eq!(code(&check), 0, "{}", stdout(&check));

    let out = centralino_in(dir.path(), &["test", "flows"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}{}", stderr(&out));
    let (passed, failed) = tally(&text);
    assert!(failed >= 1, "{text}");
    assert!(passed >= 100, "the other scenarios still pass: {text}");
    for name in [
        "richiamata dall'anagrafe",
        "richiamata dall'Ufficio Tributi",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("FAIL flows/tests/richiamata.test:") && l.ends_with(name)),
            "{name} must fail:\n{text}"
        );
    }
    // What was expected, what happened, and the call that shows it.
    assert!(text.contains("expect callback anagrafe"), "{text}");
    assert!(
        text.contains("no callback matches; there was: RC-2026-000001 for tributi"),
        "{text}"
    );
    assert!(text.contains("caller presses 6"), "{text}");
    assert!(
        text.contains("richiamata.tributi  flows/servizi.flow:234  set"),
        "the transcript names the state and its line: {text}"
    );
    // Scenarios that do not go through the swapped keys still pass.
    assert!(text.contains("ok   flows/tests/richiamata.test:"), "{text}");
    assert!(text.contains("ok   flows/tests/info.test:"), "{text}");
}

#[test]
fn github_format_annotates_the_failing_lines() {
    let out = centralino(&["test", CITY, RUN_FAILING, "--format", "github"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    let annotations: Vec<&str> = text.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(annotations.len(), 2, "{text}");
    assert!(
        annotations
            .iter()
            .all(|a| a.starts_with("::error file=tests/fixtures/scenarios/run_failing.test,line=")),
        "{text}"
    );
    assert!(
        annotations.iter().any(|a| a.contains(",line=16,")),
        "{text}"
    );
    assert_eq!(tally(&text), (1, 1));
}

#[test]
fn a_failing_scenario_reads_well() {
    let out = centralino(&["test", CITY, RUN_FAILING]);
    assert_eq!(code(&out), 1);
    insta::assert_snapshot!("run_failing_human", stdout(&out));
}

#[test]
fn filter_runs_only_matching_scenarios() {
    let out = centralino(&["test", CITY, RUN_FAILING, "--filter", "BUCA"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}");
    assert_eq!(tally(&text), (1, 0));
    let none = centralino(&["test", CITY, RUN_FAILING, "--filter", "nothing like this"]);
    assert_eq!(code(&none), 0);
    assert_eq!(tally(&stdout(&none)), (0, 0));
    assert!(stderr(&none).contains("no scenario's name contains"));
}

#[test]
fn scenario_mistakes_fail_the_run_and_are_shown() {
    let out = centralino(&[
        "test",
        CITY,
        "tests/fixtures/scenarios/err_e031_bad_expectation.test",
    ]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert!(text.contains("error[E031]"), "{text}");
    // The scenario after the broken one still runs.
    assert!(
        text.contains("ok   tests/fixtures/scenarios/err_e031_bad_expectation.test:8 l'anagrafe")
    );
    assert!(
        text.contains("FAIL tests/fixtures/scenarios/err_e031_bad_expectation.test:2 una buca")
    );
    assert_eq!(tally(&text), (1, 1));
}

#[test]
fn flows_with_errors_run_nothing() {
    let out = centralino(&["test", "tests/fixtures/broken", RUN_FAILING]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert!(text.contains("error[E004]"), "{text}");
    assert_eq!(tally(&text), (0, 0));
}

#[test]
fn no_test_files_is_a_usage_error() {
    let out = centralino(&["test", "tests/fixtures/clean"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no .test files found in tests/fixtures/clean"));
    let missing = centralino(&["test", "no/such/folder"]);
    assert_eq!(code(&missing), 2);
    assert!(!stderr(&missing).contains("panicked"));
}

// ------------------------------------------------------------------ scenario fixtures

/// The city's graph, and its sources for rendering. Cargo runs integration
/// tests from the package root, so the relative path (and the names in the
/// snapshots) hold.
fn city() -> (Sources, centralino_compiler::Graph) {
    let sources = centralino_compiler::load::load(&[PathBuf::from(CITY)]).unwrap();
    let compiled = compile(&sources);
    assert!(
        compiled.diagnostics.is_empty(),
        "{}",
        render::human(&sources, &compiled.diagnostics, false)
    );
    (sources, compiled.graph.unwrap())
}

fn expected_code(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    stem.split('_').nth(1).unwrap_or("").to_uppercase()
}

#[test]
fn scenario_error_fixtures() {
    let (city_sources, graph) = city();
    insta::glob!("fixtures/scenarios/err_*.test", |path| {
        let relative = path.strip_prefix(root()).unwrap().to_path_buf();
        let mut sources = city_sources.clone();
        let mut diagnostics = Diagnostics::new();
        let files = scenario::load(&[relative], &mut sources, &mut diagnostics).unwrap();
        scenario::check(&files, &graph, &mut diagnostics);
        diagnostics.sort();
        let code = expected_code(path);
        assert!(
            diagnostics.iter().any(|d| d.code == code),
            "{} should report {code}, got: {:?}",
            path.display(),
            diagnostics.iter().map(|d| d.code).collect::<Vec<_>>()
        );
        let source = std::fs::read_to_string(path).unwrap();
        let rendered = render::human(&sources, &diagnostics, false);
        insta::assert_snapshot!(format!("SOURCE CODE\n{source}\nDIAGNOSTICS\n{rendered}"));
    });
}

// ------------------------------------------------------------------ coverage

/// A small flow and two scenarios that leave most of its branches unvisited;
/// the failure of its ticket is justified with `// coverage: skip`.
const COVERAGE: &str = "tests/fixtures/coverage";

#[test]
fn coverage_lists_what_no_scenario_visits() {
    let out = centralino(&["test", COVERAGE, "--coverage"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    assert_eq!(tally(&text), (2, 0));
    assert!(
        text.contains("total: states 4/6 (66.6 %), branches 4/10 (40 %), 1 of them justified"),
        "{text}"
    );
    insta::assert_snapshot!("coverage_human", text);
}

#[test]
fn min_coverage_fails_below_and_passes_at_the_threshold() {
    let at = centralino(&["test", COVERAGE, "--min-coverage", "40"]);
    assert_eq!(code(&at), 0, "{}", stdout(&at));
    assert!(stdout(&at).contains("branches 4/10 (40 %)"));
    assert!(!stdout(&at).contains("is below"));

    let below = centralino(&["test", COVERAGE, "--min-coverage", "41"]);
    let text = stdout(&below);
    assert_eq!(code(&below), 1, "{text}");
    assert!(
        text.contains("branch coverage 40 % is below --min-coverage 41 %"),
        "{text}"
    );
    // The scenarios themselves passed, and the last line still says so.
    assert_eq!(tally(&text), (2, 0));

    let nonsense = centralino(&["test", COVERAGE, "--min-coverage", "101"]);
    assert_eq!(code(&nonsense), 2);
}

#[test]
fn coverage_in_github_format_warns_on_each_unvisited_line() {
    let out = centralino(&[
        "test",
        COVERAGE,
        "--format",
        "github",
        "--min-coverage",
        "100",
    ]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    let annotations: Vec<&str> = text.lines().filter(|l| l.starts_with("::")).collect();
    // Six branches and two states not visited; the justified ones have none.
    assert_eq!(
        annotations
            .iter()
            .filter(|a| a.starts_with("::warning "))
            .count(),
        8,
        "{text}"
    );
    assert!(!text.contains("line=27,"), "justified: {text}");
    assert!(!text.contains("line=28,"), "justified: {text}");
    insta::assert_snapshot!("coverage_github", annotations.join("\n"));
}

#[test]
fn the_perugia_scenarios_cover_every_branch() {
    let out = centralino(&["test", "flows/", "--coverage", "--min-coverage", "100"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    assert!(!text.contains("not visited:"), "{text}");
    let total = text
        .lines()
        .find(|l| l.starts_with("total: "))
        .unwrap_or_else(|| panic!("no total: {text}"));
    assert!(total.contains("(100 %), branches "), "{total}");
    assert!(total.contains(" (100 %), "), "{total}");
    // Every exception says why.
    assert!(
        text.lines()
            .filter(|l| l.trim_start().starts_with("justified:"))
            .all(|l| l.ends_with(')')),
        "{text}"
    );
}
