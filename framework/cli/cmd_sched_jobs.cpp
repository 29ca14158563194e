// gosok status / cancel / reconcile: jobs after submission, and settling them from accounting.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include <gosok/core/error.hpp>
#include <gosok/core/logging.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/text.hpp>
#include "cmd_sched_common.hpp"
#include "commands.hpp"

namespace po = boost::program_options;

namespace gosok {
namespace {

// Brings active jobs up to date before showing them; a site without Slurm (no sacct) is
// only a warning here, since `status` must still show the ledger.
void refresh(sched::LedgerStore& ledger) {
  try {
    sched::reconcile_jobs(ledger, "");
  } catch (const std::exception& e) {
    log().warn("could not query the scheduler: {}", e.what());
  }
}

void print_report(const sched::ReconcileReport& r, bool json) {
  if (json) {
    std::cout << nlohmann::json({{"updated", r.updates.size()},
                                 {"settled", r.settled},
                                 {"released", r.released},
                                 {"found_by_tag", r.found_by_tag},
                                 {"missing", r.missing}})
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << fmt::format("reconcile: {} job(s) updated, {} settled, {} released, {} found by tag\n", r.updates.size(),
                           r.settled, r.released, r.found_by_tag);
  for (const auto& m : r.missing) std::cout << "MISSING from accounting: " << m << "\n";
}

int status_command(const std::vector<std::string>& args) {
  std::vector<std::string> refs;
  std::string ledger_arg, grant;
  bool json = false, all = false, wait = false, help = false, no_refresh = false;
  double timeout = 600;
  po::options_description desc("usage: gosok status [JOB...] [options]   (JOB: g12 = gosok id, 12345 = Slurm id)");
  desc.add_options()("help,h", po::bool_switch(&help), "show this help")("json", po::bool_switch(&json), "JSON output")(
      "all", po::bool_switch(&all), "also finished jobs")("grant", po::value(&grant), "only this grant's jobs")(
      "wait", po::bool_switch(&wait), "wait until the jobs have finished and are settled")(
      "timeout", po::value(&timeout), "with --wait: give up after this many seconds (exit 124)")(
      "no-refresh", po::bool_switch(&no_refresh), "show the ledger as is, without asking the scheduler")(
      "ledger", po::value(&ledger_arg), "ledger path")("job", po::value(&refs), "jobs");
  po::positional_options_description pos;
  pos.add("job", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
  po::notify(vm);
  if (help) {
    std::cout << desc << "\n";
    return 0;
  }
  auto ledger = cli::open_ledger(ledger_arg, "", nullptr, true);
  auto select = [&]() {
    std::vector<sched::JobRecord> jobs;
    if (!refs.empty()) {
      for (const auto& r : refs) jobs.push_back(sched::find_job_ref(*ledger, r));
    } else {
      jobs = ledger->jobs(grant, !all && !wait);
    }
    return jobs;
  };
  if (!no_refresh) refresh(*ledger);
  auto jobs = select();
  const auto t0 = std::chrono::steady_clock::now();
  while (wait) {
    bool active = false;
    for (const auto& j : jobs) active = active || (j.active() && j.state != "missing");
    if (!active) break;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > timeout) {
      std::cerr << "gosok status: still running after " << timeout << " s\n";
      return 124;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    refresh(*ledger);
    jobs = select();
  }
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& j : jobs) out.push_back(cli::job_json(j));
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << cli::job_header() << "\n";
    for (const auto& j : jobs) {
      std::cout << cli::job_line(j) << "\n";
      if (!j.note.empty()) std::cout << "        note: " << j.note << "\n";
    }
  }
  return 0;
}

int cancel_command(const std::vector<std::string>& args) {
  std::vector<std::string> refs;
  std::string ledger_arg;
  bool help = false;
  po::options_description desc("usage: gosok cancel JOB...   (JOB: g12 = gosok id, 12345 = Slurm id)");
  desc.add_options()("help,h", po::bool_switch(&help), "show this help")(
      "ledger", po::value(&ledger_arg), "ledger path")("job", po::value(&refs), "jobs");
  po::positional_options_description pos;
  pos.add("job", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
  po::notify(vm);
  if (help || refs.empty()) {
    std::cout << desc << "\n";
    return help ? 0 : 2;
  }
  auto ledger = cli::open_ledger(ledger_arg, "", nullptr, true);
  for (const auto& r : refs) {
    const auto job = sched::find_job_ref(*ledger, r);
    if (!job.active()) {
      std::cout << job.gosok_id() << " has already finished (" << job.state << ")\n";
      continue;
    }
    sched::make_backend(job.backend)->cancel(job);
    std::cout << "cancelled " << job.gosok_id() << (job.slurm_id.empty() ? "" : " (Slurm job " + job.slurm_id + ")")
              << "; 'gosok reconcile' settles what it used\n";
  }
  return 0;
}

int reconcile_command(const std::vector<std::string>& args) {
  std::string ledger_arg, from;
  bool json = false, help = false;
  std::int64_t grace = 120;
  po::options_description desc("usage: gosok reconcile [options]: settle finished jobs from Slurm accounting");
  desc.add_options()("help,h", po::bool_switch(&help), "show this help")("json", po::bool_switch(&json), "JSON output")(
      "from-sacct", po::value(&from),
      "read a recorded 'sacct --parsable2' or '--json' output instead of calling sacct")(
      "grace", po::value(&grace), "seconds a job may be unknown to accounting before it is reported (default 120)")(
      "ledger", po::value(&ledger_arg), "ledger path");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).run(), vm);
  po::notify(vm);
  if (help) {
    std::cout << desc << "\n";
    return 0;
  }
  auto ledger = cli::open_ledger(ledger_arg, "", nullptr, true);
  const std::string recorded = from.empty() ? "" : sched::read_text_file(from);
  const auto report = sched::reconcile_jobs(*ledger, recorded, grace);
  print_report(report, json);
  return report.missing.empty() ? 0 : 3;
}

}  // namespace

void register_job_commands(CommandRegistry& commands) {
  commands.add({"status", "show submitted jobs (by gosok or Slurm id) and their charges",
                [](const std::vector<std::string>& a, int&, char**) { return status_command(a); }});
  commands.add({"cancel", "cancel submitted jobs",
                [](const std::vector<std::string>& a, int&, char**) { return cancel_command(a); }});
  commands.add({"reconcile", "settle finished jobs' charges from Slurm accounting",
                [](const std::vector<std::string>& a, int&, char**) { return reconcile_command(a); }});
}

}  // namespace gosok
