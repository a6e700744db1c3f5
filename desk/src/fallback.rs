//! The HTTP fallback, for networks that block WebSocket upgrades but let HTTP through:
//! the outbox goes out by `POST /check-ins|/check-outs` with `Idempotency-Key` (one at a
//! time, in order), events come by long-polling `/events`, and the WebSocket is retried
//! in the background. Switching either way loses nothing and doubles nothing: the
//! outbox is the source of truth and the server applies each op_id once.
//!
//! One at a time, because HTTP has no order between requests in flight: the server would
//! judge two concurrent posts in either order, and the order is the verdict (a check-out
//! before its check-in is refused, a check-in is judged against the visits open and the
//! places taken at that moment). There is no batch endpoint to carry several in order.
//! What is batched is the desk's own bookkeeping: the acks of a page of posts are
//! recorded in one outbox transaction, and a page of events too.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use frontdesk_protocol::ws::Ack;

use crate::api::ApiFailure;
use crate::backoff;
use crate::classify::Failure;
use crate::session::{self, Link};
use crate::shared::{Received, Shared};
use crate::state::{ConnectionState, Status};
use crate::tokens::TokenFailure;

const POLL_WAIT: Duration = Duration::from_secs(25);
/// Entries read from the outbox and posted (in order) before their acks are recorded
/// together: one commit per page instead of one per post. A scan made while the
/// outbox is empty is a page of one, recorded as soon as it is answered.
const PAGE: usize = 64;

pub enum FallbackEnd {
    /// The WebSocket works again.
    WebSocket(Box<Link>),
    SignedOut(String),
    Shutdown,
    /// HTTP fails too: the server is out of reach.
    Unreachable(Failure),
}

type Attempt<'a> = Pin<Box<dyn Future<Output = Result<Link, Failure>> + Send + 'a>>;

fn ws_attempt(shared: &Shared, after: Duration) -> Attempt<'_> {
    Box::pin(async move {
        tokio::time::sleep(after).await;
        let access = shared.tokens.access().await.map_err(|_| Failure::Dropped)?;
        session::connect(shared, access).await
    })
}

pub async fn run(shared: &Shared) -> FallbackEnd {
    shared.set_status(Status::new(
        ConnectionState::HttpFallback,
        "The live connection is blocked on this network (a proxy or firewall?). Scans and updates go over \
         plain HTTP instead, a little slower; the desk keeps trying the live connection.",
    ));
    // Acks received but not yet recorded; kept outside the sender so that whatever ends
    // the fallback (the WebSocket back, shutdown) still records them.
    let unrecorded = Mutex::new(Vec::new());
    let end = serve(shared, &unrecorded).await;
    if let Err(e) = record_acks(shared, &unrecorded) {
        tracing::warn!(error = %e.message, "acks received over HTTP were not recorded; the entries will be sent again");
    }
    end
}

async fn serve(shared: &Shared, unrecorded: &Mutex<Vec<Ack>>) -> FallbackEnd {
    let sender = send_outbox(shared, unrecorded);
    let poller = poll_events(shared);
    tokio::pin!(sender, poller);
    let mut attempt_no = 0u32;
    let mut attempt = ws_attempt(shared, backoff::jittered(attempt_no).max(Duration::from_secs(1)));
    let mut sign_outs = shared.sign_outs.subscribe();
    loop {
        tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return FallbackEnd::Shutdown,
            _ = sign_outs.changed() => return FallbackEnd::SignedOut(crate::shared::SIGNED_OUT_HERE.into()),
            end = &mut sender => return end,
            end = &mut poller => return end,
            _ = shared.retry_now.notified() => attempt = ws_attempt(shared, Duration::ZERO),
            result = &mut attempt => match result {
                Ok(link) => return FallbackEnd::WebSocket(Box::new(link)),
                Err(failure) => {
                    tracing::debug!(?failure, "WebSocket still unavailable");
                    attempt_no += 1;
                    attempt = ws_attempt(shared, backoff::jittered(attempt_no).max(Duration::from_secs(1)));
                }
            },
        }
    }
}

/// What to do about a failed call: `Ok(wait)` to retry after `wait`, or the end.
async fn after_failure(
    shared: &Shared,
    failure: ApiFailure,
    generation: u64,
    attempt: &mut u32,
) -> Result<Duration, FallbackEnd> {
    *attempt += 1;
    match failure {
        ApiFailure::Unauthorized { .. } => match shared.tokens.refresh(generation).await {
            Ok(_) => Ok(Duration::ZERO),
            Err(e) => Err(token_end(e)),
        },
        ApiFailure::Forbidden { message } => Err(FallbackEnd::SignedOut(message)),
        ApiFailure::Busy { retry_after: Some(wait), .. } => Ok(wait),
        ApiFailure::Network(f) if *attempt >= 3 => Err(FallbackEnd::Unreachable(f)),
        _ => Ok(backoff::jittered(*attempt)),
    }
}

fn token_end(failure: TokenFailure) -> FallbackEnd {
    match failure {
        TokenFailure::SignedOut(m) => FallbackEnd::SignedOut(m),
        TokenFailure::Keychain(e) => FallbackEnd::SignedOut(e.message),
        TokenFailure::Temporary(ApiFailure::Network(f)) => FallbackEnd::Unreachable(f),
        TokenFailure::Temporary(other) => FallbackEnd::Unreachable(Failure::Protocol(other.describe())),
    }
}

/// Records the acks received and not yet recorded, in one outbox transaction.
fn record_acks(shared: &Shared, unrecorded: &Mutex<Vec<Ack>>) -> Result<(), crate::error::DeskError> {
    // Nothing panics while holding the lock; a poisoned one still holds sound acks.
    let acks = std::mem::take(&mut *unrecorded.lock().unwrap_or_else(|p| p.into_inner()));
    shared.take_acks(acks)
}

/// Sends the outbox oldest first, one command at a time, until told to stop. The acks
/// of each page are recorded together, and before any wait.
async fn send_outbox(shared: &Shared, unrecorded: &Mutex<Vec<Ack>>) -> FallbackEnd {
    let record = || record_acks(shared, unrecorded).map_err(|e| FallbackEnd::Unreachable(Failure::Protocol(e.message)));
    let mut attempt = 0u32;
    loop {
        let page = match shared.outbox.pending_after(0, PAGE) {
            Ok(entries) => entries,
            Err(e) => return FallbackEnd::Unreachable(Failure::Protocol(e.message)),
        };
        if page.is_empty() {
            report_presence(shared).await;
            shared.wake.notified().await;
            continue;
        }
        let mut failed = None;
        for entry in page {
            let access = match shared.tokens.access().await {
                Ok(a) => a,
                Err(e) => {
                    if let Err(end) = record() {
                        return end;
                    }
                    return token_end(e);
                }
            };
            match shared.api.post_command(&access.token, &entry.command).await {
                Ok(ack) => {
                    attempt = 0;
                    unrecorded.lock().unwrap_or_else(|p| p.into_inner()).push(ack);
                }
                Err(failure) => {
                    failed = Some((failure, access.generation));
                    break;
                }
            }
        }
        if let Err(end) = record() {
            return end;
        }
        if let Some((failure, generation)) = failed {
            match after_failure(shared, failure, generation, &mut attempt).await {
                Ok(wait) => tokio::time::sleep(wait).await,
                Err(end) => return end,
            }
        }
    }
}

/// Follows the location's events by long-polling.
async fn poll_events(shared: &Shared) -> FallbackEnd {
    let mut attempt = 0u32;
    let mut last_report = None;
    loop {
        let after = match shared.resume_point() {
            Ok(p) => p.unwrap_or(0),
            Err(e) => return FallbackEnd::Unreachable(Failure::Protocol(e.message)),
        };
        let access = match shared.tokens.access().await {
            Ok(a) => a,
            Err(e) => return token_end(e),
        };
        if last_report.is_none_or(|t: std::time::Instant| t.elapsed() >= PRESENCE_EVERY) {
            last_report = Some(std::time::Instant::now());
            report_presence(shared).await;
        }
        match shared.api.events(&access.token, &shared.config.location_id, after, POLL_WAIT).await {
            Ok(page) => {
                attempt = 0;
                if page.events.is_empty() && after == 0 {
                    let _ = shared.follow_from(page.last_seq);
                }
                let events = page.events.into_iter().map(|e| Received::Event(e.into_event())).collect();
                match shared.take_received(events) {
                    Ok(Ok(())) => {}
                    // Pages come from the store in order; a gap means our seq moved
                    // under us: poll again from it (the events before it are taken).
                    Ok(Err(_gap)) => {}
                    Err(e) => return FallbackEnd::Unreachable(Failure::Protocol(e.message)),
                }
                let _ = shared.outbox.set_meta("followed", "1");
            }
            Err(ApiFailure::ResyncRequired { last_seq }) => {
                if let Err(e) = shared.resync(last_seq) {
                    return FallbackEnd::Unreachable(Failure::Protocol(e.message));
                }
                let _ = shared.outbox.set_meta("followed", "1");
            }
            Err(failure) => match after_failure(shared, failure, access.generation, &mut attempt).await {
                Ok(wait) => tokio::time::sleep(wait).await,
                Err(end) => return end,
            },
        }
    }
}

/// A desk in fallback reports itself this often (the server counts it online for 90 s).
const PRESENCE_EVERY: Duration = Duration::from_secs(20);

/// Extension `presence` over HTTP: tells the server this desk is here and how many
/// entries wait, whenever the outbox empties (the poller also reports each round). A v1
/// server answers 404; nothing depends on the answer.
async fn report_presence(shared: &Shared) {
    let Ok(counts) = shared.outbox.counts() else { return };
    let Ok(access) = shared.tokens.access().await else { return };
    let report = frontdesk_protocol::ws::PresenceReport {
        location_id: shared.config.location_id.clone(),
        desk_id: shared.config.desk_id.clone(),
        queued: counts.pending.clamp(0, u32::MAX as i64) as u32,
    };
    if let Err(e) = shared.api.report_presence(&access.token, &report).await {
        tracing::debug!(error = %e.describe(), "presence not reported");
    }
}
