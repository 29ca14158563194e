#include <hdf5.h>
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <iostream>
#include <sstream>

#include <gosok/core/error.hpp>
#include <gosok/core/version.hpp>
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
    std::cout << "usage: gosok info\nPrints versions of gosok and of the libraries it was built with.\n";
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
  std::cout << "gosok      " << version() << " (git " << git_hash() << ")\n"
            << "Kokkos     " << kokkos_version() << ", backends: " << kokkos_backends()
            << ", default execution space: " << Kokkos::DefaultExecutionSpace::name() << "\n"
            << "devices    " << devices() << "\n"
            << "MPI        " << mpi << " (MPI standard " << mpi_major << "." << mpi_minor << ")\n"
            << "HDF5       " << h5_major << "." << h5_minor << "." << h5_release << " (" << h5_parallel << ")\n"
            << "workloads  " << workloads.names_list() << "\n";
  return 0;
}

}  // namespace

void register_info_command(CommandRegistry& commands, const WorkloadRegistry& workloads) {
  commands.add(
      {"info", "versions of gosok, Kokkos, MPI and HDF5; devices",
       [&workloads](const std::vector<std::string>& args, int&, char**) { return info_command(workloads, args); }});
}

}  // namespace gosok
