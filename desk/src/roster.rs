//! Keeps the cached roster (for offline judgement) up to date from `/members/sync`,
//! page by page from the stored cursor. Runs after each connect, at most one at a time.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::shared::Shared;
use crate::state::ConnectionState;

/// How often a connected desk brings its roster up to date.
const PERIOD: Duration = Duration::from_secs(600);

pub fn spawn_sync(shared: Arc<Shared>) {
    if shared.roster_syncing.swap(true, Ordering::SeqCst) {
        return;
    }
    tokio::spawn(async move {
        if let Err(problem) = sync(&shared).await {
            tracing::info!(%problem, "roster sync did not finish; it resumes at the next connect");
        }
        shared.roster_syncing.store(false, Ordering::SeqCst);
    });
}

/// Syncs every [`PERIOD`] while the desk is connected, so new members and renewals reach
/// a desk that stays connected for days.
pub async fn periodic(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(PERIOD);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if matches!(shared.state(), ConnectionState::Live | ConnectionState::HttpFallback) {
            spawn_sync(shared.clone());
        }
    }
}

/// Fetches every change since the stored cursor.
pub async fn sync(shared: &Shared) -> Result<usize, String> {
    let mut fetched = 0;
    loop {
        let access = shared.tokens.access().await.map_err(|e| format!("{e:?}"))?;
        let cursor = shared.outbox.meta("roster_cursor").map_err(|e| e.message)?;
        let page = shared.api.roster_page(&access.token, cursor.as_deref()).await.map_err(|e| e.describe())?;
        fetched += page.members.len();
        shared.outbox.store_roster_page(&page.members, &page.cursor).map_err(|e| e.message)?;
        if page.complete {
            return Ok(fetched);
        }
    }
}
