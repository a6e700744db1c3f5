//! Secrets at rest: what the server and the desk write to disk is readable by their own
//! OS account only, and a demo signing secret that is empty or short is refused rather
//! than used. (Unix permission bits; on Windows the data folders' ACLs apply.)
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use frontdesk_tests::*;
use tokio::io::{AsyncBufReadExt, BufReader};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// The server in demo mode on `data_dir`, with no signing secret given (the demo makes
/// and keeps its own), as `./scripts/run.sh` starts it.
fn demo_server(data_dir: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(server_binary());
    cmd.args(["--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("FRONTDESK_CONFIG", empty_config_file())
        .env_remove("FRONTDESK_JWT_SECRET")
        .env_remove("FRONTDESK_JWT_SECRET_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

#[tokio::test]
async fn the_data_folder_the_database_and_the_demo_secret_are_the_owners_only() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("made-by-the-server");
    let mut child = demo_server(&data_dir).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(PATIENCE * 2, lines.next_line()).await.expect("listening in time").unwrap();
    assert!(line.is_some_and(|l| l.contains("listening")), "the server started");

    assert_eq!(mode(&data_dir), 0o700, "the data folder");
    assert_eq!(mode(&data_dir.join("jwt-secret")), 0o600, "the demo signing secret");
    for file in ["frontdesk.db", "frontdesk.db-wal", "frontdesk.db-shm"] {
        let path = data_dir.join(file);
        if path.exists() || file == "frontdesk.db" {
            assert_eq!(mode(&path), 0o600, "{file} holds password hashes and the member list");
        }
    }
    child.kill().await.unwrap();
}

#[tokio::test]
async fn an_empty_or_short_demo_secret_is_refused_with_what_to_do() {
    for secret in ["", "short"] {
        let root = tempfile::tempdir().unwrap();
        let data_dir = root.path().join("data");
        std::fs::create_dir_all(&data_dir).unwrap();
        std::fs::write(data_dir.join("jwt-secret"), secret).unwrap();
        let out = tokio::time::timeout(PATIENCE * 2, demo_server(&data_dir).output()).await.expect("exits").unwrap();
        assert!(!out.status.success(), "a {}-byte secret must not be used", secret.len());
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("too short") && said.contains("Delete the file"), "says what to do: {said}");
        assert!(out.stdout.is_empty(), "never listened");
    }
}

#[test]
fn the_desks_folder_and_outbox_are_the_owners_only() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("desk");
    let _outbox = frontdesk_desk::outbox::Outbox::open(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700, "the desk's folder (it holds the member list)");
    assert_eq!(mode(&dir.join("outbox.db")), 0o600);
}
