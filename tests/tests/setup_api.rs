//! The `admin` and `members` HTTP extension against the real server with demo data and
//! real tokens: who may add and change members, staff and gyms (every refusal a 403 with
//! `{code, message}`); card replacement with history; renewals and freezes as the
//! check-in rules see them; the audit log; `member_updated` to every location; gyms
//! admitting only their own members; and bad bodies answered 400 naming the field, a
//! card in use 409 naming its holder.

use chrono::{Duration, Utc};
use frontdesk_tests::*;
use serde_json::{Value, json};

#[track_caller]
fn assert_error(context: &str, got: &(u16, Value), status: u16, code: &str) {
    let (got_status, body) = got;
    assert_eq!(*got_status, status, "{context}: status; body {body}");
    assert_eq!(body["code"], code, "{context}: code; body {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.trim().is_empty()),
        "{context}: the refusal needs a message a person can read; body {body}"
    );
}

#[track_caller]
fn assert_forbidden(context: &str, got: &(u16, Value)) {
    assert_error(context, got, 403, "forbidden");
}

/// 400 `invalid_request` whose message names one of `fields`.
#[track_caller]
fn assert_names_field(context: &str, got: &(u16, Value), fields: &[&str]) {
    assert_error(context, got, 400, "invalid_request");
    let message = got.1["message"].as_str().unwrap_or_default();
    assert!(fields.iter().any(|f| message.contains(f)), "{context}: the message should name {fields:?}: {message:?}");
}

fn day(days_from_today: i64) -> String {
    (Utc::now().date_naive() + Duration::days(days_from_today)).to_string()
}

async fn member_by_card(server: &Server, token: &str, card: &str) -> Value {
    let (status, found) = server.get(token, &format!("/members?q={card}")).await;
    assert_eq!(status, 200, "{found}");
    found.as_array().and_then(|l| l.iter().find(|m| m["card"] == card).cloned()).unwrap_or_else(|| panic!("no {card}"))
}

async fn user_id(server: &Server, admin: &str, username: &str) -> String {
    let (status, users) = server.get(admin, "/users").await;
    assert_eq!(status, 200, "{users}");
    let user = users.as_array().unwrap().iter().find(|u| u["username"] == username).cloned();
    user.unwrap_or_else(|| panic!("no user {username} in {users}"))["id"].as_str().unwrap().to_owned()
}

fn with_override(mut cmd: Value, reason: &str) -> Value {
    cmd["override"] = json!({ "reason": reason });
    cmd
}

#[tokio::test]
async fn front_desk_staff_add_and_edit_members_but_not_memberships_staff_or_gyms() {
    let server = Server::start().await;
    let fd = server.front_desk().await.access_token;
    let admin = server.login("admin", "admin-demo").await.access_token;
    let manager_id = user_id(&server, &admin, "manager").await;
    let fd_id = user_id(&server, &admin, "frontdesk").await;
    let expired = member_by_card(&server, &fd, "D0181").await;
    let expired_id = expired["id"].as_str().unwrap();

    // Refused to front-desk staff: memberships, staff accounts, gyms.
    let refusals = [
        (
            "renew",
            server
                .call("POST", &fd, &format!("/members/{expired_id}/renew"), Some(&json!({"valid_until": day(30)})))
                .await,
        ),
        ("freeze", server.call("POST", &fd, &format!("/members/{expired_id}/freeze"), Some(&json!({}))).await),
        ("unfreeze", server.call("POST", &fd, &format!("/members/{expired_id}/unfreeze"), None).await),
        (
            "POST /users",
            server
                .call(
                    "POST",
                    &fd,
                    "/users",
                    Some(&json!({"username": "newbie", "name": "New Bie", "role": "front_desk",
                                 "locations": ["demo"], "password": "long-enough-1"})),
                )
                .await,
        ),
        (
            "PATCH /users (another)",
            server.call("PATCH", &fd, &format!("/users/{manager_id}"), Some(&json!({"name": "M"}))).await,
        ),
        (
            "PATCH /users (self)",
            server.call("PATCH", &fd, &format!("/users/{fd_id}"), Some(&json!({"role": "manager"}))).await,
        ),
        (
            "POST /users/{id}/password",
            server
                .call("POST", &fd, &format!("/users/{manager_id}/password"), Some(&json!({"password": "taken-over-1"})))
                .await,
        ),
        ("POST /locations", server.call("POST", &fd, "/locations", Some(&json!({"id": "east", "name": "East"}))).await),
        ("PATCH /locations", server.call("PATCH", &fd, "/locations/demo", Some(&json!({"capacity": 10}))).await),
    ];
    for (what, got) in &refusals {
        assert_forbidden(&format!("front desk: {what}"), got);
    }
    // … and nothing of it happened.
    assert_eq!(member_by_card(&server, &fd, "D0181").await["status"], "expired");
    server.login("manager", "manager-demo").await;
    let (status, locations) = server.get(&admin, "/locations").await;
    assert_eq!(status, 200, "{locations}");
    let demo = locations.as_array().unwrap().iter().find(|l| l["id"] == "demo").cloned().expect("demo");
    assert_eq!(demo["capacity"], 150, "{demo}");
    assert!(!locations.as_array().unwrap().iter().any(|l| l["id"] == "east"), "{locations}");
    let (_, me) = server.get(&admin, "/users").await;
    assert_eq!(me.as_array().unwrap().iter().find(|u| u["username"] == "frontdesk").unwrap()["role"], "front_desk");

    // Allowed: a walk-in at their gym (every location hears of it), contact details, a new card.
    let mgr = server.manager().await.access_token;
    let mut at_demo = server.connect(&fd).await;
    let mut at_north = server.connect_at(&mgr, "north").await;
    let (_, page) = server.get(&fd, "/members/sync?limit=5000").await;
    let cursor = page["cursor"].as_str().unwrap().to_owned();
    let walk_in = json!({"name": "Walk In", "card": "W0001", "valid_until": day(30), "home_location_id": "demo"});
    let (status, created) = server.call("POST", &fd, "/members", Some(&walk_in)).await;
    assert_eq!(status, 201, "front desk adds a walk-in at their gym: {created}");
    assert_eq!((created["card"].as_str(), created["status"].as_str()), (Some("W0001"), Some("active")), "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    for ws in [&mut at_demo, &mut at_north] {
        let event = ws.event_of_kind("member_updated").await;
        assert_eq!(event["member"]["id"], id.as_str(), "member_updated carries the member: {event}");
    }
    let (_, page) = server.get(&fd, &format!("/members/sync?after={cursor}")).await;
    assert!(
        page["members"].as_array().unwrap().iter().any(|m| m["id"] == id.as_str()),
        "the walk-in moves the sync cursor: {page}"
    );
    let elsewhere = json!({"name": "Not Mine", "card": "W0900", "valid_until": day(30), "home_location_id": "north"});
    assert_forbidden(
        "front desk: a member of a gym they do not work at",
        &server.call("POST", &fd, "/members", Some(&elsewhere)).await,
    );

    let (status, edited) = server
        .call(
            "PATCH",
            &fd,
            &format!("/members/{id}"),
            Some(&json!({"phone": "+44 1632 960000", "email": "walk@in.example"})),
        )
        .await;
    assert_eq!(status, 200, "front desk edits contact details: {edited}");
    assert_eq!(
        (edited["phone"].as_str(), edited["email"].as_str()),
        (Some("+44 1632 960000"), Some("walk@in.example"))
    );
    assert_eq!(edited["valid_until"], walk_in["valid_until"], "contact edits leave the membership alone");
    at_demo.event_of_kind("member_updated").await;

    let (status, replaced) = server
        .call("POST", &fd, &format!("/members/{id}/card"), Some(&json!({"card": "W0002", "reason": "lost"})))
        .await;
    assert_eq!(status, 200, "front desk replaces a card: {replaced}");
    assert_eq!(replaced["card"], "W0002");
    let (status, body) = server.http_check_in(&fd, &check_in("W0001")).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("member_not_found")), "the old card: {body}");
    assert!(
        body["message"].as_str().unwrap_or_default().contains("replaced"),
        "the message says it was replaced: {body}"
    );
    assert_eq!(body["overridable"], false, "{body}");
    let (status, body) = server.http_check_in(&fd, &check_in("W0002")).await;
    assert_eq!(status, 201, "the new card: {body}");
    let (status, cards) = server.get(&fd, &format!("/members/{id}/cards")).await;
    assert_eq!(status, 200, "{cards}");
    let cards = cards.as_array().cloned().unwrap();
    assert_eq!(cards.len(), 2, "{cards:?}");
    assert_eq!((cards[0]["card"].as_str(), cards[0]["retired_at"].is_null()), (Some("W0002"), true), "{cards:?}");
    assert_eq!((cards[1]["card"].as_str(), cards[1]["retired_at"].is_null()), (Some("W0001"), false), "{cards:?}");
    assert_eq!(cards[1]["reason"], "lost", "{cards:?}");

    // Member changes are audited at the member's gym.
    let (status, audit) = server.get(&mgr, "/audit?location=demo").await;
    assert_eq!(status, 200, "{audit}");
    let about: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["member"] == id.as_str())
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert_eq!(about, ["member_created", "member_updated", "card_replaced"], "{audit}");
    for entry in audit.as_array().unwrap().iter().filter(|a| a["member"] == id.as_str()) {
        assert_eq!(entry["user"], "frontdesk", "{entry}");
    }
    at_demo.close().await;
    at_north.close().await;
}

#[tokio::test]
async fn managers_act_only_for_their_own_gyms() {
    let server = Server::start().await;
    let admin = server.login("admin", "admin-demo").await.access_token;
    let mgr = server.manager().await.access_token;
    let fd_id = user_id(&server, &admin, "frontdesk").await;
    let admin_id = user_id(&server, &admin, "admin").await;
    let demo_member = member_by_card(&server, &admin, "D0050").await;
    let demo_member_id = demo_member["id"].as_str().unwrap();

    // An admin makes a manager for north only.
    let new_manager = json!({"username": "north-mgr", "name": "North Manager", "role": "manager",
                             "locations": ["north"], "password": "north-manager-pass"});
    let (status, created) = server.call("POST", &admin, "/users", Some(&new_manager)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!((created["role"].as_str(), created["locations"].clone()), (Some("manager"), json!(["north"])));
    assert!(created.get("password_hash").is_none() && created.get("password").is_none(), "{created}");
    let north = server.login("north-mgr", "north-manager-pass").await.access_token;

    let renew = json!({"valid_until": day(365)});
    assert_forbidden(
        "north manager renews a demo member",
        &server.call("POST", &north, &format!("/members/{demo_member_id}/renew"), Some(&renew)).await,
    );
    assert_forbidden(
        "north manager freezes a demo member",
        &server.call("POST", &north, &format!("/members/{demo_member_id}/freeze"), Some(&json!({}))).await,
    );
    let at_demo = json!({"name": "Sneaky", "card": "N0001", "valid_until": day(30), "home_location_id": "demo"});
    assert_forbidden(
        "north manager adds a member at demo",
        &server.call("POST", &north, "/members", Some(&at_demo)).await,
    );
    let make_admin = json!({"username": "boss", "name": "Boss", "role": "admin", "locations": ["north"], "password": "boss-password-1"});
    assert_forbidden("north manager makes an admin", &server.call("POST", &north, "/users", Some(&make_admin)).await);
    assert_forbidden("a two-gym manager makes an admin", &server.call("POST", &mgr, "/users", Some(&make_admin)).await);
    let grant_demo = json!({"username": "both", "name": "Both", "role": "front_desk", "locations": ["north", "demo"],
                            "password": "both-password-1"});
    assert_forbidden("north manager grants demo", &server.call("POST", &north, "/users", Some(&grant_demo)).await);
    assert_forbidden(
        "north manager resets a demo receptionist's password",
        &server
            .call("POST", &north, &format!("/users/{fd_id}/password"), Some(&json!({"password": "taken-over-1"})))
            .await,
    );
    assert_forbidden(
        "north manager renames a demo receptionist",
        &server.call("PATCH", &north, &format!("/users/{fd_id}"), Some(&json!({"name": "X"}))).await,
    );
    assert_forbidden(
        "a manager changes an admin",
        &server.call("PATCH", &mgr, &format!("/users/{admin_id}"), Some(&json!({"name": "X"}))).await,
    );
    assert_forbidden(
        "a manager resets an admin's password",
        &server
            .call("POST", &mgr, &format!("/users/{admin_id}/password"), Some(&json!({"password": "taken-over-1"})))
            .await,
    );
    assert_forbidden(
        "a manager adds a gym",
        &server.call("POST", &mgr, "/locations", Some(&json!({"id": "east", "name": "East"}))).await,
    );
    assert_forbidden(
        "north manager changes demo's settings",
        &server.call("PATCH", &north, "/locations/demo", Some(&json!({"capacity": 10}))).await,
    );

    // What the north manager may do: staff of north, north's settings.
    let north_desk = json!({"username": "north-desk", "name": "North Desk", "role": "front_desk", "locations": ["north"],
                            "password": "north-desk-pass"});
    let (status, desk) = server.call("POST", &north, "/users", Some(&north_desk)).await;
    assert_eq!(status, 201, "a manager adds a receptionist at their gym: {desk}");
    let desk_id = desk["id"].as_str().unwrap().to_owned();
    assert_forbidden(
        "north manager moves their receptionist to demo",
        &server
            .call("PATCH", &north, &format!("/users/{desk_id}"), Some(&json!({"locations": ["north", "demo"]})))
            .await,
    );
    assert_forbidden(
        "north manager promotes their receptionist to admin",
        &server.call("PATCH", &north, &format!("/users/{desk_id}"), Some(&json!({"role": "admin"}))).await,
    );
    let (status, renamed) =
        server.call("PATCH", &north, &format!("/users/{desk_id}"), Some(&json!({"name": "North Front Desk"}))).await;
    assert_eq!((status, renamed["name"].as_str()), (200, Some("North Front Desk")), "{renamed}");
    let (status, _) = server
        .call("POST", &north, &format!("/users/{desk_id}/password"), Some(&json!({"password": "north-desk-pass-2"})))
        .await;
    assert_eq!(status, 204);
    server.login("north-desk", "north-desk-pass-2").await;
    let (status, patched) = server.call("PATCH", &north, "/locations/north", Some(&json!({"capacity": 61}))).await;
    assert_eq!((status, patched["capacity"].as_i64()), (200, Some(61)), "{patched}");
    // Nothing refused above happened.
    assert_eq!(member_by_card(&server, &admin, "D0050").await["valid_until"], demo_member["valid_until"]);
    let (_, users) = server.get(&admin, "/users").await;
    let names: Vec<&str> = users.as_array().unwrap().iter().filter_map(|u| u["username"].as_str()).collect();
    assert!(!names.contains(&"boss") && !names.contains(&"both"), "{names:?}");
    server.login("frontdesk", "frontdesk-demo").await;
}

#[tokio::test]
async fn renewals_freezes_and_home_gyms_are_what_check_ins_see() {
    let server = Server::start().await;
    let fd = server.front_desk().await.access_token;
    let mgr = server.manager().await.access_token;

    // Renewing the expired D0181 lets them in.
    let (status, body) = server.http_check_in(&fd, &check_in("D0181")).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("membership_expired")), "{body}");
    let expired = member_by_card(&server, &fd, "D0181").await;
    let id = expired["id"].as_str().unwrap();
    let until = day(365);
    let (status, renewed) =
        server.call("POST", &mgr, &format!("/members/{id}/renew"), Some(&json!({"valid_until": until}))).await;
    assert_eq!(status, 200, "{renewed}");
    assert_eq!((renewed["status"].as_str(), renewed["valid_until"].as_str()), (Some("active"), Some(until.as_str())));
    let (status, body) = server.http_check_in(&fd, &check_in("D0181")).await;
    assert_eq!(status, 201, "a renewed member checks in: {body}");

    // A freeze turns them away; lifting it lets them in.
    let active = member_by_card(&server, &fd, "D0010").await;
    let id10 = active["id"].as_str().unwrap();
    let (status, frozen) =
        server.call("POST", &mgr, &format!("/members/{id10}/freeze"), Some(&json!({"reason": "knee injury"}))).await;
    assert_eq!((status, frozen["status"].as_str()), (200, Some("frozen")), "{frozen}");
    let (status, body) = server.http_check_in(&fd, &check_in("D0010")).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("membership_frozen")), "{body}");
    let (status, unfrozen) = server.call("POST", &mgr, &format!("/members/{id10}/unfreeze"), None).await;
    assert_eq!((status, unfrozen["status"].as_str()), (200, Some("active")), "{unfrozen}");
    let (status, body) = server.http_check_in(&fd, &check_in("D0010")).await;
    assert_eq!(status, 201, "an unfrozen member checks in: {body}");

    let (status, audit) = server.get(&mgr, "/audit?location=demo").await;
    assert_eq!(status, 200, "{audit}");
    let entries = audit.as_array().unwrap();
    let action_of = |member: &str, action: &str| {
        entries.iter().find(|a| a["member"] == member && a["action"] == action && a["user"] == "manager").cloned()
    };
    let renewal = action_of(id, "member_renewed").unwrap_or_else(|| panic!("renewal audited: {audit}"));
    assert!(renewal["reason"].as_str().unwrap_or_default().contains(&until), "{renewal}");
    let freeze = action_of(id10, "member_frozen").unwrap_or_else(|| panic!("freeze audited: {audit}"));
    assert!(freeze["reason"].as_str().unwrap_or_default().contains("knee injury"), "{freeze}");
    assert!(action_of(id10, "member_unfrozen").is_some(), "unfreeze audited: {audit}");

    // north admits only its own members: a demo member is turned away there, overridably.
    let (status, north) =
        server.call("PATCH", &mgr, "/locations/north", Some(&json!({"admits_other_gyms": false}))).await;
    assert_eq!((status, north["admits_other_gyms"].as_bool()), (200, Some(false)), "{north}");
    let d20 = member_by_card(&server, &mgr, "D0020").await;
    assert_eq!(d20["home_location_id"], "demo", "{d20}");
    let (status, body) = server.http_check_in(&mgr, &check_in_at("north", "D0020")).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("home_gym_only")), "{body}");
    assert_eq!(body["overridable"], true, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("demo"), "{body}");
    let (status, body) =
        server.http_check_in(&mgr, &with_override(check_in_at("north", "D0020"), "visiting from demo")).await;
    assert_eq!(status, 201, "the rule is overridable with a reason: {body}");
    assert!(!body["check_in"]["override"].is_null(), "the visit is marked overridden: {body}");
    let (status, audit) = server.get(&mgr, "/audit?location=north").await;
    assert_eq!(status, 200, "{audit}");
    assert!(
        audit.as_array().unwrap().iter().any(|a| a["action"] == "override" && a["rule"] == "home_gym_only"),
        "the override is audited with its rule: {audit}"
    );
    // Demo still admits everyone's members; north's own settings change back.
    let (status, north) =
        server.call("PATCH", &mgr, "/locations/north", Some(&json!({"admits_other_gyms": true}))).await;
    assert_eq!((status, north["admits_other_gyms"].as_bool()), (200, Some(true)), "{north}");
    let (status, body) = server.http_check_in(&mgr, &check_in_at("north", "D0021")).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn bad_bodies_name_the_field_and_a_card_in_use_names_its_holder() {
    let server = Server::start().await;
    let fd = server.front_desk().await.access_token;
    let mgr = server.manager().await.access_token;
    let admin = server.login("admin", "admin-demo").await.access_token;
    let holder = member_by_card(&server, &fd, "D0001").await;
    let other = member_by_card(&server, &fd, "D0002").await;
    let other_id = other["id"].as_str().unwrap();

    let member = |patch: Value| {
        let mut m = json!({"name": "New Member", "card": "V0001", "valid_until": day(30), "home_location_id": "demo"});
        for (k, v) in patch.as_object().unwrap() {
            m[k] = v.clone();
        }
        m
    };
    let members_before = server.get(&fd, "/members/sync?limit=5000").await.1["members"].as_array().unwrap().len();
    for (what, body, fields) in [
        ("valid_until soon", member(json!({"valid_until": "soon"})), &["valid_until"][..]),
        ("valid_until missing", json!({"name": "N", "card": "V0001", "home_location_id": "demo"}), &["valid_until"]),
        ("a card with a space", member(json!({"card": "V 0001"})), &["card"]),
        ("an empty name", member(json!({"name": "  "})), &["name"]),
        ("a bad e-mail", member(json!({"email": "not-an-address"})), &["mail", "email"]),
        ("valid_until years ago", member(json!({"valid_until": "2001-01-01"})), &["valid_until"]),
        ("an unknown home gym", member(json!({"home_location_id": "nowhere"})), &["home_location_id"]),
    ] {
        let got = server.call("POST", &admin, "/members", Some(&body)).await;
        assert_names_field(&format!("POST /members, {what}"), &got, fields);
    }
    let got = server.call("POST", &fd, "/members", Some(&member(json!({"card": "D0001"})))).await;
    assert_error("POST /members with a card in use", &got, 409, "conflict");
    let name = holder["name"].as_str().unwrap();
    assert!(got.1["message"].as_str().unwrap().contains(name), "409 names the holder {name:?}: {}", got.1);
    let members_after = server.get(&fd, "/members/sync?limit=5000").await.1["members"].as_array().unwrap().len();
    assert_eq!(members_after, members_before, "no refused member was created");

    let got = server.call("POST", &fd, &format!("/members/{other_id}/card"), Some(&json!({"card": "D0001"}))).await;
    assert_error("a replacement card in use", &got, 409, "conflict");
    assert!(got.1["message"].as_str().unwrap().contains(name), "409 names the holder {name:?}: {}", got.1);
    let got = server.call("POST", &fd, &format!("/members/{other_id}/card"), Some(&json!({"card": "A B"}))).await;
    assert_names_field("a replacement card with a space", &got, &["card"]);
    assert_eq!(member_by_card(&server, &fd, "D0002").await["id"], other_id, "D0002 kept its card");
    let got = server.call("PATCH", &fd, &format!("/members/{other_id}"), Some(&json!({"email": "nope"}))).await;
    assert_names_field("PATCH /members with a bad e-mail", &got, &["mail", "email"]);
    let got =
        server.call("POST", &mgr, &format!("/members/{other_id}/renew"), Some(&json!({"valid_until": "soon"}))).await;
    assert_names_field("renew until soon", &got, &["valid_until"]);
    let got = server
        .call("POST", &mgr, &format!("/members/{other_id}/freeze"), Some(&json!({"from": day(10), "until": day(5)})))
        .await;
    assert_names_field("a freeze ending before it starts", &got, &["until"]);
    let got = server.call("POST", &fd, "/members/no-such-id/card", Some(&json!({"card": "Z0001"}))).await;
    assert_error("a card for nobody", &got, 404, "not_found");

    let location = |patch: Value| {
        let mut l = json!({"id": "east", "name": "East Gym"});
        for (k, v) in patch.as_object().unwrap() {
            l[k] = v.clone();
        }
        l
    };
    for (what, body, fields) in [
        ("time_zone Mars/Base", location(json!({"time_zone": "Mars/Base"})), &["time_zone", "time zone"][..]),
        ("capacity 0", location(json!({"capacity": 0})), &["capacity"]),
        ("capacity as text", location(json!({"capacity": "lots"})), &["capacity"]),
        ("an id with spaces", location(json!({"id": "east side"})), &["id"]),
        ("no name", json!({"id": "east"}), &["name"]),
    ] {
        let got = server.call("POST", &admin, "/locations", Some(&body)).await;
        assert_names_field(&format!("POST /locations, {what}"), &got, fields);
    }
    let got = server.call("POST", &admin, "/locations", Some(&location(json!({"id": "north"})))).await;
    assert_error("POST /locations with an id in use", &got, 409, "conflict");
    let got = server.call("PATCH", &mgr, "/locations/north", Some(&json!({"capacity": 0}))).await;
    assert_names_field("PATCH /locations capacity 0", &got, &["capacity"]);
    let got = server.call("PATCH", &mgr, "/locations/north", Some(&json!({"time_zone": "Mars/Base"}))).await;
    assert_names_field("PATCH /locations time_zone", &got, &["time_zone", "time zone"]);
    let (_, locations) = server.get(&admin, "/locations").await;
    let north = locations.as_array().unwrap().iter().find(|l| l["id"] == "north").cloned().unwrap();
    assert_eq!((north["capacity"].as_i64(), north["time_zone"].as_str()), (Some(60), Some("UTC")), "{north}");
    assert!(!locations.as_array().unwrap().iter().any(|l| l["id"] == "east"), "{locations}");

    let user = json!({"username": "newbie", "name": "New Bie", "role": "front_desk", "locations": ["demo"],
                      "password": "long-enough-1"});
    let mut short = user.clone();
    short["password"] = json!("short");
    assert_names_field(
        "POST /users, short password",
        &server.call("POST", &mgr, "/users", Some(&short)).await,
        &["password"],
    );
    let mut no_role = user.clone();
    no_role.as_object_mut().unwrap().remove("role");
    assert_names_field("POST /users, no role", &server.call("POST", &mgr, "/users", Some(&no_role)).await, &["role"]);
    let mut bad_role = user.clone();
    bad_role["role"] = json!("boss");
    assert_names_field(
        "POST /users, role boss",
        &server.call("POST", &mgr, "/users", Some(&bad_role)).await,
        &["role"],
    );
    let mut nowhere = user.clone();
    nowhere["locations"] = json!(["nowhere"]);
    assert_names_field(
        "POST /users, unknown gym",
        &server.call("POST", &mgr, "/users", Some(&nowhere)).await,
        &["locations"],
    );
    let mut spaced = user.clone();
    spaced["username"] = json!("new bie");
    assert_names_field(
        "POST /users, a space in the username",
        &server.call("POST", &mgr, "/users", Some(&spaced)).await,
        &["username"],
    );
    let mut taken = user.clone();
    taken["username"] = json!("frontdesk");
    assert_error(
        "POST /users, a username in use",
        &server.call("POST", &mgr, "/users", Some(&taken)).await,
        409,
        "conflict",
    );
    let fd_id = user_id(&server, &admin, "frontdesk").await;
    assert_names_field(
        "a password reset too short",
        &server.call("POST", &mgr, &format!("/users/{fd_id}/password"), Some(&json!({"password": "x"}))).await,
        &["password"],
    );
    server.login("frontdesk", "frontdesk-demo").await;
}
