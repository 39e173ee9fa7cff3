//! The registrar end to end: staff phones REGISTER with digest authentication against
//! `centralino serve` (tests/registrar: office `prova`, staff 201 and 202, passwords pw201 and
//! pw202 as HA1 hashes in tests/registrar/centralino.toml).
//!
//! sipp registers with `[authentication]`; raw REGISTERs over a UDP socket compare the answers
//! to an unknown extension and a wrong password, and replay a captured request; the bindings
//! survive a restart (read back with `centralino registrations`); svwar finds no extension;
//! baresip registers when it is installed. Every server runs on free ports and is stopped by
//! PID, also when a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use centralino_runtime::people::digest::{
    Algorithm, DigestCredentials, QopAuth, expected_response, ha1, parse_params,
};
use support::{Server, free_port, have_sipp, root, sipp, sipp_succeeded};

fn flows() -> PathBuf {
    root().join("tests/registrar/flows")
}

/// The default configuration: challenges SHA-256 first, then MD5.
const CONFIG: &str = "centralino.toml";
/// MD5 first, for sipp 3.6 (it answers only the first challenge, and only MD5).
const MD5_FIRST: &str = "md5_first.toml";

fn start(config: &str) -> Server {
    start_with_data(config, tempfile::tempdir().unwrap())
}

fn start_with_data(config: &str, data: tempfile::TempDir) -> Server {
    let config = root().join("tests/registrar").join(config);
    Server::start_with_data(&flows(), data, &["--config", config.to_str().unwrap()])
}

/// The bindings the server lists: (extension, contact) pairs.
fn registrations(server: &Server) -> Vec<(String, String)> {
    let answer = server.control(&["registrations"]);
    assert_eq!(answer["ok"], true, "{answer}");
    answer["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["extension"].as_str().unwrap().to_owned(),
                b["contact"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

// ------------------------------------------------------------------ a raw phone over UDP

/// A SIP response as text: its status line and its headers in order.
#[derive(Debug)]
struct Response {
    status_line: String,
    headers: Vec<(String, String)>,
}

impl Response {
    fn parse(text: &str) -> Response {
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap().to_owned();
        let headers = lines
            .take_while(|l| !l.is_empty())
            .map(|l| {
                let (name, value) = l.split_once(':').unwrap();
                (name.trim().to_owned(), value.trim().to_owned())
            })
            .collect();
        Response {
            status_line,
            headers,
        }
    }

    fn code(&self) -> u16 {
        self.status_line.split(' ').nth(1).unwrap().parse().unwrap()
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The nonce of the challenge for `algorithm`.
    fn nonce(&self, algorithm: &str) -> String {
        let challenge = self
            .all("WWW-Authenticate")
            .into_iter()
            .find(|c| c.contains(&format!("algorithm={algorithm},")))
            .unwrap_or_else(|| panic!("no {algorithm} challenge: {self:?}"));
        let params = parse_params(challenge.trim_start_matches("Digest ")).unwrap();
        params.into_iter().find(|(n, _)| n == "nonce").unwrap().1
    }

    /// What may not differ between two answers: the status line, the header names in order,
    /// and every value but those that echo the request (Via, From, To, Call-ID, CSeq) or are
    /// fresh each time (the nonce, replaced by its length).
    fn shape(&self) -> Vec<String> {
        let mut shape = vec![self.status_line.clone()];
        for (name, value) in &self.headers {
            let echoed = ["via", "from", "to", "call-id", "cseq"]
                .iter()
                .any(|h| name.eq_ignore_ascii_case(h));
            let value = if echoed {
                String::from("(echoed)")
            } else if name.eq_ignore_ascii_case("WWW-Authenticate") {
                let params = parse_params(value.trim_start_matches("Digest ")).unwrap();
                params
                    .into_iter()
                    .map(|(n, v)| match n.as_str() {
                        "nonce" => format!("nonce=<{} chars>", v.len()),
                        _ => format!("{n}={v}"),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                value.clone()
            };
            shape.push(format!("{name}: {value}"));
        }
        shape
    }
}

struct RawPhone {
    socket: UdpSocket,
    server: SocketAddr,
    call_id: String,
    branches: u32,
}

impl RawPhone {
    fn new(server: SocketAddr) -> RawPhone {
        RawPhone::at("127.0.0.1", server)
    }

    /// A phone on another loopback address (another source for the server).
    fn at(ip: &str, server: SocketAddr) -> RawPhone {
        let socket = UdpSocket::bind((ip, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        RawPhone {
            call_id: format!("raw-{}", socket.local_addr().unwrap()),
            socket,
            server,
            branches: 0,
        }
    }

    fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    /// A REGISTER for `user` (To and From), with a fresh branch.
    fn register(&mut self, user: &str, cseq: u32, authorization: Option<&str>) -> String {
        self.branches += 1;
        let local = self.local();
        let authorization = authorization
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        format!(
            "REGISTER sip:{server} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK-raw-{branch}-{cseq}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@{server}>;tag=raw{port}\r\n\
             To: <sip:{user}@{server}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{user}@{local}>\r\n\
             Expires: 300\r\n\
             {authorization}\
             Content-Length: 0\r\n\r\n",
            server = self.server,
            branch = self.branches,
            port = local.port(),
            call_id = self.call_id,
        )
    }

    /// Send `message`; the final response, or `None` when none came within `limit`.
    fn exchange(&self, message: &str, limit: Duration) -> Option<Response> {
        self.socket
            .send_to(message.as_bytes(), self.server)
            .unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 8192];
        while started.elapsed() < limit {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let response = Response::parse(&String::from_utf8_lossy(&buf[..n]));
                if response.code() >= 200 {
                    return Some(response);
                }
            }
        }
        None
    }

    /// Send a REGISTER (see [`RawPhone::register`]) and wait for its final answer.
    fn ask(&mut self, user: &str, cseq: u32, authorization: Option<&str>) -> Response {
        let message = self.register(user, cseq, authorization);
        self.answer(&message)
    }

    fn answer(&self, message: &str) -> Response {
        self.exchange(message, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("no answer to:\n{message}"))
    }
}

/// `Authorization` for `user` with `password`, `algorithm` (`MD5`, `SHA-256`) and qop=auth, to
/// the nonce of `challenge`.
fn digest(
    (user, password): (&str, &str),
    algorithm: &str,
    challenge: &Response,
    server: SocketAddr,
    nc: u32,
) -> String {
    let nonce = challenge.nonce(algorithm);
    let algorithm = Algorithm::parse(algorithm).unwrap();
    let mut credentials = DigestCredentials {
        username: user.into(),
        realm: "centralino".into(),
        nonce: nonce.clone(),
        uri: format!("sip:{server}"),
        response: String::new(),
        algorithm,
        qop: Some(QopAuth {
            cnonce: "f00dcafe".into(),
            nc,
            nc_text: format!("{nc:08x}"),
        }),
        cnonce: Some("f00dcafe".into()),
        opaque: None,
    };
    let stored = ha1(algorithm.kind(), user, "centralino", password);
    credentials.response = expected_response(&credentials, "REGISTER", &stored);
    format!(
        "Digest username=\"{user}\", realm=\"centralino\", nonce=\"{nonce}\", uri=\"sip:{server}\", \
         response=\"{}\", algorithm={}, qop=auth, nc={nc:08x}, cnonce=\"f00dcafe\"",
        credentials.response,
        algorithm.name()
    )
}

// ------------------------------------------------------------------ the tests

#[test]
fn sipp_registers_with_digest_and_the_binding_survives_a_restart() {
    if !have_sipp() {
        return;
    }
    let mut server = start(MD5_FIRST);
    let out = sipp(
        server.port,
        "register_auth.xml",
        &[
            "-s", "201", "-au", "201", "-ap", "pw201", "-m", "1", "-l", "1",
        ],
        30,
    );
    sipp_succeeded(&out, 1);
    server.wait_for("registered", Duration::from_secs(5));
    let before = registrations(&server);
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0].0, "201");
    assert!(before[0].1.starts_with("sip:201@127.0.0.1:"), "{before:?}");

    // The wrong password: sipp gets 401 again and fails.
    let wrong = sipp(
        server.port,
        "register_auth.xml",
        &[
            "-s", "202", "-au", "202", "-ap", "pw201", "-m", "1", "-l", "1",
        ],
        10,
    );
    assert!(
        !wrong.status.success(),
        "a wrong password must not register"
    );
    assert_eq!(registrations(&server).len(), 1);

    // Stop by PID, start again on the same store: the binding is still there.
    assert!(server.stop().success(), "clean stop:\n{}", server.log());
    let data = std::mem::replace(&mut server.data, tempfile::tempdir().unwrap());
    let again = start_with_data(MD5_FIRST, data);
    again.wait_for("registrar ready", Duration::from_secs(5));
    assert!(again.log().contains("restored=1"), "{}", again.log());
    assert_eq!(registrations(&again), before);

    // The CLI lists it for people too.
    let out = Command::new(support::BIN)
        .args(["registrations", "--data"])
        .arg(again.data.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("201  sip:201@127.0.0.1:"), "{text}");
    assert!(text.contains("expires in 5"), "{text}");
}

#[test]
fn an_unknown_extension_and_a_wrong_password_get_the_same_answer() {
    let server = start(CONFIG);
    let mut stranger = RawPhone::new(server.addr());
    let mut thief = RawPhone::new(server.addr());

    // The first REGISTER, without credentials: the same challenge for both.
    let first_stranger = stranger.ask("299", 1, None);
    let first_thief = thief.ask("201", 1, None);
    assert_eq!(first_stranger.code(), 401);
    assert_eq!(first_stranger.shape(), first_thief.shape());
    let algorithms: Vec<&str> = first_thief
        .all("WWW-Authenticate")
        .iter()
        .map(|c| {
            if c.contains("SHA-256") {
                "SHA-256"
            } else {
                "MD5"
            }
        })
        .collect();
    assert_eq!(algorithms, ["SHA-256", "MD5"], "SHA-256 first");

    // With credentials: an unknown user, and a known one with the wrong password.
    let auth = digest(("299", "pw299"), "MD5", &first_stranger, server.addr(), 1);
    let refused_stranger = stranger.ask("299", 2, Some(&auth));
    let auth = digest(("201", "pw202"), "MD5", &first_thief, server.addr(), 1);
    let refused_thief = thief.ask("201", 2, Some(&auth));
    assert_eq!(refused_stranger.code(), 401, "{refused_stranger:?}");
    assert_eq!(refused_stranger.shape(), refused_thief.shape());
    assert_eq!(refused_stranger.shape(), first_thief.shape());
    assert_ne!(
        refused_thief.nonce("MD5"),
        first_thief.nonce("MD5"),
        "a fresh nonce"
    );
    // Both were logged as refused, with the reason (for staff, not for the phone).
    server.wait_for_times("REGISTER refused", 2, Duration::from_secs(5));
    assert_eq!(server.lines_with(&["REGISTER refused", "unknown user"]), 1);
    assert_eq!(
        server.lines_with(&["REGISTER refused", "wrong password"]),
        1
    );
    assert!(registrations(&server).is_empty());
}

/// Wrong passwords from one address: logged, and after five the answers come 2 s late.
#[test]
fn repeated_failures_are_slowed_down() {
    let server = start(CONFIG);
    let mut thief = RawPhone::new(server.addr());
    let mut challenge = thief.ask("201", 1, None);
    for (cseq, guess) in (2..).zip(["a", "b", "c", "d", "e"]) {
        let auth = digest(("201", guess), "MD5", &challenge, server.addr(), 1);
        let started = Instant::now();
        challenge = thief.ask("201", cseq, Some(&auth));
        assert_eq!(challenge.code(), 401);
        assert!(started.elapsed() < Duration::from_secs(1), "not slowed yet");
    }
    server.wait_for_times("REGISTER refused", 5, Duration::from_secs(5));
    // The sixth try, even with the right password, waits.
    let auth = digest(("201", "pw201"), "MD5", &challenge, server.addr(), 1);
    let started = Instant::now();
    let late = thief.ask("201", 7, Some(&auth));
    assert!(started.elapsed() >= Duration::from_millis(1900), "{late:?}");
    assert_eq!(late.code(), 200, "the right password still works, later");
    // Other addresses are answered at once.
    let mut desk = RawPhone::at("127.0.0.2", server.addr());
    let started = Instant::now();
    assert_eq!(desk.ask("202", 1, None).code(), 401);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        server.lines_with(&["REGISTER refused", "wrong password", "slowed=false"]),
        5
    );
}

#[test]
fn a_captured_register_cannot_be_replayed() {
    let server = start(CONFIG);
    let mut phone = RawPhone::new(server.addr());
    let challenge = phone.ask("202", 1, None);
    let auth = digest(("202", "pw202"), "SHA-256", &challenge, server.addr(), 1);
    let captured = phone.register("202", 2, Some(&auth));
    let ok = phone.answer(&captured);
    assert_eq!(ok.code(), 200, "{ok:?}");
    assert!(ok.all("Contact")[0].ends_with(";expires=300"), "{ok:?}");
    // The phone goes away.
    let challenge = phone.ask("202", 3, None);
    let auth = digest(("202", "pw202"), "MD5", &challenge, server.addr(), 1);
    let mut bye = phone.register("202", 4, Some(&auth));
    bye = bye.replace("Expires: 300", "Expires: 0");
    assert_eq!(phone.answer(&bye).code(), 200);
    assert!(registrations(&server).is_empty());

    // An eavesdropper sends the captured bytes again (as if from the phone's address). While
    // its transaction lives (Timer J, 32 s) the stack repeats the answer it gave (RFC 3261
    // §17.2.2: the same To tag) without asking the registrar: nothing is registered.
    let repeated = phone.answer(&captured);
    assert_eq!(repeated.all("To"), ok.all("To"), "{repeated:?}");
    assert!(registrations(&server).is_empty(), "the replay registered");
    assert_eq!(server.count(": registered "), 1, "{}", server.log());
    let eavesdropper = RawPhone::new(server.addr());
    // As a new transaction (another branch, a higher CSeq): refused, the nonce count is spent.
    let replay = captured
        .replace(";branch=z9hG4bK-raw-2-2", ";branch=z9hG4bK-replay")
        .replace("CSeq: 2 REGISTER", "CSeq: 9 REGISTER");
    let refused = eavesdropper.answer(&replay);
    assert_eq!(refused.code(), 401, "{refused:?}");
    assert!(registrations(&server).is_empty(), "the replay registered");
    assert!(
        server.lines_with(&["REGISTER refused", "replay"]) >= 1,
        "{}",
        server.log()
    );
}

/// svwar (sipvicious) over a range holding the real extensions finds none: REGISTER is
/// answered alike for every extension, and INVITE to an extension like any unknown number.
#[test]
fn svwar_finds_no_extension() {
    if Command::new("svwar").arg("--version").output().is_err() {
        eprintln!("svwar is not installed (apt-get install sipvicious): test not run");
        return;
    }
    let server = start(CONFIG);
    for method in ["REGISTER", "INVITE"] {
        let out = Command::new("timeout")
            .args(["60", "svwar", "-m", method, "-e", "195-210"])
            .args(["-P", &free_port().to_string(), "-b", "127.0.0.1"])
            .arg(format!("udp://127.0.0.1:{}", server.port))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let found: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with('|'))
            .filter(|l| {
                l.trim_matches('|')
                    .split('|')
                    .next()
                    .map(str::trim)
                    .is_some_and(|cell| {
                        !cell.is_empty() && cell.chars().all(|c| c.is_ascii_digit())
                    })
            })
            .collect();
        assert!(
            found.is_empty(),
            "svwar -m {method} found {found:?}:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(registrations(&server).is_empty());
}

/// baresip (Debian's 1.0) as a staff phone: it registers as 201 with digest auth, and
/// unregisters when it quits. Its libre gives up on any challenge other than MD5 (even beside
/// an MD5 one), so this server offers MD5 only (`[staff] algorithms = ["MD5"]`).
#[test]
fn baresip_registers_and_unregisters() {
    if Command::new("baresip").arg("-h").output().is_err() {
        eprintln!("baresip is not installed (apt-get install baresip): test not run");
        return;
    }
    let server = start("md5_only.toml");
    let home = tempfile::tempdir().unwrap();
    let config = format!(
        "poll_method\t\tpoll\n\
         sip_listen\t\t127.0.0.1:{}\n\
         module_path\t\t/usr/lib/baresip/modules\n\
         module\t\t\tg711.so\n\
         module\t\t\taufile.so\n\
         module_app\t\taccount.so\n\
         audio_player\t\taufile,/dev/null\n\
         audio_source\t\taufile,/dev/null\n",
        free_port()
    );
    std::fs::write(home.path().join("config"), config).unwrap();
    let account = format!(
        "<sip:201@127.0.0.1:{};transport=udp>;auth_pass=pw201;regint=600\n",
        server.port
    );
    std::fs::write(home.path().join("accounts"), account).unwrap();
    let mut phone = Reaped(
        Command::new("baresip")
            .arg("-f")
            .arg(home.path())
            .args(["-t", "8"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    let mut seen = Vec::new();
    while seen.is_empty() && started.elapsed() < Duration::from_secs(7) {
        std::thread::sleep(Duration::from_millis(200));
        seen = registrations(&server);
    }
    assert_eq!(seen.len(), 1, "baresip never registered:\n{}", server.log());
    assert_eq!(seen[0].0, "201");
    // It quits after 8 s and unregisters (Expires: 0) on the way out.
    let _ = phone.0.wait();
    let mut text = String::new();
    if let Some(mut out) = phone.0.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut out, &mut text);
    }
    assert!(text.contains("200 OK"), "{text}");
    server.wait_for("unregistered", Duration::from_secs(5));
    assert!(registrations(&server).is_empty());
}

/// A child process killed (by PID) and reaped when dropped, also when a test fails.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `centralino staff hash` makes the lines of tests/registrar/centralino.toml from the passwords.
#[test]
fn staff_hash_prints_the_account_line() {
    let config = std::fs::read_to_string(root().join("tests/registrar/centralino.toml")).unwrap();
    for (extension, password) in [("201", "pw201\n"), ("202", "pw202")] {
        let mut child = support::command(&["staff", "hash", extension])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), password.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let line = String::from_utf8(out.stdout).unwrap();
        assert!(
            config.contains(line.trim()),
            "{line} not in the test config"
        );
    }
    let no_password = support::command(&["staff", "hash", "201", "--realm", "comune"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(no_password.status.code(), Some(2), "no password: an error");
    let bad = support::centralino(&["staff", "hash", "2 01"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(support::stderr(&bad).contains("is not an extension"));
}
