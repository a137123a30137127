#!/usr/bin/env bash
# Run the whole suite.  pytest's exit 5 (no tests collected) is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check geo_service tests migrations || exit 1
# The map's pure JavaScript functions, with Node's built-in test runner.
if ! command -v node >/dev/null; then
  echo "node is not installed: the JavaScript unit tests cannot run" >&2
  exit 1
fi
node --test tests/js/ || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "no tests were collected: failing" >&2
  exit 1
fi
exit $rc
