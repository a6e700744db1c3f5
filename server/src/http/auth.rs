//! Sign-in, token refresh with rotation and reuse detection, sign-out.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use frontdesk_protocol::ErrorCode;
use frontdesk_protocol::api::{LoginRequest, RefreshRequest, TokenPair, UserInfo};

use super::extract::JsonBody;
use crate::auth::{password, refresh as refresh_token};
use crate::error::ApiError;
use crate::state::Shared;
use crate::store::{NewRefreshToken, RefreshUse, UserRecord};

fn invalid_refresh() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidRefreshToken,
        "Your sign-in has ended (expired, signed out or revoked). Sign in again; check-ins waiting at this desk are kept.",
    )
}

/// Issues an access token and a new refresh token in `family_id`.
async fn issue_pair(
    state: &Shared,
    user: &UserRecord,
    family_id: &str,
    device_name: Option<&str>,
) -> Result<TokenPair, ApiError> {
    let refresh = refresh_token::generate();
    let refresh_ttl = chrono::Duration::from_std(state.settings.refresh_ttl).unwrap_or(chrono::Duration::days(30));
    state
        .store
        .insert_refresh_token(NewRefreshToken {
            digest: &refresh_token::digest(&refresh),
            family_id,
            user_id: &user.id,
            device_name,
            expires_at: Utc::now() + refresh_ttl,
        })
        .await?;
    Ok(TokenPair {
        access_token: state.tokens.issue(&user.id, &user.username, user.role, &user.locations),
        refresh_token: refresh,
        expires_in: state.tokens.ttl().as_secs(),
        user: UserInfo {
            id: user.id.clone(),
            username: user.username.clone(),
            name: user.name.clone(),
            role: user.role,
            locations: user.locations.clone(),
        },
    })
}

pub async fn login(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let ip = peer.ip();
    if let Some(wait) = state.login_limiter.check(&body.username, ip, Instant::now()) {
        return Err(ApiError::retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyAttempts,
            format!(
                "Too many failed sign-in attempts for this user. Wait {} seconds, then try again \
                 (or ask a manager to check the password).",
                wait.as_secs().max(1)
            ),
            wait.as_millis() as u64,
        ));
    }
    let user = state.store.user_by_username(&body.username).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| password::decoy_hash().to_owned());
    let password_text = body.password.clone();
    let matches = tokio::task::spawn_blocking(move || password::verify(&password_text, &hash))
        .await
        .map_err(|_| ApiError::internal())?;
    let user = match user {
        Some(user) if matches => user,
        _ => {
            state.login_limiter.record_failure(&body.username, ip, Instant::now());
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
    state.login_limiter.record_success(&body.username, ip);
    let family = uuid::Uuid::new_v4().to_string();
    let pair = issue_pair(&state, &user, &family, body.device_name.as_deref()).await?;
    tracing::info!(user = %user.username, device = body.device_name.as_deref().unwrap_or("-"), "signed in");
    Ok(super::ok(pair))
}

pub async fn refresh(
    State(state): State<Shared>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Response, ApiError> {
    let digest = refresh_token::digest(&body.refresh_token);
    match state.store.use_refresh_token(&digest, Utc::now()).await? {
        RefreshUse::Valid { user_id, family_id, device_name } => {
            let user = state.store.user_by_id(&user_id).await?.filter(|u| !u.disabled).ok_or_else(invalid_refresh)?;
            let pair = issue_pair(&state, &user, &family_id, device_name.as_deref()).await?;
            Ok(super::ok(pair))
        }
        RefreshUse::Reused => {
            tracing::warn!("a spent refresh token was presented again; its whole family is revoked (possible theft)");
            Err(invalid_refresh())
        }
        RefreshUse::Unknown | RefreshUse::Expired | RefreshUse::Revoked => Err(invalid_refresh()),
    }
}

/// Revokes the refresh token's family. Knowing the refresh token is the proof needed,
/// so a desk whose access token already expired can still sign out cleanly.
pub async fn logout(
    State(state): State<Shared>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Response, ApiError> {
    state.store.revoke_refresh_family_of(&refresh_token::digest(&body.refresh_token), Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
