# Sourced by the bench scripts once `root` (the repository) is set:
#   bench_env DEFAULT_ROWS [DEFAULT_RUNS]
# sets PGCDC (PGCDC_BIN, default build/release/pgcdc; it must exist), ROWS and
# RUNS (from the environment, else the script's defaults; RUNS defaults to 3).
bench_env() {
  PGCDC=${PGCDC_BIN:-$root/build/release/pgcdc}
  ROWS=${ROWS:-$1}
  RUNS=${RUNS:-${2:-3}}
  [[ -x $PGCDC ]] || { echo "pgcdc binary not found: $PGCDC" >&2; exit 1; }
}
