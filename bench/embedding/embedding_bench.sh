#!/usr/bin/env bash
# Embedding sink benchmark (issue 19): the same WAL drained by
#   pgtable   pgcdc → pg_table (batch 100, the default)             (the peer)
#   emb1      pgcdc → embedding, --embedding-batch-size 1
#   emb16     pgcdc → embedding, --embedding-batch-size 16
#   emb64     pgcdc → embedding, --embedding-batch-size 64 (the default)
# all writing into the same PGlite (PostgreSQL 18 in wasm, with pgvector:
# SERVICES.md, pgvector is not packaged for PostgreSQL 15), each into its own
# table, created by `pgcdc init` but without its HNSW index (in PGlite's wasm
# build an HNSW insert costs ~25 ms a row, the ceiling of any contender). The embeddings API is the FAKE of tests/scenarios/fakes (no model is
# available offline): it parses every request and computes a 256-dimension
# vector per text from its words, so the figures measure pgcdc's batching,
# request and write path against a cheap API, not a real model's latency.
# Every contender has its own persistent slot created before the workload and
# runs until the slot's confirmed position reaches the end LSN: pgcdc
# confirms an event only after its row is committed. The vector tables are
# emptied before each run (otherwise the content hash would skip every text
# of the second run). Drain order rotates per run. Afterwards one more drain
# of emb64 over a table that already holds every text shows the cost of the
# hash skip (no API call).
#
# Usage (as root; PostgreSQL runs as the postgres user):
#   bench/embedding/embedding_bench.sh            # 10,000 INSERTs, 3 runs
#   ROWS=5000 RUNS=1 bench/embedding/embedding_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), ROWS (10000), RUNS (3).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/lib/bench_env.sh"
bench_env 10000
command -v node >/dev/null || { echo "node not installed" >&2; exit 1; }
[[ -d $root/tests/tools/node_modules/@electric-sql/pglite-socket ]] ||
  { echo "tests/tools/node_modules missing (npm ci in tests/tools)" >&2; exit 1; }

bg_pids=()
bench_on_exit() { for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"
source "$root/bench/lib/sink_bench.sh"

node "$root/tests/scenarios/fakes/fake_embeddings.js" --port 0 --dim 256 >"$T/fake.out" 2>&1 &
bg_pids+=($!)
until grep -q listening "$T/fake.out" 2>/dev/null; do sleep 0.05; done
API="http://127.0.0.1:$(sed -n 's/.*"listening":\([0-9]*\).*/\1/p' "$T/fake.out")/v1"
inputs() { curl -s "${API%/v1}/_fake/count" | sed -n 's/.*"inputs":\([0-9]*\).*/\1/p'; }

PGL_PORT=$(free_port)
(cd "$root/tests/tools" && exec node node_modules/@electric-sql/pglite-socket/dist/scripts/server.js \
  -d memory:// -h 127.0.0.1 -p "$PGL_PORT" -e @electric-sql/pglite-pgvector:vector) >"$T/pglite.out" 2>&1 &
bg_pids+=($!)
until grep -q listening "$T/pglite.out" 2>/dev/null; do sleep 0.1; done
PGL="postgresql://postgres@127.0.0.1:$PGL_PORT/postgres?sslmode=disable"
# PGlite takes one connection at a time: only while no pgcdc runs.
pgl() { psql -qAtX -v ON_ERROR_STOP=1 -d "$PGL" -c "$1"; }
"$PGCDC" init --adapter pg_table --table bench_events | psql -qAtX -v ON_ERROR_STOP=1 -d "$PGL" >/dev/null 2>&1
for c in emb1 emb16 emb64; do
  "$PGCDC" init --adapter embedding --table "vec_$c" --dimension 256 |
    psql -qAtX -v ON_ERROR_STOP=1 -d "$PGL" >/dev/null 2>&1
  # PGlite's wasm pgvector inserts into an HNSW index at ~40 rows/s (see
  # BENCHMARKS.md), which would hide everything else: measured without it.
  pgl "DROP INDEX idx_vec_${c}_embedding"
done

q "CREATE TABLE bench_e (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
q "CREATE PUBLICATION bench_epub FOR TABLE bench_e"

# drain NAME END [SLOT] -> r_wall, r_rss (peak RSS in MB)
drain() {
  local name=$1 end=$2 slot=${3:-s_$1} t0 t1
  local sink_args
  case $name in
    pgtable) sink_args=(-a pg_table --pg-table-url "$PGL" --pg-table-name bench_events) ;;
    emb*) sink_args=(-a embedding --embedding-api-url "$API" --embedding-columns b
                     --embedding-table "vec_$name" --embedding-db-url "$PGL"
                     --embedding-batch-size "${name#emb}") ;;
  esac
  t0=$(now)
  "$PGCDC" listen --detector wal --db "$DSN" --publication bench_epub --persistent-slot \
    --slot-name "$slot" --heartbeat-interval 0 --detector-status-interval 100ms \
    --http-addr "" "${sink_args[@]}" >/dev/null 2>"$T/pgcdc.err" &
  local pid=$!
  wait_confirmed "$slot" "$end" "$pid"
  t1=$(now)
  r_rss=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || true
  r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
}

contenders=(pgtable emb1 emb16 emb64)
declare -A rates rss
for run in $(seq 1 "$RUNS"); do
  q "TRUNCATE bench_e"
  pgl "TRUNCATE bench_events, vec_emb1, vec_emb16, vec_emb64"
  fresh_slots "${contenders[@]}" emb64again
  end=$(insert_batches bench_e "$ROWS")
  read -r -a order <<<"$(rotated "$run" "${contenders[@]}")"
  for c in "${order[@]}"; do
    before=$(inputs)
    drain "$c" "$end"
    rates[$c]+="$(rate "$ROWS" "$r_wall") "
    rss[$c]+="$r_rss "
    log "run $run: $c ${r_wall}s, peak RSS ${r_rss} MB, texts embedded $(( $(inputs) - before ))"
  done
  before=$(inputs)
  drain emb64 "$end" s_emb64again
  rates[emb64again]+="$(rate "$ROWS" "$r_wall") "
  rss[emb64again]+="$r_rss "
  log "run $run: emb64 again (texts stored) ${r_wall}s, texts embedded $(( $(inputs) - before ))"
  log "run $run: rows: $(pgl "SELECT (SELECT count(*) FROM bench_events) || ' ' || (SELECT count(*) FROM vec_emb1) || ' ' || (SELECT count(*) FROM vec_emb16) || ' ' || (SELECT count(*) FROM vec_emb64)") (expected $ROWS each)"
done

echo "| contender | rows/s over $RUNS runs (min – max) | median vs pg_table | peak RSS (MB, max) |"
echo "|---|---:|---:|---:|"
read -r _ _ base <<<"$(range_of "${rates[pgtable]}")"
for c in "${contenders[@]}" emb64again; do
  case $c in
    pgtable) label="pgcdc → pg_table (PGlite), batch 100" ;;
    emb64again) label="pgcdc → embedding, batch 64, every text already stored (hash skip, no API call)" ;;
    *) label="pgcdc → embedding (fake API, PGlite + pgvector), batch ${c#emb}" ;;
  esac
  read -r lo hi med <<<"$(range_of "${rates[$c]}")"
  read -r _ mem _ <<<"$(range_of "${rss[$c]}")"
  awk -v l="$label" -v lo="$lo" -v hi="$hi" -v m="$med" -v b="$base" -v r="$mem" \
    'BEGIN{printf "| %s | %.1f K – %.1f K | %.2f× | %s |\n", l, lo/1000, hi/1000, m/b, r}'
done
