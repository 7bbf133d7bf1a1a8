#!/usr/bin/env bash
# End-to-end tests of the `waitroomd` binary: a supervisor with 2 workers on one port, against a
# private Redis and a private PostgreSQL that this script starts, stops and restarts itself (so
# the shared local services are never disturbed).
#
#   Tests/e2e/server.sh path/to/waitroomd
#
# Prints one line per check and ends with "N passed, N failed".
set -uo pipefail
BIN=${1:?usage: server.sh path/to/waitroomd}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
PORT=${E2E_PORT:-18480}
REDIS_PORT=${E2E_REDIS_PORT:-16391}
PG_PORT=${E2E_PG_PORT:-15441}
BASE="http://127.0.0.1:$PORT"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

echo "e2e: private services"
start_private_services

export WAITROOM_PORT=$PORT WAITROOM_PROCESSES=2 WAITROOM_LOG_LEVEL=${E2E_LOG_LEVEL:-warning}
export WAITROOM_ADMIN_TOKEN=e2e-admin-token-0123456789 WAITROOM_DRAIN_SECONDS=3

echo "e2e: binary"
check "--version names jemalloc as the allocator, in effect" \
  bash -c "'$BIN' --version | grep -q 'allocator: jemalloc' && ! '$BIN' --version | grep -q 'NOT serving'"
check "migrate applies the migrations" "$BIN" migrate
check "migrate again is a no-op" "$BIN" migrate
check "demo creates the demo event" "$BIN" demo

echo "e2e: serve with 2 workers on one port"
# The socket directory a supervisor killed with -9 left behind (its pid in the name, gone):
# the next supervisor removes it at start.
true & DEAD_PID=$!; wait $DEAD_PID
STALE_DIR="${TMPDIR:-/tmp}/waitroom-combiner-$DEAD_PID-e2e000"
mkdir -p "$STALE_DIR"
"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
t=$(wait_code 20 "$BASE/readyz" 200) && pass "readyz 200 after start (${t}s)" || fail "readyz 200 after start"
check "two worker processes" test "$(worker_pids | wc -l)" = 2
# Each worker listens on its combiner socket, in the directory the supervisor made for the run.
COMBINER_DIR=$(tr '\0' '\n' <"/proc/$(worker_pids | head -1)/environ" | sed -n 's/^WAITROOM_COMBINER_DIR=//p')
sockets=no
for _ in $(seq 50); do
  [ -n "$COMBINER_DIR" ] && [ -S "$COMBINER_DIR/inventory-0.sock" ] && [ -S "$COMBINER_DIR/inventory-1.sock" ] \
    && [ -S "$COMBINER_DIR/handoff-0.sock" ] && [ -S "$COMBINER_DIR/handoff-1.sock" ] && { sockets=yes; break; }
  sleep 0.1
done
check "both workers listen on their combiner and hand-off sockets ($COMBINER_DIR)" test $sockets = yes
check "a combiner directory left by a supervisor that is gone is removed" test ! -e "$STALE_DIR"
check "healthz 200" test "$(code "$BASE/healthz")" = 200
check "metrics is Prometheus text" bash -c "curl -s '$BASE/metrics' | grep -q '^# TYPE'"
check "metrics show jemalloc in effect" bash -c "curl -s '$BASE/metrics' | grep -q 'waitroom_build_info{.*allocator=\"jemalloc\"'"
check "unknown route is 404 in the error shape" \
  bash -c "curl -s '$BASE/nope' | grep -q '\"error\":{\"code\":\"not_found\"'"
check "demo page served" bash -c "curl -s '$BASE/e/demo' | grep -qi '<html'"
check "body over the limit is 413" \
  test "$(head -c 70000 /dev/zero | code -X PUT -H 'Content-Type: application/json' --data-binary @- "$BASE/v1/admin/events/x")" = 413

echo "e2e: Redis down and back"
stop_redis
t=$(wait_code 2 "$BASE/readyz" 503) && pass "readyz 503 within 2 s of Redis stopping (${t}s)" || fail "readyz 503 within 2 s of Redis stopping"
check "the 503 names redis" bash -c "curl -s '$BASE/readyz' | grep -q redis"
check "503 carries Retry-After" bash -c "curl -s -D - -o /dev/null '$BASE/readyz' | grep -qi '^retry-after'"
check "healthz still 200" test "$(code "$BASE/healthz")" = 200
start_redis
t=$(wait_code 5 "$BASE/readyz" 200) && pass "readyz 200 within 5 s of Redis returning (${t}s)" || fail "readyz 200 within 5 s of Redis returning"

echo "e2e: PostgreSQL down and back"
stop_pg
t=$(wait_code 2 "$BASE/readyz" 503) && pass "readyz 503 within 2 s of PostgreSQL stopping (${t}s)" || fail "readyz 503 within 2 s of PostgreSQL stopping"
check "the 503 names postgres" bash -c "curl -s '$BASE/readyz' | grep -q postgres"
start_pg
t=$(wait_code 5 "$BASE/readyz" 200) && pass "readyz 200 within 5 s of PostgreSQL returning (${t}s)" || fail "readyz 200 within 5 s of PostgreSQL returning"
check "server process never restarted" kill -0 "$SERVER_PID"

echo "e2e: kill -9 of one worker"
before=$(worker_pids)
victim=$(echo "$before" | head -n 1)
kill -KILL "$victim"
ok=0; errors=0
for _ in $(seq 40); do
  if [ "$(code "$BASE/healthz")" = 200 ]; then ok=$((ok + 1)); else errors=$((errors + 1)); fi
  sleep 0.05
done
check "port kept answering ($ok of 40 requests ok)" test "$ok" -ge 38
replaced=no
for _ in $(seq 50); do
  now=$(worker_pids)
  if [ "$(echo "$now" | wc -l)" = 2 ] && ! echo "$now" | grep -qx "$victim"; then replaced=yes; break; fi
  sleep 0.1
done
check "supervisor started a new worker" test $replaced = yes
t=$(wait_code 10 "$BASE/readyz" 200) && pass "readyz 200 after the restart (${t}s)" || fail "readyz 200 after the restart"

echo "e2e: graceful shutdown"
kill -TERM "$SERVER_PID"
stopped=no
for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || { stopped=yes; break; }; sleep 0.1; done
check "SIGTERM stops supervisor and workers within 10 s" test $stopped = yes
check "no worker left behind" bash -c "! pgrep -f 'waitroomd worker' -P $SERVER_PID >/dev/null"
check "the combiner socket directory is removed" test -n "$COMBINER_DIR" -a ! -e "$COMBINER_DIR"
wait "$SERVER_PID" 2>/dev/null; SERVER_PID=

if [ $failed -gt 0 ]; then echo "--- server log (tail)"; tail -n 40 "$WORK/server.log"; fi
echo "e2e: $passed passed, $failed failed"
[ $failed = 0 ]
