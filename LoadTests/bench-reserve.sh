#!/usr/bin/env bash
# Reservations per second on one hot ticket class: 64 keep-alive HTTP clients, each with its own
# admission token, reserving one ticket and releasing it again (stock stays), against
# `waitroomd serve` (2 workers); and, against the same PostgreSQL in the same run, `pgbench`
# with 64 clients running the plain five-statement transaction
#   BEGIN; SELECT … FOR UPDATE; UPDATE; INSERT; COMMIT
# on one row. Prints both, and the ratio. Loopback only; bounded duration.
#
#   LoadTests/bench-reserve.sh [seconds] [clients]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DURATION=${1:-10}
CLIENTS=${2:-64}
PORT=${BENCH_PORT:-18597}
BIN=${WAITROOMD:-$ROOT/.build/release/waitroomd}
LOAD=${WAITROOM_LOAD:-$ROOT/.build/release/waitroom-load}
[ -x "$BIN" ] && [ -x "$LOAD" ] || { echo "release builds needed (make release load-build)"; exit 1; }
# shellcheck disable=SC1091
source .local/env
# The local services' ports (scripts/services.sh): several checkouts on one machine run their own.
REDIS_PORT=${WAITROOM_LOCAL_REDIS_PORT:-6391}
PG_PORT=${WAITROOM_LOCAL_PG_PORT:-5441}
# A Redis database of its own, emptied first: the workers then run admission for this run's
# event only, not for whatever other runs left in database 0.
export WAITROOM_REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/6}
if [ -z "${BENCH_REDIS_URL:-}" ] && command -v redis-cli >/dev/null; then redis-cli -p "$REDIS_PORT" -n 6 flushdb >/dev/null; fi
WORK=$(mktemp -d /tmp/waitroom-bench-reserve.XXXXXX)
TOKEN=bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
EVENT=bench-reserve-$$
PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=waitroom
export PGHOST PGPORT PGUSER

WAITROOM_PORT=$PORT WAITROOM_PROCESSES=${SERVER_PROCESSES:-2} WAITROOM_LOG_LEVEL=error WAITROOM_JOIN_RATE_PER_ADDRESS=0 \
  WAITROOM_ADMIN_TOKEN=$TOKEN "$BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
cleanup() { kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 150); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/readyz" && break; sleep 0.2; done
# shellcheck disable=SC1091
source LoadTests/bench-lib.sh
# CPU time by component, from /proc: the server (supervisor and workers), and PostgreSQL (every
# process under its postmaster, when this is the local cluster: .local/pg/data/postmaster.pid).
server_pids() { echo "$PID $(pgrep -P "$PID" | tr '\n' ' ')"; }
PG_POSTMASTER=$(head -1 .local/pg/data/postmaster.pid 2>/dev/null || true)
pg_ticks() { pg_cluster_ticks "$PG_POSTMASTER"; }
admin() { curl -fsS -X "$1" -H "Authorization: Bearer $TOKEN" --data "$3" "http://127.0.0.1:$PORT$2" >/dev/null; }
admin PUT "/v1/admin/events/$EVENT" '{"name":"reserve bench","ticketClasses":[{"id":"ga","name":"GA","capacity":100000,"priceCents":100}],"admission":{"ratePerSecond":1000,"maxActive":100000,"sessionSeconds":3600}}'

# One admission per client, through the real queue.
LoadTests/admissions.py "http://127.0.0.1:$PORT" "$EVENT" "$CLIENTS" bench >"$WORK/tokens"

echo "waitroom: $CLIENTS clients, reserve 1 + release, ${DURATION}s (server: 2 workers, release build)"
# shellcheck disable=SC2046
S0=$(cpu_ticks $(server_pids)); P0=$(pg_ticks)
TIMEFORMAT='%U %S'
{ time "$LOAD" reserve --url "http://127.0.0.1:$PORT" --event "$EVENT" --tokens "$WORK/tokens" --connections "$CLIENTS" \
  --duration "$DURATION" --summary-file "$WORK/waitroom.json" 2>/dev/null | tail -n +2; } 2>"$WORK/client-time"
# shellcheck disable=SC2046
S1=$(cpu_ticks $(server_pids)); P1=$(pg_ticks)

# pgbench: the same PostgreSQL, its own database, one hot row.
psql -qAt -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'waitroom_bench'" | grep -q 1 \
  || psql -q -d postgres -c "CREATE DATABASE waitroom_bench" >/dev/null
psql -q -d waitroom_bench >/dev/null <<'SQL'
DROP TABLE IF EXISTS bench_holds, bench_classes;
CREATE TABLE bench_classes (id integer PRIMARY KEY, capacity integer NOT NULL, held integer NOT NULL DEFAULT 0,
                            CHECK (held <= capacity));
CREATE TABLE bench_holds (id bigserial PRIMARY KEY, class_id integer NOT NULL, quantity integer NOT NULL,
                          created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO bench_classes VALUES (1, 2000000000, 0);
SQL
cat >"$WORK/pgbench.sql" <<'SQL'
BEGIN;
SELECT capacity, held FROM bench_classes WHERE id = 1 FOR UPDATE;
UPDATE bench_classes SET held = held + 1 WHERE id = 1;
INSERT INTO bench_holds (class_id, quantity) VALUES (1, 1);
COMMIT;
SQL
echo
echo "pgbench: $CLIENTS clients, the five-statement transaction on one row, ${DURATION}s"
Q0=$(pg_ticks)
{ time (cd "$WORK" && pgbench -n -c "$CLIENTS" -j 2 -T "$DURATION" -f pgbench.sql -l --log-prefix=pgb waitroom_bench >"$WORK/pgbench.out" 2>&1) \
  || { cat "$WORK/pgbench.out"; exit 1; }; } 2>"$WORK/pgbench-time"
Q1=$(pg_ticks)
PG_TPS=$(grep -E "^tps = " "$WORK/pgbench.out" | head -1 | awk '{print $3}')
cat "$WORK"/pgb.* | awk '{print $3}' | sort -n >"$WORK/pg-latency"
PG_N=$(wc -l <"$WORK/pg-latency")
pct() { awk -v p="$1" -v n="$PG_N" 'NR == int((n - 1) * p / 100) + 1 { printf "%.2f", $1 / 1000; exit }' "$WORK/pg-latency"; }
PG_P50=$(pct 50); PG_P99=$(pct 99)

read -r W_RATE W_P50 W_P99 W_LOCK50 W_LOCK99 W_BATCH < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print("%.1f %.2f %.2f %.2f %.2f %.1f" % (s["reservationsPerSecond"], s["reserveP50Ms"], s["reserveP99Ms"],
                                         s["lockWaitP50Ms"], s["lockWaitP99Ms"], s["meanBatch"]))' "$WORK/waitroom.json")
echo
printf '%-34s | %12s | %8s | %8s | %13s | %13s | %10s\n' "system ($CLIENTS clients, ${DURATION}s)" "holds/s" "p50 ms" "p99 ms" "lock wait p50" "lock wait p99" "mean batch"
printf '%-34s-+-%12s-+-%8s-+-%8s-+-%13s-+-%13s-+-%10s\n' "----------------------------------" "------------" "--------" "--------" "-------------" "-------------" "----------"
printf '%-34s | %12s | %8s | %8s | %13s | %13s | %10s\n' "pgbench 5-statement transaction" "$PG_TPS" "$PG_P50" "$PG_P99" "-" "-" "1"
printf '%-34s | %12s | %8s | %8s | %13s | %13s | %10s\n' "waitroom HTTP reserve (+ release)" "$W_RATE" "$W_P50" "$W_P99" "$W_LOCK50" "$W_LOCK99" "$W_BATCH"
echo
python3 -c 'import sys; print("ratio waitroom / pgbench: %.2fx (goal: at least 5x)" % (float(sys.argv[1]) / float(sys.argv[2])))' "$W_RATE" "$PG_TPS"

# CPU per reservation by component: steadier than the rates on a shared machine.
W_N=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["reservations"])' "$WORK/waitroom.json")
PG_TX=$(grep -E "^number of transactions actually processed" "$WORK/pgbench.out" | awk -F': ' '{print $2}' | cut -d/ -f1)
python3 - "$CLK_TCK" "$W_N" "$((S1 - S0))" "$((P1 - P0))" "$(cat "$WORK/client-time")" "${PG_TX:-0}" "$((Q1 - Q0))" "$(cat "$WORK/pgbench-time")" "${PG_POSTMASTER:-}" <<'PY'
import sys
tck, n = float(sys.argv[1]), int(sys.argv[2])
server, pg = int(sys.argv[3]) / tck, int(sys.argv[4]) / tck
client = sum(float(x) for x in sys.argv[5].split())
pg_tx, pg_pg = int(sys.argv[6]), int(sys.argv[7]) / tck
pgbench = sum(float(x) for x in sys.argv[8].split())
local = bool(sys.argv[9])
us = lambda seconds, count: "%.0f" % (seconds * 1e6 / count) if count else "-"
print()
print("CPU µs per reservation   | server (HTTP + combiner) | PostgreSQL | client | total")
print("-------------------------+--------------------------+------------+--------+------")
pgw = us(pg, n) if local else "-"
print("waitroom (reserve+release)| %24s | %10s | %6s | %s" % (us(server, n), pgw, us(client, n), us(server + (pg if local else 0) + client, n)))
pgb = us(pg_pg, pg_tx) if local else "-"
print("pgbench (one transaction) | %24s | %10s | %6s | %s" % ("-", pgb, us(pgbench, pg_tx), us((pg_pg if local else 0) + pgbench, pg_tx)))
PY
"$BIN" check --event "$EVENT" | tail -n 1
