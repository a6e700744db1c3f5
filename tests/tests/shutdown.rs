//! Server restarts: a graceful drain (SIGTERM) and a crash (SIGKILL) in the middle of
//! traffic. Every acknowledged check-in survives; resent op_ids never double.

use std::collections::{BTreeMap, BTreeSet};

use frontdesk_tests::*;
use serde_json::Value;

#[tokio::test]
async fn sigterm_sends_1012_with_spread_hints_exits_0_and_keeps_every_acked_check_in() {
    let mut server = Server::start().await;
    let token = server.front_desk().await.access_token;

    let mut sessions = Vec::new();
    for _ in 0..5 {
        sessions.push(server.connect(&token).await);
    }
    // Each desk checks a member in and has its ack.
    let mut acked = BTreeSet::new();
    for (i, ws) in sessions.iter_mut().enumerate() {
        let cmd = check_in(&card(i as u32 + 1));
        ws.send(&cmd).await;
        let ack = ws.ack_for(cmd["op_id"].as_str().unwrap(), &mut Vec::new()).await;
        acked.insert(ack["check_in"]["id"].as_str().unwrap().to_owned());
    }

    server.terminate();
    let mut hints = Vec::new();
    for ws in sessions.iter_mut() {
        let (_, end) = ws.until_close().await;
        let Frame::Close { code, reason } = end else { panic!("expected a close frame, got {end:?}") };
        assert_eq!(code, 1012);
        let reason: Value = serde_json::from_str(&reason).expect("JSON close reason");
        hints.push(reason["retry_after_ms"].as_u64().expect("retry hint"));
    }
    let distinct: BTreeSet<_> = hints.iter().collect();
    assert_eq!(distinct.len(), hints.len(), "reconnect hints are spread: {hints:?}");
    assert!(hints.iter().all(|h| *h <= 30_000));
    assert!(server.wait_exit().await.success(), "graceful shutdown exits 0");

    server.restart().await;
    let token = server.front_desk().await.access_token;
    let stored: BTreeSet<_> =
        server.all_visits(&token).await.iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(stored, acked);
}

/// Sends `cmds` pipelined, and reads acks until the session ends; returns acked op_ids.
async fn burst_until_cut(ws: &mut Ws, cmds: &[Value]) -> BTreeMap<String, Value> {
    for cmd in cmds {
        if ws.stream_send(cmd).await.is_err() {
            break;
        }
    }
    let mut acks = BTreeMap::new();
    loop {
        match ws.next().await {
            Frame::Json(v) if v["type"] == "ack" => {
                acks.insert(v["op_id"].as_str().unwrap().to_owned(), v);
            }
            Frame::Json(_) => {}
            _ => return acks,
        }
    }
}

async fn restart_and_resend_everything(server: &mut Server, cmds: &[Value], acked: &BTreeMap<String, Value>) {
    server.restart().await;
    let token = server.front_desk().await.access_token;
    let before: BTreeSet<String> =
        server.all_visits(&token).await.iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect();
    // Everything acknowledged before the stop is there.
    for ack in acked.values() {
        assert!(before.contains(ack["check_in"]["id"].as_str().unwrap()), "acked check-in lost: {ack}");
    }
    // The desk resends every command (acked or not) with its op_id: nothing doubles.
    let mut ws = server.connect(&token).await;
    for cmd in cmds {
        ws.send(cmd).await;
        let ack = ws.ack_for(cmd["op_id"].as_str().unwrap(), &mut Vec::new()).await;
        assert_eq!(ack["status"], "accepted", "{ack}");
        if let Some(first) = acked.get(cmd["op_id"].as_str().unwrap()) {
            assert_eq!(ack["duplicate"], true);
            assert_eq!(ack["check_in"]["id"], first["check_in"]["id"]);
        }
    }
    let visits = server.all_visits(&token).await;
    assert_eq!(visits.len(), cmds.len(), "exactly one visit per scan");
    assert_eq!(server.stats(&token).await["today_total"], cmds.len() as i64);
}

#[tokio::test]
async fn sigterm_mid_burst_finishes_acks_in_flight_and_loses_nothing() {
    let mut server = Server::start().await;
    let token = server.front_desk().await.access_token;
    let cmds: Vec<_> = (1..=120).map(|n| check_in(&card(n))).collect();
    let mut ws = server.connect(&token).await;
    // Let the first ack arrive, so the drain lands in the middle of the burst.
    ws.send(&cmds[0]).await;
    let first = ws.ack_for(cmds[0]["op_id"].as_str().unwrap(), &mut Vec::new()).await;
    server.terminate();
    let mut acked = burst_until_cut(&mut ws, &cmds[1..]).await;
    acked.insert(cmds[0]["op_id"].as_str().unwrap().to_owned(), first);
    assert!(server.wait_exit().await.success());
    restart_and_resend_everything(&mut server, &cmds, &acked).await;
}

#[tokio::test]
async fn sigkill_mid_burst_keeps_every_acked_check_in() {
    let mut server = Server::start().await;
    let token = server.front_desk().await.access_token;
    let cmds: Vec<_> = (1..=120).map(|n| check_in(&card(n))).collect();
    let mut ws = server.connect(&token).await;
    for cmd in &cmds[..60] {
        ws.send(cmd).await;
    }
    // Kill once some acks are in, with more commands still in flight.
    let mut acked = BTreeMap::new();
    while acked.len() < 20 {
        let v = ws.next().await.json();
        if v["type"] == "ack" {
            acked.insert(v["op_id"].as_str().unwrap().to_owned(), v);
        }
    }
    server.kill().await;
    acked.extend(burst_until_cut(&mut ws, &cmds[60..]).await);
    restart_and_resend_everything(&mut server, &cmds, &acked).await;
}
