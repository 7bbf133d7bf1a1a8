# Shared by the e2e scripts: a private Redis and a private PostgreSQL cluster under a work
# folder (so the shared local services are never disturbed), check/pass/fail counting, cleanup.
# The including script sets REDIS_PORT, PG_PORT and BASE first.
WORK=$(mktemp -d /tmp/waitroom-e2e.XXXXXX)
chmod 755 "$WORK"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
passed=0; failed=0; SERVER_PID=

pass() { passed=$((passed + 1)); echo "  ok   $*"; }
fail() { failed=$((failed + 1)); echo "  FAIL $*"; }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
  [ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null
  pkill -KILL -f "waitroomd worker.*" -P "${SERVER_PID:-1}" 2>/dev/null
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1
  pg_as "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

start_redis() {
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize yes \
    --dir "$WORK" --logfile "$WORK/redis.log" >/dev/null
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
  return 1
}
stop_redis() { redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1; }
start_pg() { pg_as "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w -t 30 start >/dev/null; }
stop_pg() { pg_as "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast -w stop >/dev/null; }

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@"; }
body() { curl -s --max-time 3 "$@"; }

# Waits up to $1 seconds for `code $2` to be $3; prints the time it took.
wait_code() {
  local limit=$1 url=$2 want=$3 start now
  start=$(date +%s.%N)
  while :; do
    [ "$(code "$url")" = "$want" ] && { now=$(date +%s.%N); echo "$now - $start" | bc; return 0; }
    now=$(date +%s.%N)
    (( $(echo "$now - $start > $limit" | bc) )) && return 1
    sleep 0.1
  done
}

worker_pids() { pgrep -P "$SERVER_PID" | sort; }

# Starts the private Redis and an initdb'd PostgreSQL cluster; exits the script if either fails.
start_private_services() {
  start_redis || { echo "cannot start redis"; exit 1; }
  [ "$(id -u)" = 0 ] && chown postgres: "$WORK"
  pg_as "$PGBIN/initdb" -D "$WORK/pg" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null ||
    { echo "initdb failed"; exit 1; }
  printf "listen_addresses='127.0.0.1'\nport=%s\nunix_socket_directories='%s'\n" "$PG_PORT" "$WORK" >>"$WORK/pg/postgresql.conf"
  start_pg || { echo "cannot start postgresql"; cat "$WORK/pg.log"; exit 1; }
  export WAITROOM_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  export WAITROOM_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}
