#!/usr/bin/env bash
# Side-by-side table snapshot benchmark (issue 15, part 5):
#   psql -c "COPY bench_t TO STDOUT" > /dev/null        (the peer: raw COPY text)
#   pgcdc snapshot -a stdout > /dev/null                 (--snapshot-workers 1)
#   pgcdc snapshot -a stdout --snapshot-workers 2 > /dev/null
# Each run times the three one after the other on the same table (the table
# stays in shared_buffers/page cache: the first, untimed, COPY warms it), with
# each contender's own CPU time and that of the backends it used (the
# postmaster's reaped-children CPU), since the machine is shared.
#
# Usage (as root; the server runs as the postgres user):
#   bench/snapshot/snapshot_bench.sh               # 5,000,000 rows, 3 runs
#   ROWS=1000000 RUNS=5 bench/snapshot/snapshot_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), ROWS, RUNS, WORKERS (the
#      worker counts to time, default "1 2").
set -euo pipefail

ROWS=${ROWS:-5000000}
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-"1 2"}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PGCDC=${PGCDC_BIN:-$root/build/release/pgcdc}
[[ -x $PGCDC ]] || { echo "pgcdc binary not found: $PGCDC" >&2; exit 1; }

PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"

q "CREATE TABLE bench_t (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
log "loading $ROWS rows"
q "INSERT INTO bench_t SELECT i, i % 1000, 'name-' || i, '2025-01-01'::timestamptz + i * interval '1 second',
          (i % 100000) / 100.0 FROM generate_series(1, $ROWS) i"
q "VACUUM ANALYZE bench_t"
pgver=$(q "SHOW server_version")
size=$(q "SELECT pg_size_pretty(pg_relation_size('bench_t'))")
psql -qAtX -d "$DSN" -c "COPY bench_t TO STDOUT" >/dev/null  # warm the cache

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b - a}'; }
hz=$(getconf CLK_TCK)
# CPU of the backends a contender used: the postmaster's reaped-children CPU
# (cutime + cstime), read once no client backend ("postgres: postgres
# postgres …", the process title) nor an unreaped (zombie) child is left.
server_ticks() {
  while pgrep -P "$postmaster" -f '^postgres: postgres postgres' >/dev/null ||
    pgrep -P "$postmaster" -r Z >/dev/null; do
    sleep 0.01
  done
  awk '{print $16 + $17}' "/proc/$postmaster/stat"
}
secs() { awk -v t="$1" -v hz="$hz" 'BEGIN{printf "%.2f", t / hz}'; }
# Runs a contender; sets wall (s), client_cpu (s, user+sys) and server_cpu (s).
timed() {
  local s0 t0 t1 cpu
  s0=$(server_ticks); t0=$(now)
  /usr/bin/time -f "%U %S" -o "$T/time" "$@" >/dev/null 2>"$T/stderr" \
    || { cat "$T/stderr" >&2; exit 1; }
  cpu=$(tail -1 "$T/time")
  t1=$(now)
  wall=$(elapsed "$t0" "$t1")
  client_cpu=$(awk -v u="${cpu% *}" -v s="${cpu#* }" 'BEGIN{printf "%.2f", u + s}')
  server_cpu=$(secs $(( $(server_ticks) - s0 )))
}
rate() { awk -v n="$ROWS" -v s="$1" 'BEGIN{printf "%.0f", n / s}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }

echo "rows=$ROWS table=$size postgres=$pgver cores=$(nproc)"
echo "load before: $(uptime)"
for run in $(seq 1 "$RUNS"); do
  timed psql -qAtX -d "$DSN" -c "COPY bench_t TO STDOUT"
  copy_s=$wall
  line="run $run: COPY ${copy_s}s ($(rate "$copy_s") rows/s, cpu psql ${client_cpu}s server ${server_cpu}s)"
  for w in $WORKERS; do
    timed "$PGCDC" snapshot --db "$DSN" --table bench_t -a stdout --snapshot-workers "$w" \
      --snapshot-state none --log-level warn
    line+=" | pgcdc w=$w ${wall}s ($(rate "$wall") rows/s, $(ratio "$copy_s" "$wall")x COPY,"
    line+=" cpu pgcdc ${client_cpu}s server ${server_cpu}s)"
  done
  echo "$line"
  echo "  load: $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "load after: $(uptime)"
