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
//! 2. **Check-in throughput**: D desks in the one demo location, one session each, send
//!    `--checkins` commands in all (check-ins and check-outs of each desk's own share of
//!    D0001..D0150, in turn, so no two desks touch the same member), W in flight per desk,
//!    and wait for every ack; reports acks per second (first send to last ack) and the ack
//!    latency. Every desk also receives every event, and keeps reading after its own last
//!    ack until it has the event of every accepted command (bounded); the events each desk
//!    got are reported. Run once per desk count in `--desks` (default 50) and window in
//!    `--window` (default 16, pipelined, and 1, one scan at a time as a desk sends them).
//! 3. **Broadcast latency**: M listening sessions plus one desk that checks one member
//!    in and out in turn; reports how long after the desk's ack (and after its send)
//!    each listener receives the matching event, over all (listener, event) pairs.
//! 4. **Stats cost**: `--stats-desks` desks (D0001..D0140 shared out) and one probe desk
//!    (D0151..D0155) stay connected, each receiving every event. The probe desk sends
//!    `--stats-probe` commands one at a time (ack latency at 0 visits in the day), then
//!    the other desks fill the day with `--stats` visits (check-in / check-out pairs,
//!    2 in flight per desk, as fast as the server acknowledges them), then the probe
//!    desk measures again at that many visits. The day's visits are the server's own
//!    `stats.today_total` from the events.
//!
//! Run (release, so the server is built in release too; a 0 skips a phase, e.g.
//! `--sessions 0`, `--checkins 0`, `--fanout 0`, `--stats 0`):
//!
//! ```text
//! cargo run --release -p frontdesk-tests --bin frontdesk-bench -- server \
//!     [--sessions 1000,10000] [--desks 20,50] [--checkins 5000] [--fanout 1000] \
//!     [--rounds 50] [--window 16,1] [--stats 50000] [--stats-probe 200] [--stats-desks 20]
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
/// Demo members the fill desks of the stats phase share out: D0001..D0140, leaving room
/// under the capacity (150) for the probe desk's members.
const FILL_MEMBERS: usize = 140;
/// The probe desk's members in the stats phase: D0151..D0155 (active, outside the others).
const PROBE_MEMBERS: std::ops::RangeInclusive<u32> = 151..=155;
/// Commands in flight per fill desk in the stats phase: enough to hide the round trip,
/// few enough that the queue at a server whose commands grow slower with the day's
/// visits stays well inside its command timeout (5 s; 40 commands at 50 ms is 2 s).
const FILL_WINDOW: usize = 2;
/// Sessions a desk of the stats phase reopens after the server closed one.
const MAX_REOPENS: usize = 50;
/// Longest the stats phase fills the day: on a server whose cost per command grows with
/// the day's visits, the fill stops here and the probe reports the visits reached.
const FILL_LIMIT: Duration = Duration::from_secs(45 * 60);
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
                     [--fanout 1000] [--rounds 50] [--window 16,1] [--stats 50000] [--stats-probe 200] \
                     [--stats-desks 20]\n       \
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
    desks: Vec<usize>,
    checkins: usize,
    fanout: usize,
    rounds: usize,
    windows: Vec<usize>,
    /// Visits to fill the day with before the second stats probe (0: no stats phase).
    stats: usize,
    /// Commands the probe desk sends, one at a time, at each probe.
    stats_probe: usize,
    /// Desks that fill the day.
    stats_desks: usize,
}

impl Args {
    const USAGE: &str = "usage: frontdesk-bench server [--sessions 1000,10000] [--desks 50] [--checkins 5000] \
                         [--fanout 1000] [--rounds 50] [--window 16,1] [--stats 50000] [--stats-probe 200] \
                         [--stats-desks 20]";

    /// The options after `server`.
    fn parse(mut raw: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let mut args = Args {
            sessions: vec![1000, 10_000],
            desks: vec![50],
            checkins: 5000,
            fanout: 1000,
            rounds: 50,
            windows: vec![16, 1],
            stats: 50_000,
            stats_probe: 200,
            stats_desks: 20,
        };
        while let Some(flag) = raw.next() {
            let value = raw.next().ok_or_else(|| anyhow!("{flag} needs a value\n{}", Self::USAGE))?;
            let number = |v: &str| v.trim().parse::<usize>().with_context(|| format!("{flag} {v}: not a whole number"));
            match flag.as_str() {
                "--sessions" => args.sessions = value.split(',').map(number).collect::<anyhow::Result<_>>()?,
                "--desks" => args.desks = value.split(',').map(number).collect::<anyhow::Result<_>>()?,
                "--checkins" => args.checkins = number(&value)?,
                "--fanout" => args.fanout = number(&value)?,
                "--rounds" => args.rounds = number(&value)?,
                "--window" => args.windows = value.split(',').map(number).collect::<anyhow::Result<_>>()?,
                "--stats" => args.stats = number(&value)?,
                "--stats-probe" => args.stats_probe = number(&value)?,
                "--stats-desks" => args.stats_desks = number(&value)?,
                _ => bail!("unknown option {flag}\n{}", Self::USAGE),
            }
        }
        if args.desks.is_empty() || args.desks.iter().any(|d| !(1..=BENCH_MEMBERS).contains(d)) {
            bail!("--desks must be between 1 and {BENCH_MEMBERS} (each desk needs its own member)");
        }
        if !(1..=FILL_MEMBERS).contains(&args.stats_desks) {
            bail!("--stats-desks must be between 1 and {FILL_MEMBERS} (each desk needs its own member)");
        }
        if args.windows.contains(&0) || args.rounds == 0 || args.stats_probe == 0 {
            bail!("--window, --rounds and --stats-probe must be above 0");
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
    open_session_at(&server.ws_url(&format!("location={LOCATION}")), token).await
}

/// Opens one session at a WebSocket address and waits for its `hello`.
async fn open_session_at(url: &str, token: &str) -> anyhow::Result<WsStream> {
    let request = ws_request(url, Some(token), Some("frontdesk.v1"));
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
    stats: Option<StatsRef>,
}

#[derive(Debug, Deserialize)]
struct VisitRef {
    id: String,
}

#[derive(Debug, Deserialize)]
struct StatsRef {
    today_total: i64,
}

/// The next JSON frame and when it arrived; a close, an end or a long silence is an error.
async fn next_frame(ws: &mut WsStream) -> anyhow::Result<(Incoming, Instant)> {
    match next_frame_within(ws, PATIENCE).await? {
        Some(frame) => Ok(frame),
        None => bail!("no frame within {PATIENCE:?}"),
    }
}

/// The next JSON frame and when it arrived, or `None` after `wait` without one; a close
/// or an end is an error.
async fn next_frame_within(ws: &mut WsStream, wait: Duration) -> anyhow::Result<Option<(Incoming, Instant)>> {
    loop {
        let message = match tokio::time::timeout(wait, ws.next()).await {
            Err(_) => return Ok(None),
            Ok(None) => bail!("connection ended without a close frame"),
            Ok(Some(Err(e))) => bail!("connection failed: {e}"),
            Ok(Some(Ok(m))) => m,
        };
        let at = Instant::now();
        match message {
            Message::Text(text) => {
                return Ok(Some((serde_json::from_str(text.as_str()).context("frame is not JSON")?, at)));
            }
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

/// The cards a desk owns: an equal share of the first `members` of D0001..D0150.
fn desk_cards(desk: usize, desks: usize, members: usize) -> Vec<String> {
    let share = members / desks;
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
    /// When this desk's last ack arrived.
    last_ack: Option<Instant>,
    /// Sessions the server closed under this desk, which it reopened and went on
    /// (stats phase only), with the first reason.
    reconnects: usize,
    first_close: Option<String>,
    error: Option<String>,
}

/// What the desks of one run share: how many have had their last ack, and how many
/// commands were accepted in all (each publishes one event every desk should receive).
#[derive(Default)]
struct RunTally {
    done: AtomicUsize,
    accepted: AtomicUsize,
    /// Every ack of the run so far (progress of a long fill).
    acks: AtomicUsize,
}

/// One desk: its session, its members and its commands in flight.
struct Desk {
    ws: WsStream,
    id: String,
    cards: Vec<String>,
    /// Commands to have sent in all; `sent` stops here.
    target: usize,
    window: usize,
    /// No new command after this (commands in flight are still awaited).
    send_until: Option<Instant>,
    sent: usize,
    /// Commands sent and not yet acknowledged: op_id, when sent, the command itself (to
    /// send again, same op_id, on a new session).
    in_flight: VecDeque<(String, Instant, String)>,
    result: DeskResult,
    /// Where and how to open a new session when the server closes this one (as a desk
    /// does: it resends what was not acknowledged); `None` makes a close an error.
    reopen: Option<(String, String)>,
    /// Highest `stats.today_total` seen in an event: the day's visits, as the server counts them.
    today_total: i64,
    tally: Arc<RunTally>,
}

impl Desk {
    fn new(ws: WsStream, id: String, cards: Vec<String>, tally: Arc<RunTally>) -> Self {
        Self {
            ws,
            id,
            cards,
            target: 0,
            window: 1,
            send_until: None,
            sent: 0,
            in_flight: VecDeque::new(),
            result: DeskResult::default(),
            today_total: 0,
            tally,
            reopen: None,
        }
    }

    /// Reopens closed sessions at `url` with `token`, as a desk does.
    fn reopening(mut self, url: String, token: String) -> Self {
        self.reopen = Some((url, token));
        self
    }

    /// Sends `commands` more commands with up to `window` in flight, until all are
    /// acknowledged or the session fails (then `result.error` says why).
    async fn send(&mut self, commands: usize, window: usize) {
        self.target = self.sent + commands;
        self.window = window;
        while self.sent < self.target || !self.in_flight.is_empty() {
            if let Err(e) = self.step().await {
                if self.result.reconnects < MAX_REOPENS
                    && let Some((url, token)) = self.reopen.clone()
                {
                    self.result.first_close.get_or_insert_with(|| format!("{e:#}"));
                    self.result.reconnects += 1;
                    if let Err(e) = self.resume(&url, &token).await {
                        self.result.error = Some(format!("reopening after {}: {e:#}", self.result.reconnects));
                        break;
                    }
                    continue;
                }
                self.result.error = Some(format!("{e:#}"));
                break;
            }
        }
    }

    /// A new session after a close, and the unacknowledged commands again, in order
    /// (the server answers those it already stored with `duplicate`).
    async fn resume(&mut self, url: &str, token: &str) -> anyhow::Result<()> {
        // The server's hints ask for 1-5 s.
        tokio::time::sleep(Duration::from_secs(2)).await;
        self.ws = open_session_at(url, token).await?;
        for (_, sent_at, command) in self.in_flight.iter_mut() {
            self.ws.feed(Message::Text(command.clone().into())).await?;
            *sent_at = Instant::now();
        }
        self.ws.flush().await?;
        Ok(())
    }

    /// A desk of the check-in phase: all its commands, then every event of the run.
    async fn run(
        mut self,
        start: Arc<tokio::sync::Barrier>,
        commands: usize,
        window: usize,
        desks: usize,
    ) -> DeskResult {
        start.wait().await;
        self.send(commands, window).await;
        self.tally.accepted.fetch_add(self.result.accepted, Ordering::SeqCst);
        self.tally.done.fetch_add(1, Ordering::SeqCst);
        if self.result.error.is_none() {
            self.read_remaining_events(desks).await;
        }
        self.result
    }

    /// Reads on until every desk has its last ack and this desk has the event of every
    /// accepted command, or for at most [`PATIENCE`].
    async fn read_remaining_events(&mut self, desks: usize) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let all_done = self.tally.done.load(Ordering::SeqCst) >= desks;
            if all_done && self.result.events_seen >= self.tally.accepted.load(Ordering::SeqCst) {
                return;
            }
            if Instant::now() > deadline {
                return;
            }
            match next_frame_within(&mut self.ws, Duration::from_millis(100)).await {
                Ok(Some((frame, at))) => self.record(frame, at),
                Ok(None) => {}
                Err(e) => {
                    self.result.error = Some(format!("after its last ack: {e:#}"));
                    return;
                }
            }
        }
    }

    /// Tops the window up, then handles one frame.
    async fn step(&mut self) -> anyhow::Result<()> {
        self.top_up().await?;
        let (frame, at) = next_frame(&mut self.ws).await?;
        self.record(frame, at);
        Ok(())
    }

    async fn top_up(&mut self) -> anyhow::Result<()> {
        if self.send_until.is_some_and(|until| Instant::now() >= until) {
            self.target = self.sent;
        }
        let mut fed = false;
        while self.in_flight.len() < self.window && self.sent < self.target {
            let command = desk_command(self.sent, &self.cards, &self.id);
            let op_id = command["op_id"].as_str().unwrap_or_default().to_owned();
            let text = command.to_string();
            self.ws.feed(Message::Text(text.clone().into())).await?;
            self.in_flight.push_back((op_id, Instant::now(), text));
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
            "event" => {
                result.events_seen += 1;
                if let Some(stats) = frame.stats {
                    self.today_total = self.today_total.max(stats.today_total);
                }
            }
            "ack" => {
                let Some(position) = self.in_flight.iter().position(|(op, ..)| Some(op) == frame.op_id.as_ref()) else {
                    return;
                };
                let (_, sent_at, _) = self.in_flight.remove(position).expect("position is in range");
                result.latencies_ms.push((at - sent_at).as_secs_f64() * 1e3);
                result.last_ack = Some(at);
                self.tally.acks.fetch_add(1, Ordering::Relaxed);
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
    /// First send to the last ack of any desk.
    elapsed: Duration,
    latencies_ms: Vec<f64>,
    events_seen: usize,
    /// Events each desk received, fewest and most; every desk should get `accepted`.
    events_per_desk: (usize, usize),
    cpu: CpuUse,
    errors: Vec<String>,
    /// Sessions the server closed and the desks reopened (stats phase), and the first
    /// close seen.
    reopened: usize,
    first_close: Option<String>,
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
        self.events_per_desk =
            (self.events_per_desk.0.min(desk.events_seen), self.events_per_desk.1.max(desk.events_seen));
        self.errors.extend(desk.error);
        self.reopened += desk.reconnects;
        if self.first_close.is_none() {
            self.first_close = desk.first_close;
        }
    }

    fn acks(&self) -> usize {
        self.accepted + self.rejected.values().sum::<usize>()
    }

    fn acks_per_s(&self) -> f64 {
        self.acks() as f64 / self.elapsed.as_secs_f64()
    }

    fn desks_with_every_event(&self, results: &[usize]) -> usize {
        results.iter().filter(|&&n| n >= self.accepted).count()
    }
}

async fn bench_checkins(desks: usize, total: usize, window: usize) -> CheckinFigures {
    let server = start_server().await;
    let token = access_token(&server).await;
    let streams = open_sessions(&server, &token, desks).await.streams;
    let opened = streams.len();
    let per_desk = total / desks.max(1);
    let start = Arc::new(tokio::sync::Barrier::new(opened + 1));
    let tally = Arc::new(RunTally::default());
    let tasks: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(desk, ws)| {
            let desk = Desk::new(ws, format!("bench-{desk}"), desk_cards(desk, desks, BENCH_MEMBERS), tally.clone());
            tokio::spawn(desk.run(start.clone(), per_desk, window, opened))
        })
        .collect();
    start.wait().await;
    let started = Instant::now();
    let meter = CpuMeter::start(&server);
    // CPU up to the last ack; the desks then read their last events.
    let deadline = Instant::now() + PATIENCE * 10;
    while tally.done.load(Ordering::SeqCst) < opened && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let cpu = meter.stop();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.unwrap_or_else(|e| DeskResult { error: Some(e.to_string()), ..Default::default() }));
    }
    let last_ack = results.iter().filter_map(|r| r.last_ack).max().unwrap_or(started);
    let mut figures = CheckinFigures {
        desks,
        opened,
        window,
        accepted: 0,
        rejected: HashMap::new(),
        elapsed: last_ack - started,
        latencies_ms: Vec::new(),
        events_seen: 0,
        events_per_desk: (usize::MAX, 0),
        cpu,
        errors: Vec::new(),
        reopened: 0,
        first_close: None,
        trouble: server_trouble(&server).await,
    };
    let seen: Vec<usize> = results.iter().map(|r| r.events_seen).collect();
    results.into_iter().for_each(|r| figures.add(r));
    if seen.is_empty() {
        figures.events_per_desk = (0, 0);
    }
    figures.latencies_ms = sorted(std::mem::take(&mut figures.latencies_ms));
    let complete = figures.desks_with_every_event(&seen);
    figures.errors.extend((complete < seen.len()).then(|| format!("{} desks missed events", seen.len() - complete)));
    figures
}

fn print_checkins(f: &CheckinFigures) {
    println!(
        "check-ins: {} acks ({} accepted, {} rejected {:?}) from {} desks ({} opened) in one location, window {}, in {:.2} s = {:.0} acks/s; ack latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; events per desk min {} max {} of {} published ({} in all, {:.0}/s)",
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
        f.events_per_desk.0,
        f.events_per_desk.1,
        f.accepted,
        f.events_seen,
        f.events_seen as f64 / f.elapsed.as_secs_f64(),
    );
    let errors =
        if f.errors.is_empty() { "none".to_owned() } else { format!("{}, first: {}", f.errors.len(), f.errors[0]) };
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
    /// Each delivery after the first delivery of the same event: the fan-out wave itself,
    /// whatever the command took before the server published the event.
    after_first_ms: Vec<f64>,
    /// Per event: the first listener's event to the last one's.
    wave_ms: Vec<f64>,
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
        after_first_ms: Vec::new(),
        wave_ms: Vec::new(),
        missing: 0,
        cpu,
        errors,
        trouble,
    };
    let mut last_per_seq: HashMap<i64, f64> = HashMap::new();
    let mut all_arrivals: Vec<(i64, Instant)> = Vec::new();
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
            all_arrivals.push((seq, at));
        }
    }
    let mut span: HashMap<i64, (Instant, Instant)> = HashMap::new();
    for &(seq, at) in &all_arrivals {
        let (first, last) = span.entry(seq).or_insert((at, at));
        *first = (*first).min(at);
        *last = (*last).max(at);
    }
    figures.after_first_ms =
        sorted(all_arrivals.iter().map(|(seq, at)| signed_ms(span[seq].0, *at)).collect::<Vec<_>>());
    figures.wave_ms = sorted(span.values().map(|(first, last)| signed_ms(*first, *last)).collect());
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
    let (w, first) = (&f.wave_ms, &f.after_first_ms);
    println!(
        "  fan-out wave: after the first listener's event p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; first to last listener per event p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(first, 50.0),
        percentile(first, 99.0),
        percentile(first, 100.0),
        percentile(w, 50.0),
        percentile(w, 99.0),
        percentile(w, 100.0),
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
// 4. Stats cost

/// Work for a desk whose session is kept read between jobs.
struct Job {
    commands: usize,
    window: usize,
    until: Option<Instant>,
    /// The desk's result, with the day's visits (`stats.today_total`) when the job began
    /// and when it ended.
    reply: tokio::sync::oneshot::Sender<(DeskResult, i64, i64)>,
}

/// Reads the desk's session (every event) while it has no job, and runs each job it is
/// given; ends when the job queue closes or the session fails (returning why).
async fn desk_worker(mut desk: Desk, mut jobs: tokio::sync::mpsc::Receiver<Job>) -> Option<String> {
    enum Next {
        Job(Option<Job>),
        Frame(anyhow::Result<Option<(Incoming, Instant)>>),
    }
    loop {
        let next = tokio::select! {
            job = jobs.recv() => Next::Job(job),
            frame = next_frame_within(&mut desk.ws, Duration::from_millis(200)) => Next::Frame(frame),
        };
        match next {
            Next::Job(None) => return None,
            Next::Job(Some(job)) => {
                let before = desk.today_total;
                desk.result = DeskResult::default();
                desk.send_until = job.until;
                desk.send(job.commands, job.window).await;
                let result = std::mem::take(&mut desk.result);
                let failed = result.error.clone();
                let _ = job.reply.send((result, before, desk.today_total));
                if failed.is_some() {
                    return failed;
                }
            }
            Next::Frame(Ok(Some((frame, at)))) => desk.record(frame, at),
            Next::Frame(Ok(None)) => {}
            Next::Frame(Err(e)) => return Some(format!("{} between jobs: {e:#}", desk.id)),
        }
    }
}

struct Worker {
    jobs: tokio::sync::mpsc::Sender<Job>,
    task: tokio::task::JoinHandle<Option<String>>,
}

impl Worker {
    fn spawn(desk: Desk) -> Self {
        let (jobs, queue) = tokio::sync::mpsc::channel(1);
        Self { jobs, task: tokio::spawn(desk_worker(desk, queue)) }
    }

    /// Hands the desk a job; the receiver gets its result.
    async fn give(
        &self,
        commands: usize,
        window: usize,
        until: Option<Instant>,
    ) -> tokio::sync::oneshot::Receiver<(DeskResult, i64, i64)> {
        let (reply, result) = tokio::sync::oneshot::channel();
        // A worker that has ended drops the reply, which its receiver reports.
        let _ = self.jobs.send(Job { commands, window, until, reply }).await;
        result
    }
}

/// A job's result; a worker that ended first counts as a desk error.
fn job_result(
    result: Result<(DeskResult, i64, i64), tokio::sync::oneshot::error::RecvError>,
) -> (DeskResult, i64, i64) {
    result.unwrap_or_else(|_| {
        (DeskResult { error: Some("the desk's session had ended".into()), ..Default::default() }, 0, 0)
    })
}

struct ProbeFigures {
    /// The day's visits when the probe began and when it ended.
    visits_before: i64,
    visits_after: i64,
    result: DeskResult,
    cpu: CpuUse,
}

struct StatsFigures {
    target: usize,
    fill_desks: usize,
    probes: Vec<ProbeFigures>,
    fill: CheckinFigures,
    /// Acks per second over each tenth of the fill's acks.
    fill_tenths: Vec<f64>,
    errors: Vec<String>,
    trouble: String,
}

/// The probe desk's commands, one at a time, with the server otherwise idle.
async fn probe(server: &Server, desk: &Worker, commands: usize) -> ProbeFigures {
    let meter = CpuMeter::start(server);
    let reply = desk.give(commands, 1, None).await;
    let (mut result, visits_before, visits_after) = match tokio::time::timeout(PATIENCE * 10, reply).await {
        Ok(r) => job_result(r),
        Err(_) => (
            DeskResult { error: Some(format!("probe not done within {:?}", PATIENCE * 10)), ..Default::default() },
            0,
            0,
        ),
    };
    result.latencies_ms = sorted(std::mem::take(&mut result.latencies_ms));
    ProbeFigures { visits_before, visits_after, result, cpu: meter.stop() }
}

async fn bench_stats(target: usize, probe_commands: usize, fill_desks: usize) -> StatsFigures {
    let server = start_server().await;
    let token = access_token(&server).await;
    let Opened { streams, failures, .. } = open_sessions(&server, &token, fill_desks + 1).await;
    let url = server.ws_url(&format!("location={LOCATION}"));
    let mut errors: Vec<String> = failures.first.iter().cloned().collect();
    let mut streams = streams.into_iter();
    let probe_desk = streams.next().map(|ws| {
        let cards = PROBE_MEMBERS.map(card).collect();
        let desk = Desk::new(ws, "bench-probe".into(), cards, Arc::new(RunTally::default()));
        Worker::spawn(desk.reopening(url.clone(), token.clone()))
    });
    let tally = Arc::new(RunTally::default());
    let fillers: Vec<Worker> = streams
        .enumerate()
        .map(|(i, ws)| {
            let cards = desk_cards(i, fill_desks, FILL_MEMBERS);
            let desk = Desk::new(ws, format!("bench-fill-{i}"), cards, tally.clone());
            Worker::spawn(desk.reopening(url.clone(), token.clone()))
        })
        .collect();
    let mut figures = StatsFigures {
        target,
        fill_desks: fillers.len(),
        probes: Vec::new(),
        fill: CheckinFigures {
            desks: fillers.len(),
            opened: fillers.len(),
            window: FILL_WINDOW,
            accepted: 0,
            rejected: HashMap::new(),
            elapsed: Duration::ZERO,
            latencies_ms: Vec::new(),
            events_seen: 0,
            events_per_desk: (0, 0),
            cpu: CpuMeter::start(&server).stop(),
            errors: Vec::new(),
            reopened: 0,
            first_close: None,
            trouble: String::new(),
        },
        fill_tenths: Vec::new(),
        errors: Vec::new(),
        trouble: String::new(),
    };
    let Some(probe_desk) = probe_desk.filter(|_| fillers.len() == fill_desks) else {
        errors.push(format!("could not open {} sessions", fill_desks + 1));
        figures.errors = errors;
        figures.trouble = server_trouble(&server).await;
        return figures;
    };

    let first = probe(&server, &probe_desk, probe_commands).await;
    print_probe(&first);
    figures.probes.push(first);

    // Every fill desk checks its members in and out in turn, whole rounds only, so the
    // day ends with nobody in.
    let share = FILL_MEMBERS / fill_desks;
    let visits_per_desk = target.div_ceil(fill_desks).div_ceil(share) * share;
    let commands = 2 * visits_per_desk;
    let total = commands * fill_desks;
    let meter = CpuMeter::start(&server);
    let started = Instant::now();
    let until = Some(started + FILL_LIMIT);
    let mut replies = Vec::with_capacity(fillers.len());
    for filler in &fillers {
        replies.push(filler.give(commands, FILL_WINDOW, until).await);
    }
    let all = futures_util::future::join_all(replies);
    tokio::pin!(all);
    let mut tenth_started = (started, 0usize);
    let results = loop {
        tokio::select! {
            results = &mut all => break results,
            _ = tokio::time::sleep(Duration::from_millis(50)) => {
                let acks = tally.acks.load(Ordering::Relaxed);
                let tenth = (total / 10).max(1);
                if acks >= tenth_started.1 + tenth && figures.fill_tenths.len() < 9 {
                    let rate = (acks - tenth_started.1) as f64 / tenth_started.0.elapsed().as_secs_f64();
                    figures.fill_tenths.push(rate);
                    println!(
                        "  stats fill progress: {acks} of {total} acks at {:.1} s ({rate:.0} acks/s over the last tenth)",
                        started.elapsed().as_secs_f64()
                    );
                    tenth_started = (Instant::now(), acks);
                }
            }
        }
    };
    let acks = tally.acks.load(Ordering::Relaxed);
    if acks > tenth_started.1 {
        figures.fill_tenths.push((acks - tenth_started.1) as f64 / tenth_started.0.elapsed().as_secs_f64());
    }
    figures.fill.cpu = meter.stop();
    let mut last_ack = started;
    for (result, _, _) in results.into_iter().map(job_result) {
        last_ack = last_ack.max(result.last_ack.unwrap_or(started));
        figures.fill.add(DeskResult { latencies_ms: Vec::new(), ..result });
    }
    figures.fill.elapsed = last_ack - started;
    // Let the probe desk read the fill's last events (it keeps the day's count).
    tokio::time::sleep(Duration::from_millis(500)).await;

    let second = probe(&server, &probe_desk, probe_commands).await;
    print_probe(&second);
    figures.probes.push(second);

    for worker in fillers.into_iter().chain(std::iter::once(probe_desk)) {
        drop(worker.jobs);
        if let Ok(Ok(Some(e))) = tokio::time::timeout(PATIENCE, worker.task).await {
            errors.push(e);
        }
    }
    figures.errors = errors;
    figures.trouble = server_trouble(&server).await;
    figures
}

fn print_probe(p: &ProbeFigures) {
    let r = &p.result;
    let l = &r.latencies_ms;
    println!(
        "stats cost: probe at {} visits in the day (today_total {} -> {}): {} acks ({} accepted, rejected {:?}) from one desk, one at a time, ack latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; sessions reopened {}; error: {}",
        p.visits_before,
        p.visits_before,
        p.visits_after,
        l.len(),
        r.accepted,
        r.rejected,
        percentile(l, 50.0),
        percentile(l, 99.0),
        percentile(l, 100.0),
        r.reconnects,
        r.error.as_deref().unwrap_or("none"),
    );
    println!("  {}", p.cpu.describe());
}

fn print_stats(f: &StatsFigures) {
    let fill = &f.fill;
    let tenths: Vec<String> = f.fill_tenths.iter().map(|r| format!("{r:.0}")).collect();
    println!(
        "stats fill: {} desks, window {FILL_WINDOW}, {} acks ({} accepted, {} rejected {:?}) in {:.2} s = {:.0} acks/s; day filled to {} visits (asked {}); acks/s per tenth {}",
        f.fill_desks,
        fill.acks(),
        fill.accepted,
        fill.rejected.values().sum::<usize>(),
        fill.rejected,
        fill.elapsed.as_secs_f64(),
        fill.acks_per_s(),
        f.probes.get(1).map_or(0, |p| p.visits_before),
        f.target,
        tenths.join(", "),
    );
    let errors: Vec<&String> = fill.errors.iter().chain(&f.errors).collect();
    let errors = if errors.is_empty() { "none".to_owned() } else { format!("{}, first: {}", errors.len(), errors[0]) };
    println!(
        "  {}; sessions closed by the server and reopened: {}{}; desk errors: {errors}; server trouble: {}",
        fill.cpu.describe(),
        fill.reopened,
        fill.first_close.as_ref().map_or(String::new(), |c| format!(" (first: {c})")),
        f.trouble
    );
}

fn summary_stats(f: &StatsFigures) {
    let fill = &f.fill;
    for (i, p) in f.probes.iter().enumerate() {
        if i == 1 {
            println!(
                "| filling the day, {} desks, window {FILL_WINDOW} | {:.0} acks/s ({} acks in {:.1} s) |",
                f.fill_desks,
                fill.acks_per_s(),
                fill.acks(),
                fill.elapsed.as_secs_f64()
            );
        }
        let l = &p.result.latencies_ms;
        println!(
            "| ack latency, one desk one at a time, at {} visits in the day, p50 / p99 / max | {:.2} ms / {:.2} ms / {:.2} ms |",
            p.visits_before,
            percentile(l, 50.0),
            percentile(l, 99.0),
            percentile(l, 100.0)
        );
    }
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
    for &desks in &args.desks {
        for &window in windows {
            let figures = bench_checkins(desks, args.checkins, window).await;
            print_checkins(&figures);
            checkins.push(figures);
        }
    }
    let mut fanout = None;
    if args.fanout > 0 {
        let figures = bench_fanout(args.fanout.min(cap), args.rounds).await;
        print_fanout(&figures);
        fanout = Some(figures);
    }
    let mut stats = None;
    if args.stats > 0 {
        let figures = bench_stats(args.stats, args.stats_probe, args.stats_desks).await;
        print_stats(&figures);
        stats = Some(figures);
    }
    println!("load average at end {}", load_average());
    println!();
    println!("| figure | value |");
    println!("|---|---|");
    held.iter().for_each(summary_held);
    checkins.iter().for_each(summary_checkins);
    fanout.iter().for_each(summary_fanout);
    stats.iter().for_each(summary_stats);
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
    let closed = if c.errors.is_empty() { String::new() } else { format!(", {} desk errors", c.errors.len()) };
    println!(
        "| acknowledged commands, {} desks, window {} | {:.0} acks/s ({} acks{closed}) |",
        c.desks,
        c.window,
        c.acks_per_s(),
        c.acks()
    );
    println!(
        "| ack latency, {} desks, window {}, p50 / p99 / max | {:.2} ms / {:.2} ms / {:.2} ms |",
        c.desks,
        c.window,
        percentile(l, 50.0),
        percentile(l, 99.0),
        percentile(l, 100.0)
    );
    println!(
        "| events each desk received, {} desks, window {}, min / max | {} / {} of {} |",
        c.desks, c.window, c.events_per_desk.0, c.events_per_desk.1, c.accepted
    );
}

fn summary_fanout(f: &FanoutFigures) {
    let figures = [
        ("the sender's ack", &f.after_ack_ms),
        ("the send", &f.after_send_ms),
        ("the first of them got it", &f.after_first_ms),
    ];
    for (what, v) in figures {
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
