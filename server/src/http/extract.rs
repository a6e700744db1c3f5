//! Extractors that turn bad input into `400 invalid_request` naming the field, and the
//! bearer token into an [`Actor`].

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use frontdesk_protocol::ErrorCode;
use serde::de::DeserializeOwned;

use crate::auth::Actor;
use crate::auth::jwt::{Claims, TokenError};
use crate::error::ApiError;
use crate::state::Shared;

/// Explains a serde error in words, with the path of the offending field.
pub fn describe_json_error(err: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = err.path().to_string();
    let inner = err.inner();
    let detail = inner.to_string();
    // serde's own text is good; strip its "at line … column …" tail for readability.
    let detail = detail.split(" at line ").next().unwrap_or(&detail).to_owned();
    if inner.is_syntax() || inner.is_eof() {
        return format!("The request body is not valid JSON ({detail}).");
    }
    if path == "." || path.is_empty() {
        format!("The request body is not what this call expects: {detail}.")
    } else {
        format!("The field `{path}` is wrong: {detail}.")
    }
}

pub fn parse_json<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| describe_json_error(&e))
}

/// A JSON body. Content type is not insisted on; unknown fields are ignored.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::InvalidRequest,
                "The request body is too large or could not be read.",
            )
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(&mut de)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(describe_json_error(&e)))
    }
}

/// Query parameters, with errors that name the parameter.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(QueryParams).map_err(|e| {
            let path = e.path().to_string();
            ApiError::bad_request(format!("The query parameter `{path}` is wrong: {}.", e.inner()))
        })
    }
}

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

pub fn token_error(err: TokenError) -> ApiError {
    match err {
        TokenError::Expired => ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::TokenExpired,
            "Your session token has expired. The desk refreshes it by itself; if this persists, sign in again.",
        ),
        TokenError::Invalid => ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "Your session token is not valid for this server. Sign in again.",
        ),
    }
}

/// Verifies the bearer token and that the user is still enabled.
pub async fn authenticate(state: &Shared, parts: &Parts) -> Result<(Actor, Claims), ApiError> {
    let token = bearer(parts).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "This call needs a sign-in: send `Authorization: Bearer <access token>`.",
        )
    })?;
    let claims = state.tokens.verify(token).map_err(token_error)?;
    let user = state.store.user_by_id(&claims.sub).await?;
    match user {
        Some(user) if !user.disabled => Ok((
            Actor {
                user_id: user.id,
                username: user.username,
                name: user.name,
                role: user.role,
                locations: user.locations,
            },
            claims,
        )),
        Some(_) => Err(ApiError::forbidden("This account is disabled. Ask a manager to enable it.")),
        None => Err(token_error(TokenError::Invalid)),
    }
}

/// The signed-in staff member behind an HTTP call.
pub struct Auth(pub Actor);

impl FromRequestParts<Shared> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Self::Rejection> {
        authenticate(state, parts).await.map(|(actor, _)| Auth(actor))
    }
}

impl Auth {
    pub fn location(&self, location_id: &str) -> Result<(), ApiError> {
        if self.0.may_use_location(location_id) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "You do not work at location {location_id:?}. Check the desk's location setting."
            )))
        }
    }

    pub fn manager(&self) -> Result<(), ApiError> {
        if self.0.role.is_manager() {
            Ok(())
        } else {
            Err(ApiError::forbidden("Only a manager or an admin can do this."))
        }
    }
}
