// weather's input: the keys, defaults, units, bounds and checks that `gosok run weather`
// and, on a login node, `gosok submit weather` and `gosok validate` read. No Kokkos here:
// this file is linked into the login-node gosok too.
#include <gosok/workload/input.hpp>
#include "case_names.hpp"

namespace gosok::weather {

void register_input(WorkloadInputs& inputs) {
  inputs.add({"weather",
              "2-D (x-z) compressible non-hydrostatic atmosphere (miniWeather numerics) with standard test cases",
              [](Schema& s) {
                const auto cases = case_names();
                std::string list;
                for (const auto& c : cases) list += (list.empty() ? "" : ", ") + c;
                s.choice("case", "thermal", cases, "test case (" + list + ")");
                s.integer("nx", 200, "cells in x (the domain is 20 km long, periodic)").at_least(4);
                s.integer("nz", 100, "cells in z (the domain is 10 km high, walls at top and bottom)").at_least(4);
                s.real("end_time", 1000.0, "simulated time to reach").with_unit("s").at_least(0);
                s.integer("member", 0, "ensemble member (0: the unperturbed control run)").at_least(0).flag("member");
                s.integer("seed", 0, "ensemble seed; with member, fixes the perturbation").at_least(0).flag("seed");
                s.real("perturbation", 0.01, "amplitude of an ensemble member's random theta' perturbation")
                    .with_unit("K")
                    .at_least(0);
                s.choice("decomposition", "x", {"x", "xz"}, "split the grid over ranks in x only, or in x and z");
              }});
}

}  // namespace gosok::weather
