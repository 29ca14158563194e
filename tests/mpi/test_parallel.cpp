// Decomposition, halo exchange and reductions, run at 1, 2 and 4 ranks: the same checks
// must hold whatever the rank count.
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>

#include <Kokkos_Core.hpp>

#include <gosok/parallel/cart.hpp>
#include <gosok/parallel/halo.hpp>
#include <gosok/parallel/reduce.hpp>

namespace {

int world_size() {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

// A value that identifies a global cell uniquely, so a wrong ghost is always detected.
KOKKOS_INLINE_FUNCTION double tag(long gi, long gj, int field) { return 1e6 * field + 1000.0 * gj + gi; }

}  // namespace

TEST_CASE("block decomposition covers the global grid exactly once", "[mpi][cart]") {
  gosok::CartDecomposition<2> d(MPI_COMM_WORLD, {37, 11}, {true, false});
  CHECK(d.dims(0) * d.dims(1) == world_size());
  long cells = gosok::global_sum(d.comm(), d.extent(0) * d.extent(1));
  CHECK(cells == 37 * 11);
  // Offsets tile each dimension without gaps.
  long x_sum = gosok::global_sum(d.comm(), d.coord(1) == 0 ? d.extent(0) : 0L);
  CHECK(x_sum == 37);
  CHECK(d.at_low_wall(1) == (d.coord(1) == 0));
  CHECK(d.at_high_wall(1) == (d.coord(1) == d.dims(1) - 1));
  CHECK_FALSE(d.at_low_wall(0));  // periodic in x
}

// Both ways of handing buffers to MPI must give the same ghosts: direct, and staged
// through pinned host memory (what a GPU without a CUDA-aware MPI uses; on a CPU build the
// staging copies run all the same).
TEST_CASE("halo exchange fills ghosts with the neighbours' owned cells", "[mpi][halo]") {
  const long nx = 24, ny = 12;
  const int w = 2;
  const auto policy = GENERATE(as<std::string>{}, "direct", "staged");
  const auto buffers = gosok::MpiBufferPolicy::choose(policy, false);
  REQUIRE(buffers.staged() == (policy == "staged"));
  for (bool periodic_y : {true, false}) {
    gosok::CartDecomposition<2> d(MPI_COMM_WORLD, {nx, ny}, {true, periodic_y});
    using mem = Kokkos::DefaultExecutionSpace::memory_space;
    gosok::GridHalo2D<mem> halo(d, w, 2, buffers);
    const long lx = d.extent(0), ly = d.extent(1), ox = d.offset(0), oy = d.offset(1);
    Kokkos::View<double**, Kokkos::LayoutRight, mem> a("a", ly + 2 * w, lx + 2 * w), b("b", ly + 2 * w, lx + 2 * w);
    Kokkos::deep_copy(a, -1.0);
    Kokkos::deep_copy(b, -1.0);
    Kokkos::parallel_for(
        "test::fill", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({w, w}, {ly + w, lx + w}),
        KOKKOS_LAMBDA(const long j, const long i) {
          a(j, i) = tag(ox + i - w, oy + j - w, 0);
          b(j, i) = tag(ox + i - w, oy + j - w, 1);
        });
    halo.exchange(Kokkos::DefaultExecutionSpace(), a, b);
    auto ha = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), a);
    auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b);
    long wrong = 0;
    for (long j = 0; j < ly + 2 * w; ++j) {
      for (long i = 0; i < lx + 2 * w; ++i) {
        long gi = ((ox + i - w) % nx + nx) % nx;
        long gj = oy + j - w;
        if (gj < 0 || gj >= ny) {
          if (!periodic_y) {
            // Wall ghosts are the physics' business: untouched.
            wrong += ha(j, i) != -1.0;
            continue;
          }
          gj = (gj % ny + ny) % ny;
        }
        wrong += ha(j, i) != tag(gi, gj, 0);
        wrong += hb(j, i) != tag(gi, gj, 1);
      }
    }
    CHECK(gosok::global_sum(d.comm(), wrong) == 0);
  }
}

TEST_CASE("global reductions", "[mpi][reduce]") {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const int n = world_size();
  CHECK(gosok::global_sum(MPI_COMM_WORLD, 1.0) == n);
  CHECK(gosok::global_max(MPI_COMM_WORLD, static_cast<double>(rank)) == n - 1);
  CHECK(gosok::global_min(MPI_COMM_WORLD, static_cast<double>(rank)) == 0);
  std::vector<double> v{1.0, 2.0};
  gosok::global_sum_inplace(MPI_COMM_WORLD, v);
  CHECK(v[1] == 2.0 * n);
}
