//! The WebSocket session against the real server: opening, refusals before upgrade,
//! every close code the server sends, heartbeats and bad frames.

use frontdesk_tests::*;
use serde_json::{Value, json};

#[tokio::test]
async fn hello_then_ack_then_own_event() {
    let server = Server::start().await;
    let tokens = server.front_desk().await;
    let mut ws = server.connect(&tokens.access_token).await;
    let hello = &ws.hello;
    assert_eq!(hello["protocol"], 1);
    assert_eq!(hello["location_id"], LOCATION);
    assert_eq!(hello["resume"]["status"], "none");
    assert!(hello["heartbeat_ms"].as_u64().unwrap() > 0);
    assert!(hello["session_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(hello["stats"]["occupancy"], 0);

    let cmd = check_in("D0001");
    ws.send(&cmd).await;
    let mut events = Vec::new();
    let ack = ws.ack_for(cmd["op_id"].as_str().unwrap(), &mut events).await;
    assert_eq!(ack["status"], "accepted");
    assert_eq!(ack["duplicate"], false);
    assert_eq!(ack["check_in"]["member"]["name"], "Ava Anders");
    // The sender receives its own event too.
    if events.is_empty() {
        events = ws.events(1).await;
    }
    assert_eq!(events[0]["kind"], "member_checked_in");
    assert_eq!(events[0]["seq"], 1);
    assert_eq!(events[0]["stats"]["occupancy"], 1);
    assert_eq!(events[0]["check_in"]["desk_id"], "test-desk");

    ws.send(&json!({"type": "ping", "t": 42})).await;
    loop {
        let v = ws.next().await.json();
        if v["type"] == "pong" {
            assert_eq!(v["t"], 42);
            break;
        }
    }
}

/// Upgrade refusals are plain HTTP answers with a JSON body; no socket opens.
async fn refused(server: &Server, query: &str, token: Option<&str>, protocol: Option<&str>) -> (u16, Value) {
    let req = ws_request(&server.ws_url(query), token, protocol);
    match tokio_tungstenite::connect_async(req).await {
        Ok(_) => panic!("the upgrade should have been refused"),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body =
                response.body().as_ref().map(|b| serde_json::from_slice(b).expect("JSON body")).unwrap_or(Value::Null);
            (status, body)
        }
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
    }
}

#[tokio::test]
async fn upgrade_refusals_happen_before_any_socket() {
    let server = Server::start().await;
    let tokens = server.front_desk().await;
    let t = tokens.access_token.as_str();

    let (status, body) = refused(&server, "location=demo", Some(t), None).await;
    assert_eq!(status, 426);
    assert_eq!(body["code"], "unsupported_protocol");
    assert_eq!(body["supported"], json!(["frontdesk.v1"]));
    let (status, _) = refused(&server, "location=demo", Some(t), Some("frontdesk.v2")).await;
    assert_eq!(status, 426);

    let (status, body) = refused(&server, "location=demo", None, Some("frontdesk.v1")).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_token")));
    let (status, body) = refused(&server, "location=demo", Some("garbage"), Some("frontdesk.v1")).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_token")));

    let (status, body) = refused(&server, "location=elsewhere", Some(t), Some("frontdesk.v1")).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));

    let (status, body) = refused(&server, "", Some(t), Some("frontdesk.v1")).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_request")));

    let metrics = server.metrics().await;
    assert_eq!(metric_sum(&metrics, "frontdesk_ws_sessions_open", &[]), 0.0);
    assert!(metric_sum(&metrics, "frontdesk_ws_upgrade_refusals_total", &["status=\"426\""]) >= 2.0);
}

#[tokio::test]
async fn overload_refuses_upgrades_with_503_and_retry_after() {
    let server = Server::start_with(ServerOptions::default().env("FRONTDESK_MAX_SESSIONS", 1)).await;
    let tokens = server.front_desk().await;
    let _first = server.connect(&tokens.access_token).await;
    let req = ws_request(&server.ws_url("location=demo"), Some(&tokens.access_token), Some("frontdesk.v1"));
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 503);
            let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(retry >= 1);
            let body: Value = serde_json::from_slice(response.body().as_ref().unwrap()).unwrap();
            assert_eq!(body["code"], "overloaded");
        }
        other => panic!("expected 503, got {other:?}", other = other.map(|_| ())),
    }
}

#[tokio::test]
async fn unknown_types_keep_the_session_and_ten_malformed_frames_close_it_with_1008() {
    let server = Server::start().await;
    let tokens = server.front_desk().await;
    let mut ws = server.connect(&tokens.access_token).await;

    ws.send(&json!({"type": "teleport"})).await;
    let err = ws.next().await.json();
    assert_eq!((err["type"].as_str(), err["code"].as_str()), (Some("error"), Some("unknown_type")));

    // Wrong field type on a command with an op_id: its one ack, a rejection naming the field.
    let mut cmd = check_in("D0001");
    cmd["desk_id"] = json!(17);
    ws.send(&cmd).await;
    let ack = ws.next().await.json();
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["status"], "rejected");
    assert_eq!(ack["code"], "invalid_request");
    assert!(ack["message"].as_str().unwrap().contains("desk_id"), "{ack}");

    let bad = ["{not json", "[]", "42", "{\"type\": 5}", "{\"no_type\": true}", "{\"type\":\"ping\",\"t\":\"soon\"}"];
    for (i, text) in bad.iter().cycle().take(8).enumerate() {
        ws.send_text(text.to_string()).await;
        let err = ws.next().await.json();
        assert_eq!(err["code"], "bad_message", "frame {i}: {err}");
        assert!(!err["message"].as_str().unwrap().is_empty());
    }
    // That was the ninth malformed frame (the command counted); the tenth closes.
    ws.send_text("{oops".into()).await;
    let (_, end) = ws.until_close().await;
    assert_eq!(end.close_code(), Some(1008), "{end:?}");

    // Nothing was stored by any of it.
    let (_, visits) = server.get(&tokens.access_token, "/check-ins?location=demo").await;
    assert_eq!(visits, json!([]));
}

#[tokio::test]
async fn oversized_frames_close_with_1009() {
    let server = Server::start().await;
    let tokens = server.front_desk().await;

    let mut ws = server.connect(&tokens.access_token).await;
    let mut cmd = check_in("D0001");
    cmd["desk_id"] = json!("x".repeat(70 * 1024));
    ws.send(&cmd).await;
    let (_, end) = ws.until_close().await;
    assert_eq!(end.close_code(), Some(1009), "{end:?}");

    // Far above the limit too (2 MiB): still a clean 1009, not a dropped connection.
    let mut ws = server.connect(&tokens.access_token).await;
    ws.send_text("y".repeat(2 * 1024 * 1024)).await;
    let (_, end) = ws.until_close().await;
    assert_eq!(end.close_code(), Some(1009), "{end:?}");

    let (_, visits) = server.get(&tokens.access_token, "/check-ins?location=demo").await;
    assert_eq!(visits, json!([]));
}

#[tokio::test]
async fn token_expiry_without_reauth_closes_with_4001_and_reauth_extends() {
    let server = Server::start_with(ServerOptions::default().env("FRONTDESK_ACCESS_TTL_S", 3)).await;
    let tokens = server.front_desk().await;

    let mut ws = server.connect(&tokens.access_token).await;
    // Reauth with a fresh token: acknowledged with the new expiry.
    let fresh = server.front_desk().await;
    ws.send(&json!({"type": "reauth", "token": fresh.access_token})).await;
    let reauthed = ws.next().await.json();
    assert_eq!(reauthed["type"], "reauthed");
    assert!(reauthed["expires_at"].as_str().is_some());
    // A bad reauth token is refused without closing.
    ws.send(&json!({"type": "reauth", "token": "nonsense"})).await;
    let err = ws.next().await.json();
    assert_eq!(err["code"], "invalid_token");
    // With no further reauth the session ends when the token does.
    let (_, end) = ws.until_close().await;
    assert_eq!(end.close_code(), Some(4001), "{end:?}");
}

#[tokio::test]
async fn disabling_a_user_closes_their_sessions_with_4003() {
    let server = Server::start().await;
    let desk = server.front_desk().await;
    let manager = server.manager().await;
    let mut ws = server.connect(&desk.access_token).await;
    let mut manager_ws = server.connect(&manager.access_token).await;

    let (status, _) =
        server.post(&manager.access_token, &format!("/users/{}/disable", desk.user.id), &json!({}), None).await;
    assert_eq!(status, 204);
    let (_, end) = ws.until_close().await;
    assert_eq!(end.close_code(), Some(4003), "{end:?}");

    // Other users' sessions stay open.
    manager_ws.send(&json!({"type": "ping", "t": 1})).await;
    assert_eq!(manager_ws.next().await.json()["type"], "pong");

    // And the disabled user cannot come back.
    let req = ws_request(&server.ws_url("location=demo"), Some(&desk.access_token), Some("frontdesk.v1"));
    let refused = tokio_tungstenite::connect_async(req).await.map(|_| ()).expect_err("refused");
    assert!(matches!(refused, tokio_tungstenite::tungstenite::Error::Http(ref r) if r.status() == 403), "{refused}");
    let (status, body) = server.post("", "/auth/refresh", &json!({"refresh_token": desk.refresh_token}), None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_refresh_token")));
}

#[tokio::test]
async fn rate_limit_closes_with_4029_and_a_hint() {
    let server = Server::start_with(
        ServerOptions::default().env("FRONTDESK_WS_RATE_PER_S", 2).env("FRONTDESK_WS_RATE_BURST", 5),
    )
    .await;
    let tokens = server.front_desk().await;
    let mut ws = server.connect(&tokens.access_token).await;
    for t in 0..20 {
        ws.send(&json!({"type": "ping", "t": t})).await;
    }
    let (pongs, end) = ws.until_close().await;
    assert!(pongs.len() <= 6, "{} pongs before the limit", pongs.len());
    let Frame::Close { code, reason } = end else { panic!("expected a close, got {end:?}") };
    assert_eq!(code, 4029);
    let reason: Value = serde_json::from_str(&reason).expect("JSON close reason");
    assert!(reason["retry_after_ms"].as_u64().unwrap() >= 1000, "{reason}");
}

#[tokio::test]
async fn slow_consumer_is_closed_with_4008() {
    let server = Server::start_with(
        ServerOptions::default().env("FRONTDESK_SESSION_QUEUE", 4).env("FRONTDESK_SOCKET_SEND_BUFFER", 4096),
    )
    .await;
    let tokens = server.front_desk().await;
    // A desk that stops reading: a tiny receive buffer and no reads.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let stream = socket.connect(server.addr.parse().unwrap()).await.unwrap();
    let req = ws_request(&server.ws_url("location=demo"), Some(&tokens.access_token), Some("frontdesk.v1"));
    let (mut slow, _) =
        tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(stream)).await.unwrap();

    // Another desk makes events until the server gives up on the slow one.
    let mut sender = server.connect(&tokens.access_token).await;
    let mut closed = false;
    'outer: for round in 0..40 {
        for n in 1..=100u32 {
            let cmd = if round % 2 == 0 { check_in(&card(n)) } else { check_out(&card(n)) };
            sender.send(&cmd).await;
            let mut ignore = Vec::new();
            sender.ack_for(cmd["op_id"].as_str().unwrap(), &mut ignore).await;
            if n % 10 == 0
                && metric_sum(&server.metrics().await, "frontdesk_ws_closes_total", &["code=\"4008\""]) >= 1.0
            {
                closed = true;
                break 'outer;
            }
        }
    }
    assert!(closed, "the slow consumer was never closed");
    // When the slow desk finally reads, it finds the 4008 after what was already in flight.
    let mut ws = Ws { stream: slow, hello: Value::Null };
    let (_, end) = ws.until_close().await;
    assert_eq!(end.close_code(), Some(4008), "{end:?}");
    slow = ws.stream;
    drop(slow);
}

#[tokio::test]
async fn silent_clients_are_dropped_after_two_heartbeats() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start_with(ServerOptions::default().env("FRONTDESK_HEARTBEAT_MS", 200)).await;
    let tokens = server.front_desk().await;

    // A desk that upgrades and then says nothing, not even pongs: a raw socket.
    let mut raw = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let request = format!(
        "GET /ws?location=demo HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: frontdesk.v1\r\nAuthorization: Bearer {}\r\n\r\n",
        server.addr, tokens.access_token
    );
    raw.write_all(request.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(PATIENCE, raw.read(&mut buf)).await.expect("server never dropped the silent desk");
        match n {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 101"), "upgrade happened: {text}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(400), "dropped before two heartbeats");
    assert_eq!(metric_sum(&server.metrics().await, "frontdesk_ws_sessions_open", &[]), 0.0);

    // A desk that reads (and so answers pings) stays: five pings arrive, no close.
    let mut ws = server.connect(&tokens.access_token).await;
    let mut pings = 0;
    while pings < 5 {
        use futures_util::StreamExt;
        match tokio::time::timeout(PATIENCE, ws.stream.next()).await.unwrap() {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Ping(_))) => pings += 1,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_))) => {}
            other => panic!("session should stay open, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn database_locked_past_the_command_timeout_closes_with_1013_then_recovers() {
    use sqlx::Connection;
    let server = Server::start_with(ServerOptions::default().env("FRONTDESK_COMMAND_TIMEOUT_MS", 300)).await;
    let tokens = server.front_desk().await;
    let mut ws = server.connect(&tokens.access_token).await;

    // Another process holds the write lock: the server cannot store the command in time.
    let mut blocker = sqlx::SqliteConnection::connect(&server.db_url()).await.unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE").execute(&mut blocker).await.unwrap();
    let cmd = check_in("D0001");
    ws.send(&cmd).await;
    let (frames, end) = ws.until_close().await;
    assert!(frames.iter().all(|f| f["type"] != "ack"), "no ack while the database is locked: {frames:?}");
    let Frame::Close { code, reason } = end else { panic!("{end:?}") };
    assert_eq!(code, 1013);
    assert!(serde_json::from_str::<Value>(&reason).unwrap()["retry_after_ms"].as_u64().is_some());
    sqlx::raw_sql("ROLLBACK").execute(&mut blocker).await.unwrap();
    drop(blocker);

    // The desk resends the same op_id and gets exactly one check-in.
    let mut ws = server.connect(&tokens.access_token).await;
    ws.send(&cmd).await;
    let ack = ws.ack_for(cmd["op_id"].as_str().unwrap(), &mut Vec::new()).await;
    assert_eq!(ack["status"], "accepted");
    assert_eq!(server.all_visits(&tokens.access_token).await.len(), 1);
}

#[tokio::test]
async fn storage_failure_closes_with_1011_and_acks_nothing() {
    use sqlx::Connection;
    let server = Server::start().await;
    let tokens = server.front_desk().await;
    let mut ws = server.connect(&tokens.access_token).await;

    // Break the schema under the server, as a failing disk or a bad restore would.
    let mut db = sqlx::SqliteConnection::connect(&server.db_url()).await.unwrap();
    sqlx::raw_sql("ALTER TABLE events RENAME TO events_broken").execute(&mut db).await.unwrap();
    let cmd = check_in("D0001");
    ws.send(&cmd).await;
    let (frames, end) = ws.until_close().await;
    assert!(frames.iter().all(|f| f["type"] != "ack"), "{frames:?}");
    assert_eq!(end.close_code(), Some(1011), "{end:?}");

    // Nothing half-written: the visit rolled back with the event.
    sqlx::raw_sql("ALTER TABLE events_broken RENAME TO events").execute(&mut db).await.unwrap();
    assert_eq!(server.all_visits(&tokens.access_token).await.len(), 0);
}

/// Sends `reauth` with `token` and answers the frames up to the server's reply (or the
/// close, if the server ends the session).
async fn reauth(ws: &mut Ws, token: &str) -> Frame {
    ws.send(&json!({"type": "reauth", "token": token})).await;
    loop {
        match ws.next().await {
            Frame::Json(v) if v["type"] == "reauthed" || v["type"] == "error" => return Frame::Json(v),
            Frame::Json(_) => continue,
            other => return other,
        }
    }
}

#[tokio::test]
async fn reauth_reads_the_account_again_and_ends_a_session_that_may_no_longer_act() {
    // The server does not look for other processes' changes during this test: only the
    // reauth can find out.
    let server = Server::start_with(ServerOptions::default().env("FRONTDESK_WATCH_INTERVAL_MS", 3_600_000)).await;
    let first = server.front_desk().await;
    let mut ws = server.connect(&first.access_token).await;

    // Still allowed: reauth works and the session goes on.
    let fresh = server.front_desk().await;
    let answer = reauth(&mut ws, &fresh.access_token).await;
    assert!(matches!(&answer, Frame::Json(v) if v["type"] == "reauthed"), "{answer:?}");

    // Disabled by another process (the command line), no signal to the session: the next
    // reauth, with a token that is itself still valid, ends it.
    let disabled = server.admin(&["disable-user", "--username", "frontdesk"], &[]).await;
    assert_eq!(disabled.code, Some(0), "{disabled:?}");
    let end = match reauth(&mut ws, &fresh.access_token).await {
        Frame::Json(v) if v["type"] == "reauthed" => ws.until_close().await.1,
        other => other,
    };
    assert_eq!(end.close_code(), Some(4003), "a disabled user's session ends at reauth: {end:?}");
}

#[tokio::test]
async fn a_reused_refresh_token_and_a_logout_close_the_live_sessions_of_that_sign_in() {
    let server = Server::start().await;
    let stolen = server.front_desk().await;
    let other = server.front_desk().await;
    let mut victim = server.connect(&stolen.access_token).await;
    let mut bystander = server.connect(&other.access_token).await;

    // The rightful desk refreshes; someone presents the spent token again.
    let (status, _) = server.post("", "/auth/refresh", &json!({"refresh_token": stolen.refresh_token}), None).await;
    assert_eq!(status, 200);
    let (status, body) = server.post("", "/auth/refresh", &json!({"refresh_token": stolen.refresh_token}), None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_refresh_token")));
    let (_, end) = victim.until_close().await;
    assert_eq!(end.close_code(), Some(4003), "the family's session ends at once: {end:?}");

    // Another sign-in of the same user is untouched, until it signs out elsewhere.
    bystander.send(&json!({"type": "ping", "t": 7})).await;
    assert_eq!(bystander.next().await.json()["type"], "pong");
    let (status, _) = server.post("", "/auth/logout", &json!({"refresh_token": other.refresh_token}), None).await;
    assert_eq!(status, 204);
    let (_, end) = bystander.until_close().await;
    assert_eq!(end.close_code(), Some(4003), "logout ends its sessions: {end:?}");
}

#[tokio::test]
async fn one_account_holds_at_most_the_configured_sessions() {
    let server = Server::start_with(ServerOptions::default().env("FRONTDESK_MAX_SESSIONS_PER_USER", 2)).await;
    let desk = server.front_desk().await;
    let first = server.connect(&desk.access_token).await;
    let _second = server.connect(&desk.access_token).await;
    let (status, body) = refused(&server, "location=demo", Some(&desk.access_token), Some("frontdesk.v1")).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "{body}");
    // Another account is not affected, and a closed session is given back.
    let manager = server.manager().await;
    let _manager_ws = server.connect(&manager.access_token).await;
    first.close().await;
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let req = ws_request(&server.ws_url("location=demo"), Some(&desk.access_token), Some("frontdesk.v1"));
        if tokio_tungstenite::connect_async(req).await.is_ok() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the closed session's place was never given back");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
