//! Extension `presence` against the real server: desks report who they are and how many
//! entries they queue, over WebSocket or HTTP; managers list the desks of a location
//! with online/offline; v1 desks (which never report) still show up, and v1 behaviour
//! is otherwise unchanged (docs/server.md).

use frontdesk_tests::*;
use serde_json::{Value, json};

fn presence(desk_id: &str, queued: u32) -> Value {
    json!({"type": "presence", "location_id": LOCATION, "desk_id": desk_id, "queued": queued})
}

/// Waits until the server has handled every frame sent before: frames of a session are
/// handled in order, so its pong comes after them. Returns the frames seen on the way.
async fn settle(ws: &mut Ws, t: i64) -> Vec<Value> {
    ws.send(&json!({"type": "ping", "t": t})).await;
    let mut seen = Vec::new();
    loop {
        let v = ws.next().await.json();
        if v["type"] == "pong" && v["t"] == t {
            return seen;
        }
        seen.push(v);
    }
}

/// `GET /desks` as the given user, expecting 200 and a list.
async fn desks(server: &Server, token: &str) -> Vec<Value> {
    let (status, body) = server.get(token, &format!("/desks?location={LOCATION}")).await;
    assert_eq!(status, 200, "GET /desks: {body}");
    body.as_array().cloned().unwrap_or_else(|| panic!("GET /desks answers a list, got {body}"))
}

async fn desk(server: &Server, token: &str, desk_id: &str) -> Option<Value> {
    desks(server, token).await.into_iter().find(|d| d["desk_id"] == desk_id)
}

/// Polls `GET /desks` until the desk matches, failing after [`PATIENCE`].
async fn wait_for_desk(
    server: &Server,
    token: &str,
    desk_id: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let found = desk(server, token, desk_id).await;
        if let Some(d) = found.as_ref().filter(|d| pred(d)) {
            return d.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "desk {desk_id} never became {what}; last seen {found:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn hello_lists_the_extension_and_v1_frames_are_unchanged() {
    let server = Server::start().await;
    let tokens = server.front_desk().await;
    let mut ws = server.connect(&tokens.access_token).await;
    assert_eq!(ws.hello["extensions"], json!(["presence"]), "{}", ws.hello);
    assert_eq!(ws.hello["protocol"], 1, "still protocol 1: v1 desks must not refuse this server");

    // An unknown type still gets its error frame and keeps the session.
    ws.send(&json!({"type": "teleport"})).await;
    let err = ws.next().await.json();
    assert_eq!((err["type"].as_str(), err["code"].as_str()), (Some("error"), Some("unknown_type")), "{err}");
    assert!(err["message"].as_str().is_some_and(|m| m.contains("teleport")), "{err}");
    // A valid presence report gets no answer at all: the next frame is the pong.
    ws.send(&presence("front-1", 0)).await;
    assert_eq!(settle(&mut ws, 1).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_reporting_desk_is_online_with_its_queue_until_it_closes() {
    let server = Server::start().await;
    let desk_tokens = server.front_desk().await;
    let manager = server.manager().await.access_token;
    assert_eq!(desks(&server, &manager).await, Vec::<Value>::new(), "nothing known before any desk");

    let mut ws = server.connect(&desk_tokens.access_token).await;
    ws.send(&presence("front-1", 3)).await;
    settle(&mut ws, 1).await;
    let d = desk(&server, &manager, "front-1").await.expect("front-1 listed");
    assert_eq!(d["online"], true, "{d}");
    assert_eq!(d["transport"], "websocket", "{d}");
    assert_eq!(d["queued"], 3, "{d}");
    assert_eq!(d["user_name"], "Front Desk", "{d}");
    assert!(d["last_seen_at"].as_str().is_some(), "{d}");
    assert_eq!(metric_sum(&server.metrics().await, "frontdesk_desks_online", &[]), 1.0);

    ws.send(&presence("front-1", 0)).await;
    settle(&mut ws, 2).await;
    let d = desk(&server, &manager, "front-1").await.expect("front-1 listed");
    assert_eq!((d["online"].as_bool(), d["queued"].as_u64()), (Some(true), Some(0)), "{d}");

    ws.close().await;
    let d = wait_for_desk(&server, &manager, "front-1", "offline", |d| d["online"] == false).await;
    assert_eq!(d["transport"], Value::Null, "no transport while offline: {d}");
    assert_eq!(d["queued"], 0, "the last figure stays: {d}");
    assert_eq!(metric_sum(&server.metrics().await, "frontdesk_desks_online", &[]), 0.0);
}

#[tokio::test]
async fn a_presence_report_naming_another_desk_rebinds_the_session() {
    let server = Server::start().await;
    let desk_tokens = server.front_desk().await;
    let manager = server.manager().await.access_token;
    let mut ws = server.connect(&desk_tokens.access_token).await;
    ws.send(&presence("front-2", 1)).await;
    ws.send(&presence("front-1", 2)).await;
    settle(&mut ws, 1).await;

    let list = desks(&server, &manager).await;
    let ids: Vec<_> = list.iter().map(|d| d["desk_id"].as_str().unwrap_or_default()).collect();
    assert_eq!(ids, ["front-1", "front-2"], "sorted by desk id: {list:?}");
    assert_eq!((list[0]["online"].as_bool(), list[0]["queued"].as_u64()), (Some(true), Some(2)), "{list:?}");
    assert_eq!(list[1]["online"], false, "the session moved to front-1: {list:?}");
}

#[tokio::test]
async fn a_v1_desk_is_known_by_its_first_command_with_an_unknown_queue() {
    let server = Server::start().await;
    let desk_tokens = server.front_desk().await;
    let manager = server.manager().await.access_token;
    let mut ws = server.connect(&desk_tokens.access_token).await;
    settle(&mut ws, 1).await;
    assert_eq!(desks(&server, &manager).await, Vec::<Value>::new(), "a silent session names no desk");

    let cmd = check_in("D0001");
    ws.send(&cmd).await;
    let ack = ws.ack_for(cmd["op_id"].as_str().unwrap(), &mut Vec::new()).await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    let d = desk(&server, &manager, "test-desk").await.expect("the command's desk is listed");
    assert_eq!(d["online"], true, "{d}");
    assert_eq!(d["transport"], "websocket", "{d}");
    assert_eq!(d["queued"], Value::Null, "a v1 desk does not report its queue: {d}");
    assert_eq!(d["user_name"], "Front Desk", "{d}");

    drop(ws);
    wait_for_desk(&server, &manager, "test-desk", "offline", |d| d["online"] == false).await;
}

#[tokio::test]
async fn desks_in_http_fallback_report_over_http() {
    let server = Server::start().await;
    let desk_token = server.front_desk().await.access_token;
    let manager = server.manager().await.access_token;
    let report = json!({"location_id": LOCATION, "desk_id": "front-http", "queued": 7});

    let (status, body) = server.post(&desk_token, "/desks/presence", &report, None).await;
    assert_eq!(status, 204, "{body}");
    let d = desk(&server, &manager, "front-http").await.expect("listed");
    assert_eq!(d["online"], true, "{d}");
    assert_eq!(d["transport"], "http", "{d}");
    assert_eq!(d["queued"], 7, "{d}");
    assert_eq!(d["user_name"], "Front Desk", "{d}");

    // Bad bodies name the field; none of them is recorded.
    let bad = [
        (json!({"location_id": LOCATION, "queued": 1}), "desk_id"),
        (json!({"location_id": LOCATION, "desk_id": "front-bad", "queued": -1}), "queued"),
        (json!({"location_id": LOCATION, "desk_id": "front-bad", "queued": "many"}), "queued"),
        (json!({"location_id": LOCATION, "desk_id": "", "queued": 1}), "desk_id"),
        (json!({"location_id": LOCATION, "desk_id": "x".repeat(65), "queued": 1}), "desk_id"),
        (json!({"location_id": "", "desk_id": "front-bad", "queued": 1}), "location_id"),
    ];
    for (body, field) in bad {
        let (status, answer) = server.post(&desk_token, "/desks/presence", &body, None).await;
        assert_eq!((status, answer["code"].as_str()), (400, Some("invalid_request")), "{body}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| m.contains(field)), "{body}: {answer} names {field}");
    }
    // Only for a location the user works at.
    let elsewhere = json!({"location_id": "elsewhere", "desk_id": "front-bad", "queued": 1});
    let (status, answer) = server.post(&desk_token, "/desks/presence", &elsewhere, None).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("forbidden")), "{answer}");
    let (status, answer) = server.post("", "/desks/presence", &report, None).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("invalid_token")), "{answer}");

    let ids: Vec<_> = desks(&server, &manager).await.into_iter().map(|d| d["desk_id"].clone()).collect();
    assert_eq!(ids, [json!("front-http")]);
}

#[tokio::test]
async fn presence_for_another_location_is_a_bad_frame_and_not_recorded() {
    let server = Server::start().await;
    let desk_tokens = server.front_desk().await;
    let manager = server.manager().await.access_token;
    let mut ws = server.connect(&desk_tokens.access_token).await;

    let foreign = json!({"type": "presence", "location_id": "elsewhere", "desk_id": "intruder", "queued": 1});
    ws.send(&foreign).await;
    let err = ws.next().await.json();
    assert_eq!((err["type"].as_str(), err["code"].as_str()), (Some("error"), Some("bad_message")), "{err}");
    assert!(err["message"].as_str().is_some_and(|m| m.contains("elsewhere")), "{err}");
    for bad in [presence("", 1), presence(&"x".repeat(65), 1), json!({"type": "presence", "desk_id": "d"})] {
        ws.send(&bad).await;
        let err = ws.next().await.json();
        assert_eq!(err["code"], "bad_message", "{bad}: {err}");
    }
    settle(&mut ws, 1).await;
    assert_eq!(desks(&server, &manager).await, Vec::<Value>::new(), "nothing recorded");

    // They count as malformed frames: four so far, the tenth closes with 1008.
    for _ in 0..5 {
        ws.send(&foreign).await;
        assert_eq!(ws.next().await.json()["code"], "bad_message");
    }
    ws.send(&foreign).await;
    let (_, end) = ws.until_close().await;
    assert_eq!(end.close_code(), Some(1008), "{end:?}");
}

#[tokio::test]
async fn only_managers_and_admins_of_the_location_list_desks() {
    let server = Server::start().await;
    let desk_token = server.front_desk().await.access_token;
    let manager = server.manager().await.access_token;
    let admin = server.login("admin", "admin-demo").await.access_token;

    let (status, body) = server.get(&desk_token, &format!("/desks?location={LOCATION}")).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    let (status, body) = server.get(&manager, "/desks?location=elsewhere").await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    let (status, body) = server.get(&admin, "/desks?location=elsewhere").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{body}");
    let (status, body) = server.get(&manager, "/desks").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_request")), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("location")), "{body}");
    assert_eq!(desks(&server, &admin).await, Vec::<Value>::new());
}

#[tokio::test]
async fn after_a_restart_desks_of_todays_visits_are_listed_offline() {
    let mut server = Server::start().await;
    let desk_tokens = server.front_desk().await;
    let manager = server.manager().await.access_token;

    let mut ws = server.connect(&desk_tokens.access_token).await;
    ws.send(&presence("front-1", 2)).await;
    let mut cmd = check_in("D0001");
    cmd["desk_id"] = json!("front-1");
    ws.send(&cmd).await;
    let ack = ws.ack_for(cmd["op_id"].as_str().unwrap(), &mut Vec::new()).await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    // A desk that only ever used HTTP check-ins is known from its visit alone.
    let mut cmd = check_in("D0002");
    cmd["desk_id"] = json!("back-door");
    let (status, body) = server.http_check_in(&desk_tokens.access_token, &cmd).await;
    assert_eq!(status, 201, "{body}");
    let before = desks(&server, &manager).await;
    assert_eq!(before.len(), 2, "{before:?}");
    assert_eq!(before[0]["desk_id"], "back-door");
    assert_eq!(before[0]["online"], false, "{before:?}");
    assert_eq!(before[1]["online"], true, "{before:?}");

    server.kill().await;
    server.restart().await;
    let after = desks(&server, &manager).await;
    let offline = |id: &str| json!({"desk_id": id, "online": false, "transport": null, "queued": null, "user_name": null, "last_seen_at": null});
    assert_eq!(after, [offline("back-door"), offline("front-1")]);
}
