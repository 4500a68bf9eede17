#!/usr/bin/env bash
# SQLite change-table drain rate (issue 16): a change table holding ROWS rows
# (written by the triggers `pgcdc init --detector sqlite --apply` installs) is
# emptied by
#   pgcdc listen --detector sqlite -a stdout      (JSON events; rows deleted
#                                                  only after delivery, in
#                                                  batches of --sqlite-batch-size)
#   sqlite3 CLI: SELECT json_object(...) of every change row ORDER BY rowid,
#                then DELETE them               (what a hand-written poller
#                                                would do at best: one read,
#                                                one delete, no delivery check)
# Each run gets a fresh copy of the same database file. pgcdc runs at its
# defaults (batch 100) and with --sqlite-batch-size 1000. Reported: wall time,
# rows/s, CPU (user+sys).
#
# Usage: bench/sqlite/sqlite_bench.sh            # 200,000 rows, 3 runs each
#        ROWS=50000 RUNS=3 bench/sqlite/sqlite_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), ROWS (200000), RUNS (3).
set -euo pipefail
trap 'echo "sqlite_bench: failed at line $LINENO" >&2' ERR

ROWS=${ROWS:-200000}
RUNS=${RUNS:-3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PGCDC=${PGCDC_BIN:-$root/build/release/pgcdc}
[[ -x $PGCDC ]] || { echo "pgcdc binary not found: $PGCDC" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

sqlite3 "$T/base.db" "PRAGMA journal_mode = WAL;
  CREATE TABLE items (id INTEGER PRIMARY KEY, a INTEGER NOT NULL, b TEXT NOT NULL, c REAL);" \
  >/dev/null
"$PGCDC" init --detector sqlite --table items --sqlite-db "$T/base.db" --apply 2>/dev/null
t0=$(date +%s.%N)
sqlite3 "$T/base.db" "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $ROWS)
  INSERT INTO items SELECT i, i % 1000, 'row-' || i, i / 7.0 FROM g;"
t1=$(date +%s.%N)
pending=$(sqlite3 "$T/base.db" "SELECT count(*) FROM pgcdc_changes")
[[ $pending == "$ROWS" ]] || { echo "expected $ROWS change rows, found $pending" >&2; exit 1; }
echo "workload: $ROWS change rows ($(du -h "$T/base.db" | cut -f1) file), written in" \
  "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s"
echo "load before the runs: $(uptime)"

fresh_copy() {
  rm -f "$T"/run.db*
  sqlite3 "$T/base.db" ".backup '$T/run.db'"
}

# pgcdc polls forever: it writes into a fifo, the run ends when the change
# table is empty (every row delivered and deleted); CPU from /proc.
run_pgcdc() {
  local batch=$1 t0 t1 pid cpu left
  fresh_copy
  rm -f "$T/fifo"
  mkfifo "$T/fifo"
  t0=$(date +%s.%N)
  "$PGCDC" listen --detector sqlite --sqlite-db "$T/run.db" ${batch:+--sqlite-batch-size "$batch"} \
    -a stdout --http-addr '' --log-level warn >"$T/fifo" 2>"$T/pgcdc.err" &
  pid=$!
  head -n "$ROWS" "$T/fifo" | tail -n 1 >"$T/last.json" &
  local reader=$!
  while :; do
    left=$(sqlite3 -cmd ".timeout 5000" "$T/run.db" "SELECT count(*) FROM pgcdc_changes")
    [[ $left == 0 ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$T/pgcdc.err" >&2; exit 1; }
    sleep 0.05
  done
  t1=$(date +%s.%N)
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$pid/stat")
  wait "$reader"
  kill "$pid"
  wait "$pid" || true
  grep -q "\"id\":$ROWS," "$T/last.json" || {
    echo "pgcdc: last row missing" >&2
    cat "$T/pgcdc.err" >&2
    exit 1
  }
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}') $cpu"
}

run_sqlite3() {
  fresh_copy
  /usr/bin/time -f "%e %U %S" -o "$T/time" sqlite3 "$T/run.db" \
    "SELECT json_object('id', rowid, 'table', table_name, 'op', operation,
       'row', json(row_data), 'old', json(old_data), 'created_at', created_at)
     FROM pgcdc_changes ORDER BY rowid; DELETE FROM pgcdc_changes;" >"$T/cli.out"
  [[ $(wc -l <"$T/cli.out") == "$ROWS" ]] || { echo "sqlite3: wrong row count" >&2; exit 1; }
  awk '{printf "%s %.2f\n", $1, $2 + $3}' "$T/time"
}

printf '%-22s %4s %9s %10s %9s\n' contender run wall_s rows_per_s cpu_s
for r in $(seq 1 "$RUNS"); do
  for c in "pgcdc" "pgcdc-batch1000" "sqlite3"; do
    case $c in
      pgcdc) read -r wall cpu < <(run_pgcdc "") ;;
      pgcdc-batch1000) read -r wall cpu < <(run_pgcdc 1000) ;;
      sqlite3) read -r wall cpu < <(run_sqlite3) ;;
    esac
    printf '%-22s %4d %9s %10.0f %9s\n' "$c" "$r" "$wall" "$(awk -v n="$ROWS" -v w="$wall" \
      'BEGIN{print n / w}')" "$cpu"
  done
done
echo "load after the runs: $(uptime)"
