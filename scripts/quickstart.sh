#!/usr/bin/env bash
# README's main command: installs what is missing, builds, starts a three-node Patroni lab
# cluster, runs a short five-mode sweep on it (workloads/quick.toml: off, local, remote_write,
# on, remote_apply), writes the results folder with its report and charts, and stops the lab.
# Extra arguments go to `pgsyncbench sweep` (for example: --repeat 3 -T 30).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --quiet
exec target/release/pgsyncbench sweep --plan workloads/quick.toml "$@"
