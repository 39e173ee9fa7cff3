//! The same flows on web chat and e-mail (issue 11, item 6), end to end: `centralino serve` on
//! a copy of examples/office with `[webchat]` and `[email]` turned on, on free ports.
//!
//! - A citizen completes the office's ticket path (key 6, a file number) on `/chat` with plain
//!   HTTP requests, as a browser without JavaScript would (forms, cookies, tokens); the ticket
//!   is in the store (`centralino tickets show` through the control socket while serving) with
//!   a reference of the same kind as the phone's, and the call log lists the chat as `webchat`.
//! - Forged posts (other origin, no token) are refused; a flood of starts and of messages from
//!   one address is throttled (429 with Retry-After); an over-long message is refused.
//! - A mail dropped into the maildir becomes a ticket of the category its recipient maps to,
//!   with an acknowledgement carrying the reference in the outbox; the same mail again makes
//!   no second ticket; a malformed mail is moved to `rejected/` and nothing stored is lost.
//!
//! Every wait is for a condition with a generous limit; the server is stopped by PID when the
//! test ends or fails (support::Server).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::http::{Reply, exchange};
use support::{Server, centralino, code, root, stderr, stdout};

const LIMIT: Duration = Duration::from_secs(60);

/// A copy of examples/office/flows and a configuration turning on the chat and e-mail.
fn office(dir: &Path) -> (PathBuf, PathBuf) {
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::copy(
        root().join("examples/office/flows/office.flow"),
        flows.join("office.flow"),
    )
    .unwrap();
    let config = dir.join("centralino.toml");
    std::fs::write(
        &config,
        r#"
[webchat]
enabled = true
number = "100"
starts_per_minute = 3
messages_per_second = 1
max_input_chars = 100

[email]
enabled = true
from = "centralino@comune.example"
poll_ms = 200
addresses = { "prova@comune.example" = "segnalazione" }
"#,
    )
    .unwrap();
    (flows, config)
}

fn serve(dir: &Path) -> Server {
    let (flows, config) = office(dir);
    Server::start(&flows, &["--config", config.to_str().unwrap()])
}

/// A browser of one client: its cookies, the page's token, requests with its origin.
struct Browser {
    port: u16,
    cookies: Vec<(String, String)>,
    csrf: String,
}

impl Browser {
    fn new(port: u16) -> Browser {
        Browser {
            port,
            cookies: Vec::new(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, reply: &Reply) {
        for line in reply.head.lines() {
            let Some(value) = line.strip_prefix("set-cookie: ") else {
                continue;
            };
            let pair = value.split(';').next().unwrap();
            let (key, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(k, _)| k != key);
            if !value.is_empty() && !line.contains("max-age=0") {
                self.cookies.push((key.to_owned(), value.to_owned()));
            }
        }
    }

    fn get(&mut self, path: &str) -> Reply {
        let raw = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: {}\r\nConnection: close\r\n\r\n",
            self.port,
            self.cookie_header()
        );
        let reply = exchange(self.port, raw.as_bytes());
        self.keep_cookies(&reply);
        if let Some(token) = hidden_csrf(&reply.body) {
            self.csrf = token;
        }
        reply
    }

    /// POST a form (`fields` URL-encoded, the page's token added) from `origin`.
    fn post_from(
        &mut self,
        origin: &str,
        path: &str,
        fields: &[(&str, &str)],
        fetch: bool,
    ) -> Reply {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.append_pair("csrf", &self.csrf);
        for (k, v) in fields {
            body.append_pair(k, v);
        }
        let body = body.finish();
        let raw = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {origin}\r\nCookie: {cookies}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {len}\r\n{fetch}Connection: close\r\n\r\n{body}",
            port = self.port,
            cookies = self.cookie_header(),
            len = body.len(),
            fetch = if fetch { "x-chat-fetch: 1\r\n" } else { "" },
        );
        let reply = exchange(self.port, raw.as_bytes());
        self.keep_cookies(&reply);
        // A page in the answer (a refusal shows the form again) is what the citizen sees next.
        if let Some(token) = hidden_csrf(&reply.body) {
            self.csrf = token;
        }
        reply
    }

    fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let origin = format!("http://127.0.0.1:{}", self.port);
        self.post_from(&origin, path, fields, false)
    }

    /// Say `text` in the chat (as the page's script does): the chat as JSON.
    fn say(&mut self, text: &str) -> serde_json::Value {
        let origin = format!("http://127.0.0.1:{}", self.port);
        let reply = self.post_from(&origin, "/chat/say", &[("text", text)], true);
        assert_eq!(reply.status, 200, "{}\n{}", reply.head, reply.body);
        serde_json::from_str(&reply.body).unwrap()
    }

    fn start(&mut self) -> Reply {
        self.get("/chat");
        self.post("/chat/start", &[("phone", "")])
    }
}

/// The value of the first hidden `csrf` field of a page.
fn hidden_csrf(page: &str) -> Option<String> {
    let rest = page.split("name=\"csrf\" value=\"").nth(1)?;
    Some(rest.split('"').next()?.to_owned())
}

fn texts(view: &serde_json::Value) -> Vec<String> {
    view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

/// A reference such as `PG-2026-000001`: letters, a year, six digits.
fn is_reference(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 3
        && !parts[0].is_empty()
        && parts[0].chars().all(|c| c.is_ascii_uppercase())
        && parts[1].len() == 4
        && parts[2].len() == 6
        && parts[1..]
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_web_chat_completes_the_ticket_path_and_is_in_the_store_and_the_call_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(dir.path());
    let mut citizen = Browser::new(server.http_port);

    // The start page, in Italian, with a start token in a cookie and in the form.
    let page = citizen.get("/chat");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Inizia"), "{}", page.body);
    assert!(
        citizen
            .cookies
            .iter()
            .any(|(k, _)| k == "centralino_chat_start")
    );

    // A start from another site, or without the token, is refused.
    let forged = citizen.post_from("http://evil.example", "/chat/start", &[], false);
    assert_eq!(forged.status, 403);
    citizen.csrf.clear();
    assert_eq!(citizen.post("/chat/start", &[]).status, 403);

    let started = citizen.post("/chat/start", &[("phone", "+39 333 123 4567")]);
    assert_eq!(started.status, 303, "{}", started.body);
    assert!(citizen.cookies.iter().any(|(k, _)| k == "centralino_chat"));

    // The menu as buttons, named by the prompt's words.
    let page = citizen.get("/chat");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Ufficio di prova."), "{}", page.body);
    assert!(
        page.body
            .contains("value=\"6\">6 · Per lasciare una segnalazione</button>"),
        "{}",
        page.body
    );

    // The live chat is in the registry, as channel webchat.
    let live = server.control(&["calls"]);
    let calls = live["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{live}");
    assert_eq!(calls[0]["channel"], "webchat", "{live}");
    let call_id = calls[0]["call_id"].as_str().unwrap().to_owned();
    assert!(call_id.starts_with("webchat-"), "{call_id}");

    // A post of the chat without its token is refused.
    citizen.csrf.clear();
    assert_eq!(citizen.post("/chat/say", &[("text", "6")]).status, 403);

    // Key 6 (the button), then the file number: the ticket's reference is said.
    let view = citizen.say("6");
    assert_eq!(view["answer"]["kind"], "digits", "{view:#}");
    assert!(
        texts(&view)
            .last()
            .unwrap()
            .contains("numero della pratica"),
        "{view:#}"
    );
    let view = citizen.say("4711");
    let said = texts(&view);
    let confirmation = said
        .iter()
        .find(|t| t.starts_with("Segnalazione registrata con il numero"))
        .unwrap_or_else(|| panic!("{view:#}"));
    let reference = confirmation
        .trim_start_matches("Segnalazione registrata con il numero ")
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    assert!(is_reference(&reference), "{reference}");
    assert_eq!(said.last().map(String::as_str), Some("Arrivederci."));
    assert_eq!(view["over"], true, "the flow hung up: {view:#}");
    assert_eq!(view["answer"]["kind"], "none");

    // Over: it leaves the registry.
    assert!(wait_until(LIMIT, || server.control(&["calls"])["calls"]
        .as_array()
        .is_some_and(Vec::is_empty)));

    // The ticket, through the control socket while the server holds the store.
    let out = centralino(&[
        "tickets",
        "show",
        &reference,
        "--json",
        "--data",
        server.data.path().to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let ticket: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(ticket["category"], "segnalazione", "{ticket:#}");
    assert_eq!(ticket["fields"]["pratica"], "4711", "{ticket:#}");
    assert_eq!(ticket["fields"]["telefono"], "+393331234567", "{ticket:#}");
    assert_eq!(ticket["call_id"], call_id.as_str(), "{ticket:#}");

    // The phone gets the same kind of reference from the same flows.
    let phone = centralino(&[
        "simulate",
        root().join("examples/office/flows").to_str().unwrap(),
        "--number",
        "100",
        "--input",
        "6 4711#",
    ]);
    let phone_text = stdout(&phone);
    let phone_reference = phone_text
        .lines()
        .find(|l| l.contains(" ticket ") && l.ends_with("stored"))
        .and_then(|l| l.split(" ticket ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{phone_text}"));
    assert!(is_reference(phone_reference), "{phone_text}");
    assert_eq!(
        phone_reference.split('-').next(),
        reference.split('-').next(),
        "same prefix"
    );

    // The call log lists the chat, channel webchat, and stays after the server stops.
    assert!(server.stop().success(), "{}", server.log());
    let out = centralino(&[
        "calls",
        "list",
        "--json",
        "--data",
        server.data.path().to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let logged: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let chat = logged
        .iter()
        .find(|c| c["call_id"] == call_id.as_str())
        .unwrap_or_else(|| panic!("{logged:#?}"));
    assert_eq!(chat["channel"], "webchat", "{chat:#}");
    assert_eq!(chat["number"], "100", "{chat:#}");
    assert_eq!(chat["outcome"], "the flow hung up", "{chat:#}");

    // Its rerun shows what the citizen typed and read, and replays the same way.
    let data = server.data.path().to_str().unwrap();
    let shown = centralino(&["calls", "show", &call_id, "--data", data]);
    assert_eq!(code(&shown), 0, "{}", stderr(&shown));
    let shown = stdout(&shown);
    assert!(shown.contains("4711"), "{shown}");
    assert!(shown.contains(&reference), "{shown}");
    let replayed = centralino(&["replay", &call_id, "--data", data]);
    assert_eq!(
        code(&replayed),
        0,
        "{}{}",
        stdout(&replayed),
        stderr(&replayed)
    );
    assert!(stdout(&replayed).contains("same"), "{}", stdout(&replayed));
}

#[test]
fn a_flood_of_chats_from_one_address_is_throttled() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let port = server.http_port;

    // starts_per_minute = 3: the fourth chat from the address waits.
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..4 {
        let mut browser = Browser::new(port);
        let reply = browser.start();
        statuses.push(reply.status);
        last = Some(reply);
    }
    assert_eq!(statuses, [303, 303, 303, 429], "{}", server.log());
    let refused = last.unwrap();
    assert!(refused.header("retry-after").is_some(), "{}", refused.head);
    assert!(
        refused.body.contains("Troppe richieste"),
        "{}",
        refused.body
    );

    // This address used its starts: it is still refused a moment later.
    let mut again = Browser::new(port);
    again.get("/chat");
    assert_eq!(again.post("/chat/start", &[]).status, 429);
    drop(server);
}

#[test]
fn a_flood_of_messages_is_throttled_and_long_input_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let mut citizen = Browser::new(server.http_port);
    assert_eq!(citizen.start().status, 303);
    citizen.get("/chat");
    let origin = format!("http://127.0.0.1:{}", server.http_port);
    let long = "1".repeat(101);
    let too_long = citizen.post_from(&origin, "/chat/say", &[("text", &long)], true);
    assert_eq!(too_long.status, 400, "{}", too_long.body);
    // messages_per_second = 1, bursts of 2: sent as fast as the client can, one is refused
    // well before 40 (unless every exchange took a second).
    let mut throttled = None;
    for _ in 0..40 {
        let reply = citizen.post_from(&origin, "/chat/say", &[("text", "9")], true);
        match reply.status {
            200 => {}
            429 => {
                throttled = Some(reply);
                break;
            }
            other => panic!("{other}: {}", reply.body),
        }
    }
    let throttled = throttled.expect("a flood of messages is throttled");
    assert!(
        throttled.header("retry-after").is_some(),
        "{}",
        throttled.head
    );
    assert!(
        throttled.body.contains("Troppe richieste"),
        "{}",
        throttled.body
    );
}

/// A mail file as a mail system delivers it.
fn mail(from: &str, to: &str, subject: &str, id: &str, body: &str) -> String {
    format!(
        "Return-Path: <{from}>\r\nFrom: Mario Rossi <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Sat, 5 Dec 2026 09:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// Deliver as a mail system does: written in tmp/, renamed into new/.
fn deliver(maildir: &Path, name: &str, text: &[u8]) {
    std::fs::create_dir_all(maildir.join("tmp")).unwrap();
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    let tmp = maildir.join("tmp").join(name);
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, maildir.join("new").join(name)).unwrap();
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn a_mail_becomes_one_ticket_with_an_acknowledgement_and_a_malformed_one_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let maildir = server.data.path().join("mail");
    let outbox = server.data.path().join("outbox");

    let first = mail(
        "mario@example.org",
        "prova@comune.example",
        "Pratica 4711 ferma",
        "1@example.org",
        "La mia pratica è ferma da un mese.",
    );
    deliver(&maildir, "1000.a.host", first.as_bytes());
    assert!(
        wait_until(LIMIT, || files(&maildir.join("new")).is_empty()
            && server.tickets().len() == 1),
        "{}",
        server.log()
    );
    let tickets = server.tickets();
    let ticket = &tickets[0];
    let reference = ticket["reference"].as_str().unwrap().to_owned();
    assert!(is_reference(&reference), "{ticket:#}");
    assert_eq!(ticket["category"], "segnalazione", "{ticket:#}");
    assert_eq!(ticket["caller"], "mario@example.org", "{ticket:#}");
    assert_eq!(ticket["title"], "Pratica 4711 ferma", "{ticket:#}");
    assert_eq!(
        ticket["fields"]["testo"], "La mia pratica è ferma da un mese.",
        "{ticket:#}"
    );
    let seen = files(&maildir.join("cur"));
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].to_string_lossy().ends_with("1000.a.host:2,S"));

    // The acknowledgement, a mail to the sender carrying the reference.
    let acks = files(&outbox.join("new"));
    assert_eq!(acks.len(), 1, "{acks:?}");
    let ack = std::fs::read_to_string(&acks[0]).unwrap();
    assert!(ack.contains("To: <mario@example.org>"), "{ack}");
    assert!(ack.contains("In-Reply-To: <1@example.org>"), "{ack}");
    assert!(ack.contains(&format!("[{reference}]")), "{ack}");
    assert!(ack.contains("Message-ID: <"), "{ack}");
    assert!(ack.contains("Date: "), "{ack}");

    // The same mail again (delivered twice): no second ticket, no second acknowledgement.
    deliver(&maildir, "1001.b.host", first.as_bytes());
    assert!(wait_until(LIMIT, || files(&maildir.join("new")).is_empty()));
    assert_eq!(server.tickets().len(), 1, "{}", server.log());
    assert_eq!(files(&outbox.join("new")).len(), 1);
    assert_eq!(files(&maildir.join("cur")).len(), 2);

    // A malformed mail (no sender) and an oversized one go to rejected/, with a log line;
    // the ticket already stored is still there.
    deliver(&maildir, "1002.c.host", b"\x00\x01\x02 not a mail at all");
    deliver(
        &maildir,
        "1003.d.host",
        b"To: prova@comune.example\r\nSubject: no sender\r\n\r\nwho am I?\r\n",
    );
    let huge = mail(
        "big@example.org",
        "prova@comune.example",
        "big",
        "2@example.org",
        &"x".repeat(2 * 1024 * 1024),
    );
    deliver(&maildir, "1004.e.host", huge.as_bytes());
    assert!(
        wait_until(LIMIT, || files(&maildir.join("rejected")).len() == 3),
        "{}",
        server.log()
    );
    assert!(files(&maildir.join("new")).is_empty());
    assert!(server.log().contains("mail rejected"), "{}", server.log());
    let tickets = server.tickets();
    assert_eq!(tickets.len(), 1, "{tickets:#?}");
    assert_eq!(tickets[0]["reference"], reference.as_str());
    assert_eq!(files(&outbox.join("new")).len(), 1);
}
