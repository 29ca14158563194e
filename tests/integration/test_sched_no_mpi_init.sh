#!/usr/bin/env bash
# Scheduler commands run on login nodes: they must never initialise MPI or Kokkos. Under a
# preloaded shim that aborts on MPI_Init/MPI_Init_thread/Kokkos::initialize, every
# scheduler command must still succeed, while `gosok run` must hit the shim.
set -euo pipefail
shim=$GOSOK_BINARY_DIR/framework/scheduler/libgosok_no_gpu_stack_shim.so
[[ -f $shim ]] || { echo "missing $shim"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export GOSOK_LEDGER=$tmp/ledger.sqlite
g() { LD_PRELOAD=$shim "$GOSOK_BINARY" "$@"; }
cat >grants.csv <<'CSV'
id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account
SHIM-1,shim,Lab,research,local-slurm,fake,5,2026-01-01,2099-12-31,shim
SHIM-L,shim,Lab,research,localhost,local,5,2026-01-01,2099-12-31,shim
CSV
g grants import grants.csv
g grants list
g grants show SHIM-1 --json >/dev/null
g submit heat --site local-slurm --grant SHIM-1 -n 2 -t 5 --dry-run >/dev/null
# Checking a job's input against the workload's schema happens here too, on the login node.
if g submit heat --site local-slurm --grant SHIM-1 --set nx=3 --dry-run 2>err.txt; then
  echo "FAIL: a bad input was accepted"; exit 1
fi
grep -q "key 'nx' = 3 is too small" err.txt || { echo "FAIL: $(cat err.txt)"; exit 1; }
printf 'workload = "weather"\nnx = 40\n' >in.toml
g validate in.toml grants.csv "$GOSOK_SOURCE_DIR/job_templates/default.sbatch"
g status --all --no-refresh
g reconcile --from-sacct /dev/null --grace 0 || true
g validate "$GOSOK_SOURCE_DIR/site_configs/local-slurm.toml"
# The local backend's submit must not initialise MPI either (its run, launched by mpirun
# in another process, does; it is not under the shim's rules, so only submit is checked).
LD_PRELOAD=$shim "$GOSOK_BINARY" submit heat --site localhost --grant SHIM-L -t 5 --job-dir "$tmp/local" \
  --dry-run >/dev/null
# gosok regress runs in gosok-run without starting MPI; validating a suite and predicting a
# time limit (-t auto) run in the login gosok.
g validate "$GOSOK_SOURCE_DIR/regression/quick.toml"
out=$(g regress history weather-energy.np1 2>&1) && { echo "FAIL: history of an empty store: $out"; exit 1; }
grep -q "no results store" <<<"$out" || { echo "FAIL: gosok regress history: $out"; exit 1; }
out=$(g submit weather --site localhost --grant SHIM-L -t auto --dry-run 2>&1) && exit 1
grep -q "give the time limit" <<<"$out" || { echo "FAIL: -t auto under the shim: $out"; exit 1; }
if out=$(g run heat --set run.output_dir="$tmp/run" 2>&1); then
  echo "FAIL: gosok run worked under the shim, so the shim proves nothing"
  exit 1
fi
grep -q "no-gpu-stack shim" <<<"$out" || { echo "FAIL: gosok run failed for another reason: $out"; exit 1; }
echo "ok: scheduler, regress and validate commands never called MPI_Init or Kokkos::initialize; gosok run did"
