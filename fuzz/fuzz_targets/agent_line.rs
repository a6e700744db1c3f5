//! A line on the agent's standard input (a card, a JSON command or control line), parsed
//! by the agent's own parser (the file itself, the agent being a binary).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../agent/src/input.rs"]
#[allow(dead_code)]
mod input;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    if let Err(message) = input::parse(line) {
        assert!(!message.is_empty(), "a refused line always says why");
    }
});
