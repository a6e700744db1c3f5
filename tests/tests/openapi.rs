//! The HTTP API's OpenAPI document against the real server: served as generated, and
//! schemathesis (PyPI) sends it thousands of generated requests, valid and not: no answer
//! is a 500, every status is one the document names, every body matches its schema (so
//! every error is `{code, message}`).

use frontdesk_tests::*;

fn schemathesis() -> std::path::PathBuf {
    let path = std::env::var_os("FRONTDESK_SCHEMATHESIS").unwrap_or_else(|| {
        panic!(
            "FRONTDESK_SCHEMATHESIS is not set: run the tests through ./scripts/test.sh, which installs \
             schemathesis in ~/.cache/frontdesk/venv"
        )
    });
    path.into()
}

fn docs_openapi() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

#[tokio::test]
async fn the_server_serves_the_document_kept_in_docs() {
    let server = Server::start().await;
    let served = server.http.get(server.api("/openapi.json")).send().await.unwrap();
    assert_eq!(served.status(), 200);
    let served: serde_json::Value = served.json().await.unwrap();
    let kept: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(docs_openapi()).unwrap()).unwrap();
    assert_eq!(served, kept, "docs/openapi.json is what the server serves");
    assert!(served["paths"]["/api/v1/check-ins"]["post"].is_object());
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let st = schemathesis();
    let server = Server::start().await;
    let admin = server.login("admin", "admin-demo").await;
    let out = tokio::process::Command::new(st)
        .arg("run")
        .arg(docs_openapi())
        .args(["--url", &server.base()])
        .args(["-H", &format!("Authorization: Bearer {}", admin.access_token)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        // Disabling accounts and setting passwords would sign the run's own admin out
        // half-way; those are tested by the suites that own them.
        .args(["--exclude-path-regex", r"/users/\{id\}/(disable|password)"])
        .args(["--max-examples", "25", "--seed", "20261203", "--no-color"])
        .output()
        .await
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "schemathesis found problems:\n{report}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("generated"), "it ran: {report}");
}
