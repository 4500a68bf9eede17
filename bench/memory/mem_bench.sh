#!/usr/bin/env bash
# Peak memory of one huge transaction through WAL (issue 15 part 4):
#   INSERT INTO bench_m SELECT … FROM generate_series(1, ROWS)   (one transaction)
#   pgcdc listen --detector wal --persistent-slot -a SINK
# for the sinks stdout (to /dev/null), file, webhook (a local node receiver
# answering 200 at once, batches of 1,000) and kafkaserver (with a kcat
# consumer draining the topic while pgcdc writes it; kafkaserver_2500 is the
# same with --kafkaserver-buffer-size 2500), and for several pgcdc
# binaries side by side on the same WAL (each contender has its own slot,
# created before the transaction).
#
# Per drain it reports pgcdc's peak RSS (VmHWM from /proc/PID/status, read
# when the slot has been confirmed past the transaction, before pgcdc stops)
# and the wall time from exec to that confirmation.
#
# Usage (as root; PostgreSQL runs as the postgres user):
#   bench/memory/mem_bench.sh
#   ROWS=200000 RUNS=1 bench/memory/mem_bench.sh          # quick
# Env: BINS       "label=path …" (default "main=/work/main/build/release/pgcdc
#                 branch=build/release/pgcdc"; copied to the temp dir first)
#      ROWS       rows of the transaction for BIG_SINKS (10000000)
#      ROWS_SMALL rows for SMALL_SINKS (default ROWS)
#      BIG_SINKS  (stdout file)   SMALL_SINKS (webhook kafkaserver kafkaserver_2500)
#      RUNS       (3), FIRST_RUN (1): runs FIRST_RUN..RUNS (the drain order rotates by run)
#      EXTRA      extra pgcdc arguments for every contender (e.g.
#                 "--detector-stream-memory 1048576")
#      HEAPTRACK=label:sink  run that contender under heaptrack (one drain,
#                 then exit; the report is written to bench/memory/).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ROWS=${ROWS:-10000000}
ROWS_SMALL=${ROWS_SMALL:-$ROWS}
BIG_SINKS=${BIG_SINKS-stdout file}
SMALL_SINKS=${SMALL_SINKS-webhook kafkaserver kafkaserver_2500}
RUNS=${RUNS:-3}
BINS=${BINS:-"main=/work/main/build/release/pgcdc branch=$root/build/release/pgcdc"}
command -v kcat >/dev/null || { echo "kcat not installed" >&2; exit 1; }
command -v node >/dev/null || { echo "node not installed" >&2; exit 1; }

pgcdc_pid=""
side_pids=()
bench_on_exit() {
  [[ -n $pgcdc_pid ]] && kill "$pgcdc_pid" 2>/dev/null || true
  for p in "${side_pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=16GB -c checkpoint_timeout=1h ${PG_EXTRA:-}"
source "$root/bench/lib/pg_cluster.sh"
source "$root/bench/lib/sink_bench.sh"

# Freeze the binaries: a rebuild during the run must not change a contender.
labels=()
declare -A bin
for b in $BINS; do
  l=${b%%=*}
  cp "${b#*=}" "$T/pgcdc.$l"
  bin[$l]=$T/pgcdc.$l
  labels+=("$l")
done

HTTP_PORT=$(free_port)
WPORT=$(free_port)
KPORT=$(free_port)
node "$here/receiver.js" "$WPORT" >"$T/receiver.log" 2>&1 &
side_pids+=($!)
until grep -qs listening "$T/receiver.log"; do sleep 0.05; done

q "CREATE TABLE bench_m (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
q "CREATE PUBLICATION bench_mpub FOR TABLE bench_m"

metric() {  # value of one metric series (0 when absent)
  curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v s="$1" '$1 == s {print $2; f=1} END {if (!f) print 0}'
}

sink_args() {
  case $1 in
    stdout) echo "-a stdout" ;;
    file) echo "-a file --file-path $T/out.jsonl --file-max-files 1" ;;
    webhook) echo "-a webhook --url http://127.0.0.1:$WPORT/ --webhook-batch-size 1000" ;;
    kafkaserver) echo "-a kafkaserver --kafkaserver-addr 127.0.0.1:$KPORT --kafkaserver-ack stored" ;;
    # The same with a smaller in-memory log (retention): 8 x 2,500 records.
    kafkaserver_2500) echo "$(sink_args kafkaserver) --kafkaserver-buffer-size 2500" ;;
  esac
}

# kcat reads the topic from the beginning while pgcdc writes it (started once
# the topic exists); it runs until the drain ends.
start_consumer() {
  until awk -v v="$(metric pgcdc_kafkaserver_records_stored_total)" 'BEGIN{exit !(v > 0)}'; do
    kill -0 "$pgcdc_pid" 2>/dev/null || return 1
    sleep 0.05
  done
  kcat -b "127.0.0.1:$KPORT" -C -t pgcdc.bench_m -o beginning -u -q >/dev/null 2>"$T/kcat.err" &
  kcat_pid=$!
  side_pids+=("$kcat_pid")
}

# drain LABEL SINK ROWS END RUN -> appends "sink label rows wall_s hwm_kb" to $T/results
drain() {
  # A new slot name per run: pgcdc remembers the position it acknowledged per
  # slot name, and a recreated slot of the same name looks like a lost one.
  local label=$1 sink=$2 rows=$3 end=$4 slot="s_$1_$2_$5" t0 t1 hwm events
  rm -f "$T"/out.jsonl*
  local wrap=()
  [[ ${HEAPTRACK:-} == "$label:$sink" ]] && wrap=(heaptrack -o "$T/heaptrack.$label.$sink")
  t0=$(now)
  # shellcheck disable=SC2046
  "${wrap[@]}" "${bin[$label]}" listen --detector wal --db "$DSN" --publication bench_mpub \
    --persistent-slot --slot-name "$slot" --heartbeat-interval 0 --detector-status-interval 100ms \
    --http-addr "127.0.0.1:$HTTP_PORT" $(sink_args "$sink") ${EXTRA:-} >/dev/null 2>"$T/pgcdc.err" &
  pgcdc_pid=$!
  if ((${#wrap[@]})); then
    local w=$pgcdc_pid
    until pgcdc_pid=$(pgrep -P "$w" -x "pgcdc.$label"); do sleep 0.02; done
  fi
  kcat_pid=""
  if [[ -n ${SAMPLE:-} ]]; then  # VmRSS and the spool gauge every 0.2 s, to stderr
    (while kill -0 "$pgcdc_pid" 2>/dev/null; do
       echo "# sample $(awk '/^VmRSS/ {print $2}' "/proc/$pgcdc_pid/status") kB spool=$(metric pgcdc_wal_spool_bytes) events=$(metric pgcdc_wal_events_total)" >&2
       sleep 0.2
     done) &
  fi
  [[ $sink == kafkaserver* ]] && start_consumer
  until [[ $(q "SELECT coalesce(confirmed_flush_lsn >= '$end', false) FROM pg_replication_slots WHERE slot_name = '$slot'") == t ]]; do
    kill -0 "$pgcdc_pid" 2>/dev/null || { cat "$T/pgcdc.err" >&2; exit 1; }
    sleep 0.05
  done
  t1=$(now)
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pgcdc_pid/status")
  events=$(metric pgcdc_wal_events_total)
  if [[ -n ${MALLOC_STATS:-} ]]; then  # glibc's per-arena statistics, on pgcdc's stderr
    gdb -p "$pgcdc_pid" -batch -ex 'call (void) malloc_stats()' >/dev/null 2>&1 || true
    grep -A3 "^Arena\|^Total" "$T/pgcdc.err" >&2 || true
  fi
  if [[ -n $kcat_pid ]]; then
    kill "$kcat_pid" 2>/dev/null || true
    wait "$kcat_pid" 2>/dev/null || true
  fi
  kill -TERM "$pgcdc_pid"
  wait "$pgcdc_pid" 2>/dev/null || true
  [[ -n ${w:-} ]] && wait "$w" 2>/dev/null || true
  pgcdc_pid=""
  # A count other than ROWS (e.g. a reconnect that replayed the transaction
  # again) is reported and its log kept; the run goes on.
  if awk -v e="$events" -v n="$rows" 'BEGIN{exit !(e != n)}'; then
    echo "WARNING $label/$sink: $events events, expected $rows; log in ${TMPDIR:-/tmp}/mem_bench_$label.$sink.err" >&2
    cp "$T/pgcdc.err" "${TMPDIR:-/tmp}/mem_bench_$label.$sink.err"
    grep -v "file rotated" "$T/pgcdc.err" | grep -i "warn\|error\|reconnect" | tail -10 >&2
  fi
  echo "$sink $label $rows $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') $hwm" >>"$T/results"
  log "  $label → $sink: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s, VmHWM $((hwm / 1024)) MB"
  if ((${#wrap[@]})); then
    heaptrack_print -f "$(ls "$T"/heaptrack."$label.$sink"*)" >"$here/heaptrack_${label}_$sink.txt" 2>&1 || true
    log "heaptrack report: $here/heaptrack_${label}_$sink.txt"
    exit 0
  fi
}

# one_group RUN ROWS SINK… : slots for every contender × sink, one transaction
# of ROWS rows, drains in rotated order, slots dropped.
next_id=1
one_group() {
  local run=$1 rows=$2 end t0 contenders=()
  shift 2
  for s in "$@"; do
    for l in "${labels[@]}"; do
      q "SELECT pg_create_logical_replication_slot('s_${l}_${s}_$run', 'pgoutput')" >/dev/null
      contenders+=("$l:$s")
    done
  done
  log "run $run: one $rows-row transaction for $*"
  t0=$(now)
  q "INSERT INTO bench_m SELECT g, g % 1000, 'row ' || g, now(), g / 100.0
       FROM generate_series($next_id, $((next_id + rows - 1))) g"
  next_id=$((next_id + rows))
  # The insert position: with synchronous_commit=off the commit record may
  # not be written out yet, and pg_current_wal_lsn() can be before it.
  end=$(q "SELECT pg_current_wal_insert_lsn()")
  log "  generated in $(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}') s"
  for c in $(rotated "$run" "${contenders[@]}"); do
    drain "${c%%:*}" "${c#*:}" "$rows" "$end" "$run"
  done
  for c in "${contenders[@]}"; do
    q "SELECT pg_drop_replication_slot('s_${c%%:*}_${c#*:}_$run')" >/dev/null
  done
  q "TRUNCATE bench_m"
  q "CHECKPOINT"
}

: >"$T/results"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "${FIRST_RUN:-1}" "$RUNS"); do
  [[ -n $BIG_SINKS ]] && one_group "$r" "$ROWS" $BIG_SINKS
  [[ -n $SMALL_SINKS ]] && one_group "$r" "$ROWS_SMALL" $SMALL_SINKS
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
cp "$T/results" "${TMPDIR:-/tmp}/mem_bench_results.txt"

echo "| sink | rows | pgcdc | peak RSS (VmHWM), min–max | wall s, min–max | rows/s (median) |"
echo "|---|---:|---|---:|---:|---:|"
for s in $BIG_SINKS $SMALL_SINKS; do
  for l in "${labels[@]}"; do
    sel=$(awk -v s="$s" -v l="$l" '$1 == s && $2 == l' "$T/results")
    [[ -n $sel ]] || continue
    rows=$(awk 'NR == 1 {print $3}' <<<"$sel")
    w=($(awk '{print $4}' <<<"$sel" | sort -n))
    h=($(awk '{print $5}' <<<"$sel" | sort -n))
    n=${#w[@]}
    awk -v s="$s" -v l="$l" -v rows="$rows" -v w0="${w[0]}" -v w1="${w[n - 1]}" \
        -v wm="${w[(n - 1) / 2]}" -v h0="${h[0]}" -v h1="${h[n - 1]}" 'BEGIN{
      printf "| %s | %d | %s | %.1f–%.1f MB | %.1f–%.1f | %.0f K |\n",
        s, rows, l, h0 / 1024, h1 / 1024, w0, w1, rows / wm / 1000 }'
  done
done
echo
echo "RUNS=$RUNS; PostgreSQL $(q 'SHOW server_version'); $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); kernel $(uname -r); load average before $load0, after $load1"
