# Shared set-up for scripts/run.sh, scripts/test.sh, scripts/package.sh and scripts/verify-packages.sh.

# One target dir shared by every checkout on this machine: a fresh clone (as CI makes)
# then rebuilds only what changed instead of every dependency.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/frontdesk/target}"

# Debian packages the build and the tests need: a C compiler (SQLite and ring are
# compiled in), libdbus for the keychain (Secret Service); for the desktop app WebKitGTK
# and its build libraries; for the tests a real session bus and gnome-keyring to hold
# the desk's refresh token, Xvfb and WebKitWebDriver to drive the app, and mingw-w64
# to keep the Windows build honest.
SYSTEM_PACKAGES=(build-essential pkg-config libdbus-1-dev dbus dbus-x11 gnome-keyring libsecret-tools mingw-w64
  libwebkit2gtk-4.1-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
  xvfb xauth webkit2gtk-driver)

# What every script needs before it builds: a toolchain, the system packages, and the
# shared target dir exported for cargo.
prepare() {
  ensure_toolchain
  ensure_system_packages
  ensure_node
  export CARGO_TARGET_DIR
}

step() { printf '\n==> %s\n' "$*" >&2; }

ensure_toolchain() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not installed. Install Rust with rustup (https://rustup.rs), then run this again." >&2
    exit 1
  fi
  if ! cargo fmt --version >/dev/null 2>&1; then
    step "installing rustfmt"
    rustup component add rustfmt
  fi
}

# Most front desks run Windows: the desk library and agent must keep cross-building.
WINDOWS_TARGET=x86_64-pc-windows-gnu
ensure_windows_target() {
  rustup target list --installed | grep -qx "$WINDOWS_TARGET" || rustup target add "$WINDOWS_TARGET"
}

ensure_system_packages() { ensure_packages "${SYSTEM_PACKAGES[@]}"; }

# What scripts/package.sh and scripts/verify-packages.sh need beyond the build: makensis
# for the Windows installer, osslsigncode for Authenticode, rpm (rpmbuild, rpmsign,
# rpmkeys), gnupg for the OpenPGP signatures, apt-utils (apt-ftparchive) for the APT
# repository, dpkg-dev (dpkg-shlibdeps) for the .debs' dependencies, openssl for the
# throwaway signing certificate, p7zip-full to look inside the installer, curl to probe
# the packaged server.
PACKAGING_PACKAGES=(nsis osslsigncode rpm gnupg apt-utils dpkg-dev openssl p7zip-full curl)
ensure_packaging_packages() { ensure_packages "${PACKAGING_PACKAGES[@]}"; }

# Installs with apt-get whichever of the given Debian packages is missing; a first
# argument --no-install-recommends is passed on to apt-get.
ensure_packages() {
  local missing=() flags=()
  if [ "${1:-}" = --no-install-recommends ]; then flags+=("$1"); shift; fi
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Missing system packages: ${missing[*]}. Install them with your package manager." >&2
    exit 1
  fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  step "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq ${flags[@]+"${flags[@]}"} "${missing[@]}"
}

# Runs a command inside a private D-Bus session with an unlocked gnome-keyring, so the
# desk's refresh token goes to a real Secret Service. The keyring lives in a throwaway
# HOME; cargo and rustup keep theirs.
with_keychain() {
  export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
  local keyring_home
  keyring_home="$(mktemp -d)"
  # The newline unlocks the new keyring with an empty password; without it the daemon
  # starts but stores nothing.
  HOME="$keyring_home" dbus-run-session -- sh -c 'printf "\n" | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"' sh "$@"
  local status=$?
  # The app's webview may have started the document portal, which mounts a FUSE file
  # system under the throwaway HOME; unmount it before removing the folder.
  if [ -d "$keyring_home/.cache/doc" ]; then
    fusermount -uz "$keyring_home/.cache/doc" 2>/dev/null || umount -l "$keyring_home/.cache/doc" 2>/dev/null || true
  fi
  rm -rf "$keyring_home" 2>/dev/null || echo "note: could not remove the test keyring folder $keyring_home" >&2
  return $status
}

# The webview UI is built with the machine's Node.js and npm (Vite needs Node 20+).
ensure_node() {
  if ! command -v npm >/dev/null 2>&1; then
    step "installing Node.js and npm"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -lt 20 ]; then
    echo "Node.js $(node --version) is too old to build the UI; install Node.js 20 or newer, then run this again." >&2
    exit 1
  fi
}

# Installs the UI's packages exactly as locked (only when the lock changed) and builds
# ui/dist, which the app binary embeds; the Rust build must come after this.
build_ui() {
  local stamp=ui/node_modules/.frontdesk-lock
  if [ ! -f "$stamp" ] || ! cmp -s ui/package-lock.json "$stamp"; then
    step "installing the UI's packages (npm ci)"
    (cd ui && npm ci --no-audit --no-fund)
    cp ui/package-lock.json "$stamp"
  fi
  step "building the UI (ui/dist)"
  # Built beside ui/dist and moved in only when it differs: the app's build script reruns
  # whenever ui/dist's files are touched, and recompiling the app (minutes in release,
  # for Linux and Windows) for a byte-identical UI is waste.
  local fresh
  fresh="$(mktemp -d)"
  (cd ui && npm run --silent build -- --outDir "$fresh" --emptyOutDir)
  if [ -d ui/dist ] && diff -r -q "$fresh" ui/dist >/dev/null 2>&1; then
    rm -rf "$fresh"
  else
    rm -rf ui/dist
    cp -r "$fresh" ui/dist
    rm -rf "$fresh"
  fi
}

# tauri-driver puts WebDriver in front of the app for the end-to-end tests.
# The fuzz targets (fuzz/) build with cargo-fuzz on the nightly toolchain (libFuzzer
# needs its unstable sanitizer flags). Without a nightly toolchain the short fuzz runs are
# skipped with a note; the rest of the tests do not need it.
FUZZ_SECONDS="${FRONTDESK_FUZZ_SECONDS:-20}"
have_nightly() { rustup toolchain list 2>/dev/null | grep -q '^nightly'; }
ensure_cargo_fuzz() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    step "installing cargo-fuzz"
    cargo install --locked cargo-fuzz --version "^0.13"
  fi
}

# Each fuzz target for FUZZ_SECONDS from the seeds in fuzz/seeds/<target> (the corpus it
# grows stays in the shared cache, so later runs start where earlier ones stopped). A
# crash fails the run and leaves its input in fuzz/artifacts/<target>/.
run_fuzz_targets() {
  if ! have_nightly; then
    echo "note: no nightly Rust toolchain here, so the fuzz targets are not run (rustup toolchain install nightly)"
    return 0
  fi
  ensure_cargo_fuzz
  local corpus_root="${FRONTDESK_CACHE:-$HOME/.cache/frontdesk}/fuzz-corpus"
  for target in ws_frame http_command agent_line config_file; do
    step "fuzz $target (${FUZZ_SECONDS}s)"
    mkdir -p "$corpus_root/$target"
    (cd fuzz && CARGO_TARGET_DIR="${FRONTDESK_CACHE:-$HOME/.cache/frontdesk}/fuzz-target" \
      cargo +nightly fuzz run --sanitizer none "$target" "$corpus_root/$target" "seeds/$target" -- \
      -max_total_time="$FUZZ_SECONDS" -max_len=8192 -print_final_stats=1 2>&1 | tail -n 30)
  done
}

# schemathesis (PyPI) checks the real server against docs/openapi.json in the tests; it
# lives in a virtual environment in the shared cache, so the system Python stays as it is.
SCHEMATHESIS_VERSION=4.32.5
ensure_schemathesis() {
  local venv="${FRONTDESK_CACHE:-$HOME/.cache/frontdesk}/venv"
  if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    step "installing schemathesis $SCHEMATHESIS_VERSION (PyPI)"
    if ! python3 -m venv --clear "$venv" >/dev/null 2>&1; then
      ensure_packages python3 python3-venv
      python3 -m venv --clear "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
  export FRONTDESK_SCHEMATHESIS="$venv/bin/schemathesis"
}

ensure_tauri_driver() {
  if [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ] && ! command -v tauri-driver >/dev/null 2>&1; then
    step "installing tauri-driver"
    cargo install --locked tauri-driver --version "^2"
  fi
}
