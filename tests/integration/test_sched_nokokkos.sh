#!/usr/bin/env bash
# The scheduler library must not carry the GPU stack: a program linking only
# gosok::scheduler needs no Kokkos, MPI or HDF5 library and holds none of their symbols.
# Neither does `gosok`, the login-node executable, though it holds every workload's input
# schema (to check a job before reserving it).
set -euo pipefail
probe=$GOSOK_BINARY_DIR/framework/scheduler/gosok_sched_probe
[[ -x $probe ]] || { echo "missing $probe"; exit 1; }
if ldd "$probe" | grep -Ei 'kokkos|libmpi|hdf5'; then
  echo "FAIL: gosok_sched_probe links a GPU-stack library"
  exit 1
fi
if nm -C "$probe" | grep -Ei ' (Kokkos::|MPI_Init|H5F)' | head -3 | grep -q .; then
  echo "FAIL: gosok_sched_probe contains Kokkos/MPI/HDF5 symbols"
  exit 1
fi
if ldd "$GOSOK_BINARY" | grep -Ei 'kokkos|libmpi|hdf5|cuda'; then
  echo "FAIL: gosok (the login-node executable) links a GPU-stack library"
  exit 1
fi
if nm -C "$GOSOK_BINARY" | grep -Ei ' (Kokkos::|MPI_Init|H5F)' | head -3 | grep -q .; then
  echo "FAIL: gosok contains Kokkos/MPI/HDF5 symbols"
  exit 1
fi
nm -C "$GOSOK_BINARY" | grep 'gosok::weather::register_input' >/dev/null || { echo "FAIL: gosok lacks the workload inputs"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$probe" "$tmp/l.sqlite"
echo "ok: scheduler-only program and gosok link no Kokkos, MPI or HDF5"
