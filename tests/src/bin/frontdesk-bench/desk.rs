//! `frontdesk-bench desk`: figures for the desk client library (`frontdesk_desk`, the
//! same library the app and the agent run) against the real `frontdesk-server` binary,
//! over loopback. Like `server`, it asserts nothing: it prints what it saw, and every
//! wait is bounded, so it stops by itself.
//!
//! 1. **Outbox replay**: one in-process [`Desk`] behind a fault proxy. The desk goes live
//!    once (sign-in, roster), then the proxy refuses every connection and the desk queues
//!    `--outbox` entries (check-in / check-out pairs over D0001..D0100; capacity is 150).
//!    The proxy passes again, "retry now" is pressed, and the bench times the outbox
//!    until nothing is pending. It then checks the server holds exactly one visit per
//!    pair, all closed, and that every ack was an acceptance.
//! 2. **Reconnect storm**: `--desks` in-process desks, each with its own data dir and
//!    sign-in, live on one server behind a proxy. The server is stopped gracefully
//!    (SIGTERM: every session gets 1012 with a spread `retry_after_ms`), and restarted
//!    on the same data dir; the proxy follows it to its new port. Reported: the time
//!    until every desk is live again, each desk's first reconnect attempt after the close
//!    (the supervisor publishes "Connecting to the server." right before each attempt),
//!    and every attempt that failed on the way, by reason.
//! 3. **Idle agent memory**: the real `frontdesk-agent` binary, signed in through the
//!    real keychain (Secret Service; run through `scripts/bench.sh`, which provides a
//!    D-Bus session with gnome-keyring), live and idle for `--idle` seconds: its VmRSS.
//!
//! The in-process desks of 1 and 2 keep their refresh token in memory
//! ([`MemorySecrets`]): the keychain is not what those figures measure, and one keyring
//! daemon serialising 200 sign-ins would. The real keychain is covered by the tests
//! (`tests/tests/desk_tokens.rs`) and by phase 3.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use frontdesk_desk::{ConnectionState, Counts, Desk, DeskConfig, DeskEvent, Secret, SecretStore, Status, Who};
use frontdesk_protocol::ws::AckStatus;
use frontdesk_tests::agent::{Agent, AgentOptions};
use frontdesk_tests::proxy::{Mode, Proxy};
use frontdesk_tests::{Server, card, metric_sum};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{CpuMeter, CpuUse, PATIENCE, load_average, percentile, rss_kib, server_trouble, sorted, strip_ansi};

const USERNAME: &str = "frontdesk";
const PASSWORD: &str = "frontdesk-demo";
/// Members the replay desk checks in and out in turn: D0001..D0100, all active.
const REPLAY_MEMBERS: usize = 100;
/// The detail the supervisor publishes right before each connection attempt.
const CONNECTING: &str = "Connecting to the server.";
/// Sign-ins in flight at once while opening the storm's desks (each one is an argon2
/// verify on the server, which has two cores here).
const SIGN_IN_CONCURRENCY: usize = 4;
/// Longest the replay may take before the bench reports it unfinished.
const REPLAY_PATIENCE: Duration = Duration::from_secs(900);
/// Longest the storm's desks may take to be live again.
const STORM_PATIENCE: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------
// Command line

#[derive(Debug, Clone)]
pub struct DeskArgs {
    /// Outbox entries queued while offline (phase 1).
    outbox: usize,
    /// Desks in the reconnect storm (phase 2).
    desks: usize,
    /// Seconds the agent idles before its memory is read (phase 3).
    idle_s: u64,
}

impl DeskArgs {
    const USAGE: &str = "usage: frontdesk-bench desk [--outbox 10000] [--desks 200] [--idle 5]";

    /// The options after `desk`. A 0 skips a phase.
    pub fn parse(mut raw: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let mut args = DeskArgs { outbox: 10_000, desks: 200, idle_s: 5 };
        while let Some(flag) = raw.next() {
            let value = raw.next().ok_or_else(|| anyhow!("{flag} needs a value\n{}", Self::USAGE))?;
            let number = |v: &str| v.trim().parse::<usize>().with_context(|| format!("{flag} {v}: not a whole number"));
            match flag.as_str() {
                "--outbox" => args.outbox = number(&value)?,
                "--desks" => args.desks = number(&value)?,
                "--idle" => args.idle_s = number(&value)? as u64,
                _ => bail!("unknown option {flag}\n{}", Self::USAGE),
            }
        }
        if !args.outbox.is_multiple_of(2) {
            bail!("--outbox must be even: the entries are check-in / check-out pairs");
        }
        Ok(args)
    }
}

// ---------------------------------------------------------------------------------------
// Desks in this process

/// The refresh token in memory, for the in-process desks only (see the module notes).
#[derive(Default)]
struct MemorySecrets(Mutex<Option<Secret>>);

impl SecretStore for MemorySecrets {
    fn store(&self, secret: &Secret) -> frontdesk_desk::Result<()> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(secret.clone());
        Ok(())
    }

    fn load(&self) -> frontdesk_desk::Result<Option<Secret>> {
        Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    fn delete(&self) -> frontdesk_desk::Result<()> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }
}

/// Opens a desk on `server` (the proxy's URL) and signs it in; it is not started yet.
async fn signed_in_desk(server: &str, desk_id: &str, data_dir: &Path) -> anyhow::Result<Desk> {
    let config = DeskConfig {
        server: server.to_owned(),
        location_id: frontdesk_tests::LOCATION.into(),
        desk_id: desk_id.to_owned(),
        data_dir: data_dir.to_owned(),
        device_name: format!("frontdesk-bench {desk_id}"),
        ca_file: None,
    };
    let desk = Desk::open(config, Arc::new(MemorySecrets::default()))?;
    desk.sign_in(USERNAME, PASSWORD).await.map_err(|e| anyhow!("{desk_id} sign-in: {} ({})", e.message(), e.code()))?;
    Ok(desk)
}

/// Waits (bounded) until the desk's status satisfies `want`.
async fn wait_status(desk: &Desk, limit: Duration, want: impl Fn(&Status) -> bool) -> anyhow::Result<()> {
    let mut status = desk.watch_status();
    let waited = tokio::time::timeout(limit, async {
        loop {
            if want(&status.borrow_and_update()) {
                return true;
            }
            if status.changed().await.is_err() {
                return false;
            }
        }
    })
    .await;
    match waited {
        Ok(true) => Ok(()),
        _ => bail!("{}: status still {:?} after {limit:?}", desk.config().desk_id, desk.status()),
    }
}

fn is_live(status: &Status) -> bool {
    status.state == ConnectionState::Live
}

/// What one desk reported, each with when the bench received it.
#[derive(Default)]
struct Timeline {
    states: Vec<(Instant, Status)>,
    errors: Vec<String>,
    acks: usize,
    duplicate_acks: usize,
    rejected: BTreeMap<String, usize>,
    /// When each first ack arrived, in order.
    ack_times: Vec<Instant>,
}

/// Records a desk's events until `stop` turns true (events already sent are taken first).
fn record(desk: &Desk, mut stop: watch::Receiver<bool>) -> JoinHandle<Timeline> {
    let mut events = desk.subscribe();
    tokio::spawn(async move {
        let mut timeline = Timeline::default();
        loop {
            let event = tokio::select! {
                biased;
                event = events.recv() => event,
                _ = stop.wait_for(|stop| *stop) => None,
            };
            let at = Instant::now();
            match event {
                None => return timeline,
                Some(DeskEvent::State(status)) => timeline.states.push((at, status)),
                Some(DeskEvent::Error { code, message }) => timeline.errors.push(format!("{code}: {message}")),
                Some(DeskEvent::Ack { ack }) => {
                    timeline.acks += 1;
                    timeline.duplicate_acks += usize::from(ack.duplicate);
                    if ack.status == AckStatus::Rejected {
                        *timeline.rejected.entry(format!("{:?}", ack.code)).or_default() += 1;
                    }
                    timeline.ack_times.push(at);
                }
                Some(_) => {}
            }
        }
    })
}

/// A status detail without its changing tail ("Trying again in 3 s. …"), to count by.
fn reason(detail: &str) -> String {
    detail.split(" Trying again in").next().unwrap_or(detail).trim().to_owned()
}

fn ms(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1e3
}

fn spread(values: &[f64]) -> String {
    if values.is_empty() {
        return "none".into();
    }
    format!(
        "min {:.0} / p50 {:.0} / p90 {:.0} / max {:.0} ms",
        percentile(values, 0.0),
        percentile(values, 50.0),
        percentile(values, 90.0),
        percentile(values, 100.0)
    )
}

fn tally(counts: &BTreeMap<String, usize>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts.iter().map(|(what, n)| format!("{n} × {what}")).collect::<Vec<_>>().join("; ")
}

// ---------------------------------------------------------------------------------------
// 1. Outbox replay

struct ReplayFigures {
    entries: usize,
    enqueue: Duration,
    queued: Counts,
    /// Failed connection attempts while the entries were queued (the status's count).
    offline_attempts: u32,
    to_live: Option<Duration>,
    to_first_ack: Option<Duration>,
    /// Acks per second over each tenth of the acks, in order: does the rate hold up as
    /// the server's visit history grows?
    tenths: Vec<f64>,
    drained: Option<Duration>,
    counts: Counts,
    acks: usize,
    duplicate_acks: usize,
    rejected: BTreeMap<String, usize>,
    /// The desk left "live" during the replay, by reason.
    interruptions: BTreeMap<String, usize>,
    errors: Vec<String>,
    visits: usize,
    visits_open: usize,
    visits_this_desk: usize,
    cpu: CpuUse,
    bench_rss_kib: u64,
    trouble: String,
}

impl ReplayFigures {
    fn per_s(&self) -> f64 {
        self.drained.map_or(f64::NAN, |d| self.entries as f64 / d.as_secs_f64())
    }
}

async fn bench_replay(entries: usize) -> anyhow::Result<ReplayFigures> {
    let server = Server::start().await;
    let proxy = Proxy::start(&server.addr).await;
    let dir = tempfile::tempdir()?;
    let desk = Arc::new(signed_in_desk(&proxy.url(), "bench-replay", dir.path()).await?);
    desk.start();
    wait_status(&desk, PATIENCE, is_live).await?;
    // The roster is cached after the first connect, as at a desk that worked before.
    let deadline = Instant::now() + PATIENCE;
    while desk.roster_synced_at()?.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The server becomes unreachable; the desk notices and keeps retrying with backoff.
    proxy.set_mode(Mode::Refuse);
    proxy.cut();
    wait_status(&desk, PATIENCE, |s| !is_live(s)).await?;

    let started = Instant::now();
    let queuing = desk.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        for i in 0..entries {
            let member = card(((i / 2) % REPLAY_MEMBERS) as u32 + 1);
            if i % 2 == 0 {
                queuing.check_in(Who::Card(member), None)?;
            } else {
                queuing.check_out(Who::Card(member))?;
            }
        }
        Ok(())
    })
    .await??;
    let enqueue = started.elapsed();
    let queued = desk.counts()?;
    let offline_attempts = desk.status().attempt;

    let (stop, stopped) = watch::channel(false);
    let recorder = record(&desk, stopped);
    let meter = CpuMeter::start(&server);
    let t0 = Instant::now();
    proxy.set_mode(Mode::Pass);
    desk.retry_now();
    let deadline = t0 + REPLAY_PATIENCE;
    let mut counts = desk.counts()?;
    while counts.pending > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        counts = desk.counts()?;
    }
    let drained = (counts.pending == 0).then(|| t0.elapsed());
    let cpu = meter.stop();
    let _ = stop.send(true);
    let timeline = recorder.await?;

    let token = server.front_desk().await.access_token;
    let visits = server.all_visits(&token).await;
    let mut interruptions = BTreeMap::new();
    let mut live_seen = false;
    for (_, status) in &timeline.states {
        if is_live(status) {
            live_seen = true;
        } else if live_seen && status.detail != CONNECTING {
            *interruptions.entry(reason(&status.detail)).or_default() += 1;
        }
    }
    let figures = ReplayFigures {
        entries,
        enqueue,
        queued,
        offline_attempts,
        to_live: timeline.states.iter().find(|(_, s)| is_live(s)).map(|(at, _)| *at - t0),
        to_first_ack: timeline.ack_times.first().map(|at| *at - t0),
        tenths: tenths(&timeline.ack_times),
        drained,
        counts,
        acks: timeline.acks,
        duplicate_acks: timeline.duplicate_acks,
        rejected: timeline.rejected,
        interruptions,
        errors: timeline.errors,
        visits: visits.len(),
        visits_open: visits.iter().filter(|v| v["checked_out_at"].is_null()).count(),
        visits_this_desk: visits.iter().filter(|v| v["desk_id"] == "bench-replay").count(),
        cpu,
        bench_rss_kib: rss_kib("self").unwrap_or(0),
        trouble: server_trouble(&server).await,
    };
    desk.shutdown().await;
    Ok(figures)
}

/// The ack rate over each tenth of `times` (acks per second).
fn tenths(times: &[Instant]) -> Vec<f64> {
    let step = times.len() / 10;
    if step < 2 {
        return Vec::new();
    }
    (0..10)
        .map(|i| {
            let span = times[(i + 1) * step - 1] - times[i * step];
            (step - 1) as f64 / span.as_secs_f64()
        })
        .collect()
}

fn print_replay(f: &ReplayFigures) {
    println!(
        "outbox replay: {} entries queued offline in {:.2} s ({:.0} scans/s committed; outbox {:?}; {} failed connection attempts meanwhile)",
        f.entries,
        f.enqueue.as_secs_f64(),
        f.entries as f64 / f.enqueue.as_secs_f64(),
        f.queued,
        f.offline_attempts
    );
    let secs = |d: Option<Duration>| d.map_or("never".to_owned(), |d| format!("{:.2} s", d.as_secs_f64()));
    println!(
        "  after \"retry now\": live in {}, first ack in {}, outbox empty in {} = {:.0} entries acknowledged/s; outbox now {:?}",
        secs(f.to_live),
        secs(f.to_first_ack),
        secs(f.drained),
        f.per_s(),
        f.counts
    );
    let tenths = f.tenths.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ");
    println!("  acks/s over each tenth of the replay, first to last: {tenths}");
    println!(
        "  acks reported {} ({} with duplicate:true), rejected: {}; left live during the replay: {}; desk errors: {}",
        f.acks,
        f.duplicate_acks,
        tally(&f.rejected),
        tally(&f.interruptions),
        if f.errors.is_empty() { "none".to_owned() } else { format!("{} (first: {})", f.errors.len(), f.errors[0]) }
    );
    println!(
        "  server holds {} visits ({} from this desk, {} still open; expected {}); {}; bench process RSS {:.1} MiB; server trouble: {}",
        f.visits,
        f.visits_this_desk,
        f.visits_open,
        f.entries / 2,
        f.cpu.describe(),
        f.bench_rss_kib as f64 / 1024.0,
        f.trouble
    );
}

// ---------------------------------------------------------------------------------------
// 2. Reconnect storm

struct StormFigures {
    desks: usize,
    opened: usize,
    open_time: Duration,
    open_failures: Vec<String>,
    bench_rss_before_kib: u64,
    bench_rss_desks_kib: u64,
    sessions_before: f64,
    /// SIGTERM to the old process's exit, and its exit status.
    drain: Duration,
    exit: String,
    /// The new server printed its address this long after SIGTERM.
    listening: Duration,
    all_live: Option<Duration>,
    not_live: usize,
    /// Per desk, ms after SIGTERM.
    left_live_ms: Vec<f64>,
    hint_ms: Vec<f64>,
    first_attempt_ms: Vec<f64>,
    live_again_ms: Vec<f64>,
    /// First attempts made before the new server was listening.
    early_first_attempts: usize,
    /// Desks by the number of attempts they needed.
    attempts: BTreeMap<u32, usize>,
    /// Attempts that failed, by reason.
    failures: BTreeMap<String, usize>,
    fallbacks: usize,
    errors: Vec<String>,
    /// The server log since SIGTERM, summarised.
    old_log: String,
    new_sessions: f64,
    new_metrics: String,
    trouble: String,
}

async fn bench_storm(n: usize) -> anyhow::Result<StormFigures> {
    let mut server = Server::start().await;
    let proxy = Proxy::start(&server.addr).await;
    let root = tempfile::tempdir()?;
    let bench_rss_before_kib = rss_kib("self").unwrap_or(0);

    let started = Instant::now();
    let url = proxy.url();
    let opening = |i: usize| {
        let (url, dir) = (url.clone(), root.path().join(format!("desk-{i:03}")));
        async move {
            let desk = signed_in_desk(&url, &format!("storm-{i:03}"), &dir).await?;
            desk.start();
            wait_status(&desk, STORM_PATIENCE, is_live).await?;
            anyhow::Ok(desk)
        }
    };
    let results: Vec<_> =
        futures_util::stream::iter(0..n).map(opening).buffer_unordered(SIGN_IN_CONCURRENCY).collect().await;
    let open_time = started.elapsed();
    let mut desks = Vec::new();
    let mut open_failures = Vec::new();
    for result in results {
        match result {
            Ok(desk) => desks.push(desk),
            Err(e) => open_failures.push(format!("{e:#}")),
        }
    }
    // Let the first roster syncs finish, so the storm starts from idle desks.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bench_rss_desks_kib = rss_kib("self").unwrap_or(0);
    let sessions_before = metric_sum(&server.metrics().await, "frontdesk_ws_sessions_open", &[]);

    let (stop, stopped) = watch::channel(false);
    let recorders: Vec<_> = desks.iter().map(|d| record(d, stopped.clone())).collect();
    let log_path = server.data_dir.join("server.log");
    let log_before = std::fs::metadata(&log_path).map_or(0, |m| m.len() as usize);

    let t0 = Instant::now();
    server.terminate();
    let exit = server.wait_exit().await;
    let drain = t0.elapsed();
    server.restart().await;
    proxy.set_target(&server.addr);
    let listening = t0.elapsed();

    let deadline = t0 + STORM_PATIENCE;
    let mut not_live = desks.len();
    while Instant::now() < deadline {
        not_live = desks.iter().filter(|d| !is_live(&d.status())).count();
        if not_live == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let all_live = (not_live == 0).then(|| t0.elapsed());
    // Let late events reach the recorders, then stop them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = stop.send(true);
    let mut timelines = Vec::new();
    for recorder in recorders {
        timelines.push(recorder.await?);
    }

    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let old_log = summarise_log(&strip_ansi(log.get(log_before..).unwrap_or_default()));
    let metrics = server.metrics().await;
    let new_metrics = metrics
        .lines()
        .filter(|l| {
            l.starts_with("frontdesk_resumes_total")
                || l.starts_with("frontdesk_ws_upgrade_refusals_total")
                || l.starts_with("frontdesk_ws_closes_total")
        })
        .collect::<Vec<_>>()
        .join("; ");

    let mut figures = StormFigures {
        desks: n,
        opened: desks.len(),
        open_time,
        open_failures,
        bench_rss_before_kib,
        bench_rss_desks_kib,
        sessions_before,
        drain,
        exit: exit.to_string(),
        listening,
        all_live,
        not_live,
        left_live_ms: Vec::new(),
        hint_ms: Vec::new(),
        first_attempt_ms: Vec::new(),
        live_again_ms: Vec::new(),
        early_first_attempts: 0,
        attempts: BTreeMap::new(),
        failures: BTreeMap::new(),
        fallbacks: 0,
        errors: Vec::new(),
        old_log,
        new_sessions: metric_sum(&metrics, "frontdesk_ws_sessions_open", &[]),
        new_metrics,
        trouble: server_trouble(&server).await,
    };
    for timeline in &timelines {
        analyse_storm(&mut figures, timeline, t0, t0 + listening);
    }
    for list in
        [&mut figures.left_live_ms, &mut figures.hint_ms, &mut figures.first_attempt_ms, &mut figures.live_again_ms]
    {
        *list = sorted(std::mem::take(list));
    }
    futures_util::future::join_all(desks.iter().map(|d| d.shutdown())).await;
    Ok(figures)
}

/// One desk's path through the restart: it leaves live, waits (the server's hint), tries,
/// perhaps fails and waits again, and is live again.
fn analyse_storm(f: &mut StormFigures, timeline: &Timeline, t0: Instant, listening: Instant) {
    f.errors.extend(timeline.errors.iter().cloned());
    let mut states = timeline.states.iter().filter(|(at, _)| *at >= t0);
    let Some((left_at, left)) = states.find(|(_, s)| !is_live(s)) else { return };
    f.left_live_ms.push(ms(t0, *left_at));
    if let Some(hint) = left.next_retry_ms {
        f.hint_ms.push(hint as f64);
    }
    let mut attempts = 0;
    let mut trying = false;
    for (at, status) in states {
        if is_live(status) {
            f.live_again_ms.push(ms(t0, *at));
            break;
        }
        if status.state == ConnectionState::HttpFallback {
            f.fallbacks += 1;
        }
        if status.detail == CONNECTING {
            attempts += 1;
            trying = true;
            if attempts == 1 {
                f.first_attempt_ms.push(ms(t0, *at));
                f.early_first_attempts += usize::from(*at < listening);
            }
        } else if trying {
            // The status after an attempt that did not go live says why it failed.
            trying = false;
            *f.failures.entry(reason(&status.detail)).or_default() += 1;
        }
    }
    *f.attempts.entry(attempts).or_default() += 1;
}

/// What the server log says since SIGTERM (the old server's drain and the new one's
/// start, which appends to the same file): closes by code, warnings, errors.
fn summarise_log(log: &str) -> String {
    let mut closes: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad = Vec::new();
    for line in log.lines() {
        if line.contains("closing session")
            && let Some(code) = line.split("code=").nth(1).and_then(|r| r.split_whitespace().next())
        {
            *closes.entry(code.to_owned()).or_default() += 1;
        }
        if line.contains(" WARN ") || line.contains(" ERROR ") {
            bad.push(line);
        }
    }
    let closes = closes.iter().map(|(code, n)| format!("{n} × {code}")).collect::<Vec<_>>().join(", ");
    let bad = match bad.first() {
        None => "no WARN/ERROR lines".to_owned(),
        Some(first) => format!("{} WARN/ERROR lines, first: {first}", bad.len()),
    };
    format!("sessions closed: {}; {bad}", if closes.is_empty() { "none logged" } else { &closes })
}

fn print_storm(f: &StormFigures) {
    println!(
        "reconnect storm: {} of {} desks signed in and live in {:.2} s ({} failed{}); {} sessions on the server; bench process RSS {:.1} MiB -> {:.1} MiB with the desks",
        f.opened,
        f.desks,
        f.open_time.as_secs_f64(),
        f.open_failures.len(),
        f.open_failures.first().map(|e| format!(", first: {e}")).unwrap_or_default(),
        f.sessions_before,
        f.bench_rss_before_kib as f64 / 1024.0,
        f.bench_rss_desks_kib as f64 / 1024.0,
    );
    println!(
        "  SIGTERM -> old server exited ({}) after {:.0} ms -> new server listening at {:.0} ms; every desk live again at {} ({} not live)",
        f.exit,
        f.drain.as_secs_f64() * 1e3,
        f.listening.as_secs_f64() * 1e3,
        f.all_live.map_or("never".to_owned(), |d| format!("{:.0} ms", d.as_secs_f64() * 1e3)),
        f.not_live
    );
    println!("  left live (close received), after SIGTERM: {}", spread(&f.left_live_ms));
    println!("  wait before the first attempt (server hint + desk jitter): {}", spread(&f.hint_ms));
    println!(
        "  first reconnect attempt, after SIGTERM: {} ({} of {} before the new server listened)",
        spread(&f.first_attempt_ms),
        f.early_first_attempts,
        f.first_attempt_ms.len()
    );
    println!("  live again, after SIGTERM: {}", spread(&f.live_again_ms));
    let attempts = f.attempts.iter().map(|(a, n)| format!("{n} desks × {a} attempts")).collect::<Vec<_>>().join(", ");
    println!(
        "  attempts per desk: {attempts}; failed attempts: {}; HTTP fallbacks: {}; desk errors: {}",
        tally(&f.failures),
        f.fallbacks,
        if f.errors.is_empty() { "none".to_owned() } else { format!("{} (first: {})", f.errors.len(), f.errors[0]) }
    );
    println!("  server log since SIGTERM: {}", f.old_log);
    println!(
        "  new server: {} sessions open; {}; server trouble: {}",
        f.new_sessions,
        if f.new_metrics.is_empty() { "no resumes, refusals or closes counted" } else { &f.new_metrics },
        f.trouble
    );
}

// ---------------------------------------------------------------------------------------
// 3. Idle agent memory

struct AgentFigures {
    idle: Duration,
    to_live: Duration,
    rss_live_kib: u64,
    status: BTreeMap<String, u64>,
    errors: usize,
    exit: String,
}

/// The numeric `kB` and count fields of /proc/<pid>/status.
fn proc_status(pid: u32) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            Some((key.to_owned(), value.split_whitespace().next()?.parse().ok()?))
        })
        .collect()
}

async fn bench_agent(idle: Duration) -> anyhow::Result<AgentFigures> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        bail!(
            "skipped: the agent keeps its sign-in in the keychain, and there is no D-Bus session; \
             run this through ./scripts/bench.sh"
        );
    }
    let server = Server::start().await;
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let mut agent = Agent::start(AgentOptions {
        server: server.base(),
        desk_id: "bench-agent".into(),
        data_dir: dir.path().join("agent"),
        credentials: Some((USERNAME.into(), PASSWORD.into())),
        extra_args: Vec::new(),
    })
    .await;
    agent.next_state("live").await;
    let to_live = started.elapsed();
    let pid = agent.pid();
    let rss_live_kib = rss_kib(&pid.to_string()).unwrap_or(0);
    tokio::time::sleep(idle).await;
    let status = proc_status(pid);
    agent.terminate();
    let exit = agent.wait_exit().await.to_string();
    Ok(AgentFigures { idle, to_live, rss_live_kib, status, errors: agent.of_kind("error").len(), exit })
}

fn print_agent(f: &AgentFigures) {
    let field = |k: &str| f.status.get(k).map_or("?".to_owned(), |v| v.to_string());
    println!(
        "idle agent: live {:.2} s after start; VmRSS {} KiB after {} s idle ({} KiB when it went live; RssAnon {} KiB, RssFile {} KiB, VmHWM {} KiB, {} threads); error lines on stdout: {}; exit after SIGTERM: {}",
        f.to_live.as_secs_f64(),
        field("VmRSS"),
        f.idle.as_secs(),
        f.rss_live_kib,
        field("RssAnon"),
        field("RssFile"),
        field("VmHWM"),
        field("Threads"),
        f.errors,
        f.exit
    );
}

// ---------------------------------------------------------------------------------------
// The run and its summary

pub async fn run(args: DeskArgs) -> anyhow::Result<()> {
    println!("frontdesk-bench: desk client library against the server on 127.0.0.1, {args:?}");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("machine: {cores} cores; load average at start {}", load_average());
    let replay = if args.outbox > 0 { Some(bench_replay(args.outbox).await) } else { None };
    match &replay {
        Some(Ok(f)) => print_replay(f),
        Some(Err(e)) => println!("outbox replay failed: {e:#}"),
        None => {}
    }
    println!("load average {}", load_average());
    let storm = if args.desks > 0 { Some(bench_storm(args.desks).await) } else { None };
    match &storm {
        Some(Ok(f)) => print_storm(f),
        Some(Err(e)) => println!("reconnect storm failed: {e:#}"),
        None => {}
    }
    println!("load average {}", load_average());
    let agent = if args.idle_s > 0 { Some(bench_agent(Duration::from_secs(args.idle_s)).await) } else { None };
    match &agent {
        Some(Ok(f)) => print_agent(f),
        Some(Err(e)) => println!("idle agent: {e:#}"),
        None => {}
    }
    println!("load average at end {}", load_average());
    println!();
    println!("| figure | value |");
    println!("|---|---|");
    if let Some(Ok(f)) = &replay {
        println!(
            "| outbox replay, {} entries queued offline | {:.2} s to empty = {:.0} entries acked/s ({} accepted, {} rejected) |",
            f.entries,
            f.drained.map_or(f64::NAN, |d| d.as_secs_f64()),
            f.per_s(),
            f.counts.acked,
            f.counts.rejected
        );
        println!("| visits on the server after the replay | {} (expected {}) |", f.visits, f.entries / 2);
    }
    if let Some(Ok(f)) = &storm {
        println!(
            "| {} desks live again after a graceful restart | {} after SIGTERM |",
            f.opened,
            f.all_live.map_or("not all".to_owned(), |d| format!("{:.2} s", d.as_secs_f64()))
        );
        println!("| first reconnect attempt after SIGTERM | {} |", spread(&f.first_attempt_ms));
        println!("| failed attempts on the way | {} |", f.failures.values().sum::<usize>());
    }
    if let Some(Ok(f)) = &agent {
        println!("| idle agent VmRSS | {} KiB |", f.status.get("VmRSS").copied().unwrap_or(0));
    }
    Ok(())
}
