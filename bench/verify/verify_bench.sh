#!/usr/bin/env bash
# pgcdc verify throughput (issue 15): a ROWS-row table (default 1,000,000
# narrow rows: bigint key, two texts, a numeric, a timestamptz) in a
# throwaway PostgreSQL 15 cluster, its rows written to a file sink by
# `pgcdc snapshot -a file`, then `pgcdc verify --against file:…` RUNS times
# (default 3). Reports per run the table side (rows read, canonicalised and
# hashed per second: the database-side rate), the sink side (JSON lines
# replayed per second), the wall time, pgcdc's CPU time and the load average,
# and for context the same ordered COPY into a server-side /dev/null (the
# server alone) and through psql.
#
# Run as root from the repository root after `cmake --build build/release`:
#   bench/verify/verify_bench.sh            # ROWS=1000000 RUNS=3
#   ROWS=200000 RUNS=5 bench/verify/verify_bench.sh
set -euo pipefail
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-3}
BIN=${PGCDC_BIN:-$(pwd)/build/release/pgcdc}
source "$(dirname "$0")/../lib/pg_cluster.sh"

log "creating $ROWS rows"
q "CREATE TABLE bench (id bigint PRIMARY KEY, customer text NOT NULL, status text NOT NULL,
   amount numeric(12,2) NOT NULL, created_at timestamptz NOT NULL)"
q "INSERT INTO bench SELECT g, 'customer-' || (g % 9973), (ARRAY['new','paid','shipped'])[1 + g % 3],
   (g % 100000) / 100.0, '2026-01-01'::timestamptz + g * interval '1 second'
   FROM generate_series(1, $ROWS) g"
q "VACUUM ANALYZE bench"
chown postgres "$T"

log "writing the sink with pgcdc snapshot -a file"
"$BIN" snapshot --db "$DSN" --table bench -a file --file-path "$T/bench.jsonl" --file-max-size 0 \
  --log-level warn
log "sink: $(wc -l < "$T/bench.jsonl") lines, $(du -h "$T/bench.jsonl" | cut -f1)"

# For context: the server alone (COPY into a server-side /dev/null: no client
# work at all), and COPY through psql into /dev/null.
copy_rate() {  # label, SQL
  local start end
  start=$(now)
  psql -qAtX -d "$DSN" -c "$2" > /dev/null
  end=$(now)
  printf '%s: %.2f s, %.0f rows/s\n' "$1" "$(echo "$end - $start" | bc)" \
    "$(echo "$ROWS / ($end - $start)" | bc -l)"
}
copy_rate "server only: COPY (SELECT * ORDER BY id) TO '/dev/null'" \
  "COPY (SELECT * FROM bench ORDER BY id) TO '/dev/null'"
copy_rate "psql: COPY (SELECT * ORDER BY id) TO STDOUT > /dev/null" \
  "COPY (SELECT * FROM bench ORDER BY id) TO STDOUT"

for run in $(seq 1 "$RUNS"); do
  start=$(now)
  set +e
  /usr/bin/time -f "%U %S" -o "$T/cpu" "$BIN" --log-level warn verify --db "$DSN" --table bench \
    --against "file:$T/bench.jsonl" -o json > "$T/report.json"
  rc=$?
  set -e
  end=$(now)
  python3 - "$T/report.json" "$rc" "$run" "$(echo "$end - $start" | bc)" "$T/cpu" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
cpu = sum(float(x) for x in open(sys.argv[5]).read().split()[-2:])
src, sink = r["source"], r["sink"]
print(f"run {sys.argv[3]}: exit {sys.argv[2]} match={r['match']} rows={src['rows']} "
      f"table {src['seconds']:.2f} s = {src['rows_per_second']:,.0f} rows/s; "
      f"sink {sink['records']} lines {sink['seconds']:.2f} s = "
      f"{sink['records'] / sink['seconds']:,.0f} lines/s; wall {float(sys.argv[4]):.2f} s, "
      f"pgcdc CPU {cpu:.2f} s; load {open('/proc/loadavg').read().split()[0]}")
PY
done
