//! Many desks at once: every event gets the next seq, every desk sees all of them in
//! order, the stats add up.

use frontdesk_tests::*;

#[tokio::test]
async fn twenty_concurrent_sessions_give_gap_free_seq_and_correct_stats() {
    let server = std::sync::Arc::new(Server::start().await);
    let token = server.front_desk().await.access_token;
    const DESKS: u32 = 20;
    const EACH: u32 = 5;
    let total = (DESKS * EACH) as usize;

    let mut observer = server.connect(&token).await;
    let mut tasks = Vec::new();
    for desk in 0..DESKS {
        let (server, token) = (server.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            // Resume from 0: a desk that connects after others started writing still
            // gets every event, replayed then live, with no gap and no duplicate.
            let mut ws = server.connect_after(&token, 0).await;
            let mut events = Vec::new();
            // Pipelined: send all, then collect the acks.
            let cmds: Vec<_> = (0..EACH).map(|i| check_in(&card(desk * EACH + i + 1))).collect();
            for cmd in &cmds {
                ws.send(cmd).await;
            }
            for cmd in &cmds {
                let ack = ws.ack_for(cmd["op_id"].as_str().unwrap(), &mut events).await;
                assert_eq!(ack["status"], "accepted", "{ack}");
            }
            while events.len() < total {
                events.extend(ws.events(1).await);
            }
            seqs(&events)
        }));
    }
    for t in tasks {
        let seen = t.await.unwrap();
        assert_gap_free(&seen, 1);
    }
    let events = observer.events(total).await;
    assert_gap_free(&seqs(&events), 1);
    let last = events.last().unwrap();
    assert_eq!(last["stats"]["occupancy"], total as i64);
    assert_eq!(last["stats"]["today_total"], total as i64);

    let stats = server.stats(&token).await;
    assert_eq!(stats["occupancy"], total as i64);
    assert_eq!(stats["today_total"], total as i64);
    let mut cards: Vec<_> =
        server.all_visits(&token).await.iter().map(|v| v["card"].as_str().unwrap().to_owned()).collect();
    cards.sort();
    cards.dedup();
    assert_eq!(cards.len(), total, "one visit per member, none twice");
}
