//! WebSocket frames. Text frames, one JSON object each, discriminated by `type`.
//!
//! The check-in and check-out commands are also the bodies of `POST /check-ins` and
//! `POST /check-outs`: one definition for both transports.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ErrorCode, Event, Override, RejectionCode, Stats, Visit};

/// How a command names the member: by card code or by member id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl MemberSelector {
    pub fn card(card: impl Into<String>) -> Self {
        Self { card: Some(card.into()), id: None }
    }

    pub fn id(id: impl Into<String>) -> Self {
        Self { card: None, id: Some(id.into()) }
    }

    /// Exactly one of `card` and `id`, non-empty; otherwise a sentence saying what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.card, &self.id) {
            (Some(c), None) if !c.trim().is_empty() => Ok(()),
            (None, Some(i)) if !i.trim().is_empty() => Ok(()),
            (Some(_), Some(_)) => Err("`member` must have either `card` or `id`, not both.".into()),
            _ => Err("`member` needs a non-empty `card` or `id`.".into()),
        }
    }
}

/// A member scanned in. `op_id` is created once at the scan and kept across every retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckInCommand {
    pub op_id: Uuid,
    pub location_id: String,
    pub desk_id: String,
    pub member: MemberSelector,
    /// When the member was actually at the desk; the server records it as the visit time.
    pub occurred_at: DateTime<Utc>,
    /// The command waited in the desk's offline outbox.
    #[serde(default)]
    pub queued: bool,
    /// Staff user signed in at the scan (may differ from the delivering session's user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_by: Option<String>,
    /// Let in despite an overridable rejection.
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_: Option<Override>,
}

/// A member leaving: names the visit, or the member whose open visit it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckOutCommand {
    pub op_id: Uuid,
    pub location_id: String,
    pub desk_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_in_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberSelector>,
    pub occurred_at: DateTime<Utc>,
    #[serde(default)]
    pub queued: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanned_by: Option<String>,
}

/// A state-changing command, whichever transport carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    CheckIn(CheckInCommand),
    CheckOut(CheckOutCommand),
}

impl Command {
    pub fn op_id(&self) -> Uuid {
        match self {
            Self::CheckIn(c) => c.op_id,
            Self::CheckOut(c) => c.op_id,
        }
    }

    pub fn location_id(&self) -> &str {
        match self {
            Self::CheckIn(c) => &c.location_id,
            Self::CheckOut(c) => &c.location_id,
        }
    }
}

/// Frames a desk sends. Its `Debug` hides the token of a `reauth`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    CheckIn(CheckInCommand),
    CheckOut(CheckOutCommand),
    Reauth {
        token: String,
    },
    Ping {
        t: i64,
    },
    /// Extension `presence`: sent only to a server whose hello lists it.
    Presence(PresenceReport),
}

impl std::fmt::Debug for ClientFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CheckIn(c) => f.debug_tuple("CheckIn").field(c).finish(),
            Self::CheckOut(c) => f.debug_tuple("CheckOut").field(c).finish(),
            Self::Reauth { .. } => f.write_str("Reauth { token: <redacted> }"),
            Self::Ping { t } => f.debug_struct("Ping").field("t", t).finish(),
            Self::Presence(p) => f.debug_tuple("Presence").field(p).finish(),
        }
    }
}

/// The frame types this server understands, for telling "unknown type" from "malformed".
pub const CLIENT_FRAME_TYPES: &[&str] = &["check_in", "check_out", "reauth", "ping", "presence"];

/// Extensions beyond v1 a server may list in `hello.extensions`. A desk uses one only
/// when the server lists it, so new desks keep working with v1 servers; v1 desks never
/// send them, so they keep working with this server.
pub const EXTENSION_PRESENCE: &str = "presence";

/// Extension `presence`: which desk this is and how many entries wait in its outbox.
/// Over WebSocket as `{"type":"presence",…}` on change; over HTTP as the body of
/// `POST /desks/presence` while the desk is in HTTP fallback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresenceReport {
    pub location_id: String,
    pub desk_id: String,
    /// Outbox entries not yet acknowledged.
    pub queued: u32,
}

/// How a resume request was answered in `hello`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ResumeStatus {
    None,
    Replayed,
    ResyncRequired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resume {
    pub status: ResumeStatus,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hello {
    pub protocol: u32,
    pub session_id: String,
    pub server_time: DateTime<Utc>,
    pub heartbeat_ms: u64,
    pub location_id: String,
    pub last_seq: i64,
    pub resume: Resume,
    pub stats: Stats,
    /// Extensions beyond v1 this server speaks (e.g. [`EXTENSION_PRESENCE`]); absent
    /// from a v1 server's hello.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum AckStatus {
    Accepted,
    Rejected,
}

/// The one answer to a state-changing command. A repeated op_id gets the same answer
/// with `duplicate: true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Ack {
    pub op_id: Uuid,
    pub status: AckStatus,
    #[serde(default)]
    pub duplicate: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_in: Option<Visit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<RejectionCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridable: Option<bool>,
}

impl Ack {
    pub fn accepted(op_id: Uuid, visit: Visit) -> Self {
        Self {
            op_id,
            status: AckStatus::Accepted,
            duplicate: false,
            check_in: Some(visit),
            code: None,
            message: None,
            overridable: None,
        }
    }

    pub fn rejected(op_id: Uuid, code: RejectionCode, message: impl Into<String>) -> Self {
        Self {
            op_id,
            status: AckStatus::Rejected,
            duplicate: false,
            check_in: None,
            code: Some(code),
            message: Some(message.into()),
            overridable: Some(code.overridable()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorFrame {
    pub code: ErrorCode,
    pub message: String,
}

/// Frames the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Hello(Hello),
    Ack(Ack),
    Event(Event),
    Pong { t: i64 },
    Reauthed { expires_at: DateTime<Utc> },
    Error(ErrorFrame),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_through_debug() {
        let reauth = ClientFrame::Reauth { token: "eyJ.secret.token".into() };
        assert!(!format!("{reauth:?}").contains("secret"), "{reauth:?}");
        let login =
            crate::api::LoginRequest { username: "ann".into(), password: "hunter2-password".into(), device_name: None };
        let shown = format!("{login:?}");
        assert!(shown.contains("ann") && !shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn check_in_frame_matches_the_contract_example() {
        let json = r#"{"type":"check_in","op_id":"6f1c2a8e-3b7d-4e55-9a10-0c6a9d2b7f11","location_id":"demo",
            "desk_id":"front-1","member":{"card":"0012345"},"occurred_at":"2026-11-22T09:58:12Z",
            "queued":false,"scanned_by":"u1","future_field":1}"#;
        let frame: ClientFrame = serde_json::from_str(json).unwrap();
        let ClientFrame::CheckIn(cmd) = frame else { panic!("not a check_in") };
        assert_eq!(cmd.member, MemberSelector::card("0012345"));
        assert_eq!(cmd.desk_id, "front-1");
        assert!(cmd.override_.is_none());
    }

    #[test]
    fn override_travels_under_its_wire_name() {
        let json = r#"{"type":"check_in","op_id":"6f1c2a8e-3b7d-4e55-9a10-0c6a9d2b7f11","location_id":"demo",
            "desk_id":"d","member":{"id":"m"},"occurred_at":"2026-11-22T09:58:12Z",
            "override":{"reason":"paid at desk"}}"#;
        let ClientFrame::CheckIn(cmd) = serde_json::from_str(json).unwrap() else { panic!() };
        assert_eq!(cmd.override_.unwrap().reason, "paid at desk");
    }

    #[test]
    fn rejection_ack_carries_overridable() {
        let ack = Ack::rejected(Uuid::nil(), RejectionCode::MembershipExpired, "expired");
        let v = serde_json::to_value(ServerFrame::Ack(ack)).unwrap();
        assert_eq!(v["type"], "ack");
        assert_eq!(v["status"], "rejected");
        assert_eq!(v["code"], "membership_expired");
        assert_eq!(v["overridable"], true);
    }

    #[test]
    fn selector_needs_exactly_one_key() {
        assert!(MemberSelector::card("D0001").validate().is_ok());
        assert!(MemberSelector::default().validate().is_err());
        assert!(MemberSelector { card: Some("a".into()), id: Some("b".into()) }.validate().is_err());
        assert!(MemberSelector::card("  ").validate().is_err());
    }
}
