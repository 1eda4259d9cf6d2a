#!/usr/bin/env bash
# Real Redis and PostgreSQL for the distributed tests: `scripts/services.sh start DIR` installs Debian's
# redis-server and postgresql when missing, starts both in DIR on loopback, on free ports, and writes
# DIR/env (NNPLAYGROUND_TEST_REDIS_URL, NNPLAYGROUND_TEST_DATABASE_URL) to source; `scripts/services.sh
# stop DIR` stops what start started, by process id. PostgreSQL refuses to run as root: it is initialised
# and run as the `postgres` user (created by the Debian package).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?start|stop}
T=${2:?a folder}

free_port() {
  python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
EOF
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

install_missing() {
  local need=()
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || need+=(postgresql)
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing Debian's ${need[*]} for the distributed tests..."
    bash "$HERE/apt-install.sh" "${need[@]}" >/dev/null
  fi
}

start() {
  install_missing
  mkdir -p "$T"
  chmod 755 "$T" # the postgres user must be able to enter it
  cd "$T"        # runuser keeps the cwd: one the postgres user can enter
  local rport pport bin
  rport=$(free_port)
  redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --dir "$T" \
    --daemonize yes --pidfile "$T/redis.pid" --logfile "$T/redis.log"
  bin=$(pg_bin)
  pport=$(free_port)
  install -d -o postgres -m 700 "$T/pgdata"
  install -d -o postgres "$T/pg"
  runuser -u postgres -- "$bin/initdb" -D "$T/pgdata" -A trust -U nnp --no-sync >"$T/pg/initdb.log"
  runuser -u postgres -- "$bin/pg_ctl" -D "$T/pgdata" -l "$T/pg/pg.log" -w start \
    -o "-c listen_addresses=127.0.0.1 -p $pport -k $T/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >/dev/null
  "$bin/createdb" -h 127.0.0.1 -p "$pport" -U nnp nnp
  for _ in $(seq 50); do
    [ -s "$T/redis.pid" ] && redis-cli -p "$rport" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  cat >"$T/env" <<EOF
export NNPLAYGROUND_TEST_REDIS_URL=redis://127.0.0.1:$rport/0
export NNPLAYGROUND_TEST_DATABASE_URL=postgresql+psycopg://nnp@127.0.0.1:$pport/nnp
EOF
  echo "redis on 127.0.0.1:$rport (pid $(cat "$T/redis.pid")), postgresql on 127.0.0.1:$pport (pid $(head -1 "$T/pgdata/postmaster.pid"))"
}

stop() {
  if [ -s "$T/redis.pid" ]; then
    kill "$(cat "$T/redis.pid")" 2>/dev/null || true
  fi
  if [ -s "$T/pgdata/postmaster.pid" ]; then
    # SIGINT is PostgreSQL's "fast" shutdown
    kill -INT "$(head -1 "$T/pgdata/postmaster.pid")" 2>/dev/null || true
  fi
  for _ in $(seq 100); do
    alive=0
    [ -s "$T/redis.pid" ] && kill -0 "$(cat "$T/redis.pid")" 2>/dev/null && alive=1
    [ -s "$T/pgdata/postmaster.pid" ] && kill -0 "$(head -1 "$T/pgdata/postmaster.pid")" 2>/dev/null && alive=1
    [ $alive = 0 ] && break
    sleep 0.1
  done
}

case "$cmd" in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
