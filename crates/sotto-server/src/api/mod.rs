//! The HTTP API under `/v1`, plus `/healthz` and `/metrics`.
//!
//! Handlers parse requests into domain values, call the store and the delivery bus, and
//! answer JSON. Every failure is an [`ApiError`], mapped to status and code in one place.

mod accounts;
pub mod attachments;
pub mod auth;
mod certificates;
mod devices;
pub mod directory;
pub mod error;
mod json;
mod keys;
pub(crate) mod messages;
pub(crate) mod multi;
pub(crate) mod provisioning;
mod sealed;
mod sealed_multi;

pub use error::ApiError;

use crate::config::Policy;
use crate::delivery::{self, DeliveryBus};
use crate::metrics::Metrics;
use crate::ratelimit::{RateKey, RateLimiter, RetryAfter};
use crate::store::Store;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// The OpenAPI 3.1 document describing this API, served at `/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Cached credentials and device lists in front of `store`.
    pub directory: directory::Directory,
    /// Wake-ups for delivery connections.
    pub bus: Arc<dyn DeliveryBus>,
    /// Rate limits.
    pub limiter: Arc<dyn RateLimiter>,
    /// Registration mode and limits.
    pub policy: Arc<Policy>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Attachment records and blobs; `None` on a relay without attachments.
    pub attachments: Option<Arc<attachments::Attachments>>,
    /// Sender certificates for sealed sender; `None` on a relay that issues none.
    pub certificates: Option<Arc<crate::sealed_sender::SenderCertificates>>,
    /// Becomes true when the server shuts down, so WebSockets close cleanly.
    pub shutdown: watch::Receiver<bool>,
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Takes a rate-limit permit or fails with `rate_limited`.
pub(crate) async fn rate_limit(state: &AppState, key: RateKey) -> Result<(), ApiError> {
    state
        .limiter
        .acquire(&key)
        .await
        .map_err(|RetryAfter(wait)| {
            Metrics::inc(&state.metrics.rate_limited);
            ApiError::RateLimited(wait)
        })
}

/// Builds the router over `state`.
pub fn router(state: AppState) -> Router {
    let body_limit = state.policy.limits.max_body_bytes();
    let v1 = Router::new()
        .route("/accounts", post(accounts::register))
        .route("/accounts/{username}", get(accounts::lookup))
        .route("/accounts/sealed-sender", put(sealed::put_settings))
        .route("/devices", post(accounts::add_device).get(devices::list))
        .route("/devices/{device_id}", delete(devices::remove))
        .route("/devices/link-token", post(devices::link_token))
        .route("/devices/link", post(devices::link))
        .route("/provisioning", post(provisioning::open))
        .route(
            "/provisioning/{channel_id}",
            get(provisioning::read).put(provisioning::fill),
        )
        .route("/keys", put(keys::upload))
        .route("/keys/count", get(keys::count))
        .route("/keys/{account_id}/{device_id}", get(keys::bundle))
        .route("/messages/{account_id}/{message_id}", put(messages::send))
        .route(
            "/messages/multi/{message_id}",
            put(multi::send_multi).layer(DefaultBodyLimit::max(multi::max_body_bytes(
                &state.policy.limits,
            ))),
        )
        .route(
            "/messages/sealed/{account_id}/{message_id}",
            put(sealed::send_sealed),
        )
        .route(
            "/messages/sealed-multi/{message_id}",
            put(sealed_multi::send_sealed_multi).layer(DefaultBodyLimit::max(
                sealed_multi::max_body_bytes(&state.policy.limits),
            )),
        )
        .route("/websocket", get(delivery::websocket))
        .route("/attachments", post(attachments::create))
        .route(
            "/attachments/{id}",
            get(attachments::download).patch(attachments::append),
        )
        .route("/attachments/{id}/upload", get(attachments::status))
        .route("/certificate", get(certificates::sender_certificate))
        .route("/certificate/trust-root", get(certificates::trust_root))
        .route("/openapi.json", get(openapi));
    Router::new()
        .nest("/v1", v1)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), count_errors))
        .with_state(state)
}

async fn count_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status().is_client_error() || response.status().is_server_error() {
        Metrics::inc(&state.metrics.errors);
    }
    response
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(state.store.commit_stats()),
    )
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

async fn unknown_route(uri: Uri) -> ApiError {
    let path = uri.path();
    let mut segments = path.trim_start_matches('/').split('/');
    let version = segments.next().unwrap_or_default();
    let is_other_version = version.len() > 1
        && version.starts_with('v')
        && version[1..].bytes().all(|b| b.is_ascii_digit())
        && version != "v1";
    if is_other_version {
        ApiError::UnsupportedApiVersion
    } else {
        ApiError::UnknownRoute
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
