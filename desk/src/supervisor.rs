//! The one task that owns the desk's link to the server. It gets a token, opens a
//! session, runs it, and when it ends classifies why and does what the table says:
//! wait (backoff, hint, jitter), refresh, fall back to HTTP, or stop and show sign-in.
//! It never gives up while someone is signed in.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backoff;
use crate::classify::{self, Action, Failure};
use crate::fallback::{self, FallbackEnd};
use crate::roster;
use crate::session::{self, End, Link};
use crate::shared::Shared;
use crate::state::{ConnectionState, Status};
use crate::tokens::TokenFailure;

/// After this many immediate reconnects in a row, back off anyway: a server that keeps
/// closing with "reconnect now" must not be hammered.
const MAX_IMMEDIATE: u32 = 3;

enum Next {
    /// Try again after this long (interruptible by "retry now").
    Wait(Duration),
    Now,
    /// Wait for someone to sign in.
    SignIn(String),
    /// Do not retry until "retry now" (or ever, for an update).
    Halt(ConnectionState, String),
    Fallback,
    Shutdown,
}

struct Supervisor {
    shared: Arc<Shared>,
    attempt: u32,
    immediate: u32,
    /// A WebSocket link opened by the fallback, to run next.
    pending_link: Option<Link>,
    ever_live: bool,
}

pub async fn run(shared: Arc<Shared>) {
    let mut supervisor = Supervisor { shared, attempt: 0, immediate: 0, pending_link: None, ever_live: false };
    supervisor.run().await;
}

impl Supervisor {
    async fn run(&mut self) {
        loop {
            let next = self.once().await;
            match next {
                Next::Shutdown => return,
                Next::Now => {}
                Next::Wait(delay) => {
                    tokio::select! {
                        _ = self.shared.shutdown.cancelled() => return,
                        _ = self.shared.retry_now.notified() => {}
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
                Next::SignIn(message) => {
                    self.shared.set_status(Status::new(ConnectionState::SignedOut, message));
                    self.attempt = 0;
                    tokio::select! {
                        _ = self.shared.shutdown.cancelled() => return,
                        _ = self.shared.signed_in.notified() => {}
                    }
                }
                Next::Halt(state, message) => {
                    self.shared.set_status(Status::new(state, message));
                    tokio::select! {
                        _ = self.shared.shutdown.cancelled() => return,
                        _ = self.shared.retry_now.notified() => {}
                        _ = self.shared.signed_in.notified() => {}
                    }
                }
                Next::Fallback => match fallback::run(&self.shared).await {
                    FallbackEnd::WebSocket(link) => self.pending_link = Some(*link),
                    FallbackEnd::Shutdown => return,
                    FallbackEnd::SignedOut(message) => {
                        self.shared.set_status(Status::new(ConnectionState::SignedOut, message));
                        tokio::select! {
                            _ = self.shared.shutdown.cancelled() => return,
                            _ = self.shared.signed_in.notified() => {}
                        }
                    }
                    FallbackEnd::Unreachable(failure) => {
                        let next = self.after(failure).await;
                        if let Next::Wait(delay) = next {
                            tokio::select! {
                                _ = self.shared.shutdown.cancelled() => return,
                                _ = self.shared.retry_now.notified() => {}
                                _ = tokio::time::sleep(delay) => {}
                            }
                        }
                    }
                },
            }
        }
    }

    /// One try: a token, a session, and what to do when it ends.
    async fn once(&mut self) -> Next {
        if self.shared.shutdown.is_cancelled() {
            return Next::Shutdown;
        }
        let link = match self.pending_link.take() {
            Some(link) => link,
            None => {
                let access = match self.shared.tokens.access().await {
                    Ok(a) => a,
                    Err(TokenFailure::SignedOut(m)) => return Next::SignIn(m),
                    Err(TokenFailure::Keychain(e)) => {
                        self.shared.error(e.code.as_str(), e.message.clone());
                        return Next::SignIn(e.message);
                    }
                    Err(TokenFailure::Temporary(f)) => {
                        let failure = match f {
                            crate::api::ApiFailure::Network(n) => n,
                            other => Failure::Protocol(other.describe()),
                        };
                        return self.after(failure).await;
                    }
                };
                let state = if self.ever_live || self.attempt > 0 {
                    ConnectionState::Reconnecting
                } else {
                    ConnectionState::Connecting
                };
                let mut status = Status::new(state, "Connecting to the server.");
                status.attempt = self.attempt;
                self.shared.set_status(status);
                match session::connect(&self.shared, access).await {
                    Ok(link) => link,
                    Err(failure) => return self.after(failure).await,
                }
            }
        };
        self.ever_live = true;
        roster::spawn_sync(self.shared.clone());
        let opened = Instant::now();
        let end = session::run(&self.shared, link).await;
        if opened.elapsed() >= backoff::STABLE_AFTER {
            self.attempt = 0;
            self.immediate = 0;
        }
        match end {
            End::Shutdown => Next::Shutdown,
            End::SignedOut(message) => Next::SignIn(message),
            End::SignOut => Next::SignIn(crate::shared::SIGNED_OUT_HERE.into()),
            End::Failed(failure) => self.after(failure).await,
        }
    }

    /// Classifies a failure and decides the next step, publishing the state it implies.
    async fn after(&mut self, failure: Failure) -> Next {
        let action = classify::classify(&failure);
        let what = classify::describe(&failure);
        tracing::info!(?failure, ?action, attempt = self.attempt, "session ended or failed");
        if classify::may_be_blocked(&failure) && self.attempt >= 1 && self.shared.api.probe().await.is_ok() {
            // The WebSocket fails again but plain HTTP reaches the server: something on
            // the way blocks upgrades. Work over HTTP meanwhile.
            return Next::Fallback;
        }
        let delay = match action {
            Action::Stop => {
                return Next::Halt(ConnectionState::Offline, format!("{what} Press \"retry now\" to reconnect."));
            }
            Action::StopAndReport => {
                self.shared.error("server_stopped_desk", what.clone());
                return Next::Halt(
                    ConnectionState::Offline,
                    format!("{what} Tell IT; press \"retry now\" to try again."),
                );
            }
            Action::SignOut => {
                if let Err(e) = self.shared.tokens.forget().await {
                    self.shared.error(e.code.as_str(), e.message);
                }
                return Next::SignIn(format!(
                    "{what} Sign in again; scans waiting at this desk are kept and sent after sign-in."
                ));
            }
            Action::UpdateRequired => {
                return Next::Halt(
                    ConnectionState::UpdateRequired,
                    "This desk's app is too old for the server. Install the update; scans waiting here are kept."
                        .into(),
                );
            }
            Action::RefreshNow | Action::Now => {
                self.immediate += 1;
                if action == Action::RefreshNow {
                    // The server refused the token: the next `access()` must refresh.
                    self.shared.tokens.expire().await;
                }
                if self.immediate <= MAX_IMMEDIATE {
                    return Next::Now;
                }
                backoff::jittered(self.attempt)
            }
            Action::Backoff => backoff::jittered(self.attempt),
            Action::BackoffFrom(floor) => backoff::jittered(self.attempt).max(floor),
            Action::After(hint) => hint + backoff::delay(0, rand::random::<f64>()),
            Action::Jitter(max) => max.mul_f64(rand::random::<f64>()),
        };
        self.attempt = self.attempt.saturating_add(1);
        let state =
            if classify::is_unreachable(&failure) { ConnectionState::Offline } else { ConnectionState::Reconnecting };
        // The cause only: the countdown is `next_retry_ms` (the app shows one, ticking; the
        // agent prints the figure), and "scans are safe" is the app's to say once.
        let mut status = Status::new(state, what);
        status.attempt = self.attempt;
        status.next_retry_ms = Some(delay.as_millis() as u64);
        self.shared.set_status(status);
        Next::Wait(delay)
    }
}
