#!/usr/bin/env bash
# wtp-serve's database benchmark (not a test): bench_store on SQLite and on a private
# PostgreSQL 15 server (initdb into a temporary directory, a Unix socket only, run as the
# postgres user when we are root; stopped and removed at the end), in the same run.
#
#   bench/run_store.sh [BUILD_DIR] [USERS]
set -euo pipefail
build=${1:-build}
users=${2:-200}
bench="$build/bin/bench_store"
pg=/usr/lib/postgresql/15/bin
[[ -x "$bench" ]] || { echo "missing $bench: build the bench_store target first" >&2; exit 2; }
[[ -x "$pg/initdb" ]] || { echo "needs PostgreSQL 15: apt-get install postgresql-15" >&2; exit 2; }
work=$(mktemp -d -t wtp-bench-store-XXXX)
as_owner=()
if [[ $(id -u) == 0 ]]; then
  chown postgres "$work"
  as_owner=(runuser -u postgres --)
fi
stop() {
  "${as_owner[@]}" "$pg/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap stop EXIT
"${as_owner[@]}" "$pg/initdb" -D "$work/data" -U postgres -A trust -E UTF8 --no-instructions >/dev/null
"${as_owner[@]}" "$pg/pg_ctl" -D "$work/data" -l "$work/log" -w \
  -o "-k $work -c listen_addresses=''" start >/dev/null
"$pg/psql" "postgresql:///postgres?host=$work&user=postgres" -qc "CREATE DATABASE bench"
echo "load: $(uptime)"
echo "PostgreSQL with its default settings (fsync on); SQLite with synchronous=FULL, WAL"
"$bench" "sqlite:$work/bench.db,postgresql:///bench?host=$work&user=postgres" "$users"
