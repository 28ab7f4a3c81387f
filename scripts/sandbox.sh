#!/usr/bin/env bash
# The Trino sandbox (compose/trino): a Trino coordinator with dynamic catalogs and catalog-reloader
# watching compose/trino/catalogs/. Needs only the Rust toolchain and Docker.
#
#   ./scripts/sandbox.sh [up]     build the agent image, start the sandbox, wait until it is ready
#   ./scripts/sandbox.sh catalogs SHOW CATALOGS through Trino's HTTP API (needs curl)
#   ./scripts/sandbox.sh down     stop it; removes its containers, network and volumes
#
# The engine image: TRINO_IMAGE when set; else trinodb/trino:476 when it is present or can be
# pulled; else (no registry) the coordinator emulator from tests/emulator, built here, which says
# so loudly. Also read: CATALOG_RELOADER_IMAGE (default catalog-reloader:local), CATALOGS_DIR,
# TRINO_HOST_PORT, RELOADER_HOST_PORT (see compose/trino/compose.yaml) and
# COMPOSE_PROJECT_NAME (default trino, as for `docker compose -f compose/trino/compose.yaml`).
set -euo pipefail
cd "$(dirname "$0")/.."

FILE=compose/trino/compose.yaml
DEFAULT_TRINO_IMAGE=trinodb/trino:476
EMULATOR_IMAGE=catalog-reloader-sandbox/emulator:trino
# The static binaries are built on the host for its own architecture (Linux only; elsewhere the
# agent image is built from source inside Docker, which needs a registry for the Rust image).
MUSL_TARGET="$(uname -m)-unknown-linux-musl"
export CATALOG_RELOADER_IMAGE="${CATALOG_RELOADER_IMAGE:-catalog-reloader:local}"

say() { printf '==> %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -f "$FILE" "$@"
  elif command -v docker-compose >/dev/null; then
    docker-compose -f "$FILE" "$@"
  else
    echo "sandbox: neither 'docker compose' nor 'docker-compose' is installed" >&2
    exit 1
  fi
}

# host:port of a service's published port, as compose reports it.
published() { compose port "$1" "$2" | tail -n 1; }

need_musl() {
  if ! rustup target list --installed | grep -qx "$MUSL_TARGET"; then
    say "installing the Rust target $MUSL_TARGET"
    rustup target add "$MUSL_TARGET"
  fi
  if ! command -v "$(uname -m)-linux-musl-gcc" >/dev/null; then
    say "installing musl-tools (C code in the dependencies needs a musl C compiler)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >/dev/null
  fi
}

# The agent and the emulator in one cargo invocation, as scripts/test.sh builds them: building
# them apart unifies the dependencies' features differently and rebuilds them each time.
static_binaries() {
  say "building the static binaries (cargo build --profile image --target $MUSL_TARGET)"
  cargo build -q --profile image --target "$MUSL_TARGET" -p catalog-reloader -p coordinator-emulator
}

build_agent_image() {
  if [ "$(uname -s)" != Linux ]; then
    say "building the agent image $CATALOG_RELOADER_IMAGE from source (docker/Dockerfile --target runtime)"
    docker build -q -f docker/Dockerfile --target runtime -t "$CATALOG_RELOADER_IMAGE" . >/dev/null
    return
  fi
  need_musl
  static_binaries
  local context
  context="$(mktemp -d)"
  docker/stage-prebuilt.sh "$context"
  say "building the agent image $CATALOG_RELOADER_IMAGE (docker/Dockerfile --target prebuilt)"
  docker build -q -f docker/Dockerfile --target prebuilt -t "$CATALOG_RELOADER_IMAGE" "$context" >/dev/null
  rm -rf "$context"
}

build_emulator_image() {
  if [ "$(uname -s)" != Linux ]; then
    echo "sandbox: $DEFAULT_TRINO_IMAGE cannot be pulled; set TRINO_IMAGE to a Trino image you have" >&2
    exit 1
  fi
  need_musl
  static_binaries
  say "building the coordinator emulator's Trino image $EMULATOR_IMAGE"
  local context
  context="$(mktemp -d)"
  cp -R tests/emulator/docker/. "$context/"
  cp "target/$MUSL_TARGET/image/coordinator-emulator" "$context/coordinator-emulator"
  docker build -q --target trino -t "$EMULATOR_IMAGE" "$context" >/dev/null
  rm -rf "$context"
}

EMULATED=0
choose_engine_image() {
  if [ -n "${TRINO_IMAGE:-}" ]; then
    say "engine image: $TRINO_IMAGE (TRINO_IMAGE)"
  elif docker image inspect "$DEFAULT_TRINO_IMAGE" >/dev/null 2>&1; then
    TRINO_IMAGE="$DEFAULT_TRINO_IMAGE"
  elif say "pulling $DEFAULT_TRINO_IMAGE" && docker pull -q "$DEFAULT_TRINO_IMAGE" >/dev/null; then
    TRINO_IMAGE="$DEFAULT_TRINO_IMAGE"
  else
    say "$DEFAULT_TRINO_IMAGE cannot be pulled here: using the coordinator emulator instead"
    build_emulator_image
    TRINO_IMAGE="$EMULATOR_IMAGE"
    EMULATED=1
  fi
  if [ "$TRINO_IMAGE" = "$EMULATOR_IMAGE" ]; then EMULATED=1; fi
  export TRINO_IMAGE
}

wait_ready() {
  command -v curl >/dev/null || { say "curl is not installed: not waiting for /readyz"; return 0; }
  local agent deadline
  agent="$(published catalog-reloader 9480)"
  deadline=$((SECONDS + 180))
  until curl -fsS "http://$agent/readyz" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "sandbox: the agent is not ready after 180 s:" >&2
      curl -sS "http://$agent/readyz" >&2 || true
      compose logs --tail 30 >&2 || true
      exit 1
    fi
    sleep 1
  done
}

up() {
  command -v docker >/dev/null || { echo "sandbox: Docker is not installed" >&2; exit 1; }
  docker version >/dev/null || { echo "sandbox: no Docker engine answers" >&2; exit 1; }
  build_agent_image
  choose_engine_image
  say "starting the sandbox ($FILE)"
  compose up -d --no-build
  wait_ready
  local trino agent folder
  trino="$(published trino 8080)"
  agent="$(published catalog-reloader 9480)"
  folder="${CATALOGS_DIR:-compose/trino/catalogs}"
  if [ "$EMULATED" = 1 ]; then
    cat <<EOF

  ************************************************************************************************
  * THIS SANDBOX RUNS THE COORDINATOR EMULATOR ($EMULATOR_IMAGE), NOT TRINO.
  * $DEFAULT_TRINO_IMAGE could not be pulled. The emulator speaks Trino's HTTP protocol, SHOW
  * CATALOGS and CREATE/DROP CATALOG, but reads no data source and has no 'trino' CLI inside.
  * For a real Trino: ./scripts/sandbox.sh down; TRINO_IMAGE=trinodb/trino:476 ./scripts/sandbox.sh
  ************************************************************************************************
EOF
  fi
  printf '\nThe Trino sandbox is up: coordinator on http://%s, catalog-reloader on http://%s\n' "$trino" "$agent"
  printf '(/healthz, /readyz, /metrics, /status); watched folder: %s\n\n' "$folder"
  step() { printf '  %-66s # %s\n' "$1" "$2"; }
  step "cp examples/catalogs/tpch.properties $folder/" "a catalog appears within a second"
  step "./scripts/sandbox.sh catalogs" "SHOW CATALOGS"
  if [ "$EMULATED" = 0 ]; then
    step "docker compose -f $FILE exec trino trino --execute 'SHOW CATALOGS'" "the same, with the Trino CLI"
  fi
  step "curl -s http://$agent/status" "what the agent applied, per catalog"
  step "rm $folder/tpch.properties" "and the catalog goes"
  step "./scripts/sandbox.sh down" "stop the sandbox"
}

show_catalogs() {
  command -v curl >/dev/null || { echo "sandbox: catalogs needs curl" >&2; exit 1; }
  local response next rows
  response="$(curl -fsS -X POST -H 'X-Trino-User: sandbox' --data 'SHOW CATALOGS' \
    "http://$(published trino 8080)/v1/statement")"
  rows=""
  while :; do
    if printf '%s' "$response" | grep -q '"error":{'; then
      printf '%s\n' "$response" | sed -n 's/.*"message":"\([^"]*\)".*/\1/p' >&2
      exit 1
    fi
    rows+="$(printf '%s' "$response" | sed -n 's/.*"data":\(\[\[[^]]*\]\(,\[[^]]*\]\)*\]\).*/\1/p' |
      grep -o '"[^"]*"' | tr -d '"' || true)"$'\n'
    next="$(printf '%s' "$response" | sed -n 's/.*"nextUri":"\([^"]*\)".*/\1/p')"
    [ -n "$next" ] || break
    response="$(curl -fsS -H 'X-Trino-User: sandbox' "$next")"
  done
  printf '%s' "$rows" | sed '/^$/d'
}

case "${1:-up}" in
  up) up ;;
  catalogs) show_catalogs ;;
  down) compose down -v --remove-orphans ;;
  *)
    echo "usage: $0 [up|catalogs|down]" >&2
    exit 2
    ;;
esac
