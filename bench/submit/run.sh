#!/usr/bin/env bash
# What `gosok submit` adds to sbatch, on the same local Slurm in the same run:
#   1. one job at a time: raw `sbatch --parsable` of the script gosok renders against
#      `gosok submit` of the same job, N each, alternating in blocks of 10 so that drift in
#      the machine's load hits both alike (prints ms per job and the ratio; no target);
#   2. a 1,000-task array: `gosok submit --array 0-999` (checks, reserves all 1,000 tasks in
#      one transaction, renders, runs sbatch) against raw `sbatch` of the same script (its
#      #SBATCH --array=0-999 included), R times each, alternating (target: gosok adds <= 1 s
#      for the whole array);
#   3. `gosok status` of those 1,000 tasks, asking sacct and squeue (target: <= 0.5 s).
# The time to reconcile 10,000 finished jobs is bench/ledger's (SQLite and PostgreSQL).
#
#   SLURM_CONF=... bench/submit/run.sh [--build DIR] [N] [R]     (defaults: N = 100, R = 4)
#
# Every job is submitted held (--hold) and cancelled at the end, so the queue, not the
# node, is what is measured. Each array task counts towards slurmctld's MaxJobCount (10,000
# on the test cluster, and until MinJobAge after a cancel): 2 N + 1 + 2,000 R must stay below.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$here/build
if [[ ${1:-} == --build ]]; then build=$2; shift 2; fi
n=${1:-100}
reps=${2:-4}
gosok=$build/framework/cli/gosok
[[ -n ${SLURM_CONF:-} ]] || { echo "bench/submit: SLURM_CONF is not set (scripts/slurm-local start DIR)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'scancel -A "$account" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
export GOSOK_LEDGER=$tmp/ledger.sqlite
suffix=$RANDOM
account=bench$suffix
grant=BENCH-$suffix
cat >"$tmp/grants.csv" <<CSV
id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account
$grant,bench,bench,research,local-slurm,fake,1000000,2026-01-01,2099-12-31,$account
CSV
"$gosok" grants import "$tmp/grants.csv" >/dev/null
"$gosok" grants provision "$grant" >/dev/null
common=(heat --site local-slurm --grant "$grant" -n 1 --gpus-per-node 1 -t 10 --hold)
# The raw side submits exactly the scripts gosok renders.
script() {  # script FILE [gosok submit options...]: the script of a dry run
  local file=$1
  shift
  "$gosok" submit "${common[@]}" "$@" --dry-run | grep -v '^# dry run' >"$file"
}
mkdir -p "$tmp/raw" "$tmp/raw-array"
script "$tmp/raw.sbatch" --job-dir "$tmp/raw"
script "$tmp/raw-array.sbatch" --job-dir "$tmp/raw-array" --array 0-999
export GOSOK_EXECUTABLE=$gosok
now() { date +%s%N; }
ms() { awk -v ns="$1" -v k="$2" 'BEGIN { printf "%.1f", ns / k / 1e6 }'; }

# 1. One job at a time.
"$gosok" submit "${common[@]}" --job-dir "$tmp/warm" >/dev/null  # first use of the ledger file
raw_ns=0
gosok_ns=0
for ((block = 0; block < n; block += 10)); do
  t0=$(now)
  for ((i = block; i < block + 10 && i < n; i++)); do sbatch --parsable "$tmp/raw.sbatch" >/dev/null; done
  t1=$(now)
  for ((i = block; i < block + 10 && i < n; i++)); do
    "$gosok" submit "${common[@]}" --job-dir "$tmp/g$i" >/dev/null
  done
  t2=$(now)
  raw_ns=$((raw_ns + t1 - t0))
  gosok_ns=$((gosok_ns + t2 - t1))
done
echo "submit, one job: $n jobs each: raw sbatch $(ms $raw_ns $n) ms/job, gosok submit $(ms $gosok_ns $n) ms/job:" \
  "gosok/sbatch = $(awk -v g=$gosok_ns -v r=$raw_ns 'BEGIN { printf "%.2f", g / r }')" \
  "(+$(ms $((gosok_ns - raw_ns)) $n) ms/job)"

# 2. A 1,000-task array, R times each way.
raw_list=()
gosok_list=()
head=""
for ((rep = 0; rep < reps; rep++)); do
  t0=$(now)
  sbatch --parsable "$tmp/raw-array.sbatch" >/dev/null
  t1=$(now)
  id=$("$gosok" submit "${common[@]}" --job-dir "$tmp/a$rep" --array 0-999 --parsable)
  t2=$(now)
  raw_list+=($((t1 - t0)))
  gosok_list+=($((t2 - t1)))
  [[ -n $head ]] || head=$("$gosok" status "$id" --no-refresh --json | sed -n 's/^ *"id": "\(g[0-9]*\)_0".*/\1/p')
done
stats() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "%.3f %.3f %.3f", v[1] / 1e9, v[int((NR + 1) / 2)] / 1e9, v[NR] / 1e9 }'; }
read -r raw_min raw_med raw_max <<<"$(stats "${raw_list[@]}")"
read -r g_min g_med g_max <<<"$(stats "${gosok_list[@]}")"
added=$(awk -v g="$g_med" -v r="$raw_med" 'BEGIN { printf "%.3f", g - r }')
echo "submit, 1000-task array ($reps each, s min/median/max): raw sbatch --array=0-999 $raw_min/$raw_med/$raw_max," \
  "gosok submit --array 0-999 $g_min/$g_med/$g_max: gosok adds $added s (target <= 1 s) ->" \
  "$(awk -v a="$added" 'BEGIN { print (a <= 1.0 ? "met" : "MISSED") }')"

# 3. gosok status of the first gosok array's 1,000 tasks (sacct, squeue, the ledger, the table).
status_list=()
for ((rep = 0; rep < reps; rep++)); do
  t0=$(now)
  lines=$("$gosok" status "$head" | wc -l)
  t1=$(now)
  status_list+=($((t1 - t0)))
done
read -r s_min s_med s_max <<<"$(stats "${status_list[@]}")"
echo "status: gosok status $head ($((lines - 1)) tasks, $reps times, s min/median/max): $s_min/$s_med/$s_max" \
  "(target <= 0.5 s) -> $(awk -v s="$s_max" 'BEGIN { print (s <= 0.5 ? "met" : "MISSED") }')"
queued=$(squeue -h -r -A "$account" -o %i | wc -l)
echo "queue: $queued jobs and tasks held for account $account (expected $((2 * n + 1 + 2 * reps * 1000)))"
