//! `centralino serve` against a real SIP client (sipp): calls, DTMF, CANCEL, 404, 488,
//! re-INVITE, SIP INFO, hang-ups, and the malformed-message corpora.
//!
//! Every test starts its own server on free ports (never 5060) and stops it by
//! PID, also when the test fails. sipp runs in a temporary directory so its logs
//! stay out of the tree. Tests need `sipp` (Debian `sip-tester`, installed by
//! `scripts/test`); without it they say so and pass nothing off as done.
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

fn have_sipp() -> bool {
    let found = Command::new("sipp").arg("-v").output().is_ok();
    if !found {
        eprintln!("sipp is not installed (apt-get install sip-tester): SIP tests cannot run");
    }
    found
}

/// A port free for both UDP and TCP on loopback, from a pseudo-random start.
fn free_port() -> u16 {
    let seed = std::process::id() as u64 * 7919
        + Instant::now().elapsed().as_nanos() as u64
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
    for i in 0..2000u64 {
        let port = 20_000 + ((seed + i * 104_729) % 40_000) as u16;
        let port = port & !1;
        if UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port + 1)).is_ok()
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port");
}

/// A running `centralino serve`, stopped (by PID) when dropped.
struct Server {
    child: Child,
    port: u16,
    data: tempfile::TempDir,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(flows: &Path, extra: &[&str]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let rtp = free_port();
        let mut child = Command::new(BIN)
            .current_dir(repo())
            .args(["serve", "--flows"])
            .arg(flows)
            .arg("--data")
            .arg(data.path())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--rtp-ports", &format!("{rtp}-{}", rtp + 200)])
            .args(extra)
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
        server.wait_for("SIP listening", Duration::from_secs(30));
        server
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn wait_for(&self, text: &str, limit: Duration) {
        let start = Instant::now();
        while !self.log().contains(text) {
            assert!(
                start.elapsed() < limit,
                "server never logged `{text}`:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGTERM, then wait for a clean exit (the store is released).
    fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                return self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Run one sipp scenario against this server.
    fn sipp(&self, scenario: &str, service: &str) -> Output {
        let dir = tempfile::tempdir().unwrap();
        let local = free_port();
        let media = free_port();
        let output = Command::new("timeout")
            .arg("90")
            .arg("sipp")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("-sf")
            .arg(repo().join("tests/sipp").join(scenario))
            .args(["-s", service, "-m", "1", "-l", "1", "-i", "127.0.0.1"])
            .args(["-p", &local.to_string()])
            .args(["-mi", "127.0.0.1", "-mp", &media.to_string()])
            .args(["-nostdin", "-timeout", "60s", "-trace_err"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        if !output.status.success() {
            let errors: String = std::fs::read_dir(dir.path())
                .unwrap()
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with("errors.log"))
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect();
            eprintln!(
                "sipp {scenario} failed:\n{}\n{errors}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        output
    }

    fn tickets(&self) -> Vec<serde_json::Value> {
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
        let text = String::from_utf8_lossy(&out.stdout);
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Array(items)) => items,
            _ => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn test_flows() -> PathBuf {
    repo().join("tests/sip/flows")
}

#[test]
fn rfc4733_dtmf_navigates_the_menu_to_a_ticket() {
    if !have_sipp() {
        return;
    }
    let mut server = Server::start(&test_flows(), &[]);
    let call = server.sipp("dtmf_ticket.xml", "100");
    assert!(call.status.success(), "the call must succeed");
    server.wait_for("the flow hung up", Duration::from_secs(10));
    assert!(server.stop().success(), "clean shutdown:\n{}", server.log());
    let tickets = server.tickets();
    assert_eq!(tickets.len(), 1, "one ticket: {tickets:?}");
    assert_eq!(tickets[0]["category"], "prova");
    assert!(
        tickets[0]["reference"].as_str().unwrap().starts_with("PG-"),
        "{tickets:?}"
    );
}

#[test]
fn sip_info_dtmf_works_too() {
    if !have_sipp() {
        return;
    }
    let mut server = Server::start(&test_flows(), &[]);
    assert!(server.sipp("info_dtmf.xml", "100").status.success());
    server.wait_for("the flow hung up", Duration::from_secs(10));
    assert!(server.stop().success());
    assert_eq!(server.tickets().len(), 1);
}

#[test]
fn unknown_number_gets_404_and_a_bad_codec_488() {
    if !have_sipp() {
        return;
    }
    let mut server = Server::start(&test_flows(), &[]);
    assert!(server.sipp("unknown_number.xml", "999").status.success());
    assert!(server.sipp("codec_mismatch.xml", "100").status.success());
    assert!(server.log().contains("no flow answers this number: 404"));
    assert!(server.alive());
}

#[test]
fn cancel_before_answer_gets_487() {
    if !have_sipp() {
        return;
    }
    let mut server = Server::start(&test_flows(), &["--answer-after-ms", "3000"]);
    assert!(
        server
            .sipp("cancel_before_answer.xml", "100")
            .status
            .success()
    );
    server.wait_for("caller hung up", Duration::from_secs(10));
    assert!(server.alive());
}

#[test]
fn a_caller_hanging_up_mid_prompt_leaves_the_server_answering() {
    if !have_sipp() {
        return;
    }
    let mut server = Server::start(&test_flows(), &[]);
    assert!(server.sipp("hangup_mid_prompt.xml", "100").status.success());
    server.wait_for("caller hung up", Duration::from_secs(10));
    // The next caller is served as usual.
    assert!(server.sipp("dtmf_ticket.xml", "100").status.success());
    assert!(server.alive());
}

#[test]
fn reinvite_puts_the_call_on_hold_and_back() {
    if !have_sipp() {
        return;
    }
    let server = Server::start(&test_flows(), &[]);
    assert!(server.sipp("reinvite_hold.xml", "100").status.success());
    server.wait_for("hold=true", Duration::from_secs(5));
    server.wait_for("hold=false", Duration::from_secs(5));
}

/// Every message of the RFC 4475 torture tests and the PROTOS c07 suite, sent
/// raw: the server must not die, and must still answer a real call afterwards.
#[test]
fn malformed_messages_do_not_hurt_the_server() {
    let corpora = repo().join("../shared/corpora/sip");
    if !corpora.exists() || !have_sipp() {
        eprintln!("no ../shared/corpora/sip here: corpus test not run");
        return;
    }
    let mut server = Server::start(&test_flows(), &[]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut sent = 0;
    let mut answered_400 = 0;
    for suite in ["rfc4475", "protos-c07-sip"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(corpora.join(suite))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            let bytes = &bytes[..bytes.len().min(65_000)];
            let _ = socket.send_to(bytes, ("127.0.0.1", server.port));
            sent += 1;
            // Read what came back so far; never wait long per message.
            let mut buf = [0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                if buf[..n].starts_with(b"SIP/2.0 400") {
                    answered_400 += 1;
                }
            }
        }
    }
    socket.set_nonblocking(false).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while let Ok(n) = socket.recv(&mut buf) {
        if buf[..n].starts_with(b"SIP/2.0 400") {
            answered_400 += 1;
        }
    }
    assert!(sent > 100, "the corpora were read ({sent} messages)");
    assert!(server.alive(), "the server died:\n{}", server.log());
    assert!(!server.log().contains("panicked"), "{}", server.log());
    eprintln!("{sent} malformed or odd messages sent, {answered_400} answered 400");
    assert!(server.sipp("dtmf_ticket.xml", "100").status.success());
    server.wait_for("the flow hung up", Duration::from_secs(10));
    assert!(server.stop().success());
    assert_eq!(server.tickets().len(), 1);
}
