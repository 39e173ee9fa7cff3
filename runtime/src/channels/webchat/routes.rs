//! The chat's public routes (no login; not part of the staff console).
//!
//! ```text
//!   GET  /chat         ─► the start form (+ a start token: cookie and hidden field, double
//!                         submit) or the chat of the `centralino_chat` cookie
//!   POST /chat/start   ─► same origin? start token? ─► ChatHub::start (rate, bound) ─► cookie
//!   POST /chat/say     ─► same origin? chat cookie + the chat's token? ─► ChatHub::say
//!   POST /chat/end     ─► same checks ─► the citizen leaves
//!   GET  /chat/view    ─► the chat as JSON (the page's script polls it)
//! ```
//!
//! A form post answers 303 to `/chat` (works without JavaScript); with `x-chat-fetch: 1` it
//! answers the chat as JSON. Refusals: 403 (origin, token), 429 with `Retry-After` (rate),
//! 503 (full), 400 (empty or too long).

use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::{Environment, context};
use serde::Deserialize;

use super::{ChatHandle, ChatHub, SayRefused, StartRefused};
use crate::http::console::words::{LANG_COOKIE, Lang};
use crate::http::console::{cookie_value, same_origin};
use crate::http::guard::ClientAddress;
use crate::http::session::{random_token, same_token};

/// The chat's cookie (its id), sent only to `/chat`.
const CHAT_COOKIE: &str = "centralino_chat";
/// The start form's token (double submit).
const START_COOKIE: &str = "centralino_chat_start";
/// The largest form body of the chat.
const MAX_FORM_BYTES: usize = 8 * 1024;

/// The chat page's words: key, Italian, English.
const WORDS: &[(&str, &str, &str)] = &[
    ("title", "Comune: scrivici", "City council: write to us"),
    (
        "intro",
        "Scriva al centralino del Comune: le stesse risposte e gli stessi servizi del numero di telefono, per iscritto.",
        "Write to the city's switchboard: the same answers and services as the phone number, in writing.",
    ),
    (
        "phone",
        "Il suo numero di telefono (facoltativo, per essere richiamato)",
        "Your phone number (optional, to be called back)",
    ),
    ("start", "Inizia", "Start"),
    (
        "privacy",
        "La conversazione è registrata come una telefonata.",
        "The conversation is recorded like a phone call.",
    ),
    ("send", "Invia", "Send"),
    ("digits", "Scriva il numero:", "Type the number:"),
    ("write", "Scriva il suo messaggio:", "Write your message:"),
    ("wait", "Un momento…", "One moment…"),
    ("refresh", "Aggiorna", "Refresh"),
    ("end", "Termina la conversazione", "End the conversation"),
    (
        "over",
        "La conversazione è terminata.",
        "The conversation is over.",
    ),
    ("again", "Nuova conversazione", "New conversation"),
    ("switch_language", "English", "Italiano"),
    (
        "refused_origin",
        "Richiesta rifiutata: ricarichi la pagina.",
        "Request refused: reload the page.",
    ),
    (
        "throttled",
        "Troppe richieste: attenda qualche secondo.",
        "Too many requests: wait a few seconds.",
    ),
    (
        "full",
        "Il servizio è molto richiesto: riprovi tra poco.",
        "The service is busy: try again shortly.",
    ),
    ("empty", "Il messaggio è vuoto.", "The message is empty."),
    (
        "too_long",
        "Il messaggio è troppo lungo.",
        "The message is too long.",
    ),
    (
        "bad_phone",
        "Il numero di telefono non è valido.",
        "The phone number is not valid.",
    ),
    (
        "no_flow",
        "Il servizio non è disponibile.",
        "The service is not available.",
    ),
];

fn words(lang: Lang) -> std::collections::BTreeMap<&'static str, &'static str> {
    WORDS
        .iter()
        .map(|(key, it, en)| (*key, if lang == Lang::En { *en } else { *it }))
        .collect()
}

fn word(key: &str, lang: Lang) -> &'static str {
    WORDS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, it, en)| if lang == Lang::En { *en } else { *it })
        .unwrap_or("")
}

/// What the chat's routes share.
pub struct ChatRoutes {
    hub: Arc<ChatHub>,
    templates: Environment<'static>,
    /// Served over TLS: cookies are `Secure`.
    tls: bool,
}

/// The chat's routes over `hub`.
pub fn routes(hub: Arc<ChatHub>, tls: bool) -> Router {
    let mut templates = Environment::new();
    if let Err(e) = templates.add_template("chat.html", include_str!("chat.html")) {
        tracing::error!(error = %e, "the chat template does not compile");
    }
    let state = Arc::new(ChatRoutes {
        hub,
        templates,
        tls,
    });
    Router::new()
        .route("/chat", get(page))
        .route("/chat/start", post(start))
        .route("/chat/say", post(say))
        .route("/chat/end", post(end))
        .route("/chat/view", get(view))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(state)
}

impl ChatRoutes {
    fn cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
        let mut cookie = format!("{name}={value}; Path=/chat; HttpOnly; SameSite=Strict");
        if let Some(age) = max_age {
            cookie.push_str(&format!("; Max-Age={age}"));
        }
        if self.tls {
            cookie.push_str("; Secure");
        }
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    fn chat(&self, headers: &HeaderMap) -> Option<Arc<ChatHandle>> {
        cookie_value(headers, CHAT_COOKIE).and_then(|id| self.hub.get(id))
    }

    fn render(&self, values: minijinja::Value) -> Response {
        match self
            .templates
            .get_template("chat.html")
            .and_then(|t| t.render(values))
        {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "the chat page cannot be rendered");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }

    /// The page for `headers`: the chat of its cookie, else the start form (with a new start
    /// token in a cookie). `problem`: a refusal to show, with its status.
    fn page(
        &self,
        headers: &HeaderMap,
        lang: Lang,
        problem: Option<(StatusCode, &str)>,
    ) -> Response {
        let (status, problem) = match problem {
            Some((status, key)) => (status, Some(word(key, lang))),
            None => (StatusCode::OK, None),
        };
        let max_chars = self.hub.settings().max_input_chars;
        let mut response = match self.chat(headers) {
            Some(chat) => {
                let view = chat.view();
                let last_seq = view.messages.last().map_or(0, |m| m.seq);
                let answer_json =
                    serde_json::to_string(&view.answer).unwrap_or_else(|_| String::from("null"));
                self.render(context! {
                    lang => lang.as_str(),
                    w => words(lang),
                    problem,
                    chat => minijinja::Value::from(minijinja::value::Serde(&view)),
                    csrf => chat.csrf.clone(),
                    last_seq,
                    answer_json => minijinja::Value::from_safe_string(answer_json),
                    max_chars,
                })
            }
            None => {
                let Ok(token) = random_token() else {
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                };
                let mut response = self.render(context! {
                    lang => lang.as_str(),
                    w => words(lang),
                    problem,
                    csrf => token.clone(),
                });
                response.headers_mut().append(
                    header::SET_COOKIE,
                    self.cookie(START_COOKIE, &token, Some(3600)),
                );
                response
            }
        };
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

async fn page(
    State(routes): State<Arc<ChatRoutes>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let asked = query.as_deref().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(key, _)| key == "lang")
            .and_then(|(_, value)| Lang::parse(&value))
    });
    let lang = asked.unwrap_or_else(|| Lang::of(&headers));
    let mut response = routes.page(&headers, lang, None);
    if let Some(lang) = asked {
        let cookie = format!(
            "{LANG_COOKIE}={}; Path=/; SameSite=Strict; Max-Age={}",
            lang.as_str(),
            365 * 24 * 3600
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(Debug, Deserialize)]
struct StartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    phone: String,
}

async fn start(
    State(routes): State<Arc<ChatRoutes>>,
    ConnectInfo(ClientAddress(client)): ConnectInfo<ClientAddress>,
    headers: HeaderMap,
    Form(form): Form<StartForm>,
) -> Response {
    let lang = Lang::of(&headers);
    let expected = cookie_value(&headers, START_COOKIE).unwrap_or("");
    if !same_origin(&headers) || expected.is_empty() || !same_token(expected, &form.csrf) {
        return routes.page(
            &headers,
            lang,
            Some((StatusCode::FORBIDDEN, "refused_origin")),
        );
    }
    let phone = match form.phone.trim() {
        "" => None,
        given => match super::text::phone_number(given) {
            Some(number) => Some(number),
            None => {
                return routes.page(&headers, lang, Some((StatusCode::BAD_REQUEST, "bad_phone")));
            }
        },
    };
    match routes.hub.start(client.ip(), phone) {
        Ok((id, chat)) => {
            chat.greeted().await;
            let mut response = Redirect::to("/chat").into_response();
            let headers = response.headers_mut();
            headers.append(header::SET_COOKIE, routes.cookie(CHAT_COOKIE, &id, None));
            headers.append(header::SET_COOKIE, routes.cookie(START_COOKIE, "", Some(0)));
            response
        }
        Err(refused) => {
            let (status, key) = match refused {
                StartRefused::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
                StartRefused::Full | StartRefused::Stopping => {
                    (StatusCode::SERVICE_UNAVAILABLE, "full")
                }
                StartRefused::NoFlow => (StatusCode::SERVICE_UNAVAILABLE, "no_flow"),
            };
            tracing::info!(client = %client.ip(), reason = %refused, "web chat not started");
            let mut response = routes.page(&headers, lang, Some((status, key)));
            if let StartRefused::Throttled(wait) = refused {
                retry_after(&mut response, wait);
            }
            response
        }
    }
}

fn retry_after(response: &mut Response, wait: std::time::Duration) {
    let seconds = wait.as_secs().max(1).to_string();
    if let Ok(value) = HeaderValue::from_str(&seconds) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
}

#[derive(Debug, Deserialize)]
struct SayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

/// The chat of the request if its origin, cookie and token are right.
#[allow(clippy::result_large_err)]
fn checked_chat(
    routes: &ChatRoutes,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Arc<ChatHandle>, Response> {
    let lang = Lang::of(headers);
    let chat = routes.chat(headers);
    match chat {
        Some(chat) if same_origin(headers) && same_token(&chat.csrf, csrf) => Ok(chat),
        _ => Err(routes.page(
            headers,
            lang,
            Some((StatusCode::FORBIDDEN, "refused_origin")),
        )),
    }
}

/// `value` as a JSON response.
fn json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get("x-chat-fetch")
        .is_some_and(|v| v.as_bytes() == b"1")
}

async fn say(
    State(routes): State<Arc<ChatRoutes>>,
    ConnectInfo(ClientAddress(client)): ConnectInfo<ClientAddress>,
    headers: HeaderMap,
    Form(form): Form<SayForm>,
) -> Response {
    let lang = Lang::of(&headers);
    let chat = match checked_chat(&routes, &headers, &form.csrf) {
        Ok(chat) => chat,
        Err(refused) => return refused,
    };
    let said = routes.hub.say(client.ip(), &chat, &form.text).await;
    let refusal = match said {
        Ok(()) => None,
        Err(SayRefused::Throttled(wait)) => {
            Some((StatusCode::TOO_MANY_REQUESTS, "throttled", Some(wait)))
        }
        Err(SayRefused::Empty) => Some((StatusCode::BAD_REQUEST, "empty", None)),
        Err(SayRefused::TooLong) => Some((StatusCode::BAD_REQUEST, "too_long", None)),
        Err(SayRefused::Over) => None,
    };
    match (refusal, wants_json(&headers)) {
        (None, true) => json(StatusCode::OK, &chat.view()),
        (None, false) => Redirect::to("/chat").into_response(),
        (Some((status, key, wait)), as_json) => {
            let mut response = if as_json {
                json(status, &serde_json::json!({ "error": word(key, lang) }))
            } else {
                routes.page(&headers, lang, Some((status, key)))
            };
            if let Some(wait) = wait {
                retry_after(&mut response, wait);
            }
            response
        }
    }
}

#[derive(Debug, Deserialize)]
struct EndForm {
    #[serde(default)]
    csrf: String,
}

async fn end(
    State(routes): State<Arc<ChatRoutes>>,
    headers: HeaderMap,
    Form(form): Form<EndForm>,
) -> Response {
    match checked_chat(&routes, &headers, &form.csrf) {
        Ok(chat) => {
            routes.hub.leave(&chat);
            let mut response = Redirect::to("/chat").into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, routes.cookie(CHAT_COOKIE, "", Some(0)));
            response
        }
        Err(refused) => refused,
    }
}

async fn view(State(routes): State<Arc<ChatRoutes>>, headers: HeaderMap) -> Response {
    match routes.chat(&headers) {
        Some(chat) => {
            let mut response = json(StatusCode::OK, &chat.view());
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
