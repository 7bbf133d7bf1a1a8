#!/usr/bin/env bash
# The hold benchmark: N waiters (100,000 by default) each hold an SSE stream of their place while
# admission runs at 1,000 places a second. `waitroomd serve` with enough workers for the fds
# (20,000 per process, hard: ceil(N / 14000) workers, at least 2); the client is `waitroom-load sse`
# (joins first, then one stream per ticket; ceil(N / 12500) processes, at least 8, 8 source
# addresses). The event is created paused, so the ramp sends only each stream's first frame; then
# admission runs for the window and is paused again. Prints:
#   streams open (peak)      the client's peak of open streams
#   server RSS               Σ RSS of the workers with everyone connected; per stream = that ÷ streams
#                            (and the growth from before connecting ÷ streams)
#   CPU µs per update        Δ(utime+stime) of the workers over the window ÷ position frames delivered
#   updates delivered        position frames the client received in the window (+ admitted frames)
#   admitted, rate           Δ admittedTotal (admin stats) over the window; the rate between two
#                            samples stamped with the admitter's clock (lastAdmissionAt) inside it
#   latency p50/p99/max      now − ts at the client, ts being when the edge saw the frontier move
#     3rd update on, admitting  the same over each stream's third and later updates while admission
#                            runs: the first two come in the bursts when admission starts and every
#                            position changes at once (then the server spreads the streams over the
#                            interval); once it stops, the last change reaches each stream within
#                            its interval (up to a second later), which is pacing, not tick latency
#
#   LoadTests/bench-hold.sh [streams] [window-seconds]      (defaults 100000, 30)
#
# Loopback only (server on 127.0.0.1, clients from 127.0.0.2...), every step bounded in time.
# Redis and PostgreSQL must run (scripts/services.sh start, or WAITROOM_REDIS_URL / _DATABASE_URL).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=LoadTests/bench-lib.sh
source "$ROOT/LoadTests/bench-lib.sh"

STREAMS=${1:-100000}
WINDOW=${2:-30}
[ "$STREAMS" -le 150000 ] && [ "$WINDOW" -le 300 ] || { echo "at most 150000 streams, 300 s" >&2; exit 2; }
ADMISSION_RATE=${ADMISSION_RATE:-1000}
SERVER_PROCESSES=${SERVER_PROCESSES:-$(( (STREAMS + 13999) / 14000 > 2 ? (STREAMS + 13999) / 14000 : 2 ))}
CLIENT_PROCESSES=${CLIENT_PROCESSES:-$(( (STREAMS + 12499) / 12500 > 8 ? (STREAMS + 12499) / 12500 : 8 ))}
SOURCE_ADDRESSES=${SOURCE_ADDRESSES:-8}
RAMP_RATE=${RAMP_RATE:-1500}          # streams opened per second, all client processes together
                                      # (faster overflows the workers' accept queues on 2 busy cores)
SETTLE=${SETTLE:-5}                   # seconds between "all open" and the window
STALL=${STALL:-20}                    # once all are attempted, give up waiting after this long without progress
# The join phase and the ramp of 100k take minutes: a place whose stream is not open yet must not
# be abandoned meanwhile (the default 60 s would turn the ramp into a storm of departures).
export WAITROOM_ABANDON_AFTER_SECONDS=${WAITROOM_ABANDON_AFTER_SECONDS:-3600}
# A Redis database of its own (5 of the local instance, emptied first): the workers admit and
# track only this run's event, not every event that other runs left in database 0.
export WAITROOM_REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:${WAITROOM_LOCAL_REDIS_PORT:-6391}/5}
if [ -z "${BENCH_REDIS_URL:-}" ] && command -v redis-cli >/dev/null; then redis-cli -p "${WAITROOM_LOCAL_REDIS_PORT:-6391}" -n 5 flushdb >/dev/null; fi
LOAD=${WAITROOM_LOAD:-$ROOT/.build/release/waitroom-load}
[ -x "$LOAD" ] || { echo "no release build at $LOAD (swift build -c release --product waitroom-load)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
mkdir -p LoadTests/results
OUT=LoadTests/results/hold-$STREAMS.txt
WORK=$(mktemp -d /tmp/bench-hold.XXXXXX)
WAITROOM_PORT=${WAITROOM_PORT:-18591}
EVENT=bench-hold-$$
CLIENT_PID=
cleanup() {
  [ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null || true
  waitroom_stop
  [ -n "${KEEP_WORK:-}" ] && echo "work folder kept: $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

admitted_total() { waitroom_admin GET "/v1/admin/events/$EVENT/stats" '' | python3 -c 'import json,sys; print(json.load(sys.stdin)["admittedTotal"])'; }
# "admittedTotal unix-seconds": the count with the admitter's time of it (lastAdmissionAt), an exact
# point of the admissions curve however late the stats answer comes on a saturated server.
admitted_stamp() {
  waitroom_admin GET "/v1/admin/events/$EVENT/stats" '' | python3 -c '
import datetime, json, sys
d = json.load(sys.stdin)
at = d.get("lastAdmissionAt")
t = datetime.datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp() if at else 0
print(d["admittedTotal"], "%.3f" % t)'
}
positions() { status_field "$STATUS" "d['snapshot']['eventsByType'].get('position', 0)"; }
admitted_frames() { status_field "$STATUS" "d['snapshot']['eventsByType'].get('admitted', 0)"; }

echo "# $(date -u +%FT%TZ) bench-hold.sh $STREAMS streams, window ${WINDOW}s, admission $ADMISSION_RATE/s, $SERVER_PROCESSES workers, $CLIENT_PROCESSES client processes" >"$OUT"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
waitroom_serve "$SERVER_PROCESSES" "$WORK/waitroomd.log"
waitroom_admin PUT "/v1/admin/events/$EVENT" \
  '{"name":"hold","ticketClasses":[{"id":"ga","name":"GA","capacity":1000000,"priceCents":100}],"admission":{"ratePerSecond":'"$ADMISSION_RATE"',"maxActive":10000000,"sessionSeconds":600}}' >/dev/null
waitroom_admin PATCH "/v1/admin/events/$EVENT/admission" '{"paused":true}' >/dev/null
sleep 1
RSS0=$(rss_kb "${SERVER_PIDS[@]}")

STATUS=$WORK/status.json
RAMP_S=$(( STREAMS / RAMP_RATE + 1 ))
# The client stops by itself: join + ramp + hold, counted from the last connect started, capped
# by --max-duration. The hold covers the stragglers' connect timeout (15 s), the stall wait, the
# settle and the window, plus a minute: on a loaded box the client's status file can lag by tens
# of seconds, and the client must still be there when the window really ends.
HOLD=$(( 15 + STALL + SETTLE + WINDOW + 60 ))
"$LOAD" sse --event "$EVENT" --user-prefix "hold$$" \
  --join-url "http://127.0.0.1:$WAITROOM_PORT/v1/events/{event}/queue" \
  --url "http://127.0.0.1:$WAITROOM_PORT/v1/events/{event}/queue/{ticket}/stream" \
  --connections "$STREAMS" --processes "$CLIENT_PROCESSES" --source-addresses "$SOURCE_ADDRESSES" \
  --rate "$RAMP_RATE" --hold "$HOLD" --max-duration $(( HOLD + 400 )) \
  --status-file "$STATUS" --steady-stop-file "$WORK/steady-stop" --quiet >"$WORK/client.txt" 2>"$WORK/client.err" &
CLIENT_PID=$!

# Wait for everyone to be connected, or, once every connect was started, for STALL seconds
# without progress (bounded either way).
open=0 best=0 since=0 waited=0
while [ "$waited" -lt $(( RAMP_S * 3 + 400 )) ]; do
  sleep 1; waited=$((waited + 1))
  [ -s "$STATUS" ] || continue
  line=$(status_field "$STATUS" "d['snapshot']['open'], d['snapshot']['attempted']" 2>/dev/null) || continue
  read -r open attempted <<<"$line"
  [ "$open" -ge "$STREAMS" ] && break
  [ "$attempted" -ge "$STREAMS" ] || continue
  if [ "$open" -gt "$best" ]; then best=$open; since=0; else since=$((since + 1)); fi
  [ "$since" -ge "$STALL" ] && { echo "ramp stalled at $open open streams" | tee -a "$OUT" >&2; break; }
done
sleep "$SETTLE"
OPEN=$(status_field "$STATUS" "d['snapshot']['open']")
RSS1=$(rss_kb "${SERVER_PIDS[@]}")
CPU0=$(cpu_ticks "${SERVER_PIDS[@]}")
PER_WORKER0=$(for pid in "${SERVER_PIDS[@]}"; do cpu_ticks "$pid"; done | tr '\n' ' ')
POS0=$(positions); ADM0=$(admitted_frames); ADMITTED0=$(admitted_total)
START=$(date +%s.%N)
waitroom_admin PATCH "/v1/admin/events/$EVENT/admission" '{"paused":false}' >/dev/null
# The rate: between two stamped samples inside the window (3 s in, and at its end), on the
# admitter's clock; the window's own ends include however long the PATCH answers took.
sleep 3
read -r STAMP_A_COUNT STAMP_A_TIME <<<"$(admitted_stamp)"
sleep "$(( WINDOW > 6 ? WINDOW - 3 : 3 ))"
read -r STAMP_B_COUNT STAMP_B_TIME <<<"$(admitted_stamp)"
touch "$WORK/steady-stop"   # the client's steady latency ends with the ticks (see the header)
waitroom_admin PATCH "/v1/admin/events/$EVENT/admission" '{"paused":true}' >/dev/null
END=$(date +%s.%N)
ADMITTED1=$(admitted_total)
sleep 2   # let the last fan-out drain and the client report it
CPU1=$(cpu_ticks "${SERVER_PIDS[@]}")
PER_WORKER1=$(for pid in "${SERVER_PIDS[@]}"; do cpu_ticks "$pid"; done | tr '\n' ' ')
RSS_WORKERS=$(for pid in "${SERVER_PIDS[@]}"; do rss_kb "$pid"; done | tr '\n' ' ')
POS1=$(positions); ADM1=$(admitted_frames)
wait "$CLIENT_PID" || true
CLIENT_PID=
PEAK=$(status_field "$STATUS" "d['peakOpen']")
ERRORS=$(status_field "$STATUS" "d['snapshot']['errors']")
P50=$(status_field "$STATUS" "'%.2f' % (d['p50Micros']/1000) if d.get('p50Micros') is not None else '-'")
P99=$(status_field "$STATUS" "'%.2f' % (d['p99Micros']/1000) if d.get('p99Micros') is not None else '-'")
MAX=$(status_field "$STATUS" "'%.2f' % (d['maxMicros']/1000) if d.get('maxMicros') is not None else '-'")
STEADY=$(status_field "$STATUS" "'%.2f / %.2f / %.2f ms (%d samples)' % (d['steadyP50Micros']/1000, d['steadyP99Micros']/1000, d['steadyMaxMicros']/1000, d['steadySamples']) if d.get('steadyP99Micros') is not None else '-'")
waitroom_stop

UPDATES=$(( POS1 - POS0 ))
ADMITTED=$(( ADMITTED1 - ADMITTED0 ))
SECONDS_RUN=$(echo "$END - $START" | bc)
STAMPED_SECONDS=$(echo "scale=3; $STAMP_B_TIME - $STAMP_A_TIME" | bc)
STAMPED_RATE=$(echo "scale=1; ($STAMP_B_COUNT - $STAMP_A_COUNT) / ($STAMPED_SECONDS + ($STAMPED_SECONDS == 0))" | bc)
CPU_US=$(echo "scale=2; ($CPU1 - $CPU0) * 1000000 / $CLK_TCK / ($UPDATES + ($UPDATES == 0))" | bc)
KB=$(echo "scale=2; $RSS1 / ($OPEN + ($OPEN == 0))" | bc)
KB_GROWTH=$(echo "scale=2; ($RSS1 - $RSS0) / ($OPEN + ($OPEN == 0))" | bc)
{
  echo "== client output"; cat "$WORK/client.txt"; head -20 "$WORK/client.err"
  echo "cpu ticks $CPU0 -> $CPU1 (CLK_TCK $CLK_TCK), position frames $POS0 -> $POS1, admitted frames $ADM0 -> $ADM1,"
  echo "admittedTotal $ADMITTED0 -> $ADMITTED1 in ${SECONDS_RUN}s (stamped: $STAMP_A_COUNT at $STAMP_A_TIME, $STAMP_B_COUNT at $STAMP_B_TIME), rss $RSS0 KB -> $RSS1 KB, open $OPEN"
  echo "per worker: cpu ticks $PER_WORKER0-> $PER_WORKER1, rss KB at the end $RSS_WORKERS"
  echo "load average before/after: $LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$OUT"
{
  echo
  echo "Hold: $STREAMS waiters on SSE, admission $ADMISSION_RATE/s for ${WINDOW}s; server: $SERVER_PROCESSES workers;"
  echo "client: waitroom-load sse, $CLIENT_PROCESSES processes, $SOURCE_ADDRESSES source addresses (shares the 2 cores)"
  printf '%-28s | %s\n' "measure" "value"
  printf '%s\n' "-----------------------------+------------------------------"
  printf '%-28s | %s\n' "streams open (peak)" "$PEAK (at window start: $OPEN)"
  printf '%-28s | %s\n' "server RSS total" "$RSS1 KB ($SERVER_PROCESSES workers; $RSS0 KB before connecting)"
  printf '%-28s | %s\n' "server RSS per stream" "$KB KB (growth per stream: $KB_GROWTH KB)"
  printf '%-29s | %s\n' "CPU µs per position update" "$CPU_US"
  printf '%-28s | %s\n' "updates delivered" "$UPDATES position + $(( ADM1 - ADM0 )) admitted"
  printf '%-28s | %s\n' "admitted (rate)" "$ADMITTED; rate $STAMPED_RATE/s on the admitter's clock ($(( STAMP_B_COUNT - STAMP_A_COUNT )) in ${STAMPED_SECONDS}s, configured $ADMISSION_RATE/s)"
  printf '%-28s | %s\n' "latency p50 / p99 / max" "$P50 / $P99 / $MAX ms"
  printf '%-28s | %s\n' "  3rd update on, admitting" "$STEADY"
  printf '%-28s | %s\n' "errors" "$ERRORS"
} | tee -a "$OUT"
