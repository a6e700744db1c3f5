//! The scan as staff make it, one rule for the app and the agent: what a card read (or a
//! member picked from the search) becomes. While the server can answer, every scan is
//! committed and the server decides; while it cannot, the cached member list decides
//! (docs/protocol.md, "The outbox and offline work" and "the turned-away policy"): an
//! active member is saved and let in, one the list rejects or does not know is turned
//! away and nothing is saved, unless staff override with a reason. A committed scan then
//! waits for the server's answer up to a deadline the caller chooses.

use std::time::{Duration, Instant};

use frontdesk_protocol::Member;
use frontdesk_protocol::RejectionCode;
use frontdesk_protocol::ws::Ack;

use crate::offline::Verdict;
use crate::{ConnectionState, Desk, DeskEvent, Entry, Result, Who};

/// How staff asked for it. The app's result panel shows it as it is (`check_in`,
/// `check_out`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ScanAction {
    CheckIn,
    CheckOut,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRequest {
    pub action: ScanAction,
    pub who: Who,
    /// Staff let the member in anyway, with this reason (check-ins only).
    pub override_reason: Option<String>,
}

impl ScanRequest {
    pub fn check_in(who: Who) -> Self {
        Self { action: ScanAction::CheckIn, who, override_reason: None }
    }

    pub fn check_out(who: Who) -> Self {
        Self { action: ScanAction::CheckOut, who, override_reason: None }
    }

    pub fn overridden(mut self, reason: Option<String>) -> Self {
        self.override_reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        self
    }

    fn card(&self) -> Option<&str> {
        match &self.who {
            Who::Card(card) => Some(card.trim()),
            _ => None,
        }
    }
}

/// What became of a scan. One per scan, moved once: the ack's size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The server cannot answer and the cached member list turns the member away:
    /// nothing was saved. Staff may override with a reason.
    TurnedAway { code: RejectionCode, reason: String },
    /// Saved as `entry`, and the server answered within the wait.
    Answered { entry: Entry, ack: Ack },
    /// Saved as `entry`; no answer yet. `online`: it has been sent and the answer follows
    /// as a [`DeskEvent::Ack`]; otherwise it goes when the server is back.
    Saved { entry: Entry, online: bool },
}

/// A scan's outcome with what the desk knew when it made it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanReport {
    pub action: ScanAction,
    pub outcome: Outcome,
    /// The member as the cached list knows them.
    pub member: Option<Member>,
    /// The desk's own verdict on a check-in (from the cached list).
    pub verdict: Option<Verdict>,
    pub card: Option<String>,
    pub overridden: bool,
    /// The same card read again within the desk's repeat window: this is the earlier
    /// scan, shown again; nothing new was saved.
    pub repeated: bool,
    pub elapsed: Duration,
}

impl ScanReport {
    /// The outbox entry, when the scan was saved.
    pub fn entry(&self) -> Option<&Entry> {
        match &self.outcome {
            Outcome::Answered { entry, .. } | Outcome::Saved { entry, .. } => Some(entry),
            Outcome::TurnedAway { .. } => None,
        }
    }

    /// Saved, but the desk's own list would have turned the member away, and no override:
    /// the turn-away (code, reason) to show until the server has answered, since the
    /// screen must not say "let in" before it has.
    pub fn awaiting_server_verdict(&self) -> Option<(RejectionCode, &str)> {
        if !matches!(self.outcome, Outcome::Saved { .. }) || self.overridden {
            return None;
        }
        self.verdict.as_ref().and_then(Verdict::turned_away)
    }
}

/// The last card read at this desk, for the repeat window.
pub(crate) struct RecentRead {
    card: String,
    action: ScanAction,
    /// tokio's clock, so tests can move it (paused time).
    at: tokio::time::Instant,
    report: ScanReport,
}

impl Desk {
    /// Whether the server can answer a scan now (live, or over the HTTP fallback, where
    /// the server still answers each command).
    pub fn server_answers(&self) -> bool {
        matches!(self.status().state, ConnectionState::Live | ConnectionState::HttpFallback)
    }

    /// Reads of the same card within `window` at this desk are one scan (a reader that
    /// bounces, a member who taps twice). Zero, the default, makes every read a scan.
    pub fn set_repeat_window(&self, window: Duration) {
        *self.repeat_window.lock().unwrap_or_else(|p| p.into_inner()) = window;
    }

    /// Makes a scan: decides, commits or turns away, and waits up to `answer_wait` for the
    /// server's answer when it can answer (zero: do not wait).
    pub async fn scan(&self, request: ScanRequest, answer_wait: Duration) -> Result<ScanReport> {
        let started = Instant::now();
        if let Some(report) = self.repeated_read(&request) {
            return Ok(report);
        }
        let card = request.card().map(str::to_owned);
        let overridden = request.override_reason.is_some();
        let online = self.server_answers();
        let (member, verdict) = match request.action {
            ScanAction::CheckIn => {
                let (member, verdict) = self.judge_check_in(&request.who)?;
                (member, Some(verdict))
            }
            ScanAction::CheckOut => (self.cached_member(&request.who)?, None),
        };
        if let Some((code, reason)) = verdict.as_ref().and_then(Verdict::turned_away)
            && !online
            && !overridden
        {
            let outcome = Outcome::TurnedAway { code, reason: reason.to_owned() };
            let report = ScanReport {
                action: request.action,
                outcome,
                member,
                verdict,
                card,
                overridden,
                repeated: false,
                elapsed: started.elapsed(),
            };
            self.remember_read(&request, &report);
            return Ok(report);
        }
        // Listen before committing: the answer may come before `commit` returns.
        let mut events = (online && !answer_wait.is_zero()).then(|| self.subscribe());
        let entry = match (request.action, verdict.clone()) {
            (ScanAction::CheckIn, Some(verdict)) => {
                let (who, reason) = (request.who.clone(), request.override_reason.clone());
                self.check_in_judged(who, reason, member.clone(), verdict)?.entry
            }
            _ => self.check_out_cached(request.who.clone(), member.clone())?.entry,
        };
        let ack = match events.as_mut() {
            Some(events) => wait_for_ack(events, &entry, answer_wait).await,
            None => None,
        };
        let outcome = match ack {
            Some(ack) => Outcome::Answered { entry, ack },
            None => Outcome::Saved { entry, online },
        };
        let report = ScanReport {
            action: request.action,
            outcome,
            member,
            verdict,
            card,
            overridden,
            repeated: false,
            elapsed: started.elapsed(),
        };
        self.remember_read(&request, &report);
        Ok(report)
    }

    /// The earlier report, brought up to date, when this read repeats the last one.
    fn repeated_read(&self, request: &ScanRequest) -> Option<ScanReport> {
        let window = *self.repeat_window.lock().unwrap_or_else(|p| p.into_inner());
        let card = request.card()?;
        if window.is_zero() || request.override_reason.is_some() {
            return None;
        }
        let recent = self.recent_read.lock().unwrap_or_else(|p| p.into_inner());
        let recent = recent.as_ref().filter(|r| r.card == card && r.action == request.action)?;
        if recent.at.elapsed() > window {
            return None;
        }
        let mut report = recent.report.clone();
        report.repeated = true;
        // The answer may have come since: show what the desk knows now.
        if let Some(entry) = report.entry().and_then(|e| self.entry(e.op_id).ok().flatten()) {
            report.outcome = match (entry.ack.clone(), &report.outcome) {
                (Some(ack), _) => Outcome::Answered { entry, ack },
                (None, Outcome::Saved { online, .. }) => Outcome::Saved { entry, online: *online },
                (None, _) => report.outcome.clone(),
            };
        }
        Some(report)
    }

    fn remember_read(&self, request: &ScanRequest, report: &ScanReport) {
        let Some(card) = request.card() else { return };
        // An override is staff's deliberate act, not a reader's repeat.
        if request.override_reason.is_some() {
            return;
        }
        *self.recent_read.lock().unwrap_or_else(|p| p.into_inner()) = Some(RecentRead {
            card: card.to_owned(),
            action: request.action,
            at: tokio::time::Instant::now(),
            report: report.clone(),
        });
    }

    /// A new user at the desk: their reads are their own, never a repeat of the last one's.
    pub(crate) fn forget_recent_read(&self) {
        *self.recent_read.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

async fn wait_for_ack(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<DeskEvent>,
    entry: &Entry,
    wait: Duration,
) -> Option<Ack> {
    let answer = async {
        while let Some(event) = events.recv().await {
            if let DeskEvent::Ack { ack } = event
                && ack.op_id == entry.op_id
            {
                return Some(ack);
            }
        }
        None
    };
    tokio::time::timeout(wait, answer).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    //! The rule without a server: a desk that has never connected cannot get an answer,
    //! so its cached member list decides. (With the server, tests/tests/desk_scan.rs.)

    use std::sync::Arc;

    use chrono::{Days, Utc};
    use frontdesk_protocol::{Member, MemberStatus};

    use super::*;
    use crate::Provisional;
    use crate::secrets::NoSecrets;
    use crate::{DeskConfig, DeskError};

    fn config(dir: &std::path::Path, location: &str) -> DeskConfig {
        DeskConfig {
            // Nothing listens on the discard port: the desk never gets an answer.
            server: "http://127.0.0.1:9/".into(),
            location_id: location.into(),
            desk_id: "front-1".into(),
            data_dir: dir.into(),
            device_name: "unit test".into(),
            ca_file: None,
        }
    }

    fn member(card: &str, valid_for_days: i64) -> Member {
        let today = Utc::now().date_naive();
        let valid_until = if valid_for_days >= 0 {
            today.checked_add_days(Days::new(valid_for_days as u64))
        } else {
            today.checked_sub_days(Days::new(valid_for_days.unsigned_abs()))
        };
        Member {
            id: format!("m-{card}"),
            name: format!("Member {card}"),
            card: card.into(),
            status: MemberStatus::Active,
            valid_until,
            created_at: Utc::now(),
            ..Default::default()
        }
    }

    fn desk(dir: &std::path::Path) -> Desk {
        let desk = Desk::open(config(dir, "demo"), Arc::new(NoSecrets)).unwrap();
        desk.shared.remember_member(&member("ACTIVE", 30)).unwrap();
        desk.shared.remember_member(&member("EXPIRED", -3)).unwrap();
        desk
    }

    fn card(card: &str) -> Who {
        Who::Card(card.into())
    }

    #[tokio::test]
    async fn offline_the_cached_list_lets_in_or_turns_away_and_saves_only_what_it_lets_in() {
        let dir = tempfile::tempdir().unwrap();
        let desk = desk(dir.path());
        assert!(!desk.server_answers());

        let active = desk.scan(ScanRequest::check_in(card("ACTIVE")), Duration::from_secs(5)).await.unwrap();
        assert!(matches!(active.outcome, Outcome::Saved { online: false, .. }), "{active:?}");
        assert!(active.awaiting_server_verdict().is_none());
        assert!(active.entry().is_some());

        let expired = desk.scan(ScanRequest::check_in(card("EXPIRED")), Duration::from_secs(5)).await.unwrap();
        assert!(
            matches!(&expired.outcome, Outcome::TurnedAway { code: RejectionCode::MembershipExpired, reason } if reason.contains("expired")),
            "{expired:?}"
        );
        assert!(expired.entry().is_none());

        let unknown = desk.scan(ScanRequest::check_in(card("NOBODY")), Duration::ZERO).await.unwrap();
        assert!(matches!(unknown.outcome, Outcome::TurnedAway { code: RejectionCode::MemberNotFound, .. }));
        assert_eq!(desk.counts().unwrap().pending, 1, "only the active member's scan is saved");

        // Staff override: saved, with the desk's own verdict kept for the record.
        let request = ScanRequest::check_in(card("EXPIRED")).overridden(Some("  paid at the desk ".into()));
        assert_eq!(request.override_reason.as_deref(), Some("paid at the desk"));
        let overridden = desk.scan(request, Duration::ZERO).await.unwrap();
        assert!(matches!(overridden.outcome, Outcome::Saved { online: false, .. }), "{overridden:?}");
        assert_eq!(overridden.entry().unwrap().provisional, Some(Provisional::RejectedLocally));
        // A blank reason is no override.
        let blank = desk.scan(ScanRequest::check_in(card("NOBODY")).overridden(Some("  ".into())), Duration::ZERO);
        assert!(matches!(blank.await.unwrap().outcome, Outcome::TurnedAway { .. }));

        // Check-outs are not judged: a member leaving is always let out.
        let out = desk.scan(ScanRequest::check_out(card("EXPIRED")), Duration::ZERO).await.unwrap();
        assert!(matches!(out.outcome, Outcome::Saved { online: false, .. }), "{out:?}");
        assert_eq!(desk.counts().unwrap().pending, 3);
    }

    #[tokio::test]
    async fn the_same_card_read_twice_within_the_window_is_one_scan() {
        let dir = tempfile::tempdir().unwrap();
        let desk = desk(dir.path());
        // Off by default (the agent: a program means every line it sends).
        desk.scan(ScanRequest::check_in(card("ACTIVE")), Duration::ZERO).await.unwrap();
        let again = desk.scan(ScanRequest::check_in(card("ACTIVE")), Duration::ZERO).await.unwrap();
        assert!(!again.repeated);
        assert_eq!(desk.counts().unwrap().pending, 2);

        desk.set_repeat_window(Duration::from_secs(60));
        let first = desk.scan(ScanRequest::check_in(card(" EXPIRED")), Duration::ZERO).await.unwrap();
        let bounce = desk.scan(ScanRequest::check_in(card("EXPIRED ")), Duration::ZERO).await.unwrap();
        assert!(bounce.repeated && !first.repeated);
        assert_eq!(bounce.outcome, first.outcome, "the earlier turn-away, shown again");

        let first = desk.scan(ScanRequest::check_in(card("ACTIVE")), Duration::ZERO).await.unwrap();
        let bounce = desk.scan(ScanRequest::check_in(card("ACTIVE")), Duration::ZERO).await.unwrap();
        assert!(bounce.repeated);
        assert_eq!(bounce.entry().map(|e| e.op_id), first.entry().map(|e| e.op_id));
        assert_eq!(desk.counts().unwrap().pending, 3, "one more saved scan, not two");

        // A check-out is not a repeat of a check-in, and an override is always staff's act.
        let out = desk.scan(ScanRequest::check_out(card("ACTIVE")), Duration::ZERO).await.unwrap();
        assert!(!out.repeated);
        let overridden = ScanRequest::check_in(card("EXPIRED")).overridden(Some("manager ok".into()));
        assert!(!desk.scan(overridden, Duration::ZERO).await.unwrap().repeated);
        assert_eq!(desk.counts().unwrap().pending, 5);

        // Another card in between ends the repeat.
        desk.scan(ScanRequest::check_in(card("ACTIVE")), Duration::ZERO).await.unwrap();
        desk.scan(ScanRequest::check_in(card("NOBODY")), Duration::ZERO).await.unwrap();
        assert!(!desk.scan(ScanRequest::check_in(card("ACTIVE")), Duration::ZERO).await.unwrap().repeated);
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_after_the_window_is_a_new_scan() {
        let dir = tempfile::tempdir().unwrap();
        let desk = desk(dir.path());
        desk.set_repeat_window(Duration::from_secs(3));
        desk.scan(ScanRequest::check_in(card("ACTIVE")), Duration::ZERO).await.unwrap();
        tokio::time::advance(Duration::from_millis(2_900)).await;
        assert!(desk.scan(ScanRequest::check_in(card("ACTIVE")), Duration::ZERO).await.unwrap().repeated);
        tokio::time::advance(Duration::from_millis(200)).await;
        let later = desk.scan(ScanRequest::check_in(card("ACTIVE")), Duration::ZERO).await.unwrap();
        assert!(!later.repeated);
        assert_eq!(desk.counts().unwrap().pending, 2);
    }

    #[test]
    fn a_data_folder_stays_with_its_server_and_gym() {
        let dir = tempfile::tempdir().unwrap();
        drop(Desk::open(config(dir.path(), "demo"), Arc::new(NoSecrets)).unwrap());
        // The same server with or without a trailing slash is the same server.
        let mut same = config(dir.path(), "demo");
        same.server = "http://127.0.0.1:9".into();
        drop(Desk::open(same, Arc::new(NoSecrets)).unwrap());
        let Err(moved) = Desk::open(config(dir.path(), "north"), Arc::new(NoSecrets)) else {
            panic!("another gym must not inherit this folder")
        };
        let DeskError { code, message, .. } = moved;
        assert_eq!(code, crate::ErrorCode::Configuration);
        assert!(message.contains("\"demo\"") && message.contains("\"north\""), "{message}");
        let binding = crate::outbox::Outbox::peek(dir.path()).unwrap();
        assert_eq!(binding.location.as_deref(), Some("demo"));
        assert_eq!(binding.server.as_deref(), Some("http://127.0.0.1:9"));
    }
}
