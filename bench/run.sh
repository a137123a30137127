#!/usr/bin/env bash
# The benchmark in one command (see bench/README.md):
#   bash bench/run.sh                  # 1,000,000 enterprises (generated once, ~15 min)
#   bash bench/run.sh --scale 0.05 --quick
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
args=("$@")
[[ " ${args[*]-} " == *" --scale "* ]] || args=(--scale 1 "${args[@]}")
exec .venv/bin/python bench/run.py "${args[@]}"
