#!/usr/bin/env bash
# scripts/demo, which the README's first command runs: import the demo grant, run the
# quickstart workflow on the localhost site through the adapter (a 4-member weather
# ensemble, its mean and spread, an MD run; here on a smaller grid and a shorter time),
# print the balance and the results.
set -euo pipefail
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
log=$out/demo.log
demo() {
  "$GOSOK_SOURCE_DIR/scripts/demo" --build "$GOSOK_BINARY_DIR" --out "$out/demo" --set nx=40 --set nz=20 \
    --set end_time=100 >"$log" 2>&1 || {
    cat "$log"
    exit 1
  }
  cat "$log"
}
demo
grep -q "grant DEMO-LOCAL: added" "$log"
grep -Eq "^workflow w1 quickstart: completed" "$log"
grep -q "remaining" "$log"
folder=$(ls -d "$out"/demo/quickstart-*)
for k in 0 1 2 3; do test -f "$folder/forecast/results/$k/weather.h5"; done
test -f "$folder/summary/results/ensemble_stats.h5"
test -f "$folder/summary/results/ensemble.png"
test -f "$folder/md/results/trajectory.h5"
grep -q "summary: $folder/summary/results" "$log"
grep -q "ensemble.png" "$log"
# A second run books six more jobs against the same grant; the import changes nothing.
demo
grep -q "grant DEMO-LOCAL: unchanged" "$log"
grep -Eq "^workflow w2 quickstart: completed" "$log"
grep -Eq "\(12 jobs\)" "$log"
# The user config names the ledger when neither --ledger nor GOSOK_LEDGER does.
mkdir -p "$out/config/gosok"
printf 'ledger = "%s"\n' "$out/demo/ledger.sqlite" >"$out/config/gosok/config.toml"
env -u GOSOK_LEDGER XDG_CONFIG_HOME="$out/config" "$GOSOK_BINARY" grants list | grep -q DEMO-LOCAL
echo "ok: demo ran the quickstart workflow twice, charged twelve jobs; user config found the ledger"
