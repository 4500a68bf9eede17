# Sourced by the bench scripts (as root): starts a throwaway PostgreSQL 15
# cluster in a temp dir, owned by the postgres user, listening on a free
# loopback port, and removes it on exit.
#
# Before sourcing, set PG_SETTINGS to extra `-c name=value` server options.
# Provides: T (temp dir), PORT, DSN, PGBIN, postmaster (pid); functions
# free_port, now, log, q (one SQL statement via psql). A script that needs its
# own cleanup defines bench_on_exit before sourcing.

PGBIN=/usr/lib/postgresql/15/bin

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
log() { echo "# $*" >&2; }

T=$(mktemp -d /tmp/pgcdc-bench.XXXXXX)
chown postgres "$T"
PORT=$(free_port)
DSN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"

bench_cleanup() {
  if declare -F bench_on_exit >/dev/null; then bench_on_exit || true; fi
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap bench_cleanup EXIT

# Debian's 15.20 restricts output plugins (output_plugin_libraries, default
# pgoutput,test_decoding); 15.18 has no such setting.
bench_plugins=""
if runuser -u postgres -- "$PGBIN/postgres" --describe-config 2>/dev/null | grep -q '^output_plugin_libraries'; then
  bench_plugins="-c output_plugin_libraries=pgoutput,test_decoding,wal2json"
fi
runuser -u postgres -- "$PGBIN/initdb" -D "$T/data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/data" -l "$T/pg.log" -w -o "-c listen_addresses=127.0.0.1 \
  -p $PORT -k $T -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20 \
  $bench_plugins ${PG_SETTINGS:-}" start >/dev/null \
  || { cat "$T/pg.log" >&2; exit 1; }
postmaster=$(head -1 "$T/data/postmaster.pid")

q() { psql -qAtX -v ON_ERROR_STOP=1 -d "$DSN" -c "$1"; }
