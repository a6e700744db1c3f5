//! Tokens: the access token in memory only, the refresh token in the keychain, and one
//! refresh at a time. Refresh tokens rotate on every use, so two refreshes racing with
//! the same token would look like theft to the server and revoke the sign-in; every
//! part of the desk (WebSocket, HTTP fallback, UI) therefore refreshes through
//! [`Tokens::refresh`], which lets the first caller do it and hands its result to the
//! others.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use frontdesk_protocol::api::{TokenPair, UserInfo};
use tokio::sync::Mutex;

use crate::api::{Api, ApiFailure};
use crate::error::{DeskError, ErrorCode, Result};
use crate::secrets::{Secret, SecretStore};

/// Refresh this long before the access token expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Access {
    pub token: Secret,
    pub expires_at: DateTime<Utc>,
    /// When to refresh: a margin before expiry (a minute, or a fifth of a short lifetime).
    pub refresh_at: DateTime<Utc>,
    /// Bumped by every refresh; callers pass back what they saw to join a refresh.
    pub generation: u64,
}

impl Access {
    fn new(token: Secret, lifetime: Duration, generation: u64) -> Self {
        let now = Utc::now();
        // A fifth of the lifetime, at least a second, at most a minute, never all of it.
        let margin = (lifetime / 5).clamp(Duration::from_secs(1), REFRESH_MARGIN).min(lifetime / 2);
        let span = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero());
        Self { token, expires_at: now + span(lifetime), refresh_at: now + span(lifetime - margin), generation }
    }

    /// Time until the refresh is due, on the wall clock (which keeps running while the
    /// machine sleeps, unlike the monotonic one).
    pub fn refresh_in(&self) -> Duration {
        (self.refresh_at - Utc::now()).to_std().unwrap_or(Duration::ZERO)
    }
}

struct State {
    access: Option<Access>,
    generation: u64,
}

pub struct Tokens {
    api: Api,
    secrets: Arc<dyn SecretStore>,
    state: Mutex<State>,
}

/// Why no access token could be had.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenFailure {
    /// The sign-in is over (refresh refused, no refresh token): sign in again.
    SignedOut(String),
    /// Could not reach the server; try later.
    Temporary(ApiFailure),
    /// The keychain failed.
    Keychain(DeskError),
}

impl Tokens {
    pub fn new(api: Api, secrets: Arc<dyn SecretStore>) -> Self {
        Self { api, secrets, state: Mutex::new(State { access: None, generation: 0 }) }
    }

    /// Whether a sign-in is kept (a refresh token is in the keychain).
    pub fn has_sign_in(&self) -> Result<bool> {
        Ok(self.secrets.load()?.is_some())
    }

    async fn adopt(&self, state: &mut State, pair: TokenPair) -> Result<Access, TokenFailure> {
        // Keep the new refresh token before anything else: the old one is spent.
        self.secrets.store(&Secret::new(pair.refresh_token)).map_err(TokenFailure::Keychain)?;
        state.generation += 1;
        let access =
            Access::new(Secret::new(pair.access_token), Duration::from_secs(pair.expires_in), state.generation);
        state.access = Some(access.clone());
        Ok(access)
    }

    pub async fn sign_in(&self, username: &str, password: &str, device_name: &str) -> Result<UserInfo, SignInError> {
        let pair = self.api.login(username, password, device_name).await.map_err(SignInError::Api)?;
        let user = pair.user.clone();
        let mut state = self.state.lock().await;
        self.adopt(&mut state, pair).await.map_err(|f| match f {
            TokenFailure::Keychain(e) => SignInError::Keychain(e),
            other => SignInError::Other(format!("{other:?}")),
        })?;
        Ok(user)
    }

    /// A usable access token: the current one, or a fresh one.
    pub async fn access(&self) -> Result<Access, TokenFailure> {
        let seen = {
            let state = self.state.lock().await;
            match &state.access {
                Some(a) if a.refresh_in() > Duration::ZERO => return Ok(a.clone()),
                _ => state.generation,
            }
        };
        self.refresh(seen).await
    }

    /// Refreshes unless someone already did since `seen_generation`; then returns theirs.
    pub async fn refresh(&self, seen_generation: u64) -> Result<Access, TokenFailure> {
        let mut state = self.state.lock().await;
        if state.generation != seen_generation
            && let Some(a) = &state.access
        {
            return Ok(a.clone());
        }
        let Some(refresh) = self.secrets.load().map_err(TokenFailure::Keychain)? else {
            state.access = None;
            return Err(TokenFailure::SignedOut("Nobody is signed in at this desk.".into()));
        };
        match self.api.refresh(&refresh).await {
            Ok(pair) => self.adopt(&mut state, pair).await,
            Err(ApiFailure::Unauthorized { .. }) => {
                // Spent, expired or revoked: the sign-in is over. Forget it (the outbox stays).
                state.access = None;
                let _ = self.secrets.delete();
                Err(TokenFailure::SignedOut(
                    "The sign-in has ended; sign in again. Scans saved on this desk are kept.".into(),
                ))
            }
            Err(ApiFailure::Forbidden { message }) => {
                state.access = None;
                let _ = self.secrets.delete();
                Err(TokenFailure::SignedOut(message))
            }
            Err(other) => Err(TokenFailure::Temporary(other)),
        }
    }

    /// Drops the in-memory access token after the server refused it, so the next
    /// [`Tokens::access`] refreshes.
    pub async fn expire(&self) {
        self.state.lock().await.access = None;
    }

    /// Forgets the sign-in without asking the server (which already ended it).
    pub async fn forget(&self) -> Result<()> {
        let mut state = self.state.lock().await;
        state.access = None;
        state.generation += 1;
        self.secrets.delete()
    }

    /// Signs out: revokes the refresh token on the server if it can, and forgets it.
    pub async fn sign_out(&self) -> Result<()> {
        let mut state = self.state.lock().await;
        state.access = None;
        state.generation += 1;
        if let Some(refresh) = self.secrets.load()? {
            let _ = self.api.logout(&refresh).await;
        }
        self.secrets.delete()
    }
}

/// One of the gyms a person may choose at sign-in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct GymChoice {
    pub id: String,
    pub name: String,
    /// The gym this desk worked for last (offered first).
    pub remembered: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SignInError {
    Api(ApiFailure),
    Keychain(DeskError),
    /// The account is fine but does not work at this desk's gym (the sign-in was undone).
    WrongLocation(String),
    /// The account works at no gym at all.
    NoLocation(String),
    /// The account works at several gyms and the desk has none configured: the person
    /// chooses one (the sign-in was undone; signing in again with a choice goes on).
    ChooseLocation(Vec<GymChoice>),
    Other(String),
}

impl SignInError {
    /// What to tell the person at the desk.
    pub fn message(&self) -> String {
        match self {
            Self::Api(ApiFailure::Unauthorized { .. }) => {
                "The username or password is wrong. Check both (and Caps Lock) and try again.".into()
            }
            Self::Api(ApiFailure::Forbidden { message }) => message.clone(),
            // Every Frontdesk server since v1 signs in at this path: something else answers.
            Self::Api(ApiFailure::Unexpected { status: 404 | 405, .. }) => {
                "This address answers, but not as a Frontdesk \
                 server (it has no Frontdesk sign-in). Check the server address with IT: host, port and http or https."
                    .into()
            }
            Self::Api(ApiFailure::Unexpected { status: 300..=399, .. }) => "This address sends the desk somewhere \
                 else (an HTTP redirect), so the password was not sent. Use the server address IT gave exactly \
                 (often https:// rather than http://), or ask IT whether a web filter or a sign-in page is in the way."
                .into(),
            Self::Api(ApiFailure::Unexpected { status: 426, .. }) => "This server speaks a newer version of Frontdesk \
                 than this app. Install the app's update (or ask IT which version the server needs)."
                .into(),
            Self::Api(ApiFailure::Busy { status: 429, retry_after, .. }) => format!(
                "Too many failed sign-ins. Wait {} seconds, then try again.",
                retry_after.map(|d| d.as_secs()).unwrap_or(60)
            ),
            Self::Api(other) => other.describe(),
            Self::Keychain(e) => e.message.clone(),
            Self::WrongLocation(m) | Self::NoLocation(m) | Self::Other(m) => m.clone(),
            Self::ChooseLocation(_) => "You work at several gyms. Choose the gym this desk is at, then sign in.".into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Api(ApiFailure::Unauthorized { .. }) => ErrorCode::InvalidCredentials,
            Self::Api(ApiFailure::Forbidden { .. }) => ErrorCode::Forbidden,
            Self::Api(ApiFailure::Busy { status: 429, .. }) => ErrorCode::TooManyAttempts,
            Self::Api(ApiFailure::Unexpected { status: 404 | 405 | 300..=399, .. }) => ErrorCode::NotFrontdesk,
            Self::Api(ApiFailure::Unexpected { status: 426, .. }) => ErrorCode::UpdateRequired,
            Self::Api(ApiFailure::Network(crate::classify::Failure::Tls(_))) => ErrorCode::Certificate,
            Self::Api(ApiFailure::Network(_)) => ErrorCode::ServerUnreachable,
            Self::Api(_) => ErrorCode::ServerError,
            Self::Keychain(_) => ErrorCode::Keychain,
            Self::WrongLocation(_) => ErrorCode::WrongLocation,
            Self::NoLocation(_) => ErrorCode::NoLocation,
            Self::ChooseLocation(_) => ErrorCode::ChooseLocation,
            Self::Other(_) => ErrorCode::SignInFailed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_at_sign_in_is_named_and_never_read_as_an_update() {
        let redirected = SignInError::Api(ApiFailure::Unexpected { status: 307, message: String::new() });
        assert_eq!(redirected.code(), ErrorCode::NotFrontdesk);
        let words = redirected.message();
        assert!(words.contains("redirect") && words.contains("password was not sent"), "{words}");
        let old_server = SignInError::Api(ApiFailure::Unexpected { status: 426, message: String::new() });
        assert_eq!(old_server.code(), ErrorCode::UpdateRequired);
    }
}
