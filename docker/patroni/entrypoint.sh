#!/bin/sh
# Writes /tmp/patroni.yml from the environment and runs Patroni (as PID 1: Patroni then reaps
# orphans itself). Extra arguments are passed to patroni.
#
# Required (Patroni's own variables; never written to the file or printed):
#   PATRONI_SUPERUSER_PASSWORD    password of the superuser (PATRONI_SUPERUSER_USERNAME, default postgres)
#   PATRONI_REPLICATION_PASSWORD  password of the replication user (PATRONI_REPLICATION_USERNAME, default replicator)
# Optional:
#   PATRONI_NAME                  member name (default: the host name)
#   PATRONI_SCOPE                 cluster name (default pgsyncbench)
#   PATRONI_RESTAPI_USERNAME/PASSWORD  basic auth for Patroni's unsafe REST methods (default: none)
#   PGSB_CONNECT_HOST             address the other members and clients use for this member
#                                 (default: this container's first IP address)
#   PGSB_ETCD_HOSTS               etcd endpoints, comma separated (default etcd:2379)
#   PGSB_TTL, PGSB_LOOP_WAIT, PGSB_RETRY_TIMEOUT   bootstrap timing (default 20, 2, 5: fast tests)
#   PGSB_SYNCHRONOUS_MODE, PGSB_SYNCHRONOUS_MODE_STRICT   bootstrap (default true, false)
#   PGSB_MAX_CONNECTIONS          bootstrap max_connections (default 200)
#   PGSB_NOFAILOVER, PGSB_NOSYNC  member tags (default false)
# The bootstrap values only apply when the cluster is first made (they go to etcd as the dynamic
# configuration); change a running cluster through PATCH /config (pgsyncbench cluster apply).
# synchronous_commit is deliberately not set in the local postgresql.parameters: a local value
# would override the dynamic configuration, and PATCH /config would silently not apply.
set -eu

: "${PATRONI_SUPERUSER_PASSWORD:?set PATRONI_SUPERUSER_PASSWORD (the superuser password)}"
: "${PATRONI_REPLICATION_PASSWORD:?set PATRONI_REPLICATION_PASSWORD (the replication user password)}"

name=${PATRONI_NAME:-$(hostname)}
host=${PGSB_CONNECT_HOST:-$(hostname -i | awk '{print $1}')}
[ -n "$host" ] || { echo "patroni-entrypoint: cannot tell this container's address; set PGSB_CONNECT_HOST" >&2; exit 1; }
superuser=${PATRONI_SUPERUSER_USERNAME:-postgres}
replication=${PATRONI_REPLICATION_USERNAME:-replicator}

umask 077
cat >/tmp/patroni.yml <<YAML
scope: ${PATRONI_SCOPE:-pgsyncbench}
name: $name

restapi:
  listen: 0.0.0.0:8008
  connect_address: $host:8008

etcd3:
  hosts: ${PGSB_ETCD_HOSTS:-etcd:2379}

bootstrap:
  dcs:
    ttl: ${PGSB_TTL:-20}
    loop_wait: ${PGSB_LOOP_WAIT:-2}
    retry_timeout: ${PGSB_RETRY_TIMEOUT:-5}
    maximum_lag_on_failover: 1048576
    synchronous_mode: ${PGSB_SYNCHRONOUS_MODE:-true}
    synchronous_mode_strict: ${PGSB_SYNCHRONOUS_MODE_STRICT:-false}
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: ${PGSB_MAX_CONNECTIONS:-200}
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 128MB
  initdb:
  - encoding: UTF8
  - locale: C.UTF-8
  - data-checksums

postgresql:
  listen: 0.0.0.0:5432
  connect_address: $host:5432
  data_dir: ${PGDATA:-/var/lib/postgresql/data/pg15}
  bin_dir: /usr/lib/postgresql/15/bin
  pgpass: /tmp/pgpass
  authentication:
    superuser:
      username: $superuser
    replication:
      username: $replication
  pg_hba:
  - local all all trust
  - host replication $replication all scram-sha-256
  - host all all all scram-sha-256
  # no synchronous_commit here (see above)
  parameters:
    unix_socket_directories: /var/run/postgresql

tags:
  nofailover: ${PGSB_NOFAILOVER:-false}
  nosync: ${PGSB_NOSYNC:-false}
  noloadbalance: false
  clonefrom: false
YAML

echo "patroni-entrypoint: member $name of ${PATRONI_SCOPE:-pgsyncbench} at $host (etcd ${PGSB_ETCD_HOSTS:-etcd:2379})" >&2
exec patroni /tmp/patroni.yml "$@"
