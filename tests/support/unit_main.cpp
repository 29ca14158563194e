// Catch2 main for the unit tier: Kokkos (no MPI) around the whole session, so that unit
// tests may build Views; tests that need MPI belong in tests/mpi.
#include <Kokkos_Core.hpp>
#include <catch2/catch_session.hpp>

int main(int argc, char** argv) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  return Catch::Session().run(argc, argv);
}
