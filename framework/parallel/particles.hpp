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

  /// Host copies of the arrays a workload fills when it places particles (x, v, image,
  /// type, id, extra; forces are computed, not placed). Fill rows [0, n), then upload().
  struct HostArrays {
    typename vec_type::HostMirror x, v;
    typename ivec_type::HostMirror image;
    typename int_type::HostMirror type;
    typename id_type::HostMirror id;
    typename extra_type::HostMirror extra;
  };
  HostArrays host_arrays() const {
    return {Kokkos::create_mirror_view(x),    Kokkos::create_mirror_view(v),  Kokkos::create_mirror_view(image),
            Kokkos::create_mirror_view(type), Kokkos::create_mirror_view(id), Kokkos::create_mirror_view(extra)};
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
};

}  // namespace gosok
