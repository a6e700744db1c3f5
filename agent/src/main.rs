//! `frontdesk-agent`: a desk without a window (docs/desk.md, "The agent"). Scans come in on
//! standard input, one per line; standard output carries one JSON object per line and
//! nothing else; logs go to standard error and a rolling file in the data dir.

mod input;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use frontdesk_desk::outbox::Outbox;
use frontdesk_desk::{ConnectionState, Desk, DeskConfig, Keychain, Outcome, ScanRequest};
use tokio::io::AsyncBufReadExt;

use crate::input::Line;
use crate::output::Output;

/// Exit code when `--drain-and-exit` timed out with entries still waiting.
const EXIT_NOT_DRAINED: u8 = 3;
const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(name = "frontdesk-agent", version, about = "Headless Frontdesk desk agent")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Server address, http(s)://host:port.
    #[arg(long)]
    server: Option<String>,
    /// Location (gym) id this desk works for.
    #[arg(long)]
    location: Option<String>,
    /// This desk's name, unique per location.
    #[arg(long)]
    desk_id: Option<String>,
    /// Outbox, roster cache and logs; never shared by two agents.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// After standard input closes, exit once the outbox is empty.
    #[arg(long)]
    drain_and_exit: bool,
    /// The gym's private CA certificate (PEM), trusted besides the OS store.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// With --drain-and-exit: give up (exit 3) after this many seconds.
    #[arg(long, default_value_t = 60)]
    drain_timeout: u64,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Print the outbox counts, last event seq and last state as one JSON object.
    Status {
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Check everything this desk needs to work live, in order, and say what to fix.
    /// Exit 0 when the desk can work live, 1 otherwise.
    Doctor {
        #[arg(long)]
        server: String,
        #[arg(long)]
        location: Option<String>,
        #[arg(long)]
        desk_id: String,
        #[arg(long)]
        data_dir: PathBuf,
        /// The gym's private CA certificate (PEM), trusted besides the OS store.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// One JSON object instead of lines for a person.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Cmd::Status { data_dir }) => return status(data_dir),
        Some(Cmd::Doctor { server, location, desk_id, data_dir, ca_file, json }) => {
            return doctor(server, location.as_deref(), desk_id, data_dir, ca_file.as_deref(), *json);
        }
        None => {}
    }
    let (Some(server), Some(location), Some(desk_id), Some(data_dir)) =
        (cli.server.clone(), cli.location.clone(), cli.desk_id.clone(), cli.data_dir.clone())
    else {
        eprintln!(
            "frontdesk-agent: --server, --location, --desk-id and --data-dir are all needed, e.g.\n  \
             frontdesk-agent --server https://frontdesk.example:8080 --location demo --desk-id turnstile-1 --data-dir /var/lib/frontdesk-agent"
        );
        return ExitCode::from(EXIT_USAGE);
    };
    let _log_guard = match init_logging(&data_dir) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("frontdesk-agent: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let config = DeskConfig {
        server,
        location_id: location,
        desk_id,
        data_dir,
        device_name: format!("frontdesk-agent on {}", hostname()),
        ca_file: cli.ca_file.clone(),
    };
    let code = runtime.block_on(run(config, cli.drain_and_exit.then(|| Duration::from_secs(cli.drain_timeout))));
    // Reading stdin occupies a blocking thread that never returns by itself; do not
    // wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

fn hostname() -> String {
    std::env::var("HOSTNAME").or_else(|_| std::env::var("COMPUTERNAME")).unwrap_or_else(|_| "this computer".into())
}

fn init_logging(data_dir: &std::path::Path) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let file = frontdesk_desk::logs::daily_files(&data_dir.join("logs"), "agent.log")
        .with_context(|| format!("cannot open the log files in {}", data_dir.join("logs").display()))?;
    let (file, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("FRONTDESK_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_writer(std::io::stderr),
        )
        .with(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(file))
        .init();
    Ok(guard)
}

fn status(data_dir: &std::path::Path) -> ExitCode {
    let result = (|| -> Result<serde_json::Value, frontdesk_desk::DeskError> {
        let outbox = Outbox::open(data_dir)?;
        let counts = outbox.counts()?;
        Ok(serde_json::json!({
            "pending": counts.pending,
            "acked": counts.acked,
            "rejected": counts.rejected,
            "last_seq": outbox.last_seq()?,
            "state": outbox.meta("state")?.unwrap_or_else(|| "signed_out".into()),
        }))
    })();
    match result {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("frontdesk-agent: {}", e.message);
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// `frontdesk-agent doctor`: the settings come from the command line, like the agent's.
fn doctor(
    server: &str,
    location: Option<&str>,
    desk_id: &str,
    data_dir: &std::path::Path,
    ca_file: Option<&std::path::Path>,
    json: bool,
) -> ExitCode {
    use frontdesk_desk::doctor::{self, Setting, Target};
    let target = Target {
        server: server.to_owned(),
        location: location.map(str::to_owned),
        desk_id: desk_id.to_owned(),
        data_dir: data_dir.to_owned(),
        ca_file: ca_file.map(|p| p.to_owned()),
    };
    let from =
        |key, value: &str| Setting { key, value: value.to_owned(), source: format!("--{}", key.replace('_', "-")) };
    let mut settings = vec![from("server", server), from("desk_id", desk_id)];
    if let Some(l) = location {
        settings.push(from("location", l));
    }
    settings.push(from("data_dir", &data_dir.display().to_string()));
    if let Some(ca) = ca_file {
        settings.push(from("ca_file", &ca.display().to_string()));
    }
    let desk_entry: Arc<dyn frontdesk_desk::secrets::SecretStore> = Arc::new(Keychain::for_desk(server, desk_id));
    let probe: Arc<dyn frontdesk_desk::secrets::SecretStore> =
        Arc::new(Keychain::for_desk("frontdesk-doctor", &format!("{desk_id}-{}", uuid::Uuid::new_v4())));
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("frontdesk-agent: cannot start: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let report = runtime.block_on(doctor::examine(Ok(target), settings, Some(desk_entry), Some(probe)));
    if json {
        println!("{}", serde_json::to_string(&report).expect("reports serialise"));
    } else {
        print!("{}", report.human());
    }
    if report.ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

async fn run(config: DeskConfig, drain: Option<Duration>) -> ExitCode {
    let out = Output::start();
    let keychain = Arc::new(Keychain::for_desk(&config.server, &config.desk_id));
    let desk = match Desk::open(config, keychain) {
        Ok(desk) => Arc::new(desk),
        Err(e) => {
            out.error(e.code.as_str(), &e.message);
            out.flush().await;
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let follower = out.follow(desk.subscribe());
    sign_in_from_environment(&desk, &out).await;
    desk.start();
    tokio::spawn(resign_in_when_signed_out(desk.clone(), out.clone()));

    let stdin_done = read_scans(desk.clone(), out.clone());
    tokio::pin!(stdin_done);
    let code = tokio::select! {
        _ = shutdown_signal() => ExitCode::SUCCESS,
        _ = &mut stdin_done => match drain {
            Some(limit) => tokio::select! {
                _ = shutdown_signal() => ExitCode::SUCCESS,
                drained = wait_drained(&desk, limit) => {
                    if drained { ExitCode::SUCCESS } else { ExitCode::from(EXIT_NOT_DRAINED) }
                }
            },
            // Input is over, but the desk keeps following events until stopped.
            None => {
                shutdown_signal().await;
                ExitCode::SUCCESS
            }
        },
    };
    desk.shutdown().await;
    // Every event the desk sent is printed before the exit (an ack recorded just before
    // the drain ended must still reach standard output).
    let _ = tokio::time::timeout(Duration::from_secs(5), follower).await;
    out.flush().await;
    code
}

/// First start: sign in with FRONTDESK_USERNAME / FRONTDESK_PASSWORD. Later starts use
/// the keychain and never need the password again.
async fn sign_in_from_environment(desk: &Desk, out: &Output) {
    match desk.has_sign_in() {
        Ok(true) => return,
        Ok(false) => {}
        Err(e) => {
            out.error(e.code.as_str(), &e.message);
            return;
        }
    }
    let (Ok(user), Ok(password)) = (std::env::var("FRONTDESK_USERNAME"), std::env::var("FRONTDESK_PASSWORD")) else {
        out.error(
            "signed_out",
            "Nobody is signed in at this desk. Set FRONTDESK_USERNAME and FRONTDESK_PASSWORD for the first start.",
        );
        return;
    };
    if let Err(e) = desk.sign_in(&user, &password).await {
        out.error(e.code().as_str(), &e.message());
    }
}

/// A turnstile has nobody to type a password: when the sign-in ends (refresh token
/// expired or revoked) and the environment still has credentials, sign in once more.
async fn resign_in_when_signed_out(desk: Arc<Desk>, out: Output) {
    let mut status = desk.watch_status();
    loop {
        if status.borrow_and_update().state == ConnectionState::SignedOut && desk.has_sign_in().ok() == Some(false) {
            sign_in_from_environment(&desk, &out).await;
        }
        if status.changed().await.is_err() {
            return;
        }
    }
}

async fn read_scans(desk: Arc<Desk>, out: Output) {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(e) => {
                out.error("stdin", &format!("cannot read standard input: {e}"));
                return;
            }
        };
        let result = match input::parse(&line) {
            Ok(Line::Empty) => continue,
            // The same rule as the app's (the library decides); the agent does not wait
            // for the answer: the ack follows as its own line.
            Ok(Line::CheckIn(who, override_reason)) => {
                desk.scan(ScanRequest::check_in(who).overridden(override_reason), Duration::ZERO).await.map(|report| {
                    if let Outcome::TurnedAway { code, reason } = &report.outcome {
                        out.turned_away(report.card.as_deref(), *code, reason);
                    }
                })
            }
            Ok(Line::CheckOut(who)) => desk.scan(ScanRequest::check_out(who), Duration::ZERO).await.map(|_| ()),
            Ok(Line::RetryNow) => {
                if desk.status().state == ConnectionState::SignedOut {
                    sign_in_from_environment(&desk, &out).await;
                }
                desk.retry_now();
                Ok(())
            }
            Err(message) => {
                out.error("bad_input", &message);
                continue;
            }
        };
        if let Err(e) = result {
            out.error(e.code.as_str(), &e.message);
        }
    }
}

async fn wait_drained(desk: &Desk, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let mut events = desk.subscribe();
    loop {
        match desk.counts() {
            Ok(c) if c.pending == 0 => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
        // Wake on any desk event (acks above all), or give up at the deadline.
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return false,
            e = events.recv() => if e.is_none() { return false },
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
