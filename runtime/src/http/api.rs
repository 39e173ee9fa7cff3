//! The connectors API (`/api/v1/...`): JSON over HTTP for the city's other systems (the portal,
//! apps, the front desks), over the same store and rules as the phone.
//!
//! ```text
//!   client ──Authorization: Bearer ctk_...──► body limit ─► token? (tokens.toml, hashed) ──no──► 401
//!                                                              │ yes: Holder {name, scopes}
//!                                                   rate limit per token ──over──► 429 Retry-After
//!                                                              │
//!                                          handler: scope? ──no──► 403 ── store / deployment / desk
//!                                                              │
//!                                   200/201 JSON  |  {"error": {"code": "...", "message": "..."}}
//!
//!   citizen ──POST /api/v1/lookup {reference, phone}──► rate limit per address ──► state only
//! ```
//!
//! Every route is registered with its OpenAPI description through utoipa-axum's
//! [`OpenApiRouter`], so the document served at `/api/v1/openapi.json` ([`openapi`]) lists
//! exactly the routes served. Errors are [`ApiError`]: one enum, a stable `code` per variant.
//! Writes are made through the store's own operations (`create_ticket`, `change_ticket`,
//! `book`, ...) with the token's name as the actor.

pub mod bookings;
pub mod callbacks;
pub mod directory;
pub mod error;
pub mod limit;
pub mod lookup;
pub mod tickets;
pub mod tokens;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use error::ApiError;
use tokens::{Holder, Scope, TokensFile};

/// The largest request body accepted (a ticket with its fields and a note fits many times).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// `[api]` of the configuration, as the HTTP side needs it.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// `DATA/tokens.toml`.
    pub tokens: PathBuf,
    /// Requests per minute per token (a burst of as many).
    pub requests_per_minute: u32,
    /// Citizen lookups per minute per client address.
    pub lookups_per_minute: u32,
    /// Which numbers a callback may be asked for (the dialer's rule).
    pub number_rule: crate::dialer::rule::NumberRule,
}

/// What the API's routes read.
#[derive(Clone)]
pub struct Api {
    pub(crate) server: crate::http::ServerView,
    pub(crate) directory: Arc<crate::http::directory::LiveBook>,
    tokens: Arc<TokensFile>,
    per_token: Arc<limit::Limiter<String>>,
    pub(crate) per_address: Arc<limit::Limiter<std::net::IpAddr>>,
    pub(crate) number_rule: Arc<crate::dialer::rule::NumberRule>,
}

impl Api {
    pub fn new(
        config: &ApiConfig,
        server: crate::http::ServerView,
        directory: Arc<crate::http::directory::LiveBook>,
    ) -> Api {
        Api {
            server,
            directory,
            tokens: Arc::new(TokensFile::new(config.tokens.clone())),
            per_token: Arc::new(limit::Limiter::per_minute(config.requests_per_minute)),
            per_address: Arc::new(limit::Limiter::per_minute(config.lookups_per_minute)),
            number_rule: Arc::new(config.number_rule.clone()),
        }
    }
}

/// The token's holder, put in the request by [`authenticate`]; handlers ask it for scopes.
#[derive(Debug, Clone)]
pub struct Caller(pub Holder);

impl Caller {
    /// Refuse with 403 unless the token has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.0.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::MissingScope { scope })
        }
    }

    /// The name recorded as the author of the token's writes.
    pub fn actor(&self) -> String {
        format!("api:{}", self.0.name)
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(ApiError::Unauthenticated)
    }
}

/// The bearer token of `headers`, if one is given in the expected form.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Token check and the per-token rate limit, before any route with a token runs.
async fn authenticate(State(api): State<Api>, mut request: Request, next: Next) -> Response {
    let Some(presented) = bearer(request.headers()) else {
        return ApiError::Unauthenticated.into_response();
    };
    let Some(holder) = api.tokens.current().holder(presented) else {
        return ApiError::Unauthenticated.into_response();
    };
    if let Err(wait) = api
        .per_token
        .take(holder.name.clone(), std::time::Instant::now())
    {
        return ApiError::RateLimited {
            retry_after_s: wait.as_secs().max(1),
        }
        .into_response();
    }
    request.extensions_mut().insert(Caller(holder));
    next.run(request).await
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Centralino connectors API",
        version = "1",
        description = "Tickets, callbacks, bookings, the address book, presence and the call log of Centralino, for the city's other systems. Authenticate with `Authorization: Bearer <token>` (`centralino tokens add NAME --scope ...`). Errors are `{\"error\": {\"code\", \"message\"}}` with a stable code."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "tickets"), (name = "callbacks"), (name = "bookings"),
        (name = "directory"), (name = "calls"), (name = "citizens"), (name = "contract")
    )
)]
struct ApiDoc;

/// Declares the bearer scheme the operations use.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The routes that need a token, with their documentation.
fn with_token() -> OpenApiRouter<Api> {
    OpenApiRouter::new()
        .merge(tickets::routes())
        .merge(callbacks::routes())
        .merge(bookings::routes())
        .merge(directory::routes())
}

/// The routes open to anyone (the citizen lookup, this document), with their documentation.
fn without_token() -> OpenApiRouter<Api> {
    lookup::routes().routes(utoipa_axum::routes!(document))
}

/// The API's contract: this OpenAPI document (no token needed).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "contract",
    responses((status = 200, description = "The OpenAPI 3.1 document of the API", content_type = "application/json")))]
async fn document() -> axum::Json<serde_json::Value> {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    axum::Json(
        DOCUMENT
            .get_or_init(|| serde_json::to_value(openapi()).unwrap_or_default())
            .clone(),
    )
}

/// The API's OpenAPI document, generated from the routes' annotations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, token) = with_token().split_for_parts();
    let (_, open) = without_token().split_for_parts();
    let mut document = ApiDoc::openapi();
    document.merge(token);
    let mut open = open;
    // The lookup needs no token: its operations say so (an empty security requirement).
    for item in open.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            operation.security = Some(vec![
                utoipa::openapi::security::SecurityRequirement::default(),
            ]);
        }
    }
    document.merge(open);
    document
}

/// Every route of the API, under `/api/v1`: each one registered with its documentation, so
/// the document lists exactly what is served (the catch-all for other `/api/` paths aside).
pub fn routes(api: Api) -> axum::Router {
    let (token_routes, _) = with_token().split_for_parts();
    let (open_routes, _) = without_token().split_for_parts();
    let token_routes = token_routes.layer(axum::middleware::from_fn_with_state(
        api.clone(),
        authenticate,
    ));
    axum::Router::new()
        .merge(token_routes)
        .merge(open_routes)
        // Not a route of the contract: any other path under /api/ answers a JSON 404.
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async { ApiError::NoRoute }),
        )
        .with_state(api)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

impl Api {
    /// The flows now (the deployment's current program).
    pub(crate) fn program(&self) -> Arc<crate::engine::Program> {
        self.server
            .deployment
            .current()
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Run `work` on the store away from the async threads (sled flushes to disk).
    pub(crate) async fn store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn crate::store::Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.server.store.clone();
        tokio::task::spawn_blocking(move || work(store.as_ref()))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "API: a store task failed");
                Err(ApiError::Store)
            })
    }
}

/// A text field of a request: trimmed, at most `max` characters, no control characters.
pub(crate) fn text_field(field: &str, text: &str, max: usize) -> Result<String, ApiError> {
    let text = text.trim();
    if text.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("at most {max} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::invalid(
            field,
            "control characters are not allowed",
        ));
    }
    Ok(text.to_owned())
}

/// A citizen's phone number as given: digits with an optional leading `+`, spaces, dots,
/// dashes and brackets; at most 32 characters. Kept as given (trimmed).
pub(crate) fn phone_field(field: &str, text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let allowed = text.chars().enumerate().all(|(i, c)| {
        c.is_ascii_digit() || matches!(c, ' ' | '.' | '-' | '(' | ')' | '/') || (i == 0 && c == '+')
    });
    if !allowed || text.chars().count() > 32 || !(3..=20).contains(&digits) {
        return Err(ApiError::invalid(
            field,
            "a phone number: 3 to 20 digits, an optional leading +, spaces, dots, dashes",
        ));
    }
    Ok(text.to_owned())
}

/// A reference in a path: what the store gives out, or a not-found answer (`not_found`).
pub(crate) fn reference(text: &str, not_found: ApiError) -> Result<String, ApiError> {
    crate::store::records::Reference::parse(text)
        .map(|r| r.as_str().to_owned())
        .map_err(|_| not_found)
}
