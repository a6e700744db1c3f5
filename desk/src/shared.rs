//! What the supervisor, both transports and the public handle share: configuration,
//! stores, the status and event outlets, and the two bookkeeping steps every transport
//! does the same way (recording an ack, taking an event in seq order).

use std::path::PathBuf;
use std::sync::Mutex;

use frontdesk_protocol::ws::Ack;
use frontdesk_protocol::{Event, EventKind};
use serde::Serialize;
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::api::Api;
use crate::outbox::{Outbox, Provisional};
use crate::state::{ConnectionState, Status};
use crate::tokens::Tokens;

/// What the desk says after staff signed out here (the session or fallback that ended
/// because of it reports this).
pub const SIGNED_OUT_HERE: &str =
    "Signed out. Sign in to go on; scans waiting at this desk are kept and sent after sign-in.";

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
    /// The gym's private CA (PEM), trusted besides the operating system's store.
    pub ca_file: Option<PathBuf>,
}

/// Everything the desk reports, in order, to whoever listens (the app's webview, the
/// agent's standard output).
// A few events a second at most, each moved once into each listener's channel: the
// size of the server event they carry does not matter, and boxing it would only make
// every listener's pattern noisier.
#[allow(clippy::large_enum_variant)]
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
    /// Counts sign-outs at this desk: a live session or fallback that sees it change
    /// ends at once (close 1000), so nothing more goes out under the user who left.
    pub sign_outs: watch::Sender<u64>,
    pub shutdown: CancellationToken,
    /// Round trip of the last ping on the live session, in ms (-1: none yet).
    pub rtt_ms: std::sync::atomic::AtomicI64,
    /// A roster sync is running (one at a time per desk).
    pub roster_syncing: std::sync::atomic::AtomicBool,
    /// A sync was asked for while one ran: run another when it ends (the running one
    /// may have read its page before the change it was asked for).
    pub roster_again: std::sync::atomic::AtomicBool,
    /// The roster changed on the server in a way one event cannot carry (a bulk
    /// import): sync now, not at the next period.
    pub roster_due: Notify,
}

/// The event stream is out of step: the transport must resume from the last seq.
#[derive(Debug)]
pub struct Gap;

/// One frame a transport received that the outbox records: see [`Shared::take_received`].
#[derive(Debug)]
pub enum Received {
    Ack(Ack),
    Event(Event),
}

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
            sign_outs: watch::channel(0).0,
            shutdown: CancellationToken::new(),
            rtt_ms: std::sync::atomic::AtomicI64::new(-1),
            roster_syncing: std::sync::atomic::AtomicBool::new(false),
            roster_again: std::sync::atomic::AtomicBool::new(false),
            roster_due: Notify::new(),
        }
    }

    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<DeskEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.listeners.lock().unwrap_or_else(|p| p.into_inner()).push(tx);
        rx
    }

    /// Ends every listener's channel (after the events already sent).
    pub fn close_listeners(&self) {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner()).clear();
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
        self.take_acks(vec![ack])
    }

    /// Records acks in one outbox transaction (one fsync for all), then reports each
    /// entry's first ack, in order.
    pub fn take_acks(&self, acks: Vec<Ack>) -> Result<(), crate::error::DeskError> {
        // Acks alone never make a gap.
        let _ = self.take_received(acks.into_iter().map(Received::Ack).collect())?;
        Ok(())
    }

    /// Takes the next event: duplicates are dropped, a gap asks for a resume. The seq is
    /// stored before the event is reported, so a crash never reports one twice. (The
    /// transports take events in batches, [`Self::take_received`]; this is one alone.)
    #[cfg(test)]
    pub fn take_event(&self, event: Event) -> Result<Result<(), Gap>, crate::error::DeskError> {
        self.take_received(vec![Received::Event(event)])
    }

    /// Takes what a transport received together, acks and events as they came, in one
    /// outbox transaction: one commit (one fsync) for the lot rather than one per ack
    /// and one per event. The rules are those of [`Self::take_ack`] and
    /// [`Self::take_event`]: an ack is recorded, and the last seq and the members an
    /// event carries are stored, before anything is reported; reports go out in the
    /// order received once the transaction is committed. Events after a gap are left
    /// out (the resume brings them again); acks after it are still recorded. When the
    /// transaction fails nothing is recorded or reported: the entries stay pending and
    /// are sent again, which the server answers as duplicates.
    pub fn take_received(&self, received: Vec<Received>) -> Result<Result<(), Gap>, crate::error::DeskError> {
        if received.is_empty() {
            return Ok(Ok(()));
        }
        let mut reports = Vec::with_capacity(received.len());
        let mut gap = false;
        let mut remembered = false;
        let mut roster_due = false;
        self.outbox.batch(|batch| {
            let stored = batch.last_seq()?;
            let mut last = stored;
            for item in received {
                match item {
                    Received::Ack(ack) => {
                        if batch.record_ack(&ack)? {
                            reports.push(DeskEvent::Ack { ack });
                        }
                    }
                    Received::Event(event) => {
                        if gap || event.seq <= last {
                            continue;
                        }
                        if event.seq > last + 1 {
                            gap = true;
                            continue;
                        }
                        // Extension `members`: a `member_updated` event updates the cached
                        // roster at once (a member renewed at one desk is let in offline at
                        // another a second later); one without a member (a bulk import)
                        // asks for a delta sync now. In the same transaction as the seq:
                        // never one without the other.
                        if event.kind == EventKind::MemberUpdated {
                            match &event.member {
                                Some(member) => {
                                    batch.upsert_roster_member(member)?;
                                    remembered = true;
                                }
                                None => roster_due = true,
                            }
                        }
                        last = event.seq;
                        reports.push(DeskEvent::Event { event });
                    }
                }
            }
            if last != stored {
                batch.set_last_seq(last)?;
            }
            Ok(())
        })?;
        if remembered {
            self.member_remembered();
        }
        if roster_due {
            self.roster_due.notify_one();
        }
        for report in reports {
            self.emit(report);
        }
        Ok(if gap { Err(Gap) } else { Ok(()) })
    }

    /// Stores one member as the server now has them in the cached roster. A delta sync
    /// running meanwhile may have read its page before this change and would store the
    /// older copy over it: it is asked to run once more.
    pub fn remember_member(&self, member: &frontdesk_protocol::Member) -> Result<(), crate::error::DeskError> {
        self.outbox.upsert_roster_member(member)?;
        self.member_remembered();
        Ok(())
    }

    /// A member was just stored in the cached roster: a sync running meanwhile runs again.
    fn member_remembered(&self) {
        if self.roster_syncing.load(std::sync::atomic::Ordering::SeqCst) {
            self.roster_again.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// The server cannot replay what this desk missed: continue from its `last_seq`.
    pub fn resync(&self, last_seq: i64) -> Result<(), crate::error::DeskError> {
        self.outbox.set_last_seq(last_seq)?;
        // Member changes may be among the events missed: bring the roster up to date too.
        self.roster_due.notify_one();
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
    use crate::secrets::NoSecrets;
    use frontdesk_protocol::{Event, EventKind, Member, MemberStatus};

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
            member: None,
        }
    }

    fn shared(dir: &std::path::Path) -> Shared {
        let api = Api::new("http://127.0.0.1:9").unwrap();
        let tokens = Tokens::new(api.clone(), std::sync::Arc::new(NoSecrets));
        let config = DeskConfig {
            server: "http://127.0.0.1:9".into(),
            location_id: "demo".into(),
            desk_id: "d".into(),
            data_dir: dir.into(),
            device_name: "t".into(),
            ca_file: None,
        };
        Shared::new(config, api, tokens, Outbox::open(dir).unwrap())
    }

    fn member_updated(seq: i64, member: Option<Member>) -> Event {
        Event { kind: EventKind::MemberUpdated, member, ..event(seq) }
    }

    #[test]
    fn events_are_taken_once_in_order_and_a_gap_asks_for_a_resume() {
        let dir = tempfile::tempdir().unwrap();
        let shared = shared(dir.path());
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

    #[tokio::test]
    async fn a_member_update_reaches_the_cached_roster_before_it_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let shared = shared(dir.path());
        let mut events = shared.subscribe();
        shared.follow_from(0).unwrap();
        let renewed = Member {
            id: "m181".into(),
            name: "Ann".into(),
            card: "D0181".into(),
            status: MemberStatus::Active,
            valid_until: chrono::NaiveDate::from_ymd_opt(2099, 12, 31),
            created_at: chrono::Utc::now(),
            ..Default::default()
        };
        assert!(shared.take_event(member_updated(1, Some(renewed.clone()))).unwrap().is_ok());
        assert_eq!(shared.outbox.roster_by_card("D0181").unwrap(), Some(renewed.clone()));
        assert!(shared.outbox.meta("roster_cursor").unwrap().is_none(), "the sync cursor does not move");
        assert!(matches!(events.try_recv(), Ok(DeskEvent::Event { event }) if event.seq == 1));

        // Without a member (a bulk import): a delta sync is asked for at once.
        assert!(shared.take_event(member_updated(2, None)).unwrap().is_ok());
        tokio::time::timeout(std::time::Duration::from_secs(1), shared.roster_due.notified())
            .await
            .expect("a roster sync was asked for");
        assert_eq!(shared.outbox.roster_size().unwrap(), 1);

        // While a sync runs, a member update asks it to run once more.
        shared.roster_syncing.store(true, std::sync::atomic::Ordering::SeqCst);
        let frozen = Member { status: MemberStatus::Frozen, ..renewed };
        assert!(shared.take_event(member_updated(3, Some(frozen.clone()))).unwrap().is_ok());
        assert_eq!(shared.outbox.roster_by_id("m181").unwrap(), Some(frozen));
        assert!(shared.roster_again.load(std::sync::atomic::Ordering::SeqCst));
    }
}
