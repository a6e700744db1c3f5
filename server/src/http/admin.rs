//! Manager and admin calls: the audit log and enabling or disabling users.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use frontdesk_protocol::Role;
use frontdesk_protocol::api::UserSummary;
use serde::Deserialize;

use super::extract::{Auth, QueryParams};
use crate::error::ApiError;
use crate::hub::Control;
use crate::state::Shared;
use crate::store::gym_today_bounds;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    location: String,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

#[utoipa::path(
    get, path = "/api/v1/audit", tag = "admin", params(AuditQuery), security(("bearer" = [])), responses((status = 200, body = Vec<frontdesk_protocol::api::AuditEntry>),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "there is no such location", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn audit(
    State(state): State<Shared>,
    auth: Auth,
    QueryParams(q): QueryParams<AuditQuery>,
) -> Result<Response, ApiError> {
    auth.manager()?;
    auth.location(&q.location)?;
    let zone = super::gym_time_zone(&state, &q.location).await?;
    let (today_start, today_end) = gym_today_bounds(&zone, Utc::now());
    let from = q.from.unwrap_or(today_start);
    let to = q.to.unwrap_or(today_end);
    Ok(super::ok(state.store.audit(&q.location, from, to).await?))
}

/// Users a manager may see and manage: those sharing a location with them, admins
/// excepted. Admins see everyone.
pub(super) fn manages(manager: &crate::auth::Actor, user: &UserSummary) -> bool {
    match manager.role {
        Role::Admin => true,
        Role::Manager => user.role != Role::Admin && user.locations.iter().any(|l| manager.locations.contains(l)),
        Role::FrontDesk => false,
    }
}

#[utoipa::path(
    get, path = "/api/v1/users", tag = "admin", security(("bearer" = [])), responses((status = 200, body = Vec<frontdesk_protocol::api::UserSummary>),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn users(State(state): State<Shared>, auth: Auth) -> Result<Response, ApiError> {
    auth.manager()?;
    let users: Vec<UserSummary> = state
        .store
        .users()
        .await?
        .iter()
        .map(|u| u.summary())
        .filter(|u| auth.0.role == Role::Admin || u.locations.iter().any(|l| auth.0.locations.contains(l)))
        .collect();
    Ok(super::ok(users))
}

async fn set_disabled(state: Shared, auth: Auth, id: String, disabled: bool) -> Result<Response, ApiError> {
    auth.manager()?;
    let user =
        state.store.user_by_id(&id).await?.ok_or_else(|| ApiError::not_found("There is no user with this id."))?;
    if !manages(&auth.0, &user.summary()) {
        return Err(ApiError::forbidden("You may only manage staff of your own locations (and not admins)."));
    }
    if disabled && user.id == auth.0.user_id {
        return Err(ApiError::bad_request("You cannot disable your own account."));
    }
    state.store.set_user_disabled(&id, disabled, &auth.0, Utc::now()).await?;
    if disabled {
        state.hub.send_control(Control::UserDisabled { user_id: id.clone() });
    }
    tracing::info!(by = %auth.0.username, user = %user.username, disabled, "user access changed");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post, path = "/api/v1/users/{id}/disable", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])), responses((status = 204, description = "disabled; their sessions close with 4003"),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "not found", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn disable(State(state): State<Shared>, auth: Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    set_disabled(state, auth, id, true).await
}

#[utoipa::path(
    post, path = "/api/v1/users/{id}/enable", tag = "admin", params(("id" = String, Path)), security(("bearer" = [])), responses((status = 204, description = "enabled"),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "not found", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn enable(State(state): State<Shared>, auth: Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    set_disabled(state, auth, id, false).await
}
