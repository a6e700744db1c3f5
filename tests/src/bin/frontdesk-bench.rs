//! `frontdesk-bench`: load figures for the real `frontdesk-server` binary, over loopback.
//! `frontdesk-bench server` measures the server alone (below); `frontdesk-bench desk`
//! measures the desk client library and the agent against it (outbox replay, reconnect
//! storm, idle agent memory; see `frontdesk-bench/desk.rs`). Run the desk figures through
//! `scripts/bench.sh`, which provides the keychain the agent needs.
//! `frontdesk-bench import [--rows 50000]` measures the member CSV import of
//! `frontdesk-server admin` (see `frontdesk-bench/import.rs`).
//!
//! It is not a test: it asserts nothing and prints figures with their units. Every phase
//! starts its own server (demo data, SQLite in a temporary directory, 127.0.0.1 port 0)
//! through the test harness, and every loop is bounded, so the command stops by itself.
//!
//! 1. **Sessions held**: opens N WebSocket sessions (200 upgrades at a time, each waits
//!    for its `hello`), then reports the server's `frontdesk_ws_sessions_open`, the time
//!    to open them, and the server's resident memory before and after (per session).
//! 2. **Check-in throughput**: D desks, one session each, send `--checkins` commands in
//!    all (check-ins and check-outs of each desk's own share of D0001..D0150, in turn),
//!    W in flight per desk, and wait for every ack; reports acks per second and the ack
//!    latency. Every desk also receives every event. Run once per window in `--window`
//!    (default 16, pipelined, and 1, one scan at a time as a desk sends them).
//! 3. **Broadcast latency**: M listening sessions plus one desk that checks one member
//!    in and out in turn; reports how long after the desk's ack (and after its send)
//!    each listener receives the matching event, over all (listener, event) pairs.
//!
//! Run (release, so the server is built in release too; a 0 skips a phase, e.g.
//! `--sessions 0`, `--checkins 0`, `--fanout 0`):
//!
//! ```text
//! cargo run --release -p frontdesk-tests --bin frontdesk-bench -- server \
//!     [--sessions 1000,10000] [--desks 50] [--checkins 5000] [--fanout 1000] \
//!     [--rounds 50] [--window 16,1]
//! ```
//!
//! The harness finds the server through `FRONTDESK_SERVER_BIN` (and the agent through
//! `FRONTDESK_AGENT_BIN`); when one is not set, this command builds it next to itself
//! (same profile) and runs itself again with the variable set. The soft open-files limit is raised to the hard limit first;
//! the server inherits it.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use frontdesk_tests::{LOCATION, Server, ServerOptions, card, check_in, check_out, metric_sum, ws_request};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Upgrades in flight at once while opening many sessions.
const OPEN_CONCURRENCY: usize = 200;
/// Longest wait for any one frame, upgrade or round; reached only when something is stuck.
const PATIENCE: Duration = Duration::from_secs(60);
/// Demo members the check-in phase shares out between desks (capacity is 150).
const BENCH_MEMBERS: usize = 150;
/// The member the broadcast desk checks in and out (active, outside the desks' range).
const FANOUT_MEMBER: u32 = 151;
/// File descriptors kept free for the server's database, listener and the like.
const FD_MARGIN: u64 = 200;

/// The figures for the desk client library (`frontdesk-bench desk`).
#[path = "frontdesk-bench/desk.rs"]
mod desk;

/// The figures for the desktop app (`frontdesk-bench app`).
#[path = "frontdesk-bench/app.rs"]
mod app;

/// The member CSV import (`frontdesk-bench import`).
#[path = "frontdesk-bench/import.rs"]
mod import;

/// What to measure.
enum Bench {
    Import(import::ImportArgs),
    Server(Args),
    Desk(desk::DeskArgs),
    App(app::AppArgs),
}

const USAGE: &str = "usage: frontdesk-bench server [--sessions 1000,10000] [--desks 50] [--checkins 5000] \
                     [--fanout 1000] [--rounds 50] [--window 16,1]\n       \
                     frontdesk-bench desk [--outbox 10000] [--desks 200] [--idle 5]\n       \
                     frontdesk-bench app [--starts 5] [--scans 30] [--idle 10]\n       \
                     frontdesk-bench import [--rows 50000]";

fn parse(mut raw: impl Iterator<Item = String>) -> anyhow::Result<Bench> {
    match raw.next().as_deref() {
        Some("server") => Ok(Bench::Server(Args::parse(raw)?)),
        Some("desk") => Ok(Bench::Desk(desk::DeskArgs::parse(raw)?)),
        Some("app") => Ok(Bench::App(app::AppArgs::parse(raw)?)),
        Some("import") => Ok(Bench::Import(import::ImportArgs::parse(raw)?)),
        _ => bail!("{USAGE}"),
    }
}

fn main() -> anyhow::Result<()> {
    let bench = match parse(std::env::args().skip(1)) {
        Ok(bench) => bench,
        Err(usage) => {
            eprintln!("{usage:#}");
            std::process::exit(2);
        }
    };
    // The desk figures also run the agent binary.
    let needed: &[(&str, &str)] = match bench {
        Bench::Server(_) => &[SERVER_BINARY],
        Bench::Desk(_) => &[SERVER_BINARY, AGENT_BINARY],
        // The app binary comes from scripts/bench.sh (FRONTDESK_APP_BIN), built with its UI.
        Bench::App(_) => &[SERVER_BINARY],
        Bench::Import(_) => &[SERVER_BINARY],
    };
    if needed.iter().any(|(_, var)| std::env::var_os(var).is_none()) {
        return rerun_with_binaries(needed);
    }
    let limit = raise_open_files_limit()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match bench {
        Bench::Server(args) => runtime.block_on(run(args, limit)),
        Bench::Desk(args) => runtime.block_on(desk::run(args)),
        Bench::App(args) => runtime.block_on(app::run(args)),
        Bench::Import(args) => runtime.block_on(import::run(args)),
    }
}

// ---------------------------------------------------------------------------------------
// Command line

#[derive(Debug, Clone)]
struct Args {
    sessions: Vec<usize>,
    desks: usize,
    checkins: usize,
    fanout: usize,
    rounds: usize,
    windows: Vec<usize>,
}

impl Args {
    const USAGE: &str = "usage: frontdesk-bench server [--sessions 1000,10000] [--desks 50] [--checkins 5000] \
                         [--fanout 1000] [--rounds 50] [--window 16,1]";

    /// The options after `server`.
    fn parse(mut raw: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let mut args = Args {
            sessions: vec![1000, 10_000],
            desks: 50,
            checkins: 5000,
            fanout: 1000,
            rounds: 50,
            windows: vec![16, 1],
        };
        while let Some(flag) = raw.next() {
            let value = raw.next().ok_or_else(|| anyhow!("{flag} needs a value\n{}", Self::USAGE))?;
            let number = |v: &str| v.trim().parse::<usize>().with_context(|| format!("{flag} {v}: not a whole number"));
            match flag.as_str() {
                "--sessions" => args.sessions = value.split(',').map(number).collect::<anyhow::Result<_>>()?,
                "--desks" => args.desks = number(&value)?,
                "--checkins" => args.checkins = number(&value)?,
                "--fanout" => args.fanout = number(&value)?,
                "--rounds" => args.rounds = number(&value)?,
                "--window" => args.windows = value.split(',').map(number).collect::<anyhow::Result<_>>()?,
                _ => bail!("unknown option {flag}\n{}", Self::USAGE),
            }
        }
        if !(1..=BENCH_MEMBERS).contains(&args.desks) {
            bail!("--desks must be between 1 and {BENCH_MEMBERS} (each desk needs its own member)");
        }
        if args.windows.contains(&0) || args.rounds == 0 {
            bail!("--window and --rounds must be above 0");
        }
        Ok(args)
    }
}

// ---------------------------------------------------------------------------------------
// Process setup

/// A workspace binary the bench runs, and the variable the harness finds it by.
const SERVER_BINARY: (&str, &str) = ("frontdesk-server", "FRONTDESK_SERVER_BIN");
const AGENT_BINARY: (&str, &str) = ("frontdesk-agent", "FRONTDESK_AGENT_BIN");

/// The harness derives a binary's path from a test executable's `deps/` folder, which a
/// bin does not live in; so point it at the binaries built next to this one (the server,
/// and for `desk` also the agent), building them first under cargo, and run this command
/// again with `FRONTDESK_SERVER_BIN` (and `FRONTDESK_AGENT_BIN`) set. A variable already
/// set is kept.
fn rerun_with_binaries(needed: &[(&str, &str)]) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locate this executable")?;
    let dir = exe.parent().context("executable directory")?.to_path_buf();
    let mut rerun = std::process::Command::new(&exe);
    rerun.args(std::env::args_os().skip(1));
    for &(name, var) in needed.iter().filter(|(_, var)| std::env::var_os(var).is_none()) {
        if let Ok(cargo) = std::env::var("CARGO") {
            let mut build = std::process::Command::new(cargo);
            build.args(["build", "--quiet", "-p", name, "--bin", name]);
            if dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let status = build.status().with_context(|| format!("run cargo build for {name}"))?;
            if !status.success() {
                bail!("building {name} failed");
            }
        }
        let binary: PathBuf = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        if !binary.exists() {
            bail!("no {name} at {}; build it or set {var}", binary.display());
        }
        rerun.env(var, &binary);
    }
    let status = rerun.status().context("run the bench again")?;
    std::process::exit(status.code().unwrap_or(1));
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (children inherit it); returns it.
fn raise_open_files_limit() -> anyhow::Result<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit")?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).context("setrlimit")?;
    }
    println!("open files limit: soft {soft}, hard {hard}; soft now {hard}, inherited by the server");
    Ok(hard)
}

/// The most sessions one process can hold under `limit` open files.
fn session_cap(limit: u64) -> usize {
    limit.saturating_sub(FD_MARGIN) as usize
}

async fn start_server() -> Server {
    let options = ServerOptions::default()
        .env("FRONTDESK_MAX_SESSIONS", 50_000)
        .env("FRONTDESK_WS_RATE_PER_S", 100_000)
        .env("FRONTDESK_WS_RATE_BURST", 100_000)
        .env("FRONTDESK_HEARTBEAT_MS", 60_000)
        .env("FRONTDESK_ACCESS_TTL_S", 3600);
    Server::start_with(options).await
}

async fn access_token(server: &Server) -> String {
    server.front_desk().await.access_token
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: &str) -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("read /proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS line")?;
    line.split_whitespace().nth(1).context("VmRSS value")?.parse().context("VmRSS number")
}

fn server_rss_kib(server: &Server) -> u64 {
    rss_kib(&server.pid().to_string()).unwrap_or(0)
}

/// CPU time (user + system) a process has used so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    /// `/proc` reports CPU time in USER_HZ ticks, 100 per second on Linux.
    const TICKS_PER_S: f64 = 100.0;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return f64::NAN };
    // After the command name (in parentheses, may hold spaces) comes field 3, `state`;
    // utime and stime are fields 14 and 15, so indexes 11 and 12 from there.
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / TICKS_PER_S
}

/// CPU used by the server and by this bench over a stretch of wall time.
struct CpuMeter {
    server_pid: u32,
    server_s: f64,
    bench_s: f64,
    started: Instant,
}

struct CpuUse {
    wall: Duration,
    server_s: f64,
    bench_s: f64,
}

impl CpuMeter {
    fn start(server: &Server) -> Self {
        let server_pid = server.pid();
        Self {
            server_pid,
            server_s: cpu_seconds(server_pid),
            bench_s: cpu_seconds(std::process::id()),
            started: Instant::now(),
        }
    }

    fn stop(self) -> CpuUse {
        CpuUse {
            wall: self.started.elapsed(),
            server_s: cpu_seconds(self.server_pid) - self.server_s,
            bench_s: cpu_seconds(std::process::id()) - self.bench_s,
        }
    }
}

impl CpuUse {
    fn describe(&self) -> String {
        let wall = self.wall.as_secs_f64();
        format!(
            "CPU over {wall:.2} s: server {:.2} s ({:.0}% of one core), bench client {:.2} s ({:.0}%)",
            self.server_s,
            self.server_s / wall * 100.0,
            self.bench_s,
            self.bench_s / wall * 100.0
        )
    }
}

/// The kernel's count of connections dropped because a listen queue was full
/// (`TcpExt ListenOverflows` in /proc/net/netstat; machine-wide). A dropped handshake
/// is retried by the client after the 1 s initial retransmission timeout.
fn listen_overflows() -> Option<u64> {
    let netstat = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut tcp_ext = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (tcp_ext.next()?, tcp_ext.next()?);
    let column = names.split_whitespace().position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(column)?.parse().ok()
}

async fn sessions_open(server: &Server) -> f64 {
    metric_sum(&server.metrics().await, "frontdesk_ws_sessions_open", &[])
}

// ---------------------------------------------------------------------------------------
// WebSocket client

/// Small buffers: the bench holds thousands of sessions in one process.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0)
}

/// Opens one session and waits for its `hello`.
async fn open_session(server: &Server, token: &str) -> anyhow::Result<WsStream> {
    let request = ws_request(&server.ws_url(&format!("location={LOCATION}")), Some(token), Some("frontdesk.v1"));
    let connect = tokio_tungstenite::connect_async_with_config(request, Some(client_config()), true);
    let (mut ws, _) = tokio::time::timeout(PATIENCE, connect).await.context("upgrade timed out")??;
    let (hello, _) = next_frame(&mut ws).await?;
    if hello.kind != "hello" {
        bail!("first frame was {:?}, not hello", hello.kind);
    }
    Ok(ws)
}

/// Sessions opened together, with how long it took.
struct Opened {
    streams: Vec<WsStream>,
    elapsed: Duration,
    /// Each successful open, upgrade request to `hello`, in ms, sorted.
    each_ms: Vec<f64>,
    failures: Failures,
}

/// Opens `n` sessions, `OPEN_CONCURRENCY` at a time.
async fn open_sessions(server: &Server, token: &str, n: usize) -> Opened {
    let started = Instant::now();
    let timed = |_| async {
        let t = Instant::now();
        open_session(server, token).await.map(|ws| (ws, t.elapsed().as_secs_f64() * 1e3))
    };
    let results: Vec<_> =
        futures_util::stream::iter(0..n).map(timed).buffer_unordered(OPEN_CONCURRENCY).collect().await;
    let elapsed = started.elapsed();
    let mut failures = Failures::default();
    let (streams, each_ms): (Vec<_>, Vec<_>) =
        results.into_iter().filter_map(|r| r.map_err(|e| failures.record(e)).ok()).unzip();
    Opened { streams, elapsed, each_ms: sorted(each_ms), failures }
}

#[derive(Default)]
struct Failures {
    count: usize,
    first: Option<String>,
}

impl Failures {
    fn record(&mut self, error: anyhow::Error) {
        self.count += 1;
        self.first.get_or_insert_with(|| format!("{error:#}"));
    }

    fn describe(&self) -> String {
        match &self.first {
            None => "none".into(),
            Some(first) => format!("{} (first: {first})", self.count),
        }
    }
}

/// The fields of a server frame the bench looks at; everything else is skipped.
#[derive(Debug, Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    op_id: Option<String>,
    status: Option<String>,
    code: Option<String>,
    seq: Option<i64>,
    check_in: Option<VisitRef>,
}

#[derive(Debug, Deserialize)]
struct VisitRef {
    id: String,
}

/// The next JSON frame and when it arrived; a close, an end or a long silence is an error.
async fn next_frame(ws: &mut WsStream) -> anyhow::Result<(Incoming, Instant)> {
    loop {
        let message = match tokio::time::timeout(PATIENCE, ws.next()).await {
            Err(_) => bail!("no frame within {PATIENCE:?}"),
            Ok(None) => bail!("connection ended without a close frame"),
            Ok(Some(Err(e))) => bail!("connection failed: {e}"),
            Ok(Some(Ok(m))) => m,
        };
        let at = Instant::now();
        match message {
            Message::Text(text) => return Ok((serde_json::from_str(text.as_str()).context("frame is not JSON")?, at)),
            Message::Close(frame) => {
                let (code, reason) =
                    frame.map(|f| (u16::from(f.code), f.reason.to_string())).unwrap_or((1005, String::new()));
                bail!("server closed the session with {code} {reason}");
            }
            _ => continue,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Statistics

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

/// Milliseconds from `from` to `to`, negative when `to` came first.
fn signed_ms(from: Instant, to: Instant) -> f64 {
    if to >= from { (to - from).as_secs_f64() * 1e3 } else { -((from - to).as_secs_f64() * 1e3) }
}

/// What the server itself reports went wrong: closes it sent, upgrades it refused, and
/// warnings or errors in its log.
async fn server_trouble(server: &Server) -> String {
    let metrics = server.metrics().await;
    let mut found: Vec<String> = metrics
        .lines()
        .filter(|l| l.starts_with("frontdesk_ws_closes_total") || l.starts_with("frontdesk_ws_upgrade_refusals_total"))
        .filter(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()).is_some_and(|v| v > 0.0))
        .map(str::to_owned)
        .collect();
    let log = strip_ansi(&std::fs::read_to_string(server.data_dir.join("server.log")).unwrap_or_default());
    let bad: Vec<&str> = log.lines().filter(|l| l.contains(" WARN ") || l.contains(" ERROR ")).collect();
    if !bad.is_empty() {
        found.push(format!("{} WARN/ERROR log lines, first: {}", bad.len(), bad[0]));
    }
    if found.is_empty() { "none".into() } else { found.join("; ") }
}

/// The server's log without terminal colour codes: tracing colours its level and field
/// names even into a file (`\x1b[33m WARN\x1b[0m`), which hides " WARN " from a search.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters, ending with a letter.
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// 1. Sessions held

struct HeldFigures {
    asked: usize,
    open_metric: f64,
    open_time: Duration,
    open_each_ms: Vec<f64>,
    open_cpu: CpuUse,
    listen_overflows: Option<u64>,
    rss_before_kib: u64,
    rss_after_kib: u64,
    client_rss_kib: u64,
    failures: String,
    trouble: String,
}

impl HeldFigures {
    fn per_session_kib(&self) -> f64 {
        self.rss_after_kib.saturating_sub(self.rss_before_kib) as f64 / self.open_metric.max(1.0)
    }
}

async fn bench_sessions_held(n: usize) -> HeldFigures {
    let server = start_server().await;
    let token = access_token(&server).await;
    let rss_before_kib = server_rss_kib(&server);
    let meter = CpuMeter::start(&server);
    let overflows_before = listen_overflows();
    let opened = open_sessions(&server, &token, n).await;
    let open_cpu = meter.stop();
    let overflows = listen_overflows().zip(overflows_before).map(|(after, before)| after.saturating_sub(before));
    // Let the sessions' tasks settle before reading the gauge and the memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let figures = HeldFigures {
        asked: n,
        open_metric: sessions_open(&server).await,
        open_time: opened.elapsed,
        open_each_ms: opened.each_ms,
        open_cpu,
        listen_overflows: overflows,
        rss_before_kib,
        rss_after_kib: server_rss_kib(&server),
        client_rss_kib: rss_kib("self").unwrap_or(0),
        failures: opened.failures.describe(),
        trouble: server_trouble(&server).await,
    };
    drop(opened.streams);
    figures
}

fn print_held(f: &HeldFigures) {
    println!(
        "sessions held: {} of {} open (frontdesk_ws_sessions_open) in {:.2} s ({:.0} sessions/s); server RSS {:.1} MiB -> {:.1} MiB = {:.1} KiB per session; bench client RSS {:.1} MiB",
        f.open_metric,
        f.asked,
        f.open_time.as_secs_f64(),
        f.open_metric / f.open_time.as_secs_f64(),
        f.rss_before_kib as f64 / 1024.0,
        f.rss_after_kib as f64 / 1024.0,
        f.per_session_kib(),
        f.client_rss_kib as f64 / 1024.0,
    );
    let each = &f.open_each_ms;
    println!(
        "  one open (upgrade to hello, {OPEN_CONCURRENCY} at a time): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} while opening; listen-queue overflows (TcpExt ListenOverflows, machine-wide) {}; failed opens: {}; server trouble: {}",
        percentile(each, 50.0),
        percentile(each, 99.0),
        percentile(each, 100.0),
        f.open_cpu.describe(),
        f.listen_overflows.map_or("unknown".into(), |n| n.to_string()),
        f.failures,
        f.trouble
    );
}

// ---------------------------------------------------------------------------------------
// 2. Check-in throughput

/// The cards a desk owns: an equal share of D0001..D0150.
fn desk_cards(desk: usize, desks: usize) -> Vec<String> {
    let share = BENCH_MEMBERS / desks;
    (desk * share..(desk + 1) * share).map(|i| card(i as u32 + 1)).collect()
}

/// The desk's `i`-th command: check its members in one after another, then out, and so
/// on. Commands on one session are applied in order, so every one should be accepted.
fn desk_command(i: usize, cards: &[String], desk_id: &str) -> serde_json::Value {
    let card = &cards[i % cards.len()];
    let mut command = if (i / cards.len()) % 2 == 0 { check_in(card) } else { check_out(card) };
    command["desk_id"] = desk_id.into();
    command
}

#[derive(Default)]
struct DeskResult {
    accepted: usize,
    rejected: HashMap<String, usize>,
    latencies_ms: Vec<f64>,
    events_seen: usize,
    error: Option<String>,
}

/// One desk of the check-in phase: its session, its members and its commands in flight.
struct Desk {
    ws: WsStream,
    id: String,
    cards: Vec<String>,
    commands: usize,
    window: usize,
    sent: usize,
    in_flight: VecDeque<(String, Instant)>,
    result: DeskResult,
}

impl Desk {
    fn new(ws: WsStream, desk: usize, desks: usize, commands: usize, window: usize) -> Self {
        let cards = desk_cards(desk, desks);
        let id = format!("bench-{desk}");
        let in_flight = VecDeque::with_capacity(window);
        Self { ws, id, cards, commands, window, sent: 0, in_flight, result: DeskResult::default() }
    }

    /// Sends `commands` commands with up to `window` in flight, until all are acknowledged
    /// or the session fails.
    async fn run(mut self, start: Arc<tokio::sync::Barrier>) -> DeskResult {
        start.wait().await;
        while self.sent < self.commands || !self.in_flight.is_empty() {
            if let Err(e) = self.step().await {
                self.result.error = Some(format!("{e:#}"));
                break;
            }
        }
        self.result
    }

    /// Tops the window up, then handles one frame.
    async fn step(&mut self) -> anyhow::Result<()> {
        self.top_up().await?;
        let (frame, at) = next_frame(&mut self.ws).await?;
        self.record(frame, at);
        Ok(())
    }

    async fn top_up(&mut self) -> anyhow::Result<()> {
        let mut fed = false;
        while self.in_flight.len() < self.window && self.sent < self.commands {
            let command = desk_command(self.sent, &self.cards, &self.id);
            let op_id = command["op_id"].as_str().unwrap_or_default().to_owned();
            self.ws.feed(Message::Text(command.to_string().into())).await?;
            self.in_flight.push_back((op_id, Instant::now()));
            self.sent += 1;
            fed = true;
        }
        if fed {
            self.ws.flush().await?;
        }
        Ok(())
    }

    fn record(&mut self, frame: Incoming, at: Instant) {
        let result = &mut self.result;
        match frame.kind.as_str() {
            "event" => result.events_seen += 1,
            "ack" => {
                let Some(position) = self.in_flight.iter().position(|(op, _)| Some(op) == frame.op_id.as_ref()) else {
                    return;
                };
                let (_, sent_at) = self.in_flight.remove(position).expect("position is in range");
                result.latencies_ms.push((at - sent_at).as_secs_f64() * 1e3);
                match frame.status.as_deref() {
                    Some("accepted") => result.accepted += 1,
                    _ => *result.rejected.entry(frame.code.unwrap_or_else(|| "?".into())).or_default() += 1,
                }
            }
            _ => {}
        }
    }
}

struct CheckinFigures {
    desks: usize,
    opened: usize,
    window: usize,
    accepted: usize,
    rejected: HashMap<String, usize>,
    elapsed: Duration,
    latencies_ms: Vec<f64>,
    events_seen: usize,
    cpu: CpuUse,
    errors: Vec<String>,
    trouble: String,
}

impl CheckinFigures {
    fn add(&mut self, desk: DeskResult) {
        self.accepted += desk.accepted;
        for (code, n) in desk.rejected {
            *self.rejected.entry(code).or_default() += n;
        }
        self.latencies_ms.extend(desk.latencies_ms);
        self.events_seen += desk.events_seen;
        self.errors.extend(desk.error);
    }

    fn acks(&self) -> usize {
        self.accepted + self.rejected.values().sum::<usize>()
    }

    fn acks_per_s(&self) -> f64 {
        self.acks() as f64 / self.elapsed.as_secs_f64()
    }
}

async fn bench_checkins(desks: usize, total: usize, window: usize) -> CheckinFigures {
    let server = start_server().await;
    let token = access_token(&server).await;
    let streams = open_sessions(&server, &token, desks).await.streams;
    let opened = streams.len();
    let per_desk = total / desks.max(1);
    let start = Arc::new(tokio::sync::Barrier::new(opened + 1));
    let tasks: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(desk, ws)| tokio::spawn(Desk::new(ws, desk, desks, per_desk, window).run(start.clone())))
        .collect();
    start.wait().await;
    let meter = CpuMeter::start(&server);
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.unwrap_or_else(|e| DeskResult { error: Some(e.to_string()), ..Default::default() }));
    }
    let cpu = meter.stop();
    let elapsed = cpu.wall;
    let mut figures = CheckinFigures {
        desks,
        opened,
        window,
        accepted: 0,
        rejected: HashMap::new(),
        elapsed,
        latencies_ms: Vec::new(),
        events_seen: 0,
        cpu,
        errors: Vec::new(),
        trouble: server_trouble(&server).await,
    };
    results.into_iter().for_each(|r| figures.add(r));
    figures.latencies_ms = sorted(std::mem::take(&mut figures.latencies_ms));
    figures
}

fn print_checkins(f: &CheckinFigures) {
    println!(
        "check-ins: {} acks ({} accepted, {} rejected {:?}) from {} desks ({} opened), window {}, in {:.2} s = {:.0} acks/s; ack latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; events received by desks meanwhile {} ({:.0}/s)",
        f.acks(),
        f.accepted,
        f.rejected.values().sum::<usize>(),
        f.rejected,
        f.desks,
        f.opened,
        f.window,
        f.elapsed.as_secs_f64(),
        f.acks_per_s(),
        percentile(&f.latencies_ms, 50.0),
        percentile(&f.latencies_ms, 99.0),
        percentile(&f.latencies_ms, 100.0),
        f.events_seen,
        f.events_seen as f64 / f.elapsed.as_secs_f64(),
    );
    let errors = if f.errors.is_empty() {
        "none".to_owned()
    } else {
        format!("{} desks, first: {}", f.errors.len(), f.errors[0])
    };
    println!("  {}; desk errors: {errors}; server trouble: {}", f.cpu.describe(), f.trouble);
}

// ---------------------------------------------------------------------------------------
// 3. Broadcast latency

/// Reads until `expected` events have arrived; returns each event's seq and arrival.
async fn listen(mut ws: WsStream, expected: usize, received: Arc<AtomicUsize>) -> anyhow::Result<Vec<(i64, Instant)>> {
    let mut arrivals = Vec::with_capacity(expected);
    while arrivals.len() < expected {
        let (frame, at) = next_frame(&mut ws).await?;
        if frame.kind == "event" {
            arrivals.push((frame.seq.context("event without seq")?, at));
            received.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(arrivals)
}

/// One round as the broadcasting desk saw it.
struct Round {
    seq: i64,
    sent: Instant,
    acked: Instant,
}

/// Sends one command and reads its ack, then its own event (for the seq).
async fn broadcast_round(ws: &mut WsStream, round: usize) -> anyhow::Result<Round> {
    let cardno = card(FANOUT_MEMBER);
    let command = if round % 2 == 0 { check_in(&cardno) } else { check_out(&cardno) };
    let op_id = command["op_id"].as_str().unwrap_or_default().to_owned();
    let sent = Instant::now();
    ws.send(Message::Text(command.to_string().into())).await?;
    let (visit, acked) = loop {
        let (frame, at) = next_frame(ws).await?;
        if frame.kind == "ack" && frame.op_id.as_deref() == Some(op_id.as_str()) {
            if frame.status.as_deref() != Some("accepted") {
                bail!("round {round}: {:?} {:?}", frame.status, frame.code);
            }
            break (frame.check_in.context("ack without check_in")?.id, at);
        }
    };
    loop {
        let (frame, _) = next_frame(ws).await?;
        if frame.kind == "event" && frame.check_in.as_ref().is_some_and(|c| c.id == visit) {
            return Ok(Round { seq: frame.seq.context("event without seq")?, sent, acked });
        }
    }
}

/// Waits (bounded) until the listeners together have received `target` events.
async fn await_delivery(received: &AtomicUsize, target: usize) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while received.load(Ordering::Relaxed) < target {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    true
}

struct FanoutFigures {
    listeners: usize,
    rounds: usize,
    after_ack_ms: Vec<f64>,
    after_send_ms: Vec<f64>,
    /// Per round: time from the ack to the last listener's event.
    last_listener_ms: Vec<f64>,
    missing: usize,
    cpu: CpuUse,
    errors: Failures,
    trouble: String,
}

async fn bench_fanout(listeners: usize, rounds: usize) -> FanoutFigures {
    let server = start_server().await;
    let token = access_token(&server).await;
    let Opened { streams, failures: mut errors, .. } = open_sessions(&server, &token, listeners).await;
    let opened = streams.len();
    let received = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = streams.into_iter().map(|ws| tokio::spawn(listen(ws, rounds, received.clone()))).collect();

    let mut desk = open_session(&server, &token).await.expect("the broadcasting desk opens");
    let meter = CpuMeter::start(&server);
    let played = play_rounds(&mut desk, rounds, &received, opened, &mut errors).await;
    let cpu = meter.stop();
    let trouble = server_trouble(&server).await;
    drop(desk);

    let mut figures = FanoutFigures {
        listeners: opened,
        rounds: played.len(),
        after_ack_ms: Vec::new(),
        after_send_ms: Vec::new(),
        last_listener_ms: Vec::new(),
        missing: 0,
        cpu,
        errors,
        trouble,
    };
    let mut last_per_seq: HashMap<i64, f64> = HashMap::new();
    for task in tasks {
        let arrivals = match task.await.map_err(anyhow::Error::from).and_then(|r| r) {
            Ok(arrivals) => arrivals,
            Err(e) => {
                figures.errors.record(e);
                continue;
            }
        };
        figures.missing += played.len().saturating_sub(arrivals.len());
        for (seq, at) in arrivals {
            let Some(round) = played.get(&seq) else { continue };
            let after_ack = signed_ms(round.acked, at);
            figures.after_ack_ms.push(after_ack);
            figures.after_send_ms.push(signed_ms(round.sent, at));
            let last = last_per_seq.entry(seq).or_insert(f64::MIN);
            *last = last.max(after_ack);
        }
    }
    figures.after_ack_ms = sorted(figures.after_ack_ms);
    figures.after_send_ms = sorted(figures.after_send_ms);
    figures.last_listener_ms = sorted(last_per_seq.into_values().collect());
    figures
}

/// Plays the rounds one after another, each once every listener has the previous
/// event; returns the rounds played by the seq of their event.
async fn play_rounds(
    desk: &mut WsStream,
    rounds: usize,
    received: &AtomicUsize,
    listeners: usize,
    errors: &mut Failures,
) -> HashMap<i64, Round> {
    let mut played = HashMap::new();
    for round in 0..rounds {
        match broadcast_round(desk, round).await {
            Ok(r) => played.insert(r.seq, r),
            Err(e) => {
                errors.record(e);
                break;
            }
        };
        if !await_delivery(received, listeners * (round + 1)).await {
            errors.record(anyhow!("round {round}: not every listener got the event within {PATIENCE:?}"));
            break;
        }
    }
    played
}

fn print_fanout(f: &FanoutFigures) {
    let a = &f.after_ack_ms;
    let s = &f.after_send_ms;
    println!(
        "broadcast: {} listeners x {} events = {} deliveries; after the sender's ack p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (min {:.2} ms); after the send p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; last listener per event p50 {:.2} ms",
        f.listeners,
        f.rounds,
        a.len(),
        percentile(a, 50.0),
        percentile(a, 99.0),
        percentile(a, 100.0),
        a.first().copied().unwrap_or(f64::NAN),
        percentile(s, 50.0),
        percentile(s, 99.0),
        percentile(s, 100.0),
        percentile(&f.last_listener_ms, 50.0),
    );
    println!(
        "  {}; missing deliveries: {}; errors: {}; server trouble: {}",
        f.cpu.describe(),
        f.missing,
        f.errors.describe(),
        f.trouble
    );
}

// ---------------------------------------------------------------------------------------
// The run and its summary

async fn run(args: Args, open_files: u64) -> anyhow::Result<()> {
    println!("frontdesk-bench: server on 127.0.0.1, {args:?}");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("machine: {cores} cores; load average at start {}", load_average());
    let cap = session_cap(open_files);
    let mut held = Vec::new();
    for &asked in args.sessions.iter().filter(|&&n| n > 0) {
        let n = asked.min(cap);
        if n < asked {
            println!(
                "sessions held: {asked} asked, but the open-files limit {open_files} allows about {cap}; holding {cap}"
            );
        }
        let figures = bench_sessions_held(n).await;
        print_held(&figures);
        held.push(figures);
    }
    let mut checkins = Vec::new();
    let windows = if args.checkins > 0 { args.windows.as_slice() } else { &[] };
    for &window in windows {
        let figures = bench_checkins(args.desks, args.checkins, window).await;
        print_checkins(&figures);
        checkins.push(figures);
    }
    let mut fanout = None;
    if args.fanout > 0 {
        let figures = bench_fanout(args.fanout.min(cap), args.rounds).await;
        print_fanout(&figures);
        fanout = Some(figures);
    }
    println!("load average at end {}", load_average());
    println!();
    println!("| figure | value |");
    println!("|---|---|");
    held.iter().for_each(summary_held);
    checkins.iter().for_each(summary_checkins);
    fanout.iter().for_each(summary_fanout);
    Ok(())
}

/// The 1, 5 and 15 minute load averages: the machine is shared, so say how busy it was.
fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn summary_held(h: &HeldFigures) {
    println!("| sessions held ({} asked) | {} open |", h.asked, h.open_metric);
    println!(
        "| time to open {} sessions, {OPEN_CONCURRENCY} at a time | {:.2} s |",
        h.asked,
        h.open_time.as_secs_f64()
    );
    let each = &h.open_each_ms;
    println!(
        "| one open (upgrade to hello) with {} opening, p50 / p99 / max | {:.2} ms / {:.2} ms / {:.2} ms |",
        h.asked,
        percentile(each, 50.0),
        percentile(each, 99.0),
        percentile(each, 100.0)
    );
    println!(
        "| server RSS, idle -> {} sessions | {:.1} MiB -> {:.1} MiB |",
        h.asked,
        h.rss_before_kib as f64 / 1024.0,
        h.rss_after_kib as f64 / 1024.0
    );
    println!("| server RSS per session ({}) | {:.1} KiB |", h.asked, h.per_session_kib());
}

fn summary_checkins(c: &CheckinFigures) {
    let l = &c.latencies_ms;
    let closed = if c.errors.is_empty() { String::new() } else { format!(", {} desks cut off", c.errors.len()) };
    println!(
        "| acknowledged commands, {} desks, window {} | {:.0} acks/s ({} acks{closed}) |",
        c.desks,
        c.window,
        c.acks_per_s(),
        c.acks()
    );
    println!(
        "| ack latency, window {}, p50 / p99 / max | {:.2} ms / {:.2} ms / {:.2} ms |",
        c.window,
        percentile(l, 50.0),
        percentile(l, 99.0),
        percentile(l, 100.0)
    );
}

fn summary_fanout(f: &FanoutFigures) {
    for (what, v) in [("the sender's ack", &f.after_ack_ms), ("the send", &f.after_send_ms)] {
        println!(
            "| event at {} sessions after {what}, p50 / p99 / max | {:.2} ms / {:.2} ms / {:.2} ms |",
            f.listeners,
            percentile(v, 50.0),
            percentile(v, 99.0),
            percentile(v, 100.0)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_found_in_a_coloured_log() {
        let line = "\x1b[2m2026-11-22T07:21:13.078057Z\x1b[0m \x1b[33m WARN\x1b[0m \x1b[2mfrontdesk_server\x1b[0m\x1b[2m:\x1b[0m some sessions did not close";
        assert!(!line.contains(" WARN "), "the colour codes hide the level");
        assert_eq!(strip_ansi(line), "2026-11-22T07:21:13.078057Z  WARN frontdesk_server: some sessions did not close");
    }
}
