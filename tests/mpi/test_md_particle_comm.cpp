// ParticleComm and HalfNeighborList against brute force, at 1, 2 and 4 ranks: migration
// keeps every particle exactly once (with its payload and image counts), the half list
// holds each pair within the cutoff exactly once in the whole job, and reverse
// communication returns every ghost's share to its owner. Counts are integers, so the
// checks are exact.
#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <vector>

#include <gosok/parallel/cart.hpp>
#include <gosok/parallel/neighbor_list.hpp>
#include <gosok/parallel/particle_comm.hpp>
#include <gosok/parallel/reduce.hpp>

namespace {

using Space = Kokkos::HostSpace;
using Exec = Kokkos::DefaultHostExecutionSpace;

double hashed(long id, int c) {
  std::uint64_t z = static_cast<std::uint64_t>(id) * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(c) * 0x632be5ab;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<double>((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

}  // namespace

TEST_CASE("particle comm and half neighbour list agree with brute force", "[md][mpi]") {
  MPI_Comm world = MPI_COMM_WORLD;
  int rank = 0;
  MPI_Comm_rank(world, &rank);
  const gosok::Box3 box{{-1.0, 0.0, 2.0}, {8.5, 9.0, 12.0}};
  const double cutoff = 2.0;
  const long n = 700;
  // Unwrapped positions up to one box outside, so migration must wrap them.
  std::vector<std::array<double, 3>> unwrapped(n), wrapped(n);
  for (long id = 0; id < n; ++id) {
    for (int d = 0; d < 3; ++d) {
      const double L = box.length(d);
      unwrapped[id][d] = box.lo[d] - L + 3.0 * L * hashed(id, d);
      wrapped[id][d] = unwrapped[id][d] - L * std::floor((unwrapped[id][d] - box.lo[d]) / L);
    }
  }
  gosok::CartDecomposition<3> cart(world, {1L << 20, 1L << 20, 1L << 20}, {true, true, true});
  gosok::ParticleComm<Space> comm(cart, box, cutoff, gosok::MpiBufferPolicy::direct("host memory"));
  gosok::Particles<Space> p(16, 2);
  // Rank 0 starts with everything; the others with nothing.
  if (rank == 0) {
    p.reserve(n);
    for (long id = 0; id < n; ++id) {
      for (int d = 0; d < 3; ++d) p.x(id, d) = unwrapped[id][d];
      p.id(id) = id;
      p.type(id) = static_cast<int>(id % 3);
      p.extra(id, 0) = 10 * id;
      p.extra(id, 1) = 10 * id + 1;
    }
    p.n_owned = n;
  }
  // Migration moves a particle one sub-box per dimension and call; rank 0's particles may
  // be anywhere, so repeat (a run migrates every few steps, when they moved little).
  for (int pass = 0; pass < 3; ++pass) comm.migrate(Exec(), p);

  REQUIRE(gosok::global_sum(world, p.n_owned) == n);
  const auto& sub = comm.sub_box();
  for (long i = 0; i < p.n_owned; ++i) {
    const long id = p.id(i);
    REQUIRE(p.extra(i, 0) == 10 * id);
    REQUIRE(p.extra(i, 1) == 10 * id + 1);
    REQUIRE(p.type(i) == id % 3);
    for (int d = 0; d < 3; ++d) {
      REQUIRE(p.x(i, d) >= sub.lo[d] - 1e-12);
      REQUIRE(p.x(i, d) < sub.hi[d] + 1e-12);
      // Wrapped position plus image counts gives the original position back.
      REQUIRE(std::abs(p.x(i, d) + p.image(i, d) * box.length(d) - unwrapped[id][d]) < 1e-9);
    }
  }

  comm.build_ghosts(Exec(), p);
  gosok::HalfNeighborList<Space> list(box, sub, cutoff, cutoff);
  list.build(Exec(), p.x, p.n_owned, p.n_total());

  // Brute force: neighbours of every particle under the minimum image (box > 2 cutoff).
  std::vector<long> neighbours(n, 0);
  long pairs = 0;
  for (long a = 0; a < n; ++a) {
    for (long b = a + 1; b < n; ++b) {
      double r2 = 0;
      for (int d = 0; d < 3; ++d) {
        double dx = wrapped[a][d] - wrapped[b][d];
        dx -= box.length(d) * std::round(dx / box.length(d));
        r2 += dx * dx;
      }
      if (r2 < cutoff * cutoff) {
        ++pairs;
        ++neighbours[a];
        ++neighbours[b];
      }
    }
  }
  REQUIRE(gosok::global_sum(world, list.pairs()) == pairs);

  // Count each listed pair on both partners, send ghost counts home, compare.
  Kokkos::deep_copy(p.f, 0.0);
  for (long i = 0; i < p.n_owned; ++i) {
    for (int k = 0; k < list.counts()(i); ++k) {
      p.f(i, 0) += 1.0;
      p.f(list.neighbors()(i, k), 0) += 1.0;
    }
  }
  comm.reverse_forces(Exec(), p);
  for (long i = 0; i < p.n_owned; ++i) REQUIRE(p.f(i, 0) == static_cast<double>(neighbours[p.id(i)]));

  // Forward communication: move owned particles a little; ghosts follow by the same amount.
  std::vector<std::array<double, 3>> before(p.n_total());
  for (long i = 0; i < p.n_total(); ++i) {
    for (int d = 0; d < 3; ++d) before[i][d] = p.x(i, d);
  }
  for (long i = 0; i < p.n_owned; ++i) {
    for (int d = 0; d < 3; ++d) p.x(i, d) += 0.01 * (hashed(p.id(i), 7 + d) - 0.5);
  }
  comm.update_ghosts(Exec(), p);
  for (long i = p.n_owned; i < p.n_total(); ++i) {
    for (int d = 0; d < 3; ++d) {
      const double moved = p.x(i, d) - before[i][d];
      REQUIRE(std::abs(moved - 0.01 * (hashed(p.id(i), 7 + d) - 0.5)) < 1e-12);
    }
  }
}
