//! `centralino tickets|callbacks|appointments` while `serve` holds the store:
//! the commands ask the server over its control socket and print exactly what
//! they print once the server has stopped and they open the store themselves
//! (tables, `show` fields, `--json`, exit codes, warnings for damaged records).
//!
//! The store is filled by `centralino simulate` (Perugia's flows) before the
//! server starts on it (the small SIP test flows: the store does not care).

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    ASK_CALLBACK, AT, BOOK_ID_CARD, REPORT_POTHOLE, Server, call, centralino, code, path, stderr,
    stdout, test_flows,
};

/// Two tickets (the first damaged on purpose), a callback and an appointment.
fn store_with_records() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    call(dir.path(), AT, REPORT_POTHOLE);
    call(dir.path(), "2026-03-02 10:10", REPORT_POTHOLE);
    call(dir.path(), "2026-03-02 10:20", ASK_CALLBACK);
    call(dir.path(), "2026-03-02 10:30", BOOK_ID_CARD);
    let db = sled::open(dir.path()).unwrap();
    db.open_tree("tickets")
        .unwrap()
        .insert(b"PG-2026-000001", &b"\x00{not json"[..])
        .unwrap();
    db.flush().unwrap();
    drop(db);
    dir
}

/// Every records command the test compares, live and stopped.
const COMMANDS: &[&[&str]] = &[
    &["tickets", "list"],
    &["tickets", "list", "--json"],
    &["tickets", "show", "PG-2026-000002"],
    &["tickets", "show", "PG-2026-000002", "--json"],
    // Damaged: an error, exit 2.
    &["tickets", "show", "PG-2026-000001"],
    // No such ticket, or nothing a reference could be: exit 1.
    &["tickets", "show", "PG-2026-000099"],
    &["tickets", "show", "PG 2026/1"],
    &["callbacks", "list"],
    &["callbacks", "list", "--json"],
    &["callbacks", "show", "RC-2026-000001"],
    &["appointments", "list"],
    &["appointments", "list", "--json"],
    &["appointments", "show", "10000008"],
    &["appointments", "show", "10000008", "--json"],
];

/// (exit code, stdout, stderr) of every command in [`COMMANDS`].
fn run_all(data: &Path) -> Vec<(i32, String, String)> {
    COMMANDS
        .iter()
        .map(|args| {
            let mut all = args.to_vec();
            all.extend_from_slice(&["--data", path(data)]);
            let out = centralino(&all);
            (code(&out), stdout(&out), stderr(&out))
        })
        .collect()
}

/// Wait until the server's control socket answers.
fn wait_for_control_socket(server: &Server) {
    let socket = server.data.path().join("control.sock");
    let start = Instant::now();
    while UnixStream::connect(&socket).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no control socket:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One raw request line on the control socket, its JSON answer.
fn raw_request(data: &Path, line: &str) -> Value {
    let mut stream = UnixStream::connect(data.join("control.sock")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap()
}

#[test]
fn records_are_listed_while_serving_exactly_as_when_stopped() {
    let mut server = Server::start_with_data(&test_flows(), store_with_records(), &[]);
    wait_for_control_socket(&server);
    let data = server.data.path().to_owned();

    let socket = std::fs::metadata(data.join("control.sock")).unwrap();
    assert_eq!(
        socket.permissions().mode() & 0o777,
        0o600,
        "only the owner may ask for citizens' records"
    );

    let live = run_all(&data);
    assert!(server.alive(), "the server held the store throughout");

    // What the running server said, checked on its own before comparing.
    let (list_code, list, list_err) = &live[0];
    assert_eq!(*list_code, 0, "{list_err}");
    assert!(list.contains("PG-2026-000002"), "{list}");
    assert!(!list.contains("PG-2026-000001"), "{list}");
    assert!(
        list_err.starts_with("warning: record PG-2026-000001 in tickets is damaged"),
        "{list_err}"
    );
    assert!(!list_err.contains("cannot open the store"), "{list_err}");
    let (damaged_code, _, damaged_err) = &live[4];
    assert_eq!(*damaged_code, 2, "{damaged_err}");
    assert!(damaged_err.contains("is damaged"), "{damaged_err}");
    for (i, expected) in [(5, "PG-2026-000099"), (6, "PG 2026/1")] {
        let (code, _, err) = &live[i];
        assert_eq!(*code, 1, "{err}");
        assert_eq!(
            err,
            &format!("error: no ticket {expected} in {}\n", data.display())
        );
    }
    let callbacks: Vec<Value> = serde_json::from_str(&live[8].1).unwrap();
    assert_eq!(callbacks.len(), 1);
    assert_eq!(callbacks[0]["reference"], "RC-2026-000001");
    assert!(live[10].1.contains("10000008"), "{}", live[10].1);

    // A raw client gets a clear error, never a dropped connection.
    let unknown = raw_request(&data, "records parking list");
    assert_eq!(unknown["ok"], false, "{unknown}");
    let error = unknown["error"].as_str().unwrap();
    assert!(
        error.contains("parking") && error.contains("tickets, callbacks, appointments"),
        "{error}"
    );
    let odd = raw_request(&data, "records tickets show ../../db");
    assert_eq!(odd["ok"], false, "{odd}");
    assert!(odd["error"].as_str().unwrap().contains("'/'"), "{odd}");
    let listed = raw_request(&data, "records callbacks list");
    assert_eq!(listed["ok"], true, "{listed}");
    assert_eq!(
        listed["records"]["listed"]["records"]["records"][0]["reference"], "RC-2026-000001",
        "{listed}"
    );

    assert!(server.stop().success(), "clean shutdown:\n{}", server.log());
    let stopped = run_all(&data);
    for ((args, live), stopped) in COMMANDS.iter().zip(&live).zip(&stopped) {
        assert_eq!(live, stopped, "`{}` differs while serving", args.join(" "));
    }
}

#[test]
fn a_held_store_without_a_server_answering_is_the_clear_error() {
    let data = tempfile::tempdir().unwrap();
    call(data.path(), AT, REPORT_POTHOLE);
    // This process holds the store, and nothing answers on control.sock.
    let held = sled::open(data.path()).unwrap();
    for args in [["tickets", "list"], ["tickets", "show"]] {
        let mut all = args.to_vec();
        if args[1] == "show" {
            all.push("PG-2026-000001");
        }
        all.extend_from_slice(&["--data", path(data.path())]);
        let out = centralino(&all);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!(
                "error: cannot open the store in {} (is a running Centralino holding it?)",
                data.path().display()
            )),
            "{err}"
        );
        assert!(err.contains("lock"), "{err}");
    }
    drop(held);
}

/// `callbacks close REF --note` while serving goes through the control socket to the
/// server's store; once is closed, twice is refused; the store keeps the note.
#[test]
fn a_callback_is_closed_through_the_running_server() {
    let mut server = Server::start_with_data(&test_flows(), store_with_records(), &[]);
    wait_for_control_socket(&server);
    let data = server.data.path().to_owned();
    let close = |reference: &str| {
        centralino(&[
            "callbacks",
            "close",
            reference,
            "--note",
            "certificato  spedito\tper posta",
            "--data",
            path(&data),
        ])
    };

    let closed = close("RC-2026-000001");
    assert_eq!(code(&closed), 0, "{}", stderr(&closed));
    let shown = stdout(&closed);
    assert!(shown.contains("closed"), "{shown}");
    assert!(shown.contains("certificato spedito per posta"), "{shown}");
    assert!(server.alive(), "the server held the store throughout");

    let again = close("RC-2026-000001");
    assert_eq!(code(&again), 1);
    assert_eq!(
        stderr(&again),
        "error: callback RC-2026-000001 not closed: the request is already closed\n"
    );
    let missing = close("RC-2026-000099");
    assert_eq!(code(&missing), 1);
    assert!(
        stderr(&missing).contains("no callback request has this reference"),
        "{}",
        stderr(&missing)
    );
    // Tickets are closed with `tickets close` (tests/console_records.rs); appointments are not.
    let booking = centralino(&["appointments", "close", "10000001", "--data", path(&data)]);
    assert_ne!(code(&booking), 0);
    assert!(
        stderr(&booking).contains("`callbacks close REF`"),
        "{}",
        stderr(&booking)
    );

    assert!(server.stop().success(), "clean shutdown:\n{}", server.log());
    let stored = centralino(&[
        "callbacks",
        "show",
        "RC-2026-000001",
        "--json",
        "--data",
        path(&data),
    ]);
    let stored: Value = serde_json::from_str(&stdout(&stored)).unwrap();
    assert_eq!(stored["status"], "closed", "{stored}");
    assert_eq!(stored["dialing"]["state"], "closed", "{stored}");
    assert_eq!(stored["dialing"]["by"], "command line", "{stored}");
    assert_eq!(
        stored["dialing"]["note"], "certificato spedito per posta",
        "{stored}"
    );
}
