#!/usr/bin/env bash
# A private Python environment (.local/venv) with what the browser, API and deployment tests
# need (pytest, selenium, schemathesis, PyYAML); prints its python.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.local/venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" >&2
fi
if ! "$VENV/bin/python" -c 'import selenium, pytest, schemathesis, yaml' 2>/dev/null; then
  "$VENV/bin/pip" install -q --disable-pip-version-check 'selenium>=4.20' 'pytest>=8' 'schemathesis>=4.0,<5' 'PyYAML>=6' >&2
fi
echo "$VENV/bin/python"
