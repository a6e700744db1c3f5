#!/usr/bin/env bash
# Runs `frontdesk-bench` (release) inside a private D-Bus session with gnome-keyring, as
# scripts/test.sh does for the tests: the desk figures start the real agent, which keeps
# its refresh token in the OS keychain. Arguments go to the bench, e.g.
#   ./scripts/bench.sh desk
#   ./scripts/bench.sh app      (the desktop app: builds it, runs it on Xvfb when no display)
#   ./scripts/bench.sh server --sessions 1000,10000 --desks 50 --checkins 5000 --fanout 1000
# See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

prepare

bench=(cargo run --release --locked -p frontdesk-tests --bin frontdesk-bench -- "$@")
if [ "${1:-}" = "app" ]; then
  build_ui
  cargo build --locked --release -p frontdesk-app
  ensure_tauri_driver
  export FRONTDESK_APP_BIN="$CARGO_TARGET_DIR/release/frontdesk"
  if [ -z "${DISPLAY:-}" ]; then
    bench=(xvfb-run -a -s "-screen 0 1400x900x24" "${bench[@]}")
  fi
fi
with_keychain "${bench[@]}"
