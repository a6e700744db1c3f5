//! The desk library's error: a stable `code` for programs and a sentence for people,
//! marked temporary (worth retrying) or permanent where it happens.

use serde::Serialize;

pub type Result<T, E = DeskError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct DeskError {
    pub code: &'static str,
    pub message: String,
    /// Retrying the same thing later may succeed.
    pub temporary: bool,
}

impl DeskError {
    pub fn new(code: &'static str, message: impl Into<String>, temporary: bool) -> Self {
        Self { code, message: message.into(), temporary }
    }

    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(
            "storage",
            format!("The desk cannot use its local data ({}). Check the disk, then restart the app.", message.into()),
            false,
        )
    }

    pub fn corrupt(what: &str) -> Self {
        Self::storage(format!("a stored {what} cannot be read"))
    }

    pub fn keychain(message: impl Into<String>) -> Self {
        Self::new(
            "keychain",
            format!(
                "The desk cannot use the system keychain to keep its sign-in ({}). On Linux the \
                 desktop's keyring (Secret Service) must be running and unlocked; otherwise tell IT.",
                message.into()
            ),
            false,
        )
    }

    pub fn signed_out(message: impl Into<String>) -> Self {
        Self::new("signed_out", message, false)
    }

    pub fn unreachable(message: impl Into<String>) -> Self {
        Self::new("server_unreachable", message, true)
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new("invalid_input", message, false)
    }
}

impl From<rusqlite::Error> for DeskError {
    fn from(err: rusqlite::Error) -> Self {
        Self::storage(err.to_string())
    }
}
