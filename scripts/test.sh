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
# The suites use Redis database 1 of the local instance (flushed first), so that events they
# register never reach a `make run` server on database 0.
export WAITROOM_REDIS_URL="${WAITROOM_TEST_REDIS_URL:-redis://127.0.0.1:6391/1}"
if [[ "$WAITROOM_REDIS_URL" == redis://127.0.0.1:6391/1 ]]; then redis-cli -p 6391 -n 1 flushdb >/dev/null; fi
# Two runs: the queue suites load Redis and the CPU hard (a 30 s rate test, thousands of random
# operations), which would starve the timing checks of the HTTP suites on 2 cores.
swift test --skip-build --skip WaitroomTests || status=1
swift test --skip-build --filter WaitroomTests || status=1
# The waiting-room page in headless Chromium, and the HTTP contract, against a real server.
PY=$(scripts/pyenv.sh) && (cd Tests/browser && WAITROOMD="$ROOT/.build/debug/waitroomd" "$PY" -m pytest -q -p no:cacheprovider) || status=1
Tests/e2e/server.sh "$ROOT/.build/debug/waitroomd" || status=1
# kill -9 of the server and an immediate PostgreSQL stop under checkout load.
Tests/e2e/crash.sh "$ROOT/.build/debug/waitroomd" "$ROOT/.build/debug/waitroom-load" || status=1
# The on-sale load test at small scale: 600 users, 200 tickets, sold out with no oversell.
Tests/e2e/onsale.sh "$ROOT/.build/debug/waitroomd" "$ROOT/.build/debug/waitroom-load" || status=1
exit $status
