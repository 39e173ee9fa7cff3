//! SledStore on a full disk: write errors, no panic, nothing already stored lost.
//!
//! The test binary re-runs itself as the writer (`disk_full_writer`, active only
//! when `CENTRALINO_STORE_FULL` names a directory) under `sh -c 'ulimit -f ...'`,
//! which caps the size of any file it writes: past the cap, writes fail with
//! EFBIG as they would with ENOSPC (SIGXFSZ is ignored so the error is returned,
//! not fatal). The writer creates tickets until the store refuses, keeps trying a
//! while, and reports everything it was told. The parent then reopens the store
//! without the cap.

#![allow(clippy::unwrap_used)] // Tests may unwrap, helpers included: a panic is a failed test.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use centralino_runtime::store::{
    CallRecord, NewBooking, NewTicket, Resource, SCHEMA_VERSION, SledStore, Slot, Store,
    StoreConfig, StoreError,
};
use jiff::Timestamp;

const WRITER_ENV: &str = "CENTRALINO_STORE_FULL";
/// The file size cap, in 512-byte blocks (4 MiB).
const CAP_BLOCKS: u32 = 8192;

struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn new_ticket(i: usize) -> NewTicket {
    NewTicket {
        category: "buche".into(),
        title: format!("full {i}"),
        office: None,
        priority: "normale".into(),
        // Some bulk, so the cap is reached in a few thousand tickets.
        fields: BTreeMap::from([("descrizione".to_string(), "x".repeat(800))]),
        caller: "+390600000000".into(),
        call_id: format!("call-{i}"),
        created_at: "2026-06-01T10:00:00Z".parse().unwrap(),
        due_at: None,
    }
}

/// The writer half. Does nothing in an ordinary test run.
#[test]
fn disk_full_writer() {
    let Ok(dir) = std::env::var(WRITER_ENV) else {
        return;
    };
    let mut out = std::io::stdout().lock();
    writeln!(out).unwrap();
    let store = SledStore::open(Path::new(&dir), StoreConfig::default()).unwrap();
    let mut failures = 0;
    for i in 0..200_000 {
        match store.create_ticket(new_ticket(i)) {
            Ok(ticket) => writeln!(out, "T {}", ticket.reference).unwrap(),
            Err(error) => {
                writeln!(out, "E {error:?}").unwrap();
                failures += 1;
                if failures == 20 {
                    break;
                }
            }
        }
        out.flush().unwrap();
    }
    // Other kinds of write, once the disk is full.
    let at: Timestamp = "2026-06-01T10:00:00Z".parse().unwrap();
    let booking = store.book(NewBooking {
        resource: Resource::Office("anagrafe".into()),
        candidates: vec![Slot {
            start: at,
            duration_ms: 900_000,
        }],
        capacity: 5,
        caller: "c".into(),
        call_id: "c".into(),
        created_at: at,
    });
    match booking {
        Ok(Some(booking)) => writeln!(out, "B {}", booking.reference).unwrap(),
        Ok(None) => writeln!(out, "N").unwrap(),
        Err(error) => writeln!(out, "E {error:?}").unwrap(),
    }
    let call = store.save_call(CallRecord {
        schema: SCHEMA_VERSION,
        call_id: "call-x".into(),
        caller: "c".into(),
        number: "n".into(),
        flow: "main".into(),
        graph_version: "v".into(),
        started_at: at,
        ended_at: None,
        outcome: None,
        channel: String::from("sip"),
        handoffs: Vec::new(),
    });
    let flushed = call.and_then(|()| store.flush());
    writeln!(out, "L {flushed:?}").unwrap();
    // Reads still work on the full disk.
    let read = store.ticket("PG-2026-000001").map(|t| t.is_some());
    writeln!(out, "R {read:?}").unwrap();
    writeln!(out, "DONE").unwrap();
    out.flush().unwrap();
}

#[test]
fn a_full_disk_gives_write_errors_and_loses_nothing() {
    if std::env::var(WRITER_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {CAP_BLOCKS}; exec \"$0\" disk_full_writer --exact \
             --nocapture --test-threads=1"
        ))
        .arg(&exe)
        .env(WRITER_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    let mut stdout = guard.0.stdout.take().unwrap();
    let mut stderr = guard.0.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    let output = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the writer did not finish in 120 s (hung on the full disk?)");
    let status = guard.0.wait().unwrap();
    let stderr = err_reader.join().unwrap();
    let ms = started.elapsed().as_millis();
    eprintln!("writer ran {ms} ms; tail of its output:");
    let lines: Vec<&str> = output.lines().collect();
    for line in lines.iter().rev().take(25).rev() {
        eprintln!("  {line}");
    }
    assert!(
        status.success(),
        "the writer failed ({status}); stderr:\n{stderr}"
    );
    assert!(lines.contains(&"DONE"), "{output}");
    assert!(lines.contains(&"R Ok(true)"), "{output}");

    let tickets: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("T ")).collect();
    let errors: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("E ")).collect();
    assert!(tickets.len() > 100, "only {} tickets", tickets.len());
    assert!(!errors.is_empty(), "the cap was never reached");
    for error in &errors {
        assert!(error.starts_with("Write("), "not a write error: {error}");
    }
    eprintln!(
        "{} tickets stored, then {} errors, first: {}",
        tickets.len(),
        errors.len(),
        errors[0]
    );

    // Without the cap: everything the writer was told about is there.
    let store = SledStore::open(dir.path(), StoreConfig::default()).unwrap();
    for reference in &tickets {
        assert!(
            store.ticket(reference).unwrap().is_some(),
            "ticket {reference} was reported and is lost"
        );
    }
    let problems: Vec<StoreError> = store.verify().unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let next = store.create_ticket(new_ticket(999_999)).unwrap();
    assert!(!tickets.contains(&next.reference.as_str()));
}
