//! An op_id is applied at most once, forever, whichever transport carries it and however
//! often it is resent.

use frontdesk_tests::*;
use serde_json::{Value, json};

/// The parts of an answer that must be identical on every resend.
fn essence(check_in: &Value) -> Value {
    json!({
        "id": check_in["id"], "member": check_in["member"], "checked_in_at": check_in["checked_in_at"],
        "desk_id": check_in["desk_id"], "queued": check_in["queued"],
    })
}

#[tokio::test]
async fn one_op_id_sent_100_times_over_both_transports_and_reconnects_is_one_check_in() {
    let server = Server::start().await;
    let tokens = server.front_desk().await;
    let token = tokens.access_token.as_str();
    let cmd = check_in("D0001");
    let op = cmd["op_id"].as_str().unwrap().to_owned();

    let mut answers: Vec<(Value, bool)> = Vec::new();
    let mut ws = server.connect(token).await;
    for i in 0..100 {
        if i % 10 == 9 {
            // A reconnect, as after a network drop.
            ws.close().await;
            ws = server.connect(token).await;
        }
        if i % 3 == 0 {
            let (status, body) = server.http_check_in(token, &cmd).await;
            assert!(status == 201 || status == 200, "{status} {body}");
            assert_eq!(status == 200, body["duplicate"] == true, "{body}");
            answers.push((essence(&body["check_in"]), body["duplicate"] == true));
        } else {
            ws.send(&cmd).await;
            let ack = ws.ack_for(&op, &mut Vec::new()).await;
            assert_eq!(ack["status"], "accepted", "{ack}");
            answers.push((essence(&ack["check_in"]), ack["duplicate"] == true));
        }
    }
    assert!(!answers[0].1, "the first answer is the original");
    assert!(answers[1..].iter().all(|(_, dup)| *dup), "every later answer is a duplicate");
    assert!(answers.iter().all(|(a, _)| *a == answers[0].0), "every answer is the same check-in");

    let visits = server.all_visits(token).await;
    assert_eq!(visits.len(), 1, "{visits:?}");
    assert_eq!(server.stats(token).await["today_total"], 1);
    assert_eq!(ws.hello["last_seq"], 1, "exactly one event was ever written");
}

#[tokio::test]
async fn concurrent_resends_race_to_one_check_in() {
    let server = std::sync::Arc::new(Server::start().await);
    let tokens = server.front_desk().await;
    let cmd = check_in("D0002");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (server, cmd, token) = (server.clone(), cmd.clone(), tokens.access_token.clone());
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                let (status, body) = server.http_check_in(&token, &cmd).await;
                assert!(status == 201 || status == 200, "{status} {body}");
                (body["check_in"]["id"].clone(), body["duplicate"] == true)
            } else {
                let mut ws = server.connect(&token).await;
                ws.send(&cmd).await;
                let ack = ws.ack_for(cmd["op_id"].as_str().unwrap(), &mut Vec::new()).await;
                (ack["check_in"]["id"].clone(), ack["duplicate"] == true)
            }
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    assert_eq!(results.iter().filter(|(_, dup)| !dup).count(), 1, "exactly one original: {results:?}");
    assert!(results.iter().all(|(id, _)| *id == results[0].0));
    assert_eq!(server.all_visits(&tokens.access_token).await.len(), 1);
}

#[tokio::test]
async fn a_rejection_is_final_and_repeats_identically() {
    let server = Server::start().await;
    let tokens = server.front_desk().await;
    let cmd = check_in("D0185");
    let mut ws = server.connect(&tokens.access_token).await;
    ws.send(&cmd).await;
    let first = ws.ack_for(cmd["op_id"].as_str().unwrap(), &mut Vec::new()).await;
    assert_eq!((first["status"].as_str(), first["code"].as_str()), (Some("rejected"), Some("membership_expired")));
    let (status, body) = server.http_check_in(&tokens.access_token, &cmd).await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], first["code"]);
    assert_eq!(body["message"], first["message"]);
    assert_eq!(body["duplicate"], true);
    assert_eq!(server.all_visits(&tokens.access_token).await.len(), 0);
}
