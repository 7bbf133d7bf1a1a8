#!/usr/bin/env bash
# The on-sale load test: USERS (50,000) arrive on a ramp and hold SSE streams while the event is
# paused; then admission opens at ADMISSION_RATE places a second and the admitted users reserve
# 1–4 tickets, confirm and pay (simulated; a share declines and pays again) until the TICKETS
# (5,000, in three classes) are sold out. `waitroom-load onsale` drives the users from
# CLIENT_PROCESSES processes and reads the server's stats once a second; at the end it checks: sold
# out, no class oversold (sold ≤ capacity, held + sold ≤ capacity), the tickets the clients
# received = sold, every order settled, admission within ±TOLERANCE % of the rate (server
# admittedTotal over the steady window), no unexpected errors, and `waitroomd check --event`.
# Prints the tables; writes LoadTests/results/onsale-USERS-TICKETS.{txt,json,html}.
#
#   LoadTests/onsale.sh [users] [tickets]            (defaults 50000 5000; release builds)
#   WAITROOMD=.build/debug/waitroomd WAITROOM_LOAD=.build/debug/waitroom-load LoadTests/onsale.sh 600 200
#
# Settings (environment): ADMISSION_RATE (tickets ÷ 100, at least 5: ~40 s of admission, since a
# buyer takes 2.5 tickets on average), ARRIVAL_RATE (1000 users/s), SERVER_PROCESSES and CLIENT_PROCESSES
# (one per 17,000 users, at least 2), DECLINE_SHARE (0.02),
# TOLERANCE (2), MAX_DURATION (600 s), ONSALE_REDIS_DB (6, emptied first), WAITROOM_PORT (18471),
# RESULTS (LoadTests/results). Loopback only. Redis and PostgreSQL must run (scripts/services.sh
# start, or WAITROOM_REDIS_URL / WAITROOM_DATABASE_URL).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=LoadTests/bench-lib.sh
source "$ROOT/LoadTests/bench-lib.sh"

USERS=${1:-50000}
TICKETS=${2:-5000}
[ "$USERS" -ge 1 ] && [ "$USERS" -le 150000 ] && [ "$TICKETS" -ge 3 ] || { echo "users 1...150000, tickets ≥ 3" >&2; exit 2; }
ADMISSION_RATE=${ADMISSION_RATE:-$(( TICKETS / 100 > 5 ? TICKETS / 100 : 5 ))}
ARRIVAL_RATE=${ARRIVAL_RATE:-1000}
# As few processes as the fd limit (20,000 a process) allows: on 2 cores more processes cost more
# than they give (30,000 users: admission 45.1/s with 2 + 2 processes, 37.7/s with 3 + 3).
SERVER_PROCESSES=${SERVER_PROCESSES:-$(( (USERS + 16999) / 17000 > 2 ? (USERS + 16999) / 17000 : 2 ))}
CLIENT_PROCESSES=${CLIENT_PROCESSES:-$(( (USERS + 16999) / 17000 > 2 ? (USERS + 16999) / 17000 : 2 ))}
DECLINE_SHARE=${DECLINE_SHARE:-0.02}
TOLERANCE=${TOLERANCE:-2}
MAX_DURATION=${MAX_DURATION:-600}
RESULTS=${RESULTS:-$ROOT/LoadTests/results}
WAITROOM_PORT=${WAITROOM_PORT:-18471}
LOAD=${WAITROOM_LOAD:-$ROOT/.build/release/waitroom-load}
BIN=${WAITROOMD:-$ROOT/.build/release/waitroomd}
[ -x "$LOAD" ] || { echo "no build at $LOAD (swift build -c release --product waitroom-load)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "no build at $BIN (swift build -c release --product waitroomd)" >&2; exit 1; }
export WAITROOMD=$BIN

# shellcheck disable=SC1091
[ -f .local/env ] && source .local/env
# A Redis database of its own, emptied first: the workers admit and track only this run's event.
DB=${ONSALE_REDIS_DB:-6}
[[ ${WAITROOM_REDIS_URL:-redis://127.0.0.1:6391} =~ ^(redis://[^/]+)(/[0-9]*)?$ ]] ||
  { echo "cannot read WAITROOM_REDIS_URL=$WAITROOM_REDIS_URL" >&2; exit 2; }
BASE_REDIS=${BASH_REMATCH[1]}
export WAITROOM_REDIS_URL=$BASE_REDIS/$DB
REDIS_HOSTPORT=${BASE_REDIS#redis://}
redis-cli -h "${REDIS_HOSTPORT%:*}" -p "${REDIS_HOSTPORT##*:}" -n "$DB" flushdb >/dev/null
# Every place opens its stream at once; waiting through a long ramp must not count as abandoning.
export WAITROOM_ABANDON_AFTER_SECONDS=${WAITROOM_ABANDON_AFTER_SECONDS:-3600}
export WAITROOM_PAYMENT_PROVIDER=simulator
ulimit -n "$(ulimit -Hn)"
mkdir -p "$RESULTS"
WORK=$(mktemp -d /tmp/onsale.XXXXXX)
EVENT=onsale-$(date +%s)-$$
cleanup() {
  waitroom_stop
  [ -n "${KEEP_WORK:-}" ] && echo "work folder kept: $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

# Three classes: 70 % general admission, 20 % balcony, the rest VIP.
GA=$(( TICKETS * 70 / 100 )); BALCONY=$(( TICKETS * 20 / 100 )); VIP=$(( TICKETS - GA - BALCONY ))
echo "on-sale: $USERS users, $TICKETS tickets (ga $GA, balcony $BALCONY, vip $VIP), admission $ADMISSION_RATE/s," \
  "arrivals $ARRIVAL_RATE/s, $SERVER_PROCESSES server processes, $CLIENT_PROCESSES client processes, event $EVENT"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
waitroom_serve "$SERVER_PROCESSES" "$WORK/waitroomd.log"
waitroom_admin PUT "/v1/admin/events/$EVENT" '{"name":"On-sale load test","ticketClasses":[
  {"id":"ga","name":"General admission","capacity":'"$GA"',"priceCents":4900},
  {"id":"balcony","name":"Balcony","capacity":'"$BALCONY"',"priceCents":6900},
  {"id":"vip","name":"VIP","capacity":'"$VIP"',"priceCents":14900}],
  "admission":{"ratePerSecond":'"$ADMISSION_RATE"',"maxActive":1000000,"sessionSeconds":900}}' >/dev/null
# Closed while the users arrive; `onsale` resumes admission once all hold their streams.
waitroom_admin PATCH "/v1/admin/events/$EVENT/admission" '{"paused":true}' >/dev/null

OUT=$RESULTS/onsale-$USERS-$TICKETS
status=0
"$LOAD" onsale --url "http://127.0.0.1:$WAITROOM_PORT" --event "$EVENT" --classes ga,balcony,vip \
  --users "$USERS" --processes "$CLIENT_PROCESSES" --arrival-rate "$ARRIVAL_RATE" --user-prefix "$EVENT" \
  --admission-rate "$ADMISSION_RATE" --tolerance "$TOLERANCE" --decline-share "$DECLINE_SHARE" \
  --max-duration "$MAX_DURATION" --resume-after-ramp \
  --check-command "'$BIN' check --event '$EVENT'" --json "$OUT.json" --html "$OUT.html" \
  --status-file "$WORK/status.json" | tee "$WORK/client.txt" || status=$?
{
  echo "# $(date -u +%FT%TZ) LoadTests/onsale.sh $USERS $TICKETS: admission $ADMISSION_RATE/s, arrivals $ARRIVAL_RATE/s," \
    "$SERVER_PROCESSES server processes, $CLIENT_PROCESSES client processes, $(nproc) cores," \
    "load average before/after: $LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg)"
  sed -n '/^on-sale /,$p' "$WORK/client.txt"
} >"$OUT.txt"
echo "results: $OUT.txt, $OUT.json, $OUT.html"
exit "$status"
