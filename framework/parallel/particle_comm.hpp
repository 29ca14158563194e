#pragma once

#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <array>
#include <cmath>
#include <string>

#include <gosok/core/error.hpp>
#include <gosok/parallel/cart.hpp>
#include <gosok/parallel/mpi_buffers.hpp>
#include <gosok/parallel/particles.hpp>

namespace gosok {

namespace impl {

/// Wraps owned particles into the periodic box, counting the wraps in `image`: the same
/// remap as LAMMPS' Domain::pbc(), so a trajectory read back matches it.
template <class Vec, class IVec>
struct WrapIntoBox {
  Vec x;
  IVec image;
  Kokkos::Array<double, 3> lo, hi, len;
  KOKKOS_INLINE_FUNCTION void operator()(const long i) const {
    for (int d = 0; d < 3; ++d) {
      if (x(i, d) < lo[d]) {
        x(i, d) += len[d];
        image(i, d) -= 1;
      }
      if (x(i, d) >= hi[d]) {
        x(i, d) -= len[d];
        x(i, d) = x(i, d) > lo[d] ? x(i, d) : lo[d];
        image(i, d) += 1;
      }
    }
  }
};

/// The slab of dimension d a coordinate falls in, of `dims` slabs from `lo` (clamped;
/// truncation maps (-1, 0) to 0 anyway).
struct Slab {
  double lo, scale;
  int dims;
  KOKKOS_INLINE_FUNCTION int operator()(double x) const {
    const int c = static_cast<int>((x - lo) * scale);
    return c < 0 ? 0 : (c >= dims ? dims - 1 : c);
  }
};

/// Lists, in index order, the particles whose slab in dimension d is (`inside`) or is not
/// this rank's; with `width` > 0 the positions are rows of a message buffer instead.
template <class Vec, class Buffer, class Index>
struct SelectBySlab {
  Vec x;
  Buffer rows;
  int width;
  int d;
  Slab slab;
  int mine;
  bool inside;
  Index out;
  KOKKOS_INLINE_FUNCTION void operator()(const long i, long& offset, const bool final) const {
    const double xd = width > 0 ? rows(width * i + d) : x(i, d);
    if ((slab(xd) == mine) == inside) {
      if (final) out(offset) = static_cast<int>(i);
      ++offset;
    }
  }
};

/// Copies the rows `take` of one buffer into consecutive rows of another.
template <class Buffer, class Index>
struct GatherRows {
  Buffer to, from;
  Index take;
  int width;
  KOKKOS_INLINE_FUNCTION void operator()(const long k) const {
    for (int c = 0; c < width; ++c) to(width * k + c) = from(width * take(k) + c);
  }
};

/// Packs particles rows(k) into consecutive rows of a buffer from `offset` on, or (without
/// `rows`) unpacks consecutive rows into particles dest + k.
template <class Particles, class Index, class Buffer>
struct ParticleRows {
  Particles p;
  Index rows;
  Buffer buf;
  long offset;
  int width;
  bool pack;
  long dest;
  KOKKOS_INLINE_FUNCTION void operator()(const long k) const {
    if (pack) {
      pack_particle(p, rows(k), &buf(offset + width * k));
    } else {
      unpack_particle(p, dest + k, &buf(offset + width * k));
    }
  }
};

}  // namespace impl

/// Particle communication for a 3-D spatial decomposition of a periodic box.
///
/// Vocabulary: the box is split evenly over the ranks of a CartDecomposition<3> topology;
/// each rank owns the particles inside its *sub-box*. *Migration* wraps owned particles
/// back into the periodic box (counting images) and hands those that left the sub-box to
/// the rank that now owns them. *Ghost building* (LAMMPS calls it "borders") copies every
/// particle within `ghost_cutoff` of a face to the neighbour across it, one dimension after
/// the other (ghosts of dimension 0 are forwarded in dimension 1, so edges and corners
/// arrive in two or three hops), shifting positions by the box length across a periodic
/// face; it records, per *swap* (one dimension, one direction), which particles were sent.
/// *Forward* communication refreshes ghost positions through those recorded swaps; *reverse*
/// communication adds the forces accumulated on ghosts back into their owners, so that a
/// half neighbour list with Newton's third law is exact across ranks.
///
/// Built once per run: it owns a duplicated communicator and persistent buffers that grow
/// but are never freed between steps. A single rank takes the same path (it sends to
/// itself across its periodic faces). Each sub-box must be at least `ghost_cutoff` long,
/// so that one swap per direction suffices. Particles stay in MemorySpace throughout: only
/// the packed messages reach MPI, directly or staged through pinned host memory as
/// `buffers` says (MpiBufferPolicy).
template <class MemorySpace>
class ParticleComm {
 public:
  using particles_type = Particles<MemorySpace>;
  using buffer_type = MpiBuffer<MemorySpace>;
  using index_type = Kokkos::View<int*, MemorySpace>;

  ParticleComm(const CartDecomposition<3>& topology, const Box3& box, double ghost_cutoff,
               const MpiBufferPolicy& buffers)
      : m_box(box),
        m_cutoff(ghost_cutoff),
        m_send("gosok::particle_comm::send", buffers),
        m_recv("gosok::particle_comm::recv", buffers) {
    MPI_Comm_dup(topology.comm(), &m_comm);
    for (int d = 0; d < 3; ++d) {
      m_dims[d] = topology.dims(d);
      m_coord[d] = topology.coord(d);
      m_neighbor[d][0] = topology.neighbor(d, -1);
      m_neighbor[d][1] = topology.neighbor(d, +1);
      const double length = box.length(d);
      m_sub.lo[d] = box.lo[d] + length * m_coord[d] / m_dims[d];
      m_sub.hi[d] = box.lo[d] + length * (m_coord[d] + 1) / m_dims[d];
      if (length / m_dims[d] < ghost_cutoff) {
        throw InputError("the box is " + std::to_string(length) + " long in dimension " + std::to_string(d) +
                         ", split over " + std::to_string(m_dims[d]) + " ranks, which is shorter than the ghost " +
                         "cutoff " + std::to_string(ghost_cutoff) + " (force cutoff + skin): use fewer ranks or " +
                         "a larger system");
      }
    }
  }
  ~ParticleComm() {
    if (m_comm != MPI_COMM_NULL) MPI_Comm_free(&m_comm);
  }
  ParticleComm(const ParticleComm&) = delete;
  ParticleComm& operator=(const ParticleComm&) = delete;

  const Box3& box() const { return m_box; }
  const Box3& sub_box() const { return m_sub; }
  double ghost_cutoff() const { return m_cutoff; }
  int dims(int d) const { return m_dims[d]; }

  /// The sub-box coordinate in dimension d that owns position `x` (clamped into the grid).
  int owner_coord(int d, double x) const {
    int c = static_cast<int>(std::floor((x - m_box.lo[d]) * m_dims[d] / m_box.length(d)));
    return c < 0 ? 0 : (c >= m_dims[d] ? m_dims[d] - 1 : c);
  }
  /// True when this rank owns a particle at (already wrapped) position x.
  bool owns(const std::array<double, 3>& x) const {
    for (int d = 0; d < 3; ++d) {
      if (owner_coord(d, x[d]) != m_coord[d]) return false;
    }
    return true;
  }

  /// Wraps owned particles into the box and moves those that left the sub-box to their
  /// new owner. Drops the ghosts (call build_ghosts next). Particles must not move further
  /// than one sub-box between calls. Collective.
  template <class Exec>
  void migrate(const Exec& exec, particles_type& p) {
    p.n_ghost = 0;
    wrap(exec, p);
    for (int d = 0; d < 3; ++d) {
      if (m_dims[d] > 1) migrate_dim(exec, p, d);
    }
  }

  /// Copies the particles near each face into the neighbours' ghost layers and records the
  /// swaps for forward and reverse communication. Collective.
  template <class Exec>
  void build_ghosts(const Exec& exec, particles_type& p) {
    p.n_ghost = 0;
    constexpr int stride = 5;  // x, y, z, type, id
    for (int d = 0; d < 3; ++d) {
      const long candidates = p.n_total();
      for (int s = 0; s < 2; ++s) {
        Swap& sw = m_swaps[2 * d + s];
        const double bound = s == 0 ? m_sub.lo[d] + m_cutoff : m_sub.hi[d] - m_cutoff;
        auto x = p.x;
        if (static_cast<long>(sw.send.extent(0)) < candidates) {
          sw.send = index_type(Kokkos::view_alloc(Kokkos::WithoutInitializing, "gosok::particle_comm::send_list"),
                               candidates + candidates / 2 + 16);
        }
        auto list = sw.send;
        long nsend = 0;
        const bool low = s == 0;
        Kokkos::parallel_scan(
            "gosok::particle_comm::select_ghosts", Kokkos::RangePolicy<Exec>(exec, 0, candidates),
            KOKKOS_LAMBDA(const long i, long& offset, const bool final) {
              const bool send = low ? x(i, d) < bound : x(i, d) >= bound;
              if (send) {
                if (final) list(offset) = static_cast<int>(i);
                ++offset;
              }
            },
            nsend);
        sw.nsend = nsend;
        sw.shift = {0.0, 0.0, 0.0};
        if (s == 0 && m_coord[d] == 0) sw.shift[d] = m_box.length(d);
        if (s == 1 && m_coord[d] == m_dims[d] - 1) sw.shift[d] = -m_box.length(d);
        sw.to = m_neighbor[d][s];
        sw.from = m_neighbor[d][1 - s];

        reserve_buffers(nsend * stride);
        auto buf = m_send.view();
        auto type = p.type;
        auto id = p.id;
        const double sx = sw.shift[0], sy = sw.shift[1], sz = sw.shift[2];
        Kokkos::parallel_for(
            "gosok::particle_comm::pack_ghosts", Kokkos::RangePolicy<Exec>(exec, 0, nsend),
            KOKKOS_LAMBDA(const long k) {
              const int i = list(k);
              buf(stride * k + 0) = x(i, 0) + sx;
              buf(stride * k + 1) = x(i, 1) + sy;
              buf(stride * k + 2) = x(i, 2) + sz;
              buf(stride * k + 3) = static_cast<double>(type(i));
              buf(stride * k + 4) = static_cast<double>(id(i));
            });
        sw.nrecv = exchange_counts(nsend, sw.to, sw.from);
        reserve_buffers(sw.nrecv * stride);
        sendrecv(exec, nsend * stride, sw.to, sw.nrecv * stride, sw.from);
        sw.first = p.n_total();
        p.reserve(sw.first + sw.nrecv);
        auto xr = p.x;
        auto tr = p.type;
        auto ir = p.id;
        auto rbuf = m_recv.view();
        const long first = sw.first;
        Kokkos::parallel_for(
            "gosok::particle_comm::unpack_ghosts", Kokkos::RangePolicy<Exec>(exec, 0, sw.nrecv),
            KOKKOS_LAMBDA(const long k) {
              const long i = first + k;
              xr(i, 0) = rbuf(stride * k + 0);
              xr(i, 1) = rbuf(stride * k + 1);
              xr(i, 2) = rbuf(stride * k + 2);
              tr(i) = static_cast<int>(rbuf(stride * k + 3));
              ir(i) = static_cast<long>(rbuf(stride * k + 4));
            });
        p.n_ghost += sw.nrecv;
      }
    }
  }

  /// Refreshes ghost positions from their owners (same swaps as the last build). Collective.
  template <class Exec>
  void update_ghosts(const Exec& exec, particles_type& p) {
    for (int k = 0; k < 6; ++k) {
      Swap& sw = m_swaps[k];
      auto x = p.x;
      auto list = sw.send;
      auto buf = m_send.view();
      const double sx = sw.shift[0], sy = sw.shift[1], sz = sw.shift[2];
      Kokkos::parallel_for(
          "gosok::particle_comm::pack_positions", Kokkos::RangePolicy<Exec>(exec, 0, sw.nsend),
          KOKKOS_LAMBDA(const long n) {
            const int i = list(n);
            buf(3 * n + 0) = x(i, 0) + sx;
            buf(3 * n + 1) = x(i, 1) + sy;
            buf(3 * n + 2) = x(i, 2) + sz;
          });
      sendrecv(exec, 3 * sw.nsend, sw.to, 3 * sw.nrecv, sw.from);
      auto rbuf = m_recv.view();
      const long first = sw.first;
      Kokkos::parallel_for(
          "gosok::particle_comm::unpack_positions", Kokkos::RangePolicy<Exec>(exec, 0, sw.nrecv),
          KOKKOS_LAMBDA(const long n) {
            x(first + n, 0) = rbuf(3 * n + 0);
            x(first + n, 1) = rbuf(3 * n + 1);
            x(first + n, 2) = rbuf(3 * n + 2);
          });
    }
  }

  /// Adds the forces accumulated on ghosts into the particles they copy (reverse order of
  /// the swaps, so a corner ghost's force travels back through every hop). Collective.
  template <class Exec>
  void reverse_forces(const Exec& exec, particles_type& p) {
    for (int k = 5; k >= 0; --k) {
      Swap& sw = m_swaps[k];
      auto f = p.f;
      auto buf = m_send.view();
      const long first = sw.first;
      Kokkos::parallel_for(
          "gosok::particle_comm::pack_forces", Kokkos::RangePolicy<Exec>(exec, 0, sw.nrecv),
          KOKKOS_LAMBDA(const long n) {
            buf(3 * n + 0) = f(first + n, 0);
            buf(3 * n + 1) = f(first + n, 1);
            buf(3 * n + 2) = f(first + n, 2);
          });
      sendrecv(exec, 3 * sw.nrecv, sw.from, 3 * sw.nsend, sw.to);
      auto rbuf = m_recv.view();
      auto list = sw.send;
      // A particle appears at most once per send list, so this is free of races.
      Kokkos::parallel_for(
          "gosok::particle_comm::unpack_forces", Kokkos::RangePolicy<Exec>(exec, 0, sw.nsend),
          KOKKOS_LAMBDA(const long n) {
            const int i = list(n);
            f(i, 0) += rbuf(3 * n + 0);
            f(i, 1) += rbuf(3 * n + 1);
            f(i, 2) += rbuf(3 * n + 2);
          });
    }
  }

 private:
  struct Swap {
    index_type send;  // indices of the particles sent in this swap
    long nsend = 0;
    long nrecv = 0;
    long first = 0;  // index of the first ghost received in this swap
    std::array<double, 3> shift{};
    int to = MPI_PROC_NULL;
    int from = MPI_PROC_NULL;
  };

  template <class Exec>
  void wrap(const Exec& exec, particles_type& p) {
    Kokkos::Array<double, 3> lo, hi, len;
    for (int d = 0; d < 3; ++d) {
      lo[d] = m_box.lo[d];
      hi[d] = m_box.hi[d];
      len[d] = m_box.length(d);
    }
    Kokkos::parallel_for("gosok::particle_comm::wrap", Kokkos::RangePolicy<Exec>(exec, 0, p.n_owned),
                         impl::WrapIntoBox<typename particles_type::vec_type, typename particles_type::ivec_type>{
                             p.x, p.image, lo, hi, len});
  }

  int row_width(const particles_type& p) const { return particle_row_fixed + p.extra_width(); }

  template <class Exec>
  void migrate_dim(const Exec& exec, particles_type& p, int d) {
    const long n = p.n_owned;
    const int width = row_width(p);
    const int mine = m_coord[d];
    const impl::Slab slab{m_box.lo[d], m_dims[d] / m_box.length(d), m_dims[d]};
    grow(m_leave, n, "gosok::particle_comm::leave");
    grow(m_keep, n, "gosok::particle_comm::keep");
    using select = impl::SelectBySlab<typename particles_type::vec_type, typename buffer_type::view_type, index_type>;
    const auto none = typename buffer_type::view_type();
    long nleave = 0;
    Kokkos::parallel_scan("gosok::particle_comm::select_leaving", Kokkos::RangePolicy<Exec>(exec, 0, n),
                          select{p.x, none, 0, d, slab, mine, false, m_leave}, nleave);
    long nkeep = 0;
    Kokkos::parallel_scan("gosok::particle_comm::select_staying", Kokkos::RangePolicy<Exec>(exec, 0, n),
                          select{p.x, none, 0, d, slab, mine, true, m_keep}, nkeep);
    reserve_buffers(nleave * width);
    pack_rows(exec, p, m_leave, nleave, m_send.view(), 0);
    // Compact the staying particles through the receive buffer (no extra arrays).
    reserve_buffers(nkeep * width);
    pack_rows(exec, p, m_keep, nkeep, m_recv.view(), 0);
    unpack_rows(exec, p, m_recv.view(), 0, nkeep, 0);
    p.n_owned = nkeep;

    // Send the leavers to both neighbours (one, when both are the same rank); each keeps
    // those that are now inside its slab. Both sides' arrivals land one after the other in
    // the receive buffer, on the device: the particles never pass through the host.
    const int nsides = m_dims[d] == 2 ? 1 : 2;
    std::array<long, 2> nrecv{0, 0};
    for (int s = 0; s < nsides; ++s) nrecv[s] = exchange_counts(nleave, m_neighbor[d][s], m_neighbor[d][1 - s]);
    const long nin = nrecv[0] + nrecv[1];
    reserve_buffers(nin * width);
    for (int s = 0; s < nsides; ++s) {
      sendrecv(exec, nleave * width, m_neighbor[d][s], nrecv[s] * width, m_neighbor[d][1 - s],
               s == 0 ? 0 : nrecv[0] * width);
    }
    if (nin == 0) return;
    // Keep only the rows inside this slab, in arrival order; gather them into the send
    // buffer, which is free again once the messages are out.
    grow(m_leave, nin, "gosok::particle_comm::leave");
    long ntake = 0;
    Kokkos::parallel_scan("gosok::particle_comm::select_arrivals", Kokkos::RangePolicy<Exec>(exec, 0, nin),
                          select{p.x, m_recv.view(), width, d, slab, mine, true, m_leave}, ntake);
    auto kept = m_send.view();
    Kokkos::parallel_for(
        "gosok::particle_comm::gather_arrivals", Kokkos::RangePolicy<Exec>(exec, 0, ntake),
        impl::GatherRows<typename buffer_type::view_type, index_type>{kept, m_recv.view(), m_leave, width});
    p.reserve(p.n_owned + ntake);
    unpack_rows(exec, p, kept, 0, ntake, p.n_owned);
    p.n_owned += ntake;
  }

  using rows_kernel = impl::ParticleRows<particles_type, index_type, typename buffer_type::view_type>;

  template <class Exec>
  void pack_rows(const Exec& exec, const particles_type& p, const index_type& rows, long count,
                 const typename buffer_type::view_type& buf, long offset) const {
    Kokkos::parallel_for("gosok::particle_comm::pack_rows", Kokkos::RangePolicy<Exec>(exec, 0, count),
                         rows_kernel{p, rows, buf, offset, row_width(p), true, 0});
  }

  template <class Exec>
  void unpack_rows(const Exec& exec, particles_type& p, const typename buffer_type::view_type& buf, long offset,
                   long count, long dest) const {
    Kokkos::parallel_for("gosok::particle_comm::unpack_rows", Kokkos::RangePolicy<Exec>(exec, 0, count),
                         rows_kernel{p, index_type(), buf, offset, row_width(p), false, dest});
  }

  void reserve_buffers(long n) {
    // The send buffer may hold packed data that must survive (migration packs before it
    // learns the receive size), so it grows with its contents.
    m_send.reserve(n, true);
    m_recv.reserve(n, false);
  }

  static void grow(index_type& list, long n, const std::string& label) {
    if (static_cast<long>(list.extent(0)) < n + 1) {
      list = index_type(Kokkos::view_alloc(Kokkos::WithoutInitializing, label), n + n / 2 + 16);
    }
  }

  long exchange_counts(long nsend, int to, int from) {
    long nrecv = 0;
    check(MPI_Sendrecv(&nsend, 1, MPI_LONG, to, 11, &nrecv, 1, MPI_LONG, from, 11, m_comm, MPI_STATUS_IGNORE),
          "counts");
    return nrecv;
  }

  /// Sends the first `nsend` values of the send buffer to `to` and receives `nrecv` values
  /// from `from` into the receive buffer at `offset`.
  template <class Exec>
  void sendrecv(const Exec& exec, long nsend, int to, long nrecv, int from, long offset = 0) {
    exec.fence();
    check(MPI_Sendrecv(m_send.outgoing(0, nsend), static_cast<int>(nsend), MPI_DOUBLE, to, 12, m_recv.incoming(offset),
                       static_cast<int>(nrecv), MPI_DOUBLE, from, 12, m_comm, MPI_STATUS_IGNORE),
          "data");
    m_recv.arrived(offset, nrecv);
  }

  static void check(int status, const char* what) {
    if (status != MPI_SUCCESS) throw RunError(std::string("particle communication failed (") + what + ")");
  }

  Box3 m_box;
  Box3 m_sub;
  double m_cutoff;
  MPI_Comm m_comm = MPI_COMM_NULL;
  std::array<int, 3> m_dims{};
  std::array<int, 3> m_coord{};
  std::array<std::array<int, 2>, 3> m_neighbor{};
  std::array<Swap, 6> m_swaps{};
  buffer_type m_send, m_recv;
  index_type m_leave, m_keep;
};

}  // namespace gosok
