#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need (a Docker engine, the
# real Trino 476 and PrestoDB 0.296 with their images — scripts/engines.sh —, the musl target and
# musl-tools for the static binaries in the test images, a Python venv with the third-party Trino and
# Presto clients), builds the static binaries the Docker tests put into images, then runs every test.
#
# The real engines are required: a test that needs one fails when it is missing. On a machine that
# cannot reach Maven Central, ENGINES_OPTIONAL=1 lets those tests skip, each saying why.
# REQUIRE_DOCKER=1 turns "no Docker engine" from a skip into a failure (.ci/run sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

# Docker (installed and started when no engine answers), Trino, PrestoDB and their images.
./scripts/engines.sh all
if [ "${ENGINES_OPTIONAL:-0}" != 1 ]; then
  export REQUIRE_ENGINES=1
fi

MUSL_TARGET=x86_64-unknown-linux-musl
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! rustup target list --installed | grep -qx "$MUSL_TARGET"; then
  rustup target add "$MUSL_TARGET"
fi
if ! command -v x86_64-linux-musl-gcc >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >/dev/null
fi

# The compose sandboxes' tests (tests/ship.rs) use `docker compose` or, without the plugin,
# Debian's docker-compose.
if command -v docker >/dev/null && ! docker compose version >/dev/null 2>&1 &&
  ! command -v docker-compose >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
fi

# Every PyPI package the tests use, in one venv: the third-party clients of the emulator's
# conformance tests (tests/emulator/tests/python_clients.rs), kubernetes-validate for
# kubernetes/check.py (tests/ship.rs) and schemathesis for the catalog API (tests/api.rs).
VENV=target/python-venv
if [ ! -x "$VENV/bin/python" ] ||
  ! "$VENV/bin/python" -c 'import trino, prestodb, kubernetes_validate, schemathesis' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    -r tests/emulator/python-requirements.txt -r kubernetes/python-requirements.txt \
    -r tests/api-requirements.txt
fi
export TEST_PYTHON="$PWD/$VENV/bin/python"

# Static binaries for the images the Docker tests build (FROM scratch, no registry needed).
cargo build -q --profile image --target "$MUSL_TARGET" -p catalog-reloader -p coordinator-emulator

# cargo test, not nextest: the tests of one binary share a real Trino process (a JVM takes seconds
# to start), which a runner that starts a process per test would start again for each test.
cargo test --workspace --no-fail-fast "$@"

# The side-by-side benchmark on the real Trino (benches/compare.rs), small, so that it cannot rot:
# its figures are not kept (the full run is `cargo bench --bench compare`).
if [ $# -eq 0 ]; then
  COMPARE_SMOKE=1 cargo test -q --bench compare
fi
