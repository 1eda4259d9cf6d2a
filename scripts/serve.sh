#!/usr/bin/env bash
# Quick start 1: set up (idempotent) and start the playground server on http://127.0.0.1:8000/
# with an embedded SQLite file and local worker processes. Extra arguments go to `nnplayground serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/nnplayground serve "$@"
