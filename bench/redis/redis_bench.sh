#!/usr/bin/env bash
# Redis sink benchmark (issue 14): the same WAL drained by
#   stdout   pgcdc → stdout > /dev/null                         (the ceiling)
#   sync     pgcdc → redis --redis-mode sync (SET row JSON per change)
#   stream   pgcdc → redis --redis-mode stream (XADD per change)
#   script   pg_recvlogical + wal2json | python3 (RESP SET/DEL) | redis-cli --pipe
#            (what a pg_recvlogical-script user would otherwise run; no
#            packaged CDC tool with a Redis sink exists on Debian)
# Every contender has its own slot created before the workload, so each reads
# exactly the same WAL. Each pgcdc contender runs until its slot's confirmed
# position reaches the end LSN (with a persistent slot pgcdc confirms only
# what Redis answered); the script until pg_recvlogical reaches --endpos and
# redis-cli has every reply. The drain order rotates per run.
#
# Usage (as root; PostgreSQL runs as the postgres user):
#   bench/redis/redis_bench.sh                  # 200,000 INSERTs, 3 runs
#   ROWS=50000 RUNS=1 bench/redis/redis_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), ROWS (200000), RUNS (3),
#      REDIS_ARGS (extra flags for both redis contenders, e.g. "--redis-batch-size 1024").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/lib/bench_env.sh"
bench_env 200000
command -v redis-server >/dev/null || { echo "redis-server not installed" >&2; exit 1; }

redis_pid=""
bench_on_exit() { [[ -n $redis_pid ]] && kill "$redis_pid" 2>/dev/null || true; }
PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"
source "$root/bench/lib/sink_bench.sh"

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" \
  --daemonize no >"$T/redis.log" 2>&1 &
redis_pid=$!
until redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG; do sleep 0.05; done
R() { redis-cli -p "$RPORT" "$@"; }

q "CREATE TABLE bench_r (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
q "CREATE PUBLICATION bench_rpub FOR TABLE bench_r"

cat >"$T/peer.py" <<'PY'
# wal2json (format 2) lines -> RESP SET/DEL commands for redis-cli --pipe.
import json, sys
out = sys.stdout.buffer
def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    out.write(b"".join(parts))
for line in sys.stdin:
    c = json.loads(line)
    action = c.get("action")
    if action in ("I", "U"):
        row = {col["name"]: col["value"] for col in c["columns"]}
        cmd("SET", "s:" + str(row["id"]), json.dumps(row, separators=(",", ":")))
    elif action == "D":
        key = {col["name"]: col["value"] for col in c["identity"]}
        cmd("DEL", "s:" + str(key["id"]))
PY

slot_sql() { echo "SELECT pg_create_logical_replication_slot('$1', '$2')"; }

# drain NAME END -> r_wall
drain() {
  local name=$1 end=$2 t0 t1
  t0=$(now)
  case $name in
    script)
      # Runs until Redis holds one more key per change (pg_recvlogical's
      # --endpos was seen to stop a few dozen changes early through a pipe).
      local want=$(( $(R dbsize) + ROWS ))
      (pg_recvlogical -d "$DSN" --slot s_script --start --no-loop -f - \
        -o format-version=2 -o add-tables=public.bench_r \
        | python3 "$T/peer.py" | redis-cli -p "$RPORT" --pipe >"$T/pipe.out" 2>&1) &
      local pid=$!
      until (( $(R dbsize) >= want )); do
        kill -0 "$pid" 2>/dev/null || { cat "$T/pipe.out" >&2; exit 1; }
        sleep 0.02
      done
      t1=$(now)
      pkill -f "slot s_script" || true
      wait "$pid" || true
      r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
      return
      ;;
    *)
      local sink_args=(-a stdout)
      case $name in
        sync) sink_args=(-a redis --redis-url "redis://127.0.0.1:$RPORT" --redis-mode sync ${REDIS_ARGS:-}) ;;
        stream) sink_args=(-a redis --redis-url "redis://127.0.0.1:$RPORT" --redis-mode stream
                           --redis-stream-maxlen 0 ${REDIS_ARGS:-}) ;;
      esac
      "$PGCDC" listen --detector wal --db "$DSN" --publication bench_rpub --persistent-slot \
        --slot-name "s_$name" --heartbeat-interval 0 --detector-status-interval 100ms \
        --http-addr "" "${sink_args[@]}" >/dev/null 2>"$T/pgcdc.err" &
      local pid=$!
      until [[ $(q "SELECT coalesce(confirmed_flush_lsn >= '$end', false) FROM pg_replication_slots WHERE slot_name = 's_$name'") == t ]]; do
        kill -0 "$pid" 2>/dev/null || { cat "$T/pgcdc.err" >&2; exit 1; }
        sleep 0.05
      done
      kill -TERM "$pid"; wait "$pid" || true
      ;;
  esac
  t1=$(now)
  r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
}

contenders=(stdout sync stream script)
declare -A rates
for run in $(seq 1 "$RUNS"); do
  R flushall >/dev/null
  q "TRUNCATE bench_r"
  for c in "${contenders[@]}"; do
    q "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 's_$c'" >/dev/null
    if [[ $c == script ]]; then q "$(slot_sql s_script wal2json)" >/dev/null; else q "$(slot_sql "s_$c" pgoutput)" >/dev/null; fi
  done
  end=$(insert_batches bench_r "$ROWS")
  read -r -a order <<<"$(rotated "$run" "${contenders[@]}")"
  for c in "${order[@]}"; do
    drain "$c" "$end"
    rates[$c]+="$(rate "$ROWS" "$r_wall") "
    log "run $run: $c ${r_wall}s"
  done
  keys=$(R dbsize); sync_keys=$(R --scan --pattern "[0-9]*" | wc -l); script_keys=$(R --scan --pattern "s:*" | wc -l)
  log "run $run: sync keys $sync_keys, script keys $script_keys"
  log "run $run: redis holds $keys keys (expected $((ROWS * 2 + 1)): sync + script rows, one stream)"
done

echo "| contender | changes/s over $RUNS runs (min – max) | median vs pgcdc → stdout |"
echo "|---|---:|---:|"
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(echo "${rates[stdout]}" | median)
for c in "${contenders[@]}"; do
  label=$c
  case $c in
    stdout) label="pgcdc → stdout" ;;
    sync) label="pgcdc → redis sync (SET)" ;;
    stream) label="pgcdc → redis stream (XADD)" ;;
    script) label="pg_recvlogical wal2json → python → redis-cli --pipe" ;;
  esac
  read -r lo hi < <(echo "${rates[$c]}" | tr ' ' '\n' | grep -v '^$' | sort -n | awk 'NR==1{lo=$1} {hi=$1} END{print lo, hi}')
  med=$(echo "${rates[$c]}" | median)
  awk -v l="$label" -v lo="$lo" -v hi="$hi" -v m="$med" -v b="$base" \
    'BEGIN{printf "| %s | %.1f K – %.1f K | %.2f× |\n", l, lo/1000, hi/1000, m/b}'
done
