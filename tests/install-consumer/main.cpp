// Uses the installed headers and libraries: runtime, configuration, a Kokkos kernel, an
// MPI reduction through gosok's helpers.
#include <cstdio>
#include <gosok/core/config.hpp>
#include <gosok/core/runtime.hpp>
#include <gosok/core/version.hpp>
#include <gosok/parallel/reduce.hpp>

int main(int argc, char** argv) {
  gosok::RuntimeOptions options;
  options.print_timers = false;
  gosok::Runtime runtime(argc, argv, options);
  return runtime.guarded([&] {
    gosok::Schema schema;
    schema.integer("n", 1000, "how many terms").at_least(1);
    gosok::Input input = gosok::resolve_input(schema, {}, {"n=100"});
    const long n = input.get_int("n");
    double local = 0;
    Kokkos::parallel_reduce(
        "consumer::sum", n, KOKKOS_LAMBDA(const long i, double& s) { s += static_cast<double>(i); }, local);
    const double total = gosok::global_sum(runtime.comm(), local);
    if (runtime.rank() == 0) {
      std::printf("consumer ok: gosok %s, ranks %d, sum %.0f\n", gosok::version(), runtime.size(), total);
    }
    return total == 4950.0 * runtime.size() ? 0 : 1;
  });
}
