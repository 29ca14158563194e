#include "cmd_sched_common.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/text.hpp>
#include "cmd_sched_server.hpp"

namespace gosok::cli {

std::shared_ptr<sched::LedgerStore> open_ledger(const std::string& explicit_path, const std::string& site_ledger,
                                                std::string* path_out, bool must_exist) {
  const std::string path = sched::ledger_path(explicit_path, site_ledger);
  if (path_out) *path_out = path;
  if (must_exist && !std::filesystem::exists(path)) {
    throw InputError("no ledger at " + path +
                     " (import a grant first: gosok grants import FILE; or set --ledger / GOSOK_LEDGER)");
  }
  if (!in_submit_server()) return sched::open_sqlite_ledger(path);
  // The server keeps its last few connections (opening one costs about a millisecond), each
  // for the very file it opened: a ledger deleted and made anew at the same path is reopened.
  struct Kept {
    std::shared_ptr<sched::LedgerStore> ledger;
    dev_t dev;
    ino_t ino;
  };
  static std::map<std::string, Kept> kept;
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (const auto k = kept.find(path); k != kept.end()) {
    if (exists && k->second.dev == st.st_dev && k->second.ino == st.st_ino) return k->second.ledger;
    kept.erase(k);
  }
  auto ledger = std::shared_ptr<sched::LedgerStore>(sched::open_sqlite_ledger(path));
  if (::stat(path.c_str(), &st) == 0) {
    if (kept.size() >= 4) kept.clear();
    kept[path] = {ledger, st.st_dev, st.st_ino};
  }
  return ledger;
}

nlohmann::json job_json(const sched::JobRecord& j) {
  return {{"id", j.gosok_id()},
          {"slurm_id", j.slurm_id},
          {"grant", j.grant_id},
          {"site", j.site},
          {"partition", j.partition},
          {"backend", j.backend},
          {"name", j.name},
          {"workload", j.workload},
          {"state", j.state},
          {"scheduler_state", j.sched_state},
          {"nodes", j.nodes},
          {"gpus", j.gpus},
          {"walltime", sched::format_walltime(j.walltime_s)},
          {"charge_factor", j.charge_factor},
          {"reserved_gpu_hours", j.reserved_gpu_h},
          {"charged_gpu_hours", j.charged_gpu_h},
          {"elapsed_s", j.elapsed_s},
          {"allocated_gpus", j.alloc_gpus},
          {"submitted_at", sched::format_time(j.submitted_at)},
          {"tag", j.tag},
          {"output_dir", j.output_dir},
          {"note", j.note}};
}

nlohmann::json balance_json(const sched::Grant& g, const sched::GrantBalance& b) {
  return {{"id", g.id},
          {"project", g.project},
          {"institution", g.institution},
          {"sector", g.sector},
          {"site", g.site},
          {"gpu_type", g.gpu_type},
          {"start", sched::format_date(g.start)},
          {"end", sched::format_date(g.end - 86400)},
          {"account", g.account},
          {"qos", g.qos},
          {"granted_gpu_hours", b.granted},
          {"settled_gpu_hours", b.settled},
          {"in_flight_gpu_hours", b.in_flight},
          {"queued_gpu_hours", b.queued},
          {"remaining_gpu_hours", b.remaining},
          {"burn_gpu_hours_per_day", b.burn_per_day},
          {"runs_out", b.runs_out ? nlohmann::json(sched::format_date(*b.runs_out)) : nlohmann::json(nullptr)},
          {"active_jobs", b.active_jobs},
          {"settled_jobs", b.settled_jobs}};
}

std::string job_header() {
  return fmt::format("{:<7} {:<9} {:<14} {:<12} {:<10} {:<11} {:>9} {:>9}  {}", "ID", "SLURM", "GRANT", "NAME", "STATE",
                     "SCHED", "RESERVED", "CHARGED", "OUTPUT");
}

std::string job_line(const sched::JobRecord& j) {
  return fmt::format("{:<7} {:<9} {:<14} {:<12} {:<10} {:<11} {:>9.4f} {:>9.4f}  {}", j.gosok_id(),
                     j.slurm_id.empty() ? "-" : j.slurm_id, j.grant_id, j.name, j.state,
                     j.sched_state.empty() ? "-" : j.sched_state, j.reserved_gpu_h, j.charged_gpu_h, j.output_dir);
}

}  // namespace gosok::cli
