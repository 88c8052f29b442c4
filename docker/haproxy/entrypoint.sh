#!/bin/sh
# Writes haproxy.cfg for the members in HAPROXY_MEMBERS, then runs HAProxy in the foreground.
# Extra arguments go to haproxy (e.g. -d for debug output).
set -eu
cfg=/tmp/haproxy.cfg
servers() { # one server line per member, health-checked through Patroni's REST port
    for m in $HAPROXY_MEMBERS; do
        echo "    server $m $m:$HAPROXY_PG_PORT check port $HAPROXY_CHECK_PORT resolvers docker init-addr last,libc,none"
    done
}
cat >"$cfg" <<CFG
global
    maxconn 2000
    log stdout format raw local0 info

# Docker's embedded DNS: members are found by name even when they start after HAProxy, and a
# member cut off the network (docker network disconnect) stops resolving until it is back.
resolvers docker
    nameserver dns 127.0.0.11:53
    resolve_retries 2
    timeout resolve 1s
    timeout retry 1s
    hold valid 2s
    hold nx 1s
    hold obsolete 2s

defaults
    mode tcp
    log global
    option dontlognull
    retries 2
    timeout connect 4s
    timeout client 30m
    timeout server 30m
    timeout check 2s
    # a member that stops passing the check loses its sessions at once, so clients reconnect
    # to the new primary instead of talking to a demoted one
    default-server inter 1s fastinter 500ms downinter 1s fall 2 rise 2 on-marked-down shutdown-sessions

listen stats
    mode http
    bind *:7000
    stats enable
    stats uri /
    stats refresh 2s

listen primary
    bind *:5000
    option httpchk GET /primary
    http-check expect status 200
$(servers)

listen replicas
    bind *:5001
    balance roundrobin
    option httpchk GET /replica
    http-check expect status 200
$(servers)
CFG
exec haproxy -W -db -f "$cfg" "$@"
