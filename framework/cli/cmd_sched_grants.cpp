// gosok grants import|list|show|provision: the project's GPU-hour grants and their balance.
#include <fmt/format.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <iostream>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/text.hpp>
#include "cmd_sched_common.hpp"
#include "commands.hpp"

namespace po = boost::program_options;

namespace gosok {
namespace {

const char* kUsage =
    "usage: gosok grants import FILE...        read a CSV or JSON export of grants (idempotent)\n"
    "       gosok grants list [--json]         every grant with its balance\n"
    "       gosok grants show ID [--json]      one grant: balance, history, active jobs\n"
    "       gosok grants provision ID [--check] [--user U]...\n"
    "                                          create/update the Slurm account and QOS (GrpTRESMins);\n"
    "                                          --check only reports drift\n"
    "common options: --ledger PATH (default $GOSOK_LEDGER or ~/.local/share/gosok/ledger.sqlite)\n";

std::string current_user() {
  if (const char* u = std::getenv("USER"); u && *u) return u;
  return ::geteuid() == 0 ? "root" : std::to_string(::geteuid());
}

void print_balance_table(const std::vector<std::pair<sched::Grant, sched::GrantBalance>>& rows) {
  std::cout << fmt::format("{:<14} {:<16} {:<12} {:>10} {:>10} {:>10} {:>10} {:>10}  {}\n", "GRANT", "PROJECT", "SITE",
                           "GRANTED", "SETTLED", "IN-FLIGHT", "QUEUED", "REMAINING", "RUNS OUT");
  for (const auto& [g, b] : rows) {
    std::cout << fmt::format("{:<14} {:<16} {:<12} {:>10.4f} {:>10.4f} {:>10.4f} {:>10.4f} {:>10.4f}  {}\n", g.id,
                             g.project, g.site, b.granted, b.settled, b.in_flight, b.queued, b.remaining,
                             b.runs_out ? sched::format_date(*b.runs_out) : "-");
  }
}

int grants_command(const std::vector<std::string>& args) {
  std::string sub, ledger_arg;
  std::vector<std::string> positional, users;
  bool json = false, check = false, help = false;
  po::options_description desc("gosok grants options");
  desc.add_options()("help,h", po::bool_switch(&help), "show this help")(
      "ledger", po::value(&ledger_arg), "ledger path")("json", po::bool_switch(&json), "machine-readable output")(
      "check", po::bool_switch(&check), "provision: only report drift between the ledger and Slurm")(
      "user", po::value(&users)->composing(), "provision: users to associate (default: you)")(
      "args", po::value(&positional), "subcommand and arguments");
  po::positional_options_description pos;
  pos.add("args", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
  po::notify(vm);
  if (help || positional.empty()) {
    std::cout << kUsage;
    return help ? 0 : 2;
  }
  sub = positional[0];
  positional.erase(positional.begin());
  std::string path;
  if (sub == "import") {
    if (positional.empty()) throw InputError("grants import: give one or more CSV or JSON files");
    std::vector<std::pair<std::string, std::vector<sched::Grant>>> files;
    for (const auto& f : positional) files.push_back({f, sched::read_grants_file(f)});  // all valid before any write
    auto ledger = cli::open_ledger(ledger_arg, "", &path);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [file, grants] : files) {
      for (const auto& g : grants) {
        const std::string what = ledger->upsert_grant(g, file);
        if (json) {
          out.push_back({{"id", g.id}, {"result", what}});
        } else {
          std::cout << fmt::format("grant {}: {} ({} GPU-hours, {} to {}, account {})\n", g.id, what, g.gpu_hours,
                                   sched::format_date(g.start), sched::format_date(g.end - 86400), g.account);
        }
      }
    }
    if (json) {
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << "ledger: " << path << "\n";
    }
    return 0;
  }
  if (sub == "list") {
    auto ledger = cli::open_ledger(ledger_arg, "", &path, true);
    std::vector<std::pair<sched::Grant, sched::GrantBalance>> rows;
    for (const auto& g : ledger->grants()) rows.push_back({g, ledger->balance(g.id, sched::now_seconds())});
    if (json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& [g, b] : rows) out.push_back(cli::balance_json(g, b));
      std::cout << out.dump(2) << "\n";
    } else {
      print_balance_table(rows);
      std::cout << "GPU-hours; remaining = granted - settled - in flight - queued. ledger: " << path << "\n";
    }
    return 0;
  }
  if (positional.size() != 1) throw InputError("grants " + sub + ": give exactly one grant id");
  const std::string id = positional[0];
  auto ledger = cli::open_ledger(ledger_arg, "", &path, true);
  const auto grant = ledger->find_grant(id);
  if (!grant) throw InputError("no grant '" + id + "' in the ledger " + path);
  if (sub == "show") {
    const auto b = ledger->balance(id, sched::now_seconds());
    const auto jobs = ledger->jobs(id, false);
    const auto history = ledger->grant_history(id);
    if (json) {
      auto out = cli::balance_json(*grant, b);
      out["jobs"] = nlohmann::json::array();
      for (const auto& j : jobs) out["jobs"].push_back(cli::job_json(j));
      out["history"] = nlohmann::json::array();
      for (const auto& h : history) {
        out["history"].push_back(
            {{"at", sched::format_time(h.at)},
             {"what", h.what},
             {"old", h.old_terms.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(h.old_terms)},
             {"new", nlohmann::json::parse(h.new_terms)}});
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::cout << fmt::format(
        "grant {}: project {} ({}, {}), site {}, {} GPUs\n"
        "  valid {} to {} (UTC), Slurm account {}, QOS {}\n"
        "  granted    {:10.4f} GPU-hours\n"
        "  settled    {:10.4f}  ({} jobs)\n"
        "  in flight  {:10.4f}  (reservations of running jobs)\n"
        "  queued     {:10.4f}  (reservations of jobs not yet running)\n"
        "  remaining  {:10.4f}\n"
        "  burn rate  {:10.4f} GPU-hours/day (last 7 days); runs out: {}\n",
        grant->id, grant->project, grant->institution, grant->sector, grant->site, grant->gpu_type,
        sched::format_date(grant->start), sched::format_date(grant->end - 86400), grant->account, grant->qos, b.granted,
        b.settled, b.settled_jobs, b.in_flight, b.queued, b.remaining, b.burn_per_day,
        b.runs_out ? sched::format_date(*b.runs_out) : "not before the grant ends");
    std::cout << "history:\n";
    for (const auto& h : history)
      std::cout << "  " << sched::format_time(h.at) << " " << h.what << " " << h.new_terms << "\n";
    if (!jobs.empty()) {
      std::cout << "jobs:\n  " << cli::job_header() << "\n";
      for (const auto& j : jobs) std::cout << "  " << cli::job_line(j) << "\n";
    }
    return 0;
  }
  if (sub == "provision") {
    if (users.empty()) users.push_back(current_user());
    if (check) {
      const auto drift = sched::check_provision(*grant, users);
      if (json) {
        std::cout << nlohmann::json({{"grant", id}, {"drift", drift}}).dump(2) << "\n";
      } else if (drift.empty()) {
        std::cout << fmt::format("grant {}: Slurm matches the ledger (QOS {} GrpTRESMins=gres/gpu={}, account {})\n",
                                 id, grant->qos, sched::grant_gpu_minutes(*grant), grant->account);
      } else {
        for (const auto& d : drift) std::cout << "drift: " << d << "\n";
      }
      return drift.empty() ? 0 : 3;
    }
    const auto done = sched::provision_grant(*grant, users);
    if (json) {
      std::cout << nlohmann::json({{"grant", id}, {"changes", done}}).dump(2) << "\n";
    } else if (done.empty()) {
      std::cout << "grant " << id << ": Slurm already matches the ledger, nothing to do\n";
    } else {
      for (const auto& d : done) std::cout << d << "\n";
    }
    return 0;
  }
  throw InputError("unknown grants subcommand '" + sub + "'; allowed: import, list, show, provision");
}

}  // namespace

void register_grants_command(CommandRegistry& commands) {
  commands.add({"grants", "GPU-hour grants: import, list, show, provision on Slurm",
                [](const std::vector<std::string>& args, int&, char**) { return grants_command(args); }});
}

}  // namespace gosok
