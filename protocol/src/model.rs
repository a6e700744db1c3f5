//! The nouns of the contract, shared by HTTP bodies and WebSocket frames.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Staff roles. A user is bound to one or more locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    FrontDesk,
    Manager,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FrontDesk => "front_desk",
            Self::Manager => "manager",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "front_desk" => Some(Self::FrontDesk),
            "manager" => Some(Self::Manager),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// Managers and admins may review visits, read the audit log and manage users.
    pub fn is_manager(self) -> bool {
        matches!(self, Self::Manager | Self::Admin)
    }
}

/// Whether a member may enter, as of a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    #[default]
    Active,
    Expired,
    Frozen,
}

/// A gym member as the server knows them and the desk caches them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Member {
    pub id: String,
    pub name: String,
    pub card: String,
    #[serde(default)]
    pub phone: Option<String>,
    /// Status today (server's clock) — for display. Decisions use [`Member::status_on`].
    pub status: MemberStatus,
    /// Last day the membership is valid, inclusive. `None`: open-ended.
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
    /// A freeze (holiday, injury) from this day, inclusive …
    #[serde(default)]
    pub frozen_from: Option<NaiveDate>,
    /// … until this day, inclusive. `None` with `frozen_from` set: frozen until lifted.
    #[serde(default)]
    pub frozen_until: Option<NaiveDate>,
    /// When the member record was created. A queued check-in from before this moment
    /// cannot be judged and is accepted for review.
    pub created_at: DateTime<Utc>,
    /// Extension `members`: contact e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Extension `members`: the member's id in the gym's billing or membership system,
    /// by which CSV imports match rows to members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Extension `members`: the member's home gym. Another gym may admit only its own
    /// members (`Location::admits_other_gyms`). `None`: no home gym (admitted everywhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_location_id: Option<String>,
}

impl Member {
    /// The membership status on `day`. The server and the offline desk both judge with
    /// this one function, so an offline verdict matches the server's whenever the cache
    /// is current.
    pub fn status_on(&self, day: NaiveDate) -> MemberStatus {
        if let Some(from) = self.frozen_from
            && day >= from
            && self.frozen_until.is_none_or(|until| day <= until)
        {
            return MemberStatus::Frozen;
        }
        match self.valid_until {
            Some(until) if day > until => MemberStatus::Expired,
            _ => MemberStatus::Active,
        }
    }

    pub fn summary(&self, day: NaiveDate) -> MemberSummary {
        MemberSummary { id: self.id.clone(), name: self.name.clone(), status: self.status_on(day) }
    }
}

/// The member as shown in a visit or event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MemberSummary {
    pub id: String,
    pub name: String,
    pub status: MemberStatus,
}

/// Staff let a member in despite an overridable rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Override {
    pub reason: String,
}

/// The override as recorded on a visit: the reason and the rule it set aside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct OverrideRecord {
    pub reason: String,
    pub rule: crate::RejectionCode,
    pub by: String,
}

/// A manager's decision on a visit that needed review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Keep,
    Void,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ReviewRecord {
    pub decision: ReviewDecision,
    #[serde(default)]
    pub note: Option<String>,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// A visit: one check-in and, once the member leaves, its check-out.
/// Called `check_in` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Visit {
    pub id: String,
    pub location_id: String,
    /// `None` when the card was unknown (a queued check-in accepted for review).
    pub member: Option<MemberSummary>,
    /// The card code that was scanned, if the member was identified by card.
    #[serde(default)]
    pub card: Option<String>,
    pub desk_id: String,
    pub checked_in_at: DateTime<Utc>,
    #[serde(default)]
    pub checked_out_at: Option<DateTime<Utc>>,
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub stay_minutes: Option<i64>,
    /// The check-in waited in a desk's offline outbox.
    pub queued: bool,
    /// The server closed the visit after the location's maximum stay.
    #[serde(default)]
    pub auto: bool,
    #[serde(default, rename = "override")]
    pub override_: Option<OverrideRecord>,
    #[serde(default)]
    pub needs_review: bool,
    #[serde(default)]
    pub review: Option<ReviewRecord>,
    #[serde(default)]
    pub voided: bool,
    /// Staff user signed in when the member was scanned.
    #[serde(default)]
    pub scanned_by: Option<String>,
    /// Staff user whose session delivered the command (differs for a late queue).
    #[serde(default)]
    pub recorded_by: Option<String>,
}

impl Visit {
    pub fn is_open(&self) -> bool {
        self.checked_out_at.is_none() && !self.voided
    }
}

/// Live figures for a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Stats {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub occupancy: i64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub today_total: i64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub avg_stay_minutes: i64,
}

/// What an event reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    MemberCheckedIn,
    MemberCheckedOut,
    VisitReviewed,
    /// Extension `members`: a member was created or changed. With `member`, desks update
    /// their cached roster from it at once; without (a bulk import), they sync the roster.
    MemberUpdated,
    /// A kind this build does not know (sent by a newer server): kept, not fatal.
    #[serde(other)]
    Unknown,
}

/// A change at a location, numbered by `seq` (strictly increasing, gap-free per location).
/// The same object is a WebSocket frame (with `"type":"event"`) and an element of
/// `GET /events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Event {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub seq: i64,
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    pub location_id: String,
    #[serde(default)]
    pub check_in: Option<Visit>,
    #[serde(default)]
    pub stats: Option<Stats>,
    /// Set on a `member_checked_out` that the server made after the maximum stay.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto: bool,
    /// Set on events of a visit let in by a staff override.
    #[serde(default, rename = "override", skip_serializing_if = "std::ops::Not::not")]
    pub override_: bool,
    /// On `member_updated` (extension `members`): the member as now stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
}

/// A location (gym).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Location {
    pub id: String,
    pub name: String,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub capacity: i64,
    /// Minutes after a check-out during which the same member may not re-enter (0 = off).
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub reentry_window_minutes: i64,
    /// Visits open longer than this are closed by the server.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub max_stay_minutes: i64,
    /// IANA time zone name (`Europe/Berlin`) of the gym; `UTC` unless set.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Whether members whose home gym is another one may check in here. When false they
    /// are turned away with `home_gym_only` (overridable).
    #[serde(default = "default_true")]
    pub admits_other_gyms: bool,
}

fn default_time_zone() -> String {
    "UTC".into()
}

fn default_true() -> bool {
    true
}

impl Location {
    /// A location with the defaults of a new gym: capacity 100, 4 h maximum stay, no
    /// re-entry window, UTC, open to members of the chain's other gyms.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            capacity: 100,
            reentry_window_minutes: 0,
            max_stay_minutes: 240,
            time_zone: default_time_zone(),
            admits_other_gyms: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(valid_until: Option<&str>, frozen: Option<(&str, Option<&str>)>) -> Member {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        Member {
            id: "m".into(),
            name: "Ann".into(),
            card: "C1".into(),
            phone: None,
            status: MemberStatus::Active,
            valid_until: valid_until.map(d),
            frozen_from: frozen.map(|(f, _)| d(f)),
            frozen_until: frozen.and_then(|(_, u)| u.map(d)),
            created_at: Utc::now(),
            ..Default::default()
        }
    }

    #[test]
    fn status_follows_the_calendar() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let m = member(Some("2026-10-31"), None);
        assert_eq!(m.status_on(d("2026-10-31")), MemberStatus::Active);
        assert_eq!(m.status_on(d("2026-11-01")), MemberStatus::Expired);

        let f = member(Some("2027-01-01"), Some(("2026-11-10", Some("2026-11-20"))));
        assert_eq!(f.status_on(d("2026-11-09")), MemberStatus::Active);
        assert_eq!(f.status_on(d("2026-11-10")), MemberStatus::Frozen);
        assert_eq!(f.status_on(d("2026-11-20")), MemberStatus::Frozen);
        assert_eq!(f.status_on(d("2026-11-21")), MemberStatus::Active);

        let open_freeze = member(None, Some(("2026-11-10", None)));
        assert_eq!(open_freeze.status_on(d("2030-01-01")), MemberStatus::Frozen);
    }

    #[test]
    fn unknown_event_kinds_do_not_break_old_desks() {
        let k: EventKind = serde_json::from_str("\"desk_presence\"").unwrap();
        assert_eq!(k, EventKind::Unknown);
    }
}
