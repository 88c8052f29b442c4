#!/usr/bin/env bash
# Scale-out: select-only TPS with 1, 2 and 4 load generators (separate pgsyncbench processes,
# started together with --start-at and combined with `merge`) against one throwaway PostgreSQL,
# the same total clients and worker threads each time (THREADS split among them); printed as ratios to one generator, rounds interleaved.
# Then the time `merge` takes for 4 generators' results of MERGE_SECONDS each.
# On one machine the generators share its CPUs with the server: the ratios say what the merge
# path costs or gains here, not what separate machines would reach.
#
#   scripts/bench-generators.sh                 # 3 rounds of 10 s, 8 clients, 4 threads, scale 10
#   ROUNDS=5 SECONDS_PER_RUN=20 CLIENTS=16 scripts/bench-generators.sh
set -euo pipefail

ROUNDS=${ROUNDS:-3}
SECS=${SECONDS_PER_RUN:-10}
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-4}
MERGE_SECS=${MERGE_SECONDS:-60}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
here=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=scripts/throwaway-pg.sh
. "$here/scripts/throwaway-pg.sh"
echo "server: PostgreSQL on 127.0.0.1:$port; loading scale $SCALE" >&2
"$ours" init -q -s "$SCALE" "${conn[@]}" >/dev/null

# generators N SECONDS -> prints the merged TPS (for N = 1, the one result's)
generators() {
  local n=$1 secs=$2 start pids=() files=() k
  start=$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc) + d.timedelta(seconds=2)).isoformat(timespec="milliseconds").replace("+00:00", "Z"))')
  for k in $(seq 1 "$n"); do
    "$ours" run -b select-only -M prepared -c $((CLIENTS / n)) -j $(((THREADS + n - 1) / n)) -T "$secs" "${conn[@]}" \
      --generator "gen-$k" --start-at "$start" --json "$work/gen-$k.json" >/dev/null 2>&1 &
    pids+=($!)
    files+=("$work/gen-$k.json")
  done
  for k in "${pids[@]}"; do wait "$k"; done
  if [ "$n" -eq 1 ]; then
    cp "$work/gen-1.json" "$work/merged.json"
  else
    "$ours" merge "${files[@]}" --json "$work/merged.json" >/dev/null
  fi
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["summary"]["tps"])' "$work/merged.json"
}

declare -A tps
for round in $(seq 1 "$ROUNDS"); do
  for n in 1 2 4; do
    t=$(generators "$n" "$SECS")
    tps[$n]="${tps[$n]:-} $t"
    echo "round $round: $n generator(s), $CLIENTS clients: $t TPS" >&2
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
one=$(echo "${tps[1]}" | median)
echo "select-only, $CLIENTS clients and $THREADS threads in all, scale $SCALE, median of $ROUNDS rounds of $SECS s:"
for n in 1 2 4; do
  m=$(echo "${tps[$n]}" | median)
  python3 -c 'import sys; n, m, one = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]); print(f"  {n} generator(s): {m:9.0f} TPS  ratio to one {m / one:.3f}")' "$n" "$m" "$one"
done

echo "merge: 4 generators' results of $MERGE_SECS s each" >&2
generators 4 "$MERGE_SECS" >/dev/null
files=("$work"/gen-{1,2,3,4}.json)
t0=$(date +%s.%N)
"$ours" merge "${files[@]}" --json "$work/merged.json" >/dev/null
t1=$(date +%s.%N)
size=$(du -ck "${files[@]}" | tail -n 1 | cut -f 1)
python3 -c 'import sys; print(f"merge of 4 results of {sys.argv[3]} s ({sys.argv[4]} KiB in all): {float(sys.argv[2]) - float(sys.argv[1]):.3f} s")' "$t0" "$t1" "$MERGE_SECS" "$size"
