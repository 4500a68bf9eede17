#!/usr/bin/env bash
# Log-consumer benchmark (issue 18): N small JSON messages read from a log and
# written to stdout (> /dev/null), pgcdc against a plain client of the same
# library on the same data in the same run.
#
#   kafka   pgcdc listen --detector kafka_consumer -a stdout    (a record
#           counts once its offset is committed, i.e. after stdout wrote it)
#           vs  kcat -C -e -o beginning                          (no group)
#           librdkafka mock cluster (tests/tools/kafka_mock_cluster.cc),
#           one topic with PARTITIONS partitions filled by kcat -P.
#   nats    pgcdc listen --detector nats_consumer -a stdout     (a message
#           counts once acked, i.e. after stdout wrote it)
#           vs  nats_bench_tool consume (bench/consumers/nats_bench_tool.cc: a
#           libnats durable pull consumer, fetch 500, write, ack; the `nats`
#           CLI is not packaged)
#           nats-server -js, file storage, one stream filled once.
#
# Each run uses a fresh consumer group / durable, so every contender reads the
# whole log; the order of the contenders alternates between runs. pgcdc's time
# runs from the moment it owns the partitions (Kafka: "kafka partitions
# assigned", after the group join, which the mock delays by ~3 s) or is
# subscribed (NATS: "consuming") until its committed/acked counter reaches N
# (polled every 20 ms from /metrics); the peers' time is their whole run
# (kcat connects and fetches metadata within it). CPU = utime+stime of the
# process.
#
# Usage: bench/consumers/consumers_bench.sh      (N=1000000, RUNS=3)
# Env: PGCDC_BIN, MOCK_BIN, TOOL_BIN, N, RUNS, PARTITIONS (32), WHICH ("kafka nats")
# The mock cluster keeps only the newest ~60,000 small records of a partition
# (its retention), so 1,000,000 records need enough partitions; the script
# checks that the topic holds N records before it measures.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PGCDC=${PGCDC_BIN:-$root/build/release/pgcdc}
MOCK=${MOCK_BIN:-$root/build/release/tests/scenarios/kafka_mock_cluster}
TOOL=${TOOL_BIN:-$root/build/release/bench/consumers/nats_bench_tool}
N=${N:-1000000}
RUNS=${RUNS:-3}
PARTITIONS=${PARTITIONS:-32}
read -r -a which <<<"${WHICH:-kafka nats}"
T=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

log() { echo "[$(date +%T)] $*" >&2; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
now() { date +%s.%N; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)
metric() {
  curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v s="$1" '$1 == s {print $2; f=1} END {if (!f) print 0}'
}
HTTP_PORT=$(free_port)

# run_pgcdc READY_TEXT COUNTER ARGS... -> r_wall r_cpu
run_pgcdc() {
  local ready=$1 counter=$2 t0 t1 pid c=0
  shift 2
  "$PGCDC" listen "$@" --http-addr "127.0.0.1:$HTTP_PORT" -a stdout >/dev/null 2>"$T/pgcdc.err" &
  pid=$!
  until grep -q "$ready" "$T/pgcdc.err"; do
    kill -0 "$pid" 2>/dev/null || { cat "$T/pgcdc.err" >&2; exit 1; }
    sleep 0.01
  done
  t0=$(now)
  until [[ $(metric "$counter") == "$N" ]]; do sleep 0.02; done
  t1=$(now)
  c=$(ticks "$pid")
  kill -TERM "$pid"
  wait "$pid" || true
  r_wall=$(echo "$t1 - $t0" | bc -l)
  r_cpu=$(echo "$c / $hz" | bc -l)
}

# run_peer CMD... -> r_wall r_cpu (the command's CPU: this shell's children
# CPU since `peer_c` was taken)
run_peer() {
  local t0 t1 end_c
  t0=$(now)
  "$@" >/dev/null 2>"$T/peer.err" || { cat "$T/peer.err" >&2; exit 1; }
  t1=$(now)
  end_c=$(awk '{print $16 + $17}' /proc/$$/stat)
  r_wall=$(echo "$t1 - $t0" | bc -l)
  r_cpu=$(echo "($end_c - $peer_c) / $hz" | bc -l)
}

report() {  # NAME WALL CPU
  printf '%-28s %7.2f s  %9.0f msg/s  cpu %6.2f s\n' "$1" "$2" "$(echo "$N / $2" | bc -l)" "$3"
}

# alternate PGCDC_NAME PGCDC_FN PEER_NAME PEER_FN: RUNS runs, the order of the
# two alternating; each function gets the run number.
alternate() {
  local run who
  for run in $(seq 1 "$RUNS"); do
    local order=(pgcdc peer)
    ((run % 2 == 0)) && order=(peer pgcdc)
    for who in "${order[@]}"; do
      if [[ $who == pgcdc ]]; then
        "$2" "$run"
        report "run $run $1" "$r_wall" "$r_cpu"
      else
        peer_c=$(awk '{print $16 + $17}' /proc/$$/stat)
        "$4" "$run"
        report "run $run $3" "$r_wall" "$r_cpu"
      fi
    done
  done
}

bench_kafka() {
  "$MOCK" --topic "bench:$PARTITIONS" >"$T/mock.out" 2>"$T/mock.err" &
  pids+=($!)
  until grep -qs '^bootstrap=' "$T/mock.out"; do sleep 0.02; done
  local boot
  boot=$(sed -n 's/^bootstrap=//p' "$T/mock.out")
  log "kafka: filling topic bench ($PARTITIONS partitions) with $N records"
  seq 1 "$N" | awk '{printf "{\"i\":%d,\"v\":\"abcdefghijklmnop\"}\n", $1}' >"$T/data"
  kcat -P -b "$boot" -t bench -X queue.buffering.max.messages=1000000 -l "$T/data"
  local held
  held=$(kcat -C -b "$boot" -t bench -o beginning -e -q | wc -l)
  [[ $held == "$N" ]] || { echo "the topic holds $held records, not $N: more PARTITIONS" >&2; exit 1; }
  kafka_pgcdc() {
    run_pgcdc "kafka partitions assigned" pgcdc_kafka_consumer_committed_total \
      --detector kafka_consumer --kafka-brokers "$boot" --kafka-consumer-topics bench \
      --kafka-consumer-group "bench$1"
  }
  kafka_peer() { run_peer kcat -C -b "$boot" -t bench -o beginning -e -q; }
  alternate "pgcdc kafka_consumer" kafka_pgcdc "kcat -C -e" kafka_peer
}

bench_nats() {
  local port
  port=$(free_port)
  nats-server -js -a 127.0.0.1 -p "$port" -sd "$T/nats" >"$T/nats.log" 2>&1 &
  pids+=($!)
  until "$TOOL" fill "nats://127.0.0.1:$port" PROBE probe.x 1 2>/dev/null; do sleep 0.05; done
  log "nats: filling stream BENCH with $N messages"
  "$TOOL" fill "nats://127.0.0.1:$port" BENCH "bench.x" "$N"
  nats_pgcdc() {
    run_pgcdc "consuming detector=nats_consumer" pgcdc_nats_consumer_acked_total \
      --detector nats_consumer --nats-url "nats://127.0.0.1:$port" \
      --nats-consumer-stream BENCH --nats-consumer-durable "pgcdc$1"
  }
  nats_peer() { run_peer "$TOOL" consume "nats://127.0.0.1:$port" BENCH "peer$1" "$N" 500; }
  alternate "pgcdc nats_consumer" nats_pgcdc "nats_bench_tool" nats_peer
}

log "N=$N RUNS=$RUNS; $(nproc) CPUs; load: $(uptime)"
for w in "${which[@]}"; do "bench_$w"; done
log "load after: $(uptime)"
