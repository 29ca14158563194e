// gosok ledger setup|migrate|info: the ledger itself, for site administrators: setting up
// the shared PostgreSQL ledger, moving an SQLite ledger into it, and who you are to it.
#include <fmt/format.h>
#include <pwd.h>
#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <functional>
#include <iostream>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/text.hpp>
#include "cmd_sched_common.hpp"
#include "commands.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace gosok {
namespace {

const char* kUsage =
    "usage: gosok ledger setup --ledger postgresql://... [--admin USER]... [--reconcile USER]...\n"
    "                                  create or upgrade the shared ledger (as a PostgreSQL superuser)\n"
    "       gosok ledger migrate --from sqlite:PATH --to postgresql://...\n"
    "                                  move a ledger (grants, history, members, jobs) and check the totals\n"
    "       gosok ledger info          which ledger, and what it lets you do\n"
    "'gosok ledger SUBCOMMAND --help' describes its options.\n";

bool parse(const std::string& sub, po::options_description& desc, const std::vector<std::string>& args) {
  bool help = false;
  desc.add_options()("help,h", po::bool_switch(&help), "show this help");
  cli::parse_options(args, desc);
  if (help) std::cout << "usage: gosok ledger " << sub << " [options]\n" << desc << "\n";
  return !help;
}

int ledger_setup(const std::vector<std::string>& args) {
  std::string location;
  std::vector<std::string> admins, reconcilers;
  bool json = false;
  po::options_description desc("setup");
  desc.add_options()("ledger", po::value(&location), "the PostgreSQL database (postgresql://... or service=NAME)")(
      "admin", po::value(&admins)->composing(), "a grant administrator's Unix user (repeatable)")(
      "reconcile", po::value(&reconcilers)->composing(), "the reconcile service account's Unix user (repeatable)")(
      "json", po::bool_switch(&json), "machine-readable output");
  if (!parse("setup", desc, args)) return 0;
  const std::string chosen = sched::ledger_location(location, "");
  const auto where = sched::parse_ledger_location(chosen);
  if (where.backend != "postgresql") {
    throw InputError(fmt::format(
        "ledger setup: '{}' is an SQLite file, which needs no setup (gosok creates it when first used); give the "
        "shared ledger's database with --ledger postgresql://... or --ledger service=NAME",
        chosen));
  }
  const auto done = sched::setup_postgres_ledger(where.target, admins, reconcilers);
  if (json) {
    std::cout << cli::json_document({{"done", done}}).dump(2) << "\n";
  } else {
    for (const auto& line : done) std::cout << line << "\n";
  }
  return 0;
}

// Who used an SQLite ledger that recorded no users (schema 1 and 2): its file's owner.
std::string file_owner(const std::string& location) {
  const auto where = sched::parse_ledger_location(location);
  struct stat st {};
  if (where.backend != "sqlite" || ::stat(where.target.c_str(), &st) != 0) return "";
  const struct passwd* pw = ::getpwuid(st.st_uid);
  return pw && pw->pw_name ? pw->pw_name : "";
}

int ledger_migrate(const std::vector<std::string>& args) {
  std::string from, to, user;
  bool json = false;
  po::options_description desc("migrate");
  desc.add_options()("from", po::value(&from), "the ledger to move (sqlite:PATH, a path, or postgresql://...)")(
      "to", po::value(&to), "the ledger to move it into (postgresql://... or service=NAME)")(
      "user", po::value(&user),
      "who reserved the jobs an old ledger recorded no user for (default: the SQLite file's owner)")(
      "json", po::bool_switch(&json), "machine-readable output");
  if (!parse("migrate", desc, args)) return 0;
  if (from.empty() || to.empty()) throw InputError("ledger migrate: give --from LEDGER and --to LEDGER");
  auto source = sched::open_ledger_at(from, true);
  auto target = sched::open_ledger_at(to);
  if (source->backend() == target->backend() && source->instance_id() == target->instance_id()) {
    throw InputError("ledger migrate: --from and --to are the same ledger (" + source->describe() + ")");
  }
  auto content = source->content();
  if (user.empty()) user = file_owner(from);
  if (!user.empty()) sched::require_user_name("--user", user);
  for (auto& j : content.jobs) {
    if (j.backend == "local" && j.active()) {
      throw InputError(fmt::format(
          "ledger migrate: {} is a local job that has not finished ({}); its monitor settles it in {}: let it "
          "finish, then migrate; nothing was written",
          j.gosok_id(), j.state, source->describe()));
    }
    if (j.user.empty()) {
      if (user.empty()) {
        throw InputError(fmt::format("ledger migrate: {} records no user: say who reserved the jobs with --user NAME",
                                     j.gosok_id()));
      }
      j.user = user;
    }
  }
  const auto ids = target->load(content);
  bool renumbered = false;
  for (const auto& [old_id, new_id] : ids) renumbered = renumbered || old_id != new_id;
  nlohmann::json per_grant = nlohmann::json::array();
  std::vector<std::vector<std::string>> cells;
  for (const auto& g : content.grants) {
    const auto t = target->totals(g.grant.id);
    const auto moved = sched::content_totals(content, g.grant.id);
    per_grant.push_back({{"id", g.grant.id},
                         {"moved_jobs", moved.jobs},
                         {"moved_reserved_gpu_hours", moved.reserved},
                         {"moved_charged_gpu_hours", moved.charged},
                         {"target_jobs", t.jobs},
                         {"target_reserved_gpu_hours", t.reserved},
                         {"target_charged_gpu_hours", t.charged},
                         {"target_history", t.history}});
    cells.push_back({g.grant.id, std::to_string(moved.jobs), fmt::format("{:.4f}", moved.reserved),
                     fmt::format("{:.4f}", moved.charged), std::to_string(t.jobs), fmt::format("{:.4f}", t.reserved),
                     fmt::format("{:.4f}", t.charged)});
  }
  if (json) {
    nlohmann::json id_map = nlohmann::json::array();
    for (const auto& [old_id, new_id] : ids) id_map.push_back({{"from", old_id}, {"to", new_id}});
    std::cout << cli::json_document({{"from", source->describe()},
                                     {"to", target->describe()},
                                     {"grants", per_grant},
                                     {"members", content.members.size()},
                                     {"history", content.history.size()},
                                     {"jobs", id_map},
                                     {"totals_match", true}})
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << fmt::format(
      "moved {} grant(s), {} history entries, {} membership(s) and {} job(s)\n  from {}\n  to   {}\n",
      content.grants.size(), content.history.size(), content.members.size(), content.jobs.size(), source->describe(),
      target->describe());
  std::cout << cli::format_table({"GRANT", "MOVED JOBS", "RESERVED", "CHARGED", "NOW JOBS", "RESERVED", "CHARGED"},
                                 cells, {false, true, true, true, true, true, true}, "  ");
  std::cout << "totals match: each grant's jobs and GPU-hours in the target grew by exactly what was moved\n";
  if (renumbered) {
    std::cout << "the target held jobs already, so the moved jobs have new ids:";
    for (const auto& [old_id, new_id] : ids) {
      if (old_id != new_id) std::cout << fmt::format(" g{}->g{}", old_id, new_id);
    }
    std::cout << "\n";
  } else {
    std::cout << "job ids are unchanged (g1 is still g1)\n";
  }
  return 0;
}

int ledger_info(const std::vector<std::string>& args) {
  std::string location;
  bool json = false;
  po::options_description desc("info");
  desc.add_options()("ledger", po::value(&location), "ledger (default: as every command chooses it)")(
      "json", po::bool_switch(&json), "machine-readable output");
  if (!parse("info", desc, args)) return 0;
  auto ledger = cli::open_ledger(location, "", nullptr, true);
  const auto a = ledger->access();
  std::string projects;
  for (const auto& p : a.projects) projects += (projects.empty() ? "" : ", ") + p;
  if (json) {
    std::cout << cli::json_document({{"ledger", ledger->describe()},
                                     {"backend", ledger->backend()},
                                     {"instance", ledger->instance_id()},
                                     {"user", a.user},
                                     {"rules_enforced_by_database", a.enforced},
                                     {"grant_administrator", a.admin},
                                     {"reconcile", a.reconcile},
                                     {"projects", a.projects}})
                     .dump(2)
              << "\n";
    return 0;
  }
  auto yes = [](bool b) { return b ? "yes" : "no"; };
  std::cout << fmt::format(
      "ledger:   {}\nbackend:  {}{}\ninstance: {} (in every job's tag)\nyou:      {}\n"
      "  member of:           {}\n  grant administrator: {}\n  may settle jobs:     {}\n",
      ledger->describe(), ledger->backend(),
      a.enforced ? " (the database enforces who may do what)"
                 : " (one user's file: whoever may write it may do anything in it)",
      ledger->instance_id(), a.user, projects.empty() ? "(no project)" : projects, yes(a.admin), yes(a.reconcile));
  return 0;
}

int ledger_command(const std::vector<std::string>& args) {
  return cli::run_subcommand("ledger", kUsage,
                             {{"setup", ledger_setup}, {"migrate", ledger_migrate}, {"info", ledger_info}}, args);
}

}  // namespace

void register_ledger_command(CommandRegistry& commands) {
  commands.add({"ledger", "the ledger itself: set up the shared PostgreSQL ledger, migrate into it, info",
                [](const std::vector<std::string>& args, int&, char**) { return ledger_command(args); }});
}

}  // namespace gosok
