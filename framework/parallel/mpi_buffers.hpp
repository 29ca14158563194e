#pragma once

#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <string>
#include <utility>

namespace gosok {

/// Whether the MPI library this process runs with can read and write CUDA device memory,
/// asked at run time (after MPI_Init): Open MPI's MPIX_Query_cuda_support() or MPICH's
/// MPIX_GPU_query_support(). `how` says which query answered, or why none could.
struct MpiGpuSupport {
  bool cuda_aware = false;
  std::string how;
};
MpiGpuSupport query_mpi_gpu_support();

/// How the communication classes (GridHalo2D, ParticleComm) hand their message buffers to
/// MPI. Chosen once per run and given to every communication object it builds.
///
/// Vocabulary: *direct* — MPI sends from and receives into the very buffers the pack and
/// unpack kernels use, in the memory space of the fields (host memory on a CPU build,
/// device memory with a CUDA-aware MPI). *staged* — every message is copied to a pinned
/// host twin of its buffer after packing and back from it after receiving, so MPI only
/// ever sees host memory. Staging is correct everywhere and costs two copies per message;
/// on a CPU build it is never needed, but choosing it there runs the same copies, which
/// is how the CPU test suite covers the path GPUs without a CUDA-aware MPI take.
class MpiBufferPolicy {
 public:
  static MpiBufferPolicy direct(std::string reason) { return MpiBufferPolicy(false, std::move(reason)); }
  static MpiBufferPolicy staged(std::string reason) { return MpiBufferPolicy(true, std::move(reason)); }
  /// `choice` is "direct", "staged" or "auto" (the input key run.mpi_buffers); auto is direct
  /// when the fields live in host-accessible memory or MPI is CUDA-aware, staged
  /// otherwise. Call after MPI_Init. Throws InputError for any other choice.
  static MpiBufferPolicy choose(const std::string& choice, bool device_memory);
  /// `choose` for buffers in MemorySpace.
  template <class MemorySpace>
  static MpiBufferPolicy choose_for(const std::string& choice) {
    return choose(choice, !Kokkos::SpaceAccessibility<Kokkos::HostSpace, MemorySpace>::accessible);
  }

  bool staged() const { return m_staged; }
  const char* name() const { return m_staged ? "staged" : "direct"; }
  /// E.g. "staged (MPI is not CUDA-aware: MPIX_Query_cuda_support() = 0)".
  std::string describe() const { return std::string(name()) + " (" + m_reason + ")"; }

 private:
  MpiBufferPolicy(bool staged, std::string reason) : m_staged(staged), m_reason(std::move(reason)) {}
  bool m_staged = false;
  std::string m_reason;
};

/// Pinned (page-locked) host memory where the device backend has it, so that staging
/// copies run at full bus speed; plain host memory on a host-only build.
#if defined(KOKKOS_HAS_SHARED_HOST_PINNED_SPACE)
using StagingSpace = Kokkos::SharedHostPinnedSpace;
#elif defined(KOKKOS_ENABLE_CUDA)
using StagingSpace = Kokkos::CudaHostPinnedSpace;
#else
using StagingSpace = Kokkos::HostSpace;
#endif

/// One persistent message buffer of doubles in MemorySpace, handed to MPI according to a
/// MpiBufferPolicy. Kernels pack into and unpack from view(); MPI calls take outgoing()
/// and incoming(), and a completed receive is finished with arrived(). With the direct
/// policy these are the view's own memory and arrived() does nothing; with the staged one
/// they are the pinned twin and the copies happen here, for the used range only.
template <class MemorySpace>
class MpiBuffer {
 public:
  using view_type = Kokkos::View<double*, MemorySpace>;

  MpiBuffer() = default;
  MpiBuffer(std::string label, const MpiBufferPolicy& policy, long size = 0)
      : m_label(std::move(label)), m_staged(policy.staged()) {
    reserve(size, false);
  }

  const view_type& view() const { return m_view; }
  long size() const { return static_cast<long>(m_view.extent(0)); }

  /// Grows to at least `n` values (by half again, so that growth stays amortised). With
  /// `keep` the values already packed survive.
  void reserve(long n, bool keep) {
    if (n <= size()) return;
    const long c = n + n / 2 + 64;
    if (keep && size() > 0) {
      Kokkos::resize(m_view, c);
    } else {
      m_view = view_type(Kokkos::view_alloc(Kokkos::WithoutInitializing, m_label), c);
    }
    if (m_staged) m_host = host_type(Kokkos::view_alloc(Kokkos::WithoutInitializing, m_label + "::staging"), c);
  }

  /// The `n` values at `offset` as MPI sends them; the packing kernels must have finished.
  const double* outgoing(long offset, long n) {
    if (!m_staged) return m_view.data() + offset;
    Kokkos::deep_copy(range(m_host, offset, n), range(m_view, offset, n));
    return m_host.data() + offset;
  }
  /// Where MPI receives values destined for `offset`.
  double* incoming(long offset) { return (m_staged ? m_host.data() : m_view.data()) + offset; }
  /// After the receive of `n` values at `offset` completed: makes them visible in view().
  void arrived(long offset, long n) {
    if (m_staged) Kokkos::deep_copy(range(m_view, offset, n), range(m_host, offset, n));
  }

 private:
  using host_type = Kokkos::View<double*, StagingSpace>;
  template <class View>
  static auto range(const View& v, long offset, long n) {
    return Kokkos::subview(v, std::make_pair(offset, offset + n));
  }

  std::string m_label;
  bool m_staged = false;
  view_type m_view;
  host_type m_host;
};

}  // namespace gosok
