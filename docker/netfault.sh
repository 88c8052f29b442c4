#!/usr/bin/env bash
# Cuts a service of the compose cluster off its network, or puts it back as it was.
#
#   docker/netfault.sh cut SERVICE     # docker network disconnect (the container keeps running)
#   docker/netfault.sh heal SERVICE    # docker network connect, same address and DNS names
#   docker/netfault.sh heal all        # every service this script cut and did not put back
#
# SERVICE: etcd, node1, node2, node3, haproxy, or a Patroni role: leader, sync_standby, replica
# (the first member with that role in GET /cluster, asked of PATRONI_URLS, default the three
# members' REST ports published on 127.0.0.1). A plain `docker network connect` would give the
# container another address and drop its service name from Docker's DNS, and a member advertises
# its address to the others (Patroni's connect_address): heal restores both. What was cut is
# kept in /tmp/pgsyncbench-netfault/ between cut and heal.
# Containers are found by compose's labels (docker ps, not docker-compose: quicker, so a
# scenario's shell action fires when it says).
# Environment: COMPOSE_PROJECT_NAME (default: the one docker/.env names), PATRONI_URLS.
set -euo pipefail
DOCKER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT=${COMPOSE_PROJECT_NAME:-$(sed -n 's/^COMPOSE_PROJECT_NAME=//p' "$DOCKER_DIR/.env" 2>/dev/null)}
PROJECT=${PROJECT:-pgsyncbench}
STATE_DIR=/tmp/pgsyncbench-netfault
PATRONI_URLS=${PATRONI_URLS:-http://127.0.0.1:${PGSB_PORT_NODE1_API:-18008} http://127.0.0.1:${PGSB_PORT_NODE2_API:-18009} http://127.0.0.1:${PGSB_PORT_NODE3_API:-18010}}

usage() {
    awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0" >&2
    exit 2
}
die() {
    echo "netfault: $*" >&2
    exit 1
}
[ $# -eq 2 ] || usage
action=$1 service=$2

member_with_role() { # ROLE -> member name, from the first member that answers
    local url json
    for url in $PATRONI_URLS; do
        json=$(curl -fsS --max-time 2 "$url/cluster" 2>/dev/null) || continue
        python3 -c '
import json, sys
names = [m["name"] for m in json.loads(sys.argv[1]).get("members", []) if m.get("role") == sys.argv[2]]
print(names[0] if names else "")' "$json" "$1"
        return 0
    done
    die "no member answered GET /cluster at $PATRONI_URLS"
}

project_containers() { # [SERVICE] -> full ids of the project's running containers
    local filters=(--filter "label=com.docker.compose.project=$PROJECT")
    [ $# -eq 0 ] || filters+=(--filter "label=com.docker.compose.service=$1")
    docker ps -q --no-trunc "${filters[@]}"
}

container_of() { # SERVICE -> container id
    local id
    id=$(project_containers "$1" | head -n 1)
    [ -n "$id" ] || die "no running container for service '$1' of project $PROJECT (is the cluster up?)"
    echo "$id"
}

cut() { # SERVICE
    local service=$1 id state nets net ip aliases
    id=$(container_of "$service")
    state=$STATE_DIR/$id
    nets=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$id")
    [ -n "${nets// /}" ] || die "$service is on no network (already cut?)"
    mkdir -p "$STATE_DIR"
    echo "# $service" >"$state"
    for net in $nets; do
        ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$id")
        aliases=$(docker inspect -f "{{range (index .NetworkSettings.Networks \"$net\").Aliases}}{{.}} {{end}}" "$id")
        echo "$net $ip $aliases" >>"$state"
        docker network disconnect "$net" "$id"
        echo "netfault: $service cut off $net (was $ip)"
    done
}

heal_state() { # STATE_FILE
    local state=$1 id service net ip aliases a args
    id=$(basename "$state")
    service=$(sed -n '1s/^# //p' "$state")
    while read -r net ip aliases; do
        case $net in '#'*) continue ;; esac
        args=(--ip "$ip")
        for a in $aliases; do args+=(--alias "$a"); done
        docker network connect "${args[@]}" "$net" "$id"
        echo "netfault: $service back on $net at $ip"
    done <"$state"
    rm -f "$state"
}

case $service in
leader | sync_standby | replica)
    [ "$action" = cut ] || die "heal takes a service name or 'all' (roles change while a member is cut off)"
    role=$service
    service=$(member_with_role "$role")
    [ -n "$service" ] || die "no member has the role $role now"
    ;;
esac

case $action in
cut) cut "$service" ;;
heal)
    if [ "$service" = all ]; then
        found=0
        # this compose project's containers only (full ids, as the records are named)
        ours=" $(project_containers | tr '\n' ' ') "
        for state in "$STATE_DIR"/*; do
            [ -f "$state" ] || continue
            case $ours in *" $(basename "$state") "*) ;; *) continue ;; esac
            heal_state "$state"
            found=1
        done
        [ "$found" = 1 ] || echo "netfault: nothing to heal"
    else
        id=$(container_of "$service")
        [ -f "$STATE_DIR/$id" ] || die "no record of cutting $service ($STATE_DIR/$id); nothing to heal"
        heal_state "$STATE_DIR/$id"
    fi
    ;;
*) usage ;;
esac
