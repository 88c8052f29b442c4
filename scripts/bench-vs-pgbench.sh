#!/usr/bin/env bash
# Runs pgbench and pgsyncbench alternately on the same throwaway PostgreSQL and tables, and prints,
# per workload, the TPS ratio (pgsyncbench / pgbench) and client CPU (user+sys of the client
# process) per 1000 transactions for both tools. Quote ratios from one run, never absolute figures
# from different runs: the load generator and the server share this machine's CPUs.
#
# Then, per workload, the same pairs at a fixed rate (-R) and through a script file (-f):
# - at a quarter of pgsyncbench's closed-loop TPS, both tools' mean schedule lag;
# - at 90% of it, pgsyncbench's client CPU per transaction against its own closed loop;
# - the built-in's text as a -f file (pgsyncbench's interpreter), TPS and CPU ratios.
#
#   scripts/bench-vs-pgbench.sh            # 3 pairs of 10 s per workload, scale 10, -c 8 -j 2
#   PAIRS=5 SECONDS_PER_RUN=15 scripts/bench-vs-pgbench.sh
set -euo pipefail

PAIRS=${PAIRS:-3}
SECS=${SECONDS_PER_RUN:-10}
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
WORKLOADS=${WORKLOADS:-"select-only tpcb-like"}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
here=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=scripts/throwaway-pg.sh
. "$here/scripts/throwaway-pg.sh"
echo "server: PostgreSQL on 127.0.0.1:$port; loading scale $SCALE with pgbench -i" >&2
"$PG_BIN/pgbench" -i -q -s "$SCALE" "${conn[@]}" postgres >/dev/null 2>&1

# run TOOL WORKLOAD [EXTRA ARGS...] -> prints "tps cpu_seconds transactions lag_ms"
# (WORKLOAD is a built-in's name, or file:PATH for a script file)
run() {
  local tool=$1 workload=$2 out="$work/out" t="$work/time"
  shift 2
  local script=(-b "$workload")
  [ "${workload#file:}" != "$workload" ] && script=(-f "${workload#file:}")
  local args=("${script[@]}" -M prepared -c "$CLIENTS" -j "$THREADS" -T "$SECS" "$@" "${conn[@]}")
  if [ "$tool" = pgbench ]; then
    /usr/bin/time -f "%U %S" -o "$t" "$PG_BIN/pgbench" "${args[@]}" postgres >"$out" 2>/dev/null
  else
    /usr/bin/time -f "%U %S" -o "$t" "$ours" run "${args[@]}" >"$out" 2>/dev/null
  fi
  local tps txns cpu lag
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out")
  txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
  lag=$(sed -n 's/^rate limit schedule lag: avg \([0-9.]*\).*/\1/p' "$out")
  cpu=$(awk '{print $1 + $2}' "$t")
  echo "$tps $cpu $txns ${lag:-0}"
}

results="$work/results"
: >"$results"
for workload in $WORKLOADS; do
  for pair in $(seq 1 "$PAIRS"); do
    # Alternate which tool goes first, so drift favours neither.
    if [ $((pair % 2)) -eq 1 ]; then order="pgbench pgsyncbench"; else order="pgsyncbench pgbench"; fi
    for tool in $order; do
      read -r tps cpu txns _ < <(run "$tool" "$workload")
      echo "$workload pair $pair $tool: tps $tps, client cpu $cpu s for $txns transactions" >&2
      echo "$workload $tool $tps $cpu $txns" >>"$results"
    done
  done
done

echo
printf '%-12s %12s %12s %9s %18s %18s %9s\n' workload "pgbench tps" "ours tps" "tps ratio" "pgbench cpu/1k tx" "ours cpu/1k tx" "cpu ratio"
for workload in $WORKLOADS; do
  awk -v w="$workload" '
    $1 == w { tps[$2] += $3; cpu[$2] += $4; tx[$2] += $5; n[$2]++ }
    END {
      pt = tps["pgbench"] / n["pgbench"]; ot = tps["pgsyncbench"] / n["pgsyncbench"]
      pc = 1e6 * cpu["pgbench"] / tx["pgbench"]; oc = 1e6 * cpu["pgsyncbench"] / tx["pgsyncbench"]
      printf "%-12s %12.0f %12.0f %9.3f %15.1f ms %15.1f ms %9.3f\n", w, pt, ot, ot / pt, pc, oc, oc / pc
    }' "$results"
done
echo "(means over $PAIRS pairs of ${SECS} s; -M prepared -c $CLIENTS -j $THREADS, scale $SCALE; cpu = user+sys of the client process)"

# Fixed rate and script files, per workload.
rated="$work/rated"
: >"$rated"
for workload in $WORKLOADS; do
  closed=$(awk -v w="$workload" '$1 == w && $2 == "pgsyncbench" { s += $3; n++ } END { printf "%d", s / n }' "$results")
  low=$((closed / 4)) high=$((closed * 9 / 10))
  "$PG_BIN/pgbench" --show-script="$workload" 2>&1 | sed '1d' >"$work/$workload.sql"
  for pair in $(seq 1 "$PAIRS"); do
    if [ $((pair % 2)) -eq 1 ]; then order="pgbench pgsyncbench"; else order="pgsyncbench pgbench"; fi
    for tool in $order; do
      read -r tps cpu txns lag < <(run "$tool" "$workload" -R "$low")
      echo "$workload pair $pair $tool -R $low: tps $tps, schedule lag $lag ms" >&2
      echo "$workload low $tool $tps $cpu $txns $lag" >>"$rated"
      read -r tps cpu txns lag < <(run "$tool" "file:$work/$workload.sql")
      echo "$workload pair $pair $tool -f: tps $tps, client cpu $cpu s for $txns transactions" >&2
      echo "$workload file $tool $tps $cpu $txns $lag" >>"$rated"
    done
    read -r tps cpu txns lag < <(run pgsyncbench "$workload" -R "$high")
    echo "$workload pair $pair pgsyncbench -R $high: tps $tps, client cpu $cpu s for $txns transactions" >&2
    echo "$workload high pgsyncbench $tps $cpu $txns $lag" >>"$rated"
  done
  echo "$workload $low $high" >>"$work/rates"
done

echo
printf '%-12s %10s %16s %14s %9s %16s %14s %14s\n' workload "-R low" "pgbench lag ms" "ours lag ms" "-R high" "cpu/tx vs closed" "-f tps ratio" "-f cpu ratio"
while read -r workload low high; do
  awk -v w="$workload" -v low="$low" -v high="$high" '
    FILENAME == ARGV[1] && $1 == w && $2 == "pgsyncbench" { ccpu += $4; ctx += $5 }
    FILENAME == ARGV[2] && $1 == w { k = $2 "/" $3; tps[k] += $4; cpu[k] += $5; tx[k] += $6; lag[k] += $7; n[k]++ }
    END {
      closed = ccpu / ctx
      printf "%-12s %10d %16.3f %14.3f %9d %16.3f %14.3f %14.3f\n", w, low,
        lag["low/pgbench"] / n["low/pgbench"], lag["low/pgsyncbench"] / n["low/pgsyncbench"], high,
        (cpu["high/pgsyncbench"] / tx["high/pgsyncbench"]) / closed,
        (tps["file/pgsyncbench"] / n["file/pgsyncbench"]) / (tps["file/pgbench"] / n["file/pgbench"]),
        (cpu["file/pgsyncbench"] / tx["file/pgsyncbench"]) / (cpu["file/pgbench"] / tx["file/pgbench"])
    }' "$results" "$rated"
done <"$work/rates"
echo "(-R low: a quarter of pgsyncbench's closed-loop TPS; -R high: 90% of it, client CPU per transaction against its closed loop; -f: the built-in's text as a script file, pgsyncbench / pgbench)"
