#!/usr/bin/env bash
# Submissions per second through `gosok submit` against raw `sbatch` of the same script, in
# the same run and on the same local Slurm (target: gosok adds <= 10% per job): gosok as a
# user runs it (through the user's submit server, started by the first submission) and with
# GOSOK_SUBMIT_SERVER=0 (every submission in its own process, through libslurm); the same
# in-process (bench_submit_inproc: the adapter without executable start-up); then the time
# to reconcile 10,000 finished jobs (bench_reconcile).
#
#   SLURM_CONF=... bench/submit/run.sh [--build DIR] [N]      (N submissions each, default 100)
#
# Jobs are submitted held (--hold) and cancelled at the end, so the queue, not the node,
# is what is measured. The three kinds of submission alternate in blocks of 10 so that drift
# in the machine's load hits them alike.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$here/build
if [[ ${1:-} == --build ]]; then build=$2; shift 2; fi
n=${1:-100}
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
# The raw side submits exactly the script gosok renders.
"$gosok" submit "${common[@]}" --output-dir "$tmp/raw" --dry-run | grep -v '^# dry run' >"$tmp/raw.sbatch"
mkdir -p "$tmp/raw"

export GOSOK_EXECUTABLE=$gosok
# The first submission starts the submit server; wait until it listens.
"$gosok" submit "${common[@]}" --output-dir "$tmp/warm" >/dev/null
warm=1
for ((i = 0; i < 50; i++)); do
  warm=$((warm + 1))
  "$gosok" submit "${common[@]}" --output-dir "$tmp/warm" --json | grep -q 'by the submit server' && break
  sleep 0.1
done

now() { date +%s%N; }
raw_ns=0
gosok_ns=0
alone_ns=0
for ((block = 0; block < n; block += 10)); do
  t0=$(now)
  for ((i = block; i < block + 10 && i < n; i++)); do sbatch --parsable "$tmp/raw.sbatch" >/dev/null; done
  t1=$(now)
  for ((i = block; i < block + 10 && i < n; i++)); do
    "$gosok" submit "${common[@]}" --output-dir "$tmp/g$i" >/dev/null
  done
  t2=$(now)
  for ((i = block; i < block + 10 && i < n; i++)); do
    GOSOK_SUBMIT_SERVER=0 "$gosok" submit "${common[@]}" --output-dir "$tmp/a$i" >/dev/null
  done
  t3=$(now)
  raw_ns=$((raw_ns + t1 - t0))
  gosok_ns=$((gosok_ns + t2 - t1))
  alone_ns=$((alone_ns + t3 - t2))
done
awk -v n="$n" -v r="$raw_ns" -v g="$gosok_ns" -v a="$alone_ns" 'BEGIN {
  rj = r / n / 1e6; gj = g / n / 1e6; aj = a / n / 1e6;
  printf "submit: %d jobs each: raw sbatch %.1f ms/job (%.0f/s), gosok submit %.1f ms/job (%.0f/s), gosok submit without its server %.1f ms/job (%.0f/s)\n", n, rj, 1000 / rj, gj, 1000 / gj, aj, 1000 / aj;
  printf "submit: gosok adds %.1f ms/job = %+.1f%% over raw sbatch (target <= +10%%) -> %s\n", gj - rj, (gj / rj - 1) * 100, (gj / rj - 1 <= 0.10 ? "met" : "MISSED");
  printf "submit: without the submit server gosok adds %.1f ms/job = %+.1f%%\n", aj - rj, (aj / rj - 1) * 100 }'
queued=$(squeue -h -A "$account" -o %i | wc -l)
echo "submit: $queued jobs in the queue for account $account (expected $((3 * n + warm)): $((3 * n)) timed, $warm warm-up)"
# The same comparison from inside one process: the adapter's own cost, without the cost of
# starting the gosok executable and the sbatch process it runs.
"$build/bench/submit/bench_submit_inproc" "$n"
"$build/bench/submit/bench_reconcile" 10000
