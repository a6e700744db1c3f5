//! `frontdesk-agent doctor` against real situations: a healthy server, a stopped one, a
//! name that does not resolve, a proxy that blocks WebSocket upgrades, and TLS with
//! self-signed, expired, wrong-name and good certificates (made in the test, served by a
//! real TLS front before the real server). Doctor runs the desk library's own checks, so
//! these are the words IT will read.

use std::path::Path;

use frontdesk_tests::agent::{agent_binary, require_keychain};
use frontdesk_tests::proxy::Proxy;
use frontdesk_tests::tls_front::{Leaf, TestCa, TlsServer};
use frontdesk_tests::{LOCATION, Server};
use serde_json::Value;

const ORDER: [&str; 11] =
    ["config", "dns", "tcp", "tls", "http", "websocket", "clock", "keychain", "data_dir", "outbox", "roster"];

struct Doctor {
    code: i32,
    report: Value,
}

impl Doctor {
    fn check(&self, name: &str) -> &Value {
        self.report["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| {
            panic!("no {name} check in {}", self.report);
        })
    }

    fn ok(&self, name: &str) -> bool {
        self.check(name)["ok"].as_bool().unwrap()
    }

    fn detail(&self, name: &str) -> String {
        self.check(name)["detail"].as_str().unwrap().to_owned()
    }
}

async fn doctor(server: &str, data_dir: &Path, ca_file: Option<&Path>) -> Doctor {
    require_keychain();
    let mut cmd = tokio::process::Command::new(agent_binary());
    cmd.args(["doctor", "--server", server, "--location", LOCATION, "--desk-id", "doctor-desk", "--json"]);
    cmd.arg("--data-dir").arg(data_dir);
    if let Some(ca) = ca_file {
        cmd.arg("--ca-file").arg(ca);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), cmd.output())
        .await
        .expect("doctor finishes within a minute")
        .expect("doctor runs");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("doctor --json printed one JSON object ({e}): {stdout:?}"));
    let names: Vec<&str> = report["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ORDER, "every check, in docs/install.md's order");
    for check in report["checks"].as_array().unwrap() {
        if check["ok"] == false {
            assert!(check["action"].as_str().is_some_and(|a| !a.is_empty()), "a failed check says what to do: {check}");
        }
    }
    let code = out.status.code().unwrap();
    assert_eq!(code == 0, report["ok"] == true, "exit status follows ok: {report}");
    Doctor { code, report }
}

#[tokio::test]
async fn a_healthy_server_passes_every_check() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = doctor(&server.base(), dir.path(), None).await;
    assert_eq!(d.code, 0, "{}", d.report);
    for name in ORDER {
        assert!(d.ok(name), "{name}: {}", d.check(name));
    }
    assert!(d.detail("tls").contains("Skipped"), "{}", d.detail("tls"));
    assert!(d.detail("http").contains("Frontdesk server (version"), "{}", d.detail("http"));
    assert!(d.detail("config").contains("from --server"), "{}", d.detail("config"));
}

#[tokio::test]
async fn a_stopped_server_fails_at_tcp_and_names_the_port() {
    let mut server = Server::start().await;
    let base = server.base();
    server.terminate();
    server.wait_exit().await;
    let dir = tempfile::tempdir().unwrap();
    let d = doctor(&base, dir.path(), None).await;
    assert_eq!(d.code, 1);
    assert!(d.ok("dns"));
    assert!(!d.ok("tcp"));
    assert!(d.detail("tcp").contains("Nothing accepts connections on port"), "{}", d.detail("tcp"));
    assert!(!d.ok("http") && !d.ok("websocket"));
    assert!(d.ok("keychain") && d.ok("data_dir"), "local checks still run: {}", d.report);
}

#[tokio::test]
async fn a_name_that_does_not_resolve_fails_at_dns() {
    let dir = tempfile::tempdir().unwrap();
    let d = doctor("http://frontdesk-doctor-test.invalid:8080", dir.path(), None).await;
    assert_eq!(d.code, 1);
    assert!(d.ok("config"));
    assert!(!d.ok("dns"));
    assert!(d.detail("dns").contains("does not resolve"), "{}", d.detail("dns"));
    assert!(d.ok("data_dir"));
}

#[tokio::test]
async fn a_proxy_that_blocks_upgrades_is_named_and_http_still_works() {
    let server = Server::start().await;
    let proxy = Proxy::start(&server.addr).await;
    proxy.block_upgrades(true);
    let dir = tempfile::tempdir().unwrap();
    let d = doctor(&proxy.url(), dir.path(), None).await;
    assert_eq!(d.code, 1, "{}", d.report);
    assert!(d.ok("http"), "{}", d.detail("http"));
    assert!(!d.ok("websocket"));
    let detail = d.detail("websocket");
    assert!(detail.contains("proxy") && detail.contains("HTTP 403") && detail.contains("over HTTP"), "{detail}");
}

/// The real server serving TLS itself with a certificate of this kind.
async fn tls_server(ca: &TestCa, leaf: Leaf) -> TlsServer {
    TlsServer::start(ca, leaf).await
}

#[tokio::test]
async fn tls_problems_are_each_named() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write_pem(dir.path());

    let self_signed = tls_server(&ca, Leaf::SelfSigned).await;
    let d = doctor(&self_signed.url(), &dir.path().join("a"), None).await;
    assert!(!d.ok("tls"));
    assert!(d.detail("tls").contains("not signed by a certificate authority"), "{}", d.detail("tls"));
    assert_eq!(d.code, 1);

    // A private CA the desk was not told about is the same problem.
    let good = tls_server(&ca, Leaf::Good).await;
    let d = doctor(&good.url(), &dir.path().join("b"), None).await;
    assert!(d.detail("tls").contains("not signed by a certificate authority"), "{}", d.detail("tls"));

    let expired = tls_server(&ca, Leaf::Expired).await;
    let d = doctor(&expired.url(), &dir.path().join("c"), Some(&ca_file)).await;
    assert!(!d.ok("tls"));
    assert!(d.detail("tls").contains("has expired"), "{}", d.detail("tls"));

    let wrong = tls_server(&ca, Leaf::WrongName).await;
    let d = doctor(&wrong.url(), &dir.path().join("d"), Some(&ca_file)).await;
    assert!(!d.ok("tls"));
    let detail = d.detail("tls");
    assert!(detail.contains("other.example") && detail.contains("not for localhost"), "{detail}");
}

#[tokio::test]
async fn a_good_certificate_from_the_gyms_ca_passes() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write_pem(dir.path());
    let good = tls_server(&ca, Leaf::Good).await;
    let d = doctor(&good.url(), &dir.path().join("desk"), Some(&ca_file)).await;
    assert!(d.ok("tls"), "{}", d.detail("tls"));
    assert!(d.detail("tls").contains("localhost"), "{}", d.detail("tls"));
    assert!(d.ok("http"), "the desk's HTTP client trusts the gym's CA too: {}", d.detail("http"));
    assert!(d.ok("websocket"), "the desk's WebSocket trusts the gym's CA too: {}", d.detail("websocket"));
    assert_eq!(d.code, 0, "{}", d.report);
}
