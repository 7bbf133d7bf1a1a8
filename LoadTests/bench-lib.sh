# Shared helpers of the benchmark scripts (sourced, not run).

# Σ utime+stime (clock ticks) of the given pids (fields 14 and 15 of /proc/<pid>/stat; the comm
# field may contain spaces, so count from the last ')').
cpu_ticks() {
  local total=0 pid rest
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || { echo "process $pid is gone" >&2; continue; }
    rest=$(sed 's/.*) //' "/proc/$pid/stat")
    total=$(( total + $(echo "$rest" | awk '{print $12 + $13}') ))
  done
  echo "$total"
}

# Σ CPU ticks of a PostgreSQL cluster: the postmaster $1, its live children, and the children that
# already ended (pgbench's backends count in the postmaster's cutime and cstime). 0 without $1.
pg_cluster_ticks() {
  local pm=$1
  if [ -z "$pm" ]; then echo 0; return; fi
  # shellcheck disable=SC2046
  echo $(( $(cpu_ticks "$pm" $(pgrep -P "$pm") 2>/dev/null) + $(sed 's/.*) //' "/proc/$pm/stat" | awk '{print $14 + $15}') ))
}

# Busy ticks of the whole machine (every CPU; all of /proc/stat's cpu line but idle and iowait).
machine_ticks() {
  awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}

# Ticks of the kernel's softirq threads (ksoftirqd/N): network receive work the kernel did not
# do in the context of the process that raised it.
ksoftirqd_ticks() {
  # shellcheck disable=SC2046
  cpu_ticks $(pgrep -x 'ksoftirqd/[0-9]+' || true) 2>/dev/null || echo 0
}

# Σ resident set (KB) of the given pids.
rss_kb() {
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/statm" ] || { echo "process $pid is gone" >&2; continue; }
    total=$(( total + $(awk '{print $2}' "/proc/$pid/statm") * PAGE_KB ))
  done
  echo "$total"
}

# A Python expression over the JSON file $1 (bound to `d`), e.g. status_field f "d['snapshot']['open']".
status_field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

CLK_TCK=$(getconf CLK_TCK)
PAGE_KB=$(( $(getconf PAGESIZE) / 1024 ))

# Admin API call against the server on $WAITROOM_PORT: waitroom_admin METHOD PATH JSON
waitroom_admin() {
  # Retried (503 and timeouts): on a loaded box the admin call can meet a Redis hiccup.
  curl -fsS --retry 5 --retry-delay 1 --max-time 10 -X "$1" -H "Authorization: Bearer $WAITROOM_ADMIN_TOKEN" -H 'Content-Type: application/json' \
    --data "$3" "http://127.0.0.1:$WAITROOM_PORT$2"
}

# Starts `waitroomd serve` on $WAITROOM_PORT with $1 workers (log to $2), waits until it is ready
# (bounded), and sets WAITROOM_SUPERVISOR and SERVER_PIDS (the workers). The per-address join limit
# is off (every client comes from a few addresses); WAITROOM_ADMIN_TOKEN is made if unset.
waitroom_serve() {
  local processes=$1 log=$2 bin=${WAITROOMD:-$ROOT/.build/release/waitroomd}
  [ -x "$bin" ] || { echo "no release build at $bin (swift build -c release --product waitroomd)" >&2; return 1; }
  # shellcheck disable=SC1091
  [ -f .local/env ] && source .local/env
  export WAITROOM_ADMIN_TOKEN=${WAITROOM_ADMIN_TOKEN:-bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}
  WAITROOM_PORT=$WAITROOM_PORT WAITROOM_PROCESSES=$processes WAITROOM_LOG_LEVEL=${BENCH_LOG_LEVEL:-error} \
    WAITROOM_JOIN_RATE_PER_ADDRESS=0 "$bin" serve >"$log" 2>&1 &
  WAITROOM_SUPERVISOR=$!
  for _ in $(seq 150); do curl -fs -o /dev/null "http://127.0.0.1:$WAITROOM_PORT/readyz" && break; sleep 0.2; done
  # Workers are started from the supervisor's threads: its children are those of every task.
  read -r -a SERVER_PIDS <<<"$(pgrep -P "$WAITROOM_SUPERVISOR" | tr '\n' ' ')"
  [ ${#SERVER_PIDS[@]} -eq "$processes" ] || { echo "expected $processes worker processes, found: ${SERVER_PIDS[*]}" >&2; return 1; }
}

# Stops the server started by waitroom_serve (SIGTERM, bounded wait).
waitroom_stop() {
  [ -n "${WAITROOM_SUPERVISOR:-}" ] || return 0
  kill -TERM "$WAITROOM_SUPERVISOR" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$WAITROOM_SUPERVISOR" 2>/dev/null || break; sleep 0.1; done
  WAITROOM_SUPERVISOR=
}
