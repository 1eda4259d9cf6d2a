#!/usr/bin/env bash
# Quick start 2: set up everything the suite needs (idempotent) and run it: lint, then pytest.
# Extra arguments go to pytest (e.g. `scripts/test.sh tests/engine -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# The browser tests drive Debian's Chromium (never a browser download of Playwright's own).
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
.venv/bin/ruff check backend tests benchmarks
.venv/bin/ruff format --check backend tests benchmarks
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
