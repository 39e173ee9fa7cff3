//! Hot reload with live calls: `serve` watches its flows; held calls finish on the
//! version they started with, new calls get the new one, a broken edit is not
//! published (and `centralino status` says why), `rollback` goes back, and a burst
//! of saves is one publish.
//!
//! The flow in `tests/reload/main.flow` is copied to a temporary directory and
//! edited there: version one sends key 1 to a ticket, version two sends it to
//! goodbye, so the store tells which version served each call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::Duration;

use support::{Server, have_sipp, root, sipp_load, sipp_succeeded};

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

const HELD: usize = 200;

#[test]
fn live_calls_keep_their_version_while_new_calls_get_the_new_one() {
    if !have_sipp() {
        return;
    }
    let flows = tempfile::tempdir().unwrap();
    let file = flows.path().join("main.flow");
    let v1_text = std::fs::read_to_string(root().join("tests/reload/main.flow")).unwrap();
    write(&file, &v1_text);
    let v2_text = v1_text
        .replace("1 -> segnala", "1 -> fine")
        .replace("Versione uno.", "Versione due.");
    assert_ne!(v1_text, v2_text);

    let mut server = Server::start(flows.path(), &[]);
    server.wait_for("watching the flows", Duration::from_secs(30));
    let v1 = server.control(&["versions"])["versions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // (a) 200 calls in the menu of version one.
    let port = server.port;
    let held = std::thread::spawn(move || sipp_load(port, "held_then_key1.xml", HELD, 100));
    server.wait_for_times("call answered", HELD, Duration::from_secs(30));

    // (b) The edit is published, and a new call gets it within 1 s of the save.
    write(&file, &v2_text);
    let publish = server.wait_for_times("published", 1, Duration::from_secs(5));
    eprintln!("save -> published: {publish:?}");
    assert!(
        publish < Duration::from_secs(1),
        "new calls get the new version within 1 s of the save (took {publish:?})"
    );
    let v2 = server.control(&["status"])["status"]["current"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(v1, v2, "a new version serves");
    let new_call = server.sipp_load("dtmf_ticket.xml", 1, 1);
    sipp_succeeded(&new_call, 1);
    assert_eq!(
        server.lines_with(&["call answered", &format!("version={v2}")]),
        1,
        "the new call ran on the new version"
    );

    // Every held call finishes, on version one.
    let held = held.join().unwrap();
    sipp_succeeded(&held, HELD);
    assert_eq!(
        server.lines_with(&["call ended", &format!("version={v1}")]),
        HELD,
        "every held call ended on the version it started with"
    );

    // (c) A broken edit is not published; status shows why; calls still work.
    write(
        &file,
        &v2_text.replace("menu:      menu", "menu:      menux"),
    );
    server.wait_for("the flows have errors", Duration::from_secs(5));
    let status = server.control(&["status"]);
    assert_eq!(status["status"]["current"], v2.as_str());
    assert_eq!(status["status"]["last"], "failed");
    assert!(
        status["status"]["diagnostics"]
            .as_str()
            .unwrap_or_default()
            .contains("E001"),
        "{status}"
    );
    sipp_succeeded(&server.sipp_load("dtmf_ticket.xml", 1, 1), 1);

    // (d) Rollback to version one: key 1 makes tickets again.
    let rolled = server.control(&["rollback", &v1[..20]]);
    assert_eq!(rolled["current"], v1.as_str(), "{rolled}");
    sipp_succeeded(&server.sipp_load("dtmf_ticket.xml", 1, 1), 1);

    // A burst of saves (an editor writing several times) is one publish.
    let published = server.count("published");
    for i in 0..5 {
        write(
            &file,
            &v2_text.replace("Versione due.", &format!("Versione tre, {i}.")),
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.wait_for_times("published", published + 1, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        server.count("published"),
        published + 1,
        "one publish for the burst"
    );

    assert!(server.stop().success(), "clean shutdown:\n{}", server.log());
    // Held calls (v1) and the call after the rollback made tickets; v2 calls did not.
    assert_eq!(server.tickets().len(), HELD + 1);
}
