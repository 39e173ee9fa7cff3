//! Hot reload with live calls: `serve` watches its flows; held calls finish on the
//! version they started with, new calls get the new one, a broken edit is not
//! published (and `centralino status` says why), `rollback` goes back, and a burst
//! of saves is one publish.
//!
//! The flow in `tests/reload/main.flow` is copied to a temporary directory and
//! edited there: version one sends key 1 to a ticket, version two sends it to
//! goodbye, so the store tells which version served each call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_centralino");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port(salt: u64) -> u16 {
    let seed = u64::from(std::process::id()) * 7919
        + u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        )
        + salt * 31;
    for i in 0..4000u64 {
        let port = (20_000 + ((seed + i * 104_729) % 40_000)) as u16 & !1;
        if UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port + 1)).is_ok()
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port");
}

struct Server {
    child: Child,
    port: u16,
    data: tempfile::TempDir,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(flows: &Path) -> Server {
        let data = tempfile::tempdir().unwrap();
        let port = free_port(1);
        let rtp = free_port(2);
        let mut child = Command::new(BIN)
            .args(["serve", "--flows"])
            .arg(flows)
            .arg("--data")
            .arg(data.path())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--rtp-ports", &format!("{rtp}-{}", rtp + 1000)])
            .env("RUST_LOG", "info,rsipstack=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let server = Server {
            child,
            port,
            data,
            log,
        };
        server.wait_for("watching the flows", 1, Duration::from_secs(30));
        server
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn count(&self, text: &str) -> usize {
        self.log().matches(text).count()
    }

    /// Log lines that contain every one of `parts`.
    fn lines_with(&self, parts: &[&str]) -> usize {
        self.log()
            .lines()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .count()
    }

    /// Wait until `text` was logged at least `times` times; how long it took.
    fn wait_for(&self, text: &str, times: usize, limit: Duration) -> Duration {
        let start = Instant::now();
        while self.count(text) < times {
            assert!(
                start.elapsed() < limit,
                "server never logged `{text}` {times}x:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        start.elapsed()
    }

    fn control(&self, args: &[&str]) -> serde_json::Value {
        let out = Command::new(BIN)
            .args(args)
            .arg("--json")
            .arg("--data")
            .arg(self.data.path())
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "{args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    fn sipp(&self, scenario: &str, calls: usize, rate: usize) -> Output {
        sipp(self.port, scenario, calls, rate)
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(40) {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.wait();
    }

    fn tickets(&self) -> usize {
        let out = Command::new(BIN)
            .args(["tickets", "list", "--json", "--data"])
            .arg(self.data.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        match serde_json::from_slice::<serde_json::Value>(&out.stdout) {
            Ok(serde_json::Value::Array(items)) => items.len(),
            _ => String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().unwrap().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Run a sipp scenario: `calls` calls at `rate` per second, all at once at most.
fn sipp(port: u16, scenario: &str, calls: usize, rate: usize) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new("timeout")
        .arg("120")
        .arg("sipp")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-sf")
        .arg(repo().join("tests/sipp").join(scenario))
        .args(["-s", "100", "-i", "127.0.0.1"])
        .args(["-m", &calls.to_string(), "-l", &calls.to_string()])
        .args(["-r", &rate.to_string()])
        .args(["-p", &free_port(3).to_string()])
        .args(["-mi", "127.0.0.1", "-mp", &free_port(4).to_string()])
        .args(["-nostdin", "-timeout", "100s", "-max_socket", "2000"])
        .current_dir(dir.path())
        .output()
        .unwrap()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn sipp_succeeded(output: &Output, calls: usize) {
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "sipp failed ({:?}):\n{text}",
        output.status.code()
    );
    let line = text
        .lines()
        .find(|l| l.contains("Successful call"))
        .unwrap_or_default();
    let total: usize = line
        .split('|')
        .nth(2)
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0);
    assert_eq!(total, calls, "successful calls: {line}");
}

const HELD: usize = 200;

#[test]
fn live_calls_keep_their_version_while_new_calls_get_the_new_one() {
    if Command::new("sipp").arg("-v").output().is_err() {
        eprintln!("sipp is not installed: reload test cannot run");
        return;
    }
    let flows = tempfile::tempdir().unwrap();
    let file = flows.path().join("main.flow");
    let v1_text = std::fs::read_to_string(repo().join("tests/reload/main.flow")).unwrap();
    write(&file, &v1_text);
    let v2_text = v1_text
        .replace("1 -> segnala", "1 -> fine")
        .replace("Versione uno.", "Versione due.");
    assert_ne!(v1_text, v2_text);

    let mut server = Server::start(flows.path());
    let v1 = server.control(&["versions"])["versions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // (a) 200 calls in the menu of version one.
    let port = server.port;
    let held = std::thread::spawn(move || sipp(port, "held_then_key1.xml", HELD, 100));
    server.wait_for("call answered", HELD, Duration::from_secs(30));

    // (b) The edit is published, and a new call gets it within 1 s of the save.
    write(&file, &v2_text);
    let publish = server.wait_for("published", 1, Duration::from_secs(5));
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
    let new_call = server.sipp("dtmf_ticket.xml", 1, 1);
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
    server.wait_for("the flows have errors", 1, Duration::from_secs(5));
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
    sipp_succeeded(&server.sipp("dtmf_ticket.xml", 1, 1), 1);

    // (d) Rollback to version one: key 1 makes tickets again.
    let rolled = server.control(&["rollback", &v1[..20]]);
    assert_eq!(rolled["current"], v1.as_str(), "{rolled}");
    sipp_succeeded(&server.sipp("dtmf_ticket.xml", 1, 1), 1);

    // A burst of saves (an editor writing several times) is one publish.
    let published = server.count("published");
    for i in 0..5 {
        write(
            &file,
            &v2_text.replace("Versione due.", &format!("Versione tre, {i}.")),
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.wait_for("published", published + 1, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        server.count("published"),
        published + 1,
        "one publish for the burst"
    );

    server.stop();
    // Held calls (v1) and the call after the rollback made tickets; v2 calls did not.
    assert_eq!(server.tickets(), HELD + 1);
}
