// weather's input: the keys, defaults, units, bounds and checks that `gosok run weather`
// and, on a login node, `gosok submit weather` and `gosok validate` read. No Kokkos here:
// this file is linked into the login-node gosok too.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <gosok/core/error.hpp>
#include <gosok/workload/input.hpp>
#include "case_names.hpp"
#include "domain.hpp"

namespace gosok::weather {
namespace {

/// start_date must be a plain CF reference time, 'YYYY-MM-DD hh:mm:ss'.
void check_start_date(const Input& in) {
  const std::string& d = in.get_string("start_date");
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  char end = 0;
  const bool parsed = d.size() == 19 && std::sscanf(d.c_str(), "%4d-%2d-%2d %2d:%2d:%2d%c", &year, &month, &day, &hour,
                                                    &minute, &second, &end) == 6;
  if (!parsed || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    throw InputError("start_date = '" + d + "' (from " + in.origin("start_date") +
                     ") is not a date and time 'YYYY-MM-DD hh:mm:ss', e.g. '2000-01-01 00:00:00'");
  }
}

}  // namespace

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
                s.string("start_date", "2000-01-01 00:00:00",
                         "date and time (UTC, 'YYYY-MM-DD hh:mm:ss') of simulated time 0: the reference of the "
                         "output's CF time axis ('seconds since ...')");
                s.add_check(check_start_date);
              },
              "s",
              [](const Input& in) {
                // As the run loop steps: dt, the last step shortened to land on end_time.
                const long nx = in.get_int("nx"), nz = in.get_int("nz");
                const double steps = std::ceil(in.get_real("end_time") / stable_dt(nx, nz) - 1e-6);
                return WorkSize{"cell-updates", static_cast<double>(nx * nz), static_cast<long>(std::max(0.0, steps))};
              }});
}

}  // namespace gosok::weather
