//! The call log against a real call: sipp calls `serve`, presses 1 in the menu and gets a
//! ticket read back; then `calls list`, `calls show ID` and `replay ID` find the call and
//! replay it identically, while the server runs (through its control socket) and after it
//! stopped (from the store itself), with the same output. After the flow file is edited
//! (key 1 goes to another state), `replay ID --with-current FLOWS` shows where the same
//! caller would now go differently, with the file and line of both, and exits 1.
//!
//! Needs `sipp` (Debian `sip-tester`); without it the test says so and checks nothing.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Server, centralino, code, have_sipp, path, stderr, stdout, test_flows};

/// The logged calls, as `calls list --json` gives them.
fn listed(data: &Path) -> Vec<Value> {
    let out = centralino(&["calls", "list", "--json", "--data", path(data)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// (exit code, stdout, stderr) of `calls list`, `calls show ID`, `replay ID`.
fn log_commands(data: &Path, id: &str) -> Vec<(i32, String, String)> {
    let commands: [&[&str]; 4] = [
        &["calls", "list"],
        &["calls", "list", "--number", "100"],
        &["calls", "show", id],
        &["replay", id],
    ];
    commands
        .iter()
        .map(|args| {
            let mut all = args.to_vec();
            all.extend_from_slice(&["--data", path(data)]);
            let out = centralino(&all);
            (code(&out), stdout(&out), stderr(&out))
        })
        .collect()
}

#[test]
fn a_live_call_is_listed_shown_replayed_and_compared_with_the_edited_flows() {
    if !have_sipp() {
        return;
    }
    let flows = tempfile::tempdir().unwrap();
    let flow_file = flows.path().join("main.flow");
    std::fs::copy(test_flows().join("main.flow"), &flow_file).unwrap();

    let mut server = Server::start(flows.path(), &["--no-http"]);
    let data = server.data.path().to_owned();
    let call = server.sipp("dtmf_ticket.xml", "100");
    assert!(call.status.success(), "the call must succeed");
    server.wait_for("the flow hung up", Duration::from_secs(20));

    // The record is written when the call is over (after the BYE's answer).
    let start = Instant::now();
    let calls = loop {
        let calls = listed(&data);
        if !calls.is_empty() {
            break calls;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the call never reached the log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(calls.len(), 1, "{calls:?}");
    let logged = &calls[0];
    assert_eq!(logged["number"], "100");
    assert_eq!(logged["caller"], "3331234567");
    assert_eq!(logged["channel"], "sip");
    assert_eq!(logged["outcome"], "the flow hung up");
    assert!(
        logged["graph_version"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let id = logged["call_id"].as_str().unwrap().to_owned();

    let live = log_commands(&data, &id);
    assert!(server.alive(), "the server held the store throughout");
    for (code, out, err) in &live {
        assert_eq!(*code, 0, "{out}{err}");
        assert!(!err.contains("cannot open the store"), "{err}");
    }
    assert!(live[0].1.contains(&id), "{}", live[0].1);
    assert!(live[1].1.contains(&id), "{}", live[1].1);
    // The transcript: each state with its file and line, the prompt, the key, the ticket.
    let shown = &live[2].1;
    let file = format!("{}:", flow_file.display());
    for expected in [
        "channel   sip",
        "main.benvenuto",
        "main.menu",
        &format!("{file}8"),
        "«Premi 1 per una segnalazione, 2 per sentire un messaggio.»",
        "caller presses 1",
        "main.segnala",
        &format!("{file}13"),
        "ticket PG-2026-000001 (prova) stored",
        "«Segnalazione PG-2026-000001.»",
        "call ended: the flow hung up",
    ] {
        assert!(shown.contains(expected), "no `{expected}` in:\n{shown}");
    }
    let replayed = &live[3].1;
    assert!(
        replayed.contains("same 5 steps"),
        "the engine takes the recorded steps again:\n{replayed}"
    );

    // Not on the log: exit 1 and a clear message; a bad id is refused the same way.
    for bad in ["no-such-call", "a b"] {
        let out = centralino(&["calls", "show", bad, "--data", path(&data)]);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        assert!(stderr(&out).contains("no call"), "{}", stderr(&out));
    }

    assert!(server.stop().success(), "clean shutdown:\n{}", server.log());
    let stopped = log_commands(&data, &id);
    assert_eq!(
        live, stopped,
        "the log reads the same once the server stopped"
    );

    // An edit: key 1 now plays the long message instead of opening a ticket.
    let text = std::fs::read_to_string(&flow_file).unwrap();
    assert!(text.contains("1 -> segnala"));
    std::fs::write(&flow_file, text.replace("1 -> segnala", "1 -> messaggio")).unwrap();
    let out = centralino(&[
        "replay",
        &id,
        "--with-current",
        path(flows.path()),
        "--data",
        path(&data),
    ]);
    let report = stdout(&out);
    assert_eq!(
        code(&out),
        1,
        "a different way is exit 1:\n{report}{}",
        stderr(&out)
    );
    assert!(
        report.contains("the call would go differently at step 4:"),
        "{report}"
    );
    let then = report.lines().find(|l| l.contains("then:")).unwrap();
    let now = report.lines().find(|l| l.contains("now:")).unwrap();
    assert!(
        then.contains("main.segnala") && then.contains(&format!("{file}13")),
        "{report}"
    );
    assert!(
        now.contains("main.messaggio") && now.contains(&format!("{file}15")),
        "{report}"
    );
    assert!(report.contains("«Arrivederci.»"), "{report}");

    // The exact replay still runs on the version that served the call, not the edited one.
    let out = centralino(&["replay", &id, "--data", path(&data)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("same 5 steps"), "{}", stdout(&out));

    // Unedited flows: the same way, exit 0.
    std::fs::write(&flow_file, text).unwrap();
    let out = centralino(&[
        "replay",
        &id,
        "--with-current",
        path(flows.path()),
        "--data",
        path(&data),
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("the same way: 5 steps"),
        "{}",
        stdout(&out)
    );
}
