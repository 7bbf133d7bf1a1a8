#!/usr/bin/env bash
# Reservations per second on one hot ticket class: 64 keep-alive HTTP clients, each with its own
# admission token, reserving one ticket and releasing it again (stock stays), against
# `waitroomd serve` (2 workers); and, against the same PostgreSQL in the same run, `pgbench`
# with 64 clients running the plain five-statement transaction
#   BEGIN; SELECT … FOR UPDATE; UPDATE; INSERT; COMMIT
# on one row. Prints both, and the ratio. Each run has a PostgreSQL database of its own, emptied
# first (as pgbench's tables are). Loopback only; bounded duration.
#
#   LoadTests/bench-reserve.sh [seconds] [clients]          ROUNDS=3 LoadTests/bench-reserve.sh (medians)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DURATION=${1:-10}
CLIENTS=${2:-64}
# ROUNDS=N: N rounds of (waitroom, then pgbench), each round's tables, and the medians over rounds.
ROUNDS=${ROUNDS:-1}
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 10 ] && [ "$DURATION" -le 120 ] || { echo "ROUNDS 1-10, at most 120 s" >&2; exit 2; }
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
# A PostgreSQL database of its own, made empty for every run (the server migrates it at start),
# as pgbench's tables are below: both sides start from the same state, and a run does not depend
# on what earlier runs and sessions left in the development database (millions of rows, and the
# autovacuum of their tables landing in some rounds). BENCH_DATABASE_URL runs against another.
PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=waitroom
export PGHOST PGPORT PGUSER
BENCH_DB=waitroom_reserve_bench
drop_bench_db() { psql -q -d postgres -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null; }
if [ -z "${BENCH_DATABASE_URL:-}" ]; then
  drop_bench_db
  psql -q -d postgres -c "CREATE DATABASE $BENCH_DB" >/dev/null
  export WAITROOM_DATABASE_URL="postgres://waitroom@127.0.0.1:$PG_PORT/$BENCH_DB"
else
  export WAITROOM_DATABASE_URL=$BENCH_DATABASE_URL
fi
WORK=$(mktemp -d /tmp/waitroom-bench-reserve.XXXXXX)
TOKEN=bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
EVENT=bench-reserve-$$

WAITROOM_PORT=$PORT WAITROOM_PROCESSES=${SERVER_PROCESSES:-2} WAITROOM_LOG_LEVEL=error WAITROOM_JOIN_RATE_PER_ADDRESS=0 \
  WAITROOM_ADMIN_TOKEN=$TOKEN "$BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
cleanup() {
  kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"
  if [ -z "${BENCH_DATABASE_URL:-}" ]; then drop_bench_db 2>/dev/null || true; fi
}
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

# One admission per client, through the real queue: new admissions for every round, so that a
# round does not inherit the holds of the rounds before (each admission makes and releases about
# a thousand holds a round; their index entries stay until vacuum, and the per-admission
# ticket-limit lookup walks them: PostgreSQL's CPU per reservation rose 92 → 141 µs over five
# rounds that shared one set of admissions).
admit() { LoadTests/admissions.py "http://127.0.0.1:$PORT" "$EVENT" "$CLIENTS" "bench-r$1" >"$WORK/tokens"; }

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

TIMEFORMAT='%U %S'
# reserve_load SECONDS SUMMARY: the HTTP clients (the admissions in $WORK/tokens) for SECONDS.
reserve_load() {
  "$LOAD" reserve --url "http://127.0.0.1:$PORT" --event "$EVENT" --tokens "$WORK/tokens" --connections "$CLIENTS" \
    --duration "$1" --summary-file "$2"
}
# waitroom_round R: the HTTP clients for DURATION; the summary in $WORK/waitroom-R.json, the CPU
# ticks of the server and of PostgreSQL in $WORK/waitroom-R.cpu, the client's in $WORK/client-R.time.
waitroom_round() {
  local r=$1 s0 p0 s1 p1
  admit "$r"
  echo "waitroom: $CLIENTS clients, reserve 1 + release, ${DURATION}s (server: 2 workers, release build)"
  # shellcheck disable=SC2046
  s0=$(cpu_ticks $(server_pids)); p0=$(pg_ticks)
  { time reserve_load "$DURATION" "$WORK/waitroom-$r.json" 2>/dev/null | tail -n +2; } 2>"$WORK/client-$r.time"
  # shellcheck disable=SC2046
  s1=$(cpu_ticks $(server_pids)); p1=$(pg_ticks)
  echo "$((s1 - s0)) $((p1 - p0))" >"$WORK/waitroom-$r.cpu"
}
# pgbench_round R: pgbench for DURATION; its output in $WORK/pgbench-R.out, latencies (ms, sorted)
# in $WORK/pg-latency-R, PostgreSQL's CPU ticks in $WORK/pgbench-R.cpu, pgbench's in $WORK/pgbench-R.time.
pgbench_round() {
  local r=$1 q0 q1
  echo
  echo "pgbench: $CLIENTS clients, the five-statement transaction on one row, ${DURATION}s"
  mkdir -p "$WORK/pgb-$r"
  q0=$(pg_ticks)
  { time (cd "$WORK/pgb-$r" && pgbench -n -c "$CLIENTS" -j 2 -T "$DURATION" -f ../pgbench.sql -l --log-prefix=pgb waitroom_bench \
          >"$WORK/pgbench-$r.out" 2>&1) || { cat "$WORK/pgbench-$r.out"; exit 1; }; } 2>"$WORK/pgbench-$r.time"
  q1=$(pg_ticks)
  echo "$((q1 - q0))" >"$WORK/pgbench-$r.cpu"
  cat "$WORK/pgb-$r"/pgb.* | awk '{print $3 / 1000}' | sort -n >"$WORK/pg-latency-$r"
}
# report R: the round's tables (holds/s, latency, lock wait, batch; CPU per reservation by component)
# and one line "ratio waitroom-rate pgbench-tps server-us pg-us client-us pgbench-pg-us" in $WORK/round-R.
report() {
  python3 - "$1" "$WORK" "$CLIENTS" "$DURATION" "$CLK_TCK" "${PG_POSTMASTER:-}" <<'PY'
import json, sys
r, work, clients, duration, tck, local = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), bool(sys.argv[6])
w = json.load(open(f"{work}/waitroom-{r}.json"))
out = open(f"{work}/pgbench-{r}.out").read()
tps = float(next(l.split()[2] for l in out.splitlines() if l.startswith("tps = ")))
pg_tx = int(next(l.split(": ")[1].split("/")[0] for l in out.splitlines() if l.startswith("number of transactions actually processed")))
lat = [float(x) for x in open(f"{work}/pg-latency-{r}")]
pct = lambda p: "%.2f" % lat[int((len(lat) - 1) * p / 100)] if lat else "-"
row = "%-34s | %12s | %8s | %8s | %13s | %13s | %10s"
print()
print(row % (f"system ({clients} clients, {duration}s)", "holds/s", "p50 ms", "p99 ms", "lock wait p50", "lock wait p99", "mean batch"))
print("-" * 35 + "+" + "-" * 14 + "+" + "-" * 10 + "+" + "-" * 10 + "+" + "-" * 15 + "+" + "-" * 15 + "+" + "-" * 11)
print(row % ("pgbench 5-statement transaction", "%.1f" % tps, pct(50), pct(99), "-", "-", "1"))
print(row % ("waitroom HTTP reserve (+ release)", "%.1f" % w["reservationsPerSecond"], "%.2f" % w["reserveP50Ms"],
             "%.2f" % w["reserveP99Ms"], "%.2f" % w["lockWaitP50Ms"], "%.2f" % w["lockWaitP99Ms"], "%.1f" % w["meanBatch"]))
ratio = w["reservationsPerSecond"] / tps
print()
print("ratio waitroom / pgbench: %.2fx (goal: at least 5x)" % ratio)
n = w["reservations"]
server_ticks, pg_ticks = (int(x) for x in open(f"{work}/waitroom-{r}.cpu").read().split())
server, pg = server_ticks / tck, pg_ticks / tck
client = sum(float(x) for x in open(f"{work}/client-{r}.time").read().split())
pg_pg = int(open(f"{work}/pgbench-{r}.cpu").read()) / tck
pgbench = sum(float(x) for x in open(f"{work}/pgbench-{r}.time").read().split())
us = lambda seconds, count: seconds * 1e6 / count if count else float("nan")
f = lambda v: "-" if v != v else "%.0f" % v
print()
print("CPU µs per reservation   | server (HTTP + combiner) | PostgreSQL | client | total")
print("-------------------------+--------------------------+------------+--------+------")
pgw = us(pg, n) if local else float("nan")
print("waitroom (reserve+release)| %24s | %10s | %6s | %s" % (f(us(server, n)), f(pgw), f(us(client, n)),
                                                          f(us(server + (pg if local else 0) + client, n))))
pgb = us(pg_pg, pg_tx) if local else float("nan")
print("pgbench (one transaction) | %24s | %10s | %6s | %s" % ("-", f(pgb), f(us(pgbench, pg_tx)),
                                                          f(us((pg_pg if local else 0) + pgbench, pg_tx))))
open(f"{work}/round-{r}", "w").write("%.3f %.1f %.1f %s %s %s %s\n" % (
    ratio, w["reservationsPerSecond"], tps, f(us(server, n)), f(pgw), f(us(client, n)), f(pgb)))
PY
}

# Warm-up, not measured (WARMUP seconds, 5 by default; 0 skips it): the database is new, and
# the first seconds on empty tables run on plans made for empty tables until the sweeper's
# planner statistics refresh (every 2 s) sees them grown.
WARMUP=${WARMUP:-5}
if [ "$WARMUP" -gt 0 ]; then
  admit warmup
  reserve_load "$WARMUP" "$WORK/warmup.json" >/dev/null 2>&1
  echo "warm-up: ${WARMUP}s of the same load, not measured"
fi
for r in $(seq "$ROUNDS"); do
  [ "$ROUNDS" -gt 1 ] && { echo; echo "== round $r of $ROUNDS"; }
  waitroom_round "$r"
  pgbench_round "$r"
  report "$r"
done
if [ "$ROUNDS" -gt 1 ]; then
  # The machine is shared: rates drift between rounds, so each round pairs its two runs, and the
  # summary is the median over rounds.
  python3 - "$WORK" "$ROUNDS" <<'PY'
import statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
rows = [open(f"{work}/round-{r}").read().split() for r in range(1, rounds + 1)]
print()
print("round | waitroom holds/s | pgbench tps | ratio | server / PostgreSQL / client CPU µs per reservation | pgbench PostgreSQL µs/tx")
print("------+------------------+-------------+-------+------------------------------------------------------+-------------------------")
for i, (ratio, rate, tps, server, pg, client, pgb) in enumerate(rows, 1):
    print("%5d | %16s | %11s | %4.2fx | %52s | %23s" % (i, rate, tps, float(ratio), f"{server} / {pg} / {client}", pgb))
med = lambda k: statistics.median(float(row[k]) for row in rows if row[k] != "-") if any(row[k] != "-" for row in rows) else float("nan")
print()
print("median over %d rounds: ratio %.2fx (goal: at least 5x); holds/s %.1f against pgbench %.1f; "
      "CPU µs per reservation: server %.0f, PostgreSQL %.0f, client %.0f" % (rounds, med(0), med(1), med(2), med(3), med(4), med(5)))
PY
fi
"$BIN" check --event "$EVENT" | tail -n 1
