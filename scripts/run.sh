#!/usr/bin/env bash
# Runs the product on this machine: the server on its embedded SQLite store with the
# demo data, listening on 127.0.0.1:8080 (override with FRONTDESK_LISTEN).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

prepare

step "build the server (release)"
cargo build --locked --release -p frontdesk-server
listen="${FRONTDESK_LISTEN:-127.0.0.1:8080}"
step "starting frontdesk-server on $listen with demo data in ./data (Ctrl-C stops it)"
exec "$CARGO_TARGET_DIR/release/frontdesk-server" --demo --data-dir ./data --listen "$listen"
