//! The scan as the desk library decides it, against the real server and the real
//! keychain: the agent turns away offline what the cached member list rejects (the same
//! rule as the app), and a sign-out ends the live session at once and hands the desk to
//! the next user with nothing of the previous one's left.

use std::sync::Arc;

use frontdesk_desk::{ConnectionState, Desk, DeskConfig, Keychain, Outcome, ScanRequest, SecretStore, Who};
use frontdesk_protocol::ws::AckStatus;
use frontdesk_tests::agent::{self, Agent, AgentOptions};
use frontdesk_tests::proxy::{Mode, Proxy};
use frontdesk_tests::*;

#[tokio::test]
async fn offline_the_agent_turns_away_what_the_cached_list_rejects_and_queues_only_the_rest() {
    let server = Server::start().await;
    let proxy = Proxy::start(&server.addr).await;
    let dirs = tempfile::tempdir().unwrap();
    let data_dir = dirs.path().join("turnstile");
    let mut desk = Agent::start(AgentOptions {
        server: proxy.url(),
        desk_id: "turnstile".into(),
        data_dir: data_dir.clone(),
        credentials: Some(("frontdesk".into(), "frontdesk-demo".into())),
        extra_args: vec![],
    })
    .await;
    desk.wait_for("state live", |v| v["kind"] == "state" && v["state"] == "live").await;
    agent::wait_for_roster(&data_dir, 200).await;

    proxy.set_mode(Mode::Refuse);
    proxy.cut();
    desk.next_matching("leaving live", |v| v["kind"] == "state" && v["state"] != "live").await;

    for (card, code) in
        [("D0185", "membership_expired"), ("D0195", "membership_frozen"), ("NOT-A-CARD", "member_not_found")]
    {
        desk.send_line(card).await;
        let away = desk.next_matching("turned away", |v| v["kind"] == "turned_away" || v["kind"] == "queued").await;
        assert_eq!((away["kind"].as_str(), away["card"].as_str()), (Some("turned_away"), Some(card)), "{away}");
        assert_eq!(away["code"], code, "{away}");
        assert!(away["message"].as_str().is_some_and(|m| !m.is_empty()), "a reason in words: {away}");
    }
    desk.send_line("D0001").await;
    let let_in = desk.next_matching("queued", |v| v["kind"] == "queued" || v["kind"] == "turned_away").await;
    assert_eq!((let_in["kind"].as_str(), let_in["provisional"].as_str()), (Some("queued"), Some("accepted")));
    desk.send_line(r#"{"check_in":{"card":"D0185","override":{"reason":"renewed at the desk"}}}"#).await;
    let overridden = desk.next_matching("override", |v| v["kind"] == "queued" || v["kind"] == "turned_away").await;
    assert_eq!(
        (overridden["kind"].as_str(), overridden["provisional"].as_str()),
        (Some("queued"), Some("rejected_locally"))
    );
    assert_eq!(agent::status(&data_dir).await["pending"], 2, "the three turned away were never saved");

    proxy.set_mode(Mode::Pass);
    desk.send_line(r#"{"retry_now":true}"#).await;
    let acks = desk.acks(2).await;
    assert!(acks.iter().all(|a| a["status"] == "accepted"), "{acks:?}");
    let visits = server.all_visits(&server.front_desk().await.access_token).await;
    let mut cards: Vec<_> = visits.iter().map(|v| v["card"].as_str().unwrap_or_default().to_owned()).collect();
    cards.sort();
    assert_eq!(cards, ["D0001", "D0185"], "only what the desk let in reached the server: {visits:?}");
    assert_eq!(desk.of_kind("queued").len(), 2);
}

async fn wait_state(desk: &Desk, state: ConnectionState) {
    let mut status = desk.watch_status();
    tokio::time::timeout(PATIENCE, status.wait_for(|s| s.state == state))
        .await
        .unwrap_or_else(|_| panic!("the desk never got to {state:?}: {:?}", desk.status()))
        .unwrap();
}

async fn let_in(desk: &Desk, card: &str) -> frontdesk_protocol::ws::Ack {
    let report = desk.scan(ScanRequest::check_in(Who::Card(card.into())), PATIENCE).await.unwrap();
    match report.outcome {
        Outcome::Answered { ack, .. } if ack.status == AckStatus::Accepted => ack,
        other => panic!("{card} was not let in: {other:?}"),
    }
}

#[tokio::test]
async fn sign_out_ends_the_session_at_once_and_the_next_user_owns_the_next_scans() {
    agent::require_keychain();
    let server = Server::start().await;
    let dirs = tempfile::tempdir().unwrap();
    let desk_id = format!("sign-out-{}", std::process::id());
    let keychain = Arc::new(Keychain::for_desk(&server.base(), &desk_id));
    let config = DeskConfig {
        server: format!("{}/", server.base()),
        location_id: "demo".into(),
        desk_id: desk_id.clone(),
        data_dir: dirs.path().join("desk"),
        device_name: "sign-out test".into(),
        ca_file: None,
    };
    let desk = Desk::open(config, keychain.clone()).unwrap();
    desk.start();
    let first = desk.sign_in("frontdesk", "frontdesk-demo").await.unwrap();
    wait_state(&desk, ConnectionState::Live).await;
    server.wait_sessions_open(1.0).await;
    let ack = let_in(&desk, "D0001").await;
    assert_eq!(ack.check_in.as_ref().and_then(|v| v.recorded_by.as_deref()), Some(first.id.as_str()));
    let spent = keychain.load().unwrap().expect("the sign-in is kept in the keychain");

    desk.sign_out().await.unwrap();
    wait_state(&desk, ConnectionState::SignedOut).await;
    server.wait_sessions_open(0.0).await;
    assert!(keychain.load().unwrap().is_none(), "the refresh token is gone from the keychain");
    let (status, body) =
        server.post("", "/auth/refresh", &serde_json::json!({"refresh_token": spent.expose()}), None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_refresh_token")), "revoked on the server");
    assert_eq!(desk.user(), None, "nothing of the previous user is left to attribute scans to");
    assert!(!desk.has_sign_in().unwrap());

    // The next user at the same desk: every scan from now on is theirs.
    let next = desk.sign_in("manager", "manager-demo").await.unwrap();
    wait_state(&desk, ConnectionState::Live).await;
    server.wait_sessions_open(1.0).await;
    let ack = let_in(&desk, "D0002").await;
    let visit = ack.check_in.expect("the visit");
    assert_eq!(visit.recorded_by.as_deref(), Some(next.id.as_str()));
    assert_eq!(visit.scanned_by.as_deref(), Some(next.id.as_str()));
    let visits = server.all_visits(&server.manager().await.access_token).await;
    let by: Vec<_> = visits.iter().map(|v| (v["card"].as_str(), v["recorded_by"].as_str())).collect();
    assert!(
        by.contains(&(Some("D0001"), Some(first.id.as_str()))) && by.contains(&(Some("D0002"), Some(next.id.as_str())))
    );

    desk.sign_out().await.unwrap();
    desk.shutdown().await;
    keychain.delete().unwrap();
}

/// Scans a desk saved for gym `location` (its folder before the desk moved gyms), as the
/// desk library writes them: bound to the server and gym, each with its own op_id.
fn saved_for(
    dir: &std::path::Path,
    server: &Server,
    location: &str,
    cards: &[&str],
    scanned_by: &str,
) -> Vec<uuid::Uuid> {
    use frontdesk_protocol::ws::{CheckInCommand, Command, MemberSelector};
    let outbox = frontdesk_desk::outbox::Outbox::open(dir).unwrap();
    outbox.bind(&server.base(), location).unwrap();
    cards
        .iter()
        .map(|card| {
            let command = Command::CheckIn(CheckInCommand {
                op_id: uuid::Uuid::new_v4(),
                location_id: location.into(),
                desk_id: "front-9".into(),
                member: MemberSelector::card(*card),
                occurred_at: chrono::Utc::now() - chrono::Duration::minutes(20),
                queued: true,
                scanned_by: Some(scanned_by.into()),
                override_: None,
            });
            outbox.enqueue(&command, Some(card), Some(scanned_by), None).unwrap().op_id
        })
        .collect()
}

async fn signed_in_desk(
    server: &Server,
    dir: &std::path::Path,
    location: &str,
    who: (&str, &str),
) -> (Desk, Arc<Keychain>) {
    let desk_id = format!("mover-{}-{}", who.0, std::process::id());
    let keychain = Arc::new(Keychain::for_desk(&server.base(), &desk_id));
    let config = DeskConfig {
        server: server.base(),
        location_id: location.into(),
        desk_id,
        data_dir: dir.to_path_buf(),
        device_name: "moved desk test".into(),
        ca_file: None,
    };
    let desk = Desk::open(config, keychain.clone()).unwrap();
    desk.start();
    desk.sign_in(who.0, who.1).await.unwrap();
    wait_state(&desk, ConnectionState::Live).await;
    (desk, keychain)
}

#[tokio::test]
async fn scans_saved_for_the_desks_previous_gym_are_delivered_once_with_their_own_attribution() {
    agent::require_keychain();
    let server = Server::start().await;
    let dirs = tempfile::tempdir().unwrap();
    let front = server.front_desk().await;
    let old = dirs.path().join("demo-folder");
    let ops = saved_for(&old, &server, "demo", &["D0003", "D0004", "D0186"], &front.user.id);
    // The first was sent once before, its answer lost on the way: sent again, it must
    // not make a second visit.
    let (status, _) = server
        .post(
            &front.access_token,
            "/check-ins",
            &serde_json::json!({"op_id": ops[0], "location_id": "demo", "desk_id": "front-9",
                "member": {"card": "D0003"}, "occurred_at": chrono::Utc::now() - chrono::Duration::minutes(20),
                "queued": true, "scanned_by": front.user.id}),
            Some(ops[0]),
        )
        .await;
    assert_eq!(status, 201);

    // The desk now works for north, signed in as the manager (who works at both gyms).
    let (desk, keychain) =
        signed_in_desk(&server, &dirs.path().join("north-folder"), "north", ("manager", "manager-demo")).await;
    let outcomes = std::sync::Mutex::new(Vec::new());
    tokio::time::timeout(
        PATIENCE,
        desk.deliver_when_connected(vec![old.clone()], |d| outcomes.lock().unwrap().push(d)),
    )
    .await
    .expect("the delivery finished");
    let outcomes = outcomes.into_inner().unwrap();
    assert_eq!(
        outcomes,
        [frontdesk_desk::Delivery::Delivered { location: "demo".into(), accepted: 2, rejected: 1 }],
        "two let in, the expired member turned away by the server"
    );
    assert!(outcomes[0].words().unwrap().contains("turned away"), "{:?}", outcomes[0].words());
    let left = frontdesk_desk::outbox::Outbox::open(&old).unwrap().counts().unwrap();
    assert_eq!((left.pending, left.acked, left.rejected), (0, 2, 1), "every answer is recorded where it was saved");

    let visits = server.all_visits(&front.access_token).await;
    for card in ["D0003", "D0004"] {
        let of_card: Vec<_> = visits.iter().filter(|v| v["card"] == card).collect();
        assert_eq!(of_card.len(), 1, "{card} recorded once: {visits:?}");
        assert_eq!(of_card[0]["scanned_by"], front.user.id.as_str(), "scanned by whoever scanned it: {:?}", of_card[0]);
        assert_eq!(of_card[0]["location_id"], "demo", "{:?}", of_card[0]);
    }
    assert!(!visits.iter().any(|v| v["card"] == "D0186"), "{visits:?}");
    // Nothing left: a second run has nothing to do.
    assert_eq!(desk.deliver_stranded(&old).await.unwrap(), frontdesk_desk::Delivery::Nothing);

    desk.sign_out().await.unwrap();
    desk.shutdown().await;
    keychain.delete().unwrap();
}

#[tokio::test]
async fn a_person_who_does_not_work_at_the_previous_gym_leaves_its_scans_waiting_and_is_told_why() {
    agent::require_keychain();
    let server = Server::start().await;
    let dirs = tempfile::tempdir().unwrap();
    server.north_only_front_desk().await;
    let front = server.front_desk().await;
    let old = dirs.path().join("demo-folder");
    saved_for(&old, &server, "demo", &["D0005"], &front.user.id);

    let (desk, keychain) =
        signed_in_desk(&server, &dirs.path().join("north-folder"), "north", ("nora", NORTH_ONLY_PASSWORD)).await;
    match desk.deliver_stranded(&old).await.unwrap() {
        frontdesk_desk::Delivery::Stopped { location, delivered: 0, left: 1, message } => {
            assert_eq!(location, "demo");
            assert!(message.contains("does not work at gym \"demo\""), "{message}");
        }
        other => panic!("nothing may be sent for a gym the person does not work at: {other:?}"),
    }
    assert_eq!(frontdesk_desk::outbox::Outbox::open(&old).unwrap().counts().unwrap().pending, 1, "kept");
    assert!(!server.all_visits(&front.access_token).await.iter().any(|v| v["card"] == "D0005"));

    desk.sign_out().await.unwrap();
    desk.shutdown().await;
    keychain.delete().unwrap();
}
