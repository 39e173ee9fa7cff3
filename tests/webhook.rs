//! Webhooks on live calls: `centralino serve` with the deployment of `tests/webhook/`, sipp
//! calling, and the city's system played by a real HTTP server (axum) started here on a free
//! port. Each call's flow calls the system and ends with a ticket that says which path ran
//! (`ramo`), read back with `centralino tickets list --json`: a fast JSON answer (its value in
//! the ticket), a slow one (the flow's timeout), a 500, bad JSON, an answer over the size cap,
//! and an address not on the allow-list (never contacted). The slow call is still waiting
//! while the others are served: a webhook blocks neither media nor other calls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::routing::any;
use support::{Server, have_sipp, root};

/// What the city's system was asked: path and body, in order.
type Asked = Arc<Mutex<Vec<(String, String)>>>;

/// The city's system on a loopback port, on a runtime of its own (dropped with the test).
struct CitySystem {
    addr: SocketAddr,
    asked: Asked,
    _runtime: tokio::runtime::Runtime,
}

impl CitySystem {
    fn start() -> CitySystem {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let asked: Asked = Arc::default();
        let log = asked.clone();
        let app = Router::new()
            .route(
                "/avvisi",
                any(|| async {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        r#"{"avviso": "Scuole chiuse per neve"}"#,
                    )
                }),
            )
            .route(
                "/lento",
                any(|| async {
                    tokio::time::sleep(Duration::from_secs(120)).await;
                    r#"{"avviso": "troppo tardi"}"#
                }),
            )
            .route(
                "/errore",
                any(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
            )
            .route("/json-rotto", any(|| async { "{\"avviso\": " }))
            .route(
                "/grande",
                any(|| async { format!("{{\"avviso\": \"{}\"}}", "a".repeat(200 * 1024)) }),
            )
            .layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    let log = log.clone();
                    async move {
                        let path = request.uri().path().to_owned();
                        let (parts, body) = request.into_parts();
                        let bytes = axum::body::to_bytes(body, 1 << 20)
                            .await
                            .unwrap_or_default();
                        log.lock()
                            .unwrap()
                            .push((path, String::from_utf8_lossy(&bytes).into_owned()));
                        let request = axum::extract::Request::from_parts(parts, bytes.into());
                        next.run(request).await
                    }
                },
            ))
            .fallback(|uri: Uri| async move { (StatusCode::NOT_FOUND, uri.to_string()) });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        // Owned by the runtime: aborted when the test drops it.
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CitySystem {
            addr,
            asked,
            _runtime: runtime,
        }
    }

    fn asked(&self) -> Vec<(String, String)> {
        self.asked.lock().unwrap().clone()
    }

    fn was_asked(&self, path: &str) -> bool {
        self.asked().iter().any(|(p, _)| p == path)
    }
}

/// The deployment of tests/webhook/ with the system's port, and a configuration allowing it.
fn deployment(dir: &Path, city: SocketAddr, elsewhere: SocketAddr) -> (String, String) {
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    let text = std::fs::read_to_string(root().join("tests/webhook/flows/main.flow")).unwrap();
    let text = text
        .replace("127.0.0.1:18080", &city.to_string())
        .replace("127.0.0.1:18081", &elsewhere.to_string());
    std::fs::write(flows.join("main.flow"), text).unwrap();
    let config = dir.join("centralino.toml");
    std::fs::write(
        &config,
        format!("[webhooks]\nallow = [\"http://{city}\"]\nmax_body_bytes = 65536\n"),
    )
    .unwrap();
    (
        flows.to_string_lossy().into_owned(),
        config.to_string_lossy().into_owned(),
    )
}

/// The `ramo` (path) and `avviso` of the ticket the call to `number` made.
fn ticket_of(tickets: &[serde_json::Value], number: &str) -> (String, Option<String>) {
    let ticket = tickets
        .iter()
        .find(|t| t["fields"]["numero"] == number)
        .unwrap_or_else(|| panic!("no ticket from {number}: {tickets:#?}"));
    let field = |name: &str| ticket["fields"][name].as_str().map(str::to_owned);
    (field("ramo").unwrap(), field("avviso"))
}

#[test]
fn each_answer_of_the_city_system_takes_its_path_on_a_live_call() {
    if !have_sipp() {
        return;
    }
    let city = CitySystem::start();
    // Someone listening at the address not on the allow-list: nothing may reach it.
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (flows, config) = deployment(dir.path(), city.addr, elsewhere.local_addr().unwrap());
    let mut server = Server::start(Path::new(&flows), &["--config", &config]);

    std::thread::scope(|scope| {
        // The slow one first: it waits 15 s for an answer that never comes in time...
        let slow = scope.spawn(|| server.sipp_within("waits_for_bye.xml", "102", 90));
        let started = Instant::now();
        while !city.was_asked("/lento") {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the slow webhook never arrived:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // ... meanwhile the other calls are served, each to its end.
        for number in ["101", "103", "104", "105", "106"] {
            let call = server.sipp_within("waits_for_bye.xml", number, 60);
            assert!(call.status.success(), "call to {number}:\n{}", server.log());
        }
        let slow = slow.join().unwrap();
        assert!(slow.status.success(), "call to 102:\n{}", server.log());
    });

    let tickets = server.tickets();
    assert_eq!(tickets.len(), 6, "{tickets:#?}");
    // Fast JSON: the ok path, with the value from the answer.
    assert_eq!(
        ticket_of(&tickets, "101"),
        ("ok".into(), Some("Scuole chiuse per neve".into()))
    );
    for number in ["102", "103", "104", "105", "106"] {
        assert_eq!(ticket_of(&tickets, number).0, "else", "call to {number}");
    }
    // The slow call's ticket came last: the calls after it did not wait for its webhook.
    let last = tickets
        .iter()
        .max_by_key(|t| t["created_at"].as_str().unwrap_or_default().to_owned())
        .unwrap();
    assert_eq!(last["fields"]["numero"], "102", "{tickets:#?}");

    // The fast one posted the flow's fields as JSON.
    let asked = city.asked();
    let posted = asked.iter().find(|(path, _)| path == "/avvisi").unwrap();
    let body: serde_json::Value = serde_json::from_str(&posted.1).unwrap();
    assert_eq!(body, serde_json::json!({"linea": "101"}));
    // Every path asked once; the address not on the list never contacted.
    let paths: Vec<&str> = asked.iter().map(|(p, _)| p.as_str()).collect();
    for path in ["/avvisi", "/lento", "/errore", "/json-rotto", "/grande"] {
        assert_eq!(paths.iter().filter(|p| **p == path).count(), 1, "{paths:?}");
    }
    assert!(
        matches!(elsewhere.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a connection reached the address not on the allow-list"
    );
    // serve warned at startup of the one webhook it will never call.
    let elsewhere_addr = elsewhere.local_addr().unwrap().to_string();
    assert_eq!(
        server.lines_with(&["WARN", "always take its else", &elsewhere_addr]),
        1,
        "{}",
        server.log()
    );
    assert_eq!(server.count("always take its else"), 1, "{}", server.log());
    // Each failure is a WARN naming its cause.
    let log = server.log();
    for cause in [
        "no complete answer within 15000 ms",
        "answered HTTP 500",
        "the answer is not JSON",
        "is not on the webhook allow-list",
        "the answer is larger than 65536 bytes",
    ] {
        assert_eq!(
            server.lines_with(&["WARN", "webhook failed", cause]),
            1,
            "{cause}:\n{log}"
        );
    }
    assert!(server.stop().success(), "clean shutdown:\n{}", server.log());
}
