#!/usr/bin/env bash
# Stages the build context for `docker build -f docker/Dockerfile --target prebuilt CONTEXT`: the
# static binary built on the host, the host's CA bundle, docker/rootfs (passwd, group) and
# docker/state (the state folder), laid out as in the repository.
#
#   docker/stage-prebuilt.sh CONTEXT [BINARY]
#
# BINARY defaults to target/$(uname -m)-unknown-linux-musl/image/catalog-reloader (built by
# `cargo build --profile image --target x86_64-unknown-linux-musl -p catalog-reloader`, or the
# aarch64 target on an arm64 host).
# CA_BUNDLE (environment) picks the CA bundle; by default the first of the usual places.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
context="${1:?usage: docker/stage-prebuilt.sh CONTEXT [BINARY]}"
binary="${2:-$repo/target/$(uname -m)-unknown-linux-musl/image/catalog-reloader}"

if [ ! -x "$binary" ]; then
  echo "stage-prebuilt: no binary at $binary" >&2
  echo "  build it: cargo build --profile image --target $(uname -m)-unknown-linux-musl -p catalog-reloader" >&2
  exit 1
fi
# The image has no C library: a dynamically linked binary would not start in it.
if command -v file >/dev/null && ! file -L "$binary" | grep -Eq 'statically linked|static-pie linked'; then
  echo "stage-prebuilt: $binary is not statically linked (build it for x86_64-unknown-linux-musl)" >&2
  exit 1
fi

bundle="${CA_BUNDLE:-}"
if [ -z "$bundle" ]; then
  for candidate in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt \
    /etc/ssl/cert.pem /etc/ssl/ca-bundle.pem; do
    if [ -s "$candidate" ]; then bundle="$candidate"; break; fi
  done
fi
if [ -z "$bundle" ] || ! grep -q 'BEGIN CERTIFICATE' "$bundle"; then
  echo "stage-prebuilt: no CA bundle found (install ca-certificates, or set CA_BUNDLE=FILE)" >&2
  exit 1
fi

rm -rf "$context/docker"
mkdir -p "$context/docker"
cp -R "$repo/docker/rootfs" "$context/docker/rootfs"
cp -R "$repo/docker/state" "$context/docker/state"
mkdir -p "$context/docker/rootfs/etc/ssl/certs"
cp "$binary" "$context/docker/rootfs/catalog-reloader"
chmod 0755 "$context/docker/rootfs/catalog-reloader"
cp -L "$bundle" "$context/docker/rootfs/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$context/docker/rootfs/etc/ssl/certs/ca-certificates.crt"
