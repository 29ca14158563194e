#!/usr/bin/env bash
# The ledger on SQLite and PostgreSQL side by side (bench/ledger/ledger_bench.cpp says what
# each row measures):
#
#   bench/ledger/run.sh [--build DIR] [RESERVATIONS] [RECONCILE]    (defaults 2000, 10000)
#
# As root: starts a private PostgreSQL 15 (scripts/pg-local) in a temporary folder and
# stops it at the end; with GOSOK_TEST_POSTGRES set (a running cluster's "host=... port=...",
# as scripts/test exports it) it uses that one. Either way in a fresh database, dropped at
# the end. PostgreSQL runs with its default durability (synchronous_commit = on: each
# commit waits for its WAL flush) and, in a third column, with synchronous_commit = off for
# the connection; the SQLite ledger runs as gosok runs it (WAL, synchronous = NORMAL: a
# commit does not wait for the disk).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$here/build
if [[ ${1:-} == --build ]]; then build=$2; shift 2; fi
reservations=${1:-2000}
reconcile=${2:-10000}
bench=$build/bench/ledger/bench_ledger
[[ -x $bench ]] || { echo "bench/ledger: $bench not built" >&2; exit 2; }
own=""
cleanup() {
  if [[ -n ${server:-} ]]; then
    psql "$server user=postgres dbname=postgres" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  fi
  if [[ -n $own ]]; then "$here/scripts/pg-local" stop "$own" >/dev/null || true; rm -rf "$own"; fi
}
trap cleanup EXIT
server=${GOSOK_TEST_POSTGRES:-}
if [[ -z $server ]]; then
  own=$(mktemp -d /tmp/gosok-bench-pg.XXXXXX)
  PG_LOCAL_PORT=${PG_LOCAL_PORT:-15433} "$here/scripts/pg-local" start "$own" >/dev/null
  # shellcheck disable=SC1091
  source "$own/env"
  server=$GOSOK_TEST_POSTGRES
fi
db=gosok_bench_$$
psql "$server user=postgres dbname=postgres" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(psql "$server user=postgres dbname=$db" -X -A -t -c 'SHOW server_version') PostgreSQL"
"$bench" --postgres-owner "$server user=postgres dbname=$db" --postgres "$server dbname=$db" --reservations "$reservations" --reconcile "$reconcile"
