//! `frontdesk-server`: reads settings, opens the store, binds, prints the one stdout
//! line, and hands over to [`frontdesk_server::serve`].

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use frontdesk_server::admin_cli::{self, Command};
use frontdesk_server::config::{Cli, ProcessEnv, Settings, redact_url};
use frontdesk_server::state::AppState;
use frontdesk_server::{demo, store};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("FRONTDESK_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into());
    // Colour only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).init();
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("frontdesk-server: {err:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(mut cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.take();
    let mut settings = Settings::load(&cli, &ProcessEnv)?;
    frontdesk_server::config::create_private_dir(&settings.data_dir)
        .with_context(|| format!("cannot create the data directory {}", settings.data_dir.display()))?;
    if let Some(Command::Admin { action }) = command {
        // Set-up needs the store, not the signing secret.
        let store = store::open(&settings.database_url, settings.event_retention)
            .await
            .with_context(|| format!("cannot open the database {}", redact_url(&settings.database_url)))?;
        let code = admin_cli::run(action, &*store).await;
        store.close().await;
        return Ok(ExitCode::from(code));
    }
    settings.ensure_jwt_secret()?;
    let store = store::open_with(&settings.database_url, settings.store_settings())
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(&settings.database_url)))?;
    if settings.demo {
        demo::seed(&*store).await.context("cannot seed the demo data")?;
    } else if store.user_count().await? == 0 {
        eprintln!("{}", first_admin_hint(&settings));
    }
    // Read before the server says it listens: a certificate that cannot be used stops it
    // with the reason, instead of every desk failing its handshake.
    let certificates = match &settings.tls {
        Some(files) => Some(Arc::new(frontdesk_server::tls::Certificates::load(&files.cert_file, &files.key_file)?)),
        None => None,
    };
    let listener = bind(settings.listen).with_context(|| {
        format!("cannot listen on {}: another program may be using it; choose another with --listen", settings.listen)
    })?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, settings = ?settings, "listening");
    if settings.demo {
        let scheme = if certificates.is_some() { "https" } else { "http" };
        eprintln!("{}", demo::sign_in_details(&format!("{scheme}://{addr}")));
    }
    // The one line on stdout; launchers and tests wait for it.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", serde_json::json!({ "listening": addr.to_string() }))?;
    stdout.flush()?;
    drop(stdout);

    let state = Arc::new(AppState::new(settings, store));
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; draining sessions");
        shutdown.cancel();
    });
    frontdesk_server::serve_with(listener, state, certificates).await?;
    Ok(ExitCode::SUCCESS)
}

/// What IT reads on the first start of a real gym's server: nobody can sign in yet.
fn first_admin_hint(settings: &Settings) -> String {
    let store = if settings.database_url.starts_with("sqlite:") {
        format!("--data-dir {}", settings.data_dir.display())
    } else {
        "--database-url …".to_owned()
    };
    format!(
        "No staff accounts exist yet, so nobody can sign in. Set the gym up with (the server may keep running):\n  \
         frontdesk-server admin create-location {store} --id main --name \"My Gym\" --capacity 150 --time-zone Europe/London\n  \
         FRONTDESK_NEW_PASSWORD='…' frontdesk-server admin create-user {store} --username admin --name \"IT Admin\" --role admin --location main\n\
         then add staff in the app (or with admin create-user) and members with admin import-members --location main members.csv.\n\
         Or start with --demo to try Frontdesk with demo data."
    )
}

/// Binds with a deep accept queue: after a restart thousands of desks reconnect within
/// seconds, and the default 128 would overflow into one-second SYN retries.
fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

async fn wait_for_signal() {
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
