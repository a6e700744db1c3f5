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
        // The running sync may have read past this moment already: one more round.
        shared.roster_again.store(true, Ordering::SeqCst);
        return;
    }
    tokio::spawn(async move {
        loop {
            shared.roster_again.store(false, Ordering::SeqCst);
            if let Err(problem) = sync(&shared).await {
                tracing::info!(%problem, "roster sync did not finish; it resumes at the next connect");
                shared.roster_syncing.store(false, Ordering::SeqCst);
                return;
            }
            if shared.roster_again.load(Ordering::SeqCst) {
                continue;
            }
            shared.roster_syncing.store(false, Ordering::SeqCst);
            // Asked again between the check and the release, and nobody else took it up.
            if !shared.roster_again.load(Ordering::SeqCst) || shared.roster_syncing.swap(true, Ordering::SeqCst) {
                return;
            }
        }
    });
}

/// Syncs every [`PERIOD`] while the desk is connected, so new members and renewals reach
/// a desk that stays connected for days, and at once when the server says the roster
/// changed in bulk (a `member_updated` event without a member).
pub async fn periodic(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(PERIOD);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tick.tick() => {}
            _ = shared.roster_due.notified() => {}
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
