#!/usr/bin/env bash
# scripts/demo, which the README's first command runs: import the demo grant, run the demo
# workloads on the localhost site through the adapter, print the balance and the results.
set -euo pipefail
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
log=$out/demo.log
"$GOSOK_SOURCE_DIR/scripts/demo" --build "$GOSOK_BINARY_DIR" --out "$out/demo" heat >"$log" 2>&1 || {
  cat "$log"
  exit 1
}
cat "$log"
grep -q "grant DEMO-LOCAL: added" "$log"
grep -Eq "^g1 .* settled +COMPLETED" "$log"
grep -q "remaining" "$log"
test -f "$out/demo/heat/results/diagnostics.json"
# A second run books a second job against the same grant; the import changes nothing.
"$GOSOK_SOURCE_DIR/scripts/demo" --build "$GOSOK_BINARY_DIR" --out "$out/demo" heat >"$log" 2>&1
grep -q "grant DEMO-LOCAL: unchanged" "$log"
grep -Eq "settled +\(2 jobs\)|\(2 jobs\)" "$log"
# The user config names the ledger when neither --ledger nor GOSOK_LEDGER does.
mkdir -p "$out/config/gosok"
printf 'ledger = "%s"\n' "$out/demo/ledger.sqlite" >"$out/config/gosok/config.toml"
env -u GOSOK_LEDGER XDG_CONFIG_HOME="$out/config" "$GOSOK_BINARY" grants list | grep -q DEMO-LOCAL
echo "ok: demo ran twice, charged two jobs; user config found the ledger"
