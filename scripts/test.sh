#!/usr/bin/env bash
# The README's test command: installs what the tests need when missing
# (conntrack, nftables, iproute2, procps, prometheus with promtool, tmux,
# curl, openssl, buildah for the image, and python3-pyftpdlib for the FTP
# helper's expectations),
# then runs formatting, lints and
# every test of the workspace.
#
# Privileged tests run in network namespaces of their own and need root;
# without root they print SKIPPED, unless CTCTL_REQUIRE_ROOT=1 (CI), when
# they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

missing=()
command -v conntrack >/dev/null || missing+=(conntrack)
command -v nft >/dev/null || missing+=(nftables)
command -v ip >/dev/null || missing+=(iproute2)
command -v sysctl >/dev/null || missing+=(procps)
command -v prometheus >/dev/null || missing+=(prometheus)
command -v tmux >/dev/null || missing+=(tmux)
command -v curl >/dev/null || missing+=(curl)
command -v openssl >/dev/null || missing+=(openssl)
command -v buildah >/dev/null || missing+=(buildah)
/usr/bin/python3 -c 'import pyftpdlib' 2>/dev/null || missing+=(python3-pyftpdlib)
if [ ${#missing[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${missing[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
# The library alone (no CLI, no exporter) builds.
cargo check -p ctctl --lib --no-default-features --quiet
# The OCI image (tests/it/kube.rs opens it), built before the tests so its
# compile does not compete with them for the CPU.
if command -v buildah >/dev/null; then
  CTCTL_IMAGE=$(IMAGE_PROFILE=dev scripts/image.sh | tail -n 1)
  CTCTL_IMAGE=$(realpath "$CTCTL_IMAGE")
  export CTCTL_IMAGE
fi
cargo test --workspace --all-features
