//! Member search, fetch, the roster delta desks cache for offline work, and (extension
//! `members`) adding and changing members.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use frontdesk_protocol::Member;
use frontdesk_protocol::api::{CardReplacement, Freeze, MemberPatch, MemberSyncPage, NewMember, Renewal};
use serde::Deserialize;

use super::extract::{Auth, JsonBody, QueryParams};
use crate::error::ApiError;
use crate::setup;
use crate::state::Shared;
use crate::store::{MemberEdit, MemberWrite};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    limit: Option<i64>,
}

#[utoipa::path(
    get, path = "/api/v1/members", tag = "members", params(SearchQuery), security(("bearer" = [])), responses((status = 200, description = "members matching name, card or phone", body = Vec<frontdesk_protocol::Member>),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn search(
    State(state): State<Shared>,
    _auth: Auth,
    QueryParams(q): QueryParams<SearchQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    Ok(super::ok(state.store.search_members(&q.q, limit).await?))
}

#[utoipa::path(
    get, path = "/api/v1/members/{id}", tag = "members", params(("id" = String, Path, description = "member id")), security(("bearer" = [])), responses((status = 200, body = frontdesk_protocol::Member),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "not found", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn fetch(State(state): State<Shared>, _auth: Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    match state.store.member(&id).await? {
        Some(member) => Ok(super::ok(member)),
        None => Err(ApiError::not_found("No member has this id. Search by name, card or phone instead.")),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    after: Option<String>,
    limit: Option<i64>,
}

/// Cursors are `v<member version>`; opaque to desks.
fn parse_cursor(cursor: Option<&str>) -> Result<i64, ApiError> {
    match cursor {
        None | Some("") => Ok(0),
        Some(c) => c.strip_prefix('v').and_then(|n| n.parse::<i64>().ok()).filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::bad_request(
                "The `after` cursor is not one this server gave out. Sync again from the start (no `after`).",
            )
        }),
    }
}

#[utoipa::path(
    get, path = "/api/v1/members/sync", tag = "members", params(SyncQuery), security(("bearer" = [])), responses((status = 200, description = "a page of the roster delta", body = frontdesk_protocol::api::MemberSyncPage),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn sync(
    State(state): State<Shared>,
    _auth: Auth,
    QueryParams(q): QueryParams<SyncQuery>,
) -> Result<Response, ApiError> {
    let after = parse_cursor(q.after.as_deref())?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 5000);
    let page = state.store.roster_after(after, limit).await?;
    Ok(super::ok(MemberSyncPage {
        members: page.members,
        cursor: format!("v{}", page.version),
        complete: page.complete,
    }))
}

// ---------------------------------------------------------------- extension `members`
// Front-desk staff add walk-ins, edit contact details and replace lost cards; renewals
// and freezes need a manager. Staff act on members of the gyms they work at (a member
// without a home gym: any staff). Every change is audited and broadcast as
// `member_updated`, so every desk's cached list follows within a second.

/// Who may change this member: staff of the member's home gym.
fn may_edit(auth: &Auth, member: &Member) -> Result<(), ApiError> {
    match member.home_location_id.as_deref() {
        Some(home) if !auth.0.may_use_location(home) => Err(ApiError::forbidden(format!(
            "{} is a member of another gym ({home}); staff there can change their details.",
            member.name
        ))),
        _ => Ok(()),
    }
}

fn written(state: &Shared, write: MemberWrite, status: StatusCode) -> Result<Response, ApiError> {
    match write {
        MemberWrite::Done { member, events } => {
            for event in &events {
                state.publish(event);
            }
            Ok((status, axum::Json(member)).into_response())
        }
        MemberWrite::NotFound => Err(ApiError::not_found("No member has this id.")),
        MemberWrite::CardInUse { member_name } => Err(ApiError::conflict(format!(
            "This card already belongs to {member_name}. Use another card, or find {member_name} by name."
        ))),
        MemberWrite::ExternalIdInUse { member_name } => Err(ApiError::conflict(format!(
            "This external id already belongs to {member_name}; each member of the billing system is one member here."
        ))),
    }
}

#[utoipa::path(
    post, path = "/api/v1/members", tag = "members", request_body = frontdesk_protocol::api::NewMember, security(("bearer" = [])), responses((status = 201, body = frontdesk_protocol::Member),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 409, description = "conflict (e.g. a card already in use)", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn create(
    State(state): State<Shared>,
    auth: Auth,
    JsonBody(body): JsonBody<NewMember>,
) -> Result<Response, ApiError> {
    let now = Utc::now();
    let member = setup::new_member(&body, now).map_err(ApiError::bad_request)?;
    let home = member.home_location_id.as_deref().unwrap_or_default();
    auth.location(home)?;
    if state.store.location(home).await?.is_none() {
        return Err(ApiError::bad_request(format!("`home_location_id`: there is no location {home:?}.")));
    }
    let write = state.store.create_member(&member, &auth.0, now).await?;
    written(&state, write, StatusCode::CREATED)
}

async fn edit(state: Shared, auth: Auth, id: String, edit: MemberEdit, manager: bool) -> Result<Response, ApiError> {
    if manager {
        auth.manager().map_err(|_| ApiError::forbidden("Only a manager can renew or freeze a membership."))?;
    }
    let member = state.store.member(&id).await?.ok_or_else(|| ApiError::not_found("No member has this id."))?;
    may_edit(&auth, &member)?;
    let write = state.store.edit_member(&id, &edit, &auth.0, Utc::now()).await?;
    written(&state, write, StatusCode::OK)
}

#[utoipa::path(
    patch, path = "/api/v1/members/{id}", tag = "members", params(("id" = String, Path)), request_body = frontdesk_protocol::api::MemberPatch, security(("bearer" = [])), responses((status = 200, body = frontdesk_protocol::Member),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "not found", body = frontdesk_protocol::api::ErrorBody),
        (status = 409, description = "conflict (e.g. a card already in use)", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn update(
    State(state): State<Shared>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(mut patch): JsonBody<MemberPatch>,
) -> Result<Response, ApiError> {
    if let Some(name) = &patch.name {
        patch.name = Some(setup::member_name(name).map_err(ApiError::bad_request)?);
    }
    if let Some(phone) = &patch.phone {
        patch.phone = Some(setup::phone(phone).map_err(ApiError::bad_request)?.unwrap_or_default());
    }
    if let Some(email) = &patch.email {
        patch.email = Some(setup::email(email).map_err(ApiError::bad_request)?.unwrap_or_default());
    }
    edit(state, auth, id, MemberEdit::Contact(patch), false).await
}

#[utoipa::path(
    post, path = "/api/v1/members/{id}/card", tag = "members", params(("id" = String, Path)), request_body = frontdesk_protocol::api::CardReplacement, security(("bearer" = [])), responses((status = 200, body = frontdesk_protocol::Member),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "not found", body = frontdesk_protocol::api::ErrorBody),
        (status = 409, description = "conflict (e.g. a card already in use)", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn replace_card(
    State(state): State<Shared>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CardReplacement>,
) -> Result<Response, ApiError> {
    let card = setup::card(&body.card).map_err(ApiError::bad_request)?;
    let reason = body.reason.map(|r| r.chars().take(500).collect());
    edit(state, auth, id, MemberEdit::Card { card, reason }, false).await
}

#[utoipa::path(
    post, path = "/api/v1/members/{id}/renew", tag = "members", params(("id" = String, Path)), request_body = frontdesk_protocol::api::Renewal, security(("bearer" = [])), responses((status = 200, body = frontdesk_protocol::Member),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "not found", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn renew(
    State(state): State<Shared>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Renewal>,
) -> Result<Response, ApiError> {
    let valid_until = setup::valid_until(body.valid_until, Utc::now().date_naive()).map_err(ApiError::bad_request)?;
    edit(state, auth, id, MemberEdit::Renew { valid_until }, true).await
}

#[utoipa::path(
    post, path = "/api/v1/members/{id}/freeze", tag = "members", params(("id" = String, Path)), request_body = frontdesk_protocol::api::Freeze, security(("bearer" = [])), responses((status = 200, body = frontdesk_protocol::Member),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "not found", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn freeze(
    State(state): State<Shared>,
    auth: Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Freeze>,
) -> Result<Response, ApiError> {
    let from = body.from.unwrap_or_else(|| Utc::now().date_naive());
    if let Some(until) = body.until
        && until < from
    {
        return Err(ApiError::bad_request(
            "`until` is before `from`: a freeze must end on or after the day it starts.",
        ));
    }
    let reason = body.reason.map(|r| r.chars().take(500).collect());
    edit(state, auth, id, MemberEdit::Freeze { from, until: body.until, reason }, true).await
}

#[utoipa::path(
    post, path = "/api/v1/members/{id}/unfreeze", tag = "members", params(("id" = String, Path)), security(("bearer" = [])), responses((status = 200, body = frontdesk_protocol::Member),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "not found", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn unfreeze(State(state): State<Shared>, auth: Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    edit(state, auth, id, MemberEdit::Unfreeze, true).await
}

#[utoipa::path(
    get, path = "/api/v1/members/{id}/cards", tag = "members", params(("id" = String, Path)), security(("bearer" = [])), responses((status = 200, body = Vec<frontdesk_protocol::api::MemberCard>),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "not found", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn cards(State(state): State<Shared>, auth: Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    let member = state.store.member(&id).await?.ok_or_else(|| ApiError::not_found("No member has this id."))?;
    may_edit(&auth, &member)?;
    Ok(super::ok(state.store.member_cards(&id).await?))
}
