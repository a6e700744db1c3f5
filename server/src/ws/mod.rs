//! `GET /ws`: every refusal happens here, as HTTP, before any socket is opened.

pub mod decode;
pub(crate) mod limits;
mod outbox;
mod session;

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use frontdesk_protocol::api::ErrorBody;
use frontdesk_protocol::{ErrorCode, SUBPROTOCOL_V1};
use rand::Rng;

use crate::error::ApiError;
use crate::http::extract::authenticate;
use crate::metrics::StatusLabels;
use crate::state::Shared;

pub use session::SessionContext;

fn offers_v1(parts: &axum::http::request::Parts) -> bool {
    parts
        .headers
        .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL_V1)
}

fn unsupported_protocol() -> Response {
    let mut body = ErrorBody::new(
        ErrorCode::UnsupportedProtocol,
        "This desk speaks a protocol version the server does not. Update the Frontdesk app.",
    );
    body.supported = Some(vec![SUBPROTOCOL_V1.to_owned()]);
    (StatusCode::UPGRADE_REQUIRED, axum::Json(body)).into_response()
}

pub async fn upgrade(State(state): State<Shared>, request: Request) -> Response {
    let response = match refuse_or_upgrade(&state, request).await {
        Ok(response) => response,
        Err(response) => response,
    };
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        state
            .metrics
            .upgrade_refusals
            .get_or_create(&StatusLabels { status: response.status().as_u16().to_string() })
            .inc();
    }
    response
}

async fn refuse_or_upgrade(state: &Shared, request: Request) -> Result<Response, Response> {
    let (mut parts, _body) = request.into_parts();
    let ws = WebSocketUpgrade::from_request_parts(&mut parts, state).await.map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            "This address is for WebSocket connections (Upgrade: websocket). For HTTP use /api/v1/….",
        )
        .into_response()
    })?;
    if !offers_v1(&parts) {
        return Err(unsupported_protocol());
    }
    // Subscribed before the user is loaded: a disable or a change of rights from now on
    // reaches the session, however long the rest of the upgrade takes.
    let control = state.hub.control();
    let (actor, claims) = authenticate(state, &parts).await.map_err(IntoResponse::into_response)?;
    let query: HashMap<String, String> =
        form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let location_id = query
        .get("location")
        .filter(|l| !l.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::bad_request("Add `?location=<id>` to the WebSocket address.").into_response())?;
    if !actor.may_use_location(&location_id) {
        return Err(ApiError::forbidden(format!("You do not work at location {location_id:?}.")).into_response());
    }
    match state.store.location(&location_id).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(ApiError::forbidden(format!(
                "There is no location {location_id:?}. Check the desk's settings."
            ))
            .into_response());
        }
        Err(e) => return Err(ApiError::from(e).into_response()),
    }
    let after_seq = match query.get("after_seq") {
        None => None,
        Some(raw) => Some(raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::bad_request("`after_seq` must be a whole number (the last event seq the desk has).")
                .into_response()
        })?),
    };
    if state.shutdown.is_cancelled() {
        let hint = rand::rng().random_range(1000..5000);
        return Err(ApiError::retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ShuttingDown,
            "The server is restarting. The desk reconnects by itself.",
            hint,
        )
        .into_response());
    }
    if state.user_limits.sessions_of(&actor.user_id) >= state.settings.max_sessions_per_user {
        return Err(ApiError::retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!(
                "This account already holds {} live connections, the most one account may. Close desks \
                 that are not in use, or give each desk its own account.",
                state.settings.max_sessions_per_user
            ),
            30_000,
        )
        .into_response());
    }
    if state.session_count.load(Ordering::Relaxed) >= state.settings.max_sessions {
        let hint = rand::rng().random_range(5000..15000);
        return Err(ApiError::retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Overloaded,
            "The server has all the connections it can take right now. The desk retries by itself; scans stay queued safely.",
            hint,
        )
        .into_response());
    }

    let ctx = SessionContext {
        actor,
        token_expires_at: claims.session_deadline(),
        location_id,
        after_seq,
        family: claims.fam.clone(),
        control,
    };
    let state = state.clone();
    let max = state.settings.max_frame_bytes;
    // tungstenite's own limit sits well above ours, so an oversized frame is read whole
    // and answered with a clean 1009 close. Above this ceiling tungstenite stops reading
    // and the connection may end with a reset instead (the session still counts a 1009).
    let ceiling = (max * 4).max(4 << 20);
    Ok(ws
        .protocols([SUBPROTOCOL_V1])
        .max_message_size(ceiling)
        .max_frame_size(ceiling)
        // Every session keeps its read buffer for as long as it is open, and tungstenite
        // zero-fills it (its default is 128 KiB). A desk's frames are a few hundred bytes:
        // 512 holds a whole command, and the buffer grows when a frame is larger.
        .read_buffer_size(512)
        // Frames queued together go out in one write up to this size. The buffer keeps
        // the largest size it reached, so a burst (a replay page) must not leave every
        // session holding many kilobytes.
        .write_buffer_size(1024)
        .on_upgrade({
            // The upgrade's task keeps this closure for as long as the session runs, so
            // it holds a pointer; the session itself is set up from what it points to.
            let pending = Box::new((state, ctx));
            move |socket| {
                let (state, ctx) = *pending;
                let tracker = state.sessions.clone();
                tracker.track_future(session::run(socket, state, ctx))
            }
        }))
}
