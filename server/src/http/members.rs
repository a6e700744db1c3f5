//! Member search, fetch, and the roster delta desks cache for offline work.

use axum::extract::{Path, State};
use axum::response::Response;
use frontdesk_protocol::api::MemberSyncPage;
use serde::Deserialize;

use super::extract::{Auth, QueryParams};
use crate::error::ApiError;
use crate::state::Shared;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    limit: Option<i64>,
}

pub async fn search(
    State(state): State<Shared>,
    _auth: Auth,
    QueryParams(q): QueryParams<SearchQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    Ok(super::ok(state.store.search_members(&q.q, limit).await?))
}

pub async fn fetch(State(state): State<Shared>, _auth: Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    match state.store.member(&id).await? {
        Some(member) => Ok(super::ok(member)),
        None => Err(ApiError::not_found("No member has this id. Search by name, card or phone instead.")),
    }
}

#[derive(Deserialize)]
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
