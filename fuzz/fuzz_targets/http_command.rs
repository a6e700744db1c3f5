//! A `POST /check-ins` or `/check-outs` body, read as the handler reads it (JSON, the
//! op_id from `Idempotency-Key`, the fields, the checks serde cannot make). The first
//! byte picks the endpoint and whether the body's own `op_id` may disagree.
#![no_main]

use libfuzzer_sys::fuzz_target;

const KEY: &str = "6f1c2a8e-3b7d-4e55-9a10-0c6a9d2b7f11";

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let kind = if pick & 1 == 0 { "check_in" } else { "check_out" };
    match frontdesk_server::http::command_from_bytes(kind, KEY, body) {
        // Whatever was accepted carries the header's op_id and passes validation again.
        Ok(command) => {
            assert_eq!(command.op_id().to_string(), KEY);
            assert!(frontdesk_server::service::validate(&command).is_ok());
        }
        Err(message) => assert!(!message.is_empty(), "a refusal always says why"),
    }
});
