// The decay workload's input: declared with no Kokkos, as gosok_add_workload's INPUT needs.
#include <gosok/workload/input.hpp>

namespace consumer {

void register_input(gosok::WorkloadInputs& inputs) {
  inputs.add({"decay", "exponential decay du/dt = -k u, a workload built outside gosok's tree", [](gosok::Schema& s) {
                s.real("k", 0.5, "decay rate").with_unit("s-1").at_least(0);
                s.real("dt", 0.01, "time step").with_unit("s").at_least(1e-12);
                s.integer("steps", 100, "number of steps").at_least(0);
              }});
}

}  // namespace consumer
