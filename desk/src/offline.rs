//! The desk's own verdict on a check-in, from its cached roster (docs/protocol.md, "The
//! outbox and offline work"): a member cached as active is let in (marked provisional),
//! expired or frozen is turned away with the reason, an unknown card is unverified. The
//! server's ack is the final word.

use chrono::NaiveDate;
use frontdesk_protocol::{Member, MemberStatus, RejectionCode};

use crate::outbox::Provisional;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub provisional: Provisional,
    /// Why, in words, when not accepted.
    pub reason: Option<String>,
    /// The code a turn-away carries (the same codes the server's rejections use).
    pub code: Option<RejectionCode>,
}

impl Verdict {
    /// The code and reason a turn-away shows, unless the member is let in.
    pub fn turned_away(&self) -> Option<(RejectionCode, &str)> {
        if self.provisional == Provisional::Accepted {
            return None;
        }
        let code = self.code.unwrap_or(RejectionCode::MemberNotFound);
        Some((code, self.reason.as_deref().unwrap_or("Not allowed in.")))
    }
}

/// The day at the gym, as this desk's computer has it: memberships run to a day at the
/// gym, and offline there is no server to ask. (The server judges again with its own
/// clock and the gym's time zone when the scan arrives.)
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

pub fn judge(member: Option<&Member>, today: NaiveDate) -> Verdict {
    let Some(member) = member else {
        return Verdict {
            provisional: Provisional::UnknownMember,
            reason: Some("This card is not in the desk's member list. Let in only with a manager's override.".into()),
            code: Some(RejectionCode::MemberNotFound),
        };
    };
    match member.status_on(today) {
        MemberStatus::Active => Verdict { provisional: Provisional::Accepted, reason: None, code: None },
        MemberStatus::Expired => Verdict {
            provisional: Provisional::RejectedLocally,
            reason: Some(match member.valid_until {
                Some(d) => format!("Membership expired on {}.", written(d)),
                None => "Membership has expired.".into(),
            }),
            code: Some(RejectionCode::MembershipExpired),
        },
        MemberStatus::Frozen => Verdict {
            provisional: Provisional::RejectedLocally,
            reason: Some(match member.frozen_until {
                Some(d) => format!("Membership is frozen until {}.", written(d)),
                None => "Membership is frozen.".into(),
            }),
            code: Some(RejectionCode::MembershipFrozen),
        },
    }
}

/// A date as staff write it: "28 Nov 2026" (one definition, shared with the server).
pub use frontdesk_protocol::words::written_date as written;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn member(valid_until: &str) -> Member {
        Member {
            id: "m".into(),
            name: "Ann".into(),
            card: "D1".into(),
            phone: None,
            status: MemberStatus::Active,
            valid_until: Some(valid_until.parse().unwrap()),
            frozen_from: None,
            frozen_until: None,
            created_at: Utc::now(),
            ..Default::default()
        }
    }

    #[test]
    fn policy_of_section_4() {
        let today: NaiveDate = "2026-11-22".parse().unwrap();
        assert_eq!(judge(Some(&member("2027-01-01")), today).provisional, Provisional::Accepted);
        let expired = judge(Some(&member("2026-11-01")), today);
        assert_eq!(expired.provisional, Provisional::RejectedLocally);
        assert!(expired.reason.unwrap().contains("1 Nov 2026"));
        assert_eq!(written("2026-11-28".parse().unwrap()), "28 Nov 2026");
        assert_eq!(judge(None, today).provisional, Provisional::UnknownMember);
    }
}
