#!/usr/bin/env bash
# kafkaserver benchmark (issue 7):
#  1. throughput: 1,000,000 WAL rows (one INSERT ... SELECT) flow into the
#     built-in broker's topic; then `kcat -C -e -o beginning -q` drains the
#     whole topic (target >= 500 K records/s).
#  2. latency: single-row transactions at RATE tx/s for DURATION s; a kcat
#     consumer tails the topic and a tiny reader stamps each record on
#     arrival: arrival - commit time (clock_timestamp() written into the row).
#
# Usage (as root; the server runs as the postgres user):
#   bench/kafkaserver/kafkaserver_bench.sh
#   ROWS=200000 RATE=500 DURATION=10 bench/kafkaserver/kafkaserver_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), ROWS (1000000), PARTITIONS (8),
#      RATE (1000), DURATION (20), VALUE (event|payload, default event).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PGCDC=${PGCDC_BIN:-$root/build/release/pgcdc}
ROWS=${ROWS:-1000000}
PARTITIONS=${PARTITIONS:-8}
RATE=${RATE:-1000}
DURATION=${DURATION:-20}
VALUE=${VALUE:-event}
[[ -x $PGCDC ]] || { echo "pgcdc binary not found: $PGCDC" >&2; exit 1; }
command -v kcat >/dev/null || { echo "kcat not installed" >&2; exit 1; }

pgcdc_pid=""
tail_pid=""
bench_on_exit() {
  cp "$T/pgcdc.log" "${TMPDIR:-/tmp}/kafkaserver_bench_pgcdc.log" 2>/dev/null || true
  [[ -n $tail_pid ]] && kill "$tail_pid" 2>/dev/null || true
  if [[ -n $pgcdc_pid ]] && ! kill -0 "$pgcdc_pid" 2>/dev/null; then
    echo "pgcdc exited early:" >&2
    tail -20 "$T/pgcdc.log" >&2
  fi
  [[ -n $pgcdc_pid ]] && kill "$pgcdc_pid" 2>/dev/null || true
}
PG_SETTINGS="-c fsync=off -c synchronous_commit=on -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"

KPORT=$(free_port)
HTTP_PORT=$(free_port)
BROKER=127.0.0.1:$KPORT
metric() {  # value of one metric series (0 when absent)
  curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v s="$1" '$1 == s {print $2; f=1} END {if (!f) print 0}'
}
wait_metric() {  # wait until metric $1 >= $2
  while :; do
    v=$(metric "$1")
    awk -v v="$v" -v n="$2" 'BEGIN {exit !(v >= n)}' && return 0
    sleep 0.05
  done
}

q "CREATE TABLE bench_k (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         ts double precision NOT NULL)"
q "CREATE PUBLICATION bench_kpub FOR TABLE bench_k"

# Every record stays in memory (no eviction) and nothing is held for groups.
per_partition=$(( ROWS / PARTITIONS * 2 + 100000 ))
"$PGCDC" listen --detector wal --db "$DSN" --publication bench_kpub \
  --http-addr "127.0.0.1:$HTTP_PORT" -a kafkaserver --kafkaserver-addr "$BROKER" \
  --kafkaserver-partitions "$PARTITIONS" --kafkaserver-buffer-size "$per_partition" \
  --kafkaserver-buffer-bytes 0 --kafkaserver-ack stored --kafkaserver-value "$VALUE" \
  --bus-mode reliable 2>"$T/pgcdc.log" &
pgcdc_pid=$!
until grep -q "streaming detector=wal" "$T/pgcdc.log"; do
  kill -0 "$pgcdc_pid" 2>/dev/null || { cat "$T/pgcdc.log" >&2; exit 1; }
  sleep 0.05
done

# --- 1. throughput ----------------------------------------------------------
log "inserting $ROWS rows in one transaction"
t0=$(now)
q "INSERT INTO bench_k SELECT g, g % 1000, md5(g::text), 0 FROM generate_series(1, $ROWS) g"
t1=$(now)
wait_metric pgcdc_kafkaserver_records_stored_total "$ROWS"
t2=$(now)
topic_bytes=$(metric pgcdc_kafkaserver_fetch_bytes_total)
log "draining with kcat"
t3=$(now)
got=$(kcat -b "$BROKER" -C -t pgcdc.bench_k -o beginning -e -q | wc -l)
t4=$(now)
fetched_after=$(metric pgcdc_kafkaserver_fetch_bytes_total)
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pgcdc_pid/status")
awk -v rows="$ROWS" -v got="$got" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" -v t4="$t4" \
    -v before="$topic_bytes" -v after="$fetched_after" -v rss="$rss_kb" 'BEGIN {
  bytes = after - before
  printf "| step | records | seconds | records/s |\n|---|---:|---:|---:|\n"
  printf "| INSERT %d rows (commit) | %d | %.2f | |\n", rows, rows, t1 - t0
  printf "| WAL -> broker (commit to last record stored) | %d | %.2f | %.0f |\n", rows, t2 - t1, rows / (t2 - t1)
  printf "| kcat -C -e -o beginning -q (drain) | %d | %.2f | %.0f |\n", got, t4 - t3, got / (t4 - t3)
  printf "\nfetched %.1f MiB (%.0f bytes/record); pgcdc peak RSS %.0f MiB\n", bytes / 1048576, bytes / got, rss / 1024
}'
[[ $got -eq $ROWS ]] || { echo "kcat drained $got records, expected $ROWS" >&2; exit 1; }

# --- 2. latency -------------------------------------------------------------
# A tailing kcat prints each record's payload; the reader stamps arrival.
log "latency: $RATE tx/s for ${DURATION}s"
q "TRUNCATE bench_k"
python3 - "$BROKER" "$T/latency.txt" <<'PY' &
import json, signal, subprocess, sys, time
broker, out = sys.argv[1], sys.argv[2]
p = subprocess.Popen(["kcat", "-b", broker, "-C", "-t", "pgcdc.bench_k", "-o", "end", "-u", "-q",
                      "-f", "%s\n"], stdout=subprocess.PIPE, bufsize=0)
def stop(*_):
    p.terminate()
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
with open(out, "w") as f:
    for line in p.stdout:
        now = time.time() * 1000
        try:
            v = json.loads(line)
        except ValueError:
            continue
        payload = v.get("payload", v)
        if payload.get("op") != "INSERT":
            continue
        f.write("%.3f\n" % (now - payload["row"]["ts"]))
        f.flush()
PY
tail_pid=$!
sleep 2  # the tailing consumer has joined (kcat -o end needs its first fetch)
cat >"$T/tx.sql" <<'SQL'
\set id random(1, 1000000000)
INSERT INTO bench_k VALUES (:id, 1, 'x', extract(epoch from clock_timestamp()) * 1000)
  ON CONFLICT (id) DO NOTHING;
SQL
"$PGBIN/pgbench" -n -f "$T/tx.sql" -R "$RATE" -T "$DURATION" -c 2 -j 1 "$DSN" >"$T/pgbench.log" 2>&1
sleep 2
kill "$tail_pid" 2>/dev/null || true
wait "$tail_pid" 2>/dev/null || true
tail_pid=""
sort -n "$T/latency.txt" | awk -v rate="$RATE" -v dur="$DURATION" '{a[NR]=$1} END {
  if (NR == 0) { print "no latency samples"; exit 1 }
  i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
  i95 = int(NR * 0.95); if (i95 < 1) i95 = 1
  i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
  printf "\n| rate | records | p50 ms | p95 ms | p99 ms | max ms |\n|---:|---:|---:|---:|---:|---:|\n"
  printf "| %d tx/s for %d s | %d | %.1f | %.1f | %.1f | %.1f |\n", rate, dur, NR, a[i50], a[i95], a[i99], a[NR]
}'
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "PostgreSQL $(q 'SHOW server_version'); $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); kernel $(uname -r); kcat $(kcat -V 2>&1 | grep -o 'Version [^ ]*' | cut -d' ' -f2); load average after: $load"
