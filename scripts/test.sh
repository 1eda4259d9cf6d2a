#!/usr/bin/env bash
# Quick start 2: set up everything the suite needs (idempotent) and run it: lint, then pytest.
# Extra arguments go to pytest (e.g. `scripts/test.sh tests/engine -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/ruff check backend tests benchmarks
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
