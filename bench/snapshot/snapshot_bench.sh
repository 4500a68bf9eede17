#!/usr/bin/env bash
# Side-by-side table snapshot benchmark (issue 15, part 5):
#   psql -c "COPY bench_t TO STDOUT" > /dev/null        (the peer: raw COPY text)
#   pgcdc snapshot -a stdout > /dev/null                 (--snapshot-workers 1)
#   pgcdc snapshot -a stdout --snapshot-workers 2 > /dev/null
# Each run times the three one after the other on the same table (the table
# stays in shared_buffers/page cache: the first, untimed, COPY warms it).
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
rate() { awk -v n="$ROWS" -v s="$1" 'BEGIN{printf "%.0f", n / s}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }

echo "rows=$ROWS table=$size postgres=$pgver cores=$(nproc)"
echo "load before: $(uptime)"
for run in $(seq 1 "$RUNS"); do
  t0=$(now); psql -qAtX -d "$DSN" -c "COPY bench_t TO STDOUT" >/dev/null; t1=$(now)
  copy_s=$(elapsed "$t0" "$t1")
  line="run $run: COPY ${copy_s}s ($(rate "$copy_s") rows/s)"
  for w in $WORKERS; do
    t0=$(now)
    "$PGCDC" snapshot --db "$DSN" --table bench_t -a stdout --snapshot-workers "$w" \
      --snapshot-state "$T/state-$w.json" --log-level warn >/dev/null
    t1=$(now)
    rm -f "$T/state-$w.json"
    s=$(elapsed "$t0" "$t1")
    line+=" | pgcdc w=$w ${s}s ($(rate "$s") rows/s, $(ratio "$copy_s" "$s")x COPY)"
  done
  echo "$line"
done
echo "load after: $(uptime)"
