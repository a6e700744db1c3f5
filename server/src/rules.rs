//! The business rules for letting a member in, as pure functions of facts the store
//! gathers inside its transaction. Storage-independent, so SQLite and PostgreSQL judge
//! alike, and testable without a database.

use chrono::{DateTime, Duration, Utc};
use frontdesk_protocol::words::written_date;
use frontdesk_protocol::{Location, Member, MemberStatus, Override, RejectionCode};

/// What the store knows at the moment of judging a check-in.
pub struct CheckInFacts<'a> {
    pub location: &'a Location,
    pub member: Option<&'a Member>,
    /// When the member was at the desk (the command's `occurred_at`).
    pub occurred_at: DateTime<Utc>,
    /// The command waited in an offline outbox.
    pub queued: bool,
    /// A queued command older than the server's bound (`queued_max_age`): too old to
    /// judge by the rules of its own time without a person looking at it.
    pub stale: bool,
    /// The member already has an open visit at this location (checked in at).
    pub open_visit_since: Option<DateTime<Utc>>,
    /// The member's most recent check-out at this location.
    pub last_checkout_at: Option<DateTime<Utc>>,
    /// Open visits at the location at `occurred_at`.
    pub occupancy_at: i64,
    pub override_: Option<&'a Override>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept {
        needs_review: bool,
        /// Rules set aside by a staff override, first one first.
        overridden: Vec<RejectionCode>,
    },
    Reject {
        code: RejectionCode,
        message: String,
    },
}

pub fn judge_check_in(f: &CheckInFacts<'_>) -> Verdict {
    let Some(member) = f.member else {
        // A queued scan of a card the server does not know: the member was physically let
        // in by an offline desk. Never drop it; a manager decides.
        if f.queued {
            return Verdict::Accept { needs_review: true, overridden: vec![] };
        }
        return reject(
            RejectionCode::MemberNotFound,
            "No member has this card. Check the card, or search for the member by name or phone.".into(),
        );
    };
    if f.stale {
        // Accepted, never silently: a manager keeps or voids it.
        return Verdict::Accept { needs_review: true, overridden: vec![] };
    }
    if f.queued && member.created_at > f.occurred_at {
        // The member did not exist yet at the scan time, so the rules of that moment
        // cannot be applied.
        return Verdict::Accept { needs_review: true, overridden: vec![] };
    }
    if let Some(since) = f.open_visit_since {
        return reject(
            RejectionCode::AlreadyCheckedIn,
            format!(
                "{} is already checked in (since {}).",
                member.name,
                crate::store::gym_clock(&f.location.time_zone, since)
            ),
        );
    }

    // Memberships run to a day at the gym, not a UTC day.
    let day = crate::store::local_day(&f.location.time_zone, f.occurred_at);
    let mut failures: Vec<(RejectionCode, String)> = Vec::new();
    match member.status_on(day) {
        MemberStatus::Active => {}
        MemberStatus::Expired => failures.push((
            RejectionCode::MembershipExpired,
            match member.valid_until {
                Some(until) => format!("Membership expired on {}.", written_date(until)),
                None => "Membership has expired.".into(),
            },
        )),
        MemberStatus::Frozen => failures.push((
            RejectionCode::MembershipFrozen,
            match member.frozen_until {
                Some(until) => format!("Membership is frozen until {}.", written_date(until)),
                None => "Membership is frozen.".into(),
            },
        )),
    }
    if !f.location.admits_other_gyms
        && let Some(home) = member.home_location_id.as_deref()
        && home != f.location.id
    {
        failures.push((
            RejectionCode::HomeGymOnly,
            format!(
                "{}'s home gym is another one ({home}), and {} admits only its own members.",
                member.name, f.location.name
            ),
        ));
    }
    if f.location.reentry_window_minutes > 0
        && let Some(out) = f.last_checkout_at
    {
        let window = Duration::minutes(f.location.reentry_window_minutes);
        if f.occurred_at >= out && f.occurred_at - out < window {
            failures.push((
                RejectionCode::RecentCheckIn,
                format!(
                    "{} checked out at {} UTC; re-entry is allowed after {} minutes.",
                    member.name,
                    out.format("%H:%M"),
                    f.location.reentry_window_minutes
                ),
            ));
        }
    }
    if f.occupancy_at >= f.location.capacity {
        failures.push((
            RejectionCode::CapacityReached,
            format!("{} is full ({} of {} places taken).", f.location.name, f.occupancy_at, f.location.capacity),
        ));
    }

    match (failures.is_empty(), f.override_) {
        (true, _) => Verdict::Accept { needs_review: false, overridden: vec![] },
        (false, Some(_)) => {
            Verdict::Accept { needs_review: false, overridden: failures.into_iter().map(|(code, _)| code).collect() }
        }
        (false, None) => {
            let (code, message) = failures.swap_remove(0);
            reject(code, message)
        }
    }
}

fn reject(code: RejectionCode, message: String) -> Verdict {
    Verdict::Reject { code, message }
}

/// The recorded check-out time: when the member left, never before they came in.
pub fn checkout_time(checked_in_at: DateTime<Utc>, occurred_at: DateTime<Utc>) -> DateTime<Utc> {
    occurred_at.max(checked_in_at)
}

pub fn stay_minutes(checked_in_at: DateTime<Utc>, checked_out_at: DateTime<Utc>) -> i64 {
    (checked_out_at - checked_in_at).num_minutes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn location() -> Location {
        Location { capacity: 2, ..Location::new("demo", "Demo Gym") }
    }

    fn member(valid_until: &str) -> Member {
        Member {
            id: "m1".into(),
            name: "Ann Lee".into(),
            card: "D0001".into(),
            phone: None,
            status: MemberStatus::Active,
            valid_until: Some(valid_until.parse::<NaiveDate>().unwrap()),
            frozen_from: None,
            frozen_until: None,
            created_at: "2026-01-01T00:00:00Z".parse().unwrap(),
            ..Default::default()
        }
    }

    fn facts<'a>(loc: &'a Location, m: Option<&'a Member>, at: &str) -> CheckInFacts<'a> {
        CheckInFacts {
            location: loc,
            member: m,
            occurred_at: at.parse().unwrap(),
            queued: false,
            stale: false,
            open_visit_since: None,
            last_checkout_at: None,
            occupancy_at: 0,
            override_: None,
        }
    }

    fn code(v: Verdict) -> Option<RejectionCode> {
        match v {
            Verdict::Reject { code, .. } => Some(code),
            Verdict::Accept { .. } => None,
        }
    }

    #[test]
    fn a_stale_queued_scan_of_an_expired_member_goes_to_review_not_in_silently() {
        let loc = location();
        let m = member("2026-01-31");
        let mut f = facts(&loc, Some(&m), "2026-01-15T10:00:00Z");
        f.queued = true;
        // Judged by the rules of its own time, the member was active then.
        assert_eq!(judge_check_in(&f), Verdict::Accept { needs_review: false, overridden: vec![] });
        // Too old to take on trust: a manager looks at it.
        f.stale = true;
        assert_eq!(judge_check_in(&f), Verdict::Accept { needs_review: true, overridden: vec![] });
    }

    #[test]
    fn a_gym_for_its_own_members_turns_away_other_gyms_members_overridably() {
        let mut loc = location();
        loc.admits_other_gyms = false;
        let mut m = member("2027-01-01");
        m.home_location_id = Some("north".into());
        let f = facts(&loc, Some(&m), "2026-11-22T10:00:00Z");
        assert!(matches!(judge_check_in(&f), Verdict::Reject { code: RejectionCode::HomeGymOnly, .. }));
        m.home_location_id = Some(loc.id.clone());
        assert!(matches!(judge_check_in(&facts(&loc, Some(&m), "2026-11-22T10:00:00Z")), Verdict::Accept { .. }));
        m.home_location_id = None;
        assert!(matches!(judge_check_in(&facts(&loc, Some(&m), "2026-11-22T10:00:00Z")), Verdict::Accept { .. }));
        loc.admits_other_gyms = true;
        m.home_location_id = Some("north".into());
        assert!(matches!(judge_check_in(&facts(&loc, Some(&m), "2026-11-22T10:00:00Z")), Verdict::Accept { .. }));
    }

    #[test]
    fn active_member_is_accepted() {
        let (l, m) = (location(), member("2027-01-01"));
        assert_eq!(
            judge_check_in(&facts(&l, Some(&m), "2026-11-22T10:00:00Z")),
            Verdict::Accept { needs_review: false, overridden: vec![] }
        );
    }

    #[test]
    fn queued_scan_is_judged_at_occurred_at() {
        let (l, m) = (location(), member("2026-10-31"));
        // Valid on the day of the scan, expired today: accepted.
        let mut f = facts(&l, Some(&m), "2026-10-31T20:00:00Z");
        f.queued = true;
        assert_eq!(code(judge_check_in(&f)), None);
        let f = facts(&l, Some(&m), "2026-11-01T08:00:00Z");
        assert_eq!(code(judge_check_in(&f)), Some(RejectionCode::MembershipExpired));
    }

    #[test]
    fn unknown_member_online_is_rejected_but_queued_is_kept_for_review() {
        let l = location();
        let f = facts(&l, None, "2026-11-22T10:00:00Z");
        assert_eq!(code(judge_check_in(&f)), Some(RejectionCode::MemberNotFound));
        let mut f = facts(&l, None, "2026-11-22T10:00:00Z");
        f.queued = true;
        assert_eq!(judge_check_in(&f), Verdict::Accept { needs_review: true, overridden: vec![] });
    }

    #[test]
    fn member_created_after_a_queued_scan_needs_review() {
        let (l, m) = (location(), member("2027-01-01"));
        let mut f = facts(&l, Some(&m), "2025-12-31T10:00:00Z");
        f.queued = true;
        assert_eq!(judge_check_in(&f), Verdict::Accept { needs_review: true, overridden: vec![] });
    }

    #[test]
    fn capacity_reentry_and_open_visit() {
        let (mut l, m) = (location(), member("2027-01-01"));
        let mut f = facts(&l, Some(&m), "2026-11-22T10:00:00Z");
        f.occupancy_at = 2;
        assert_eq!(code(judge_check_in(&f)), Some(RejectionCode::CapacityReached));

        l.reentry_window_minutes = 30;
        let mut f = facts(&l, Some(&m), "2026-11-22T10:00:00Z");
        f.last_checkout_at = Some("2026-11-22T09:45:00Z".parse().unwrap());
        assert_eq!(code(judge_check_in(&f)), Some(RejectionCode::RecentCheckIn));
        f.last_checkout_at = Some("2026-11-22T09:30:00Z".parse().unwrap());
        assert_eq!(code(judge_check_in(&f)), None);

        let mut f = facts(&l, Some(&m), "2026-11-22T10:00:00Z");
        f.open_visit_since = Some("2026-11-22T09:00:00Z".parse().unwrap());
        assert_eq!(code(judge_check_in(&f)), Some(RejectionCode::AlreadyCheckedIn));
    }

    #[test]
    fn override_sets_aside_every_overridable_failure_but_not_the_others() {
        let (l, m) = (location(), member("2026-10-31"));
        let reason = Override { reason: "paid at desk".into() };
        let mut f = facts(&l, Some(&m), "2026-11-22T10:00:00Z");
        f.occupancy_at = 5;
        f.override_ = Some(&reason);
        assert_eq!(
            judge_check_in(&f),
            Verdict::Accept {
                needs_review: false,
                overridden: vec![RejectionCode::MembershipExpired, RejectionCode::CapacityReached],
            }
        );
        let mut f = facts(&l, None, "2026-11-22T10:00:00Z");
        f.override_ = Some(&reason);
        assert_eq!(code(judge_check_in(&f)), Some(RejectionCode::MemberNotFound));
    }
}
