#!/usr/bin/env bash
# Private Redis and PostgreSQL for development, tests and `make run`.
#
#   scripts/services.sh install   install missing Debian packages (apt-get update first)
#   scripts/services.sh start     start both (idempotent: a second start finds them running)
#   scripts/services.sh stop      stop both
#   scripts/services.sh status    say what runs
#   scripts/services.sh env       print the environment that points at them
#   scripts/services.sh cluster-start   start a local three-master Redis Cluster (idempotent)
#   scripts/services.sh cluster-flush   empty every master of it
#   scripts/services.sh cluster-stop    stop it
#
# Everything lives under .local/ in the project folder (git-ignored); the system services are
# never touched. Ports: Redis 127.0.0.1:$WAITROOM_LOCAL_REDIS_PORT (6391), PostgreSQL
# 127.0.0.1:$WAITROOM_LOCAL_PG_PORT (5441). When WAITROOM_REDIS_URL / WAITROOM_DATABASE_URL are
# already set, the caller brought its own servers and `start` leaves that one alone.
# The Redis Cluster (tests of cluster mode) runs on 127.0.0.1:$WAITROOM_LOCAL_CLUSTER_PORTS
# (7301 7302 7303), one master each, no replicas; its URL is
# redis-cluster://127.0.0.1:7301,127.0.0.1:7302,127.0.0.1:7303.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$ROOT/.local"
REDIS_PORT=${WAITROOM_LOCAL_REDIS_PORT:-6391}
PG_PORT=${WAITROOM_LOCAL_PG_PORT:-5441}
PG_USER=waitroom
read -r -a CLUSTER_PORTS <<<"${WAITROOM_LOCAL_CLUSTER_PORTS:-7301 7302 7303}"
PACKAGES=(redis-server redis-tools postgresql postgresql-contrib libhiredis-dev libpq-dev libssl-dev
          libjemalloc-dev pkg-config curl procps bc wrk chromium chromium-driver python3 python3-venv
          haproxy tmux)

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $*"; fi
}

cmd_install() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
  command -v swift >/dev/null || [ -x /opt/swift/usr/bin/swift ] ||
    die "the Swift toolchain (6.x) is not installed; see README"
}

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] || die "PostgreSQL server binaries not found (run: scripts/services.sh install)"
  echo "$d"
}

# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user.
pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_dir() {
  # The data folder is .local/pg, unless the `postgres` user cannot reach the project folder
  # (a clone under /root, say): then it lives in /var/tmp and .local/pg points at it.
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$LOCAL" 2>/dev/null; then
    local alt="/var/tmp/waitroom-pg-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
    mkdir -p "$alt"; chown postgres: "$alt"
    [ -L "$LOCAL/pg" ] || { rm -rf "$LOCAL/pg"; ln -s "$alt" "$LOCAL/pg"; }
  fi
  echo "$LOCAL/pg"
}

redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
pg_up() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }

start_redis() {
  if redis_up; then log "redis already running on 127.0.0.1:$REDIS_PORT"; return; fi
  mkdir -p "$LOCAL/redis"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$LOCAL/redis" \
    --daemonize yes --pidfile "$LOCAL/redis/redis.pid" --logfile "$LOCAL/redis/redis.log" \
    --appendonly yes --appendfsync everysec --save '' --maxclients 10000 \
    --protected-mode yes >/dev/null
  for _ in $(seq 1 50); do redis_up && break; sleep 0.1; done
  redis_up || die "redis did not start; see $LOCAL/redis/redis.log"
  log "redis started on 127.0.0.1:$REDIS_PORT"
}

start_pg() {
  local bin dir
  bin=$(pg_bin)
  if pg_up; then log "postgresql already running on 127.0.0.1:$PG_PORT"; ensure_pg_roles; return; fi
  mkdir -p "$LOCAL"
  dir=$(pg_dir)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$dir/"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "initdb in $dir/data"
    pg_as "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=trust \
      -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || die "initdb failed; see $dir/initdb.log"
    mkdir -p "$dir/run"; [ "$(id -u)" = 0 ] && chown postgres: "$dir/run"
    cat >>"$dir/data/postgresql.conf" <<CONF
# waitroom local cluster
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$dir/run'
max_connections = 300
shared_buffers = 256MB
synchronous_commit = on
fsync = on
# An on-sale writes holds as fast as the combiner can commit them: with the default 1 GB of
# WAL between checkpoints the reservation benchmark forced one every 30-40 s, each followed by
# full-page images (1,561 in a 10 s run; 86 with these settings, and 9% less WAL).
max_wal_size = 8GB
checkpoint_timeout = 15min
log_min_messages = warning
CONF
  fi
  mkdir -p "$dir/run"; [ "$(id -u)" = 0 ] && chown postgres: "$dir/run"
  pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null ||
    die "postgresql did not start; see $dir/postgres.log"
  log "postgresql started on 127.0.0.1:$PG_PORT"
  ensure_pg_roles
}

ensure_pg_roles() {
  local psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)
  "${psql[@]}" -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN CREATE ROLE $PG_USER LOGIN SUPERUSER; END IF; END \$\$;"
  for db in waitroom waitroom_test; do
    "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
      "${psql[@]}" -c "CREATE DATABASE $db OWNER $PG_USER"
  done
}

node_up() { redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG; }
node_info() { redis-cli -h 127.0.0.1 -p "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }

cluster_ok() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    [ "$(node_info "$port" cluster_state)" = ok ] || return 1
    [ "$(node_info "$port" cluster_known_nodes)" = "${#CLUSTER_PORTS[@]}" ] || return 1
    [ "$(node_info "$port" cluster_slots_assigned)" = 16384 ] || return 1
  done
}

cmd_cluster_start() {
  local port dir nodes=()
  for port in "${CLUSTER_PORTS[@]}"; do
    nodes+=("127.0.0.1:$port")
    node_up "$port" && continue
    dir="$LOCAL/cluster/$port"
    mkdir -p "$dir"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --cluster-enabled yes \
      --cluster-config-file nodes.conf --cluster-node-timeout 5000 --save '' --appendonly no \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --protected-mode yes >/dev/null
  done
  for port in "${CLUSTER_PORTS[@]}"; do
    for _ in $(seq 1 50); do node_up "$port" && break; sleep 0.1; done
    node_up "$port" || die "cluster node $port did not start; see $LOCAL/cluster/$port/redis.log"
  done
  # A cluster from an earlier start comes back by itself (nodes.conf); give it a moment.
  if [ "$(node_info "${CLUSTER_PORTS[0]}" cluster_slots_assigned)" != 0 ]; then
    for _ in $(seq 1 30); do cluster_ok && break; sleep 0.1; done
  fi
  if cluster_ok; then log "redis cluster up on ${nodes[*]}"; return; fi
  log "creating the redis cluster on ${nodes[*]}"
  for port in "${CLUSTER_PORTS[@]}"; do
    redis-cli -h 127.0.0.1 -p "$port" flushall >/dev/null 2>&1 || true
    redis-cli -h 127.0.0.1 -p "$port" cluster reset hard >/dev/null
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$LOCAL/cluster/create.log" 2>&1 ||
    die "redis-cli --cluster create failed; see $LOCAL/cluster/create.log"
  for _ in $(seq 1 100); do cluster_ok && break; sleep 0.1; done
  cluster_ok || die "the redis cluster did not become ok; see $LOCAL/cluster/*/redis.log"
  log "redis cluster up on ${nodes[*]}"
}

# Empties every master and ends any slot migration a failed test left half-way (the slot stays
# with its owner).
cmd_cluster_flush() {
  local port slot
  for port in "${CLUSTER_PORTS[@]}"; do
    [ "$(redis-cli -h 127.0.0.1 -p "$port" role 2>/dev/null | head -n 1)" = master ] || continue
    redis-cli -h 127.0.0.1 -p "$port" flushall >/dev/null
    for slot in $(redis-cli -h 127.0.0.1 -p "$port" cluster nodes | grep myself | grep -o '\[[0-9]*-[<>]-' | tr -dc '0-9\n'); do
      redis-cli -h 127.0.0.1 -p "$port" cluster setslot "$slot" stable >/dev/null
    done
  done
}

cmd_cluster_stop() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    node_up "$port" && redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
  log "redis cluster stopped"
}

cmd_env() {
  cat <<ENV
export WAITROOM_REDIS_URL=\${WAITROOM_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}
export WAITROOM_DATABASE_URL=\${WAITROOM_DATABASE_URL:-postgres://$PG_USER@127.0.0.1:$PG_PORT/waitroom}
export WAITROOM_TEST_DATABASE_URL=\${WAITROOM_TEST_DATABASE_URL:-postgres://$PG_USER@127.0.0.1:$PG_PORT/waitroom_test}
ENV
}

cmd_start() {
  mkdir -p "$LOCAL"
  if [ -z "${WAITROOM_REDIS_URL:-}" ]; then start_redis; else log "using WAITROOM_REDIS_URL"; fi
  if [ -z "${WAITROOM_DATABASE_URL:-}" ]; then start_pg; else log "using WAITROOM_DATABASE_URL"; fi
  cmd_env >"$LOCAL/env"
}

cmd_stop() {
  if redis_up; then redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; log "redis stopped"; fi
  if [ -e "$LOCAL/pg/data/PG_VERSION" ] && pg_up; then
    pg_as "$(pg_bin)/pg_ctl" -D "$LOCAL/pg/data" -m fast -w stop >/dev/null; log "postgresql stopped"
  fi
}

cmd_status() {
  redis_up && echo "redis: up (127.0.0.1:$REDIS_PORT)" || echo "redis: down"
  pg_up && echo "postgresql: up (127.0.0.1:$PG_PORT)" || echo "postgresql: down"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  env) cmd_env ;;
  cluster-start) cmd_cluster_start ;;
  cluster-flush) cmd_cluster_flush ;;
  cluster-stop) cmd_cluster_stop ;;
  *) echo "usage: $0 install|start|stop|restart|status|env|cluster-start|cluster-flush|cluster-stop" >&2; exit 2 ;;
esac
