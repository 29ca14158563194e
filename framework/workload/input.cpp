#include <gosok/workload/input.hpp>

#include <fmt/format.h>

#include <algorithm>

#include <gosok/core/error.hpp>

namespace gosok {

void WorkloadInputs::add(WorkloadInput input) {
  auto name = input.name;
  if (!m_inputs.emplace(name, std::move(input)).second) {
    throw std::logic_error("workload input '" + name + "' registered twice");
  }
}

const WorkloadInput& WorkloadInputs::find(const std::string& name) const {
  auto it = m_inputs.find(name);
  if (it == m_inputs.end()) {
    throw InputError(fmt::format("unknown workload '{}'; known workloads: {}", name, names_list()));
  }
  return it->second;
}

std::vector<std::string> WorkloadInputs::names() const {
  std::vector<std::string> out;
  for (const auto& [name, input] : m_inputs) out.push_back(name);
  return out;
}

std::string WorkloadInputs::names_list() const {
  std::string out;
  for (const auto& [name, input] : m_inputs) out += (out.empty() ? "" : ", ") + name;
  return out;
}

void declare_run_options(Schema& s, const std::string& workload, const std::string& time_unit) {
  s.string("run.output_dir", "gosok-out/" + workload,
           "folder for results, diagnostics and checkpoints; %a is the Slurm array task index")
      .flag("results");
  s.integer("run.max_steps", 0, "stop after this many steps (0: run to the workload's end)").at_least(0);
  s.integer("run.diag_every", 0, "diagnostics every N steps (0: only at the end)").at_least(0);
  s.integer("run.output_every", 0, "output every N steps (0: only at the end)").at_least(0);
  s.real("run.output_interval", 0.0, "output every this much simulated time (0: off)").with_unit(time_unit).at_least(0);
  s.integer("run.checkpoint_every", 0, "checkpoint every N steps (0: never)").at_least(0).flag("checkpoint-every");
  s.string("run.restart", "", "checkpoint file to continue from; %a is the Slurm array task index").flag("restart");
  s.choice("run.mpi_buffers", "auto", {"auto", "direct", "staged"},
           "how halo and particle messages reach MPI: direct (from the buffers where kernels pack them), staged "
           "(through pinned host memory), or auto (direct for host memory or a CUDA-aware MPI, else staged)");
  s.real("run.progress_seconds", 10.0, "wall seconds between progress lines (0: never)").at_least(0);
#ifdef GOSOK_TEST_HOOKS
  // Fault injection for the test suite, in builds with GOSOK_ENABLE_TEST_HOOKS only.
  s.integer("run.fail_rank", -1, "test hook: this rank throws at run.fail_step (-1: off)").at_least(-1);
  s.integer("run.fail_step", 0, "test hook: the step at which run.fail_rank throws").at_least(0);
  s.real("run.step_pause", 0.0,
         "test hook: wall seconds each step is made to last at least, so that a small run outlasts a time limit "
         "(0: off)")
      .with_unit("s")
      .at_least(0);
  s.integer("run.kill_in_checkpoint", 0,
            "test hook: SIGKILL this process while checkpoint number N is half written (0: off)")
      .at_least(0);
#endif
}

Schema workload_schema(const WorkloadInput& input) {
  Schema schema;
  declare_run_options(schema, input.name, input.time_unit);
  input.declare(schema);
  return schema;
}

WorkSize run_size(const WorkloadInput& workload, const Input& input) {
  if (!workload.size) return {};
  WorkSize size = workload.size(input);
  const long max_steps = input.get_int("run.max_steps");
  if (max_steps > 0) size.steps = std::min(size.steps, max_steps);
  return size;
}

Input resolve_workload_input(const WorkloadInput& input, const std::string& file,
                             const std::vector<std::string>& overrides) {
  if (!file.empty()) {
    const std::string named = read_toml_string_key(file, "workload");
    if (!named.empty() && named != input.name) {
      throw InputError(file + ": workload = \"" + named + "\" but the command runs '" + input.name + "'");
    }
  }
  return resolve_input(workload_schema(input), file, overrides);
}

}  // namespace gosok
