#!/usr/bin/env bash
# The GPU check of issue 16, prepared to run as is on a machine with an NVIDIA GPU (an
# H200) and Python, with or without MPI, HDF5 or CMake. Build and pack here first:
#   cmake -S . -B build-cuda -DKokkos_ROOT=<Kokkos 4 with CUDA> ; cmake --build build-cuda
#   cmake -S . -B build-omp  -DKokkos_ROOT=<Kokkos 4 with OpenMP> ; cmake --build build-omp
#   bench/gpu/pack.sh          # -> build-gpupack/gosok-gpu.tar.xz (< 64 MiB)
# then, on the GPU machine, from the repository root (the pack travels with the tree):
#   bench/gpu/run.sh [PACK]
# `bench/gpu/run.sh --rehearse [PACK]` runs every step on a machine without a GPU, with the
# packed host build in the GPU's place and small sizes: it checks the script and the pack,
# not the GPU (the figures it prints compare the CPU with itself).
#
# In this order, each part with its own time limit so that the whole stays within
# GOSOK_GPU_BUDGET seconds (default 450):
#   1. the machine: nvidia-smi, gosok info of the CUDA build;
#   b. weather and md on the GPU and the same runs on the CPU (the host build, OpenMP on
#      every core), compared quantity by quantity within tests/support/backend_tolerances.json;
#   c. benchmarks at sizes that fill the GPU: weather thermal 4000 x 2000 (cell-updates/s),
#      md 4,000,000 Lennard-Jones atoms (atom-steps/s), and each main kernel's achieved
#      memory bandwidth against the H200's 4.8 TB/s (bench/gpu/report.py, from kernel times
#      taken by bench/gpu/libgosok_kernel_timer.so);
#   d. the energy those benchmark runs used (NVML, as gosok run records it);
#   a. the CUDA build's test suite (bench/gpu/run_tests.py) in the time that is left.
# The figures are printed; logs, diagnostics and kernel times are kept under $GOSOK_GPU_OUT
# (default: $OUT, the folder the device tool brings back; else build-gpupack/out). Large
# outputs (the benchmarks' HDF5 files) are deleted once their figures are taken.
set -uo pipefail
root=$(pwd)
rehearse=0
if [[ ${1:-} == --rehearse ]]; then
  rehearse=1
  shift
fi
pack=${1:-$root/build-gpupack/gosok-gpu.tar.xz}
budget=${GOSOK_GPU_BUDGET:-450}
out=${GOSOK_GPU_OUT:-${OUT:-$root/build-gpupack/out}}
started=$(date +%s)
mkdir -p "$out"
log() { printf '\n=== %s (%d s)\n' "$*" $(($(date +%s) - started)); }
left() { echo $((budget - ($(date +%s) - started))); }

[[ -f $pack ]] || { echo "run.sh: no pack at $pack (bench/gpu/pack.sh makes it)" >&2; exit 2; }
unpacked=$root/build-gpupack/unpacked
rm -rf "$unpacked" && mkdir -p "$unpacked" && xz -dc "$pack" | tar -C "$unpacked" -xf - || exit 2
# shellcheck disable=SC1091
source "$unpacked/manifest"
# The packed test programs know the folders they were built in; give those paths here.
link_here() {  # ORIGINAL_PATH TARGET
  if [[ ! -e $1 ]]; then mkdir -p "$(dirname "$1")" && ln -s "$2" "$1"; fi
}
link_here "$source_dir" "$root"
link_here "$cuda_build" "$unpacked/cuda"
link_here "$host_build" "$unpacked/host"
# MPI: the machine's own when it has one, else the packed Open MPI (relocated with
# OPAL_PREFIX); the tests were built to call /usr/bin/mpiexec.
export LD_LIBRARY_PATH="$unpacked/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ((rehearse)) || ! command -v mpiexec >/dev/null; then
  export OPAL_PREFIX=$unpacked/ompi PMIX_INSTALL_PREFIX=$unpacked/pmix PATH=$unpacked/ompi/bin:$PATH
  export PMIX_MCA_mca_base_component_path=$unpacked/pmix/lib/pmix
  export OMPI_MCA_mca_base_component_show_load_errors=0
  link_here /usr/bin/mpiexec "$unpacked/ompi/bin/mpiexec"
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
gpu=$unpacked/cuda/framework/cli/gosok
cpu=$unpacked/host/framework/cli/gosok
threads=$(nproc)
# Sizes: GPU-filling by default; a rehearsal runs the host build at a fraction of them.
nx=4000 nz=2000 steps=${GOSOK_GPU_WEATHER_STEPS:-300}
cells=${GOSOK_GPU_MD_CELLS:-100} md_steps=${GOSOK_GPU_MD_STEPS:-100}
if ((rehearse)); then
  echo "run.sh: rehearsal: the packed host build stands in for the GPU build"
  gpu=$cpu
  nx=400 nz=200 steps=20 cells=12 md_steps=20
  # Every library the packed programs load must come from the pack (or be glibc's or the
  # driver's, which the GPU machine has).
  outside=$(find "$unpacked" -type f \( -perm -u+x -o -name '*.so*' \) -print0 | xargs -0 file | grep ELF |
    cut -d: -f1 | xargs -n1 ldd 2>/dev/null | awk '$2 == "=>" { print $1, $3 }' | grep -v "$unpacked" |
    grep -Ev '^(linux-vdso|ld-linux|libc\.so|libm\.so|libpthread|libdl\.so|librt\.so|libutil|libresolv|libcuda\.so|libnvidia)' |
    sort -u)
  if [[ -n $outside ]]; then echo "rehearsal: libraries found outside the pack:"; echo "$outside"; fi
fi

log "1. the machine"
nvidia-smi --query-gpu=name,memory.total,power.limit,driver_version --format=csv 2>&1 | head -5
"$gpu" info 2>&1 | tee "$out/info.txt"

log "b. GPU against CPU ($threads OpenMP threads), within tests/support/backend_tolerances.json"
weather_cmp="run weather --set case=thermal --set nx=400 --set nz=200 --set end_time=100"
md_cmp="run md --set init=lattice --set lattice.nx=10 --set lattice.ny=10 --set lattice.nz=10 --set steps=300
  --set thermo.every=100"
agreement=0
for workload in weather md; do
  cmp_args=${workload}_cmp
  # shellcheck disable=SC2086
  timeout 120 "$gpu" ${!cmp_args} --results "$out/$workload-gpu" >"$out/$workload-gpu.log" 2>&1 ||
    { tail -20 "$out/$workload-gpu.log"; agreement=1; continue; }
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=$threads OMP_PROC_BIND=spread OMP_PLACES=threads timeout 120 "$cpu" ${!cmp_args} \
    --results "$out/$workload-cpu" >"$out/$workload-cpu.log" 2>&1 || { tail -20 "$out/$workload-cpu.log"; agreement=1; continue; }
  echo "--- $workload: CPU (reference) against GPU"
  python3 "$root/tests/support/compare_runs.py" "$workload" "$out/$workload-cpu" "$out/$workload-gpu" || agreement=1
done
echo "agreement: $([[ $agreement == 0 ]] && echo "every quantity within its tolerance" || echo FAILED)"

log "c. benchmarks at GPU-filling sizes, d. their energy"
timer=$unpacked/cuda/bench/gpu/libgosok_kernel_timer.so
bench() {  # NAME SECONDS ARGS...: a GPU run with kernel times, its step-loop time on stdout
  local name=$1 limit=$2
  shift 2
  KOKKOS_TOOLS_LIBS=$timer GOSOK_KERNEL_TIMES=$out/$name.kernels timeout "$limit" "$gpu" "$@" \
    --set run.progress_seconds=0 --results "$out/$name" >"$out/$name.log" 2>&1 || { tail -20 "$out/$name.log" >&2; return 1; }
  awk -v r="${name%%-*}::step" '$1 == r { print $5 }' "$out/$name.log"
}
if s=$(bench weather-bench 150 run weather --set case=thermal --set nx=$nx --set nz=$nz --set end_time=1e9 \
  --set run.max_steps="$steps"); then
  awk -v c=$((nx * nz * steps)) -v s="$s" -v n=$nx -v z=$nz -v k="$steps" \
    'BEGIN { printf "weather thermal %d x %d, %d steps: %.3f s, %.3e cell-updates/s\n", n, z, k, s, c / s }'
  python3 "$root/bench/gpu/report.py" weather "$out/weather-bench.kernels" $nx $nz
  python3 "$root/bench/gpu/report.py" energy "$out/weather-bench"
fi
rm -f "$out"/weather-bench/*.h5
atoms=$((4 * cells * cells * cells))
if s=$(bench md-bench 200 run md --set init=lattice --set lattice.nx=$cells --set lattice.ny=$cells \
  --set lattice.nz=$cells --set steps="$md_steps" --set thermo.every="$md_steps" --set neighbor.every=20 \
  --set neighbor.check=false); then
  awk -v a=$atoms -v s="$s" -v k="$md_steps" \
    'BEGIN { printf "md Lennard-Jones, %d atoms, %d steps: %.3f s, %.3e atom-steps/s\n", a, k, s, a * k / s }'
  # Half-list neighbours per atom: 2/3 pi (cutoff + skin)^3 density (2.5 + 0.3, 0.8442).
  python3 "$root/bench/gpu/report.py" md "$out/md-bench.kernels" $atoms 38.8
  python3 "$root/bench/gpu/report.py" energy "$out/md-bench"
fi
rm -f "$out"/md-bench/*.h5

log "a. the CUDA build's test suite ($(left) s left)"
# Left out: what needs tools a GPU node may lack (clang-format, CMake, LAMMPS, a test Slurm,
# the sqlite3 shell) and the scheduler, which has no GPU code.
exclude='format|install|docs_examples|sched|md_lammps'
python3 -c 'import h5py, MDAnalysis' 2>/dev/null || exclude+='|md_h5md'
if ((rehearse)); then
  echo "rehearsal: not run (the CUDA build's test programs need a GPU to start)"
else
  python3 "$root/bench/gpu/run_tests.py" "$unpacked/cuda/tests.json" --budget "$(($(left) - 10))" \
    --exclude "$exclude" | tee "$out/tests.txt"
fi

log "done"
