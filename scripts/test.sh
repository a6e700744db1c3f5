#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what is missing, builds,
# then the UI's unit tests and `cargo test` over the whole workspace (which includes the
# app's end-to-end tests through WebDriver), a short run of each fuzz target, then builds
# the signed installers and verifies them. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

prepare

step "format check"
cargo fmt --all -- --check

build_ui
step "UI unit tests (vitest)"
(cd ui && npm test --silent)

step "build (workspace, all targets)"
cargo build --locked --workspace --all-targets

step "cross-build the desk library, agent and app for Windows"
ensure_windows_target
cargo build --locked --target "$WINDOWS_TARGET" -p frontdesk-desk -p frontdesk-agent -p frontdesk-app

ensure_tauri_driver
ensure_schemathesis

# The tests run the real binaries; point them at the ones just built instead of having
# each test program ask cargo again.
export FRONTDESK_SERVER_BIN="$CARGO_TARGET_DIR/debug/frontdesk-server"
export FRONTDESK_AGENT_BIN="$CARGO_TARGET_DIR/debug/frontdesk-agent"
export FRONTDESK_APP_BIN="$CARGO_TARGET_DIR/debug/frontdesk"

# Screenshots of the app's end-to-end steps land in test-artifacts/.
step "tests (real keychain, app on a virtual X display)"
with_keychain xvfb-run -a -s "-screen 0 1400x900x24" cargo test --locked --workspace -- --color never

# A short run of each fuzz target (frames, HTTP command bodies, agent lines, config files).
run_fuzz_targets

# The installers, built and checked as IT would (signatures, tampering, the server
# package's binary and scripts, the Windows installer under wine). Throwaway keys only:
# a test run never signs with release keys, and never touches dist/.
step "packages: build (scripts/package.sh) and verify (scripts/verify-packages.sh)"
env -u FRONTDESK_GPG_KEY -u FRONTDESK_CODESIGN_CERT -u FRONTDESK_CODESIGN_KEY \
  ./scripts/package.sh --out test-artifacts/dist
./scripts/verify-packages.sh test-artifacts/dist
