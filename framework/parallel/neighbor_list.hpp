#pragma once

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include <gosok/parallel/particles.hpp>

namespace gosok {

/// No pair is excluded from the neighbour list.
struct ExcludeNone {
  KOKKOS_INLINE_FUNCTION bool operator()(int, int) const { return false; }
};

namespace impl {

/// The bin of a position: the list's bin grid clamped to this rank's bins.
struct BinGrid {
  Kokkos::Array<double, 3> lo, inv;
  Kokkos::Array<int, 3> mlo, nb;
  KOKKOS_INLINE_FUNCTION int operator()(double x, double y, double z) const {
    const double a[3] = {x, y, z};
    int c[3];
    for (int d = 0; d < 3; ++d) {
      const double t = (a[d] - lo[d]) * inv[d];
      int k = static_cast<int>(t);
      if (t < k) --k;
      k -= mlo[d];
      c[d] = k < 0 ? 0 : (k >= nb[d] ? nb[d] - 1 : k);
    }
    return (c[2] * nb[1] + c[1]) * nb[0] + c[0];
  }
};

/// bin_of(i) and the particle count of every bin.
template <class Vec, class Index>
struct BinCount {
  Vec x;
  BinGrid grid;
  Index bin_of, count;
  KOKKOS_INLINE_FUNCTION void operator()(const long i) const {
    const int b = grid(x(i, 0), x(i, 1), x(i, 2));
    bin_of(i) = b;
    Kokkos::atomic_add(&count(b), 1);
  }
};

/// start(b): the first slot of bin b in the binned arrays (start(nbins) is the total).
template <class Index>
struct BinStart {
  Index count, start;
  long nbins;
  KOKKOS_INLINE_FUNCTION void operator()(const long b, int& offset, const bool final) const {
    if (final) start(b) = offset;
    if (b < nbins) offset += count(b);
  }
};

/// Places each particle in a slot of its bin (in whatever order the threads come).
template <class Index>
struct BinFill {
  Index bin_of, start, count, atoms;
  KOKKOS_INLINE_FUNCTION void operator()(const long i) const {
    const int b = bin_of(i);
    const int k = start(b) + Kokkos::atomic_fetch_add(&count(b), 1);
    atoms(k) = static_cast<int>(i);
  }
};

/// Puts each bin's particles in index order (an insertion sort: a bin holds a handful)
/// and copies their positions in bin order.
template <class Vec, class Index>
struct BinOrder {
  Vec x, xb;
  Index start, atoms;
  KOKKOS_INLINE_FUNCTION void operator()(const long b) const {
    const int first = start(b), last = start(b + 1);
    for (int k = first + 1; k < last; ++k) {
      const int a = atoms(k);
      int m = k;
      for (; m > first && atoms(m - 1) > a; --m) atoms(m) = atoms(m - 1);
      atoms(m) = a;
    }
    for (int k = first; k < last; ++k) {
      const int i = atoms(k);
      xb(k, 0) = x(i, 0);
      xb(k, 1) = x(i, 1);
      xb(k, 2) = x(i, 2);
    }
  }
};

/// The half list of owned particle i (see HalfNeighborList); `most` is the longest row.
template <class Vec, class Index, class Neighbors, class Exclude>
struct BuildHalfList {
  Vec x, xb;
  Index start, atoms, bin_of, stencil, counts;
  Neighbors list;
  Exclude exclude;
  int nrows, max, owned;
  double cutsq;
  KOKKOS_INLINE_FUNCTION void operator()(const long ii, int& most) const {
    const int i = static_cast<int>(ii);
    const double xi = x(i, 0), yi = x(i, 1), zi = x(i, 2);
    const int b = bin_of(i);
    int n = 0;
    // Own bin: owned partners with a higher index; ghosts above i.
    for (int k = start(b); k < start(b + 1); ++k) {
      const int j = atoms(k);
      const double xj = xb(k, 0), yj = xb(k, 1), zj = xb(k, 2);
      if (j < owned) {
        if (j <= i) continue;
      } else {
        if (zj < zi) continue;
        if (zj == zi) {
          if (yj < yi) continue;
          if (yj == yi && xj < xi) continue;
        }
      }
      const double dx = xi - xj, dy = yi - yj, dz = zi - zj;
      if (dx * dx + dy * dy + dz * dz < cutsq && !exclude(i, j)) {
        if (n < max) list(i, n) = j;
        ++n;
      }
    }
    for (int s = 0; s < nrows; ++s) {
      const int end = start(b + stencil(2 * s + 1));
      for (int k = start(b + stencil(2 * s)); k < end; ++k) {
        const double dx = xi - xb(k, 0), dy = yi - xb(k, 1), dz = zi - xb(k, 2);
        const int j = atoms(k);
        // Branch-free store: every candidate is written to the next free slot, which
        // only a kept pair claims. A full row writes into the spare column `max`,
        // never over a kept entry; the row's true count then exceeds `max` and the
        // list is rebuilt wider.
        const bool keep = dx * dx + dy * dy + dz * dz < cutsq && !exclude(i, j);
        list(i, n < max ? n : max) = j;
        n += keep ? 1 : 0;
      }
    }
    counts(i) = n;
    if (n > most) most = n;
  }
};

}  // namespace impl

/// A half Verlet neighbour list for owned particles and their ghosts, built by cell binning.
///
/// Vocabulary: the *neighbour cutoff* is the force cutoff plus the skin; every pair closer
/// than it when the list is built is stored, so the list stays valid until some particle
/// has moved half the skin. *Bins* are cubes of at least half the neighbour cutoff on a grid
/// anchored at the global box origin, the same grid on every rank. *Half* means each pair
/// is stored once in the whole job, as in LAMMPS' half/bin/newton: an owned–owned pair in
/// the list of its lower index; an owned–ghost pair on the rank where the ghost's bin lies
/// in the upper half of the stencil (or in the same bin and above in z, then y, then x).
/// The rank across the boundary sees the mirror image of the pair and skips it, so forces
/// on ghosts must be returned to their owners (ParticleComm::reverse_forces).
///
/// Storage: row i of `neighbors()` holds `counts()(i)` indices into the particle arrays;
/// `max_neighbors()` is the row capacity. The distance loop writes every candidate into the
/// next free slot and only a kept pair advances the count, so each row has one spare slot
/// beyond the capacity that overflowing candidates write into. A build whose longest row
/// exceeds the capacity widens the rows and builds again; a row exactly at capacity is
/// complete. Views are kept and grown between builds.
template <class MemorySpace>
class HalfNeighborList {
 public:
  using vec_type = typename Particles<MemorySpace>::vec_type;
  using neighbors_type = Kokkos::View<int**, Kokkos::LayoutRight, MemorySpace>;
  using index_type = Kokkos::View<int*, MemorySpace>;

  /// `box` is the global periodic box, `sub` this rank's sub-box, `ghost_cutoff` how far
  /// ghosts reach beyond it (at least `cutoff`); `row_capacity` is the first build's row
  /// capacity (rows widen as needed).
  HalfNeighborList(const Box3& box, const Box3& sub, double cutoff, double ghost_cutoff, int row_capacity = 64)
      : m_cutoff(cutoff), m_max(std::max(1, row_capacity)) {
    const double target = cutoff / 2;
    for (int d = 0; d < 3; ++d) {
      const int nglobal = std::max(1, static_cast<int>(box.length(d) / target));
      m_binsize[d] = box.length(d) / nglobal;
      m_inv[d] = 1.0 / m_binsize[d];
      m_lo[d] = box.lo[d];
      m_mlo[d] = floor_int((sub.lo[d] - ghost_cutoff - box.lo[d]) * m_inv[d]) - 1;
      const int mhi = floor_int((sub.hi[d] + ghost_cutoff - box.lo[d]) * m_inv[d]) + 1;
      m_nb[d] = mhi - m_mlo[d] + 1;
    }
    const long nbins = static_cast<long>(m_nb[0]) * m_nb[1] * m_nb[2];
    m_bin_count = index_type("gosok::neighbor::bin_count", nbins);
    m_bin_start = index_type("gosok::neighbor::bin_start", nbins + 1);
    build_stencil();
  }

  double cutoff() const { return m_cutoff; }
  const neighbors_type& neighbors() const { return m_neighbors; }
  const index_type& counts() const { return m_counts; }
  long pairs() const { return m_pairs; }
  int max_neighbors() const { return m_max; }  // the row capacity

  /// Builds the list for particles [0, n_owned) against [0, n_total); pairs for which
  /// `exclude(i, j)` is true (e.g. bonded partners) are left out.
  template <class Exec, class Exclude = ExcludeNone>
  void build(const Exec& exec, const vec_type& x, long n_owned, long n_total, const Exclude& exclude = {}) {
    bin(exec, x, n_total);
    if (static_cast<long>(m_counts.extent(0)) < n_owned) {
      m_counts = index_type("gosok::neighbor::counts", n_owned + n_owned / 2 + 16);
    }
    while (true) {
      if (static_cast<long>(m_neighbors.extent(0)) < n_owned || static_cast<int>(m_neighbors.extent(1)) < m_max + 1) {
        m_neighbors = neighbors_type(Kokkos::view_alloc(Kokkos::WithoutInitializing, "gosok::neighbor::list"),
                                     std::max<long>(n_owned + n_owned / 2 + 16, m_neighbors.extent(0)), m_max + 1);
      }
      int needed = 0;
      fill(exec, x, n_owned, exclude, needed);
      if (needed <= m_max) break;
      m_max = needed + needed / 4 + 8;
    }
    long pairs = 0;
    auto counts = m_counts;
    Kokkos::parallel_reduce(
        "gosok::neighbor::count_pairs", Kokkos::RangePolicy<Exec>(exec, 0, n_owned),
        KOKKOS_LAMBDA(const long i, long& sum) { sum += counts(i); }, pairs);
    m_pairs = pairs;
  }

  /// The order that sorts particles [0, n) by bin: entry k is the index of the particle
  /// that belongs at position k. Stable, so already sorted particles keep their order.
  template <class Exec>
  index_type sort_order(const Exec& exec, const vec_type& x, long n) {
    bin(exec, x, n);
    index_type order("gosok::neighbor::sort_order", n);
    Kokkos::deep_copy(exec, order, Kokkos::subview(m_bin_atoms, std::make_pair(0L, n)));
    return order;
  }

 private:
  static int floor_int(double a) {
    int c = static_cast<int>(a);
    return a < c ? c - 1 : c;
  }

  impl::BinGrid grid() const {
    impl::BinGrid g;
    for (int d = 0; d < 3; ++d) {
      g.lo[d] = m_lo[d];
      g.inv[d] = m_inv[d];
      g.mlo[d] = m_mlo[d];
      g.nb[d] = m_nb[d];
    }
    return g;
  }

  // The upper half of the bins within the cutoff, as rows: for each (y, z) offset, the
  // first and one past the last offset of the linear bin index. The bins of a row are
  // consecutive in x, so their particles lie consecutively in the binned arrays and one
  // loop runs over all of them (a loop per bin, a few particles long, would mispredict
  // its exit in nearly every bin).
  void build_stencil() {
    std::array<int, 3> reach{};
    for (int d = 0; d < 3; ++d) reach[d] = static_cast<int>(std::ceil(m_cutoff * m_inv[d]));
    auto gap = [&](int k, int d) { return k > 0 ? (k - 1) * m_binsize[d] : (k < 0 ? (k + 1) * m_binsize[d] : 0.0); };
    std::vector<int> rows;
    for (int k = 0; k <= reach[2]; ++k) {
      for (int j = -reach[1]; j <= reach[1]; ++j) {
        // Within a row the gap grows with |i|, so the bins within the cutoff are a run.
        int first = 0, last = -1;
        bool any = false;
        for (int i = -reach[0]; i <= reach[0]; ++i) {
          const bool upper = k > 0 || (k == 0 && j > 0) || (k == 0 && j == 0 && i > 0);
          if (!upper) continue;
          const double dx = gap(i, 0), dy = gap(j, 1), dz = gap(k, 2);
          if (dx * dx + dy * dy + dz * dz >= m_cutoff * m_cutoff) continue;
          if (!any) first = i;
          last = i;
          any = true;
        }
        if (!any) continue;
        rows.push_back((k * m_nb[1] + j) * m_nb[0] + first);
        rows.push_back((k * m_nb[1] + j) * m_nb[0] + last + 1);
      }
    }
    m_stencil = index_type("gosok::neighbor::stencil", rows.size());
    auto host = Kokkos::create_mirror_view(m_stencil);
    for (std::size_t s = 0; s < rows.size(); ++s) host(s) = rows[s];
    Kokkos::deep_copy(m_stencil, host);
  }

  // Counting sort of particles [0, n) into bins; positions are copied in bin order so that
  // the distance loop streams through memory. Within a bin, particles stay in index order
  // whatever order the threads placed them in, so that lists, sums over them and the
  // sorted particle order are the same on every run and thread count.
  template <class Exec>
  void bin(const Exec& exec, const vec_type& x, long n) {
    if (static_cast<long>(m_bin_of.extent(0)) < n) {
      const long c = n + n / 2 + 16;
      m_bin_of = index_type("gosok::neighbor::bin_of", c);
      m_bin_atoms = index_type("gosok::neighbor::bin_atoms", c);
      m_xb = vec_type("gosok::neighbor::x_binned", c);
    }
    const long nbins = static_cast<long>(m_bin_count.extent(0));
    using range = Kokkos::RangePolicy<Exec>;
    Kokkos::deep_copy(exec, m_bin_count, 0);
    Kokkos::parallel_for("gosok::neighbor::bin_count", range(exec, 0, n),
                         impl::BinCount<vec_type, index_type>{x, grid(), m_bin_of, m_bin_count});
    Kokkos::parallel_scan("gosok::neighbor::bin_start", range(exec, 0, nbins + 1),
                          impl::BinStart<index_type>{m_bin_count, m_bin_start, nbins});
    Kokkos::deep_copy(exec, m_bin_count, 0);
    Kokkos::parallel_for("gosok::neighbor::bin_fill", range(exec, 0, n),
                         impl::BinFill<index_type>{m_bin_of, m_bin_start, m_bin_count, m_bin_atoms});
    Kokkos::parallel_for("gosok::neighbor::bin_order", range(exec, 0, nbins),
                         impl::BinOrder<vec_type, index_type>{x, m_xb, m_bin_start, m_bin_atoms});
  }

  template <class Exec, class Exclude>
  void fill(const Exec& exec, const vec_type& x, long n_owned, const Exclude& exclude, int& needed) {
    using build = impl::BuildHalfList<vec_type, index_type, neighbors_type, Exclude>;
    const build kernel{x,
                       m_xb,
                       m_bin_start,
                       m_bin_atoms,
                       m_bin_of,
                       m_stencil,
                       m_counts,
                       m_neighbors,
                       exclude,
                       static_cast<int>(m_stencil.extent(0) / 2),
                       m_max,
                       static_cast<int>(n_owned),
                       m_cutoff * m_cutoff};
    Kokkos::parallel_reduce("gosok::neighbor::build", Kokkos::RangePolicy<Exec>(exec, 0, n_owned), kernel,
                            Kokkos::Max<int>(needed));
  }

  double m_cutoff;
  std::array<double, 3> m_binsize{}, m_inv{}, m_lo{};
  std::array<int, 3> m_mlo{}, m_nb{};
  index_type m_bin_count, m_bin_start, m_bin_of, m_bin_atoms, m_stencil, m_counts;
  vec_type m_xb;
  neighbors_type m_neighbors;
  int m_max;
  long m_pairs = 0;
};

}  // namespace gosok
