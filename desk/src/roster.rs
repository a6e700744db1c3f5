//! Keeps the cached roster (for offline judgement) up to date from `/members/sync`,
//! page by page from the stored cursor. Runs after each connect, at most one at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::shared::Shared;

static RUNNING: AtomicBool = AtomicBool::new(false);

pub fn spawn_sync(shared: Arc<Shared>) {
    if RUNNING.swap(true, Ordering::SeqCst) {
        return;
    }
    tokio::spawn(async move {
        if let Err(problem) = sync(&shared).await {
            tracing::info!(%problem, "roster sync did not finish; it resumes at the next connect");
        }
        RUNNING.store(false, Ordering::SeqCst);
    });
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
