//! Argon2id password hashes in PHC string format.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

pub fn hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt length");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail on a valid salt")
        .to_string()
}

/// Constant-time check; a malformed stored hash counts as a mismatch.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// Password work for requests, at most `permits` at once on the blocking pool: each
/// Argon2 check holds 19 MiB, so a flood of sign-ins costs a bounded amount of memory
/// and CPU and the rest of the server keeps its threads. A request that cannot start
/// within `patience` is refused as busy rather than queued without end.
pub struct Hashing {
    permits: tokio::sync::Semaphore,
    patience: std::time::Duration,
}

/// Every hashing slot stayed busy for the whole wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl Hashing {
    pub fn new(permits: usize, patience: std::time::Duration) -> Self {
        Self { permits: tokio::sync::Semaphore::new(permits.max(1)), patience }
    }

    /// One slot per core this machine offers (at least two), ten seconds of patience.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self::new(cores.max(2), std::time::Duration::from_secs(10))
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        let _permit =
            tokio::time::timeout(self.patience, self.permits.acquire()).await.map_err(|_| Busy)?.map_err(|_| Busy)?;
        tokio::task::spawn_blocking(work).await.map_err(|_| Busy)
    }

    pub async fn verify(&self, password: String, stored: String) -> Result<bool, Busy> {
        self.run(move || verify(&password, &stored)).await
    }

    pub async fn hash(&self, password: String) -> Result<String, Busy> {
        self.run(move || hash(&password)).await
    }

    /// Slots free now (for tests).
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

/// A hash of nothing anyone knows, so a login for an unknown user costs the same time
/// as one for a known user and does not reveal which usernames exist.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash(&uuid::Uuid::new_v4().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashing_is_bounded_and_busy_when_every_slot_stays_taken() {
        let hashing = std::sync::Arc::new(Hashing::new(1, std::time::Duration::from_millis(50)));
        let stored = hash("pw");
        // Hold the only slot: the next request waits its patience, then is refused.
        let held = hashing.permits.acquire().await.unwrap();
        assert_eq!(hashing.verify("pw".into(), stored.clone()).await, Err(Busy));
        drop(held);
        assert_eq!(hashing.verify("pw".into(), stored.clone()).await, Ok(true));
        assert_eq!(hashing.available(), 1, "the slot is given back");
    }

    #[test]
    fn hash_then_verify() {
        let h = super::hash("frontdesk-demo");
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("frontdesk-demo", &h));
        assert!(!super::verify("frontdesk-dem0", &h));
        assert!(!super::verify("x", "not a hash"));
    }
}
