//! The Frontdesk desktop app: a thin Tauri shell. `frontdesk_desk::Desk` connects, keeps
//! the sign-in in the OS keychain and the scans in the outbox; this crate hands its
//! state to the webview (`ui/`) through typed commands and one update event.
//!
//! - `shell`    — configuration and the desk this window runs
//! - `commands` — what the webview may call
//! - `live`     — the desk's events, forwarded to the webview as updates
//! - `scan`     — the result panel's words for a scan
//! - `view`     — every type crossing to the webview (TypeScript generated from them)
//! - `ipc`      — the collected commands/events and the bindings export

mod commands;
pub mod doctor;
pub mod ipc;
mod live;
mod scan;
mod shell;
pub mod view;

use frontdesk_desk::config;

use crate::shell::Shell;

pub fn run() {
    let config = config::load().map_err(|e| e.message);
    let _log_guard = init_logging(config.as_ref().ok().map(|c| c.data_dir.as_path()));
    if let Err(e) = &config {
        tracing::error!("{e}");
    }
    let builder = ipc::builder();
    tauri::Builder::default()
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            let shell = Shell::new(app.handle().clone(), config);
            if let Err(e) = tauri::async_runtime::block_on(shell.open_at_start()) {
                tracing::error!(code = %e.code, "{}", e.message);
            }
            tauri::Manager::manage(app, shell);
            Ok(())
        })
        .build(tauri::generate_context!("../tauri.conf.json"))
        .expect("the Frontdesk window could not be created (is a desktop session available?)")
        .run(|app, event| {
            if let tauri::RunEvent::ExitRequested { .. } = event {
                // Close a live session politely (1001); the outbox stays on disk regardless.
                let shell = tauri::Manager::state::<Shell>(app);
                tauri::async_runtime::block_on(async {
                    if let Some(desk) = shell.current().await {
                        desk.shutdown().await;
                    }
                });
            }
        });
}

/// Logs to stderr and to a daily file under the data dir (`logs/app.log.*`, the last
/// 14 days kept), which IT can collect. Tokens never reach the logs (the desk library redacts them).
fn init_logging(data_dir: Option<&std::path::Path>) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = || tracing_subscriber::EnvFilter::try_from_env("FRONTDESK_LOG").unwrap_or_else(|_| "info".into());
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let file = data_dir.and_then(|dir| {
        std::fs::create_dir_all(dir.join("logs")).ok()?;
        let files = frontdesk_desk::logs::daily_files(&dir.join("logs"), "app.log").ok()?;
        Some(tracing_appender::non_blocking(files))
    });
    match file {
        Some((writer, guard)) => {
            tracing_subscriber::registry()
                .with(filter())
                .with(stderr)
                .with(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(writer))
                .init();
            Some(guard)
        }
        None => {
            tracing_subscriber::registry().with(filter()).with(stderr).init();
            None
        }
    }
}
