#!/usr/bin/env bash
# Kafka sink benchmark (issue 14): WAL -> Kafka against WAL -> stdout on the
# same WAL, in the same run.
#
#   pgcdc listen --detector wal -a kafka  (librdkafka mock cluster, acks=all,
#                                          idempotent; an event counts only
#                                          once the broker confirmed it)
#   pgcdc listen --detector wal -a stdout > /dev/null
#
# Each run creates one logical slot per contender before the workload, so
# both slots hold exactly the same WAL, then drains them one after the other
# (the order alternates between runs) until the slot's confirmed_flush_lsn
# reaches the end of the workload — pgcdc confirms only what its sink
# acknowledged, so the time covers delivery to the broker. The broker is
# tests/tools/kafka_mock_cluster.cc in its own process (built with the tests).
#
# Usage (as root; the server runs as the postgres user):
#   bench/kafka/kafka_bench.sh
#   ROWS=200000 RUNS=5 bench/kafka/kafka_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), MOCK_BIN (default
#      build/release/tests/scenarios/kafka_mock_cluster), ROWS (500000, in
#      transactions of 1,000 single-row INSERTs), RUNS (3), BROKERS (1),
#      PARTITIONS (8), KAFKA_ARGS (extra pgcdc flags for the kafka contender),
#      PERF=kafka|stdout records `perf record -g` of that contender's drain into
#      bench/kafka/perf_report.txt (perf slows it down: use for profiles only).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PGCDC=${PGCDC_BIN:-$root/build/release/pgcdc}
MOCK=${MOCK_BIN:-$root/build/release/tests/scenarios/kafka_mock_cluster}
ROWS=${ROWS:-500000}
RUNS=${RUNS:-3}
BROKERS=${BROKERS:-1}
PARTITIONS=${PARTITIONS:-8}
[[ -x $PGCDC ]] || { echo "pgcdc binary not found: $PGCDC" >&2; exit 1; }
[[ -x $MOCK ]] || { echo "kafka_mock_cluster not found: $MOCK (build the tests)" >&2; exit 1; }
((ROWS % 1000 == 0)) || { echo "ROWS must be a multiple of 1000" >&2; exit 1; }

pgcdc_pid=""
mock_pid=""
bench_on_exit() {
  [[ -n $pgcdc_pid ]] && kill "$pgcdc_pid" 2>/dev/null || true
  [[ -n $mock_pid ]] && kill "$mock_pid" 2>/dev/null || true
}
PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"
HTTP_PORT=$(free_port)

"$MOCK" --brokers "$BROKERS" --topic "pgcdc.bench_k:$PARTITIONS" >"$T/mock.out" 2>"$T/mock.err" &
mock_pid=$!
until grep -q '^bootstrap=' "$T/mock.out"; do
  kill -0 "$mock_pid" 2>/dev/null || { cat "$T/mock.err" >&2; exit 1; }
  sleep 0.02
done
BOOT=$(sed -n 's/^bootstrap=//p' "$T/mock.out")
log "mock cluster: $BROKERS broker(s) at $BOOT, topic pgcdc.bench_k with $PARTITIONS partitions"

q "CREATE TABLE bench_k (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
q "CREATE PUBLICATION bench_kpub FOR TABLE bench_k"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime of a process
hz=$(getconf CLK_TCK)

metric() {  # value of one metric series (0 when absent)
  curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v s="$1" '$1 == s {print $2; f=1} END {if (!f) print 0}'
}

# drain NAME SLOT END -> r_wall (s), r_cpu (client CPU s), r_rss (KB)
drain() {
  local name=$1 slot=$2 end=$3 t0 t1 tpid
  local args=(listen --detector wal --db "$DSN" --publication bench_kpub --persistent-slot
              --slot-name "$slot" --heartbeat-interval 0 --detector-status-interval 100ms
              --http-addr "127.0.0.1:$HTTP_PORT")
  if [[ $name == kafka ]]; then
    # shellcheck disable=SC2206
    args+=(-a kafka --kafka-brokers "$BOOT" ${KAFKA_ARGS:-})
  else
    args+=(-a stdout)
  fi
  local m0
  m0=$(ticks "$mock_pid")
  t0=$(now)
  /usr/bin/time -o "$T/time" -f '%U %S %M' "$PGCDC" "${args[@]}" >/dev/null 2>"$T/pgcdc.err" &
  tpid=$!
  while [[ -z $pgcdc_pid ]]; do pgcdc_pid=$(pgrep -P "$tpid" || true); sleep 0.01; done
  local perf_pid=""
  if [[ ${PERF:-} == "$name" ]]; then
    perf record -g -o "$T/perf.data" -p "$pgcdc_pid" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  until [[ $(q "SELECT coalesce(confirmed_flush_lsn >= '$end', false) FROM pg_replication_slots WHERE slot_name = '$slot'") == t ]]; do
    kill -0 "$pgcdc_pid" 2>/dev/null || { cat "$T/pgcdc.err" >&2; exit 1; }
    sleep 0.05
  done
  t1=$(now)
  r_broker=$(awk -v a="$m0" -v b="$(ticks "$mock_pid")" -v hz="$hz" 'BEGIN{printf "%.2f", (b-a)/hz}')
  if [[ -n $perf_pid ]]; then
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    perf report -i "$T/perf.data" --stdio --no-children -g none --percent-limit 0.7 2>/dev/null \
      | grep -v "^#" | grep -v "^$" | head -60 >"$here/perf_report.txt" || true
    log "perf report written to $here/perf_report.txt"
  fi
  if [[ $name == kafka ]]; then
    r_delivered=$(metric pgcdc_kafka_records_delivered_total)
    r_retried=$(metric pgcdc_kafka_records_retried_total)
  fi
  kill -TERM "$pgcdc_pid"; wait "$tpid" || true; pgcdc_pid=""
  r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  read -r u s m <"$T/time"
  r_cpu=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}')
  r_rss=$m
}

n_tx=$((ROWS / 1000))
load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "| run | changes | contender | wall s | changes/s | kafka / stdout | client CPU s | broker CPU s | client peak RSS |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|"
ratios=()
for run in $(seq 1 "$RUNS"); do
  q "TRUNCATE bench_k"
  q "SELECT pg_create_logical_replication_slot('s_kafka', 'pgoutput')" >/dev/null
  q "SELECT pg_create_logical_replication_slot('s_stdout', 'pgoutput')" >/dev/null
  base=$(( (run - 1) * ROWS ))
  q "DO \$\$ BEGIN
       FOR t IN 0..$((n_tx - 1)) LOOP
         FOR i IN 1..1000 LOOP
           INSERT INTO bench_k VALUES ($base + t * 1000 + i, i, 'row ' || ($base + t * 1000 + i),
                                       now(), ($base + t * 1000 + i) / 100.0);
         END LOOP;
         COMMIT;
       END LOOP;
     END \$\$"
  end=$(q "SELECT pg_current_wal_lsn()")
  order="kafka stdout"
  ((run % 2 == 0)) && order="stdout kafka"
  declare -A wall cpu rss broker
  for c in $order; do
    drain "$c" "s_$c" "$end"
    wall[$c]=$r_wall cpu[$c]=$r_cpu rss[$c]=$r_rss broker[$c]=$r_broker
    log "run $run: $c ${r_wall}s"
  done
  log "run $run: kafka delivered $r_delivered records (expected $ROWS), re-produced $r_retried"
  ratio=$(awk -v k="${wall[kafka]}" -v s="${wall[stdout]}" 'BEGIN{printf "%.2f", s/k}')
  ratios+=("$ratio")
  for c in kafka stdout; do
    awk -v r="$run" -v n="$ROWS" -v c="$c" -v t="${wall[$c]}" -v ratio="$ratio" -v cpu="${cpu[$c]}" \
        -v rss="${rss[$c]}" -v bc="${broker[$c]}" 'BEGIN{
      name = c == "kafka" ? "pgcdc → kafka (mock, acks=all)" : "pgcdc → stdout";
      printf "| %d | %d | %s | %.2f | %.0f K | %s | %.2f | %s | %.1f MB |\n",
        r, n, name, t, n/t/1000, c == "kafka" ? ratio "×" : "", cpu, c == "kafka" ? bc : "", rss/1024 }'
  done
  q "SELECT pg_drop_replication_slot('s_kafka')" >/dev/null
  q "SELECT pg_drop_replication_slot('s_stdout')" >/dev/null
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
echo
printf 'kafka / stdout throughput ratio over %d runs: %s (min %s, max %s)\n' "$RUNS" "${ratios[*]}" \
  "$(printf '%s\n' "${ratios[@]}" | sort -n | head -1)" "$(printf '%s\n' "${ratios[@]}" | sort -n | tail -1)"
echo "load average before: $load0, after: $load1; $(nproc) CPUs"
