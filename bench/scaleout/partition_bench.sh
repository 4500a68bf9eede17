#!/usr/bin/env bash
# Per-table slot partitioning (docs/scaling.md): is one hub with one slot
# slower than two hubs that each stream half of the tables from their own
# slot and publication?
#
# ROWS INSERTs alternate between two tables (transactions of 1,000 rows, each
# in one table), written once before anything reads. Contenders, each with
# its own slot(s) created before the workload, drain the same WAL in rotating
# order:
#   one_SINK  one pgcdc: publication of both tables, one slot
#   two_SINK  two pgcdc processes at once: one table each (own publication,
#             own slot); the clock stops when both slots are confirmed
# SINK is stdout (> /dev/null: the slot side alone) or nats (a 3-replica
# stream on a fresh 3-node JetStream cluster, as scaleout_bench.sh starts).
# The clock runs from exec until every slot's confirmed position reaches the
# end LSN (with --persistent-slot pgcdc confirms only what its sink finished).
#
# Usage (as root): bench/scaleout/partition_bench.sh
# Env: PGCDC_BIN, ROWS (200000), RUNS (3), CONTENDERS ("one_stdout two_stdout
#      one_nats two_nats").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/lib/bench_env.sh"
bench_env 200000
read -r -a contenders <<<"${CONTENDERS:-one_stdout two_stdout one_nats two_nats}"

PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h"
source "$root/bench/lib/pg_cluster.sh"
source "$root/bench/lib/sink_bench.sh"
source "$here/nats_cluster.sh"

for t in p1 p2; do
  q "CREATE TABLE bench_$t (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                            c timestamptz NOT NULL, d numeric(12,2) NOT NULL)"
  q "CREATE PUBLICATION pub_$t FOR TABLE bench_$t"
done
q "CREATE PUBLICATION pub_both FOR TABLE bench_p1, bench_p2"

slots_of() {  # slots_of CONTENDER -> "slot:publication ..."
  case $1 in
    one_*) echo "s_$1_$run:pub_both" ;;
    two_*) echo "s_$1_a_$run:pub_p1 s_$1_b_$run:pub_p2" ;;
  esac
}

drain() {  # drain CONTENDER END -> r_wall
  local c=$1 end=$2 t0 t1 sp slot pub sink_args
  case $c in
    *_stdout) sink_args=(-a stdout) ;;
    *_nats) sink_args=(-a nats --nats-url "$URLS" --nats-stream P --nats-subject part) ;;
  esac
  t0=$(now)
  for sp in $(slots_of "$c"); do
    slot=${sp%%:*}
    pub=${sp#*:}
    "$PGCDC" listen --detector wal --db "$DSN" --publication "$pub" --persistent-slot \
      --slot-name "$slot" --heartbeat-interval 0 --detector-status-interval 100ms \
      --http-addr "" "${sink_args[@]}" >/dev/null 2>"$T/$slot.err" &
    pgcdc_pids+=($!)
  done
  local names
  names=$(slots_of "$c" | tr ' ' '\n' | sed "s/:.*//; s/.*/'&'/" | paste -sd,)
  until [[ $(q "SELECT bool_and(coalesce(confirmed_flush_lsn >= '$end', false)) FROM pg_replication_slots WHERE slot_name IN ($names)") == t ]]; do
    for p in "${pgcdc_pids[@]}"; do kill -0 "$p" 2>/dev/null || { cat "$T"/*.err >&2; exit 1; }; done
    sleep 0.05
  done
  t1=$(now)
  for p in "${pgcdc_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pgcdc_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pgcdc_pids=()
  r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
}

declare -A rates
for run in $(seq 1 "$RUNS"); do
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  q "TRUNCATE bench_p1, bench_p2"
  # New slot names per run (pgcdc keeps each slot's checkpoint); the last
  # run's slots are dropped.
  q "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots" >/dev/null
  for c in "${contenders[@]}"; do
    for sp in $(slots_of "$c"); do
      q "SELECT pg_create_logical_replication_slot('${sp%%:*}', 'pgoutput')" >/dev/null
    done
  done
  q "DO \$\$ BEGIN
       FOR t IN 0..$((ROWS / 1000 - 1)) LOOP
         IF t % 2 = 0 THEN
           INSERT INTO bench_p1 SELECT g, g % 1000, 'row ' || g, now(), g / 100.0
             FROM generate_series(t * 1000 + 1, t * 1000 + 1000) g;
         ELSE
           INSERT INTO bench_p2 SELECT g, g % 1000, 'row ' || g, now(), g / 100.0
             FROM generate_series(t * 1000 + 1, t * 1000 + 1000) g;
         END IF;
         COMMIT;
       END LOOP;
     END \$\$"
  end=$(q "SELECT pg_current_wal_lsn()")
  read -r -a order <<<"$(rotated "$run" "${contenders[@]}")"
  for c in "${order[@]}"; do
    if [[ $c == *_nats ]]; then start_cluster; create_stream P part; fi
    drain "$c" "$end"
    rates[$c]+="$(rate "$ROWS" "$r_wall") "
    log "run $run: $c ${r_wall}s ($(rate "$ROWS" "$r_wall") changes/s)"
  done
  stop_all
  log "run $run: load average before $load_before, after $(cut -d' ' -f1 /proc/loadavg)"
done

echo "| contender | changes/s over $RUNS runs (min – max) | median |"
echo "|---|---:|---:|"
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for c in "${contenders[@]}"; do
  read -r lo hi < <(echo "${rates[$c]}" | tr ' ' '\n' | grep -v '^$' | sort -n | awk 'NR==1{lo=$1} {hi=$1} END{print lo, hi}')
  awk -v l="$c" -v lo="$lo" -v hi="$hi" -v m="$(echo "${rates[$c]}" | median)" \
    'BEGIN{printf "| %s | %.1f K – %.1f K | %.1f K |\n", l, lo/1000, hi/1000, m/1000}'
done
echo
echo "PostgreSQL $(q 'SHOW server_version'); nats-server $(nats-server --version | awk '{print $NF}'); $(nproc) CPUs; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
