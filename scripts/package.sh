#!/usr/bin/env bash
# Builds every installer of the current version, offline and signed, into dist/ (or
# --out DIR): the app as .deb, .rpm and Windows setup.exe, the server and the agent as
# .deb, SHA256SUMS with its OpenPGP signature, a signed APT repository, the public key
# and the code-signing certificate. docs/install.md says what IT does with each file.
#
# Keys come from the environment:
#   FRONTDESK_GPG_KEY              path to an armored OpenPGP secret key (signs SHA256SUMS,
#                                  the APT repository and the .rpm)
#   FRONTDESK_GPG_PASSPHRASE_FILE  optional, a file holding its passphrase
#   FRONTDESK_CODESIGN_CERT        PEM certificate (chain) for Authenticode
#   FRONTDESK_CODESIGN_KEY         PEM private key of that certificate
#   FRONTDESK_CODESIGN_PASSWORD_FILE  optional, a file holding that key's password
#   FRONTDESK_TIMESTAMP_URL        optional RFC 3161 server for Authenticode timestamps
# Without them throwaway test keys are made (and said so): such a release is for tests only.
#
# The packages are made with dpkg-deb, rpmbuild and makensis from files in packaging/,
# not with the Tauri CLI: the project builds the app with plain cargo, the CLI wants its
# config beside the crate, and its NSIS bundler downloads a plug-in (docs/install.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

usage() {
  echo "usage: scripts/package.sh [--out DIR]   (default: dist/)" >&2
}

out=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || { usage; exit 2; }; out="$2"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "package.sh: unknown argument '$1'" >&2; usage; exit 2 ;;
  esac
done

# The output folder is replaced as a whole; refuse to wipe a folder this script did not make.
marker=.frontdesk-dist
if [ -e "$out" ] && [ ! -e "$out/$marker" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  echo "package.sh: $out exists, is not empty and was not made by package.sh; choose another --out or empty it." >&2
  exit 2
fi

die() { echo "package.sh: $*" >&2; exit 1; }

# The version of every package: [workspace.package] version in Cargo.toml.
version="$(awk '
  /^\[/ { section = $0 }
  section == "[workspace.package]" && $1 == "version" { gsub(/[" ]/, "", $3); print $3; exit }
' Cargo.toml)"
[ -n "$version" ] || die "no version under [workspace.package] in Cargo.toml"
# Windows wants four numbers (0.1.0 -> 0.1.0.0), RPM no '-' (0.1.0-rc.1 -> 0.1.0~rc.1).
version4="$(echo "$version" | sed -E 's/^([0-9]+)\.([0-9]+)\.([0-9]+).*/\1.\2.\3.0/')"
rpm_version="${version//-/\~}"
deb_version="${version//-/\~}"
maintainer="${FRONTDESK_MAINTAINER:-Frontdesk <packages@frontdesk.example.com>}"
# Package timestamps follow the last commit, so two builds of one commit differ less.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"

prepare
ensure_packaging_packages
ensure_windows_target

work="$(mktemp -d)"
cleanup() {
  # The gpg-agent of the temporary keyring would outlive the script otherwise.
  [ -d "${GNUPGHOME:-}" ] && gpgconf --kill gpg-agent 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
stage="$work/out"
mkdir -p "$stage"

build_ui
step "build the server, the app and the agent (release), and the app for Windows"
# One package at a time, as run.sh does: built together, cargo would unify their
# dependencies' features and rebuild what earlier runs already built separately.
cargo build --locked --release -p frontdesk-server
cargo build --locked --release -p frontdesk-app
cargo build --locked --release -p frontdesk-agent
cargo build --locked --release --target "$WINDOWS_TARGET" -p frontdesk-app
release="$CARGO_TARGET_DIR/release"
win_release="$CARGO_TARGET_DIR/$WINDOWS_TARGET/release"
for f in "$release/frontdesk-server" "$release/frontdesk" "$release/frontdesk-agent" \
  "$win_release/frontdesk.exe" "$win_release/WebView2Loader.dll"; do
  [ -f "$f" ] || die "the build did not produce $f"
done
# The packaged binaries lose their debug sections (the release profile's line tables:
# 134 MB -> 24 MB for the app, and xz then takes seconds, not minutes); the symbols
# stay, so a panic's backtrace still names the functions. The target dir keeps the
# unstripped files of this build.
bin="$work/bin"
mkdir -p "$bin"
for b in frontdesk frontdesk-server frontdesk-agent; do
  strip --strip-debug -o "$bin/$b" "$release/$b"
done
x86_64-w64-mingw32-strip --strip-debug -o "$bin/frontdesk.exe" "$win_release/frontdesk.exe"

# ---------------------------------------------------------------------------------
step "signing keys"
throwaway=()
export GNUPGHOME="$work/gnupg"
mkdir -m 0700 "$GNUPGHOME"
# Nothing asks a person: batch mode, and a passphrase (if any) from a file.
printf 'batch\nquiet\nno-auto-check-trustdb\n' >"$GNUPGHOME/gpg.conf"
if [ -n "${FRONTDESK_GPG_KEY:-}" ]; then
  [ -r "$FRONTDESK_GPG_KEY" ] || die "FRONTDESK_GPG_KEY=$FRONTDESK_GPG_KEY is not a readable file"
  if [ -n "${FRONTDESK_GPG_PASSPHRASE_FILE:-}" ]; then
    [ -r "$FRONTDESK_GPG_PASSPHRASE_FILE" ] || die "FRONTDESK_GPG_PASSPHRASE_FILE is not a readable file"
    printf 'pinentry-mode loopback\npassphrase-file %s\n' "$FRONTDESK_GPG_PASSPHRASE_FILE" >>"$GNUPGHOME/gpg.conf"
  fi
  gpg --quiet --import "$FRONTDESK_GPG_KEY" 2>/dev/null || die "cannot import the OpenPGP key $FRONTDESK_GPG_KEY"
else
  throwaway+=("OpenPGP key (SHA256SUMS, APT repository, .rpm)")
  gpg --quiet --passphrase '' --quick-gen-key \
    "Frontdesk TEST archive key, NOT FOR RELEASE <test@frontdesk.invalid>" rsa3072 sign 30d 2>/dev/null
fi
fpr="$(gpg --with-colons --list-secret-keys | awk -F: '/^fpr:/ { print $10; exit }')"
[ -n "$fpr" ] || die "FRONTDESK_GPG_KEY holds no secret key"
gpg --armor --export "$fpr" >"$stage/frontdesk-archive-keyring.asc"

if [ -n "${FRONTDESK_CODESIGN_CERT:-}${FRONTDESK_CODESIGN_KEY:-}" ]; then
  [ -r "${FRONTDESK_CODESIGN_CERT:-}" ] && [ -r "${FRONTDESK_CODESIGN_KEY:-}" ] ||
    die "set both FRONTDESK_CODESIGN_CERT and FRONTDESK_CODESIGN_KEY to readable PEM files"
  cert="$FRONTDESK_CODESIGN_CERT"
  key="$FRONTDESK_CODESIGN_KEY"
else
  throwaway+=("Authenticode certificate (Windows installer and app)")
  cert="$work/codesign.crt"
  key="$work/codesign.key"
  openssl req -x509 -newkey rsa:3072 -nodes -sha256 -days 30 -keyout "$key" -out "$cert" \
    -subj "/CN=Frontdesk TEST code signing, NOT FOR RELEASE/O=Frontdesk" \
    -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=codeSigning" 2>/dev/null
fi
cp "$cert" "$stage/codesign.crt"

warn_throwaway() {
  [ ${#throwaway[@]} -eq 0 ] && return 0
  {
    echo
    echo "!!! ================================================================== !!!"
    echo "!!! THROWAWAY TEST KEYS: this release is signed with keys made just now  !!!"
    echo "!!! and thrown away; it is fit for tests only, never for the desks.      !!!"
    for k in "${throwaway[@]}"; do echo "!!!   - $k"; done
    echo "!!! For a release set FRONTDESK_GPG_KEY, FRONTDESK_CODESIGN_CERT and     !!!"
    echo "!!! FRONTDESK_CODESIGN_KEY (scripts/package.sh, docs/install.md).        !!!"
    echo "!!! ================================================================== !!!"
  } >&2
}
warn_throwaway

# One command that Authenticode-signs a file in place (osslsigncode cannot), used here
# and by makensis for the uninstaller it embeds.
signer="$work/sign-exe.sh"
{
  echo '#!/bin/sh'
  echo 'set -e'
  printf 'osslsigncode sign -certs %q -key %q' "$cert" "$key"
  [ -n "${FRONTDESK_CODESIGN_PASSWORD_FILE:-}" ] && printf ' -readpass %q' "$FRONTDESK_CODESIGN_PASSWORD_FILE"
  [ -n "${FRONTDESK_TIMESTAMP_URL:-}" ] && printf ' -ts %q' "$FRONTDESK_TIMESTAMP_URL"
  echo ' -n Frontdesk -h sha256 -in "$1" -out "$1.signed" >/dev/null'
  echo 'mv -f "$1.signed" "$1"'
} >"$signer"
chmod 0700 "$signer"

# ---------------------------------------------------------------------------------
# The Debian packages. (Each shlibdeps result goes into a variable first: a failure
# inside "$(…)" as an argument would not stop the script.) dpkg-shlibdeps reads the libraries a binary links and names the
# packages (and versions) that provide them on this build machine (Debian 12).
shlibdeps() {
  local dir="$work/shlibs"
  mkdir -p "$dir/debian"
  printf 'Source: frontdesk\n\nPackage: frontdesk\nArchitecture: amd64\n' >"$dir/debian/control"
  local deps
  deps="$(cd "$dir" && dpkg-shlibdeps -O -e"$1" 2>"$work/shlibdeps.log" | sed -n 's/^shlibs:Depends=//p')" || true
  [ -n "$deps" ] || { cat "$work/shlibdeps.log" >&2; die "dpkg-shlibdeps found no dependencies of $1"; }
  echo "$deps"
}

# make_deb NAME ROOT DEPENDS RECOMMENDS SUMMARY DESCRIPTION: writes DEBIAN/control and
# builds $stage/NAME_VERSION_amd64.deb from ROOT (files owned by root).
make_deb() {
  local name="$1" root="$2" depends="$3" recommends="$4" summary="$5" description="$6"
  local size
  size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
  mkdir -p "$root/DEBIAN"
  {
    echo "Package: $name"
    echo "Version: $deb_version"
    echo "Architecture: amd64"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $size"
    echo "Depends: $depends"
    [ -n "$recommends" ] && echo "Recommends: $recommends"
    echo "Section: misc"
    echo "Priority: optional"
    echo "Description: $summary"
    echo "$description" | fold -s -w 78 | sed 's/ *$//; s/^/ /'
  } >"$root/DEBIAN/control"
  dpkg-deb --root-owner-group -Zxz --build "$root" "$stage/${name}_${deb_version}_amd64.deb" >/dev/null
}

step "Debian packages"
# The app: binary, desktop entry, icons in the hicolor theme (the icon cache and the
# desktop database are refreshed by those packages' own triggers).
app_root="$work/deb-frontdesk"
install -D -m 0755 "$bin/frontdesk" "$app_root/usr/bin/frontdesk"
install -D -m 0644 packaging/linux/frontdesk.desktop "$app_root/usr/share/applications/frontdesk.desktop"
install -D -m 0644 icons/32x32.png "$app_root/usr/share/icons/hicolor/32x32/apps/frontdesk.png"
install -D -m 0644 icons/128x128.png "$app_root/usr/share/icons/hicolor/128x128/apps/frontdesk.png"
install -D -m 0644 icons/128x128@2x.png "$app_root/usr/share/icons/hicolor/256x256/apps/frontdesk.png"
install -D -m 0644 icons/icon.png "$app_root/usr/share/icons/hicolor/512x512/apps/frontdesk.png"
install -D -m 0644 packaging/linux/copyright "$app_root/usr/share/doc/frontdesk/copyright"
install -D -m 0644 docs/app.md "$app_root/usr/share/doc/frontdesk/app.md"
# The RPM gets the same tree, before DEBIAN/ is added.
rpm_root="$work/rpm-root"
cp -a "$app_root" "$rpm_root"
app_deps="$(shlibdeps "$bin/frontdesk")"
make_deb frontdesk "$app_root" "$app_deps" "gnome-keyring" \
  "Gym front desk: check-ins, live occupancy, offline-safe" \
  "The Frontdesk desktop app for receptionists and managers: scans and member look-ups, the live state of the gym, and a durable outbox so that no check-in is lost or doubled while the network or the server is away. System-wide configuration: /etc/frontdesk/config.toml."

# The server: binary, hardened systemd unit, the conffile, maintainer scripts that make
# the user and the secret, README.Debian. procps is the unit's /bin/kill (ExecReload).
srv_root="$work/deb-frontdesk-server"
install -D -m 0755 "$bin/frontdesk-server" "$srv_root/usr/bin/frontdesk-server"
install -D -m 0644 packaging/server/frontdesk-server.service "$srv_root/lib/systemd/system/frontdesk-server.service"
install -D -m 0644 packaging/server/server.toml "$srv_root/etc/frontdesk/server.toml"
install -D -m 0644 packaging/linux/copyright "$srv_root/usr/share/doc/frontdesk-server/copyright"
install -D -m 0644 packaging/server/README.Debian "$srv_root/usr/share/doc/frontdesk-server/README.Debian"
install -D -m 0644 docs/server.md "$srv_root/usr/share/doc/frontdesk-server/server.md"
mkdir -p "$srv_root/DEBIAN"
for s in postinst prerm postrm; do install -m 0755 "packaging/server/$s" "$srv_root/DEBIAN/$s"; done
echo /etc/frontdesk/server.toml >"$srv_root/DEBIAN/conffiles"
srv_deps="$(shlibdeps "$bin/frontdesk-server")"
make_deb frontdesk-server "$srv_root" "$srv_deps, adduser, init-system-helpers (>= 1.52), procps" "" \
  "Frontdesk server: the gym's check-ins, members and live sessions" \
  "The companion server of the Frontdesk desks: HTTP API and WebSocket sessions over SQLite, as a hardened systemd service (frontdesk-server.service) running as its own user. Settings: /etc/frontdesk/server.toml; data: /var/lib/frontdesk; logs: the journal. Restarts and upgrades drain gracefully: desks reconnect by themselves."

agent_root="$work/deb-frontdesk-agent"
install -D -m 0755 "$bin/frontdesk-agent" "$agent_root/usr/bin/frontdesk-agent"
install -D -m 0644 packaging/linux/copyright "$agent_root/usr/share/doc/frontdesk-agent/copyright"
install -D -m 0644 docs/desk.md "$agent_root/usr/share/doc/frontdesk-agent/desk.md"
agent_deps="$(shlibdeps "$bin/frontdesk-agent")"
make_deb frontdesk-agent "$agent_root" "$agent_deps" "gnome-keyring, dbus-user-session" \
  "Frontdesk headless desk agent" \
  "A front desk without a screen: card scans on standard input, one JSON line per result on standard output, the same durable outbox and reconnection as the desktop app. Needs a Secret Service (e.g. gnome-keyring) for its sign-in."

# ---------------------------------------------------------------------------------
step "RPM of the app (rpmbuild, rpmsign)"
rpm_top="$work/rpmbuild"
mkdir -p "$rpm_top"
rpmbuild -bb --quiet \
  --define "_topdir $rpm_top" \
  --define "fd_version $rpm_version" \
  --define "fd_stage $rpm_root" \
  packaging/linux/frontdesk.spec >/dev/null
rpm_file="frontdesk-$rpm_version-1.x86_64.rpm"
cp "$rpm_top/RPMS/x86_64/$rpm_file" "$stage/$rpm_file"
# rpmsign calls gpg with GNUPGHOME from the environment; Debian's rpm needs __gpg spelled out.
# (Its warning that stdin is no terminal, for GPG_TTY, is noise here.)
if ! rpmsign --addsign --define "__gpg /usr/bin/gpg" --define "_gpg_name $fpr" "$stage/$rpm_file" 2>&1 >/dev/null |
  { grep -v "GPG_TTY" || true; } >&2; then
  die "rpmsign could not sign $rpm_file"
fi

# ---------------------------------------------------------------------------------
step "Windows installer (makensis, osslsigncode)"
win_stage="$work/win"
mkdir -p "$win_stage"
cp "$bin/frontdesk.exe" "$win_stage/frontdesk.exe"
"$signer" "$win_stage/frontdesk.exe" 2>/dev/null
cp "$win_release/WebView2Loader.dll" "$win_stage/WebView2Loader.dll"
setup="Frontdesk_${version}_x64-setup.exe"
makensis -V2 -NOCD \
  -DVERSION="$version" -DVERSION4="$version4" -DSTAGE="$win_stage" -DICON="$PWD/icons/icon.ico" \
  -DOUTFILE="$work/$setup" -DSIGNER="$signer" packaging/windows/frontdesk.nsi >&2
# Signed after makensis: NSIS's own integrity check covers the data, not the signature.
"$signer" "$work/$setup" 2>/dev/null
cp "$work/$setup" "$stage/$setup"

# ---------------------------------------------------------------------------------
step "APT repository (apt-ftparchive, gpg)"
apt_dir="$stage/apt"
mkdir -p "$apt_dir/pool/main" "$apt_dir/dists/stable/main/binary-amd64"
cp "$stage"/*.deb "$apt_dir/pool/main/"
(
  cd "$apt_dir"
  apt-ftparchive packages pool/main >dists/stable/main/binary-amd64/Packages
  gzip -9n -k dists/stable/main/binary-amd64/Packages
  cd dists/stable
  apt-ftparchive \
    -o APT::FTPArchive::Release::Origin=Frontdesk \
    -o APT::FTPArchive::Release::Label=Frontdesk \
    -o APT::FTPArchive::Release::Suite=stable \
    -o APT::FTPArchive::Release::Codename=stable \
    -o APT::FTPArchive::Release::Architectures=amd64 \
    -o APT::FTPArchive::Release::Components=main \
    -o "APT::FTPArchive::Release::Description=Frontdesk $version" \
    release . >"$work/Release"
  mv "$work/Release" Release
  gpg --local-user "$fpr" --digest-algo SHA512 --clearsign -o InRelease Release
  gpg --local-user "$fpr" --digest-algo SHA512 --armor --detach-sign -o Release.gpg Release
)

# ---------------------------------------------------------------------------------
step "SHA256SUMS and its signature"
(
  cd "$stage"
  sha256sum "frontdesk_${deb_version}_amd64.deb" "$rpm_file" "frontdesk-server_${deb_version}_amd64.deb" \
    "frontdesk-agent_${deb_version}_amd64.deb" "$setup" >SHA256SUMS
  gpg --local-user "$fpr" --digest-algo SHA512 --armor --detach-sign -o SHA256SUMS.asc SHA256SUMS
)

# The new release replaces the old one in one move.
touch "$stage/$marker"
rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$stage" "$out"
step "done: $out"
ls -l "$out" >&2
warn_throwaway
