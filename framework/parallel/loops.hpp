#pragma once

#include <Kokkos_Core.hpp>
#include <string>

namespace gosok {

/// Runs `body(j, i)` on every cell of the box [j0, j1) x [i0, i1) of a 2-D grid, as one
/// labelled kernel. On a host execution space the kernel is a RangePolicy over rows j whose
/// body walks i in a plain contiguous loop, which compilers unroll and vectorise and which
/// avoids MDRange tiling overhead on the Serial backend; on a device it is an MDRangePolicy
/// with i fastest. `body` is a KOKKOS_LAMBDA or a functor with operator()(long j, long i).
template <class ExecSpace, class Body>
void for_each_cell(const std::string& label, const ExecSpace& exec, long j0, long j1, long i0, long i1,
                   const Body& body) {
  if (j1 <= j0 || i1 <= i0) return;
  if constexpr (Kokkos::SpaceAccessibility<ExecSpace, Kokkos::HostSpace>::accessible) {
    Kokkos::parallel_for(
        label, Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<long>>(exec, j0, j1), KOKKOS_LAMBDA(const long j) {
          // A local copy: the compiler then knows the body's View handles cannot change
          // under the stores of the loop, and keeps them in registers.
          const Body local = body;
      // Cells of a parallel_for are independent by contract, so the compiler may
      // vectorise without proving that the body's Views do not alias.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC ivdep
#endif
          for (long i = i0; i < i1; ++i) local(j, i);
        });
  } else {
    using policy = Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>, Kokkos::IndexType<long>>;
    Kokkos::parallel_for(label, policy(exec, {j0, i0}, {j1, i1}), body);
  }
}

}  // namespace gosok
