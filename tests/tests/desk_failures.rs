//! The desk under failure, with real processes: a real server, real agents, the real
//! keychain, and a fault-injecting proxy between them. Every test ends by checking that
//! the server holds exactly the check-ins scanned, none twice, that every outbox is
//! empty, and that listening desks saw every event exactly once, in seq order.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use frontdesk_tests::agent::{self, Agent, AgentOptions};
use frontdesk_tests::proxy::{Mode, Proxy};
use frontdesk_tests::*;
use serde_json::Value;

struct Site {
    server: Server,
    proxy: Proxy,
    dirs: tempfile::TempDir,
}

impl Site {
    async fn start(options: ServerOptions) -> Site {
        let server = Server::start_with(options).await;
        let proxy = Proxy::start(&server.addr).await;
        Site { server, proxy, dirs: tempfile::tempdir().unwrap() }
    }

    fn options(&self, desk_id: &str, sign_in: bool) -> AgentOptions {
        AgentOptions {
            server: self.proxy.url(),
            desk_id: desk_id.into(),
            data_dir: self.dirs.path().join(desk_id),
            credentials: sign_in.then(|| ("frontdesk".into(), "frontdesk-demo".into())),
            extra_args: vec![],
        }
    }

    async fn desk(&self, desk_id: &str) -> Agent {
        let mut agent = Agent::start(self.options(desk_id, true)).await;
        agent.wait_for("state live", |v| v["kind"] == "state" && v["state"] == "live").await;
        // Scans made while the server cannot answer are judged by the cached member list.
        agent::wait_for_roster(&agent.data_dir, 200).await;
        agent
    }

    /// Restarts the server on its data dir and points the proxy at its new port.
    async fn restart_server(&mut self) {
        self.server.restart().await;
        self.proxy.set_target(&self.server.addr);
    }

    async fn token(&self) -> String {
        self.server.front_desk().await.access_token
    }
}

/// `pairs` check-in/check-out pairs over members D0001–D0100: 2 × pairs scans.
fn burst(pairs: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..pairs {
        let card = card((i % 100) as u32 + 1);
        lines.push(card.clone());
        lines.push(format!(r#"{{"check_out":{{"card":"{card}"}}}}"#));
    }
    lines
}

async fn scan_all(agent: &mut Agent, lines: &[String]) {
    for line in lines {
        agent.send_line(line).await;
    }
}

/// The server holds exactly `check_ins` visits, each checked out if `closed`.
async fn assert_server_holds(site: &Site, check_ins: usize, closed: bool) {
    let token = site.token().await;
    let visits = site.server.all_visits(&token).await;
    assert_eq!(visits.len(), check_ins, "visits on the server");
    let ids: BTreeSet<_> = visits.iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), check_ins, "no visit twice");
    if closed {
        assert!(visits.iter().all(|v| !v["checked_out_at"].is_null()), "every visit was checked out");
        assert_eq!(site.server.stats(&token).await["occupancy"], 0);
    }
    assert_eq!(site.server.stats(&token).await["today_total"], check_ins as i64);
}

/// Every ack accepted, one per queued op_id, none rejected.
fn assert_all_accepted(agent: &Agent, expected: usize) {
    let acks = agent.of_kind("ack");
    let rejected: Vec<_> = acks.iter().filter(|a| a["status"] != "accepted").collect();
    assert!(rejected.is_empty(), "rejections mean a lost or doubled scan: {rejected:?}");
    let ops: BTreeSet<_> = acks.iter().map(|a| a["op_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ops.len(), expected, "one first ack per scan");
}

/// The desk saw events 1..=last, each once, in order.
async fn assert_events_exactly_once(agent: &mut Agent, last: i64) {
    agent.event_seq(last).await;
    let seqs: Vec<i64> = agent.of_kind("event").iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_gap_free(&seqs, 1);
    assert_eq!(seqs.last(), Some(&last));
}

async fn assert_outbox_empty(agent: &Agent, acked: i64) {
    let status = agent::status(&agent.data_dir).await;
    assert_eq!(status["pending"], 0, "{status}");
    assert_eq!(status["acked"].as_i64().unwrap() + status["rejected"].as_i64().unwrap(), acked, "{status}");
}

#[tokio::test]
async fn network_cut_in_the_middle_of_a_500_scan_burst() {
    let site = Site::start(ServerOptions::default()).await;
    let mut scanner = site.desk("front-1").await;
    let mut listeners = [site.desk("front-2").await, site.desk("front-3").await];
    let lines = burst(250);
    scan_all(&mut scanner, &lines).await;

    scanner.acks(100).await;
    site.proxy.set_mode(Mode::Refuse);
    site.proxy.cut();
    scanner.next_matching("leaving live", |v| v["kind"] == "state" && v["state"] != "live").await;
    site.proxy.set_mode(Mode::Pass);
    scanner.send_line(r#"{"retry_now":true}"#).await;
    for l in listeners.iter_mut() {
        l.send_line(r#"{"retry_now":true}"#).await;
    }

    // Later in the burst, the links die with a reset (RST) instead.
    scanner.acks(300).await;
    site.proxy.reset();
    scanner.next_matching("leaving live again", |v| v["kind"] == "state" && v["state"] != "live").await;

    scanner.acks(500).await;
    assert_all_accepted(&scanner, 500);
    assert_server_holds(&site, 250, true).await;
    assert_events_exactly_once(&mut scanner, 500).await;
    for l in listeners.iter_mut() {
        assert_events_exactly_once(l, 500).await;
    }
    assert_outbox_empty(&scanner, 500).await;
}

#[tokio::test]
async fn server_killed_and_restarted_in_the_middle_of_a_burst() {
    let mut site = Site::start(ServerOptions::default()).await;
    let mut scanner = site.desk("front-1").await;
    let mut listener = site.desk("front-2").await;
    let lines = burst(150);
    scan_all(&mut scanner, &lines).await;

    scanner.acks(120).await;
    site.server.kill().await;
    scanner.next_matching("leaving live", |v| v["kind"] == "state" && v["state"] != "live").await;
    site.restart_server().await;
    scanner.send_line(r#"{"retry_now":true}"#).await;
    listener.send_line(r#"{"retry_now":true}"#).await;

    scanner.acks(300).await;
    assert_all_accepted(&scanner, 300);
    assert_server_holds(&site, 150, true).await;
    assert_events_exactly_once(&mut scanner, 300).await;
    assert_events_exactly_once(&mut listener, 300).await;
    assert_outbox_empty(&scanner, 300).await;
}

#[tokio::test]
async fn desk_killed_between_outbox_commit_and_ack_resends_with_the_same_op_ids() {
    let site = Site::start(ServerOptions::default()).await;
    let mut desk = site.desk("front-1").await;

    // Part 1: scans committed, sent into a dead link, never acked; then the desk dies.
    site.proxy.blackhole_current();
    let first: Vec<String> = (1..=20).map(card).collect();
    scan_all(&mut desk, &first).await;
    while desk.of_kind("queued").len() < 20 {
        desk.next_matching("queued", |v| v["kind"] == "queued").await;
    }
    desk.kill().await;
    let queued: BTreeSet<String> =
        desk.of_kind("queued").iter().map(|q| q["op_id"].as_str().unwrap().to_owned()).collect();

    // Part 2: restarted without credentials (the keychain has the sign-in), it sends
    // every unacknowledged entry again. With a slow link, kill it again mid-way, so some
    // commands reach the server whose acks never reach the desk.
    site.proxy.set_delay(Duration::from_millis(150));
    let mut desk = Agent::start(site.options("front-1", false)).await;
    desk.acks(3).await;
    desk.kill().await;
    let mut acked: BTreeSet<String> =
        desk.of_kind("ack").iter().map(|a| a["op_id"].as_str().unwrap().to_owned()).collect();

    // Part 3: the desk drains. (Acks recorded just before a kill may never have reached
    // standard output; the outbox and the server are the record.)
    site.proxy.set_delay(Duration::ZERO);
    let mut desk =
        Agent::start(AgentOptions { extra_args: vec!["--drain-and-exit".into()], ..site.options("front-1", false) })
            .await;
    desk.close_stdin();
    assert!(desk.wait_exit().await.success(), "drained");
    acked.extend(desk.of_kind("ack").iter().map(|a| a["op_id"].as_str().unwrap().to_owned()));
    assert!(acked.is_subset(&queued), "acks only for the op_ids queued before the crash");
    assert!(desk.of_kind("ack").iter().all(|a| a["status"] == "accepted"));
    assert!(desk.of_kind("queued").is_empty(), "nothing was queued twice");
    assert_server_holds(&site, 20, false).await;
    assert_outbox_empty(&desk, 20).await;
}

#[tokio::test]
async fn access_token_expiring_mid_session_is_refreshed_without_dropping_the_session() {
    let site = Site::start(ServerOptions::default().env("FRONTDESK_ACCESS_TTL_S", 3)).await;
    let mut desk = site.desk("front-1").await;
    // Stay live across four token lifetimes, scanning in each. (The sleep lets the
    // tokens age; it synchronises nothing.)
    for round in 0..4u32 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        desk.send_line(&card(round + 1)).await;
        desk.next_matching("ack", |v| v["kind"] == "ack").await;
    }
    let reauths = metric_sum(&site.server.metrics().await, "frontdesk_ws_frames_in_total", &["kind=\"reauth\""]);
    assert!(reauths >= 3.0, "the desk reauthenticated {reauths} times over four lifetimes");
    let scans = desk.of_kind("queued").len();
    desk.acks(scans).await;
    assert_all_accepted(&desk, scans);
    let states: Vec<_> = desk.of_kind("state").iter().map(|s| s["state"].as_str().unwrap().to_owned()).collect();
    assert_eq!(states, ["connecting", "live"], "the session never dropped");
    let metrics = site.server.metrics().await;
    assert_eq!(metric_sum(&metrics, "frontdesk_ws_closes_total", &["code=\"4001\""]), 0.0);
    assert_server_holds(&site, scans, false).await;
    assert_outbox_empty(&desk, scans as i64).await;

    // Neither token is in any log, file or output of the desk.
    let refresh = keychain_refresh_token(&site.proxy.url(), "front-1").await;
    assert_no_secrets(&desk, &refresh);
}

#[tokio::test]
async fn blocked_upgrades_fall_back_to_http_and_return_to_websocket() {
    let site = Site::start(ServerOptions::default()).await;
    site.proxy.block_upgrades(true);
    let mut desk = Agent::start(site.options("front-1", true)).await;
    desk.wait_for("state http_fallback", |v| v["kind"] == "state" && v["state"] == "http_fallback").await;
    let mut listener = site.desk_with_blocked_start().await;

    let check_ins: Vec<String> = (1..=10).map(card).collect();
    scan_all(&mut desk, &check_ins).await;
    desk.acks(10).await;
    desk.event_seq(10).await;

    site.proxy.block_upgrades(false);
    desk.send_line(r#"{"retry_now":true}"#).await;
    desk.next_state("live").await;
    let check_outs: Vec<String> = (1..=10).map(|n| format!(r#"{{"check_out":{{"card":"{}"}}}}"#, card(n))).collect();
    scan_all(&mut desk, &check_outs).await;
    desk.acks(20).await;

    assert_all_accepted(&desk, 20);
    assert_server_holds(&site, 10, true).await;
    assert_events_exactly_once(&mut desk, 20).await;
    assert_events_exactly_once(&mut listener, 20).await;
    assert_outbox_empty(&desk, 20).await;
}

impl Site {
    /// A listening desk started while upgrades are blocked (it lives on long-polls
    /// until they are unblocked).
    async fn desk_with_blocked_start(&self) -> Agent {
        let mut agent = Agent::start(self.options("front-2", true)).await;
        agent
            .wait_for("a working link", |v| {
                v["kind"] == "state" && (v["state"] == "http_fallback" || v["state"] == "live")
            })
            .await;
        agent
    }
}

#[tokio::test]
async fn a_blackholed_link_is_detected_and_replaced_within_two_heartbeats() {
    let heartbeat = Duration::from_millis(1000);
    let site = Site::start(ServerOptions::default().env("FRONTDESK_HEARTBEAT_MS", heartbeat.as_millis())).await;
    let mut desk = site.desk("front-1").await;
    let started = Instant::now();
    site.proxy.blackhole_current();
    desk.next_matching("leaving live", |v| v["kind"] == "state" && v["state"] != "live").await;
    let detected = started.elapsed();
    assert!(detected <= heartbeat * 2 + Duration::from_millis(500), "took {detected:?} to notice a dead link");
    desk.next_state("live").await;
    desk.send_line("D0001").await;
    let ack = desk.next_matching("ack", |v| v["kind"] == "ack").await;
    assert_eq!(ack["status"], "accepted");
    assert_server_holds(&site, 1, false).await;
    assert_outbox_empty(&desk, 1).await;
}

#[tokio::test]
async fn sigterm_closes_the_session_keeps_the_outbox_and_exits_0() {
    let site = Site::start(ServerOptions::default()).await;
    let mut desk = site.desk("front-1").await;
    site.proxy.set_mode(Mode::Refuse);
    site.proxy.cut();
    desk.next_matching("leaving live", |v| v["kind"] == "state" && v["state"] != "live").await;
    desk.send_line("D0001").await;
    desk.next_matching("queued", |v| v["kind"] == "queued").await;
    desk.terminate();
    assert!(desk.wait_exit().await.success());
    let status = agent::status(&desk.data_dir).await;
    assert_eq!(status["pending"], 1, "the unsent scan is kept: {status}; desk printed {:#?}", desk.seen);

    site.proxy.set_mode(Mode::Pass);
    let mut desk =
        Agent::start(AgentOptions { extra_args: vec!["--drain-and-exit".into()], ..site.options("front-1", false) })
            .await;
    desk.close_stdin();
    assert!(desk.wait_exit().await.success(), "drained and exited 0");
    assert_eq!(desk.of_kind("ack").len(), 1);
    assert_server_holds(&site, 1, false).await;
}

#[tokio::test]
async fn drain_timeout_exits_3_with_entries_waiting() {
    let site = Site::start(ServerOptions::default()).await;
    site.proxy.set_mode(Mode::Refuse);
    let mut desk = Agent::start(AgentOptions {
        extra_args: vec!["--drain-and-exit".into(), "--drain-timeout".into(), "2".into()],
        ..site.options("front-1", true)
    })
    .await;
    // The desk never reached the server, so its member list is empty: a bare card would
    // be turned away (docs/protocol.md, "the turned-away policy"). Staff's override is what puts it in the outbox.
    desk.send_line(r#"{"check_in":{"card":"D0001","override":{"reason":"server down at opening"}}}"#).await;
    desk.close_stdin();
    assert_eq!(desk.wait_exit().await.code(), Some(3));
    assert_eq!(agent::status(&desk.data_dir).await["pending"], 1);
}

#[tokio::test]
async fn a_disabled_user_signs_the_desk_out_and_the_outbox_waits_for_the_next_sign_in() {
    let site = Site::start(ServerOptions::default()).await;
    let mut desk = site.desk("front-1").await;
    let manager = site.server.manager().await;
    let user_id = site.server.front_desk().await.user.id;

    let (status, _) = site
        .server
        .post(&manager.access_token, &format!("/users/{user_id}/disable"), &serde_json::json!({}), None)
        .await;
    assert_eq!(status, 204);
    desk.next_state("signed_out").await;
    desk.send_line("D0001").await;
    let queued = desk.next_matching("queued", |v| v["kind"] == "queued").await;
    assert_eq!(agent::status(&desk.data_dir).await["pending"], 1, "signed out, the scan is still kept");

    let (status, _) = site
        .server
        .post(&manager.access_token, &format!("/users/{user_id}/enable"), &serde_json::json!({}), None)
        .await;
    assert_eq!(status, 204);
    // "Retry now" at a signed-out turnstile signs in again with its configured account.
    desk.send_line(r#"{"retry_now":true}"#).await;
    desk.next_state("live").await;
    let ack = desk.next_matching("ack", |v| v["kind"] == "ack").await;
    assert_eq!((ack["op_id"].clone(), ack["status"].as_str()), (queued["op_id"].clone(), Some("accepted")));
    let visits = site.server.all_visits(&site.token().await).await;
    assert_eq!(visits.len(), 1);
    assert_eq!(visits[0]["scanned_by"], user_id.as_str(), "the scan keeps who made it");
    assert_outbox_empty(&desk, 1).await;
}

/// Reads the desk's refresh token from the keychain the way any Secret Service client can.
async fn keychain_refresh_token(server: &str, desk_id: &str) -> String {
    let out = tokio::process::Command::new("secret-tool")
        .args(["lookup", "service", "frontdesk", "username", &format!("{server}#{desk_id}")])
        .output()
        .await
        .expect("secret-tool (libsecret-tools) is installed");
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.len() >= 40, "the refresh token is in the keychain ({} chars)", token.len());
    token
}

fn assert_no_secrets(desk: &Agent, refresh: &str) {
    let mut texts = vec![desk.stderr()];
    texts.extend(desk.seen.iter().map(Value::to_string));
    for entry in walk(&desk.data_dir) {
        texts.push(String::from_utf8_lossy(&std::fs::read(entry).unwrap()).into_owned());
    }
    for text in &texts {
        assert!(!text.contains(refresh), "the refresh token leaked");
        assert!(!text.contains("eyJ0eXAiOiJKV1Qi") && !text.contains("eyJhbGciOi"), "an access token leaked");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
