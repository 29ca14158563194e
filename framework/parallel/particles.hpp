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
      const int width = 14 + we;  // x, v, f, image: 3 each; type, id; extra
      Kokkos::View<double**, Kokkos::LayoutRight, MemorySpace> packed(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "gosok::particles::download"), n, width);
      auto px = x, pv = v, pf = f;
      auto pimage = image;
      auto ptype = type;
      auto pid = id;
      auto pextra = extra;
      using exec = typename MemorySpace::execution_space;
      Kokkos::parallel_for(
          "gosok::particles::pack_download", Kokkos::RangePolicy<exec>(0, n), KOKKOS_LAMBDA(const long i) {
            for (int c = 0; c < 3; ++c) {
              packed(i, c) = px(i, c);
              packed(i, 3 + c) = pv(i, c);
              packed(i, 6 + c) = pf(i, c);
              packed(i, 9 + c) = static_cast<double>(pimage(i, c));
            }
            packed(i, 12) = static_cast<double>(ptype(i));
            packed(i, 13) = static_cast<double>(pid(i));  // exact up to 2^53
            for (int c = 0; c < we; ++c) packed(i, 14 + c) = static_cast<double>(pextra(i, c));
          });
      const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), packed);
      HostArrays h{typename vec_type::HostMirror("gosok::particles::x", n),
                   typename vec_type::HostMirror("gosok::particles::v", n),
                   typename vec_type::HostMirror("gosok::particles::f", n),
                   typename ivec_type::HostMirror("gosok::particles::image", n),
                   typename int_type::HostMirror("gosok::particles::type", n),
                   typename id_type::HostMirror("gosok::particles::id", n),
                   typename extra_type::HostMirror("gosok::particles::extra", n, we)};
      for (long i = 0; i < n; ++i) {
        for (int c = 0; c < 3; ++c) {
          h.x(i, c) = host(i, c);
          h.v(i, c) = host(i, 3 + c);
          h.f(i, c) = host(i, 6 + c);
          h.image(i, c) = static_cast<int>(host(i, 9 + c));
        }
        h.type(i) = static_cast<int>(host(i, 12));
        h.id(i) = static_cast<long>(host(i, 13));
        for (int c = 0; c < we; ++c) h.extra(i, c) = static_cast<long>(host(i, 14 + c));
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
};

}  // namespace gosok
