//! Follows one desk's event stream and hands it to the webview as [`DeskUpdate`]s,
//! keeping what a window opened later needs (latest stats, the feed, recent errors).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use frontdesk_desk::{ConnectionState, Desk, DeskEvent, Who};
use frontdesk_protocol::{Event, Stats};
use tauri::AppHandle;
use tauri_specta::Event as _;

use crate::scan;
use crate::view::{DeskUpdate, ErrorRecord, SessionInfo};

const FEED_LEN: usize = 50;
const ERRORS_LEN: usize = 20;

/// What the front-desk screen shows besides the desk's own stores.
#[derive(Default)]
pub struct Live {
    inner: Mutex<LiveState>,
}

#[derive(Default)]
struct LiveState {
    stats: Option<Stats>,
    /// When the server last gave the figures: offline, the screen says "as of".
    stats_at: Option<DateTime<Utc>>,
    feed: VecDeque<Event>,
    errors: VecDeque<ErrorRecord>,
}

impl Live {
    fn state(&self) -> std::sync::MutexGuard<'_, LiveState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stats(&self) -> Option<Stats> {
        self.state().stats
    }

    pub fn stats_at(&self) -> Option<DateTime<Utc>> {
        self.state().stats_at
    }

    pub fn feed(&self) -> Vec<Event> {
        self.state().feed.iter().cloned().collect()
    }

    pub fn errors(&self) -> Vec<ErrorRecord> {
        self.state().errors.iter().cloned().collect()
    }

    pub fn set_stats(&self, stats: Stats) {
        let mut state = self.state();
        state.stats = Some(stats);
        state.stats_at = Some(Utc::now());
    }

    fn take_event(&self, event: &Event) {
        let mut state = self.state();
        if let Some(stats) = event.stats {
            state.stats = Some(stats);
            state.stats_at = Some(Utc::now());
        }
        state.feed.push_front(event.clone());
        state.feed.truncate(FEED_LEN);
    }

    pub fn record_error(&self, code: &str, message: &str) -> ErrorRecord {
        let record = ErrorRecord { at: Utc::now(), code: code.to_owned(), message: message.to_owned() };
        let mut state = self.state();
        state.errors.push_front(record.clone());
        state.errors.truncate(ERRORS_LEN);
        record
    }

    /// A new desk (another server or location): nothing of the old one applies.
    pub fn clear(&self) {
        *self.state() = LiveState::default();
    }
}

fn emit(app: &AppHandle, update: DeskUpdate) {
    if let Err(e) = update.emit(app) {
        tracing::warn!(error = %e, "could not hand an update to the window");
    }
}

/// Reloads the stats over HTTP (after connecting or a resync), when the server answers.
fn refresh_stats(app: AppHandle, desk: Arc<Desk>, live: Arc<Live>) {
    tauri::async_runtime::spawn(async move {
        match desk.stats().await {
            Ok(stats) => {
                live.set_stats(stats);
                emit(&app, DeskUpdate::Stats { stats });
            }
            Err(e) => tracing::debug!(error = %e, "stats not reloaded"),
        }
    });
}

/// Forwards every desk event until the desk is replaced (the task is aborted then).
pub fn forward(app: AppHandle, desk: Arc<Desk>, live: Arc<Live>) -> tauri::async_runtime::JoinHandle<()> {
    let mut events = desk.subscribe();
    tauri::async_runtime::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                DeskEvent::State(status) => {
                    let state = status.state;
                    emit(&app, DeskUpdate::Status { status });
                    match state {
                        ConnectionState::Live | ConnectionState::HttpFallback => {
                            refresh_stats(app.clone(), desk.clone(), live.clone())
                        }
                        ConnectionState::SignedOut => {
                            emit(&app, DeskUpdate::Session { session: SessionInfo::of(&desk) })
                        }
                        _ => {}
                    }
                }
                DeskEvent::Queued { .. } => outbox_changed(&app, &desk),
                DeskEvent::Ack { ack } => {
                    match desk.entry(ack.op_id) {
                        Ok(Some(entry)) => {
                            let member = entry_member(&desk, &entry);
                            emit(&app, DeskUpdate::Settled { result: scan::settled(&entry, &ack, member) });
                        }
                        Ok(None) => tracing::warn!(op_id = %ack.op_id, "an ack for an entry the outbox does not hold"),
                        Err(e) => tracing::warn!(error = %e, "outbox read failed"),
                    }
                    outbox_changed(&app, &desk);
                }
                DeskEvent::Event { event } => {
                    live.take_event(&event);
                    if let Some(stats) = event.stats {
                        emit(&app, DeskUpdate::Stats { stats });
                    }
                    emit(&app, DeskUpdate::ServerEvent { event });
                }
                DeskEvent::Resync { .. } => {
                    refresh_stats(app.clone(), desk.clone(), live.clone());
                    emit(&app, DeskUpdate::Resync);
                }
                DeskEvent::Error { code, message } => {
                    let error = live.record_error(&code, &message);
                    emit(&app, DeskUpdate::Error { error });
                }
            }
        }
    })
}

fn outbox_changed(app: &AppHandle, desk: &Desk) {
    match desk.counts() {
        Ok(counts) => emit(app, DeskUpdate::Outbox { counts }),
        Err(e) => tracing::warn!(error = %e, "outbox count failed"),
    }
}

/// The cached member an outbox entry is about, for the result panel.
pub fn entry_member(desk: &Desk, entry: &frontdesk_desk::Entry) -> Option<frontdesk_protocol::Member> {
    let who = match (&entry.card, &entry.command) {
        (Some(card), _) => Who::Card(card.clone()),
        (None, frontdesk_protocol::ws::Command::CheckIn(c)) => Who::MemberId(c.member.id.clone()?),
        (None, frontdesk_protocol::ws::Command::CheckOut(c)) => Who::MemberId(c.member.as_ref()?.id.clone()?),
    };
    desk.cached_member(&who).ok().flatten()
}

/// Delivers what waits in `folders` (scans saved here for another gym) once the desk is
/// connected, telling the window each outcome in its "recent problems" list.
pub fn deliver_elsewhere(
    app: AppHandle,
    desk: Arc<Desk>,
    live: Arc<Live>,
    folders: Vec<std::path::PathBuf>,
) -> tauri::async_runtime::JoinHandle<()> {
    tauri::async_runtime::spawn(async move {
        desk.deliver_when_connected(folders, |outcome| {
            let Some(words) = outcome.words() else { return };
            let code = match outcome {
                frontdesk_desk::Delivery::Delivered { .. } => "delivered_elsewhere",
                _ => "waiting_elsewhere",
            };
            tracing::info!(code, "{words}");
            let error = live.record_error(code, &words);
            emit(&app, DeskUpdate::Error { error });
        })
        .await;
    })
}
