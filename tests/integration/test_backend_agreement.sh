#!/usr/bin/env bash
# Runs that differ only in how they execute must agree:
#  - OpenMP threads (1 against 2, at 1 rank): reductions and force sums run in another
#    order, so weather and md agree within the per-quantity tolerances of
#    tests/support/backend_tolerances.json, the same ones a GPU run is held to
#    (bench/gpu/run.sh). On a Serial-only Kokkos the thread count changes nothing and the
#    runs must agree all the same.
#  - MPI buffers (run.mpi_buffers = staged against direct, at 2 and 4 ranks): staging
#    through pinned host memory only copies the messages, so the runs are identical bit
#    for bit.
set -euo pipefail
GOSOK=${GOSOK_BINARY:-$PWD/framework/cli/gosok}
MPIEXEC=${GOSOK_MPIEXEC:-mpirun --allow-run-as-root --oversubscribe}
COMPARE="python3 ${GOSOK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/support/compare_runs.py"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

weather="run weather --set case=thermal --set nx=100 --set nz=50 --set end_time=200"
md="run md --set init=lattice --set lattice.nx=6 --set lattice.ny=6 --set lattice.nz=6 --set steps=300
  --set thermo.every=100"

# go NAME THREADS RANKS WORKLOAD [ARGS...]
go() {
  local name=$1 threads=$2 ranks=$3 workload=$4
  shift 4
  # shellcheck disable=SC2086
  env OMP_NUM_THREADS="$threads" OMP_PROC_BIND=false $MPIEXEC -n "$ranks" "$GOSOK" ${!workload} "$@" \
    --results "$WORK/$name" >"$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log"; fail "$name"; }
}

for workload in weather md; do
  go "$workload-t1" 1 1 $workload
  go "$workload-t2" 2 1 $workload
  $COMPARE "$workload" "$WORK/$workload-t1" "$WORK/$workload-t2" || fail "$workload: 1 and 2 threads disagree"
  for ranks in 2 4; do
    go "$workload-np$ranks-direct" 1 "$ranks" $workload --set run.mpi_buffers=direct
    go "$workload-np$ranks-staged" 1 "$ranks" $workload --set run.mpi_buffers=staged
    $COMPARE --exact "$workload" "$WORK/$workload-np$ranks-direct" "$WORK/$workload-np$ranks-staged" ||
      fail "$workload on $ranks ranks: staged MPI buffers change the result"
  done
done
echo "backend agreement: all checks passed"
