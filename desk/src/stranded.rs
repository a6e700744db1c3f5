//! Scans saved at this desk for another gym of the same server, left waiting when the
//! desk's location changed: delivered with the current sign-in, never stranded silently.
//!
//! They go over plain HTTP (`POST /check-ins`, `/check-outs` with their own `op_id` as
//! the idempotency key), in the order they were saved, with the signed-in desk's own
//! tokens: a second token holder for the same keychain entry would refresh the same
//! family and the server would take that for token theft. Each keeps its gym, desk,
//! time and the staff member who scanned it; the server applies each at most once, so a
//! delivery cut short and done again doubles nothing.

use std::path::{Path, PathBuf};

use crate::Desk;
use crate::api::ApiFailure;
use crate::error::Result;
use crate::outbox::Outbox;
use crate::tokens::TokenFailure;

/// What became of one folder's waiting scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Every waiting scan reached the server (some may have been turned away: their
    /// answers are recorded like any other).
    Delivered { location: String, accepted: usize, rejected: usize },
    /// Saved for another server: only a sign-in there delivers them.
    OtherServer { server: String, pending: i64 },
    /// The server refused the signed-in person for that gym, or could not be reached;
    /// what is left stays saved. The message says what to do.
    Stopped { location: String, delivered: usize, left: i64, message: String },
    /// Nothing waiting there.
    Nothing,
}

impl Desk {
    /// Delivers what waits in each of `folders` every time the desk gets through to the
    /// server (live, or over the HTTP fallback), until nothing is left that this server
    /// could take; `report` hears each outcome worth telling. Runs until then, or until
    /// the desk's status channel closes (the desk shut down).
    pub async fn deliver_when_connected(&self, mut folders: Vec<PathBuf>, report: impl Fn(Delivery)) {
        use crate::state::ConnectionState as S;
        let mut status = self.watch_status();
        while !folders.is_empty() {
            let connected = |s: &crate::Status| matches!(s.state, S::Live | S::HttpFallback);
            if status.wait_for(connected).await.is_err() {
                return;
            }
            let mut left = Vec::new();
            for dir in folders {
                let outcome = match self.deliver_stranded(&dir).await {
                    Ok(outcome) => outcome,
                    Err(e) => {
                        let binding = Outbox::peek(&dir);
                        Delivery::Stopped {
                            location: binding.as_ref().and_then(|b| b.location.clone()).unwrap_or_default(),
                            delivered: 0,
                            left: binding.map(|b| b.pending).unwrap_or(0),
                            message: e.message,
                        }
                    }
                };
                if matches!(outcome, Delivery::Stopped { .. }) {
                    left.push(dir);
                }
                report(outcome);
            }
            folders = left;
            // Tried while connected: the next try is after the link (or the user) changes.
            if !folders.is_empty() && status.wait_for(|s| !connected(s)).await.is_err() {
                return;
            }
        }
    }

    /// Delivers the scans waiting in the desk folder `dir` (another gym's outbox).
    pub async fn deliver_stranded(&self, dir: &Path) -> Result<Delivery> {
        let Some(binding) = Outbox::peek(dir) else { return Ok(Delivery::Nothing) };
        if binding.pending == 0 {
            return Ok(Delivery::Nothing);
        }
        let server = binding.server.clone().unwrap_or_default();
        if server != self.config().server {
            return Ok(Delivery::OtherServer { server, pending: binding.pending });
        }
        let location = binding.location.clone().unwrap_or_else(|| "unknown".into());
        let outbox = Outbox::open(dir)?;
        let (mut accepted, mut rejected, mut after) = (0usize, 0usize, 0i64);
        let stopped = |delivered: usize, message: String| -> Result<Delivery> {
            let left = outbox.counts()?.pending;
            Ok(Delivery::Stopped { location: location.clone(), delivered, left, message })
        };
        loop {
            let batch = outbox.pending_after(after, 50)?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            for entry in batch {
                let access = match self.shared.tokens.access().await {
                    Ok(access) => access,
                    Err(TokenFailure::SignedOut(m)) => return stopped(accepted + rejected, m),
                    Err(TokenFailure::Temporary(f)) => return stopped(accepted + rejected, f.describe()),
                    Err(TokenFailure::Keychain(e)) => return Err(e),
                };
                match self.shared.api.post_command(&access.token, &entry.command).await {
                    // Not a verdict on the scan but on who sends it: it stays saved for
                    // someone who works there.
                    Ok(ack) if ack.code == Some(frontdesk_protocol::RejectionCode::LocationForbidden) => {
                        return stopped(accepted + rejected, not_theirs(&location));
                    }
                    Ok(ack) => {
                        if ack.status == frontdesk_protocol::ws::AckStatus::Accepted {
                            accepted += 1;
                        } else {
                            rejected += 1;
                        }
                        outbox.record_ack(&ack)?;
                    }
                    Err(ApiFailure::Forbidden { .. }) => return stopped(accepted + rejected, not_theirs(&location)),
                    Err(other) => return stopped(accepted + rejected, other.describe()),
                }
            }
        }
        Ok(Delivery::Delivered { location, accepted, rejected })
    }
}

fn not_theirs(location: &str) -> String {
    format!(
        "The person signed in does not work at gym \"{location}\", so its saved scans cannot be sent with this \
         sign-in. Sign in as someone who works there (a manager), or tell IT."
    )
}

impl Delivery {
    /// The outcome in the words of the desk's "recent problems" list, when there is one
    /// worth telling.
    pub fn words(&self) -> Option<String> {
        match self {
            Self::Nothing => None,
            Self::Delivered { location, accepted, rejected: 0 } => {
                Some(format!("{accepted} scan(s) saved here for gym \"{location}\" were delivered to the server."))
            }
            Self::Delivered { location, accepted, rejected } => Some(format!(
                "{} scan(s) saved here for gym \"{location}\" were delivered: {accepted} recorded, {rejected} turned \
                 away by the server (see the visits of that gym).",
                accepted + rejected
            )),
            Self::OtherServer { server, pending } => Some(format!(
                "{pending} scan(s) saved at this desk for the server {server} are still waiting. Sign in at that \
                 server (type its address at sign-in) to deliver them, or tell IT."
            )),
            Self::Stopped { location, left, message, .. } => {
                Some(format!("{left} scan(s) saved here for gym \"{location}\" are still waiting. {message}"))
            }
        }
    }
}
