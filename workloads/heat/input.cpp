// heat's input: the keys, defaults, units, bounds and checks that `gosok run heat` and, on
// a login node, `gosok submit heat` and `gosok validate` read. No Kokkos here: this file is
// linked into the login-node gosok too.
#include <algorithm>
#include <cmath>
#include <string>

#include <gosok/core/error.hpp>
#include <gosok/workload/input.hpp>

namespace gosok::heat {

void register_input(WorkloadInputs& inputs) {
  inputs.add({"heat", "2-D heat equation on a periodic square with an analytic solution",
              [](Schema& s) {
                s.integer("nx", 64, "cells in x").at_least(4);
                s.integer("ny", 64, "cells in y (cells are square: ny = nx)").at_least(4);
                s.real("length", 1.0, "side of the square domain").with_unit("m").at_least(0);
                s.real("alpha", 1.0, "diffusivity").with_unit("m^2/s").at_least(1e-300);
                s.real("end_time", 0.01, "simulated time to reach").with_unit("s").at_least(0);
                s.real("cfl", 0.2, "alpha dt / dx^2 (stable up to 0.25)").at_least(1e-6).at_most(0.25);
                s.integer("mode_x", 1, "wave number of the initial state in x").at_least(0);
                s.integer("mode_y", 1, "wave number of the initial state in y").at_least(0);
                s.add_check([](const Input& in) {
                  if (in.get_int("nx") != in.get_int("ny")) {
                    throw InputError(
                        "heat needs square cells: nx and ny must be equal (nx = " + std::to_string(in.get_int("nx")) +
                        ", ny = " + std::to_string(in.get_int("ny")) + ")");
                  }
                });
              },
              "s",
              [](const Input& in) {
                const long nx = in.get_int("nx"), ny = in.get_int("ny");
                const double dx = in.get_real("length") / static_cast<double>(nx);
                const double dt = in.get_real("cfl") * dx * dx / in.get_real("alpha");
                const double steps = std::ceil(in.get_real("end_time") / dt * (1 - 1e-14));
                return WorkSize{"cell-updates", static_cast<double>(nx * ny), static_cast<long>(std::max(0.0, steps))};
              }});
}

}  // namespace gosok::heat
