//! Setting a real gym up with `frontdesk-server admin …` while the server runs, started
//! without `--demo` on an empty data dir (docs/server.md "Setting up a real gym"): the hint
//! on first start, locations, staff accounts, passwords, disabling (the running server
//! closes the user's live session with 4003), and a backup taken while check-ins are
//! being written that another server then serves.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use frontdesk_tests::*;
use serde_json::{Value, json};

const GYM: &str = "main";
const ADMIN_PASSWORD: &str = "correct horse battery";

/// A server on an empty data dir, without demo data, that follows outside writes fast.
async fn empty_server() -> Server {
    Server::start_with(ServerOptions { no_demo: true, ..Default::default() }.env("FRONTDESK_WATCH_INTERVAL_MS", 100))
        .await
}

/// Creates the gym and its first admin from the command line; returns the admin's token.
async fn set_gym_up(server: &Server, capacity: u32) -> String {
    let capacity = capacity.to_string();
    server
        .admin(&["create-location", "--id", GYM, "--name", "Main Street Gym", "--capacity", &capacity], &[])
        .await
        .ok();
    server
        .admin(
            &["create-user", "--username", "it-admin", "--name", "IT Admin", "--role", "admin", "--location", GYM],
            &[("FRONTDESK_NEW_PASSWORD", ADMIN_PASSWORD)],
        )
        .await
        .ok();
    server.login("it-admin", ADMIN_PASSWORD).await.access_token
}

#[tokio::test]
async fn a_gym_is_set_up_from_nothing_while_the_server_runs() {
    let server = empty_server().await;

    // First start: nobody can sign in, and the log says how to create the first admin.
    let log = server.log();
    assert!(log.contains("No staff accounts exist yet"), "no first-admin hint on stderr: {log}");
    assert!(log.contains("admin create-location") && log.contains("admin create-user"), "hint lacks commands: {log}");
    assert!(log.contains("FRONTDESK_NEW_PASSWORD"), "hint should say where the password comes from: {log}");
    let (status, _) = server.try_login("admin", "admin-demo").await;
    assert_eq!(status, 401, "no demo users without --demo");

    // A location.
    let created = server
        .admin(
            &[
                "create-location",
                "--id",
                GYM,
                "--name",
                "Main Street Gym",
                "--capacity",
                "80",
                "--time-zone",
                "Europe/London",
            ],
            &[],
        )
        .await;
    let json = created.ok();
    assert_eq!(json["action"], "location_created", "{json}");
    assert_eq!(json["location"]["id"], GYM);
    assert_eq!(json["location"]["capacity"], 80);
    assert_eq!(json["location"]["time_zone"], "Europe/London");
    // Again: updates the settings given, keeps the others.
    let again = server.admin(&["create-location", "--id", GYM, "--name", "Main St", "--capacity", "90"], &[]).await;
    let json = again.ok();
    assert_eq!(json["action"], "location_updated", "{json}");
    assert_eq!(
        (json["location"]["capacity"].as_i64(), json["location"]["time_zone"].as_str()),
        (Some(90), Some("Europe/London"))
    );
    let listed = server.admin(&["list-locations"], &[]).await;
    let locations = listed.ok()["locations"].as_array().cloned().expect("locations list");
    assert_eq!(locations.len(), 1, "{locations:?}");
    assert_eq!(locations[0]["name"], "Main St");
    server.admin(&["create-location", "--id", "no spaces here", "--name", "X"], &[]).await.refused();
    server.admin(&["create-location", "--id", "x", "--name", "X", "--time-zone", "Mars/Base"], &[]).await.refused();

    // The first admin, then signing in over HTTP.
    let admin = server
        .admin(
            &["create-user", "--username", "it-admin", "--name", "IT Admin", "--role", "admin", "--location", GYM],
            &[("FRONTDESK_NEW_PASSWORD", ADMIN_PASSWORD)],
        )
        .await;
    let json = admin.ok();
    assert_eq!(json["action"], "user_created", "{json}");
    assert_eq!(json["user"]["role"], "admin");
    assert!(json["user"].get("password_hash").is_none() && !json.to_string().contains(ADMIN_PASSWORD), "{json}");
    let (status, body) = server.try_login("it-admin", ADMIN_PASSWORD).await;
    assert_eq!(status, 200, "the new admin signs in: {body}");
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(body["user"]["locations"], json!([GYM]));
    let admin_token = body["access_token"].as_str().expect("access token").to_owned();
    let (status, body) = server.get(&admin_token, "/locations").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");

    // No password and no terminal: refused, says how to give one; nothing created.
    let refused = server
        .admin(
            &["create-user", "--username", "ann", "--name", "Ann Lee", "--role", "front_desk", "--location", GYM],
            &[],
        )
        .await;
    let json = refused.refused();
    assert!(json["error"].as_str().unwrap().contains("FRONTDESK_NEW_PASSWORD"), "{json}");
    // A too-short password.
    server
        .admin(
            &["create-user", "--username", "ann", "--name", "Ann Lee", "--role", "front_desk", "--location", GYM],
            &[("FRONTDESK_NEW_PASSWORD", "short")],
        )
        .await
        .refused();
    // Duplicate username.
    let dup = server
        .admin(
            &["create-user", "--username", "it-admin", "--name", "Other", "--role", "front_desk", "--location", GYM],
            &[("FRONTDESK_NEW_PASSWORD", "another-password")],
        )
        .await;
    assert!(dup.refused()["error"].as_str().unwrap().contains("exists already"), "{}", dup.json);
    // Unknown location.
    let nowhere = server
        .admin(
            &["create-user", "--username", "bob", "--name", "Bob", "--role", "front_desk", "--location", "nowhere"],
            &[("FRONTDESK_NEW_PASSWORD", "another-password")],
        )
        .await;
    assert!(nowhere.refused()["error"].as_str().unwrap().contains("nowhere"), "{}", nowhere.json);
    // Unknown role.
    server
        .admin(
            &["create-user", "--username", "bob", "--name", "Bob", "--role", "boss", "--location", GYM],
            &[("FRONTDESK_NEW_PASSWORD", "another-password")],
        )
        .await
        .refused();

    // A receptionist.
    server
        .admin(
            &["create-user", "--username", "ann", "--name", "Ann Lee", "--role", "front_desk", "--location", GYM],
            &[("FRONTDESK_NEW_PASSWORD", "ann-first-pass")],
        )
        .await
        .ok();
    let listed = server.admin(&["list-users"], &[]).await;
    let users = listed.ok()["users"].as_array().cloned().expect("users list");
    let names: HashSet<&str> = users.iter().filter_map(|u| u["username"].as_str()).collect();
    assert_eq!(names, HashSet::from(["it-admin", "ann"]), "refused commands created nobody: {users:?}");
    for u in &users {
        assert!(u.get("password_hash").is_none(), "list-users must not show hashes: {u}");
        assert_eq!(u["disabled"], false, "{u}");
        assert_eq!(u["locations"], json!([GYM]), "{u}");
    }
    let ann = users.iter().find(|u| u["username"] == "ann").expect("ann").clone();
    assert_eq!(ann["role"], "front_desk");
    assert_eq!(ann["name"], "Ann Lee");

    // set-password: the old password and the old refresh token stop working.
    let first = server.login("ann", "ann-first-pass").await;
    let set =
        server.admin(&["set-password", "--username", "ann"], &[("FRONTDESK_NEW_PASSWORD", "ann-second-pass")]).await;
    assert_eq!(set.ok()["action"], "password_set");
    server.admin(&["set-password", "--username", "ann"], &[]).await.refused();
    server
        .admin(&["set-password", "--username", "nobody"], &[("FRONTDESK_NEW_PASSWORD", "whatever-pass")])
        .await
        .refused();
    let (status, body) = server.try_login("ann", "ann-first-pass").await;
    assert_eq!(status, 401, "old password after set-password: {body}");
    assert_eq!(body["code"], "invalid_credentials", "{body}");
    let (status, body) = server.post("", "/auth/refresh", &json!({"refresh_token": first.refresh_token}), None).await;
    assert_eq!(status, 401, "refresh token from before set-password: {body}");
    assert_eq!(body["code"], "invalid_refresh_token", "{body}");
    let second = server.login("ann", "ann-second-pass").await;

    // disable-user while Ann has a live session: the running server closes it with 4003.
    let mut ws = server.connect_at(&second.access_token, GYM).await;
    let disabled = server.admin(&["disable-user", "--username", "ann"], &[]).await;
    let json = disabled.ok();
    assert_eq!((json["action"].as_str(), json["user"]["disabled"].as_bool()), (Some("user_disabled"), Some(true)));
    let (_, close) = ws.until_close().await;
    assert_eq!(close.close_code(), Some(4003), "a disabled user's session closes with 4003, got {close:?}");
    let (status, body) = server.try_login("ann", "ann-second-pass").await;
    assert!(status == 401 || status == 403, "a disabled user cannot sign in: {status} {body}");
    let (status, body) = server.get(&second.access_token, &format!("/stats?location={GYM}")).await;
    assert_eq!(status, 403, "a disabled user's access token is refused: {body}");
    let (status, body) = server.post("", "/auth/refresh", &json!({"refresh_token": second.refresh_token}), None).await;
    assert_eq!(status, 401, "a disabled user's refresh token is refused: {body}");
    let listed = server.admin(&["list-users"], &[]).await;
    let ann_listed = listed.ok()["users"].as_array().unwrap().iter().find(|u| u["username"] == "ann").cloned();
    assert_eq!(ann_listed.expect("ann listed")["disabled"], true);

    // enable-user: Ann signs in and opens a session again.
    let enabled = server.admin(&["enable-user", "--username", "ann"], &[]).await;
    assert_eq!(enabled.ok()["action"], "user_enabled");
    server.admin(&["enable-user", "--username", "nobody"], &[]).await.refused();
    let third = server.login("ann", "ann-second-pass").await;
    let mut ws = server.connect_at(&third.access_token, GYM).await;
    ws.send(&json!({"type": "ping", "t": 7})).await;
    let pong = ws.next().await.json();
    assert_eq!((pong["type"].as_str(), pong["t"].as_i64()), (Some("pong"), Some(7)), "{pong}");
    ws.close().await;

    // The CLI's user changes are audited at the gym.
    let (status, audit) = server.get(&admin_token, &format!("/audit?location={GYM}")).await;
    assert_eq!(status, 200, "{audit}");
    let entries = audit.as_array().unwrap();
    for action in ["user_created", "password_reset", "user_disabled", "user_enabled"] {
        assert!(
            entries.iter().any(|a| a["action"] == action && a["user"] == "server command line"),
            "{action} from the command line should be audited at {GYM}: {audit}"
        );
    }
}

#[tokio::test]
async fn a_backup_taken_while_check_ins_are_written_is_a_database_another_server_serves() {
    let server = empty_server().await;
    let admin_token = set_gym_up(&server, 5000).await;
    let members = 600;
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = write_member_csv(&dir.path().join("members.csv"), "B", members, "2099-12-31");
    let imported = server.admin(&["import-members", "--location", GYM, csv.to_str().unwrap()], &[]).await;
    assert_eq!(imported.ok()["created"], members);

    // A desk checking members in one after another, over HTTP, as fast as acks come.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop) = (acked.clone(), stop.clone());
        let (http, api, token) = (server.http.clone(), server.api("/check-ins"), admin_token.clone());
        tokio::spawn(async move {
            for n in 1..=members {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let cmd = check_in_at(GYM, &format!("B{n:06}"));
                let r = http
                    .post(&api)
                    .bearer_auth(&token)
                    .header("Idempotency-Key", cmd["op_id"].as_str().unwrap())
                    .json(&cmd)
                    .send()
                    .await
                    .expect("check-in");
                let status = r.status().as_u16();
                let body: Value = r.json().await.expect("check-in body");
                assert_eq!(status, 201, "check-in of B{n:06}: {body}");
                acked.lock().unwrap().push(body["check_in"]["id"].as_str().expect("visit id").to_owned());
            }
        })
    };
    wait_until("50 check-ins acknowledged", || {
        let n = acked.lock().unwrap().len();
        async move { (n >= 50).then_some(()) }
    })
    .await;

    let before: Vec<String> = acked.lock().unwrap().clone();
    let backup_file = dir.path().join("backup.db");
    let backup = server.admin(&["backup", backup_file.to_str().unwrap()], &[]).await;
    let json = backup.ok().clone();
    let during = acked.lock().unwrap().len();
    stop.store(true, Ordering::SeqCst);
    writer.await.expect("writer");
    assert_eq!(json["action"], "backup");
    assert!(json["bytes"].as_u64().unwrap_or(0) > 0, "{json}");
    println!(
        "backup of {} bytes in {} ms, {} check-ins acknowledged before it started, {} by its end",
        json["bytes"],
        json["elapsed_ms"],
        before.len(),
        during
    );
    // A second backup to the same file is refused, and the first one is left alone.
    let len = std::fs::metadata(&backup_file).unwrap().len();
    server.admin(&["backup", backup_file.to_str().unwrap()], &[]).await.refused();
    assert_eq!(std::fs::metadata(&backup_file).unwrap().len(), len);

    // It is a sound SQLite database.
    {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&backup_file)
            .read_only(true)
            .connect()
            .await
            .expect("the backup opens as SQLite");
        let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await.expect("check");
        assert_eq!(check, "ok", "integrity_check of the backup");
    }

    // A server started on a copy of it serves every check-in acknowledged before it.
    let restored_dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&backup_file, restored_dir.path().join("frontdesk.db")).expect("copy the backup");
    let restored = Server::start_with(ServerOptions {
        no_demo: true,
        data_dir: Some(restored_dir.path().to_path_buf()),
        ..Default::default()
    })
    .await;
    assert!(!restored.log().contains("No staff accounts exist yet"), "the backup has the staff accounts");
    let token = restored.login("it-admin", ADMIN_PASSWORD).await.access_token;
    let (status, visits) = restored
        .get(&token, &format!("/check-ins?location={GYM}&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"))
        .await;
    assert_eq!(status, 200, "{visits}");
    let restored_ids: HashSet<&str> = visits.as_array().unwrap().iter().filter_map(|v| v["id"].as_str()).collect();
    let missing: Vec<&String> = before.iter().filter(|id| !restored_ids.contains(id.as_str())).collect();
    assert!(missing.is_empty(), "{} acknowledged check-ins missing from the backup: {missing:?}", missing.len());
    // At most one check-in was in flight (committed, its answer not yet read) at the end.
    assert!(restored_ids.len() <= during + 1, "the backup holds visits nobody made: {} > {during}", restored_ids.len());
    // The members came along, and the restored server takes new check-ins.
    let (status, found) = restored.get(&token, "/members?q=B000600").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    let (status, body) = restored.http_check_in(&token, &check_in_at(GYM, "B000600")).await;
    assert!(status == 201 || body["code"] == "already_checked_in", "check-in on the restored server: {status} {body}");
}
