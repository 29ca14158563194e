// What every ledger backend shares: where the ledger is, and the names it records.
#include <gosok/scheduler/ledger.hpp>

#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include <gosok/core/config.hpp>
#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/scheduler/text.hpp>
#include "ledger_common.hpp"

namespace gosok::sched {

LedgerLocation parse_ledger_location(const std::string& text) {
  const std::string t = trim(text);
  if (t.empty()) throw InputError("the ledger location is empty: give a file path or a postgresql:// URI");
  if (t.rfind("postgresql://", 0) == 0 || t.rfind("postgres://", 0) == 0) return {"postgresql", t};
  if (t.rfind("sqlite:", 0) == 0) {
    if (t.size() == 7) throw InputError("ledger '" + t + "': give the file after sqlite:");
    return {"sqlite", t.substr(7)};
  }
  // libpq's KEY=VALUE form starts with a keyword and '=' (service=gosok, dbname=gosok host=...).
  std::size_t k = 0;
  while (k < t.size() && (std::islower(static_cast<unsigned char>(t[k])) || t[k] == '_')) ++k;
  std::size_t e = k;
  while (e < t.size() && t[e] == ' ') ++e;
  if (k > 0 && e < t.size() && t[e] == '=') return {"postgresql", t};
  return {"sqlite", t};
}

std::unique_ptr<LedgerStore> open_ledger_at(const std::string& location, bool must_exist) {
  const LedgerLocation where = parse_ledger_location(location);
  if (where.backend == "postgresql") return open_postgres_ledger(where.target);
  if (must_exist && !std::filesystem::exists(where.target)) {
    throw InputError("no ledger at " + where.target +
                     " (import a grant first: gosok grants import FILE; or set --ledger / GOSOK_LEDGER)");
  }
  return open_sqlite_ledger(where.target);
}

std::string ledger_location(const std::string& explicit_location, const std::string& site_ledger) {
  if (!explicit_location.empty()) return explicit_location;
  if (const auto ledger = env("GOSOK_LEDGER")) return *ledger;
  const std::string config = user_config_path();
  if (std::filesystem::exists(config)) {
    Schema schema;
    schema.string("ledger", "", "the ledger: a file path or a postgresql:// URI (\"\": the default)");
    const Input in = resolve_text(schema, read_text_file(config), config);
    if (!in.get_string("ledger").empty()) return in.get_string("ledger");
  }
  if (!site_ledger.empty()) return site_ledger;
  return user_data_dir() + "/ledger.sqlite";
}

std::string user_data_dir() {
  if (const auto xdg = env("XDG_DATA_HOME")) return *xdg + "/gosok";
  return env("HOME").value_or(".") + "/.local/share/gosok";
}

std::string grant_terms_json(const Grant& g) {
  nlohmann::json j = {{"id", g.id},
                      {"project", g.project},
                      {"institution", g.institution},
                      {"sector", g.sector},
                      {"site", g.site},
                      {"gpu_type", g.gpu_type},
                      {"gpu_hours", g.gpu_hours},
                      {"start", format_date(g.start)},
                      {"end", format_date(g.end - 86400)},
                      {"account", g.account},
                      {"qos", g.qos}};
  return j.dump();
}

void require_user_name(const std::string& what, const std::string& name) {
  bool ok = !name.empty() && name.size() <= 32 && (std::islower(static_cast<unsigned char>(name[0])) || name[0] == '_');
  for (const char c : name) {
    ok = ok && (std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
                c == '_' || c == '-' || c == '.');
  }
  if (!ok) {
    throw InputError(fmt::format(
        "{} '{}' is not a user name: lower-case letters, digits, '_', '-' and '.', starting with a letter or '_', "
        "at most 32 characters",
        what, name));
  }
}

void add_to_balance(GrantBalance& b, const BalanceGroup& g) {
  auto it =
      std::find_if(b.by_member.begin(), b.by_member.end(), [&](const MemberBalance& m) { return m.user == g.user; });
  if (it == b.by_member.end()) {
    b.by_member.push_back({g.user});
    it = b.by_member.end() - 1;
  }
  // An active job holds its reservation plus what its earlier runs (requeued) were charged.
  const double held = g.reserved + g.charged;
  if (g.state == "settled") {
    b.settled += g.charged;
    b.settled_jobs += g.jobs;
    b.energy_kwh += g.energy_j / 3.6e6;
    b.energy_jobs += g.energy_jobs;
    it->settled += g.charged;
    it->settled_jobs += g.jobs;
  } else if (g.state == "running") {
    b.in_flight += held;
    b.active_jobs += g.jobs;
    it->in_flight += held;
    it->active_jobs += g.jobs;
  } else if (g.state == "queued" || g.state == "submitting" || g.state == "missing") {
    b.queued += held;
    b.active_jobs += g.jobs;
    it->queued += held;
    it->active_jobs += g.jobs;
  }
}

void finish_balance(GrantBalance& b) {
  b.remaining = b.granted - b.settled - b.in_flight - b.queued;
  // Members whose only jobs were released hold nothing: they are not shown.
  b.by_member.erase(std::remove_if(b.by_member.begin(), b.by_member.end(),
                                   [](const MemberBalance& m) { return m.active_jobs == 0 && m.settled_jobs == 0; }),
                    b.by_member.end());
  std::sort(b.by_member.begin(), b.by_member.end(),
            [](const MemberBalance& x, const MemberBalance& y) { return x.user < y.user; });
}

GrantTotals content_totals(const LedgerContent& content, const std::string& grant_id) {
  GrantTotals t;
  for (const auto& j : content.jobs) {
    if (j.grant_id != grant_id) continue;
    ++t.jobs;
    if (j.active()) t.reserved += j.reserved_gpu_h;
    t.charged += j.charged_gpu_h;
  }
  for (const auto& h : content.history) t.history += h.grant_id == grant_id;
  return t;
}

void check_loaded_totals(const LedgerContent& content, const std::map<std::string, GrantTotals>& before,
                         const std::map<std::string, GrantTotals>& after, const std::string& target) {
  // GPU-hours are sums of the same doubles in another order: equal to a relative 1e-9.
  auto same = [](double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max({1.0, std::fabs(a), std::fabs(b)}); };
  for (const auto& g : content.grants) {
    const GrantTotals add = content_totals(content, g.grant.id);
    const GrantTotals& was = before.at(g.grant.id);
    const GrantTotals& now = after.at(g.grant.id);
    if (now.jobs != was.jobs + add.jobs || !same(now.reserved, was.reserved + add.reserved) ||
        !same(now.charged, was.charged + add.charged)) {
      throw RunError(fmt::format(
          "{}: after the migration grant {} holds {} jobs, {:.6f} GPU-hours reserved and {:.6f} charged, but "
          "{} + {} jobs, {:.6f} + {:.6f} reserved and {:.6f} + {:.6f} charged were expected; nothing was written",
          target, g.grant.id, now.jobs, now.reserved, now.charged, was.jobs, add.jobs, was.reserved, add.reserved,
          was.charged, add.charged));
    }
  }
}

std::string different_terms(const Grant& incoming, const Grant& held, const std::string& target) {
  return fmt::format(
      "grant {} is in {} already with other terms ({} GPU-hours, {} to {}, account {}; the ledger being moved "
      "has {} GPU-hours, {} to {}, account {}): import the allocation platform's current export into both, then "
      "migrate again; nothing was written",
      incoming.id, target, held.gpu_hours, format_date(held.start), format_date(held.end - 86400), held.account,
      incoming.gpu_hours, format_date(incoming.start), format_date(incoming.end - 86400), incoming.account);
}

}  // namespace gosok::sched
