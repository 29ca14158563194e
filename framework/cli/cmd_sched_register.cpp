// The scheduler's commands and file kinds, added to the CLI in one call.
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/backend.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/site.hpp>
#include <gosok/scheduler/text.hpp>
#include "cmd_sched_walltime.hpp"
#include "commands.hpp"

namespace gosok {

void register_grants_command(CommandRegistry& commands);
void register_submit_command(CommandRegistry& commands);
void register_job_commands(CommandRegistry& commands);
namespace cli {
void register_workflow_commands(CommandRegistry& commands);
}
void register_ledger_command(CommandRegistry& commands);

namespace {

// A grants export without a telling extension: a JSON array or {"grants": ...}, or a CSV
// whose header names the grant fields.
bool looks_like_grants(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
  if (first == std::string::npos) return false;
  if (text[first] == '{' || text[first] == '[') {
    const auto doc = nlohmann::json::parse(text, nullptr, false);
    return !doc.is_discarded() && (doc.is_array() || doc.contains("grants"));
  }
  const std::string header = sched::lower(text.substr(first, text.find('\n', first) - first));
  return header.find("gpu_hours") != std::string::npos && header.find(',') != std::string::npos;
}

}  // namespace

void register_scheduler_commands(CommandRegistry& commands) {
  register_grants_command(commands);
  register_submit_command(commands);
  register_job_commands(commands);
  cli::register_workflow_commands(commands);
  register_ledger_command(commands);
  // Internal: the local backend's monitor process (see sched::run_local_job).
  commands.add(
      {"_local-monitor", "(internal) run and settle one local job",
       [](const std::vector<std::string>& args, int&, char**) {
         const bool hold = args.size() > 4 && args[4] == "--hold";
         const std::size_t dashes = hold ? 5 : 4;
         if (args.size() <= dashes + 1 || args[0] != "--ledger" || args[2] != "--job" || args[dashes] != "--") {
           throw InputError("usage: gosok _local-monitor --ledger LEDGER --job ID [--hold] -- COMMAND...");
         }
         return sched::run_local_job(args[1], std::stoll(args[3]), hold,
                                     std::vector<std::string>(args.begin() + dashes + 1, args.end()),
                                     [&](const sched::JobRecord& job) { cli::record_job_sample(args[1], job); });
       }});
  add_file_kind(
      {"site configuration ([site] with [partitions.<name>])", {}, nullptr, "site", [](const std::string& path) {
         sched::load_site_file(path);
       }});
  add_file_kind({"grants export (CSV or JSON, as gosok grants import reads it)",
                 {".csv", ".json"},
                 looks_like_grants,
                 "",
                 [](const std::string& path) {
                   std::set<std::string> sites;
                   for (const auto& g : sched::read_grants_file(path)) {
                     if (sites.insert(g.site).second) sched::site_of_grant(g, path);
                   }
                 }});
  add_file_kind(
      {"job template (#SBATCH lines and {{placeholders}})",
       {".sbatch"},
       [](const std::string& text) { return text.rfind("#!", 0) == 0 && text.find("{{") != std::string::npos; },
       "",
       [](const std::string& path) { sched::check_template(sched::read_text_file(path), path); }});
}

}  // namespace gosok
