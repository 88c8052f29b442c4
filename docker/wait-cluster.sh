#!/usr/bin/env bash
# Waits until the compose cluster is ready: GET /cluster shows a leader, a sync_standby and the
# other members as replicas, every standby streaming. Prints the seconds it waited and the
# members; exits 1 on timeout, printing what it saw last.
#
#   docker/wait-cluster.sh [URL] [TIMEOUT_SECONDS]
#
# URL: a member's Patroni REST API (default http://127.0.0.1:18008, node1 as compose.yaml
# publishes it); TIMEOUT_SECONDS default 120. MEMBERS (default 3): how many members to expect.
set -euo pipefail
URL=${1:-http://127.0.0.1:${PGSB_PORT_NODE1_API:-18008}}
TIMEOUT=${2:-120}
MEMBERS=${MEMBERS:-3}
command -v curl >/dev/null || { echo "wait-cluster: curl is needed" >&2; exit 2; }
command -v python3 >/dev/null || { echo "wait-cluster: python3 is needed" >&2; exit 2; }

start=$(date +%s.%N)
last=""
while :; do
    if json=$(curl -fsS --max-time 2 "$URL/cluster" 2>/dev/null); then
        last=$json
        if python3 -c '
import json, sys
members = json.loads(sys.argv[1]).get("members", [])
roles = [m.get("role") for m in members]
standbys = [m for m in members if m.get("role") != "leader"]
ok = (len(members) == int(sys.argv[2]) and roles.count("leader") == 1
      and "sync_standby" in roles
      and all(m.get("state") == "streaming" for m in standbys))
sys.exit(0 if ok else 1)' "$json" "$MEMBERS"; then
            break
        fi
    fi
    if awk -v s="$start" -v n="$(date +%s.%N)" -v t="$TIMEOUT" 'BEGIN { exit !(n - s > t) }'; then
        echo "wait-cluster: not ready after ${TIMEOUT} s; last GET $URL/cluster: ${last:-no answer}" >&2
        exit 1
    fi
    sleep 0.5
done
awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "wait-cluster: ready after %.1f s\n", n - s }'
python3 -c '
import json, sys
for m in json.loads(sys.argv[1])["members"]:
    print("  %-6s %-13s %-10s %s:%s  timeline %s  lag %s" % (m["name"], m["role"], m["state"],
          m.get("host"), m.get("port"), m.get("timeline", "-"), m.get("lag", 0)))' "$last"
