#include <boost/program_options.hpp>
#include <cstdlib>
#include <iostream>

#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/core/runtime.hpp>
#include <gosok/scheduler/emit.hpp>
#include <gosok/workload/workload.hpp>
#include "commands.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace gosok {
namespace {

struct RunArgs {
  std::string workload;
  std::string input;
  std::vector<std::string> overrides;
  std::string array_key;
  std::string log_level = "info";
  bool log_all_ranks = false;
  bool help = false;
};

// The task index of the Slurm array task this process belongs to; InputError naming `what`
// when it is none.
std::string array_task_index(const std::string& what) {
  const auto task = env("SLURM_ARRAY_TASK_ID");
  if (!task) {
    throw InputError(what +
                     " needs the index of a Slurm array task, but SLURM_ARRAY_TASK_ID is not set "
                     "(gosok submit --array runs such tasks)");
  }
  return *task;
}

int run_command(const WorkloadRegistry& workloads, const std::vector<std::string>& args, int& argc, char** argv) {
  if (args.empty() || args[0].rfind("-", 0) == 0) {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
      std::cout << "usage: gosok run <workload> [--input FILE] [--set key=value]... [options]\n"
                << "workloads: " << workloads.names_list() << "\n"
                << "'gosok run <workload> --help' lists a workload's input keys.\n";
      return 0;
    }
    throw InputError("missing workload name; known workloads: " + workloads.names_list());
  }
  const WorkloadInfo& info = workloads.find(args[0]);
  Schema schema = workload_schema(info);

  RunArgs ra;
  po::options_description desc("gosok run " + info.name + " options");
  desc.add_options()("help,h", po::bool_switch(&ra.help), "describe this workload's input")(
      "input", po::value(&ra.input), "TOML input file; %a: the Slurm array task's index")(
      "set", po::value(&ra.overrides)->composing(), "override one input key: key=value (repeatable)")(
      "set-from-array", po::value(&ra.array_key),
      "in a Slurm array task: set input KEY to the task's index ($SLURM_ARRAY_TASK_ID)")(
      "log-level", po::value(&ra.log_level), "error, warn, info or debug")(
      "log-all-ranks", po::bool_switch(&ra.log_all_ranks), "log from every rank, not only rank 0");
  // Keys that declare a flag get a --flag spelling of --set key=value.
  for (const auto& p : schema.params()) {
    if (p.cli_flag.empty()) continue;
    desc.add_options()(p.cli_flag.c_str(), po::value<std::string>(), ("= --set " + p.key + "=VALUE").c_str());
  }
  // Kokkos' own --kokkos-* options pass through untouched.
  std::vector<std::string> ours;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i].rfind("--kokkos-", 0) != 0) ours.push_back(args[i]);
  }
  const auto vm = cli::parse_options(ours, desc);

  if (ra.help) {
    std::cout << "gosok run " << info.name << ": " << info.description << "\n\n"
              << desc << "\ninput keys (TOML file or --set key=value):\n"
              << schema.describe();
    return 0;
  }
  for (const auto& p : schema.params()) {
    if (p.cli_flag.empty() || !vm.count(p.cli_flag)) continue;
    for (const auto& o : ra.overrides) {
      if (o.rfind(p.key + "=", 0) == 0) {
        throw InputError("--" + p.cli_flag + " and --set " + o + " both set " + p.key + "; give one of them");
      }
    }
    ra.overrides.push_back(p.key + "=" + vm[p.cli_flag].as<std::string>());
  }
  if (!ra.array_key.empty()) {
    for (const auto& o : ra.overrides) {
      if (o.rfind(ra.array_key + "=", 0) == 0) {
        throw InputError("--set-from-array " + ra.array_key + " and --set " + o + " both set " + ra.array_key);
      }
    }
    ra.overrides.push_back(ra.array_key + "=" + array_task_index("--set-from-array"));
  }
  RuntimeOptions options;
  options.log_level = parse_log_level(ra.log_level);
  options.log_all_ranks = ra.log_all_ranks;
  // Input is resolved before MPI starts, so a bad input is exit 2 on every rank.
  // Each task of an array may read its own input file: %a in its name is the task's index.
  if (ra.input.find("%a") != std::string::npos) {
    ra.input = sched::array_task_path(ra.input, std::stoi(array_task_index("--input '" + ra.input + "' (%a)")));
  }
  Input input = resolve_workload_input(info, ra.input, ra.overrides);
  // Each task of an array has its own folder: %a in the results folder (and in the
  // checkpoint it restarts from) is its index.
  for (const char* key : {"run.output_dir", "run.restart"}) {
    std::string path = input.get_string(key);
    if (path.find("%a") == std::string::npos) continue;
    const std::string task = array_task_index(std::string(key) + " '" + path + "' (%a)");
    for (auto p = path.find("%a"); p != std::string::npos; p = path.find("%a", p)) path.replace(p, 2, task);
    input.set(key, path, input.origin(key));
  }

  Runtime runtime(argc, argv, options);
  return runtime.guarded([&] { return run_workload(runtime, info, input); });
}

}  // namespace

void register_run_command(CommandRegistry& commands, const WorkloadRegistry& workloads) {
  commands.add({"run", "run a workload (under mpirun/srun for several ranks)",
                [&workloads](const std::vector<std::string>& args, int& argc, char** argv) {
                  return run_command(workloads, args, argc, argv);
                }});
}

}  // namespace gosok
