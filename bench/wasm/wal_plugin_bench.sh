#!/usr/bin/env bash
# WAL -> transform -> stdout with the same WAL three ways (issue 23):
#   none     : no transform (the ceiling)
#   builtin  : --drop-columns email          (the built-in transform)
#   plugin   : --plugin-transform drop_field.wasm --plugin-transform-config '{"field":"email"}'
# Each contender has its own logical slot, created before the workload, so all
# three read exactly the same WAL; each run writes ROWS single-row INSERTs in
# transactions of 1,000 and drains the three slots one after the other (the
# order rotates per run). Reported: wall time until the slot's
# confirmed_flush_lsn reached the end, events/s, pgcdc's CPU, and the plugin's
# throughput relative to the built-in transform (issue 23 asks >= 0.8x).
#
# Usage (as root; the server runs as the postgres user):
#   PGCDC_BIN=build/release/pgcdc bench/wasm/wal_plugin_bench.sh   # ROWS=200000 RUNS=3
# Env: PLUGIN (default build/release/src/wasm/testdata/drop_field.wasm).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/lib/bench_env.sh"
bench_env 200000 3
PLUGIN=${PLUGIN:-$(dirname "$PGCDC")/src/wasm/testdata/drop_field.wasm}
[[ -f $PLUGIN ]] || { echo "plugin not found: $PLUGIN" >&2; exit 1; }

pgcdc_pid=""
bench_on_exit() { [[ -n $pgcdc_pid ]] && kill "$pgcdc_pid" 2>/dev/null || true; }
PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"

q "CREATE TABLE bench_u (id bigint PRIMARY KEY, email text NOT NULL, name text NOT NULL,
                         score integer NOT NULL, note text NOT NULL)"
q "CREATE PUBLICATION bench_pub FOR TABLE bench_u"
contenders=(none builtin plugin)
for c in "${contenders[@]}"; do
  q "SELECT pg_create_logical_replication_slot('s_$c', 'pgoutput')" >/dev/null
done

# drain NAME END -> r_wall r_cpu
drain() {
  local c=$1 end=$2 extra=() t0 t1 tf="$T/time.$1"
  case $c in
    builtin) extra=(--drop-columns email) ;;
    plugin) extra=(--plugin-transform "$PLUGIN" --plugin-transform-config '{"field": "email"}') ;;
  esac
  t0=$(now)
  /usr/bin/time -o "$tf" -f '%U %S' "$PGCDC" listen --detector wal --db "$DSN" \
    --publication bench_pub --persistent-slot --slot-name "s_$c" --heartbeat-interval 0 \
    --detector-status-interval 100ms --http-addr "" -a stdout "${extra[@]}" \
    >/dev/null 2>"$T/pgcdc.err" &
  local tpid=$!
  while [[ -z $pgcdc_pid ]]; do pgcdc_pid=$(pgrep -P "$tpid" || true); sleep 0.01; done
  until [[ $(q "SELECT coalesce(confirmed_flush_lsn >= '$end', false) FROM pg_replication_slots WHERE slot_name = 's_$c'") == t ]]; do
    kill -0 "$pgcdc_pid" 2>/dev/null || { cat "$T/pgcdc.err" >&2; exit 1; }
    sleep 0.05
  done
  t1=$(now)
  kill -TERM "$pgcdc_pid"; wait "$tpid" || true; pgcdc_pid=""
  r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  read -r u s <"$tf"
  r_cpu=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}')
}

log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| run | contender | wall s | events/s | pgcdc CPU s | CPU µs/event | throughput vs built-in |"
echo "|---:|---|---:|---:|---:|---:|---:|"
for run in $(seq 1 "$RUNS"); do
  base=$(q "SELECT coalesce(max(id), 0) FROM bench_u")
  q "DO \$\$ BEGIN FOR i IN 0..$((ROWS / 1000 - 1)) LOOP
       INSERT INTO bench_u SELECT g, 'user' || g || '@example.com', 'Name ' || g, g % 1000,
         repeat('x', 100) FROM generate_series($base + i * 1000 + 1, $base + i * 1000 + 1000) g;
       COMMIT; END LOOP; END \$\$"
  end=$(q "SELECT pg_current_wal_lsn()")
  # Rotate the order so no contender always runs first.
  order=("${contenders[@]:$(( (run - 1) % 3 ))}" "${contenders[@]:0:$(( (run - 1) % 3 ))}")
  declare -A wall cpu
  for c in "${order[@]}"; do
    drain "$c" "$end"
    wall[$c]=$r_wall cpu[$c]=$r_cpu
    log "run $run $c: ${r_wall}s, CPU ${r_cpu}s, load $(cut -d' ' -f1 /proc/loadavg)"
  done
  for c in "${contenders[@]}"; do
    awk -v run="$run" -v c="$c" -v n="$ROWS" -v t="${wall[$c]}" -v cpu="${cpu[$c]}" \
        -v tb="${wall[builtin]}" 'BEGIN{
      printf "| %d | %s | %.2f | %.0f | %.2f | %.2f | %.2f× |\n", run, c, t, n/t, cpu, cpu*1e6/n, tb/t }'
  done
done
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
