// gosok status / cancel / release / reconcile: jobs after submission, and settling them from
// accounting.
#include <fmt/format.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <iostream>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/text.hpp>
#include "cmd_sched_common.hpp"
#include "commands.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace gosok {
namespace {

const char* kJobRefs =
    "JOB: g12 (gosok id; an array's: every task), g12_3 (task 3 of an array), 12345 or 12345_3 (Slurm ids);\n"
    "     or a workflow: w3, or its name (the newest of that name)";

void print_report(const sched::ReconcileReport& r, bool json) {
  if (json) {
    std::cout << cli::json_document({{"updated", r.updates.size()},
                                     {"settled", r.settled},
                                     {"released", r.released},
                                     {"found_by_tag", r.found_by_tag},
                                     {"missing", r.missing},
                                     {"not_proven_absent", r.unproven},
                                     {"uncharged", r.uncharged}})
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << fmt::format("reconcile: {} job(s) updated, {} settled, {} released, {} found by tag\n", r.updates.size(),
                           r.settled, r.released, r.found_by_tag);
  for (const auto& m : r.missing) std::cout << "MISSING from accounting: " << m << "\n";
  for (const auto& m : r.unproven) std::cout << "NOT PROVEN absent: " << m << "\n";
  for (const auto& m : r.uncharged) std::cout << "UNCHARGED: " << m << "\n";
}

int status_command(const std::vector<std::string>& args) {
  std::vector<std::string> refs;
  std::string ledger_arg, grant, timeout_text = "600", poll_text = "0";
  bool json = false, all = false, wait = false, help = false, no_refresh = false, list_workflows = false;
  po::options_description desc(std::string("usage: gosok status [JOB...] [options]\n") + kJobRefs);
  desc.add_options()("help,h", po::bool_switch(&help), "show this help")("json", po::bool_switch(&json), "JSON output")(
      "all", po::bool_switch(&all), "also finished jobs")("grant", po::value(&grant), "only this grant's jobs")(
      "wait", po::bool_switch(&wait), "wait until the jobs have finished and are settled")(
      "timeout", po::value(&timeout_text), "with --wait: give up after this many seconds (exit 124)")(
      "poll", po::value(&poll_text),
      "with --wait on a workflow: the longest wait between polls, in seconds (default 30; 5 without a batch system)")(
      "no-refresh", po::bool_switch(&no_refresh), "show the ledger as is, without asking the scheduler")(
      "workflows", po::bool_switch(&list_workflows), "list the workflows")("ledger", po::value(&ledger_arg),
                                                                           "ledger: a file or a postgresql:// URI");
  po::options_description hidden;
  hidden.add_options()("job", po::value(&refs), "jobs");
  po::options_description every;
  every.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("job", -1);
  cli::parse_options(args, every, &pos);
  if (help) {
    std::cout << desc << "\n";
    return 0;
  }
  const double timeout = cli::seconds_option("--timeout", timeout_text, 1e7);
  const double poll = cli::seconds_option("--poll", poll_text, 1e7);
  if (list_workflows) return cli::workflow_list_command(ledger_arg, json);
  std::string ledger_path;
  auto ledger = cli::open_ledger(ledger_arg, "", &ledger_path, true,
                                 no_refresh ? cli::LedgerAccess::read : cli::LedgerAccess::read_refresh);
  if (!refs.empty() &&
      std::all_of(refs.begin(), refs.end(), [&](const std::string& r) { return cli::is_workflow(*ledger, r); })) {
    ledger.reset();
    // A workflow's status also brings it forward: its retries, continuations, next steps.
    return cli::workflow_status_command(refs, ledger_arg, json, wait, wait ? timeout : -1, no_refresh, poll);
  }
  if (wait && ledger->read_only()) {
    throw InputError("--wait needs a ledger gosok may write (it settles the jobs it waits for); this one is read-only");
  }
  if (!no_refresh) cli::refresh(*ledger, ledger_path);
  std::vector<sched::JobRecord> jobs;
  if (!refs.empty()) {
    for (auto& ref : cli::find_refs(*ledger, refs)) {
      for (auto& j : ref.jobs) jobs.push_back(std::move(j));
    }
  } else {
    jobs = ledger->jobs(grant, !all && !wait);
  }
  if (wait && !cli::wait_for_jobs(*ledger, ledger_path, jobs, timeout)) {
    std::cerr << "gosok status: still running after " << timeout << " s\n";
    return 124;
  }
  const std::int64_t now = sched::now_seconds();
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& j : jobs) out.push_back(cli::job_json(j, now));
    std::cout << cli::json_document({{"jobs", out}}).dump(2) << "\n";
  } else {
    std::cout << cli::jobs_table(jobs, now);
  }
  return 0;
}

// cancel and release: one backend call per reference (a whole array is one Slurm job).
int control_command(const std::string& name, const std::vector<std::string>& args) {
  std::vector<std::string> refs;
  std::string ledger_arg;
  bool help = false;
  po::options_description desc(fmt::format("usage: gosok {} JOB...\n{}", name, kJobRefs));
  desc.add_options()("help,h", po::bool_switch(&help), "show this help")("ledger", po::value(&ledger_arg),
                                                                         "ledger: a file or a postgresql:// URI");
  po::options_description hidden;
  hidden.add_options()("job", po::value(&refs), "jobs");
  po::options_description every;
  every.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("job", -1);
  cli::parse_options(args, every, &pos);
  if (help || refs.empty()) {
    std::cout << desc << "\n";
    return help ? 0 : 2;
  }
  auto ledger = cli::open_ledger(ledger_arg, "", nullptr, true, cli::LedgerAccess::read);
  std::vector<std::string> job_refs;
  for (const auto& r : refs) {
    if (cli::is_workflow(*ledger, r)) {
      cli::workflow_control(name, r, ledger_arg);
    } else {
      job_refs.push_back(r);
    }
  }
  for (const auto& ref : cli::find_refs(*ledger, job_refs)) {
    const auto& job = ref.jobs.front();
    const std::string what =
        ref.jobs.size() > 1 ? fmt::format("g{} ({} tasks)", job.array_id, ref.jobs.size()) : job.gosok_id();
    bool active = false;
    for (const auto& j : ref.jobs) active = active || j.active();
    if (!active) {
      std::cout << what << " has already finished (" << job.state << ")\n";
      continue;
    }
    const auto backend = sched::make_backend(job.backend);
    const std::string slurm = ref.scheduler_id.empty() ? "" : " (Slurm job " + ref.scheduler_id + ")";
    if (name == "cancel") {
      backend->cancel(ref);
      std::cout << "cancelled " << what << slurm << "; 'gosok reconcile' settles what it used\n";
    } else {
      backend->release(ref);
      std::cout << "released " << what << slurm << "\n";
    }
  }
  return 0;
}

int reconcile_command(const std::vector<std::string>& args) {
  std::string ledger_arg, from, grace_text = "120";
  bool json = false, help = false;
  po::options_description desc("usage: gosok reconcile [options]: settle finished jobs from Slurm accounting");
  desc.add_options()("help,h", po::bool_switch(&help), "show this help")("json", po::bool_switch(&json), "JSON output")(
      "from-sacct", po::value(&from),
      "read a recorded 'sacct --parsable2' or '--json' output instead of calling sacct")(
      "grace", po::value(&grace_text),
      "seconds a job may be unknown to accounting before it is reported or released (default 120)")(
      "ledger", po::value(&ledger_arg), "ledger: a file or a postgresql:// URI");
  cli::parse_options(args, desc);
  if (help) {
    std::cout << desc << "\n";
    return 0;
  }
  // A week at most: a grace that long already keeps a lost submission's hours for a week.
  const auto grace = static_cast<std::int64_t>(cli::seconds_option("--grace", grace_text, 7 * 86400));
  std::string ledger_path;
  auto ledger = cli::open_ledger(ledger_arg, "", &ledger_path, true);
  const auto access = ledger->access();
  if (access.enforced && !access.reconcile) {
    // The database refuses it anyway (gosok.settle); this says why before asking Slurm.
    throw InputError(fmt::format(
        "on the shared ledger ({}) only the centre's reconcile service settles jobs (docs/site-admin/ledger.md); you "
        "are {}",
        ledger->describe(), access.user));
  }
  const std::string recorded = from.empty() ? "" : sched::read_text_file(from);
  const auto report = sched::reconcile_jobs(*ledger, recorded, grace);
  cli::record_settled(*ledger, ledger_path, report);
  print_report(report, json);
  return report.missing.empty() && report.unproven.empty() ? 0 : 3;
}

}  // namespace

void register_job_commands(CommandRegistry& commands) {
  commands.add({"status", "show submitted jobs (by gosok or Slurm id), their times and charges",
                [](const std::vector<std::string>& a, int&, char**) { return status_command(a); }});
  commands.add({"cancel", "cancel submitted jobs (a whole array, or one task)",
                [](const std::vector<std::string>& a, int&, char**) { return control_command("cancel", a); }});
  commands.add({"release", "release held jobs (gosok submit --hold), Slurm or local",
                [](const std::vector<std::string>& a, int&, char**) { return control_command("release", a); }});
  commands.add({"reconcile", "settle finished jobs' charges from Slurm accounting",
                [](const std::vector<std::string>& a, int&, char**) { return reconcile_command(a); }});
}

}  // namespace gosok
