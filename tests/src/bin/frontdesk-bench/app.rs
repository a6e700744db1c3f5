//! `frontdesk-bench app`: figures for the desktop app (the real `frontdesk` binary, in
//! WebKitGTK, driven through tauri-driver) against the real server on loopback. Run it
//! through `scripts/bench.sh app`, which builds the release app and provides a display
//! (Xvfb when there is none) and a keychain. It asserts nothing; it prints what it saw.
//!
//! 1. **Cold start to interactive**: `--starts` launches with a fresh data dir, from the
//!    WebDriver request that starts the process to the sign-in form being in the page.
//!    Then the same with a sign-in kept in the keychain: to the scan field, and to the
//!    banner saying live (connected, ready to confirm scans).
//! 2. **Idle memory**: signed in, live, idle for `--idle` seconds: memory of the app
//!    and its WebKit processes (web content, network), per process, as PSS (shared
//!    pages split between the processes mapping them) and as RSS.
//! 3. **Scan to result**: `--scans` card scans typed into the scan field as a wedge
//!    reader does (code, Enter), timed inside the page from the Enter key to the result
//!    panel showing this scan's verdict; online (the server's answer) and then offline
//!    (server stopped: the desk's own verdict, committed to the outbox). Also the app's
//!    own figure (command start to result, `data-elapsed-ms`).

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use frontdesk_tests::app::{App, artifacts_dir};
use frontdesk_tests::{PATIENCE, Server, card};
use serde_json::{Value, json};

use super::{percentile, sorted};

pub struct AppArgs {
    starts: usize,
    scans: usize,
    idle: u64,
}

impl AppArgs {
    const USAGE: &str = "usage: frontdesk-bench app [--starts 5] [--scans 30] [--idle 10]";

    pub fn parse(mut raw: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let mut args = AppArgs { starts: 5, scans: 30, idle: 10 };
        while let Some(flag) = raw.next() {
            let value = raw.next().ok_or_else(|| anyhow!("{flag} needs a value\n{}", Self::USAGE))?;
            match flag.as_str() {
                "--starts" => args.starts = value.parse()?,
                "--scans" => args.scans = value.parse::<usize>()?.min(60),
                "--idle" => args.idle = value.parse()?,
                _ => bail!("unknown option {flag}\n{}", Self::USAGE),
            }
        }
        Ok(args)
    }
}

fn app_env(server: &Server, data_dir: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("FRONTDESK_SERVER", server.base()),
        ("FRONTDESK_DESK_ID", "bench-1".into()),
        ("FRONTDESK_LOCATION", "demo".into()),
        ("FRONTDESK_DATA_DIR", data_dir.display().to_string()),
        ("XDG_CONFIG_HOME", data_dir.join("config").display().to_string()),
        ("FRONTDESK_LOG", "warn".into()),
    ]
}

fn summary(label: &str, values: Vec<f64>, unit: &str) {
    let v = sorted(values);
    println!(
        "  {label:<44} n={:<3} p50 {:>7.1} {unit}  p95 {:>7.1} {unit}  min {:>7.1}  max {:>7.1}",
        v.len(),
        percentile(&v, 50.0),
        percentile(&v, 95.0),
        v.first().copied().unwrap_or(f64::NAN),
        v.last().copied().unwrap_or(f64::NAN)
    );
}

async fn sign_in(app: &App) {
    app.type_into("signin-username", "frontdesk").await;
    app.type_into("signin-password", "frontdesk-demo").await;
    app.click("signin-submit").await;
    app.wait("scan-input").await;
    app.wait_attr("connection-state", "data-state", "live").await;
}

pub async fn run(args: AppArgs) -> anyhow::Result<()> {
    let mut server = Server::start().await;
    let dirs = tempfile::tempdir()?;
    let artifacts = artifacts_dir("bench-app");
    println!("frontdesk-bench app: the real app under WebDriver, server on loopback");

    // 1. Cold starts without a sign-in: to the sign-in form.
    let mut to_form = Vec::new();
    for i in 0..args.starts {
        let data = dirs.path().join(format!("cold-{i}"));
        let app = App::launch(&app_env(&server, &data), artifacts.clone()).await;
        app.wait("signin-username").await;
        to_form.push(app.launched_at.elapsed().as_secs_f64() * 1000.0);
        app.quit().await;
    }
    println!("cold start (fresh data dir, {} runs):", args.starts);
    summary("launch → sign-in form in the page", to_form, "ms");

    // Cold starts with a kept sign-in: to the scan field, and to live.
    let kept = dirs.path().join("kept");
    let app = App::launch(&app_env(&server, &kept), artifacts.clone()).await;
    sign_in(&app).await;
    app.quit().await;
    let (mut to_scan, mut to_live) = (Vec::new(), Vec::new());
    for _ in 0..args.starts {
        let app = App::launch(&app_env(&server, &kept), artifacts.clone()).await;
        app.wait("scan-input").await;
        to_scan.push(app.launched_at.elapsed().as_secs_f64() * 1000.0);
        app.wait_attr("connection-state", "data-state", "live").await;
        to_live.push(app.launched_at.elapsed().as_secs_f64() * 1000.0);
        app.quit().await;
    }
    println!("cold start (sign-in kept in the keychain, {} runs):", args.starts);
    summary("launch → scan field in the page", to_scan, "ms");
    summary("launch → banner live", to_live, "ms");

    // 2. Idle memory, signed in and live.
    let app = App::launch(&app_env(&server, &kept), artifacts.clone()).await;
    app.wait_attr("connection-state", "data-state", "live").await;
    tokio::time::sleep(Duration::from_secs(args.idle)).await;
    let memory = app.app_memory();
    if memory.is_empty() {
        println!("idle memory: the app's processes were not found in /proc");
    } else {
        let mib = |kib: u64| kib as f64 / 1024.0;
        let (rss, pss): (u64, u64) = memory.iter().fold((0, 0), |(r, p), m| (r + m.1, p + m.2));
        println!(
            "idle memory after {} s live: {:.1} MiB proportional (PSS), {:.1} MiB resident (RSS, counts shared libraries once per process)",
            args.idle,
            mib(pss),
            mib(rss)
        );
        for (name, rss, pss) in &memory {
            println!("  {name:<24} PSS {:>7.1} MiB  RSS {:>7.1} MiB", mib(*pss), mib(*rss));
        }
    }

    // 3. Scan to result, online then offline.
    let mut next_member = 1u32;
    let online = scans(&app, args.scans, &mut next_member).await?;
    println!("scan to result, online ({} scans; the server's answer):", args.scans);
    summary("Enter → result panel (in the page)", online.0, "ms");
    summary("app command start → result (data-elapsed-ms)", online.1, "ms");
    server.terminate();
    server.wait_exit().await;
    app.wait_attr("connection-state", "data-state", "offline").await;
    let offline = scans(&app, args.scans, &mut next_member).await?;
    println!("scan to result, offline ({} scans; the desk's verdict, committed to the outbox):", args.scans);
    summary("Enter → result panel (in the page)", offline.0, "ms");
    summary("app command start → result (data-elapsed-ms)", offline.1, "ms");
    app.quit().await;
    Ok(())
}

/// Arms an observer in the page: it notes the Enter key and the moment the result
/// panel shows a new scan.
const ARM: &str = r#"
const key = (p) => p.getAttribute('data-op-id') + '|' + p.getAttribute('data-status') + '|' + p.textContent;
const panel = () => document.querySelector('[data-testid="scan-result"]');
const before = panel() ? key(panel()) : '';
const scan = { t0: null, t1: null, status: null, elapsed: null };
window.__benchScan = scan;
const onKey = (e) => { if (e.key === 'Enter' && scan.t0 === null) scan.t0 = performance.now(); };
document.addEventListener('keydown', onKey, true);
const obs = new MutationObserver(() => {
  const p = panel();
  if (!p || scan.t0 === null || !p.getAttribute('data-status') || key(p) === before) return;
  scan.t1 = performance.now();
  scan.status = p.getAttribute('data-status');
  scan.elapsed = Number(p.getAttribute('data-elapsed-ms'));
  obs.disconnect();
  document.removeEventListener('keydown', onKey, true);
});
obs.observe(document.body, { attributes: true, childList: true, subtree: true, characterData: true });
"#;

/// `n` check-ins of members not yet in: (in-page latencies, app-reported latencies).
async fn scans(app: &App, n: usize, next_member: &mut u32) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let (mut page, mut reported) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let code = card(*next_member);
        *next_member += 1;
        app.client.execute(ARM, vec![]).await?;
        app.scan(&code).await;
        let deadline = Instant::now() + PATIENCE;
        let scan: Value = loop {
            let scan = app.client.execute("return window.__benchScan", vec![]).await?;
            if scan["t1"].is_number() {
                break scan;
            }
            if Instant::now() > deadline {
                bail!("no result for {code}: {scan}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let status = scan["status"].as_str().unwrap_or("");
        if !matches!(status, "accepted" | "queued") {
            bail!("{code} came out {status}, not accepted/queued: {}", json!(scan));
        }
        page.push(scan["t1"].as_f64().unwrap_or(f64::NAN) - scan["t0"].as_f64().unwrap_or(f64::NAN));
        reported.push(scan["elapsed"].as_f64().unwrap_or(f64::NAN));
    }
    Ok((page, reported))
}
