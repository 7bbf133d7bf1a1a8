#!/usr/bin/env bash
# `make run`: migrate, create the demo event, print its URL and serve (foreground; Ctrl-C stops).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck disable=SC1091
source .local/env
BIN=${WAITROOMD:-$ROOT/.build/release/waitroomd}
if [ -z "${WAITROOM_ADMIN_TOKEN:-}" ]; then
  # A local admin token for this checkout, kept out of git; production sets its own.
  [ -s .local/admin-token ] || (umask 077; head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' > .local/admin-token)
  WAITROOM_ADMIN_TOKEN=$(cat .local/admin-token); export WAITROOM_ADMIN_TOKEN
fi
"$BIN" migrate
"$BIN" demo
host=${WAITROOM_HOST:-127.0.0.1}; port=${WAITROOM_PORT:-8080}
cat <<MSG

  Waitroom is starting on http://$host:$port
  Demo waiting room:  http://$host:$port/e/demo
  Readiness:          http://$host:$port/readyz
  Admin token:        .local/admin-token

MSG
exec "$BIN" serve
