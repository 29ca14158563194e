#include "cmd_sched_common.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <set>
#include <thread>

#include <gosok/core/config.hpp>
#include <gosok/core/error.hpp>
#include <gosok/core/logging.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/text.hpp>
#include "cmd_sched_walltime.hpp"

namespace gosok::cli {

std::unique_ptr<sched::LedgerStore> open_ledger(const std::string& explicit_location, const std::string& site_ledger,
                                                std::string* location_out, bool must_exist, LedgerAccess access) {
  const std::string location =
      sched::ledger_location(explicit_location, site_ledger.empty() ? sched::find_site("").ledger : site_ledger);
  if (location_out) *location_out = location;
  const auto where = sched::parse_ledger_location(location);
  // A shared ledger's own rules say what its user may change.
  if (where.backend != "sqlite") return sched::open_ledger_at(location, must_exist);
  const std::string& path = where.target;
  if ((must_exist || access != LedgerAccess::write) && !std::filesystem::exists(path)) {
    throw InputError("no ledger at " + path +
                     " (import a grant first: gosok grants import FILE; or set --ledger / GOSOK_LEDGER)");
  }
  if (access == LedgerAccess::read) return sched::open_sqlite_ledger(path, true);
  const bool writable = ::access(path.c_str(), F_OK) != 0 || ::access(path.c_str(), W_OK) == 0;
  if (access == LedgerAccess::read_refresh && !writable) {
    log().warn("ledger {} is read-only for you: shown as it is, without asking the scheduler", path);
    return sched::open_sqlite_ledger(path, true);
  }
  if (!writable) {
    throw RunError("ledger " + path +
                   " is read-only for you: commands that only read it work (grants list, grants show, status); this "
                   "one writes");
  }
  return sched::open_sqlite_ledger(path);
}

double seconds_option(const std::string& option, const std::string& text, double max) {
  const auto v = parse_decimal(text);
  if (!v || *v < 0 || *v > max) {
    throw InputError(fmt::format("{} '{}' is not a number of seconds from 0 to {}", option, text, max));
  }
  return *v;
}

nlohmann::json json_document(nlohmann::json payload) {
  payload["schema_version"] = kJsonSchemaVersion;
  return payload;
}

namespace {

nlohmann::json or_null(const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); }
nlohmann::json time_or_null(std::int64_t t) {
  return t > 0 ? nlohmann::json(sched::format_time(t)) : nlohmann::json(nullptr);
}

// Seconds the job has run: accounting's figure once it has ended, the clock's while it runs.
std::optional<std::int64_t> elapsed_of(const sched::JobRecord& j, std::int64_t now) {
  if (j.state == "settled" || j.ended_at > 0) return j.elapsed_s;
  if (j.started_at > 0) return std::max<std::int64_t>(0, now - j.started_at);
  return std::nullopt;
}

std::string local_time(std::int64_t t) { return t > 0 ? sched::format_epoch(t, "%Y-%m-%dT%H:%M:%S", true) : "-"; }

}  // namespace

nlohmann::json job_json(const sched::JobRecord& j, std::int64_t now) {
  const auto elapsed = elapsed_of(j, now);
  const bool settled = j.state == "settled";
  return {{"id", j.gosok_id()},
          {"slurm_id", or_null(j.slurm_id)},
          {"user", or_null(j.user)},
          {"array_task", j.in_array() ? nlohmann::json(j.array_task) : nlohmann::json(nullptr)},
          {"grant", j.grant_id},
          {"site", j.site},
          {"partition", j.partition},
          {"backend", j.backend},
          {"name", j.name},
          {"workload", j.workload},
          {"state", j.state},
          {"scheduler_state", or_null(j.sched_state)},
          {"nodes", j.nodes},
          {"gpus", j.gpus},
          {"time_limit", sched::format_walltime(j.time_limit_s)},
          {"charge_factor", j.charge_factor},
          {"reserved_gpu_hours", j.reserved_gpu_h},
          {"charged_gpu_hours", settled ? nlohmann::json(j.charged_gpu_h) : nlohmann::json(nullptr)},
          {"uncharged_gpu_hours", j.uncharged_gpu_h},
          {"allocated_gpus", settled ? nlohmann::json(j.alloc_gpus) : nlohmann::json(nullptr)},
          {"submit_time", time_or_null(j.submitted_at)},
          {"start_time", time_or_null(j.started_at)},
          {"end_time", time_or_null(j.ended_at)},
          {"elapsed_s", elapsed ? nlohmann::json(*elapsed) : nlohmann::json(nullptr)},
          {"tag", or_null(j.tag)},
          {"user", or_null(j.user)},
          {"account", or_null(j.account)},
          {"job_dir", or_null(j.job_dir)},
          {"results", or_null(j.results_dir)},
          {"note", or_null(j.note)},
          {"energy_joules", j.energy_j ? nlohmann::json(*j.energy_j) : nlohmann::json(nullptr)},
          {"energy_note", or_null(j.energy_note)}};
}

namespace {
nlohmann::json members_json(const sched::GrantBalance& b) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : b.by_member) {
    out.push_back({{"user", or_null(m.user)},
                   {"settled_gpu_hours", m.settled},
                   {"in_flight_gpu_hours", m.in_flight},
                   {"queued_gpu_hours", m.queued},
                   {"active_jobs", m.active_jobs},
                   {"settled_jobs", m.settled_jobs}});
  }
  return out;
}
}  // namespace

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
          {"settled_jobs", b.settled_jobs},
          {"energy_kwh", b.energy_jobs > 0 ? nlohmann::json(b.energy_kwh) : nlohmann::json(nullptr)},
          {"energy_measured_jobs", b.energy_jobs},
          {"by_member", members_json(b)}};
}

std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                         const std::vector<bool>& right_aligned, const std::string& indent) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out = indent;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const bool last = c + 1 == cells.size();
      const std::size_t pad = width[c] - std::min(width[c], cells[c].size());
      if (c > 0) out += "  ";
      if (right_aligned[c]) out += std::string(pad, ' ');
      out += cells[c];
      if (!right_aligned[c] && !last) out += std::string(pad, ' ');
    }
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string jobs_table(const std::vector<sched::JobRecord>& jobs, std::int64_t now, const std::string& indent) {
  std::vector<std::vector<std::string>> rows;
  std::string notes;
  for (const auto& j : jobs) {
    const auto elapsed = elapsed_of(j, now);
    rows.push_back({j.gosok_id(), j.slurm_id.empty() ? "-" : j.slurm_id, j.grant_id, j.user.empty() ? "-" : j.user,
                    j.name, j.state, j.sched_state.empty() ? "-" : j.sched_state, local_time(j.submitted_at),
                    local_time(j.started_at), local_time(j.ended_at), elapsed ? sched::format_walltime(*elapsed) : "-",
                    fmt::format("{:.4f}", j.reserved_gpu_h),
                    j.state == "settled" ? fmt::format("{:.4f}", j.charged_gpu_h) : "-",
                    // Where the run measured it; '-' where not (never a zero).
                    j.energy_j ? fmt::format("{:.4g} kWh", *j.energy_j / 3.6e6) : "-", j.job_dir});
    if (!j.note.empty()) notes += indent + "  " + j.gosok_id() + ": " + j.note + "\n";
  }
  std::string out = format_table(
      {"ID", "SLURM", "GRANT", "USER", "NAME", "STATE", "SCHED", "SUBMIT", "START", "END", "ELAPSED", "RESERVED",
       "CHARGED", "ENERGY", "JOB DIR"},
      rows, {false, false, false, false, false, false, false, false, false, false, true, true, true, true, false},
      indent);
  if (!notes.empty()) out += indent + "notes:\n" + notes;
  return out;
}

std::vector<sched::JobRef> find_refs(sched::LedgerStore& ledger, const std::vector<std::string>& refs) {
  std::vector<sched::JobRef> out;
  std::set<std::int64_t> seen;
  for (const auto& r : refs) {
    auto ref = sched::find_job_ref(ledger, r);
    ref.jobs.erase(std::remove_if(ref.jobs.begin(), ref.jobs.end(),
                                  [&](const sched::JobRecord& j) { return !seen.insert(j.id).second; }),
                   ref.jobs.end());
    if (!ref.jobs.empty()) out.push_back(std::move(ref));
  }
  return out;
}

void record_settled(sched::LedgerStore& ledger, const std::string& ledger_path, const sched::ReconcileReport& report) {
  // A sample belongs in the results store of the user whose job it was: on a shared ledger
  // the centre's reconcile settles everyone's jobs but records only its own (a member's
  // wait records theirs, see wait_for_jobs).
  const auto me = ledger.access();
  for (const auto& u : report.updates) {
    if (u.state != "settled") continue;
    const auto job = ledger.find_job(u.id);
    if (job && (!me.enforced || job->user == me.user)) record_job_sample(ledger_path, *job);
  }
}

void refresh(sched::LedgerStore& ledger, const std::string& ledger_path) {
  // A read-only ledger, or a shared one this user may not settle on (the centre's reconcile does).
  if (ledger.read_only() || !ledger.access().reconcile) return;
  try {
    record_settled(ledger, ledger_path, sched::reconcile_jobs(ledger, ""));
  } catch (const std::exception& e) {
    log().warn("could not query the scheduler: {}", e.what());
  }
}

bool wait_for_jobs(sched::LedgerStore& ledger, const std::string& ledger_path, std::vector<sched::JobRecord>& jobs,
                   double timeout_s) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto me = ledger.access();
  for (;;) {
    bool active = false;
    for (const auto& j : jobs) active = active || (j.active() && j.state != "missing");
    if (!active) return true;
    if (timeout_s >= 0 && std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > timeout_s) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    refresh(ledger, ledger_path);
    for (auto& j : jobs) {
      const bool was_active = j.active();
      if (auto updated = ledger.find_job(j.id)) j = *updated;
      // Settled by the centre's reconcile meanwhile: its sample is this user's to record.
      if (!me.reconcile && was_active && j.state == "settled" && j.user == me.user) record_job_sample(ledger_path, j);
    }
  }
}

int run_subcommand(const std::string& command, const char* usage, const std::vector<Subcommand>& subcommands,
                   const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cout << usage;
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h") {
    std::cout << usage;
    return 0;
  }
  std::string allowed;
  for (const auto& [name, run] : subcommands) {
    if (name == args[0]) return run(std::vector<std::string>(args.begin() + 1, args.end()));
    allowed += (allowed.empty() ? "" : ", ") + name;
  }
  throw InputError("unknown " + command + " subcommand '" + args[0] + "'; allowed: " + allowed);
}

}  // namespace gosok::cli
