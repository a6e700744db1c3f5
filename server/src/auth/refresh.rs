//! Refresh tokens: 256 random bits, handed to the desk once, stored only as a SHA-256.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps. A plain hash suffices: the token has 256 bits of entropy.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_long_random_and_hashed() {
        let a = super::generate();
        assert_eq!(a.len(), 43);
        assert_ne!(a, super::generate());
        assert_eq!(super::digest(&a).len(), 64);
        assert_ne!(super::digest(&a), a);
    }
}
