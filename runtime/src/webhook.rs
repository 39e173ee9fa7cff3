//! Webhooks on live calls: a flow's `webhook "URL" ... into NAME` calls one of the city's
//! systems over HTTP(S) and hands the JSON answer to the engine (`Event::WebhookResult`).
//!
//! ```text
//!   ChannelCommand::Webhook ─► WebhookClient::call ─► allow-list? ──no──► NotAllowed (never contacted)
//!                                   │                    │ yes
//!                                   │              a permit free? ──no──► Busy
//!                                   │                    │ yes
//!                                   │      GET (no `send`) / POST JSON, no redirects, no proxy
//!                                   │                    │  the flow's timeout for all of it
//!                                   │      2xx? body read chunk by chunk up to the cap, JSON
//!                                   ▼
//!                 Ok(serde_json::Value) ─► the flow's path │ Err(WebhookError) ─► WARN + `else`
//! ```
//!
//! Only origins on the configuration's allow-list are ever contacted: `host` (HTTPS on 443),
//! `host:port` (HTTPS on that port) or `http://host:port` (plain HTTP, written out on purpose).
//! TLS is rustls with the ring provider and the system's certificate store. Every failure is a
//! [`WebhookError`]; its wording is here, in the `#[error]` texts, and nowhere else.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use tokio::sync::Semaphore;
use tracing::{info, warn};

/// Why a webhook took the `else` path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("`{url}` is not an http:// or https:// address")]
    BadUrl { url: String },
    #[error("{origin} is not on the webhook allow-list ([webhooks] allow): not contacted")]
    NotAllowed { origin: String },
    #[error("too many webhooks at once (at most {limit}, [webhooks] max_concurrent)")]
    Busy { limit: usize },
    #[error("no complete answer within {ms} ms")]
    Timeout { ms: u64 },
    #[error("cannot connect: {reason}")]
    Connect { reason: String },
    #[error("answered HTTP {status}, not 2xx")]
    Status { status: u16 },
    #[error("the answer is larger than {limit} bytes ([webhooks] max_body_bytes)")]
    TooLarge { limit: usize },
    #[error("the answer is not JSON: {reason}")]
    InvalidJson { reason: String },
    #[error("the request failed: {reason}")]
    Request { reason: String },
}

/// Why an allow-list entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowEntryError {
    #[error(
        "`{entry}` is not a host: write `host`, `host:port` or `http://host:port` (nothing after the port)"
    )]
    NotAHost { entry: String },
    #[error("`{entry}`: only https:// and http:// can be allowed")]
    Scheme { entry: String },
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("the webhook HTTP client cannot start: {reason}")]
pub struct ClientSetupError {
    reason: String,
}

/// Plain HTTP or HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn of(url: &Url) -> Option<Scheme> {
        match url.scheme() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }
}

/// One origin webhooks may call: scheme, host (lowercase) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigin {
    scheme: Scheme,
    host: String,
    port: u16,
}

impl AllowedOrigin {
    /// `host`, `host:port` (both HTTPS) or `http://host:port` / `https://host[:port]`.
    pub fn parse(entry: &str) -> Result<AllowedOrigin, AllowEntryError> {
        let entry = entry.trim();
        let not_a_host = || AllowEntryError::NotAHost {
            entry: entry.to_owned(),
        };
        let text = if entry.contains("://") {
            entry.to_owned()
        } else {
            format!("https://{entry}")
        };
        // Only an origin: nothing after the host and port (a trailing `/` is forgiven).
        let authority = text
            .split_once("://")
            .map_or("", |(_, rest)| rest.strip_suffix('/').unwrap_or(rest));
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(not_a_host());
        }
        let url = Url::parse(&text).map_err(|_| not_a_host())?;
        let scheme = Scheme::of(&url).ok_or_else(|| AllowEntryError::Scheme {
            entry: entry.to_owned(),
        })?;
        match (url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(port)) if !host.is_empty() => Ok(AllowedOrigin {
                scheme,
                host: host.to_ascii_lowercase(),
                port,
            }),
            _ => Err(not_a_host()),
        }
    }

    fn admits(&self, url: &Url) -> bool {
        Scheme::of(url) == Some(self.scheme)
            && url
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(&self.host))
            && url.port_or_known_default() == Some(self.port)
    }
}

impl fmt::Display for AllowedOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// The origins webhooks may call; empty: none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    origins: Vec<AllowedOrigin>,
}

impl AllowList {
    /// Every entry parsed; the first that does not read is the error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<AllowList, AllowEntryError> {
        let origins = entries
            .iter()
            .map(|e| AllowedOrigin::parse(e.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(AllowList { origins })
    }

    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// Whether `url` may be called: `Err` says why not (a bad address or an origin not listed).
    pub fn check(&self, url: &str) -> Result<Url, WebhookError> {
        let bad = || WebhookError::BadUrl {
            url: url.to_owned(),
        };
        let parsed = Url::parse(url).map_err(|_| bad())?;
        let (Some(scheme), Some(host), Some(port)) = (
            Scheme::of(&parsed),
            parsed.host_str(),
            parsed.port_or_known_default(),
        ) else {
            return Err(bad());
        };
        if self.origins.iter().any(|o| o.admits(&parsed)) {
            Ok(parsed)
        } else {
            let origin = AllowedOrigin {
                scheme,
                host: host.to_ascii_lowercase(),
                port,
            };
            Err(WebhookError::NotAllowed {
                origin: origin.to_string(),
            })
        }
    }
}

/// A webhook of the flows that can never be called: where it is written and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncallable {
    /// `file:line:column` of its state.
    pub at: String,
    pub url: String,
    pub error: WebhookError,
}

impl AllowList {
    /// The flows' webhooks this list refuses, in the graph's order (`serve` warns of them at
    /// startup: their calls will always take `else`).
    pub fn uncallable(&self, graph: &centralino_compiler::graph::Graph) -> Vec<Uncallable> {
        graph
            .nodes
            .iter()
            .filter_map(|node| match &node.action {
                centralino_compiler::graph::Action::Webhook { url, .. } => {
                    self.check(url).err().map(|error| Uncallable {
                        at: node.location.to_string(),
                        url: url.clone(),
                        error,
                    })
                }
                _ => None,
            })
            .collect()
    }
}

/// `[webhooks]` of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub allow: AllowList,
    /// A larger answer is a failure (read incrementally, never buffered past this).
    pub max_body_bytes: usize,
    /// Webhooks in flight server-wide; one more takes its `else` at once.
    pub max_concurrent: usize,
}

impl WebhookConfig {
    pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
    pub const DEFAULT_MAX_CONCURRENT: usize = 200;
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            allow: AllowList::default(),
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            max_concurrent: Self::DEFAULT_MAX_CONCURRENT,
        }
    }
}

/// The exchange ends this much before the flow's timeout: the flow's own timer (which takes
/// `else` too) would otherwise race it, and the cause (a timeout) would go unreported.
const REPORT_MARGIN: Duration = Duration::from_millis(20);

/// Calls webhooks for every live call; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct WebhookClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: WebhookConfig,
    permits: Arc<Semaphore>,
}

impl WebhookClient {
    pub fn new(config: WebhookConfig) -> Result<WebhookClient, ClientSetupError> {
        // reqwest is built without a crypto provider of its own: rustls uses ring (already
        // there for SIP), installed as the process's default once (a second install is a no-op).
        let _already = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("centralino/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientSetupError { reason: chain(&e) })?;
        Ok(WebhookClient {
            inner: Arc::new(Inner {
                http,
                permits: Arc::new(Semaphore::new(config.max_concurrent)),
                config,
            }),
        })
    }

    pub fn config(&self) -> &WebhookConfig {
        &self.inner.config
    }

    /// Call `url` for the call `call_id`: GET without fields, else POST of `body` as a JSON
    /// object; the whole exchange within `timeout` (the flow's, a hair less: [`REPORT_MARGIN`]).
    /// A failure is logged as a WARN with the call's id.
    pub async fn call(
        &self,
        call_id: &str,
        url: &str,
        body: &BTreeMap<String, String>,
        timeout: Duration,
    ) -> Result<serde_json::Value, WebhookError> {
        let result = self.exchange(call_id, url, body, timeout).await;
        match &result {
            Ok(_) => info!(call = %call_id, %url, "webhook answered"),
            Err(error) => warn!(call = %call_id, %url, %error, "webhook failed: else path"),
        }
        result
    }

    async fn exchange(
        &self,
        call_id: &str,
        url: &str,
        body: &BTreeMap<String, String>,
        timeout: Duration,
    ) -> Result<serde_json::Value, WebhookError> {
        let inner = &self.inner;
        let url = inner.config.allow.check(url)?;
        let _permit =
            inner
                .permits
                .clone()
                .try_acquire_owned()
                .map_err(|_| WebhookError::Busy {
                    limit: inner.config.max_concurrent,
                })?;
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let mut request = if body.is_empty() {
            inner.http.get(url)
        } else {
            let json = serde_json::to_vec(body).map_err(|e| WebhookError::Request {
                reason: e.to_string(),
            })?;
            inner
                .http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json)
        };
        request = request.header(reqwest::header::ACCEPT, "application/json");
        if let Ok(value) = reqwest::header::HeaderValue::from_str(call_id) {
            request = request.header("X-Centralino-Call", value);
        }
        let limit = inner.config.max_body_bytes;
        let exchange = async move {
            let mut response = request.send().await.map_err(|e| from_reqwest(&e, ms))?;
            let status = response.status();
            if !status.is_success() {
                return Err(WebhookError::Status {
                    status: status.as_u16(),
                });
            }
            if response
                .content_length()
                .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
            {
                return Err(WebhookError::TooLarge { limit });
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| from_reqwest(&e, ms))? {
                if bytes.len() + chunk.len() > limit {
                    return Err(WebhookError::TooLarge { limit });
                }
                bytes.extend_from_slice(&chunk);
            }
            parse_answer(&bytes)
        };
        tokio::time::timeout(timeout.saturating_sub(REPORT_MARGIN), exchange)
            .await
            .map_err(|_| WebhookError::Timeout { ms })?
    }
}

/// The answer's body as JSON; an empty body (a 204) is `null`.
pub fn parse_answer(bytes: &[u8]) -> Result<serde_json::Value, WebhookError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| WebhookError::InvalidJson {
        reason: e.to_string(),
    })
}

fn from_reqwest(error: &reqwest::Error, ms: u64) -> WebhookError {
    if error.is_timeout() {
        WebhookError::Timeout { ms }
    } else if error.is_connect() {
        WebhookError::Connect {
            reason: chain(error),
        }
    } else {
        WebhookError::Request {
            reason: chain(error),
        }
    }
}

/// An error and its sources on one line (reqwest's own text hides the cause).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
#[path = "webhook/tests.rs"]
mod tests;
