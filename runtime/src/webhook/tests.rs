//! The webhook client against a real HTTP server (axum on a loopback port) started by each
//! test: fast JSON, slow beyond the timeout, 500, bad JSON, oversized answers (with and without
//! a length), a redirect, and origins not on the list (no connection made).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tokio::task::JoinSet;

use super::*;

/// The city's system, as the tests play it; stopped when dropped (its task is aborted).
struct CitySystem {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    _tasks: JoinSet<()>,
}

impl CitySystem {
    async fn start() -> CitySystem {
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        let app = Router::new()
            .route("/fast", any(fast))
            .route("/echo", any(echo))
            .route("/slow", any(slow))
            .route(
                "/error",
                any(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
            )
            .route("/bad", any(|| async { "{\"avviso\": \"senza fine" }))
            .route("/empty", any(|| async { StatusCode::NO_CONTENT }))
            .route("/big", any(|| async { big_json(100 * 1024) }))
            .route("/big-stream", any(big_stream))
            .route(
                "/redirect",
                any(|| async { (StatusCode::FOUND, [(header::LOCATION, "/fast")]) }),
            )
            .layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    next.run(request)
                },
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CitySystem {
            addr,
            requests,
            _tasks: tasks,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn client(&self) -> WebhookClient {
        self.client_with(WebhookConfig {
            allow: AllowList::parse(&[format!("http://{}", self.addr)]).expect("entry"),
            ..WebhookConfig::default()
        })
    }

    fn client_with(&self, config: WebhookConfig) -> WebhookClient {
        WebhookClient::new(config).expect("client")
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn fast() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"avviso": "Scuole chiuse per neve", "livello": 2}"#,
    )
        .into_response()
}

/// The method, the call header and the JSON sent, back as JSON.
async fn echo(method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let answer = serde_json::json!({
        "method": method.as_str(),
        "call": headers.get("x-centralino-call").and_then(|v| v.to_str().ok()),
        "type": headers.get("content-type").and_then(|v| v.to_str().ok()),
        "sent": sent,
    });
    answer.to_string().into_response()
}

async fn slow() -> Response {
    tokio::time::sleep(Duration::from_secs(10)).await;
    fast().await
}

fn big_json(size: usize) -> String {
    format!("{{\"testo\": \"{}\"}}", "a".repeat(size))
}

/// 100 KiB in 1 KiB chunks, without a Content-Length: only reading counts them.
async fn big_stream() -> Response {
    let chunks = (0..100).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 1024])));
    Body::from_stream(futures_util::stream::iter(chunks)).into_response()
}

const SHORT: Duration = Duration::from_secs(1);
/// Generous for a loaded machine: a fast answer is milliseconds.
const AMPLE: Duration = Duration::from_secs(20);

fn no_fields() -> BTreeMap<String, String> {
    BTreeMap::new()
}

#[tokio::test]
async fn a_fast_json_answer_is_the_value() {
    let city = CitySystem::start().await;
    let answer = city
        .client()
        .call("c1", &city.url("/fast"), &no_fields(), AMPLE)
        .await;
    assert_eq!(
        answer,
        Ok(serde_json::json!({"avviso": "Scuole chiuse per neve", "livello": 2}))
    );
}

#[tokio::test]
async fn fields_are_posted_as_json_with_the_call_id() {
    let city = CitySystem::start().await;
    let fields: BTreeMap<String, String> = [("linea", "075075075"), ("lingua", "it")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let answer = city
        .client()
        .call("abc@host", &city.url("/echo"), &fields, AMPLE)
        .await
        .expect("answer");
    assert_eq!(answer["method"], "POST");
    assert_eq!(answer["call"], "abc@host");
    assert_eq!(answer["type"], "application/json");
    assert_eq!(
        answer["sent"],
        serde_json::json!({"linea": "075075075", "lingua": "it"})
    );
    let without = city
        .client()
        .call("abc@host", &city.url("/echo"), &no_fields(), AMPLE)
        .await
        .expect("answer");
    assert_eq!(without["method"], "GET");
}

#[tokio::test]
async fn a_slow_answer_times_out_at_the_flows_timeout() {
    let city = CitySystem::start().await;
    let started = Instant::now();
    let answer = city
        .client()
        .call("c1", &city.url("/slow"), &no_fields(), SHORT)
        .await;
    assert_eq!(answer, Err(WebhookError::Timeout { ms: 1000 }));
    // Not the server's 10 s: the flow's timeout ended it.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_error_is_a_failure() {
    let city = CitySystem::start().await;
    let answer = city
        .client()
        .call("c1", &city.url("/error"), &no_fields(), AMPLE)
        .await;
    assert_eq!(answer, Err(WebhookError::Status { status: 500 }));
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let city = CitySystem::start().await;
    let answer = city
        .client()
        .call("c1", &city.url("/redirect"), &no_fields(), AMPLE)
        .await;
    assert_eq!(answer, Err(WebhookError::Status { status: 302 }));
    assert_eq!(city.requests(), 1, "only the redirect itself was asked for");
}

#[tokio::test]
async fn bad_json_is_a_failure() {
    let city = CitySystem::start().await;
    let answer = city
        .client()
        .call("c1", &city.url("/bad"), &no_fields(), AMPLE)
        .await;
    assert!(
        matches!(&answer, Err(WebhookError::InvalidJson { .. })),
        "{answer:?}"
    );
}

#[tokio::test]
async fn an_empty_answer_is_null() {
    let city = CitySystem::start().await;
    let answer = city
        .client()
        .call("c1", &city.url("/empty"), &no_fields(), AMPLE)
        .await;
    assert_eq!(answer, Ok(serde_json::Value::Null));
}

#[tokio::test]
async fn an_answer_over_the_cap_is_a_failure_with_or_without_a_length() {
    let city = CitySystem::start().await;
    let client = city.client();
    for path in ["/big", "/big-stream"] {
        let answer = client
            .call("c1", &city.url(path), &no_fields(), AMPLE)
            .await;
        assert_eq!(
            answer,
            Err(WebhookError::TooLarge { limit: 64 * 1024 }),
            "{path}"
        );
    }
    // The same answer under a larger cap is read whole.
    let roomy = city.client_with(WebhookConfig {
        max_body_bytes: 200 * 1024,
        ..city.client().config().clone()
    });
    let answer = roomy
        .call("c1", &city.url("/big"), &no_fields(), AMPLE)
        .await
        .expect("answer");
    assert_eq!(answer["testo"].as_str().map(str::len), Some(100 * 1024));
}

#[tokio::test]
async fn a_refused_connection_is_a_failure() {
    // A port just freed: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let client = WebhookClient::new(WebhookConfig {
        allow: AllowList::parse(&[format!("http://{closed}")]).expect("entry"),
        ..WebhookConfig::default()
    })
    .expect("client");
    let answer = client
        .call("c1", &format!("http://{closed}/x"), &no_fields(), AMPLE)
        .await;
    assert!(
        matches!(&answer, Err(WebhookError::Connect { .. })),
        "{answer:?}"
    );
}

#[tokio::test]
async fn an_origin_not_on_the_list_is_never_contacted() {
    let city = CitySystem::start().await;
    // Someone listening where the flow points, not on the list: it must see no connection.
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let other = elsewhere.local_addr().expect("addr");
    let client = city.client();
    let urls = [
        format!("http://{other}/avvisi"),
        // The listed host and port, but HTTPS where the list says http.
        format!("https://{}/fast", city.addr),
        // The listed host on another port.
        format!("http://127.0.0.1:{}/fast", other.port()),
        // Another name for the same machine.
        format!("http://localhost:{}/fast", city.addr.port()),
    ];
    for url in &urls {
        let answer = client.call("c1", url, &no_fields(), AMPLE).await;
        assert!(
            matches!(&answer, Err(WebhookError::NotAllowed { .. })),
            "{url}: {answer:?}"
        );
    }
    let accepted = tokio::time::timeout(Duration::from_millis(300), elsewhere.accept()).await;
    assert!(accepted.is_err(), "a connection reached the unlisted host");
    assert_eq!(city.requests(), 0, "the listed server was not asked either");
    // An empty list allows nothing.
    let none = WebhookClient::new(WebhookConfig::default()).expect("client");
    let answer = none
        .call("c1", &city.url("/fast"), &no_fields(), AMPLE)
        .await;
    assert!(matches!(answer, Err(WebhookError::NotAllowed { .. })));
    assert_eq!(city.requests(), 0);
}

#[tokio::test]
async fn beyond_the_concurrency_bound_the_else_is_immediate() {
    let city = CitySystem::start().await;
    let client = city.client_with(WebhookConfig {
        max_concurrent: 1,
        ..city.client().config().clone()
    });
    let mut slow = JoinSet::new();
    let first = client.clone();
    let url = city.url("/slow");
    slow.spawn(async move { first.call("c1", &url, &no_fields(), AMPLE).await });
    // Wait until the slow one is in flight (the server saw it).
    let started = Instant::now();
    while city.requests() == 0 {
        assert!(started.elapsed() < AMPLE, "the first webhook never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answer = client
        .call("c2", &city.url("/fast"), &no_fields(), AMPLE)
        .await;
    assert_eq!(answer, Err(WebhookError::Busy { limit: 1 }));
    slow.abort_all();
    while slow.join_next().await.is_some() {}
    // The permit came back with the aborted call.
    let answer = client
        .call("c3", &city.url("/fast"), &no_fields(), AMPLE)
        .await;
    assert!(answer.is_ok(), "{answer:?}");
}

#[test]
fn allow_list_entries() {
    let origin = |e: &str| AllowedOrigin::parse(e).map(|o| o.to_string());
    assert_eq!(
        origin("servizi.comune.perugia.it"),
        Ok("https://servizi.comune.perugia.it:443".into())
    );
    assert_eq!(
        origin("Servizi.Comune.Perugia.IT:8443"),
        Ok("https://servizi.comune.perugia.it:8443".into())
    );
    assert_eq!(
        origin("http://127.0.0.1:8080"),
        Ok("http://127.0.0.1:8080".into())
    );
    assert_eq!(origin("http://intranet/"), Ok("http://intranet:80".into()));
    assert_eq!(origin("[::1]:9000"), Ok("https://[::1]:9000".into()));
    for bad in [
        "",
        "servizi.comune.perugia.it/centralino",
        "https://host/path",
        "user@host",
        "host?x=1",
        "host:notaport",
        "https://",
    ] {
        assert!(
            matches!(
                AllowedOrigin::parse(bad),
                Err(AllowEntryError::NotAHost { .. })
            ),
            "{bad:?}: {:?}",
            AllowedOrigin::parse(bad)
        );
    }
    assert!(matches!(
        AllowedOrigin::parse("ftp://host"),
        Err(AllowEntryError::Scheme { .. })
    ));
}

#[test]
fn urls_against_the_list() {
    let list =
        AllowList::parse(&["servizi.comune.perugia.it", "http://127.0.0.1:8080"]).expect("list");
    assert!(
        list.check("https://servizi.comune.perugia.it/centralino/avvisi")
            .is_ok()
    );
    assert!(
        list.check("https://SERVIZI.comune.perugia.it:443/x")
            .is_ok()
    );
    assert!(list.check("http://127.0.0.1:8080/avvisi").is_ok());
    let refused = |url: &str| list.check(url).err();
    assert_eq!(
        refused("http://servizi.comune.perugia.it/x"),
        Some(WebhookError::NotAllowed {
            origin: "http://servizi.comune.perugia.it:80".into()
        })
    );
    assert!(matches!(
        refused("https://servizi.comune.perugia.it.evil.example/x"),
        Some(WebhookError::NotAllowed { .. })
    ));
    assert!(matches!(
        refused("https://servizi.comune.perugia.it:8443/x"),
        Some(WebhookError::NotAllowed { .. })
    ));
    assert!(matches!(
        refused("ftp://servizi.comune.perugia.it/x"),
        Some(WebhookError::BadUrl { .. })
    ));
    assert!(matches!(
        refused("not a url"),
        Some(WebhookError::BadUrl { .. })
    ));
}

#[test]
fn answers_that_are_json_or_empty() {
    assert_eq!(parse_answer(b""), Ok(serde_json::Value::Null));
    assert_eq!(parse_answer(b" \n"), Ok(serde_json::Value::Null));
    assert_eq!(
        parse_answer(b"\"Scuole chiuse\""),
        Ok(serde_json::json!("Scuole chiuse"))
    );
    assert!(matches!(
        parse_answer(b"<html>"),
        Err(WebhookError::InvalidJson { .. })
    ));
}

#[test]
fn the_flows_webhooks_the_list_refuses_are_named_with_their_place() {
    let mut sources = centralino_compiler::Sources::new();
    sources.add(
        "main.flow",
        r#"
flow main answers "100" {
  language it
  avvisi: webhook "https://servizi.comune.perugia.it/avvisi" timeout 3s -> meteo else -> meteo
  meteo: webhook "http://meteo.example/oggi" timeout 3s -> fine else -> fine
  fine: say "Arrivederci." -> hangup
}
"#,
    );
    let compiled = centralino_compiler::compile(&sources);
    let graph = compiled.graph.expect("the flow compiles");
    let list = AllowList::parse(&["servizi.comune.perugia.it"]).expect("list");
    let refused = list.uncallable(&graph);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].url, "http://meteo.example/oggi");
    assert!(
        refused[0].at.starts_with("main.flow:5:"),
        "{}",
        refused[0].at
    );
    assert_eq!(
        refused[0].error,
        WebhookError::NotAllowed {
            origin: "http://meteo.example:80".into()
        }
    );
    assert_eq!(AllowList::default().uncallable(&graph).len(), 2);
}

#[tokio::test]
async fn https_is_tls_a_plain_http_server_fails_the_handshake() {
    let city = CitySystem::start().await;
    let client = city.client_with(WebhookConfig {
        allow: AllowList::parse(&[city.addr.to_string()]).expect("entry"),
        ..WebhookConfig::default()
    });
    let answer = client
        .call(
            "c1",
            &format!("https://{}/fast", city.addr),
            &no_fields(),
            AMPLE,
        )
        .await;
    assert!(
        matches!(&answer, Err(WebhookError::Connect { .. })),
        "{answer:?}"
    );
    assert_eq!(city.requests(), 0, "no HTTP request was read");
}
