#!/usr/bin/env bash
# A throw-away PostgreSQL server on loopback for tests and benchmarks (Debian's postgresql package).
#   scripts/pg-test-server.sh start STATE_DIR    initdb in a temp dir, start on a free port, write STATE_DIR/url
#   scripts/pg-test-server.sh restart STATE_DIR [DOWN_S]  fast restart on the same port (clients see their
#                                                connections drop), staying down DOWN_S seconds (default 0)
#   scripts/pg-test-server.sh stop STATE_DIR     stop it and delete its data
# The server trusts local connections of user "nasforge"; its URL is postgresql://nasforge@127.0.0.1:PORT/postgres.
# initdb refuses to run as root, so under root the server runs as the "postgres" user the package creates.
set -euo pipefail

cmd=${1:?usage: pg-test-server.sh start|stop|restart STATE_DIR}
state=${2:?usage: pg-test-server.sh start|stop|restart STATE_DIR}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
  echo "pg-test-server: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin;" \
    "install them with: apt-get install postgresql" >&2
  exit 1
fi

as_server() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_ctl_in() {  # pg_ctl on the recorded data dir
  as_server "$bindir/pg_ctl" -D "$(cat "$state/datadir")" "$@"
}

start_on() {  # start_on PORT: start the server of the recorded data dir on that loopback port
  local data
  data=$(dirname "$(cat "$state/datadir")")
  # fsync off: test data need not survive a power cut, and it keeps the tests fast on slow disks.
  pg_ctl_in -w -t 60 -l "$data/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $1 -k $data -c max_connections=300 -c fsync=off" start >/dev/null
}

case "$cmd" in
  start)
    mkdir -p "$state"
    if [ -f "$state/datadir" ] && [ -d "$(cat "$state/datadir")" ]; then
      "$0" stop "$state" || true  # a server left over from an interrupted run
    fi
    data=$(mktemp -d /tmp/nasforge-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres: "$data"
    as_server "$bindir/initdb" -D "$data/db" -U nasforge --auth=trust -E UTF8 --no-locale >"$state/initdb.log" 2>&1 || {
      cat "$state/initdb.log" >&2
      exit 1
    }
    echo "$data/db" >"$state/datadir"
    # A random free port; retried because another process may take it between the check and the start.
    for attempt in 1 2 3 4 5 6 7 8; do
      port=$(( 20000 + RANDOM % 30000 ))
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue  # in use
      if start_on "$port"; then
        echo "$port" >"$state/port"
        echo "postgresql://nasforge@127.0.0.1:$port/postgres" >"$state/url"
        echo "pg-test-server: started on 127.0.0.1:$port (data $data)"
        exit 0
      fi
      [ "$attempt" -lt 8 ] && tail -n 3 "$data/server.log" >&2 || true
    done
    echo "pg-test-server: could not start PostgreSQL; server log:" >&2
    cat "$data/server.log" >&2 || true
    exit 1
    ;;
  restart)
    pg_ctl_in -w -t 60 -m fast stop >/dev/null
    sleep "${3:-0}"
    start_on "$(cat "$state/port")"
    ;;
  stop)
    [ -f "$state/datadir" ] || exit 0
    data=$(dirname "$(cat "$state/datadir")")
    pg_ctl_in -w -t 60 -m fast stop >/dev/null 2>&1 || true
    rm -rf "$data" "$state/datadir" "$state/url" "$state/port"
    ;;
  *)
    echo "pg-test-server: unknown command '$cmd' (start, stop or restart)" >&2
    exit 2
    ;;
esac
