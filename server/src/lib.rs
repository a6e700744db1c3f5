//! Frontdesk companion server. `main.rs` reads settings and binds; [`serve`] runs the
//! HTTP API and WebSocket sessions on a listener until the shutdown token fires, then
//! drains (1012 to every session with spread reconnect hints) and returns.

pub mod admin_cli;
pub mod auth;
pub mod config;
pub mod demo;
pub mod error;
pub mod http;
pub mod hub;
pub mod import;
pub mod metrics;
pub mod presence;
pub mod rules;
pub mod service;
pub mod setup;
pub mod state;
pub mod store;
pub mod tls;
pub mod transport;
pub mod user_limits;
pub mod ws;

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;

use crate::state::Shared;

/// How long a drain waits for sessions to send their last acks and close frames.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves plain HTTP on `listener`.
pub async fn serve(listener: tokio::net::TcpListener, state: Shared) -> anyhow::Result<()> {
    serve_with(listener, state, None).await
}

/// Serves HTTP, or HTTPS with `certificates` (watched for renewals while it runs).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: Shared,
    certificates: Option<std::sync::Arc<tls::Certificates>>,
) -> anyhow::Result<()> {
    {
        // Weak: the store lives inside the state it publishes to.
        let weak = std::sync::Arc::downgrade(&state);
        state.store.set_publisher(std::sync::Arc::new(move |events: &[frontdesk_protocol::Event]| {
            if let Some(state) = weak.upgrade() {
                for event in events {
                    state.publish(event);
                }
            }
        }));
    }
    let sweeper = tokio::spawn(sweep_overdue_visits(state.clone()));
    let follower = tokio::spawn(follow_outside_writes(state.clone()));
    let app = http::router(state.clone());
    let send_buffer = state.settings.socket_send_buffer;
    let tune = move |tcp: &tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
        if send_buffer > 0 {
            let _ = socket2::SockRef::from(tcp).set_send_buffer_size(send_buffer);
        }
    };
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let stopping = state.shutdown.clone().cancelled_owned();
    match certificates {
        None => {
            let listener = axum::serve::ListenerExt::tap_io(listener, move |tcp| tune(tcp));
            axum::serve(listener, service).with_graceful_shutdown(stopping).await?;
        }
        Some(certificates) => {
            let watcher = tokio::spawn(certificates.clone().watch(state.settings.watch_interval));
            let listener = tls::TlsListener::new(listener, certificates, tune)?;
            let listener = axum::serve::ListenerExt::tap_io(listener, |_| {});
            axum::serve(listener, service).with_graceful_shutdown(stopping).await?;
            watcher.abort();
        }
    }
    // HTTP requests are finished; now the sessions, which hyper no longer tracks.
    state.sessions.close();
    let open = state.sessions.len();
    if tokio::time::timeout(DRAIN_TIMEOUT, state.sessions.wait()).await.is_err() {
        tracing::warn!(open, "some sessions did not close within the drain timeout");
    }
    sweeper.abort();
    follower.abort();
    state.store.close().await;
    tracing::info!("server stopped");
    Ok(())
}

/// Closes visits left open past their location's maximum stay.
async fn sweep_overdue_visits(state: Shared) {
    let mut tick = tokio::time::interval(state.settings.sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        // The store's writer publishes the events as it commits them.
        match state.store.close_overdue_visits(Utc::now()).await {
            Ok(events) => {
                if !events.is_empty() {
                    tracing::info!(count = events.len(), "closed visits past the maximum stay");
                }
            }
            Err(e) => tracing::error!(error = %e, "could not close overdue visits"),
        }
    }
}

/// Publishes what other processes committed to the same store: members imported or a
/// user disabled by `frontdesk-server admin` while the server runs. Reading the seqs is
/// one small query a tick; sessions drop an event they already sent, so an event this
/// publishes as well as its writer is harmless.
async fn follow_outside_writes(state: Shared) {
    let mut tick = tokio::time::interval(state.settings.watch_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut disabled: Option<std::collections::HashSet<String>> = None;
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match state.store.location_seqs().await {
            Ok(seqs) => {
                for (location_id, seq) in seqs {
                    match state.hub.last_published(&location_id) {
                        None => state.hub.note_published(&location_id, seq),
                        Some(published) if seq > published => {
                            match state.store.events_between(&location_id, published, seq, 1000).await {
                                Ok(events) => {
                                    for event in &events {
                                        state.publish(event);
                                    }
                                    // Trimmed past retention: nothing left to publish below seq.
                                    state.hub.note_published(&location_id, seq.min(published + 1000));
                                }
                                Err(e) => tracing::warn!(error = %e, "could not read events written elsewhere"),
                            }
                        }
                        Some(_) => {}
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not check for changes written elsewhere"),
        }
        match state.store.disabled_user_ids().await {
            Ok(ids) => {
                let now: std::collections::HashSet<String> = ids.into_iter().collect();
                if let Some(before) = &disabled {
                    for user_id in now.difference(before) {
                        state.hub.send_control(crate::hub::Control::UserDisabled { user_id: user_id.clone() });
                    }
                }
                disabled = Some(now);
            }
            Err(e) => tracing::warn!(error = %e, "could not check for disabled users"),
        }
    }
}
