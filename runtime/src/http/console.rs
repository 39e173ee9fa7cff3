//! The staff console's door and first room: logging in and out, and the live calls page.
//!
//! ```text
//!   GET  /login   ─► form (+ a login CSRF token: cookie and hidden field, double submit)
//!   POST /login   ─► same-origin? token? throttled? ─► argon2 (blocking pool) ─► session cookie, 303 /
//!   ─────────────────────────── everything below needs a session (one layer, for every route) ──
//!   GET  /        ─► live calls (the server's registry) and counters
//!   POST /logout  ─► CSRF token of the session ─► session closed
//! ```
//!
//! Every staff route is added to [`staff_routes`], which is wrapped as a whole in
//! [`require_staff`]: a route cannot be added without the login check. A request without a live
//! session gets 303 to `/login` (a page) or 401 (anything else); a form posted without its
//! session's CSRF token, or from another origin, gets 403. Pages are Italian; English will join
//! them with the rest of the console.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::{Environment, context};
use serde::Deserialize;

use super::accounts::{AccountError, Accounts, Role};
use super::guard::ClientAddress;
use super::session::{LoginThrottle, Sessions, Staff, random_token, same_token};
use crate::server::Registry;

/// The session cookie's name; `__Host-` (only over TLS: the browser then requires `Secure`,
/// `Path=/` and no `Domain`, so no sibling host can set it).
const SESSION_COOKIE: &str = "centralino_session";
const SESSION_COOKIE_TLS: &str = "__Host-centralino_session";
/// The login form's CSRF cookie (double submit: the same random value in cookie and form).
const LOGIN_COOKIE: &str = "centralino_login";
/// The largest form body accepted by the console (a login form is well under 1 KiB).
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// What the console's routes share.
pub struct Console {
    accounts: AccountsFile,
    sessions: Mutex<Sessions>,
    throttle: Mutex<LoginThrottle>,
    registry: Arc<Registry>,
    templates: Environment<'static>,
    /// Served over TLS: cookies are `Secure` and `__Host-`.
    tls: bool,
}

/// The accounts file, read again when it changes (length or modification time).
struct AccountsFile {
    path: PathBuf,
    cached: Mutex<(Option<FileStamp>, Arc<Accounts>)>,
}

/// A file's length and modification time, to notice that it changed.
type FileStamp = (u64, SystemTime);

impl AccountsFile {
    fn current(&self) -> Result<Arc<Accounts>, AccountError> {
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .and_then(|meta| Some((meta.len(), meta.modified().ok()?)));
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if cached.0 != stamp || stamp.is_none() {
            let accounts = Arc::new(Accounts::load(&self.path)?);
            *cached = (stamp, accounts);
        }
        Ok(cached.1.clone())
    }
}

impl Console {
    /// A console reading its accounts from `accounts` (see [`Accounts::path_in`]).
    pub fn new(accounts: PathBuf, registry: Arc<Registry>, tls: bool) -> Console {
        let mut templates = Environment::new();
        for (name, text) in TEMPLATES {
            if let Err(e) = templates.add_template(name, text) {
                // The templates are part of the binary and tested; this is a programming error.
                tracing::error!(template = name, error = %e, "console template does not compile");
            }
        }
        Console {
            accounts: AccountsFile {
                path: accounts,
                cached: Mutex::new((None, Arc::new(Accounts::default()))),
            },
            sessions: Mutex::new(Sessions::default()),
            throttle: Mutex::new(LoginThrottle::default()),
            registry,
            templates,
            tls,
        }
    }

    fn render(&self, name: &str, values: minijinja::Value) -> Response {
        match self
            .templates
            .get_template(name)
            .and_then(|template| template.render(values))
        {
            Ok(page) => Html(page).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = %e, "console page failed to render");
                (StatusCode::INTERNAL_SERVER_ERROR, "errore interno").into_response()
            }
        }
    }

    fn session_cookie_name(&self) -> &'static str {
        if self.tls {
            SESSION_COOKIE_TLS
        } else {
            SESSION_COOKIE
        }
    }

    fn cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
        let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
        if let Some(age) = max_age {
            cookie.push_str(&format!("; Max-Age={age}"));
        }
        if self.tls {
            cookie.push_str("; Secure");
        }
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The staff member whose session cookie `headers` carry, if the session is live.
    fn staff(&self, headers: &HeaderMap) -> Option<(String, Staff)> {
        let id = cookie_value(headers, self.session_cookie_name())?;
        let staff = self
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id, Instant::now())?;
        // An account removed or changed in the file ends its sessions at the next request.
        let accounts = self.accounts.current().ok()?;
        match accounts.accounts.get(&staff.name) {
            Some(account) if account.role == staff.role => Some((id.to_string(), staff)),
            _ => {
                self.sessions
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .close(id);
                None
            }
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether a form post comes from the console's own pages: `Origin` (or, without it,
/// `Referer`) names the host the request was sent to. Browsers send `Origin` on every POST;
/// a request with neither is not a browser's cross-site form and is let through to the token
/// check.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|value| value.to_str().ok());
    match source {
        None => true,
        Some(source) => {
            let rest = source
                .strip_prefix("https://")
                .or_else(|| source.strip_prefix("http://"))
                .unwrap_or("");
            let authority = rest.split('/').next().unwrap_or("");
            authority.eq_ignore_ascii_case(host)
        }
    }
}

/// The routes anyone may reach: the login form.
pub fn public_routes(console: Arc<Console>) -> Router {
    Router::new()
        .route("/login", get(login_form).post(login))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(console)
}

/// The routes of logged-in staff, all behind [`require_staff`].
pub fn staff_routes(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/logout", post(logout))
        .route_layer(middleware::from_fn_with_state(
            console.clone(),
            require_staff,
        ))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(console)
}

/// Let a request through only with a live session; a POST also needs the session's CSRF
/// token (form field `csrf` or header `x-csrf-token`) and a same-origin `Origin`.
async fn require_staff(
    State(console): State<Arc<Console>>,
    request: Request,
    next: Next,
) -> Response {
    let Some((_, staff)) = console.staff(request.headers()) else {
        let wants_page = request.method() == Method::GET
            && request
                .headers()
                .get(header::ACCEPT)
                .and_then(|a| a.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"));
        return if wants_page {
            Redirect::to("/login").into_response()
        } else {
            (StatusCode::UNAUTHORIZED, "accesso richiesto: /login").into_response()
        };
    };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        if !same_origin(request.headers()) {
            return (
                StatusCode::FORBIDDEN,
                "richiesta da un'altra origine rifiutata",
            )
                .into_response();
        }
        let (parts, body) = request.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return (StatusCode::PAYLOAD_TOO_LARGE, "modulo troppo grande").into_response();
            }
        };
        let from_header = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let from_form = form_field(&bytes, "csrf");
        let token = from_header.or(from_form);
        if !token.is_some_and(|token| same_token(&token, &staff.csrf)) {
            return (
                StatusCode::FORBIDDEN,
                "modulo scaduto o non valido: ricaricare la pagina",
            )
                .into_response();
        }
        let mut request = Request::from_parts(parts, axum::body::Body::from(bytes));
        request.extensions_mut().insert(staff);
        return next.run(request).await;
    }
    let mut request = request;
    request.extensions_mut().insert(staff);
    next.run(request).await
}

/// The value of field `name` in an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

async fn login_form(State(console): State<Arc<Console>>) -> Response {
    login_page(&console, StatusCode::OK, None, "")
}

fn login_page(
    console: &Console,
    status: StatusCode,
    problem: Option<&str>,
    name: &str,
) -> Response {
    let Ok(token) = random_token() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "riprovare tra poco").into_response();
    };
    let mut response = console.render(
        "login.html",
        context! { csrf => token.clone(), problem => problem, name => name },
    );
    *response.status_mut() = status;
    response.headers_mut().append(
        header::SET_COOKIE,
        console.cookie(LOGIN_COOKIE, &token, Some(3600)),
    );
    response
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(console): State<Arc<Console>>,
    ConnectInfo(ClientAddress(peer)): ConnectInfo<ClientAddress>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let address: IpAddr = peer.ip();
    let expected = cookie_value(&headers, LOGIN_COOKIE).unwrap_or("");
    if !same_origin(&headers) || expected.is_empty() || !same_token(expected, &form.csrf) {
        return login_page(
            &console,
            StatusCode::FORBIDDEN,
            Some("Il modulo è scaduto: riprovi."),
            "",
        );
    }
    let name = form.name.trim().to_string();
    let now = Instant::now();
    let wait = console
        .throttle
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .wait(address, &name, now);
    if let Some(wait) = wait {
        tracing::warn!(%address, name = %name.escape_debug(), "console login throttled");
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let mut response = login_page(
            &console,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!("Troppi tentativi: riprovi tra {minutes} minuti.")),
            "",
        );
        if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let accounts = match console.accounts.current() {
        Ok(accounts) => accounts,
        Err(e) => {
            tracing::error!(error = %e, "console accounts cannot be read; nobody can log in");
            return login_page(
                &console,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("Accesso non disponibile: avvisare l'amministratore."),
                "",
            );
        }
    };
    let checked_name = name.clone();
    let role =
        tokio::task::spawn_blocking(move || accounts.authenticate(&checked_name, &form.password))
            .await
            .ok()
            .flatten();
    let Some(role) = role else {
        tracing::warn!(%address, name = %name.escape_debug(), "console login failed");
        console
            .throttle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .failed(address, &name, now);
        return login_page(
            &console,
            StatusCode::UNAUTHORIZED,
            Some("Nome o password non corretti."),
            &name,
        );
    };
    console
        .throttle
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .succeeded(address);
    let opened = console
        .sessions
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .open(&name, role, Instant::now());
    let Ok(id) = opened else {
        return (StatusCode::SERVICE_UNAVAILABLE, "riprovare tra poco").into_response();
    };
    tracing::info!(%address, name = %name, role = %role, "console login");
    let mut response = Redirect::to("/").into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        console.cookie(console.session_cookie_name(), &id, None),
    );
    headers.append(
        header::SET_COOKIE,
        console.cookie(LOGIN_COOKIE, "", Some(0)),
    );
    response
}

async fn logout(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if let Some((id, staff)) = console.staff(&headers) {
        console
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .close(&id);
        tracing::info!(name = %staff.name, "console logout");
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        console.cookie(console.session_cookie_name(), "", Some(0)),
    );
    response
}

async fn home(
    State(console): State<Arc<Console>>,
    axum::Extension(staff): axum::Extension<Staff>,
) -> Response {
    let calls = console.registry.calls();
    let counters = console.registry.counters();
    console.render(
        "home.html",
        context! {
            staff => context! { name => staff.name, role => staff.role.as_str() },
            csrf => staff.csrf,
            supervisor => staff.role >= Role::Supervisor,
            calls => minijinja::Value::from(minijinja::value::Serde(&calls)),
            counters => minijinja::Value::from(minijinja::value::Serde(counters)),
        },
    )
}

/// The console's pages, part of the binary.
const TEMPLATES: [(&str, &str); 3] = [
    ("layout.html", include_str!("console/layout.html")),
    ("login.html", include_str!("console/login.html")),
    ("home.html", include_str!("console/home.html")),
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let map = headers(&[(
            "cookie",
            "a=1; centralino_session=abc; centralino_session_x=no",
        )]);
        assert_eq!(cookie_value(&map, "centralino_session"), Some("abc"));
        assert_eq!(cookie_value(&map, "centralino"), None);
    }

    #[test]
    fn only_posts_from_the_same_host_are_same_origin() {
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8062"),
            ("origin", "http://127.0.0.1:8062")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8062"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8062"),
            ("origin", "http://127.0.0.1:8062.evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8062"),
            ("origin", "null")
        ])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8062"),
            ("referer", "http://127.0.0.1:8062/login")
        ])));
        assert!(!same_origin(&headers(&[(
            "origin",
            "http://127.0.0.1:8062"
        )])));
    }

    #[test]
    fn every_page_renders() {
        let console = Console::new(
            PathBuf::from("/nonexistent/accounts.toml"),
            Registry::new(),
            false,
        );
        for (name, _) in TEMPLATES {
            assert!(console.templates.get_template(name).is_ok(), "{name}");
        }
        let page = console.render(
            "login.html",
            context! { csrf => "t", problem => "<b>x</b>", name => "" },
        );
        assert_eq!(page.status(), StatusCode::OK);
    }
}
