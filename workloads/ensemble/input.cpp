// ensemble-stats' input: which members' files to read, which variable and record, and the
// picture. No Kokkos here: this file is linked into the login-node gosok too.
#include <gosok/core/error.hpp>
#include <gosok/workload/input.hpp>

namespace gosok::ensemble {

void register_input(WorkloadInputs& inputs) {
  inputs.add({"ensemble-stats",
              "ensemble mean and spread of a gridded field over the members of an ensemble (HDF5 and a PNG picture)",
              [](Schema& s) {
                s.string("members_dir", std::nullopt,
                         "folder of the members' results, one sub-folder per member: 0, 1, ... (a workflow step's "
                         "{{STEP.results}})");
                s.integer("members", std::nullopt, "how many members (sub-folders 0 .. members-1)").at_least(1);
                s.string("file", "weather.h5", "each member's gridded series (gosok's netCDF-4 layout)");
                s.string("variable", "theta", "the variable (time, z, x) to take the mean and spread of");
                s.integer("record", -1, "which output record (0: the first; -1: the last)").at_least(-1);
                s.string("image", "ensemble.png",
                         "picture of the mean (top) and the spread (bottom) in the results folder (\"\": none)");
                s.integer("pixels", 4, "pixels per grid cell in the picture").at_least(1).at_most(64);
              },
              "s", nullptr});  // its size is the members' files', not the input's
}

}  // namespace gosok::ensemble
