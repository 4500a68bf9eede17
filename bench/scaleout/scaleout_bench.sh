#!/usr/bin/env bash
# Scale-out benchmark (issue 18, docs/scaling.md): hub → 3-node NATS
# JetStream cluster → spokes → PostgreSQL, on one machine.
#
# Every run starts a fresh 3-node cluster (nats-server -js, routes, file
# storage, empty stores) and creates two streams with 3 replicas. The same
# WAL (ROWS INSERTs in transactions of 1,000, written before anything reads
# it; every contender has its own pgoutput slot made before the workload) is
# drained by, in rotating order:
#   hub   pgcdc WAL → nats sink alone (stream B_hub): the single-process
#         rate; the clock stops when the slot's confirmed position reaches
#         the end LSN (with --persistent-slot pgcdc confirms only what
#         JetStream acknowledged).
#   e2eN  the hub (stream B_e2eN) plus N pgcdc spokes sharing one durable
#         pull consumer (nats_consumer --nats-consumer-unwrap → pg_table into
#         bench_sink). Spokes start first; the clock runs from the hub's
#         start until bench_sink holds ROWS rows. e2e1 is the one-spoke
#         baseline of e2e2.
# Then, with the e2eN processes still running, latency: LAT_ROWS rows
# written to the contender's own table lat_e2eN (its publication holds
# bench_s and lat_e2eN, so no other contender's slot sees them) at a paced rate (transactions of 10 rows every 5 ms, ≈ 2 K rows/s
# at most, below the pipeline's rate). Latency per row = the target row's
# `arrived` (clock_timestamp() when the spoke's INSERT ran) minus the source
# row's `t` (clock_timestamp() when the writer's INSERT ran), both read from
# the one PostgreSQL server's clock: p50/p99/max over the paced rows.
#
# Usage (as root; PostgreSQL runs as the postgres user):
#   bench/scaleout/scaleout_bench.sh                     # 100,000 rows, 3 runs
#   ROWS=20000 RUNS=1 LAT_ROWS=2000 CONTENDERS="hub e2e2" bench/scaleout/scaleout_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), ROWS (100000), RUNS (3),
#      LAT_ROWS (10000), CONTENDERS ("hub e2e1 e2e2"; e2eN for N spokes).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bench/lib/bench_env.sh"
bench_env 100000
LAT_ROWS=${LAT_ROWS:-10000}
PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off \
  -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h -c max_connections=50"
source "$root/bench/lib/pg_cluster.sh"
source "$root/bench/lib/sink_bench.sh"
source "$here/nats_cluster.sh"

q "CREATE TABLE bench_s (id bigint PRIMARY KEY, a integer NOT NULL, b text NOT NULL,
                         c timestamptz NOT NULL, d numeric(12,2) NOT NULL,
                         t timestamptz NOT NULL DEFAULT clock_timestamp())"
q "CREATE PUBLICATION pub_hub FOR TABLE bench_s"
q "CREATE TABLE bench_sink (id text NOT NULL, channel text NOT NULL, operation text NOT NULL,
                            payload jsonb NOT NULL, source text NOT NULL,
                            created_at timestamptz NOT NULL,
                            arrived timestamptz NOT NULL DEFAULT clock_timestamp())"

hub() {  # hub NAME STREAM SUBJECT (slot s_NAME_RUN, publication pub_NAME)
  "$PGCDC" listen --detector wal --db "$DSN" --publication "pub_$1" --persistent-slot \
    --slot-name "s_$1_$run" --heartbeat-interval 0 --detector-status-interval 100ms --bus-mode reliable \
    --http-addr "" -a nats --nats-url "$URLS" --nats-stream "$2" --nats-subject "$3" \
    >/dev/null 2>"$T/hub_$1.err" &
  pgcdc_pids+=($!)
}
spoke() {  # spoke N STREAM
  "$PGCDC" listen --detector nats_consumer --nats-url "$URLS" --nats-consumer-stream "$2" \
    --nats-consumer-durable spokes --nats-consumer-unwrap --http-addr "" \
    -a pg_table --pg-table-url "$DSN application_name=spoke$1" --pg-table-name bench_sink \
    --pg-table-batch-size 500 >/dev/null 2>"$T/spoke$1.err" &
  pgcdc_pids+=($!)
  local deadline=$((SECONDS + 30))
  until grep -q "consuming detector=nats_consumer" "$T/spoke$1.err"; do
    ((SECONDS < deadline)) || { cat "$T/spoke$1.err" >&2; exit 1; }
    sleep 0.05
  done
}
wait_until() {  # wait_until SQL-returning-t
  until [[ $(q "$1") == t ]]; do
    for p in "${pgcdc_pids[@]}"; do
      kill -0 "$p" 2>/dev/null || { cat "$T"/*.err >&2; exit 1; }
    done
    sleep 0.05
  done
}
stop_pgcdc() {
  for p in "${pgcdc_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pgcdc_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pgcdc_pids=()
}

drain_hub() {  # -> r_wall
  local t0 t1
  t0=$(now)
  hub hub B_hub bhub
  wait_until "SELECT coalesce(confirmed_flush_lsn >= '$end', false) FROM pg_replication_slots WHERE slot_name = 's_hub_$run'"
  t1=$(now)
  stop_pgcdc
  r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  local got
  got=$(stream_messages B_hub)
  [[ $got -eq $ROWS ]] || { echo "stream B_hub holds $got messages, expected $ROWS" >&2; exit 1; }
}

drain_e2e() {  # drain_e2e NAME SPOKES -> r_wall, r_lat ("p50 p99 max" in ms), r_dup
  local t0 t1 i
  q "TRUNCATE bench_sink"
  for i in $(seq 1 "$2"); do spoke "$i" "B_$1"; done
  t0=$(now)
  hub "$1" "B_$1" "b$1"
  wait_until "SELECT count(*) >= $ROWS FROM bench_sink"
  t1=$(now)
  r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  # Paced rows for latency.
  q "DO \$\$ BEGIN
       FOR t IN 0..$((LAT_ROWS / 10 - 1)) LOOP
         INSERT INTO lat_$1 (id, a, b, c, d)
           SELECT g, g % 1000, 'row ' || g, now(), g / 100.0
           FROM generate_series(t * 10 + 1, t * 10 + 10) g;
         COMMIT;
         PERFORM pg_sleep(0.005);
       END LOOP;
     END \$\$"
  wait_until "SELECT count(*) >= $((ROWS + LAT_ROWS)) FROM bench_sink"
  r_lat=$(q "SELECT string_agg(round(v::numeric, 1)::text, ' ') FROM (
      SELECT unnest(ARRAY[percentile_cont(0.5) WITHIN GROUP (ORDER BY ms),
                          percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), max(ms)]) v
      FROM (SELECT extract(epoch FROM arrived - (payload->'row'->>'t')::timestamptz) * 1000 AS ms
            FROM bench_sink WHERE channel = 'pgcdc:lat_$1') x) y")
  local dup
  dup=$(q "SELECT count(*) - count(DISTINCT id) FROM bench_sink")
  stop_pgcdc
  r_dup=$dup
}

declare -A rates
lat_lines=()
read -r -a contenders <<<"${CONTENDERS:-hub e2e1 e2e2}"
for run in $(seq 1 "$RUNS"); do
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  start_cluster
  create_stream B_hub bhub
  q "TRUNCATE bench_s"
  for c in "${contenders[@]}"; do
    if [[ $c != hub ]]; then
      create_stream "B_$c" "b$c"
      if [[ $run == 1 ]]; then
        q "CREATE TABLE lat_$c (LIKE bench_s INCLUDING ALL)"
        q "CREATE PUBLICATION pub_$c FOR TABLE bench_s, lat_$c"
      fi
      q "TRUNCATE lat_$c"
    fi
    # A new slot name per run: pgcdc keeps each slot's checkpoint, and a
    # recreated slot under an old name would rightly count as lost changes.
    q "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 's_${c}_$((run - 1))'" >/dev/null
    q "SELECT pg_create_logical_replication_slot('s_${c}_$run', 'pgoutput')" >/dev/null
  done
  end=$(insert_batches bench_s "$ROWS")
  read -r -a order <<<"$(rotated "$run" "${contenders[@]}")"
  for c in "${order[@]}"; do
    if [[ $c == hub ]]; then drain_hub; else drain_e2e "$c" "${c#e2e}"; fi
    rates[$c]+="$(rate "$ROWS" "$r_wall") "
    if [[ $c != hub ]]; then
      read -r p50 p99 pmax <<<"$r_lat"
      lat_lines+=("| $run | $c | $(rate "$ROWS" "$r_wall") | $p50 | $p99 | $pmax | $r_dup |")
      log "run $run: $c ${r_wall}s, latency p50 ${p50} ms p99 ${p99} ms max ${pmax} ms, duplicates $r_dup"
    else
      log "run $run: hub ${r_wall}s"
    fi
  done
  stop_all
  log "run $run: load average before $load_before, after $(cut -d' ' -f1 /proc/loadavg)"
done

echo "| path | changes/s over $RUNS runs (min – max) | median |"
echo "|---|---:|---:|"
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for c in "${contenders[@]}"; do
  case $c in
    hub) label="hub alone: WAL → nats (R3 cluster, JetStream acked)" ;;
    *) label="WAL → hub → R3 cluster → ${c#e2e} spoke(s) → pg_table (rows committed)" ;;
  esac
  read -r lo hi < <(echo "${rates[$c]}" | tr ' ' '\n' | grep -v '^$' | sort -n | awk 'NR==1{lo=$1} {hi=$1} END{print lo, hi}')
  awk -v l="$label" -v lo="$lo" -v hi="$hi" -v m="$(echo "${rates[$c]}" | median)" \
    'BEGIN{printf "| %s | %.1f K – %.1f K | %.1f K |\n", l, lo/1000, hi/1000, m/1000}'
done
echo
echo "| run | path | changes/s | latency p50 ms | p99 ms | max ms | duplicate rows |"
echo "|---:|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${lat_lines[@]}"
echo
echo "PostgreSQL $(q 'SHOW server_version'); nats-server $(nats-server --version | awk '{print $NF}'); $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
