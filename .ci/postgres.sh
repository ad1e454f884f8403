#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: initdb into a temp directory as an
# unprivileged user, pg_ctl on a free loopback port, trust auth (nothing else can reach it).
#   source .ci/postgres.sh && pg_start   -> exports SYNCD_TEST_DATABASE_URL
#   pg_stop                              -> stops the cluster and removes its directory
pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] && echo "$dir"
}

pg_start() {
  local bin run_as=()
  bin=$(pg_bin) || { echo "postgres: no server binaries under /usr/lib/postgresql" >&2; return 1; }
  PG_DIR=$(mktemp -d /tmp/syncd-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$PG_DIR"
    run_as=(runuser -u postgres --)
  fi
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${run_as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U syncd -A trust -E UTF8 --no-sync >/dev/null
  "${run_as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -s \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=300 -c fsync=on" start
  export SYNCD_TEST_DATABASE_URL="postgresql://syncd@127.0.0.1:$PG_PORT/postgres"
  export PG_DIR PG_PORT
  echo "postgres: throwaway cluster on 127.0.0.1:$PG_PORT"
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  local bin run_as=()
  bin=$(pg_bin)
  [ "$(id -u)" = 0 ] && run_as=(runuser -u postgres --)
  "${run_as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w -s stop || true
  rm -rf "$PG_DIR"
}
