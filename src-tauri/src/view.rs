//! What the webview sees: the types of every command's arguments and answers and of the
//! one event stream. They are the only definitions; `ui/src/bindings.ts` is generated
//! from them (see `ipc.rs`), so Rust and TypeScript cannot drift apart.

use chrono::{DateTime, Utc};
use frontdesk_desk::{ConnectionState, Counts, DeskError, EntryState, ErrorCode, GymChoice, Provisional, Status};
use frontdesk_protocol::api::{DeskPresence, UserInfo};
use frontdesk_protocol::{Event, Member, RejectionCode, Role, Stats, Visit};
use serde::{Deserialize, Serialize};
use specta::Type;

/// A failure as the person at the desk reads it: a stable code for the UI's logic and a
/// sentence saying what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct UiError {
    pub code: ErrorCode,
    pub message: String,
    /// `choose_location` only: the gyms to choose from at sign-in.
    #[serde(default)]
    pub gyms: Vec<GymChoice>,
}

impl UiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), gyms: Vec::new() }
    }
}

impl From<DeskError> for UiError {
    fn from(e: DeskError) -> Self {
        Self::new(e.code, e.message)
    }
}

/// The configuration the app runs with, for the sign-in screen and the details panel.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct AppInfo {
    pub version: String,
    /// The server address from the configuration (prefilled at sign-in).
    pub server: Option<String>,
    pub desk_id: Option<String>,
    pub location_id: Option<String>,
    pub data_dir: Option<String>,
    /// The files the configuration is read from, user file first.
    pub config_files: Vec<String>,
    /// Why the configuration cannot be used, in words IT can act on.
    pub config_error: Option<String>,
}

impl SessionInfo {
    /// What the desk knows of its sign-in.
    pub fn of(desk: &frontdesk_desk::Desk) -> Self {
        let signed_in = desk.has_sign_in().unwrap_or(false);
        Self {
            signed_in,
            user: if signed_in { desk.user() } else { None },
            server: Some(desk.config().server.clone()),
            location_id: Some(desk.config().location_id.clone()),
        }
    }
}

/// Who is signed in at this desk, if anyone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct SessionInfo {
    /// A sign-in is kept in the keychain (the desk connects without asking).
    pub signed_in: bool,
    pub user: Option<UserInfo>,
    /// The server and location the desk works with, once known.
    pub server: Option<String>,
    pub location_id: Option<String>,
}

/// How the result panel shows a scan. The names are the `data-status` values of docs/app.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ScanStatus {
    /// The server accepted it.
    Accepted,
    /// Kept in the outbox; let in provisionally on the desk's own judgement.
    Queued,
    /// The server, or offline the desk's member list, turned it away.
    Rejected,
    /// Offline and the card is not in the desk's member list: unverified.
    Unknown,
}

/// Check-in or check-out: the desk library's own type, shown as it is.
pub use frontdesk_desk::ScanAction;

/// The result panel's content for one scan, first as the desk judged it, then as the
/// server answered (a [`DeskUpdate::Settled`] with the same `op_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct ScanResult {
    /// The outbox entry's id; `None` when nothing was queued (turned away offline).
    pub op_id: Option<String>,
    pub action: ScanAction,
    pub status: ScanStatus,
    /// The card scanned, if any.
    pub card: Option<String>,
    /// The member as the server or the desk's cache knows them.
    pub member: Option<Member>,
    /// Name from the server's answer when the cache does not know the member.
    pub member_name: Option<String>,
    /// The rejection code (the server's, or the desk's own for a cached expired/frozen).
    pub code: Option<RejectionCode>,
    /// The headline in words: "Welcome", "Membership expired on 2026-10-31", ….
    pub message: String,
    /// Staff may let the member in anyway, with a reason.
    pub overridable: bool,
    /// The desk's own judgement, not yet confirmed by the server.
    pub provisional: bool,
    /// The visit as the server recorded it.
    pub visit: Option<Visit>,
    /// Milliseconds from the scan reaching the desk to this result.
    pub elapsed_ms: u32,
    /// The same card read again within a few seconds: this is the earlier scan, shown
    /// again; nothing new was saved.
    pub repeated: bool,
}

/// What to check in: a card (scanned or typed) or a member picked from a search.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct CheckInRequest {
    pub card: Option<String>,
    pub member_id: Option<String>,
    /// "Let in anyway": the reason staff give for overriding a rejection.
    pub override_reason: Option<String>,
}

/// Whom to check out: a card, a member, or a visit from the history.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct CheckOutRequest {
    pub card: Option<String>,
    pub member_id: Option<String>,
    pub visit_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct SearchResult {
    pub members: Vec<Member>,
    /// The server could not answer: these come from the desk's cached member list.
    pub from_cache: bool,
}

/// One outbox entry as the outbox panel lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct OutboxEntry {
    pub op_id: String,
    pub action: ScanAction,
    pub card: Option<String>,
    pub member_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub state: EntryState,
    /// The desk's own verdict when it was saved.
    pub provisional: Option<Provisional>,
    /// Saved while the desk was not live (sent later, marked `queued`).
    pub offline: bool,
    /// Staff let the member in anyway, for this reason.
    pub override_reason: Option<String>,
    /// The server's answer in words, once it came.
    pub answer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct ErrorRecord {
    pub at: DateTime<Utc>,
    pub code: String,
    pub message: String,
}

/// Everything the front-desk screen shows, in one read (at start and after a resync).
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct Snapshot {
    pub status: Status,
    pub counts: Counts,
    /// Waiting entries first, then the latest answered ones.
    pub outbox: Vec<OutboxEntry>,
    pub stats: Option<Stats>,
    /// When the server last gave `stats` (the screen says "as of" when not live).
    pub stats_at: Option<DateTime<Utc>>,
    /// The latest server events, newest first.
    pub feed: Vec<Event>,
    pub recent_errors: Vec<ErrorRecord>,
    pub server: String,
    pub desk_id: String,
    pub location_id: String,
    #[specta(type = u32)]
    pub last_seq: i64,
    #[specta(type = Option<u32>)]
    pub rtt_ms: Option<i64>,
    pub roster_synced_at: Option<DateTime<Utc>>,
    #[specta(type = u32)]
    pub roster_size: i64,
}

/// The manager view: the location's desks and today's visits.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct ManagerOverview {
    pub desks: Vec<DeskPresence>,
    /// Why the desks list is missing (e.g. an older server without the extension).
    pub desks_error: Option<String>,
    /// Today's visits, newest first; those with `needs_review` await a decision.
    pub visits: Vec<Visit>,
}

/// A new member added at the desk (a walk-in); their home gym is this desk's gym.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct NewMemberRequest {
    pub name: String,
    pub card: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Last day of the membership, inclusive, as `YYYY-MM-DD`.
    pub valid_until: String,
}

/// A new staff account (admin screen). The password is sent once and never shown again.
#[derive(Clone, Serialize, Deserialize, Type)]
pub struct StaffUserRequest {
    pub username: String,
    pub name: String,
    pub role: Role,
    /// Ids of the gyms the user works at.
    pub locations: Vec<String>,
    pub password: String,
}

/// A change to a staff account: the fields given change.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct StaffUserPatch {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub locations: Option<Vec<String>>,
}

/// The one stream of changes from the desk to the webview, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type, tauri_specta::Event)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeskUpdate {
    /// The connection changed (banner).
    Status { status: Status },
    /// The outbox changed (count and list).
    Outbox { counts: Counts },
    /// The server answered an outbox entry: the final word on that scan.
    Settled { result: ScanResult },
    /// A server event (feed), each once, in seq order.
    ServerEvent { event: Event },
    /// New stats (from an event or a reload).
    Stats { stats: Stats },
    /// Something went wrong that the details panel lists.
    Error { error: ErrorRecord },
    /// The desk missed more than the server keeps: reload the snapshot.
    Resync,
    /// The sign-in ended or began (the UI shows sign-in or the desk).
    Session { session: SessionInfo },
}

pub fn is_live(status: &Status) -> bool {
    status.state == ConnectionState::Live
}
