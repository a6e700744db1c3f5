//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use frontdesk_protocol::api::Health;

use crate::error::ApiError;
use crate::state::Shared;

#[utoipa::path(
    get, path = "/api/v1/healthz", tag = "operations", responses((status = 200, body = frontdesk_protocol::api::Health))
)]
pub async fn healthz() -> Response {
    super::ok(Health { version: Some(env!("CARGO_PKG_VERSION").into()), ..Health::new("ok") })
}

/// Ready when the database answers and the server is not draining.
#[utoipa::path(
    get, path = "/api/v1/readyz", tag = "operations", responses((status = 200, body = frontdesk_protocol::api::Health),(status = 503, description = "not ready", body = frontdesk_protocol::api::ErrorBody))
)]
pub async fn readyz(State(state): State<Shared>) -> Result<Response, ApiError> {
    if state.shutdown.is_cancelled() {
        return Err(ApiError::retry_later(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            frontdesk_protocol::ErrorCode::ShuttingDown,
            "The server is shutting down.",
            1000,
        ));
    }
    match tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => Ok(super::ok(Health { version: Some(env!("CARGO_PKG_VERSION").into()), ..Health::new("ready") })),
        _ => Err(ApiError::unavailable()),
    }
}

#[utoipa::path(
    get, path = "/api/v1/metrics", tag = "operations", responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String))
)]
pub async fn metrics(State(state): State<Shared>) -> impl IntoResponse {
    state.metrics.desks_online.set(state.presence.online_count() as i64);
    ([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics.render())
}
