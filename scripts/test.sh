#!/usr/bin/env bash
# `make test`: build, run the Swift test suites, then the end-to-end tests of the server binary.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck disable=SC1091
source .local/env
export PATH="$PATH:/opt/swift/usr/bin"

swift build --build-tests || exit 1
status=0
# A local three-master Redis Cluster (127.0.0.1:7301-7303): the cluster tests of RedisTests, and
# the Waitroom suites run a second time in cluster mode (below).
CLUSTER_URL="${WAITROOM_TEST_REDIS_CLUSTER_URL:-redis-cluster://127.0.0.1:7301,127.0.0.1:7302,127.0.0.1:7303}"
export WAITROOM_TEST_REDIS_CLUSTER_URL="$CLUSTER_URL"
local_cluster() { [[ "$CLUSTER_URL" == redis-cluster://127.0.0.1:7301,127.0.0.1:7302,127.0.0.1:7303 ]]; }
if local_cluster; then { scripts/services.sh cluster-start && scripts/services.sh cluster-flush; } || status=1; fi
# The suites use Redis database 1 of the local instance (flushed first), so that events they
# register never reach a `make run` server on database 0.
LOCAL_REDIS_PORT=${WAITROOM_LOCAL_REDIS_PORT:-6391}
export WAITROOM_REDIS_URL="${WAITROOM_TEST_REDIS_URL:-redis://127.0.0.1:$LOCAL_REDIS_PORT/1}"
if [[ "$WAITROOM_REDIS_URL" == "redis://127.0.0.1:$LOCAL_REDIS_PORT/1" ]]; then redis-cli -p "$LOCAL_REDIS_PORT" -n 1 flushdb >/dev/null; fi
# Two runs: the queue suites load Redis and the CPU hard (a 30 s rate test, thousands of random
# operations), which would starve the timing checks of the HTTP suites on 2 cores.
swift test --skip-build --skip WaitroomTests || status=1
swift test --skip-build --filter WaitroomTests || status=1
# The same suites against the Redis Cluster: every key of an event shares one slot, scripts and
# the positions tracker's pub/sub go through the client's cluster mode (no SELECT: a cluster has
# database 0 only, so its masters are flushed instead). One test at a time (~90 s instead of
# ~45 s): three Redis processes and the test process share 2 cores, and in parallel the rate
# and ETA timing checks starve.
if local_cluster; then scripts/services.sh cluster-flush || status=1; fi
echo "== WaitroomTests against the Redis Cluster ($CLUSTER_URL)"
WAITROOM_REDIS_URL="$CLUSTER_URL" swift test --skip-build --no-parallel --filter WaitroomTests || status=1
# The waiting-room page in headless Chromium, and the HTTP contract, against a real server.
if PY=$(scripts/pyenv.sh); then
  (cd Tests/browser && WAITROOMD="$ROOT/.build/debug/waitroomd" "$PY" -m pytest -q -p no:cacheprovider) || status=1
  # The OpenAPI document against the route table and, with schemathesis, against a real server;
  # 1,000 slow (slowloris) clients; 10,000 malformed requests (about 2 min).
  (cd Tests/api && WAITROOMD="$ROOT/.build/debug/waitroomd" "$PY" -m pytest -q -p no:cacheprovider) || status=1
  # The deployment files (deploy/): parse, refer to what exists, HAProxy and the probes and the
  # dashboard's metrics against a real server, systemd-analyze verify.
  (cd Tests/deploy && WAITROOMD="$ROOT/.build/debug/waitroomd" "$PY" -m pytest -q -p no:cacheprovider) || status=1
else
  status=1
fi
Tests/e2e/server.sh "$ROOT/.build/debug/waitroomd" || status=1
# `waitroomd admin`: event files, admission, pause/resume on a stream, errors, the live view in tmux.
Tests/e2e/admin.sh "$ROOT/.build/debug/waitroomd" || status=1
# kill -9 of the server and an immediate PostgreSQL stop under checkout load.
Tests/e2e/crash.sh "$ROOT/.build/debug/waitroomd" "$ROOT/.build/debug/waitroom-load" || status=1
# Two edge nodes on 127.0.0.2 and 127.0.0.3 and a saga node behind HAProxy (deploy/haproxy).
Tests/e2e/multinode.sh "$ROOT/.build/debug/waitroomd" || status=1
# The on-sale load test at small scale: 600 users, 200 tickets, sold out with no oversell.
Tests/e2e/onsale.sh "$ROOT/.build/debug/waitroomd" "$ROOT/.build/debug/waitroom-load" || status=1
exit $status
