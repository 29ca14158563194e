#!/usr/bin/env bash
# gosok regress through the Slurm adapter on the test cluster (scripts/slurm-local, which
# the test command starts): the cases are sbatch jobs charged to an evaluation grant,
# settled from sacct, checked across rank counts and a restart; the report carries what
# they cost, as the ledger booked it.
set -euo pipefail
: "${GOSOK_BINARY:?}" "${GOSOK_SOURCE_DIR:?}"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[[ -n ${SLURM_CONF:-} ]] && scontrol ping | grep -q UP ||
  fail "needs the test Slurm (scripts/test starts one; or scripts/slurm-local start DIR and source DIR/env)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export GOSOK_LEDGER=$work/ledger.sqlite
grant=EVAL$RANDOM$RANDOM
cat >grants.csv <<EOF
id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account
$grant,evaluation,Center,national_project,local-slurm,fake,10,2026-01-01,2099-12-31,acct${grant,,}
EOF
"$GOSOK_BINARY" grants import grants.csv >/dev/null
"$GOSOK_BINARY" grants provision "$grant" >/dev/null
cat >suite.toml <<'EOF'
suite = "slurm-smoke"
[[case]]
name = "ranks"
workload = "weather"
set = ["case=collision", "nx=200", "nz=100", "end_time=600"]  # a second or more: Slurm counts whole seconds
ranks = [1, 2]
systems = ["local-slurm:gpu", "localhost:local"]
time = "00:05:00"
  [[case.check]]
  value = "h5:weather.h5:/theta[-1]"
  against = "ranks"
  norm = "max"
  rtol = 1e-12
  reason = "the decomposition does not change a cell's arithmetic"
[[case]]
name = "grids"
workload = "weather"
set = ["case=thermal", "end_time=100"]
systems = ["local-slurm:gpu"]
time = "00:05:00"
  [[case.variant]]
  name = "small"
  set = ["nx=40", "nz=20"]
  [[case.variant]]
  name = "medium"
  set = ["nx=80", "nz=40"]
  [[case.variant]]
  name = "large"
  set = ["nx=120", "nz=60"]
  [[case.check]]
  value = "json:diagnostics.json:records[-1].mass_rel_change"
  abs_max = 1e-13
  reason = "the flux form conserves mass"
[[case]]
name = "restart"
workload = "heat"
set = ["nx=32", "ny=32", "end_time=0.01"]
restart_at = [10]
systems = ["local-slurm:debug"]
time = "00:05:00"
  [[case.check]]
  value = "json:diagnostics.json:records[-1]"
  against = "restart"
  bitwise = true
  reason = "a restart continues from the exact state: the final errors and mass are the same bits"
EOF
"$GOSOK_BINARY" validate suite.toml
"$GOSOK_BINARY" regress suite.toml --site local-slurm --grant "$grant" --results "$work/out" >run.log 2>&1 ||
  { cat run.log; fail "the suite did not pass on Slurm"; }
cat run.log
grep -q "gosok regress slurm-smoke on local-slurm (run 1): PASS" run.log || fail "no PASS"
grep -q "pass     ranks.np2 .* local-slurm:gpu" run.log || fail "the rank check did not run on local-slurm:gpu"
grep -q "pass     restart.np1.restart10 .* local-slurm:debug" run.log || fail "the restart did not run on local-slurm:debug"
grep -q "pass     grids.large.np1 .* local-slurm:gpu" run.log || fail "the grid variants did not pass"
# Every job went through sbatch, was settled from accounting and charged to the grant; the
# four one-rank weather runs were one array, the heat run and its restart's first part
# another, the restart a third (its task writes where its first part wrote).
"$GOSOK_BINARY" status --all --json --no-refresh >jobs.json
/usr/bin/python3 - jobs.json run.log <<'EOF' || fail "the ledger's jobs"
import json, re, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
assert len(jobs) == 8, len(jobs)  # 3 grids + ranks.np1, ranks.np2, the heat run and the two parts of its restart
submissions = {j["slurm_id"].split("_")[0] for j in jobs}
assert len(submissions) == 4, submissions
assert sum(1 for j in jobs if j["array_task"] is not None) == 7
for j in jobs:
    assert j["backend"] == "slurm" and j["slurm_id"], j
    assert j["state"] == "settled" and j["scheduler_state"] == "COMPLETED", j
charged = sum(j["charged_gpu_hours"] for j in jobs)
assert charged > 0
cost = float(re.search(r"cost: ([0-9.]+) GPU-hours", open(sys.argv[2]).read()).group(1))
assert abs(cost - charged) < 1e-4, (cost, charged)
assert any(j["partition"] == "debug" for j in jobs) and any(j["partition"] == "gpu" for j in jobs)
print(f"{len(jobs)} Slurm jobs settled, {charged:.4f} GPU-hours charged, as the report says")
EOF
# The runs are samples of the workloads' speed for -t auto; so is any Slurm job once
# reconcile (here through status --wait) settles it.
samples() { sqlite3 "$work/results.sqlite" "SELECT COUNT(*) FROM job_samples WHERE source = '$1'"; }
(( $(samples regress) == 6 )) || fail "$(samples regress) samples from the suite, expected 6 (the restart is none)"
"$GOSOK_BINARY" submit weather --site local-slurm --grant "$grant" -t 5 -G 1 --set nx=200 --set nz=100 \
  --set end_time=300 --job-dir "$work/job" --json >job.json || fail "submit"
id=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["jobs"][0]["id"])' job.json)
"$GOSOK_BINARY" status --wait --timeout 300 "$id" >/dev/null || fail "the job did not finish"
(( $(samples job) == 1 )) || fail "the settled Slurm job left no sample"
"$GOSOK_BINARY" submit weather --site local-slurm --grant "$grant" -G 1 --set nx=400 --set nz=200 --set end_time=300 \
  -t auto --dry-run | grep -Eq "^# time limit [0-9]{2}:[0-9]{2}:00 predicted from 5 past run\(s\) on local-slurm:gpu" ||
  fail "no prediction from the Slurm job, rounded to Slurm's whole minutes"
echo "ok: a suite ran through sbatch as arrays on two partitions, checked and costed"
