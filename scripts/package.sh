#!/usr/bin/env bash
# Builds the Debian package of ctctl: the binary, man pages (one per
# command), bash/zsh/fish completions, contrib's systemd units, logrotate
# file and alert rules, and the README.
#
#   scripts/package.sh [--binary PATH] [--out DIR] [--fast]
#
# Without --binary it builds the release binary first. Writes
# DIR/ctctl_VERSION_ARCH.deb (default DIR: target/debian) and prints its
# path. Needs dpkg-deb. (Cargo.toml also carries cargo-deb metadata for
# those who build with `cargo deb`.)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=""
OUT=target/debian
COMPRESS=(-Zxz)
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) BIN=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --fast) COMPRESS=(-Zgzip -z1); shift ;;
    *) echo "package.sh: unknown argument $1 (use --binary PATH, --out DIR, --fast)" >&2; exit 2 ;;
  esac
done
command -v dpkg-deb >/dev/null || { echo "package.sh: needs dpkg-deb" >&2; exit 2; }
if [ -z "$BIN" ]; then
  cargo build --release --quiet
  BIN=target/release/ctctl
fi
VERSION=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
ARCH=$(dpkg --print-architecture)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
ROOT="$STAGE/ctctl_${VERSION}_$ARCH"

install -D -m 0755 "$BIN" "$ROOT/usr/bin/ctctl"
# Run as `conntrack`, ctctl is a drop-in for conntrack(8). The name lives
# outside PATH; postinst offers it as the `conntrack` alternative only
# where no real conntrack binary is installed.
install -d "$ROOT/usr/lib/ctctl"
ln -s ../../bin/ctctl "$ROOT/usr/lib/ctctl/conntrack"
mkdir -p "$ROOT/usr/share/man/man1"
"$BIN" manpages "$ROOT/usr/share/man/man1" >/dev/null
gzip -9n "$ROOT"/usr/share/man/man1/*.1
install -d "$ROOT/usr/share/bash-completion/completions" \
  "$ROOT/usr/share/zsh/vendor-completions" "$ROOT/usr/share/fish/vendor_completions.d"
"$BIN" completions bash > "$ROOT/usr/share/bash-completion/completions/ctctl"
"$BIN" completions zsh > "$ROOT/usr/share/zsh/vendor-completions/_ctctl"
"$BIN" completions fish > "$ROOT/usr/share/fish/vendor_completions.d/ctctl.fish"
for unit in contrib/*.service; do
  # The units name /usr/local/bin (a source install); the package installs /usr/bin.
  sed 's|/usr/local/bin/ctctl|/usr/bin/ctctl|g' "$unit" |
    install -D -m 0644 /dev/stdin "$ROOT/lib/systemd/system/$(basename "$unit")"
done
install -D -m 0644 contrib/ctctl-events.logrotate "$ROOT/etc/logrotate.d/ctctl-events"
install -D -m 0644 contrib/ctctl-alerts.yml "$ROOT/usr/share/doc/ctctl/examples/ctctl-alerts.yml"
install -D -m 0644 README.md "$ROOT/usr/share/doc/ctctl/README.md"
cat > "$ROOT/usr/share/doc/ctctl/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ctctl
Files: *
License: MIT or Apache-2.0
COPY

mkdir -p "$ROOT/DEBIAN"
echo /etc/logrotate.d/ctctl-events > "$ROOT/DEBIAN/conffiles"
cat > "$ROOT/DEBIAN/postinst" <<'POST'
#!/bin/sh
set -e
# The conntrack alternative, at a low priority: registered only when
# /usr/sbin/conntrack is absent or already an alternative, so installing
# ctctl never replaces conntrack-tools' binary.
if [ "$1" = configure ]; then
  if [ ! -e /usr/sbin/conntrack ] || [ -L /usr/sbin/conntrack ]; then
    update-alternatives --install /usr/sbin/conntrack conntrack /usr/lib/ctctl/conntrack 10 || true
  fi
fi
POST
cat > "$ROOT/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ "$1" = remove ] || [ "$1" = deconfigure ]; then
  update-alternatives --remove conntrack /usr/lib/ctctl/conntrack 2>/dev/null || true
fi
PRERM
chmod 0755 "$ROOT/DEBIAN/postinst" "$ROOT/DEBIAN/prerm"
SIZE=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
cat > "$ROOT/DEBIAN/control" <<CTRL
Package: ctctl
Version: $VERSION
Architecture: $ARCH
Maintainer: ctctl developers <ctctl@users.noreply.github.com>
Installed-Size: $SIZE
Depends: libc6
Suggests: conntrack, prometheus
Section: net
Priority: optional
Homepage: https://github.com/ctctl/ctctl
Description: manage the Linux connection-tracking table over ctnetlink
 List, count, delete, flush, stream events, tune, create, update, save,
 restore and wait on nf_conntrack entries, talking ctnetlink directly;
 deletes exactly what a filter selects (filters are handed to the kernel
 only where this kernel was proved to apply them), a Prometheus exporter
 and a live top screen.
CTRL
mkdir -p "$OUT"
DEB="$OUT/ctctl_${VERSION}_$ARCH.deb"
dpkg-deb --root-owner-group "${COMPRESS[@]}" --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"
