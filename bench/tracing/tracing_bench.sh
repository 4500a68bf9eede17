#!/usr/bin/env bash
# Tracing overhead (issue 22): the same WAL drained to stdout by
#   notrace   a pgcdc binary built WITHOUT tracing code (PGCDC_BASE_BIN,
#             e.g. a build of the commit before tracing; skipped when unset)
#   off       this pgcdc, tracing off (the default)
#   ratio1    this pgcdc, --otel-exporter otlp --otel-sample-ratio 1.0
#   ratio001  this pgcdc, --otel-exporter otlp --otel-sample-ratio 0.01
# The collector is the FAKE OTLP receiver of the scenario tests
# (tests/tools/fake_otlp.js, decodes every request with the OpenTelemetry JS
# generated protobuf code). Every contender has its own persistent slot
# created before the workload and runs until that slot's confirmed position
# reaches the end LSN; drain order rotates per run. Reported: changes/s (wall,
# start-up included) and changes per pgcdc CPU-second (utime + stime, less
# sensitive to the other load on a shared machine), plus spans exported and
# dropped as pgcdc's own metrics say.
#
# Usage (as root; PostgreSQL runs as the postgres user):
#   PGCDC_BASE_BIN=/path/to/pgcdc-without-tracing bench/tracing/tracing_bench.sh
#   ROWS=50000 RUNS=1 bench/tracing/tracing_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), PGCDC_BASE_BIN, ROWS (200000), RUNS (3).
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

node "$root/tests/tools/fake_otlp.js" >"$T/fake_otlp.out" 2>&1 &
fake_pids+=($!)
until grep -q port "$T/fake_otlp.out" 2>/dev/null; do sleep 0.05; done
OTLP_PORT=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$T/fake_otlp.out")

q "CREATE TABLE bench_t (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
q "CREATE PUBLICATION bench_tpub FOR TABLE bench_t"

# metric PORT SERIES: one series from pgcdc's /metrics (0 when absent).
metric() {
  curl -s "http://127.0.0.1:$1/metrics" | awk -v s="$2" '$1 == s {print $2; f=1} END {if (!f) print 0}'
}

# drain NAME END -> r_wall, r_cpu, r_exported, r_dropped
drain() {
  local name=$1 end=$2 t0 t1 bin=$PGCDC
  local extra=()
  case $name in
    notrace) bin=$PGCDC_BASE_BIN ;;
    ratio1) extra=(--otel-exporter otlp --otel-endpoint "http://127.0.0.1:$OTLP_PORT"
                   --otel-sample-ratio 1.0) ;;
    ratio001) extra=(--otel-exporter otlp --otel-endpoint "http://127.0.0.1:$OTLP_PORT"
                     --otel-sample-ratio 0.01) ;;
  esac
  local mport=$((20000 + RANDOM % 20000))
  t0=$(now)
  "$bin" listen --detector wal --db "$DSN" --publication bench_tpub --persistent-slot \
    --slot-name "s_$name" --heartbeat-interval 0 --detector-status-interval 100ms \
    --http-addr "127.0.0.1:$mport" -a stdout "${extra[@]}" >/dev/null 2>"$T/pgcdc.err" &
  local pid=$!
  wait_confirmed "s_$name" "$end" "$pid"
  t1=$(now)
  r_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$pid/stat")
  r_exported=$(metric "$mport" pgcdc_tracing_spans_exported_total)
  r_dropped=$(metric "$mport" 'pgcdc_tracing_spans_dropped_total{reason="queue_full"}')
  kill -TERM "$pid"; wait "$pid" || true
  r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
}

contenders=(off ratio1 ratio001)
[[ -n ${PGCDC_BASE_BIN:-} ]] && contenders=(notrace "${contenders[@]}")
declare -A rates cpu spans
for run in $(seq 1 "$RUNS"); do
  q "TRUNCATE bench_t"
  fresh_slots "${contenders[@]}"
  end=$(insert_batches bench_t "$ROWS")
  read -r -a order <<<"$(rotated "$run" "${contenders[@]}")"
  for c in "${order[@]}"; do
    drain "$c" "$end"
    rates[$c]+="$(rate "$ROWS" "$r_wall") "
    cpu[$c]+="$(rate "$ROWS" "$r_cpu") "
    spans[$c]+="${r_exported}/${r_dropped} "
    log "run $run: $c ${r_wall}s, pgcdc cpu ${r_cpu}s, spans exported before shutdown / dropped (queue full) ${r_exported}/${r_dropped}"
  done
done

ref=off
[[ -n ${PGCDC_BASE_BIN:-} ]] && ref=notrace
echo "| contender | changes/s over $RUNS runs (min – max) | median vs $ref | changes per pgcdc CPU-second (min – max) | median vs $ref |"
echo "|---|---:|---:|---:|---:|"
read -r _ _ base <<<"$(range_of "${rates[$ref]}")"
read -r _ _ cbase <<<"$(range_of "${cpu[$ref]}")"
for c in "${contenders[@]}"; do
  case $c in
    notrace) label="pgcdc without tracing code" ;;
    off) label="pgcdc, tracing off" ;;
    ratio1) label="pgcdc, tracing on, ratio 1.0" ;;
    ratio001) label="pgcdc, tracing on, ratio 0.01" ;;
  esac
  read -r lo hi med <<<"$(range_of "${rates[$c]}")"
  read -r clo chi cmed <<<"$(range_of "${cpu[$c]}")"
  awk -v l="$label" -v lo="$lo" -v hi="$hi" -v m="$med" -v b="$base" -v clo="$clo" -v chi="$chi" \
    -v cm="$cmed" -v cb="$cbase" \
    'BEGIN{printf "| %s | %.1f K – %.1f K | %.3f× | %.1f K – %.1f K | %.3f× |\n", l, lo/1000, hi/1000, m/b, clo/1000, chi/1000, cm/cb}'
done
