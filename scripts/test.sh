#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what is missing, builds,
# then `cargo test` over the whole workspace. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

prepare

step "format check"
cargo fmt --all -- --check

step "build (workspace, all targets)"
cargo build --locked --workspace --all-targets

step "cross-build the desk library and agent for Windows"
ensure_windows_target
cargo build --locked --target "$WINDOWS_TARGET" -p frontdesk-desk -p frontdesk-agent

# The tests run the real binaries; point them at the ones just built instead of having
# each test program ask cargo again.
export FRONTDESK_SERVER_BIN="$CARGO_TARGET_DIR/debug/frontdesk-server"
export FRONTDESK_AGENT_BIN="$CARGO_TARGET_DIR/debug/frontdesk-agent"

step "tests (with a real keychain)"
with_keychain cargo test --locked --workspace -- --color never
