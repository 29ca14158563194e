#include <boost/program_options.hpp>
#include <iostream>

#include <gosok/core/error.hpp>
#include <gosok/core/runtime.hpp>
#include <gosok/workload/workload.hpp>
#include "commands.hpp"

namespace po = boost::program_options;

namespace gosok {
namespace {

struct RunArgs {
  std::string workload;
  std::string config;
  std::vector<std::string> overrides;
  std::string log_level = "info";
  bool log_all_ranks = false;
  bool help = false;
};

int run_command(const WorkloadRegistry& workloads, const std::vector<std::string>& args, int& argc, char** argv) {
  if (args.empty() || args[0].rfind("-", 0) == 0) {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
      std::cout << "usage: gosok run <workload> [--config FILE] [--set key=value]... [options]\n"
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
      "config,c", po::value(&ra.config), "TOML input file")("set,s", po::value(&ra.overrides)->composing(),
                                                            "override one input key: key=value (repeatable)")(
      "log-level", po::value(&ra.log_level), "error, warn, info or debug")(
      "log-all-ranks", po::bool_switch(&ra.log_all_ranks), "log from every rank, not only rank 0");
  // Keys that declare a flag get a --flag spelling of --set key=value.
  std::map<std::string, std::string> flag_values;
  for (const auto& p : schema.params()) {
    if (p.cli_flag.empty()) continue;
    desc.add_options()(p.cli_flag.c_str(), po::value<std::string>(), ("= --set " + p.key + "=VALUE").c_str());
  }
  // Kokkos' own --kokkos-* options pass through untouched.
  std::vector<std::string> ours;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i].rfind("--kokkos-", 0) != 0) ours.push_back(args[i]);
  }
  po::variables_map vm;
  po::store(po::command_line_parser(ours).options(desc).run(), vm);
  po::notify(vm);

  if (ra.help) {
    std::cout << "gosok run " << info.name << ": " << info.description << "\n\n"
              << desc << "\ninput keys (TOML file or --set key=value):\n"
              << schema.describe();
    return 0;
  }
  for (const auto& p : schema.params()) {
    if (!p.cli_flag.empty() && vm.count(p.cli_flag)) {
      ra.overrides.push_back(p.key + "=" + vm[p.cli_flag].as<std::string>());
    }
  }
  if (!ra.config.empty()) {
    const std::string named = read_toml_string_key(ra.config, "workload");
    if (!named.empty() && named != info.name) {
      throw InputError(ra.config + ": workload = \"" + named + "\" but the command runs '" + info.name + "'");
    }
  }
  RuntimeOptions options;
  options.log_level = parse_log_level(ra.log_level);
  options.log_all_ranks = ra.log_all_ranks;
  // Input is resolved before MPI starts, so a bad input is exit 2 on every rank.
  Input input = resolve_input(schema, ra.config, ra.overrides);

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
