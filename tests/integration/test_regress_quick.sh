#!/usr/bin/env bash
# The shipped quick suite, as a clean clone has it (regression/quick.toml and its committed
# baselines), on the localhost site through the adapter, charged to the demo grant: it
# passes, writes JUnit XML that parses, and an HTML report that headless Chromium renders
# with its table of cases and one chart per figure; a second run of one case makes
# `compare` show every figure's change and `history` the figure over both runs.
set -euo pipefail
: "${GOSOK_BINARY:?}" "${GOSOK_SOURCE_DIR:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
export GOSOK_LEDGER=$work/ledger.sqlite
"$GOSOK_BINARY" grants import "$GOSOK_SOURCE_DIR/examples/grants/demo.csv" >/dev/null

start=$(date +%s.%N)
# Without NVML (named explicitly, so that a GPU node runs the test as a CPU one does).
GOSOK_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1 "$GOSOK_BINARY" regress "$GOSOK_SOURCE_DIR/regression/quick.toml" --grant DEMO-LOCAL --results "$work/q1" \
  >q1.log 2>&1 || { cat q1.log; fail "the quick suite did not pass"; }
end=$(date +%s.%N)
cat q1.log
awk -v s="$start" -v e="$end" 'BEGIN { printf "quick suite: %.1f s wall\n", e - s }'
grep -q "gosok regress quick on localhost (run 1): PASS" q1.log || fail "no PASS line"
grep -Eq "^[0-9]+ passed, 0 failed, 0 errors, 0 recorded only" q1.log || fail "not every case passed"
grep -q "cost: .* GPU-hours of grant DEMO-LOCAL over [0-9]* job(s).*; GPU energy not measured" q1.log ||
  fail "the cost (and energy not measured) is not reported"
grep -q "energy not measured: NVML is not available" "$work/q1/junit.xml" || fail "no case says why energy is not measured"
# Every case's job was charged to the grant like any job.
jobs=$("$GOSOK_BINARY" status --all --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))')
(( jobs >= 20 )) || fail "only $jobs jobs in the ledger"

# JUnit XML: well formed, one testcase per instance, none failed.
/usr/bin/python3 - "$work/q1/junit.xml" <<'EOF' || fail "junit.xml"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suite = root.find("testsuite")
cases = suite.findall("testcase")
assert suite.get("name") == "quick", suite.get("name")
assert int(suite.get("tests")) == len(cases) >= 20, len(cases)
assert suite.get("failures") == "0" and suite.get("errors") == "0", (suite.get("failures"), suite.get("errors"))
assert any(c.get("name").startswith("weather-ranks.np4 on localhost:local") for c in cases)
print("junit.xml:", len(cases), "testcases")
EOF

# The HTML report, rendered by a real browser, offline: the DOM it builds has the table
# (a row per instance) and an SVG chart per figure; a screenshot is drawn.
html=$work/q1/report.html
grep -q "<script" "$html" && fail "the report has scripts"
grep -Eo '(src|href)="[^"#]+' "$html" && fail "the report loads something"
browser() {
  timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$work/chromium" "$@" \
    2>>chromium.log
}
browser --dump-dom "file://$html" >dom.html || { tail chromium.log; fail "chromium could not render the report"; }
rows=$(grep -o '<tr class="case pass">' dom.html | wc -l)
charts=$(grep -o '<svg class="chart"' dom.html | wc -l)
lines=$(grep -o '<polyline class="series"' dom.html | wc -l)
instances=$(grep -c '^  pass ' q1.log)
echo "rendered: $rows case rows, $charts charts, $lines series"
(( rows == instances )) || fail "$rows rows for $instances instances"
(( charts >= 3 * instances && lines == charts )) || fail "$charts charts, $lines series for $instances instances"
grep -q '<table id="cases">' dom.html || fail "no table of cases"
browser --screenshot="$work/shot.png" --window-size=1280,2000 "file://$html" >/dev/null || fail "no screenshot"
/usr/bin/python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); assert d[:8] == b"\x89PNG\r\n\x1a\n" and len(d) > 20000, len(d)' \
  "$work/shot.png" || fail "the screenshot is not a drawn page"

# A second run; compare and history read both from the results store. Its GPUs are the
# fake NVML's (tests/support/fake_nvml.c: two GPUs, 100 J and 200 J per reading): the case
# records the 300 J its run measured.
GOSOK_NVML_LIBRARY=${GOSOK_TEST_FAKE_NVML:?} "$GOSOK_BINARY" regress "$GOSOK_SOURCE_DIR/regression/quick.toml" \
  --grant DEMO-LOCAL --results "$work/q2" --case weather-energy >q2.log 2>&1 || { cat q2.log; fail "the second run"; }
grep -q "; GPU energy 300 J$" q2.log || { cat q2.log; fail "the suite's GPU energy is not 300 J"; }
grep -q "figure energy_j = 300 J" "$work/q2/junit.xml" && grep -q "; energy 300 J" "$work/q2/junit.xml" ||
  fail "the case's energy is not in junit.xml"
"$GOSOK_BINARY" regress compare 1 latest >compare.log || fail "compare"
cat compare.log
grep -q "run 1 (quick" compare.log || fail "compare names run 1"
grep -Eq "^weather-energy.np1 +localhost:local +cell_updates_per_s +[0-9.e+]+ +[0-9.e+]+ +[+-][0-9.]+%" compare.log ||
  fail "compare shows no change of cell_updates_per_s"
grep -Eq "^weather-conservation.thermal.np1 +localhost:local +only in run 1" compare.log || fail "cases only in run 1"
"$GOSOK_BINARY" regress history weather-energy.np1 --figure cell_updates_per_s >history.log || fail "history"
cat history.log
(( $(grep -c "cell_updates_per_s" history.log) == 2 )) || fail "history shows two runs"
# The second report charts two points of that figure.
grep -q "weather-energy.np1 on localhost:local: cell_updates_per_s \[cell-updates/s\], 2 run(s)" "$work/q2/report.html" ||
  fail "the chart does not span the stored runs"
"$GOSOK_BINARY" regress runs | grep -Eq "^ +2 .* quick +localhost +pass" || fail "regress runs"
echo "ok: the quick suite passes; JUnit parses; Chromium renders the report; compare and history read the store"
