#!/usr/bin/env bash
# Joins per second: keep-alive `POST /v1/events/{e}/queue` (a new user per request) against
# `waitroomd serve` (2 workers, per-address limit off), from the Swift load client and from wrk
# (LoadTests/wrk/join.lua), with `GET /healthz` in the same run as the baseline of what the edge
# does without the queue. Loopback only; bounded duration.
#
#   LoadTests/bench-joins.sh [seconds] [connections]        ROUNDS=3 LoadTests/bench-joins.sh (medians)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DURATION=${1:-10}
CONNECTIONS=${2:-64}
# ROUNDS=N: the wrk part (joins, then healthz) N times, each round's figures and the medians.
ROUNDS=${ROUNDS:-1}
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 10 ] && [ "$DURATION" -le 120 ] || { echo "ROUNDS 1-10, at most 120 s" >&2; exit 2; }
PORT=${BENCH_PORT:-18595}
BIN=${WAITROOMD:-$ROOT/.build/release/waitroomd}
LOAD=${WAITROOM_LOAD:-$ROOT/.build/release/waitroom-load}
[ -x "$BIN" ] && [ -x "$LOAD" ] || { echo "release builds needed (make release load-build)"; exit 1; }
# shellcheck disable=SC1091
if [ -f .local/env ]; then source .local/env; else eval "$(scripts/services.sh env)"; fi
# A Redis database of its own, emptied first (as the other benchmarks do): in database 0 the
# workers would also run admission and position tracking for every event earlier runs and tests
# left there (127 on a developer's machine, which cost the joins about a third of their rate).
export WAITROOM_REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:${WAITROOM_LOCAL_REDIS_PORT:-6391}/8}
if [ -z "${BENCH_REDIS_URL:-}" ] && command -v redis-cli >/dev/null; then redis-cli -p "${WAITROOM_LOCAL_REDIS_PORT:-6391}" -n 8 flushdb >/dev/null; fi
TOKEN=bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
EVENT=bench-joins-$$
WAITROOM_PORT=$PORT WAITROOM_PROCESSES=2 WAITROOM_LOG_LEVEL=error WAITROOM_JOIN_RATE_PER_ADDRESS=0 \
  WAITROOM_ADMIN_TOKEN=$TOKEN "$BIN" serve >/dev/null 2>&1 &
PID=$!
# The bench event's places (hundreds of thousands) are dropped at the end, so runs do not pile up
# in the shared Redis (memory, AOF rewrites that slow the next run down).
cleanup() {
  # Wait for the server to be gone: the next run binds the same port (reuseport would share it).
  kill -TERM $PID 2>/dev/null || true
  wait $PID 2>/dev/null || true
  redis-cli -u "$WAITROOM_REDIS_URL" --scan --pattern "wr:{$EVENT}:*" | xargs -r redis-cli -u "$WAITROOM_REDIS_URL" unlink >/dev/null || true
  redis-cli -u "$WAITROOM_REDIS_URL" srem wr:events "$EVENT" >/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/readyz" && break; sleep 0.2; done
admin() { curl -fsS -X "$1" -H "Authorization: Bearer $TOKEN" --data "$3" "http://127.0.0.1:$PORT$2" >/dev/null; }
admin PUT "/v1/admin/events/$EVENT" '{"name":"joins","ticketClasses":[{"id":"ga","name":"GA","capacity":1000000,"priceCents":100}],"admission":{"ratePerSecond":1,"maxActive":1000000,"sessionSeconds":600}}'
admin PATCH "/v1/admin/events/$EVENT/admission" '{"paused":true}'
"$LOAD" joins --url "http://127.0.0.1:$PORT/v1/events/{event}/queue" --event "$EVENT" \
  --connections "$CONNECTIONS" --processes 2 --duration "$DURATION" | tail -n 4
echo
# The same joins from wrk (a C client: it costs the shared cores far less per request than the
# Swift load client above, so more of them go to the server).
echo "joins from wrk, same server: POST …/queue, a new userId per request, wrk -t2 -c$CONNECTIONS -d${DURATION}s"
# CPU time by component over each wrk run, from /proc: the server (supervisor and workers),
# redis-server (when it is on this machine) and wrk itself.
# shellcheck disable=SC1091
source LoadTests/bench-lib.sh
REDIS_PID=$(redis-cli -u "$WAITROOM_REDIS_URL" info server 2>/dev/null | tr -d '\r' | awk -F: '/^process_id:/ {print $2}')
[ -n "$REDIS_PID" ] && [ -r "/proc/$REDIS_PID/stat" ] || REDIS_PID=
server_ticks() { cpu_ticks $PID $(pgrep -P $PID | tr '\n' ' '); }
redis_ticks() { if [ -n "$REDIS_PID" ]; then cpu_ticks "$REDIS_PID"; else echo 0; fi; }
TIMEFORMAT='%U %S'
WORK=$(mktemp -d /tmp/waitroom-bench-joins.XXXXXX)
# wrk_run NAME ARGS…: runs wrk, keeps its output in $WORK/NAME and the CPU figures in $WORK/NAME.cpu
wrk_run() {
  local name=$1 s0 r0
  shift
  s0=$(server_ticks); r0=$(redis_ticks)
  { time wrk "$@" >"$WORK/$name"; } 2>"$WORK/$name.time"
  echo "$(( $(server_ticks) - s0 )) $(( $(redis_ticks) - r0 )) $(cat "$WORK/$name.time")" >"$WORK/$name.cpu"
}
for r in $(seq "$ROUNDS"); do
  [ "$ROUNDS" -gt 1 ] && { echo; echo "== wrk round $r of $ROUNDS"; }
  wrk_run "joins-$r" -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s LoadTests/wrk/join.lua "http://127.0.0.1:$PORT/v1/events/$EVENT/queue" -- "run$$-$r"
  grep -E "Requests/sec|Latency|joins \(wrk\)|Non-2xx" "$WORK/joins-$r"
  echo
  echo "baseline, same server: GET /healthz, wrk -t2 -c$CONNECTIONS -d${DURATION}s"
  wrk_run "healthz-$r" -t2 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$PORT/healthz"
  grep -E "Requests/sec|Latency" "$WORK/healthz-$r"
done
echo
python3 - "$CLK_TCK" "$WORK" "${REDIS_PID:+1}" "$ROUNDS" <<'PY'
import re, statistics, sys
tck, work, redis, rounds = float(sys.argv[1]), sys.argv[2], bool(sys.argv[3]), int(sys.argv[4])
def figures(name):
    text = open("%s/%s" % (work, name)).read()
    n = int(re.search(r"(\d+) requests in", text).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    server, red, user, system = open("%s/%s.cpu" % (work, name)).read().split()
    server, red, client = int(server) / tck, int(red) / tck, float(user) + float(system)
    us = lambda seconds: seconds * 1e6 / n
    return rate, us(server), us(red) if redis else float("nan"), us(client), us(server + red + client)
f = lambda v: "-" if v != v else "%.1f" % v
rows = [(r, figures("joins-%d" % r), figures("healthz-%d" % r)) for r in range(1, rounds + 1)]
print("CPU µs per request (wrk) | round | req/s    | server | redis-server | wrk  | total")
print("-------------------------+-------+----------+--------+--------------+------+------")
for r, joins, healthz in rows:
    for label, (rate, server, red, client, total) in (("POST …/queue (join)", joins), ("GET /healthz", healthz)):
        print("%-24s | %5d | %8.0f | %6s | %12s | %4s | %s" % (label, r, rate, f(server), f(red), f(client), f(total)))
if rounds > 1:
    med = lambda k, i: statistics.median(row[k][i] for row in rows)
    print()
    print("median over %d rounds: joins %.0f/s (goal: at least 20,000), healthz %.0f/s; CPU µs per join: server %.1f, "
          "Redis %s, wrk %.1f" % (rounds, med(1, 0), med(2, 0), med(1, 1), f(med(1, 2)), med(1, 3)))
PY
rm -rf "$WORK"
