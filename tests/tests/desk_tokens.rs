//! Tokens through the desk library, against the real server and the real keychain.
//! Refresh tokens rotate on every use and a reused one revokes its whole family, so the
//! desk must never run two refreshes at once: every caller joins the one in flight.

use std::sync::Arc;

use frontdesk_desk::api::Api;
use frontdesk_desk::tokens::Tokens;
use frontdesk_desk::{Keychain, SecretStore};
use frontdesk_tests::*;

#[tokio::test]
async fn concurrent_refreshes_share_one_and_keep_the_sign_in() {
    agent::require_keychain();
    let server = Server::start().await;
    let api = Api::new(&server.base()).unwrap();
    let keychain = Arc::new(Keychain::for_desk(&server.base(), "tokens-test"));
    let tokens = Arc::new(Tokens::new(api.clone(), keychain.clone()));
    tokens.sign_in("frontdesk", "frontdesk-demo", "test desk").await.unwrap();
    let first = tokens.access().await.expect("a token after sign-in");
    let stored = keychain.load().unwrap().expect("refresh token kept in the keychain");

    // The WebSocket, the HTTP fallback's sender and poller and the UI all find the
    // token refused at the same moment, and all ask for a refresh.
    let racers: Vec<_> = (0..10)
        .map(|_| {
            let tokens = tokens.clone();
            let seen = first.generation;
            tokio::spawn(async move { tokens.refresh(seen).await })
        })
        .collect();
    let mut fresh = Vec::new();
    for r in racers {
        fresh.push(r.await.unwrap().expect("every caller gets a token"));
    }
    assert!(fresh.iter().all(|a| a.generation == first.generation + 1), "one refresh, shared by all");
    assert!(fresh.iter().all(|a| a.token == fresh[0].token));
    assert_ne!(fresh[0].token, first.token);
    let rotated = keychain.load().unwrap().expect("the rotated refresh token is kept");
    assert_ne!(rotated, stored, "the keychain holds the new refresh token");

    // The family is intact: the next refresh works, and the server saw exactly two.
    tokens.refresh(fresh[0].generation).await.expect("the sign-in survived the race");
    let metrics = server.metrics().await;
    assert_eq!(metric_sum(&metrics, "frontdesk_http_requests_total", &["route=\"/api/v1/auth/refresh\""]), 2.0);

    // What single-flight prevents: presenting a spent refresh token ends the sign-in.
    let (status, body) =
        server.post("", "/auth/refresh", &serde_json::json!({"refresh_token": stored.expose()}), None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_refresh_token")));
    tokens.expire().await;
    assert!(tokens.access().await.is_err(), "reuse revoked the family, as the server promises");
    assert!(keychain.load().unwrap().is_none(), "an ended sign-in is forgotten");
    keychain.delete().unwrap();
}

/// Something that answers every request with a redirect to `to` (a stand-in for a captive
/// portal or a misconfigured proxy, which cannot run here): the desk must not follow it.
async fn redirecting_to(to: std::net::SocketAddr) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{to}/api/v1/auth/login\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    addr
}

#[tokio::test]
async fn a_sign_in_that_is_redirected_is_not_followed_and_the_password_goes_nowhere() {
    agent::require_keychain();
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let portal = redirecting_to(elsewhere.local_addr().unwrap()).await;
    let server = format!("http://{portal}");
    let keychain = Arc::new(Keychain::for_desk(&server, "redirect-test"));
    let tokens = Tokens::new(Api::new(&server).unwrap(), keychain.clone());
    let refused = tokens.sign_in("frontdesk", "frontdesk-demo", "test desk").await.unwrap_err();
    assert_eq!(refused.code(), frontdesk_desk::ErrorCode::NotFrontdesk, "{refused:?}");
    assert!(refused.message().contains("password was not sent"), "{}", refused.message());
    // Nothing ever connected to where the redirect pointed.
    let knocked = tokio::time::timeout(std::time::Duration::from_millis(300), elsewhere.accept()).await;
    assert!(knocked.is_err(), "the desk followed the redirect");
    assert!(keychain.load().unwrap().is_none());
}
