#!/usr/bin/env bash
# Iceberg sink benchmark (issue 19): the same WAL drained by
#   file     pgcdc → file sink (JSON lines on local disk: the reference peer)
#   s3pq     pgcdc → s3 parquet envelope into s3rver (the nearest peer: same Parquet writer)
#   ice      pgcdc → iceberg, local warehouse (Parquet + Avro manifests + metadata commit)
#   iceup    pgcdc → iceberg upsert (--iceberg-pk id: equality deletes per commit)
#   ices3    pgcdc → iceberg, s3:// warehouse on s3rver
# Every contender has its own slot created before the workload, so each reads
# exactly the same WAL, and runs with --persistent-slot until its slot's
# confirmed position reaches the end LSN (the iceberg sink confirms only what
# it committed). The drain order rotates per run. The peak RSS (VmHWM) of each
# pgcdc process is reported.
#
# Usage (as root; PostgreSQL runs as the postgres user):
#   bench/iceberg/iceberg_bench.sh                 # 200,000 INSERTs, 3 runs
#   ROWS=50000 RUNS=1 bench/iceberg/iceberg_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), ROWS (200000), RUNS (3),
#      CONTENDERS (default "file s3pq ice iceup ices3"; file is the baseline),
#      FLUSH (events per flush/commit for s3pq and iceberg, default 10000).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/lib/bench_env.sh"
bench_env 200000 3
FLUSH=${FLUSH:-10000}
S3RVER=$root/tests/tools/node_modules/s3rver/bin/s3rver.js
[[ -f $S3RVER ]] || { echo "s3rver not installed: (cd tests/tools && npm ci)" >&2; exit 1; }

s3_pid=""
bench_on_exit() { [[ -n $s3_pid ]] && kill "$s3_pid" 2>/dev/null || true; }
PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"
source "$root/bench/lib/sink_bench.sh"

SPORT=$(free_port)
mkdir -p "$T/s3" "$T/wh"
node "$S3RVER" -d "$T/s3" -a 127.0.0.1 -p "$SPORT" -s --configure-bucket bench >"$T/s3rver.log" 2>&1 &
s3_pid=$!
until curl -s -o /dev/null "http://127.0.0.1:$SPORT/"; do sleep 0.05; done

q "CREATE TABLE bench_i (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
q "CREATE PUBLICATION bench_ipub FOR TABLE bench_i"

# drain NAME END -> r_wall, r_hwm (peak RSS, MiB), r_cpu (pgcdc's user+system CPU seconds)
drain() {
  local name=$1 end=$2 t0 t1
  local sink_args=(-a file --file-path "$T/out.jsonl" --file-max-size 0)
  local creds=(--iceberg-s3-endpoint "http://127.0.0.1:$SPORT" --iceberg-s3-access-key-id S3RVER
               --iceberg-s3-secret-access-key S3RVER)
  local ice=(-a iceberg --iceberg-table "$name" --iceberg-flush-interval 1s --iceberg-flush-size "$FLUSH")
  case $name in
    s3pq) sink_args=(-a s3 --s3-bucket bench --s3-endpoint "http://127.0.0.1:$SPORT"
                     --s3-access-key-id S3RVER --s3-secret-access-key S3RVER --s3-flush-interval 1s
                     --s3-prefix "$name" --s3-flush-size "$FLUSH" --s3-format parquet) ;;
    ice) sink_args=("${ice[@]}" --iceberg-warehouse "$T/wh") ;;
    iceup) sink_args=("${ice[@]}" --iceberg-warehouse "$T/wh" --iceberg-mode upsert --iceberg-pk id) ;;
    ices3) sink_args=("${ice[@]}" --iceberg-warehouse s3://bench/wh "${creds[@]}") ;;
  esac
  rm -f "$T/out.jsonl"
  drain_wal bench_ipub "$name" "$end" --bus-mode reliable "${sink_args[@]}"
}

# The committed row count of an iceberg contender (its newest metadata's
# total-records), or the objects written by s3pq.
committed() {
  local md
  case $1 in
    ice|iceup) md=$(ls -v "$T/wh/pgcdc/$1/metadata/"v*.metadata.json | tail -1) ;;
    ices3) md=$(ls -v "$T/s3/bench/wh/pgcdc/$1/metadata/"v*.metadata.json._S3rver_object | tail -1) ;;
    *) echo "$(find "$T/s3/bench/$1" -name '*._S3rver_object' 2>/dev/null | wc -l) objects"; return ;;
  esac
  echo "$(grep -o '"total-records" : "[0-9]*"' "$md" | tail -1 | grep -o '[0-9][0-9]*') rows committed in $(grep -c '"manifest-list"' "$md") snapshots"
}

contenders=(${CONTENDERS:-file s3pq ice iceup ices3})
declare -A rates hwm cpu labels
for run in $(seq 1 "$RUNS"); do
  q "TRUNCATE bench_i"
  rm -rf "$T/s3/bench/"* "$T/wh/"*
  for c in "${contenders[@]}"; do
    "$PGCDC" slot drop --db "$DSN" --name "s_$c" >/dev/null 2>&1 || true
    q "SELECT pg_create_logical_replication_slot('s_$c', 'pgoutput')" >/dev/null
  done
  end=$(insert_batches bench_i "$ROWS")
  read -r -a order <<<"$(rotated "$run" "${contenders[@]}")"
  for c in "${order[@]}"; do
    drain "$c" "$end"
    rates[$c]+="$(rate "$ROWS" "$r_wall") "
    hwm[$c]+="$r_hwm "
    cpu[$c]+="$r_cpu "
    extra=""
    [[ $c != file ]] && extra=", $(committed "$c")"
    log "run $run: $c ${r_wall}s, pgcdc CPU ${r_cpu}s, peak RSS ${r_hwm} MiB$extra"
  done
done

labels=([file]="pgcdc → file (local JSON lines, reference)" [s3pq]="pgcdc → s3 parquet envelope (s3rver)"
        [ice]="pgcdc → iceberg append, local warehouse" [iceup]="pgcdc → iceberg upsert (--iceberg-pk id), local"
        [ices3]="pgcdc → iceberg append, s3:// warehouse (s3rver)")
sink_table
