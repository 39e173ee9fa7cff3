//! `centralino simulate` end to end: the Perugia flows walked to a stored ticket,
//! keys from `--input` and from a pipe, JSON lines, and every way it refuses or fails.
//!
//! The binary runs from the package root with relative paths and a fixed `--at`,
//! so transcripts (and the snapshot) do not depend on the machine or the clock.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::process::{Output, Stdio};

use serde_json::Value;
use support::{assert_no_panic, centralino, code, command, stderr, stdout};

/// Monday 2 March 2026, 10:00 in Perugia: a working day, the line is open.
const AT: &str = "2026-03-02 10:00";
/// Report a pothole (2, 1), street code 123, house number 5, then at "anything
/// else?" 2 to end the call.
const REPORT_POTHOLE: &str = "2 1 1 123 # 5 # 2";

/// Runs with `input` written to a piped standard input.
fn centralino_piped(args: &[&str], input: &str) -> Output {
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().expect("the binary runs")
}

fn simulate(extra: &[&str]) -> Output {
    let mut args = vec!["simulate", "flows/", "--number", "075075075", "--at", AT];
    args.extend_from_slice(extra);
    centralino(&args)
}

// ------------------------------------------------------------------ the Perugia flow

#[test]
fn reporting_a_pothole_stores_a_ticket_and_reads_its_reference_back() {
    let out = simulate(&["--input", REPORT_POTHOLE]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("ticket PG-2026-000001 (buche) stored"),
        "{text}"
    );
    assert!(
        text.contains("«Grazie. La sua segnalazione è registrata con il numero PG-2026-000001."),
        "{text}"
    );
    assert!(
        text.contains("segnalazione.chiedi_via  flows/servizi.flow:50  collect"),
        "{text}"
    );
    assert!(text.contains("call ended: the flow hung up"), "{text}");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    insta::assert_snapshot!("pothole_transcript", text);
}

#[test]
fn json_lines_are_the_steps() {
    let out = simulate(&["--input", REPORT_POTHOLE, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let steps: Vec<Value> = stdout(&out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let ticket = steps
        .iter()
        .find(|s| s["step"] == "ticket")
        .expect("a ticket step");
    assert_eq!(ticket["reference"], "PG-2026-000001");
    assert_eq!(ticket["category"], "buche");
    assert_eq!(steps[0]["at"], "2026-03-02T09:00:00Z");
    assert_eq!(steps[0]["location"], "flows/main.flow:39:3");
    let last = steps.last().unwrap();
    assert_eq!(last["step"], "ended");
    assert_eq!(last["reason"], "the flow hung up");
}

#[test]
fn piped_lines_are_the_callers_keys_and_the_end_of_input_hangs_up() {
    let args = ["simulate", "flows/", "--number", "075075075", "--at", AT];
    let out = centralino_piped(&args, "2 1 1\n123#\n\n5#\n");
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    // No prompt on a pipe.
    assert!(!text.contains("keys>") && !stderr(&out).contains("keys>"));
    assert!(text.contains("caller presses 3"), "{text}");
    // The empty line: the caller stays silent at the house-number question.
    assert!(text.contains("caller waits"), "{text}");
    assert!(text.contains("il numero PG-2026-000001"), "{text}");
    assert!(text.contains("caller hangs up"), "{text}");
    assert!(text.contains("call ended: caller hung up"), "{text}");
}

#[test]
fn a_piped_line_that_is_not_keys_hangs_up_and_exits_2() {
    let args = ["simulate", "flows/", "--number", "075075075", "--at", AT];
    let out = centralino_piped(&args, "2\nbuca\n1\n");
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert_no_panic(&out);
    assert!(
        stderr(&out).contains("error: standard input, line 2: `buca` is not a key"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_call_put_through_to_an_office_ends_the_simulation() {
    // 5 talk to an office, 1 registry: open on a Monday morning, staff answer.
    let out = simulate(&["--input", "5 1"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("transfer to anagrafe (sip:2101"), "{text}");
    assert!(text.contains("call ended: put through to staff"), "{text}");
    assert!(!text.contains("maximum call duration"), "{text}");
}

#[test]
fn inputs_left_over_are_reported() {
    let out = simulate(&["--input", "5 1 4 4"]);
    assert_eq!(code(&out), 0);
    assert!(
        stderr(&out).contains("warning: the call ended before these inputs were used: 4 4"),
        "{}",
        stderr(&out)
    );
}

// ------------------------------------------------------------------ failures

#[test]
fn a_call_that_breaks_its_loop_limit_fails_with_exit_1() {
    let out = centralino(&[
        "simulate",
        "tests/fixtures/loop",
        "--number",
        "100",
        "--at",
        AT,
        "--input",
        "1 1",
    ]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("entered 3 times, more than `max visits 2`"),
        "{text}"
    );
    assert!(text.ends_with("call failed: loop limit\n"), "{text}");
}

#[test]
fn an_unknown_number_says_which_numbers_are_answered() {
    let out = simulate_number("12345");
    assert_eq!(code(&out), 2);
    assert_no_panic(&out);
    assert_eq!(
        stderr(&out),
        "error: no flow answers 12345; the flows answer +39075075075, 075075075, 7000\n"
    );
    assert!(stdout(&out).is_empty());
}

fn simulate_number(number: &str) -> Output {
    centralino(&[
        "simulate", "flows/", "--number", number, "--at", AT, "--input", "1",
    ])
}

#[test]
fn a_bad_time_is_a_usage_error() {
    for bad in ["domani", "2026-02-30 10:00", "10:00"] {
        let out = simulate_at(bad);
        assert_eq!(code(&out), 2, "{bad}");
        assert_no_panic(&out);
        let err = stderr(&out);
        assert!(err.contains("is not a time"), "{bad}: {err}");
        assert!(err.contains("YYYY-MM-DD HH:MM"), "{bad}: {err}");
    }
}

fn simulate_at(at: &str) -> Output {
    centralino(&[
        "simulate",
        "flows/",
        "--number",
        "075075075",
        "--at",
        at,
        "--input",
        "1",
    ])
}

#[test]
fn an_rfc3339_instant_is_accepted() {
    let out = simulate_at("2026-03-02T09:00:00Z");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("2026-03-02 10:00 (Europe/Rome)"));
}

#[test]
fn a_bad_key_is_a_usage_error() {
    let out = simulate(&["--input", "2 uno"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("`uno` is not a key: use digits, * and #"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn flows_with_errors_are_not_simulated() {
    let out = centralino(&[
        "simulate",
        "tests/fixtures/broken",
        "--number",
        "075075075",
        "--input",
        "1",
    ]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("error[E004]"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}
