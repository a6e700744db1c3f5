//! Sign-in, token refresh with rotation and reuse detection, sign-out.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use frontdesk_protocol::ErrorCode;
use frontdesk_protocol::api::{LoginRequest, RefreshRequest, TokenPair, UserInfo};

use super::extract::JsonBody;
use crate::auth::{password, refresh as refresh_token};
use crate::error::ApiError;
use crate::hub::Control;
use crate::setup;
use crate::state::Shared;
use crate::store::{NewRefreshToken, RefreshUse, Successor, UserRecord};

fn invalid_refresh() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidRefreshToken,
        "Your sign-in has ended (expired, signed out or revoked). Sign in again; check-ins waiting at this desk are kept.",
    )
}

/// A new sign-in: a fresh family and its first refresh token, with an access token.
async fn first_pair(state: &Shared, user: &UserRecord, device_name: Option<&str>) -> Result<TokenPair, ApiError> {
    let family = uuid::Uuid::new_v4().to_string();
    let refresh = refresh_token::generate();
    state
        .store
        .insert_refresh_token(NewRefreshToken {
            digest: &refresh_token::digest(&refresh),
            family_id: &family,
            user_id: &user.id,
            device_name,
            expires_at: refresh_expiry(state),
        })
        .await?;
    Ok(pair(state, user, &family, refresh))
}

fn refresh_expiry(state: &Shared) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(state.settings.refresh_ttl).unwrap_or(chrono::Duration::days(30))
}

fn pair(state: &Shared, user: &UserRecord, family_id: &str, refresh: String) -> TokenPair {
    TokenPair {
        access_token: state.tokens.issue(&user.id, &user.username, user.role, &user.locations, Some(family_id)),
        refresh_token: refresh,
        expires_in: state.tokens.ttl().as_secs(),
        user: UserInfo {
            id: user.id.clone(),
            username: user.username.clone(),
            name: user.name.clone(),
            role: user.role,
            locations: user.locations.clone(),
        },
    }
}

#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth", request_body = frontdesk_protocol::api::LoginRequest, responses((status = 200, description = "signed in", body = frontdesk_protocol::api::TokenPair),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "invalid_credentials", body = frontdesk_protocol::api::ErrorBody),
        (status = 403, description = "account disabled", body = frontdesk_protocol::api::ErrorBody),
        (status = 429, description = "too_many_attempts: wait Retry-After", body = frontdesk_protocol::api::ErrorBody),
        (status = 503, description = "overloaded or shutting down: wait Retry-After", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn login(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let ip = super::client::address(peer, &headers, &state.settings.trusted_proxies);
    // Bounded before anything is counted, hashed or logged: no account has a longer name
    // or password, so such a request is a mistake or an attack, never a sign-in.
    if body.username.trim().chars().count() > setup::MAX_USERNAME {
        return Err(ApiError::bad_request(format!(
            "`username` is longer than {} characters; no account has such a name.",
            setup::MAX_USERNAME
        )));
    }
    if body.password.chars().count() > setup::MAX_PASSWORD {
        return Err(ApiError::bad_request(format!(
            "`password` is longer than {} characters; no account has such a password.",
            setup::MAX_PASSWORD
        )));
    }
    // Counted before the password is checked, in one step with the check of the count.
    let attempt = match state.login_limiter.begin(&body.username, ip, Instant::now()) {
        Ok(attempt) => attempt,
        Err(wait) => {
            return Err(ApiError::retry_later(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyAttempts,
                format!(
                    "Too many failed sign-in attempts for this account or from this computer. Wait {} seconds, then try again \
                 (or ask a manager to check the password).",
                    wait.as_secs().max(1)
                ),
                wait.as_millis() as u64,
            ));
        }
    };
    let user = state.store.user_by_username(&body.username).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| password::decoy_hash().to_owned());
    let matches = state.hashing.verify(body.password.clone(), hash).await.map_err(|_| hashing_busy())?;
    let user = match user {
        Some(user) if matches => user,
        _ => {
            attempt.failed(Instant::now());
            state.metrics.login_failures.inc();
            tracing::info!(username = %body.username, %ip, "sign-in failed");
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidCredentials,
                "The username or password is wrong. Check both (and Caps Lock) and try again.",
            ));
        }
    };
    if user.disabled {
        return Err(ApiError::forbidden("This account is disabled. Ask a manager to enable it."));
    }
    attempt.succeeded();
    let pair = first_pair(&state, &user, body.device_name.as_deref()).await?;
    tracing::info!(user = %user.username, device = body.device_name.as_deref().unwrap_or("-"), "signed in");
    Ok(super::ok(pair))
}

#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth", request_body = frontdesk_protocol::api::RefreshRequest, responses((status = 200, description = "the next token pair (the one presented is spent)", body = frontdesk_protocol::api::TokenPair),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),
        (status = 401, description = "invalid_refresh_token", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn refresh(
    State(state): State<Shared>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Response, ApiError> {
    let digest = refresh_token::digest(&body.refresh_token);
    // The successor is made first and stored in the same transaction that spends the
    // token, so a crash or a concurrent use never leaves a family half rotated.
    let successor = refresh_token::generate();
    let next = Successor { digest: &refresh_token::digest(&successor), expires_at: refresh_expiry(&state) };
    match state.store.rotate_refresh_token(&digest, next, Utc::now()).await? {
        RefreshUse::Valid { user_id, family_id, .. } => {
            let user = state.store.user_by_id(&user_id).await?.filter(|u| !u.disabled).ok_or_else(invalid_refresh)?;
            Ok(super::ok(pair(&state, &user, &family_id, successor)))
        }
        RefreshUse::Reused { family_id } => {
            tracing::warn!("a spent refresh token was presented again; its whole family is revoked (possible theft)");
            state.hub.send_control(Control::FamilyRevoked { family_id });
            Err(invalid_refresh())
        }
        RefreshUse::Unknown | RefreshUse::Expired | RefreshUse::Revoked => Err(invalid_refresh()),
    }
}

/// Revokes the refresh token's family. Knowing the refresh token is the proof needed,
/// so a desk whose access token already expired can still sign out cleanly.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth", request_body = frontdesk_protocol::api::RefreshRequest, responses((status = 204, description = "the sign-in (its refresh family) is revoked"),
        (status = 400, description = "invalid_request: a field is wrong; the message names it", body = frontdesk_protocol::api::ErrorBody),)
)]
pub async fn logout(
    State(state): State<Shared>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Response, ApiError> {
    if let Some(family_id) =
        state.store.revoke_refresh_family_of(&refresh_token::digest(&body.refresh_token), Utc::now()).await?
    {
        // Sessions opened with this sign-in end now, not when their token expires.
        state.hub.send_control(Control::FamilyRevoked { family_id });
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Every password slot stayed busy (a flood of sign-ins): try again shortly.
pub fn hashing_busy() -> ApiError {
    ApiError::retry_later(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Overloaded,
        "The server is busy checking other sign-ins. Wait a few seconds, then try again.",
        2_000,
    )
}
