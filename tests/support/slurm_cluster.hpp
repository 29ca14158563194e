#pragma once
// The real single-node Slurm of scripts/slurm-local, as the scheduler's integration tests
// use it: one grant, account and QOS per test (tests never share Slurm state), the test
// cluster's controller, and a second Unix user for the tests where another user attacks.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gosok_cli.hpp"
#include "subprocess.hpp"

namespace gosok::test {

inline bool slurm_up() {
  const char* conf = std::getenv("SLURM_CONF");
  return conf && *conf && run({"scontrol", "ping"}, 10).output.find("UP") != std::string::npos;
}

// A test that needs Slurm fails without one: scripts/test always starts it, and a
// developer without Slurm leaves these tests out by their label (ctest -LE slurm).
#define REQUIRE_SLURM()                                                                          \
  do {                                                                                           \
    if (!gosok::test::slurm_up())                                                                \
      FAIL(                                                                                      \
          "no test Slurm: scripts/test starts one (or scripts/slurm-local start DIR and source " \
          "DIR/env); without Slurm run ctest -LE slurm");                                        \
  } while (0)

inline std::string unique_suffix() {
  std::random_device rd;
  return std::to_string(rd() % 1000000);
}

inline bool wait_until(const std::function<bool()>& condition, double seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

/// One test's grant on the test cluster: imported into the test's ledger and provisioned.
struct Cluster : LedgerFolder {
  std::string grant = "T" + unique_suffix();
  std::string account = "acct" + grant.substr(1);

  nlohmann::json json(std::vector<std::string> args) { return LedgerFolder::json(std::move(args), 300); }
  nlohmann::json jobs(std::vector<std::string> args) { return json(std::move(args))["jobs"]; }
  void import(double gpu_hours) {
    write_file(dir / "g.csv", "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n" + grant +
                                  ",test,Lab,research,local-slurm,fake," + std::to_string(gpu_hours) +
                                  ",2026-01-01,2099-12-31," + account + "\n");
    auto r = gosok({"grants", "import", (dir / "g.csv").string()});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    r = gosok({"grants", "provision", grant});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  std::vector<std::string> submit_args(const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a = {"submit",  "heat", "--site",    "local-slurm",
                                  "--grant", grant,  "--job-dir", (dir / out).string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  /// The grant's balance as `gosok grants show --json` reports it.
  nlohmann::json balance() { return json({"grants", "show", grant})["grant"]; }
};

inline std::string sacct_field(const std::string& job, const std::string& field) {
  const auto r = run({"sacct", "-X", "-n", "-P", "-j", job, "--format=" + field});
  return r.output.substr(0, r.output.find('\n'));
}

/// The same, for a job slurmdbd may not have recorded yet (it hears of jobs asynchronously).
inline std::string sacct_field_when_recorded(const std::string& job, const std::string& field) {
  std::string value;
  for (int i = 0; i < 50 && (value = sacct_field(job, field)).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return value;
}

/// `scontrol show job -o` as name=value words.
inline std::multiset<std::string> job_fields(const std::string& id) {
  const auto r = run({"scontrol", "show", "job", "-o", id});
  std::multiset<std::string> fields;
  std::istringstream words(r.output);
  for (std::string w; words >> w;) fields.insert(w);
  return fields;
}

/// squeue's state of a job ("" when the controller has forgotten it).
inline std::string queue_state(const std::string& id) {
  auto r = run({"squeue", "-h", "-j", id, "-o", "%T"}, 30);
  const auto nl = r.output.find('\n');
  return r.exit_code == 0 ? r.output.substr(0, nl) : "";
}

/// Sets an environment variable for one scope (gosok::test::run passes ours on).
struct ScopedEnv {
  std::string name;
  std::string old;
  bool had = false;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) {
      had = true;
      old = v;
    }
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had) {
      ::setenv(name.c_str(), old.c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
};

/// Stalls the test cluster's slurmctld (SIGSTOP) for the object's life, as a controller
/// stuck on a hung filesystem or a busy database is: requests wait, then time out.
struct StalledController {
  pid_t pid = 0;
  StalledController() {
    const std::filesystem::path conf = std::getenv("SLURM_CONF");
    std::ifstream in(conf.parent_path().parent_path() / "run" / "slurmctld.pid");
    in >> pid;
    REQUIRE(pid > 0);
    REQUIRE(::kill(pid, SIGSTOP) == 0);
  }
  void resume() {
    if (pid > 0) ::kill(pid, SIGCONT);
    pid = 0;
  }
  ~StalledController() { resume(); }
};

/// A command of the same name as a Slurm one, first on PATH for the object's life: a bash
/// script that stands for what happens around the real command (a delay, a full disk, an
/// attacker winning a race); $REAL is the real command.
struct WrappedCommand {
  TempDir bin;
  std::string old_path = std::getenv("PATH");
  WrappedCommand(const std::string& name, const std::string& body) {
    const auto real = run({"bash", "-c", "command -v " + name});
    REQUIRE(real.exit_code == 0);
    write_file(bin / name, "#!/bin/bash\nREAL=" + real.output.substr(0, real.output.find('\n')) + "\n" + body);
    std::filesystem::permissions(bin / name, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                                 std::filesystem::perms::group_exec |
                                                 std::filesystem::perms::others_read |
                                                 std::filesystem::perms::others_exec);
    ::setenv("PATH", (bin.path().string() + ":" + old_path).c_str(), 1);
  }
  ~WrappedCommand() { ::setenv("PATH", old_path.c_str(), 1); }
};

/// A second Unix user, created (once, idempotently) for tests where another user attacks;
/// commands run as that user through setpriv, with this process's environment.
struct OtherUser {
  std::string name = "gosok-other";
  uid_t uid = 0;
  gid_t gid = 0;
  OtherUser() {
    if (!::getpwnam(name.c_str())) {
      // Another test process may create it at the same moment: only its absence afterwards fails.
      run({"useradd", "--system", "--no-create-home", "--shell", "/bin/bash", name});
    }
    const passwd* pw = ::getpwnam(name.c_str());
    REQUIRE(pw != nullptr);
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  std::vector<std::string> as(std::vector<std::string> argv) const {
    std::vector<std::string> out = {"setpriv", "--reuid=" + std::to_string(uid), "--regid=" + std::to_string(gid),
                                    "--clear-groups", "--"};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }
  Result run_as(std::vector<std::string> argv, double timeout = 60, const std::filesystem::path& cwd = "/tmp") const {
    return run(as(std::move(argv)), timeout, cwd);
  }
  /// A Slurm account of this user's own, so that it can queue jobs.
  std::string slurm_account(const std::string& account) const {
    run({"sacctmgr", "-i", "add", "account", account, "Description=other", "Organization=other"});
    const auto r = run({"sacctmgr", "-i", "add", "user", name, "Account=" + account});
    INFO(r.output);
    return account;
  }
};

}  // namespace gosok::test
