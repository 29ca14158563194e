#pragma once

#include <mpi.h>

#include <array>
#include <stdexcept>
#include <string>

namespace gosok {

/// A D-dimensional Cartesian process grid over MPI_Cart, and the block decomposition of a
/// global grid of cells over it.
///
/// Vocabulary: dimension 0 is the fastest-varying (x); `global[d]` cells in dimension d are
/// split into `dims[d]` blocks; this rank owns `extent(d)` cells starting at global index
/// `offset(d)`. `neighbor(d, -1)`/`neighbor(d, +1)` is the rank on the low/high side, or
/// MPI_PROC_NULL at a non-periodic wall. The remainder cells go to the lowest blocks, so the
/// decomposition depends only on (global, dims), never on timing.
template <int D>
class CartDecomposition {
 public:
  /// `split[d] == false` keeps dimension d whole on every rank (e.g. z in a column model).
  CartDecomposition(MPI_Comm comm, std::array<long, D> global, std::array<bool, D> periodic,
                    std::array<bool, D> split = filled(true))
      : m_global(global) {
    int size = 0;
    MPI_Comm_size(comm, &size);
    // MPI_Dims_create fills the free entries in non-increasing order, so dimension 0 (x)
    // gets the most blocks; entries fixed at 1 stay whole.
    for (int d = 0; d < D; ++d) m_dims[d] = split[d] ? 0 : 1;
    MPI_Dims_create(size, D, m_dims.data());
    for (int d = 0; d < D; ++d) {
      if (m_dims[d] > global[d]) {
        throw std::runtime_error("cannot split " + std::to_string(global[d]) + " cells in dimension " +
                                 std::to_string(d) + " over " + std::to_string(m_dims[d]) + " ranks");
      }
    }
    // MPI_Cart uses row-major coordinates: give it dimensions in reverse (slowest first).
    std::array<int, D> cart_dims{}, cart_periods{};
    for (int d = 0; d < D; ++d) {
      cart_dims[d] = m_dims[D - 1 - d];
      cart_periods[d] = periodic[D - 1 - d] ? 1 : 0;
    }
    MPI_Cart_create(comm, D, cart_dims.data(), cart_periods.data(), 0, &m_comm);
    MPI_Comm_rank(m_comm, &m_rank);
    MPI_Comm_size(m_comm, &m_size);
    std::array<int, D> cart_coords{};
    MPI_Cart_coords(m_comm, m_rank, D, cart_coords.data());
    for (int d = 0; d < D; ++d) m_coords[d] = cart_coords[D - 1 - d];
    for (int d = 0; d < D; ++d) {
      int lo = MPI_PROC_NULL, hi = MPI_PROC_NULL;
      MPI_Cart_shift(m_comm, D - 1 - d, 1, &lo, &hi);
      m_neighbors[d][0] = lo;
      m_neighbors[d][1] = hi;
      const long base = global[d] / m_dims[d];
      const long rem = global[d] % m_dims[d];
      const long c = m_coords[d];
      m_extent[d] = base + (c < rem ? 1 : 0);
      m_offset[d] = c * base + (c < rem ? c : rem);
    }
  }
  ~CartDecomposition() {
    if (m_comm != MPI_COMM_NULL) MPI_Comm_free(&m_comm);
  }
  CartDecomposition(const CartDecomposition&) = delete;
  CartDecomposition& operator=(const CartDecomposition&) = delete;

  MPI_Comm comm() const { return m_comm; }
  int rank() const { return m_rank; }
  int size() const { return m_size; }
  int dims(int d) const { return m_dims[d]; }
  int coord(int d) const { return m_coords[d]; }
  long global(int d) const { return m_global[d]; }
  long extent(int d) const { return m_extent[d]; }
  long offset(int d) const { return m_offset[d]; }
  int neighbor(int d, int side) const { return m_neighbors[d][side < 0 ? 0 : 1]; }
  bool at_low_wall(int d) const { return neighbor(d, -1) == MPI_PROC_NULL; }
  bool at_high_wall(int d) const { return neighbor(d, +1) == MPI_PROC_NULL; }

 private:
  static std::array<bool, D> filled(bool v) {
    std::array<bool, D> a{};
    a.fill(v);
    return a;
  }
  MPI_Comm m_comm = MPI_COMM_NULL;
  int m_rank = 0;
  int m_size = 1;
  std::array<long, D> m_global{};
  std::array<int, D> m_dims{};
  std::array<int, D> m_coords{};
  std::array<long, D> m_extent{};
  std::array<long, D> m_offset{};
  std::array<std::array<int, 2>, D> m_neighbors{};
};

}  // namespace gosok
