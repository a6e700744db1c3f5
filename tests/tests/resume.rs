//! Resume with `after_seq`: replayed events then live ones, no gap, no duplicate — also
//! while other desks keep writing during the replay; `resync_required` past retention.

use frontdesk_tests::*;
use serde_json::Value;

/// Another desk makes `n` changes: check-ins of members `first..first+n`.
async fn changes(server: &Server, token: &str, first: u32, n: u32) {
    let mut ws = server.connect(token).await;
    for m in first..first + n {
        let cmd = check_in(&card(m));
        ws.send(&cmd).await;
        let ack = ws.ack_for(cmd["op_id"].as_str().unwrap(), &mut Vec::new()).await;
        assert_eq!(ack["status"], "accepted", "{ack}");
    }
    ws.close().await;
}

#[tokio::test]
async fn disconnected_desk_gets_exactly_the_50_missed_events_then_live_ones() {
    let server = Server::start().await;
    let token = server.front_desk().await.access_token;
    changes(&server, &token, 1, 3).await;

    let desk = server.connect(&token).await;
    let seen = desk.hello["last_seq"].as_i64().unwrap();
    assert_eq!(seen, 3);
    desk.close().await;

    changes(&server, &token, 10, 50).await;

    let mut desk = server.connect_after(&token, seen).await;
    assert_eq!(desk.hello["resume"]["status"], "replayed");
    assert_eq!(desk.hello["resume"]["count"], 50);
    assert_eq!(desk.hello["last_seq"], 53);
    let replayed = desk.events(50).await;
    assert_gap_free(&seqs(&replayed), 4);
    let cards: Vec<_> = replayed.iter().map(|e| e["check_in"]["card"].as_str().unwrap().to_owned()).collect();
    assert_eq!(cards, (10..60).map(card).collect::<Vec<_>>(), "the 50 changes, in order");

    changes(&server, &token, 100, 1).await;
    let live = desk.events(1).await;
    assert_eq!(seqs(&live), [54]);
}

#[tokio::test]
async fn replay_during_concurrent_writes_has_no_gap_and_no_duplicate() {
    let server = std::sync::Arc::new(Server::start().await);
    let token = server.front_desk().await.access_token;
    changes(&server, &token, 1, 60).await;

    // Writers keep going while the resuming desk replays.
    let writer = {
        let (server, token) = (server.clone(), token.clone());
        tokio::spawn(async move { changes(&server, &token, 61, 60).await })
    };
    let mut desk = server.connect_after(&token, 0).await;
    assert_eq!(desk.hello["resume"]["status"], "replayed");
    writer.await.unwrap();

    let mut got: Vec<Value> = Vec::new();
    while got.last().map(|e| e["seq"].as_i64().unwrap()) != Some(120) {
        got.extend(desk.events(1).await);
    }
    assert_gap_free(&seqs(&got), 1);
    assert_eq!(got.len(), 120);
}

#[tokio::test]
async fn resume_past_retention_asks_for_a_resync_and_continues_live() {
    let server = Server::start_with(ServerOptions::default().env("FRONTDESK_EVENT_RETENTION", 5)).await;
    let token = server.front_desk().await.access_token;
    changes(&server, &token, 1, 20).await;

    let mut desk = server.connect_after(&token, 2).await;
    assert_eq!(desk.hello["resume"]["status"], "resync_required");
    assert_eq!(desk.hello["last_seq"], 20);
    changes(&server, &token, 30, 1).await;
    assert_eq!(seqs(&desk.events(1).await), [21], "live from last_seq, nothing replayed");

    let mut desk = server.connect_after(&token, 18).await;
    assert_eq!(desk.hello["resume"]["status"], "replayed");
    assert_eq!(desk.hello["resume"]["count"], 3);
    assert_eq!(seqs(&desk.events(3).await), [19, 20, 21]);

    // A desk that knows more than the server (its data was reset) must resync too.
    let desk = server.connect_after(&token, 500).await;
    assert_eq!(desk.hello["resume"]["status"], "resync_required");

    // The long-poll says the same, as HTTP.
    let (status, body) = server.get(&token, "/events?location=demo&after_seq=2").await;
    assert_eq!((status, body["code"].as_str()), (410, Some("resync_required")));
    let (status, body) = server.get(&token, "/events?location=demo&after_seq=19").await;
    assert_eq!(status, 200);
    assert_eq!(seqs(body["events"].as_array().unwrap()), [20, 21]);
    assert_eq!(body["last_seq"], 21);
    assert_eq!(body["events"][0]["type"], "event", "the same object as the WebSocket frame");
}

#[tokio::test]
async fn long_poll_answers_when_an_event_arrives() {
    let server = std::sync::Arc::new(Server::start().await);
    let token = server.front_desk().await.access_token;
    let poll = {
        let (server, token) = (server.clone(), token.clone());
        tokio::spawn(async move { server.get(&token, "/events?location=demo&after_seq=0&wait=30").await })
    };
    changes(&server, &token, 1, 1).await;
    let (status, body) = poll.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(seqs(body["events"].as_array().unwrap()), [1]);

    // Nothing new and no wait: an empty answer at once.
    let (status, body) = server.get(&token, "/events?location=demo&after_seq=1").await;
    assert_eq!((status, body["events"].as_array().unwrap().len(), body["last_seq"].as_i64()), (200, 0, Some(1)));
}
