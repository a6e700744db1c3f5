//! Machine-readable codes: HTTP/frame error codes, business rejection codes, and the
//! WebSocket close codes with the JSON close reason that carries a retry hint.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Codes of `{code, message}` error bodies and `error` frames that are not business
/// rejections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidCredentials,
    TooManyAttempts,
    InvalidRefreshToken,
    TokenExpired,
    InvalidToken,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    UnsupportedProtocol,
    ResyncRequired,
    Overloaded,
    ShuttingDown,
    Conflict,
    Internal,
    // Frame-level errors on the WebSocket.
    BadMessage,
    UnknownType,
    RateLimited,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidCredentials => "invalid_credentials",
            Self::TooManyAttempts => "too_many_attempts",
            Self::InvalidRefreshToken => "invalid_refresh_token",
            Self::TokenExpired => "token_expired",
            Self::InvalidToken => "invalid_token",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedProtocol => "unsupported_protocol",
            Self::ResyncRequired => "resync_required",
            Self::Overloaded => "overloaded",
            Self::ShuttingDown => "shutting_down",
            Self::Conflict => "conflict",
            Self::Internal => "internal",
            Self::BadMessage => "bad_message",
            Self::UnknownType => "unknown_type",
            Self::RateLimited => "rate_limited",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Final business answers to a check-in or check-out. The desk never retries these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    MemberNotFound,
    MembershipExpired,
    MembershipFrozen,
    AlreadyCheckedIn,
    NotCheckedIn,
    CapacityReached,
    RecentCheckIn,
    LocationForbidden,
    InvalidRequest,
    /// Extension `members`: the member's home gym is another one and this gym admits
    /// only its own members.
    HomeGymOnly,
}

impl RejectionCode {
    /// Whether staff may let the member in anyway with an `override` reason.
    pub fn overridable(self) -> bool {
        matches!(
            self,
            Self::MembershipExpired
                | Self::MembershipFrozen
                | Self::CapacityReached
                | Self::RecentCheckIn
                | Self::HomeGymOnly
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MemberNotFound => "member_not_found",
            Self::MembershipExpired => "membership_expired",
            Self::MembershipFrozen => "membership_frozen",
            Self::AlreadyCheckedIn => "already_checked_in",
            Self::NotCheckedIn => "not_checked_in",
            Self::CapacityReached => "capacity_reached",
            Self::RecentCheckIn => "recent_check_in",
            Self::LocationForbidden => "location_forbidden",
            Self::InvalidRequest => "invalid_request",
            Self::HomeGymOnly => "home_gym_only",
        }
    }
}

impl fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// WebSocket close codes (docs/protocol.md, "Close codes and what a desk does").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    pub const NORMAL: Self = Self(1000);
    pub const GOING_AWAY: Self = Self(1001);
    pub const POLICY_VIOLATION: Self = Self(1008);
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    pub const SERVER_ERROR: Self = Self(1011);
    pub const SERVICE_RESTART: Self = Self(1012);
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    pub const TOKEN_EXPIRED: Self = Self(4001);
    pub const FORBIDDEN: Self = Self(4003);
    pub const SLOW_CONSUMER: Self = Self(4008);
    pub const RATE_LIMITED: Self = Self(4029);
    /// Not sent on the wire: what a client sees when the link dies without a close frame.
    pub const ABNORMAL: Self = Self(1006);
}

/// The JSON reason a close frame may carry. Close reasons are limited to 123 bytes by
/// RFC 6455, so messages here are short; the hint is what matters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CloseReason {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl CloseReason {
    /// Largest close reason RFC 6455 allows (125-byte control frame minus the code).
    pub const MAX_BYTES: usize = 123;

    pub fn new(message: impl Into<String>) -> Self {
        Self { retry_after_ms: None, message: Some(message.into()) }
    }

    pub fn with_retry_after(mut self, ms: u64) -> Self {
        self.retry_after_ms = Some(ms);
        self
    }

    /// Serialises to JSON, shortening the message so the whole reason fits a close frame.
    pub fn to_wire(&self) -> String {
        let mut reason = self.clone();
        loop {
            let json = serde_json::to_string(&reason).unwrap_or_default();
            if json.len() <= Self::MAX_BYTES {
                return json;
            }
            match reason.message.as_mut() {
                Some(m) if !m.is_empty() => {
                    let mut cut = m.len().saturating_sub(json.len() - Self::MAX_BYTES + 1);
                    while !m.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    m.truncate(cut);
                }
                _ => reason.message = None,
            }
        }
    }

    /// Parses a close reason; plain-text reasons become the message.
    pub fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_else(|_| if text.is_empty() { Self::default() } else { Self::new(text) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reason_always_fits_a_control_frame() {
        let long = CloseReason::new("é".repeat(300)).with_retry_after(123_456);
        let wire = long.to_wire();
        assert!(wire.len() <= CloseReason::MAX_BYTES, "{} bytes", wire.len());
        assert_eq!(CloseReason::parse(&wire).retry_after_ms, Some(123_456));
    }

    #[test]
    fn plain_text_close_reason_is_kept_as_message() {
        assert_eq!(CloseReason::parse("bye").message.as_deref(), Some("bye"));
        assert_eq!(CloseReason::parse(""), CloseReason::default());
    }

    #[test]
    fn overridable_rules_match_the_contract() {
        use RejectionCode::*;
        let overridable: Vec<_> = [
            MemberNotFound,
            MembershipExpired,
            MembershipFrozen,
            AlreadyCheckedIn,
            NotCheckedIn,
            CapacityReached,
            RecentCheckIn,
            LocationForbidden,
            InvalidRequest,
            HomeGymOnly,
        ]
        .into_iter()
        .filter(|c| c.overridable())
        .collect();
        assert_eq!(overridable, [MembershipExpired, MembershipFrozen, CapacityReached, RecentCheckIn, HomeGymOnly]);
    }

    #[test]
    fn codes_serialise_as_their_names() {
        assert_eq!(serde_json::to_string(&RejectionCode::RecentCheckIn).unwrap(), "\"recent_check_in\"");
        assert_eq!(serde_json::to_string(&ErrorCode::UnsupportedProtocol).unwrap(), "\"unsupported_protocol\"");
        assert_eq!(ErrorCode::BadMessage.as_str(), "bad_message");
    }
}
