//! The connection state the desk shows: one of the agent's state names, a sentence a
//! person can read, and when the next try happens.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    Connecting,
    Live,
    Reconnecting,
    HttpFallback,
    Offline,
    SignedOut,
    UpdateRequired,
}

impl ConnectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting",
            Self::HttpFallback => "http_fallback",
            Self::Offline => "offline",
            Self::SignedOut => "signed_out",
            Self::UpdateRequired => "update_required",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Status {
    pub state: ConnectionState,
    /// What happened and what the desk is doing about it, in words.
    pub detail: String,
    /// Consecutive failed attempts so far (0 when live).
    pub attempt: u32,
    /// Milliseconds until the next try, when one is scheduled.
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub next_retry_ms: Option<u64>,
}

impl Status {
    pub fn new(state: ConnectionState, detail: impl Into<String>) -> Self {
        Self { state, detail: detail.into(), attempt: 0, next_retry_ms: None }
    }
}
