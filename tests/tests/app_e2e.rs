//! The desktop app as a receptionist and a manager use it: the real `frontdesk` binary
//! driven through WebDriver (tauri-driver + WebKitWebDriver under Xvfb), against the real
//! server, a real headless agent at a second desk and the real keychain. Every step
//! leaves a screenshot in test-artifacts/app_e2e/.

use std::time::{Duration, Instant};

use frontdesk_tests::agent::{Agent, AgentOptions};
use frontdesk_tests::app::{App, artifacts_dir};
use frontdesk_tests::{PATIENCE, Server};

/// The member list must be cached before the server goes away, or offline scans are
/// (rightly) "unverified". Reads the app's own store, which WAL lets a reader share.
async fn wait_for_roster(data_dir: &std::path::Path, members: i64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(outbox) = frontdesk_desk::outbox::Outbox::open(data_dir)
            && outbox.roster_size().unwrap_or(0) >= members
        {
            return;
        }
        assert!(Instant::now() < deadline, "the app did not cache the member list");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn member_name(server: &Server, card: &str) -> String {
    let token = server.front_desk().await.access_token;
    let (status, body) = server.get(&token, &format!("/members?q={card}")).await;
    assert_eq!(status, 200, "{body}");
    body[0]["name"].as_str().expect("member name").to_owned()
}

async fn sign_in(app: &App, username: &str, password: &str) {
    let user = app.wait("signin-username").await;
    user.clear().await.unwrap();
    user.send_keys(username).await.unwrap();
    let pass = app.wait("signin-password").await;
    pass.clear().await.unwrap();
    pass.send_keys(password).await.unwrap();
    app.click("signin-submit").await;
}

/// Scans a card and waits for the result panel to show this scan (a new op id, or a
/// new status) with `status`; returns the panel's text.
async fn scan_expect(app: &App, card: &str, status: &str) -> String {
    let before = app.wait("scan-result").await.attr("data-op-id").await.ok().flatten();
    app.scan(card).await;
    app.wait_until("scan-result", "data-status", &format!("{card} shown as {status}"), |s, _| s == Some(status)).await;
    // The op id changes with every queued scan; a turned-away one has none.
    if status != "rejected" && status != "unknown" {
        let deadline = Instant::now() + PATIENCE;
        while app.wait("scan-result").await.attr("data-op-id").await.ok().flatten() == before {
            assert!(Instant::now() < deadline, "the result panel did not change for {card}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    app.text("scan-result").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_desk_and_manager_through_the_real_app() {
    frontdesk_tests::app::require_desktop();
    let mut server = Server::start().await;
    let dirs = tempfile::tempdir().unwrap();
    let app_data = dirs.path().join("front-1");
    let env = [
        ("FRONTDESK_SERVER", server.base()),
        ("FRONTDESK_DESK_ID", "front-1".to_owned()),
        ("FRONTDESK_LOCATION", "demo".to_owned()),
        ("FRONTDESK_DATA_DIR", app_data.display().to_string()),
        // No user configuration from the machine running the tests.
        ("XDG_CONFIG_HOME", dirs.path().join("config").display().to_string()),
        ("FRONTDESK_LOG", "info".to_owned()),
    ];
    let mut app = App::launch(&env, artifacts_dir("app_e2e")).await;

    // Sign in: a wrong password says so in words, then the right one opens the desk.
    app.wait("signin-username").await;
    app.shot("sign-in-form").await;
    sign_in(&app, "frontdesk", "not-the-password").await;
    let (_, error) =
        app.wait_until("signin-error", "data-testid", "a sign-in error", |_, text| !text.trim().is_empty()).await;
    assert!(error.to_lowercase().contains("password"), "the error should say the password is wrong: {error}");
    app.shot("sign-in-wrong-password").await;
    sign_in(&app, "frontdesk", "frontdesk-demo").await;
    app.wait("scan-input").await;
    app.wait_attr("connection-state", "data-state", "live").await;
    app.shot("signed-in-live").await;

    // An active card: accepted, with the member's name.
    let ada = member_name(&server, "D0001").await;
    let text = scan_expect(&app, "D0001", "accepted").await;
    assert!(text.contains(&ada), "the result panel names the member: {text}");
    app.wait_text("stats-today", "1").await;
    app.shot("active-card-accepted").await;

    // An expired card: rejected, with the reason.
    let text = scan_expect(&app, "D0181", "rejected").await;
    assert!(text.to_lowercase().contains("expired"), "the reason is shown: {text}");
    app.shot("expired-card-rejected").await;

    // The server stops: the banner says offline.
    wait_for_roster(&app_data, 200).await;
    server.terminate();
    server.wait_exit().await;
    app.wait_attr("connection-state", "data-state", "offline").await;
    app.shot("server-stopped-offline").await;

    // Three scans while offline: shown as queued, three waiting in the outbox.
    for card in ["D0002", "D0003", "D0004"] {
        scan_expect(&app, card, "queued").await;
    }
    app.wait_text("outbox-count", "3").await;
    app.shot("three-scans-queued").await;

    // Offline, an expired member is turned away from the cached list and not queued;
    // "let in anyway" with a reason queues it as an override.
    let text = scan_expect(&app, "D0182", "rejected").await;
    assert!(text.to_lowercase().contains("expired"), "the cached reason is shown offline: {text}");
    let panel = app.wait("scan-result").await;
    assert_eq!(panel.attr("data-op-id").await.unwrap().filter(|id| !id.is_empty()), None, "nothing was queued");
    let pending = frontdesk_desk::outbox::Outbox::open(&app_data).unwrap().counts().unwrap().pending;
    assert_eq!(pending, 3, "a member the cached list turns away is not queued without an override");
    app.click("let-in-anyway").await;
    app.type_into("override-reason", "renewed at the counter").await;
    app.click("override-submit").await;
    app.wait_attr("scan-result", "data-status", "queued").await;
    app.wait_text("outbox-count", "4").await;
    app.shot("offline-override-queued").await;

    // The server is back: all three confirmed, stats updated, banner live.
    server.restart_same_port().await;
    app.click("retry-now").await;
    app.wait_attr("connection-state", "data-state", "live").await;
    app.wait_text("outbox-count", "0").await;
    app.wait_text("stats-today", "5").await;
    app.wait_text("stats-occupancy", "5").await;
    app.shot("back-online-confirmed").await;
    let token = server.front_desk().await.access_token;
    let visits = server.all_visits(&token).await;
    let mut cards: Vec<&str> = visits.iter().filter_map(|v| v["card"].as_str()).collect();
    cards.sort();
    assert_eq!(cards, ["D0001", "D0002", "D0003", "D0004", "D0182"], "each scan recorded exactly once: {visits:?}");
    let overridden = visits.iter().find(|v| v["card"] == "D0182").unwrap();
    assert_eq!(overridden["override"]["reason"], "renewed at the counter", "{overridden}");
    assert_eq!(overridden["queued"], true, "{overridden}");

    // A headless agent at a second desk checks a member in: it appears in the app's feed.
    let mut agent = Agent::start(AgentOptions {
        server: server.base(),
        desk_id: "front-2".into(),
        data_dir: dirs.path().join("front-2"),
        credentials: Some(("frontdesk".into(), "frontdesk-demo".into())),
        extra_args: vec![],
    })
    .await;
    agent.next_state("live").await;
    agent.send_line("D0005").await;
    let ack = &agent.acks(1).await[0];
    assert_eq!(ack["status"], "accepted", "{ack}");
    let grace = member_name(&server, "D0005").await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let items = app.all("activity-item", &["data-seq"]).await;
        if items.iter().any(|(_, text)| text.contains(&grace) && text.contains("front-2")) {
            break;
        }
        assert!(Instant::now() < deadline, "the agent's check-in of {grace} did not reach the feed: {items:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.wait_text("stats-today", "6").await;
    app.shot("second-desk-in-feed").await;

    // The manager view lists both desks, online, nothing queued.
    app.click("sign-out").await;
    sign_in(&app, "manager", "manager-demo").await;
    app.wait_attr("connection-state", "data-state", "live").await;
    app.click("nav-manager").await;
    app.wait("manager-desks").await;
    let deadline = Instant::now() + PATIENCE;
    let rows = loop {
        let rows = app.all("desk-row", &["data-desk-id", "data-online", "data-queued"]).await;
        let online = |id: &str| {
            rows.iter().any(|(a, _)| {
                a[0].as_deref() == Some(id) && a[1].as_deref() == Some("true") && a[2].as_deref() == Some("0")
            })
        };
        if online("front-1") && online("front-2") {
            break rows;
        }
        assert!(Instant::now() < deadline, "manager view should list front-1 and front-2 online: {rows:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(rows.len(), 2, "only the two desks of this location: {rows:?}");
    app.shot("manager-view-desks").await;

    agent.terminate();
    agent.wait_exit().await;
    app.quit().await;
}
