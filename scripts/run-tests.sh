#!/usr/bin/env bash
# Run the whole suite.  pytest's exit 5 (no tests collected) is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check geo_service tests migrations || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "no tests were collected: failing" >&2
  exit 1
fi
exit $rc
