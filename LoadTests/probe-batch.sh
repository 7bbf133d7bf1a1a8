#!/usr/bin/env bash
# PostgreSQL CPU per `inventory_apply` batch, by batch size: the fixed cost of a batch and the cost
# of each reserve + release pair, without HTTP. One client (pgbench -c 1) calls the function
# directly in its own database (waitroom_probe, made again and migrated by `waitroomd migrate`),
# with batches of N reserves (new holders and keys) and N releases of holds left by earlier
# batches; a second script builds the same JSON without calling the function, and its CPU is
# subtracted. CPU is every PostgreSQL process's, from /proc (with the children that ended), so run
# it on an otherwise idle local cluster. Loopback only; bounded duration.
#
#   LoadTests/probe-batch.sh [seconds-per-size] [sizes…]     (defaults: 6, sizes 1 11 32)
#
# PROBE_SQL=file: SQL run on the probe database after the migrations (to try a schema or function
# change before it becomes a migration: run once without and once with it).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck disable=SC1091
source LoadTests/bench-lib.sh
SECONDS_EACH=${1:-6}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1 11 32)
BIN=${WAITROOMD:-$ROOT/.build/release/waitroomd}
[ -x "$BIN" ] || { echo "release build needed (make release)"; exit 1; }
PG_PORT=${WAITROOM_LOCAL_PG_PORT:-5441}
PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=waitroom
export PGHOST PGPORT PGUSER
PM=$(head -1 .local/pg/data/postmaster.pid 2>/dev/null || true)
[ -n "$PM" ] || { echo "the local PostgreSQL is not running (scripts/services.sh start)"; exit 1; }
WORK=$(mktemp -d /tmp/waitroom-probe-batch.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

psql -q -d postgres -c "DROP DATABASE IF EXISTS waitroom_probe" -c "CREATE DATABASE waitroom_probe" 2>/dev/null
WAITROOM_DATABASE_URL=postgres://waitroom@127.0.0.1:$PG_PORT/waitroom_probe "$BIN" migrate >/dev/null 2>&1
if [ -n "${PROBE_SQL:-}" ]; then psql -q -v ON_ERROR_STOP=1 -d waitroom_probe -f "$PROBE_SQL" >/dev/null; fi
psql -q -d waitroom_probe -c "INSERT INTO events (id, name, rate_per_second, max_active, session_seconds) VALUES ('probe', 'probe', 10, 10, 60)" \
  -c "INSERT INTO ticket_classes (event_id, id, name, price_cents, capacity) VALUES ('probe', 'ga', 'GA', 100, 2000000000)"

# The batch as the server sends it: reserves first, then releases (holder and reservation).
OPS="(SELECT jsonb_agg(o) FROM (
    SELECT jsonb_build_object('op', 'reserve', 'holder', (random() * 1e12)::bigint, 'key', md5(random()::text),
                              'hash', 'h', 'id', 'r' || md5(random()::text),
                              'items', jsonb_build_array(jsonb_build_object('c', 'ga', 'q', 1))) AS o
    FROM generate_series(1, :n)
    UNION ALL
    SELECT jsonb_build_object('op', 'release', 'holder', holder, 'reservation', id)
    FROM (SELECT id, holder FROM reservations WHERE status = 'held' AND event_id = 'probe' LIMIT :n) r) x)"
printf 'BEGIN;\nSET LOCAL lock_timeout = '"'2000ms'"';\nSELECT length(inventory_apply('"'probe'"', '"'{ga}'"', %s, 600, 0)::text);\nCOMMIT;\n' "$OPS" >"$WORK/apply.sql"
printf 'BEGIN;\nSET LOCAL lock_timeout = '"'2000ms'"';\nSELECT length(%s::text);\nCOMMIT;\n' "$OPS" >"$WORK/build.sql"

ticks() { pg_cluster_ticks "$PM"; }
# run FILE N -> "transactions cpu-µs-per-transaction"
run() {
  local t0 t1 out tx
  t0=$(ticks)
  out=$(pgbench -n -c 1 -T "$SECONDS_EACH" -D n="$2" -f "$1" waitroom_probe 2>&1)
  t1=$(ticks)
  tx=$(echo "$out" | awk '/number of transactions actually processed/ {print $NF}' | cut -d/ -f1)
  [ -n "$tx" ] && [ "$tx" -gt 0 ] || { echo "pgbench failed:"; echo "$out"; exit 1; }
  echo "$tx $(( (t1 - t0) * 1000000 / $(getconf CLK_TCK) / tx ))"
}

run "$WORK/apply.sql" 1 >/dev/null   # warm-up: plans cached, some holds to release
printf '%-6s | %-8s | %-16s | %-16s | %-19s\n' "pairs" "batches" "CPU µs / batch" "JSON-only tx" "CPU µs / pair"
printf -- '-------+----------+------------------+------------------+--------------------\n'
for n in "${SIZES[@]}"; do
  read -r tx cpu < <(run "$WORK/apply.sql" "$n")
  read -r _ build < <(run "$WORK/build.sql" "$n")
  printf '%-6s | %8s | %16s | %16s | %19s\n' "$n" "$tx" "$cpu" "$build" "$(( (cpu - build) / n ))"
done
echo "(CPU µs / pair: the function's CPU per batch, the JSON building subtracted, over its reserve + release pairs)"
psql -q -d postgres -c "DROP DATABASE waitroom_probe"
