//! `GET /events`: long-polling for desks whose WebSocket is blocked.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use frontdesk_protocol::api::{EventEnvelope, EventsPage};
use frontdesk_protocol::{ErrorCode, Event};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::extract::{Auth, QueryParams};
use crate::error::ApiError;
use crate::state::Shared;

const PAGE: i64 = 1000;
const MAX_WAIT_S: u64 = 30;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    location: String,
    #[serde(default)]
    after_seq: i64,
    #[serde(default)]
    wait: u64,
}

fn resync_required(last_seq: i64) -> ApiError {
    let mut err = ApiError::new(
        StatusCode::GONE,
        ErrorCode::ResyncRequired,
        "The events after this point are no longer kept. Reload the view, then follow events from `last_seq`.",
    );
    err.body.last_seq = Some(last_seq);
    err
}

async fn page(state: &Shared, location: &str, after: i64) -> Result<(Vec<Event>, i64), ApiError> {
    let last = state.store.last_seq(location).await?;
    if after > last {
        // The desk knows more than the server: the server's data was reset.
        return Err(resync_required(last));
    }
    if after < last {
        let first = state.store.first_retained_seq(location).await?;
        if first.is_none_or(|first| after + 1 < first) {
            return Err(resync_required(last));
        }
    }
    let events = state.store.events_between(location, after, i64::MAX, PAGE).await?;
    Ok((events, last))
}

#[utoipa::path(
    get, path = "/api/v1/events", tag = "events", params(EventsQuery), security(("bearer" = [])), responses((status = 200, description = "events after after_seq (long-poll up to wait seconds)", body = frontdesk_protocol::api::EventsPage),(status = 410, description = "resync_required: last_seq says where the stream is", body = frontdesk_protocol::api::ErrorBody),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "no valid access token", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "not allowed for this user or location", body = frontdesk_protocol::api::ErrorBody),
        (status = 404, description = "there is no such location", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn events(
    State(state): State<Shared>,
    auth: Auth,
    QueryParams(q): QueryParams<EventsQuery>,
) -> Result<Response, ApiError> {
    auth.location(&q.location)?;
    if state.store.location(&q.location).await?.is_none() {
        return Err(ApiError::not_found(format!("There is no location {:?}.", q.location)));
    }
    // Subscribe before reading, so an event committed in between still wakes us.
    let mut live = state.hub.subscribe(&q.location);
    let (mut events, mut last) = page(&state, &q.location, q.after_seq).await?;
    if events.is_empty() && q.wait > 0 {
        let wait = Duration::from_secs(q.wait.min(MAX_WAIT_S));
        let woke = tokio::select! {
            _ = tokio::time::sleep(wait) => false,
            _ = state.shutdown.cancelled() => false,
            r = async {
                loop {
                    match live.recv().await {
                        Ok(p) if p.seq > q.after_seq => return true,
                        Ok(_) => continue,
                        Err(RecvError::Lagged(_)) => return true,
                        Err(RecvError::Closed) => return false,
                    }
                }
            } => r,
        };
        if woke {
            (events, last) = page(&state, &q.location, q.after_seq).await?;
        }
    }
    let last_seq = events.last().map(|e| e.seq).unwrap_or(last.max(q.after_seq));
    Ok(super::ok(EventsPage { events: events.into_iter().map(EventEnvelope::Event).collect(), last_seq }))
}
