#!/usr/bin/env bash
# Builds pgsyncbench's container images, base first, each only when its inputs changed.
#
#   docker/build.sh [--force] [--force-base] [--host-binary] [--prune] [-v] [IMAGE...]
#
# IMAGE is any of: etcd haproxy patroni pgsyncbench (default: all). Images:
#   pgsyncbench/base:bookworm-<hash>   docker/build-base.sh (debootstrap + docker import)
#   pgsyncbench/<image>:<hash>         FROM that base; <hash> is the sha256 (12 digits) of the
#                                      image's build context (its docker/<image>/ files and, for
#                                      pgsyncbench, Cargo.toml, Cargo.lock, build.rs, src/,
#                                      assets/, workloads/), the base image's id and the build
#                                      arguments. An image whose tag exists is not built again.
#   pgsyncbench/<image>:latest         the one just built or found (what docker/compose.yaml runs)
# With nothing changed the script only hashes and checks tags: a few seconds.
#
#   --force        build the images again even when their tags exist (docker's layer cache
#                  still applies: an unchanged step is not run again)
#   --force-base   make the base image again too (debootstrap)
#   --host-binary  put a binary built on the host (cargo build --release) into the pgsyncbench
#                  image instead of compiling it in the image; chosen automatically when the
#                  image is to be built and static.rust-lang.org cannot be reached
#   --prune        remove pgsyncbench/* images with other hashes afterwards (the images and
#                  stages of the current hashes stay)
#   -v             show docker build's output (otherwise it goes to a log shown on failure)
#
# Environment: EXTRA_CA_CERTS (files, space separated) — CA certificates the build stages that
# fetch over HTTPS (pip for Patroni, rustup and cargo for pgsyncbench) trust besides Debian's;
# default: this machine's local CAs, /usr/local/share/ca-certificates/*.crt (e.g. the CA of a
# proxy that intercepts TLS). They never reach the runtime images. SUITE, DEBIAN_MIRROR:
# see build-base.sh.
set -euo pipefail

DOCKER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$DOCKER_DIR/.." && pwd)
ALL_IMAGES=(etcd haproxy patroni pgsyncbench)

FORCE=0 FORCE_BASE=0 HOST_BINARY=0 PRUNE=0 VERBOSE=0
IMAGES=()
for arg in "$@"; do
    case $arg in
    --force) FORCE=1 ;;
    --force-base) FORCE_BASE=1 ;;
    --host-binary) HOST_BINARY=1 ;;
    --prune) PRUNE=1 ;;
    -v) VERBOSE=1 ;;
    -h | --help)
        awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"
        exit 0
        ;;
    etcd | haproxy | patroni | pgsyncbench) IMAGES+=("$arg") ;;
    *)
        echo "build.sh: unknown argument '$arg' (images: ${ALL_IMAGES[*]}; try --help)" >&2
        exit 2
        ;;
    esac
done
[ ${#IMAGES[@]} -gt 0 ] || IMAGES=("${ALL_IMAGES[@]}")

log() { echo "build: $*" >&2; }
die() {
    echo "build: error: $*" >&2
    exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon (is it running, may this user use it?)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgsyncbench-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
T0=$(now)
SUMMARY=()

# --- base ------------------------------------------------------------------------------------
t=$(now)
base_args=()
[ "$FORCE_BASE" = 1 ] && base_args+=(--force)
BASE_REF=$("$DOCKER_DIR/build-base.sh" "${base_args[@]}" | tail -n 1)
BASE_ID=$(docker image inspect -f '{{.Id}}' "$BASE_REF")
SUMMARY+=("$BASE_REF $(since "$t")")

# --- inputs ----------------------------------------------------------------------------------
# CA certificates for the build stages (see the header); copied into each context as extra-ca/.
if [ -z "${EXTRA_CA_CERTS+set}" ]; then
    EXTRA_CA_CERTS=$(find /usr/local/share/ca-certificates -name '*.crt' -type f 2>/dev/null | sort | tr '\n' ' ')
fi
extra_ca() { # DIR
    mkdir -p "$1/extra-ca"
    local f
    for f in $EXTRA_CA_CERTS; do
        [ -f "$f" ] || die "EXTRA_CA_CERTS names '$f', which is not a file"
        cp "$f" "$1/extra-ca/$(basename "${f%.crt}").crt"
    done
}

# The revision results manifests record: the last commit that changed the binary's sources,
# "-dirty" when they have uncommitted changes; empty outside a git checkout. It is passed to the
# build but not hashed: every commit with the same sources gives the same image.
RUST_INPUTS=(Cargo.toml Cargo.lock build.rs src assets)
git_revision() {
    git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1 || return 0
    local rev
    rev=$(git -C "$REPO" log -1 --format=%H -- "${RUST_INPUTS[@]}" 2>/dev/null | cut -c1-12)
    [ -n "$rev" ] || return 0
    if [ -n "$(git -C "$REPO" status --porcelain -- "${RUST_INPUTS[@]}" 2>/dev/null)" ]; then
        rev=$rev-dirty
    fi
    echo "$rev"
}

# A build context as one deterministic tar (sorted names, times 1970, owner root, no group or
# world write bits): the same files give the same bytes on any checkout, whatever the umask.
context_tar() { # DIR TAR
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=go-w \
        -C "$1" -cf "$2" .
}

# Lays out the build context of IMAGE in DIR; prints the build arguments that define the image
# (one per line, NAME=VALUE), which are hashed with the context.
make_context() { # IMAGE DIR
    local image=$1 dir=$2
    mkdir -p "$dir"
    case $image in
    etcd | haproxy)
        cp -a "$DOCKER_DIR/$image/." "$dir/"
        ;;
    patroni)
        cp -a "$DOCKER_DIR/$image/." "$dir/"
        extra_ca "$dir"
        ;;
    pgsyncbench)
        if [ "$PGSB_MODE" = image ]; then
            cp "$DOCKER_DIR/pgsyncbench/Dockerfile" "$DOCKER_DIR/pgsyncbench/git-describe" "$dir/"
            tar -C "$REPO" -cf - "${RUST_INPUTS[@]}" workloads | tar -C "$dir" -xf -
            extra_ca "$dir"
        else
            cp "$DOCKER_DIR/pgsyncbench/Dockerfile.host-binary" "$dir/Dockerfile"
            cp "$HOST_BINARY_PATH" "$dir/pgsyncbench"
            tar -C "$REPO" -cf - workloads | tar -C "$dir" -xf -
            echo "HOST_BINARY=1"
        fi
        ;;
    esac
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

rust_reachable() {
    command -v curl >/dev/null || return 0 # cannot tell: try the in-image build
    curl -fsS -o /dev/null --max-time 10 -I https://static.rust-lang.org/rustup/release-stable.toml
}

build_host_binary() {
    command -v cargo >/dev/null || die "--host-binary: cargo is not installed on this machine"
    log "pgsyncbench: cargo build --release --locked on the host"
    (cd "$REPO" && cargo build --release --locked --quiet) || die "cargo build --release failed"
    HOST_BINARY_PATH=${CARGO_TARGET_DIR:-$REPO/target}/release/pgsyncbench
    [ -x "$HOST_BINARY_PATH" ] || die "no binary at $HOST_BINARY_PATH after cargo build"
}

# Hash of IMAGE's inputs, for the current PGSB_MODE; sets CTX_DIR, CTX_TAR, ARGS (array).
prepare() { # IMAGE
    local image=$1
    CTX_DIR=$WORK/$image-$PGSB_MODE
    CTX_TAR=$WORK/$image-$PGSB_MODE.tar
    rm -rf "$CTX_DIR"
    local defining
    defining=$(make_context "$image" "$CTX_DIR")
    context_tar "$CTX_DIR" "$CTX_TAR"
    HASH=$( {
        sha256sum <"$CTX_TAR"
        echo "base=$BASE_ID"
        echo "$defining"
    } | sha256sum | cut -c1-12)
}

docker_build() { # IMAGE LOGFILE DOCKER-BUILD-ARGS...
    local image=$1 logf=$2
    shift 2
    if [ "$VERBOSE" = 1 ]; then
        docker build "$@" - <"$CTX_TAR" 2>&1 | tee -a "$logf" >&2 ||
            die "$image: docker build failed"
    elif ! docker build "$@" - <"$CTX_TAR" >>"$logf" 2>&1; then
        tail -n 40 "$logf" >&2
        die "$image: docker build failed (last lines above)"
    fi
}

# Named stages (FROM ... AS NAME) are built and tagged first, as pgsyncbench/IMAGE-NAME:HASH:
# the build stage holds docker's layer cache (toolchain, compiled dependencies), and a tag keeps
# it from `docker image prune`, which removes untagged images.
stages_of() { sed -n 's/^FROM[[:space:]].*[[:space:]][Aa][Ss][[:space:]]\{1,\}\([A-Za-z0-9_.-]*\)[[:space:]]*$/\1/p' "$1"; }

build_image() { # IMAGE REF
    local image=$1 ref=$2 t logf stage
    t=$(now)
    logf=$WORK/$image.log
    : >"$logf"
    local args=(--build-arg "BASE_IMAGE=$BASE_REF" --label "pgsyncbench.inputs=$HASH"
        --label "pgsyncbench.base=$BASE_REF")
    if [ "$image" = pgsyncbench ]; then
        args+=(--build-arg "GIT_REVISION=$(git_revision)")
    fi
    log "$image: building $ref"
    for stage in $(stages_of "$CTX_DIR/Dockerfile"); do
        docker_build "$image" "$logf" "${args[@]}" --target "$stage" -t "pgsyncbench/$image-$stage:$HASH"
    done
    docker_build "$image" "$logf" "${args[@]}" -t "$ref"
    log "$image: built in $(since "$t") s"
}

for image in "${IMAGES[@]}"; do
    t=$(now)
    PGSB_MODE=image
    [ "$image" = pgsyncbench ] && [ "$HOST_BINARY" = 1 ] && PGSB_MODE=host
    [ "$PGSB_MODE" = host ] && build_host_binary
    prepare "$image"
    ref=pgsyncbench/$image:$HASH
    if [ "$FORCE" = 1 ] || ! image_exists "$ref"; then
        if [ "$image" = pgsyncbench ] && [ "$PGSB_MODE" = image ] && ! rust_reachable; then
            log "pgsyncbench: static.rust-lang.org cannot be reached to install a Rust toolchain" \
                "in the image; using a binary built on the host (as --host-binary)"
            PGSB_MODE=host
            build_host_binary
            prepare "$image"
            ref=pgsyncbench/$image:$HASH
        fi
    fi
    if [ "$FORCE" = 0 ] && image_exists "$ref"; then
        log "$image: $ref is up to date"
        state=cached
    else
        build_image "$image" "$ref"
        state=built
    fi
    docker tag "$ref" "pgsyncbench/$image:latest"
    SUMMARY+=("$ref $(since "$t") $state")
done

if [ "$PRUNE" = 1 ]; then
    # Keep the base, each image's current hash and its stages (pgsyncbench/IMAGE-STAGE:HASH).
    keep=" $BASE_REF pgsyncbench/base:${SUITE:-bookworm} "
    stage_keep=" "
    for line in "${SUMMARY[@]}"; do
        ref=${line%% *}
        keep+="$ref "
        stage_keep+="${ref%%:*}-*:${ref##*:} "
    done
    is_kept() {
        case $keep in *" $1 "*) return 0 ;; esac
        local pattern
        for pattern in $stage_keep; do
            # shellcheck disable=SC2254
            case $1 in $pattern) return 0 ;; esac
        done
        return 1
    }
    # twice: an image is removed only once no image built on it is left (the base last)
    for _ in 1 2; do
        docker image ls --format '{{.Repository}}:{{.Tag}}' 'pgsyncbench/*' |
            while read -r tagged; do
                case $tagged in *:latest | *"<none>"*) continue ;; esac
                is_kept "$tagged" && continue
                docker image rm "$tagged" >/dev/null 2>&1 && log "prune: removed $tagged"
            done
    done
fi

echo "image                                     seconds  state     size"
for line in "${SUMMARY[@]}"; do
    read -r ref secs state <<<"$line"
    size=$(docker image inspect -f '{{.Size}}' "$ref" | awk '{ printf "%.0f MB", $1 / 1e6 }')
    printf '%-41s %7s  %-8s %s\n' "$ref" "$secs" "${state:-base}" "$size"
done
echo "total: $(since "$T0") s"
