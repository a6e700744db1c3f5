//! The server's error type. Every error that reaches a person is an HTTP status, a
//! stable `code` and a sentence saying what happened and what to do.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use frontdesk_protocol::ErrorCode;
use frontdesk_protocol::api::ErrorBody;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[error("{status} {}: {}", body.code, body.message)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { status, body: ErrorBody::new(code, message), retry_after_s: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
    }

    /// 429 or 503 with a `Retry-After` header and the same hint in the body.
    pub fn retry_later(status: StatusCode, code: ErrorCode, message: impl Into<String>, after_ms: u64) -> Self {
        let mut err = Self::new(status, code, message);
        err.retry_after_s = Some(after_ms.div_ceil(1000).max(1));
        err.body.retry_after_ms = Some(after_ms);
        err
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "The server hit an unexpected problem and did not save this request. Try again; \
             if it keeps happening, tell IT (the server log has the details).",
        )
    }

    pub fn unavailable() -> Self {
        Self::retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Overloaded,
            "The server is busy and could not finish this in time. Nothing was lost; the desk \
             will try again shortly.",
            2000,
        )
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        match err {
            crate::store::StoreError::Timeout => Self::unavailable(),
            other => {
                tracing::error!(error = %other, "storage error");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(secs) = self.retry_after_s {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
