//! What the supervisor, both transports and the public handle share: configuration,
//! stores, the status and event outlets, and the two bookkeeping steps every transport
//! does the same way (recording an ack, taking an event in seq order).

use std::path::PathBuf;
use std::sync::Mutex;

use frontdesk_protocol::Event;
use frontdesk_protocol::ws::Ack;
use serde::Serialize;
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::api::Api;
use crate::outbox::{Outbox, Provisional};
use crate::state::{ConnectionState, Status};
use crate::tokens::Tokens;

/// Where and as whom a desk works.
#[derive(Debug, Clone)]
pub struct DeskConfig {
    /// `http(s)://host:port` of the server.
    pub server: String,
    pub location_id: String,
    pub desk_id: String,
    /// Outbox, roster cache, logs. Two desks never share one.
    pub data_dir: PathBuf,
    /// Shown to IT among a user's signed-in devices.
    pub device_name: String,
}

/// Everything the desk reports, in order, to whoever listens (the app's webview, the
/// agent's standard output).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeskEvent {
    State(Status),
    /// A scan was committed to the outbox.
    Queued {
        op_id: uuid::Uuid,
        card: Option<String>,
        provisional: Option<Provisional>,
        reason: Option<String>,
    },
    /// The server's first answer for an outbox entry.
    Ack {
        ack: Ack,
    },
    /// A server event, each once, in seq order.
    Event {
        event: Event,
    },
    /// The desk's view is stale past what the server keeps: reload it over HTTP.
    Resync {
        last_seq: i64,
    },
    Error {
        code: String,
        message: String,
    },
}

pub struct Shared {
    pub config: DeskConfig,
    pub api: Api,
    pub tokens: Tokens,
    pub outbox: Outbox,
    pub status: watch::Sender<Status>,
    listeners: Mutex<Vec<mpsc::UnboundedSender<DeskEvent>>>,
    /// New outbox entries to send.
    pub wake: Notify,
    /// "Retry now" pressed, or the OS reports the network back.
    pub retry_now: Notify,
    /// Someone signed in.
    pub signed_in: Notify,
    pub shutdown: CancellationToken,
    /// Round trip of the last ping on the live session, in ms (-1: none yet).
    pub rtt_ms: std::sync::atomic::AtomicI64,
    /// A roster sync is running (one at a time per desk).
    pub roster_syncing: std::sync::atomic::AtomicBool,
}

/// The event stream is out of step: the transport must resume from the last seq.
#[derive(Debug)]
pub struct Gap;

impl Shared {
    pub fn new(config: DeskConfig, api: Api, tokens: Tokens, outbox: Outbox) -> Self {
        Self {
            config,
            api,
            tokens,
            outbox,
            status: watch::channel(Status::new(ConnectionState::Connecting, "Starting.")).0,
            listeners: Mutex::new(Vec::new()),
            wake: Notify::new(),
            retry_now: Notify::new(),
            signed_in: Notify::new(),
            shutdown: CancellationToken::new(),
            rtt_ms: std::sync::atomic::AtomicI64::new(-1),
            roster_syncing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<DeskEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.listeners.lock().unwrap_or_else(|p| p.into_inner()).push(tx);
        rx
    }

    pub fn emit(&self, event: DeskEvent) {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner()).retain(|l| l.send(event.clone()).is_ok());
    }

    pub fn error(&self, code: &str, message: impl Into<String>) {
        self.emit(DeskEvent::Error { code: code.to_owned(), message: message.into() });
    }

    /// Publishes a new connection status (once per change).
    pub fn set_status(&self, status: Status) {
        let changed = self.status.send_if_modified(|current| {
            if *current == status {
                false
            } else {
                *current = status.clone();
                true
            }
        });
        if changed {
            let _ = self.outbox.set_meta("state", status.state.as_str());
            self.emit(DeskEvent::State(status));
        }
    }

    pub fn state(&self) -> ConnectionState {
        self.status.borrow().state
    }

    /// Records an ack against its outbox entry; only the first ack is reported.
    pub fn take_ack(&self, ack: Ack) -> Result<(), crate::error::DeskError> {
        if self.outbox.record_ack(&ack)? {
            self.emit(DeskEvent::Ack { ack });
        }
        Ok(())
    }

    /// Takes the next event: duplicates are dropped, a gap asks for a resume. The seq is
    /// stored before the event is reported, so a crash never reports one twice.
    pub fn take_event(&self, event: Event) -> Result<Result<(), Gap>, crate::error::DeskError> {
        let last = self.outbox.last_seq()?;
        if event.seq <= last {
            return Ok(Ok(()));
        }
        if event.seq > last + 1 {
            return Ok(Err(Gap));
        }
        self.outbox.set_last_seq(event.seq)?;
        self.emit(DeskEvent::Event { event });
        Ok(Ok(()))
    }

    /// The server cannot replay what this desk missed: continue from its `last_seq`.
    pub fn resync(&self, last_seq: i64) -> Result<(), crate::error::DeskError> {
        self.outbox.set_last_seq(last_seq)?;
        self.emit(DeskEvent::Resync { last_seq });
        Ok(())
    }

    /// Adopts the hello of a session that did not replay (a new desk, or no resume):
    /// follow live from its `last_seq`.
    pub fn follow_from(&self, last_seq: i64) -> Result<(), crate::error::DeskError> {
        self.outbox.set_last_seq(last_seq)?;
        self.outbox.set_meta("followed", "1")
    }

    /// Where to resume: `None` for a desk that never followed this location (it starts
    /// live instead of replaying all retained history).
    pub fn resume_point(&self) -> Result<Option<i64>, crate::error::DeskError> {
        Ok(match self.outbox.meta("followed")? {
            Some(_) => Some(self.outbox.last_seq()?),
            None => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::{Secret, SecretStore};
    use frontdesk_protocol::{Event, EventKind};

    struct NoSecrets;
    impl SecretStore for NoSecrets {
        fn store(&self, _: &Secret) -> crate::Result<()> {
            Ok(())
        }
        fn load(&self) -> crate::Result<Option<Secret>> {
            Ok(None)
        }
        fn delete(&self) -> crate::Result<()> {
            Ok(())
        }
    }

    fn event(seq: i64) -> Event {
        Event {
            seq,
            kind: EventKind::MemberCheckedIn,
            at: chrono::Utc::now(),
            location_id: "demo".into(),
            check_in: None,
            stats: None,
            auto: false,
            override_: false,
        }
    }

    #[test]
    fn events_are_taken_once_in_order_and_a_gap_asks_for_a_resume() {
        let dir = tempfile::tempdir().unwrap();
        let api = Api::new("http://127.0.0.1:9").unwrap();
        let tokens = Tokens::new(api.clone(), std::sync::Arc::new(NoSecrets));
        let config = DeskConfig {
            server: "http://127.0.0.1:9".into(),
            location_id: "demo".into(),
            desk_id: "d".into(),
            data_dir: dir.path().into(),
            device_name: "t".into(),
        };
        let shared = Shared::new(config, api, tokens, Outbox::open(dir.path()).unwrap());
        let mut events = shared.subscribe();
        shared.follow_from(0).unwrap();
        assert!(shared.take_event(event(1)).unwrap().is_ok());
        assert!(shared.take_event(event(1)).unwrap().is_ok(), "a duplicate is dropped quietly");
        assert!(shared.take_event(event(2)).unwrap().is_ok());
        assert!(shared.take_event(event(4)).unwrap().is_err(), "3 is missing");
        assert_eq!(shared.outbox.last_seq().unwrap(), 2, "the gap did not move the resume point");
        let mut seen = Vec::new();
        while let Ok(DeskEvent::Event { event }) = events.try_recv() {
            seen.push(event.seq);
        }
        assert_eq!(seen, [1, 2]);
        assert_eq!(shared.resume_point().unwrap(), Some(2));
    }
}
