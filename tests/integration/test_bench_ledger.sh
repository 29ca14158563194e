#!/usr/bin/env bash
# bench/ledger/run.sh runs as its header documents it, on the test cluster's PostgreSQL
# (GOSOK_TEST_POSTGRES) with small counts, and prints every row for both backends. A smoke
# test of the benchmark only: the figures are not checked (speed is the benchmark's, never
# a test's).
set -euo pipefail
: "${GOSOK_SOURCE_DIR:?}" "${GOSOK_BINARY_DIR:?}"
[[ -n ${GOSOK_TEST_POSTGRES:-} ]] || { echo "no test PostgreSQL (scripts/test starts one: scripts/pg-local)" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
bash "$GOSOK_SOURCE_DIR/bench/ledger/run.sh" --build "$GOSOK_BINARY_DIR" 40 200 >"$log" 2>&1 ||
  { cat "$log"; echo "bench/ledger/run.sh failed" >&2; exit 1; }
cat "$log"
grep -qE '^ +SQLite +PostgreSQL +\(async\)$' "$log" || { echo "no SQLite/PostgreSQL header" >&2; exit 1; }
for row in "reservations/s, 1 client " "reservations/s, 8 clients" "reservations/s, 1 client, open\+close each" \
  "reconcile 200 finished jobs, s"; do
  grep -qE "^$row +[0-9.]+ +[0-9.]+ +[0-9.]+$" "$log" || { echo "no '$row' row with three figures" >&2; exit 1; }
done
# The benchmark dropped its database.
left=$(psql "$GOSOK_TEST_POSTGRES user=postgres dbname=postgres" -X -A -t -c \
  "SELECT count(*) FROM pg_database WHERE datname LIKE 'gosok_bench_%'")
[[ $left == 0 ]] || { echo "bench/ledger left $left database(s) behind" >&2; exit 1; }
echo "bench/ledger/run.sh prints both backends' rows"
