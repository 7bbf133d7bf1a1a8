#!/usr/bin/env bash
# The order saga under load: N confirmed reservations (1,000) with the payment simulator's latency
# at 200 ms, against `waitroomd serve` (2 workers, release). Reports orders completed per second
# and, from the database's own timestamps, p50/p99 from confirm (the order row's creation) to
# `completed`, against the goal: p99 no more than the payment latency + 300 ms. The confirms come
# from CONFIRM_THREADS (16) Python threads on the same 2 cores. Loopback only.
#
#   LoadTests/bench-orders.sh [orders] [latency-ms]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ORDERS=${1:-1000}
LATENCY=${2:-200}
PORT=${BENCH_PORT:-18598}
BIN=${WAITROOMD:-$ROOT/.build/release/waitroomd}
[ -x "$BIN" ] || { echo "release build needed (make release)"; exit 1; }
# shellcheck disable=SC1091
source .local/env
# A Redis database of its own, emptied first: the workers then run admission for this run's
# event only, not for whatever other runs left in database 0.
export WAITROOM_REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:${WAITROOM_LOCAL_REDIS_PORT:-6391}/7}
if [ -z "${BENCH_REDIS_URL:-}" ] && command -v redis-cli >/dev/null; then redis-cli -p "${WAITROOM_LOCAL_REDIS_PORT:-6391}" -n 7 flushdb >/dev/null; fi
WORK=$(mktemp -d /tmp/waitroom-bench-orders.XXXXXX)
TOKEN=bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
EVENT=bench-orders-$$
WAITROOM_PORT=$PORT WAITROOM_PROCESSES=2 WAITROOM_LOG_LEVEL=error WAITROOM_JOIN_RATE_PER_ADDRESS=0 \
  WAITROOM_TICKETS_PER_ADMISSION=0 WAITROOM_PAYMENT_LATENCY_MS=$LATENCY WAITROOM_ADMIN_TOKEN=$TOKEN \
  "$BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
cleanup() { kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 150); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/readyz" && break; sleep 0.2; done
curl -fsS -X PUT -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/admin/events/$EVENT" --data \
  '{"name":"orders bench","ticketClasses":[{"id":"ga","name":"GA","capacity":1000000,"priceCents":100}],"admission":{"ratePerSecond":1000,"maxActive":100000,"sessionSeconds":3600}}' >/dev/null
LoadTests/admissions.py "http://127.0.0.1:$PORT" "$EVENT" 32 bench >"$WORK/tokens"

START=$(date +%s.%N)
LoadTests/confirms.py "http://127.0.0.1:$PORT" "$EVENT" "$WORK/tokens" "$ORDERS" "${CONFIRM_THREADS:-16}" >"$WORK/orders" 2>"$WORK/confirms.err"
CONFIRMED=$(date +%s.%N)
N=$(wc -l <"$WORK/orders")
psql_q() { psql -h 127.0.0.1 -p "${WAITROOM_LOCAL_PG_PORT:-5441}" -U waitroom -d waitroom -qAt -c "$1"; }
for _ in $(seq 600); do
  left=$(psql_q "SELECT count(*) FROM orders WHERE event_id = '$EVENT' AND status NOT IN ('completed', 'cancelled', 'refunded')")
  [ "$left" = 0 ] && break
  sleep 0.1
done
read -r DONE P50 P99 MAX SPAN <<<"$(psql_q "
  SELECT count(*) FILTER (WHERE status = 'completed'),
         round(1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at))::numeric, 1),
         round(1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - created_at))::numeric, 1),
         round(1000 * max(extract(epoch FROM updated_at - created_at))::numeric, 1),
         round(extract(epoch FROM max(updated_at) - min(created_at))::numeric, 2)
  FROM orders WHERE event_id = '$EVENT'" | tr '|' ' ')"
CHARGES=$(psql_q "SELECT count(*) FILTER (WHERE charges = 1), count(*) FROM sim_payments p JOIN orders o ON o.id = p.order_id WHERE o.event_id = '$EVENT'" | tr '|' ' ')
echo "$N orders confirmed over HTTP in $(echo "$CONFIRMED - $START" | bc) s ($(tail -n 1 "$WORK/confirms.err")); simulated payment latency ${LATENCY} ms"
echo
printf '%-8s | %-9s | %-12s | %-22s | %-22s | %-10s | %s\n' orders completed "orders/s" "confirm→completed p50" "confirm→completed p99" "max" "charged exactly once"
printf '%-8s-+-%-9s-+-%-12s-+-%-22s-+-%-22s-+-%-10s-+-%s\n' -------- --------- ------------ ---------------------- ---------------------- ---------- --------------------
printf '%-8s | %-9s | %-12s | %-22s | %-22s | %-10s | %s\n' "$N" "$DONE" "$(echo "scale=1; $DONE / $SPAN" | bc)" "$P50 ms" "$P99 ms" "$MAX ms" "${CHARGES% *} of ${CHARGES#* }"
echo
echo "goal: p99 ≤ latency + 300 ms = $((LATENCY + 300)) ms → $(echo "$P99 <= $LATENCY + 300" | bc | sed 's/1/met/;s/0/NOT met/')"
