#!/usr/bin/env bash
# `pgcdc serve` with N WAL pipelines on one database, idle: resident memory and
# CPU, side by side with the same N pipelines as N `pgcdc listen` processes
# (what a user runs without serve). Each pipeline streams its own table through
# its own slot into stdout (discarded).
#
#   bench/serve/serve_idle.sh            (as root; N=20, IDLE=30 s, RUNS=3)
#   N=20 IDLE=30 RUNS=3 bench/serve/serve_idle.sh
#
# Prints one line per run and contender: RSS (MiB, summed over processes) once
# every pipeline streams, and CPU seconds used during IDLE seconds of no writes.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-20}
IDLE=${IDLE:-30}
source "$root/bench/lib/bench_env.sh"
bench_env 0 3
PG_SETTINGS="-c max_replication_slots=$((N + 5)) -c max_wal_senders=$((N + 5)) -c max_connections=$((2 * N + 20))"
pids=()
bench_on_exit() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
source "$root/bench/lib/pg_cluster.sh"

for i in $(seq 1 "$N"); do
  q "CREATE TABLE idle_$i (id int PRIMARY KEY, v text); CREATE PUBLICATION idle_${i}_pub FOR TABLE idle_$i;"
done

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ready() { curl -sf "http://$1/readyz" >/dev/null; }

measure() {  # label pid...
  local label=$1; shift
  local rss=0 t0=0 t1=0
  sleep 5  # settle after start-up (allocations of the first batches)
  for p in "$@"; do t0=$((t0 + $(cpu_ticks "$p"))); done
  sleep "$IDLE"
  for p in "$@"; do t1=$((t1 + $(cpu_ticks "$p"))); rss=$((rss + $(rss_kib "$p"))); done
  local hz; hz=$(getconf CLK_TCK)
  printf '%-7s run %d: N=%d  RSS %.1f MiB  CPU %.2f s in %d s idle\n' "$label" "$run" "$N" \
    "$(echo "$rss / 1024" | bc -l)" "$(echo "($t1 - $t0) / $hz" | bc -l)" "$IDLE"
}

wal_keys() {  # i -> the pipeline's settings (YAML flow map entries)
  echo "database_url: \"postgres://postgres@127.0.0.1:$PORT/postgres\", detector: {type: wal, publication: idle_${1}_pub}, adapters: [stdout]"
}

for run in $(seq 1 "$RUNS"); do
  # serve: one process, N pipelines.
  yaml=$T/serve.yaml
  { echo "state_file: $T/state.json"; echo "pipelines:"
    for i in $(seq 1 "$N"); do echo "  - {name: p$i, $(wal_keys "$i")}"; done; } > "$yaml"
  port=$(free_port)
  "$PGCDC" serve --config "$yaml" --addr "127.0.0.1:$port" >/dev/null 2>"$T/serve.log" &
  pids=($!)
  for _ in $(seq 1 600); do ready "127.0.0.1:$port" && break; sleep 0.1; done
  ready "127.0.0.1:$port" || { tail "$T/serve.log" >&2; exit 1; }
  measure serve "${pids[0]}"
  kill -TERM "${pids[0]}"; wait "${pids[0]}" || true; pids=()

  # listen: N processes.
  ports=()
  for i in $(seq 1 "$N"); do
    port=$(free_port); ports+=("$port")
    "$PGCDC" listen --db "postgres://postgres@127.0.0.1:$PORT/postgres" --detector wal \
      --publication "idle_${i}_pub" --http-addr "127.0.0.1:$port" >/dev/null 2>>"$T/listen.log" &
    pids+=($!)
  done
  for port in "${ports[@]}"; do
    for _ in $(seq 1 600); do ready "127.0.0.1:$port" && break; sleep 0.1; done
  done
  measure listen "${pids[@]}"
  for p in "${pids[@]}"; do kill -TERM "$p"; done
  for p in "${pids[@]}"; do wait "$p" || true; done
  pids=()
done
