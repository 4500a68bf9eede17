#!/usr/bin/env bash
# Commit -> stdout and commit -> webhook latency (issue 6, part 2) at 1,000 and
# 5,000 single-row transactions per second, 30 s each (DURATION to change).
#
# Usage (as root; the server runs as the postgres user):
#   bench/latency/latency_bench.sh
#   DURATION=10 RATES="1000 5000" bench/latency/latency_bench.sh
# Env: WEBHOOK_FLAG=" " measures stdout only; PGCDC_BIN (default build/release/pgcdc), LATENCY_BIN (default
#      build/release/bench/latency/latency_bench), DURATION, RATES.
#
# The cluster commits synchronously (synchronous_commit=on: the walsender
# sends a transaction once its WAL is flushed) with fsync=off, so a commit
# costs no disk wait and the measurement is about pgcdc, not the disk.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PGCDC=${PGCDC_BIN:-$root/build/release/pgcdc}
LATENCY=${LATENCY_BIN:-$root/build/release/bench/latency/latency_bench}
DURATION=${DURATION:-30}
RATES=${RATES:-1000 5000}
[[ -x $PGCDC ]] || { echo "pgcdc binary not found: $PGCDC" >&2; exit 1; }
[[ -x $LATENCY ]] || { echo "latency_bench not built: $LATENCY (ninja -C build/release latency_bench)" >&2; exit 1; }

PG_SETTINGS="-c fsync=off -c synchronous_commit=on -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"

echo "| run | path | rate | rows | received | p50 | p95 | p99 | max |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
for rate in $RATES; do
  log "rate $rate tx/s for ${DURATION}s"
  "$LATENCY" --dsn "$DSN" --pgcdc "$PGCDC" --rate "$rate" --seconds "$DURATION" ${WEBHOOK_FLAG:---webhook} \
    --label "${rate}/s"
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "PostgreSQL $(q 'SHOW server_version'); $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); kernel $(uname -r); load average after: $load"
