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
//! session's CSRF token, or from another origin, gets 403.
//!
//! The pages live in modules of their own, each a [`Page`] listed in [`PAGES`]: its routes
//! (merged into the staff routes, so behind the login check), its templates, its words in
//! Italian and English ([`words`]) and its entry in the navigation, with the roles that see it.
//! A handler takes a [`Viewer`] (who is asking, in which language), reads the server through
//! [`Console::server`] ([`ServerView`]: store, flows, presence, live calls), refuses other
//! roles with [`Console::require`], and renders with [`Console::page`], which adds the header,
//! navigation, language and CSRF token every page needs.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::{Environment, context};
use serde::Deserialize;

mod bookings;
mod callbacks;
mod calls;
pub mod clock;
mod directory;
mod flows;
mod flows_files;
mod flows_record;
mod flows_sim;
mod flows_svg;
mod flows_tests;
mod live;
mod presence;
mod record_pages;
mod reports;
mod tickets;
pub mod words;

use super::ServerView;
use super::accounts::{Account, AccountError, Accounts, Role};
use super::guard::ClientAddress;
use super::session::{LoginThrottle, Sessions, Staff, random_token, same_token};
use words::{Dictionary, LANG_COOKIE, Lang, Word};

/// One page (or group of pages) of the console.
pub struct Page {
    /// Its routes; merged into [`staff_routes`], so every one needs a login.
    pub routes: fn() -> Router<Arc<Console>>,
    /// Its templates (name, text); they may extend `layout.html`.
    pub templates: &'static [(&'static str, &'static str)],
    /// Its words (key, Italian, English), used in templates as `{{ t("key") }}`.
    pub words: &'static [Word],
    /// Its entry in the navigation, if it has one.
    pub nav: Option<Nav>,
}

/// An entry of the navigation bar.
pub struct Nav {
    pub path: &'static str,
    /// The key of its label in the words.
    pub label: &'static str,
    /// The roles that see it (and may use the page).
    pub allowed: fn(Role) -> bool,
}

/// Every page of the console, in navigation order.
const PAGES: &[Page] = &[
    live::PAGE,
    presence::PAGE,
    tickets::PAGE,
    callbacks::PAGE,
    bookings::PAGE,
    directory::PAGE,
    calls::PAGE,
    reports::PAGE,
    flows::PAGE,
];

/// Any role.
pub fn everyone(_: Role) -> bool {
    true
}

/// Supervisors and flow editors: reports, the call log.
pub fn supervisors(role: Role) -> bool {
    matches!(role, Role::Supervisor | Role::FlowEditor)
}

/// Flow editors only: editing, publishing and rolling back flows.
pub fn flow_editors(role: Role) -> bool {
    matches!(role, Role::FlowEditor)
}

/// The session cookie's name; `__Host-` (only over TLS: the browser then requires `Secure`,
/// `Path=/` and no `Domain`, so no sibling host can set it).
const SESSION_COOKIE: &str = "centralino_session";
const SESSION_COOKIE_TLS: &str = "__Host-centralino_session";
/// The login form's CSRF cookie (double submit: the same random value in cookie and form).
const LOGIN_COOKIE: &str = "centralino_login";
/// The largest form body accepted by the console (a login form is well under 1 KiB).
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// The largest body [`require_staff`] reads to find a post's CSRF token: a page whose forms
/// carry more than [`MAX_FORM_BYTES`] (the flow editor's whole file) sets its own
/// `DefaultBodyLimit` on its routes, up to this.
pub const MAX_STAFF_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What the console's routes share.
pub struct Console {
    accounts: AccountsFile,
    sessions: Mutex<Sessions>,
    throttle: Mutex<LoginThrottle>,
    server: ServerView,
    templates: Environment<'static>,
    words: Arc<Dictionary>,
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
    pub fn new(accounts: PathBuf, server: ServerView, tls: bool) -> Console {
        let mut templates = Environment::new();
        let pages = PAGES.iter().flat_map(|page| page.templates.iter());
        for (name, text) in TEMPLATES.iter().chain(pages) {
            if let Err(e) = templates.add_template(name, text) {
                // The templates are part of the binary and tested; this is a programming error.
                tracing::error!(template = name, error = %e, "console template does not compile");
            }
        }
        let words = Arc::new(Dictionary::new(
            std::iter::once(words::COMMON).chain(PAGES.iter().map(|page| page.words)),
        ));
        words.install(&mut templates);
        // `{{ version | short_version }}`: the short id (nothing for a missing one).
        templates.add_filter("short_version", |id: Option<String>| {
            id.map(|id| clock::short_version(&id)).unwrap_or_default()
        });
        Console {
            accounts: AccountsFile {
                path: accounts,
                cached: Mutex::new((None, Arc::new(Accounts::default()))),
            },
            sessions: Mutex::new(Sessions::default()),
            throttle: Mutex::new(LoginThrottle::default()),
            server,
            templates,
            words,
            tls,
        }
    }

    /// The word `key` in `lang` (messages that handlers write: refusals, confirmations).
    pub fn word(&self, key: &str, lang: Lang) -> String {
        match self.words.word(key, lang) {
            Some(word) => word.to_owned(),
            None => {
                tracing::warn!(key, "console word missing");
                key.to_owned()
            }
        }
    }

    /// `Err(403)` unless the viewer's role is `allowed`.
    #[allow(clippy::result_large_err)]
    pub fn require(&self, viewer: &Viewer, allowed: fn(Role) -> bool) -> Result<(), Response> {
        if allowed(viewer.staff.role) {
            Ok(())
        } else {
            Err((
                StatusCode::FORBIDDEN,
                self.word("app.forbidden", viewer.lang),
            )
                .into_response())
        }
    }

    /// The account `name` as the accounts file says now (its role, its extension).
    pub fn account(&self, name: &str) -> Option<Account> {
        self.accounts.current().ok()?.accounts.get(name).cloned()
    }

    /// Times for people, now, in the deployment's zone (that of the flows in service's
    /// calendars): every page writes its times through it.
    pub fn clock(&self) -> clock::Clock {
        let now = jiff::Timestamp::now();
        match self.server.deployment.current().read() {
            Ok(program) => clock::Clock::of_graph(&program.graph, now),
            Err(_) => clock::Clock::new(centralino_compiler::calendar::default_timezone(), now),
        }
    }

    /// How soon each office promises to call back, as the flows in service and the
    /// configuration say now ([`crate::promise`]: the one rule of late callbacks).
    pub fn callback_promise(&self) -> crate::promise::CallbackPromise {
        let default = self.server.callback_promise;
        match self.server.deployment.current().read() {
            Ok(program) => crate::promise::CallbackPromise::new(default, &program.graph),
            Err(_) => crate::promise::CallbackPromise::uniform(default),
        }
    }

    /// The offices `viewer` works, when their role limits them (office staff): those the
    /// account names (`users offices`) and those whose `staff` list in the flows in service
    /// names the account's extension. `None`: every office (the other roles).
    pub fn offices_of(&self, viewer: &Viewer) -> Option<std::collections::BTreeSet<String>> {
        if viewer.staff.role != Role::OfficeStaff {
            return None;
        }
        let account = self.account(&viewer.staff.name);
        let mut offices: std::collections::BTreeSet<String> = account
            .as_ref()
            .map(|a| a.offices.iter().cloned().collect())
            .unwrap_or_default();
        let extension = account.and_then(|a| a.extension);
        if let (Some(extension), Ok(program)) = (extension, self.server.deployment.current().read())
        {
            for (name, office) in &program.graph.offices {
                let named = office.staff.iter().any(|member| {
                    crate::people::extension_of(&member.contact) == Some(extension.as_str())
                });
                if named {
                    offices.insert(name.clone());
                }
            }
        }
        Some(offices)
    }

    /// Whether `viewer` may work (change) a record of `office`: any role but office staff;
    /// office staff only their own offices' (a record without an office is no one's).
    pub fn may_work(&self, viewer: &Viewer, office: Option<&str>) -> bool {
        match self.offices_of(viewer) {
            None => true,
            Some(mine) => office.is_some_and(|office| mine.contains(office)),
        }
    }

    /// `Err(403)` unless `viewer` may work a record of `office` ([`Console::may_work`]).
    #[allow(clippy::result_large_err)]
    pub fn require_office(&self, viewer: &Viewer, office: Option<&str>) -> Result<(), Response> {
        if self.may_work(viewer, office) {
            Ok(())
        } else {
            tracing::warn!(name = %viewer.staff.name, office = office.unwrap_or("-"), "console: change refused, not the account's office");
            Err((
                StatusCode::FORBIDDEN,
                self.word("app.not_your_office", viewer.lang),
            )
                .into_response())
        }
    }

    /// The server's live parts: store, flows, presence, live calls.
    pub fn server(&self) -> &ServerView {
        &self.server
    }

    /// Renders page template `name` for `viewer` with `values`, plus what every page needs:
    /// `staff`, `csrf`, `lang`, `nav` (the entries the viewer's role sees), `path` and `zone`
    /// (the deployment's time zone, for words like "Rome time": `t(..) | replace("{zone}", zone)`).
    pub fn page(&self, viewer: &Viewer, name: &str, values: minijinja::Value) -> Response {
        let nav: Vec<minijinja::Value> = PAGES
            .iter()
            .filter_map(|page| page.nav.as_ref())
            .filter(|nav| (nav.allowed)(viewer.staff.role))
            // Safe: a path of ours, written as is (escaped, `/` would be `&#x2f;`, which a
            // browser follows but the crawl of every staff route in tests/console.rs does not).
            .map(|nav| {
                context! {
                    path => minijinja::Value::from_safe_string(nav.path.to_owned()),
                    label => nav.label,
                }
            })
            .collect();
        self.render(
            name,
            context! {
                staff => context! { name => &viewer.staff.name, role => viewer.staff.role.as_str() },
                csrf => &viewer.staff.csrf,
                lang => viewer.lang.as_str(),
                nav => nav,
                supervisor => supervisors(viewer.staff.role),
                zone => self.clock().zone_name(),
                ..values
            },
        )
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

/// Who asks for a staff page, in which language (an extractor for staff routes).
#[derive(Debug, Clone)]
pub struct Viewer {
    pub staff: Staff,
    pub lang: Lang,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Viewer, Response> {
        // require_staff put the staff member there; a route outside it has no viewer.
        let staff = parts
            .extensions
            .get::<Staff>()
            .cloned()
            .ok_or_else(|| StatusCode::UNAUTHORIZED.into_response())?;
        Ok(Viewer {
            staff,
            lang: Lang::of(&parts.headers),
        })
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
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
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
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
    let pages = PAGES
        .iter()
        .fold(Router::new(), |router, page| router.merge((page.routes)()));
    pages
        .route("/logout", post(logout))
        .route("/lang", post(switch_language))
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
        let bytes = match axum::body::to_bytes(body, MAX_STAFF_BODY_BYTES).await {
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
        return private(next.run(request).await);
    }
    let mut request = request;
    request.extensions_mut().insert(staff);
    private(next.run(request).await)
}

/// Staff pages are not kept by the browser or anything between (`no-store`): after log out,
/// neither the back button nor a shared cache shows them again. (The layout's `pageshow`
/// handler reloads a page the back/forward cache restores anyway.)
fn private(mut response: Response) -> Response {
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The value of field `name` in an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// `GET /login` (`?lang=it|en`: the language link, kept in the language cookie): the form, in
/// the language of the request ([`Lang::of`]: cookie, browser, Italian).
async fn login_form(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let chosen = query
        .as_deref()
        .and_then(|query| form_field(query.as_bytes(), "lang"))
        .as_deref()
        .and_then(Lang::parse);
    let lang = chosen.unwrap_or_else(|| Lang::of(&headers));
    let mut response = login_page(&console, lang, StatusCode::OK, None, "");
    if let Some(lang) = chosen {
        response.headers_mut().append(
            header::SET_COOKIE,
            console.cookie(LANG_COOKIE, lang.as_str(), Some(365 * 24 * 3600)),
        );
    }
    response
}

fn login_page(
    console: &Console,
    lang: Lang,
    status: StatusCode,
    problem: Option<&str>,
    name: &str,
) -> Response {
    let Ok(token) = random_token() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "riprovare tra poco").into_response();
    };
    let mut response = console.render(
        "login.html",
        context! { csrf => token.clone(), problem => problem, name => name, lang => lang.as_str() },
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
    let lang = Lang::of(&headers);
    let expected = cookie_value(&headers, LOGIN_COOKIE).unwrap_or("");
    if !same_origin(&headers) || expected.is_empty() || !same_token(expected, &form.csrf) {
        return login_page(
            &console,
            lang,
            StatusCode::FORBIDDEN,
            Some(&console.word("login.expired", lang)),
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
        let problem = console
            .word("login.throttled", lang)
            .replace("{minutes}", &minutes.to_string());
        let mut response = login_page(
            &console,
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&problem),
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
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(&console.word("login.unavailable", lang)),
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
            lang,
            StatusCode::UNAUTHORIZED,
            Some(&console.word("login.wrong", lang)),
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

/// `POST /lang` (field `lang`: `it` or `en`): keeps the language in a cookie, back to the page.
async fn switch_language(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let lang = form_field(&body, "lang")
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or_default();
    // Back where the switch was pressed, if that is one of ours (a path, never another site).
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned()))
        .filter(|path| path.starts_with('/') && !path.starts_with("//"))
        .unwrap_or_else(|| String::from("/"));
    let mut response = Redirect::to(&back).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        console.cookie(LANG_COOKIE, lang.as_str(), Some(365 * 24 * 3600)),
    );
    response
}

/// The console's pages, part of the binary.
const TEMPLATES: [(&str, &str); 2] = [
    ("layout.html", include_str!("console/layout.html")),
    ("login.html", include_str!("console/login.html")),
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

    /// A small deployment for page tests.
    pub(crate) const TEST_FLOWS: &str = r#"
office anagrafe "Anagrafe" {
  staff "sip:201@comune.example" as "Anna Rossi"
}
flow main answers "100" {
  language it
  inizio: say "Buongiorno." -> hangup
}
"#;

    pub(crate) fn test_console() -> Console {
        Console::new(
            PathBuf::from("/nonexistent/accounts.toml"),
            ServerView::for_tests(TEST_FLOWS),
            false,
        )
    }

    #[test]
    fn every_page_renders() {
        let console = test_console();
        for (name, _) in TEMPLATES
            .iter()
            .chain(PAGES.iter().flat_map(|page| page.templates.iter()))
        {
            assert!(console.templates.get_template(name).is_ok(), "{name}");
        }
        let page = console.render(
            "login.html",
            context! { csrf => "t", problem => "<b>x</b>", name => "", lang => "en" },
        );
        assert_eq!(page.status(), StatusCode::OK);
    }

    /// One request through `router` (no socket); the status, the head and the body.
    pub(crate) async fn send(
        router: Router,
        request: axum::http::Request<axum::body::Body>,
    ) -> (StatusCode, HeaderMap, String) {
        use tower::ServiceExt;
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
    }

    fn get_login(
        query: &str,
        extra: &[(&'static str, &str)],
    ) -> axum::http::Request<axum::body::Body> {
        let mut request =
            axum::http::Request::get(format!("/login{query}")).header("host", "127.0.0.1:8062");
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        request.body(axum::body::Body::empty()).unwrap()
    }

    /// The login page speaks the browser's language (Italian when it names neither), its
    /// link switches and keeps the choice, and its refusals are in the page's language.
    #[tokio::test]
    async fn the_login_page_follows_the_language_switch_and_the_browser() {
        let console = Arc::new(test_console());
        let routes = || public_routes(console.clone());

        let (status, _, page) = send(routes(), get_login("", &[])).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("<html lang=\"it\">"), "{page}");
        assert!(page.contains("Accesso del personale"), "{page}");
        assert!(page.contains("href=\"/login?lang=en\""), "{page}");

        let english = [("accept-language", "en-GB,en;q=0.9,it;q=0.5")];
        let (_, _, page) = send(routes(), get_login("", &english)).await;
        assert!(page.contains("<html lang=\"en\">"), "{page}");
        assert!(page.contains("Staff log in"), "{page}");
        assert!(page.contains(">User name</label>"), "{page}");
        assert!(page.contains(">Log in</button>"), "{page}");
        assert!(!page.contains("Nome utente"), "{page}");

        let german = [("accept-language", "de-DE,de;q=0.9")];
        let (_, _, page) = send(routes(), get_login("", &german)).await;
        assert!(page.contains("Accesso del personale"), "{page}");

        // The link: English, kept in the language cookie; the cookie then wins over the browser.
        let (_, head, page) = send(routes(), get_login("?lang=en", &[])).await;
        assert!(page.contains("Staff log in"), "{page}");
        let cookies: Vec<&str> = head
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert!(
            cookies.iter().any(|c| c.starts_with("centralino_lang=en;")),
            "{cookies:?}"
        );
        let italian_cookie = [("accept-language", "en"), ("cookie", "centralino_lang=it")];
        let (_, _, page) = send(routes(), get_login("", &italian_cookie)).await;
        assert!(page.contains("Accesso del personale"), "{page}");
        // An unknown choice is ignored (no cookie), the browser decides.
        let (_, head, page) = send(routes(), get_login("?lang=xx", &english)).await;
        assert!(page.contains("Staff log in"), "{page}");
        assert!(
            !head
                .get_all(header::SET_COOKIE)
                .iter()
                .any(|c| c.to_str().unwrap_or("").starts_with("centralino_lang")),
        );

        // A refused form says why in the page's language.
        let post = |lang_header: (&'static str, &'static str)| {
            let mut request = axum::http::Request::post("/login")
                .header("host", "127.0.0.1:8062")
                .header("origin", "http://127.0.0.1:8062")
                .header("content-type", "application/x-www-form-urlencoded")
                .header(lang_header.0, lang_header.1)
                .body(axum::body::Body::from("name=anna&password=x&csrf=none"))
                .unwrap();
            request.extensions_mut().insert(ConnectInfo(ClientAddress(
                "127.0.0.1:5000".parse().unwrap(),
            )));
            request
        };
        let (status, _, page) = send(routes(), post(("accept-language", "en"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(page.contains("The form has expired"), "{page}");
        let (status, _, page) = send(routes(), post(("cookie", "centralino_lang=it"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(page.contains("Il modulo è scaduto"), "{page}");
    }

    /// Every `t("key")` of every template has its word, and no key is given twice.
    #[test]
    fn every_word_of_every_page_is_in_both_languages() {
        let console = test_console();
        let mut seen = std::collections::BTreeSet::new();
        for table in std::iter::once(words::COMMON).chain(PAGES.iter().map(|page| page.words)) {
            for (key, it, en) in table {
                assert!(seen.insert(*key), "word {key} given twice");
                assert!(!it.is_empty() && !en.is_empty(), "word {key} is empty");
            }
        }
        let call = regex::Regex::new(r#"\bt\(\s*["']([^"']+)["']\s*\)"#).unwrap();
        for (name, text) in TEMPLATES
            .iter()
            .chain(PAGES.iter().flat_map(|page| page.templates.iter()))
        {
            for found in call.captures_iter(text) {
                assert!(
                    console.words.contains(&found[1]),
                    "{name} uses word {} that no page gives",
                    &found[1]
                );
            }
        }
        for nav in PAGES.iter().filter_map(|page| page.nav.as_ref()) {
            assert!(console.words.contains(nav.label), "{}", nav.label);
        }
    }
}
