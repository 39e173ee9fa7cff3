//! What the end-to-end tests of the binary share: running a command and reading its output;
//! and for `serve`, free ports, a server started on them and stopped by PID (also when a test
//! fails), its log, its store, and sipp runs against it.
//!
//! For calls with two parties: `ua` (a SIP user agent written by hand, with RTP in and out),
//! `baresip` (a real phone as a child process) and `tone` (test tones and finding them).
//!
//! Each test binary uses part of it, hence `dead_code` is allowed here.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod baresip;
pub mod http;
pub mod tone;
pub mod ua;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_centralino");

/// The repository root (the root package's directory).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The small deployment the SIP tests call (`tests/sip/flows`).
pub fn test_flows() -> PathBuf {
    root().join("tests/sip/flows")
}

// ------------------------------------------------------------------ one command

/// `centralino ARGS` to run in `dir`, with NO_COLOR unset (colours follow the binary's own
/// rule: only on a terminal, which a test is not).
pub fn command_in(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    // Diagnostics in English whatever the machine's locale, unless a test asks otherwise.
    command
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8");
    command
}

/// `centralino ARGS` to run from the repository root, so the paths it prints are relative.
pub fn command(args: &[&str]) -> Command {
    command_in(root(), args)
}

/// Run `centralino ARGS` from the repository root, without standard input.
pub fn centralino(args: &[&str]) -> Output {
    centralino_in(root(), args)
}

/// Run `centralino ARGS` in `dir`, without standard input.
pub fn centralino_in(dir: &Path, args: &[&str]) -> Output {
    command_in(dir, args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// The exit code (the process exited, it was not killed).
pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

/// No panic message, no backtrace hint: a person reads this.
pub fn assert_no_panic(output: &Output) {
    let err = stderr(output);
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "{err}");
}

// ------------------------------------------------------------------ a store made by calls

/// Monday 2 March 2026 in Perugia: working hours.
pub const AT: &str = "2026-03-02 10:00";
/// A pothole in street 123, number 5, then end the call.
pub const REPORT_POTHOLE: &str = "2 1 1 123 # 5 # 2";
/// 6 call-back, 2 tax office, then end the call.
pub const ASK_CALLBACK: &str = "6 2 2";
/// 3 book, 1 identity card, 1 confirm, 1 the first time offered, then end the call.
pub const BOOK_ID_CARD: &str = "3 1 1 1 2";

/// A temporary path as an argument.
pub fn path(dir: &Path) -> &str {
    dir.to_str().expect("temp paths are UTF-8")
}

/// One simulated call to Perugia's number at `at` that keeps what it stores in `data`;
/// its transcript.
pub fn call(data: &Path, at: &str, input: &str) -> String {
    let perugia = ["simulate", "flows/", "--number", "075075075"];
    let out = centralino(
        &[
            &perugia[..],
            &["--at", at, "--input", input, "--data", path(data)],
        ]
        .concat(),
    );
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    stdout(&out)
}

// ------------------------------------------------------------------ serve

/// Whether sipp is installed; says so on stderr when it is not.
pub fn have_sipp() -> bool {
    let found = Command::new("sipp").arg("-v").output().is_ok();
    if !found {
        eprintln!("sipp is not installed (apt-get install sip-tester): SIP tests cannot run");
    }
    found
}

/// Asked ports so far in this process: each search starts somewhere else.
static PORTS_ASKED: AtomicU64 = AtomicU64::new(0);

/// An even port free for UDP and TCP on loopback, with the odd port above it free for UDP
/// (RTCP's), from a pseudo-random start: tests in parallel processes rarely meet.
pub fn free_port() -> u16 {
    let seed = u64::from(std::process::id()) * 7919
        + u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        )
        + PORTS_ASKED.fetch_add(1, Ordering::Relaxed) * 2_003;
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

/// A running `centralino serve` on free ports with a temporary store, stopped (by PID)
/// when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    /// Where its HTTP side (the address book) listens.
    pub http_port: u16,
    pub data: tempfile::TempDir,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Start `serve` on `flows` (plus `extra` arguments) and wait until SIP listens.
    pub fn start(flows: &Path, extra: &[&str]) -> Server {
        Server::start_with_data(flows, tempfile::tempdir().unwrap(), extra)
    }

    /// [`Server::start`] on a data directory prepared beforehand (a store with records).
    pub fn start_with_data(flows: &Path, data: tempfile::TempDir, extra: &[&str]) -> Server {
        Server::start_with_filter(flows, data, extra, "info,rsipstack=warn")
    }

    /// [`Server::start`] with the calls' steps in the log (`step` lines with each state's
    /// note), for a test that waits for a call to reach a point of its flow.
    pub fn start_with_steps(flows: &Path, extra: &[&str]) -> Server {
        Server::start_with_filter(
            flows,
            tempfile::tempdir().unwrap(),
            extra,
            "info,rsipstack=warn,centralino_runtime::port=debug",
        )
    }

    fn start_with_filter(
        flows: &Path,
        data: tempfile::TempDir,
        extra: &[&str],
        filter: &str,
    ) -> Server {
        let port = free_port();
        let rtp = free_port();
        let http_port = free_port();
        let mut child = command(&["serve", "--flows"])
            .arg(flows)
            .arg("--data")
            .arg(data.path())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--rtp-ports", &format!("{rtp}-{}", rtp + 1000)])
            .args(["--http-listen", &format!("127.0.0.1:{http_port}")])
            .args(extra)
            .env("RUST_LOG", filter)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        // Ends with the server's stderr, when the child is gone.
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
            http_port,
            data,
            log,
        };
        server.wait_for("SIP listening", Duration::from_secs(30));
        server
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// How many times `text` was logged.
    pub fn count(&self, text: &str) -> usize {
        self.log().matches(text).count()
    }

    /// Log lines that contain every one of `parts`.
    pub fn lines_with(&self, parts: &[&str]) -> usize {
        self.log()
            .lines()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .count()
    }

    /// Wait until `text` was logged; fail the test after `limit`.
    pub fn wait_for(&self, text: &str, limit: Duration) {
        self.wait_for_times(text, 1, limit);
    }

    /// Wait until `text` was logged at least `times` times; how long it took.
    pub fn wait_for_times(&self, text: &str, times: usize, limit: Duration) -> Duration {
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

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Wait up to `limit` for the server to exit by itself.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// SIGTERM, then wait for a clean exit (the store is released); SIGKILL after 40 s.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal("TERM");
        match self.wait_exit(Duration::from_secs(40)) {
            Some(status) => status,
            None => {
                let _ = self.child.kill();
                self.child.wait().unwrap()
            }
        }
    }

    /// Send a signal (`TERM`, `HUP`, ...) to the server.
    pub fn signal(&self, name: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status();
    }

    /// A control command (`status`, `versions`, `rollback`, ...) with `--json`, its answer.
    pub fn control(&self, args: &[&str]) -> serde_json::Value {
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

    /// The tickets in the server's store, as `centralino tickets list --json` gives them.
    pub fn tickets(&self) -> Vec<serde_json::Value> {
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

    /// Run one sipp scenario (one call to `service`) against this server.
    pub fn sipp(&self, scenario: &str, service: &str) -> Output {
        self.sipp_within(scenario, service, 60)
    }

    /// Run one sipp scenario, which sipp gives up after `seconds`.
    pub fn sipp_within(&self, scenario: &str, service: &str, seconds: u64) -> Output {
        let output = sipp(
            self.port,
            scenario,
            &["-s", service, "-m", "1", "-l", "1"],
            seconds,
        );
        if !output.status.success() {
            eprintln!(
                "sipp {scenario} failed:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        output
    }

    /// `calls` calls to 100 at `rate` per second, all of them at once at most.
    pub fn sipp_load(&self, scenario: &str, calls: usize, rate: usize) -> Output {
        sipp_load(self.port, scenario, calls, rate)
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

/// `calls` calls to 100 on `127.0.0.1:port` at `rate` per second, all of them at once at
/// most (for a thread that cannot borrow the [`Server`]).
pub fn sipp_load(port: u16, scenario: &str, calls: usize, rate: usize) -> Output {
    let (calls, rate) = (calls.to_string(), rate.to_string());
    let args = [
        "-s",
        "100",
        "-m",
        &calls,
        "-l",
        &calls,
        "-r",
        &rate,
        "-max_socket",
        "2000",
    ];
    sipp(port, scenario, &args, 100)
}

/// Run sipp with a scenario of `tests/sipp/` against `127.0.0.1:port`, in a temporary
/// directory (its logs stay out of the tree), on free ports; killed after `seconds` + 30 s.
/// When it fails, its error log is appended to its stderr.
pub fn sipp(port: u16, scenario: &str, args: &[&str], seconds: u64) -> Output {
    // A port found free can be taken by another test's process before sipp binds it: sipp
    // then exits at once, having sent nothing, and is run again on other ports.
    let mut tries = 0;
    loop {
        let output = sipp_once(port, scenario, args, seconds);
        tries += 1;
        let unbound = String::from_utf8_lossy(&output.stderr).contains("Unable to bind");
        if output.status.success() || !unbound || tries == 3 {
            return output;
        }
    }
}

fn sipp_once(port: u16, scenario: &str, args: &[&str], seconds: u64) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut output = Command::new("timeout")
        .arg((seconds + 30).to_string())
        .arg("sipp")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-sf")
        .arg(root().join("tests/sipp").join(scenario))
        .args(args)
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string()])
        .args(["-mi", "127.0.0.1", "-mp", &free_port().to_string()])
        .args(["-nostdin", "-timeout", &format!("{seconds}s"), "-trace_err"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    if !output.status.success() {
        for entry in std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
        {
            if entry.file_name().to_string_lossy().ends_with("errors.log") {
                let errors = std::fs::read(entry.path()).unwrap_or_default();
                output.stderr.extend_from_slice(&errors);
            }
        }
    }
    output
}

/// Assert that sipp ran and `calls` of its calls succeeded.
pub fn sipp_succeeded(output: &Output, calls: usize) {
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
