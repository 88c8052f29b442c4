#!/usr/bin/env bash
# Makes the Debian base image every pgsyncbench image builds FROM, without a registry:
# debootstrap (minbase) into a temporary folder from the Debian mirror this machine's apt sources
# name, then `docker import`.
#
#   docker/build-base.sh [--force] [--dry-run]
#
# Tags: pgsyncbench/base:<suite>-<hash> and pgsyncbench/base:<suite>. <hash> covers this
# script's code (not its comments), the suite, the architecture and the mirrors, so the image is
# made again only when one of them changes (or with --force); otherwise the script only checks
# the tags and exits in well under a second. debootstrap's output is not byte-reproducible: the hash names the recipe, not the bytes.
#
# Environment:
#   SUITE          Debian suite (default bookworm)
#   DEBIAN_MIRROR  Debian mirror URI, in place of the one read from the apt sources
#   DEBIAN_SECURITY_MIRROR  security mirror URI (default: read from the apt sources, else none)
# Prints the image reference (pgsyncbench/base:<suite>-<hash>) as the last line of stdout.
set -euo pipefail

SUITE=${SUITE:-bookworm}
FORCE=0
DRY_RUN=0
for arg in "$@"; do
    case $arg in
    --force) FORCE=1 ;;
    --dry-run) DRY_RUN=1 ;;
    -h | --help)
        awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"
        exit 0
        ;;
    *)
        echo "build-base.sh: unknown argument '$arg' (try --help)" >&2
        exit 2
        ;;
    esac
done

log() { echo "build-base: $*" >&2; }
die() {
    echo "build-base: error: $*" >&2
    exit 1
}

# --- the machine's apt sources ---------------------------------------------------------------
# Prints "URI SUITE" for every enabled `deb` entry of /etc/apt/sources.list, sources.list.d/*.list
# (one-line format) and sources.list.d/*.sources (deb822). Comments are ignored.
apt_entries() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [options] URI SUITE COMPONENT...
        sed -e 's/#.*//' "$f" | awk '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if (i + 1 <= NF) print $i, $(i + 1)
            }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822: a line starting with '#' is a comment and does not end a stanza.
        sed -e '/^[[:space:]]*#/d' "$f" | awk '
            function flush(   i, j, nu, ns, u, s) {
                if (types ~ /(^| )deb( |$)/ && enabled !~ /^[Nn][Oo]/) {
                    nu = split(uris, u, " "); ns = split(suites, s, " ")
                    for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
                }
                types = uris = suites = enabled = ""; field = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ { # continuation of the previous field
                v = $0; sub(/^[ \t]+/, "", v)
                if (field == "uris") uris = uris " " v
                else if (field == "suites") suites = suites " " v
                next
            }
            {
                key = tolower($1); sub(/:$/, "", key)
                v = $0; sub(/^[^:]*:[ \t]*/, "", v)
                field = key
                if (key == "types") types = v
                else if (key == "uris") uris = v
                else if (key == "suites") suites = v
                else if (key == "enabled") enabled = v
            }
            END { flush() }'
    done
}

# A Debian archive mirror serves dists/<suite>/Release with "Origin: Debian". Prints "yes", "no",
# or "unknown" when the Release file cannot be fetched (no curl, or offline).
debian_archive() {
    local uri=$1 suite=$2 release
    if ! command -v curl >/dev/null ||
        ! release=$(curl -fsS --max-time 15 "${uri%/}/dists/$suite/Release" 2>/dev/null); then
        echo unknown
    elif grep -q '^Origin: Debian' <<<"$release"; then
        echo yes
    else
        echo no
    fi
}

# SUITE -> the first enabled http(s) entry for exactly that suite whose Release says it is
# Debian's; when none can be checked (offline), the first such entry whose path ends in /debian
# or /debian-security, the layout of deb.debian.org and Debian's mirrors.
pick_mirror() {
    local suite=$1 uri s fallback=""
    while read -r uri s; do
        [ "$s" = "$suite" ] || continue
        case $uri in http://* | https://*) ;; *) continue ;; esac
        case $(debian_archive "$uri" "$suite") in
        yes)
            echo "${uri%/}"
            return 0
            ;;
        unknown)
            case ${uri%/} in */debian | */debian-security) [ -n "$fallback" ] || fallback=${uri%/} ;; esac
            ;;
        esac
    done < <(apt_entries)
    [ -n "$fallback" ] || return 1
    log "could not fetch $fallback/dists/$suite/Release to check it; using it as the apt sources name it"
    echo "$fallback"
}

if [ -z "${DEBIAN_MIRROR:-}" ]; then
    DEBIAN_MIRROR=$(pick_mirror "$SUITE") || die "no Debian mirror for '$SUITE' in /etc/apt/sources.list or \
/etc/apt/sources.list.d/*.list / *.sources (looked for an enabled 'deb' entry with suite '$SUITE' whose \
dists/$SUITE/Release says 'Origin: Debian'). Add one to the apt sources, or set DEBIAN_MIRROR=http://<mirror>/debian"
fi
if [ -z "${DEBIAN_SECURITY_MIRROR+set}" ]; then
    DEBIAN_SECURITY_MIRROR=$(pick_mirror "$SUITE-security" || true)
fi
HAS_UPDATES=0
apt_entries | grep -qx "[^ ]* $SUITE-updates" && HAS_UPDATES=1

ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
INCLUDE=ca-certificates

# The script's code counts, not its comments: editing a comment does not make the base again
# (and, through the base's id, every image).
HASH=$( {
    grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$0"
    printf '%s\n' "$SUITE" "$ARCH" "$DEBIAN_MIRROR" "$DEBIAN_SECURITY_MIRROR" "$HAS_UPDATES" "$INCLUDE"
} | sha256sum | cut -c1-12)
REF=pgsyncbench/base:$SUITE-$HASH
if [ "$DRY_RUN" = 1 ]; then
    log "mirror $DEBIAN_MIRROR, security ${DEBIAN_SECURITY_MIRROR:-none}, $SUITE-updates $HAS_UPDATES"
    echo "$REF"
    exit 0
fi

if [ "$FORCE" = 0 ] && docker image inspect "$REF" >/dev/null 2>&1; then
    log "$REF exists (mirror $DEBIAN_MIRROR)"
    docker tag "$REF" "pgsyncbench/base:$SUITE"
    echo "$REF"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "debootstrap needs root (run as root or with sudo)"
if ! command -v debootstrap >/dev/null; then
    log "installing the Debian package debootstrap"
    apt-get install -y -q debootstrap >&2 || { apt-get update -q >&2 && apt-get install -y -q debootstrap >&2; }
fi

KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$KEYRING" ] || die "$KEYRING is missing (Debian package debian-archive-keyring)"

ROOTFS_PARENT=$(mktemp -d /var/tmp/pgsyncbench-base.XXXXXX)
trap 'rm -rf --one-file-system "$ROOTFS_PARENT"' EXIT
ROOTFS=$ROOTFS_PARENT/rootfs

log "debootstrap $SUITE ($ARCH, minbase) from $DEBIAN_MIRROR into $ROOTFS"
start=$(date +%s)
debootstrap --variant=minbase --arch="$ARCH" --include="$INCLUDE" --keyring="$KEYRING" \
    "$SUITE" "$ROOTFS" "$DEBIAN_MIRROR" >"$ROOTFS_PARENT/debootstrap.log" 2>&1 ||
    {
        tail -n 30 "$ROOTFS_PARENT/debootstrap.log" >&2
        die "debootstrap failed (log above)"
    }

# apt sources of the image: the same mirrors as this machine's.
{
    echo "deb $DEBIAN_MIRROR $SUITE main"
    [ "$HAS_UPDATES" = 1 ] && echo "deb $DEBIAN_MIRROR $SUITE-updates main"
    [ -n "$DEBIAN_SECURITY_MIRROR" ] && echo "deb $DEBIAN_SECURITY_MIRROR $SUITE-security main"
} >"$ROOTFS/etc/apt/sources.list"

# What Debian's own container images do: no services started by package scripts, no
# recommended packages, no documentation, no apt caches left in layers.
cat >"$ROOTFS/usr/sbin/policy-rc.d" <<'EOF'
#!/bin/sh
# No services are started by package scripts inside an image.
exit 101
EOF
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
cat >"$ROOTFS/etc/apt/apt.conf.d/90pgsyncbench" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/90pgsyncbench" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
# Updates and security fixes newer than the suite's point release, applied in the folder (one
# layer; an upgrade in a `docker build` step would keep the replaced files in the layer below).
log "debootstrap took $(($(date +%s) - start)) s; apt-get upgrade in the rootfs (updates and security fixes)"
t=$(date +%s)
cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
{
    chroot "$ROOTFS" apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive chroot "$ROOTFS" apt-get upgrade -y -q
} >"$ROOTFS_PARENT/upgrade.log" 2>&1 || {
    tail -n 30 "$ROOTFS_PARENT/upgrade.log" >&2
    die "apt-get upgrade in the rootfs failed (log above)"
}


find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/var/cache/apt/* \
    "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* "$ROOTFS"/tmp/*
find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
# Per-container files docker provides itself.
: >"$ROOTFS/etc/hostname"
: >"$ROOTFS/etc/resolv.conf"
rm -f "$ROOTFS/etc/machine-id" && : >"$ROOTFS/etc/machine-id"

log "upgrade took $(($(date +%s) - t)) s; docker import as $REF"
t=$(date +%s)
tar --numeric-owner -C "$ROOTFS" -c . |
    docker import \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["bash"]' \
        --message "debootstrap --variant=minbase $SUITE $DEBIAN_MIRROR, upgraded" \
        - "$REF" >/dev/null
docker tag "$REF" "pgsyncbench/base:$SUITE"
log "import took $(($(date +%s) - t)) s; done in $(($(date +%s) - start)) s: $REF ($(docker image inspect -f '{{.Size}}' "$REF" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$REF"
