//! The HTTP API under `/api/v1`, the operations endpoints and the WebSocket route.

mod admin;
mod auth;
pub mod client;
mod desks;
pub mod extract;
mod locations;
mod members;
pub mod openapi;
mod ops;
mod poll;
mod staff;
mod visits;

pub use visits::command_from_bytes;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use frontdesk_protocol::ErrorCode;

use crate::error::ApiError;
use crate::metrics::HttpLabels;
use crate::state::Shared;

pub fn router(state: Shared) -> Router {
    let api = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/members", get(members::search).post(members::create))
        .route("/members/sync", get(members::sync))
        .route("/members/{id}", get(members::fetch).patch(members::update))
        .route("/members/{id}/card", post(members::replace_card))
        .route("/members/{id}/cards", get(members::cards))
        .route("/members/{id}/renew", post(members::renew))
        .route("/members/{id}/freeze", post(members::freeze))
        .route("/members/{id}/unfreeze", post(members::unfreeze))
        .route("/locations", get(locations::list).post(locations::create))
        .route("/locations/{id}", axum::routing::patch(locations::update))
        .route("/check-ins", post(visits::check_in).get(visits::list))
        .route("/check-outs", post(visits::check_out))
        .route("/check-ins/{id}/review", post(visits::review))
        .route("/stats", get(visits::stats))
        .route("/events", get(poll::events))
        .route("/audit", get(admin::audit))
        .route("/desks", get(desks::list))
        .route("/desks/presence", post(desks::report))
        .route("/users", get(admin::users).post(staff::create))
        .route("/users/{id}", axum::routing::patch(staff::update))
        .route("/users/{id}/password", post(staff::set_password))
        .route("/users/{id}/disable", post(admin::disable))
        .route("/users/{id}/enable", post(admin::enable))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(openapi::serve));

    Router::new()
        .nest(frontdesk_protocol::API_PREFIX, api)
        .route("/ws", get(crate::ws::upgrade))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(axum::extract::DefaultBodyLimit::max(state.settings.max_frame_bytes))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("There is nothing at this address. Check the server address and the API path (/api/v1/…).")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "This address does not accept this method.",
    )
}

/// Counts requests by route template (not raw path, which would carry ids).
async fn count_requests(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let method = method_label(request.method()).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .http_requests
        .get_or_create(&HttpLabels { route: route.clone(), method, status: response.status().as_u16().to_string() })
        .inc();
    tracing::debug!(
        route,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// Wraps a JSON value as a 200 response.
pub fn ok<T: serde::Serialize>(value: T) -> Response {
    axum::Json(value).into_response()
}

/// The gym's IANA time zone, for its days ("today", a `date`); UTC for a location that
/// does not exist (the caller's own checks refuse those).
async fn gym_time_zone(state: &Shared, location_id: &str) -> Result<String, ApiError> {
    Ok(state.store.location(location_id).await?.map(|l| l.time_zone).unwrap_or_else(|| "UTC".into()))
}

/// A metrics label from a fixed set: a client may send any method name, and each new
/// label value would be a new time series kept for the life of the server.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_methods_share_one_label() {
        let odd = axum::http::Method::from_bytes(b"FLOODME123").unwrap();
        assert_eq!(super::method_label(&odd), "other");
        assert_eq!(super::method_label(&axum::http::Method::POST), "POST");
    }
}
