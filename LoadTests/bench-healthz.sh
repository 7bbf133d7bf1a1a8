#!/usr/bin/env bash
# GET /healthz over keep-alive with wrk, against `waitroomd serve` with 1 and then 2 worker
# processes, in the same run. Prints a table (and writes LoadTests/results/healthz.txt).
#
#   LoadTests/bench-healthz.sh [duration-seconds] [connections]
#
# Loopback only (127.0.0.1), bounded duration. Needs the local services (make services) and a
# release build (make release); `make bench-healthz` does both.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DURATION=${1:-10}
CONNECTIONS=${2:-64}
PORT=${BENCH_PORT:-18580}
BIN=${WAITROOMD:-$ROOT/.build/release/waitroomd}
[ -x "$BIN" ] || { echo "no release build at $BIN (make release)"; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed (make setup)"; exit 1; }
# A Redis database of its own, emptied first (the workers track every event of their database).
export WAITROOM_REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:${WAITROOM_LOCAL_REDIS_PORT:-6391}/10}
# shellcheck disable=SC1091
source .local/env
if [ -z "${BENCH_REDIS_URL:-}" ] && command -v redis-cli >/dev/null; then redis-cli -p "${WAITROOM_LOCAL_REDIS_PORT:-6391}" -n 10 flushdb >/dev/null || true; fi
mkdir -p LoadTests/results
OUT=LoadTests/results/healthz.txt
: >"$OUT"

run_one() {
  local processes=$1 pid log
  log=$(mktemp)
  WAITROOM_PORT=$PORT WAITROOM_PROCESSES=$processes WAITROOM_LOG_LEVEL=error "$BIN" serve >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
  # Warm-up, then the measured run.
  wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$PORT/healthz" >/dev/null
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/healthz" >"$log.wrk"
  kill -TERM "$pid"; wait "$pid" || true
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$log.wrk")
  p50=$(awk '$1=="50%" {print $2}' "$log.wrk")
  p99=$(awk '$1=="99%" {print $2}' "$log.wrk")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' "$log.wrk" | tr '\n' ' ')
  echo "$processes|$rps|$p50|$p99|${errors:-none}"
  cat "$log.wrk" >>"$OUT"
  rm -f "$log" "$log.wrk"
}

one=$(run_one 1)
two=$(run_one 2)
rps1=$(echo "$one" | cut -d'|' -f2)
rps2=$(echo "$two" | cut -d'|' -f2)
{
  echo
  echo "GET /healthz, keep-alive, wrk -t2 -c$CONNECTIONS -d${DURATION}s (wrk shares the 2 cores)"
  printf '%-10s | %12s | %9s | %9s | %s\n' processes "requests/s" p50 p99 errors
  printf '%-10s-+-%12s-+-%9s-+-%9s-+-%s\n' ---------- ------------ --------- --------- ------
  for row in "$one" "$two"; do
    IFS='|' read -r p r l50 l99 e <<<"$row"
    printf '%-10s | %12s | %9s | %9s | %s\n' "$p" "$r" "$l50" "$l99" "$e"
  done
  echo "ratio 2 processes / 1 process: $(echo "scale=2; $rps2 / $rps1" | bc)x"
} | tee -a "$OUT"
