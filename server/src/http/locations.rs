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

pub async fn list(State(state): State<Shared>, auth: Auth) -> Result<Response, ApiError> {
    let mut locations = state.store.locations().await?;
    locations.retain(|l| auth.0.may_use_location(&l.id));
    Ok(super::ok(locations))
}

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
