#!/usr/bin/env bash
# Cuts a service of the compose cluster off its network, or puts it back as it was.
#
#   docker/netfault.sh cut SERVICE     # docker network disconnect (the container keeps running)
#   docker/netfault.sh heal SERVICE    # docker network connect, same address and DNS names
#
# SERVICE: etcd, node1, node2, node3, haproxy. A plain `docker network connect` would give the
# container another address and drop its service name from Docker's DNS, and a member advertises
# its address to the others (Patroni's connect_address): heal restores both. The address and
# names are kept in /tmp/pgsyncbench-netfault/ between cut and heal.
# Environment: COMPOSE_FILE (default: docker/compose.yaml beside this script),
# COMPOSE_PROJECT_NAME (default: from docker/.env).
set -euo pipefail
DOCKER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COMPOSE=(docker-compose -f "${COMPOSE_FILE:-$DOCKER_DIR/compose.yaml}")
STATE_DIR=/tmp/pgsyncbench-netfault

usage() {
    sed -n '2,12p' "$0" >&2
    exit 2
}
[ $# -eq 2 ] || usage
action=$1 service=$2
id=$("${COMPOSE[@]}" ps -q "$service" 2>/dev/null || true)
[ -n "$id" ] || {
    echo "netfault: no running container for service '$service' (is the cluster up?)" >&2
    exit 1
}
state=$STATE_DIR/$id

case $action in
cut)
    nets=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$id")
    [ -n "${nets// /}" ] || {
        echo "netfault: $service is on no network (already cut?)" >&2
        exit 1
    }
    mkdir -p "$STATE_DIR"
    : >"$state"
    for net in $nets; do
        ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$id")
        aliases=$(docker inspect -f "{{range (index .NetworkSettings.Networks \"$net\").Aliases}}{{.}} {{end}}" "$id")
        echo "$net $ip $aliases" >>"$state"
        docker network disconnect "$net" "$id"
        echo "netfault: $service cut off $net (was $ip)"
    done
    ;;
heal)
    [ -f "$state" ] || {
        echo "netfault: no record of cutting $service ($state); nothing to heal" >&2
        exit 1
    }
    while read -r net ip aliases; do
        args=(--ip "$ip")
        for a in $aliases; do args+=(--alias "$a"); done
        docker network connect "${args[@]}" "$net" "$id"
        echo "netfault: $service back on $net at $ip"
    done <"$state"
    rm -f "$state"
    ;;
*) usage ;;
esac
