// gosok grants import|list|show|provision: the project's GPU-hour grants and their balance.
// Each subcommand has its own options and --help.
#include <fmt/format.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <functional>
#include <iostream>
#include <map>
#include <set>

#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/text.hpp>
#include "cmd_sched_common.hpp"
#include "commands.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace gosok {
namespace {

const char* kUsage =
    "usage: gosok grants import FILE...          read CSV or JSON exports of grants (idempotent)\n"
    "       gosok grants import-members FILE...  who belongs to which project (CSV or JSON), or --from-slurm\n"
    "       gosok grants list                    every grant with its balance\n"
    "       gosok grants members [PROJECT]       the members of each project\n"
    "       gosok grants show ID                 one grant: balance, who reserved what, history, jobs\n"
    "       gosok grants provision ID            create/update the Slurm account and QOS (GrpTRESMins)\n"
    "'gosok grants SUBCOMMAND --help' describes its options.\n";

std::string current_user() {
  if (const auto u = env("USER")) return *u;
  return sched::current_user();
}

// The options every subcommand has, plus its own; parses `args` (after the subcommand).
struct SubcommandArgs {
  std::string ledger;
  bool json = false;
  bool help = false;
  std::vector<std::string> positional;
};

bool parse_subcommand(const std::string& sub, const std::string& usage, const std::vector<std::string>& args,
                      SubcommandArgs& a, po::options_description own = po::options_description(),
                      int max_positional = -1) {
  po::options_description desc("usage: gosok grants " + sub + " " + usage);
  desc.add_options()("help,h", po::bool_switch(&a.help), "show this help")("json", po::bool_switch(&a.json),
                                                                           "machine-readable output")(
      "ledger", po::value(&a.ledger),
      "ledger: a file or postgresql:// URI (default $GOSOK_LEDGER, the site's, ~/.local/share/gosok/ledger.sqlite)");
  desc.add(own);
  po::options_description hidden;
  hidden.add_options()("args", po::value(&a.positional), "arguments");
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("args", max_positional);
  cli::parse_options(args, all, &pos);
  if (a.help) std::cout << desc << "\n";
  return !a.help;
}

nlohmann::json member_json(const sched::Member& m) {
  return {
      {"project", m.project}, {"user", m.user}, {"source", m.source}, {"imported", sched::format_time(m.imported_at)}};
}

// A friendlier word than the database's "permission denied" (which enforces it anyway).
void require_admin(sched::LedgerStore& ledger, const std::string& what) {
  const auto access = ledger.access();
  if (access.enforced && !access.admin) {
    throw InputError(fmt::format("only the grant administrators may {} on the shared ledger ({}); you are {}", what,
                                 ledger.describe(), access.user));
  }
}

int grants_import(const std::vector<std::string>& args) {
  SubcommandArgs a;
  bool allow_cut = false;
  po::options_description own("import");
  own.add_options()("allow-cut", po::bool_switch(&allow_cut),
                    "accept a grant cut below what its jobs already hold or were charged (its balance goes negative)");
  if (!parse_subcommand("import", "FILE... [options]", args, a, own)) return 0;
  if (a.positional.empty()) throw InputError("grants import: give one or more CSV or JSON files");
  // Every file is read and checked (sites included) before anything is written, and then
  // all of them are imported in one transaction: all or nothing.
  std::vector<sched::GrantImport> imports;
  std::set<std::string> known_sites, ids;
  for (const auto& f : a.positional) {
    for (auto& g : sched::read_grants_file(f)) {
      if (known_sites.insert(g.site).second) sched::site_of_grant(g, f);
      if (!ids.insert(g.id).second) throw InputError(f + ": grant '" + g.id + "' is given twice in this import");
      imports.push_back({std::move(g), f});
    }
  }
  auto ledger = cli::open_ledger(a.ledger, "");
  require_admin(*ledger, "import grants");
  const std::string path = ledger->describe();
  const auto results = ledger->import_grants(imports, allow_cut);
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t i = 0; i < imports.size(); ++i) {
    const auto& g = imports[i].grant;
    if (a.json) {
      out.push_back({{"id", g.id}, {"result", results[i]}});
    } else {
      std::cout << fmt::format("grant {}: {} ({} GPU-hours, {} to {}, site {}, account {})\n", g.id, results[i],
                               g.gpu_hours, sched::format_date(g.start), sched::format_date(g.end - 86400), g.site,
                               g.account);
    }
  }
  if (a.json) {
    std::cout << cli::json_document({{"imported", out}, {"ledger", path}}).dump(2) << "\n";
  } else {
    std::cout << "ledger: " << path << "\n";
  }
  return 0;
}

int grants_list(const std::vector<std::string>& args) {
  SubcommandArgs a;
  if (!parse_subcommand("list", "[options]", args, a, {}, 0)) return 0;
  auto ledger = cli::open_ledger(a.ledger, "", nullptr, true, cli::LedgerAccess::read);
  const std::string path = ledger->describe();
  const auto now = sched::now_seconds();
  std::vector<std::pair<sched::Grant, sched::GrantBalance>> rows;
  for (const auto& g : ledger->grants()) rows.push_back({g, ledger->balance(g.id, now)});
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [g, b] : rows) out.push_back(cli::balance_json(g, b));
    std::cout << cli::json_document({{"grants", out}, {"ledger", path}}).dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> cells;
  for (const auto& [g, b] : rows) {
    cells.push_back({g.id, g.project, g.site, g.gpu_type, sched::format_date(g.end - 86400),
                     fmt::format("{:.4f}", b.granted), fmt::format("{:.4f}", b.settled),
                     fmt::format("{:.4f}", b.in_flight), fmt::format("{:.4f}", b.queued),
                     fmt::format("{:.4f}", b.remaining), b.runs_out ? sched::format_date(*b.runs_out) : "-"});
  }
  std::cout << cli::format_table(
      {"GRANT", "PROJECT", "SITE", "GPU", "ENDS", "GRANTED", "SETTLED", "IN-FLIGHT", "QUEUED", "REMAINING", "RUNS OUT"},
      cells, {false, false, false, false, false, true, true, true, true, true, false});
  std::cout << "GPU-hours; remaining = granted - settled - in flight - queued. ledger: " << path << "\n";
  return 0;
}

std::string no_grant(sched::LedgerStore& ledger, const std::string& id) {
  return fmt::format("no grant '{}' in the ledger {}{}", id, ledger.describe(),
                     ledger.access().enforced ? " (a shared ledger shows you the grants of your projects only)" : "");
}

// One history entry as a line: what the grant was imported with, or what changed.
std::string history_line(const sched::GrantChange& h) {
  const auto terms = nlohmann::json::parse(h.new_terms);
  auto text = [](const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    return v.is_number() ? fmt::format("{}", v.get<double>()) : v.dump();
  };
  std::string what;
  if (h.old_terms.empty()) {
    what = fmt::format("{} GPU-hours, {} to {}, {} on site {}, account {}, QOS {}, project {} ({}, {})",
                       text(terms["gpu_hours"]), text(terms["start"]), text(terms["end"]), text(terms["gpu_type"]),
                       text(terms["site"]), text(terms["account"]), text(terms["qos"]), text(terms["project"]),
                       text(terms["institution"]), text(terms["sector"]));
  } else {
    const auto old = nlohmann::json::parse(h.old_terms);
    for (const auto& [key, value] : terms.items()) {
      if (!old.contains(key) || old[key] != value) {
        what += fmt::format("{}{} {} -> {}", what.empty() ? "" : ", ", key,
                            old.contains(key) ? text(old[key]) : "(none)", text(value));
      }
    }
  }
  return fmt::format("{} {} from {}: {}{}", sched::format_time(h.at), h.what, h.source, what,
                     h.by.empty() ? "" : " (by " + h.by + ")");
}

int grants_show(const std::vector<std::string>& args) {
  SubcommandArgs a;
  if (!parse_subcommand("show", "ID [options]", args, a, {}, 1)) return 0;
  if (a.positional.size() != 1) throw InputError("grants show: give the grant id");
  const std::string id = a.positional[0];
  auto ledger = cli::open_ledger(a.ledger, "", nullptr, true, cli::LedgerAccess::read);
  const auto grant = ledger->find_grant(id);
  if (!grant) throw InputError(no_grant(*ledger, id));
  const auto now = sched::now_seconds();
  const auto b = ledger->balance(id, now);
  const auto jobs = ledger->jobs(id, false);
  const auto history = ledger->grant_history(id);
  // The project's GPU energy over all its grants in this ledger; none when none of their
  // jobs was measured (never a zero that would read as a measurement).
  double project_kwh = 0;
  int project_grants = 0, project_measured = 0;
  for (const auto& g : ledger->grants()) {
    if (g.project != grant->project) continue;
    const auto gb = g.id == id ? b : ledger->balance(g.id, now);
    project_kwh += gb.energy_kwh;
    project_measured += gb.energy_jobs;
    ++project_grants;
  }
  const auto kwh_text = [](int measured, double kwh) {
    return measured > 0 ? fmt::format("{:.4f} kWh", kwh) : std::string("not measured");
  };
  const auto members = ledger->members(grant->project);
  if (a.json) {
    nlohmann::json list = nlohmann::json::array(), changes = nlohmann::json::array();
    for (const auto& j : jobs) list.push_back(cli::job_json(j, now));
    for (const auto& h : history) {
      changes.push_back({{"at", sched::format_time(h.at)},
                         {"what", h.what},
                         {"source", h.source},
                         {"by", h.by.empty() ? nlohmann::json(nullptr) : nlohmann::json(h.by)},
                         {"old", h.old_terms.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(h.old_terms)},
                         {"new", nlohmann::json::parse(h.new_terms)}});
    }
    nlohmann::json people = nlohmann::json::array();
    for (const auto& m : members) people.push_back(member_json(m));
    std::cout << cli::json_document({{"grant", cli::balance_json(*grant, b)},
                                     {"project_energy_kwh",
                                      project_measured > 0 ? nlohmann::json(project_kwh) : nlohmann::json(nullptr)},
                                     {"jobs", list},
                                     {"history", changes},
                                     {"members", people}})
                     .dump(2)
              << "\n";
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
      "  burn rate  {:10.4f} GPU-hours/day (last 7 days); runs out: {}\n"
      "  GPU energy {} ({} of {} settled jobs measured; project {}: {} over {} grant{})\n",
      grant->id, grant->project, grant->institution, grant->sector, grant->site, grant->gpu_type,
      sched::format_date(grant->start), sched::format_date(grant->end - 86400), grant->account, grant->qos, b.granted,
      b.settled, b.settled_jobs, b.in_flight, b.queued, b.remaining, b.burn_per_day,
      b.runs_out ? sched::format_date(*b.runs_out) : "not before the grant ends", kwh_text(b.energy_jobs, b.energy_kwh),
      b.energy_jobs, b.settled_jobs, grant->project, kwh_text(project_measured, project_kwh), project_grants,
      project_grants == 1 ? "" : "s");
  if (!b.by_member.empty()) {
    std::vector<std::vector<std::string>> cells;
    for (const auto& m : b.by_member) {
      cells.push_back({m.user.empty() ? "(unknown)" : m.user, std::to_string(m.active_jobs),
                       fmt::format("{:.4f}", m.queued), fmt::format("{:.4f}", m.in_flight),
                       fmt::format("{:.4f}", m.settled), std::to_string(m.settled_jobs)});
    }
    std::cout << "who reserved what (GPU-hours):\n"
              << cli::format_table({"USER", "ACTIVE", "QUEUED", "IN FLIGHT", "SETTLED", "SETTLED JOBS"}, cells,
                                   {false, true, true, true, true, true}, "  ");
  }
  std::set<std::string> names;
  for (const auto& m : members) names.insert(m.user);
  if (!names.empty()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    std::cout << fmt::format("members of project {}: {}\n", grant->project, list);
  }
  std::cout << "history:\n";
  for (const auto& h : history) std::cout << "  " << history_line(h) << "\n";
  if (!jobs.empty()) std::cout << "jobs:\n" << cli::jobs_table(jobs, now, "  ");
  return 0;
}

int grants_provision(const std::vector<std::string>& args) {
  SubcommandArgs a;
  bool check = false;
  std::vector<std::string> users;
  po::options_description own("provision");
  own.add_options()("check", po::bool_switch(&check), "only report drift between the ledger and Slurm (exit 3)")(
      "user", po::value(&users)->composing(),
      "users to associate with the account (repeatable; default: the project's members, else you)");
  if (!parse_subcommand("provision", "ID [options]", args, a, own, 1)) return 0;
  if (a.positional.size() != 1) throw InputError("grants provision: give the grant id");
  const std::string id = a.positional[0];
  auto ledger = cli::open_ledger(a.ledger, "", nullptr, true, cli::LedgerAccess::read);
  const auto grant = ledger->find_grant(id);
  if (!grant) throw InputError(no_grant(*ledger, id));
  require_admin(*ledger, "provision grants");
  const sched::Site site = sched::site_of_grant(*grant, ledger->describe());
  if (site.scheduler != "slurm") {
    const std::string why = fmt::format(
        "grant {} is for site {}, which has no batch system (scheduler = \"{}\"): "
        "there is nothing to provision; the ledger alone holds its limit",
        id, site.name, site.scheduler);
    if (a.json) {
      std::cout << cli::json_document({{"grant", id},
                                       {"changes", nlohmann::json::array()},
                                       {"drift", nlohmann::json::array()},
                                       {"note", why}})
                       .dump(2)
                << "\n";
    } else {
      std::cout << why << "\n";
    }
    return 0;
  }
  if (users.empty()) {
    // The project's members, as the ledger knows them; on a ledger without members, you.
    std::set<std::string> names;
    for (const auto& m : ledger->members(grant->project)) names.insert(m.user);
    users.assign(names.begin(), names.end());
    if (users.empty()) users.push_back(current_user());
  }
  if (check) {
    const auto drift = sched::check_provision(*grant, users);
    if (a.json) {
      std::cout << cli::json_document({{"grant", id}, {"drift", drift}}).dump(2) << "\n";
    } else if (drift.empty()) {
      std::cout << fmt::format("grant {}: Slurm matches the ledger (QOS {} GrpTRESMins=gres/gpu={}, account {})\n", id,
                               grant->qos, sched::grant_gpu_minutes(*grant), grant->account);
    } else {
      for (const auto& d : drift) std::cout << "drift: " << d << "\n";
    }
    return drift.empty() ? 0 : 3;
  }
  const auto done = sched::provision_grant(*grant, users);
  if (a.json) {
    std::cout << cli::json_document({{"grant", id}, {"changes", done}}).dump(2) << "\n";
  } else if (done.empty()) {
    std::cout << "grant " << id << ": Slurm already matches the ledger, nothing to do\n";
  } else {
    for (const auto& d : done) std::cout << d << "\n";
  }
  return 0;
}

std::string change_line(const std::string& project, const std::string& source, std::size_t now_members,
                        const sched::MembersChange& c) {
  auto names = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& n : v) out += (out.empty() ? "" : ", ") + n;
    return out;
  };
  std::string what;
  if (!c.added.empty()) what += "added " + names(c.added);
  if (!c.removed.empty()) what += (what.empty() ? "" : "; ") + std::string("removed ") + names(c.removed);
  return fmt::format("project {}: {} member(s) from {} ({})", project, now_members, source,
                     what.empty() ? "unchanged" : what);
}

int grants_import_members(const std::vector<std::string>& args) {
  SubcommandArgs a;
  bool from_slurm = false;
  po::options_description own("import-members");
  own.add_options()("from-slurm", po::bool_switch(&from_slurm),
                    "the users associated with each grant's Slurm account (sacctmgr show assoc)");
  if (!parse_subcommand("import-members", "FILE... | --from-slurm [options]", args, a, own)) return 0;
  if (a.positional.empty() == !from_slurm) {
    throw InputError("grants import-members: give the allocation platform's members export(s), or --from-slurm");
  }
  // Every file is read and checked before anything is written.
  std::map<std::string, std::set<std::string>> wanted;
  std::string source = "platform";
  for (const auto& f : a.positional) {
    for (const auto& m : sched::read_members_file(f)) wanted[m.project].insert(m.user);
  }
  auto ledger = cli::open_ledger(a.ledger, "");
  require_admin(*ledger, "import members");
  if (from_slurm) {
    source = "slurm";
    const auto by_account = sched::slurm_account_users();
    for (const auto& g : ledger->grants()) {
      auto& users = wanted[g.project];
      const auto it = by_account.find(g.account);
      if (it != by_account.end()) users.insert(it->second.begin(), it->second.end());
    }
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [project, users] : wanted) {
    const auto change = ledger->set_members(project, {users.begin(), users.end()}, source);
    if (a.json) {
      out.push_back({{"project", project},
                     {"source", source},
                     {"members", users},
                     {"added", change.added},
                     {"removed", change.removed}});
    } else {
      std::cout << change_line(project, source, users.size(), change) << "\n";
    }
  }
  if (a.json) {
    std::cout << cli::json_document({{"projects", out}, {"ledger", ledger->describe()}}).dump(2) << "\n";
  } else {
    std::cout << "ledger: " << ledger->describe() << "\n";
  }
  return 0;
}

int grants_members(const std::vector<std::string>& args) {
  SubcommandArgs a;
  if (!parse_subcommand("members", "[PROJECT] [options]", args, a, {}, 1)) return 0;
  auto ledger = cli::open_ledger(a.ledger, "", nullptr, true);
  const auto members = ledger->members(a.positional.empty() ? "" : a.positional[0]);
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : members) out.push_back(member_json(m));
    std::cout << cli::json_document({{"members", out}, {"ledger", ledger->describe()}}).dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> cells;
  for (const auto& m : members) cells.push_back({m.project, m.user, m.source, sched::format_time(m.imported_at)});
  std::cout << cli::format_table({"PROJECT", "USER", "SOURCE", "IMPORTED"}, cells, {false, false, false, false});
  return 0;
}

int grants_command(const std::vector<std::string>& args) {
  return cli::run_subcommand("grants", kUsage,
                             {{"import", grants_import},
                              {"import-members", grants_import_members},
                              {"list", grants_list},
                              {"members", grants_members},
                              {"show", grants_show},
                              {"provision", grants_provision}},
                             args);
}

}  // namespace

void register_grants_command(CommandRegistry& commands) {
  commands.add({"grants", "GPU-hour grants and project members: import, list, show, provision on Slurm",
                [](const std::vector<std::string>& args, int&, char**) { return grants_command(args); }});
}

}  // namespace gosok
