#!/usr/bin/env bash
# How exact the lab's injected delay is. For each round trip R, on a 2-node lab (the leader and
# this machine in zone a, the synchronous standby in zone b; as root, a lab in zones) it prints
# the round trip measured between the zones, and what a commit pays for waiting on the
# standby at 1 client: median latency under synchronous_commit=remote_write minus under local
# (the standby's acknowledgement of a write: expect about R) and under on minus under local
# (R plus the standby's own WAL flush). Without root it falls back to a lab with replication
# relays on loopback (no probe).
#
#   scripts/bench-delay.sh                          # R in 0 0.5 1 2 10 ms, 10 s per run
#   RTTS="0 1 5" SECONDS_PER_RUN=20 scripts/bench-delay.sh
set -euo pipefail

RTTS=${RTTS:-"0 0.5 1 2 10"}
SECS=${SECONDS_PER_RUN:-10}
here=$(cd "$(dirname "$0")/.." && pwd)

"$here/scripts/install-deps.sh"
(cd "$here" && cargo build --release --quiet)
ours="$here/target/release/pgsyncbench"

dir=$(mktemp -u /tmp/pgsyncbench-delay.XXXXXX)
cleanup() {
  "$ours" lab down --dir "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir.json" "$dir.urls" "$dir.out"
}
trap cleanup EXIT INT TERM

if [ "$(id -u)" -eq 0 ]; then
  how=zones
  "$ours" lab up --fast --nodes 2 --zones a,b --zone-rtt 0 --dir "$dir" >"$dir.urls"
else
  how=relays
  "$ours" lab up --fast --nodes 2 --relays --dir "$dir" >"$dir.urls"
fi
patroni=$(sed -n 1p "$dir.urls")
leader=$(sed -n 2p "$dir.urls")
rm -f "$dir.urls"
"$ours" init -s 1 -q -d "$leader" >/dev/null

p50_ms() { # mode → median latency (ms) of a 1-client run
  "$ours" run --patroni "$patroni" -c 1 -T "$SECS" --sync-commit "$1" --out "$dir.out" --json "$dir.json" >/dev/null 2>&1
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["latency_ms"]["p50"])' "$dir.json"
}

echo "lab with $how; ${SECS} s per run, 1 client, tpcb-like, scale 1"
echo
echo "| R (ms) | probe p50 (ms) | probe p99 (ms) | local p50 (ms) | remote_write − local (ms) | on − local (ms) |"
echo "|---|---|---|---|---|---|"
for r in $RTTS; do
  "$ours" lab rtt "$r" --dir "$dir" 2>/dev/null
  if [ "$how" = zones ]; then
    read -r p50 p99 < <("$ours" lab probe --dir "$dir" |
      sed -n 's/.*p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms.*/\1 \2/p' | head -1)
  else
    p50=-; p99=-
  fi
  local_ms=$(p50_ms local)
  write_ms=$(p50_ms remote_write)
  on_ms=$(p50_ms on)
  printf '| %s | %s | %s | %.3f | %.3f | %.3f |\n' "$r" "$p50" "$p99" "$local_ms" \
    "$(python3 -c "print($write_ms - $local_ms)")" "$(python3 -c "print($on_ms - $local_ms)")"
done
