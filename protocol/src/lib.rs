//! The Frontdesk wire contract, v1 (docs/protocol.md), compiled once.
//!
//! Every type that crosses between a desk and the server lives here, and both sides
//! serialise with these definitions; the webview's TypeScript is generated from them.
//! The system this replaces kept the contract in two languages and they drifted.
//!
//! Modules:
//! - [`model`]: the nouns (members, visits, stats, events) shared by HTTP and WebSocket.
//! - [`api`]: HTTP request and response bodies under `/api/v1`.
//! - [`ws`]: WebSocket frames, both directions.
//! - [`codes`]: error and rejection codes, WebSocket close codes and the close reason.

pub mod api;
pub mod codes;
pub mod model;
pub mod words;
pub mod ws;

pub use codes::{CloseCode, CloseReason, ErrorCode, RejectionCode};
pub use model::*;

/// The only WebSocket subprotocol v1 servers speak and v1 desks offer.
pub const SUBPROTOCOL_V1: &str = "frontdesk.v1";
/// The protocol number in the `hello` frame.
pub const PROTOCOL_VERSION: u32 = 1;
/// Path prefix of the HTTP API.
pub const API_PREFIX: &str = "/api/v1";
/// Header that carries the op_id of an HTTP command.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// How long a command may wait for its ack before the desk treats the session as dead.
pub const ACK_TIMEOUT_MS: u64 = 10_000;
