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
WORK=$(mktemp -d /tmp/waitroom-e2e.XXXXXX)
chmod 755 "$WORK"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
passed=0; failed=0; SERVER_PID=

pass() { passed=$((passed + 1)); echo "  ok   $*"; }
fail() { failed=$((failed + 1)); echo "  FAIL $*"; }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
  [ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null
  pkill -KILL -f "waitroomd worker.*" -P "${SERVER_PID:-1}" 2>/dev/null
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1
  pg_as "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

start_redis() {
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize yes \
    --dir "$WORK" --logfile "$WORK/redis.log" >/dev/null
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
  return 1
}
stop_redis() { redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1; }
start_pg() { pg_as "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w -t 30 start >/dev/null; }
stop_pg() { pg_as "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast -w stop >/dev/null; }

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@"; }
body() { curl -s --max-time 3 "$@"; }

# Waits up to $1 seconds for `code $2` to be $3; prints the time it took.
wait_code() {
  local limit=$1 url=$2 want=$3 start now
  start=$(date +%s.%N)
  while :; do
    [ "$(code "$url")" = "$want" ] && { now=$(date +%s.%N); echo "$now - $start" | bc; return 0; }
    now=$(date +%s.%N)
    (( $(echo "$now - $start > $limit" | bc) )) && return 1
    sleep 0.1
  done
}

worker_pids() { pgrep -P "$SERVER_PID" | sort; }

echo "e2e: private services"
start_redis || { echo "cannot start redis"; exit 1; }
[ "$(id -u)" = 0 ] && chown postgres: "$WORK"
pg_as "$PGBIN/initdb" -D "$WORK/pg" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null ||
  { echo "initdb failed"; exit 1; }
printf "listen_addresses='127.0.0.1'\nport=%s\nunix_socket_directories='%s'\n" "$PG_PORT" "$WORK" >>"$WORK/pg/postgresql.conf"
start_pg || { echo "cannot start postgresql"; cat "$WORK/pg.log"; exit 1; }

export WAITROOM_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export WAITROOM_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
export WAITROOM_PORT=$PORT WAITROOM_PROCESSES=2 WAITROOM_LOG_LEVEL=${E2E_LOG_LEVEL:-warning}
export WAITROOM_ADMIN_TOKEN=e2e-admin-token-0123456789 WAITROOM_DRAIN_SECONDS=3

echo "e2e: binary"
check "--version names jemalloc as the allocator, in effect" \
  bash -c "'$BIN' --version | grep -q 'allocator: jemalloc' && ! '$BIN' --version | grep -q 'NOT serving'"
check "migrate applies the migrations" "$BIN" migrate
check "migrate again is a no-op" "$BIN" migrate
check "demo creates the demo event" "$BIN" demo

echo "e2e: serve with 2 workers on one port"
"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
t=$(wait_code 20 "$BASE/readyz" 200) && pass "readyz 200 after start (${t}s)" || fail "readyz 200 after start"
check "two worker processes" test "$(worker_pids | wc -l)" = 2
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
wait "$SERVER_PID" 2>/dev/null; SERVER_PID=

if [ $failed -gt 0 ]; then echo "--- server log (tail)"; tail -n 40 "$WORK/server.log"; fi
echo "e2e: $passed passed, $failed failed"
[ $failed = 0 ]
