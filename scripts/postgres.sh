#!/usr/bin/env bash
# Starts (or reuses) a private PostgreSQL server on 127.0.0.1 for the tests and prints
#   export TRIAGE_TEST_POSTGRES='Host=127.0.0.1;Port=...;Username=triage;Database=postgres'
# Usage: eval "$(scripts/postgres.sh start)"   |   scripts/postgres.sh stop
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PGDIR="${TRIAGE_PG_DIR:-/tmp/triage-pg-$(id -u)}"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/bash -c "$*"
  else
    bash -c "$*"
  fi
}

case "${1:-start}" in
  start)
    ensure_packages postgresql >&2
    PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
    if [ -f "$PGDIR/port" ] && as_pg "'$PGBIN/pg_ctl' -D '$PGDIR/data' status" >/dev/null 2>&1; then
      PORT="$(cat "$PGDIR/port")"
    else
      rm -rf "$PGDIR"; mkdir -p "$PGDIR"
      [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PGDIR"
      PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
      as_pg "'$PGBIN/initdb' -D '$PGDIR/data' -U triage -A trust -E UTF8 --no-locale" >"$PGDIR/initdb.log" 2>&1 \
        || { cat "$PGDIR/initdb.log" >&2; exit 1; }
      as_pg "'$PGBIN/pg_ctl' -D '$PGDIR/data' -l '$PGDIR/server.log' -w -t 60 \
        -o \"-c listen_addresses=127.0.0.1 -p $PORT -k '$PGDIR' -c fsync=on -c max_connections=200\" start" >&2 \
        || { cat "$PGDIR/server.log" >&2; exit 1; }
      echo "$PORT" > "$PGDIR/port"
    fi
    echo "export TRIAGE_TEST_POSTGRES='Host=127.0.0.1;Port=$PORT;Username=triage;Database=postgres'"
    ;;
  stop)
    [ -d "$PGDIR/data" ] && as_pg "'$PGBIN/pg_ctl' -D '$PGDIR/data' -m fast stop" >&2 || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
