//! `centralino tickets|callbacks|appointments` end to end: records left by
//! `centralino simulate --data DIR` are listed and shown, as text and as JSON;
//! a missing store is refused without being created; a damaged ticket is skipped.
//!
//! Every test gets its own data directory; `--at` is fixed, so the listings
//! (and their snapshots) are stable once the directory is redacted.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    ASK_CALLBACK, AT, BOOK_ID_CARD, REPORT_POTHOLE, call, centralino, code, path, stderr, stdout,
};

fn records(data: &Path, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--data", path(data)]);
    centralino(&all)
}

// ------------------------------------------------------------------ tickets

#[test]
fn a_simulated_ticket_is_listed_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let transcript = call(dir.path(), AT, REPORT_POTHOLE);
    assert!(
        transcript.contains(&format!("store: {}", dir.path().display())),
        "{transcript}"
    );
    assert!(transcript.contains("ticket PG-2026-000001 (buche) stored"));

    let list = records(dir.path(), &["tickets", "list"]);
    assert_eq!(code(&list), 0, "{}", stderr(&list));
    assert!(stderr(&list).is_empty(), "{}", stderr(&list));
    insta::assert_snapshot!("tickets_list", stdout(&list));

    let show = records(dir.path(), &["tickets", "show", "PG-2026-000001"]);
    assert_eq!(code(&show), 0, "{}", stderr(&show));
    insta::assert_snapshot!("tickets_show", stdout(&show));
}

#[test]
fn tickets_as_json() {
    let dir = tempfile::tempdir().unwrap();
    call(dir.path(), AT, REPORT_POTHOLE);

    let list = records(dir.path(), &["tickets", "list", "--json"]);
    assert_eq!(code(&list), 0, "{}", stderr(&list));
    let tickets: Vec<Value> = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["reference"], "PG-2026-000001");

    let show = records(dir.path(), &["tickets", "show", "PG-2026-000001", "--json"]);
    assert_eq!(code(&show), 0, "{}", stderr(&show));
    let ticket: Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(ticket["reference"], "PG-2026-000001");
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["category"], "buche");
    assert_eq!(ticket["office"], "manutenzioni");
    assert_eq!(ticket["caller"], "+393331234567");
    assert_eq!(ticket["fields"]["via"], "123");
    assert_eq!(ticket["fields"]["civico"], "5");
    // Instants stay instants: UTC, RFC 3339.
    assert!(
        ticket["created_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-03-02T09:01:")
    );
}

#[test]
fn an_unknown_reference_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    call(dir.path(), AT, REPORT_POTHOLE);
    let out = records(dir.path(), &["tickets", "show", "PG-2026-000099"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).starts_with("error: no ticket PG-2026-000099 in "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_empty_store_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // A call that stores nothing (1 information, * back, 2 end) still creates the store.
    call(dir.path(), AT, "1 * 2");
    let out = records(dir.path(), &["tickets", "list"]);
    assert_eq!(code(&out), 0);
    assert_eq!(
        stdout(&out),
        format!("no tickets in {}\n", dir.path().display())
    );
    let json = records(dir.path(), &["callbacks", "list", "--json"]);
    assert_eq!(stdout(&json).trim(), "[]");
}

// ------------------------------------------------------------------ callbacks and bookings

#[test]
fn callbacks_and_appointments_are_listed_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    call(dir.path(), AT, ASK_CALLBACK);
    let transcript = call(dir.path(), "2026-03-02 10:30", BOOK_ID_CARD);
    assert!(
        transcript.contains("booking 10000008 for anagrafe on 2026-03-03 10:40 stored"),
        "{transcript}"
    );

    let callbacks = records(dir.path(), &["callbacks", "list"]);
    assert_eq!(code(&callbacks), 0, "{}", stderr(&callbacks));
    insta::assert_snapshot!("callbacks_list", stdout(&callbacks));
    let callback = records(
        dir.path(),
        &["callbacks", "show", "RC-2026-000001", "--json"],
    );
    let callback: Value = serde_json::from_str(&stdout(&callback)).unwrap();
    assert_eq!(callback["office"], "tributi");
    assert_eq!(callback["number"], "+393331234567");
    assert_eq!(callback["schema"], 2);
    assert_eq!(callback["dialing"]["state"], "pending");
    assert_eq!(callback["dialing"]["attempts"], serde_json::json!([]));
    let shown = records(dir.path(), &["callbacks", "show", "RC-2026-000001"]);
    assert_eq!(code(&shown), 0, "{}", stderr(&shown));
    assert!(stdout(&shown).contains("dialer"), "{}", stdout(&shown));

    let appointments = records(dir.path(), &["appointments", "list"]);
    assert_eq!(code(&appointments), 0, "{}", stderr(&appointments));
    insta::assert_snapshot!("appointments_list", stdout(&appointments));
    let shown = records(dir.path(), &["appointments", "show", "10000008"]);
    assert_eq!(code(&shown), 0, "{}", stderr(&shown));
    let text = stdout(&shown);
    assert!(text.contains("for        office anagrafe\n"), "{text}");
    assert!(
        text.contains("when       2026-03-03 10:40:00 CET\n"),
        "{text}"
    );
}

// ------------------------------------------------------------------ no store, damaged store

#[test]
fn a_missing_data_directory_is_an_error_and_is_not_created() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("data");
    for kind in ["tickets", "callbacks", "appointments"] {
        let out = records(&missing, &[kind, "list"]);
        assert_eq!(code(&out), 2, "{kind}");
        assert!(
            stderr(&out).contains("no such data directory"),
            "{}",
            stderr(&out)
        );
        let out = records(&missing, &[kind, "show", "1"]);
        assert_eq!(code(&out), 2, "{kind}");
    }
    assert!(!missing.exists());
}

#[test]
fn a_directory_without_a_store_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = records(dir.path(), &["tickets", "list"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("not a Centralino store"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Opens `dir` with sled directly, to damage it on purpose (retrying while the
/// last process's lock is released).
fn raw_sled(dir: &Path) -> sled::Db {
    let started = Instant::now();
    loop {
        match sled::open(dir) {
            Ok(db) => return db,
            Err(error) if started.elapsed() < Duration::from_secs(5) => {
                let _ = error;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => panic!("cannot open {}: {error}", dir.display()),
        }
    }
}

#[test]
fn a_damaged_ticket_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    call(dir.path(), AT, REPORT_POTHOLE);
    call(dir.path(), "2026-03-02 11:00", REPORT_POTHOLE);
    {
        let db = raw_sled(dir.path());
        let tickets = db.open_tree("tickets").unwrap();
        tickets
            .insert(b"PG-2026-000001", &b"\x00{not json"[..])
            .unwrap();
        db.flush().unwrap();
    }

    let out = records(dir.path(), &["tickets", "list"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("PG-2026-000002"), "{text}");
    assert!(!text.contains("PG-2026-000001"), "{text}");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("warning: record PG-2026-000001 in tickets is damaged"),
        "{err}"
    );

    let json = records(dir.path(), &["tickets", "list", "--json"]);
    assert_eq!(code(&json), 0);
    let tickets: Vec<Value> = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(tickets.len(), 1);
}
