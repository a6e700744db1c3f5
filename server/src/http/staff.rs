//! Extension `admin`: staff accounts. A manager adds and changes front-desk staff and
//! managers of their own gyms; an admin anyone. Every change is audited, and a change of
//! role, gyms or password closes the user's live sessions (4003) and revokes their
//! refresh tokens, so old rights do not outlive the change.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use frontdesk_protocol::Role;
use frontdesk_protocol::api::{NewUser, PasswordReset, UserPatch};

use super::admin::manages;
use super::extract::{Auth, JsonBody};
use crate::auth::Actor;
use crate::error::ApiError;
use crate::hub::Control;
use crate::setup;
use crate::state::Shared;
use crate::store::UserRecord;

/// Whether `actor` may give an account this role at these gyms.
fn may_grant(actor: &Actor, role: Role, locations: &[String]) -> Result<(), ApiError> {
    match actor.role {
        Role::Admin => Ok(()),
        Role::Manager if role == Role::Admin => Err(ApiError::forbidden("Only an admin can make someone an admin.")),
        Role::Manager => match locations.iter().find(|l| !actor.locations.contains(l)) {
            Some(other) => Err(ApiError::forbidden(format!(
                "You can only give access to your own gyms, and {other:?} is not one of them."
            ))),
            None => Ok(()),
        },
        Role::FrontDesk => Err(ApiError::forbidden("Only a manager or an admin can change staff accounts.")),
    }
}

async fn check_locations(state: &Shared, locations: &[String]) -> Result<Vec<String>, ApiError> {
    if locations.is_empty() {
        return Err(ApiError::bad_request("`locations` must name at least one gym the user works at."));
    }
    let mut known = Vec::new();
    for id in locations {
        let id = id.trim();
        if state.store.location(id).await?.is_none() {
            return Err(ApiError::bad_request(format!("`locations`: there is no location {id:?}.")));
        }
        if !known.iter().any(|k| k == id) {
            known.push(id.to_owned());
        }
    }
    Ok(known)
}

async fn hash(state: &Shared, secret: String) -> Result<String, ApiError> {
    state.hashing.hash(secret).await.map_err(|_| super::auth::hashing_busy())
}

#[utoipa::path(
    post, path = "/api/v1/users", tag = "admin", request_body = frontdesk_protocol::api::NewUser, security(("bearer" = [])), responses((status = 201, body = frontdesk_protocol::api::UserSummary),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 409, description = "conflict (e.g. a card already in use)", body = frontdesk_protocol::api::ErrorBody),
        (status = 503, description = "overloaded or shutting down: wait Retry-After", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn create(
    State(state): State<Shared>,
    auth: Auth,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<Response, ApiError> {
    auth.manager()?;
    let username = setup::username(&body.username).map_err(ApiError::bad_request)?;
    let name = setup::staff_name(&body.name).map_err(ApiError::bad_request)?;
    setup::password(&body.password).map_err(ApiError::bad_request)?;
    let locations = check_locations(&state, &body.locations).await?;
    may_grant(&auth.0, body.role, &locations)?;
    if state.store.user_by_username(&username).await?.is_some() {
        return Err(ApiError::conflict(format!("The username {username:?} is taken; choose another.")));
    }
    let user = UserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        username,
        name,
        role: body.role,
        password_hash: hash(&state, body.password).await?,
        disabled: false,
        locations,
    };
    if !state.store.create_user(&user, &auth.0, Utc::now()).await? {
        return Err(ApiError::conflict(format!("The username {:?} is taken; choose another.", user.username)));
    }
    tracing::info!(by = %auth.0.username, user = %user.username, role = user.role.as_str(), "user created");
    Ok((StatusCode::CREATED, axum::Json(user.summary())).into_response())
}

async fn managed_user(state: &Shared, auth: &Auth, id: &str) -> Result<UserRecord, ApiError> {
    auth.manager()?;
    let user =
        state.store.user_by_id(id).await?.ok_or_else(|| ApiError::not_found("There is no user with this id."))?;
    if !manages(&auth.0, &user.summary()) {
        return Err(ApiError::forbidden("You may only manage staff of your own gyms (and not admins)."));
    }
    Ok(user)
}

#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "admin", params(("id" = String, Path)), request_body = frontdesk_protocol::api::UserPatch, security(("bearer" = [])), responses((status = 200, body = frontdesk_protocol::api::UserSummary),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "not found", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn update(
    State(state): State<Shared>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<UserPatch>,
) -> Result<Response, ApiError> {
    let mut user = managed_user(&state, &auth, &id).await?;
    let before = user.clone();
    if let Some(name) = &patch.name {
        user.name = setup::staff_name(name).map_err(ApiError::bad_request)?;
    }
    if let Some(role) = patch.role {
        if user.id == auth.0.user_id && role != user.role {
            return Err(ApiError::bad_request("You cannot change your own role; ask another manager or an admin."));
        }
        user.role = role;
    }
    if let Some(locations) = &patch.locations {
        let locations = check_locations(&state, locations).await?;
        // A manager may move staff between their own gyms, not take them from another's.
        if auth.0.role == Role::Manager
            && let Some(other) = user.locations.iter().find(|l| !auth.0.locations.contains(l) && !locations.contains(l))
        {
            return Err(ApiError::forbidden(format!(
                "{other:?} is not one of your gyms, so you cannot remove this user from it."
            )));
        }
        user.locations = locations;
    }
    let added: Vec<String> = user.locations.iter().filter(|l| !before.locations.contains(l)).cloned().collect();
    may_grant(&auth.0, user.role, &added)?;
    if user.role != before.role {
        may_grant(&auth.0, user.role, &user.locations)?;
    }
    state.store.update_user(&user, &auth.0, Utc::now()).await?;
    if user.role != before.role || before.locations.iter().any(|l| !user.locations.contains(l)) {
        state.hub.send_control(Control::RightsChanged { user_id: user.id.clone() });
    }
    tracing::info!(by = %auth.0.username, user = %user.username, "user changed");
    Ok(super::ok(user.summary()))
}

#[utoipa::path(
    post, path = "/api/v1/users/{id}/password", tag = "admin", params(("id" = String, Path)), request_body = frontdesk_protocol::api::PasswordReset, security(("bearer" = [])), responses((status = 204, description = "set; the user is signed out everywhere"),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "not found", body = frontdesk_protocol::api::ErrorBody),
        (status = 503, description = "overloaded or shutting down: wait Retry-After", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn set_password(
    State(state): State<Shared>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PasswordReset>,
) -> Result<Response, ApiError> {
    let user = managed_user(&state, &auth, &id).await?;
    setup::password(&body.password).map_err(ApiError::bad_request)?;
    let hash = hash(&state, body.password).await?;
    state.store.set_password(&user.id, &hash, &auth.0, Utc::now()).await?;
    if user.id != auth.0.user_id {
        state.hub.send_control(Control::RightsChanged { user_id: user.id.clone() });
    }
    tracing::info!(by = %auth.0.username, user = %user.username, "password reset");
    Ok(StatusCode::NO_CONTENT.into_response())
}
