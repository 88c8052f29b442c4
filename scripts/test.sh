#!/usr/bin/env bash
# The test command: installs what is missing (PostgreSQL 15, etcd, Patroni), then runs every test.
# Tests start their own PostgreSQL servers and lab clusters on loopback and stop them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
