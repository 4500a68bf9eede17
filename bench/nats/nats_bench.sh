#!/usr/bin/env bash
# NATS JetStream sink benchmark (issue 14): the same WAL drained by
#   stdout   pgcdc → stdout > /dev/null                  (the ceiling)
#   nats     pgcdc → nats (async publish, default window of 4096 unacknowledged
#            messages; a change counts once JetStream acknowledged it)
#   nats1    pgcdc → nats --nats-max-pending 1 (one message at a time: what
#            the window buys)
# Every contender has its own pgoutput slot created before the workload, so
# each reads exactly the same WAL. A contender runs until its slot's
# confirmed position reaches the end LSN: with --persistent-slot pgcdc
# confirms only what its sink finished (for nats: what JetStream
# acknowledged). After each nats drain the stream's message count (from the
# server's monitoring endpoint, /jsz) must equal the number of changes. The
# drain order rotates per run; nats-server starts with an empty store every
# run (file storage, as users run it). The CPU seconds pgcdc and nats-server
# used during each drain are reported too (on a shared machine the ratio
# follows the CPU each path needs).
#
# Usage (as root; PostgreSQL runs as the postgres user):
#   bench/nats/nats_bench.sh                 # 200,000 INSERTs, 3 runs
#   ROWS=20000 RUNS=1 CONTENDERS="stdout nats nats1" bench/nats/nats_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), ROWS (200000), RUNS (3),
#      CONTENDERS ("stdout nats"; add nats1 for the one-at-a-time run).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/lib/bench_env.sh"
bench_env 200000
read -r -a contenders <<<"${CONTENDERS:-stdout nats}"
command -v nats-server >/dev/null || { echo "nats-server not installed" >&2; exit 1; }

nats_pid=""
stop_nats() {
  if [[ -n $nats_pid ]]; then
    kill "$nats_pid" 2>/dev/null || true
    wait "$nats_pid" 2>/dev/null || true
    nats_pid=""
  fi
}
bench_on_exit() { stop_nats; }
PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"
source "$root/bench/lib/sink_bench.sh"

NPORT=$(free_port)
MPORT=$(free_port)
start_nats() {  # a fresh JetStream store
  stop_nats
  rm -rf "$T/nats"
  nats-server -js -a 127.0.0.1 -p "$NPORT" -m "$MPORT" -sd "$T/nats" >"$T/nats.log" 2>&1 &
  nats_pid=$!
  until curl -sf "http://127.0.0.1:$MPORT/jsz" >/dev/null; do
    kill -0 "$nats_pid" 2>/dev/null || { cat "$T/nats.log" >&2; exit 1; }
    sleep 0.05
  done
}
stream_messages() {  # stream_messages NAME -> stored message count (0 when absent)
  curl -sf "http://127.0.0.1:$MPORT/jsz?streams=true" | python3 -c '
import json, sys
name = sys.argv[1]
for account in json.load(sys.stdin).get("account_details", []):
    for stream in account.get("stream_detail", []):
        if stream["name"] == name:
            print(stream["state"]["messages"]); sys.exit(0)
print(0)' "$1"
}

q "CREATE TABLE bench_n (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
q "CREATE PUBLICATION bench_npub FOR TABLE bench_n"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user+system, 1/100 s

# drain NAME END -> r_wall (seconds), r_cpu ("<pgcdc cpu s> <nats-server cpu s>")
drain() {
  local name=$1 end=$2 t0 t1
  local sink_args=(-a stdout)
  case $name in
    nats) sink_args=(-a nats --nats-url "nats://127.0.0.1:$NPORT" --nats-stream BENCH_nats
                     --nats-subject bnats) ;;
    nats1) sink_args=(-a nats --nats-url "nats://127.0.0.1:$NPORT" --nats-stream BENCH_nats1
                      --nats-subject bnats1 --nats-max-pending 1) ;;
  esac
  t0=$(now)
  "$PGCDC" listen --detector wal --db "$DSN" --publication bench_npub --persistent-slot \
    --slot-name "s_$name" --heartbeat-interval 0 --detector-status-interval 100ms \
    --http-addr "" "${sink_args[@]}" >/dev/null 2>"$T/pgcdc.err" &
  local pid=$!
  local nats_cpu0
  nats_cpu0=$(cpu_ticks "$nats_pid")
  until [[ $(q "SELECT coalesce(confirmed_flush_lsn >= '$end', false) FROM pg_replication_slots WHERE slot_name = 's_$name'") == t ]]; do
    kill -0 "$pid" 2>/dev/null || { cat "$T/pgcdc.err" >&2; exit 1; }
    sleep 0.05
  done
  t1=$(now)
  r_cpu=$(awk -v p="$(cpu_ticks "$pid")" -v n="$(cpu_ticks "$nats_pid")" -v n0="$nats_cpu0" \
    'BEGIN{printf "%.2f %.2f", p/100, (n-n0)/100}')
  kill -TERM "$pid"
  wait "$pid" || true
  r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  if [[ $name != stdout ]]; then
    local got
    got=$(stream_messages "BENCH_$name")
    [[ $got -eq $ROWS ]] || { echo "stream BENCH_$name holds $got messages, expected $ROWS" >&2; exit 1; }
  fi
}

declare -A rates pgcdc_cpu nats_cpu
n=${#contenders[@]}
for run in $(seq 1 "$RUNS"); do
  start_nats
  q "TRUNCATE bench_n"
  for c in "${contenders[@]}"; do
    q "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 's_$c'" >/dev/null
    q "SELECT pg_create_logical_replication_slot('s_$c', 'pgoutput')" >/dev/null
  done
  end=$(insert_batches bench_n "$ROWS")
  read -r -a order <<<"$(rotated "$run" "${contenders[@]}")"
  for c in "${order[@]}"; do
    drain "$c" "$end"
    rates[$c]+="$(rate "$ROWS" "$r_wall") "
    read -r pc nc <<<"$r_cpu"
    pgcdc_cpu[$c]+="$pc "
    nats_cpu[$c]+="$nc "
    log "run $run: $c ${r_wall}s (cpu: pgcdc ${pc}s, nats-server ${nc}s)"
  done
done

echo "| contender | changes/s over $RUNS runs (min – max) | median vs pgcdc → stdout |"
echo "|---|---:|---:|"
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(echo "${rates[stdout]:-0}" | median)
for c in "${contenders[@]}"; do
  case $c in
    stdout) label="pgcdc → stdout" ;;
    nats) label="pgcdc → nats (JetStream acked, window 4096)" ;;
    nats1) label="pgcdc → nats --nats-max-pending 1" ;;
  esac
  read -r lo hi < <(echo "${rates[$c]}" | tr ' ' '\n' | grep -v '^$' | sort -n | awk 'NR==1{lo=$1} {hi=$1} END{print lo, hi}')
  med=$(echo "${rates[$c]}" | median)
  awk -v l="$label" -v lo="$lo" -v hi="$hi" -v m="$med" -v b="$base" \
    'BEGIN{printf "| %s | %.1f K – %.1f K | %s |\n", l, lo/1000, hi/1000, (b > 0 ? sprintf("%.2f×", m/b) : "-")}'
done
echo
echo "| contender | pgcdc CPU s (median) | nats-server CPU s (median) |"
echo "|---|---:|---:|"
for c in "${contenders[@]}"; do
  echo "| $c | $(echo "${pgcdc_cpu[$c]}" | median) | $(echo "${nats_cpu[$c]}" | median) |"
done
echo
echo "PostgreSQL $(q 'SHOW server_version'); nats-server $(nats-server --version | awk '{print $NF}'); $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
