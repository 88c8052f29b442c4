#!/usr/bin/env bash
# Installs what pgsyncbench needs and is missing: PostgreSQL 15 (server + pgbench), etcd, Patroni,
# and kubernetes-validate for the Kubernetes manifests' test (tests/k8s.rs).
# Idempotent: each step checks first. Safe to run as root (CI) or with sudo available.
set -euo pipefail

PATRONI_VENV=${PATRONI_VENV:-/opt/pgsyncbench-patroni}
# tests/k8s.rs looks here too (PGSYNCBENCH_K8S_VENV); the version pins the bundled schemas.
K8S_VENV=${PGSYNCBENCH_K8S_VENV:-/opt/pgsyncbench-k8s-venv}
K8S_VALIDATE_VERSION=1.37.0
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

log() { echo "install-deps: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_pkgs=()
[ -x "$PG_BIN/postgres" ] || apt_pkgs+=(postgresql-15)
[ -x "$PG_BIN/pgbench" ] || apt_pkgs+=(postgresql-client-15)
command -v etcd >/dev/null 2>&1 || apt_pkgs+=(etcd-server)
[ -x /usr/bin/python3 ] || apt_pkgs+=(python3)
command -v openssl >/dev/null 2>&1 || apt_pkgs+=(openssl)
/usr/bin/python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_pkgs+=(python3-venv)

if [ ${#apt_pkgs[@]} -gt 0 ]; then
  log "installing Debian packages: ${apt_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  # The postgresql package would start a cluster on 5432; the harness starts its own servers.
  as_root mkdir -p /usr/sbin
  printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
  as_root chmod +x /usr/sbin/policy-rc.d
  as_root apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
  as_root rm -f /usr/sbin/policy-rc.d
fi

# Patroni runs as the postgres user when we are root, so it lives in a venv of Debian's python,
# which every user can read (root's pyenv python is not readable by postgres).
if ! [ -x "$PATRONI_VENV/bin/patroni" ]; then
  log "installing Patroni into $PATRONI_VENV"
  as_root /usr/bin/python3 -m venv "$PATRONI_VENV"
  as_root "$PATRONI_VENV/bin/pip" install -q --disable-pip-version-check 'patroni[etcd3]' psycopg2-binary
fi

# kubernetes-validate (PyPI; it bundles Kubernetes' JSON schemas) in a venv of its own. When it
# cannot be installed the other tests can still run: tests/k8s.rs fails and says why.
k8s_validate_version() { "$K8S_VENV/bin/kubernetes-validate" --version 2>/dev/null || echo missing; }
if [ "$(k8s_validate_version)" != "$K8S_VALIDATE_VERSION" ]; then
  log "installing kubernetes-validate $K8S_VALIDATE_VERSION into $K8S_VENV"
  if ! { [ -x "$K8S_VENV/bin/pip" ] || as_root /usr/bin/python3 -m venv "$K8S_VENV"; } ||
    ! as_root "$K8S_VENV/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$K8S_VALIDATE_VERSION"; then
    log "warning: could not install kubernetes-validate from PyPI; tests/k8s.rs will fail until it is installed"
  fi
fi

log "ok: postgres $("$PG_BIN/postgres" --version | awk '{print $3}'), etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}'), patroni $("$PATRONI_VENV/bin/patroni" --version | awk '{print $2}'), kubernetes-validate $(k8s_validate_version)"
