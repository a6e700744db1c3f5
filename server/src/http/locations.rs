//! Extension `admin`: the gyms of a chain. Staff see the locations they work at; an
//! admin creates them; an admin or a manager of the gym changes its settings.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use frontdesk_protocol::Role;
use frontdesk_protocol::api::{LocationPatch, NewLocation};

use super::extract::{Auth, JsonBody};
use crate::error::ApiError;
use crate::setup;
use crate::state::Shared;

#[utoipa::path(
    get, path = "/api/v1/locations", tag = "admin", security(("bearer" = [])), responses((status = 200, description = "the gyms the caller works at", body = Vec<frontdesk_protocol::Location>),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn list(State(state): State<Shared>, auth: Auth) -> Result<Response, ApiError> {
    let mut locations = state.store.locations().await?;
    locations.retain(|l| auth.0.may_use_location(&l.id));
    Ok(super::ok(locations))
}

#[utoipa::path(
    post, path = "/api/v1/locations", tag = "admin", request_body = frontdesk_protocol::api::NewLocation, security(("bearer" = [])), responses((status = 201, body = frontdesk_protocol::Location),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 409, description = "conflict (e.g. a card already in use)", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn create(
    State(state): State<Shared>,
    auth: Auth,
    JsonBody(body): JsonBody<NewLocation>,
) -> Result<Response, ApiError> {
    if auth.0.role != Role::Admin {
        return Err(ApiError::forbidden("Only an admin can add a gym."));
    }
    let location = setup::new_location(&body).map_err(ApiError::bad_request)?;
    if !state.store.create_location(&location, &auth.0, Utc::now()).await? {
        return Err(ApiError::conflict(format!(
            "A location with the id {:?} exists already. Choose another id, or change that location.",
            location.id
        )));
    }
    tracing::info!(by = %auth.0.username, location = %location.id, "location created");
    Ok((StatusCode::CREATED, axum::Json(location)).into_response())
}

#[utoipa::path(
    patch, path = "/api/v1/locations/{id}", tag = "admin", params(("id" = String, Path)), request_body = frontdesk_protocol::api::LocationPatch, security(("bearer" = [])), responses((status = 200, body = frontdesk_protocol::Location),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "not found", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn update(
    State(state): State<Shared>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<LocationPatch>,
) -> Result<Response, ApiError> {
    auth.manager()?;
    auth.location(&id)?;
    let mut location =
        state.store.location(&id).await?.ok_or_else(|| ApiError::not_found("There is no location with this id."))?;
    setup::apply_location_patch(&mut location, &patch).map_err(ApiError::bad_request)?;
    if !state.store.update_location(&location, &auth.0, Utc::now()).await? {
        return Err(ApiError::not_found("There is no location with this id."));
    }
    tracing::info!(by = %auth.0.username, location = %location.id, "location changed");
    Ok(super::ok(location))
}
