// Catch2 main for the MPI tier: one Runtime (MPI + Kokkos) around the whole session; the
// exit code is the worst over ranks, so a failure on rank 3 fails the test on rank 0 too.
#include <catch2/catch_session.hpp>

#include <gosok/core/runtime.hpp>

int main(int argc, char** argv) {
  int result = 0;
  {
    gosok::RuntimeOptions options;
    options.print_timers = false;
    gosok::Runtime runtime(argc, argv, options);
    Catch::Session session;
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
      if (std::string(argv[i]).rfind("--kokkos-", 0) != 0) args.push_back(argv[i]);
    }
    const int rc = session.applyCommandLine(static_cast<int>(args.size()), args.data());
    if (rc != 0) return rc;
    const int mine = session.run();
    MPI_Allreduce(&mine, &result, 1, MPI_INT, MPI_MAX, runtime.comm());
  }
  return result;
}
