#!/usr/bin/env bash
# A throwaway PostgreSQL server (Debian's postgresql package) for the NOTE_NLP database test.
#   eval "$(.ci/postgres.sh start [DIR])"   installs postgresql with apt-get if missing, starts a cluster in DIR
#                                           on a free local port, creates the database clinlink_test and prints
#                                           "export CLINLINK_TEST_PG_URL=postgresql://..."
#   .ci/postgres.sh start DIR --no-install  the same, but fails instead of installing
#   .ci/postgres.sh stop [DIR]              stops that server
set -euo pipefail
action="${1:-start}"
dir="${2:-${TMPDIR:-/tmp}/clinlink-pg}"
install="${3:-}"

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
as_owner() {  # initdb and postgres refuse to run as root: run them as the package's postgres user
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bin="$(find_bin)"
if [ "$action" = stop ]; then
  [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
  exit 0
fi
if [ -z "$bin" ]; then
  if [ "$install" = --no-install ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2
    exit 1
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2
  bin="$(find_bin)"
fi
if [ -f "$dir/data/postmaster.pid" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null || true; fi
rm -rf "$dir/data"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -k $dir" start >/dev/null
as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres clinlink_test
echo "export CLINLINK_TEST_PG_URL=postgresql://postgres@127.0.0.1:$port/clinlink_test"
