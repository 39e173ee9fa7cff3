//! The staff console in a real browser: headless Chromium driven through chromedriver by
//! the selenium script `tests/browser/console.py`, against `serve` on a copy of
//! `examples/office` (its first start creates the console account `admin` / `admin-pw`).
//!
//! ```text
//!   this test ──spawns──► serve (free ports, temporary store)
//!       │      ──spawns──► chromedriver (own process group: Chromium dies with it)
//!       │      ──spawns──► python3 console.py --console URL --webdriver URL SCENARIO...
//!       │                      │ stdout: one JSON line per thing seen (check / signal / screenshot)
//!       ◄──────────────────────┘ stdin: the answer to a signal ("call" once sipp's call is up)
//!   asserts on the checks by (scenario, check)
//! ```
//!
//! The script only looks and reports; the assertions are here. Screenshots of every page
//! visited land in `target/browser-screenshots/TEST/` on each run. Every process is stopped by
//! PID (chromedriver by its process group) when its guard drops, also when a test fails.
//! Without chromium, chromedriver or selenium (`scripts/test` installs them) the tests say
//! they are skipped and pass. How to add a page's test: `tests/browser/README.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Server, free_port, have_sipp, root};

/// The console account that `examples/office/centralino.toml` creates on first start.
const ACCOUNT: &str = "admin:admin-pw";

// ------------------------------------------------------------------ the tools

/// Where the build's files go (`target/` unless CARGO_TARGET_DIR says otherwise).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .to_path_buf()
}

/// Screenshots of each run, for review: one folder per test (two tests may run the same
/// scenario at once, and each run first removes its scenarios' old pictures).
fn screenshots_dir() -> PathBuf {
    let test = std::thread::current()
        .name()
        .unwrap_or("browser")
        .replace("::", "-");
    target_dir().join("browser-screenshots").join(test)
}

/// Whether `program ARGS` runs and exits 0.
fn runs(program: &Path, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The Python that has selenium: the venv `scripts/test` may have made under `target/`,
/// else `python3`.
fn python_with_selenium() -> Option<PathBuf> {
    let venv = target_dir().join("browser-venv/bin/python3");
    [venv, PathBuf::from("python3")]
        .into_iter()
        .find(|python| runs(python, &["-c", "import selenium"]))
}

/// The Python to run the script with, when chromium, chromedriver and selenium are all
/// there; else says on stderr that the test is skipped and why.
fn browser_tools() -> Option<PathBuf> {
    let mut missing = Vec::new();
    if !runs(Path::new("chromium"), &["--version"]) {
        missing.push("chromium (apt-get install chromium)");
    }
    if !runs(Path::new("chromedriver"), &["--version"]) {
        missing.push("chromedriver (apt-get install chromium-driver)");
    }
    let python = python_with_selenium();
    if python.is_none() {
        missing.push("selenium for python3 (python3 -m pip install --user selenium)");
    }
    if missing.is_empty() {
        python
    } else {
        eprintln!(
            "browser test skipped: missing {} (scripts/test installs them)",
            missing.join(", ")
        );
        None
    }
}

/// Wait until something accepts TCP connections on 127.0.0.1:`port`.
fn wait_for_port(port: u16, limit: Duration, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < limit, "{what} never listened on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Copy directory `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

// ------------------------------------------------------------------ chromedriver

/// chromedriver on a free port, in a process group of its own with the Chromium it starts;
/// the whole group is killed when this drops.
struct ChromeDriver {
    child: Child,
    port: u16,
}

impl ChromeDriver {
    fn start() -> ChromeDriver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = ChromeDriver { child, port };
        wait_for_port(port, Duration::from_secs(30), "chromedriver");
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The group's id is chromedriver's PID (process_group(0)); Chromium is in it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Chromium's processes take a moment to go; the next test should not meet them.
        let group = format!("-{}", self.child.id());
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10)
            && runs(Path::new("kill"), &["-0", "--", &group])
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

// ------------------------------------------------------------------ the console

/// `serve` on a copy of `examples/office` (free ports, a fresh store, so the first start
/// creates `admin`), a chromedriver, and an empty Chromium profile.
struct Console {
    // Dropped in this order: the browser first, then the server.
    driver: ChromeDriver,
    server: Server,
    python: PathBuf,
    profile: tempfile::TempDir,
    _office: tempfile::TempDir,
}

impl Console {
    /// Everything started, or `None` (said on stderr) when the browser tools are missing.
    fn start() -> Option<Console> {
        let python = browser_tools()?;
        let office = tempfile::tempdir().unwrap();
        copy_dir(&root().join("examples/office"), office.path());
        let config = office.path().join("centralino.toml");
        let server = Server::start_with_data(
            &office.path().join("flows"),
            tempfile::tempdir().unwrap(),
            &["--config", config.to_str().unwrap()],
        );
        server.wait_for("HTTP listening", Duration::from_secs(30));
        server.wait_for("console: first account created", Duration::from_secs(5));
        Some(Console {
            driver: ChromeDriver::start(),
            server,
            python,
            profile: tempfile::tempdir().unwrap(),
            _office: office,
        })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.http_port)
    }

    /// Start the script on `scenarios`, in that order, in one browser.
    fn script(&self, scenarios: &[&str]) -> Script {
        self.script_with(scenarios, &[])
    }

    /// [`Console::script`] with `values` for the scenarios (`b.values[KEY]` in the script).
    fn script_with(&self, scenarios: &[&str], values: &[(&str, &str)]) -> Script {
        let mut command = Command::new(&self.python);
        command.arg(root().join("tests/browser/console.py"));
        for (key, value) in values {
            command.arg(format!("--value={key}={value}"));
        }
        let mut child = command
            .args(["--console", &self.url()])
            .args(["--webdriver", &self.driver.url()])
            .arg("--screenshots")
            .arg(screenshots_dir())
            .arg("--profile")
            .arg(self.profile.path())
            .args(["--account", ACCOUNT])
            .args(scenarios)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let (sender, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        // Ends with the script's stdout, when the child is gone.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr_text = Arc::new(Mutex::new(String::new()));
        let sink = stderr_text.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Script {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            stderr: stderr_text,
        }
    }

    /// Run `scenarios` to their end (none may signal); what the script saw.
    fn run(&self, scenarios: &[&str]) -> Run {
        self.run_with(scenarios, &[])
    }

    /// [`Console::run`] with `values` for the scenarios.
    fn run_with(&self, scenarios: &[&str], values: &[(&str, &str)]) -> Run {
        self.script_with(scenarios, values)
            .finish(Duration::from_secs(120))
    }
}

// ------------------------------------------------------------------ the script

/// The selenium script while it runs; killed by PID when dropped before its end.
struct Script {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Script {
    /// The next line of the script's output, parsed; `None` at its end.
    fn next(&mut self, deadline: Instant) -> Option<Value> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => {
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| panic!("not a JSON line from the script: {line}"));
                self.seen.push(value.clone());
                Some(value)
            }
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!(
                "the browser script said nothing more in time; it said:\n{}\n{}",
                self.transcript(),
                self.stderr.lock().unwrap()
            ),
        }
    }

    fn transcript(&self) -> String {
        self.seen
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Wait until the script signals `name` (it then waits for [`Script::answer`]).
    fn await_signal(&mut self, name: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            match self.next(deadline) {
                Some(line) if line["signal"] == name => return,
                Some(line) if line.get("error").is_some() => panic!(
                    "the browser script failed before signalling `{name}`:\n{}",
                    self.transcript()
                ),
                Some(_) => {}
                None => panic!(
                    "the browser script ended before signalling `{name}`:\n{}\n{}",
                    self.transcript(),
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    /// Let the script go on after its signal `name`.
    fn answer(&mut self, name: &str) {
        let stdin = self.stdin.as_mut().expect("the script's stdin");
        writeln!(stdin, "{name}").expect("the script reads its stdin");
    }

    /// Read the script to its end and wait for its exit (killed after `limit`).
    fn finish(mut self, limit: Duration) -> Run {
        self.stdin = None;
        let deadline = Instant::now() + limit;
        while self.next(deadline).is_some() {}
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the browser script did not exit:\n{}",
                self.transcript()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Run {
            lines: std::mem::take(&mut self.seen),
            status,
            stderr: self.stderr.lock().unwrap().clone(),
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What the script saw, line by line.
struct Run {
    lines: Vec<Value>,
    status: ExitStatus,
    stderr: String,
}

impl Run {
    fn transcript(&self) -> String {
        let lines: Vec<String> = self.lines.iter().map(Value::to_string).collect();
        format!(
            "{}\n(exit {:?})\n{}",
            lines.join("\n"),
            self.status.code(),
            self.stderr
        )
    }

    /// Every scenario of the run returned, and the script exited 0.
    fn assert_passed(&self, scenarios: &[&str]) {
        for scenario in scenarios {
            assert!(
                self.lines
                    .iter()
                    .any(|l| l["scenario"] == *scenario && l["passed"] == true),
                "scenario `{scenario}` did not pass:\n{}",
                self.transcript()
            );
        }
        assert!(self.status.success(), "{}", self.transcript());
    }

    /// The value the script reported for `check` in `scenario`.
    fn check(&self, scenario: &str, check: &str) -> &Value {
        self.lines
            .iter()
            .find(|l| l["scenario"] == scenario && l["check"] == check)
            .map(|l| &l["value"])
            .unwrap_or_else(|| {
                panic!(
                    "no check `{check}` in scenario `{scenario}`:\n{}",
                    self.transcript()
                )
            })
    }

    /// Assert each `(check, value)` of `scenario`.
    fn expect(&self, scenario: &str, expected: &[(&str, Value)]) {
        for (check, value) in expected {
            assert_eq!(
                self.check(scenario, check),
                value,
                "{scenario}: {check}\n{}",
                self.transcript()
            );
        }
    }

    /// The screenshots saved, each a PNG file.
    fn screenshots(&self) -> Vec<PathBuf> {
        self.lines
            .iter()
            .filter_map(|l| l["screenshot"].as_str())
            .map(PathBuf::from)
            .collect()
    }
}

/// Each screenshot the run reported is a PNG image on disk.
fn assert_screenshots(run: &Run, at_least: usize) {
    let shots = run.screenshots();
    assert!(shots.len() >= at_least, "{}", run.transcript());
    for shot in shots {
        let bytes = std::fs::read(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
        assert!(
            bytes.starts_with(b"\x89PNG"),
            "{} is no PNG",
            shot.display()
        );
    }
}

// ------------------------------------------------------------------ the tests

/// Log in through the form (a wrong password first), switch the language both ways, have
/// forms without their CSRF token refused, log out: one browser, one server.
#[test]
fn staff_log_in_switch_language_are_refused_without_token_and_log_out() {
    let Some(console) = Console::start() else {
        return;
    };
    let scenarios = ["login", "language", "csrf", "logout"];
    let run = console.run(&scenarios);
    run.assert_passed(&scenarios);

    // A stranger lands on the login form; a wrong password is said so and opens nothing.
    run.expect(
        "login",
        &[
            ("anonymous.path", "/login".into()),
            ("anonymous.heading", "Accesso del personale".into()),
            ("wrong.path", "/login".into()),
            ("wrong.status", 401.into()),
            ("wrong.alert", "Nome o password non corretti.".into()),
            ("wrong.name_kept", "admin".into()),
            ("wrong.session_cookie", Value::Null),
            ("wrong.then_home.path", "/login".into()),
            ("right.path", "/".into()),
            ("right.heading", "Chiamate in corso".into()),
            ("right.who", "admin (supervisor)".into()),
            ("right.session_cookie", true.into()),
        ],
    );
    assert_eq!(console.server.count("console login failed"), 1);

    // Italian first, English after the switch, Italian again.
    let italian: [(&str, Value); 5] = [
        ("lang", "it".into()),
        ("heading", "Chiamate in corso".into()),
        ("switch", "English".into()),
        ("logout", "Esci".into()),
        ("empty", "Nessuna chiamata in corso.".into()),
    ];
    let english: [(&str, Value); 5] = [
        ("lang", "en".into()),
        ("heading", "Live calls".into()),
        ("switch", "Italiano".into()),
        ("logout", "Log out".into()),
        ("empty", "No calls in progress.".into()),
    ];
    for (prefix, words) in [("it", &italian), ("en", &english), ("back", &italian)] {
        let expected: Vec<(String, Value)> = words
            .iter()
            .map(|(check, value)| (format!("{prefix}.{check}"), value.clone()))
            .collect();
        let expected: Vec<(&str, Value)> = expected
            .iter()
            .map(|(check, value)| (check.as_str(), value.clone()))
            .collect();
        run.expect("language", &expected);
        // The live calls page comes first; other pages' entries follow as they land.
        let nav = run.check("language", &format!("{prefix}.nav"));
        assert_eq!(nav[0], words[1].1, "{}", run.transcript());
    }
    run.expect("language", &[("en.path", "/".into())]);

    // The hidden field removed by script: 403, and neither the language nor the session
    // changed.
    run.expect(
        "csrf",
        &[
            ("lang.fields_left", serde_json::json!(["lang"])),
            ("lang.status", 403.into()),
            (
                "lang.body",
                "modulo scaduto o non valido: ricaricare la pagina".into(),
            ),
            ("logout.fields_left", serde_json::json!([])),
            ("logout.status", 403.into()),
            ("after.path", "/".into()),
            ("after.lang", "it".into()),
        ],
    );
    assert_eq!(console.server.count("console logout"), 1, "only `logout`'s");

    // Log out ends the session: the page is not reached again, by reload or by address.
    run.expect(
        "logout",
        &[
            ("path", "/login".into()),
            ("session_cookie", Value::Null),
            ("back.reloaded.path", "/login".into()),
            ("home.path", "/login".into()),
        ],
    );
    if run.check("logout", "back.path") != "/login" {
        eprintln!(
            "note: the back button after log out shows the live calls page from the browser's \
             cache ({}); see the_back_button_after_logout_does_not_show_the_page",
            run.check("logout", "back.heading")
        );
    }
    assert_screenshots(&run, 9);
}

/// Every page in the navigation (a supervisor sees them all) answers 200 in Italian and in
/// English, with a heading and no word shown as its key; a screenshot of each.
#[test]
fn every_page_in_the_navigation_renders_in_both_languages() {
    let Some(console) = Console::start() else {
        return;
    };
    let run = console.run(&["tour"]);
    run.assert_passed(&["tour"]);
    let looks_like_a_key = |text: &str| {
        text.contains('.')
            && !text.contains(' ')
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_' || c.is_ascii_digit())
    };
    let mut pages = 0;
    for lang in ["it", "en"] {
        let nav = run.check("tour", &format!("{lang}.nav"));
        assert!(
            nav.as_array().is_some_and(|nav| !nav.is_empty()),
            "{}",
            run.transcript()
        );
        let seen: Vec<&Value> = run
            .lines
            .iter()
            .filter(|l| l["scenario"] == "tour" && l["check"] == format!("{lang}.page"))
            .map(|l| &l["value"])
            .collect();
        assert_eq!(
            seen.len(),
            nav.as_array().unwrap().len(),
            "{}",
            run.transcript()
        );
        for page in seen {
            assert_eq!(page["status"], 200, "{page}");
            assert_eq!(page["lang"], lang, "{page}");
            assert!(
                page["heading"].as_str().is_some_and(|h| !h.is_empty()),
                "{page}"
            );
            for word in page["words"].as_array().unwrap() {
                let word = word.as_str().unwrap_or_default();
                assert!(!looks_like_a_key(word), "a word missing: {word} on {page}");
            }
            pages += 1;
        }
    }
    assert_screenshots(&run, pages);
}

/// After log out the back button does not show the last page: staff responses are
/// `Cache-Control: no-store`, and the layout reloads a page Chromium's back/forward cache
/// restores anyway (no-store alone does not keep Chromium 156 from restoring it); the reload
/// finds no session and goes to the login form.
#[test]
fn the_back_button_after_logout_does_not_show_the_page() {
    let Some(console) = Console::start() else {
        return;
    };
    let run = console.run(&["logout"]);
    run.assert_passed(&["logout"]);
    run.expect("logout", &[("back.path", "/login".into())]);
    assert_ne!(
        run.check("logout", "back.heading"),
        "Chiamate in corso",
        "{}",
        run.transcript()
    );
}

/// A call placed by sipp (staying in the office menu) is in the live calls table while it
/// lasts, with its number and flow, and leaves it when it ends.
#[test]
fn a_call_placed_by_sipp_appears_on_live_calls_and_leaves_when_it_ends() {
    if !have_sipp() {
        return;
    }
    let Some(console) = Console::start() else {
        return;
    };
    let mut script = console.script(&["live_calls"]);
    script.await_signal("call", Duration::from_secs(60));
    let run = std::thread::scope(|scope| {
        let port = console.server.port;
        // 20 s in the menu (it waits 8 s for a key after its prompt, twice more on silence):
        // the script first gives the page 8 s to show the call by itself, then reloads.
        let call = scope.spawn(move || {
            support::sipp(
                port,
                "stay_on_line.xml",
                &["-s", "100", "-m", "1", "-l", "1", "-d", "20000"],
                60,
            )
        });
        console
            .server
            .wait_for("call accepted", Duration::from_secs(30));
        script.answer("call");
        let run = script.finish(Duration::from_secs(150));
        let call = call.join().unwrap();
        assert!(
            call.status.success(),
            "sipp: {}{}\n{}",
            String::from_utf8_lossy(&call.stdout),
            String::from_utf8_lossy(&call.stderr),
            console.server.log()
        );
        run
    });
    run.assert_passed(&["live_calls"]);
    run.expect(
        "live_calls",
        &[
            ("before", "Nessuna chiamata in corso.".into()),
            ("after", "Nessuna chiamata in corso.".into()),
            ("after.ended", "1".into()),
        ],
    );
    let rows = run.check("live_calls", "during.rows");
    let rows = rows
        .as_array()
        .unwrap_or_else(|| panic!("{}", run.transcript()));
    assert_eq!(rows.len(), 1, "{}", run.transcript());
    let row = &rows[0];
    assert_eq!(row["Numero"], "100", "{}", run.transcript());
    assert_eq!(row["Flusso"], "ufficio", "{}", run.transcript());
    assert!(
        row["Chiamante"]
            .as_str()
            .is_some_and(|c| c.contains("3331234567")),
        "{}",
        run.transcript()
    );
    assert_eq!(row["Stato"], "menu", "{}", run.transcript());
    if run.check("live_calls", "updated_by_itself") == false {
        eprintln!("note: the live calls page does not update by itself; the script reloaded it");
    }
    assert_screenshots(&run, 3);
}

// ------------------------------------------------------------------ tickets, callbacks, web chat

/// The operator account the records tests make (the scenarios get it as value `operator`).
const OPERATOR: &str = "operatore:operatore-pw";
/// A supervisor, who may also read the call log (value `supervisor`).
const SUPERVISOR: &str = "capo:capo-password";

/// examples/office's settings without `[trunk]`: the callback dialer is off, so a callback
/// stays where staff put it (tests/dialer.rs is about dialling).
fn office_settings_without_trunk(office: &Path) -> String {
    let settings = std::fs::read_to_string(office.join("centralino.toml")).unwrap();
    let without: String = settings
        .lines()
        .filter(|line| *line != "[trunk]" && !line.starts_with("uri = \"sip:{number}"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(!without.contains("{number}"), "{without}");
    without
}

/// `centralino users add NAME --role ROLE --data DATA`, the password on its stdin.
fn add_console_account(data: &Path, account: &str, role: &str) {
    let (name, password) = account.split_once(':').unwrap();
    let mut child = support::command(&["users", "add", name, "--role", role, "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{password}").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Console {
    /// [`Console::start`] without the trunk, on a data directory `prepare` filled first (a
    /// store with records) and with the account [`OPERATOR`] (so no `admin` is made).
    fn start_prepared(prepare: impl FnOnce(&Path)) -> Option<Console> {
        Console::start_office(|settings| settings, prepare)
    }

    /// [`Console::start_prepared`] with the office's settings (without the trunk) changed by
    /// `edit`.
    fn start_office(
        edit: impl FnOnce(String) -> String,
        prepare: impl FnOnce(&Path),
    ) -> Option<Console> {
        let python = browser_tools()?;
        let office = tempfile::tempdir().unwrap();
        copy_dir(&root().join("examples/office"), office.path());
        let config = office.path().join("centralino.toml");
        std::fs::write(&config, edit(office_settings_without_trunk(office.path()))).unwrap();
        let data = tempfile::tempdir().unwrap();
        prepare(data.path());
        add_console_account(data.path(), OPERATOR, "operator");
        let server = Server::start_with_data(
            &office.path().join("flows"),
            data,
            &["--config", config.to_str().unwrap()],
        );
        server.wait_for("HTTP listening", Duration::from_secs(30));
        server.wait_for(
            "callback requests are kept, not dialled",
            Duration::from_secs(5),
        );
        Some(Console {
            driver: ChromeDriver::start(),
            server,
            python,
            profile: tempfile::tempdir().unwrap(),
            _office: office,
        })
    }
}

/// The cells of `column` in the table rows a scenario reported.
fn column<'a>(rows: &'a Value, column: &str) -> Vec<&'a str> {
    rows.as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| row[column].as_str().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

/// The row of `rows` whose `column` starts with `value` (a reference may be followed by a
/// mark such as "in ritardo").
fn row_where<'a>(rows: &'a Value, column: &str, value: &str) -> Option<&'a Value> {
    rows.as_array()?.iter().find(|row| {
        row[column]
            .as_str()
            .is_some_and(|cell| cell.starts_with(value))
    })
}

/// An operator finds a ticket with the list's filter, comments on it and closes it in the
/// browser; the page shows it closed with the comment and the note in its history, and the
/// store agrees. Then the same operator moves a late callback request to a later time (page,
/// list and store show it); with no trunk the page says nothing will call it (no "call now"),
/// and the operator closes it with a note, which page and store show.
#[test]
fn an_operator_closes_a_ticket_and_reschedules_a_callback_in_the_browser() {
    use centralino_runtime::store::{NewCallback, NewTicket, SledStore, Store, StoreConfig};
    use jiff::{SignedDuration, Timestamp};

    let now = Timestamp::now();
    let mut references = None;
    let Some(console) = Console::start_prepared(|data| {
        let store = SledStore::open(data, StoreConfig::default()).unwrap();
        let ticket = |category: &str, office: Option<&str>, hours_ago: i64, call: &str| {
            let created_at = now - SignedDuration::from_hours(hours_ago);
            store
                .create_ticket(NewTicket {
                    category: category.into(),
                    title: String::new(),
                    office: office.map(Into::into),
                    priority: "normale".into(),
                    fields: [("pratica".to_string(), "4711".to_string())].into(),
                    caller: "+390755771234".into(),
                    call_id: call.into(),
                    created_at,
                    due_at: Some(created_at + SignedDuration::from_hours(48)),
                })
                .unwrap()
                .reference
        };
        let wanted = ticket("segnalazione", Some("prova"), 3, "call-segnalazione");
        let other = ticket("rifiuti", None, 1, "call-rifiuti");
        let callback = store
            .create_callback(NewCallback {
                office: "prova".into(),
                number: "0755771234".into(),
                note: Some("certificato di residenza".into()),
                call_id: "call-richiamata".into(),
                // Asked for three days ago and never reached: late.
                created_at: now - SignedDuration::from_hours(72),
                window: None,
                ticket: None,
                category: None,
                citizen_first: false,
                language: None,
            })
            .unwrap()
            .reference;
        store.flush().unwrap();
        references = Some((wanted, other, callback));
    }) else {
        return;
    };
    let (ticket, other, callback) = references.unwrap();
    let comment = "Sopralluogo fissato per lunedì alle 9";
    let note = "Pratica chiusa dall'ufficio";
    let at = "2030-01-15T10:30";
    let close_note = "Richiamato a mano: certificato inviato";
    let scenarios = ["ticket_close", "callback_reschedule"];
    let mut script = console.script_with(
        &scenarios,
        &[
            ("operator", OPERATOR),
            ("ticket", &ticket),
            ("category", "segnalazione"),
            ("comment", comment),
            ("note", note),
            ("callback", &callback),
            ("at", at),
            ("close_note", close_note),
        ],
    );
    // Between the two callback changes: the store has the time typed in the page.
    script.await_signal("rescheduled", Duration::from_secs(120));
    let moved = console.server.control(&["callbacks", "show", &callback]);
    script.answer("rescheduled");
    let run = script.finish(Duration::from_secs(120));
    run.assert_passed(&scenarios);

    // The ticket: the full list has both, the filter only the wanted one.
    let seen = run.check("ticket_close", "list.references");
    assert!(
        seen.as_array()
            .is_some_and(|refs| refs.contains(&ticket.as_str().into())
                && refs.contains(&other.as_str().into())),
        "{}",
        run.transcript()
    );
    let filtered = run.check("ticket_close", "filtered.rows");
    assert_eq!(
        column(filtered, "Numero"),
        [ticket.as_str()],
        "{}",
        run.transcript()
    );
    let row = &filtered[0];
    assert_eq!(row["Categoria"], "segnalazione");
    assert_eq!(row["Ufficio"], "prova");
    assert_eq!(row["Stato"], "aperta");
    run.expect(
        "ticket_close",
        &[
            (
                "filtered.url",
                "/tickets?category=segnalazione&office=&status=open&from=&to=".into(),
            ),
            ("filtered.category_kept", "segnalazione".into()),
            ("ticket.path", format!("/tickets/{ticket}").into()),
            ("ticket.reference", ticket.as_str().into()),
            ("ticket.status", "aperta".into()),
            ("ticket.history", serde_json::json!([])),
            (
                "ticket.notes",
                serde_json::json!(["Nessuna registrazione.", "Nessuna modifica."]),
            ),
            ("commented.path", format!("/tickets/{ticket}").into()),
            ("commented.status", "aperta".into()),
            (
                "commented.history",
                serde_json::json!([["operatore", "commento", comment]]),
            ),
            ("commented.comment_box", "".into()),
            ("closed.path", format!("/tickets/{ticket}").into()),
            ("closed.status", "chiusa".into()),
            (
                "closed.history",
                serde_json::json!([
                    ["operatore", "commento", comment],
                    ["operatore", "chiusa", note]
                ]),
            ),
            ("closed.problem", Value::Null),
            // Closed: only reopening is offered (plus the header's language and log out).
            ("closed.forms", serde_json::json!(["reopen"])),
        ],
    );
    let closed_list = run.check("ticket_close", "closed_list.rows");
    assert_eq!(
        column(closed_list, "Numero"),
        [ticket.as_str()],
        "{}",
        run.transcript()
    );
    assert_eq!(closed_list[0]["Stato"], "chiusa");
    let stored = console.server.control(&["tickets", "show", &ticket]);
    assert_eq!(stored["status"], "closed", "{stored:#}");
    let history = stored["work"]["history"].as_array().unwrap();
    let actions: Vec<&str> = history
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["comment", "close"], "{stored:#}");
    assert_eq!(history[0]["text"], comment, "{stored:#}");
    assert_eq!(history[1]["note"], note, "{stored:#}");
    assert!(history.iter().all(|e| e["by"] == "operatore"), "{stored:#}");
    assert_eq!(
        console.server.control(&["tickets", "show", &other])["status"],
        "open"
    );

    // The callback: late in the list, waiting to be called as soon as possible.
    let list = run.check("callback_reschedule", "list.rows");
    let row =
        row_where(list, "Numero", &callback).unwrap_or_else(|| panic!("{}", run.transcript()));
    assert_eq!(
        row["Numero"],
        format!("{callback} in ritardo"),
        "{}",
        run.transcript()
    );
    assert_eq!(row["Stato"], "in attesa", "{}", run.transcript());
    assert_eq!(row["Prossimo tentativo"], "appena possibile");
    assert_eq!(row["Da chiamare"], "0755771234");
    run.expect(
        "callback_reschedule",
        &[
            ("list.late", "1".into()),
            ("before.path", format!("/callbacks/{callback}").into()),
            ("before.state", "in attesa in ritardo".into()),
            ("before.next", "appena possibile".into()),
            ("before.field.type", "datetime-local".into()),
            // No trunk, no dialer: the page says so instead of offering "call now".
            ("before.buttons", serde_json::json!(["Sposta", "Chiudi"])),
            (
                "before.no_dialer",
                "Nessuna linea esterna configurata: il centralino non richiama da solo. \
                 Chiami il numero e chiuda la richiesta."
                    .into(),
            ),
            ("typed.value", at.into()),
            ("moved.path", format!("/callbacks/{callback}").into()),
            ("moved.status", 200.into()),
            ("moved.state", "in attesa in ritardo".into()),
            ("moved.next", "2030-01-15 10:30".into()),
            ("moved.problem", Value::Null),
            // Called by hand and closed: no longer late, nothing left to do on it.
            ("closed.path", format!("/callbacks/{callback}").into()),
            ("closed.status", 200.into()),
            ("closed.state", "chiusa".into()),
            ("closed.next", "-".into()),
            ("closed.forms", serde_json::json!([])),
            ("closed.problem", Value::Null),
        ],
    );
    let moved_row = row_where(
        run.check("callback_reschedule", "moved.list.rows"),
        "Numero",
        &callback,
    )
    .unwrap_or_else(|| panic!("{}", run.transcript()));
    assert_eq!(moved_row["Prossimo tentativo"], "2030-01-15 10:30");
    // 10:30 in Rome in January is 09:30 UTC.
    assert_eq!(moved["dialing"]["state"], "pending", "{moved:#}");
    assert_eq!(
        moved["dialing"]["next_attempt_at"]
            .as_str()
            .map(|t| t.parse::<Timestamp>().unwrap()),
        Some("2030-01-15T09:30:00Z".parse().unwrap()),
        "{moved:#}"
    );
    let closed = run.check("callback_reschedule", "closed.closed");
    assert!(
        closed
            .as_str()
            .is_some_and(|c| c.ends_with(&format!(" · operatore · {close_note}"))),
        "{}",
        run.transcript()
    );
    let stored = console.server.control(&["callbacks", "show", &callback]);
    assert_eq!(stored["status"], "closed", "{stored:#}");
    assert_eq!(stored["dialing"]["state"], "closed", "{stored:#}");
    assert_eq!(stored["dialing"]["by"], "operatore", "{stored:#}");
    assert_eq!(stored["dialing"]["note"], close_note, "{stored:#}");
    assert_eq!(
        stored["dialing"]["attempts"],
        serde_json::json!([]),
        "nothing dialled it: {stored:#}"
    );
    assert_screenshots(&run, 11);
}

/// A citizen with no login leaves a ticket through `/chat` in Chromium (the page's script
/// sends the button and the digits and reloads when the flow moves on, with no script error),
/// reads its reference in the chat; the operator then finds that ticket, with the file number,
/// the phone given and the channel, in the console's tickets list; a supervisor follows its
/// call to the chat's record in the call log.
#[test]
fn a_web_chat_leaves_a_ticket_that_an_operator_finds_in_the_console() {
    let Some(console) =
        Console::start_prepared(|data| add_console_account(data, SUPERVISOR, "supervisor"))
    else {
        return;
    };
    let run = console.run_with(
        &["webchat_ticket"],
        &[
            ("operator", OPERATOR),
            ("supervisor", SUPERVISOR),
            ("phone", "+39 333 123 4567"),
            ("file", "4711"),
        ],
    );
    run.assert_passed(&["webchat_ticket"]);
    let s = "webchat_ticket";
    run.expect(
        s,
        &[
            ("start.status", 200.into()),
            ("start.title", "Comune: scrivici".into()),
            ("start.button", "Inizia".into()),
            ("menu.path", "/chat".into()),
            ("digits.field", true.into()),
            ("digits.label", "Scriva il numero:".into()),
            // The script sent the button with fetch and reloaded the page itself.
            ("digits.navigation", "reload".into()),
            ("digits.script_errors", serde_json::json!([])),
            ("done.navigation", "reload".into()),
            (
                "done.answer",
                "La conversazione è terminata.\nNuova conversazione".into(),
            ),
            ("done.script_errors", serde_json::json!([])),
            // Over: the page stops asking the server (the chat goes after a while).
            ("done.polls_after_over", 0.into()),
            ("console.script_errors", serde_json::json!([])),
        ],
    );
    let buttons = run.check(s, "menu.buttons");
    assert!(
        buttons
            .as_array()
            .is_some_and(|b| b.contains(&"6 · Per lasciare una segnalazione".into())),
        "{}",
        run.transcript()
    );
    let messages = run.check(s, "done.messages");
    let messages: Vec<&str> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(messages[0].starts_with("Ufficio di prova."), "{messages:?}");
    assert!(
        messages.contains(&"6"),
        "the citizen's button: {messages:?}"
    );
    assert!(
        messages.contains(&"4711"),
        "the citizen's digits: {messages:?}"
    );
    assert_eq!(messages.last(), Some(&"Arrivederci."), "{messages:?}");
    let reference = run
        .check(s, "done.reference")
        .as_str()
        .unwrap_or_else(|| panic!("{}", run.transcript()))
        .to_owned();
    let (prefix, number) = reference.split_at(reference.rfind('-').unwrap());
    assert!(
        !prefix.is_empty() && number.len() > 1 && number[1..].chars().all(|c| c.is_ascii_digit()),
        "{reference}"
    );

    // The operator's list has it (the only ticket), open, from the phone the citizen gave.
    let rows = run.check(s, "console.rows");
    assert_eq!(
        column(rows, "Numero"),
        [reference.as_str()],
        "{}",
        run.transcript()
    );
    assert_eq!(rows[0]["Categoria"], "segnalazione");
    assert_eq!(rows[0]["Ufficio"], "prova");
    assert_eq!(rows[0]["Stato"], "aperta");
    assert_eq!(rows[0]["Chiamante"], "+393331234567");
    run.expect(
        s,
        &[("console.ticket.reference", reference.as_str().into())],
    );
    let collected = run.check(s, "console.ticket.collected");
    assert_eq!(collected["pratica"], "4711", "{}", run.transcript());
    assert_eq!(
        collected["telefono"],
        "+393331234567",
        "{}",
        run.transcript()
    );
    // The ticket says it came by the web chat; its call is named but, for an operator, who
    // may not read the call log, not a link.
    let fields = run.check(s, "console.ticket.fields");
    assert_eq!(fields["Canale"], "chat sul sito", "{}", run.transcript());
    let call = fields["Chiamata"].as_str().unwrap_or_default().to_owned();
    assert!(call.starts_with("webchat-"), "{}", run.transcript());
    run.expect(s, &[("console.ticket.call_link", Value::Null)]);
    // A supervisor follows it to the chat in the call log.
    run.expect(
        s,
        &[
            ("supervisor.channel", "chat sul sito".into()),
            ("supervisor.call_link", format!("/calls/{call}").into()),
            ("supervisor.call.status", 200.into()),
        ],
    );
    let logged = run.check(s, "supervisor.call.rows");
    assert_eq!(logged["Canale"], "webchat", "{}", run.transcript());
    assert_eq!(logged["Esito"], "the flow hung up", "{}", run.transcript());

    // The store agrees: the same ticket, made by the chat's call.
    let stored = console.server.control(&["tickets", "show", &reference]);
    assert_eq!(stored["status"], "open", "{stored:#}");
    assert_eq!(stored["fields"]["pratica"], "4711", "{stored:#}");
    assert!(
        stored["call_id"]
            .as_str()
            .is_some_and(|c| c.starts_with("webchat-")),
        "{stored:#}"
    );
    assert_screenshots(&run, 6);
}

/// The chat ends under the citizen's page (the server's idle timeout, set to 5 s here; then a
/// lost cookie): the page's script notices and shows the start form again rather than keep
/// buttons that do nothing, with no script error.
#[test]
fn a_chat_that_ended_under_the_page_brings_the_citizen_back_to_the_start() {
    let Some(console) = Console::start_office(
        |settings| {
            let chat = "[webchat]\n";
            assert!(settings.contains(chat), "{settings}");
            settings.replace(chat, "[webchat]\nidle_timeout_s = 5\n")
        },
        |_| {},
    ) else {
        return;
    };
    let run = console.run(&["webchat_gone"]);
    run.assert_passed(&["webchat_gone"]);
    let s = "webchat_gone";
    run.expect(
        s,
        &[
            ("idle.start_form", true.into()),
            ("idle.buttons_after", serde_json::json!([])),
            ("idle.script_errors", serde_json::json!([])),
            ("lost.cookie", Value::Null),
            ("lost.start_form", true.into()),
            ("lost.script_errors", serde_json::json!([])),
        ],
    );
    for seen in ["idle.buttons", "lost.buttons"] {
        assert_eq!(
            run.check(s, seen).as_array().map(Vec::len),
            Some(6),
            "{seen}: the menu was shown first\n{}",
            run.transcript()
        );
    }
    console
        .server
        .wait_for("web chat idle: the citizen left", Duration::from_secs(30));
}

// ------------------------------------------------------------------ browser2: editor, reports

/// `centralino users add NAME --role ROLE --data DATA`, the password on standard input.
fn add_account(data: &Path, name: &str, role: &str, password: &str) {
    add_console_account(data, &format!("{name}:{password}"), role);
}

impl Console {
    /// [`Console::start`] on a copy of examples/office that `prepare(office, data)` changes
    /// first (files, configuration, accounts, records in the store). The first account
    /// (`admin`) is made only when `prepare` made none.
    fn start_with_files(prepare: impl FnOnce(&Path, &Path)) -> Option<Console> {
        let python = browser_tools()?;
        let office = tempfile::tempdir().unwrap();
        copy_dir(&root().join("examples/office"), office.path());
        let data = tempfile::tempdir().unwrap();
        prepare(office.path(), data.path());
        let config = office.path().join("centralino.toml");
        let server = Server::start_with_data(
            &office.path().join("flows"),
            data,
            &["--config", config.to_str().unwrap()],
        );
        server.wait_for("HTTP listening", Duration::from_secs(30));
        Some(Console {
            driver: ChromeDriver::start(),
            server,
            python,
            profile: tempfile::tempdir().unwrap(),
            _office: office,
        })
    }
}

/// The frequency of the tone the edited welcome plays (no DTMF tone, far from speech's
/// strongest bands), and how long it lasts.
const WELCOME_TONE_HZ: f32 = 1_700.0;
const WELCOME_TONE_MS: u32 = 1_500;

/// Call 100 with the test's own user agent, listen for `listen`, hang up: the audio the
/// caller received (8 kHz PCM) and the call's SIP Call-ID.
fn listen_to_the_welcome(server: &Server, listen: Duration) -> (Vec<i16>, String) {
    let mut caller = support::ua::Caller::call(server.addr(), "100");
    let start = Instant::now();
    std::thread::sleep(listen);
    let heard = caller.heard_pcm_since(start);
    caller.hang_up();
    (heard, caller.sip.call_id.clone())
}

/// The call log (`centralino calls list --json`) once it has `count` calls.
fn logged_calls(server: &Server, count: usize) -> Vec<Value> {
    let data = server.data.path();
    let start = Instant::now();
    loop {
        let out = support::centralino(&["calls", "list", "--json", "--data", support::path(data)]);
        assert!(out.status.success(), "{}", support::stderr(&out));
        let calls: Vec<Value> = serde_json::from_str(&support::stdout(&out)).unwrap();
        if calls.len() >= count {
            return calls;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} calls logged, waited for {count}:\n{}",
            calls.len(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A flow editor (made with `centralino users add`) fixes a flow in the browser: the mistake
/// typed key by key shows its diagnostic by itself at its line with code and help; the fix
/// (a first state playing a tone file the test put beside the flow, the welcome's new words)
/// is published; the page shows the new version; then a new call hears it: the tone, found by
/// Goertzel in the audio the caller received (and absent from a call before the edit), and
/// the new words and version in the call log, of that call and of a sipp call after it.
/// Then the file is saved broken on disk (the reload fails, version 2 keeps serving): the
/// versions page says why, the editor opens it with the error shown, and the flow editor
/// fixes it with one key press and publishes (the same graph again: saved, unchanged).
#[test]
fn a_flow_editor_fixes_a_flow_in_the_browser_and_a_new_call_hears_it() {
    const WORDS: &str = "Ufficio di prova rinnovato dal browser.";
    let Some(console) = Console::start_with_files(|office, data| {
        let tone = support::tone::sine(WELCOME_TONE_HZ, WELCOME_TONE_MS);
        support::tone::write_wav(&office.join("flows/benvenuto.wav"), &tone).unwrap();
        add_account(data, "ed", "flow-editor", "ed-password");
    }) else {
        return;
    };
    let server = &console.server;
    let flow_file = console._office.path().join("flows/office.flow");
    let saved = std::fs::read_to_string(&flow_file).unwrap();
    let v1 = server.control(&["status"])["status"]["current"]
        .as_str()
        .unwrap()
        .to_owned();

    // Before the edit, the welcome has no such tone (the assertion below could fail).
    let (before, before_id) = listen_to_the_welcome(server, Duration::from_secs(4));
    assert!(
        before.len() > 8_000 * 2,
        "the caller heard {} samples",
        before.len()
    );
    assert!(
        !support::tone::has_tone(&before, WELCOME_TONE_HZ),
        "before the edit: {}",
        support::tone::describe(&before, WELCOME_TONE_HZ)
    );

    let run = console.run_with(
        &["editor_fix"],
        &[
            ("name", "ed"),
            ("password", "ed-password"),
            ("sound", "benvenuto.wav"),
            ("old_words", "Ufficio di prova."),
            ("words", WORDS),
        ],
    );
    run.assert_passed(&["editor_fix"]);
    let short =
        |id: &str| -> String { id.trim_start_matches("sha256:").chars().take(12).collect() };
    run.expect(
        "editor_fix",
        &[
            ("before.version", short(&v1).into()),
            ("editor.path", "/flows/edit".into()),
            ("editor.heading", "Modifica del flusso: office.flow".into()),
            // Shown as typed: no button was pressed, the page is the same.
            ("broken.path", "/flows/edit".into()),
            ("broken.summary", "1 errore, 0 avvisi".into()),
            ("fixed.summary", "Nessun problema.".into()),
            ("fixed.diagnostics", serde_json::json!([])),
            ("published.path", "/flows/publish".into()),
            ("published.status", 200.into()),
            ("published.text_has_words", true.into()),
        ],
    );

    // The diagnostic: at the typed line, with its code, the unknown name and the help.
    let typed_line = run
        .check("editor_fix", "broken.typed_line")
        .as_u64()
        .unwrap();
    assert_eq!(
        typed_line as usize,
        saved[..saved.find("5 -> prenota").unwrap()]
            .matches('\n')
            .count()
            + 1
    );
    let shown = run.check("editor_fix", "broken.diagnostics");
    let shown = shown.as_array().unwrap();
    assert_eq!(shown.len(), 1, "{}", run.transcript());
    let diagnostic = &shown[0];
    assert_eq!(diagnostic["line"], typed_line.to_string(), "{diagnostic}");
    let kind = diagnostic["kind"].as_str().unwrap();
    assert!(kind.starts_with("errore[E"), "{diagnostic}");
    assert!(
        diagnostic["at"]
            .as_str()
            .unwrap()
            .starts_with(&format!("riga {typed_line}:")),
        "{diagnostic}"
    );
    assert!(
        diagnostic["message"].as_str().unwrap().contains("prenotaz"),
        "{diagnostic}"
    );
    assert!(
        diagnostic["help"].as_str().is_some_and(
            |help| help.starts_with("Suggerimento:") && help.len() > "Suggerimento: ".len()
        ),
        "{diagnostic}"
    );
    assert_eq!(
        run.check("editor_fix", "broken.goto_selects"),
        "    5 -> prenotaz",
        "the line link selects the line"
    );

    // Published: the file holds the typed text, a new version serves, and the pages say so.
    let published = std::fs::read_to_string(&flow_file).unwrap();
    let expected = saved
        .replacen(
            "  menu: menu",
            "  benvenuto: say file \"benvenuto.wav\" -> menu\n  menu: menu",
            1,
        )
        .replacen("Ufficio di prova.", WORDS, 1);
    assert_eq!(published, expected);
    let v2 = server.control(&["status"])["status"]["current"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(v2, v1);
    let notice = run
        .check("editor_fix", "published.notice")
        .as_str()
        .unwrap();
    assert!(notice.starts_with("Pubblicata"), "{notice}");
    assert!(notice.contains(&short(&v2)), "{notice} names {v2}");
    run.expect("editor_fix", &[("after.version", short(&v2).into())]);
    let current_row = run
        .check("editor_fix", "after.current_row")
        .as_str()
        .unwrap();
    assert!(current_row.contains(&short(&v2)), "{current_row}");
    assert!(current_row.contains("ed"), "published by ed: {current_row}");
    let record = run.check("editor_fix", "after.record");
    assert_eq!(record[0]["Chi"], "ed", "{}", run.transcript());
    assert_eq!(record[0]["Esito"], "pubblicata", "{}", run.transcript());

    // A new call hears the change: first the tone, then the menu. The tone lasts about as
    // long as the file's (1450 ms measured; a lost packet under load may cut the run short).
    let (after, call_id) = listen_to_the_welcome(server, Duration::from_secs(5));
    let tone_ms = support::tone::longest_tone_ms(&after, WELCOME_TONE_HZ);
    eprintln!(
        "after the edit: {}",
        support::tone::describe(&after, WELCOME_TONE_HZ)
    );
    assert!(
        (WELCOME_TONE_MS - 500..=WELCOME_TONE_MS + 300).contains(&tone_ms),
        "the welcome's tone: {}",
        support::tone::describe(&after, WELCOME_TONE_HZ)
    );
    // The call log: the second call ran the new version and said the new words.
    let calls = logged_calls(server, 2);
    let logged = calls
        .iter()
        .find(|call| call["call_id"] == call_id.as_str())
        .unwrap_or_else(|| panic!("call {call_id} not in the log: {calls:?}"));
    assert_eq!(logged["graph_version"], v2.as_str(), "{logged}");
    let id = call_id.as_str();
    let shown = support::centralino(&[
        "calls",
        "show",
        id,
        "--data",
        support::path(server.data.path()),
    ]);
    let transcript = support::stdout(&shown);
    assert!(transcript.contains(WORDS), "{transcript}");
    assert!(transcript.contains("benvenuto"), "{transcript}");
    assert_screenshots(&run, 5);

    // A sipp call too (5 s on the line): its transcript has the new state and words.
    if have_sipp() {
        let call = server.sipp("hold_call.xml", "100");
        assert!(call.status.success(), "{}", server.log());
        let calls = logged_calls(server, 3);
        let by_sipp = calls
            .iter()
            .find(|call| call["call_id"] != before_id.as_str() && call["call_id"] != id)
            .unwrap_or_else(|| panic!("no sipp call in {calls:?}"));
        assert_eq!(by_sipp["graph_version"], v2.as_str(), "{by_sipp}");
        let shown = support::centralino(&[
            "calls",
            "show",
            by_sipp["call_id"].as_str().unwrap(),
            "--data",
            support::path(server.data.path()),
        ]);
        let transcript = support::stdout(&shown);
        assert!(transcript.contains("benvenuto"), "{transcript}");
        assert!(transcript.contains(WORDS), "{transcript}");
    }

    // The file saved broken by someone else: the reload fails and the version stays; the
    // flow editor sees why on opening it and fixes it from the browser.
    let typo = "Riprovi più tardi.\" -> salutii";
    let broken = published.replacen("Riprovi più tardi.\" -> saluti", typo, 1);
    assert_ne!(broken, published);
    std::fs::write(&flow_file, &broken).unwrap();
    let start = Instant::now();
    while server.control(&["status"])["status"]["last"] != "failed" {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        server.control(&["status"])["status"]["current"],
        v2.as_str()
    );
    let fixed = console.run_with(
        &["editor_broken_file"],
        &[("name", "ed"), ("password", "ed-password"), ("typo", typo)],
    );
    fixed.assert_passed(&["editor_broken_file"]);
    let typo_line = fixed
        .check("editor_broken_file", "opened.typo_line")
        .as_u64()
        .unwrap();
    fixed.expect(
        "editor_broken_file",
        &[
            ("before.last", "non riuscito".into()),
            ("before.version", short(&v2).into()),
            ("opened.summary", "1 errore, 0 avvisi".into()),
            ("fixed.summary", "Nessun problema.".into()),
            ("published.status", 200.into()),
            // The fixed text is version 2's again: saved, the same graph keeps serving.
            ("after.last", "riuscito, grafo invariato".into()),
            ("after.diagnostics", Value::Null),
        ],
    );
    let reload_problem = fixed.check("editor_broken_file", "before.diagnostics");
    assert!(
        reload_problem
            .as_str()
            .is_some_and(|text| text.contains("salutii")),
        "{}",
        fixed.transcript()
    );
    let opened = fixed.check("editor_broken_file", "opened.diagnostics");
    assert_eq!(
        opened.as_array().map(Vec::len),
        Some(1),
        "{}",
        fixed.transcript()
    );
    assert_eq!(opened[0]["line"], typo_line.to_string(), "{opened}");
    assert!(
        opened[0]["message"].as_str().unwrap().contains("salutii"),
        "{opened}"
    );
    assert_eq!(std::fs::read_to_string(&flow_file).unwrap(), published);
    let notice = fixed.check("editor_broken_file", "published.notice");
    assert!(
        notice.as_str().is_some_and(|n| n.starts_with("Salvata")),
        "{notice}"
    );
    assert_eq!(server.control(&["status"])["status"]["last"], "unchanged");
    fixed.expect(
        "editor_broken_file",
        &[("after.version", short(&v2).into())],
    );
    assert_screenshots(&fixed, 4);
}

/// The office example's configuration without its trunk: the dialer then leaves the test's
/// callbacks pending (tests/dialer.rs is about calling them back).
fn without_trunk(config: &Path) {
    let settings = std::fs::read_to_string(config).unwrap();
    let kept: String = settings
        .replace("[trunk]\n", "")
        .lines()
        .filter(|line| !line.starts_with("uri = \"sip:{number}"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(!kept.contains("{number}"), "{kept}");
    std::fs::write(config, kept).unwrap();
}

/// The reports page after calls made by the test, read in the browser: four sipp calls to 100
/// (key 1 asks for the office `prova`, of which nobody is present; key 4 leaves a callback
/// and the flow says goodbye, served without a person; two callers hang up at the menu), and a
/// callback asked six hours before (a simulated call into the same store, before `serve`):
/// late against the city's promise, set to 4 hours here (`[callbacks] promise_h`), while the
/// one just asked for is not.
/// The glance section and the tables read exactly those numbers.
#[test]
fn a_supervisor_reads_the_test_calls_from_the_reports_page() {
    if !have_sipp() {
        return;
    }
    let old_callback = std::cell::RefCell::new(String::new());
    let Some(console) = Console::start_with_files(|office, data| {
        let config = office.join("centralino.toml");
        without_trunk(&config);
        let mut settings = std::fs::read_to_string(&config).unwrap();
        assert!(!settings.contains("[callbacks]"), "{settings}");
        settings.push_str("\n[callbacks]\npromise_h = 4\n");
        std::fs::write(&config, settings).unwrap();
        let six_hours_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(6);
        let out = support::centralino(&[
            "simulate",
            office.join("flows").to_str().unwrap(),
            "--number",
            "100",
            "--from",
            "+390755555555",
            "--at",
            &six_hours_ago.to_string(),
            "--input",
            "4",
            "--data",
            support::path(data),
        ]);
        let said = support::stdout(&out);
        assert!(out.status.success(), "{said}{}", support::stderr(&out));
        let reference = regex::Regex::new(r"RC-\d{4}-\d{6}")
            .unwrap()
            .find(&said)
            .unwrap_or_else(|| panic!("no callback reference in:\n{said}"))
            .as_str()
            .to_owned();
        *old_callback.borrow_mut() = reference;
    }) else {
        return;
    };
    let old_callback = old_callback.into_inner();
    let server = &console.server;
    server.wait_for("console: first account created", Duration::from_secs(5));
    for (scenario, what) in [
        ("dtmf_ticket.xml", "key 1: the office, nobody present"),
        ("key4_wait_bye.xml", "key 4: a callback"),
        ("hold_call.xml", "a hang-up at the menu"),
        ("hold_call.xml", "another hang-up at the menu"),
    ] {
        let call = server.sipp(scenario, "100");
        assert!(call.status.success(), "{what}:\n{}", server.log());
    }
    // The call log is written as each call ends.
    logged_calls(server, 4);

    let run = console.run(&["reports_glance"]);
    run.assert_passed(&["reports_glance"]);
    run.expect(
        "reports_glance",
        &[
            ("path", "/reports".into()),
            ("status", 200.into()),
            ("glance.calls", "4".into()),
            ("glance.contained", "1".into()),
            ("glance.contained-percent", "25".into()),
            ("glance.put-through", "0".into()),
            ("glance.person-not-reached", "1".into()),
            ("glance.abandoned", "2".into()),
            (
                "glance.unanswered",
                serde_json::json!([
                    "Ufficio di prova (prova): 1 trasferimento senza risposta su 1"
                ]),
            ),
            ("glance.unanswered_none", Value::Null),
            ("glance.late_none", Value::Null),
        ],
    );
    // The tables say the same, row by row.
    let tables = run.check("reports_glance", "tables");
    let measure = |table: &str, name: &str| -> &Value {
        tables[table]
            .as_array()
            .and_then(|rows| rows.iter().find(|row| row["Misura"] == name))
            .map(|row| &row["Valore"])
            .unwrap_or_else(|| panic!("no {name} in {table}: {}", run.transcript()))
    };
    for (name, value) in [
        ("Chiamate", "4"),
        ("Servite dai flussi", "1"),
        ("Passate al personale", "0"),
        ("Chiedevano una persona, non raggiunta", "1"),
        ("Abbandonate", "2"),
        ("Trasferimenti senza risposta", "1"),
        ("Richiamate in ritardo", "1"),
    ] {
        assert_eq!(measure("table-overview", name), value, "{name}");
    }
    for (name, value) in [
        ("Chieste", "2"),
        ("Da fare", "2"),
        ("Cittadino raggiunto", "0"),
    ] {
        assert_eq!(measure("table-callbacks", name), value, "{name}");
    }
    let offices = tables["table-offices"].as_array().unwrap();
    assert_eq!(offices.len(), 1, "{}", run.transcript());
    for (column, value) in [
        ("Ufficio", "prova"),
        ("Richiesti", "1"),
        ("Risposti", "0"),
        ("Senza risposta", "1"),
        ("Nessuno presente", "1"),
    ] {
        assert_eq!(offices[0][column], value, "offices: {column}");
    }
    let late_rows = tables["table-late_callbacks"].as_array().unwrap();
    assert_eq!(late_rows.len(), 1, "{}", run.transcript());
    assert_eq!(late_rows[0]["Riferimento"], old_callback.as_str());
    let waiting: u64 = late_rows[0]["In attesa da (min)"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (360..400).contains(&waiting),
        "asked six hours ago: {waiting} min"
    );
    assert_eq!(
        tables["table-hangups"],
        serde_json::json!([{"Flusso": "ufficio", "Stato": "menu", "Chiamate": "2"}])
    );
    let days: u64 = tables["table-days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["Chiamate"].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(days, 4, "the calls per day add up to the calls");

    let late = run.check("reports_glance", "glance.late");
    let late = late.as_array().unwrap();
    assert_eq!(late.len(), 1, "{}", run.transcript());
    let late = late[0].as_str().unwrap();
    // Which callback, whose, since when and how long, in words.
    assert!(
        late.starts_with(&format!(
            "{old_callback} (Ufficio di prova): chiesta il {},",
            late_rows[0]["Chiesta il"].as_str().unwrap()
        )),
        "{late}"
    );
    assert!(
        late.ends_with(&format!(", in attesa da {waiting} min, tentativi: 0")),
        "{late}"
    );
    assert_screenshots(&run, 3);
}
