#!/usr/bin/env bash
# Runs the product on this machine: the server on its embedded SQLite store with the
# demo data (127.0.0.1:8080, override with FRONTDESK_LISTEN), and the desktop app as
# desk "front-1" of the demo gym against it. Closing the app stops the server.
# Sign in as frontdesk / frontdesk-demo (or manager / manager-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

prepare
build_ui
step "build the server and the app (release)"
# One package at a time: built together, cargo would unify their dependencies' features
# and rebuild what the bench and earlier runs already built separately.
cargo build --locked --release -p frontdesk-server
cargo build --locked --release -p frontdesk-app

listen="${FRONTDESK_LISTEN:-127.0.0.1:8080}"
mkdir -p data
step "starting frontdesk-server on $listen with demo data in ./data"
"$CARGO_TARGET_DIR/release/frontdesk-server" --demo --data-dir ./data --listen "$listen" > data/server.stdout &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true' EXIT
# The server prints one line once it listens.
for _ in $(seq 1 300); do
  [ -s data/server.stdout ] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "The server stopped before listening; see the messages above." >&2; exit 1; }
  sleep 0.1
done
cat data/server.stdout

export FRONTDESK_SERVER="${FRONTDESK_SERVER:-http://$listen}"
export FRONTDESK_DESK_ID="${FRONTDESK_DESK_ID:-front-1}"
export FRONTDESK_LOCATION="${FRONTDESK_LOCATION:-demo}"
export FRONTDESK_DATA_DIR="${FRONTDESK_DATA_DIR:-$PWD/data/desk-$FRONTDESK_DESK_ID}"
app=("$CARGO_TARGET_DIR/release/frontdesk")

# Without a desktop session (a server, a CI box) the app still runs: on a virtual
# display, with a throwaway keyring. On a normal desktop both are already there.
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  step "no desktop display found: running the app on a virtual X display (xvfb-run)"
  app=(xvfb-run -a -s "-screen 0 1400x900x24" "${app[@]}")
fi
step "opening the Frontdesk app (desk $FRONTDESK_DESK_ID, data in $FRONTDESK_DATA_DIR)"
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  with_keychain "${app[@]}"
else
  "${app[@]}"
fi
