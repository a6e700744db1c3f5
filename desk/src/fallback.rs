//! The HTTP fallback, for networks that block WebSocket upgrades but let HTTP through:
//! the outbox goes out by `POST /check-ins|/check-outs` with `Idempotency-Key` (one at a
//! time, in order), events come by long-polling `/events`, and the WebSocket is retried
//! in the background. Switching either way loses nothing and doubles nothing: the
//! outbox is the source of truth and the server applies each op_id once.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::api::ApiFailure;
use crate::backoff;
use crate::classify::Failure;
use crate::session::{self, Link};
use crate::shared::Shared;
use crate::state::{ConnectionState, Status};
use crate::tokens::TokenFailure;

const POLL_WAIT: Duration = Duration::from_secs(25);

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
    let sender = send_outbox(shared);
    let poller = poll_events(shared);
    tokio::pin!(sender, poller);
    let mut attempt_no = 0u32;
    let mut attempt = ws_attempt(shared, backoff::jittered(attempt_no).max(Duration::from_secs(1)));
    loop {
        tokio::select! {
            biased;
            _ = shared.shutdown.cancelled() => return FallbackEnd::Shutdown,
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

/// Sends the outbox oldest first, one command at a time, until told to stop.
async fn send_outbox(shared: &Shared) -> FallbackEnd {
    let mut attempt = 0u32;
    loop {
        let next = match shared.outbox.pending_after(0, 1) {
            Ok(mut entries) => entries.pop(),
            Err(e) => return FallbackEnd::Unreachable(Failure::Protocol(e.message)),
        };
        let Some(entry) = next else {
            report_presence(shared).await;
            shared.wake.notified().await;
            continue;
        };
        let access = match shared.tokens.access().await {
            Ok(a) => a,
            Err(e) => return token_end(e),
        };
        match shared.api.post_command(&access.token, &entry.command).await {
            Ok(ack) => {
                attempt = 0;
                if let Err(e) = shared.take_ack(ack) {
                    return FallbackEnd::Unreachable(Failure::Protocol(e.message));
                }
            }
            Err(failure) => match after_failure(shared, failure, access.generation, &mut attempt).await {
                Ok(wait) => tokio::time::sleep(wait).await,
                Err(end) => return end,
            },
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
                for envelope in page.events {
                    match shared.take_event(envelope.into_event()) {
                        Ok(Ok(())) => {}
                        // Pages come from the store in order; a gap means our seq moved
                        // under us: poll again from it.
                        Ok(Err(_gap)) => break,
                        Err(e) => return FallbackEnd::Unreachable(Failure::Protocol(e.message)),
                    }
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
