# Sourced by the benchmark scripts: builds the release binary ($ours) and starts a throwaway
# PostgreSQL on loopback in a temporary folder ($work), stopped and removed on exit. Sets
# $conn (connection arguments) and $port. Needs $here (the checkout) and $PG_BIN.
[ -x "$PG_BIN/pgbench" ] || "$here/scripts/install-deps.sh"
(cd "$here" && cargo build --release --quiet)
ours="$here/target/release/pgsyncbench"

run_as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

work=$(mktemp -d /tmp/pgsyncbench-bench.XXXXXX)
chmod 755 "$work"
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  run_as_pg "$PG_BIN/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

run_as_pg "$PG_BIN/initdb" -D "$work/data" -U postgres --auth=trust >/dev/null
run_as_pg "$PG_BIN/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
  -o "-p $port -k $work -c listen_addresses=127.0.0.1 -c max_connections=100" start >/dev/null
conn=(-h 127.0.0.1 -p "$port" -U postgres)
