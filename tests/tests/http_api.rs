//! The HTTP API against the real server: sign-in, token refresh and refusals, members,
//! the business rules of check-ins and check-outs, reviews, the automatic check-out,
//! bad input, administration and the operations endpoints (docs/protocol.md "HTTP API",
//! docs/server.md).

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, SubsecRound, Utc};
use frontdesk_tests::*;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Sends a request and returns status, headers and the body as JSON (a non-JSON body
/// comes back as a JSON string, so `body["code"]` is then null and checks fail).
async fn call(req: reqwest::RequestBuilder) -> (u16, HeaderMap, Value) {
    let r = req.send().await.expect("HTTP request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("response body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, headers, body)
}

/// Asserts an error answer: the status and `{code, message}` with a non-empty message.
#[track_caller]
fn assert_error(context: &str, got: (u16, &Value), status: u16, code: &str) {
    let (got_status, body) = got;
    assert_eq!(got_status, status, "{context}: status; body {body}");
    assert_eq!(body["code"], code, "{context}: code; body {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.trim().is_empty()),
        "{context}: the error needs a message a receptionist can read; body {body}"
    );
}

async fn login_raw(server: &Server, username: &str, password: &str) -> (u16, HeaderMap, Value) {
    call(
        server
            .http
            .post(server.api("/auth/login"))
            .json(&json!({"username": username, "password": password, "device_name": "http-api-test"})),
    )
    .await
}

async fn refresh(server: &Server, refresh_token: &str) -> (u16, Value) {
    let (status, _, body) =
        call(server.http.post(server.api("/auth/refresh")).json(&json!({"refresh_token": refresh_token}))).await;
    (status, body)
}

async fn post_raw(server: &Server, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let (status, _, body) = call(server.http.post(server.api(path)).bearer_auth(token).json(body)).await;
    (status, body)
}

fn op_of(cmd: &Value) -> Uuid {
    cmd["op_id"].as_str().expect("op_id").parse().expect("uuid")
}

async fn http_check_out(server: &Server, token: &str, cmd: &Value) -> (u16, Value) {
    server.post(token, "/check-outs", cmd, Some(op_of(cmd))).await
}

/// A time in the past, whole seconds, so the stored (millisecond) value is exact.
fn ago(d: Duration) -> DateTime<Utc> {
    (Utc::now() - d).trunc_subsecs(0)
}

fn queued_check_in(card: &str, occurred_at: DateTime<Utc>) -> Value {
    let mut cmd = check_in(card);
    cmd["queued"] = json!(true);
    cmd["occurred_at"] = json!(occurred_at.to_rfc3339());
    cmd
}

#[track_caller]
fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a timestamp, got {v}")))
        .unwrap_or_else(|e| panic!("{v} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

#[track_caller]
fn date(v: &Value) -> NaiveDate {
    v.as_str().unwrap_or_else(|| panic!("a date, got {v}")).parse().unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// The member with this card, via search.
async fn member_by_card(server: &Server, token: &str, card: &str) -> Value {
    let (status, found) = server.get(token, &format!("/members?q={card}")).await;
    assert_eq!(status, 200, "{found}");
    found
        .as_array()
        .and_then(|a| a.iter().find(|m| m["card"] == card))
        .cloned()
        .unwrap_or_else(|| panic!("no member with card {card} in {found}"))
}

/// Upgrade refusals are plain HTTP answers with a JSON body; no socket opens.
async fn ws_refused(server: &Server, token: &str) -> (u16, Value) {
    let req = ws_request(&server.ws_url("location=demo"), Some(token), Some("frontdesk.v1"));
    match tokio_tungstenite::connect_async(req).await {
        Ok(_) => panic!("the upgrade should have been refused"),
        Err(tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_ref()
                .map(|b| serde_json::from_slice(b).unwrap_or(Value::String(String::from_utf8_lossy(b).into())))
                .unwrap_or(Value::Null);
            (status, body)
        }
        Err(other) => panic!("expected an HTTP refusal of the upgrade, got {other}"),
    }
}

/// Base64url without padding, for hand-made tokens.
fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Reads frames until an event of `kind` about visit `visit_id` arrives.
async fn event_for(ws: &mut Ws, kind: &str, visit_id: &str) -> Value {
    loop {
        let frame = ws.next().await;
        let v = match frame {
            Frame::Json(v) => v,
            other => panic!("the session ended while waiting for {kind} of {visit_id}: {other:?}"),
        };
        if v["type"] == "event" && v["kind"] == kind && v["check_in"]["id"] == visit_id {
            return v;
        }
    }
}

// ---------------------------------------------------------------------------------------
// 1. Authentication
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn login_answers_the_documented_shape_and_refuses_wrong_credentials() {
    let server = Server::start().await;

    let (status, _, body) = login_raw(&server, "frontdesk", "frontdesk-demo").await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().expect("access_token");
    let refresh_token = body["refresh_token"].as_str().expect("refresh_token");
    assert!(!access.is_empty());
    // At least 256 random bits: 43 characters of base64, or more in any other encoding.
    assert!(refresh_token.len() >= 43, "refresh token too short for 256 bits: {} chars", refresh_token.len());
    assert_ne!(access, refresh_token);
    assert_eq!(body["expires_in"], 900, "default access lifetime is 15 minutes: {body}");
    let user = &body["user"];
    assert!(user["id"].as_str().is_some_and(|s| !s.is_empty()), "{body}");
    assert!(user["name"].as_str().is_some_and(|s| !s.is_empty()), "{body}");
    assert_eq!(user["role"], "front_desk");
    assert_eq!(user["locations"], json!([LOCATION]));

    // The access token is an HS256 JWT with the claims of section 1.
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["frontdesk-desk"]);
    validation.set_issuer(&["frontdesk"]);
    let claims = jsonwebtoken::decode::<Value>(
        access,
        &jsonwebtoken::DecodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
        &validation,
    )
    .expect("the access token verifies with the server's secret")
    .claims;
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["role"], "front_desk");
    assert_eq!(claims["locs"], json!([LOCATION]));
    assert!(claims["jti"].as_str().is_some_and(|s| !s.is_empty()), "{claims}");
    let (iat, exp) = (claims["iat"].as_i64().expect("iat"), claims["exp"].as_i64().expect("exp"));
    assert_eq!(exp - iat, 900, "{claims}");

    // The token works.
    let (status, stats) = server.get(access, "/stats?location=demo").await;
    assert_eq!(status, 200, "{stats}");

    // Wrong password and unknown user: the same 401, with a sentence.
    let (status, _, body) = login_raw(&server, "frontdesk", "not-the-password").await;
    assert_error("wrong password", (status, &body), 401, "invalid_credentials");
    assert!(body.get("access_token").is_none(), "{body}");
    let (status, _, body) = login_raw(&server, "nobody-here", "frontdesk-demo").await;
    assert_error("unknown user", (status, &body), 401, "invalid_credentials");

    // Each role signs in with its own role.
    let (status, _, body) = login_raw(&server, "manager", "manager-demo").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["role"], "manager");
    let (status, _, body) = login_raw(&server, "admin", "admin-demo").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["role"], "admin");
}

#[tokio::test]
async fn login_is_throttled_after_the_maximum_failures_with_retry_after() {
    let server = Server::start_with(ServerOptions::default().env("FRONTDESK_LOGIN_MAX_FAILURES", 3)).await;
    for i in 0..3 {
        let (status, _, body) = login_raw(&server, "frontdesk", "wrong-password").await;
        assert_error(&format!("failure {i}"), (status, &body), 401, "invalid_credentials");
    }
    // Even the right password is refused during the lockout.
    let (status, headers, body) = login_raw(&server, "frontdesk", "frontdesk-demo").await;
    assert_error("after 3 failures", (status, &body), 429, "too_many_attempts");
    let retry = headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("429 needs a Retry-After header; headers {headers:?}"))
        .to_str()
        .expect("ascii")
        .trim()
        .parse::<u64>()
        .expect("Retry-After in whole seconds");
    assert!(retry >= 1, "Retry-After {retry}");
    assert!(body.get("access_token").is_none(), "{body}");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family_only() {
    let server = Server::start().await;
    let first = server.front_desk().await;
    // An independent sign-in (another desk): another family.
    let other = server.front_desk().await;

    let (status, r1) = refresh(&server, &first.refresh_token).await;
    assert_eq!(status, 200, "{r1}");
    let r1_refresh = r1["refresh_token"].as_str().expect("new refresh token").to_owned();
    let r1_access = r1["access_token"].as_str().expect("new access token").to_owned();
    assert_ne!(r1_refresh, first.refresh_token, "refresh tokens rotate on every use");
    assert_eq!(r1["user"]["id"], first.user.id.as_str());
    assert!(r1["expires_in"].as_u64().is_some_and(|s| s > 0), "{r1}");
    let (status, body) = server.get(&r1_access, "/stats?location=demo").await;
    assert_eq!(status, 200, "the refreshed access token works: {body}");

    let (status, r2) = refresh(&server, &r1_refresh).await;
    assert_eq!(status, 200, "{r2}");
    let r2_refresh = r2["refresh_token"].as_str().expect("refresh token").to_owned();
    assert_ne!(r2_refresh, r1_refresh);

    // The spent first token: refused, and the family is revoked (theft detection).
    let (status, body) = refresh(&server, &first.refresh_token).await;
    assert_error("reused refresh token", (status, &body), 401, "invalid_refresh_token");
    assert!(body.get("refresh_token").is_none(), "{body}");
    // So the newest token of that family no longer works either.
    let (status, body) = refresh(&server, &r2_refresh).await;
    assert_error("newest token of a revoked family", (status, &body), 401, "invalid_refresh_token");

    // The other sign-in is untouched.
    let (status, body) = refresh(&server, &other.refresh_token).await;
    assert_eq!(status, 200, "another family keeps working: {body}");
    assert_ne!(body["refresh_token"], other.refresh_token.as_str());

    // Garbage is refused the same way.
    let (status, body) = refresh(&server, "not-a-token").await;
    assert_error("unknown refresh token", (status, &body), 401, "invalid_refresh_token");
}

#[tokio::test]
async fn logout_ends_the_refresh_token_and_leaves_other_sign_ins() {
    let server = Server::start().await;
    let desk = server.front_desk().await;
    let other = server.front_desk().await;

    let (status, _, body) = call(
        server
            .http
            .post(server.api("/auth/logout"))
            .bearer_auth(&desk.access_token)
            .json(&json!({"refresh_token": desk.refresh_token})),
    )
    .await;
    assert_eq!(status, 204, "{body}");

    let (status, body) = refresh(&server, &desk.refresh_token).await;
    assert_error("refresh after logout", (status, &body), 401, "invalid_refresh_token");

    let (status, body) = refresh(&server, &other.refresh_token).await;
    assert_eq!(status, 200, "another sign-in survives a logout: {body}");
}

// ---------------------------------------------------------------------------------------
// 2. Access-token refusals, on HTTP and on the WebSocket upgrade
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_bad_access_token_is_refused_on_http_and_on_the_upgrade() {
    // The hand-made encoder is right (RFC 4648 test vectors, unpadded).
    assert_eq!(b64url(b"f"), "Zg");
    assert_eq!(b64url(b"fo"), "Zm8");
    assert_eq!(b64url(b"foobar"), "Zm9vYmFy");
    assert_eq!(b64url(&[0xfb, 0xff]), "-_8");

    let server = Server::start().await;
    let login = server.front_desk().await;
    let uid = login.user.id.as_str();
    let hs256 = jsonwebtoken::Algorithm::HS256;

    // Control: a forged token with the right secret and claims is accepted, so every
    // refusal below is down to the one thing changed.
    let good = forge_token(&claims_for(uid, "frontdesk"), hs256, TEST_JWT_SECRET);
    let (status, body) = server.get(&good, "/stats?location=demo").await;
    assert_eq!(status, 200, "a well-formed forged token must be accepted: {body}");
    let ws = server.connect(&good).await;
    ws.close().await;

    let now = Utc::now().timestamp();
    let with = |changes: Value| {
        let mut c = claims_for(uid, "frontdesk");
        for (k, v) in changes.as_object().expect("object") {
            c[k] = v.clone();
        }
        c
    };
    let none_header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", b64url(claims_for(uid, "frontdesk").to_string().as_bytes()));

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired 120 s ago",
            forge_token(&with(json!({"iat": now - 1000, "nbf": now - 1000, "exp": now - 120})), hs256, TEST_JWT_SECRET),
            "token_expired",
        ),
        (
            "not valid for 120 s",
            forge_token(&with(json!({"nbf": now + 120, "exp": now + 900})), hs256, TEST_JWT_SECRET),
            "invalid_token",
        ),
        (
            "wrong key",
            forge_token(&claims_for(uid, "frontdesk"), hs256, "another-secret-0123456789abcdef0123456789"),
            "invalid_token",
        ),
        ("alg none", alg_none, "invalid_token"),
        ("wrong aud", forge_token(&with(json!({"aud": "someone-else"})), hs256, TEST_JWT_SECRET), "invalid_token"),
        ("wrong iss", forge_token(&with(json!({"iss": "someone-else"})), hs256, TEST_JWT_SECRET), "invalid_token"),
        (
            "HS512 instead of HS256",
            forge_token(&claims_for(uid, "frontdesk"), jsonwebtoken::Algorithm::HS512, TEST_JWT_SECRET),
            "invalid_token",
        ),
    ];

    for (what, token, code) in &cases {
        let (status, body) = server.get(token, "/stats?location=demo").await;
        assert_error(&format!("HTTP, {what}"), (status, &body), 401, code);
        let (status, body) = ws_refused(&server, token).await;
        assert_error(&format!("WebSocket upgrade, {what}"), (status, &body), 401, code);
    }

    // No session was left open by any refusal.
    let metrics = server.metrics().await;
    assert_eq!(metric_sum(&metrics, "frontdesk_ws_sessions_open", &[]), 0.0, "{metrics}");
}

// ---------------------------------------------------------------------------------------
// 3. Members
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn members_are_found_by_name_card_and_phone_and_synced_in_pages() {
    let server = Server::start().await;
    let tokens = server.front_desk().await;
    let t = tokens.access_token.as_str();

    let cards = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("a list of members, got {v}"))
            .iter()
            .map(|m| m["card"].as_str().expect("card").to_owned())
            .collect()
    };

    // Partial name.
    let (status, found) = server.get(t, "/members?q=va%20Ande").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(cards(&found), ["D0001"], "only Ava Anders has \"va Ande\" in the name: {found}");
    assert_eq!(found[0]["name"], "Ava Anders");

    // Card, exact and partial.
    let (status, found) = server.get(t, "/members?q=D0042").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found[0]["card"], "D0042", "the exact card comes first: {found}");
    let d0042 = found[0].clone();
    // A partial card: every card starting with it. ("D004" also holds the digits "004",
    // so members whose phone contains them may match as well; nothing else may.)
    let (status, found) = server.get(t, "/members?q=D004").await;
    assert_eq!(status, 200, "{found}");
    let partial = cards(&found);
    for n in 40..50 {
        assert!(partial.contains(&card(n)), "{} missing from the search for D004: {found}", card(n));
    }
    for m in found.as_array().unwrap() {
        let d: String = m["phone"].as_str().unwrap_or("").chars().filter(char::is_ascii_digit).collect();
        assert!(m["card"].as_str().unwrap().starts_with("D004") || d.contains("004"), "{m} does not match D004");
    }

    // Phone digits, partial, whatever the formatting.
    let phone = d0042["phone"].as_str().expect("demo members have a phone");
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let tail = &digits[digits.len() - 7..];
    let (status, found) = server.get(t, &format!("/members?q={tail}")).await;
    assert_eq!(status, 200, "{found}");
    assert!(cards(&found).contains(&"D0042".to_owned()), "search by phone digits {tail}: {found}");
    for m in found.as_array().unwrap() {
        let d: String = m["phone"].as_str().unwrap_or("").chars().filter(char::is_ascii_digit).collect();
        assert!(d.contains(tail), "{m} does not match phone digits {tail}");
    }

    // limit.
    let (status, found) = server.get(t, "/members?q=Anders&limit=5").await;
    assert_eq!(status, 200, "{found}");
    let n = found.as_array().unwrap().len();
    assert!((1..=5).contains(&n), "limit=5 gave {n}: {found}");

    // Fetch by id.
    let id = d0042["id"].as_str().unwrap();
    let (status, member) = server.get(t, &format!("/members/{id}")).await;
    assert_eq!(status, 200, "{member}");
    assert_eq!(member["id"], id);
    assert_eq!(member["card"], "D0042");
    assert_eq!(member["name"], d0042["name"]);
    assert_eq!(member["status"], "active");
    let (status, body) = server.get(t, &format!("/members/{}", Uuid::new_v4())).await;
    assert_error("unknown member id", (status, &body), 404, "not_found");

    // The roster in pages of 50: every member once, then complete.
    let mut seen_ids = HashSet::new();
    let mut seen_cards = HashSet::new();
    let mut statuses = std::collections::HashMap::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages <= 10, "sync never completes");
        let path = match &cursor {
            None => "/members/sync?limit=50".to_owned(),
            Some(c) => format!("/members/sync?limit=50&after={c}"),
        };
        let (status, page) = server.get(t, &path).await;
        assert_eq!(status, 200, "{page}");
        let members = page["members"].as_array().unwrap_or_else(|| panic!("members in {page}"));
        assert!(members.len() <= 50, "page {pages} has {} members", members.len());
        for m in members {
            assert!(seen_ids.insert(m["id"].as_str().unwrap().to_owned()), "duplicate member {m}");
            seen_cards.insert(m["card"].as_str().unwrap().to_owned());
            statuses.insert(m["card"].as_str().unwrap().to_owned(), m["status"].clone());
        }
        cursor = Some(page["cursor"].as_str().unwrap_or_else(|| panic!("cursor in {page}")).to_owned());
        if page["complete"] == true {
            break;
        }
        assert_eq!(page["complete"], false, "{page}");
    }
    assert_eq!(seen_ids.len(), 200, "every demo member exactly once");
    let all_cards: HashSet<String> = (1..=200).map(card).collect();
    assert_eq!(seen_cards, all_cards);
    assert!(pages >= 4, "200 members at 50 a page cannot fit in {pages} pages");
    assert_eq!(statuses["D0001"], "active");
    assert_eq!(statuses["D0181"], "expired");
    assert_eq!(statuses["D0195"], "frozen");

    // Nothing changed since: the delta after the last cursor is empty and complete.
    let (status, page) = server.get(t, &format!("/members/sync?after={}", cursor.unwrap())).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["members"], json!([]), "{page}");
    assert_eq!(page["complete"], true, "{page}");

    // From the start without a limit: everything at once.
    let (status, page) = server.get(t, "/members/sync").await;
    assert_eq!(status, 200);
    assert_eq!(page["members"].as_array().unwrap().len(), 200);
    assert_eq!(page["complete"], true);

    let (status, body) = server.get(t, "/members/sync?after=not-a-cursor").await;
    assert_error("bad cursor", (status, &body), 400, "invalid_request");
}

// ---------------------------------------------------------------------------------------
// 4. Business rules
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn check_in_rules_duplicates_and_overrides() {
    let server = Server::start().await;
    let desk = server.front_desk().await;
    let manager = server.manager().await;
    let t = desk.access_token.as_str();

    // Active member: 201.
    let cmd = check_in("D0001");
    let (status, first) = server.http_check_in(t, &cmd).await;
    assert_eq!(status, 201, "{first}");
    assert_ne!(first["duplicate"], true, "{first}");
    let visit_id = first["check_in"]["id"].as_str().expect("check_in.id").to_owned();
    assert_eq!(first["check_in"]["member"]["name"], "Ava Anders");
    assert_eq!(first["check_in"]["desk_id"], "test-desk");
    assert_eq!(first["check_in"]["queued"], false);
    assert!(first["check_in"]["checked_out_at"].is_null(), "{first}");

    // The same op_id again: 200, the same visit, flagged duplicate.
    let (status, again) = server.http_check_in(t, &cmd).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["check_in"]["id"], visit_id.as_str());
    assert_eq!(again["check_in"]["checked_in_at"], first["check_in"]["checked_in_at"]);

    // Expired.
    let expired = check_in("D0181");
    let (status, body) = server.http_check_in(t, &expired).await;
    assert_error("expired member", (status, &body), 422, "membership_expired");
    assert_eq!(body["overridable"], true, "{body}");
    // A repeated rejected op_id gets the same answer, flagged duplicate.
    let (status, again) = server.http_check_in(t, &expired).await;
    assert_error("repeated rejection", (status, &again), 422, "membership_expired");
    assert_eq!(again["duplicate"], true, "{again}");
    // Even with an override added: an op_id is judged once, forever.
    let mut late_override = expired.clone();
    late_override["override"] = json!({"reason": "paid at desk"});
    let (status, again) = server.http_check_in(t, &late_override).await;
    assert_error("override on a spent op_id", (status, &again), 422, "membership_expired");
    assert_eq!(again["duplicate"], true, "{again}");

    // A location the user does not work at.
    let mut elsewhere = check_in("D0003");
    elsewhere["location_id"] = json!("elsewhere");
    let (status, body) = server.http_check_in(t, &elsewhere).await;
    assert_error("another location", (status, &body), 422, "location_forbidden");
    assert_eq!(body["overridable"], false, "{body}");

    // Frozen.
    let (status, body) = server.http_check_in(t, &check_in("D0195")).await;
    assert_error("frozen member", (status, &body), 422, "membership_frozen");
    assert_eq!(body["overridable"], true, "{body}");

    // Unknown card, and it cannot be overridden.
    let (status, body) = server.http_check_in(t, &check_in("ZZZ")).await;
    assert_error("unknown card", (status, &body), 422, "member_not_found");
    assert_eq!(body["overridable"], false, "{body}");
    let mut forced = check_in("ZZZ");
    forced["override"] = json!({"reason": "looked honest"});
    let (status, body) = server.http_check_in(t, &forced).await;
    assert_error("override of an unknown card", (status, &body), 422, "member_not_found");

    // Already in.
    let (status, body) = server.http_check_in(t, &check_in("D0001")).await;
    assert_error("second check-in", (status, &body), 422, "already_checked_in");
    assert_eq!(body["overridable"], false, "{body}");

    // Not in.
    let (status, body) = http_check_out(&server, t, &check_out("D0002")).await;
    assert_error("check-out of someone not in", (status, &body), 422, "not_checked_in");
    assert_eq!(body["overridable"], false, "{body}");

    // Override of an expired membership.
    let mut paid = check_in("D0182");
    paid["override"] = json!({"reason": "paid at desk"});
    let (status, body) = server.http_check_in(t, &paid).await;
    assert_eq!(status, 201, "{body}");
    let overridden = &body["check_in"];
    assert_eq!(overridden["override"]["reason"], "paid at desk", "{body}");
    assert_eq!(overridden["override"]["rule"], "membership_expired", "{body}");
    let d0182 = overridden["member"]["id"].as_str().expect("member id").to_owned();

    // The audit log has it (manager only).
    let (status, audit) = server.get(&manager.access_token, "/audit?location=demo").await;
    assert_eq!(status, 200, "{audit}");
    let entry = audit
        .as_array()
        .expect("audit list")
        .iter()
        .find(|e| e["action"] == "override")
        .unwrap_or_else(|| panic!("no override in the audit log: {audit}"));
    assert_eq!(entry["rule"], "membership_expired", "{entry}");
    assert_eq!(entry["reason"], "paid at desk", "{entry}");
    assert_eq!(entry["member"], d0182.as_str(), "{entry}");
    assert_eq!(entry["user"], "frontdesk", "{entry}");
    assert_eq!(entry["desk_id"], "test-desk", "{entry}");
    assert!(entry["at"].as_str().is_some(), "{entry}");
    let (status, body) = server.get(t, "/audit?location=demo").await;
    assert_error("audit as front desk", (status, &body), 403, "forbidden");

    // Check-out by visit id, then the member is no longer in.
    let mut out = check_out("D0001");
    out.as_object_mut().unwrap().remove("member");
    out["check_in_id"] = json!(visit_id);
    let (status, body) = http_check_out(&server, t, &out).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["check_in"]["id"], visit_id.as_str());
    assert!(body["check_in"]["checked_out_at"].is_string(), "{body}");
    assert!(body["check_in"]["stay_minutes"].is_i64(), "a check-out reports stay_minutes: {body}");
    let (status, body) = http_check_out(&server, t, &check_out("D0001")).await;
    assert_error("second check-out", (status, &body), 422, "not_checked_in");

    // Exactly the accepted visits were stored: D0001 and D0182.
    let visits = server.all_visits(t).await;
    assert_eq!(visits.len(), 2, "{visits:?}");
}

#[tokio::test]
async fn queued_check_ins_are_judged_at_occurred_at_and_unknown_cards_wait_for_review() {
    let server = Server::start().await;
    let desk = server.front_desk().await;
    let manager = server.manager().await;
    let t = desk.access_token.as_str();
    let m = manager.access_token.as_str();

    // D0181's membership ended some days ago, after the scan time used below (which is
    // within the server's bound for queued scans, 7 days by default).
    let occurred_at = ago(Duration::days(5));
    let d0181 = member_by_card(&server, t, "D0181").await;
    let (status, d0181) = server.get(t, &format!("/members/{}", d0181["id"].as_str().unwrap())).await;
    assert_eq!(status, 200, "{d0181}");
    let valid_until = date(&d0181["valid_until"]);
    assert_eq!(d0181["status"], "expired", "{d0181}");
    assert!(valid_until > occurred_at.date_naive(), "the demo member must still have been valid then: {d0181}");

    // Today it is refused ...
    let (status, body) = server.http_check_in(t, &check_in("D0181")).await;
    assert_error("live scan of an expired member", (status, &body), 422, "membership_expired");
    // ... but the scan that waited in an offline outbox since a day it was valid is kept,
    // at the time it happened.
    let cmd = queued_check_in("D0181", occurred_at);
    let (status, body) = server.http_check_in(t, &cmd).await;
    assert_eq!(status, 201, "a queued scan from when the membership was valid is accepted: {body}");
    let v = &body["check_in"];
    assert_eq!(time(&v["checked_in_at"]), occurred_at, "the visit time is occurred_at: {body}");
    assert_eq!(v["queued"], true, "{body}");
    assert_ne!(v["needs_review"], true, "{body}");
    let d0181_visit = v["id"].as_str().unwrap().to_owned();

    // The other way round: a queued scan from after the membership ended is refused.
    let d0184 = member_by_card(&server, t, "D0184").await;
    let late = ago(Duration::days(5));
    assert!(date(&d0184["valid_until"]) < late.date_naive(), "{d0184}");
    let (status, body) = server.http_check_in(t, &queued_check_in("D0184", late)).await;
    assert_error("queued scan after the membership ended", (status, &body), 422, "membership_expired");

    // An unknown card scanned offline: accepted, flagged for review, never dropped.
    let unknown = queued_check_in("X-UNKNOWN-77", ago(Duration::minutes(10)));
    let (status, body) = server.http_check_in(t, &unknown).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["check_in"]["needs_review"], true, "{body}");
    assert!(body["check_in"]["member"].is_null(), "{body}");
    let review_id = body["check_in"]["id"].as_str().unwrap().to_owned();

    let (status, list) = server.get(t, "/check-ins?location=demo&needs_review=true").await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [review_id.as_str()], "only the unverified visit waits for review: {list}");

    // A desk is watching.
    let mut ws = server.connect(t).await;

    let path = format!("/check-ins/{review_id}/review");
    let decision = json!({"decision": "void", "note": "card not ours"});
    let (status, body) = post_raw(&server, t, &path, &decision).await;
    assert_error("review as front desk", (status, &body), 403, "forbidden");
    let (status, body) = post_raw(&server, m, &path, &decision).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post_raw(&server, m, &path, &decision).await;
    assert_eq!(status, 409, "a second decision on the same visit: {body}");
    assert!(body["code"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
    assert!(body["message"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
    // A visit that never needed review cannot be decided either.
    let (status, body) = post_raw(&server, m, &format!("/check-ins/{d0181_visit}/review"), &decision).await;
    assert!((400..500).contains(&status) && status != 404, "a visit that needs no review: {status} {body}");
    assert!(body["code"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
    let (status, body) = post_raw(&server, m, &format!("/check-ins/{}/review", Uuid::new_v4()), &decision).await;
    assert_error("review of an unknown visit", (status, &body), 404, "not_found");

    let event = event_for(&mut ws, "visit_reviewed", &review_id).await;
    assert!(event["seq"].as_i64().is_some(), "{event}");

    let (status, list) = server.get(t, "/check-ins?location=demo&needs_review=true").await;
    assert_eq!(status, 200);
    assert_eq!(list, json!([]), "the decided visit no longer waits: {list}");

    let (status, audit) = server.get(m, "/audit?location=demo").await;
    assert_eq!(status, 200, "{audit}");
    assert!(
        audit.as_array().unwrap().iter().any(|e| e["action"] == "review_void" && e["user"] == "manager"),
        "the review decision is audited: {audit}"
    );
}

#[tokio::test]
async fn live_scans_are_judged_now_and_old_queued_scans_wait_for_review() {
    let server = Server::start().await;
    let desk = server.front_desk().await;
    let t = desk.access_token.as_str();

    // D0183's membership ended 9 days ago. A live scan that claims to have happened a
    // month ago (a desk clock, or a forged field) is judged now: refused.
    let mut backdated = check_in("D0183");
    backdated["occurred_at"] = json!(ago(Duration::days(30)).to_rfc3339());
    let (status, body) = server.http_check_in(t, &backdated).await;
    assert_error("a backdated live scan of an expired member", (status, &body), 422, "membership_expired");

    // The same scan, queued a month ago: older than the bound, so it is neither judged
    // by the rules of that day nor refused, but kept for a manager's review.
    let (status, body) = server.http_check_in(t, &queued_check_in("D0183", ago(Duration::days(30)))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["check_in"]["needs_review"], true, "an old queued scan waits for review: {body}");

    // A live check-in is recorded at the server's time, not the desk's.
    let before = Utc::now();
    let mut live = check_in("D0010");
    live["occurred_at"] = json!(ago(Duration::hours(3)).to_rfc3339());
    let (status, body) = server.http_check_in(t, &live).await;
    assert_eq!(status, 201, "{body}");
    assert!(time(&body["check_in"]["checked_in_at"]) >= before - Duration::seconds(1), "{body}");
}

#[tokio::test]
async fn stats_follow_check_ins_and_check_outs() {
    let server = Server::start().await;
    let desk = server.front_desk().await;
    let t = desk.access_token.as_str();

    let stats = server.stats(t).await;
    assert_eq!((stats["occupancy"].as_i64(), stats["today_total"].as_i64()), (Some(0), Some(0)), "{stats}");

    let (status, body) = server.http_check_in(t, &check_in("D0010")).await;
    assert_eq!(status, 201, "{body}");
    let stats = server.stats(t).await;
    assert_eq!((stats["occupancy"].as_i64(), stats["today_total"].as_i64()), (Some(1), Some(1)), "{stats}");

    let (status, body) = server.http_check_in(t, &check_in("D0011")).await;
    assert_eq!(status, 201, "{body}");
    let stats = server.stats(t).await;
    assert_eq!((stats["occupancy"].as_i64(), stats["today_total"].as_i64()), (Some(2), Some(2)), "{stats}");

    let out = check_out("D0010");
    let (status, body) = http_check_out(&server, t, &out).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["check_in"]["stay_minutes"], 0, "{body}");
    assert!(body["check_in"]["checked_out_at"].is_string(), "{body}");
    let stats = server.stats(t).await;
    assert_eq!((stats["occupancy"].as_i64(), stats["today_total"].as_i64()), (Some(1), Some(2)), "{stats}");

    let (status, open) = server.get(t, "/check-ins?location=demo&open=true").await;
    assert_eq!(status, 200, "{open}");
    let open: Vec<&str> =
        open.as_array().unwrap().iter().map(|v| v["member"]["name"].as_str().unwrap_or("?")).collect();
    assert_eq!(open.len(), 1, "only D0011 is still in: {open:?}");
    let (status, today) = server.get(t, "/check-ins?location=demo").await;
    assert_eq!(status, 200, "{today}");
    assert_eq!(today.as_array().unwrap().len(), 2, "today's visits, open or not: {today}");

    // A repeated check-out changes nothing.
    let (status, body) = http_check_out(&server, t, &out).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["duplicate"], true, "{body}");
    assert_eq!(server.stats(t).await, stats);

    // Rejections change nothing.
    let (status, _) = server.http_check_in(t, &check_in("D0181")).await;
    assert_eq!(status, 422);
    assert_eq!(server.stats(t).await, stats);

    // A visit of 90 minutes (scanned offline) reports its stay on check-out.
    let (status, body) = server.http_check_in(t, &queued_check_in("D0012", ago(Duration::minutes(90)))).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = http_check_out(&server, t, &check_out("D0012")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["check_in"]["stay_minutes"], 90, "{body}");
    let stats = server.stats(t).await;
    assert_eq!(stats["occupancy"], 1, "{stats}");
    assert_eq!(stats["avg_stay_minutes"], 45, "average of a 0- and a 90-minute stay: {stats}");
}

// ---------------------------------------------------------------------------------------
// 5. Automatic check-out after the maximum stay
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn visits_left_open_are_closed_after_the_maximum_stay() {
    let server = Server::start_with(ServerOptions::default().env("FRONTDESK_SWEEP_INTERVAL_MS", 100)).await;
    let desk = server.front_desk().await;
    let t = desk.access_token.as_str();
    let mut ws = server.connect(t).await;

    let occurred_at = ago(Duration::hours(5));
    let (status, body) = server.http_check_in(t, &queued_check_in("D0005", occurred_at)).await;
    assert_eq!(status, 201, "{body}");
    let visit_id = body["check_in"]["id"].as_str().unwrap().to_owned();
    assert_eq!(time(&body["check_in"]["checked_in_at"]), occurred_at);

    let event = event_for(&mut ws, "member_checked_out", &visit_id).await;
    assert_eq!(event["auto"], true, "{event}");
    let expected_out = occurred_at + Duration::hours(4);
    assert_eq!(time(&event["check_in"]["checked_out_at"]), expected_out, "{event}");
    assert_eq!(event["check_in"]["stay_minutes"], 240, "{event}");
    assert_eq!(event["stats"]["occupancy"], 0, "{event}");

    let visits = server.all_visits(t).await;
    let visit = visits.iter().find(|v| v["id"] == visit_id.as_str()).expect("the visit is listed");
    assert_eq!(time(&visit["checked_out_at"]), expected_out, "{visit}");
    assert_eq!(server.stats(t).await["occupancy"], 0);
    // It is closed once, not again at every sweep: a fresh check-in now is accepted.
    let (status, body) = server.http_check_in(t, &check_in("D0005")).await;
    assert_eq!(status, 201, "{body}");
}

// ---------------------------------------------------------------------------------------
// 6. Bad input
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn bad_requests_are_refused_with_the_field_named_and_store_nothing() {
    let server = Server::start().await;
    let desk = server.front_desk().await;
    let t = desk.access_token.as_str();

    // Missing field.
    let mut missing = check_in("D0001");
    missing.as_object_mut().unwrap().remove("desk_id");
    let reused_op = op_of(&missing);
    let (status, body) = server.http_check_in(t, &missing).await;
    assert_error("missing desk_id", (status, &body), 400, "invalid_request");
    assert!(body["message"].as_str().unwrap().contains("desk_id"), "the message names the field: {body}");

    let mut missing = check_in("D0001");
    missing.as_object_mut().unwrap().remove("occurred_at");
    let (status, body) = server.http_check_in(t, &missing).await;
    assert_error("missing occurred_at", (status, &body), 400, "invalid_request");
    assert!(body["message"].as_str().unwrap().contains("occurred_at"), "{body}");

    // Wrong types.
    let mut wrong = check_in("D0001");
    wrong["queued"] = json!("yes");
    let (status, body) = server.http_check_in(t, &wrong).await;
    assert_error("queued as a string", (status, &body), 400, "invalid_request");
    assert!(body["message"].as_str().unwrap().contains("queued"), "{body}");
    let mut wrong = check_in("D0001");
    wrong["occurred_at"] = json!("yesterday");
    let (status, body) = server.http_check_in(t, &wrong).await;
    assert_error("occurred_at not a time", (status, &body), 400, "invalid_request");
    assert!(body["message"].as_str().unwrap().contains("occurred_at"), "{body}");
    let mut wrong = check_out("D0001");
    wrong["desk_id"] = json!(17);
    let (status, body) = http_check_out(&server, t, &wrong).await;
    assert_error("check-out desk_id as a number", (status, &body), 400, "invalid_request");
    assert!(body["message"].as_str().unwrap().contains("desk_id"), "{body}");
    let mut wrong = check_in("D0001");
    wrong["member"] = json!({});
    let (status, body) = server.http_check_in(t, &wrong).await;
    assert_error("member without card or id", (status, &body), 400, "invalid_request");
    assert!(body["message"].as_str().unwrap().contains("member"), "{body}");

    // No Idempotency-Key.
    let (status, body) = server.post(t, "/check-ins", &check_in("D0001"), None).await;
    assert_error("no Idempotency-Key", (status, &body), 400, "invalid_request");
    let (status, body) = server.post(t, "/check-outs", &check_out("D0001"), None).await;
    assert_error("no Idempotency-Key on a check-out", (status, &body), 400, "invalid_request");

    // op_id and Idempotency-Key disagree.
    let (status, body) = server.post(t, "/check-ins", &check_in("D0001"), Some(Uuid::new_v4())).await;
    assert_error("op_id differs from the header", (status, &body), 400, "invalid_request");

    // Not JSON at all.
    let (status, _, body) = call(
        server
            .http
            .post(server.api("/check-ins"))
            .bearer_auth(t)
            .header("Idempotency-Key", Uuid::new_v4().to_string())
            .header("Content-Type", "application/json")
            .body("{\"type\": \"check_in\", oops"),
    )
    .await;
    assert_error("body not JSON", (status, &body), 400, "invalid_request");
    let (status, _, body) = call(
        server
            .http
            .post(server.api("/check-ins"))
            .bearer_auth(t)
            .header("Idempotency-Key", Uuid::new_v4().to_string())
            .body("[1, 2, 3]"),
    )
    .await;
    assert_error("body a JSON array", (status, &body), 400, "invalid_request");

    // Unknown routes and methods: JSON errors too.
    for path in ["/api/v1/no-such-thing", "/no-such-thing", "/api/v1/members/x/y/z"] {
        let (status, headers, body) = call(server.http.get(format!("{}{path}", server.base())).bearer_auth(t)).await;
        assert_error(&format!("GET {path}"), (status, &body), 404, "not_found");
        let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(ct.starts_with("application/json"), "GET {path}: content type {ct:?}");
    }
    for (method, path) in [
        (reqwest::Method::DELETE, "/api/v1/check-ins"),
        (reqwest::Method::GET, "/api/v1/check-outs"),
        (reqwest::Method::PUT, "/api/v1/auth/login"),
    ] {
        let (status, headers, body) =
            call(server.http.request(method.clone(), format!("{}{path}", server.base())).bearer_auth(t)).await;
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert!(body["code"].as_str().is_some_and(|c| !c.is_empty()), "{method} {path}: JSON {{code}}: {body}");
        assert!(body["message"].as_str().is_some_and(|c| !c.is_empty()), "{method} {path}: {body}");
        let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(ct.starts_with("application/json"), "{method} {path}: content type {ct:?}");
    }

    // No Authorization.
    let (status, _, body) = call(server.http.get(server.api("/stats?location=demo"))).await;
    assert_error("GET without Authorization", (status, &body), 401, "invalid_token");
    let cmd = check_in("D0001");
    let (status, _, body) = call(
        server.http.post(server.api("/check-ins")).header("Idempotency-Key", cmd["op_id"].as_str().unwrap()).json(&cmd),
    )
    .await;
    assert_eq!(status, 401, "POST without Authorization: {body}");
    assert_eq!(body["code"], "invalid_token", "{body}");
    let (status, _, body) = call(server.http.get(server.api("/members?q=D0001")).header("Authorization", t)).await;
    assert_eq!(status, 401, "a token without the Bearer scheme: {body}");

    // Nothing was stored by any of it.
    assert_eq!(server.all_visits(t).await, Vec::<Value>::new());
    let stats = server.stats(t).await;
    assert_eq!((stats["occupancy"].as_i64(), stats["today_total"].as_i64()), (Some(0), Some(0)), "{stats}");

    // And no op_id was spent by a refused request: the first one, now well-formed, is
    // applied for the first time. Unknown fields are ignored.
    let mut good = check_in("D0001");
    good["op_id"] = json!(reused_op.to_string());
    good["favourite_colour"] = json!("teal");
    let (status, body) = server.http_check_in(t, &good).await;
    assert_eq!(status, 201, "{body}");
    assert_ne!(body["duplicate"], true, "{body}");
    assert_eq!(server.all_visits(t).await.len(), 1);
}

// ---------------------------------------------------------------------------------------
// 7. Administration
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn managers_list_disable_and_enable_users() {
    let server = Server::start().await;
    let manager = server.manager().await;
    let desk = server.front_desk().await;
    let m = manager.access_token.as_str();

    let (status, users) = server.get(m, "/users").await;
    assert_eq!(status, 200, "{users}");
    let list = users.as_array().unwrap_or_else(|| panic!("a list of users: {users}"));
    let mut names: Vec<&str> = list.iter().map(|u| u["username"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["admin", "frontdesk", "manager"], "{users}");
    assert!(list.iter().all(|u| u["disabled"] == false), "{users}");
    let fd = list.iter().find(|u| u["username"] == "frontdesk").unwrap();
    assert_eq!(fd["id"], desk.user.id.as_str());
    assert_eq!(fd["role"], "front_desk");
    let manager_id = manager.user.id.clone();

    let (status, body) = server.get(&desk.access_token, "/users").await;
    assert_error("user list as front desk", (status, &body), 403, "forbidden");
    let (status, body) =
        post_raw(&server, &desk.access_token, &format!("/users/{manager_id}/disable"), &json!({})).await;
    assert_error("front desk disabling a manager", (status, &body), 403, "forbidden");

    // The front desk has a session open.
    let mut ws = server.connect(&desk.access_token).await;

    let (status, body) = post_raw(&server, m, &format!("/users/{}/disable", desk.user.id), &json!({})).await;
    assert_eq!(status, 204, "{body}");
    let (_, end) = ws.until_close().await;
    assert_eq!(end.close_code(), Some(4003), "the disabled user's session closes with 4003: {end:?}");

    let (status, _, body) = login_raw(&server, "frontdesk", "frontdesk-demo").await;
    assert_error("login while disabled", (status, &body), 403, "forbidden");
    let (status, body) = refresh(&server, &desk.refresh_token).await;
    assert_error("refresh while disabled", (status, &body), 401, "invalid_refresh_token");
    let (status, body) = server.get(&desk.access_token, "/stats?location=demo").await;
    assert!(status == 401 || status == 403, "an access token of a disabled user is refused: {status} {body}");
    let (_, users) = server.get(m, "/users").await;
    let fd = users.as_array().unwrap().iter().find(|u| u["username"] == "frontdesk").unwrap().clone();
    assert_eq!(fd["disabled"], true, "{users}");

    let (status, body) = post_raw(&server, m, &format!("/users/{}/enable", desk.user.id), &json!({})).await;
    assert_eq!(status, 204, "{body}");
    let (status, _, body) = login_raw(&server, "frontdesk", "frontdesk-demo").await;
    assert_eq!(status, 200, "login works again after enable: {body}");
    let (status, stats) = server.get(body["access_token"].as_str().unwrap(), "/stats?location=demo").await;
    assert_eq!(status, 200, "{stats}");
    let (_, users) = server.get(m, "/users").await;
    assert!(users.as_array().unwrap().iter().all(|u| u["disabled"] == false), "{users}");

    let (status, audit) = server.get(m, "/audit?location=demo").await;
    assert_eq!(status, 200, "{audit}");
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap_or("")).collect();
    assert!(actions.contains(&"user_disabled"), "{audit}");
    assert!(actions.contains(&"user_enabled"), "{audit}");
    let disabled = audit.as_array().unwrap().iter().find(|e| e["action"] == "user_disabled").unwrap();
    assert_eq!(disabled["user"], "manager", "the audit names who acted: {disabled}");
}

// ---------------------------------------------------------------------------------------
// 8. Operations
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = Server::start().await;
    for path in ["/healthz", "/readyz", "/api/v1/healthz", "/api/v1/readyz"] {
        let (status, _, body) = call(server.http.get(format!("{}{path}", server.base()))).await;
        assert_eq!(status, 200, "GET {path}: {body}");
    }

    // Some traffic over both transports.
    let desk = server.front_desk().await;
    let t = desk.access_token.as_str();
    let mut ws = server.connect(t).await;
    let (status, body) = server.http_check_in(t, &check_in("D0020")).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.http_check_in(t, &check_in("D0181")).await;
    assert_eq!(status, 422, "{body}");
    let cmd = check_in("D0021");
    ws.send(&cmd).await;
    let ack = ws.ack_for(cmd["op_id"].as_str().unwrap(), &mut Vec::new()).await;
    assert_eq!(ack["status"], "accepted", "{ack}");

    let r = server.http.get(format!("{}/metrics", server.base())).send().await.expect("metrics");
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    for name in ["frontdesk_ws_sessions_open", "frontdesk_acks_total", "frontdesk_http_requests_total"] {
        assert!(
            text.lines().any(|l| !l.starts_with('#') && l.split(['{', ' ']).next() == Some(name)),
            "no {name} sample in /metrics:\n{text}"
        );
    }
    assert_eq!(metric_sum(&text, "frontdesk_ws_sessions_open", &[]), 1.0, "{text}");
    assert!(metric_sum(&text, "frontdesk_acks_total", &["transport=\"http\"", "status=\"accepted\""]) >= 1.0, "{text}");
    assert!(metric_sum(&text, "frontdesk_acks_total", &["transport=\"http\"", "status=\"rejected\""]) >= 1.0, "{text}");
    assert!(metric_sum(&text, "frontdesk_acks_total", &["transport=\"ws\"", "status=\"accepted\""]) >= 1.0, "{text}");
    assert!(
        metric_sum(&text, "frontdesk_http_requests_total", &["method=\"POST\"", "status=\"201\""]) >= 1.0,
        "{text}"
    );
    assert!(metric_sum(&text, "frontdesk_http_requests_total", &["status=\"200\""]) >= 1.0, "{text}");
    ws.close().await;
}

/// Failed sign-ins the server counted (each one a password check that said no).
fn login_failures(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("frontdesk_login_failures"))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn parallel_guesses_for_one_account_get_only_the_allowed_password_checks() {
    let server = Server::start().await;
    let guesses = (0..60).map(|n| {
        let server = &server;
        async move { login_raw(server, "frontdesk", &format!("guess-{n}")).await }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let wrong = answers.iter().filter(|(s, _, _)| *s == 401).count();
    let held = answers.iter().filter(|(s, _, b)| *s == 429 && b["code"] == "too_many_attempts").count();
    assert_eq!((wrong, held), (5, 55), "five checks (the default), the rest told to wait: {answers:?}");
    assert_eq!(login_failures(&server.metrics().await), 5.0, "only five passwords were checked");
}

#[tokio::test]
async fn names_and_passwords_longer_than_any_account_are_refused_before_anything_is_checked() {
    let server = Server::start().await;
    let (status, _, body) = login_raw(&server, &"a".repeat(1000), "x").await;
    assert_error("a 1,000-character username", (status, &body), 400, "invalid_request");
    assert!(body["message"].as_str().unwrap_or_default().contains("username"), "{body}");
    let (status, _, body) = login_raw(&server, "frontdesk", &"p".repeat(4096)).await;
    assert_error("a 4 KiB password", (status, &body), 400, "invalid_request");
    assert_eq!(login_failures(&server.metrics().await), 0.0, "nothing was hashed");
}

async fn login_from(server: &Server, forwarded_for: &str, username: &str, password: &str) -> u16 {
    let body = serde_json::json!({"username": username, "password": password, "device_name": "t"});
    let response = server
        .http
        .post(format!("{}/api/v1/auth/login", server.base()))
        .header("X-Forwarded-For", forwarded_for)
        .json(&body)
        .send()
        .await
        .expect("login request");
    response.status().as_u16()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_desk_is_limited_by_its_own_address() {
    // One failure per account allowed, so ten from one address (across accounts) are
    // the address's share.
    let trusting =
        ServerOptions::default().env("FRONTDESK_LOGIN_MAX_FAILURES", 1).env("FRONTDESK_TRUSTED_PROXIES", "127.0.0.1");
    let server = Server::start_with(trusting).await;
    for n in 0..10 {
        assert_eq!(login_from(&server, "192.168.1.20", &format!("nobody-{n}"), "x").await, 401);
    }
    assert_eq!(login_from(&server, "192.168.1.20", "frontdesk", "frontdesk-demo").await, 429, "that desk waits");
    assert_eq!(
        login_from(&server, "192.168.1.21", "frontdesk", "frontdesk-demo").await,
        200,
        "the desk beside it is not locked out by its neighbour"
    );

    // Without the setting the header is the client's word and is ignored: every request
    // comes from the one address.
    let server = Server::start_with(ServerOptions::default().env("FRONTDESK_LOGIN_MAX_FAILURES", 1)).await;
    for n in 0..10 {
        assert_eq!(login_from(&server, &format!("192.168.2.{n}"), &format!("nobody-{n}"), "x").await, 401);
    }
    assert_eq!(
        login_from(&server, "192.168.2.99", "frontdesk", "frontdesk-demo").await,
        429,
        "a forged header buys nothing"
    );
}

#[tokio::test]
async fn scanned_by_is_kept_only_for_staff_of_that_gym_and_free_text_is_bounded() {
    let server = Server::start().await;
    let nora = server.north_only_front_desk().await;
    let desk = server.front_desk().await;
    let manager = server.manager().await;
    let scanned = |card: &str, by: &str| {
        let mut cmd = queued_check_in(card, ago(Duration::minutes(5)));
        cmd["scanned_by"] = json!(by);
        cmd
    };
    // (card, claimed scanner, recorded scanner)
    let cases = [
        ("D0001", manager.user.id.clone(), manager.user.id.clone()),
        ("D0002", nora["id"].as_str().unwrap().to_owned(), desk.user.id.clone()),
        ("D0003", "someone-made-up".to_owned(), desk.user.id.clone()),
    ];
    for (card, claimed, recorded) in &cases {
        let cmd = scanned(card, claimed);
        let (status, body) = server.post(&desk.access_token, "/check-ins", &cmd, Some(op_of(&cmd))).await;
        assert_eq!(status, 201, "a real visit is never refused over its attribution: {body}");
        assert_eq!(body["check_in"]["scanned_by"], recorded.as_str(), "claimed {claimed}: {body}");
        assert_eq!(body["check_in"]["recorded_by"], desk.user.id.as_str(), "{body}");
    }

    for (field, cmd) in
        [("member.card", check_in(&"C".repeat(10_000))), ("scanned_by", scanned("D0004", &"u".repeat(10_000)))]
    {
        let (status, body) = server.post(&desk.access_token, "/check-ins", &cmd, Some(op_of(&cmd))).await;
        assert_error(field, (status, &body), 400, "invalid_request");
        assert!(body["message"].as_str().unwrap_or_default().contains(field), "names the field: {body}");
    }
    let visits = server.all_visits(&desk.access_token).await;
    assert_eq!(visits.len(), 3, "nothing stored for the refused commands: {visits:?}");
}

#[tokio::test]
async fn a_stored_answer_goes_only_to_callers_who_may_see_its_gym() {
    let server = Server::start().await;
    server.north_only_front_desk().await;
    let desk = server.front_desk().await;
    let cmd = check_in("D0001");
    let (status, first) = server.post(&desk.access_token, "/check-ins", &cmd, Some(op_of(&cmd))).await;
    assert_eq!(status, 201, "{first}");

    // Someone at another gym presents the same op_id (for their own gym): they must not
    // get the demo member's visit back.
    let nora = server.login("nora", NORTH_ONLY_PASSWORD).await;
    let mut theirs = cmd.clone();
    theirs["location_id"] = json!("north");
    let (status, body) = server.post(&nora.access_token, "/check-ins", &theirs, Some(op_of(&cmd))).await;
    assert_error("an op_id of another gym", (status, &body), 400, "invalid_request");
    assert!(body.get("check_in").is_none() && !body.to_string().contains("Ava"), "nothing of the visit leaks: {body}");

    // The desk that sent it still gets its answer again.
    let (status, again) = server.post(&desk.access_token, "/check-ins", &cmd, Some(op_of(&cmd))).await;
    assert_eq!((status, again["duplicate"].as_bool()), (200, Some(true)), "{again}");
    assert_eq!(again["check_in"]["id"], first["check_in"]["id"]);
}

#[tokio::test]
async fn one_account_over_http_is_held_to_the_session_rate() {
    let server = Server::start_with(
        ServerOptions::default().env("FRONTDESK_WS_RATE_PER_S", 1).env("FRONTDESK_WS_RATE_BURST", 3),
    )
    .await;
    let desk = server.front_desk().await;
    let mut answers = Vec::new();
    for n in 1..=6 {
        let cmd = check_in(&card(n));
        answers.push(server.post(&desk.access_token, "/check-ins", &cmd, Some(op_of(&cmd))).await);
    }
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let limited: Vec<_> = answers.iter().filter(|(s, b)| *s == 429 && b["code"] == "rate_limited").collect();
    assert_eq!(created, 3, "the burst passes: {answers:?}");
    assert_eq!(limited.len(), 3, "the rest are told to wait: {answers:?}");
    assert!(limited[0].1["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0), "{:?}", limited[0]);
    let visits = server.all_visits(&desk.access_token).await;
    assert_eq!(visits.len(), 3, "nothing stored for the commands refused: {visits:?}");
}

#[tokio::test]
async fn visits_of_a_day_are_the_gyms_own_day_in_its_time_zone() {
    let server = Server::start().await;
    let admin = server.login("admin", "admin-demo").await;
    // Twelve hours behind UTC: for half of every UTC day the gym's date is another one.
    let (status, body) = server
        .post(
            &admin.access_token,
            "/locations",
            &json!({"id": "far-west", "name": "Far West", "time_zone": "Etc/GMT+12"}),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut cmd = check_in("D0001");
    cmd["location_id"] = json!("far-west");
    let (status, body) = server.post(&admin.access_token, "/check-ins", &cmd, Some(op_of(&cmd))).await;
    assert_eq!(status, 201, "{body}");
    let gym_today = (Utc::now() - Duration::hours(12)).date_naive();
    let on = |day: NaiveDate| format!("/check-ins?location=far-west&date={day}");
    let (_, today) = server.get(&admin.access_token, &on(gym_today)).await;
    assert_eq!(today.as_array().map(Vec::len), Some(1), "the gym's today holds the visit: {today}");
    for other in [gym_today.pred_opt().unwrap(), gym_today.succ_opt().unwrap()] {
        let (_, none) = server.get(&admin.access_token, &on(other)).await;
        assert_eq!(none.as_array().map(Vec::len), Some(0), "{other} is another day at the gym: {none}");
    }
    let (_, default) = server.get(&admin.access_token, "/check-ins?location=far-west").await;
    assert_eq!(default.as_array().map(Vec::len), Some(1), "the default day is the gym's today: {default}");
}
