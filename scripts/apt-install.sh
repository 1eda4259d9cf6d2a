#!/usr/bin/env bash
# Install Debian packages without starting their services. Installing nginx, redis-server or postgresql
# would otherwise start the distribution's own daemon (nginx on port 80, a PostgreSQL cluster on 5432)
# and leave it running after the suite; the suite starts what it needs itself, on loopback in a temporary
# folder, and stops it by process id (scripts/services.sh, the nginx fixture). A policy-rc.d that
# answers 101 ("action forbidden") is how Debian's invoke-rc.d is told not to start anything.
set -euo pipefail
policy=/usr/sbin/policy-rc.d
added=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  added=1
fi
cleanup() { if [ "$added" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
