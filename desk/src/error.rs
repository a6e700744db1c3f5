//! The desk library's error: a stable `code` for programs and a sentence for people,
//! marked temporary (worth retrying) or permanent where it happens.

use serde::{Deserialize, Serialize};

pub type Result<T, E = DeskError> = std::result::Result<T, E>;

/// Every code a desk failure can carry, as one enum: the app's webview gets it as a
/// TypeScript union (generated), the agent prints its snake_case name. Programs branch on
/// the code; people read the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The desk's own SQLite data cannot be used.
    Storage,
    /// The OS keychain cannot keep or give the sign-in.
    Keychain,
    /// Nobody is signed in (or the sign-in ended): show the sign-in screen.
    SignedOut,
    /// The server cannot be reached now; trying later may work.
    ServerUnreachable,
    /// What staff typed or scanned cannot be used as it is.
    InvalidInput,
    /// The server refused the request as malformed or not allowed in this state.
    InvalidRequest,
    NotFound,
    /// The server does not offer this (an older server).
    NotSupported,
    /// The change clashes with what the server holds (e.g. a card already in use).
    Conflict,
    /// The signed-in user may not do this.
    Forbidden,
    /// The server is overloaded or draining; trying later may work.
    ServerBusy,
    ServerError,
    /// The desk's view is older than what the server keeps.
    ResyncRequired,
    /// The HTTP client could not be set up (a bad CA file, for one).
    HttpClient,
    /// The desk's configuration cannot be used.
    Configuration,
    /// Wrong username or password.
    InvalidCredentials,
    /// Too many failed sign-ins: wait.
    TooManyAttempts,
    /// The server's certificate is not trusted.
    Certificate,
    SignInFailed,
    /// The server speaks another version of the protocol: update the app.
    UpdateRequired,
    /// The address answers, but not as a Frontdesk server.
    NotFrontdesk,
    /// The user does not work at this desk's gym.
    WrongLocation,
    /// The user works at no gym at all.
    NoLocation,
    /// The user works at several gyms and the desk's is not configured: choose one.
    ChooseLocation,
    /// Scans for another server are still waiting at this desk.
    OutboxWaiting,
    /// The app's own parts did not answer each other (the webview's call to the desk
    /// service failed): restart the app.
    Internal,
}

impl ErrorCode {
    /// The code's wire and log name (`signed_out`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Storage => "storage",
            Self::Keychain => "keychain",
            Self::SignedOut => "signed_out",
            Self::ServerUnreachable => "server_unreachable",
            Self::InvalidInput => "invalid_input",
            Self::InvalidRequest => "invalid_request",
            Self::NotFound => "not_found",
            Self::NotSupported => "not_supported",
            Self::Conflict => "conflict",
            Self::Forbidden => "forbidden",
            Self::ServerBusy => "server_busy",
            Self::ServerError => "server_error",
            Self::ResyncRequired => "resync_required",
            Self::HttpClient => "http_client",
            Self::Configuration => "configuration",
            Self::InvalidCredentials => "invalid_credentials",
            Self::TooManyAttempts => "too_many_attempts",
            Self::Certificate => "certificate",
            Self::SignInFailed => "sign_in_failed",
            Self::UpdateRequired => "update_required",
            Self::NotFrontdesk => "not_frontdesk",
            Self::WrongLocation => "wrong_location",
            Self::NoLocation => "no_location",
            Self::ChooseLocation => "choose_location",
            Self::OutboxWaiting => "outbox_waiting",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct DeskError {
    pub code: ErrorCode,
    pub message: String,
    /// Retrying the same thing later may succeed.
    pub temporary: bool,
}

impl DeskError {
    pub fn new(code: ErrorCode, message: impl Into<String>, temporary: bool) -> Self {
        Self { code, message: message.into(), temporary }
    }

    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(
            ErrorCode::Storage,
            format!("The desk cannot use its local data ({}). Check the disk, then restart the app.", message.into()),
            false,
        )
    }

    pub fn corrupt(what: &str) -> Self {
        Self::storage(format!("a stored {what} cannot be read"))
    }

    pub fn keychain(message: impl Into<String>) -> Self {
        Self::new(
            ErrorCode::Keychain,
            format!(
                "The desk cannot use the system keychain to keep its sign-in ({}). On Linux the \
                 desktop's keyring (Secret Service) must be running and unlocked; otherwise tell IT.",
                message.into()
            ),
            false,
        )
    }

    pub fn signed_out(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::SignedOut, message, false)
    }

    pub fn unreachable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServerUnreachable, message, true)
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message, false)
    }
}

impl From<rusqlite::Error> for DeskError {
    fn from(err: rusqlite::Error) -> Self {
        Self::storage(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    /// The printed name is the serde name: the agent's lines and the webview's union agree.
    #[test]
    fn as_str_is_the_serde_name() {
        for code in [ErrorCode::SignedOut, ErrorCode::NotFrontdesk, ErrorCode::ChooseLocation, ErrorCode::Storage] {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(code.as_str()));
        }
    }
}
