#!/usr/bin/env bash
# gRPC sink benchmark (issue 19): the same WAL drained by
#   stdout     pgcdc → stdout > /dev/null                          (the reference)
#   grpc_node  pgcdc → grpc → one @grpc/grpc-js client (tests/tools/grpc_clients.js --quiet)
#   grpc_cxx   pgcdc → grpc → one C++ client (bench/grpc/grpc_drain.cc, parses every event)
# Every contender has its own persistent slot created before the workload
# (200,000 single-row INSERTs in transactions of 1,000). stdout runs until its
# slot's confirmed position reaches the end LSN. The grpc runs use
# --grpc-wait-for-client (nothing is delivered before the client subscribed)
# and --bus-mode reliable, and end when the client has received every row;
# they are timed twice: from pgcdc's start (like stdout; includes the
# client's start-up) and from the subscription to the last event (the
# client's own clock). Drain order rotates per run.
#
# Usage (as root; PostgreSQL runs as the postgres user):
#   bench/grpc/grpc_bench.sh                 # 200,000 INSERTs, 3 runs
#   ROWS=50000 RUNS=1 bench/grpc/grpc_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), GRPC_DRAIN (default
# build/release/bench/grpc/grpc_drain), ROWS (200000), RUNS (3).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/lib/bench_env.sh"
bench_env 200000
DRAIN=${GRPC_DRAIN:-$root/build/release/bench/grpc/grpc_drain}
command -v node >/dev/null || { echo "node not installed" >&2; exit 1; }
[[ -x $DRAIN ]] || { echo "grpc_drain not built: $DRAIN" >&2; exit 1; }

PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"
source "$root/bench/lib/sink_bench.sh"

q "CREATE TABLE bench_g (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
q "CREATE PUBLICATION bench_gpub FOR TABLE bench_g"

# run_client NAME ADDR -> prints the client's elapsed milliseconds
run_client() {
  case $1 in
    grpc_node)
      node "$root/tests/tools/grpc_clients.js" --addr "$2" --expect "$ROWS" --quiet --keep 0 \
        --timeout-ms 600000 --progress-ms 60000 >"$T/client.out"
      sed -n 's/.*"done":true.*"elapsed_ms":\([0-9.]*\).*/\1/p' "$T/client.out" ;;
    grpc_cxx)
      "$DRAIN" --addr "$2" --expect "$ROWS" >"$T/client.out"
      sed -n 's/.*"elapsed_ms":\([0-9.]*\).*/\1/p' "$T/client.out" ;;
  esac
}

# drain NAME END -> r_wall (from pgcdc's start), r_client (client clock, grpc
# only), r_rss (pgcdc peak RSS, MB), r_cpu (pgcdc CPU seconds)
drain() {
  local name=$1 end=$2 t0 t1 pid addr
  t0=$(now)
  if [[ $name == stdout ]]; then
    "$PGCDC" listen --detector wal --db "$DSN" --publication bench_gpub --persistent-slot \
      --slot-name "s_$name" --heartbeat-interval 0 --detector-status-interval 100ms \
      --http-addr "" -a stdout >/dev/null 2>"$T/pgcdc.err" &
    pid=$!
    wait_confirmed "s_$name" "$end" "$pid"
    r_client=""
  else
    "$PGCDC" listen --detector wal --db "$DSN" --publication bench_gpub --persistent-slot \
      --slot-name "s_$name" --heartbeat-interval 0 --detector-status-interval 100ms \
      --http-addr "" --bus-mode reliable -a grpc --grpc-addr 127.0.0.1:0 \
      --grpc-wait-for-client >/dev/null 2>"$T/pgcdc.err" &
    pid=$!
    until grep -q "grpc server listening" "$T/pgcdc.err"; do
      kill -0 "$pid" 2>/dev/null || { cat "$T/pgcdc.err" >&2; exit 1; }
      sleep 0.02
    done
    addr=$(sed -n 's/.*grpc server listening server=grpc addr=\([^ ]*\).*/\1/p' "$T/pgcdc.err")
    r_client=$(run_client "$name" "$addr")
    [[ -n $r_client ]] || { cat "$T/client.out" "$T/pgcdc.err" >&2; exit 1; }
  fi
  t1=$(now)
  r_rss=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  r_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$pid/stat")
  kill -TERM "$pid"; wait "$pid" || true
  r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
}

contenders=(stdout grpc_node grpc_cxx)
declare -A rates client_rates rss cpu
log "uptime at start: $(uptime)"
for run in $(seq 1 "$RUNS"); do
  q "TRUNCATE bench_g"
  fresh_slots "${contenders[@]}"
  end=$(insert_batches bench_g "$ROWS")
  read -r -a order <<<"$(rotated "$run" "${contenders[@]}")"
  for c in "${order[@]}"; do
    drain "$c" "$end"
    rates[$c]+="$(rate "$ROWS" "$r_wall") "
    [[ -n $r_client ]] && client_rates[$c]+="$(rate "$ROWS" "$(awk -v m="$r_client" 'BEGIN{print m/1000}')") "
    rss[$c]+="$r_rss "
    cpu[$c]+="$(rate "$ROWS" "$r_cpu") "
    log "run $run: $c ${r_wall}s (client ${r_client:-n/a} ms), pgcdc cpu ${r_cpu}s, peak RSS ${r_rss} MB"
  done
done
log "uptime at end: $(uptime)"

echo "| contender | events/s from pgcdc start, $RUNS runs (min – max) | median vs stdout | events/s subscription → last event (min – max) | events per pgcdc CPU-second (median) | peak RSS (MB, max) |"
echo "|---|---:|---:|---:|---:|---:|"
read -r _ _ base <<<"$(range_of "${rates[stdout]}")"
for c in "${contenders[@]}"; do
  case $c in
    stdout) label="pgcdc → stdout" ;;
    grpc_node) label="pgcdc → grpc → 1 @grpc/grpc-js client" ;;
    grpc_cxx) label="pgcdc → grpc → 1 C++ client" ;;
  esac
  read -r lo hi med <<<"$(range_of "${rates[$c]}")"
  read -r _ mem _ <<<"$(range_of "${rss[$c]}")"
  read -r _ _ per_cpu <<<"$(range_of "${cpu[$c]}")"
  client="–"
  if [[ -n ${client_rates[$c]:-} ]]; then
    read -r clo chi _ <<<"$(range_of "${client_rates[$c]}")"
    client=$(awk -v a="$clo" -v b="$chi" 'BEGIN{printf "%.1f K – %.1f K", a/1000, b/1000}')
  fi
  awk -v l="$label" -v lo="$lo" -v hi="$hi" -v m="$med" -v b="$base" -v r="$mem" -v pc="$per_cpu" \
    -v cl="$client" \
    'BEGIN{printf "| %s | %.1f K – %.1f K | %.2f× | %s | %.0f K | %s |\n", l, lo/1000, hi/1000, m/b, cl, pc/1000, r}'
done
