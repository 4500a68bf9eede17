#!/usr/bin/env bash
# MySQL/MariaDB binlog throughput (issue 16): the same binlog range read by
#   pgcdc listen --detector mysql -a stdout | head -n <rows>   (JSON events)
#   mariadb-binlog --read-from-remote-server --verbose > /dev/null
#                                               (MariaDB's own decoder, rows as
#                                                pseudo-SQL comments)
# Workload: 1,000 transactions of 1,000 single-row INSERTs (1 M rows; every
# INSERT is its own TABLE_MAP + WRITE_ROWS pair), written once by a stored
# procedure into a fresh mariadbd; then each contender reads exactly that
# range, RUNS times, alternating. Reported: wall time, rows/s, CPU (user+sys).
#
# Usage (as root; mariadbd runs as the mysql user):
#   bench/mysql/mysql_bench.sh               # 1 M rows, 3 runs each
#   SCALE=0.1 RUNS=3 bench/mysql/mysql_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), SCALE (default 1), RUNS (3).
set -euo pipefail
[[ -n ${BENCH_TRACE:-} ]] && set -x
trap 'echo "mysql_bench: failed at line $LINENO" >&2' ERR

SCALE=${SCALE:-1}
RUNS=${RUNS:-3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PGCDC=${PGCDC_BIN:-$root/build/release/pgcdc}
[[ -x $PGCDC ]] || { echo "pgcdc binary not found: $PGCDC" >&2; exit 1; }
n_tx=$(awk -v s="$SCALE" 'BEGIN{printf "%d", 1000*s}')
rows=$((n_tx * 1000))

T=$(mktemp -d)
chown mysql:mysql "$T"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server_pid=""
main_pid=$BASHPID
cleanup() {
  [[ $BASHPID == "$main_pid" ]] || return 0  # not in the subshells of $(...) / <(...)
  [[ -n $server_pid ]] && kill -9 "$server_pid" 2>/dev/null || true
  [[ -n ${KEEP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT

mariadb-install-db --no-defaults --user=mysql --datadir="$T/data" \
  --auth-root-authentication-method=normal --skip-test-db >"$T/install.log" 2>&1
mariadbd --no-defaults --user=mysql --datadir="$T/data" --socket="$T/s.sock" --port="$port" \
  --bind-address=127.0.0.1 --pid-file="$T/pid" --log-bin="$T/data/binlog" \
  --binlog-format=ROW --binlog-row-image=FULL --binlog-row-metadata=FULL --server-id=1 \
  --max-binlog-size=1073741824 --innodb-flush-log-at-trx-commit=0 --sync-binlog=0 \
  --innodb-buffer-pool-size=512M --log-error="$T/err.log" &
server_pid=$!
sql() { mariadb -h127.0.0.1 -P"$port" -uroot -N -B -e "$1"; }
for _ in $(seq 1 600); do sql "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done

sql "CREATE DATABASE bench"
sql "CREATE TABLE bench.bench_t (id bigint PRIMARY KEY, a int NOT NULL, b varchar(64) NOT NULL,
       c datetime(6) NOT NULL, d decimal(12,2) NOT NULL)"
mariadb -h127.0.0.1 -P"$port" -uroot bench <<'SQL'
DELIMITER //
CREATE PROCEDURE fill(n_tx INT)
BEGIN
  DECLARE t INT DEFAULT 0;
  DECLARE i INT;
  WHILE t < n_tx DO
    START TRANSACTION;
    SET i = 0;
    WHILE i < 1000 DO
      INSERT INTO bench_t VALUES (t * 1000 + i + 1, i, CONCAT('row-', t * 1000 + i), NOW(6), i / 100);
      SET i = i + 1;
    END WHILE;
    COMMIT;
    SET t = t + 1;
  END WHILE;
END//
DELIMITER ;
SQL
read -r file start < <(sql "SHOW MASTER STATUS" | awk '{print $1, $2}')
t0=$(date +%s.%N)
sql "CALL bench.fill($n_tx)"
t1=$(date +%s.%N)
read -r end_file end < <(sql "SHOW MASTER STATUS" | awk '{print $1, $2}')
[[ $file == "$end_file" ]] || { echo "workload spans binlog files" >&2; exit 1; }
mb=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.0f", (b - a) / 1048576}')
echo "workload: $rows rows in $n_tx transactions, $file $start..$end ($mb MiB), written in" \
  "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s"
echo "load before the runs: $(uptime)"

# One timed run: "<wall seconds> <cpu seconds>" of the command line in "$@".
timed() {
  /usr/bin/time -f "%e %U %S" -o "$T/time" "$@" || echo "exit status $?" >&2
  awk '{printf "%s %.2f\n", $1, $2 + $3}' "$T/time"
}

# pgcdc streams forever: it writes into a fifo, the run ends when the reader
# has the last row; its CPU is read from /proc before it is stopped.
run_pgcdc() {
  printf '{"addr":"127.0.0.1:%s","file":"%s","gtid":"","pos":%s}\n' "$port" "$file" "$start" \
    >"$T/state.json"
  rm -f "$T/fifo"
  mkfifo "$T/fifo"
  local t0 t1 pid cpu
  t0=$(date +%s.%N)
  "$PGCDC" listen --detector mysql --mysql-addr "127.0.0.1:$port" --mysql-user root \
    --mysql-server-id 99 --mysql-tables bench.bench_t --mysql-state-file "$T/state.json" \
    --http-addr '' --log-level warn >"$T/fifo" 2>"$T/pgcdc.err" &
  pid=$!
  head -n "$rows" "$T/fifo" | tail -n 1 >"$T/last.json"
  t1=$(date +%s.%N)
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$pid/stat")
  kill "$pid"
  wait "$pid" || true
  grep -q "\"id\":$rows," "$T/last.json" || {
    echo "pgcdc: last row missing" >&2
    cat "$T/pgcdc.err" >&2
    exit 1
  }
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}') $cpu"
}

run_binlog() {
  timed bash -c "mariadb-binlog --read-from-remote-server -h127.0.0.1 -P$port -uroot --verbose \
      --start-position=$start --stop-position=$end $file > /dev/null"
}

printf '%-16s %4s %9s %10s %9s\n' contender run wall_s rows_per_s cpu_s
for r in $(seq 1 "$RUNS"); do
  for c in pgcdc binlog; do
    read -r wall cpu < <(run_$c)
    printf '%-16s %4d %9s %10.0f %9s\n' "$c" "$r" "$wall" "$(awk -v n="$rows" -v w="$wall" \
      'BEGIN{print n / w}')" "$cpu"
  done
done
echo "load after the runs: $(uptime)"
