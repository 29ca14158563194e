#!/usr/bin/env bash
# Packs what the GPU check (bench/gpu/run.sh) needs on a machine that has an NVIDIA driver
# but possibly no MPI, HDF5 or CMake: the CUDA build's executables and test programs, the
# host (OpenMP) build's gosok for the CPU side of the comparison, every shared library they
# load (found with ldd, except glibc and the NVIDIA driver, which must come from the GPU
# machine), and an Open MPI runtime (mpirun, orted, the components a single node needs,
# their help texts). Executables are stripped; the whole is one xz tarball.
#
# usage: bench/gpu/pack.sh [CUDA_BUILD] [HOST_BUILD] [OUT]
#        (defaults: build-cuda, build-omp, build-gpupack; run from the repository root)
# Prints the tarball's size; the device tool carries at most 64 MiB, so it fails above that.
set -euo pipefail
cuda_build=$(cd "${1:-build-cuda}" && pwd)
host_build=$(cd "${2:-build-omp}" && pwd)
out=${3:-build-gpupack}
source_dir=$(pwd)
limit=$((64 * 1024 * 1024))
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

for f in "$cuda_build/framework/cli/gosok-run" "$host_build/framework/cli/gosok-run"; do
  [[ -x $f ]] || { echo "pack: $f is missing; build both trees first" >&2; exit 1; }
done
kokkos_dir=$(sed -n 's/^Kokkos_DIR:PATH=//p' "$cuda_build/CMakeCache.txt")
grep -q "define KOKKOS_ENABLE_CUDA" "$kokkos_dir/../../../include/KokkosCore_config.h" ||
  { echo "pack: $cuda_build is not built against a CUDA Kokkos ($kokkos_dir)" >&2; exit 1; }

# copy FILE DEST_DIR: a file of a build tree, stripped when it is an ELF object.
copy() {
  mkdir -p "$2"
  cp -L "$1" "$2/"
  local copied
  copied="$2/$(basename "$1")"
  if file -b "$copied" | grep -q ELF; then strip --strip-unneeded "$copied" 2>/dev/null || true; fi
}

# The CUDA build, at the same relative paths (its tests find each other through them).
for f in framework/cli/gosok framework/cli/gosok-run bench/weather/weather_bench.sh; do
  copy "$cuda_build/$f" "$stage/cuda/$(dirname "$f")"
done
while IFS= read -r -d '' f; do
  copy "$f" "$stage/cuda/$(dirname "${f#"$cuda_build"/}")"
done < <(find "$cuda_build/tests" "$cuda_build/bench" "$cuda_build/framework/scheduler" -maxdepth 2 -type f \
  \( -name 'unit_test_*' -o -name 'mpi_test_*' -o -name 'integration_test_*' -o -name '*.so' \) -perm -u+x -print0)
find "$cuda_build" -name '*.so' -path '*fake_nvml*' -exec cp {} "$stage/cuda/tests/" \;
find "$cuda_build/bench/gpu" -name 'libgosok_kernel_timer.so' -exec cp {} "$stage/cuda/bench/gpu/" \; 2>/dev/null || true
# The suite as ctest knows it: commands, environment, timeouts (bench/gpu/run_tests.py).
ctest --test-dir "$cuda_build" --show-only=json-v1 >"$stage/cuda/tests.json"

# The host build's gosok, for the CPU runs the GPU is compared with.
for f in framework/cli/gosok framework/cli/gosok-run; do copy "$host_build/$f" "$stage/host/$(dirname "$f")"; done

# Open MPI: launcher, daemon, help texts, and the components a single node uses (those that
# need network fabrics — verbs, libfabric, UCX, PSM — are left out).
ompi_lib=/usr/lib/x86_64-linux-gnu/openmpi/lib
mkdir -p "$stage/ompi/bin" "$stage/ompi/lib/x86_64-linux-gnu/openmpi/lib/openmpi3" "$stage/ompi/share"
for b in mpirun mpiexec orterun orted; do cp -L "/usr/bin/$b" "$stage/ompi/bin/"; done
cp -r /usr/share/openmpi "$stage/ompi/share/"
skip='libfabric|libibverbs|libucp|libucs|libuct|libucm|libpsm|libinfinipath|librdmacm|libefa'
for c in "$ompi_lib"/openmpi3/*.so; do
  if ! ldd "$c" | grep -Eq "$skip"; then cp "$c" "$stage/ompi/lib/x86_64-linux-gnu/openmpi/lib/openmpi3/"; fi
done
# Debian's Open MPI uses the external PMIx, whose own components and help texts live under
# its prefix (relocated with PMIX_INSTALL_PREFIX).
pmix=/usr/lib/x86_64-linux-gnu/pmix2
mkdir -p "$stage/pmix/lib"
cp -r "$pmix/lib/pmix" "$stage/pmix/lib/"
cp -r "$pmix/share" "$stage/pmix/"

# Every shared library those files load, except glibc's and the NVIDIA driver's.
system='^(linux-vdso|ld-linux|libc\.so|libm\.so|libpthread|libdl\.so|librt\.so|libutil|libresolv|libcuda\.so|libnvidia)'
mkdir -p "$stage/lib"
while IFS= read -r -d '' f; do
  file -b "$f" | grep -q ELF || continue
  ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }'
done < <(find "$stage" -type f -print0) | sort -u | while read -r name path; do
  [[ $name =~ $system ]] && continue
  [[ -e "$stage/lib/$name" ]] || cp -L "$path" "$stage/lib/$name"
done

cat >"$stage/manifest" <<EOF
source_dir=$source_dir
cuda_build=$cuda_build
host_build=$host_build
packed_at=$(date -u +%FT%TZ)
git=$(git -C "$source_dir" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
EOF

mkdir -p "$out"
tar -C "$stage" -cf - . | xz -T2 -6 >"$out/gosok-gpu.tar.xz"
size=$(stat -c %s "$out/gosok-gpu.tar.xz")
echo "pack: $out/gosok-gpu.tar.xz: $((size / 1024 / 1024)) MiB ($(du -sh "$stage" | cut -f1) unpacked;" \
  "$(find "$stage/lib" -type f | wc -l) libraries)"
if ((size > limit)); then
  echo "pack: larger than the 64 MiB the device tool carries" >&2
  exit 1
fi
