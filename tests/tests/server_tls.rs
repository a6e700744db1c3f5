//! The server's own TLS, for a gym without a reverse proxy: HTTPS and WSS with a
//! certificate and key from its settings, a desk trusting the gym's private CA through
//! `ca_file`, and renewals picked up without a restart (when the files change, or on
//! SIGHUP), a broken renewal never replacing a working certificate.

use std::time::{Duration, Instant};

use frontdesk_tests::agent::{Agent, AgentOptions};
use frontdesk_tests::tls_front::{Leaf, TestCa, TlsServer};
use frontdesk_tests::*;

/// An HTTPS client trusting only `ca` (never the OS store), as a strict desk would.
fn client_trusting(ca: &TestCa) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem.as_bytes()).expect("ca pem")])
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn healthy(client: &reqwest::Client, url: &str) -> bool {
    client.get(format!("{url}/healthz")).send().await.is_ok_and(|r| r.status().is_success())
}

/// Waits until a client trusting `ca` gets through (the server serves its certificate).
async fn wait_served_by(ca: &TestCa, url: &str, why: &str) {
    let client = client_trusting(ca);
    let deadline = Instant::now() + PATIENCE;
    while !healthy(&client, url).await {
        assert!(Instant::now() < deadline, "{why}: the new certificate was never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_desk_trusting_the_gyms_ca_works_over_https_and_wss() {
    agent::require_keychain();
    let ca = TestCa::new();
    let tls = TlsServer::start(&ca, Leaf::Good).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write_pem(dir.path());
    assert!(healthy(&client_trusting(&ca), &tls.url()).await, "HTTPS answers");
    assert!(!healthy(&http_client(), &format!("http://{}", tls.server.addr)).await, "no plain HTTP on the TLS port");

    let mut desk = Agent::start(AgentOptions {
        server: tls.url(),
        desk_id: "tls-desk".into(),
        data_dir: dir.path().join("desk"),
        credentials: Some(("frontdesk".into(), "frontdesk-demo".into())),
        extra_args: vec!["--ca-file".into(), ca_file.display().to_string()],
    })
    .await;
    desk.next_state("live").await;
    desk.send_line("D0001").await;
    let ack = &desk.acks(1).await[0];
    assert_eq!(ack["status"], "accepted", "{ack}");
    desk.terminate();
    desk.wait_exit().await;
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart_and_a_broken_one_is_not() {
    let first = TestCa::new();
    let tls =
        TlsServer::start_with(&first, Leaf::Good, ServerOptions::default().env("FRONTDESK_WATCH_INTERVAL_MS", 100))
            .await;
    let url = tls.url();
    wait_served_by(&first, &url, "at start").await;

    // Renewed in place (a new certificate from another CA): picked up by its change.
    let renewed = TestCa::new();
    renewed.write_leaf(Leaf::Good, tls.cert_dir.path());
    wait_served_by(&renewed, &url, "after the files changed").await;
    assert!(!healthy(&client_trusting(&first), &url).await, "the old certificate is no longer served");

    // A renewal gone wrong (a key that is not the certificate's): the working one stays.
    let reported = || tls.server.log().matches("TLS certificate not reloaded").count();
    let before = reported();
    let key = tls.cert_dir.path().join("server-key.pem");
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n").unwrap();
    // Once the server has looked at it (and said so for IT), the working one still serves.
    let deadline = Instant::now() + PATIENCE;
    while reported() == before {
        assert!(Instant::now() < deadline, "the broken renewal was never reported: {}", tls.server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(healthy(&client_trusting(&renewed), &url).await, "still served after a broken renewal");
}

#[tokio::test]
async fn sighup_reloads_the_certificate() {
    let first = TestCa::new();
    // Files are not watched during this test: only the signal can reload.
    let tls = TlsServer::start_with(
        &first,
        Leaf::Good,
        ServerOptions::default().env("FRONTDESK_WATCH_INTERVAL_MS", 3_600_000),
    )
    .await;
    let url = tls.url();
    wait_served_by(&first, &url, "at start").await;
    let renewed = TestCa::new();
    renewed.write_leaf(Leaf::Good, tls.cert_dir.path());
    assert!(healthy(&client_trusting(&first), &url).await, "unchanged until the signal");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(tls.server.pid() as i32), nix::sys::signal::Signal::SIGHUP)
        .expect("send SIGHUP");
    wait_served_by(&renewed, &url, "after SIGHUP").await;
}

#[tokio::test]
async fn a_certificate_that_cannot_be_used_stops_the_server_with_the_reason() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = ca.write_leaf(Leaf::Good, dir.path());
    let missing_key = dir.path().join("no-such-key.pem");
    let out = tokio::process::Command::new(server_binary())
        .args(["--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("FRONTDESK_CONFIG", empty_config_file())
        .env("FRONTDESK_JWT_SECRET", TEST_JWT_SECRET)
        .env("FRONTDESK_TLS_CERT", &cert)
        .env("FRONTDESK_TLS_KEY", &missing_key)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("no-such-key.pem") && said.contains("FRONTDESK_TLS_KEY"),
        "names the file and setting: {said}"
    );
    assert!(out.stdout.is_empty(), "it never said it was listening");
}
