//! Extension `presence` over HTTP: desks in HTTP fallback report themselves, and
//! managers list the desks of a location.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use frontdesk_protocol::api::DeskPresence;
use frontdesk_protocol::ws::PresenceReport;
use serde::Deserialize;

use super::extract::{Auth, JsonBody, QueryParams};
use crate::error::ApiError;
use crate::presence;
use crate::state::Shared;
use crate::store::{VisitQuery, gym_today_bounds};

/// `POST /desks/presence`: any signed-in staff member, for a location they work at.
#[utoipa::path(
    post, path = "/api/v1/desks/presence", tag = "presence", request_body = frontdesk_protocol::ws::PresenceReport, security(("bearer" = [])), responses((status = 204, description = "recorded"),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "there is no such location", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn report(
    State(state): State<Shared>,
    auth: Auth,
    JsonBody(body): JsonBody<PresenceReport>,
) -> Result<Response, ApiError> {
    if body.location_id.trim().is_empty() {
        return Err(ApiError::bad_request("`location_id` must not be empty."));
    }
    presence::validate_desk_id(&body.desk_id).map_err(ApiError::bad_request)?;
    auth.location(&body.location_id)?;
    if state.store.location(&body.location_id).await?.is_none() {
        return Err(ApiError::not_found(format!("There is no location {:?}.", body.location_id)));
    }
    state.presence.report_http(&body.location_id, &body.desk_id, body.queued, &auth.0.name);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    location: String,
}

/// `GET /desks?location=…` (manager, admin): every desk the registry knows, plus desks
/// seen in today's visits that have not been heard from since the server started.
#[utoipa::path(
    get, path = "/api/v1/desks", tag = "presence", params(ListQuery), security(("bearer" = [])), responses((status = 200, body = Vec<frontdesk_protocol::api::DeskPresence>),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "not found", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn list(
    State(state): State<Shared>,
    auth: Auth,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Response, ApiError> {
    auth.manager()?;
    auth.location(&q.location)?;
    let Some(location) = state.store.location(&q.location).await? else {
        return Err(ApiError::not_found(format!("There is no location {:?}.", q.location)));
    };
    let mut desks: BTreeMap<String, DeskPresence> =
        state.presence.list(&q.location).into_iter().map(|d| (d.desk_id.clone(), d)).collect();
    let (from, to) = gym_today_bounds(&location.time_zone, Utc::now());
    let today = state
        .store
        .visits(VisitQuery {
            location_id: &q.location,
            from: Some(from),
            to: Some(to),
            open_only: false,
            needs_review_only: false,
        })
        .await?;
    for visit in today {
        desks.entry(visit.desk_id.clone()).or_insert_with(|| DeskPresence {
            desk_id: visit.desk_id,
            online: false,
            transport: None,
            queued: None,
            user_name: None,
            last_seen_at: None,
        });
    }
    Ok(super::ok(desks.into_values().collect::<Vec<_>>()))
}
