#!/usr/bin/env bash
# Quick start 2: set up everything the suite needs (idempotent) and run it: lint, then pytest.
# Extra arguments go to pytest (e.g. `scripts/test.sh tests/engine -x`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# The browser tests drive Debian's Chromium (never a browser download of Playwright's own).
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests..."
  bash scripts/apt-install.sh chromium >/dev/null
fi
# The distributed proxy test runs deploy/nginx.conf in front of two web processes (Debian's nginx).
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "installing Debian's nginx for the proxy test..."
  bash scripts/apt-install.sh nginx >/dev/null
fi
.venv/bin/ruff check backend tests benchmarks
.venv/bin/ruff format --check backend tests benchmarks
# Real Redis and PostgreSQL for the distributed tests, on loopback in a temporary folder, stopped by
# process id when the suite ends (scripts/services.sh). NNPLAYGROUND_TEST_SERVICES=0 runs without them
# (those tests then skip, except under CI where they fail).
if [ "${NNPLAYGROUND_TEST_SERVICES:-1}" != 0 ]; then
  svc=$(mktemp -d)
  trap 'bash scripts/services.sh stop "$svc"; rm -rf "$svc"' EXIT
  bash scripts/services.sh start "$svc"
  # shellcheck disable=SC1091
  . "$svc/env"
fi
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
