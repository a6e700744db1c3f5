//! The desktop app as a receptionist and a manager use it: the real `frontdesk` binary
//! driven through WebDriver (tauri-driver + WebKitWebDriver under Xvfb), against the real
//! server, a real headless agent at a second desk and the real keychain. Every step
//! leaves a screenshot in test-artifacts/app_e2e/.

use std::time::{Duration, Instant};

use frontdesk_tests::agent::{Agent, AgentOptions};
use frontdesk_tests::app::{App, artifacts_dir};
use frontdesk_tests::proxy::Proxy;
use frontdesk_tests::{PATIENCE, Server};

/// Waits until a desk's cached member list holds `card` as `check` wants it (the desk
/// took the `member_updated` event); returns the cached member.
async fn wait_for_cached(
    data_dir: &std::path::Path,
    card: &str,
    check: impl Fn(&frontdesk_protocol::Member) -> bool,
) -> frontdesk_protocol::Member {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let cached =
            frontdesk_desk::outbox::Outbox::open(data_dir).ok().and_then(|o| o.roster_by_card(card).ok().flatten());
        if let Some(member) = cached.filter(|m| check(m)) {
            return member;
        }
        assert!(Instant::now() < deadline, "the desk at {} did not cache the change of {card}", data_dir.display());
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
    // The app reaches the server through a proxy that can block WebSocket upgrades, as a
    // gym's firewall might.
    let proxy = Proxy::start(&server.addr).await;
    let dirs = tempfile::tempdir().unwrap();
    let app_data = dirs.path().join("front-1");
    let env = [
        ("FRONTDESK_SERVER", proxy.url()),
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
    frontdesk_tests::agent::wait_for_roster(&app_data, 200).await;
    server.terminate();
    server.wait_exit().await;
    proxy.go_down().await;
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

    // A front-desk PC's 1366x768 screen, offline with scans waiting (the fullest screen):
    // the verdict, the banner with its retry button, the waiting list and the figures all
    // show, nothing cut off, nothing scrolling sideways.
    app.resize(1366, 768).await;
    let cut = app
        .cut_off(&[
            "scan-input",
            "scan-result",
            "connection-state",
            "retry-now",
            "sign-out",
            "outbox-count",
            "stats-occupancy",
            "stats-today",
            "stats-avg-stay",
            "add-member",
        ])
        .await;
    assert!(cut.is_empty(), "at 1366x768 something is cut off: {cut:?}");
    let banner = app.text("connection-state").await;
    assert!(!banner.to_lowercase().contains("queue"), "no implementation words for staff: {banner}");
    app.shot("1366x768-offline-with-saved-scans").await;

    // The server is back: all three confirmed, stats updated, banner live.
    server.restart_same_port().await;
    proxy.come_back().await;
    app.click("retry-now").await;
    app.wait_attr("connection-state", "data-state", "live").await;
    app.wait_text("outbox-count", "0").await;
    app.wait_text("stats-today", "5").await;
    app.wait_text("stats-occupancy", "5").await;
    app.shot("back-online-confirmed").await;
    assert!(app.all("retry-now", &[]).await.is_empty(), "no \"retry now\" while live");

    // Something on the network blocks WebSocket upgrades: the desk works over its HTTP
    // backup link, the banner says so, and a scan is still answered by the server.
    proxy.block_upgrades(true);
    proxy.cut();
    app.wait_attr("connection-state", "data-state", "http_fallback").await;
    let banner = app.text("connection-state").await;
    assert!(banner.contains("backup link"), "the banner names the backup link: {banner}");
    let text = scan_expect(&app, "D0184", "rejected").await;
    assert!(text.to_lowercase().contains("expired"), "the server's answer over HTTP: {text}");
    let panel = app.wait("scan-result").await;
    let op = panel.attr("data-op-id").await.unwrap().filter(|id| !id.is_empty());
    assert!(op.is_some(), "sent to the server and answered by it, not judged from the cached list");
    app.shot("http-fallback-banner").await;
    proxy.block_upgrades(false);
    app.click("retry-now").await;
    app.wait_attr("connection-state", "data-state", "live").await;
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

    // A walk-in. "Add member" opens the form over the result panel; Esc closes it and
    // the scan field has the focus again.
    app.click("add-member").await;
    app.wait_focused("member-name").await;
    app.press("\u{E00C}").await;
    app.wait_gone("member-form").await;
    app.wait_focused("scan-input").await;
    // A card nobody has: turned away, with "add as new member" for that card.
    let text = scan_expect(&app, "W0001", "rejected").await;
    assert!(text.contains("W0001"), "the unknown card is named: {text}");
    app.click("add-scanned-member").await;
    app.wait_value("member-card", "W0001").await;
    app.shot("walk-in-form-opened-from-unknown-card").await;
    // Saving without a name says what is missing, and saves nothing.
    app.click("member-save").await;
    let (_, problem) =
        app.wait_until("member-form-error", "data-testid", "a form error", |_, t| !t.trim().is_empty()).await;
    assert!(problem.to_lowercase().contains("name"), "the error names the missing field: {problem}");
    app.type_into("member-name", "Wanda Walker").await;
    app.type_into("member-phone", "+44 20 7946 0999").await;
    let until = (chrono::Utc::now().date_naive() + chrono::Days::new(365)).to_string();
    app.retype("member-valid-until", &until).await;
    app.shot("walk-in-form-filled").await;
    app.click("member-save").await;
    let (_, text) = app
        .wait_until("scan-result", "data-status", "the walk-in checked in", |s, t| {
            s == Some("accepted") && t.contains("Wanda Walker")
        })
        .await;
    assert!(!text.is_empty());
    app.wait_text("stats-today", "7").await;
    app.shot("walk-in-checked-in").await;
    let token = server.front_desk().await.access_token;
    let (status, found) = server.get(&token, "/members?q=W0001").await;
    assert_eq!(status, 200, "{found}");
    let wanda = found.as_array().and_then(|m| m.iter().find(|m| m["card"] == "W0001")).expect("the walk-in is stored");
    assert_eq!(wanda["name"], "Wanda Walker", "{wanda}");
    assert_eq!(wanda["phone"], "+44 20 7946 0999", "{wanda}");
    assert_eq!(wanda["valid_until"], until.as_str(), "{wanda}");
    assert_eq!(wanda["home_location_id"], "demo", "{wanda}");
    let visits = server.all_visits(&token).await;
    let walk_ins: Vec<_> = visits.iter().filter(|v| v["card"] == "W0001").collect();
    assert_eq!(walk_ins.len(), 1, "the walk-in's visit is recorded once: {visits:?}");
    assert_eq!(walk_ins[0]["member"]["name"], "Wanda Walker", "{walk_ins:?}");
    // The other desk learnt of the new member from the event, without a sync.
    wait_for_cached(&dirs.path().join("front-2"), "W0001", |m| m.name == "Wanda Walker").await;

    // A card read while the override reason has the focus is a scan, not text: the
    // reader's code and Enter go to the scan, the reason field does not submit it as a
    // reason, and the member turned away is not let in by it.
    let text = scan_expect(&app, "D0183", "rejected").await;
    assert!(text.to_lowercase().contains("expired"), "{text}");
    app.click("let-in-anyway").await;
    app.wait_focused("override-reason").await;
    app.type_into("override-reason", "D0010\u{E007}").await;
    let reader = member_name(&server, "D0010").await;
    app.wait_until("scan-result", "data-status", "the card read as a scan", |s, t| {
        s == Some("accepted") && t.contains(&reader)
    })
    .await;
    app.wait_gone("override-reason").await;
    app.wait_focused("scan-input").await;
    app.shot("card-read-into-override-reason-is-a-scan").await;
    let visits = server.all_visits(&token).await;
    assert_eq!(visits.iter().filter(|v| v["card"] == "D0010").count(), 1, "{visits:?}");
    assert!(!visits.iter().any(|v| v["card"] == "D0183"), "the reader's code was not an override reason: {visits:?}");

    // A manager renews an expired member from the result panel: the next scan lets
    // them in, and the other desk's cached list has the renewal at once (so it would
    // let them in offline too).
    // Signing out ends the app's live session at once (the agent's stays), and the
    // next user's scans are theirs.
    app.click("sign-out").await;
    server.wait_sessions_open(1.0).await;
    sign_in(&app, "manager", "manager-demo").await;
    app.wait_attr("connection-state", "data-state", "live").await;
    server.wait_sessions_open(2.0).await;
    let text = scan_expect(&app, "D0181", "rejected").await;
    assert!(text.to_lowercase().contains("expired"), "{text}");
    app.click("renew-member").await;
    let renewed_until = (chrono::Utc::now().date_naive() + chrono::Days::new(180)).to_string();
    app.retype("renew-date", &renewed_until).await;
    app.shot("manager-renews-expired-member").await;
    app.click("renew-submit").await;
    let (_, done) =
        app.wait_until("member-action-done", "data-testid", "the renewal confirmed", |_, t| !t.is_empty()).await;
    assert!(done.contains(&renewed_until), "the panel says until when: {done}");
    let today = chrono::Utc::now().date_naive();
    let expected_until = chrono::NaiveDate::parse_from_str(&renewed_until, "%Y-%m-%d").unwrap();
    let cached =
        wait_for_cached(&dirs.path().join("front-2"), "D0181", |m| m.valid_until == Some(expected_until)).await;
    let verdict = frontdesk_desk::offline::judge(Some(&cached), today);
    assert_eq!(verdict.provisional, frontdesk_desk::Provisional::Accepted, "offline, the other desk lets them in");
    scan_expect(&app, "D0181", "accepted").await;
    app.shot("renewed-member-accepted").await;
    let manager = server.manager().await;
    let visits = server.all_visits(&manager.access_token).await;
    let renewed = visits.iter().find(|v| v["card"] == "D0181").expect("the renewed member's visit");
    assert_eq!(renewed["recorded_by"], manager.user.id.as_str(), "{renewed}");
    assert_eq!(renewed["scanned_by"], manager.user.id.as_str(), "attribution follows the user: {renewed}");

    // The admin screen lists the staff and the gyms; a manager adds a front-desk account.
    app.click("nav-admin").await;
    app.wait("admin-users").await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let users = app.all("admin-user-row", &["data-username"]).await;
        let gyms = app.all("admin-location-row", &["data-location-id"]).await;
        let has_user = |u: &str| users.iter().any(|(a, _)| a[0].as_deref() == Some(u));
        let has_gym = |g: &str| gyms.iter().any(|(a, _)| a[0].as_deref() == Some(g));
        if has_user("frontdesk") && has_user("manager") && has_gym("demo") && has_gym("north") {
            break;
        }
        assert!(Instant::now() < deadline, "the admin screen lists staff and gyms: {users:?} {gyms:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.type_into("new-user-username", "sam.evening").await;
    app.type_into("new-user-name", "Sam Evening").await;
    app.type_into("new-user-password", "sam-evening-pass").await;
    app.click("new-user-submit").await;
    app.wait_css("[data-testid=\"admin-user-row\"][data-username=\"sam.evening\"]").await;
    app.shot("admin-screen-staff-added").await;
    let sam = server.login("sam.evening", "sam-evening-pass").await;
    assert!(!sam.access_token.is_empty());

    // The manager view lists both desks, online, nothing queued.
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
