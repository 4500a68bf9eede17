#!/usr/bin/env bash
# Webhook gateway throughput (issue 16): the same keep-alive HTTP/1.1 load
# (bench/webhook_gateway/http_load.cc, one thread, CONNECTIONS connections,
# one request in flight per connection) against pgcdc's own GET /healthz (the
# HTTP stack's ceiling) and against POST /ingest/bench of the gateway with the
# stdout sink (to /dev/null), alternating, RUNS times each, in one pgcdc
# process per configuration.
#
# Usage: bench/webhook_gateway/webhook_gateway_bench.sh
# Env: PGCDC_BIN (default build/release/pgcdc), LOAD_BIN (default
#      build/release/bench/webhook_gateway/http_load), CONNECTIONS (32),
#      SECONDS_PER_RUN (10), RUNS (3), ACKS ("delivered enqueued").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PGCDC=${PGCDC_BIN:-$root/build/release/pgcdc}
LOAD=${LOAD_BIN:-$root/build/release/bench/webhook_gateway/http_load}
CONNECTIONS=${CONNECTIONS:-32}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
RUNS=${RUNS:-3}
ACKS=${ACKS:-delivered enqueued}
[[ -x $PGCDC ]] || { echo "pgcdc binary not found: $PGCDC" >&2; exit 1; }
[[ -x $LOAD ]] || { echo "http_load not built: $LOAD (cmake --build build/release --target http_load)" >&2; exit 1; }

BODY='{"id":"evt_1NqXo2","type":"charge.succeeded","data":{"object":{"amount":4200,"currency":"eur","customer":"cus_9s6XKzkNRiz8i3"}}}'
port=$((20000 + RANDOM % 20000))
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

# pgcdc's CPU time (utime + stime, clock ticks) so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)

echo "| ack | run | target | requests/s | p50 ms | p99 ms | non-2xx | pgcdc CPU µs/request | load average |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---|"
for ack in $ACKS; do
  "$PGCDC" listen --detector webhook_gateway --webhookgw-source bench --webhookgw-ack "$ack" \
    -a stdout --http-addr "127.0.0.1:$port" --log-level warn >/dev/null 2>/tmp/webhook_gateway_bench.err &
  pid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.05
  done
  for run in $(seq "$RUNS"); do
    for target in healthz ingest; do
      before=$(cpu_ticks "$pid")
      if [[ $target == healthz ]]; then
        out=$("$LOAD" 127.0.0.1 "$port" GET /healthz "$CONNECTIONS" "$SECONDS_PER_RUN")
      else
        out=$("$LOAD" 127.0.0.1 "$port" POST /ingest/bench "$CONNECTIONS" "$SECONDS_PER_RUN" "$BODY")
      fi
      after=$(cpu_ticks "$pid")
      load=$(cut -d' ' -f1-3 /proc/loadavg)
      eval "$(echo "$out" | tr ' ' '\n' | grep -E '^(requests|rps|p50_ms|p99_ms|non2xx)=')"
      cpu_us=$(( (after - before) * 1000000 / tick / requests ))
      echo "| $ack | $run | $target | $rps | $p50_ms | $p99_ms | $non2xx | $cpu_us | $load |"
    done
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
done
echo
echo "$(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); kernel $(uname -r); uptime: $(uptime)"
