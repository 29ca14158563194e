#pragma once

#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <array>
#include <stdexcept>
#include <string>

#include <gosok/parallel/cart.hpp>
#include <gosok/parallel/mpi_buffers.hpp>

namespace gosok {

namespace impl {

/// Copies the face layers of NF fields in dimension d between the fields and a pack
/// buffer: `pack` reads layers layer0 + l of the fields into the buffer, else the buffer
/// is written into them. The buffer holds (field, layer, cell along the face) row-major.
template <class Field, class Buffer, int NF>
struct HaloFace {
  Kokkos::Array<Field, NF> views;
  Buffer buf;
  long w, count, along0, layer0;
  int d;
  bool pack;
  KOKKOS_INLINE_FUNCTION void operator()(const int f, const long l, const long a) const {
    const long idx = (f * w + l) * count + a;
    double& cell = d == 0 ? views[f](along0 + a, layer0 + l) : views[f](layer0 + l, along0 + a);
    if (pack) {
      buf(idx) = cell;
    } else {
      cell = buf(idx);
    }
  }
};

}  // namespace impl

/// Halo exchange for fields on a 2-D block-decomposed grid.
///
/// Vocabulary: a *field* is a View<double**, LayoutRight> indexed (j, i): i along
/// dimension 0 (x, contiguous), j along dimension 1 (y or z). Each field has `width` ghost
/// layers on every side: extent (ny + 2w, nx + 2w), owned cells at [w, w+n). *Export* is
/// packing the owned layers next to a face and sending them; *import* is receiving the
/// neighbour's layers into the ghost cells. Dimension 0 is exchanged first over owned rows,
/// then dimension 1 over full rows including the x ghosts, so corners arrive in two hops.
/// At a non-periodic wall (no neighbour) the ghosts are left to the physics' boundary
/// condition.
///
/// The object is built once per grid: it owns a duplicated communicator and persistent
/// pack buffers for up to `max_fields` fields; `exchange` allocates nothing. A single rank
/// runs the same path (sending to itself across a periodic boundary). `buffers` says how
/// the pack buffers reach MPI: directly, or staged through pinned host memory (see
/// MpiBufferPolicy); only the packed faces cross between host and device, never a field.
template <class MemorySpace>
class GridHalo2D {
 public:
  using field_type = Kokkos::View<double**, Kokkos::LayoutRight, MemorySpace>;
  using buffer_type = MpiBuffer<MemorySpace>;

  GridHalo2D(const CartDecomposition<2>& decomp, int width, int max_fields, const MpiBufferPolicy& buffers)
      : m_nx(decomp.extent(0)), m_ny(decomp.extent(1)), m_width(width), m_max_fields(max_fields) {
    MPI_Comm_dup(decomp.comm(), &m_comm);
    for (int d = 0; d < 2; ++d) {
      for (int s = 0; s < 2; ++s) m_neighbor[d][s] = decomp.neighbor(d, s == 0 ? -1 : +1);
    }
    if (m_nx < width || m_ny < width) {
      throw std::runtime_error("halo width " + std::to_string(width) + " exceeds the local block " +
                               std::to_string(m_nx) + " x " + std::to_string(m_ny) +
                               "; use fewer ranks or a larger grid");
    }
    const long len = max_fields * width * std::max(m_ny, m_nx + 2L * width);
    for (int s = 0; s < 2; ++s) {
      m_send[s] = buffer_type("gosok::halo::send", buffers, len);
      m_recv[s] = buffer_type("gosok::halo::recv", buffers, len);
    }
  }
  ~GridHalo2D() {
    if (m_comm != MPI_COMM_NULL) MPI_Comm_free(&m_comm);
  }
  GridHalo2D(const GridHalo2D&) = delete;
  GridHalo2D& operator=(const GridHalo2D&) = delete;

  int width() const { return m_width; }

  template <class ExecSpace, class... Fields>
  void exchange(const ExecSpace& exec, const Fields&... fields) {
    constexpr int nf = sizeof...(Fields);
    if (nf > m_max_fields) throw std::runtime_error("GridHalo2D: more fields than it was built for");
    Kokkos::Array<field_type, nf> views{field_type(fields)...};
    exchange_dim<ExecSpace, nf>(exec, views, 0);
    exchange_dim<ExecSpace, nf>(exec, views, 1);
  }

  /// Exchanges the ghosts of one dimension only (0: x over owned rows, 1: y over full rows).
  /// Dimensionally split schemes need only the ghosts along the direction they sweep.
  template <class ExecSpace, class... Fields>
  void exchange_dimension(const ExecSpace& exec, int dimension, const Fields&... fields) {
    constexpr int nf = sizeof...(Fields);
    if (nf > m_max_fields) throw std::runtime_error("GridHalo2D: more fields than it was built for");
    if (dimension != 0 && dimension != 1) throw std::runtime_error("GridHalo2D: dimension must be 0 or 1");
    Kokkos::Array<field_type, nf> views{field_type(fields)...};
    exchange_dim<ExecSpace, nf>(exec, views, dimension);
  }

 private:
  // Face geometry in dimension d: `count` cells along the face per layer, starting at
  // `along0` in the other index. Layers are index w+l (low export), n+l (high export),
  // l (low import) and n+w+l (high import) in index d.
  template <class ExecSpace, int NF>
  void exchange_dim(const ExecSpace& exec, const Kokkos::Array<field_type, NF>& views, int d) {
    const long w = m_width;
    const long n = d == 0 ? m_nx : m_ny;
    const long count = d == 0 ? m_ny : m_nx + 2 * w;
    const long along0 = d == 0 ? w : 0;
    const long len = NF * w * count;
    using policy = Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<3>>;
    const policy range(exec, {0, 0, 0}, {NF, w, count});

    using face = impl::HaloFace<field_type, typename buffer_type::view_type, NF>;
    for (int s = 0; s < 2; ++s) {
      if (m_neighbor[d][s] == MPI_PROC_NULL) continue;
      const long layer0 = s == 0 ? w : n;
      Kokkos::parallel_for("gosok::halo::pack", range,
                           face{views, m_send[s].view(), w, count, along0, layer0, d, true});
    }
    exec.fence();

    MPI_Request req[4];
    int nreq = 0;
    for (int s = 0; s < 2; ++s) {
      if (m_neighbor[d][s] == MPI_PROC_NULL) continue;
      // The message from my low neighbour was sent to its high side (tag s^1 there).
      MPI_Irecv(m_recv[s].incoming(0), static_cast<int>(len), MPI_DOUBLE, m_neighbor[d][s], 2 * d + (1 - s), m_comm,
                &req[nreq++]);
    }
    for (int s = 0; s < 2; ++s) {
      if (m_neighbor[d][s] == MPI_PROC_NULL) continue;
      MPI_Isend(m_send[s].outgoing(0, len), static_cast<int>(len), MPI_DOUBLE, m_neighbor[d][s], 2 * d + s, m_comm,
                &req[nreq++]);
    }
    const int rc = MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) throw std::runtime_error("gosok::halo: MPI_Waitall failed");

    for (int s = 0; s < 2; ++s) {
      if (m_neighbor[d][s] == MPI_PROC_NULL) continue;
      m_recv[s].arrived(0, len);
      const long layer0 = s == 0 ? 0 : n + w;
      Kokkos::parallel_for("gosok::halo::unpack", range,
                           face{views, m_recv[s].view(), w, count, along0, layer0, d, false});
    }
    exec.fence();
  }

  MPI_Comm m_comm = MPI_COMM_NULL;
  long m_nx;
  long m_ny;
  int m_width;
  int m_max_fields;
  std::array<std::array<int, 2>, 2> m_neighbor{};
  std::array<buffer_type, 2> m_send;
  std::array<buffer_type, 2> m_recv;
};

}  // namespace gosok
