//! Check-ins and check-outs over HTTP (the fallback transport), visit lists, stats and
//! the review decision.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use frontdesk_protocol::IDEMPOTENCY_KEY_HEADER;
use frontdesk_protocol::api::{CommandAccepted, ErrorBody, ReviewRequest};
use frontdesk_protocol::ws::{AckStatus, Command};
use serde::Deserialize;
use serde_json::Value;

use super::extract::{Auth, JsonBody, QueryParams, parse_json};
use crate::error::ApiError;
use crate::service::{self, ApplyError, Transport};
use crate::state::Shared;
use crate::store::{ReviewOutcome, VisitQuery, gym_day_bounds, gym_today_bounds};

/// Builds the command from the body, taking `op_id` from `Idempotency-Key` (the two must
/// agree when both are given).
fn command_from(kind: &str, headers: &HeaderMap, mut body: Value) -> Result<Command, ApiError> {
    let key = headers
        .get(IDEMPOTENCY_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("The Idempotency-Key header is missing: send the command's op_id (a UUID) in it.")
        })?;
    let Value::Object(map) = &mut body else {
        return Err(ApiError::bad_request("The request body must be a JSON object."));
    };
    match map.get("op_id").and_then(Value::as_str) {
        Some(op) if op != key => {
            return Err(ApiError::bad_request(
                "`op_id` in the body differs from the Idempotency-Key header; they must be the same.",
            ));
        }
        _ => {
            map.insert("op_id".into(), Value::String(key.to_owned()));
        }
    }
    // Parse into the command's own struct (not the tagged enum) so errors keep the
    // field's path.
    match kind {
        "check_in" => parse_json(body).map(Command::CheckIn),
        _ => parse_json(body).map(Command::CheckOut),
    }
    .map_err(ApiError::bad_request)
}

/// A command body as `POST /check-ins` (`kind` "check_in") or `/check-outs` reads it,
/// through the same steps as the handler (JSON, the op_id from `Idempotency-Key`, the
/// fields, then what serde cannot check): what the fuzzer runs on anything. `Err` is the
/// message the caller would get.
pub fn command_from_bytes(kind: &str, idempotency_key: &str, body: &[u8]) -> Result<Command, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: Value =
        serde_path_to_error::deserialize(&mut de).map_err(|e| super::extract::describe_json_error(&e))?;
    let mut headers = HeaderMap::new();
    let key = axum::http::HeaderValue::from_str(idempotency_key).map_err(|_| "bad Idempotency-Key".to_owned())?;
    headers.insert(IDEMPOTENCY_KEY_HEADER, key);
    let command = command_from(kind, &headers, value).map_err(|e| e.body.message)?;
    crate::service::validate(&command)?;
    Ok(command)
}

async fn apply(state: Shared, auth: Auth, command: Command) -> Result<Response, ApiError> {
    // One account over HTTP may send what one WebSocket session may.
    if let Err(wait) = state.user_limits.http_command(&auth.0.user_id, std::time::Instant::now()) {
        return Err(ApiError::retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            frontdesk_protocol::ErrorCode::RateLimited,
            "This account is sending commands faster than the server accepts; wait a moment and send again.",
            (wait.as_millis() as u64).max(100),
        ));
    }
    let ack = match service::apply(&state, command, &auth.0, Transport::Http).await {
        Ok(ack) => ack,
        Err(ApplyError::Timeout) => return Err(ApiError::unavailable()),
        Err(ApplyError::Store(e)) => return Err(e.into()),
    };
    Ok(match ack.status {
        AckStatus::Accepted => {
            let status = if ack.duplicate { StatusCode::OK } else { StatusCode::CREATED };
            let body = CommandAccepted {
                check_in: ack.check_in.expect("accepted acks carry the visit"),
                duplicate: ack.duplicate,
            };
            (status, axum::Json(body)).into_response()
        }
        AckStatus::Rejected => {
            let code = ack.code.expect("rejections carry a code");
            let status = if code == frontdesk_protocol::RejectionCode::InvalidRequest {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let mut body =
                ErrorBody::new(frontdesk_protocol::ErrorCode::InvalidRequest, ack.message.unwrap_or_default());
            body.code = code.as_str().to_owned();
            body.overridable = Some(code.overridable());
            body.duplicate = ack.duplicate.then_some(true);
            (status, axum::Json(body)).into_response()
        }
    })
}

#[utoipa::path(
    post, path = "/api/v1/check-ins", tag = "commands", params(("Idempotency-Key" = String, Header, description = "the command's op_id (a UUID)")), request_body = frontdesk_protocol::ws::CheckInCommand, security(("bearer" = [])), responses((status = 201, description = "accepted", body = frontdesk_protocol::api::CommandAccepted),(status = 200, description = "accepted before (duplicate)", body = frontdesk_protocol::api::CommandAccepted),(status = 422, description = "rejected by a rule (code: the rejection code)", body = frontdesk_protocol::api::ErrorBody),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 429, description = "rate_limited: wait Retry-After", body = frontdesk_protocol::api::ErrorBody),
        (status = 503, description = "overloaded or shutting down: wait Retry-After", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn check_in(
    State(state): State<Shared>,
    auth: Auth,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let command = command_from("check_in", &headers, body)?;
    apply(state, auth, command).await
}

#[utoipa::path(
    post, path = "/api/v1/check-outs", tag = "commands", params(("Idempotency-Key" = String, Header, description = "the command's op_id (a UUID)")), request_body = frontdesk_protocol::ws::CheckOutCommand, security(("bearer" = [])), responses((status = 201, description = "accepted", body = frontdesk_protocol::api::CommandAccepted),(status = 200, description = "accepted before (duplicate)", body = frontdesk_protocol::api::CommandAccepted),(status = 422, description = "rejected by a rule", body = frontdesk_protocol::api::ErrorBody),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 429, description = "rate_limited: wait Retry-After", body = frontdesk_protocol::api::ErrorBody),
        (status = 503, description = "overloaded or shutting down: wait Retry-After", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn check_out(
    State(state): State<Shared>,
    auth: Auth,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let command = command_from("check_out", &headers, body)?;
    apply(state, auth, command).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    location: String,
    date: Option<NaiveDate>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    #[serde(default)]
    open: bool,
    /// Extension: only visits waiting for a manager's review decision.
    #[serde(default)]
    needs_review: bool,
}

#[utoipa::path(
    get, path = "/api/v1/check-ins", tag = "visits", params(ListQuery), security(("bearer" = [])), responses((status = 200, body = Vec<frontdesk_protocol::Visit>),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "there is no such location", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn list(
    State(state): State<Shared>,
    auth: Auth,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Response, ApiError> {
    auth.location(&q.location)?;
    // Days are the gym's own (its time zone), not UTC days.
    let zone = super::gym_time_zone(&state, &q.location).await?;
    // Open visits and review lists are not limited to a day unless asked.
    let (from, to) = match (q.date, q.from, q.to) {
        (Some(day), _, _) => {
            let (s, e) = gym_day_bounds(&zone, day);
            (Some(s), Some(e))
        }
        (None, None, None) if q.open || q.needs_review => (None, None),
        (None, None, None) => {
            let (s, e) = gym_today_bounds(&zone, Utc::now());
            (Some(s), Some(e))
        }
        (None, from, to) => (from, to),
    };
    let visits = state
        .store
        .visits(VisitQuery { location_id: &q.location, from, to, open_only: q.open, needs_review_only: q.needs_review })
        .await?;
    Ok(super::ok(visits))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    location: String,
}

#[utoipa::path(
    get, path = "/api/v1/stats", tag = "visits", params(StatsQuery), security(("bearer" = [])), responses((status = 200, body = frontdesk_protocol::Stats),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "there is no such location", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn stats(
    State(state): State<Shared>,
    auth: Auth,
    QueryParams(q): QueryParams<StatsQuery>,
) -> Result<Response, ApiError> {
    auth.location(&q.location)?;
    if state.store.location(&q.location).await?.is_none() {
        return Err(ApiError::not_found(format!("There is no location {:?}.", q.location)));
    }
    Ok(super::ok(state.store.stats(&q.location, Utc::now()).await?))
}

#[utoipa::path(
    post, path = "/api/v1/check-ins/{id}/review", tag = "visits", params(("id" = String, Path)), request_body = frontdesk_protocol::api::ReviewRequest, security(("bearer" = [])), responses((status = 200, body = frontdesk_protocol::api::ReviewDone),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "not found", body = frontdesk_protocol::api::ErrorBody),
        (status = 409, description = "conflict (e.g. a card already in use)", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn review(
    State(state): State<Shared>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReviewRequest>,
) -> Result<Response, ApiError> {
    auth.manager()?;
    let visit = state.store.visit(&id).await?.ok_or_else(|| ApiError::not_found("There is no visit with this id."))?;
    auth.location(&visit.location_id)?;
    let note = body.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    // The store's writer publishes the decision's event when it commits, whether or not
    // this client is still waiting.
    match state.store.review(&id, body.decision, note, &auth.0, Utc::now()).await? {
        ReviewOutcome::Done { visit, .. } => Ok(super::ok(frontdesk_protocol::api::ReviewDone { check_in: visit })),
        ReviewOutcome::NotFound => Err(ApiError::not_found("There is no visit with this id.")),
        ReviewOutcome::NotPending => {
            Err(ApiError::conflict("This visit does not need a review, or was already decided."))
        }
    }
}
