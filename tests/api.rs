//! The connectors API end to end: `centralino serve` with a small deployment, tokens made with
//! `centralino tokens add`, a real HTTP client (reqwest) playing a front desk, and a real HTTP
//! server (axum) on a free port playing the city system subscribed to events.
//!
//! The front desk opens a ticket (seen by `centralino tickets list` through the control socket
//! while serve runs), comments and closes it (the history names the token); the receiver gets
//! each event exactly once with a valid HMAC-SHA256 signature, also when serve is killed
//! (SIGKILL) while the receiver is failing and restarted after it recovers. A token without
//! the scope gets 403, a revoked token 401, a flood from one token 429 with Retry-After; a
//! slot is never booked twice; the citizen lookup with a wrong phone number answers exactly as
//! an unknown reference; the OpenAPI document is OpenAPI 3.x, every operation has responses,
//! and every documented route is served.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use support::{Server, command};

const SECRET: &str = "a-test-secret-of-at-least-32-characters";

const FLOWS: &str = r#"
calendar sempre {
  timezone "Europe/Rome"
  mon-fri 00:00-23:59
  sat, sun 00:00-23:59
}

office prova "Ufficio di prova" {
  hours sempre
  staff "sip:201@centralino.local" as "Anna (201)"
}

service prova "Appuntamento di prova" { office prova hours sempre slot 30m capacity 1 }

category segnalazioni "Segnalazioni dallo sportello" { office prova priority normal sla 5d }

flow ufficio answers "100" {
  language it
  inizio: say "Buongiorno." -> hangup
}
"#;

/// One delivery the receiver saw: its headers, body, and whether it was accepted.
#[derive(Clone, Debug)]
struct Seen {
    headers: HeaderMap,
    body: String,
    accepted: bool,
}

/// The subscribed city system: answers 200, or 503 while `failing`.
struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    failing: Arc<AtomicBool>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let failing = Arc::new(AtomicBool::new(false));
        let (log, fail) = (seen.clone(), failing.clone());
        let app = axum::Router::new().route(
            "/events",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let (log, fail) = (log.clone(), fail.clone());
                async move {
                    let accepted = !fail.load(Ordering::SeqCst);
                    log.lock().unwrap().push(Seen {
                        headers,
                        body,
                        accepted,
                    });
                    if accepted {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    }
                }
            }),
        );
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await });
        Receiver {
            addr,
            seen,
            failing,
            _runtime: runtime,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Accepted deliveries of `kind` about `subject`.
    fn accepted(&self, kind: &str, subject: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.accepted && is(s, kind, subject))
            .collect()
    }

    fn wait_until(&self, what: &str, limit: Duration, done: impl Fn(&[Seen]) -> bool) {
        let start = Instant::now();
        while !done(&self.seen()) {
            assert!(
                start.elapsed() < limit,
                "the receiver never saw {what}: {:#?}",
                self.seen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn is(seen: &Seen, kind: &str, subject: &str) -> bool {
    let body: Value = serde_json::from_str(&seen.body).unwrap();
    body["type"] == kind && body["subject"] == subject
}

/// The signature header checks out against the body with the shared secret.
fn signed(seen: &Seen) -> bool {
    let header = seen.headers["centralino-signature"].to_str().unwrap();
    let (t, v1) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", seen.body).as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    hex == v1
}

/// A real HTTP client (reqwest) on a runtime of its own.
struct Client {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
    text: String,
}

impl Client {
    fn new(port: u16) -> Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Client {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        self.runtime.block_on(async {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let text = response.text().await.unwrap();
            Answer {
                status,
                headers,
                body: serde_json::from_str(&text).unwrap_or(Value::Null),
                text,
            }
        })
    }

    fn get(&self, path: &str, token: &str) -> Answer {
        self.send("GET", path, Some(token), None)
    }

    fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send("POST", path, Some(token), Some(body))
    }
}

/// `centralino tokens add NAME --scope SCOPES --data DATA`: the token printed.
/// Log in to the console as `name`: its session cookie's value.
fn console_log_in(port: u16, name: &str, password: &str) -> String {
    let form = support::http::exchange(
        port,
        format!("GET /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    let login_cookie = form.cookie("centralino_login").expect("a login cookie");
    let start = form
        .body
        .find("name=\"csrf\" value=\"")
        .expect("a csrf field")
        + 19;
    let csrf = form.body[start..].split('"').next().unwrap().to_owned();
    let body = format!("name={name}&password={password}&csrf={csrf}");
    let reply = support::http::exchange(
        port,
        format!(
            "POST /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
             Cookie: centralino_login={login_cookie}\r\nOrigin: http://127.0.0.1:{port}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(reply.status, 303, "{}", reply.body);
    reply
        .cookie("centralino_session")
        .expect("a session cookie")
}

fn add_token(data: &Path, name: &str, scopes: &str) -> String {
    let out = command(&["tokens", "add", name, "--scope", scopes, "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("ctk_"), "{token}");
    token
}

fn start(flows: &Path, config: &Path, data: tempfile::TempDir) -> Server {
    let server = Server::start_with_data(flows, data, &["--config", config.to_str().unwrap()]);
    server.wait_for("HTTP listening", Duration::from_secs(30));
    server
}

#[test]
fn a_front_desk_works_a_ticket_and_the_city_system_hears_of_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir(&flows).unwrap();
    std::fs::write(flows.join("ufficio.flow"), FLOWS).unwrap();
    let receiver = Receiver::start();
    let config = dir.path().join("centralino.toml");
    std::fs::write(
        &config,
        format!(
            "[webhooks]\nallow = [\"http://{addr}\"]\n\n[api]\nrequests_per_minute = 100\n\n\
             [[api.subscriptions]]\nname = \"sistema\"\nurl = \"http://{addr}/events\"\n\
             secret = \"{SECRET}\"\n",
            addr = receiver.addr
        ),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let desk = add_token(
        data.path(),
        "sportello",
        "tickets:read,tickets:write,callbacks:read,callbacks:write,bookings:read,bookings:write,directory:read,calls:read",
    );
    let reader = add_token(data.path(), "lettore", "tickets:read");
    let flood = add_token(data.path(), "inondazione", "tickets:read");
    let list = command(&["tokens", "list", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    let listed = String::from_utf8(list.stdout).unwrap();
    assert!(listed.contains("lettore\ttickets:read"), "{listed}");
    assert!(!listed.contains(&desk[4..]), "tokens are never shown again");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.path().join("tokens.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A console account, to see the ticket where staff work it.
    let mut added = command(&["users", "add", "anna", "--role", "operator", "--data"])
        .arg(data.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = added.stdin.take().unwrap();
        stdin.write_all(b"anna-password\n").unwrap();
    }
    assert!(added.wait().unwrap().success());

    let mut server = start(&flows, &config, data);
    let client = Client::new(server.http_port);

    // Access: no token, a token without the scope.
    let ticket = json!({
        "category": "segnalazioni",
        "fields": {"via": "Via Roma", "civico": "5"},
        "phone": "+39 075 577 1234",
    });
    let none = client.send("POST", "/api/v1/tickets", None, Some(ticket.clone()));
    assert_eq!(none.status, 401, "{}", none.text);
    assert_eq!(none.body["error"]["code"], "unauthenticated");
    let refused = client.post("/api/v1/tickets", &reader, ticket.clone());
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.body["error"]["code"], "missing_scope");

    // Bad input: clear errors, never a panic.
    let unknown = client.post(
        "/api/v1/tickets",
        &desk,
        json!({"category": "nessuna", "fields": {}}),
    );
    assert_eq!(unknown.status, 422, "{}", unknown.text);
    assert_eq!(unknown.body["error"]["code"], "unknown_category");
    let broken = client.send(
        "POST",
        "/api/v1/tickets",
        Some(&desk),
        Some(json!("not an object")),
    );
    assert_eq!(broken.body["error"]["code"], "bad_body", "{}", broken.text);
    let huge = client.post(
        "/api/v1/tickets",
        &desk,
        json!({"category": "segnalazioni", "fields": {"via": "x".repeat(100_000)}}),
    );
    assert!(
        huge.status == 413 || huge.body["error"]["code"] == "bad_body",
        "{}",
        huge.status
    );

    // The front desk opens a ticket.
    let opened = client.post("/api/v1/tickets", &desk, ticket);
    assert_eq!(opened.status, 201, "{}", opened.text);
    let reference = opened.body["reference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with("PG-"), "{reference}");
    assert_eq!(opened.body["office"], "prova");
    assert_eq!(opened.body["channel"], "api:sportello");
    assert!(opened.body["due_at"].is_string());

    // `tickets list` sees it, through the control socket while serve runs.
    let listed = server.tickets();
    assert!(
        listed.iter().any(|t| t["reference"] == reference.as_str()),
        "{listed:?}"
    );
    let read = client.get(&format!("/api/v1/tickets/{reference}"), &reader);
    assert_eq!(read.status, 200);
    assert_eq!(read.body["fields"]["via"], "Via Roma");
    let page = client.get(
        "/api/v1/tickets?status=open&category=segnalazioni&size=10",
        &desk,
    );
    assert_eq!(page.body["total"], 1, "{}", page.text);
    let none_closed = client.get("/api/v1/tickets?status=closed", &desk);
    assert_eq!(none_closed.body["total"], 0);
    let bad_filter = client.get("/api/v1/tickets?size=1000", &desk);
    assert_eq!(bad_filter.body["error"]["code"], "invalid_field");
    let missing = client.get("/api/v1/tickets/PG-2026-999999", &desk);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"]["code"], "ticket_not_found");

    // It is commented (with the token's name in the history).
    let commented = client.post(
        &format!("/api/v1/tickets/{reference}/changes"),
        &desk,
        json!({"action": "comment", "text": "Il cittadino è passato allo sportello"}),
    );
    assert_eq!(commented.status, 200, "{}", commented.text);
    assert_eq!(commented.body["history"][0]["by"], "api:sportello");

    // Staff see it in the console, with the front desk's comment.
    let session = console_log_in(server.http_port, "anna", "anna-password");
    let page = support::http::exchange(
        server.http_port,
        format!(
            "GET /tickets/{reference} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Cookie: centralino_session={session}\r\nConnection: close\r\n\r\n",
            port = server.http_port
        )
        .as_bytes(),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&reference), "{}", page.body);
    assert!(page.body.contains("api:sportello"), "{}", page.body);
    assert!(page.body.contains("Via Roma"), "{}", page.body);

    // The event of its opening arrives, signed.
    receiver.wait_until("ticket.created", Duration::from_secs(30), |seen| {
        seen.iter().any(|s| is(s, "ticket.created", &reference))
    });

    // Bookings: free slots, one booked, the same slot refused, cancelled.
    let slots = client.get("/api/v1/slots?service=prova&count=3", &desk);
    assert_eq!(slots.status, 200, "{}", slots.text);
    let first = slots.body["slots"][0]["start"].as_str().unwrap().to_owned();
    assert_eq!(slots.body["slots"].as_array().unwrap().len(), 3);
    let booking = json!({"service": "prova", "start": first, "phone": "3331234567"});
    let booked = client.post("/api/v1/bookings", &desk, booking.clone());
    assert_eq!(booked.status, 201, "{}", booked.text);
    let booking_ref = booked.body["reference"].as_str().unwrap().to_owned();
    let again = client.post("/api/v1/bookings", &desk, booking);
    assert_eq!(again.status, 409, "never overbooked: {}", again.text);
    assert_eq!(again.body["error"]["code"], "slot_taken");
    let later = slots.body["slots"][1]["start"].as_str().unwrap().to_owned();
    let moved = client.post(
        &format!("/api/v1/bookings/{booking_ref}/move"),
        &desk,
        json!({"start": later}),
    );
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["start"], later.as_str());
    let cancelled = client.send(
        "DELETE",
        &format!("/api/v1/bookings/{booking_ref}"),
        Some(&desk),
        None,
    );
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(cancelled.body["status"], "cancelled");

    // Callbacks: a premium-rate number is refused, a landline accepted and cancelled.
    let premium = client.post(
        "/api/v1/callbacks",
        &desk,
        json!({"office": "prova", "phone": "899 123456"}),
    );
    assert_eq!(
        premium.body["error"]["code"], "number_refused",
        "{}",
        premium.text
    );
    let callback = client.post(
        "/api/v1/callbacks",
        &desk,
        json!({"office": "prova", "phone": "075 577 1234", "note": "dallo sportello"}),
    );
    assert_eq!(callback.status, 201, "{}", callback.text);
    let callback_ref = callback.body["reference"].as_str().unwrap().to_owned();
    assert_eq!(callback.body["citizen_first"], false, "{}", callback.text);
    // Citizen first, in English; a language the message is not written in is refused.
    let first = client.post(
        "/api/v1/callbacks",
        &desk,
        json!({"office": "prova", "phone": "075 577 1234", "citizen_first": true, "language": "en"}),
    );
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["citizen_first"], true, "{}", first.text);
    let german = client.post(
        "/api/v1/callbacks",
        &desk,
        json!({"office": "prova", "phone": "075 577 1234", "citizen_first": true, "language": "de"}),
    );
    assert_eq!(german.status, 422, "{}", german.text);
    assert!(german.text.contains("language"), "{}", german.text);
    let closed_callback = client.post(
        &format!("/api/v1/callbacks/{callback_ref}/cancel"),
        &desk,
        json!({"note": "risolto allo sportello"}),
    );
    assert_eq!(closed_callback.body["closed_by"], "api:sportello");

    // The citizen's lookup: the right pair answers, a wrong phone is an unknown reference.
    let lookup = |reference: &str, phone: &str| {
        client.send(
            "POST",
            "/api/v1/lookup",
            None,
            Some(json!({"reference": reference, "phone": phone})),
        )
    };
    let mine = lookup(&reference, "0755771234");
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert_eq!(mine.body["status"], "open");
    assert!(
        mine.body.get("fields").is_none(),
        "nothing else: {}",
        mine.text
    );
    let wrong_phone = lookup(&reference, "0755770000");
    let unknown_reference = lookup("PG-2026-999999", "0755771234");
    assert_eq!(wrong_phone.status, 404);
    assert_eq!(
        (wrong_phone.status, &wrong_phone.text),
        (unknown_reference.status, &unknown_reference.text),
        "a wrong phone number answers as an unknown reference"
    );

    // Everything so far is delivered; then the receiver is down when the ticket is closed,
    // and serve is killed before it recovers.
    receiver.wait_until("booking.cancelled", Duration::from_secs(30), |seen| {
        seen.iter()
            .any(|s| s.accepted && is(s, "booking.cancelled", &booking_ref))
    });
    receiver.failing.store(true, Ordering::SeqCst);
    let closed = client.post(
        &format!("/api/v1/tickets/{reference}/changes"),
        &desk,
        json!({"action": "close", "note": "Buca chiusa"}),
    );
    assert_eq!(closed.status, 200, "{}", closed.text);
    assert_eq!(closed.body["status"], "closed");
    receiver.wait_until("a failed ticket.closed", Duration::from_secs(30), |seen| {
        seen.iter()
            .any(|s| !s.accepted && is(s, "ticket.closed", &reference))
    });
    server.signal("KILL");
    assert!(server.wait_exit(Duration::from_secs(20)).is_some());
    receiver.failing.store(false, Ordering::SeqCst);
    let data = std::mem::replace(&mut server.data, tempfile::tempdir().unwrap());
    drop(server);
    let server = start(&flows, &config, data);
    receiver.wait_until("ticket.closed accepted", Duration::from_secs(60), |seen| {
        seen.iter()
            .any(|s| s.accepted && is(s, "ticket.closed", &reference))
    });
    // Give a duplicate time to show up, then count.
    std::thread::sleep(Duration::from_secs(2));
    let closing = receiver.accepted("ticket.closed", &reference);
    assert_eq!(closing.len(), 1, "exactly once: {closing:#?}");
    assert_eq!(receiver.accepted("ticket.created", &reference).len(), 1);
    assert_eq!(receiver.accepted("booking.made", &booking_ref).len(), 1);
    assert_eq!(
        receiver.accepted("booking.cancelled", &booking_ref).len(),
        1
    );
    let accepted: Vec<Seen> = receiver.seen().into_iter().filter(|s| s.accepted).collect();
    let mut ids: Vec<String> = accepted
        .iter()
        .map(|s| {
            s.headers["centralino-event-id"]
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let count = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), count, "no event accepted twice: {ids:?}");
    assert!(accepted.iter().all(signed), "every delivery is signed");
    let body: Value = serde_json::from_str(&closing[0].body).unwrap();
    assert_eq!(body["data"]["status"], "closed");
    assert_eq!(body["data"]["history"][1]["by"], "api:sportello");
    // In order: created, booking made, cancelled, then closed.
    let kinds: Vec<String> = accepted
        .iter()
        .map(|s| {
            serde_json::from_str::<Value>(&s.body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "ticket.created",
            "booking.made",
            "booking.cancelled",
            "ticket.closed"
        ]
    );

    // `tickets show` names who worked it (no console tickets page yet).
    let client = Client::new(server.http_port);
    let show = command(&["tickets", "show", &reference, "--json", "--data"])
        .arg(server.data.path())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(shown.contains("api:sportello"), "{shown}");

    // A revoked token is refused at once (serve reads the file again).
    let revoke = command(&["tokens", "revoke", "lettore", "--data"])
        .arg(server.data.path())
        .output()
        .unwrap();
    assert!(revoke.status.success());
    assert_eq!(client.get("/api/v1/tickets", &reader).status, 401);

    // The OpenAPI document: OpenAPI 3.x, every operation answers something, every route served.
    let document = client.send("GET", "/api/v1/openapi.json", None, None);
    assert_eq!(document.status, 200);
    let openapi = &document.body;
    assert!(
        openapi["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        document.text
    );
    let paths = openapi["paths"].as_object().unwrap();
    assert!(paths.len() >= 12, "{:?}", paths.keys());
    let mut operations = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            assert!(
                !operation["responses"].as_object().unwrap().is_empty(),
                "{method} {path} has no responses"
            );
            let concrete = path
                .replace("{reference}", "PG-2026-999999")
                .replace("{call_id}", "nessuna");
            let answer = client.send(
                &method.to_uppercase(),
                &concrete,
                Some(&desk),
                (method != "get" && method != "delete").then(|| json!({})),
            );
            assert_ne!(answer.status, 405, "{method} {path} is not served");
            assert_ne!(
                answer.body["error"]["code"], "no_route",
                "{method} {path} is not served"
            );
        }
    }
    assert!(operations >= 17, "{operations}");
    for open in ["/api/v1/lookup", "/api/v1/openapi.json"] {
        let operation = paths[open].as_object().unwrap().values().next().unwrap();
        assert_eq!(operation["security"], json!([{}]), "{open} needs no token");
    }
    assert!(openapi["components"]["securitySchemes"]["bearer"].is_object());
    let no_route = client.get("/api/v1/nothing-here", &desk);
    assert_eq!(no_route.body["error"]["code"], "no_route");

    // Lookups are limited per address: references cannot be tried in bulk.
    let mut limited = false;
    for _ in 0..20 {
        let answer = client.send(
            "POST",
            "/api/v1/lookup",
            None,
            Some(json!({"reference": "PG-2026-000001", "phone": "0755771234"})),
        );
        if answer.status == 429 {
            assert_eq!(answer.body["error"]["code"], "rate_limited");
            assert!(answer.headers.contains_key("retry-after"));
            limited = true;
            break;
        }
    }
    assert!(limited, "20 lookups in a burst are limited");

    // A flood from one token is throttled with Retry-After; the others are not.
    let mut throttled = None;
    for _ in 0..150 {
        let answer = client.get("/api/v1/tickets?size=1", &flood);
        if answer.status == 429 {
            throttled = Some(answer);
            break;
        }
        assert_eq!(answer.status, 200);
    }
    let throttled = throttled.expect("150 requests in a burst are throttled");
    assert_eq!(throttled.body["error"]["code"], "rate_limited");
    let retry: u64 = throttled.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_eq!(client.get("/api/v1/tickets?size=1", &desk).status, 200);
    assert!(!server.log().contains("panicked"), "{}", server.log());
}
