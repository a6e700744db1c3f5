//! HTTP bodies under `/api/v1`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ErrorCode, Event, Member, ReviewDecision, Role, Visit};

/// Every error answer: a machine-readable code and a sentence a receptionist can read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    /// On a business rejection (422): may staff override it?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridable: Option<bool>,
    /// On a repeated op_id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<bool>,
    /// On 426: the protocols this server speaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported: Option<Vec<String>>,
    /// On 429/503: the same hint as the `Retry-After` header, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// On 410 `resync_required` (extension): the location's current last seq, from
    /// which a desk continues after reloading its view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<i64>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code: code.as_str().to_owned(),
            message: message.into(),
            overridable: None,
            duplicate: None,
            supported: None,
            retry_after_ms: None,
            last_seq: None,
        }
    }
}

/// A sign-in. Its `Debug` hides the password (a logged request must never carry it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// Shown to IT among a user's signed-in devices.
    #[serde(default)]
    pub device_name: Option<String>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("device_name", &self.device_name)
            .finish()
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshRequest { refresh_token: <redacted> }")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UserInfo {
    pub id: String,
    pub username: String,
    pub name: String,
    pub role: Role,
    /// Ids of the locations the user works for.
    pub locations: Vec<String>,
}

/// Answer to login and refresh. Its `Debug` hides both tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user: UserInfo,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("user", &self.user)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberSyncPage {
    pub members: Vec<Member>,
    /// Opaque; pass back as `after` for the next page or the next delta.
    pub cursor: String,
    /// No more changes after this page, for now.
    pub complete: bool,
}

/// `201 {check_in}` or `200 {check_in, duplicate:true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommandAccepted {
    pub check_in: Visit,
    #[serde(default)]
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventsPage {
    /// Each element is the same object as the `event` WebSocket frame.
    pub events: Vec<EventEnvelope>,
    pub last_seq: i64,
}

/// An event with its `"type":"event"` tag, so HTTP and WebSocket carry the same object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventEnvelope {
    Event(Event),
}

impl EventEnvelope {
    pub fn into_event(self) -> Event {
        match self {
            Self::Event(e) => e,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewRequest {
    pub decision: ReviewDecision,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// Username of the staff member who acted.
    pub user: String,
    #[serde(default)]
    pub desk_id: Option<String>,
    /// `override`, `review_keep`, `review_void`, `user_disabled`, `user_enabled`.
    pub action: String,
    /// The member concerned, by id, where there is one.
    #[serde(default)]
    pub member: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    /// The rule overridden, for `override`.
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub check_in_id: Option<String>,
    pub location_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct UserSummary {
    pub id: String,
    pub username: String,
    pub name: String,
    pub role: Role,
    pub locations: Vec<String>,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    /// The server's version (extension; absent from v1 servers), shown by `doctor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Health {
    pub fn new(status: &str) -> Self {
        Self { status: status.into(), version: None }
    }
}

/// Extension `presence`: one desk of a location as a manager sees it
/// (`GET /desks?location=…`, manager and admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DeskPresence {
    pub desk_id: String,
    /// A WebSocket session is open, or the desk reported over HTTP within the last 90 s.
    pub online: bool,
    /// `websocket` or `http` while online.
    #[serde(default)]
    pub transport: Option<String>,
    /// Entries waiting in the desk's outbox as it last reported; absent for desks that
    /// do not report (v1 desks).
    #[serde(default)]
    pub queued: Option<u32>,
    /// The staff member signed in at the desk, as last seen.
    #[serde(default)]
    pub user_name: Option<String>,
    /// When the server last heard from the desk (absent: only known from today's visits).
    #[serde(default)]
    pub last_seen_at: Option<DateTime<Utc>>,
}

// ---------------------------------------------------------------- extension `admin`
// The calls a manager's and an admin's screens need (docs/protocol.md, "Extension
// `admin`: setting a gym up"). v1 desks never send them.

/// `POST /locations` (admin). Omitted settings take [`crate::Location::new`]'s defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NewLocation {
    pub id: String,
    pub name: String,
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub capacity: Option<i64>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub max_stay_minutes: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub reentry_window_minutes: Option<i64>,
    #[serde(default)]
    pub admits_other_gyms: Option<bool>,
}

/// `PATCH /locations/{id}` (admin, or a manager of that location): the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct LocationPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub capacity: Option<i64>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub max_stay_minutes: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub reentry_window_minutes: Option<i64>,
    #[serde(default)]
    pub admits_other_gyms: Option<bool>,
}

/// `POST /users` (manager: front-desk staff and managers of their own locations;
/// admin: anyone). Its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewUser {
    pub username: String,
    pub name: String,
    pub role: Role,
    pub locations: Vec<String>,
    pub password: String,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("locations", &self.locations)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `PATCH /users/{id}`: the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub locations: Option<Vec<String>>,
}

/// `POST /users/{id}/password`: a new password set by a manager or admin. The user's
/// signed-in devices are signed out. Its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordReset {
    pub password: String,
}

impl std::fmt::Debug for PasswordReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordReset { password: <redacted> }")
    }
}

/// `POST /members` (any staff of the home location): a new member, e.g. a walk-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NewMember {
    pub name: String,
    pub card: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    /// Last day of the membership, inclusive.
    pub valid_until: chrono::NaiveDate,
    pub home_location_id: String,
}

/// `PATCH /members/{id}` (any staff of the home location): contact details. A field
/// given as `""` is cleared (not `name`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MemberPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// `POST /members/{id}/card` (any staff of the home location): a replacement card. The
/// old card is kept in the member's card history and no longer admits anyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CardReplacement {
    pub card: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /members/{id}/renew` (manager): the membership now runs until `valid_until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Renewal {
    pub valid_until: chrono::NaiveDate,
}

/// `POST /members/{id}/freeze` (manager): frozen from `from` (default today) until
/// `until` inclusive (absent: until unfrozen).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Freeze {
    #[serde(default)]
    pub from: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub until: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// One card a member has held (`GET /members/{id}/cards`), newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MemberCard {
    pub card: String,
    pub assigned_at: DateTime<Utc>,
    /// When it was replaced; `None` for the current card.
    #[serde(default)]
    pub retired_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Answer to a review decision: the visit as it stands now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewDone {
    pub check_in: crate::Visit,
}
