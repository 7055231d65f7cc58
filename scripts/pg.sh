#!/usr/bin/env bash
# A private PostgreSQL cluster under a data directory, for the embedded default
# (demo, local experiments). Not for tests: they start their own in C++.
#   scripts/pg.sh start DIR   -> prints a postgres:// URL (reuses a running cluster)
#   scripts/pg.sh stop DIR
set -euo pipefail
cmd=${1:?usage: pg.sh start|stop DIR}; dir=$(realpath -m "${2:?usage: pg.sh start|stop DIR}")
bin=$(pg_config --bindir 2>/dev/null || true)
[ -x "$bin/initdb" ] || bin=/usr/lib/postgresql/15/bin
as=()
if [ "$(id -u)" = 0 ]; then   # initdb and postgres refuse to run as root
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  as=(runuser -u postgres --)
fi
free_port() {  # a random port nothing listens on
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo "no free port found" >&2; return 1
}
case "$cmd" in
start)
  if [ -f "$dir/port" ] && "${as[@]}" "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    echo "postgresql://postgres@127.0.0.1:$(cat "$dir/port")/meridian"; exit 0
  fi
  mkdir -p "$dir/sock"
  if [ ${#as[@]} -gt 0 ] && ! "${as[@]}" test -x "$(dirname "$dir")"; then
    echo "pg.sh: the postgres user cannot reach $dir (a parent directory is not" \
         "searchable, e.g. /root is 0700): use a directory under /var/tmp, or chmod o+x the" \
         "parents" >&2
    exit 1
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    mkdir -p "$dir/data"; [ "$(id -u)" = 0 ] && chown -R postgres: "$dir"
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  [ "$(id -u)" = 0 ] && chown -R postgres: "$dir"
  port=$(free_port)
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1" start >/dev/null \
    || { tail -20 "$dir/server.log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  "${as[@]}" "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qAtc \
    "SELECT 1 FROM pg_database WHERE datname='meridian'" | grep -q 1 ||
    "${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres meridian
  echo "postgresql://postgres@127.0.0.1:$port/meridian"
  ;;
stop)
  [ -d "$dir/data" ] && "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  ;;
*) echo "usage: pg.sh start|stop DIR" >&2; exit 2 ;;
esac
