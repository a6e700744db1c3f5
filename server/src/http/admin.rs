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

#[derive(Deserialize)]
pub struct AuditQuery {
    location: String,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

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

pub async fn disable(State(state): State<Shared>, auth: Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    set_disabled(state, auth, id, true).await
}

pub async fn enable(State(state): State<Shared>, auth: Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    set_disabled(state, auth, id, false).await
}
