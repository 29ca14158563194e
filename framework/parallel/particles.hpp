#pragma once

#include <Kokkos_Core.hpp>
#include <array>
#include <string>

namespace gosok {

/// An orthogonal box, periodic in every dimension: [lo, hi).
struct Box3 {
  std::array<double, 3> lo{};
  std::array<double, 3> hi{};
  double length(int d) const { return hi[d] - lo[d]; }
  double volume() const { return length(0) * length(1) * length(2); }
};

/// A particle's fields as one row of doubles, the one place that lists them: x, v, image
/// (3 each), type, id, then the `extra` payload (integers are exact in doubles up to 2^53).
/// ParticleComm's messages, Particles::download and sorting all copy particles through
/// these, so a new field is added here once. `Arrays` is Particles or its HostArrays.
inline constexpr int particle_row_fixed = 11;

template <class Arrays>
KOKKOS_INLINE_FUNCTION void pack_particle(const Arrays& a, long i, double* row) {
  for (int c = 0; c < 3; ++c) {
    row[c] = a.x(i, c);
    row[3 + c] = a.v(i, c);
    row[6 + c] = static_cast<double>(a.image(i, c));
  }
  row[9] = static_cast<double>(a.type(i));
  row[10] = static_cast<double>(a.id(i));
  const int width = static_cast<int>(a.extra.extent(1));
  for (int c = 0; c < width; ++c) row[particle_row_fixed + c] = static_cast<double>(a.extra(i, c));
}

template <class Arrays>
KOKKOS_INLINE_FUNCTION void unpack_particle(const Arrays& a, long i, const double* row) {
  for (int c = 0; c < 3; ++c) {
    a.x(i, c) = row[c];
    a.v(i, c) = row[3 + c];
    a.image(i, c) = static_cast<int>(row[6 + c]);
  }
  a.type(i) = static_cast<int>(row[9]);
  a.id(i) = static_cast<long>(row[10]);
  const int width = static_cast<int>(a.extra.extent(1));
  for (int c = 0; c < width; ++c) a.extra(i, c) = static_cast<long>(row[particle_row_fixed + c]);
}

/// Copies every field of particle `i` of `from`, forces included, to particle `k` of `to`.
template <class To, class From>
KOKKOS_INLINE_FUNCTION void copy_particle(const To& to, long k, const From& from, long i) {
  for (int c = 0; c < 3; ++c) {
    to.x(k, c) = from.x(i, c);
    to.v(k, c) = from.v(i, c);
    to.f(k, c) = from.f(i, c);
    to.image(k, c) = from.image(i, c);
  }
  to.type(k) = from.type(i);
  to.id(k) = from.id(i);
  const int width = static_cast<int>(from.extra.extent(1));
  for (int c = 0; c < width; ++c) to.extra(k, c) = from.extra(i, c);
}

namespace impl {

/// Row k of `to` becomes particle order(k) of `from` (gather), or, without an order, row k.
template <class Particles, class Order>
struct CopyParticles {
  Particles to, from;
  Order order;
  bool gather;
  KOKKOS_INLINE_FUNCTION void operator()(const long k) const { copy_particle(to, k, from, gather ? order(k) : k); }
};

/// Packs row i of the owned particles into `packed` (the download buffer): the particle's
/// row, then its force.
template <class Particles, class Packed>
struct PackDownload {
  Particles p;
  Packed packed;
  int force_column;
  KOKKOS_INLINE_FUNCTION void operator()(const long i) const {
    pack_particle(p, i, &packed(i, 0));
    for (int c = 0; c < 3; ++c) packed(i, force_column + c) = p.f(i, c);
  }
};

}  // namespace impl

/// Per-particle arrays of a spatially decomposed particle system.
///
/// Vocabulary: *owned* particles, indices [0, n_owned), are the ones this rank integrates;
/// *ghosts*, indices [n_owned, n_owned + n_ghost), are copies of particles within the ghost
/// cutoff of this rank's sub-box (owned by a neighbour, or periodic images of this rank's
/// own particles), refreshed by ParticleComm. `image` counts how often an owned particle
/// was wrapped through each periodic face (unwrapped x = x + image * L). `extra` is an
/// opaque fixed-width integer payload per particle that migrates with it (a workload keeps
/// its bond topology there); ghosts do not carry it. v, image and extra are meaningful for
/// owned particles only.
template <class MemorySpace>
struct Particles {
  using memory_space = MemorySpace;
  using vec_type = Kokkos::View<double* [3], Kokkos::LayoutRight, MemorySpace>;
  using ivec_type = Kokkos::View<int* [3], Kokkos::LayoutRight, MemorySpace>;
  using int_type = Kokkos::View<int*, MemorySpace>;
  using id_type = Kokkos::View<long*, MemorySpace>;
  using extra_type = Kokkos::View<long**, Kokkos::LayoutRight, MemorySpace>;

  vec_type x, v, f;
  ivec_type image;
  int_type type;
  id_type id;
  extra_type extra;
  long n_owned = 0;
  long n_ghost = 0;

  Particles() = default;
  Particles(long capacity, int extra_width) { allocate(capacity, extra_width); }

  long capacity() const { return static_cast<long>(x.extent(0)); }
  long n_total() const { return n_owned + n_ghost; }
  int extra_width() const { return static_cast<int>(extra.extent(1)); }

  void allocate(long capacity, int extra_width) {
    x = vec_type("gosok::particles::x", capacity);
    v = vec_type("gosok::particles::v", capacity);
    f = vec_type("gosok::particles::f", capacity);
    image = ivec_type("gosok::particles::image", capacity);
    type = int_type("gosok::particles::type", capacity);
    id = id_type("gosok::particles::id", capacity);
    extra = extra_type("gosok::particles::extra", capacity, extra_width);
  }

  /// Host copies of the particle arrays. A workload fills rows [0, n) of x, v, image, type,
  /// id and extra when it places particles, then upload()s them (forces are computed, not
  /// placed); download() gives the owned rows back for output and checkpoints.
  struct HostArrays {
    typename vec_type::HostMirror x, v, f;
    typename ivec_type::HostMirror image;
    typename int_type::HostMirror type;
    typename id_type::HostMirror id;
    typename extra_type::HostMirror extra;
  };
  HostArrays host_arrays() const {
    return {Kokkos::create_mirror_view(x),     Kokkos::create_mirror_view(v),    Kokkos::create_mirror_view(f),
            Kokkos::create_mirror_view(image), Kokkos::create_mirror_view(type), Kokkos::create_mirror_view(id),
            Kokkos::create_mirror_view(extra)};
  }

  /// The first `n` rows of every array on the host. In host memory these are the arrays
  /// themselves; in device memory one kernel packs the rows into one buffer, which crosses
  /// to the host in one copy (not a transfer per array of its whole capacity).
  HostArrays download(long n) const {
    if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, MemorySpace>::accessible) {
      return {x, v, f, image, type, id, extra};
    } else {
      const int we = extra_width();
      const int force_column = particle_row_fixed + we;
      Kokkos::View<double**, Kokkos::LayoutRight, MemorySpace> packed(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "gosok::particles::download"), n, force_column + 3);
      using exec = typename MemorySpace::execution_space;
      Kokkos::parallel_for("gosok::particles::pack_download", Kokkos::RangePolicy<exec>(0, n),
                           impl::PackDownload<Particles, decltype(packed)>{*this, packed, force_column});
      const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), packed);
      HostArrays h{typename vec_type::HostMirror("gosok::particles::x", n),
                   typename vec_type::HostMirror("gosok::particles::v", n),
                   typename vec_type::HostMirror("gosok::particles::f", n),
                   typename ivec_type::HostMirror("gosok::particles::image", n),
                   typename int_type::HostMirror("gosok::particles::type", n),
                   typename id_type::HostMirror("gosok::particles::id", n),
                   typename extra_type::HostMirror("gosok::particles::extra", n, we)};
      for (long i = 0; i < n; ++i) {
        unpack_particle(h, i, &host(i, 0));
        for (int c = 0; c < 3; ++c) h.f(i, c) = host(i, force_column + c);
      }
      return h;
    }
  }
  /// Copies `h` into the particle arrays; its first `n` rows become the owned particles and
  /// there are no ghosts until the next exchange.
  void upload(const HostArrays& h, long n) {
    Kokkos::deep_copy(x, h.x);
    Kokkos::deep_copy(v, h.v);
    Kokkos::deep_copy(image, h.image);
    Kokkos::deep_copy(type, h.type);
    Kokkos::deep_copy(id, h.id);
    Kokkos::deep_copy(extra, h.extra);
    n_owned = n;
    n_ghost = 0;
  }

  /// Grows every array to hold at least `n` particles, keeping the contents; grows by half
  /// again so that repeated small growth stays amortised.
  void reserve(long n) {
    if (n <= capacity()) return;
    const long c = n + n / 2 + 16;
    Kokkos::resize(x, c);
    Kokkos::resize(v, c);
    Kokkos::resize(f, c);
    Kokkos::resize(image, c);
    Kokkos::resize(type, c);
    Kokkos::resize(id, c);
    Kokkos::resize(extra, c, extra.extent(1));
  }

  /// Reorders the owned particles: particle k becomes the one that was at order(k).
  /// `scratch` is grown to hold them on the way.
  template <class Exec, class Order>
  void permute(const Exec& exec, const Order& order, Particles& scratch) {
    const long n = n_owned;
    scratch.reserve(n);
    using copy = impl::CopyParticles<Particles, Order>;
    Kokkos::parallel_for("gosok::particles::permute_gather", Kokkos::RangePolicy<Exec>(exec, 0, n),
                         copy{scratch, *this, order, true});
    Kokkos::parallel_for("gosok::particles::permute_back", Kokkos::RangePolicy<Exec>(exec, 0, n),
                         copy{*this, scratch, order, false});
  }
};

}  // namespace gosok
