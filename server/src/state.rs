//! What every handler and session shares.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::jwt::TokenIssuer;
use crate::auth::limiter::{Limits, LoginLimiter};
use crate::auth::password::Hashing;
use crate::config::Settings;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::presence::Presence;
use crate::store::Store;
use crate::user_limits::UserLimits;

pub struct AppState {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub tokens: TokenIssuer,
    pub hub: Hub,
    pub metrics: Metrics,
    pub login_limiter: LoginLimiter,
    /// Password checks and hashes for requests, bounded (`password::Hashing`).
    pub hashing: Hashing,
    /// Sessions and HTTP commands per account.
    pub user_limits: UserLimits,
    /// Extension `presence`: which desks are online, per location.
    pub presence: Presence,
    /// Cancelled when the server starts draining.
    pub shutdown: CancellationToken,
    /// Every WebSocket session, so a drain can wait for their last acks.
    pub sessions: TaskTracker,
    pub session_count: AtomicUsize,
    /// Order in which sessions learn of a drain, to spread their reconnect hints.
    pub drain_slot: AtomicUsize,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(settings: Settings, store: Arc<dyn Store>) -> Self {
        Self {
            tokens: TokenIssuer::new(&settings.jwt_secret, &settings.issuer, &settings.audience, settings.access_ttl),
            hub: Hub::new(settings.session_queue.max(1024)),
            metrics: Metrics::new(),
            login_limiter: LoginLimiter::new(Limits::new(settings.login_max_failures, settings.login_lockout)),
            hashing: Hashing::for_this_machine(),
            user_limits: UserLimits::new(
                settings.max_sessions_per_user,
                settings.ws_rate_per_s,
                settings.ws_rate_burst,
            ),
            presence: Presence::new(),
            shutdown: CancellationToken::new(),
            sessions: TaskTracker::new(),
            session_count: AtomicUsize::new(0),
            drain_slot: AtomicUsize::new(0),
            store,
            settings,
        }
    }

    /// Broadcasts a committed event to its location and counts it. Every writer (the
    /// command path, review decisions, the overdue-visit sweeper) publishes through here.
    pub fn publish(&self, event: &frontdesk_protocol::Event) {
        self.hub.publish(event);
        self.metrics.events_published.inc();
    }
}
