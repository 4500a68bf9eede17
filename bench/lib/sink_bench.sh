# Sourced by the sink benchmarks (after pg_cluster.sh): the shared workload
# and bookkeeping of "same WAL, several contenders, rotating order" runs.

# insert_batches TABLE ROWS: ROWS single-row changes into TABLE (id, a, b, c, d)
# in transactions of 1,000; prints the end LSN.
insert_batches() {
  local table=$1 rows=$2
  q "DO \$\$ BEGIN
       FOR t IN 0..$((rows / 1000 - 1)) LOOP
         INSERT INTO $table SELECT g, g % 1000, 'row ' || g, now(), g / 100.0
           FROM generate_series(t * 1000 + 1, t * 1000 + 1000) g;
         COMMIT;
       END LOOP;
     END \$\$"
  q "SELECT pg_current_wal_lsn()"
}

# rotated RUN C1 C2 …: the contenders starting at position (RUN - 1) mod n, so
# no contender always drains first.
rotated() {
  local run=$1
  shift
  local all=("$@")
  local k=$(( (run - 1) % ${#all[@]} ))
  echo "${all[@]:k}" "${all[@]:0:k}"
}

# rate ROWS SECONDS: changes per second, rounded.
rate() { awk -v n="$1" -v t="$2" 'BEGIN{printf "%.0f", n/t}'; }

# fresh_slots C1 C2 …: (re)creates a pgoutput slot s_<C> per contender, all at
# the current WAL position (so each one reads the workload written next), and
# forgets pgcdc's checkpoint of the old one.
fresh_slots() {
  local c
  for c in "$@"; do
    q "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 's_$c'" >/dev/null
    q "DELETE FROM pgcdc_checkpoints WHERE slot_name = 's_$c'" >/dev/null 2>&1 || true
    q "SELECT pg_create_logical_replication_slot('s_$c', 'pgoutput')" >/dev/null
  done
}

# range_of "R1 R2 …": "min max median" of a list of rates.
range_of() {
  tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n |
    awk '{a[NR]=$1} END {print a[1], a[NR], a[int((NR+1)/2)]}'
}
# median / min_max: the same for the numbers on stdin ("m" / "lo hi").
median() { range_of "$(cat)" | awk '{print $3}'; }
min_max() { range_of "$(cat)" | awk '{print $1, $2}'; }

# wait_confirmed SLOT END_LSN PID: waits until the slot's confirmed position
# reaches END_LSN (pgcdc with --persistent-slot confirms only what its sinks
# finished); if PID exits first, prints its $T/pgcdc.err and exits 1.
wait_confirmed() {
  until [[ $(q "SELECT coalesce(confirmed_flush_lsn >= '$2', false) FROM pg_replication_slots WHERE slot_name = '$1'") == t ]]; do
    kill -0 "$3" 2>/dev/null || { cat "$T/pgcdc.err" >&2; exit 1; }
    sleep 0.05
  done
}

# drain_wal PUBLICATION NAME END_LSN [pgcdc listen arguments…]: runs `pgcdc
# listen` on slot s_NAME (persistent slot, no HTTP server, stderr in
# $T/pgcdc.err) until the slot confirmed END_LSN, then stops it. Sets r_wall
# (seconds from exec until confirmed), r_cpu (pgcdc's utime + stime, seconds,
# less sensitive to other load than wall time) and r_hwm (peak RSS, MiB).
drain_wal() {
  local pub=$1 name=$2 end=$3 t0 t1 pid
  shift 3
  t0=$(now)
  "$PGCDC" listen --detector wal --db "$DSN" --publication "$pub" --persistent-slot \
    --slot-name "s_$name" --heartbeat-interval 0 --detector-status-interval 100ms \
    --http-addr "" "$@" >/dev/null 2>"$T/pgcdc.err" &
  pid=$!
  wait_confirmed "s_$name" "$end" "$pid"
  t1=$(now)
  r_hwm=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$pid/status")
  # utime + stime (fields 14, 15; counted after the command name, which may hold spaces).
  r_cpu=$(sed 's/^.*) //' "/proc/$pid/stat" | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($12 + $13) / hz}')
  kill -TERM "$pid"; wait "$pid" || true
  r_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
}

# sink_table: prints the Markdown table of a "file reference vs sinks" run from
# the arrays contenders, labels, rates, cpu and hwm (the first contender, file,
# is the reference).
sink_table() {
  local c lo hi peak cpu_lo cpu_hi base
  echo "| contender | events/s over $RUNS runs (min – max) | median vs file | pgcdc CPU s (min – max) | peak RSS MiB (max) |"
  echo "|---|---:|---:|---:|---:|"
  base=$(echo "${rates[file]}" | median)
  for c in "${contenders[@]}"; do
    read -r lo hi < <(echo "${rates[$c]}" | min_max)
    read -r _ peak < <(echo "${hwm[$c]}" | min_max)
    read -r cpu_lo cpu_hi < <(echo "${cpu[$c]}" | min_max)
    printf '| %s | %s K – %s K | %s× | %s – %s | %s |\n' "${labels[$c]}" \
      "$(awk -v x="$lo" 'BEGIN{printf "%.1f", x/1000}')" "$(awk -v x="$hi" 'BEGIN{printf "%.1f", x/1000}')" \
      "$(awk -v m="$(echo "${rates[$c]}" | median)" -v b="$base" 'BEGIN{printf "%.2f", m/b}')" "$cpu_lo" "$cpu_hi" "$peak"
  done
}
