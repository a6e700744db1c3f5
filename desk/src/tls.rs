//! TLS for `https://` and `wss://` servers: rustls with the ring provider (builds for
//! Windows, macOS and Linux without extra tools), certificates checked against the
//! operating system's trust store.

pub fn install_crypto_provider() {
    // Installing twice is harmless; the first one wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
