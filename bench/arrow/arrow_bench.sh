#!/usr/bin/env bash
# Arrow Flight sink benchmark (issue 21): the same WAL drained by
#   stdout          pgcdc → stdout > /dev/null                    (the reference)
#   arrow_envelope  pgcdc → arrow (SPEC's envelope columns)
#   arrow_typed     pgcdc → arrow --arrow-schema typed
# Every contender has its own persistent slot created before the workload
# (ROWS single-row INSERTs in transactions of 1,000 into a 5-column table).
# Ingest is timed from pgcdc's start until its slot's confirmed position
# reaches the end LSN (the arrow sink acknowledges once buffered; its ring
# holds every row: --arrow-buffer-size ROWS). Then one DoGet of the whole
# channel from offset 0 by the npm client (tests/tools/flight_client.js
# --quiet: @grpc/grpc-js + apache-arrow, every value of every row read into
# a JS object) is timed by the client: call start → last row decoded. The
# peak RSS is pgcdc's with ROWS events buffered. Drain order rotates per run.
# The last run saves each arrow contender's stream (flight_client.js --save,
# after the clock stopped); bench/arrow/decode_ceiling.js then times the JS
# decode alone on it and on the same rows written by apache-arrow itself
# (the client's ceiling), printed as a second table.
#
# Usage (as root; PostgreSQL runs as the postgres user):
#   bench/arrow/arrow_bench.sh                  # 200,000 INSERTs, 3 runs
#   ROWS=1000000 RUNS=3 bench/arrow/arrow_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), ROWS (200000), RUNS (3),
#      CONTENDERS (default "stdout arrow_envelope arrow_typed"; also
#      arrow_plain: envelope with --arrow-dictionary=false).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/lib/bench_env.sh"
bench_env 200000
command -v node >/dev/null || { echo "node not installed" >&2; exit 1; }

PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"
source "$root/bench/lib/sink_bench.sh"

q "CREATE TABLE bench_a (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
q "CREATE PUBLICATION bench_apub FOR TABLE bench_a"

# drain NAME END -> r_wall (ingest, from pgcdc's start), r_get (DoGet ms,
# arrow only), r_rss (pgcdc peak RSS, MB), r_cpu (pgcdc CPU seconds)
drain() {
  local name=$1 end=$2 t0 t1 pid addr rows
  local args=(-a stdout)
  case $name in
    arrow_envelope) args=(-a arrow --arrow-addr 127.0.0.1:0 --arrow-buffer-size "$ROWS") ;;
    arrow_typed) args=(-a arrow --arrow-addr 127.0.0.1:0 --arrow-buffer-size "$ROWS"
                       --arrow-schema typed) ;;
    arrow_plain) args=(-a arrow --arrow-addr 127.0.0.1:0 --arrow-buffer-size "$ROWS"
                       --arrow-dictionary=false) ;;
  esac
  t0=$(now)
  "$PGCDC" listen --detector wal --db "$DSN" --publication bench_apub --persistent-slot \
    --slot-name "s_$name" --heartbeat-interval 0 --detector-status-interval 100ms \
    --http-addr "" "${args[@]}" >/dev/null 2>"$T/pgcdc.err" &
  pid=$!
  wait_confirmed "s_$name" "$end" "$pid"
  t1=$(now)
  r_get="" r_transfer=""
  if [[ $name == arrow_* ]]; then
    addr=$(sed -n 's/.*grpc server listening server=arrow addr=\([^ ]*\).*/\1/p' "$T/pgcdc.err")
    local save=()
    [[ $run == "$RUNS" ]] && save=(--save "$T/$name.arrow")
    node "$root/tests/tools/flight_client.js" --addr "$addr" --quiet "${save[@]}" \
      --get '{"channel":"pgcdc:bench_a","offset":0}' >"$T/client.out"
    rows=$(sed -n 's/.*"row_count":\([0-9]*\).*/\1/p' "$T/client.out")
    [[ $rows == "$ROWS" ]] || { echo "DoGet returned ${rows:-?} rows" >&2; head -c 2000 "$T/client.out" >&2; exit 1; }
    r_get=$(sed -n 's/.*"elapsed_ms":\([0-9.]*\).*/\1/p' "$T/client.out")
    r_transfer=$(sed -n 's/.*"transfer_ms":\([0-9.]*\).*/\1/p' "$T/client.out")
  fi
  r_rss=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  r_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$pid/stat")
  kill -TERM "$pid"; wait "$pid" || true
  r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
}

read -r -a contenders <<<"${CONTENDERS:-stdout arrow_envelope arrow_typed}"
declare -A rates get_rates decode_rates transfer_rates rss cpu
log "uptime at start: $(uptime)"
for run in $(seq 1 "$RUNS"); do
  q "TRUNCATE bench_a"
  fresh_slots "${contenders[@]}"
  end=$(insert_batches bench_a "$ROWS")
  read -r -a order <<<"$(rotated "$run" "${contenders[@]}")"
  for c in "${order[@]}"; do
    drain "$c" "$end"
    rates[$c]+="$(rate "$ROWS" "$r_wall") "
    if [[ -n $r_get ]]; then
      get_rates[$c]+="$(rate "$ROWS" "$(awk -v m="$r_get" 'BEGIN{print m/1000}')") "
      decode_rates[$c]+="$(rate "$ROWS" "$(awk -v m="$r_get" -v t="$r_transfer" 'BEGIN{print (m-t)/1000}')") "
      transfer_rates[$c]+="$(rate "$ROWS" "$(awk -v t="$r_transfer" 'BEGIN{print t/1000}')") "
    fi
    rss[$c]+="$r_rss "
    cpu[$c]+="$r_cpu "
    log "run $run: $c ingest ${r_wall}s, DoGet ${r_get:-n/a} ms (transfer ${r_transfer:-n/a} ms), pgcdc cpu ${r_cpu}s, peak RSS ${r_rss} MB"
  done
done
log "uptime at end: $(uptime)"

echo "| contender | ingest events/s, $RUNS runs (min – max) | median vs stdout | DoGet rows/s, call → every column decoded (min – max) | transfer only (call → end of stream), rows/s | decode only, rows/s (min – max) | pgcdc CPU s (median) | peak RSS (MB, max) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
read -r _ _ base <<<"$(range_of "${rates[stdout]}")"
for c in "${contenders[@]}"; do
  case $c in
    stdout) label="pgcdc → stdout" ;;
    arrow_envelope) label="pgcdc → arrow (envelope)" ;;
    arrow_typed) label="pgcdc → arrow (typed)" ;;
    arrow_plain) label="pgcdc → arrow (envelope, --arrow-dictionary=false)" ;;
  esac
  read -r lo hi med <<<"$(range_of "${rates[$c]}")"
  read -r _ mem _ <<<"$(range_of "${rss[$c]}")"
  read -r _ _ cpu_med <<<"$(range_of "${cpu[$c]}")"
  get="–" dec="–" tra="–"
  if [[ -n ${get_rates[$c]:-} ]]; then
    read -r tlo thi _ <<<"$(range_of "${transfer_rates[$c]}")"
    tra=$(awk -v a="$tlo" -v b="$thi" 'BEGIN{printf "%.0f K – %.0f K", a/1000, b/1000}')
    read -r glo ghi _ <<<"$(range_of "${get_rates[$c]}")"
    get=$(awk -v a="$glo" -v b="$ghi" 'BEGIN{printf "%.0f K – %.0f K", a/1000, b/1000}')
    read -r dlo dhi _ <<<"$(range_of "${decode_rates[$c]}")"
    dec=$(awk -v a="$dlo" -v b="$dhi" 'BEGIN{printf "%.0f K – %.0f K", a/1000, b/1000}')
  fi
  awk -v l="$label" -v lo="$lo" -v hi="$hi" -v m="$med" -v b="$base" -v r="$mem" -v pc="$cpu_med" \
    -v g="$get" -v d="$dec" -v t="$tra" \
    'BEGIN{printf "| %s | %.1f K – %.1f K | %.2f× | %s | %s | %s | %.2f | %s |\n", l, lo/1000, hi/1000, m/b, g, t, d, pc, r}'
done

# The JS client's decode alone (no pgcdc, no gRPC) on the last run's streams,
# and on the same rows written by apache-arrow itself.
echo
echo "| stream (last run) | variant | bytes (MB) | batches | decode ms, best – worst of 3 | rows/s (best) |"
echo "|---|---|---:|---:|---:|---:|"
for c in "${contenders[@]}"; do
  [[ -f $T/$c.arrow ]] || continue
  node "$here/decode_ceiling.js" "$T/$c.arrow" 3 | while read -r line; do
    node -e 'const r = JSON.parse(process.argv[1]);
      console.log(`| ${process.argv[2]} | ${r.variant} | ${(r.bytes / 1048576).toFixed(0)} | ${r.batches} | ${r.best_ms} – ${r.worst_ms} | ${(r.rows_per_s / 1000).toFixed(0)} K |`);
      console.error(process.argv[2], JSON.stringify(r.per_column_ms));' "$line" "$c"
  done
done
