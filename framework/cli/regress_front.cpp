// The login-node side of gosok regress: `gosok validate` knows suite files (the suite's own
// schema, then every case's input against its workload's). The command itself runs in
// gosok-run, whose comparator reads HDF5.
#include <gosok/core/error.hpp>
#include <gosok/regression/suite.hpp>
#include <gosok/workload/input.hpp>
#include "commands.hpp"

namespace gosok {

void register_suite_file_kind() {
  add_file_kind(
      {"regression suite (suite = \"<name>\" with [[case]] tables)", {}, nullptr, "suite", [](const std::string& path) {
         const auto suite = regress::load_suite(path);
         WorkloadInputs inputs;
         register_builtin_workload_inputs(inputs);
         for (const auto& c : suite.cases) {
           try {
             const WorkloadInput& workload = inputs.find(c.workload);
             if (c.variants.empty()) resolve_workload_input(workload, c.input, c.set);
             for (const auto& v : c.variants) {
               auto with = c.set;
               with.insert(with.end(), v.set.begin(), v.set.end());
               resolve_workload_input(workload, c.input, with);
             }
           } catch (const InputError& e) {
             throw InputError(c.origin + ": case '" + c.name + "': " + e.what());
           }
         }
       }});
}

}  // namespace gosok
