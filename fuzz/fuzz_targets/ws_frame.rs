//! A desk's WebSocket text frame, decoded as the session decodes it, and a command that
//! decodes validated as the server validates it. Nothing may panic; every input is a
//! frame, a malformed frame, an unknown type or a command answered by its op_id.
#![no_main]

use frontdesk_protocol::ws::{ClientFrame, Command};
use frontdesk_server::ws::decode::{Decoded, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // WebSocket text frames are UTF-8 by the protocol (tungstenite checks it first).
    let Ok(text) = std::str::from_utf8(data) else { return };
    let decoded = decode(text);
    let _ = decoded.label();
    let command = match decoded {
        Decoded::Frame(ClientFrame::CheckIn(c)) => Command::CheckIn(c),
        Decoded::Frame(ClientFrame::CheckOut(c)) => Command::CheckOut(c),
        _ => return,
    };
    let _ = frontdesk_server::service::validate(&command);
});
