#!/usr/bin/env bash
# A throwaway PostgreSQL server for the example merchant server and its tests: a fresh cluster
# in a temporary folder, listening on 127.0.0.1 only (no Unix socket), on a free port, with a
# random password. Nothing outside that folder is touched; `stop` removes it.
#
#   eval "$(scripts/postgres.sh start)"   # exports DATABASE_URL and ALIPAYHK_PG_DIR
#   npm test                              # or: node examples/merchant-server.js
#   scripts/postgres.sh stop              # stops the server of $ALIPAYHK_PG_DIR and removes it
#
#   scripts/postgres.sh start [DIR]   start a new cluster in DIR (default: a new temp folder);
#                                     prints `export` lines on stdout, progress on stderr
#   scripts/postgres.sh stop [DIR]    stop it and remove DIR (default: $ALIPAYHK_PG_DIR)
#   scripts/postgres.sh status [DIR]  says whether it runs, and its DATABASE_URL
#   scripts/postgres.sh url [DIR]     prints its DATABASE_URL
#   scripts/postgres.sh bindir        prints the folder of the PostgreSQL programs used, or
#                                     fails saying how to install them
#
# It needs PostgreSQL's server programs (initdb, pg_ctl, postgres): `apt-get install postgresql`
# on Debian/Ubuntu (they live in /usr/lib/postgresql/<version>/bin, not on PATH), or set
# PG_BINDIR. Run as root, the server runs as the `postgres` user (initdb refuses root).
set -euo pipefail

MARKER=.alipayhk-pay-postgres
DB_USER=alipayhk
DB_NAME=alipayhk

say() { echo "postgres.sh: $*" >&2; }
die() {
  say "$*"
  exit 1
}

find_bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then
    [ -x "$PG_BINDIR/pg_ctl" ] && [ -x "$PG_BINDIR/initdb" ] || die "PG_BINDIR=$PG_BINDIR has no pg_ctl and initdb"
    echo "$PG_BINDIR"
    return
  fi
  local d
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    d=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
    if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
      echo "$d"
      return
    fi
  fi
  # Debian and Ubuntu keep each version's programs off PATH; take the newest.
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then
    echo "$d"
    return
  fi
  die "PostgreSQL's server programs (initdb, pg_ctl) were not found: install them (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql) or set PG_BINDIR to their folder"
}

# Runs a command as the user that owns the cluster: `postgres` when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root, and there is no 'postgres' user to run the server as (initdb refuses root)"
    if command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- "$@"
    else
      su -s /bin/sh postgres -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

dir_of() {
  local dir=${1:-${ALIPAYHK_PG_DIR:-}}
  [ -n "$dir" ] || die "which cluster? give its folder, or set ALIPAYHK_PG_DIR (printed by 'start')"
  [ -f "$dir/$MARKER" ] || die "$dir is not a cluster made by scripts/postgres.sh start (no $MARKER in it)"
  (cd "$dir" && pwd)
}

cmd_start() {
  local bindir dir password port started=
  bindir=$(find_bindir)
  if [ -n "${1:-}" ]; then
    dir=$1
    mkdir -p "$dir"
    [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
  else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/alipayhk-pg.XXXXXX")
  fi
  dir=$(cd "$dir" && pwd)
  touch "$dir/$MARKER"
  chmod 700 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"

  password=$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')
  (umask 077 && printf '%s\n' "$password" >"$dir/pwfile")
  [ "$(id -u)" = 0 ] && chown postgres "$dir/pwfile"
  say "initdb in $dir/data ($("$bindir/pg_ctl" --version))"
  if ! as_owner "$bindir/initdb" -D "$dir/data" -U "$DB_USER" --pwfile="$dir/pwfile" -E UTF8 --no-locale --no-sync \
    --auth-host=scram-sha-256 --auth-local=scram-sha-256 >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    die "initdb failed (log above)"
  fi
  rm -f "$dir/pwfile"
  # TCP on 127.0.0.1 only, no Unix socket, small enough for a CI machine, and enough
  # connections for several merchant-server processes with their pools.
  cat >>"$dir/data/postgresql.conf" <<'EOF'

# scripts/postgres.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
shared_buffers = 32MB
EOF

  for _ in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    port_in_use "$port" && continue
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
      started=1
      break
    fi
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  done
  if [ -z "$started" ]; then
    tail -n 20 "$dir/postgres.log" >&2 || true
    die "the server did not start (log above, in $dir/postgres.log)"
  fi

  local url="postgres://$DB_USER:$password@127.0.0.1:$port/$DB_NAME"
  if ! PGPASSWORD=$password "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$DB_USER" "$DB_NAME" 2>&1 >&2; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    die "createdb $DB_NAME failed"
  fi
  (umask 077 && printf '%s\n' "$url" >"$dir/database-url")
  printf '%s\n' "$bindir" >"$dir/bindir"
  say "PostgreSQL on 127.0.0.1:$port, data in $dir (stop: scripts/postgres.sh stop $dir)"
  printf "export DATABASE_URL='%s'\n" "$url"
  printf "export ALIPAYHK_PG_DIR='%s'\n" "$dir"
}

cmd_stop() {
  local dir bindir
  dir=$(dir_of "${1:-}")
  bindir=$(cat "$dir/bindir" 2>/dev/null || find_bindir)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  say "stopped and removed $dir"
}

cmd_status() {
  local dir bindir
  dir=$(dir_of "${1:-}")
  bindir=$(cat "$dir/bindir")
  if as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    echo "running: $(cat "$dir/database-url")"
  else
    echo "not running ($dir)"
    return 3
  fi
}

case "${1:-}" in
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  url) cat "$(dir_of "${2:-}")/database-url" ;;
  bindir) find_bindir ;;
  *)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
