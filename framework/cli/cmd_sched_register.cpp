// The scheduler's commands and file kinds, added to the CLI in one call.
#include <string>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/backend.hpp>
#include <gosok/scheduler/site.hpp>
#include "commands.hpp"

namespace gosok {

void register_grants_command(CommandRegistry& commands);
void register_submit_command(CommandRegistry& commands);
void register_job_commands(CommandRegistry& commands);

void register_scheduler_commands(CommandRegistry& commands) {
  register_grants_command(commands);
  register_submit_command(commands);
  register_job_commands(commands);
  register_submit_server_command(commands);
  // Internal: the local backend's monitor process (see sched::run_local_job).
  commands.add({"_local-monitor", "(internal) run and settle one local job",
                [](const std::vector<std::string>& args, int&, char**) {
                  if (args.size() < 6 || args[0] != "--ledger" || args[2] != "--job" || args[4] != "--") {
                    throw InputError("usage: gosok _local-monitor --ledger PATH --job ID -- COMMAND...");
                  }
                  return sched::run_local_job(args[1], std::stoll(args[3]),
                                              std::vector<std::string>(args.begin() + 5, args.end()));
                }});
  add_file_kind({"site", "site configuration ([site] with [partitions.<name>])",
                 [](const std::string& path) { sched::load_site_file(path); }});
}

}  // namespace gosok
