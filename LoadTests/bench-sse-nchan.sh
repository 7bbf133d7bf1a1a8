#!/usr/bin/env bash
# SSE fan-out, side by side: Nchan (nginx + nchan, 2 workers) and Waitroom (`waitroomd serve`,
# WAITROOM_PROCESSES=2; more workers for both above ~28k subscribers, see SERVER_PROCESSES),
# driven by the SAME client (`waitroom-load sse`, 8 processes) with the same number of subscribers. For each target it measures, over a window of one message per second per
# subscriber:
#   CPU µs per delivered message = Δ(utime+stime) of the server's worker processes over the window
#                                  ÷ messages the client received in the window
#   KB per connection            = (Σ RSS of the workers with everyone connected − Σ RSS before
#                                  connecting) ÷ connections open
#   machine µs per message       = Δ busy time of every CPU (/proc/stat: server, client, Redis,
#                                  kernel threads) ÷ messages: work that leaves the server's
#                                  processes (e.g. to ksoftirqd) still counts here
#   ksoftirqd µs per message     = Δ CPU of the ksoftirqd/N threads ÷ messages
#   client µs per message        = Δ CPU of the client's processes ÷ messages
# and prints a table with both rows and the ratios Waitroom / Nchan (results in LoadTests/results/).
#
#   LoadTests/bench-sse-nchan.sh [subscribers] [window-seconds] [--target nchan|waitroom|both]
#
# Defaults: 20000 subscribers, 20 s window, target nchan (waitroom needs the server's position
# stream: see waitroom_drive_messages below). 100000 subscribers: `LoadTests/bench-sse-nchan.sh 100000`.
# Loopback only (server on 127.0.0.1, clients from 127.0.0.2...), every step bounded in time.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SUBSCRIBERS=20000
WINDOW=20
TARGET=nchan
positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --target) TARGET=$2; shift 2 ;;
    --target=*) TARGET=${1#*=}; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -ge 1 ] && SUBSCRIBERS=${positional[0]}
[ ${#positional[@]} -ge 2 ] && WINDOW=${positional[1]}
case "$TARGET" in nchan|waitroom|both) ;; *) echo "--target nchan|waitroom|both" >&2; exit 2 ;; esac
[ "$SUBSCRIBERS" -le 150000 ] && [ "$WINDOW" -le 300 ] || { echo "at most 150000 subscribers, 300 s" >&2; exit 2; }

# Server worker processes: 2 (the comparison asked for) while they can hold the subscribers; the
# hard fd limit here is 20,000 per process (not raisable, even as root), so 100,000 subscribers
# need at least 6 workers on either server: auto = max(2, ceil(N / 14000)), the same for both.
SERVER_PROCESSES=${SERVER_PROCESSES:-$(( (SUBSCRIBERS + 13999) / 14000 > 2 ? (SUBSCRIBERS + 13999) / 14000 : 2 ))}
CLIENT_PROCESSES=${CLIENT_PROCESSES:-8}
SOURCE_ADDRESSES=${SOURCE_ADDRESSES:-8}
RAMP_RATE=${RAMP_RATE:-5000}          # connections per second, all client processes together
SETTLE=${SETTLE:-5}                   # seconds between "all open" and the window
LOAD=${WAITROOM_LOAD:-$ROOT/.build/release/waitroom-load}
[ -x "$LOAD" ] || { echo "no release build at $LOAD (swift build -c release --product waitroom-load)"; exit 1; }
ulimit -n "$(ulimit -Hn)"
mkdir -p LoadTests/results
OUT=LoadTests/results/sse-nchan-$SUBSCRIBERS.txt
WORK=$(mktemp -d /tmp/bench-sse.XXXXXX)
SERVER_PIDS=()        # worker processes of the server under test
CLIENT_PID=
cleanup() {
  [ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null || true
  LoadTests/nchan/run.sh stop >/dev/null 2>&1 || true
  waitroom_stop
  [ -n "${KEEP_WORK:-}" ] && echo "work folder kept: $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=LoadTests/bench-lib.sh
source "$ROOT/LoadTests/bench-lib.sh"
# A Redis database of its own, emptied first: in database 0 the workers would also track every
# event that tests and earlier runs left there, and count that work in our CPU per message.
export WAITROOM_REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:${WAITROOM_LOCAL_REDIS_PORT:-6391}/9}
if [ -z "${BENCH_REDIS_URL:-}" ] && command -v redis-cli >/dev/null; then redis-cli -p "${WAITROOM_LOCAL_REDIS_PORT:-6391}" -n 9 flushdb >/dev/null || true; fi

# ---- Nchan ---------------------------------------------------------------------------------------
NCHAN_PORT=${NCHAN_PORT:-8090}
nchan_start() {
  NCHAN_WORKERS=$SERVER_PROCESSES NCHAN_PORT=$NCHAN_PORT NCHAN_PREFIX=$WORK/nchan LoadTests/nchan/run.sh start >/dev/null
  mapfile -t SERVER_PIDS < <(NCHAN_PREFIX=$WORK/nchan LoadTests/nchan/run.sh workers)
  CLIENT_ARGS=(--url "http://127.0.0.1:$NCHAN_PORT/sub/{channel}" --channels 1 --channel-prefix ev)
}
nchan_drive_messages() { NCHAN_PORT=$NCHAN_PORT NCHAN_PREFIX=$WORK/nchan LoadTests/nchan/run.sh publish "$1" ev0; }
nchan_stop() { NCHAN_PREFIX=$WORK/nchan LoadTests/nchan/run.sh stop >/dev/null; }

# ---- Waitroom ------------------------------------------------------------------------------------
# What this mode expects from the server (the lead wires it once the server streams positions):
#  * `waitroomd serve` with WAITROOM_PROCESSES=$SERVER_PROCESSES (2 up to 28k subscribers) is a
#    supervisor whose children are exactly the workers (found from
#    `pgrep -P <supervisor>`; the measurement sums them).
#  * The admin API creates the event paused (PUT /v1/admin/events/{e}, "paused" set with PATCH), so
#    the only frames during the ramp are the one `position` each stream gets on connect.
#  * The client joins first (POST /v1/events/{e}/queue, one new userId per stream), then opens
#    GET .../queue/{ticket}/stream with each ticket.
#  * waitroom_drive_messages W: un-pause with ratePerSecond=1 and a large maxActive: each second one
#    place is admitted, so EVERY waiting stream's position changes once a second → one `position`
#    frame per stream per second (the contract's "at most once a second, latest value only"), then
#    pause again after W seconds. Messages delivered = frames the client counted in the window (the
#    one admitted stream per second ends, so it is ≈ N × W). Latency is reported only if the server
#    adds a "ts" field (unix µs of the tick) to the position data, as the Nchan publisher does.
WAITROOM_PORT=${WAITROOM_PORT:-18590}
WAITROOM_EVENT=bench-sse-$$
waitroom_start() {
  waitroom_serve "$SERVER_PROCESSES" "$WORK/waitroomd.log"
  waitroom_admin PUT "/v1/admin/events/$WAITROOM_EVENT" \
    '{"name":"bench","ticketClasses":[{"id":"ga","name":"GA","capacity":1000000,"priceCents":100}],"admission":{"ratePerSecond":1,"maxActive":1000000,"sessionSeconds":600}}' >/dev/null
  waitroom_admin PATCH "/v1/admin/events/$WAITROOM_EVENT/admission" '{"paused":true}' >/dev/null
  CLIENT_ARGS=(--event "$WAITROOM_EVENT" --user-prefix "bench$$"
    --join-url "http://127.0.0.1:$WAITROOM_PORT/v1/events/{event}/queue"
    --url "http://127.0.0.1:$WAITROOM_PORT/v1/events/{event}/queue/{ticket}/stream")
}
waitroom_drive_messages() { # SECONDS
  waitroom_admin PATCH "/v1/admin/events/$WAITROOM_EVENT/admission" '{"ratePerSecond":1,"paused":false}' >/dev/null
  sleep "$1"
  waitroom_admin PATCH "/v1/admin/events/$WAITROOM_EVENT/admission" '{"paused":true}' >/dev/null
}

# ---- One measurement -------------------------------------------------------------------------------
# Prints: name|open|messages|cpu_us_per_msg|kb_per_conn|baseline_kb|p50|p99|max|errors|machine_us|softirqd_us|client_us
measure() {
  local name=$1 status=$WORK/status-$1.json
  "${name}_start"
  local rss0 ramp_s hold
  sleep 1
  rss0=$(rss_kb "${SERVER_PIDS[@]}")
  ramp_s=$(( SUBSCRIBERS / RAMP_RATE + 1 ))
  # The client stops by itself: join + ramp + hold, capped by --max-duration.
  hold=$(( SETTLE + WINDOW + 8 + ramp_s ))
  "$LOAD" sse "${CLIENT_ARGS[@]}" --connections "$SUBSCRIBERS" --processes "$CLIENT_PROCESSES" \
    --source-addresses "$SOURCE_ADDRESSES" --rate "$RAMP_RATE" --hold "$hold" --max-duration $(( hold + 300 )) \
    --status-file "$status" --quiet >"$WORK/client-$name.txt" 2>"$WORK/client-$name.err" &
  CLIENT_PID=$!
  # Wait for everyone to be connected or, once every connect was started, for 5 s without
  # progress (bounded either way): a stream that failed to open must not hold the window back
  # until the client's own hold time is over.
  local open=0 attempted=0 best=0 since=0 waited=0 line
  while [ "$waited" -lt $(( ramp_s * 3 + 120 )) ]; do
    sleep 1; waited=$((waited + 1))
    [ -s "$status" ] || continue
    line=$(status_field "$status" "d['snapshot']['open'], d['snapshot']['attempted']" 2>/dev/null) || continue
    read -r open attempted <<<"$line"
    [ "$open" -ge "$SUBSCRIBERS" ] && break
    [ "$attempted" -ge "$SUBSCRIBERS" ] || continue
    if [ "$open" -gt "$best" ]; then best=$open; since=0; else since=$((since + 1)); fi
    [ "$since" -ge 5 ] && { echo "$name: ramp stalled at $open open streams" >>"$OUT"; break; }
  done
  sleep "$SETTLE"
  open=$(status_field "$status" "d['snapshot']['open']")
  local rss1 cpu0 ev0 cpu1 ev1 all0 all1 si0 si1 cl0 cl1 client_pids
  rss1=$(rss_kb "${SERVER_PIDS[@]}")
  client_pids=("$CLIENT_PID" $(pgrep -P "$CLIENT_PID" || true))
  all0=$(machine_ticks); si0=$(ksoftirqd_ticks); cl0=$(cpu_ticks "${client_pids[@]}" 2>/dev/null)
  cpu0=$(cpu_ticks "${SERVER_PIDS[@]}")
  ev0=$(status_field "$status" "d['snapshot']['events']")
  "${name}_drive_messages" "$WINDOW"
  sleep 2   # let the last fan-out drain and the client report it
  cpu1=$(cpu_ticks "${SERVER_PIDS[@]}")
  all1=$(machine_ticks); si1=$(ksoftirqd_ticks); cl1=$(cpu_ticks "${client_pids[@]}" 2>/dev/null)
  ev1=$(status_field "$status" "d['snapshot']['events']")
  wait "$CLIENT_PID" || true
  CLIENT_PID=
  "${name}_stop"
  local messages=$(( ev1 - ev0 ))
  local cpu_us kb
  cpu_us=$(echo "scale=2; ($cpu1 - $cpu0) * 1000000 / $CLK_TCK / ($messages + ($messages == 0))" | bc)
  kb=$(echo "scale=2; ($rss1 - $rss0) / ($open + ($open == 0))" | bc)
  local machine_us softirqd_us client_us
  machine_us=$(echo "scale=2; ($all1 - $all0) * 1000000 / $CLK_TCK / ($messages + ($messages == 0))" | bc)
  softirqd_us=$(echo "scale=2; ($si1 - $si0) * 1000000 / $CLK_TCK / ($messages + ($messages == 0))" | bc)
  client_us=$(echo "scale=2; ($cl1 - $cl0) * 1000000 / $CLK_TCK / ($messages + ($messages == 0))" | bc)
  local p50 p99 mx errors
  p50=$(status_field "$status" "'%.2f' % (d['p50Micros']/1000) if d.get('p50Micros') is not None else '-'")
  p99=$(status_field "$status" "'%.2f' % (d['p99Micros']/1000) if d.get('p99Micros') is not None else '-'")
  mx=$(status_field "$status" "'%.2f' % (d['maxMicros']/1000) if d.get('maxMicros') is not None else '-'")
  errors=$(status_field "$status" "d['snapshot']['errors']")
  {
    echo "== $name: client output"; cat "$WORK/client-$name.txt"; head -20 "$WORK/client-$name.err"
    echo "cpu ticks $cpu0 -> $cpu1 (CLK_TCK $CLK_TCK), machine $all0 -> $all1, ksoftirqd $si0 -> $si1, client $cl0 -> $cl1, events $ev0 -> $ev1, rss $rss0 KB -> $rss1 KB, open $open"
  } >>"$OUT"
  echo "$name|$open|$messages|$cpu_us|$kb|$rss0|$p50|$p99|$mx|$errors|$machine_us|$softirqd_us|$client_us"
}

{
  echo "# $(date -u +%FT%TZ) bench-sse-nchan.sh $SUBSCRIBERS subscribers, window ${WINDOW}s, target $TARGET"
} >"$OUT"
rows=()
if [ "$TARGET" = nchan ] || [ "$TARGET" = both ]; then rows+=("$(measure nchan)"); else rows+=("nchan|-|-|-|-|-|-|-|-|not run|-|-|-"); fi
if [ "$TARGET" = waitroom ] || [ "$TARGET" = both ]; then rows+=("$(measure waitroom)"); else rows+=("waitroom|-|-|-|-|-|-|-|-|not run|-|-|-"); fi

{
  echo
  echo "SSE fan-out, $SUBSCRIBERS subscribers, 1 message/s each for ${WINDOW}s; server: $SERVER_PROCESSES worker processes each;"
  echo "client: waitroom-load sse, $CLIENT_PROCESSES processes, $SOURCE_ADDRESSES source addresses (shares the 2 cores)"
  printf '%-9s | %8s | %9s | %10s | %9s | %11s | %8s | %8s | %8s | %6s | %14s | %15s | %14s\n' \
    target open messages "CPU µs/msg" "KB/conn" "idle RSS KB" "p50 ms" "p99 ms" "max ms" errors "machine µs/msg" "ksoftirqd µs/msg" "client µs/msg"
  printf '%s\n' "----------+----------+-----------+------------+-----------+-------------+----------+----------+----------+--------+----------------+-----------------+---------------"
  for row in "${rows[@]}"; do
    IFS='|' read -r n o m c k b l50 l99 lmax e mu su cu <<<"$row"
    printf '%-9s | %8s | %9s | %10s | %9s | %11s | %8s | %8s | %8s | %6s | %14s | %15s | %14s\n' "$n" "$o" "$m" "$c" "$k" "$b" "$l50" "$l99" "$lmax" "$e" "$mu" "$su" "$cu"
  done
  IFS='|' read -r _ _ _ c_n k_n _ _ _ _ _ m_n _ <<<"${rows[0]}"
  IFS='|' read -r _ _ _ c_w k_w _ _ _ _ _ m_w _ <<<"${rows[1]}"
  if [ "$c_n" != "-" ] && [ "$c_w" != "-" ]; then
    echo "ratio waitroom / nchan: CPU per message $(echo "scale=2; $c_w / $c_n" | bc)x, memory per connection $(echo "scale=2; $k_w / $k_n" | bc)x, machine CPU per message (server, client and kernel threads) $(echo "scale=2; $m_w / $m_n" | bc)x"
  else
    echo "ratio waitroom / nchan: - (both targets needed: --target both)"
  fi
} | tee -a "$OUT"
