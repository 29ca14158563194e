#include <hdf5.h>
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <iostream>
#include <sstream>

#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/core/gpu_energy.hpp>
#include <gosok/core/version.hpp>
#include <gosok/parallel/mpi_buffers.hpp>
#include <gosok/workload/workload.hpp>
#include "commands.hpp"

#if defined(KOKKOS_ENABLE_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace gosok {
namespace {

std::string kokkos_version() {
  std::ostringstream os;
#if defined(KOKKOS_VERSION)
  os << KOKKOS_VERSION / 10000 << "." << KOKKOS_VERSION / 100 % 100 << "." << KOKKOS_VERSION % 100;
#else
  os << "unknown";
#endif
  return os.str();
}

std::string kokkos_backends() {
  std::string s;
  auto add = [&s](const char* name) { s += (s.empty() ? "" : ", ") + std::string(name); };
#if defined(KOKKOS_ENABLE_SERIAL)
  add("Serial");
#endif
#if defined(KOKKOS_ENABLE_OPENMP)
  add("OpenMP");
#endif
#if defined(KOKKOS_ENABLE_THREADS)
  add("Threads");
#endif
#if defined(KOKKOS_ENABLE_CUDA)
  add("Cuda");
#endif
#if defined(KOKKOS_ENABLE_HIP)
  add("HIP");
#endif
#if defined(KOKKOS_ENABLE_SYCL)
  add("SYCL");
#endif
  return s;
}

/// The device architectures Kokkos compiled kernels for (its KOKKOS_ARCH_* macros).
std::string device_architectures() {
  std::string s;
  [[maybe_unused]] auto add = [&s](const char* name) { s += (s.empty() ? "" : ", ") + std::string(name); };
#if defined(KOKKOS_ARCH_VOLTA70)
  add("Volta70 (sm_70)");
#endif
#if defined(KOKKOS_ARCH_AMPERE80)
  add("Ampere80 (sm_80)");
#endif
#if defined(KOKKOS_ARCH_AMPERE86)
  add("Ampere86 (sm_86)");
#endif
#if defined(KOKKOS_ARCH_ADA89)
  add("Ada89 (sm_89)");
#endif
#if defined(KOKKOS_ARCH_HOPPER90)
  add("Hopper90 (sm_90)");
#endif
#if defined(KOKKOS_ARCH_BLACKWELL100)
  add("Blackwell100 (sm_100)");
#endif
#if defined(KOKKOS_ARCH_AMD_GFX90A)
  add("AMD gfx90a");
#endif
#if defined(KOKKOS_ARCH_AMD_GFX942)
  add("AMD gfx942");
#endif
  return s.empty() ? "none (host backends only)" : s;
}

std::string devices() {
#if defined(KOKKOS_ENABLE_CUDA)
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) count = 0;
  std::string s = std::to_string(count) + " CUDA device(s)";
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) == cudaSuccess) s += std::string("; ") + prop.name;
  }
  return s;
#else
  return "host only (no GPU backend enabled)";
#endif
}

int info_command(const WorkloadRegistry& workloads, const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << "usage: gosok info\nPrints versions of gosok and of the libraries it was built with, the Kokkos\n"
                 "backends and device architectures, the GPUs, whether MPI is CUDA-aware and how halo\n"
                 "messages would reach it, whether GPU energy can be measured, and every environment\n"
                 "variable gosok reads with its value here and its meaning.\n";
    return 0;
  }
  if (!args.empty()) throw InputError("unexpected argument '" + args[0] + "' (gosok info takes none)");
  char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(mpi_version, &length);  // allowed before MPI_Init
  std::string mpi(mpi_version, static_cast<std::size_t>(length));
  if (auto nl = mpi.find_first_of("\n,"); nl != std::string::npos) mpi.resize(nl);
  int mpi_major = 0, mpi_minor = 0;
  MPI_Get_version(&mpi_major, &mpi_minor);
  unsigned h5_major = 0, h5_minor = 0, h5_release = 0;
  H5get_libversion(&h5_major, &h5_minor, &h5_release);
#if defined(H5_HAVE_PARALLEL)
  const char* h5_parallel = "parallel";
#else
  const char* h5_parallel = "serial";
#endif
  // The CUDA-awareness query and the buffer policy need a running MPI (a singleton here).
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) MPI_Init(nullptr, nullptr);
  const MpiGpuSupport gpu_support = query_mpi_gpu_support();
  const MpiBufferPolicy buffers = MpiBufferPolicy::choose_for<Kokkos::DefaultExecutionSpace::memory_space>("auto");
  if (!initialized) MPI_Finalize();
  const NvmlEnergyCounters nvml;
  const std::string energy = nvml.error().empty() ? "NVML energy counters of " + std::to_string(nvml.gpus()) +
                                                        " GPU(s); each run records its joules in diagnostics.json"
                                                  : "not measured: " + nvml.error();
  std::cout << "gosok      " << version() << " (git " << git_hash() << ")\n"
            << "Kokkos     " << kokkos_version() << ", backends: " << kokkos_backends()
            << ", default execution space: " << Kokkos::DefaultExecutionSpace::name() << "\n"
            << "built for  " << device_architectures() << "\n"
            << "devices    " << devices() << "\n"
            << "MPI        " << mpi << " (MPI standard " << mpi_major << "." << mpi_minor
            << "); CUDA-aware: " << (gpu_support.cuda_aware ? "yes" : "no") << " (" << gpu_support.how << ")\n"
            << "buffers    run.mpi_buffers = auto: " << buffers.describe() << "\n"
            << "HDF5       " << h5_major << "." << h5_minor << "." << h5_release << " (" << h5_parallel << ")\n"
            << "energy     " << energy << "\n"
            << "workloads  " << workloads.names_list() << "\n"
            << "environment (every variable gosok reads)\n"
            << describe_environment();
  return 0;
}

}  // namespace

void register_info_command(CommandRegistry& commands, const WorkloadRegistry& workloads) {
  commands.add(
      {"info", "versions of gosok, Kokkos, MPI and HDF5; backends, devices, MPI GPU support, energy",
       [&workloads](const std::vector<std::string>& args, int&, char**) { return info_command(workloads, args); }});
}

}  // namespace gosok
