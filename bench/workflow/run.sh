#!/usr/bin/env bash
# What a workflow costs gosok, on the local Slurm, in one run: a 1,000-member ensemble and
# a step after it (the issue's shape: `forecast`, members = 1000, then `summary`).
#   1. gosok validate of the file (the schema, the steps' ties, the workloads' inputs);
#   2. gosok submit --dry-run: planning (the above, plus every step's script and
#      reservation against the grant), nothing booked;
#   3. gosok submit: all of it, reserving the 1,001 jobs in the ledger and submitting the
#      ensemble as one array and the summary with --dependency=afterok on it; against raw
#      `sbatch --array` + `sbatch --dependency` of the very scripts gosok renders, R times
#      each, alternating (target: gosok adds <= 1 s);
#   4. gosok status of that workflow: one sacct for all of it, the ledger, the table
#      (target: <= 0.5 s).
#
#   SLURM_CONF=... bench/workflow/run.sh [--build DIR] [R] [MEMBERS]   (defaults: R = 3, MEMBERS = 1000)
#   cmake --build build --target bench-workflow
#
# Everything is submitted held (--hold) and cancelled at the end, so the queue, not the node,
# is what is measured. Each array task counts towards slurmctld's MaxJobCount (10,000 on the
# test cluster, and until MinJobAge after a cancel): 2 R (MEMBERS + 1) must stay below it.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$here/build
if [[ ${1:-} == --build ]]; then build=$2; shift 2; fi
reps=${1:-3}
members=${2:-1000}
gosok=$build/framework/cli/gosok
[[ -n ${SLURM_CONF:-} ]] || { echo "bench/workflow: SLURM_CONF is not set (scripts/slurm-local start DIR)" >&2; exit 2; }
tmp=$(mktemp -d)
suffix=$RANDOM
account=benchwf$suffix
grant=BENCHWF-$suffix
trap 'scancel -A "$account" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
export GOSOK_LEDGER=$tmp/ledger.sqlite GOSOK_EXECUTABLE=$gosok
cat >"$tmp/grants.csv" <<CSV
id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account
$grant,bench,bench,research,local-slurm,fake,1000000,2026-01-01,2099-12-31,$account
CSV
"$gosok" grants import "$tmp/grants.csv" >/dev/null
"$gosok" grants provision "$grant" >/dev/null
cat >"$tmp/ensemble.toml" <<TOML
[workflow]
name = "bench-ensemble"
grant = "$grant"
site = "local-slurm"

[parameters]
nx = 200

[[step]]
name = "forecast"
workload = "weather"
members = $members
set = { case = "thermal", nx = "{{nx}}", nz = 100, end_time = 600, seed = 7 }
nodes = 1
ntasks-per-node = 2
gpus-per-node = 1
time = "00:20:00"
retries = 1

[[step]]
name = "summary"
workload = "ensemble-stats"
after = ["forecast"]
set = { members_dir = "{{forecast.results}}", members = "{{forecast.members}}" }
ntasks = 1
gpus = 1
time = "00:10:00"
TOML
now() { date +%s%N; }
stats() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "%.3f %.3f %.3f", v[1] / 1e9, v[int((NR + 1) / 2)] / 1e9, v[NR] / 1e9 }'; }
median() { stats "$@" | awk '{ print $2 }'; }

# The raw side submits exactly the scripts gosok renders: the dry run's two scripts, split
# at their step headers, the summary's placeholder dependency taken out (given to sbatch).
"$gosok" submit "$tmp/ensemble.toml" --dry-run --job-dir "$tmp/raw" >"$tmp/plan.txt"
awk -v dir="$tmp" '
  /^# ==== step / { file = dir "/" $4 ".sbatch"; sub(":", "", file); next }
  /^#!/ && file { writing = file }
  /^#$/ || /^# total/ { writing = "" }
  writing && !/^#SBATCH --dependency=/ { print > writing }' "$tmp/plan.txt"
for s in forecast summary; do
  grep -q '^#SBATCH' "$tmp/$s.sbatch" || { echo "bench/workflow: no script for step $s in the plan" >&2; exit 1; }
done
grep -q '^#SBATCH --array=0-'"$((members - 1))"'$' "$tmp/forecast.sbatch"
mkdir -p "$tmp/raw/forecast/jobs/1" "$tmp/raw/summary/jobs/1"

validate=() dry=() raw=() submitted=()
for ((rep = 0; rep < reps; rep++)); do
  t0=$(now)
  "$gosok" validate "$tmp/ensemble.toml" >/dev/null
  t1=$(now)
  "$gosok" submit "$tmp/ensemble.toml" --dry-run --job-dir "$tmp/dry$rep" >/dev/null
  t2=$(now)
  id=$(sbatch --parsable --hold "$tmp/forecast.sbatch")
  sbatch --parsable --hold --dependency="afterok:${id%%;*}" "$tmp/summary.sbatch" >/dev/null
  t3=$(now)
  "$gosok" submit "$tmp/ensemble.toml" --hold --job-dir "$tmp/wf$rep" >"$tmp/submit$rep.log"
  t4=$(now)
  validate+=($((t1 - t0)))
  dry+=($((t2 - t1)))
  raw+=($((t3 - t2)))
  submitted+=($((t4 - t3)))
done
grep -q "summary: submitted as" "$tmp/submit0.log" || { cat "$tmp/submit0.log" >&2; exit 1; }
read -r v_min v_med v_max <<<"$(stats "${validate[@]}")"
read -r d_min d_med d_max <<<"$(stats "${dry[@]}")"
read -r r_min r_med r_max <<<"$(stats "${raw[@]}")"
read -r g_min g_med g_max <<<"$(stats "${submitted[@]}")"
added=$(awk -v g="$g_med" -v r="$r_med" 'BEGIN { printf "%.3f", g - r }')
echo "workflow of $members members + 1 dependent step, $reps runs each (s min/median/max):"
echo "  gosok validate                       $v_min/$v_med/$v_max"
echo "  gosok submit --dry-run (plan)        $d_min/$d_med/$d_max"
echo "  raw sbatch --array + --dependency    $r_min/$r_med/$r_max"
echo "  gosok submit (plan, reserve, sbatch) $g_min/$g_med/$g_max"
echo "  gosok adds $added s over raw sbatch (target <= 1 s) ->" \
  "$(awk -v a="$added" 'BEGIN { print (a <= 1.0 ? "met" : "MISSED") }')"

# gosok status of the first workflow: 1,001 jobs, one sacct.
status=()
for ((rep = 0; rep < reps; rep++)); do
  t0=$(now)
  "$gosok" status w1 >"$tmp/status.txt"
  t1=$(now)
  status+=($((t1 - t0)))
done
grep -q "^  summary " "$tmp/status.txt" || { cat "$tmp/status.txt" >&2; exit 1; }
read -r s_min s_med s_max <<<"$(stats "${status[@]}")"
echo "  gosok status w1 ($((members + 1)) jobs)     $s_min/$s_med/$s_max (target <= 0.5 s) ->" \
  "$(awk -v s="$s_max" 'BEGIN { print (s <= 0.5 ? "met" : "MISSED") }')"
queued=$(squeue -h -r -A "$account" -o %i | wc -l)
echo "queue: $queued jobs and tasks held for account $account (expected $((2 * reps * (members + 1))))"
