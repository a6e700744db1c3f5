//! Frontdesk companion server. `main.rs` reads settings and binds; [`serve`] runs the
//! HTTP API and WebSocket sessions on a listener until the shutdown token fires, then
//! drains (1012 to every session with spread reconnect hints) and returns.

pub mod auth;
pub mod config;
pub mod demo;
pub mod error;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod presence;
pub mod rules;
pub mod service;
pub mod state;
pub mod store;
pub mod ws;

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;

use crate::state::Shared;

/// How long a drain waits for sessions to send their last acks and close frames.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn serve(listener: tokio::net::TcpListener, state: Shared) -> anyhow::Result<()> {
    let sweeper = tokio::spawn(sweep_overdue_visits(state.clone()));
    let app = http::router(state.clone());
    let send_buffer = state.settings.socket_send_buffer;
    let listener = axum::serve::ListenerExt::tap_io(listener, move |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
        if send_buffer > 0 {
            let _ = socket2::SockRef::from(&*tcp).set_send_buffer_size(send_buffer);
        }
    });
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(state.shutdown.clone().cancelled_owned())
        .await?;
    // HTTP requests are finished; now the sessions, which hyper no longer tracks.
    state.sessions.close();
    let open = state.sessions.len();
    if tokio::time::timeout(DRAIN_TIMEOUT, state.sessions.wait()).await.is_err() {
        tracing::warn!(open, "some sessions did not close within the drain timeout");
    }
    sweeper.abort();
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
        match state.store.close_overdue_visits(Utc::now()).await {
            Ok(events) => {
                for event in &events {
                    state.publish(event);
                }
                if !events.is_empty() {
                    tracing::info!(count = events.len(), "closed visits past the maximum stay");
                }
            }
            Err(e) => tracing::error!(error = %e, "could not close overdue visits"),
        }
    }
}
