//! A real SIP phone for the end-to-end tests: baresip as a child process, with a fresh
//! configuration in a temporary directory, no audio device, driven over its `ctrl_tcp` socket
//! and stopped by PID when dropped (also when the test panics).
//!
//! ```text
//!   test ──ctrl_tcp (netstring JSON: dial, accept, hangup / CALL_* events)──► baresip
//!                                               SIP ◄──► registrar / peer / Centralino
//!   aufile: a WAV of a sine ──► PCMU ──► RTP out       RTP in ──► PCMU ──► sndfile: dump-*-dec.wav
//! ```
//!
//! The phone sends a continuous tone (or silence) as its microphone and records what it hears
//! (the decoded incoming audio, written by baresip's `sndfile` filter) so a test can look for the
//! other party's tone with `support::tone`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{free_port, tone};

/// How long the phone's tone lasts (its WAV is played once; silence follows).
const TONE_SECONDS: u32 = 300;
/// baresip quits by itself after this long, should a test process die without dropping it.
const LIFETIME_SECONDS: u32 = 900;
/// The longest a ctrl_tcp command may take to be answered.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether baresip is installed; says so on stderr when it is not (tests then return early).
pub fn have_baresip() -> bool {
    let found = Command::new("baresip")
        .arg("-h")
        .stdin(Stdio::null())
        .output()
        .is_ok();
    if !found {
        eprintln!(
            "baresip is not installed (apt-get install baresip): tests with a staff phone cannot run; skipped"
        );
    }
    found
}

/// How to set up one phone.
#[derive(Debug, Clone)]
pub struct BaresipConfig {
    /// The user part of its address (its extension, `201`).
    pub user: String,
    /// The digest password it answers a registrar's challenge with.
    pub password: Option<String>,
    /// Where it registers (its address's domain); `None`: no registration, reached directly at
    /// [`Baresip::uri`].
    pub registrar: Option<SocketAddr>,
    /// The registration interval asked for, in seconds (ignored without a registrar).
    pub regint: u32,
    /// The tone it sends, in Hz; `None`: silence.
    pub tone_hz: Option<f32>,
    /// Whether it answers incoming calls by itself (else [`Baresip::answer`]).
    pub auto_answer: bool,
}

impl BaresipConfig {
    /// A staff phone that registers as `user` with `password` at `registrar` every 60 s and
    /// answers by itself; silent until [`BaresipConfig::tone`].
    pub fn staff(user: &str, password: &str, registrar: SocketAddr) -> BaresipConfig {
        BaresipConfig {
            user: user.to_owned(),
            password: Some(password.to_owned()),
            registrar: Some(registrar),
            regint: 60,
            tone_hz: None,
            auto_answer: true,
        }
    }

    /// A phone that does not register: it is called directly at [`Baresip::uri`]; answers by
    /// itself.
    pub fn peer(user: &str) -> BaresipConfig {
        BaresipConfig {
            user: user.to_owned(),
            password: None,
            registrar: None,
            regint: 0,
            tone_hz: None,
            auto_answer: true,
        }
    }

    /// Send a continuous sine at `hz` as its voice.
    pub fn tone(mut self, hz: f32) -> BaresipConfig {
        self.tone_hz = Some(hz);
        self
    }

    /// Ring without answering; [`Baresip::answer`] picks up.
    pub fn manual_answer(mut self) -> BaresipConfig {
        self.auto_answer = false;
        self
    }
}

/// One event baresip reported on ctrl_tcp (`CALL_INCOMING`, `CALL_RINGING`, `CALL_ESTABLISHED`,
/// `CALL_CLOSED`, `REGISTER_OK`, `REGISTER_FAIL`, ...).
#[derive(Debug, Clone)]
pub struct BaresipEvent {
    /// The `type` field: `CALL_ESTABLISHED`, ...
    pub kind: String,
    /// `incoming` or `outgoing`, for call events.
    pub direction: Option<String>,
    /// The other party's URI, for call events.
    pub peer_uri: Option<String>,
    /// baresip's id of the call, for call events.
    pub call_id: Option<String>,
    /// The `param` field (for `CALL_CLOSED`, the reason).
    pub param: Option<String>,
    /// When the test received it.
    pub at: Instant,
    /// The whole event as sent.
    pub json: serde_json::Value,
}

/// What baresip answered to one command.
#[derive(Debug, Clone)]
struct Response {
    token: String,
    ok: bool,
    data: String,
}

/// What the ctrl_tcp reader thread collected.
#[derive(Default)]
struct Received {
    events: Vec<BaresipEvent>,
    responses: Vec<Response>,
}

/// A running baresip, stopped (SIGKILL by PID) when dropped.
pub struct Baresip {
    child: Child,
    pub config: BaresipConfig,
    /// Its SIP address (UDP on 127.0.0.1).
    pub sip_port: u16,
    /// Its ctrl_tcp port.
    pub ctrl_port: u16,
    dir: tempfile::TempDir,
    log: Arc<Mutex<String>>,
    ctrl: Mutex<TcpStream>,
    received: Arc<Mutex<Received>>,
    tokens: AtomicU32,
}

impl Baresip {
    /// Write a fresh configuration (tone WAV, `config`, `accounts`) into a temporary
    /// directory, start baresip on free ports, and connect to its ctrl_tcp socket (20 s at
    /// most, else panic with its output). Registration is not awaited: see
    /// [`Baresip::wait_registered`].
    pub fn start(config: BaresipConfig) -> Baresip {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let sip_port = free_port();
        let ctrl_port = free_port();
        let rtp_port = free_port();
        let recordings = dir.path().join("recordings");
        std::fs::create_dir(&recordings).expect("the recordings directory");
        let voice = dir.path().join("voice.wav");
        let pcm = match config.tone_hz {
            Some(hz) => tone::sine(hz, TONE_SECONDS * 1000),
            None => vec![0; (TONE_SECONDS * tone::RATE) as usize],
        };
        tone::write_wav(&voice, &pcm).expect("the phone's voice WAV");
        let text = config_text(sip_port, ctrl_port, rtp_port, &voice, &recordings);
        std::fs::write(dir.path().join("config"), text).expect("baresip's config");
        let account = account_line(&config, sip_port);
        std::fs::write(dir.path().join("accounts"), format!("{account}\n"))
            .expect("baresip's accounts");

        let mut child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .args(["-t", &LIFETIME_SECONDS.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("baresip starts (is it installed? see have_baresip)");
        let log = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let sink = log.clone();
            // Ends with the stream, when the child is gone.
            std::thread::spawn(move || copy_into(stream, &sink));
        }

        let deadline = Instant::now() + Duration::from_secs(20);
        let ctrl = loop {
            match TcpStream::connect(("127.0.0.1", ctrl_port)) {
                Ok(stream) => break stream,
                Err(error) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!(
                            "baresip ({}) exited at start ({status}):\n{}",
                            config.user,
                            log.lock().unwrap()
                        );
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        panic!(
                            "baresip ({}) ctrl_tcp on port {ctrl_port} not reachable in 20 s \
                             ({error}):\n{}",
                            config.user,
                            log.lock().unwrap()
                        );
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        };
        let received = Arc::new(Mutex::new(Received::default()));
        let reader = ctrl
            .try_clone()
            .expect("a second handle on the ctrl socket");
        let sink = received.clone();
        // Ends when baresip closes the socket (it exits).
        std::thread::spawn(move || read_ctrl(reader, &sink));
        Baresip {
            child,
            config,
            sip_port,
            ctrl_port,
            dir,
            log,
            ctrl: Mutex::new(ctrl),
            received,
            tokens: AtomicU32::new(0),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its SIP address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.sip_port))
    }

    /// The URI that reaches it directly, without a registrar: `sip:USER@127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        format!("sip:{}@{}", self.config.user, self.addr())
    }

    /// Everything baresip printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Send one ctrl_tcp command (`dial`, `accept`, `hangup`, `reginfo`, `listcalls`, ...)
    /// and wait for its response: `Ok(data)` or `Err(data)`. Panics when none comes in 15 s.
    pub fn command(&self, command: &str, params: &str) -> Result<String, String> {
        let token = format!("t{}", self.tokens.fetch_add(1, Ordering::Relaxed));
        let json = serde_json::json!({"command": command, "params": params, "token": token});
        let text = json.to_string();
        let netstring = format!("{}:{text},", text.len());
        self.ctrl
            .lock()
            .unwrap()
            .write_all(netstring.as_bytes())
            .unwrap_or_else(|e| panic!("ctrl_tcp write to baresip failed ({e}):\n{}", self.log()));
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            {
                let mut received = self.received.lock().unwrap();
                if let Some(at) = received.responses.iter().position(|r| r.token == token) {
                    let response = received.responses.remove(at);
                    return if response.ok {
                        Ok(response.data)
                    } else {
                        Err(response.data)
                    };
                }
            }
            assert!(
                Instant::now() < deadline,
                "baresip ({}) did not answer `{command} {params}` in {COMMAND_TIMEOUT:?}:\n{}",
                self.config.user,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait until the registrar accepted the phone's REGISTER (a `REGISTER_OK` event, or
    /// baresip's own line `... 200 OK ...` for its account); panics after `timeout`, or at once
    /// on `REGISTER_FAIL`, with baresip's output.
    pub fn wait_registered(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let aor = format!("{}@", self.config.user);
        loop {
            let events = self.events();
            if events.iter().any(|e| e.kind == "REGISTER_OK") {
                return;
            }
            if let Some(failed) = events.iter().find(|e| e.kind == "REGISTER_FAIL") {
                panic!(
                    "baresip ({}) failed to register: {:?}\n{}",
                    self.config.user,
                    failed.param,
                    self.log()
                );
            }
            // The event is lost when the REGISTER succeeded before ctrl_tcp was connected.
            if self
                .log()
                .lines()
                .any(|l| l.contains(&aor) && l.contains("200 OK"))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "baresip ({}) not registered after {timeout:?}:\n{}",
                self.config.user,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Call `uri` (`sip:100@127.0.0.1:5060`); panics when baresip refuses the command.
    pub fn dial(&self, uri: &str) {
        if let Err(error) = self.command("dial", uri) {
            panic!("baresip ({}) cannot dial {uri}: {error}", self.config.user);
        }
    }

    /// Answer the ringing call (with [`BaresipConfig::manual_answer`]).
    pub fn answer(&self) {
        if let Err(error) = self.command("accept", "") {
            panic!("baresip ({}) cannot answer: {error}", self.config.user);
        }
    }

    /// Hang up the current call (BYE, or CANCEL/decline while ringing).
    pub fn hangup(&self) {
        if let Err(error) = self.command("hangup", "") {
            panic!("baresip ({}) cannot hang up: {error}", self.config.user);
        }
    }

    /// Whether a call is established and not closed (from the events so far).
    pub fn is_in_call(&self) -> bool {
        self.open_calls("CALL_ESTABLISHED") > 0
    }

    /// Whether a call is ringing here (incoming, neither established nor closed yet).
    pub fn is_ringing(&self) -> bool {
        self.open_calls("CALL_INCOMING") > 0
    }

    /// Calls with an event of `kind` and no later `CALL_ESTABLISHED` (unless that is `kind`)
    /// or `CALL_CLOSED`.
    fn open_calls(&self, kind: &str) -> usize {
        let events = self.events();
        let mut open: Vec<&str> = Vec::new();
        for event in &events {
            let Some(id) = event.call_id.as_deref() else {
                continue;
            };
            if event.kind == kind {
                if !open.contains(&id) {
                    open.push(id);
                }
            } else if event.kind == "CALL_CLOSED" || event.kind == "CALL_ESTABLISHED" {
                open.retain(|o| *o != id);
            }
        }
        open.len()
    }

    /// Every event received so far, in order.
    pub fn events(&self) -> Vec<BaresipEvent> {
        self.received.lock().unwrap().events.clone()
    }

    /// Wait until `count` events of `kind` were received in all; the `count`th. Panics after
    /// `timeout` with the events and baresip's output.
    pub fn wait_event_count(&self, kind: &str, count: usize, timeout: Duration) -> BaresipEvent {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.events();
            if let Some(event) = events.iter().filter(|e| e.kind == kind).nth(count - 1) {
                return event.clone();
            }
            assert!(
                Instant::now() < deadline,
                "baresip ({}) had no {kind} #{count} after {timeout:?}; events: {:?}\n{}",
                self.config.user,
                events.iter().map(|e| &e.kind).collect::<Vec<_>>(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait for the first event of `kind` (one received earlier counts).
    pub fn wait_event(&self, kind: &str, timeout: Duration) -> BaresipEvent {
        self.wait_event_count(kind, 1, timeout)
    }

    /// Where baresip's `sndfile` writes `dump-TIME-enc.wav` (what it sends) and
    /// `dump-TIME-dec.wav` (what it hears), one pair per call.
    pub fn recordings_dir(&self) -> PathBuf {
        self.dir.path().join("recordings")
    }

    /// What the phone heard, 8 kHz mono: the decoded incoming audio of every call so far,
    /// oldest first, joined; readable while a call goes on.
    pub fn recording(&self) -> Vec<i16> {
        self.recordings().concat()
    }

    /// What the phone heard in each call so far (`dump-TIME-dec.wav`, oldest first). TIME has
    /// one-second resolution: a call starting in the same second as the previous one
    /// overwrites its file.
    pub fn recordings(&self) -> Vec<Vec<i16>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.recordings_dir())
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|f| {
                // Just created, its header not written yet: nothing heard so far.
                if std::fs::metadata(f).map_or(0, |m| m.len()) < 44 {
                    return Vec::new();
                }
                tone::read_wav_lenient(f)
                    .unwrap_or_else(|e| panic!("baresip's recording {}: {e}", f.display()))
            })
            .collect()
    }

    /// Quit as a person would (ctrl_tcp `quit`): baresip hangs up its calls and unregisters
    /// (REGISTER with expires 0) before it exits. Whether it exited within `limit`; killed
    /// by PID otherwise.
    pub fn quit(&mut self, limit: Duration) -> bool {
        let text =
            serde_json::json!({"command": "quit", "params": "", "token": "quit"}).to_string();
        let _ = self
            .ctrl
            .lock()
            .unwrap()
            .write_all(format!("{}:{text},", text.len()).as_bytes());
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }

    /// Whether baresip is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        // SIGKILL to its PID, then reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// baresip's `config`: SIP on loopback, G.711 only, the tone WAV as microphone, no audio
/// device (the player is an unconnected `aubridge`), what it hears dumped by `sndfile`,
/// ctrl_tcp, no NAT helpers.
fn config_text(
    sip_port: u16,
    ctrl_port: u16,
    rtp_port: u16,
    voice: &Path,
    recordings: &Path,
) -> String {
    format!(
        "poll_method\t\tepoll\n\
         sip_listen\t\t127.0.0.1:{sip_port}\n\
         net_interface\t\t127.0.0.1\n\
         call_local_timeout\t120\n\
         call_max_calls\t\t4\n\
         audio_player\t\taubridge,nil\n\
         audio_source\t\taufile,{voice}\n\
         audio_alert\t\taubridge,nil\n\
         ausrc_srate\t\t8000\n\
         ausrc_channels\t\t1\n\
         auplay_srate\t\t8000\n\
         auplay_channels\t\t1\n\
         audio_level\t\tno\n\
         rtp_ports\t\t{rtp_port}-{rtp_end}\n\
         rtcp_mux\t\tno\n\
         module_path\t\t/usr/lib/baresip/modules\n\
         module\t\t\tg711.so\n\
         module\t\t\tsndfile.so\n\
         module\t\t\taufile.so\n\
         module\t\t\taubridge.so\n\
         module_tmp\t\taccount.so\n\
         module_app\t\tmenu.so\n\
         module_app\t\tctrl_tcp.so\n\
         ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}\n\
         snd_path\t\t{recordings}\n\
         statmode_default\toff\n",
        voice = voice.display(),
        recordings = recordings.display(),
        rtp_end = rtp_port + 19,
    )
}

/// The account line: registering at the registrar (digest password, `regint`), or reachable
/// directly (`regint=0`); answer mode; PCMU then PCMA.
fn account_line(config: &BaresipConfig, sip_port: u16) -> String {
    let domain = config
        .registrar
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], sip_port)));
    let regint = if config.registrar.is_some() {
        config.regint
    } else {
        0
    };
    let mut line = format!(
        "<sip:{user}@{domain};transport=udp>;regint={regint};answermode={answer};\
         audio_codecs=PCMU,PCMA",
        user = config.user,
        answer = if config.auto_answer { "auto" } else { "manual" },
    );
    if let Some(password) = &config.password {
        line.push_str(&format!(";auth_pass={password}"));
    }
    line
}

/// Copy a child's output into `sink` as it comes (baresip ends status lines with `\r`).
fn copy_into(mut stream: Box<dyn Read + Send>, sink: &Mutex<String>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&buf[..n]).replace('\r', "\n");
        sink.lock().unwrap().push_str(&text);
    }
}

/// Read ctrl_tcp's netstrings (`LEN:JSON,`) until the socket closes, sorting them into events
/// and responses.
fn read_ctrl(mut stream: TcpStream, sink: &Mutex<Received>) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some((json, used)) = next_netstring(&pending) {
            pending.drain(..used);
            let Some(json) = json else {
                continue;
            };
            let mut received = sink.lock().unwrap();
            if json["event"] == true {
                let field = |name: &str| json[name].as_str().map(str::to_owned);
                received.events.push(BaresipEvent {
                    kind: field("type").unwrap_or_default(),
                    direction: field("direction"),
                    peer_uri: field("peeruri"),
                    call_id: field("id"),
                    param: field("param"),
                    at: Instant::now(),
                    json,
                });
            } else if json["response"] == true {
                received.responses.push(Response {
                    token: json["token"].as_str().unwrap_or_default().to_owned(),
                    ok: json["ok"] == true,
                    data: json["data"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
    }
}

/// The first complete netstring of `bytes`: its JSON (`None` if it is not JSON) and how many
/// bytes it took; `None` while incomplete.
fn next_netstring(bytes: &[u8]) -> Option<(Option<serde_json::Value>, usize)> {
    let colon = bytes.iter().position(|&b| b == b':')?;
    let len: usize = std::str::from_utf8(&bytes[..colon])
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let end = colon + 1 + len;
    if bytes.len() <= end {
        return None;
    }
    let json = serde_json::from_slice(&bytes[colon + 1..end]).ok();
    Some((json, end + 1))
}
