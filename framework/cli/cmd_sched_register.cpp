// The scheduler's commands and file kinds, added to the CLI in one call.
#include "commands.hpp"
#include "scheduler/site.hpp"

namespace gosok {

void register_grants_command(CommandRegistry& commands);
void register_submit_command(CommandRegistry& commands);
void register_job_commands(CommandRegistry& commands);

void register_scheduler_commands(CommandRegistry& commands) {
  register_grants_command(commands);
  register_submit_command(commands);
  register_job_commands(commands);
  add_file_kind({"site", "site configuration ([site] with [partitions.<name>])",
                 [](const std::string& path) { sched::load_site_file(path); }});
}

}  // namespace gosok
