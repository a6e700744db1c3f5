//! Turning what the desk library decided about a scan into the result panel's words: the
//! desk's own verdict offline, the server's ack once it comes. The decision itself is the
//! library's (`frontdesk_desk::scan`), shared with the agent. Pure functions, tested below.

use frontdesk_desk::{Entry, Outcome, ScanReport};
use frontdesk_protocol::ws::{Ack, AckStatus, Command};
use frontdesk_protocol::{Member, RejectionCode};

use crate::view::{ScanAction, ScanResult, ScanStatus};

/// The panel for a scan as the library reports it.
pub fn result_of(report: &ScanReport) -> ScanResult {
    let member = report.member.clone();
    let mut result = match &report.outcome {
        Outcome::Answered { entry, ack } => settled(entry, ack, member),
        Outcome::TurnedAway { code, reason } => turned_away(report.card.clone(), member, *code, reason),
        // The server is slow to answer: never show "let in" for someone the member list
        // turns away; the server's answer still follows as a `settled` update.
        Outcome::Saved { entry, .. } if let Some((code, reason)) = report.awaiting_server_verdict() => {
            let mut pending = turned_away(report.card.clone(), member, code, reason);
            pending.op_id = Some(entry.op_id.to_string());
            pending.message = format!("{} Waiting for the server's answer.", pending.message);
            pending
        }
        Outcome::Saved { entry, online } => queued(entry, member, *online, report.overridden),
    };
    result.repeated = report.repeated;
    result.elapsed_ms = report.elapsed.as_millis().min(u32::MAX as u128) as u32;
    result
}

pub fn action_of(command: &Command) -> ScanAction {
    match command {
        Command::CheckIn(_) => ScanAction::CheckIn,
        Command::CheckOut(_) => ScanAction::CheckOut,
    }
}

/// Whether the command was saved while the desk was not live.
pub fn saved_offline(command: &Command) -> bool {
    match command {
        Command::CheckIn(c) => c.queued,
        Command::CheckOut(c) => c.queued,
    }
}

pub fn override_reason(command: &Command) -> Option<String> {
    match command {
        Command::CheckIn(c) => c.override_.as_ref().map(|o| o.reason.clone()),
        Command::CheckOut(_) => None,
    }
}

/// Offline, a member the cache turns away (expired, frozen) or does not know is not
/// queued: staff see why and may let them in anyway with a reason (docs/protocol.md, "the
/// turned-away policy").
pub fn turned_away(card: Option<String>, member: Option<Member>, code: RejectionCode, reason: &str) -> ScanResult {
    let (status, code) = match code {
        RejectionCode::MemberNotFound => (ScanStatus::Unknown, None),
        code => (ScanStatus::Rejected, Some(code)),
    };
    ScanResult {
        op_id: None,
        action: ScanAction::CheckIn,
        status,
        card,
        member,
        member_name: None,
        code,
        message: reason.to_owned(),
        overridable: true,
        provisional: true,
        visit: None,
        elapsed_ms: 0,
        repeated: false,
    }
}

/// A scan committed to the outbox that has no answer yet.
pub fn queued(entry: &Entry, member: Option<Member>, online: bool, overridden: bool) -> ScanResult {
    let action = action_of(&entry.command);
    let message = match (action, overridden, online) {
        // The verdict line already says "let in" / "checked out": this says what follows.
        (ScanAction::CheckIn, true, _) => "Let in by override; the server records it with the reason given.",
        (_, _, false) => "Saved on this desk; the server confirms it when the link is back.",
        (_, _, true) => "Saved on this desk and sent; the server's answer is on its way.",
    };
    ScanResult {
        op_id: Some(entry.op_id.to_string()),
        action,
        status: ScanStatus::Queued,
        card: entry.card.clone(),
        member,
        member_name: None,
        code: None,
        message: message.into(),
        overridable: false,
        provisional: true,
        visit: None,
        elapsed_ms: 0,
        repeated: false,
    }
}

/// The server's final word on an outbox entry.
pub fn settled(entry: &Entry, ack: &Ack, member: Option<Member>) -> ScanResult {
    let action = action_of(&entry.command);
    let visit = ack.check_in.clone();
    let member_name = visit.as_ref().and_then(|v| v.member.as_ref()).map(|m| m.name.clone());
    let (status, message) = match ack.status {
        AckStatus::Rejected => {
            (ScanStatus::Rejected, ack.message.clone().unwrap_or_else(|| "The server turned this scan away.".into()))
        }
        AckStatus::Accepted => (ScanStatus::Accepted, accepted_words(action, ack)),
    };
    ScanResult {
        op_id: Some(entry.op_id.to_string()),
        action,
        status,
        card: entry.card.clone(),
        member,
        member_name,
        code: ack.code,
        message,
        overridable: ack.overridable.unwrap_or(false),
        provisional: false,
        visit,
        elapsed_ms: 0,
        repeated: false,
    }
}

fn accepted_words(action: ScanAction, ack: &Ack) -> String {
    let visit = ack.check_in.as_ref();
    match action {
        ScanAction::CheckOut => match visit.and_then(|v| v.stay_minutes) {
            Some(minutes) => format!("Checked out after {}.", stay(minutes)),
            None => "Checked out.".into(),
        },
        ScanAction::CheckIn => {
            if visit.is_some_and(|v| v.needs_review) {
                "Checked in; a manager will review this visit.".into()
            } else if visit.is_some_and(|v| v.override_.is_some()) {
                "Checked in by override.".into()
            } else {
                "Checked in. Welcome!".into()
            }
        }
    }
}

/// "1 h 11 min", "45 min".
pub fn stay(minutes: i64) -> String {
    if minutes >= 60 { format!("{} h {} min", minutes / 60, minutes % 60) } else { format!("{minutes} min") }
}

/// What the outbox panel says of an answered entry.
pub fn answer_words(entry: &Entry) -> Option<String> {
    let ack = entry.ack.as_ref()?;
    Some(match ack.status {
        AckStatus::Accepted => accepted_words(action_of(&entry.command), ack),
        AckStatus::Rejected => ack.message.clone().unwrap_or_else(|| "Turned away by the server.".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Utc};
    use frontdesk_desk::offline::Verdict;
    use frontdesk_desk::{EntryState, Provisional};
    use frontdesk_protocol::ws::{CheckInCommand, MemberSelector};
    use frontdesk_protocol::{MemberStatus, MemberSummary, Visit};
    use uuid::Uuid;

    fn entry() -> Entry {
        let op_id = Uuid::new_v4();
        Entry {
            id: 1,
            op_id,
            command: Command::CheckIn(CheckInCommand {
                op_id,
                location_id: "demo".into(),
                desk_id: "front-1".into(),
                member: MemberSelector::card("D0001"),
                occurred_at: Utc::now(),
                queued: false,
                scanned_by: None,
                override_: None,
            }),
            card: Some("D0001".into()),
            scanned_by: None,
            provisional: Some(Provisional::Accepted),
            created_at: Utc::now(),
            state: EntryState::Pending,
            ack: None,
        }
    }

    fn member(valid_until: Option<NaiveDate>, frozen_from: Option<NaiveDate>) -> Member {
        Member {
            id: "m1".into(),
            name: "Ada Lovelace".into(),
            card: "D0001".into(),
            phone: None,
            status: MemberStatus::Active,
            valid_until,
            frozen_from,
            frozen_until: None,
            created_at: Utc::now(),
            ..Default::default()
        }
    }

    fn visit() -> Visit {
        Visit {
            id: "v1".into(),
            location_id: "demo".into(),
            member: Some(MemberSummary { id: "m1".into(), name: "Ada Lovelace".into(), status: MemberStatus::Active }),
            card: Some("D0001".into()),
            desk_id: "front-1".into(),
            checked_in_at: Utc::now(),
            checked_out_at: None,
            stay_minutes: None,
            queued: false,
            auto: false,
            override_: None,
            needs_review: false,
            review: None,
            voided: false,
            scanned_by: None,
            recorded_by: None,
        }
    }

    #[test]
    fn accepted_ack_is_accepted_with_the_servers_name() {
        let e = entry();
        let result = settled(&e, &Ack::accepted(e.op_id, visit()), None);
        assert_eq!(result.status, ScanStatus::Accepted);
        assert_eq!(result.member_name.as_deref(), Some("Ada Lovelace"));
        assert!(!result.provisional);
        assert_eq!(result.op_id, Some(e.op_id.to_string()));
    }

    #[test]
    fn rejected_ack_keeps_the_servers_reason_and_overridability() {
        let e = entry();
        let ack = Ack::rejected(e.op_id, RejectionCode::MembershipExpired, "Membership expired on 2026-10-31");
        let result = settled(&e, &ack, None);
        assert_eq!(result.status, ScanStatus::Rejected);
        assert_eq!(result.message, "Membership expired on 2026-10-31");
        assert_eq!(result.code, Some(RejectionCode::MembershipExpired));
        assert!(result.overridable);
        let ack = Ack::rejected(e.op_id, RejectionCode::MemberNotFound, "No member has this card.");
        assert!(!settled(&e, &ack, None).overridable);
    }

    #[test]
    fn needs_review_and_checkout_say_so() {
        let e = entry();
        let mut v = visit();
        v.needs_review = true;
        assert!(settled(&e, &Ack::accepted(e.op_id, v), None).message.contains("review"));
        assert_eq!(stay(71), "1 h 11 min");
        assert_eq!(stay(45), "45 min");
    }

    /// The panel for a scan the desk's verdict turns away.
    fn away(card: Option<String>, member: Option<Member>, verdict: &Verdict) -> ScanResult {
        let (code, reason) = verdict.turned_away().expect("a turn-away");
        turned_away(card, member, code, reason)
    }

    #[test]
    fn offline_turn_away_names_the_rule() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let expired = member(NaiveDate::from_ymd_opt(2026, 10, 31), None);
        let verdict = frontdesk_desk::offline::judge(Some(&expired), today);
        let result = away(Some("D0001".into()), Some(expired), &verdict);
        assert_eq!(result.status, ScanStatus::Rejected);
        assert_eq!(result.code, Some(RejectionCode::MembershipExpired));
        assert!(result.message.contains("31 Oct 2026"), "{}", result.message);
        assert!(result.op_id.is_none(), "nothing is queued without an override");

        let frozen = member(None, NaiveDate::from_ymd_opt(2026, 11, 1));
        let verdict = frontdesk_desk::offline::judge(Some(&frozen), today);
        assert_eq!(away(None, Some(frozen), &verdict).code, Some(RejectionCode::MembershipFrozen));

        let verdict = frontdesk_desk::offline::judge(None, today);
        let result = away(Some("X1".into()), None, &verdict);
        assert_eq!(result.status, ScanStatus::Unknown);
        assert!(result.overridable);
    }

    #[test]
    fn queued_words_depend_on_connection_and_override() {
        let e = entry();
        assert!(queued(&e, None, false, false).message.contains("when the link is back"));
        assert!(queued(&e, None, true, false).message.contains("answer is on its way"));
        assert!(queued(&e, None, false, true).message.contains("override"));
        for (online, overridden) in [(false, false), (true, false), (false, true)] {
            let words = queued(&e, None, online, overridden).message.to_lowercase();
            assert!(!words.contains("queue") && !words.contains("outbox"), "staff words only: {words}");
        }
        assert_eq!(queued(&e, None, false, false).status, ScanStatus::Queued);
    }
}
