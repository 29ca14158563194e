#include <gosok/parallel/mpi_buffers.hpp>

// Open MPI and MPICH declare their GPU-support queries in mpi-ext.h.
#if defined(__has_include)
#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h>
#endif
#endif

#include <gosok/core/error.hpp>

namespace gosok {

MpiGpuSupport query_mpi_gpu_support() {
#if defined(MPIX_CUDA_AWARE_SUPPORT)
  // Open MPI: the macro says the library was built with the query; the call says whether
  // CUDA support is on in the library this process actually loaded.
  const int aware = MPIX_Query_cuda_support();
  return {aware == 1, "MPIX_Query_cuda_support() = " + std::to_string(aware)};
#elif defined(MPIX_GPU_SUPPORT_CUDA)
  int aware = 0;
  if (MPIX_GPU_query_support(MPIX_GPU_SUPPORT_CUDA, &aware) != MPI_SUCCESS) aware = 0;
  return {aware == 1, "MPIX_GPU_query_support(CUDA) = " + std::to_string(aware)};
#else
  return {false, "this MPI has no query for CUDA support in mpi-ext.h"};
#endif
}

MpiBufferPolicy MpiBufferPolicy::choose(const std::string& choice, bool device_memory) {
  if (choice == "direct") return direct("run.mpi_buffers = \"direct\"");
  if (choice == "staged") return staged("run.mpi_buffers = \"staged\"");
  if (choice != "auto") {
    throw InputError("run.mpi_buffers = \"" + choice + "\": allowed values are auto, direct, staged");
  }
  if (!device_memory) return direct("fields are in host memory");
  const MpiGpuSupport support = query_mpi_gpu_support();
  if (support.cuda_aware) return direct("MPI is CUDA-aware: " + support.how);
  return staged("MPI is not CUDA-aware: " + support.how);
}

}  // namespace gosok
