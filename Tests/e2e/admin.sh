#!/usr/bin/env bash
# End-to-end tests of `waitroomd admin …` against a real server (one worker, private Redis and
# PostgreSQL): event files applied (201, then 200), admission set and read back, pause and resume
# seen on a waiter's stream, errors (bad token, no token, unknown event, bad input, no server),
# and the live stats view driven in tmux (redraws, survives the server going away, restores the
# terminal on Ctrl-C).
#
#   Tests/e2e/admin.sh path/to/waitroomd
#
# Prints one line per check and ends with "N passed, N failed".
set -uo pipefail
BIN=${1:?usage: admin.sh path/to/waitroomd}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORT=${E2E_ADMIN_PORT:-18484}
REDIS_PORT=${E2E_ADMIN_REDIS_PORT:-16393}
PG_PORT=${E2E_ADMIN_PG_PORT:-15443}
BASE="http://127.0.0.1:$PORT"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TMUX_SOCKET="waitroom-e2e-admin-$$"
STREAM_PID=
admin_cleanup() {
  tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null
  rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$TMUX_SOCKET"
  [ -n "$STREAM_PID" ] && kill "$STREAM_PID" 2>/dev/null
  cleanup
}
trap admin_cleanup EXIT

echo "e2e admin: private services and a server"
start_private_services
export WAITROOM_PORT=$PORT WAITROOM_PROCESSES=1 WAITROOM_LOG_LEVEL=${E2E_LOG_LEVEL:-warning} WAITROOM_DRAIN_SECONDS=1
TOKEN=e2e-admin-cli-token-0123456789
serve() {
  WAITROOM_ADMIN_TOKEN=$TOKEN "$BIN" serve >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  wait_code 20 "$BASE/readyz" 200 >/dev/null
}
stop_server() {
  kill -TERM "$SERVER_PID"
  for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  wait "$SERVER_PID" 2>/dev/null; SERVER_PID=
}
WAITROOM_ADMIN_TOKEN=$TOKEN "$BIN" migrate >/dev/null || { echo "migrate failed"; exit 1; }
serve || { echo "server not ready"; tail -n 30 "$WORK/server.log"; exit 1; }

export WAITROOM_ADMIN_URL=$BASE WAITROOM_ADMIN_TOKEN=$TOKEN
# Runs `waitroomd admin "$@"`: its output in $OUT, its errors in $ERR, its exit code in $RC.
admin() { OUT=$("$BIN" admin "$@" 2>"$WORK/err"); RC=$?; ERR=$(cat "$WORK/err"); }
has() { [[ "$1" == *"$2"* ]]; }
json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }
stats_field() { "$BIN" admin stats "$1" --json | json_field "$2"; }

echo "e2e admin: event files"
admin event apply -f "$ROOT/deploy/events/demo.yaml" --event e2e
check "apply a YAML file creates the event (201)" has "$OUT" "created event 'e2e' (HTTP 201)"
check "the answer shows the event as the server has it" has "$OUT" "class      vip: VIP · capacity 200 · 199.00 · seated, 10 rows"
admin event apply -f "$ROOT/deploy/events/demo.yaml" --event e2e
check "apply again updates it (200)" bash -c "[ $RC = 0 ] && grep -qF \"updated event 'e2e' (HTTP 200)\" <<<\"\$0\"" "$OUT"
admin event apply -f "$ROOT/deploy/events/spring-tour.json"
check "apply a JSON file with its own id (201)" has "$OUT" "created event 'spring-tour' (HTTP 201)"
check "its opening time went through as RFC 3339" has "$OUT" "opens at   2027-03-01T18:00:00Z"
admin event get e2e
echo "$OUT" >"$WORK/got.yaml"
[ "${E2E_VERBOSE:-}" ] && cat "$WORK/got.yaml"
check "event get prints YAML of the event" has "$OUT" "$(printf 'id: e2e\nname: Waitroom demo on-sale\nticketClasses:')"
check "with the settings in force" has "$OUT" "$(printf 'admission:\n  ratePerSecond: 5.0\n  maxActive: 200\n')"
admin event apply -f "$WORK/got.yaml"
check "which applies back unchanged (200)" has "$OUT" "updated event 'e2e' (HTTP 200)"
sed 's/maxActive: 200 /maxActive: 0 /' "$ROOT/deploy/events/demo.yaml" >"$WORK/bad.yaml"
admin event apply -f "$WORK/bad.yaml" --event e2e-bad
check "an invalid file exits 2 naming the field" bash -c "[ $RC = 2 ] && grep -qF 'admission.maxActive must be in 1...10000000' <<<\"\$0\"" "$ERR"
check "and nothing was sent" test "$(code -H "Authorization: Bearer $TOKEN" "$BASE/v1/admin/events/e2e-bad")" = 404

echo "e2e admin: admission settings"
admin rate e2e 0.5
check "rate answers the settings in force" test "$OUT" = "e2e: 0.5/s · max active 200 · session 600 s · running"
admin max-active e2e 1
check "max-active answers the settings in force" test "$OUT" = "e2e: 0.5/s · max active 1 · session 600 s · running"
check "stats reads the rate back" test "$(stats_field e2e "['admission']['ratePerSecond']")" = 0.5
check "GET reads max-active back" test "$("$BIN" admin event get e2e --format json | json_field "['admission']['maxActive']")" = 1
admin admission e2e --rate 20 --session-seconds 120
check "admission sets several at once" test "$OUT" = "e2e: 20/s · max active 1 · session 120 s · running"

echo "e2e admin: pause and resume, as a waiter sees them"
curl -s -X POST -H 'Content-Type: application/json' -d '{"userId":"first"}' "$BASE/v1/events/e2e/queue" >/dev/null
for _ in $(seq 30); do [ "$(stats_field e2e "['active']")" = 1 ] && break; sleep 0.1; done
second=$(curl -s -X POST -H 'Content-Type: application/json' -d '{"userId":"second"}' "$BASE/v1/events/e2e/queue" | json_field "['ticket']")
curl -sN --max-time 30 "$BASE/v1/events/e2e/queue/$second/stream" >"$WORK/stream.txt" &
STREAM_PID=$!
wait_stream() { for _ in $(seq 50); do grep -q "^event: $1" "$WORK/stream.txt" && return 0; sleep 0.1; done; return 1; }
check "the second waiter waits behind max-active 1" wait_stream position
admin pause e2e
check "pause answers paused" has "$OUT" "· paused"
check "the waiter's stream says paused" wait_stream paused
check "stats say paused" test "$(stats_field e2e "['paused']")" = True
admin resume e2e
check "the waiter's stream says resumed" wait_stream resumed
admin max-active e2e 5
check "with room again the waiter is admitted" wait_stream admitted
kill "$STREAM_PID" 2>/dev/null; STREAM_PID=

echo "e2e admin: errors"
OUT=$(WAITROOM_ADMIN_TOKEN=not-the-right-token "$BIN" admin stats e2e 2>&1); RC=$?
check "a bad token exits 1 with the API's code and status" bash -c "[ $RC = 1 ] && grep -qF 'error: unauthorized (HTTP 401): invalid admin token' <<<\"\$0\"" "$OUT"
OUT=$(env -u WAITROOM_ADMIN_TOKEN "$BIN" admin pause e2e 2>&1); RC=$?
check "no token exits 4 and says where it comes from" bash -c "[ $RC = 4 ] && grep -qF 'error: no admin token: set WAITROOM_ADMIN_TOKEN' <<<\"\$0\"" "$OUT"
echo "$TOKEN" >"$WORK/token"; chmod 600 "$WORK/token"
OUT=$(env -u WAITROOM_ADMIN_TOKEN "$BIN" admin stats e2e --token-file "$WORK/token" 2>&1); RC=$?
check "--token-file is read" bash -c "[ $RC = 0 ] && grep -q '^ticket class' <<<\"\$0\"" "$OUT"
admin stats nowhere
check "an unknown event exits 1 with event_not_found" bash -c "[ $RC = 1 ] && grep -qF 'error: event_not_found (HTTP 404)' <<<\"\$0\"" "$ERR"
admin rate e2e 0
check "a setting out of range is a usage error (64), nothing sent" bash -c "[ $RC = 64 ] && grep -qF 'ratePerSecond must be in (0, 1000000]' <<<\"\$0\"" "$ERR"
admin stats e2e --server http://127.0.0.1:1
check "no server exits 3 and says so" bash -c "[ $RC = 3 ] && grep -qxF 'error: cannot reach http://127.0.0.1:1: Connection refused' <<<\"\$0\"" "$ERR"

echo "e2e admin: the live view in tmux"
tm() { tmux -L "$TMUX_SOCKET" "$@"; }
screen() { tm capture-pane -p -t live; }
stamp() { screen | head -n 1 | grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z'; }
wait_screen() { for _ in $(seq "$2"); do screen | grep -qF -- "$1" && return 0; sleep 0.1; done; return 1; }
tm new-session -d -s live -x 100 -y 40 -e "PS1=$ " -e "WAITROOM_ADMIN_URL=$BASE" -e "WAITROOM_ADMIN_TOKEN=$TOKEN" \
  "bash --norc --noprofile"
tm send-keys -t live "'$BIN' admin stats e2e --watch --interval 1" Enter
check "the table is drawn" wait_screen "ticket class" 100
check "on the alternate screen" test "$(tm display -p -t live '#{alternate_on}')" = 1
first=$(stamp)
screen >"$WORK/before.txt"
for u in a b c; do curl -s -X POST -d "{\"userId\":\"live-$u\"}" "$BASE/v1/events/e2e/queue" >/dev/null; done
sleep 2.2
second=$(stamp)
check "it redraws: two different times ($first, $second)" bash -c "[ -n '$first' ] && [ -n '$second' ] && [ '$first' != '$second' ]"
check "with changes between refreshes" wait_screen "changes over the last" 20
screen >"$WORK/live.txt"
check "three joins take admitted total from 2 to 5" \
  bash -c "grep -qE '^  admitted total +2( |$)' '$WORK/before.txt' && grep -qE '^  admitted total +5 ' '$WORK/live.txt'"
stop_server
check "server gone: the view says so and keeps the table" \
  bash -c "for _ in \$(seq 50); do s=\$(tmux -L '$TMUX_SOCKET' capture-pane -p -t live); grep -qF 'server unreachable (retrying)' <<<\"\$s\" && grep -q '^ticket class' <<<\"\$s\" && exit 0; sleep 0.1; done; exit 1"
screen >"$WORK/unreachable.txt"
serve >/dev/null
check "server back: the view recovers by itself" \
  bash -c "for _ in \$(seq 60); do tmux -L '$TMUX_SOCKET' capture-pane -p -t live | grep -qF 'unreachable' || exit 0; sleep 0.1; done; exit 1"
tm send-keys -t live C-c
sleep 0.5
tm send-keys -t live 'echo "exit=$?"' Enter
check "Ctrl-C leaves the alternate screen" bash -c "sleep 0.3; [ \"\$(tmux -L '$TMUX_SOCKET' display -p -t live '#{alternate_on}')\" = 0 ]"
check "and exits 0" wait_screen "exit=0" 30
check "the cursor is shown again" test "$(tm display -p -t live '#{cursor_flag}')" = 1

stop_server

if [ $failed -gt 0 ]; then
  echo "--- live view (last capture)"; cat "$WORK/live.txt" 2>/dev/null
  echo "--- unreachable capture"; cat "$WORK/unreachable.txt" 2>/dev/null
  echo "--- server log (tail)"; tail -n 30 "$WORK/server.log"
fi
echo "e2e admin: $passed passed, $failed failed"
[ $failed = 0 ]
