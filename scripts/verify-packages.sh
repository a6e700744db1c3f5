#!/usr/bin/env bash
# Checks a release made by scripts/package.sh the way IT would, and that tampering is
# caught: the OpenPGP signature of SHA256SUMS and the sums; the signed APT repository
# (apt-get update with signed-by=, in a private apt state); the RPM signature; the
# Authenticode signatures of the Windows installer and of the app inside it; the server
# .deb (contents, conffile, maintainer scripts run in a scratch root, the packaged
# binary started with the packaged config). Nothing on this machine is installed or
# changed: apt, rpm and gpg all work on temporary state.
#
#   scripts/verify-packages.sh [DIR]      (default: dist/)
#
# Every check prints "ok: …"; the first failure stops the script with "FAILED: …".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

dist="${1:-dist}"
[ -f "$dist/SHA256SUMS" ] || { echo "verify-packages.sh: no release in $dist; run scripts/package.sh first." >&2; exit 2; }
dist="$(cd "$dist" && pwd)"
ensure_packaging_packages

version="$(awk '
  /^\[/ { section = $0 }
  section == "[workspace.package]" && $1 == "version" { gsub(/[" ]/, "", $3); print $3; exit }
' Cargo.toml)"
deb_version="${version//-/\~}"
app_deb="$dist/frontdesk_${deb_version}_amd64.deb"
server_deb="$dist/frontdesk-server_${deb_version}_amd64.deb"
agent_deb="$dist/frontdesk-agent_${deb_version}_amd64.deb"
rpm_file="$dist/frontdesk-${deb_version}-1.x86_64.rpm"
setup="$dist/Frontdesk_${version}_x64-setup.exe"
keyring="$dist/frontdesk-archive-keyring.asc"

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -d "$tmp/gnupg" ] && GNUPGHOME="$tmp/gnupg" gpgconf --kill gpg-agent 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

ok() { printf 'ok: %s\n' "$*" >&2; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
# Runs a command that must fail; its output is kept in $tmp/last.log for the grep after.
must_fail() { if "$@" >"$tmp/last.log" 2>&1; then return 1; fi; }
# Flips the lowest bit of the byte at OFFSET in FILE (same size, one byte different).
flip_byte() {
  local file="$1" offset="$2" byte
  byte="$(od -An -tu1 -j"$offset" -N1 "$file" | tr -d ' ')"
  # shellcheck disable=SC2059 # the format is the octal escape of the new byte
  printf "$(printf '\\%03o' $((byte ^ 1)))" | dd of="$file" bs=1 seek="$offset" count=1 conv=notrunc status=none
}
middle() { echo $(($(stat -c %s "$1") / 2)); }

for f in "$app_deb" "$server_deb" "$agent_deb" "$rpm_file" "$setup" "$keyring" "$dist/codesign.crt" \
  "$dist/SHA256SUMS.asc" "$dist/apt/dists/stable/InRelease" "$dist/apt/dists/stable/Release" \
  "$dist/apt/dists/stable/Release.gpg"; do
  [ -s "$f" ] || fail "$f is missing from the release"
done
ok "every file of INSTALL.md is in $dist"

# --- SHA256SUMS ---------------------------------------------------------------------
step "SHA256SUMS: OpenPGP signature and sums"
export GNUPGHOME="$tmp/gnupg"
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --quiet --import "$keyring" 2>/dev/null
gpg --batch --verify "$dist/SHA256SUMS.asc" "$dist/SHA256SUMS" 2>"$tmp/gpg.log" || { cat "$tmp/gpg.log" >&2; fail "gpg --verify SHA256SUMS.asc"; }
grep -q "Good signature" "$tmp/gpg.log" || fail "gpg did not report a good signature"
ok "gpg --verify SHA256SUMS.asc SHA256SUMS: good signature"
cp "$dist/SHA256SUMS" "$tmp/SHA256SUMS"
flip_byte "$tmp/SHA256SUMS" 10
must_fail gpg --batch --verify "$dist/SHA256SUMS.asc" "$tmp/SHA256SUMS" || fail "a changed SHA256SUMS still verifies"
grep -q "BAD signature" "$tmp/last.log" || fail "gpg did not call the changed SHA256SUMS a bad signature"
ok "one byte changed in SHA256SUMS: BAD signature"
(cd "$dist" && sha256sum --quiet -c SHA256SUMS) || fail "sha256sum -c SHA256SUMS"
[ "$(wc -l <"$dist/SHA256SUMS")" -eq 5 ] || fail "SHA256SUMS should list the 5 installers"
ok "sha256sum -c SHA256SUMS: all 5 installers match"

# --- APT repository -----------------------------------------------------------------
step "APT repository: apt-get update with signed-by= in a private apt state"
# apt_state DIR REPO: an apt configuration in DIR that knows only REPO (signed by the
# release's key) and trusts no key of this machine.
apt_state() {
  local dir="$1" repo="$2"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/sources.list.d" "$dir/trusted.gpg.d" "$dir/preferences.d"
  : >"$dir/status"
  echo "deb [signed-by=$keyring] file:$repo stable main" >"$dir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$dir/sources.list" -o "Dir::Etc::SourceParts=$dir/sources.list.d"
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o "Dir::State::status=$dir/status"
    -o "Dir::Etc::Trusted=$dir/trusted.gpg" -o "Dir::Etc::TrustedParts=$dir/trusted.gpg.d"
    -o "Dir::Etc::Preferences=$dir/preferences" -o "Dir::Etc::PreferencesParts=$dir/preferences.d"
    -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
}
apt_state "$tmp/apt-good" "$dist/apt"
apt-get "${apt_opts[@]}" --error-on=any -q update >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; fail "apt-get update against $dist/apt"; }
for p in frontdesk frontdesk-server frontdesk-agent; do
  # (Output captured first: grep -q would stop reading early and, with pipefail, fail the pipe.)
  policy="$(apt-cache "${apt_opts[@]}" policy "$p")"
  grep -q "Candidate: $deb_version" <<<"$policy" || fail "apt does not offer $p $deb_version"
done
ok "apt-get update (signed-by=frontdesk-archive-keyring.asc): accepted; frontdesk, frontdesk-server, frontdesk-agent $deb_version offered"
(cd "$tmp" && apt-get "${apt_opts[@]}" -q download frontdesk-server >"$tmp/apt.log" 2>&1) || { cat "$tmp/apt.log" >&2; fail "apt-get download frontdesk-server"; }
cmp -s "$tmp/frontdesk-server_${deb_version}_amd64.deb" "$server_deb" || fail "apt downloaded another frontdesk-server than dist/ holds"
ok "apt-get download frontdesk-server: the hash chain InRelease -> Packages -> .deb holds"

cp -a "$dist/apt" "$tmp/apt-bad-release"
# One byte of the signed text (the Label line), Release and Release.gpg left intact.
sed -i '0,/^Label: Frontdesk$/s//Label: Frontdesl/' "$tmp/apt-bad-release/dists/stable/InRelease"
cmp -s "$tmp/apt-bad-release/dists/stable/InRelease" "$dist/apt/dists/stable/InRelease" && fail "the InRelease copy was not changed"
apt_state "$tmp/apt-bad" "$tmp/apt-bad-release"
must_fail apt-get "${apt_opts[@]}" --error-on=any -q update || fail "apt-get update accepted an InRelease with one byte changed"
grep -Eq "BADSIG|not signed|invalid" "$tmp/last.log" || { cat "$tmp/last.log" >&2; fail "apt refused the changed InRelease, but not for its signature"; }
compgen -G "$tmp/apt-bad/lists/*Packages*" >/dev/null && fail "apt kept the package list of a repository with a bad signature"
ok "one byte changed in InRelease: apt-get update refuses the repository (bad signature)"

cp -a "$dist/apt" "$tmp/apt-bad-deb"
bad_deb="$tmp/apt-bad-deb/pool/main/frontdesk-server_${deb_version}_amd64.deb"
flip_byte "$bad_deb" "$(middle "$bad_deb")"
apt_state "$tmp/apt-bad2" "$tmp/apt-bad-deb"
apt-get "${apt_opts[@]}" -q update >/dev/null 2>&1 || fail "apt-get update of the repository copy"
mkdir "$tmp/dl"
(cd "$tmp/dl" && must_fail apt-get "${apt_opts[@]}" -q download frontdesk-server) || fail "apt downloaded a changed .deb"
grep -Eqi "hash sum mismatch|hashes|size mismatch" "$tmp/last.log" || { cat "$tmp/last.log" >&2; fail "apt refused the changed .deb, but not for its hash"; }
ok "one byte changed in a .deb of the repository: apt refuses it (hash sum mismatch)"

# --- RPM ----------------------------------------------------------------------------
step "RPM: signature"
rpmkeys --dbpath "$tmp/rpmdb" --import "$keyring"
rpmkeys --dbpath "$tmp/rpmdb" -K "$rpm_file" >"$tmp/rpm.log" 2>&1 || { cat "$tmp/rpm.log" >&2; fail "rpmkeys -K $rpm_file"; }
grep -q "digests signatures OK" "$tmp/rpm.log" || { cat "$tmp/rpm.log" >&2; fail "rpmkeys -K did not say: digests signatures OK"; }
ok "rpmkeys --import frontdesk-archive-keyring.asc; rpmkeys -K: digests signatures OK"
cp "$rpm_file" "$tmp/bad.rpm"
flip_byte "$tmp/bad.rpm" "$(middle "$tmp/bad.rpm")"
must_fail rpmkeys --dbpath "$tmp/rpmdb" -K "$tmp/bad.rpm" || fail "rpmkeys -K accepted an .rpm with one byte changed"
ok "one byte changed in the .rpm: rpmkeys -K fails ($(head -c 120 "$tmp/last.log" | tr '\n' ' '))"
must_fail rpmkeys --dbpath "$tmp/rpmdb-empty" -K "$rpm_file" || fail "rpmkeys -K passed without the key imported"
ok "without the key imported: rpmkeys -K fails (NOKEY)"
rpm_files="$(rpm -qpl "$rpm_file" 2>/dev/null)"
for f in /usr/bin/frontdesk /usr/share/applications/frontdesk.desktop /usr/share/icons/hicolor/128x128/apps/frontdesk.png; do
  grep -qx "$f" <<<"$rpm_files" || fail "the .rpm lacks $f"
done
ok "the .rpm holds /usr/bin/frontdesk, the desktop entry and the icons"

# --- Windows ------------------------------------------------------------------------
step "Windows: Authenticode signatures"
ca="$dist/codesign.crt"
osslsigncode verify -CAfile "$ca" -in "$setup" >"$tmp/sig.log" 2>&1 || { cat "$tmp/sig.log" >&2; fail "osslsigncode verify $setup"; }
ok "osslsigncode verify -CAfile codesign.crt: the installer's signature is valid"
7z x -y -o"$tmp/setup" "$setup" >/dev/null || fail "7z x $setup"
[ -f "$tmp/setup/WebView2Loader.dll" ] || fail "the installer lacks WebView2Loader.dll"
osslsigncode verify -CAfile "$ca" -in "$tmp/setup/frontdesk.exe" >"$tmp/sig.log" 2>&1 || { cat "$tmp/sig.log" >&2; fail "osslsigncode verify of frontdesk.exe inside the installer"; }
ok "7z x: frontdesk.exe inside is signed (valid), WebView2Loader.dll beside it"
cp "$setup" "$tmp/bad-setup.exe"
flip_byte "$tmp/bad-setup.exe" "$(middle "$tmp/bad-setup.exe")"
must_fail osslsigncode verify -CAfile "$ca" -in "$tmp/bad-setup.exe" || fail "osslsigncode verify accepted an installer with one byte changed"
ok "one byte changed in the installer: osslsigncode verify fails"
cp "$tmp/setup/frontdesk.exe" "$tmp/bad-frontdesk.exe"
flip_byte "$tmp/bad-frontdesk.exe" "$(middle "$tmp/bad-frontdesk.exe")"
must_fail osslsigncode verify -CAfile "$ca" -in "$tmp/bad-frontdesk.exe" || fail "osslsigncode verify accepted an app .exe with one byte changed"
ok "one byte changed in frontdesk.exe: osslsigncode verify fails"

# --- Debian packages ----------------------------------------------------------------
step "server .deb: contents, conffile, maintainer scripts"
contents="$(dpkg-deb -c "$server_deb")"
for f in ./usr/bin/frontdesk-server ./lib/systemd/system/frontdesk-server.service ./etc/frontdesk/server.toml; do
  grep -q " $f\$" <<<"$contents" || fail "frontdesk-server.deb lacks $f"
done
[ "$(dpkg-deb -I "$server_deb" conffiles)" = "/etc/frontdesk/server.toml" ] || fail "server.toml is not the conffile"
for s in postinst prerm postrm; do dpkg-deb -I "$server_deb" "$s" >/dev/null || fail "frontdesk-server.deb has no $s"; done
grep -q adduser <<<"$(dpkg-deb -f "$server_deb" Depends)" || fail "frontdesk-server.deb does not depend on adduser"
ok "dpkg-deb -c/-I: binary, unit, conffile /etc/frontdesk/server.toml, postinst/prerm/postrm, Depends adduser"
grep -q " ./usr/bin/frontdesk\$" <<<"$(dpkg-deb -c "$app_deb")" || fail "frontdesk.deb lacks /usr/bin/frontdesk"
grep -q " ./usr/share/applications/frontdesk.desktop\$" <<<"$(dpkg-deb -c "$app_deb")" || fail "frontdesk.deb lacks the desktop entry"
grep -q "libwebkit2gtk-4.1" <<<"$(dpkg-deb -f "$app_deb" Depends)" || fail "frontdesk.deb does not depend on WebKitGTK"
grep -q " ./usr/bin/frontdesk-agent\$" <<<"$(dpkg-deb -c "$agent_deb")" || fail "frontdesk-agent.deb lacks /usr/bin/frontdesk-agent"
ok "frontdesk.deb (binary, desktop entry, WebKitGTK dependency) and frontdesk-agent.deb (binary)"

root="$tmp/server-root"
dpkg-deb -x "$server_deb" "$root"
dpkg-deb -e "$server_deb" "$root/DEBIAN"
unit="$root/lib/systemd/system/frontdesk-server.service"
for directive in "User=frontdesk" "ProtectSystem=strict" "NoNewPrivileges=yes" "StateDirectory=frontdesk" \
  "PrivateTmp=yes" "ProtectHome=yes" "KillSignal=SIGTERM" "Restart=always" "ExecReload=" \
  "ExecStart=/usr/bin/frontdesk-server --config /etc/frontdesk/server.toml"; do
  grep -q "^$directive" "$unit" || fail "the unit lacks $directive"
done
stop_timeout="$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s*$/\1/p' "$unit")"
[ "${stop_timeout:-0}" -gt 10 ] || fail "TimeoutStopSec must exceed the server's 10 s drain"
ok "unit: own user, hardened, SIGTERM drain with TimeoutStopSec=${stop_timeout}s, Restart=always, ExecReload"
if command -v systemd-analyze >/dev/null 2>&1; then
  # A copy whose ExecStart points into the unpacked package (verify checks the binary).
  mkdir -p "$tmp/unit"
  sed "s|/usr/bin/frontdesk-server|$root/usr/bin/frontdesk-server|" "$unit" >"$tmp/unit/frontdesk-server.service"
  systemd-analyze verify "$tmp/unit/frontdesk-server.service" >"$tmp/sa.log" 2>&1 || { cat "$tmp/sa.log" >&2; fail "systemd-analyze verify"; }
  ok "systemd-analyze verify: the unit is valid"
  exposure="$(systemd-analyze security --offline=true "$tmp/unit/frontdesk-server.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for .*: \(.*\)/\1/p' || true)"
  [ -n "$exposure" ] && ok "systemd-analyze security: overall exposure $exposure"
fi

# The maintainer scripts in a scratch root (DPKG_ROOT): user and system tools are stubs
# that record their calls, files land under the scratch root.
stubs="$tmp/stubs"
mkdir -p "$stubs"
for cmd in adduser deluser delgroup chown deb-systemd-helper deb-systemd-invoke systemctl; do
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$cmd" "$tmp/calls.log" >"$stubs/$cmd"
  chmod +x "$stubs/$cmd"
done
printf '#!/bin/sh\n[ "$2" = frontdesk ] && echo "frontdesk:x:999:999::/var/lib/frontdesk:/usr/sbin/nologin"\n' >"$stubs/getent"
chmod +x "$stubs/getent"
scratch="$tmp/scratch-root"
mkdir -p "$scratch/etc/frontdesk"
maint() { DPKG_ROOT="$scratch" PATH="$stubs:$PATH" sh "$root/DEBIAN/$1" "${@:2}"; }
maint postinst configure
secret="$scratch/etc/frontdesk/jwt-secret"
[ -f "$secret" ] || fail "postinst did not make $secret"
grep -Eqx '[0-9a-f]{64}' "$secret" || fail "the generated secret is not 32 random bytes in hex"
[ "$(stat -c %a "$secret")" = 640 ] || fail "the secret's mode is $(stat -c %a "$secret"), not 0640"
grep -q "^chown root:frontdesk $secret" "$tmp/calls.log" || fail "postinst did not give the secret to group frontdesk"
grep -q "^adduser --system --group" "$tmp/calls.log" || fail "postinst did not create the system user"
[ -d "$scratch/var/lib/frontdesk" ] || fail "postinst did not create /var/lib/frontdesk"
grep -q "^deb-systemd-helper enable frontdesk-server.service" "$tmp/calls.log" || fail "postinst did not enable the unit"
ok "postinst configure: system user, /var/lib/frontdesk, secret (64 hex, 0640 root:frontdesk), unit enabled"
before="$(cat "$secret")"
maint prerm upgrade "$version"
maint postinst configure "$version"
[ "$(cat "$secret")" = "$before" ] || fail "an upgrade replaced the JWT secret (every desk would be signed out)"
maint prerm remove
maint postrm remove
[ "$(cat "$secret")" = "$before" ] || fail "remove (without purge) deleted the secret"
grep -q "^deb-systemd-helper mask frontdesk-server.service" "$tmp/calls.log" || fail "postrm remove did not mask the unit"
ok "upgrade and remove keep the secret; remove masks the unit"
touch "$scratch/var/lib/frontdesk/frontdesk.db" "$scratch/etc/frontdesk/config.toml"
maint postrm purge
[ ! -e "$secret" ] || fail "purge left the secret"
[ ! -e "$scratch/var/lib/frontdesk" ] || fail "purge left /var/lib/frontdesk"
[ -f "$scratch/etc/frontdesk/config.toml" ] || fail "purge of the server removed the desktop app's config.toml"
grep -q "^deluser --system --quiet frontdesk" "$tmp/calls.log" || fail "purge did not remove the user"
ok "purge: secret, data and user removed; another package's /etc/frontdesk/config.toml kept"

step "server .deb: the packaged binary with the packaged config"
data="$tmp/server-data"
mkdir -p "$data"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/jwt-secret"
sed -e 's|^listen = .*|listen = "127.0.0.1:0"|' -e "s|^data_dir = .*|data_dir = \"$data\"|" \
  -e "s|^jwt_secret_file = .*|jwt_secret_file = \"$tmp/jwt-secret\"|" \
  "$root/etc/frontdesk/server.toml" >"$tmp/server.toml"
grep -q '^listen = "127.0.0.1:0"' "$tmp/server.toml" || fail "the packaged server.toml has no listen line"
"$root/usr/bin/frontdesk-server" --config "$tmp/server.toml" >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
for _ in $(seq 1 200); do
  [ -s "$tmp/server.out" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.err" >&2; fail "the packaged server stopped before listening"; }
  sleep 0.1
done
addr="$(sed -n 's/^{"listening":"\(.*\)"}$/\1/p' "$tmp/server.out")"
[ -n "$addr" ] || { cat "$tmp/server.out" "$tmp/server.err" >&2; fail "the packaged server did not print {\"listening\":…}"; }
ok "frontdesk-server --config <packaged server.toml, temp data dir, port 0>: {\"listening\":\"$addr\"}"
code="$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/readyz")"
[ "$code" = 200 ] || fail "/readyz answered $code"
ok "/readyz: 200"
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
[ "$status" -eq 0 ] || { cat "$tmp/server.err" >&2; fail "after SIGTERM the server exited $status, not 0"; }
ok "SIGTERM: graceful drain, exit 0"

dpkg-deb -x "$agent_deb" "$tmp/agent-root"
"$tmp/agent-root/usr/bin/frontdesk-agent" --help >/dev/null || fail "the packaged frontdesk-agent does not start"
ok "the packaged frontdesk-agent starts (--help)"

# --- The Windows installer, run -------------------------------------------------------
# Under wine (64-bit only here): the NSIS installer and its uninstaller run; the app
# itself would not (no WebView2 Runtime under wine), so it is not started.
# FRONTDESK_VERIFY_WINE=0 skips this part.
if [ "${FRONTDESK_VERIFY_WINE:-1}" = 0 ]; then
  echo "skipped: the installer under wine (FRONTDESK_VERIFY_WINE=0)" >&2
else
  step "Windows installer under wine: silent install with /SERVER /DESK_ID /LOCATION, uninstall"
  ensure_packages --no-install-recommends wine wine64
  # A private prefix; no Mono/Gecko (they would be downloaded), no debug chatter.
  export WINEPREFIX="$tmp/wine" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  win() { timeout 180 wine "$@" >>"$tmp/wine.log" 2>&1; }
  drive="$WINEPREFIX/drive_c"
  win "$setup" /S /SERVER=https://frontdesk.example.com:8443 /DESK_ID=front-1 /LOCATION=downtown ||
    { cat "$tmp/wine.log" >&2; fail "the silent install failed (wine output above)"; }
  wineserver -w
  installed="$drive/Program Files/Frontdesk"
  for f in frontdesk.exe WebView2Loader.dll uninstall.exe; do
    [ -f "$installed/$f" ] || fail "the installer did not put $f in C:\\Program Files\\Frontdesk"
  done
  config="$drive/ProgramData/Frontdesk/config.toml"
  [ -f "$config" ] || fail "the installer did not write C:\\ProgramData\\Frontdesk\\config.toml"
  expected=$'server = "https://frontdesk.example.com:8443"\ndesk_id = "front-1"\nlocation = "downtown"'
  [ "$(grep -v '^#' "$config" | tr -d '\r')" = "$expected" ] || { cat "$config" >&2; fail "config.toml does not hold the switches' values"; }
  ok "wine: /S /SERVER= /DESK_ID= /LOCATION= installs frontdesk.exe, WebView2Loader.dll, uninstall.exe; config.toml written"
  for f in frontdesk.exe uninstall.exe; do
    osslsigncode verify -CAfile "$ca" -in "$installed/$f" >/dev/null 2>&1 || fail "the installed $f is not validly signed"
  done
  ok "the installed frontdesk.exe and uninstall.exe (signed through !uninstfinalize) verify"
  before="$(cat "$config")"
  if win "$setup" /S /SERVER=https://frontdesk.example.com; then fail "the installer took /SERVER without /DESK_ID"; fi
  win "$setup" /S || fail "a reinstall without switches failed"
  wineserver -w
  [ "$(cat "$config")" = "$before" ] || fail "a reinstall without switches changed config.toml"
  ok "/SERVER without /DESK_ID is refused (exit 2); a reinstall without switches keeps config.toml"
  # A desk's outbox, as the app keeps it per user.
  outbox="$drive/users/$(id -un)/AppData/Local/Frontdesk"
  mkdir -p "$outbox"
  echo "pending scans" >"$outbox/outbox.db"
  win "$installed/uninstall.exe" /S || fail "the uninstaller /S failed"
  # The uninstaller copies itself to a temporary folder and returns at once: wait for it.
  wineserver -w
  [ ! -e "$installed" ] || fail "the uninstaller left C:\\Program Files\\Frontdesk"
  if wine reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\Frontdesk' >/dev/null 2>&1; then
    fail "the uninstaller left its Add/Remove Programs entry"
  fi
  [ "$(cat "$config")" = "$before" ] || fail "the uninstaller removed or changed config.toml"
  [ -f "$outbox/outbox.db" ] || fail "the uninstaller removed the outbox"
  ok "wine: uninstall.exe /S removes the program and its entry, keeps config.toml and the outbox"
  wineserver -k 2>/dev/null || true
fi

step "all package checks passed ($dist)"
