//! Importing members from CSV with `frontdesk-server admin import-members` while the
//! server runs (docs/server.md "Setting up a real gym"): columns in any order, quoting, UTF-8
//! and Excel's BOM; matching by external_id then card; a second import changes nothing;
//! a changed file moves the `/members/sync` cursor; any bad row refuses the whole file
//! with its line; `--dry-run` writes nothing; live desks hear `member_updated`; imported
//! members check in. And a 50,000-row file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use frontdesk_tests::*;
use serde_json::{Value, json};

const GYM: &str = "main";

async fn empty_server() -> Server {
    Server::start_with(ServerOptions { no_demo: true, ..Default::default() }.env("FRONTDESK_WATCH_INTERVAL_MS", 100))
        .await
}

/// The gym, an admin and a receptionist; returns (admin token, front-desk token).
async fn set_gym_up(server: &Server) -> (String, String) {
    server.admin(&["create-location", "--id", GYM, "--name", "Main Street Gym", "--capacity", "500"], &[]).await.ok();
    for (username, role) in [("it-admin", "admin"), ("desk", "front_desk")] {
        server
            .admin(
                &["create-user", "--username", username, "--name", username, "--role", role, "--location", GYM],
                &[("FRONTDESK_NEW_PASSWORD", "password-of-the-gym")],
            )
            .await
            .ok();
    }
    (
        server.login("it-admin", "password-of-the-gym").await.access_token,
        server.login("desk", "password-of-the-gym").await.access_token,
    )
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write csv");
    path
}

async fn import(server: &Server, file: &Path, extra: &[&str]) -> AdminRun {
    let mut args = vec!["import-members", "--location", GYM, file.to_str().unwrap()];
    args.extend_from_slice(extra);
    server.admin(&args, &[]).await
}

/// `/members/sync` from `after` to the end: every member changed since, and the cursor.
async fn sync_all(server: &Server, token: &str, after: Option<&str>) -> (Vec<Value>, String) {
    let mut members = Vec::new();
    let mut cursor = after.map(str::to_owned);
    loop {
        let path = match &cursor {
            Some(c) => format!("/members/sync?limit=5000&after={c}"),
            None => "/members/sync?limit=5000".to_owned(),
        };
        let (status, page) = server.get(token, &path).await;
        assert_eq!(status, 200, "{page}");
        members.extend(page["members"].as_array().cloned().expect("members"));
        cursor = Some(page["cursor"].as_str().expect("cursor").to_owned());
        if page["complete"] == true {
            return (members, cursor.unwrap());
        }
    }
}

async fn member_count(server: &Server, token: &str) -> usize {
    sync_all(server, token, None).await.0.len()
}

async fn search(server: &Server, token: &str, q: &str) -> Vec<Value> {
    let path = format!("/members?q={}", urlencode(q));
    let (status, found) = server.get(token, &path).await;
    assert_eq!(status, 200, "GET {path}: {found}");
    found.as_array().cloned().expect("a list")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The good file: BOM, columns in an order of its own plus one unknown column, quoted
/// fields holding commas and quotes, names beyond ASCII.
const GOOD: &str = "\u{feff}Valid_Until,phone,Name,card,external_id,email,frozen,notes\r\n\
    2030-06-30,\"+44 20, ext 5\",\"Ødegaard, Zoë\",C0001,EXT-1,zoe@example.org,false,\"likes mornings, early\"\r\n\
    2030-06-30,,Bob Smith,C0002,EXT-2,,,\r\n\
    2030-06-30,07700 900123,\"Jean \"\"JJ\"\" Dupont\",C0003,,,true,\r\n";

#[tokio::test]
async fn members_are_imported_from_csv_matched_refused_whole_and_check_in() {
    let server = empty_server().await;
    let (admin, desk) = set_gym_up(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (none, cursor0) = sync_all(&server, &desk, None).await;
    assert!(none.is_empty(), "a new gym has no members: {none:?}");
    let mut ws = server.connect_at(&desk, GYM).await;

    // The good file.
    let good = write(dir.path(), "members.csv", GOOD.as_bytes());
    let first = import(&server, &good, &[]).await;
    let json = first.ok();
    assert_eq!(json["action"], "members_imported", "{json}");
    assert_eq!(
        (json["rows"].as_u64(), json["created"].as_u64(), json["updated"].as_u64()),
        (Some(3), Some(3), Some(0))
    );
    assert_eq!(json["ignored_columns"], json!(["notes"]), "{json}");
    // The desk's live session hears it, published by the server from the CLI's write.
    let event = ws.event_of_kind("member_updated").await;
    assert_eq!(event["location_id"], GYM, "{event}");

    let zoe = search(&server, &desk, "Zoë").await;
    assert_eq!(zoe.len(), 1, "{zoe:?}");
    let zoe = &zoe[0];
    assert_eq!(zoe["name"], "Ødegaard, Zoë");
    assert_eq!(zoe["card"], "C0001");
    assert_eq!(zoe["phone"], "+44 20, ext 5");
    assert_eq!(zoe["email"], "zoe@example.org");
    assert_eq!(zoe["external_id"], "EXT-1");
    assert_eq!(zoe["home_location_id"], GYM);
    assert_eq!(zoe["valid_until"], "2030-06-30");
    assert_eq!(zoe["status"], "active");
    assert_eq!(search(&server, &desk, "Ødegaard").await.len(), 1);
    let jean = search(&server, &desk, "C0003").await;
    assert_eq!(jean.len(), 1, "{jean:?}");
    assert_eq!(jean[0]["name"], "Jean \"JJ\" Dupont");
    assert_eq!(jean[0]["status"], "frozen", "frozen=true imports a frozen member: {}", jean[0]);
    let bob = search(&server, &desk, "Bob Smith").await;
    assert_eq!(bob.len(), 1, "{bob:?}");
    assert!(bob[0]["phone"].is_null(), "an empty phone is no phone: {}", bob[0]);
    let bob_id = bob[0]["id"].as_str().unwrap().to_owned();

    let (synced, cursor1) = sync_all(&server, &desk, Some(&cursor0)).await;
    let cards: HashSet<&str> = synced.iter().filter_map(|m| m["card"].as_str()).collect();
    assert_eq!(cards, HashSet::from(["C0001", "C0002", "C0003"]), "the import is in /members/sync");
    assert_ne!(cursor1, cursor0);

    // The same file again: nothing changes, the cursor stays.
    let again = import(&server, &good, &[]).await;
    let json = again.ok();
    assert_eq!(
        (json["created"].as_u64(), json["updated"].as_u64(), json["unchanged"].as_u64()),
        (Some(0), Some(0), Some(3)),
        "{json}"
    );
    let (synced, cursor) = sync_all(&server, &desk, Some(&cursor1)).await;
    assert!(synced.is_empty(), "an unchanged import changes no member: {synced:?}");
    assert_eq!(cursor, cursor1);

    // A changed file: Bob renewed and given a new card (matched by external_id).
    let changed = GOOD.replace("2030-06-30,,Bob Smith,C0002", "2031-12-31,,Bob Smith,C0022");
    let changed = write(dir.path(), "changed.csv", changed.as_bytes());
    let third = import(&server, &changed, &[]).await;
    let json = third.ok();
    assert_eq!(
        (json["created"].as_u64(), json["updated"].as_u64(), json["unchanged"].as_u64()),
        (Some(0), Some(1), Some(2)),
        "{json}"
    );
    ws.event_of_kind("member_updated").await;
    let (synced, cursor2) = sync_all(&server, &desk, Some(&cursor1)).await;
    assert_eq!(synced.len(), 1, "only Bob changed: {synced:?}");
    assert_eq!(
        (synced[0]["id"].as_str(), synced[0]["valid_until"].as_str()),
        (Some(bob_id.as_str()), Some("2031-12-31"))
    );
    assert_eq!(synced[0]["card"], "C0022");
    assert_ne!(cursor2, cursor1, "a changed import moves the sync cursor");
    let (status, cards) = server.get(&desk, &format!("/members/{bob_id}/cards")).await;
    assert_eq!(status, 200, "{cards}");
    let held: Vec<&str> = cards.as_array().unwrap().iter().filter_map(|c| c["card"].as_str()).collect();
    assert_eq!(held, ["C0022", "C0002"], "the old card stays in Bob's history: {cards}");

    // Refusals: exit 1, the line named, nothing imported.
    let count = member_count(&server, &desk).await;
    assert_eq!(count, 3);
    let cases: &[(&str, &str, u64, &str)] = &[
        ("missing column", "card,name,phone\nC0100,New Person,123\n", 1, "valid_until"),
        (
            "bad date",
            "card,name,valid_until\nC0100,New Person,2030-01-01\nC0101,Other Person,31/12/2030\n",
            3,
            "31/12/2030",
        ),
        (
            "duplicate card in the file",
            "card,name,valid_until\nC0100,New Person,2030-01-01\nC0101,Other,2030-01-01\nC0100,Third,2030-01-01\n",
            4,
            "line 2",
        ),
        (
            "card of another stored member",
            "card,name,valid_until,external_id\nC0100,New Person,2030-01-01,EXT-100\nC0001,Bob Smith,2031-12-31,EXT-2\n",
            3,
            "Ødegaard, Zoë",
        ),
    ];
    for (what, csv, line, mention) in cases {
        let file = write(dir.path(), "bad.csv", csv.as_bytes());
        let run = import(&server, &file, &[]).await;
        run.refused();
        let rows = run.row_errors();
        assert!(
            rows.iter().any(|(l, m)| l == line && m.contains(mention)),
            "{what}: expected line {line} mentioning {mention:?}, got {rows:?}"
        );
        assert!(run.stderr.contains(&format!("line {line}")), "{what}: stderr names the line: {}", run.stderr);
        assert_eq!(member_count(&server, &desk).await, count, "{what}: nothing imported");
        assert!(search(&server, &desk, "C0100").await.is_empty(), "{what}: the good rows were not imported either");
    }
    let (_, cursor) = sync_all(&server, &desk, Some(&cursor2)).await;
    assert_eq!(cursor, cursor2, "refused imports do not move the sync cursor");
    import(&server, &dir.path().join("no-such-file.csv"), &[]).await.refused();
    server.admin(&["import-members", "--location", "nowhere", good.to_str().unwrap()], &[]).await.refused();

    // --dry-run says what would change and changes nothing.
    let next = format!("{}2030-01-01,,New Walk-in,C0200,,,,\n", GOOD);
    let next = next.replace("2030-06-30,,Bob Smith,C0002", "2032-01-31,,Bob Smith,C0022");
    let next = write(dir.path(), "next.csv", next.as_bytes());
    let dry = import(&server, &next, &["--dry-run"]).await;
    let json = dry.ok();
    assert_eq!((json["action"].as_str(), json["dry_run"].as_bool()), (Some("import_checked"), Some(true)), "{json}");
    assert_eq!(
        (json["created"].as_u64(), json["updated"].as_u64(), json["unchanged"].as_u64()),
        (Some(1), Some(1), Some(2)),
        "{json}"
    );
    assert_eq!(member_count(&server, &desk).await, count, "a dry run creates nobody");
    assert!(search(&server, &desk, "C0200").await.is_empty());
    let (synced, cursor) = sync_all(&server, &desk, Some(&cursor2)).await;
    assert!(synced.is_empty() && cursor == cursor2, "a dry run changes nobody: {synced:?}");
    let (status, bob) = server.get(&desk, &format!("/members/{bob_id}")).await;
    assert_eq!((status, bob["valid_until"].as_str()), (200, Some("2031-12-31")), "{bob}");

    // A member imported while the desk's session is open: the session hears it.
    let imported = import(&server, &next, &[]).await;
    assert_eq!(imported.ok()["created"], 1);
    let event = ws.event_of_kind("member_updated").await;
    assert_eq!(event["location_id"], GYM, "{event}");
    let walk_in = search(&server, &desk, "C0200").await;
    assert_eq!(walk_in.len(), 1, "{walk_in:?}");

    // Imported members check in (and the rules apply to them).
    for (card, expected) in [("C0001", None), ("C0022", None), ("C0200", None), ("C0003", Some("membership_frozen"))] {
        let (status, body) = server.http_check_in(&desk, &check_in_at(GYM, card)).await;
        match expected {
            None => {
                assert_eq!(status, 201, "check-in of imported {card}: {body}");
                assert_eq!(body["check_in"]["location_id"], GYM, "{body}");
            }
            Some(code) => {
                assert_eq!((status, body["code"].as_str()), (422, Some(code)), "check-in of imported {card}: {body}");
            }
        }
    }
    let (status, body) = server.http_check_in(&desk, &check_in_at(GYM, "C0002")).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("member_not_found")), "Bob's old card: {body}");
    ws.close().await;

    // The import is audited at the gym.
    let (status, audit) = server.get(&admin, &format!("/audit?location={GYM}")).await;
    assert_eq!(status, 200, "{audit}");
    let imports = audit.as_array().unwrap().iter().filter(|a| a["action"] == "members_imported").count();
    assert_eq!(imports, 3, "one audit entry per import that changed something: {audit}");
}

#[tokio::test]
async fn fifty_thousand_members_import_at_once() {
    const ROWS: usize = 50_000;
    let server = empty_server().await;
    let (_, desk) = set_gym_up(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_member_csv(&dir.path().join("big.csv"), "M", ROWS, "2099-12-31");

    let started = std::time::Instant::now();
    let run = import(&server, &file, &[]).await;
    let wall = started.elapsed();
    let json = run.ok();
    assert_eq!(
        (json["rows"].as_u64(), json["created"].as_u64(), json["updated"].as_u64()),
        (Some(ROWS as u64), Some(ROWS as u64), Some(0)),
        "{json}"
    );
    println!(
        "imported {ROWS} rows: {} ms inside the command, {} ms for the whole process",
        json["elapsed_ms"],
        wall.as_millis()
    );

    let started = std::time::Instant::now();
    let again = import(&server, &file, &[]).await;
    let json = again.ok();
    assert_eq!(
        (json["created"].as_u64(), json["updated"].as_u64(), json["unchanged"].as_u64()),
        (Some(0), Some(0), Some(ROWS as u64)),
        "{json}"
    );
    println!(
        "re-imported {ROWS} unchanged rows: {} ms inside, {} ms in all",
        json["elapsed_ms"],
        started.elapsed().as_millis()
    );

    let (members, _) = sync_all(&server, &desk, None).await;
    assert_eq!(members.len(), ROWS, "every row is a member in /members/sync");
    let last = search(&server, &desk, &format!("M{ROWS:06}")).await;
    assert_eq!(last.len(), 1, "{last:?}");
    assert_eq!(last[0]["name"], format!("Member {ROWS}, M"));
    let (status, body) = server.http_check_in(&desk, &check_in_at(GYM, &format!("M{ROWS:06}"))).await;
    assert_eq!(status, 201, "{body}");
}

/// A row whose external_id matches nobody but whose card belongs to a stored member with
/// another external_id describes a different person of the billing system: the file
/// gives them someone else's card. Refused, like any card of another stored member;
/// taking it as an update would rename that member and re-key them to the new id (and
/// the next import of the old file would flip them back).
#[tokio::test]
async fn a_card_of_a_member_with_another_external_id_is_refused_not_taken_over() {
    let server = empty_server().await;
    let (_, desk) = set_gym_up(&server).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(dir.path(), "members.csv", GOOD.as_bytes());
    import(&server, &good, &[]).await.ok();
    let (_, cursor) = sync_all(&server, &desk, None).await;

    let csv =
        "card,name,valid_until,external_id\nC0100,New Person,2030-01-01,EXT-100\nC0001,Not Zoe,2030-01-01,EXT-99\n";
    let file = write(dir.path(), "takeover.csv", csv.as_bytes());
    let run = import(&server, &file, &[]).await;
    assert_eq!(
        run.code,
        Some(1),
        "card C0001 belongs to Zoë (external_id EXT-1); a row for external_id EXT-99 must not take it: {}",
        run.json
    );
    let rows = run.row_errors();
    assert!(rows.iter().any(|(l, m)| *l == 3 && m.contains("Ødegaard, Zoë")), "line 3 names the holder: {rows:?}");
    let zoe = search(&server, &desk, "C0001").await;
    assert_eq!((zoe[0]["name"].as_str(), zoe[0]["external_id"].as_str()), (Some("Ødegaard, Zoë"), Some("EXT-1")));
    let (changed, _) = sync_all(&server, &desk, Some(&cursor)).await;
    assert!(changed.is_empty(), "nothing imported: {changed:?}");
}
