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
swift test --skip-build || status=1
Tests/e2e/server.sh "$ROOT/.build/debug/waitroomd" || status=1
exit $status
