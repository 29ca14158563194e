#!/usr/bin/env bash
# Time limits from history: after a few recorded weather runs on the localhost site, the
# time limit `gosok submit -t auto` predicts for a bigger run covers that run's real time
# (with the stated margin) and is not more than twice it; --dry-run shows the prediction
# beside a given time limit and the GPU-hours the difference locks; with no history it asks
# for a time limit and reserves nothing.
#
# The real time is measured around the whole `gosok submit --wait` (launcher, start-up,
# output), the strictest reading of what a time limit must cover.
set -euo pipefail
: "${GOSOK_BINARY:?}" "${GOSOK_SOURCE_DIR:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
export GOSOK_LEDGER=$work/ledger.sqlite GOSOK_GRANT=DEMO-LOCAL
"$GOSOK_BINARY" grants import "$GOSOK_SOURCE_DIR/examples/grants/demo.csv" >/dev/null
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
jobs() { "$GOSOK_BINARY" status --all --json | json 'len(d["jobs"])'; }

# No history yet: asked for a time limit, nothing reserved.
rc=0
"$GOSOK_BINARY" submit weather --set nx=200 --set nz=100 -t auto >none.log 2>&1 || rc=$?
[[ $rc -eq 2 ]] || { cat none.log; fail "-t auto without history: exit $rc"; }
grep -q "no finished weather run on localhost:local with 1 task(s) in .*results.sqlite to predict from; give the time limit" \
  none.log || { cat none.log; fail "the refusal does not ask for a time limit"; }
(( $(jobs) == 0 )) || fail "a refused submission reserved"
# A dry run with a given time limit says there is nothing to predict from.
"$GOSOK_BINARY" submit weather -t 01:00:00 --dry-run | grep -q "^# no time limit prediction: no finished weather run" ||
  fail "dry run without history"

# History: three thermal runs of growing size, each recorded when its job settles.
run_case() { # NX NZ [more gosok submit options]
  local nx=$1 nz=$2
  shift 2
  "$GOSOK_BINARY" submit weather -G 1 --set case=thermal --set nx="$nx" --set nz="$nz" --set end_time=300 \
    --set run.progress_seconds=0 "$@"
}
for size in "200 100" "240 120" "280 140"; do
  # shellcheck disable=SC2086
  run_case $size -t 00:05:00 --wait >>history.log 2>&1 || { cat history.log; fail "history run $size"; }
done
samples=$(sqlite3 "$work/results.sqlite" "SELECT COUNT(*) FROM job_samples WHERE workload = 'weather'")
(( samples == 3 )) || fail "$samples job samples recorded, expected 3"

# The bigger run: 400 x 200 is 2.9x the work of the largest recorded run.
run_case 400 200 -t auto --dry-run --json >dry.json || fail "dry run"
predicted=$(json 'd["time_prediction"]["predicted_s"]' <dry.json)
limit=$(json 'd["time_prediction"]["time_limit"]' <dry.json)
json 'd["time_prediction"]["basis"]' <dry.json
start=$(date +%s.%N)
run_case 400 200 -t auto --wait >big.log 2>&1 || { cat big.log; fail "the predicted run"; }
end=$(date +%s.%N)
cat big.log
grep -q "^time limit $limit predicted from 3 past run(s) on localhost:local with 1 task(s)" big.log ||
  fail "submit does not show the prediction and its basis"
real=$(awk -v s="$start" -v e="$end" 'BEGIN { print e - s }')
echo "predicted $predicted s (time limit $limit) for a run that took $real s"
awk -v p="$predicted" -v r="$real" 'BEGIN { exit !(p >= r && p <= 2 * r) }' ||
  fail "the prediction $predicted s does not lie in [real, 2 x real] = [$real, 2 x $real] s"
# The ledger reserved the predicted time limit.
"$GOSOK_BINARY" status --all --json | json 'd["jobs"][0]["time_limit"]' | grep -qx "$limit" ||
  fail "the job was not reserved for the predicted time limit"

# A given time limit in a dry run: the prediction beside it and the hours the difference locks
# (each with the site's 10 s overrun: 01:00:10 is 1.0028 GPU-hours).
run_case 400 200 -t 01:00:00 --dry-run >given.log || fail "dry run with a time limit"
tail -2 given.log
grep -Eq "^# time limit 01:00:00 given, [0-9:]+ predicted from 4 past run\(s\) .*; the given one reserves 1.0028 GPU-hours, the prediction 0.00[0-9]+: 0.99[0-9]+ GPU-hours more locked until the job ends" \
  given.log || fail "the dry run does not compare the given time limit with the prediction"
run_case 400 200 -t 01:00:00 --dry-run --json | json 'd["time_prediction"]["given_locks_extra_gpu_hours"] > 0.99' |
  grep -qx True || fail "--json lacks the locked difference"
# A bad input is refused by the workload before anything is reserved.
rc=0
"$GOSOK_BINARY" submit weather --set nx=3 -t auto >bad.log 2>&1 || rc=$?
[[ $rc -eq 2 ]] && grep -q "key 'nx' = 3 is too small" bad.log || { cat bad.log; fail "a bad input"; }
echo "ok: the prediction covers the bigger run and is within twice its time"
