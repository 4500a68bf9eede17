#!/usr/bin/env bash
# ClickHouse sink benchmark (issue 21), AGAINST THE FAKE CLICKHOUSE SERVER
# (tests/scenarios/fakes/fake_clickhouse.js; no ClickHouse is packaged here).
# The same WAL drained by
#   stdout     pgcdc → stdout > /dev/null                           (the reference)
#   clickhouse pgcdc → clickhouse (fake), the defaults: batch 10000, flush 1s
#   ch1k       pgcdc → clickhouse (fake), --clickhouse-batch-size 1000
# The fake parses every JSONEachRow line, checks it against the table's column
# types and keeps it in memory: a real HTTP + JSON peer on the same 2 cores,
# not ClickHouse's own insert cost. Every contender has its own persistent slot
# created before the workload and runs until the slot's confirmed position
# reaches the end LSN: pgcdc confirms a row only after the fake answered 200
# for its batch. Drain order rotates per run; after each run the script checks
# that the fake holds every row once. Peak RSS (VmHWM) and CPU seconds of each
# pgcdc run are reported.
#
# Usage (as root; PostgreSQL runs as the postgres user):
#   bench/clickhouse/clickhouse_bench.sh               # 200,000 INSERTs, 3 runs
#   ROWS=50000 RUNS=1 bench/clickhouse/clickhouse_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), ROWS (200000), RUNS (3).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/lib/bench_env.sh"
bench_env 200000
command -v node >/dev/null || { echo "node not installed" >&2; exit 1; }

fake_pids=()
bench_on_exit() { for p in "${fake_pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"
source "$root/bench/lib/sink_bench.sh"

node "$root/tests/scenarios/fakes/fake_clickhouse.js" --port 0 --user bench --password bench \
  --database bench >"$T/fake_ch.out" 2>&1 &
fake_pids+=($!)
until grep -q listening "$T/fake_ch.out" 2>/dev/null; do sleep 0.05; done
CH_PORT=$(sed -n 's/.*"listening":\([0-9]*\).*/\1/p' "$T/fake_ch.out")
curl -s -XPOST "http://127.0.0.1:$CH_PORT/_fake/quiet" >/dev/null
distinct() {
  curl -s "http://127.0.0.1:$CH_PORT/_fake/count?table=bench.$1" | sed -n 's/.*"distinct":\([0-9]*\).*/\1/p'
}

q "CREATE TABLE bench_c (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
q "CREATE PUBLICATION bench_cpub FOR TABLE bench_c"

# drain NAME END TABLE -> r_wall, r_hwm (peak RSS in MB), r_cpu (pgcdc CPU seconds)
drain() {
  local name=$1 end=$2 table=$3 t0 t1
  local sink_args=(-a stdout)
  local ch=(-a clickhouse --clickhouse-dsn "http://bench:bench@127.0.0.1:$CH_PORT/bench"
            --clickhouse-table "$table" --clickhouse-auto-create)
  case $name in
    clickhouse) sink_args=("${ch[@]}") ;;
    ch1k) sink_args=("${ch[@]}" --clickhouse-batch-size 1000) ;;
  esac
  drain_wal bench_cpub "$name" "$end" "${sink_args[@]}"
}

contenders=(stdout clickhouse ch1k)
declare -A rates rss cpu
log "uptime at start: $(uptime)"
for run in $(seq 1 "$RUNS"); do
  q "TRUNCATE bench_c"
  fresh_slots "${contenders[@]}"
  end=$(insert_batches bench_c "$ROWS")
  read -r -a order <<<"$(rotated "$run" "${contenders[@]}")"
  for c in "${order[@]}"; do
    drain "$c" "$end" "t_${c}_$run"
    rates[$c]+="$(rate "$ROWS" "$r_wall") "
    rss[$c]+="$r_hwm "
    cpu[$c]+="$(rate "$ROWS" "$r_cpu") "
    log "run $run: $c ${r_wall}s, pgcdc cpu ${r_cpu}s, peak RSS ${r_hwm} MB"
  done
  for c in clickhouse ch1k; do
    got=$(distinct "t_${c}_$run")
    [[ $got == "$ROWS" ]] || { echo "run $run: fake table t_${c}_$run holds $got distinct ids, expected $ROWS" >&2; exit 1; }
  done
  log "run $run: the fake holds all $ROWS rows in each table"
done
log "uptime at end: $(uptime)"

echo "| contender | rows/s over $RUNS runs (min – max) | median vs pgcdc → stdout | rows per pgcdc CPU-second (median) | peak RSS (MB, max) |"
echo "|---|---:|---:|---:|---:|"
read -r _ _ base <<<"$(range_of "${rates[stdout]}")"
for c in "${contenders[@]}"; do
  case $c in
    stdout) label="pgcdc → stdout" ;;
    clickhouse) label="pgcdc → clickhouse (FAKE server), batch 10000" ;;
    ch1k) label="pgcdc → clickhouse (FAKE server), batch 1000" ;;
  esac
  read -r lo hi med <<<"$(range_of "${rates[$c]}")"
  read -r _ mem _ <<<"$(range_of "${rss[$c]}")"
  read -r _ _ per_cpu <<<"$(range_of "${cpu[$c]}")"
  awk -v l="$label" -v lo="$lo" -v hi="$hi" -v m="$med" -v b="$base" -v r="$mem" -v pc="$per_cpu" \
    'BEGIN{printf "| %s | %.1f K – %.1f K | %.2f× | %.0f K | %s |\n", l, lo/1000, hi/1000, m/b, pc/1000, r}'
done
