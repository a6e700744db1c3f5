//! Property tests: random bytes and random JSON thrown at the WebSocket and the HTTP
//! handlers. No panic (the server keeps serving), no change to stored data, and a clear
//! error — a machine-readable code and a sentence — every time.

use frontdesk_tests::*;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

struct Shared {
    server: Server,
    token: String,
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("check_in"),
            Just("check_out"),
            Just("ping"),
            Just("reauth"),
            Just("presence"),
            Just("demo"),
            Just("D0001")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("op_id".to_owned()),
                    Just("member".to_owned()),
                    Just("location_id".to_owned()),
                    Just("occurred_at".to_owned()),
                    "[a-z_]{1,10}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid command with one field replaced by a random value: exercises the
/// "command with an op_id but a bad field" path, which must answer with a rejected ack.
fn corrupted_command() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just("location_id"),
            Just("desk_id"),
            Just("member"),
            Just("occurred_at"),
            Just("queued"),
            Just("override")
        ],
        json_value(),
        any::<bool>(),
    )
        .prop_filter_map("still valid", |(field, value, is_check_in)| {
            let mut cmd = if is_check_in { check_in("D0001") } else { check_out("D0001") };
            cmd[field] = value;
            // Skip corruptions that leave a valid command (queued:true, a desk_id that is
            // just another string, …): those are not garbage and are rightly accepted.
            let valid = still_a_valid_command(&cmd);
            (!valid).then_some(cmd)
        })
}

/// Whether the server would take this as a well-formed command: it deserialises into
/// the protocol type and names a desk, a location and a member (or visit).
fn still_a_valid_command(cmd: &Value) -> bool {
    use frontdesk_protocol::ws::{CheckInCommand, CheckOutCommand};
    let named = |s: &str| !s.trim().is_empty() && s.len() <= 100;
    if cmd["type"] == "check_in" {
        serde_json::from_value::<CheckInCommand>(cmd.clone()).is_ok_and(|c| {
            named(&c.desk_id)
                && named(&c.location_id)
                && c.member.validate().is_ok()
                && c.override_.is_none_or(|o| !o.reason.trim().is_empty())
        })
    } else {
        serde_json::from_value::<CheckOutCommand>(cmd.clone()).is_ok_and(|c| {
            named(&c.desk_id)
                && named(&c.location_id)
                && (c.check_in_id.is_some_and(|id| named(&id)) || c.member.is_some_and(|m| m.validate().is_ok()))
        })
    }
}

fn assert_clear_error(body: &Value, context: &str) {
    let code = body["code"].as_str().unwrap_or_default();
    let message = body["message"].as_str().unwrap_or_default();
    assert!(!code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{context}: code in {body}");
    assert!(message.len() > 10, "{context}: a sentence in {body}");
}

/// Sends one frame on a fresh session and checks the single answer.
async fn ws_case(s: &Shared, frame: Message) {
    use futures_util::SinkExt;
    let mut ws = s.server.connect(&s.token).await;
    ws.stream.send(frame).await.unwrap();
    ws.send(&json!({"type": "ping", "t": 7})).await;
    let answer = ws.next().await.json();
    match answer["type"].as_str() {
        Some("error") => assert_clear_error(&answer, "error frame"),
        Some("ack") => {
            assert_eq!(answer["status"], "rejected", "{answer}");
            assert_clear_error(&answer, "ack");
        }
        Some("pong") => {} // a random but valid ping, e.g. {"type":"ping","t":3}
        _ => panic!("unexpected answer {answer}"),
    }
    // The session survives one bad frame.
    loop {
        let v = ws.next().await.json();
        if v["type"] == "pong" && v["t"] == 7 {
            break;
        }
    }
    ws.close().await;
}

async fn nothing_stored(s: &Shared) {
    let (status, body) = s.server.get(&s.token, "/events?location=demo&after_seq=0").await;
    assert_eq!(status, 200);
    assert_eq!(body["last_seq"], 0, "garbage changed stored data: {body}");
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() }
}

/// Runs one property over generated inputs against the shared server.
fn check<S: Strategy>(s: &Shared, runtime: &tokio::runtime::Runtime, strategy: S, case: impl AsyncCase<S::Value>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(config());
    runner
        .run(&strategy, |value| {
            runtime.block_on(case.run(s, value));
            Ok(())
        })
        .unwrap();
}

trait AsyncCase<V> {
    fn run(&self, s: &Shared, value: V) -> impl std::future::Future<Output = ()>;
}

struct TextFrame;
impl AsyncCase<String> for TextFrame {
    async fn run(&self, s: &Shared, text: String) {
        ws_case(s, Message::Text(text.into())).await;
        nothing_stored(s).await;
    }
}

struct BinaryFrame;
impl AsyncCase<Vec<u8>> for BinaryFrame {
    async fn run(&self, s: &Shared, bytes: Vec<u8>) {
        ws_case(s, Message::Binary(bytes.into())).await;
        nothing_stored(s).await;
    }
}

struct JsonFrame;
impl AsyncCase<Value> for JsonFrame {
    async fn run(&self, s: &Shared, value: Value) {
        ws_case(s, Message::Text(value.to_string().into())).await;
        nothing_stored(s).await;
    }
}

struct CorruptedCommand;
impl AsyncCase<Value> for CorruptedCommand {
    async fn run(&self, s: &Shared, cmd: Value) {
        ws_case(s, Message::Text(cmd.to_string().into())).await;
        let path = if cmd["type"] == "check_in" { "/check-ins" } else { "/check-outs" };
        let op = cmd["op_id"].as_str().unwrap().parse().unwrap();
        let (status, body) = s.server.post(&s.token, path, &cmd, Some(op)).await;
        assert!(status == 400 || status == 422, "{status} {body}");
        assert_clear_error(&body, "http command");
        nothing_stored(s).await;
    }
}

struct HttpBody;
impl AsyncCase<(&'static str, Vec<u8>)> for HttpBody {
    async fn run(&self, s: &Shared, (path, body): (&'static str, Vec<u8>)) {
        let response = s
            .server
            .http
            .post(s.server.api(path))
            .bearer_auth(&s.token)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!((400..500).contains(&status), "{path} {status} {body}");
        assert_clear_error(&body, path);
        nothing_stored(s).await;
    }
}

/// One server for every case (restarting per case would only test start-up), dropped
/// (and so stopped) at the end.
#[test]
fn garbage_never_panics_never_stores_and_always_explains() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let s = runtime.block_on(async {
        let server = Server::start().await;
        let token = server.front_desk().await.access_token;
        Shared { server, token }
    });

    check(&s, &runtime, ".{0,300}", TextFrame);
    check(&s, &runtime, prop::collection::vec(any::<u8>(), 0..300), BinaryFrame);
    check(&s, &runtime, json_value(), JsonFrame);
    check(&s, &runtime, corrupted_command(), CorruptedCommand);
    let paths = prop_oneof![
        Just("/auth/login"),
        Just("/auth/refresh"),
        Just("/auth/logout"),
        Just("/check-ins"),
        Just("/check-outs"),
        Just("/check-ins/x/review"),
        Just("/users/x/disable"),
    ];
    let bodies =
        prop_oneof![prop::collection::vec(any::<u8>(), 0..200), json_value().prop_map(|v| v.to_string().into_bytes()),];
    check(&s, &runtime, (paths, bodies), HttpBody);

    // The server still serves.
    runtime.block_on(async {
        let r = s.server.http.get(format!("{}/healthz", s.server.base())).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let cmd = check_in("D0001");
        let (status, _) = s.server.http_check_in(&s.token, &cmd).await;
        assert_eq!(status, 201);
    });
}
