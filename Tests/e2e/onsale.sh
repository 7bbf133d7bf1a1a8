#!/usr/bin/env bash
# The on-sale load test at small scale (600 users, 200 tickets) against private Redis and
# PostgreSQL: LoadTests/onsale.sh with the given binaries must sell out with no oversell, admission
# near the rate, no unexpected errors, and `waitroomd check` passing; its JSON must say so too.
#
#   Tests/e2e/onsale.sh path/to/waitroomd path/to/waitroom-load [users] [tickets]
set -uo pipefail
BIN=${1:?usage: onsale.sh path/to/waitroomd path/to/waitroom-load}
LOAD=${2:?usage: onsale.sh path/to/waitroomd path/to/waitroom-load}
USERS=${3:-600}
TICKETS=${4:-200}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
LOAD=$(cd "$(dirname "$LOAD")" && pwd)/$(basename "$LOAD")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORT=${E2E_ONSALE_PORT:-18487}
REDIS_PORT=${E2E_ONSALE_REDIS_PORT:-16397}
PG_PORT=${E2E_ONSALE_PG_PORT:-15447}
BASE="http://127.0.0.1:$PORT"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

echo "onsale: private services"
start_private_services
echo "onsale: $USERS users, $TICKETS tickets (debug build)"
start=$(date +%s)
# A 5/s rate over a ~12 s window is measured to about one admission (±2 %): the small run allows 5 %.
WAITROOMD=$BIN WAITROOM_LOAD=$LOAD WAITROOM_PORT=$PORT RESULTS=$WORK/results TOLERANCE=${TOLERANCE:-5} \
  ARRIVAL_RATE=300 MAX_DURATION=120 BENCH_LOG_LEVEL=error \
  "$ROOT/LoadTests/onsale.sh" "$USERS" "$TICKETS" >"$WORK/onsale.out" 2>&1
rc=$?
echo "  took $(( $(date +%s) - start )) s"
check "onsale.sh exits 0 (every check of the run passed)" test "$rc" = 0
JSON=$WORK/results/onsale-$USERS-$TICKETS.json
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$JSON" 2>/dev/null; }
check "sold out: every ticket sold, none held" test "$(json "sum(c['sold'] for c in d['finalStats']['ticketClasses'])")" = "$TICKETS"
check "no class oversold" test "$(json "all(c['sold'] <= c['capacity'] and c['held'] + c['sold'] <= c['capacity'] for c in d['finalStats']['ticketClasses'])")" = True
check "the clients received exactly the tickets sold" test "$(json "sum(d['totals']['ticketsByClass'].values())")" = "$TICKETS"
check "no unexpected errors" test "$(json "len(d['totals']['errors'])")" = 0
check "late users met sold-out (410 or the sold_out event)" test "$(json "d['totals']['outcomes'].get('end: sold out while waiting', 0) + d['totals']['outcomes'].get('end: sold out before joining', 0) > 0")" = True
check "waitroomd check passed" test "$(json "[c['passed'] for c in d['checks'] if c['name'].startswith('waitroomd check')] == [True]")" = True
check "HTML report has its three charts" test "$(grep -c '<svg' "$WORK/results/onsale-$USERS-$TICKETS.html" 2>/dev/null)" = 3
if [ "$failed" -gt 0 ] || [ "$rc" != 0 ]; then cat "$WORK/onsale.out"; else sed -n '/^on-sale  /,/^run time/p' "$WORK/onsale.out" | head -14; fi
echo "onsale: $passed passed, $failed failed"
[ "$failed" = 0 ]
