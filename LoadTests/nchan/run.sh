#!/usr/bin/env bash
# Nchan (nginx + libnginx-mod-nchan) with a private prefix, for the SSE benchmarks.
#
#   LoadTests/nchan/run.sh start            render the config into $NCHAN_PREFIX and start nginx
#   LoadTests/nchan/run.sh stop             stop it (SIGQUIT to its master, by pid file)
#   LoadTests/nchan/run.sh status           master and worker pids, /nchan_status
#   LoadTests/nchan/run.sh workers          worker pids, one a line (children of the master)
#   LoadTests/nchan/run.sh publish SECONDS [CHANNEL...]
#                                           one message a second per channel for SECONDS seconds:
#                                           {"position":N,"etaSeconds":N,"ts":<unix µs>}
#
# Environment: NCHAN_PREFIX (default /tmp/waitroom-nchan), NCHAN_HOST (127.0.0.1), NCHAN_PORT (8090),
# NCHAN_WORKERS (2). Loopback only. Installs nginx + the module with apt-get when missing.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=${NCHAN_PREFIX:-/tmp/waitroom-nchan}
HOST=${NCHAN_HOST:-127.0.0.1}
PORT=${NCHAN_PORT:-8090}
WORKERS=${NCHAN_WORKERS:-2}
MODULE=/usr/lib/nginx/modules/ngx_nchan_module.so
case "$HOST" in 127.*) ;; *) echo "NCHAN_HOST must be in 127.0.0.0/8" >&2; exit 1 ;; esac

install_if_missing() {
  if ! command -v nginx >/dev/null || [ ! -f "$MODULE" ]; then
    # Debian bookworm: nginx 1.22 and nchan 1.3.6 (nginx-light is the same nginx there).
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx libnginx-mod-nchan >/dev/null
  fi
}

master_pid() { [ -f "$PREFIX/nginx.pid" ] && cat "$PREFIX/nginx.pid" 2>/dev/null || true; }

worker_pids() {
  local master
  master=$(master_pid)
  [ -n "$master" ] || return 0
  # Children of the master whose command line says "worker process" (not the cache helpers).
  for pid in $(cat "/proc/$master/task/$master/children" 2>/dev/null); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'worker process'; then echo "$pid"; fi
  done
}

start() {
  install_if_missing
  if [ -n "$(master_pid)" ] && kill -0 "$(master_pid)" 2>/dev/null; then
    echo "nchan already running (master $(master_pid))"; return 0
  fi
  mkdir -p "$PREFIX"/{body,proxy,fastcgi,uwsgi,scgi}
  sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@HOST@|$HOST|g" -e "s|@PORT@|$PORT|g" \
      -e "s|@WORKERS@|$WORKERS|g" -e "s|@MODULE@|$MODULE|g" \
      "$HERE/nginx.conf.template" >"$PREFIX/nginx.conf"
  ulimit -n "$(ulimit -Hn)"
  nginx -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PREFIX/error.log" -t -q
  nginx -p "$PREFIX" -c "$PREFIX/nginx.conf" -e "$PREFIX/error.log"
  for _ in $(seq 50); do
    curl -fs -o /dev/null "http://$HOST:$PORT/nchan_status" && break
    sleep 0.1
  done
  echo "nchan on http://$HOST:$PORT (master $(master_pid), workers $(worker_pids | tr '\n' ' '))"
}

stop() {
  local master
  master=$(master_pid)
  if [ -z "$master" ] || ! kill -0 "$master" 2>/dev/null; then echo "nchan not running"; return 0; fi
  kill -QUIT "$master"
  for _ in $(seq 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$master" 2>/dev/null; then kill -TERM "$master"; fi
  rm -f "$PREFIX/nginx.pid"
  echo "nchan stopped"
}

publish() {
  local seconds=${1:?seconds}; shift
  local channels=("${@:-ev0}")
  [ "$seconds" -le 3600 ] || { echo "at most 3600 seconds" >&2; exit 1; }
  local n=0 next ts
  next=$(date +%s.%N)
  while [ "$n" -lt "$seconds" ]; do
    n=$((n + 1))
    for channel in "${channels[@]}"; do
      ts=$(date +%s%6N)
      curl -fs -o /dev/null -X POST -H 'Content-Type: application/json' \
        --data "{\"position\":$n,\"etaSeconds\":$n,\"ts\":$ts}" "http://$HOST:$PORT/pub/$channel" || echo "publish $n failed" >&2
    done
    next=$(echo "$next + 1" | bc)
    sleep "$(echo "d = $next - $(date +%s.%N); if (d < 0) d = 0; d" | bc)"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) echo "master: $(master_pid) workers: $(worker_pids | tr '\n' ' ')"; curl -fs "http://$HOST:$PORT/nchan_status" || true ;;
  workers) worker_pids ;;
  publish) shift; publish "$@" ;;
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac
