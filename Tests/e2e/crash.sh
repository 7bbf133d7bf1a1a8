#!/usr/bin/env bash
# Crash test of the Inventory: checkout clients keep reserving (and recording every reservation
# acknowledged with 201) while the server is killed with SIGKILL and PostgreSQL is stopped with
# `pg_ctl stop -m immediate` at the same moment, both restarted at once; then PostgreSQL alone
# crashes again under the running server. Afterwards every acknowledged reservation exists and
# `waitroomd check` finds the invariants intact. Then a worker is killed with `kill -9` while
# order sagas wait for their payments: another worker finishes them, each charged exactly once.
# Private Redis and PostgreSQL (see lib.sh).
#
#   Tests/e2e/crash.sh path/to/waitroomd path/to/waitroom-load
set -uo pipefail
BIN=${1:?usage: crash.sh path/to/waitroomd path/to/waitroom-load}
LOAD=${2:?usage: crash.sh path/to/waitroomd path/to/waitroom-load}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
LOAD=$(cd "$(dirname "$LOAD")" && pwd)/$(basename "$LOAD")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORT=${E2E_CRASH_PORT:-18481}
REDIS_PORT=${E2E_CRASH_REDIS_PORT:-16392}
PG_PORT=${E2E_CRASH_PG_PORT:-15442}
BASE="http://127.0.0.1:$PORT"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

echo "crash: private services"
start_private_services
export WAITROOM_PORT=$PORT WAITROOM_PROCESSES=2 WAITROOM_LOG_LEVEL=${E2E_LOG_LEVEL:-error}
export WAITROOM_ADMIN_TOKEN=e2e-admin-token-0123456789 WAITROOM_DRAIN_SECONDS=2
export WAITROOM_TICKETS_PER_ADMISSION=0 WAITROOM_HOLD_SECONDS=3600
# Payments take 1.5 s, so that a worker dies with sagas in flight (the saga phase below).
export WAITROOM_PAYMENT_LATENCY_MS=1500
# One key for every start, so tokens stay valid across the restart.
export WAITROOM_SIGNING_KEY=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
EVENT=crash
# The outbox relay posts order events to a sink of ours as well as to the log.
SINK_PORT=${E2E_SINK_PORT:-18483}
"$(dirname "${BASH_SOURCE[0]}")/sink.py" "$SINK_PORT" "$WORK/sink.jsonl" &
SINK_PID=$!
export WAITROOM_OUTBOX_WEBHOOK_URL="http://127.0.0.1:$SINK_PORT/events"

start_server() {
  "$BIN" serve >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  wait_code 30 "$BASE/readyz" 200 >/dev/null
}
kill_server() {
  local workers
  workers=$(worker_pids)
  kill -KILL "$SERVER_PID" $workers 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
}
pg_crash_restart() {
  pg_as "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate -w stop >/dev/null && start_pg
}
acked() { [ -f "$WORK/acked" ] && wc -l <"$WORK/acked" || echo 0; }
psql_e2e() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAt "$@"; }

check "server starts" start_server
check "event created" bash -c "curl -fsS -X PUT -H 'Authorization: Bearer $WAITROOM_ADMIN_TOKEN' '$BASE/v1/admin/events/$EVENT' \
  --data '{\"name\":\"crash\",\"ticketClasses\":[{\"id\":\"ga\",\"name\":\"GA\",\"capacity\":1000000,\"priceCents\":100}],\"admission\":{\"ratePerSecond\":500,\"maxActive\":10000,\"sessionSeconds\":3600}}' >/dev/null"
check "admissions for 16 clients" bash -c "'$ROOT/LoadTests/admissions.py' '$BASE' $EVENT 16 crash >'$WORK/tokens'"

echo "crash: load, kill -9 of the server together with an immediate PostgreSQL stop"
"$LOAD" reserve --url "$BASE" --event "$EVENT" --tokens "$WORK/tokens" --connections 32 --duration 24 --keep \
  --acked-file "$WORK/acked" >"$WORK/load.out" 2>"$WORK/load.err" &
LOAD_PID=$!
sleep 4
before=$(acked)
kill_server
pg_crash_restart
check "PostgreSQL restarted after the immediate stop" psql_e2e -o /dev/null -c "SELECT 1"
check "server restarted" start_server
sleep 3
middle=$(acked)
pg_crash_restart
sleep 3
after=$(acked)
wait "$LOAD_PID"
total=$(acked)
echo "  acknowledged reservations: $before before the crash, $middle after the restart, $after after the PostgreSQL-only crash, $total in all"
check "reservations were acknowledged before the crash" test "$before" -gt 20
check "and again after the restart" test "$middle" -gt "$before"
check "and after PostgreSQL alone crashed under the running server" test "$total" -gt "$after"
check "server survived the PostgreSQL-only crash" kill -0 "$SERVER_PID"
# The worker that answers /metrics either handed reservation connections to the lock set's owner
# (sent) or is the owner and received them (adopted).
handoffs=$(curl -s "$BASE/metrics" | awk '/^http_connection_handoffs_total\{result="(sent|adopted)"\}/ {n += $2} END {print n + 0}')
check "connections went to the worker that combines their class (hand-offs: $handoffs)" test "$handoffs" -gt 0

psql_e2e -c "CREATE TABLE acked (id text PRIMARY KEY)" >/dev/null
psql_e2e -c "\\copy acked FROM '$WORK/acked'" >/dev/null
missing=$(psql_e2e -c "SELECT count(*) FROM acked a LEFT JOIN reservations r ON r.id = a.id AND r.status = 'held' WHERE r.id IS NULL")
echo "  acknowledged but missing: $missing"
check "every acknowledged reservation exists, held" test "$missing" = 0
check "no duplicate acknowledgements" test "$(sort "$WORK/acked" | uniq -d | wc -l)" = 0
check "waitroomd check: invariants hold" bash -c "'$BIN' check --event $EVENT >'$WORK/check.out'"
tail -n 1 "$WORK/check.out" | sed 's/^/  /'
check "held equals the acknowledged count plus the unacknowledged ones that committed" \
  test "$(psql_e2e -c "SELECT held FROM ticket_classes WHERE event_id = '$EVENT'")" -ge "$total"

echo "crash: order sagas in flight while a worker is killed with kill -9"
"$ROOT/LoadTests/confirms.py" "$BASE" "$EVENT" "$WORK/tokens" 40 8 >"$WORK/orders" 2>"$WORK/confirms.err"
check "40 orders confirmed" test "$(wc -l <"$WORK/orders")" = 40
victim=$(worker_pids | head -n 1)
kill -KILL "$victim"
echo "  killed worker $victim with sagas awaiting payment"
open_orders() { psql_e2e -c "SELECT count(*) FROM orders WHERE status NOT IN ('completed', 'cancelled', 'refunded')"; }
for _ in $(seq 300); do [ "$(open_orders)" = 0 ] && break; sleep 0.1; done
check "every saga ended in a terminal state" test "$(open_orders)" = 0
check "all completed (the simulator approves)" test "$(psql_e2e -c "SELECT count(*) FROM orders WHERE status = 'completed'")" = 40
check "the provider charged each order exactly once" \
  test "$(psql_e2e -c "SELECT count(*) FROM sim_payments WHERE charges = 1")/$(psql_e2e -c "SELECT count(*) FROM sim_payments")" = 40/40
check "no saga step ran twice (one outbox event per order and step)" \
  test "$(psql_e2e -c "SELECT count(*) FROM (SELECT payload->>'orderId', topic FROM outbox GROUP BY 1, 2 HAVING count(*) > 1) d")" = 0
check "tickets issued once: one code per ticket" test "$(psql_e2e -c "SELECT count(*) FROM order_tickets")" = 40
check "a new worker replaced the killed one" bash -c "[ \$(pgrep -P $SERVER_PID | wc -l) -eq 2 ]"
check "waitroomd check after the sagas: invariants hold" "$BIN" check --event "$EVENT"
completed_at_sink() {
  python3 -c 'import json, sys; print(len({e["payload"]["orderId"] for e in map(json.loads, open(sys.argv[1])) if e["topic"] == "order.completed"}))' \
    "$WORK/sink.jsonl" 2>/dev/null || echo 0
}
for _ in $(seq 50); do [ "$(completed_at_sink)" = 40 ] && break; sleep 0.1; done
check "the outbox relay delivered order.completed of every order to the HTTP sink" test "$(completed_at_sink)" = 40
kill "$SINK_PID" 2>/dev/null

kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=
echo "$passed passed, $failed failed"
if [ $failed -gt 0 ]; then
  echo "--- load"; cat "$WORK/load.out"; tail -n 5 "$WORK/load.err"
  echo "--- server log (tail)"; tail -n 30 "$WORK/server.log"
fi
[ $failed -eq 0 ]
