#!/usr/bin/env bash
# S3 sink benchmark (issue 19): the same WAL drained by
#   file     pgcdc → file sink (JSON lines on local disk: the reference peer)
#   s3       pgcdc → s3 jsonl into s3rver (npm, tests/tools) on loopback
#   s3gz     pgcdc → s3 jsonl + gzip
#   s3pq     pgcdc → s3 parquet, SPEC's envelope columns (Snappy)
#   s3pqt    pgcdc → s3 parquet, --s3-parquet-schema typed (a column per table column)
# Every contender has its own slot created before the workload, so each reads
# exactly the same WAL, and runs with --persistent-slot until its slot's
# confirmed position reaches the end LSN (the s3 sink confirms only what
# s3rver stored). The drain order rotates per run. The peak RSS (VmHWM) of
# each pgcdc process is reported: the s3 sink's memory is bounded by its flush.
#
# Usage (as root; PostgreSQL runs as the postgres user):
#   bench/s3/s3_bench.sh                       # 200,000 INSERTs, 3 runs
#   ROWS=50000 RUNS=1 bench/s3/s3_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), ROWS (200000), RUNS (3),
#      CONTENDERS (default "file s3 s3gz s3pq s3pqt"; file is the baseline),
#      S3_ARGS (extra flags for the s3 contenders, default "--s3-flush-size 10000").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PGCDC=${PGCDC_BIN:-$root/build/release/pgcdc}
ROWS=${ROWS:-200000}
RUNS=${RUNS:-3}
S3_ARGS=${S3_ARGS:---s3-flush-size 10000}
S3RVER=$root/tests/tools/node_modules/s3rver/bin/s3rver.js
[[ -x $PGCDC ]] || { echo "pgcdc binary not found: $PGCDC" >&2; exit 1; }
[[ -f $S3RVER ]] || { echo "s3rver not installed: (cd tests/tools && npm ci)" >&2; exit 1; }

s3_pid=""
bench_on_exit() { [[ -n $s3_pid ]] && kill "$s3_pid" 2>/dev/null || true; }
PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"
source "$root/bench/lib/sink_bench.sh"

SPORT=$(free_port)
mkdir -p "$T/s3"
node "$S3RVER" -d "$T/s3" -a 127.0.0.1 -p "$SPORT" -s --configure-bucket bench >"$T/s3rver.log" 2>&1 &
s3_pid=$!
until curl -s -o /dev/null "http://127.0.0.1:$SPORT/"; do sleep 0.05; done

q "CREATE TABLE bench_s (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
q "CREATE PUBLICATION bench_spub FOR TABLE bench_s"

# drain NAME END -> r_wall, r_hwm (peak RSS, MiB), r_cpu (pgcdc's user+system CPU seconds)
drain() {
  local name=$1 end=$2 t0 t1
  local sink_args=(-a file --file-path "$T/out.jsonl" --file-max-size 0)
  local s3=(-a s3 --s3-bucket bench --s3-endpoint "http://127.0.0.1:$SPORT" --s3-access-key-id S3RVER
            --s3-secret-access-key S3RVER --s3-flush-interval 1s --s3-prefix "$name" $S3_ARGS)
  case $name in
    s3) sink_args=("${s3[@]}") ;;
    s3gz) sink_args=("${s3[@]}" --s3-compression gzip) ;;
    s3pq) sink_args=("${s3[@]}" --s3-format parquet) ;;
    s3pqt) sink_args=("${s3[@]}" --s3-format parquet --s3-parquet-schema typed) ;;
  esac
  rm -f "$T/out.jsonl"
  drain_wal bench_spub "$name" "$end" --bus-mode reliable "${sink_args[@]}"
}

# Rows in the objects of one contender (s3rver keeps them as files); Parquet
# row counts come from the files' metadata, read with hyparquet (npm).
s3_rows() {
  local n=0 f
  if [[ $1 == s3pq* ]]; then
    local files=()
    while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$T/s3/bench/$1" -name '*._S3rver_object' -print0)
    (cd "$root/tests/tools" && node parquet_read.mjs --count "${files[@]}")
    return
  fi
  while IFS= read -r -d '' f; do
    if [[ $f == *.gz._S3rver_object ]]; then n=$((n + $(gzip -dc "$f" | wc -l))); else n=$((n + $(wc -l <"$f"))); fi
  done < <(find "$T/s3/bench/$1" -name '*._S3rver_object' -print0 2>/dev/null)
  echo "$n"
}

contenders=(${CONTENDERS:-file s3 s3gz s3pq s3pqt})
declare -A rates hwm cpu labels
for run in $(seq 1 "$RUNS"); do
  q "TRUNCATE bench_s"
  rm -rf "$T/s3/bench/"*
  for c in "${contenders[@]}"; do
    # The slot and pgcdc's stored checkpoint of it (a new slot starts behind the old one).
    "$PGCDC" slot drop --db "$DSN" --name "s_$c" >/dev/null 2>&1 || true
    q "SELECT pg_create_logical_replication_slot('s_$c', 'pgoutput')" >/dev/null
  done
  end=$(insert_batches bench_s "$ROWS")
  read -r -a order <<<"$(rotated "$run" "${contenders[@]}")"
  for c in "${order[@]}"; do
    drain "$c" "$end"
    rates[$c]+="$(rate "$ROWS" "$r_wall") "
    hwm[$c]+="$r_hwm "
    cpu[$c]+="$r_cpu "
    extra=""
    [[ $c != file ]] && extra=", $(s3_rows "$c") rows in $(find "$T/s3/bench/$c" -name '*._S3rver_object' | wc -l) objects"
    log "run $run: $c ${r_wall}s, pgcdc CPU ${r_cpu}s, peak RSS ${r_hwm} MiB$extra"
  done
done

labels=([file]="pgcdc → file (local JSON lines, reference)" [s3]="pgcdc → s3 jsonl (s3rver)"
        [s3gz]="pgcdc → s3 jsonl gzip (s3rver)" [s3pq]="pgcdc → s3 parquet envelope (s3rver)"
        [s3pqt]="pgcdc → s3 parquet typed (s3rver)")
sink_table
