# Sourced by the scale-out benchmarks after bench/lib/pg_cluster.sh (which
# provides T and free_port): a 3-node NATS JetStream cluster on loopback
# (nats-server -js, --cluster/--routes, file storage under $T).
# Provides: URLS (the three client URLs, comma-separated); the arrays
# nats_pids and pgcdc_pids (a script appends its pgcdc processes);
# stop_all (stops both, also on exit); start_cluster (three nodes with empty
# stores, returns once JetStream has a meta leader); create_stream NAME
# PREFIX (subjects PREFIX.>, 3 replicas, max_age 24 h, duplicate window 2 min);
# stream_messages NAME; js SUBJECT [JSON] (one JetStream API request).

nats_pids=()
pgcdc_pids=()
stop_all() {
  for p in "${pgcdc_pids[@]}" "${nats_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pgcdc_pids[@]}" "${nats_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pgcdc_pids=()
  nats_pids=()
}
bench_on_exit() { stop_all; }
command -v nats-server >/dev/null || { echo "nats-server not installed" >&2; exit 1; }

declare -a CPORT RPORT
for i in 0 1 2; do CPORT[i]=$(free_port); RPORT[i]=$(free_port); done
URLS="nats://127.0.0.1:${CPORT[0]},nats://127.0.0.1:${CPORT[1]},nats://127.0.0.1:${CPORT[2]}"
js() { "$(dirname "${BASH_SOURCE[0]}")/js_api.py" "127.0.0.1:${CPORT[0]}" "$@"; }

start_cluster() {
  stop_all
  for i in 0 1 2; do
    local routes=()
    for j in 0 1 2; do [[ $j == "$i" ]] || routes+=("nats://127.0.0.1:${RPORT[j]}"); done
    rm -rf "$T/nats$i"
    nats-server -js -a 127.0.0.1 -p "${CPORT[i]}" -sd "$T/nats$i" -n "n$((i + 1))" \
      --cluster_name bench --cluster "nats://127.0.0.1:${RPORT[i]}" \
      --routes "$(IFS=,; echo "${routes[*]}")" >"$T/nats$i.log" 2>&1 &
    nats_pids+=($!)
  done
  local deadline=$((SECONDS + 60))
  until js '$JS.API.INFO' >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "no JetStream meta leader" >&2; cat "$T/nats0.log" >&2; exit 1; }
    sleep 0.1
  done
}

create_stream() {
  local deadline=$((SECONDS + 60))
  until js "\$JS.API.STREAM.CREATE.$1" \
      "{\"name\":\"$1\",\"subjects\":[\"$2.>\"],\"storage\":\"file\",\"num_replicas\":3,\"max_age\":86400000000000,\"duplicate_window\":120000000000}" \
      >"$T/js.out" 2>&1; do
    ((SECONDS < deadline)) || { cat "$T/js.out" >&2; exit 1; }
    sleep 0.1
  done
}

stream_messages() {
  js "\$JS.API.STREAM.INFO.$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"]["messages"])'
}
