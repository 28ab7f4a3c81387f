#!/usr/bin/env bash
# The compose sandboxes, on the real engines:
#
#   ./scripts/sandbox.sh [up]            Trino 476 with dynamic catalogs and catalog-reloader watching
#                                        compose/trino/catalogs/; waits until it is ready
#   ./scripts/sandbox.sh catalogs        SHOW CATALOGS through the coordinator's HTTP API (needs curl)
#   ./scripts/sandbox.sh query 'SQL'     any statement, the same way (rows on stdout, tab-separated)
#   ./scripts/sandbox.sh down            stop it; removes its containers, network and volumes
#   ./scripts/sandbox.sh presto [up|catalogs|query SQL|down]
#                                        the same for PrestoDB 0.296 in restart mode (compose/presto,
#                                        watching compose/presto/catalogs/)
#   ./scripts/sandbox.sh presto-cluster [up|catalogs|query SQL|down]
#                                        a PrestoDB 0.296 coordinator and two workers, restarted one at
#                                        a time without the Docker socket (compose/presto-cluster)
#   ./scripts/sandbox.sh up --emulator   a quick try on the coordinator emulator instead of Trino
#
# Needs only the Rust toolchain: Docker is installed and started when no engine answers. The engine
# image: TRINO_IMAGE / PRESTO_IMAGE when set; else the official trinodb/trino:476 /
# prestodb/presto:0.296 when present or pullable; else — no registry, as on this project's machines —
# a real image built here from Maven Central by scripts/engines.sh (a minute or two the first time,
# seconds after). Also read: CATALOG_RELOADER_IMAGE (default catalog-reloader:local), CATALOGS_DIR,
# TRINO_HOST_PORT, PRESTO_HOST_PORT, RELOADER_HOST_PORT (see the compose files) and
# COMPOSE_PROJECT_NAME (default trino / presto, as for `docker compose -f compose/…/compose.yaml`).
set -euo pipefail
cd "$(dirname "$0")/.."

ENGINE=trino
SANDBOX=trino
SERVICE=trino
case "${1:-}" in
  presto) ENGINE=presto SANDBOX=presto SERVICE=presto; shift ;;
  presto-cluster) ENGINE=presto SANDBOX=presto-cluster SERVICE=coordinator; shift ;;
esac
COMMAND=${1:-up}
EMULATOR=0
if [ "$COMMAND" = up ]; then
  for arg in "${@:2}"; do
    case $arg in
      --emulator) EMULATOR=1 ;;
      *) echo "usage: $0 [presto|presto-cluster] [up [--emulator]|catalogs|query SQL|down]" >&2; exit 2 ;;
    esac
  done
fi

FILE=compose/$SANDBOX/compose.yaml
DEFAULT_TRINO_IMAGE=trinodb/trino:476
DEFAULT_PRESTO_IMAGE=prestodb/presto:0.296
EMULATOR_IMAGE=catalog-reloader-sandbox/emulator:trino
# The static binaries are built on the host for its own architecture (Linux only; elsewhere the
# agent image is built from source inside Docker, which needs a registry for the Rust image).
MUSL_TARGET="$(uname -m)-unknown-linux-musl"
export CATALOG_RELOADER_IMAGE="${CATALOG_RELOADER_IMAGE:-catalog-reloader:local}"

say() { printf '==> %s\n' "$*" >&2; }
# `docker build`, its output shown only when it fails (the legacy builder — no buildx here —
# prints a deprecation notice at every build).
quiet_build() {
  local out
  if ! out=$(docker build -q "$@" 2>&1); then
    printf '%s\n' "$out" >&2
    return 1
  fi
}

# Runs a step with a progress line and how long it took: `timed "what" command args…`.
timed() {
  local what=$1 started=$SECONDS
  shift
  say "$what"
  "$@"
  printf '    (%d s)\n' $((SECONDS - started)) >&2
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# How to call compose here, for the hints printed to the user.
compose_command() {
  if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo "docker-compose"; fi
}

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
    quiet_build -f docker/Dockerfile --target runtime -t "$CATALOG_RELOADER_IMAGE" .
    return
  fi
  need_musl
  static_binaries
  local context
  context="$(mktemp -d)"
  docker/stage-prebuilt.sh "$context"
  say "building the agent image $CATALOG_RELOADER_IMAGE (docker/Dockerfile --target prebuilt)"
  quiet_build -f docker/Dockerfile --target prebuilt -t "$CATALOG_RELOADER_IMAGE" "$context"
  rm -rf "$context"
}

build_emulator_image() {
  if [ "$(uname -s)" != Linux ]; then
    echo "sandbox: the emulator's image is built from a Linux static binary" >&2
    exit 1
  fi
  need_musl
  static_binaries
  local context
  context="$(mktemp -d)"
  cp -R tests/emulator/docker/. "$context/"
  cp "target/$MUSL_TARGET/image/coordinator-emulator" "$context/coordinator-emulator"
  quiet_build --target trino -t "$EMULATOR_IMAGE" "$context"
  rm -rf "$context"
}

# The official image when it is here or can be pulled; else the real engine built from Maven
# Central (scripts/engines.sh); the emulator only when asked for.
EMULATED=0
choose_engine_image() {
  local var official built
  if [ "$ENGINE" = trino ]; then
    var=TRINO_IMAGE official=$DEFAULT_TRINO_IMAGE built=catalog-reloader-test/trino:476
  else
    var=PRESTO_IMAGE official=$DEFAULT_PRESTO_IMAGE built=catalog-reloader-test/presto:0.296
  fi
  local image=${!var:-}
  if [ "$EMULATOR" = 1 ]; then
    [ "$ENGINE" = trino ] || { echo "sandbox: --emulator is for the Trino sandbox" >&2; exit 2; }
    timed "building the coordinator emulator's image $EMULATOR_IMAGE (not Trino: a quick try)" build_emulator_image
    image=$EMULATOR_IMAGE
    EMULATED=1
  elif [ -n "$image" ]; then
    say "engine image: $image ($var)"
  elif docker image inspect "$official" >/dev/null 2>&1; then
    image=$official
    say "engine image: $image"
  elif say "pulling $official" && docker pull -q "$official" >/dev/null 2>&1; then
    image=$official
  else
    say "$official cannot be pulled here: the real engine built from Maven Central instead"
    timed "fetching and imaging $ENGINE if needed (scripts/engines.sh $ENGINE-image; cached after the first run)" \
      ./scripts/engines.sh "$ENGINE-image"
    image=$built
  fi
  export "$var=$image"
}

wait_ready() {
  command -v curl >/dev/null || { say "curl is not installed: not waiting for /readyz"; return 0; }
  local agent deadline
  agent="$(published catalog-reloader 9480)"
  # A JVM engine starts in 10–30 s on two cores, more when the machine is busy.
  deadline=$((SECONDS + 300))
  until curl -fsS "http://$agent/readyz" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "sandbox: the agent is not ready after 300 s:" >&2
      curl -sS "http://$agent/readyz" >&2 || true
      compose logs --tail 30 >&2 || true
      exit 1
    fi
    sleep 1
  done
}

up() {
  command -v docker >/dev/null || { echo "sandbox: Docker is not installed" >&2; exit 1; }
  timed "making sure a Docker engine answers (scripts/engines.sh docker)" ./scripts/engines.sh docker
  timed "building the agent image $CATALOG_RELOADER_IMAGE" build_agent_image
  choose_engine_image
  timed "starting the sandbox ($FILE)" compose up -d --no-build
  timed "waiting until the agent is ready (the coordinator started, the folder applied)" wait_ready
  local engine agent folder name sub=""
  engine="$(published "$SERVICE" 8080)"
  agent="$(published catalog-reloader 9480)"
  folder="${CATALOGS_DIR:-compose/$SANDBOX/catalogs}"
  if [ "$EMULATED" = 1 ]; then
    cat <<EOF

  ************************************************************************************************
  * THIS SANDBOX RUNS THE COORDINATOR EMULATOR ($EMULATOR_IMAGE), NOT TRINO, AS ASKED (--emulator).
  * The emulator speaks Trino's HTTP protocol, SHOW CATALOGS and CREATE/DROP CATALOG, but reads
  * no data and has no 'trino' CLI inside. For the real Trino: ./scripts/sandbox.sh down, then
  * ./scripts/sandbox.sh
  ************************************************************************************************
EOF
  fi
  if [ "$ENGINE" = presto ]; then
    name=PrestoDB
    sub=" $SANDBOX"
  else
    name=Trino
  fi
  printf '\nThe %s sandbox is up: coordinator on http://%s, catalog-reloader on http://%s\n' "$name" "$engine" "$agent"
  printf '(/healthz, /readyz, /metrics, /status); watched folder: %s\n\n' "$folder"
  step() { printf '  %-74s # %s\n' "$1" "$2"; }
  if [ "$SANDBOX" = presto-cluster ]; then
    step "cp examples/catalogs/tpch.properties $folder/" "rendered; workers, then coordinator, restarted"
  elif [ "$ENGINE" = presto ]; then
    step "cp examples/catalogs/tpch.properties $folder/" "rendered, drained, one restart, verified"
  else
    step "cp examples/catalogs/tpch.properties $folder/" "a catalog appears within a second"
  fi
  step "./scripts/sandbox.sh$sub catalogs" "SHOW CATALOGS"
  if [ "$EMULATED" = 0 ]; then
    step "./scripts/sandbox.sh$sub query 'SELECT count(*) FROM tpch.tiny.nation'" "data read through it: 25"
  fi
  if [ "$ENGINE" = trino ] && [ "$EMULATED" = 0 ]; then
    step "$(compose_command) -f $FILE exec trino trino --execute 'SHOW CATALOGS'" "the same, with the Trino CLI"
  fi
  step "curl -s http://$agent/status" "what the agent applied, per catalog"
  step "rm $folder/tpch.properties" "and the catalog goes"
  step "./scripts/sandbox.sh$sub down" "stop the sandbox"
}

# Runs one statement through the coordinator's HTTP API (POST /v1/statement, then follow nextUri)
# and prints its rows, one per line, values separated by tabs. Needs only curl.
query() {
  command -v curl >/dev/null || { echo "sandbox: this needs curl" >&2; exit 1; }
  local sql=$1 header response next
  if [ "$ENGINE" = presto ]; then header='X-Presto-User: sandbox'; else header='X-Trino-User: sandbox'; fi
  response="$(curl -fsS -X POST -H "$header" --data "$sql" "http://$(published "$SERVICE" 8080)/v1/statement")"
  while :; do
    if printf '%s' "$response" | grep -q '"error":{'; then
      printf '%s\n' "$response" | sed -n 's/.*"message":"\([^"]*\)".*/\1/p' >&2
      exit 1
    fi
    # "data":[[…],[…]] → one line per row, values separated by tabs.
    printf '%s' "$response" | sed -n 's/.*"data":\[\(\[.*\]\)\].*/\1/p' |
      sed 's/\],\[/\n/g; s/^\[//; s/\]$//' | sed 's/","/\t/g; s/,/\t/g; s/"//g' | awk 1
    next="$(printf '%s' "$response" | sed -n 's/.*"nextUri":"\([^"]*\)".*/\1/p')"
    [ -n "$next" ] || break
    response="$(curl -fsS -H "$header" "$next")"
  done
}

case "$COMMAND" in
  up) up ;;
  catalogs) query 'SHOW CATALOGS' ;;
  query)
    [ $# -ge 2 ] || { echo "usage: $0 [presto|presto-cluster] query 'SQL'" >&2; exit 2; }
    query "$2"
    ;;
  down) compose down -v --remove-orphans ;;
  *)
    echo "usage: $0 [presto|presto-cluster] [up [--emulator]|catalogs|query SQL|down]" >&2
    exit 2
    ;;
esac
