#!/usr/bin/env bash
# DuckDB sink benchmark (issue 21): the same WAL drained by
#   stdout      pgcdc → stdout > /dev/null                        (the ceiling)
#   duckdb_mem  pgcdc → duckdb, in memory (--duckdb-path :memory:)
#   duckdb_file pgcdc → duckdb, a database file (durable commits)
# Every contender has its own pgoutput slot created before the workload, so
# each reads exactly the same WAL, and runs with --persistent-slot until its
# slot's confirmed position reaches the end LSN: the duckdb sink confirms only
# committed events, so this is the rate at which rows become durable (file)
# or queryable (memory). The drain order rotates per run.
# After each duckdb run, with all ROWS rows in cdc_events, POST /query
# "SELECT count(*) FROM cdc_events" is timed with curl (QUERIES times; the
# median per run is reported).
#
# Usage (as root; PostgreSQL runs as the postgres user):
#   bench/duckdb/duckdb_bench.sh                 # 1,000,000 INSERTs, 3 runs
#   ROWS=100000 RUNS=1 bench/duckdb/duckdb_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), ROWS (1000000), RUNS (3),
#      QUERIES (20), DUCKDB_ARGS (extra duckdb flags, default
#      "--duckdb-flush-size 10000").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/lib/bench_env.sh"
bench_env 1000000
QUERIES=${QUERIES:-20}
DUCKDB_ARGS=${DUCKDB_ARGS:---duckdb-flush-size 10000}
PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"
source "$root/bench/lib/sink_bench.sh"

q "CREATE TABLE bench_d (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
q "CREATE PUBLICATION bench_dpub FOR TABLE bench_d"

# count_ms ADDR: the median wall time (ms) of QUERIES COUNT(*) requests; fails
# unless the answer is ROWS.
count_ms() {
  local addr=$1 i out times=""
  for i in $(seq 1 "$QUERIES"); do
    out=$(curl -sS -o "$T/count.json" -w '%{time_total}' -H 'Content-Type: application/json' \
      -d '{"sql":"SELECT count(*) AS n FROM cdc_events"}' "http://$addr/query")
    grep -q "\"n\":$ROWS" "$T/count.json" || { echo "count: $(cat "$T/count.json")" >&2; exit 1; }
    times+="$(awk -v s="$out" 'BEGIN{printf "%.2f", s*1000}') "
  done
  echo "$times" | median
}

# drain NAME END -> r_wall (and r_count_ms for the duckdb contenders)
drain() {
  local name=$1 end=$2 t0 t1 port sink_args=(-a stdout)
  port=$(free_port)
  case $name in
    duckdb_mem) sink_args=(-a duckdb --duckdb-path :memory: $DUCKDB_ARGS) ;;
    duckdb_file) rm -f "$T/bench.duckdb" "$T/bench.duckdb.wal"
                 sink_args=(-a duckdb --duckdb-path "$T/bench.duckdb" $DUCKDB_ARGS) ;;
  esac
  t0=$(now)
  "$PGCDC" listen --detector wal --db "$DSN" --publication bench_dpub --persistent-slot \
    --slot-name "s_$name" --heartbeat-interval 0 --detector-status-interval 100ms \
    --http-addr "127.0.0.1:$port" "${sink_args[@]}" >/dev/null 2>"$T/pgcdc.err" &
  local pid=$!
  wait_confirmed "s_$name" "$end" "$pid"
  t1=$(now)
  r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  r_count_ms=""
  [[ $name == duckdb_* ]] && r_count_ms=$(count_ms "127.0.0.1:$port")
  kill -TERM "$pid"; wait "$pid" || true
}

contenders=(stdout duckdb_mem duckdb_file)
declare -A rates counts
for run in $(seq 1 "$RUNS"); do
  q "TRUNCATE bench_d"
  fresh_slots "${contenders[@]}"
  end=$(insert_batches bench_d "$ROWS")
  read -r -a order <<<"$(rotated "$run" "${contenders[@]}")"
  for c in "${order[@]}"; do
    drain "$c" "$end"
    rates[$c]+="$(rate "$ROWS" "$r_wall") "
    counts[$c]+="$r_count_ms "
    log "run $run: $c ${r_wall}s${r_count_ms:+, COUNT(*) median ${r_count_ms} ms}"
  done
done

echo "| contender | changes/s over $RUNS runs (min – max) | median vs pgcdc → stdout | /query COUNT(*) over $ROWS rows, per-run medians (min – max) |"
echo "|---|---:|---:|---:|"
base=$(echo "${rates[stdout]}" | median)
for c in "${contenders[@]}"; do
  case $c in
    stdout) label="pgcdc → stdout" ;;
    duckdb_mem) label="pgcdc → duckdb (:memory:)" ;;
    duckdb_file) label="pgcdc → duckdb (file)" ;;
  esac
  read -r lo hi < <(echo "${rates[$c]}" | min_max)
  med=$(echo "${rates[$c]}" | median)
  qc="–"
  if [[ -n ${counts[$c]// /} ]]; then
    read -r qlo qhi < <(echo "${counts[$c]}" | min_max)
    qc="$qlo – $qhi ms"
  fi
  awk -v l="$label" -v lo="$lo" -v hi="$hi" -v m="$med" -v b="$base" -v qc="$qc" \
    'BEGIN{printf "| %s | %.1f K – %.1f K | %.2f× | %s |\n", l, lo/1000, hi/1000, m/b, qc}'
done
