#!/usr/bin/env bash
# Multi-node test: two edge nodes as separate hosts (127.0.0.2 and 127.0.0.3, each a
# `waitroomd serve --role edge` on the same port), one saga-only node (127.0.0.1), behind HAProxy
# run with the deployment's own deploy/haproxy/haproxy.cfg (addresses from the environment), one
# private Redis and one private PostgreSQL (lib.sh). Through the proxy: streams on both nodes get
# exact positions and their `admitted` events from one admitter; tokens from one node reserve
# and confirm on the other without overselling; orders complete only once the saga node runs;
# after the admitting node is killed with kill -9, the other admits on. Clients: multinode.py.
#
#   Tests/e2e/multinode.sh path/to/waitroomd
#
# Prints one line per check and ends with "N passed, N failed".
set -uo pipefail
BIN=${1:?usage: multinode.sh path/to/waitroomd}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
EDGE_PORT=${E2E_MN_EDGE_PORT:-18210}
SAGA_PORT=${E2E_MN_SAGA_PORT:-18211}
LB_PORT=${E2E_MN_LB_PORT:-18212}
STATS_PORT=${E2E_MN_STATS_PORT:-18213}
REDIS_PORT=${E2E_MN_REDIS_PORT:-18291}
PG_PORT=${E2E_MN_PG_PORT:-18292}
EDGE1=http://127.0.0.2:$EDGE_PORT
EDGE2=http://127.0.0.3:$EDGE_PORT
SAGA=http://127.0.0.1:$SAGA_PORT
LB=http://127.0.0.1:$LB_PORT
BASE=$LB
# shellcheck source=lib.sh
source "$HERE/lib.sh"
CLIENTS=(python3 "$HERE/multinode.py")
EDGE1_PID= EDGE2_PID= SAGA_PID= LB_PID=

# Every process of ours, then lib.sh's cleanup (Redis, PostgreSQL, the work folder).
stop_all() {
  local pid
  for pid in $EDGE1_PID $EDGE2_PID $SAGA_PID; do
    pkill -KILL -P "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null
  done
  [ -n "$LB_PID" ] && { kill -KILL "$LB_PID"; wait "$LB_PID"; } 2>/dev/null
  cleanup
}
trap stop_all EXIT

# Runs a client phase; its PASS/FAIL lines become checks, INFO lines are shown; a client that
# crashes is a failure too.
phase() {
  local line rc
  "${CLIENTS[@]}" "$@" >"$WORK/phase.out" 2>&1
  rc=$?
  while IFS= read -r line; do
    case "$line" in
      "PASS "*) pass "${line#PASS }" ;;
      "FAIL "*) fail "${line#FAIL }" ;;
      "INFO "*) echo "       ${line#INFO }" ;;
      *) echo "       $line" ;;
    esac
  done <"$WORK/phase.out"
  [ "$rc" = 0 ] || fail "client phase '$1' exited with status $rc"
}

psql_mn() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAt "$@"; }
admin() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $WAITROOM_ADMIN_TOKEN" "$@"; }
# serve on ADDRESS:PORT with ROLE and PROCESSES; logs to $WORK/NAME.log; echoes the pid.
start_node() {
  local name=$1 host=$2 port=$3 role=$4 processes=$5
  WAITROOM_HOST=$host WAITROOM_PORT=$port WAITROOM_ROLE=$role WAITROOM_PROCESSES=$processes \
    "$BIN" serve >>"$WORK/$name.log" 2>&1 &
  echo $!
}
node_pids() { echo "$1"; pgrep -P "$1"; }

echo "multinode: private services"
start_private_services
export WAITROOM_ADMIN_TOKEN=e2e-multinode-admin-token-01234 WAITROOM_LOG_LEVEL=info WAITROOM_DRAIN_SECONDS=2
# One signing key on every node: a token signed by one is verified by the other.
WAITROOM_SIGNING_KEY=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
export WAITROOM_SIGNING_KEY
# HAProxy connects from 127.0.0.1 and appends the client address to X-Forwarded-For; a low join
# limit per address shows that the edges count clients, not the proxy.
export WAITROOM_TRUSTED_PROXIES=127.0.0.1 WAITROOM_JOIN_RATE_PER_ADDRESS=2
export WAITROOM_PAYMENT_LATENCY_MS=100 WAITROOM_PAYMENT_WEBHOOK_URL="$LB/v1/payments/webhook"
check "migrate" env WAITROOM_LOG_LEVEL=warning "$BIN" migrate

echo "multinode: two edge nodes (127.0.0.2 with 2 workers, 127.0.0.3 with 1), role edge"
EDGE1_PID=$(start_node edge1 127.0.0.2 "$EDGE_PORT" edge 2)
EDGE2_PID=$(start_node edge2 127.0.0.3 "$EDGE_PORT" edge 1)
t=$(wait_code 30 "$EDGE1/readyz" 200) && pass "edge1 ready on 127.0.0.2:$EDGE_PORT (${t}s)" || fail "edge1 ready"
t=$(wait_code 30 "$EDGE2/readyz" 200) && pass "edge2 ready on 127.0.0.3:$EDGE_PORT (${t}s)" || fail "edge2 ready"

echo "multinode: HAProxy with deploy/haproxy/haproxy.cfg on 127.0.0.1:$LB_PORT"
export WAITROOM_LB_BIND=127.0.0.1:$LB_PORT WAITROOM_LB_STATS=127.0.0.1:$STATS_PORT WAITROOM_LB_MAXCONN=4000
export WAITROOM_EDGE1=127.0.0.2:$EDGE_PORT WAITROOM_EDGE2=127.0.0.3:$EDGE_PORT
check "haproxy -c accepts the deployment config" haproxy -c -q -f "$ROOT/deploy/haproxy/haproxy.cfg"
haproxy -db -f "$ROOT/deploy/haproxy/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
LB_PID=$!
t=$(wait_code 10 "$LB/readyz" 200) && pass "readyz 200 through the proxy (${t}s)" || fail "readyz through the proxy"
up_servers() { curl -s --max-time 3 "http://127.0.0.1:$STATS_PORT/stats;csv" | awk -F, '$1 == "edges" && $2 ~ /^edge/ && $18 == "UP" { n++ } END { print n + 0 }'; }
for _ in $(seq 50); do [ "$(up_servers)" = 2 ] && break; sleep 0.1; done
check "stats page: both edges UP" test "$(up_servers)" = 2
check "the proxy does not expose /metrics" test "$(code "$LB/metrics")" = 404
check "HAProxy's Prometheus metrics on the stats port" bash -c "curl -s 'http://127.0.0.1:$STATS_PORT/metrics' | grep -q '^haproxy_backend_active_servers{proxy=\"edges\"} 2'"

EVENT=mn CAPACITY=30 N=60 RATE=10
check "event $EVENT created through the proxy" test "$(admin -X PUT "$LB/v1/admin/events/$EVENT" --data \
  "{\"name\":\"multinode\",\"ticketClasses\":[{\"id\":\"ga\",\"name\":\"GA\",\"capacity\":$CAPACITY,\"priceCents\":100}],\"admission\":{\"ratePerSecond\":$RATE,\"maxActive\":1000,\"sessionSeconds\":600}}")" = 201
check "admission paused" test "$(admin -X PATCH "$LB/v1/admin/events/$EVENT/admission" --data '{"paused":true}')" = 200
check "second event (for the node kill) created, paused" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Authorization: Bearer $WAITROOM_ADMIN_TOKEN' \
  '$LB/v1/admin/events/mn2' --data '{\"name\":\"mn2\",\"ticketClasses\":[{\"id\":\"ga\",\"name\":\"GA\",\"capacity\":100,\"priceCents\":100}],\"admission\":{\"ratePerSecond\":$RATE,\"maxActive\":1000,\"sessionSeconds\":600}}') = 201 ] \
  && [ \$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H 'Authorization: Bearer $WAITROOM_ADMIN_TOKEN' '$LB/v1/admin/events/mn2/admission' --data '{\"paused\":true}') = 200 ]"

echo "multinode: $N browsers stream through the proxy; admission at $RATE/s"
phase streams "$LB" "$EVENT" "$N" "$RATE" "$WORK/clients.json"
# Each worker logs "waitroom.event=E ... admission: leading" when it takes an event's lease.
leads() { grep -h "waitroom.event=$1 .*admission: leading" "${@:2}" 2>/dev/null | wc -l; }
check "one admission lease taken for $EVENT, once, by one process of one node" test "$(leads "$EVENT" "$WORK"/edge*.log)" = 1

echo "multinode: checkout across nodes (capacity $CAPACITY for $N admitted); no saga node yet"
phase checkout "$EDGE1" "$EDGE2" "$EVENT" "$CAPACITY" "$WORK/clients.json" "$WORK/orders.json"
check "waitroomd check: invariants hold, nothing oversold" bash -c "'$BIN' check --event $EVENT >'$WORK/check.out'"
check "held + sold equals the capacity" test "$(psql_mn -c "SELECT held + sold FROM ticket_classes WHERE event_id = '$EVENT'")" = "$CAPACITY"
sleep 2
check "edge nodes run no order saga: every order still pending after 2 s" \
  test "$(psql_mn -c "SELECT count(*) FROM orders WHERE event_id = '$EVENT' AND status = 'pending'")" = "$CAPACITY"

echo "multinode: a saga-only node (127.0.0.1:$SAGA_PORT, role saga) completes them"
SAGA_PID=$(start_node saga 127.0.0.1 "$SAGA_PORT" saga 1)
t=$(wait_code 30 "$SAGA/readyz" 200) && pass "saga node ready (${t}s)" || fail "saga node ready"
check "saga node serves no public API (404)" test "$(code -X POST "$SAGA/v1/events/$EVENT/queue")" = 404
phase orders "$EDGE1" "$EDGE2" "$WORK/orders.json" 30
check "the simulated provider charged each order once" \
  test "$(psql_mn -c "SELECT count(*) FILTER (WHERE charges = 1) || '/' || count(*) FROM sim_payments")" = "$CAPACITY/$CAPACITY"
check "sold equals the capacity, nothing held" test "$(psql_mn -c "SELECT sold || '/' || held FROM ticket_classes WHERE event_id = '$EVENT'")" = "$CAPACITY/0"
check "waitroomd check after the sagas: invariants hold" bash -c "'$BIN' check --event $EVENT >'$WORK/check.out'"
tail -n 1 "$WORK/check.out" | sed 's/^/       /'
sleep 5.5   # the saga node publishes its order gauges every 5 s
check "saga node's metrics count the completed orders" \
  bash -c "curl -s '$SAGA/metrics' | grep -Eq '^orders_status\{status=\"completed\"\} $CAPACITY(\.0)?\$'"

echo "multinode: kill -9 of the node that admits"
check "mn2's admission lease is held by one process of one node" test "$(leads mn2 "$WORK"/edge*.log)" = 1
leader=$(grep -l "waitroom.event=mn2 .*admission: leading" "$WORK"/edge*.log 2>/dev/null | head -n 1)
leader=$(basename "${leader:-$WORK/edge1.log}" .log)
if [ "$leader" = edge1 ]; then victim=$EDGE1_PID survivor=edge2; else victim=$EDGE2_PID survivor=edge1; fi
echo "       the admission lease of mn2 is held on $leader; its streams and it are killed mid-wait"
phase survivor "$LB" mn2 10 "$RATE" "$survivor" $(node_pids "$victim")
check "the survivor took the admission lease of mn2 over" test "$(leads mn2 "$WORK/$survivor.log")" = 1
# Two failed checks 2 s apart mark a node down (deploy/haproxy: inter 2s fall 2): wait up to 10 s.
check "stats page: the dead node is DOWN" bash -c "for _ in \$(seq 50); do curl -s 'http://127.0.0.1:$STATS_PORT/stats;csv' | grep -q '^edges,$leader,.*DOWN' && exit 0; sleep 0.2; done; exit 1"

echo "multinode: the join limit behind the proxy"
phase limit "$LB" mn2

echo "$passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  for f in edge1 edge2 saga haproxy; do
    [ -f "$WORK/$f.log" ] && { echo "--- $f.log (tail)"; grep -v ' info ' "$WORK/$f.log" | tail -n 15; }
  done
fi
[ "$failed" -eq 0 ]
