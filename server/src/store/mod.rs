//! The storage seam. Session and HTTP code talk to [`Store`] only; the backend is chosen
//! once from the database URL. SQLite is the embedded default; a PostgreSQL backend for
//! the scale-out deployment implements the same trait and runs the same tests.

mod migrations;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use frontdesk_protocol::api::{AuditEntry, MemberCard, MemberPatch, UserSummary};
use frontdesk_protocol::ws::{Ack, Command};
use frontdesk_protocol::{Event, Location, Member, ReviewDecision, Role, Stats, Visit};

use crate::auth::Actor;

pub use sqlite::{SqliteSettings, SqliteStore};

/// Where a backend's writer hands the events it committed, in commit order (the hub).
pub type Publisher = Arc<dyn Fn(&[Event]) + Send + Sync>;

/// How long a queued command may have waited and still be judged by the rules of its
/// own time without a manager's review (issue 10: never silently).
pub const DEFAULT_QUEUED_MAX_AGE: chrono::Duration = chrono::Duration::days(7);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database did not answer in time")]
    Timeout,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Writer(#[from] rusqlite::Error),
    /// The batch this change was part of did not commit: nothing of it is stored.
    #[error("not stored: {0}")]
    NotCommitted(String),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A user as stored, with the password hash. Never serialised.
#[derive(Clone)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub disabled: bool,
    pub locations: Vec<String>,
}

impl UserRecord {
    pub fn summary(&self) -> UserSummary {
        UserSummary {
            id: self.id.clone(),
            username: self.username.clone(),
            name: self.name.clone(),
            role: self.role,
            locations: self.locations.clone(),
            disabled: self.disabled,
        }
    }
}

pub struct NewRefreshToken<'a> {
    pub digest: &'a str,
    pub family_id: &'a str,
    pub user_id: &'a str,
    pub device_name: Option<&'a str>,
    pub expires_at: DateTime<Utc>,
}

/// The token that replaces a spent one (same family, user and device).
#[derive(Debug, Clone, Copy)]
pub struct Successor<'a> {
    pub digest: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// The answer to presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// Valid and now spent; issue the next one in `family_id`.
    Valid {
        user_id: String,
        family_id: String,
        device_name: Option<String>,
    },
    /// Seen before: theft suspected, the whole family is now revoked (its live sessions
    /// must end too).
    Reused {
        family_id: String,
    },
    Unknown,
    Expired,
    Revoked,
}

/// The outcome of a state-changing command, from either transport.
#[derive(Debug, Clone)]
pub struct Applied {
    /// `duplicate` is set when the op_id had been applied before.
    pub ack: Ack,
    /// The event the change produced (none for rejections and duplicates).
    pub event: Option<Event>,
}

#[derive(Debug, Clone)]
pub enum ReviewOutcome {
    Done { visit: Visit, event: Event },
    NotFound,
    NotPending,
}

/// A page of the member roster for `/members/sync`.
pub struct RosterPage {
    pub members: Vec<Member>,
    pub version: i64,
    pub complete: bool,
}

/// A change to one member (extension `members`). Every edit moves the roster cursor,
/// is audited, and is announced to every location with a `member_updated` event.
#[derive(Debug, Clone)]
pub enum MemberEdit {
    Contact(MemberPatch),
    Card { card: String, reason: Option<String> },
    Renew { valid_until: NaiveDate },
    Freeze { from: NaiveDate, until: Option<NaiveDate>, reason: Option<String> },
    Unfreeze,
}

/// The answer to creating or editing a member.
#[derive(Debug, Clone)]
pub enum MemberWrite {
    Done {
        member: Member,
        events: Vec<Event>,
    },
    NotFound,
    /// The card belongs to another member, named here so staff can sort it out.
    CardInUse {
        member_name: String,
    },
    ExternalIdInUse {
        member_name: String,
    },
}

/// One valid row of a member CSV import (see `crate::import`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// Line in the file, for error messages (the header is line 1).
    pub line: u64,
    pub card: String,
    pub name: String,
    pub valid_until: NaiveDate,
    /// `None`: the file has no such column, so the stored value is kept.
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub external_id: Option<String>,
    pub frozen: Option<bool>,
}

/// A row the store refuses, with what to fix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Clone, Default)]
pub struct ImportOutcome {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Non-empty: nothing was imported.
    pub errors: Vec<RowError>,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Copy)]
pub struct VisitQuery<'a> {
    pub location_id: &'a str,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub open_only: bool,
    pub needs_review_only: bool,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip for `/readyz`.
    async fn ping(&self) -> Result<()>;
    /// Finishes the writes already accepted, then closes.
    async fn close(&self);
    /// Where the command path's committed events go, in commit order. Set once at start;
    /// without it (the command line) events are stored and not published.
    fn set_publisher(&self, publisher: Publisher);

    // --- seeding and administration
    async fn upsert_location(&self, location: &Location) -> Result<()>;
    /// Inserts the user unless the username exists. Returns whether it was inserted.
    async fn insert_user_if_absent(&self, user: &UserRecord) -> Result<bool>;
    async fn insert_member_if_absent(&self, member: &Member) -> Result<bool>;
    async fn location(&self, id: &str) -> Result<Option<Location>>;
    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>>;
    async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>>;
    async fn users(&self) -> Result<Vec<UserRecord>>;
    /// Sets the flag, revokes refresh tokens when disabling, audits. False if no such user.
    async fn set_user_disabled(&self, user_id: &str, disabled: bool, by: &Actor, now: DateTime<Utc>) -> Result<bool>;

    // --- setting a gym up (extension `admin`); every change is audited
    async fn locations(&self) -> Result<Vec<Location>>;
    /// False if a location with this id exists.
    async fn create_location(&self, location: &Location, by: &Actor, now: DateTime<Utc>) -> Result<bool>;
    /// False if there is no such location.
    async fn update_location(&self, location: &Location, by: &Actor, now: DateTime<Utc>) -> Result<bool>;
    async fn user_count(&self) -> Result<i64>;
    /// False if the username is taken.
    async fn create_user(&self, user: &UserRecord, by: &Actor, now: DateTime<Utc>) -> Result<bool>;
    /// Replaces name, role and locations. False if there is no such user.
    async fn update_user(&self, user: &UserRecord, by: &Actor, now: DateTime<Utc>) -> Result<bool>;
    /// Sets a new password hash and revokes the user's refresh tokens. False if no such user.
    async fn set_password(&self, user_id: &str, password_hash: &str, by: &Actor, now: DateTime<Utc>) -> Result<bool>;
    async fn create_member(&self, member: &Member, by: &Actor, now: DateTime<Utc>) -> Result<MemberWrite>;
    async fn edit_member(
        &self,
        member_id: &str,
        edit: &MemberEdit,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<MemberWrite>;
    /// The cards a member has held, newest first.
    async fn member_cards(&self, member_id: &str) -> Result<Vec<MemberCard>>;
    /// Imports all rows in one transaction, or none when any row is refused (or on a dry run).
    async fn import_members(
        &self,
        location_id: &str,
        rows: &[ImportRow],
        dry_run: bool,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ImportOutcome>;
    /// Writes a consistent copy of the whole store to `path` while writers go on.
    async fn backup_to(&self, path: &std::path::Path) -> Result<()>;

    // --- what other processes wrote (the command line, other instances)
    /// Every location's last seq.
    async fn location_seqs(&self) -> Result<Vec<(String, i64)>>;
    async fn disabled_user_ids(&self) -> Result<Vec<String>>;

    // --- refresh tokens
    async fn insert_refresh_token(&self, token: NewRefreshToken<'_>) -> Result<()>;
    /// Spends a token and stores its `successor` in the same family, in one transaction:
    /// a token is spent at most once, a second use revokes its family, and no successor
    /// is ever stored into a family already revoked (nor when the token is not valid).
    async fn rotate_refresh_token(
        &self,
        digest: &str,
        successor: Successor<'_>,
        now: DateTime<Utc>,
    ) -> Result<RefreshUse>;
    /// Revokes the family of the token presented; answers the family, if the token was known.
    async fn revoke_refresh_family_of(&self, digest: &str, now: DateTime<Utc>) -> Result<Option<String>>;

    // --- members
    async fn search_members(&self, query: &str, limit: i64) -> Result<Vec<Member>>;
    async fn member(&self, id: &str) -> Result<Option<Member>>;
    async fn roster_after(&self, version: i64, limit: i64) -> Result<RosterPage>;

    // --- commands, the one path for HTTP and WebSocket
    async fn apply(&self, command: &Command, actor: &Actor, now: DateTime<Utc>) -> Result<Applied>;
    async fn review(
        &self,
        visit_id: &str,
        decision: ReviewDecision,
        note: Option<&str>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ReviewOutcome>;
    /// Closes visits open longer than their location's maximum stay; returns the events.
    async fn close_overdue_visits(&self, now: DateTime<Utc>) -> Result<Vec<Event>>;

    // --- reads
    async fn visit(&self, id: &str) -> Result<Option<Visit>>;
    async fn visits(&self, query: VisitQuery<'_>) -> Result<Vec<Visit>>;
    async fn stats(&self, location_id: &str, now: DateTime<Utc>) -> Result<Stats>;
    async fn last_seq(&self, location_id: &str) -> Result<i64>;
    /// Lowest seq still retained, if any event is.
    async fn first_retained_seq(&self, location_id: &str) -> Result<Option<i64>>;
    /// Events with `after < seq <= up_to`, in order, at most `limit`.
    async fn events_between(&self, location_id: &str, after: i64, up_to: i64, limit: i64) -> Result<Vec<Event>>;
    async fn audit(&self, location_id: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<AuditEntry>>;
}

/// Opens the store the URL names, creating and migrating it as needed.
/// `event_retention` is how many events per location are kept for resume.
pub async fn open(url: &str, event_retention: i64) -> anyhow::Result<Arc<dyn Store>> {
    open_with(url, SqliteSettings { event_retention, queued_max_age: DEFAULT_QUEUED_MAX_AGE }).await
}

/// [`open`] with every setting of the command path.
pub async fn open_with(url: &str, settings: SqliteSettings) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::open(url, settings).await?));
    }
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        anyhow::bail!(
            "PostgreSQL support is not in this build yet. Start the server without \
             --database-url to use the embedded SQLite store."
        );
    }
    anyhow::bail!("The database URL {url:?} is not supported: use sqlite://<path> (the default).")
}

/// The gym's calendar day at `t`, in its IANA time zone (UTC when the name is unknown).
pub fn local_day(time_zone: &str, t: DateTime<Utc>) -> NaiveDate {
    match time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => t.with_timezone(&tz).date_naive(),
        Err(_) => t.date_naive(),
    }
}

/// A wall-clock time at the gym ("14:02"), in its IANA time zone; "14:02 UTC" when the
/// name is not one this server knows, so a time is never shown in the wrong zone unsaid.
pub fn gym_clock(time_zone: &str, t: DateTime<Utc>) -> String {
    match time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => t.with_timezone(&tz).format("%H:%M").to_string(),
        Err(_) => format!("{} UTC", t.format("%H:%M")),
    }
}

/// Start and end (exclusive) of the calendar day `day` at a gym in `time_zone`: local
/// midnight to the next local midnight, so a day across a daylight-saving change is 23 or
/// 25 hours long. Where midnight does not exist (a zone that skips it), the day starts at
/// the first local time that does. An unknown zone name is UTC.
pub fn gym_day_bounds(time_zone: &str, day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let Ok(tz) = time_zone.parse::<chrono_tz::Tz>() else {
        return day_bounds(day.and_hms_opt(12, 0, 0).expect("noon exists").and_utc());
    };
    let start_of = |d: NaiveDate| -> DateTime<Utc> {
        use chrono::TimeZone;
        let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists");
        (0..=180)
            .step_by(15)
            .find_map(|minutes| tz.from_local_datetime(&(midnight + chrono::Duration::minutes(minutes))).earliest())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| midnight.and_utc())
    };
    let next = day.succ_opt().unwrap_or(day);
    (start_of(day), start_of(next))
}

/// The gym's day bounds of the day containing `t`.
pub fn gym_today_bounds(time_zone: &str, t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    gym_day_bounds(time_zone, local_day(time_zone, t))
}

/// Start and end of the UTC day containing `t`.
pub fn day_bounds(t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = t.date_naive().and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    (start, start + chrono::Duration::days(1))
}

pub fn parse_date(s: Option<String>) -> Option<NaiveDate> {
    s.and_then(|d| d.parse().ok())
}

#[cfg(test)]
mod day_tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_gyms_day_runs_from_its_own_midnight_across_daylight_saving_changes() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        // An ordinary summer day in London: 23:00 UTC to 23:00 UTC.
        assert_eq!(
            gym_day_bounds("Europe/London", day("2026-07-01")),
            (at("2026-06-30T23:00:00Z"), at("2026-07-01T23:00:00Z"))
        );
        // Clocks go forward on 29 Mar 2026: a 23-hour day.
        let (s, e) = gym_day_bounds("Europe/London", day("2026-03-29"));
        assert_eq!((s, e), (at("2026-03-29T00:00:00Z"), at("2026-03-29T23:00:00Z")));
        // And back on 25 Oct 2026: 25 hours.
        let (s, e) = gym_day_bounds("Europe/London", day("2026-10-25"));
        assert_eq!(e - s, chrono::Duration::hours(25));
        // 00:30 UTC on 1 Jul is still 30 Jun in New York.
        let (s, _) = gym_today_bounds("America/New_York", at("2026-07-01T00:30:00Z"));
        assert_eq!(s, at("2026-06-30T04:00:00Z"));
        // Unknown zone: the UTC day.
        assert_eq!(gym_day_bounds("Nowhere/Else", day("2026-07-01")).0, at("2026-07-01T00:00:00Z"));
    }
}
