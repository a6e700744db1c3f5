//! A desk's text frame as the session reads it, apart from the session: JSON, a `type`
//! this server knows, the frame's own fields. Pure, so the fuzzer runs it on anything.

use frontdesk_protocol::ws::{CLIENT_FRAME_TYPES, ClientFrame};
use serde_json::Value;

use crate::http::extract::parse_json;

/// What a text frame turned out to be.
#[derive(Debug)]
pub enum Decoded {
    Frame(ClientFrame),
    /// Not a frame at all (bad JSON, no `type`, wrong fields): counts towards 1008.
    Malformed(String),
    /// A well-formed frame of a type this server does not speak: answered, not counted.
    Unknown(String),
    /// A `check_in`/`check_out` with a readable `op_id` but bad fields: answered with a
    /// rejected ack for that op_id (the desk waits for one), and counted as malformed.
    BadCommand {
        op_id: uuid::Uuid,
        message: String,
    },
}

impl Decoded {
    /// The `frontdesk_ws_frames_in` label (from a fixed set, whatever the desk sent).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Frame(ClientFrame::CheckIn(_)) => "check_in",
            Self::Frame(ClientFrame::CheckOut(_)) => "check_out",
            Self::Frame(ClientFrame::Reauth { .. }) => "reauth",
            Self::Frame(ClientFrame::Ping { .. }) => "ping",
            Self::Frame(ClientFrame::Presence(_)) => "presence",
            Self::BadCommand { .. } | Self::Malformed(_) => "malformed",
            Self::Unknown(_) => "unknown",
        }
    }
}

pub fn decode(text: &str) -> Decoded {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Decoded::Malformed(format!("The frame is not valid JSON ({e}).")),
    };
    let Some(kind) = value.get("type").and_then(Value::as_str).map(str::to_owned) else {
        return Decoded::Malformed("A frame must be a JSON object with a string `type`.".into());
    };
    if !CLIENT_FRAME_TYPES.contains(&kind.as_str()) {
        return Decoded::Unknown(kind);
    }
    let op_id = value.get("op_id").and_then(Value::as_str).and_then(|s| s.parse::<uuid::Uuid>().ok());
    // Parse into the frame's own struct (a tagged enum would lose the field path).
    let parsed = match kind.as_str() {
        "check_in" => parse_json(value).map(ClientFrame::CheckIn),
        "check_out" => parse_json(value).map(ClientFrame::CheckOut),
        "presence" => parse_json(value).map(ClientFrame::Presence),
        _ => parse_json(value),
    };
    match parsed {
        Ok(frame) => Decoded::Frame(frame),
        Err(message) => match (op_id, kind.as_str()) {
            (Some(op_id), "check_in" | "check_out") => Decoded::BadCommand { op_id, message },
            _ => Decoded::Malformed(message),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_frame_is_told_apart() {
        assert!(matches!(decode(r#"{"type":"ping","t":1}"#), Decoded::Frame(ClientFrame::Ping { t: 1 })));
        assert!(matches!(decode("not json"), Decoded::Malformed(_)));
        assert!(matches!(decode(r#"{"t":1}"#), Decoded::Malformed(_)));
        assert!(matches!(decode(r#"{"type":"teleport"}"#), Decoded::Unknown(k) if k == "teleport"));
        let bad = r#"{"type":"check_in","op_id":"6f1c2a8e-3b7d-4e55-9a10-0c6a9d2b7f11","member":7}"#;
        assert!(matches!(decode(bad), Decoded::BadCommand { .. }));
        assert_eq!(decode(r#"{"type":"ping","t":"x"}"#).label(), "malformed");
    }
}
