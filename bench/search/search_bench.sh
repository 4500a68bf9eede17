#!/usr/bin/env bash
# Search sink benchmark (issue 19): the same WAL drained by
#   stdout      pgcdc → stdout > /dev/null                       (the reference)
#   typesense   pgcdc → search (FAKE Typesense, batch 100, the default)
#   typesense1k pgcdc → search (FAKE Typesense, --search-batch-size 1000)
#   meili1k     pgcdc → search (FAKE Meilisearch, batch 1000, no --search-wait)
# The engines are the node fakes of tests/scenarios/fakes (no Typesense or
# Meilisearch is packaged here): they parse every document and keep it in a
# Map, so the figure includes a real JSON-parsing peer on the same 2 cores.
# Every contender has its own persistent slot created before the workload and
# runs until the slot's confirmed position reaches the end LSN: pgcdc
# confirms a document only after the engine accepted it. Drain order rotates
# per run. Peak RSS (VmHWM) of each pgcdc run is reported (memory is bounded by
# the batch size, not by the backlog).
#
# Usage (as root; PostgreSQL runs as the postgres user):
#   bench/search/search_bench.sh                 # 200,000 INSERTs, 3 runs
#   ROWS=50000 RUNS=1 bench/search/search_bench.sh
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

# start_fake ENGINE -> prints the port
start_fake() {
  node "$root/tests/scenarios/fakes/fake_$1.js" --port 0 --api-key bench --index items \
    >"$T/fake_$1.out" 2>&1 &
  fake_pids+=($!)
  until grep -q listening "$T/fake_$1.out" 2>/dev/null; do sleep 0.05; done
  local port
  port=$(sed -n 's/.*"listening":\([0-9]*\).*/\1/p' "$T/fake_$1.out")
  curl -s -XPOST "http://127.0.0.1:$port/_fake/quiet" >/dev/null
  echo "$port"
}
TS_PORT=$(start_fake typesense)
MS_PORT=$(start_fake meilisearch)
docs() { curl -s "http://127.0.0.1:$1/_fake/count" | sed -n 's/.*"docs":\([0-9]*\).*/\1/p'; }

q "CREATE TABLE bench_s (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
q "CREATE PUBLICATION bench_spub FOR TABLE bench_s"

# drain NAME END -> r_wall, r_hwm (peak RSS in MB), r_cpu (pgcdc CPU seconds)
drain() {
  local name=$1 end=$2 t0 t1
  local sink_args=(-a stdout)
  local ts=(-a search --search-url "http://127.0.0.1:$TS_PORT" --search-api-key bench --search-index items)
  case $name in
    typesense) sink_args=("${ts[@]}") ;;
    typesense1k) sink_args=("${ts[@]}" --search-batch-size 1000) ;;
    meili1k) sink_args=(-a search --search-engine meilisearch --search-url "http://127.0.0.1:$MS_PORT"
                        --search-api-key bench --search-index items --search-batch-size 1000) ;;
  esac
  drain_wal bench_spub "$name" "$end" "${sink_args[@]}"
}

contenders=(stdout typesense typesense1k meili1k)
declare -A rates rss cpu
for run in $(seq 1 "$RUNS"); do
  q "TRUNCATE bench_s"
  fresh_slots "${contenders[@]}"
  end=$(insert_batches bench_s "$ROWS")
  read -r -a order <<<"$(rotated "$run" "${contenders[@]}")"
  for c in "${order[@]}"; do
    drain "$c" "$end"
    rates[$c]+="$(rate "$ROWS" "$r_wall") "
    rss[$c]+="$r_hwm "
    cpu[$c]+="$(rate "$ROWS" "$r_cpu") "
    log "run $run: $c ${r_wall}s, pgcdc cpu ${r_cpu}s, peak RSS ${r_hwm} MB"
  done
  log "run $run: fake typesense holds $(docs "$TS_PORT") docs, fake meilisearch $(docs "$MS_PORT") (expected $ROWS each)"
done

echo "| contender | docs/s over $RUNS runs (min – max) | median vs pgcdc → stdout | docs per pgcdc CPU-second (median) | peak RSS (MB, max) |"
echo "|---|---:|---:|---:|---:|"
read -r _ _ base <<<"$(range_of "${rates[stdout]}")"
for c in "${contenders[@]}"; do
  case $c in
    stdout) label="pgcdc → stdout" ;;
    typesense) label="pgcdc → search, fake Typesense, batch 100" ;;
    typesense1k) label="pgcdc → search, fake Typesense, batch 1000" ;;
    meili1k) label="pgcdc → search, fake Meilisearch, batch 1000" ;;
  esac
  read -r lo hi med <<<"$(range_of "${rates[$c]}")"
  read -r _ mem _ <<<"$(range_of "${rss[$c]}")"
  read -r _ _ per_cpu <<<"$(range_of "${cpu[$c]}")"
  awk -v l="$label" -v lo="$lo" -v hi="$hi" -v m="$med" -v b="$base" -v r="$mem" -v pc="$per_cpu" \
    'BEGIN{printf "| %s | %.1f K – %.1f K | %.2f× | %.0f K | %s |\n", l, lo/1000, hi/1000, m/b, pc/1000, r}'
done
