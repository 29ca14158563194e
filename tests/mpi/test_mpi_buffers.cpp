// The two ways communication objects hand buffers to MPI (MpiBufferPolicy): direct, and
// staged through pinned host memory. Particles live in the default execution space's
// memory (a GPU's, on a CUDA build); every step of a run's particle communication
// (migration, ghosts, forward and reverse) is done once with each policy, and the results
// must be identical bit for bit: staging copies values, it never changes arithmetic. A
// staging copy that went missing or landed at the wrong offset changes the particles.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cmath>
#include <map>
#include <vector>

#include <gosok/core/error.hpp>
#include <gosok/parallel/cart.hpp>
#include <gosok/parallel/mpi_buffers.hpp>
#include <gosok/parallel/particle_comm.hpp>
#include <gosok/parallel/reduce.hpp>

namespace {

using Space = Kokkos::DefaultExecutionSpace::memory_space;
using Exec = Kokkos::DefaultExecutionSpace;

double hashed(long id, int c) {
  std::uint64_t z = static_cast<std::uint64_t>(id) * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(c) * 0x632be5ab;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<double>((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

/// Per particle id: wrapped position, image counts, the force after reverse
/// communication, and the ghost positions after a forward update (summed over ghosts).
struct Outcome {
  std::map<long, std::vector<double>> owned;
  std::map<long, std::vector<double>> ghosts;
  long n_ghost = 0;
};

Outcome exercise(const gosok::MpiBufferPolicy& buffers) {
  MPI_Comm world = MPI_COMM_WORLD;
  int rank = 0;
  MPI_Comm_rank(world, &rank);
  const gosok::Box3 box{{-1.0, 0.0, 2.0}, {8.5, 9.0, 12.0}};
  const double cutoff = 2.0;
  const long n = 600;
  gosok::CartDecomposition<3> cart(world, {1L << 20, 1L << 20, 1L << 20}, {true, true, true});
  gosok::ParticleComm<Space> comm(cart, box, cutoff, buffers);
  gosok::Particles<Space> p(16, 1);
  const long mine = rank == 0 ? n : 0;  // rank 0 starts with everything
  p.reserve(mine);
  auto h = p.host_arrays();
  for (long id = 0; id < mine; ++id) {
    for (int d = 0; d < 3; ++d) {
      h.x(id, d) = box.lo[d] - box.length(d) + 3.0 * box.length(d) * hashed(id, d);
      h.v(id, d) = hashed(id, 3 + d) - 0.5;
      h.image(id, d) = 0;
    }
    h.id(id) = id;
    h.type(id) = static_cast<int>(id % 3);
    h.extra(id, 0) = 7 * id;
  }
  p.upload(h, mine);
  for (int pass = 0; pass < 3; ++pass) comm.migrate(Exec(), p);
  comm.build_ghosts(Exec(), p);

  // A force on every owned particle and ghost that depends on where it is, so that a
  // ghost's share sent back to the wrong owner shows.
  auto x = p.x;
  auto f = p.f;
  auto id = p.id;
  Kokkos::parallel_for(
      "test::forces", Kokkos::RangePolicy<Exec>(0, p.n_total()), KOKKOS_LAMBDA(const long i) {
        for (int c = 0; c < 3; ++c) f(i, c) = 0.001 * static_cast<double>(id(i)) + x(i, c);
      });
  comm.reverse_forces(Exec(), p);
  const long owned = p.n_owned;
  Kokkos::parallel_for(
      "test::move", Kokkos::RangePolicy<Exec>(0, owned), KOKKOS_LAMBDA(const long i) {
        for (int c = 0; c < 3; ++c) x(i, c) += 0.01 * (static_cast<double>((id(i) * 7 + c) % 11) / 11.0 - 0.5);
      });
  comm.update_ghosts(Exec(), p);

  Outcome out;
  out.n_ghost = p.n_ghost;
  const auto r = p.download(p.n_total());
  for (long i = 0; i < p.n_total(); ++i) {
    std::vector<double> row;
    for (int c = 0; c < 3; ++c) row.push_back(r.x(i, c));
    if (i < p.n_owned) {
      for (int c = 0; c < 3; ++c) row.push_back(r.image(i, c));
      for (int c = 0; c < 3; ++c) row.push_back(r.f(i, c));
      row.push_back(static_cast<double>(r.extra(i, 0)));
      out.owned[r.id(i)] = row;
    } else {
      auto& sum = out.ghosts[r.id(i)];
      sum.resize(3, 0.0);
      for (int c = 0; c < 3; ++c) sum[static_cast<std::size_t>(c)] += row[static_cast<std::size_t>(c)];
    }
  }
  REQUIRE(gosok::global_sum(world, p.n_owned) == n);
  return out;
}

}  // namespace

TEST_CASE("particle communication is the same whichever way buffers reach MPI", "[mpi][buffers]") {
  const Outcome direct = exercise(gosok::MpiBufferPolicy::direct("test"));
  const Outcome staged = exercise(gosok::MpiBufferPolicy::staged("test"));
  CHECK(direct.n_ghost == staged.n_ghost);
  CHECK(direct.owned.size() == staged.owned.size());
  long differing = 0;
  for (const auto& [id, row] : direct.owned) {
    auto it = staged.owned.find(id);
    differing += it == staged.owned.end() || it->second != row;
  }
  for (const auto& [id, row] : direct.ghosts) {
    auto it = staged.ghosts.find(id);
    differing += it == staged.ghosts.end() || it->second != row;
  }
  CHECK(gosok::global_sum(MPI_COMM_WORLD, differing) == 0);
  // Every owned particle carries its payload through migration on both paths.
  long bad_payload = 0;
  for (const auto& [id, row] : staged.owned) bad_payload += row[9] != static_cast<double>(7 * id);
  CHECK(gosok::global_sum(MPI_COMM_WORLD, bad_payload) == 0);
}

TEST_CASE("run.mpi_buffers chooses the policy; auto asks MPI about device memory", "[mpi][buffers]") {
  using gosok::MpiBufferPolicy;
  CHECK_FALSE(MpiBufferPolicy::choose("auto", false).staged());
  CHECK_FALSE(MpiBufferPolicy::choose("direct", true).staged());
  CHECK(MpiBufferPolicy::choose("staged", false).staged());
  CHECK_THAT(MpiBufferPolicy::choose("auto", false).describe(), Catch::Matchers::ContainsSubstring("host memory"));
  // Device memory: direct exactly when this MPI says it is CUDA-aware, and the reason
  // quotes the answer.
  const gosok::MpiGpuSupport support = gosok::query_mpi_gpu_support();
  const MpiBufferPolicy device = MpiBufferPolicy::choose("auto", true);
  CHECK(device.staged() == !support.cuda_aware);
  CHECK_THAT(device.describe(), Catch::Matchers::ContainsSubstring(support.how));
  CHECK_THROWS_AS(MpiBufferPolicy::choose("gpu", false), gosok::InputError);
  CHECK_THROWS_WITH(MpiBufferPolicy::choose("gpu", false), Catch::Matchers::ContainsSubstring("auto, direct, staged"));
}
