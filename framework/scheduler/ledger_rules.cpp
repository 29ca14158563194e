// The rules every ledger store applies inside its own transactions, kept out of any one
// backend so that SQLite and a server database refuse and tag alike.
#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include <gosok/core/config.hpp>
#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/text.hpp>

namespace gosok::sched {

std::string new_job_tag(const std::string& instance, std::int64_t id) {
  // 64 random bits: another user who sees earlier tags in the queue cannot name the next one.
  std::random_device rd;
  const std::uint64_t nonce = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  return fmt::format("gosok:{}:{}:{:016x}", instance, id, nonce);
}

bool covers(double remaining, double wanted) { return wanted <= remaining + 1e-9; }

std::string refusal_message(const Grant& grant, double wanted, double remaining, std::size_t tasks) {
  const std::string what = tasks > 1 ? fmt::format("its {} array tasks need", tasks) : std::string("it needs");
  return fmt::format(
      "grant {} cannot cover this job: {} {:.4f} GPU-hours (reserved for the full time limit and the site's "
      "overrun) but {:.4f} of {:.4f} remain",
      grant.id, what, wanted, std::max(0.0, remaining), grant.gpu_hours);
}

void check_grant_cut(const Grant& old, const Grant& updated, double committed, bool allow_cut,
                     const std::string& source) {
  if (allow_cut || covers(updated.gpu_hours, committed) || updated.gpu_hours >= old.gpu_hours) return;
  throw InputError(fmt::format(
      "{}: grant {} would be cut from {} to {} GPU-hours, below the {:.4f} already committed to it (settled "
      "charges and the reservations of active jobs); nothing was imported. Import it with --allow-cut to accept "
      "a negative balance (new jobs are then refused)",
      source, updated.id, old.gpu_hours, updated.gpu_hours, committed));
}

std::string current_user() {
  // The password database, not $USER: Slurm knows the job's user by its uid.
  if (const passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return std::to_string(::geteuid());
}

std::string user_config_path() {
  if (const auto xdg = env("XDG_CONFIG_HOME")) return *xdg + "/gosok/config.toml";
  return env("HOME").value_or(".") + "/.config/gosok/config.toml";
}

}  // namespace gosok::sched
