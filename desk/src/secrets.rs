//! The refresh token lives in the OS keychain (Windows Credential Manager, macOS
//! Keychain, Secret Service on Linux) and nowhere else: not in a file, a log or a URL.
//! Three functions: store, load (`None` when absent), delete.

use std::fmt;

use crate::error::{DeskError, Result};

/// A secret that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where the refresh token is kept. The real implementation is [`Keychain`].
pub trait SecretStore: Send + Sync + 'static {
    fn store(&self, secret: &Secret) -> Result<()>;
    fn load(&self) -> Result<Option<Secret>>;
    fn delete(&self) -> Result<()>;
}

/// One keychain entry per server and desk, so two desks on one PC do not share a sign-in.
pub struct Keychain {
    service: String,
    account: String,
}

impl Keychain {
    pub const SERVICE: &'static str = "frontdesk";

    pub fn for_desk(server: &str, desk_id: &str) -> Self {
        Self { service: Self::SERVICE.into(), account: format!("{}#{desk_id}", server.trim_end_matches('/')) }
    }

    fn entry(&self) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, &self.account).map_err(|e| DeskError::keychain(e.to_string()))
    }
}

impl SecretStore for Keychain {
    fn store(&self, secret: &Secret) -> Result<()> {
        self.entry()?.set_password(secret.expose()).map_err(|e| DeskError::keychain(e.to_string()))
    }

    fn load(&self) -> Result<Option<Secret>> {
        match self.entry()?.get_password() {
            Ok(value) => Ok(Some(Secret(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(DeskError::keychain(e.to_string())),
        }
    }

    fn delete(&self) -> Result<()> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(DeskError::keychain(e.to_string())),
        }
    }
}

/// For the library's unit tests: a desk that never had a sign-in to keep.
#[cfg(test)]
pub(crate) struct NoSecrets;

#[cfg(test)]
impl SecretStore for NoSecrets {
    fn store(&self, _: &Secret) -> Result<()> {
        Ok(())
    }
    fn load(&self) -> Result<Option<Secret>> {
        Ok(None)
    }
    fn delete(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("very-secret-token");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(s.expose(), "very-secret-token");
    }
}
