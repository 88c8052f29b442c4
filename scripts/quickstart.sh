#!/usr/bin/env bash
# README's main command: installs what is missing, builds, and measures a TPC-B load on a
# three-node Patroni lab cluster that it starts for the run and stops afterwards.
# Extra arguments go to `pgsyncbench run` (for example: -T 30 --sync-commit remote_apply).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --quiet
exec target/release/pgsyncbench run -c 8 -j 2 -T 10 -M prepared "$@"
