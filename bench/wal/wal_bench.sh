#!/usr/bin/env bash
# Side-by-side WAL throughput benchmark (issue 6, parts 1 and 3):
#   pgcdc listen --detector wal -a stdout > /dev/null
#   pg_recvlogical + pgoutput  -f /dev/null   (the raw limit: no decoding at all)
#   pg_recvlogical + wal2json  -f /dev/null   (JSON per change, like pgcdc)
# plus pgcdc's footprint (idle RSS, startup time, peak RSS).
#
# Every contender has its own logical slot, all created before any workload,
# so each slot holds exactly the same WAL. After each workload the slots are
# drained one after the other to the same end LSN.
#
# Usage (as root; the server runs as the postgres user):
#   bench/wal/wal_bench.sh                 # full sizes from issue 6
#   SCALE=0.1 bench/wal/wal_bench.sh       # a quick run (a tenth of every workload)
# Env: PGCDC_BIN (default build/release/pgcdc), SCALE (default 1),
#      PERF=a|b|c records `perf record -g` of pgcdc while it drains that workload
#      (a separate run: perf slows pgcdc down) into bench/wal/perf_report.txt.
set -euo pipefail

SCALE=${SCALE:-1}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PGCDC=${PGCDC_BIN:-$root/build/release/pgcdc}
[[ -x $PGCDC ]] || { echo "pgcdc binary not found: $PGCDC" >&2; exit 1; }

n_tx=$(awk -v s="$SCALE" 'BEGIN{printf "%d", 1000*s}')   # (a) transactions of 1,000 rows
n_ins=$((n_tx * 1000))                                     # (a) single-row INSERTs
n_upd=$(awk -v s="$SCALE" 'BEGIN{printf "%d", 300000*s}')  # (b) single-row UPDATEs
n_big=$(awk -v s="$SCALE" 'BEGIN{printf "%d", 1000000*s}') # (c) rows in one transaction
((n_upd <= n_ins)) || n_upd=$n_ins

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }          # utime + stime of a process
child_ticks() { awk '{print $16 + $17}' "/proc/$1/stat"; }    # cutime + cstime (reaped children)
hz=$(getconf CLK_TCK)

pgcdc_pid=""
bench_on_exit() {
  [[ -n $pgcdc_pid ]] && kill "$pgcdc_pid" 2>/dev/null || true
  [[ -n ${POLL_PID:-} ]] && kill "$POLL_PID" 2>/dev/null || true
}
# --- cluster: the same settings for every contender ------------------------
PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"
HTTP_PORT=$(free_port)

# One long-lived psql for polling, so polling starts and ends no backends
# (every reaped backend's CPU lands in the postmaster's cutime, which is how
# walsender CPU is measured).
coproc POLL { psql -qAtX -d "$DSN" 2>&1; }
poll() { echo "$1;" >&"${POLL[1]}"; IFS= read -r -t 30 line <&"${POLL[0]}"; echo "$line"; }
# Wait until the postmaster has reaped every backend a contender used (a zombie
# still shows as its child), then read the postmaster's reaped-children CPU.
quiesce_ticks() {
  while [[ $(pgrep -P "$postmaster" | sort | tr '\n' ' ') != "$baseline_children" ]]; do
    sleep 0.02
  done
  child_ticks "$postmaster"
}
poll "SELECT 1" >/dev/null
baseline_children=$(pgrep -P "$postmaster" | sort | tr '\n' ' ')

pgver=$(q "SHOW server_version")
q "CREATE TABLE bench_t (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
q "CREATE PUBLICATION bench_pub FOR TABLE bench_t"
q "SELECT pg_create_logical_replication_slot('s_pgcdc', 'pgoutput')" >/dev/null
q "SELECT pg_create_logical_replication_slot('s_raw', 'pgoutput')" >/dev/null
q "SELECT pg_create_logical_replication_slot('s_w2j', 'wal2json')" >/dev/null
# CHAIN=1: a fourth contender, pgcdc with a 3-transform global chain
# (drop_columns + mask hash + filter by operation), to measure what the chain
# adds to WAL -> stdout (issue 5 target: <= 20 % more client CPU).
if [[ ${CHAIN:-} == 1 ]]; then
  q "SELECT pg_create_logical_replication_slot('s_chain', 'pgoutput')" >/dev/null
  cat >"$T/chain.yaml" <<'YAML'
transforms:
  global:
    - {type: drop_columns, columns: [c]}
    - {type: mask, fields: [{field: b, mode: hash}], salt: "s3cret"}
    - {type: filter, filter: {operations: [INSERT, UPDATE]}}
YAML
fi

# --- contenders ---------------------------------------------------------------
# pgcdc runs until its slot's confirmed_flush_lsn reaches END (it has no end
# LSN option); it confirms only what stdout has written, every 100 ms here.
PGCDC_ARGS=(listen --detector wal --db "$DSN" --publication bench_pub --persistent-slot
            --slot-name s_pgcdc --heartbeat-interval 0 --detector-status-interval 100ms
            --http-addr "127.0.0.1:$HTTP_PORT" -a stdout)
# pgoutput with the options pgcdc itself asks for (proto 2, streaming, messages),
# so the server does the same work for both.
RAW_ARGS=(-o proto_version=2 -o streaming=on -o messages=true -o publication_names=bench_pub)
# wal2json format 2 = one JSON document per change, like pgcdc; limited to the
# published table.
W2J_ARGS=(-o format-version=2 -o add-tables=public.bench_t)

events_metric() {
  curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk '$1 ~ /^pgcdc_wal_events_total/ {print $2}'
}

# drain NAME END -> sets r_wall r_cpu r_ws r_rss (wall s, client CPU s, server CPU s, peak KB)
drain() {
  local name=$1 end=$2 t0 t1 base tf
  base=$(quiesce_ticks)
  tf="$T/time.$name"
  t0=$(now)
  local slot=s_pgcdc args=("${PGCDC_ARGS[@]}")
  if [[ $name == chain ]]; then
    slot=s_chain
    args=("${PGCDC_ARGS[@]/s_pgcdc/s_chain}" --config "$T/chain.yaml")
  fi
  case $name in
    pgcdc|chain)
      # CALLGRIND=1: count instructions (valgrind) instead of trusting CPU
      # seconds on a shared machine; the chain comparison uses them.
      local wrap=()
      [[ ${CALLGRIND:-} == 1 ]] && wrap=(valgrind --tool=callgrind "--callgrind-out-file=$T/cg.$name")
      /usr/bin/time -o "$tf" -f '%U %S %M' "${wrap[@]}" "$PGCDC" "${args[@]}" >/dev/null 2>"$T/pgcdc.err" &
      local tpid=$!
      while [[ -z $pgcdc_pid ]]; do pgcdc_pid=$(pgrep -P "$tpid" || true); sleep 0.01; done
      if [[ ${PERF:-} == "$3" ]]; then
        perf record -g -o "$T/perf.data" -p "$pgcdc_pid" >/dev/null 2>&1 &
        local perf_pid=$!
      fi
      until [[ $(poll "SELECT coalesce(confirmed_flush_lsn >= '$end', false) FROM pg_replication_slots WHERE slot_name = '$slot'") == t ]]; do
        kill -0 "$pgcdc_pid" 2>/dev/null || { cat "$T/pgcdc.err" >&2; exit 1; }
        sleep 0.05
      done
      t1=$(now)
      r_events=$(events_metric)
      if [[ -n ${perf_pid:-} ]]; then
        kill -INT "$perf_pid"; wait "$perf_pid" || true
        perf report -i "$T/perf.data" --stdio --no-children -g none --percent-limit 0.7 2>/dev/null | grep -v "^#" | grep -v "^$" | head -60 >"$here/perf_report.txt" || true
        log "perf report written to $here/perf_report.txt"
      fi
      kill -TERM "$pgcdc_pid"; wait "$tpid" || true; pgcdc_pid=""
      r_ir=0
      [[ ${CALLGRIND:-} == 1 ]] && r_ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$T/cg.$name")
      ;;
    raw)
      /usr/bin/time -o "$tf" -f '%U %S %M' pg_recvlogical -d "$DSN" --slot s_raw --start \
        --endpos "$end" --no-loop -f /dev/null "${RAW_ARGS[@]}"
      t1=$(now); r_events=""
      ;;
    w2j)
      /usr/bin/time -o "$tf" -f '%U %S %M' pg_recvlogical -d "$DSN" --slot s_w2j --start \
        --endpos "$end" --no-loop -f /dev/null "${W2J_ARGS[@]}"
      t1=$(now); r_events=""
      ;;
  esac
  local after
  after=$(quiesce_ticks)
  # Make sure the next workload starts from END even if a client did not confirm.
  poll "SELECT count(*) FROM (SELECT pg_replication_slot_advance(slot_name, '$end') FROM pg_replication_slots WHERE slot_name = 's_$name' AND confirmed_flush_lsn < '$end') x" >/dev/null
  r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  read -r u s m <"$tf"
  r_cpu=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}')
  r_ws=$(awk -v a="$base" -v b="$after" -v hz="$hz" 'BEGIN{printf "%.2f", (b-a)/hz}')
  r_rss=$m
}

echo "| workload | changes | contender | wall s | changes/s | vs pgoutput raw | vs wal2json | client CPU s | server CPU s | client peak RSS |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
declare -A peak
run_workload() {
  local w=$1 n=$2 label=$3 sql=$4 order=$5 end t0
  log "workload ($w): $label"
  t0=$(now)
  q "$sql"
  end=$(q "SELECT pg_current_wal_lsn()")
  log "  generated in $(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}') s, end LSN $end"
  declare -A wall cpu ws rss ir
  # The drain order rotates between workloads, so no contender always goes first.
  [[ ${CHAIN:-} == 1 ]] && order="$order chain"
  for c in $order; do
    drain "$c" "$end" "$w"
    wall[$c]=$r_wall cpu[$c]=$r_cpu ws[$c]=$r_ws rss[$c]=$r_rss ir[$c]=${r_ir:-0}
    [[ $c == pgcdc ]] && log "  pgcdc_wal_events_total = $r_events (expected $n)"
    log "  $c: ${r_wall}s"
  done
  peak[$w]=${rss[pgcdc]}
  for c in pgcdc raw w2j; do
    local name
    case $c in pgcdc) name="pgcdc → stdout";; raw) name="pg_recvlogical pgoutput";; w2j) name="pg_recvlogical wal2json";; esac
    awk -v w="$w" -v n="$n" -v c="$name" -v t="${wall[$c]}" -v tr="${wall[raw]}" -v tw="${wall[w2j]}" \
        -v cpu="${cpu[$c]}" -v ws="${ws[$c]}" -v rss="${rss[$c]}" 'BEGIN{
      printf "| (%s) | %d | %s | %.2f | %.0f K | %.2f× | %.2f× | %.2f | %.2f | %.1f MB |\n",
        w, n, c, t, n/t/1000, tr/t, tw/t, cpu, ws, rss/1024 }'
  done
  if [[ ${CHAIN:-} == 1 ]]; then
    if [[ ${CALLGRIND:-} == 1 ]]; then
      awk -v w="$w" -v n="$n" -v i0="${ir[pgcdc]}" -v i1="${ir[chain]}" 'BEGIN{
        printf "| (%s) | %d | instructions (callgrind) per change: pgcdc → stdout %.0f, with the chain %.0f: %+.1f %% |\n",
          w, n, i0/n, i1/n, (i1/i0-1)*100 }'
    fi
    awk -v w="$w" -v n="$n" -v t="${wall[chain]}" -v cpu="${cpu[chain]}" -v base="${cpu[pgcdc]}" \
        -v rss="${rss[chain]}" 'BEGIN{
      printf "| (%s) | %d | pgcdc → stdout + 3-transform chain | %.2f | %.0f K | client CPU %+.0f %% vs pgcdc → stdout | | %.2f | | %.1f MB |\n",
        w, n, t, n/t/1000, (cpu/base-1)*100, cpu, rss/1024 }'
  fi
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
run_workload a "$n_ins" "$n_ins single-row INSERTs in $n_tx transactions" \
  "DO \$\$ BEGIN
     FOR t IN 0..$((n_tx - 1)) LOOP
       FOR i IN 1..1000 LOOP
         INSERT INTO bench_t VALUES (t * 1000 + i, i, 'row ' || (t * 1000 + i), now(), (t * 1000 + i) / 100.0);
       END LOOP;
       COMMIT;
     END LOOP;
   END \$\$" "raw w2j pgcdc"
run_workload b "$n_upd" "$n_upd single-row UPDATEs in $((n_upd / 1000)) transactions" \
  "DO \$\$ BEGIN
     FOR t IN 0..$((n_upd / 1000 - 1)) LOOP
       FOR i IN 1..1000 LOOP
         UPDATE bench_t SET a = a + 1, d = d + 1 WHERE id = t * 1000 + i;
       END LOOP;
       COMMIT;
     END LOOP;
   END \$\$" "w2j pgcdc raw"
run_workload c "$n_big" "one $n_big-row transaction" \
  "INSERT INTO bench_t SELECT g, g % 1000, 'row ' || g, now(), g / 100.0
     FROM generate_series($n_ins + 1, $n_ins + $n_big) g" "pgcdc raw w2j"
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- footprint -----------------------------------------------------------------
# Start pgcdc (temporary slot, created at start), time exec -> "streaming" log
# line, then read VmRSS after 1 s idle. Median of 3 starts.
footprint() {
  local label=$1; shift
  local starts=() rsss=() anons=() files=() threads=()
  for _ in 1 2 3; do
    local err="$T/fp.err" t0 t1 pid
    : >"$err"
    t0=$(now)
    "$PGCDC" listen --detector wal --db "$DSN" --publication bench_pub --heartbeat-interval 0 \
      --http-addr "127.0.0.1:$HTTP_PORT" "$@" >/dev/null 2>"$err" &
    pid=$!
    until grep -q '"streaming"\|msg=streaming\| streaming' "$err"; do
      kill -0 "$pid" 2>/dev/null || { cat "$err" >&2; exit 1; }
      sleep 0.005
    done
    t1=$(now)
    sleep 1
    rsss+=("$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")")
    anons+=("$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status")")
    files+=("$(awk '/^RssFile/ {print $2}' "/proc/$pid/status")")
    threads+=("$(awk '/^Threads/ {print $2}' "/proc/$pid/status")")
    starts+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", (b-a)*1000}')")
    kill -TERM "$pid"; wait "$pid" || true
  done
  med() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
  awk -v l="$label" -v r="$(med "${rsss[@]}")" -v a="$(med "${anons[@]}")" -v f="$(med "${files[@]}")" \
      -v t="$(med "${threads[@]}")" -v s="$(med "${starts[@]}")" \
      'BEGIN{printf "| %s | %.1f MB | %.1f MB | %.1f MB | %d | %d ms |\n", l, r/1024, a/1024, f/1024, t, s}'
}
echo
echo "| pgcdc configuration | idle RSS (VmRSS) | of which anonymous | of which file-backed (code, libraries) | threads | exec → streaming |"
echo "|---|---:|---:|---:|---:|---:|"
footprint "WAL → stdout" -a stdout
footprint "WAL → stdout, file, sse, ws" -a stdout -a file --file-path "$T/fp.jsonl" -a sse -a ws
echo
awk -v a="${peak[a]}" -v c="${peak[c]}" 'BEGIN{printf "pgcdc peak RSS: workload (a) %.1f MB, workload (c) %.1f MB\n", a/1024, c/1024}'
echo
echo "SCALE=$SCALE; PostgreSQL $pgver; $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); kernel $(uname -r); load average before $load0, after $load1"
