#!/usr/bin/env bash
# An OCI image of ctctl, FROM scratch: one static binary, ctctl as the
# entrypoint. No base image is pulled.
#
#   scripts/image.sh            -> target/image/ctctl-VERSION.oci.tar
#
# Load it with `podman load -i target/image/ctctl-VERSION.oci.tar` or
# `ctr -n k8s.io images import target/image/ctctl-VERSION.oci.tar`
# (docs/kubernetes.md). Needs buildah (Debian: apt-get install buildah).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v buildah >/dev/null || { echo "image.sh: needs buildah (apt-get install buildah)" >&2; exit 2; }
version=$(awk -F'"' '/^version = /{ print $2; exit }' Cargo.toml)
target=x86_64-unknown-linux-gnu
case "$(uname -m)" in
  aarch64) target=aarch64-unknown-linux-gnu ;;
esac

# Static with glibc: ctctl uses no NSS lookups (it reads /etc/protocols
# and connlabel.conf itself), so crt-static is safe. IMAGE_PROFILE=dev
# builds faster (the tests use it).
profile=${IMAGE_PROFILE:-release}
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --profile "$profile" --locked --target "$target" --quiet
tdir=${CARGO_TARGET_DIR:-target}
bin="$tdir/$target/$dir/ctctl"
if readelf -l "$bin" 2>/dev/null | grep -q 'Requesting program interpreter'; then
  echo "image.sh: $bin is not static" >&2
  exit 1
fi

mkdir -p "$tdir/image"
out="$tdir/image/ctctl-$version.oci.tar"
rm -f "$out"
# Rootless or in a sandbox, vfs storage needs no kernel overlay support.
export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah copy --quiet --chmod 0755 "$ctr" "$bin" /ctctl >/dev/null
buildah config \
  --entrypoint '["/ctctl"]' \
  --cmd '["exporter", "--all-netns"]' \
  --port 9371/tcp \
  --label "org.opencontainers.image.title=ctctl" \
  --label "org.opencontainers.image.description=Manage the Linux connection-tracking table over ctnetlink: list, count, delete, events, exporter" \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.source=https://github.com/ctctl/ctctl" \
  --label "org.opencontainers.image.licenses=MIT OR Apache-2.0" \
  --label "org.opencontainers.image.revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  "$ctr"
buildah commit --quiet --format oci "$ctr" "localhost/ctctl:$version" >/dev/null
buildah push --quiet "localhost/ctctl:$version" "oci-archive:$out:ctctl:$version"
echo "$out"
