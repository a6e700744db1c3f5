//! Test harness: runs the real `frontdesk-server` binary on a loopback port 0 with a
//! real SQLite file in a temporary directory, and talks to it with a real HTTP client
//! and a real WebSocket client. No mocks.
//!
//! Synchronisation is always on something observable (the stdout line, a frame, a close,
//! a process exit), each bounded by a generous timeout that only fires on failure.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use chrono::Utc;
use frontdesk_protocol::api::TokenPair;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

/// The secret tests give the server, so they can forge tokens of every kind.
/// The password of [`Server::north_only_front_desk`]'s account.
pub const NORTH_ONLY_PASSWORD: &str = "nora-north-pass";

pub const TEST_JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
pub const LOCATION: &str = "demo";
/// Upper bound for anything a test waits on; reached only when something is broken.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub mod agent;
pub mod app;
pub mod proxy;
pub mod tls_front;

/// Path of a workspace binary, building it once if the test run did not.
pub fn workspace_binary(package: &str, name: &str) -> PathBuf {
    if let Ok(path) = std::env::var(format!("{}_BIN", name.to_uppercase().replace('-', "_"))) {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<test exe> → target/<profile>/<name>
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build.args(["build", "--quiet", "-p", package, "--bin", name]);
    if release {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "building {name} failed");
    profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Path of the server binary (`FRONTDESK_SERVER_BIN` overrides).
pub fn server_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_binary("frontdesk-server", "frontdesk-server")).clone()
}

/// An HTTP client for talking to the server. The workspace builds reqwest without a
/// default TLS provider (the desk picks ring), so install it before building one.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(PATIENCE * 2).build().expect("http client")
}

/// How to start a server.
#[derive(Clone, Default)]
pub struct ServerOptions {
    pub env: Vec<(String, String)>,
    /// Reuse a data dir (restart on the same database).
    pub data_dir: Option<PathBuf>,
    /// Leave out `--demo` (the data dir must then hold data already).
    pub no_demo: bool,
}

impl ServerOptions {
    pub fn env(mut self, key: &str, value: impl ToString) -> Self {
        self.env.push((key.to_owned(), value.to_string()));
        self
    }
}

pub struct Server {
    child: Option<Child>,
    /// Standard output after the `listening` line (must stay empty), and its reader.
    stdout: Option<(Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>)>,
    pub addr: String,
    pub data_dir: PathBuf,
    _tempdir: Option<tempfile::TempDir>,
    pub options: ServerOptions,
    pub http: reqwest::Client,
}

impl Server {
    pub async fn start() -> Self {
        Self::start_with(ServerOptions::default()).await
    }

    pub async fn start_with(options: ServerOptions) -> Self {
        let (tempdir, data_dir) = match &options.data_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let t = tempfile::tempdir().expect("tempdir");
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let launched = launch(&data_dir, &options, "127.0.0.1:0").await.expect("server starts");
        Self {
            child: Some(launched.child),
            stdout: Some((launched.extra_stdout, launched.stdout_reader)),
            addr: launched.addr,
            data_dir,
            _tempdir: tempdir,
            options,
            http: http_client(),
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn api(&self, path: &str) -> String {
        format!("http://{}/api/v1{}", self.addr, path)
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/ws?{}", self.addr, query)
    }

    pub fn db_url(&self) -> String {
        format!("sqlite://{}", self.data_dir.join("frontdesk.db").display())
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().and_then(|c| c.id()).expect("server running")
    }

    /// SIGTERM: the graceful drain.
    pub fn terminate(&self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM).expect("send SIGTERM");
    }

    /// Waits for the process to end, and checks it printed nothing after its one line.
    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server running");
        let status = tokio::time::timeout(PATIENCE, child.wait()).await.expect("server exits in time").expect("wait");
        if let Some((extra, reader)) = self.stdout.take() {
            let _ = tokio::time::timeout(PATIENCE, reader).await;
            let extra = extra.lock().unwrap();
            assert!(extra.is_empty(), "the server printed more than its one stdout line: {extra:?}");
        }
        status
    }

    /// SIGKILL: a crash.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts again on the same data dir (after `kill` or `wait_exit`), on a new port.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server first");
        let launched = launch(&self.data_dir, &self.options, "127.0.0.1:0").await.expect("server restarts");
        self.child = Some(launched.child);
        self.stdout = Some((launched.extra_stdout, launched.stdout_reader));
        self.addr = launched.addr;
    }

    /// Starts again on the same data dir and the same address, as IT restarting the
    /// service does (desks keep their configured address).
    pub async fn restart_same_port(&mut self) {
        assert!(self.child.is_none(), "stop the server first");
        let addr = self.addr.clone();
        let launched = launch(&self.data_dir, &self.options, &addr).await.expect("server restarts on its port");
        self.child = Some(launched.child);
        self.stdout = Some((launched.extra_stdout, launched.stdout_reader));
        assert_eq!(launched.addr, addr);
    }

    pub async fn login(&self, username: &str, password: &str) -> TokenPair {
        let r = self
            .http
            .post(self.api("/auth/login"))
            .json(&json!({"username": username, "password": password, "device_name": "test"}))
            .send()
            .await
            .expect("login request");
        assert_eq!(r.status(), 200, "login as {username}: {}", r.text().await.unwrap_or_default());
        r.json().await.expect("token pair")
    }

    pub async fn front_desk(&self) -> TokenPair {
        self.login("frontdesk", "frontdesk-demo").await
    }

    pub async fn manager(&self) -> TokenPair {
        self.login("manager", "manager-demo").await
    }

    /// Makes (as the demo admin) a front-desk account that works at the second demo gym
    /// only: "nora" / [`NORTH_ONLY_PASSWORD`]. Returns the account as the server answers it.
    pub async fn north_only_front_desk(&self) -> Value {
        let admin = self.login("admin", "admin-demo").await;
        let (status, user) = self
            .post(
                &admin.access_token,
                "/users",
                &json!({"username": "nora", "name": "Nora North", "role": "front_desk",
                    "locations": ["north"], "password": NORTH_ONLY_PASSWORD}),
                None,
            )
            .await;
        assert_eq!(status, 201, "{user}");
        user
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self.http.get(self.api(path)).bearer_auth(token).send().await.expect("GET");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value, op_id: Option<Uuid>) -> (u16, Value) {
        let mut req = self.http.post(self.api(path)).bearer_auth(token).json(body);
        if let Some(op) = op_id {
            req = req.header("Idempotency-Key", op.to_string());
        }
        let r = req.send().await.expect("POST");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Check-in over HTTP with the op_id as Idempotency-Key.
    pub async fn http_check_in(&self, token: &str, command: &Value) -> (u16, Value) {
        let op: Uuid = command["op_id"].as_str().expect("op_id").parse().expect("uuid");
        self.post(token, "/check-ins", command, Some(op)).await
    }

    pub async fn stats(&self, token: &str) -> Value {
        let (status, body) = self.get(token, &format!("/stats?location={LOCATION}")).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Every visit of the location, open or not, ever.
    pub async fn all_visits(&self, token: &str) -> Vec<Value> {
        let (status, body) = self
            .get(token, &format!("/check-ins?location={LOCATION}&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"))
            .await;
        assert_eq!(status, 200, "{body}");
        body.as_array().cloned().unwrap_or_default()
    }

    pub async fn metrics(&self) -> String {
        self.http.get(format!("{}/metrics", self.base())).send().await.expect("metrics").text().await.expect("text")
    }

    /// Waits until the server counts `sessions` open WebSocket sessions (`/metrics`; a
    /// session counts from its hello to its close).
    pub async fn wait_sessions_open(&self, sessions: f64) {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let open = metric_sum(&self.metrics().await, "frontdesk_ws_sessions_open", &[]);
            if open == sessions {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "the server has {open} sessions open, not {sessions}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn connect(&self, token: &str) -> Ws {
        Ws::connect(self, token, None).await.expect("websocket opens")
    }

    pub async fn connect_after(&self, token: &str, after_seq: i64) -> Ws {
        Ws::connect(self, token, Some(after_seq)).await.expect("websocket opens")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

struct Launched {
    child: Child,
    addr: String,
    extra_stdout: Arc<Mutex<Vec<String>>>,
    stdout_reader: tokio::task::JoinHandle<()>,
}

async fn launch(data_dir: &Path, options: &ServerOptions, listen: &str) -> anyhow::Result<Launched> {
    let mut cmd = Command::new(server_binary());
    cmd.args(["--listen", listen, "--data-dir"]).arg(data_dir);
    if !options.no_demo {
        cmd.arg("--demo");
    }
    // An empty config file: a machine with the server package installed must not hand its
    // /etc/frontdesk/server.toml to the tests' servers.
    cmd.env("FRONTDESK_CONFIG", empty_config_file())
        .env("FRONTDESK_JWT_SECRET", TEST_JWT_SECRET)
        .env("FRONTDESK_LOG", "info,sqlx=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(data_dir.join("server.log"))?))
        .kill_on_drop(true);
    for (k, v) in &options.env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().context("spawn frontdesk-server")?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(PATIENCE * 2, lines.next_line())
        .await
        .map_err(|_| anyhow!("server did not print its address in time"))??
        .ok_or_else(|| anyhow!("server exited before listening; see {}", data_dir.join("server.log").display()))?;
    let v: Value = serde_json::from_str(&line).with_context(|| format!("stdout line {line:?}"))?;
    let addr = v["listening"].as_str().ok_or_else(|| anyhow!("no address in {line}"))?.to_owned();
    // Keep draining stdout so a chatty server never blocks; docs/server.md ("Starting") allows one line
    // only, which `Server::wait_exit` checks.
    let extra = Arc::new(Mutex::new(Vec::new()));
    let sink = extra.clone();
    let reader = tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });
    Ok(Launched { child, addr, extra_stdout: extra, stdout_reader: reader })
}

/// What a WebSocket read produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Json(Value),
    Close {
        code: u16,
        reason: String,
    },
    /// The connection ended without a close frame (or with an error).
    Ended(String),
}

impl Frame {
    pub fn json(self) -> Value {
        match self {
            Frame::Json(v) => v,
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }

    pub fn close_code(&self) -> Option<u16> {
        match self {
            Frame::Close { code, .. } => Some(*code),
            _ => None,
        }
    }
}

pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub hello: Value,
}

/// A WebSocket upgrade request with the v1 protocol and bearer header.
pub fn ws_request(url: &str, token: Option<&str>, protocol: Option<&str>) -> tungstenite::handshake::client::Request {
    let mut req = url.into_client_request().expect("ws request");
    if let Some(p) = protocol {
        req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).expect("header"));
    }
    if let Some(t) = token {
        req.headers_mut().insert("Authorization", HeaderValue::from_str(&format!("Bearer {t}")).expect("header"));
    }
    req
}

impl Ws {
    pub async fn connect(server: &Server, token: &str, after_seq: Option<i64>) -> anyhow::Result<Ws> {
        let query = match after_seq {
            Some(s) => format!("location={LOCATION}&after_seq={s}"),
            None => format!("location={LOCATION}"),
        };
        let req = ws_request(&server.ws_url(&query), Some(token), Some("frontdesk.v1"));
        let (stream, response) = tokio_tungstenite::connect_async(req).await?;
        let proto = response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok());
        if proto != Some("frontdesk.v1") {
            bail!("server selected protocol {proto:?}");
        }
        let mut ws = Ws { stream, hello: Value::Null };
        let hello = ws.next().await.json();
        assert_eq!(hello["type"], "hello", "first frame must be hello: {hello}");
        ws.hello = hello;
        Ok(ws)
    }

    /// Next text frame, close or end. Pings are answered by tungstenite while reading,
    /// and do not extend the wait.
    pub async fn next(&mut self) -> Frame {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => panic!("no frame from the server within {PATIENCE:?}"),
                Ok(None) => return Frame::Ended("stream ended".into()),
                Ok(Some(Err(e))) => return Frame::Ended(e.to_string()),
                Ok(Some(Ok(m))) => m,
            };
            match msg {
                Message::Text(t) => {
                    return Frame::Json(serde_json::from_str(t.as_str()).expect("server frames are JSON"));
                }
                Message::Close(Some(c)) => {
                    return Frame::Close { code: u16::from(c.code), reason: c.reason.to_string() };
                }
                Message::Close(None) => return Frame::Close { code: 1005, reason: String::new() },
                Message::Binary(_) => panic!("server sent a binary frame"),
                _ => continue,
            }
        }
    }

    /// Reads until a close (or end), returning it; JSON frames before it are returned too.
    pub async fn until_close(&mut self) -> (Vec<Value>, Frame) {
        let mut seen = Vec::new();
        loop {
            match self.next().await {
                Frame::Json(v) => seen.push(v),
                other => return (seen, other),
            }
        }
    }

    pub async fn send(&mut self, value: &Value) {
        self.stream.send(Message::Text(value.to_string().into())).await.expect("send frame");
    }

    /// Sends without panicking, for tests that cut the connection under the desk.
    pub async fn stream_send(&mut self, value: &Value) -> Result<(), tungstenite::Error> {
        self.stream.send(Message::Text(value.to_string().into())).await
    }

    pub async fn send_text(&mut self, text: String) {
        self.stream.send(Message::Text(text.into())).await.expect("send frame");
    }

    /// Reads frames until the ack for `op_id`, collecting events seen on the way.
    pub async fn ack_for(&mut self, op_id: &str, events: &mut Vec<Value>) -> Value {
        loop {
            let v = self.next().await.json();
            match v["type"].as_str() {
                Some("ack") if v["op_id"] == op_id => return v,
                Some("event") => events.push(v),
                _ => {}
            }
        }
    }

    /// Reads frames until `n` events have arrived; returns them in arrival order.
    pub async fn events(&mut self, n: usize) -> Vec<Value> {
        let mut events = Vec::new();
        while events.len() < n {
            let v = self.next().await.json();
            if v["type"] == "event" {
                events.push(v);
            }
        }
        events
    }

    pub async fn close(mut self) {
        let _ = self
            .stream
            .close(Some(tungstenite::protocol::CloseFrame { code: TCloseCode::Normal, reason: "".into() }))
            .await;
    }
}

/// A command of `kind` for a card, as a desk would build it: fresh op_id, now.
fn command(kind: &str, card: &str) -> Value {
    json!({
        "type": kind,
        "op_id": Uuid::new_v4().to_string(),
        "location_id": LOCATION,
        "desk_id": "test-desk",
        "member": {"card": card},
        "occurred_at": Utc::now().to_rfc3339(),
        "queued": false,
    })
}

pub fn check_in(card: &str) -> Value {
    command("check_in", card)
}

pub fn check_out(card: &str) -> Value {
    command("check_out", card)
}

pub fn card(n: u32) -> String {
    format!("D{n:04}")
}

/// Asserts `seqs` are consecutive, starting at `first`.
pub fn assert_gap_free(seqs: &[i64], first: i64) {
    for (i, s) in seqs.iter().enumerate() {
        assert_eq!(*s, first + i as i64, "seq {s} at position {i}: gap or duplicate in {seqs:?}");
    }
}

pub fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().expect("seq")).collect()
}

/// Forges an access token with the test secret and arbitrary claims and header.
pub fn forge_token(claims: &Value, alg: jsonwebtoken::Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode")
}

/// Claims like the server's, for a user, valid now.
pub fn claims_for(user_id: &str, username: &str) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "sub": user_id, "name": username, "role": "front_desk", "locs": [LOCATION],
        "iat": now, "nbf": now, "exp": now + 600, "jti": Uuid::new_v4().to_string(),
        "iss": "frontdesk", "aud": "frontdesk-desk",
    })
}

/// Reads a counter or gauge sample from Prometheus text: the sum of every line whose
/// name and labels contain all `parts`.
pub fn metric_sum(text: &str, name: &str, parts: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

// ---------------------------------------------------------------------------------------
// Setting a gym up: `frontdesk-server admin …`, calls with any method, WebSockets at any
// location, waiting for a condition.
// ---------------------------------------------------------------------------------------

/// What one `frontdesk-server admin …` run produced.
#[derive(Debug, Clone)]
pub struct AdminRun {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Its one JSON line on standard output.
    pub json: Value,
    pub stderr: String,
}

impl AdminRun {
    /// Asserts exit 0 and `"ok":true`; returns the JSON line.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(self.code, Some(0), "admin command failed: {} / stderr: {}", self.json, self.stderr);
        assert_eq!(self.json["ok"], true, "admin command: {}", self.json);
        &self.json
    }

    /// Asserts exit 1, `"ok":false` with an `error` sentence that is also on stderr;
    /// returns the JSON line.
    #[track_caller]
    pub fn refused(&self) -> &Value {
        assert_eq!(self.code, Some(1), "admin command should exit 1: {} / stderr: {}", self.json, self.stderr);
        assert_eq!(self.json["ok"], false, "admin command: {}", self.json);
        let error = self.json["error"].as_str().unwrap_or_default();
        assert!(!error.trim().is_empty(), "a refusal needs a reason: {}", self.json);
        assert!(self.stderr.contains(error), "the reason goes to stderr too: {:?} not in {:?}", error, self.stderr);
        &self.json
    }

    /// The `errors` list of a refusal, as (line, message).
    pub fn row_errors(&self) -> Vec<(u64, String)> {
        self.json["errors"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| (r["line"].as_u64().unwrap_or(0), r["message"].as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Runs `frontdesk-server admin <args> --data-dir <data_dir>` with standard input not a
/// terminal and without `FRONTDESK_NEW_PASSWORD` unless `env` gives it; checks that
/// standard output is exactly one JSON line.
pub async fn admin_command(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> AdminRun {
    let mut cmd = Command::new(server_binary());
    cmd.arg("admin").args(args).arg("--data-dir").arg(data_dir);
    cmd.env("FRONTDESK_CONFIG", empty_config_file())
        .env_remove("FRONTDESK_NEW_PASSWORD")
        .env_remove("FRONTDESK_DATABASE_URL")
        .env_remove("FRONTDESK_DATA_DIR")
        .env("FRONTDESK_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(PATIENCE * 4, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("admin {args:?} did not finish in time"))
        .expect("run frontdesk-server admin");
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "admin {args:?} must print exactly one line on stdout, got {stdout:?}; stderr {stderr}");
    let json: Value = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("admin {args:?}: {e}: {stdout:?}"));
    AdminRun { code: out.status.code(), json, stderr }
}

/// A check-in command at any location.
pub fn check_in_at(location: &str, card: &str) -> Value {
    let mut cmd = command("check_in", card);
    cmd["location_id"] = json!(location);
    cmd
}

/// Polls `probe` until it returns `Some`, failing after [`PATIENCE`] with `what`.
pub async fn wait_until<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Server {
    /// `frontdesk-server admin <args>` on this server's data dir (it may be running).
    pub async fn admin(&self, args: &[&str], env: &[(&str, &str)]) -> AdminRun {
        admin_command(&self.data_dir, args, env).await
    }

    /// What the server wrote on standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    /// Signs in; the status and the body, whatever they are.
    pub async fn try_login(&self, username: &str, password: &str) -> (u16, Value) {
        let r = self
            .http
            .post(self.api("/auth/login"))
            .json(&json!({"username": username, "password": password, "device_name": "test"}))
            .send()
            .await
            .expect("login request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Any method, a JSON body or none; the status and the body (a non-JSON body comes
    /// back as a JSON string, an empty one as null).
    pub async fn call(&self, method: &str, token: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, self.api(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.expect("HTTP request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, body)
    }

    /// A WebSocket session at any location.
    pub async fn connect_at(&self, token: &str, location: &str) -> Ws {
        Ws::connect_at(self, token, location).await.expect("websocket opens")
    }
}

impl Ws {
    /// Opens a session at `location` (v1 protocol, bearer header) and reads its hello.
    pub async fn connect_at(server: &Server, token: &str, location: &str) -> anyhow::Result<Ws> {
        let req = ws_request(&server.ws_url(&format!("location={location}")), Some(token), Some("frontdesk.v1"));
        let (stream, _) = tokio_tungstenite::connect_async(req).await?;
        let mut ws = Ws { stream, hello: Value::Null };
        let hello = ws.next().await.json();
        assert_eq!(hello["type"], "hello", "first frame must be hello: {hello}");
        ws.hello = hello;
        Ok(ws)
    }

    /// Reads frames until an event of `kind`; returns it.
    pub async fn event_of_kind(&mut self, kind: &str) -> Value {
        loop {
            match self.next().await {
                Frame::Json(v) if v["type"] == "event" && v["kind"] == kind => return v,
                Frame::Json(_) => {}
                other => panic!("the session ended before a {kind} event: {other:?}"),
            }
        }
    }
}

/// Writes a member CSV file of `rows` generated members (`card` = `{prefix}{n:06}`,
/// `external_id` = `X-{prefix}{n}`), valid until `valid_until`; returns its path.
pub fn write_member_csv(path: &Path, prefix: &str, rows: usize, valid_until: &str) -> PathBuf {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create csv"));
    writeln!(out, "external_id,card,name,phone,email,valid_until").expect("write");
    for n in 1..=rows {
        writeln!(
            out,
            "X-{prefix}{n},{prefix}{n:06},\"Member {n}, {prefix}\",+44 20 {n:07},m{n}@example.org,{valid_until}"
        )
        .expect("write");
    }
    out.flush().expect("flush");
    path.to_path_buf()
}

/// An empty TOML file for servers started by tests (see `launch`).
pub fn empty_config_file() -> PathBuf {
    static FILE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("frontdesk-tests-empty-{}.toml", std::process::id()));
        std::fs::write(&path, "").expect("write an empty config file");
        path
    })
    .clone()
}
