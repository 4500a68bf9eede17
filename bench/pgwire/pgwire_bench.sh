#!/usr/bin/env bash
# pgwire gateway vs PostgreSQL itself: the same query over the same 10,000
# rows, driven by pgbench (simple and prepared protocol). The gateway's ring is
# filled through LISTEN/NOTIFY; PostgreSQL gets a table of the same shape.
#
#   bench/pgwire/pgwire_bench.sh [build/release/pgcdc]   (as root)
# Env: RUNS (3), SECONDS_PER_RUN (10), CLIENTS (4), ROWS (10000).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-build/release/pgcdc}
RUNS=${RUNS:-3}
SECS=${SECONDS_PER_RUN:-10}
CLIENTS=${CLIENTS:-4}
ROWS=${ROWS:-10000}

bench_on_exit() { [[ -n "${PGCDC_PID:-}" ]] && kill "$PGCDC_PID" 2>/dev/null; wait 2>/dev/null || true; }
source bench/lib/pg_cluster.sh

GW_PORT=$(free_port)
"$BIN" listen --db "postgres://postgres@127.0.0.1:$PORT/postgres" -c bench -c other -a pgwire \
  --pgwire-addr "127.0.0.1:$GW_PORT" --pgwire-buffer "$ROWS" --http-addr 127.0.0.1:0 \
  2>"$T/pgcdc.log" &
PGCDC_PID=$!
for _ in $(seq 100); do grep -q "listening detector=listen_notify" "$T/pgcdc.log" && break; sleep 0.1; done
GW="host=127.0.0.1 port=$GW_PORT user=bench dbname=pgcdc"
q "SELECT pg_notify(CASE WHEN g % 10 = 0 THEN 'bench' ELSE 'other' END,
     json_build_object('id', g, 'name', 'row ' || g)::text) FROM generate_series(1, $ROWS) g"
for _ in $(seq 200); do
  [[ $(psql -X -A -t -d "$GW" -c "SELECT count(*) FROM pgcdc_events") == "$ROWS" ]] && break
  sleep 0.1
done
# The same rows in PostgreSQL (text columns like the gateway's).
psql -X -q -d "$DSN" -c "CREATE TABLE pgcdc_events (id text, channel text,
      operation text, source text, payload text, created_at timestamptz, lsn text)"
psql -X -q -d "$GW" -A -t -F $'\t' -c "SELECT * FROM pgcdc_events" \
  | psql -X -q -d "$DSN" -c "COPY pgcdc_events FROM STDIN"

cat >"$T/query.sql" <<'SQL'
SELECT id, operation, payload FROM pgcdc_events WHERE channel = 'bench' ORDER BY id DESC LIMIT 100;
SQL
log "machine: $(nproc) cores; load: $(uptime)"
for mode in simple prepared; do
  for target in gateway postgres; do
    conn=$([[ $target == gateway ]] && echo "$GW" || echo "$DSN")
    for run in $(seq "$RUNS"); do
      tps=$(pgbench -n -M "$mode" -c "$CLIENTS" -j "$CLIENTS" -T "$SECS" -f "$T/query.sql" "$conn" 2>&1 \
        | awk '/^tps/ {print $3}')
      echo "$mode $target run=$run tps=$tps"
    done
  done
done
log "load after: $(uptime)"
