// Accounting that cannot be fooled: each attack or failure that once lost a job, overspent
// a grant or let one user act as another, reproduced against the real single-node Slurm of
// scripts/slurm-local (a stalled controller, a node failure, a requeue, a full disk) and,
// where another user is the attacker, a second Unix user (gosok-other). Every test case
// names the attack; GOSOK_TEST_BINARY=<an older gosok> shows what it did before the fix.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "gosok_cli.hpp"
#include "slurm_cluster.hpp"
#include "subprocess.hpp"

namespace fs = std::filesystem;
using Catch::Approx;
using Catch::Matchers::ContainsSubstring;
using gosok::test::Cluster;
using gosok::test::OtherUser;
using gosok::test::run;
using gosok::test::sacct_field_when_recorded;
using gosok::test::ScopedEnv;
using gosok::test::StalledController;
using gosok::test::wait_until;
using gosok::test::WrappedCommand;

namespace {

// Jobs of one account in the controller's queue: id -> comment (the gosok tag).
std::map<std::string, std::string> queued_jobs(const std::string& account) {
  const auto r = run({"squeue", "-h", "-r", "-A", account, "-t", "all", "-o", "%i|%k"}, 60);
  std::map<std::string, std::string> out;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    const auto bar = line.find('|');
    if (bar != std::string::npos) out[line.substr(0, bar)] = line.substr(bar + 1);
  }
  return out;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// The job of `account` carrying `tag`, once the controller has it ("" after `seconds`).
std::string job_with_tag(const std::string& account, const std::string& tag, double seconds = 30) {
  std::string id;
  wait_until(
      [&] {
        for (const auto& [job, comment] : queued_jobs(account)) {
          if (comment == tag) id = job;
        }
        return !id.empty();
      },
      seconds);
  return id;
}

// The site file of the test cluster with script lines before the launch: a user's own site
// file may shape the script (here: sleep, so the job lasts without burning CPU).
std::string sleepy_site(Cluster& c, const std::string& name, const std::string& setup) {
  const std::string path =
      gosok::test::write_local_slurm_site(c.dir / name, "setup = [" + nlohmann::json(setup).dump() + "]\n");
  // Without the walltime warning: SIGUSR1 would end the batch shell in its setup line, and
  // these jobs stand for runs that go on to their time limit.
  auto text = gosok::test::read_file(path);
  const auto at = text.find("signal_margin = ");
  REQUIRE(at != std::string::npos);
  text.erase(at, text.find('\n', at) + 1 - at);
  gosok::test::write_file(path, text);
  return path;
}

std::vector<std::string> submit_on(Cluster& c, const std::string& site, const std::string& out,
                                   std::vector<std::string> extra) {
  auto a = c.submit_args(out, std::move(extra));
  a[3] = site;
  return a;
}

// Whether accounting records the job as ended (waits up to a minute).
bool ended_in_accounting(const std::string& id) {
  return wait_until(
      [&] {
        const auto state = gosok::test::sacct_field(id, "State");
        return state.rfind("COMPLETED", 0) == 0 || state.rfind("FAILED", 0) == 0 || state.rfind("CANCELLED", 0) == 0;
      },
      60);
}

// Total elapsed seconds over every run of a job (sacct -D lists each run of a requeued job).
std::vector<std::int64_t> run_seconds(const std::string& id) {
  std::vector<std::int64_t> out;
  const auto r = run({"sacct", "-X", "-D", "-n", "-P", "-j", id, "--format=ElapsedRaw,State"});
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.find("PENDING") != std::string::npos) continue;
    out.push_back(std::stoll(line.substr(0, line.find('|'))));
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- jobs in Slurm but not charged

// slurmctld stalled during the submission: sbatch gives up ("Socket timed out") though its
// request is queued at the controller, which creates the job once it runs again.
TEST_CASE("attack: a timeout is not a refusal (slurmctld stalled during sbatch)", "[sched][slurm][attack]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(1);
  gosok::test::Result r;
  {
    StalledController stalled;
    r = c.gosok(c.submit_args("stalled", {"--gpus-per-node", "1", "-t", "10", "--hold"}), 120);
  }  // the controller runs again and reads the request sbatch left
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, ContainsSubstring("Socket timed out") && ContainsSubstring("may still have reached Slurm"));
  auto jobs = c.jobs({"status", "--all", "--no-refresh"});
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0]["state"] == "submitting");
  const double reserved = jobs[0]["reserved_gpu_hours"];
  CHECK(c.balance()["queued_gpu_hours"].get<double>() == Approx(reserved));
  const std::string id = job_with_tag(c.account, jobs[0]["tag"]);
  INFO("Slurm job with the tag: " << id);
  REQUIRE(!id.empty());  // Slurm did create it
  r = c.gosok({"reconcile"});
  INFO(r.output);
  CHECK_THAT(r.output, ContainsSubstring("1 found by tag"));
  jobs = c.jobs({"status", "--all", "--no-refresh"});
  CHECK(jobs[0]["slurm_id"] == id);
  CHECK(jobs[0]["state"] == "queued");
  CHECK(c.balance()["queued_gpu_hours"].get<double>() == Approx(reserved));
  run({"scancel", id});
}

// With the controller stalled, squeue fails; a held job is outside sacct's time window:
// neither proves that an interrupted submission never reached Slurm.
#ifdef GOSOK_TEST_HOOKS  // fault injection exists in builds with GOSOK_ENABLE_TEST_HOOKS only
TEST_CASE("attack: reconcile does not trust a failing squeue (held job, slurmctld stalled)", "[sched][slurm][attack]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(1);
  gosok::test::Result r;
  {
    ScopedEnv crash("GOSOK_TEST_CRASH_AFTER_SBATCH", "1");
    r = c.gosok(c.submit_args("held", {"--gpus-per-node", "1", "-t", "10", "--hold"}));
  }
  REQUIRE(r.exit_code == 70);
  const std::string tag = c.jobs({"status", "--all", "--no-refresh"})[0]["tag"];
  const std::string id = job_with_tag(c.account, tag);
  REQUIRE(!id.empty());
  {
    StalledController stalled;
    r = c.gosok({"reconcile", "--grace", "0"}, 120);
  }
  INFO(r.output);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.output, ContainsSubstring("0 released") && ContainsSubstring("NOT PROVEN absent") &&
                           ContainsSubstring("squeue failed"));
  auto jobs = c.jobs({"status", "--all", "--no-refresh"});
  CHECK(jobs[0]["state"] == "submitting");
  r = c.gosok({"reconcile", "--grace", "0"});
  INFO(r.output);
  CHECK_THAT(r.output, ContainsSubstring("1 found by tag"));
  jobs = c.jobs({"status", "--all", "--no-refresh"});
  CHECK(jobs[0]["slurm_id"] == id);
  CHECK(jobs[0]["state"] == "queued");
  run({"scancel", id});
}
#endif

// A submission paused past the grace (Ctrl-Z, a hung filesystem, sbatch's own retries): a
// concurrent reconcile releases it as never submitted, another job takes the hours, then
// sbatch goes through. gosok must not report success for a job it has not booked.
TEST_CASE("attack: a late success after a concurrent release is booked again or cancelled", "[sched][slurm][attack]") {
  REQUIRE_SLURM();
  // sbatch waits (at most a minute) until the test opens the gate: after the release, not
  // after a guess at how long the release takes.
  WrappedCommand slow("sbatch",
                      "if [ -n \"${GOSOK_WRAP_GATE:-}\" ]; then\n"
                      "  for i in $(seq 600); do [ -e \"$GOSOK_WRAP_GATE\" ] && break; sleep 0.1; done\n"
                      "fi\nexec \"$REAL\" \"$@\"\n");
  for (const bool room : {false, true}) {
    Cluster c;
    c.import(room ? 1 : 0.2);  // one job of 1 GPU x (10 min + 40 s) = 0.1778 GPU-hours, or several
    const fs::path gate = c.dir / "sbatch-may-go";
    std::future<gosok::test::Result> late;
    {
      ScopedEnv held("GOSOK_WRAP_GATE", gate.string());
      late = std::async(std::launch::async, [&c] {
        return c.gosok(c.submit_args("late", {"--gpus-per-node", "1", "-t", "10", "--hold"}));
      });
      // Reserved and on its way to sbatch (which the wrapper holds back).
      REQUIRE(wait_until([&] { return c.jobs({"status", "--all", "--no-refresh"}).size() == 1; }, 10));
    }
    auto r = c.gosok({"reconcile", "--grace", "0"});
    INFO(r.output);
    CHECK_THAT(r.output, ContainsSubstring("1 released"));
    if (!room) {
      r = c.gosok(c.submit_args("second", {"--gpus-per-node", "1", "-t", "10", "--hold"}));
      INFO(r.output);
      CHECK(r.exit_code == 0);  // the released hours
    }
    gosok::test::write_file(gate, "");
    r = late.get();
    INFO(r.output);
    const auto jobs = c.jobs({"status", "--all", "--no-refresh"});
    const auto& first = jobs.back();  // g1 (newest first)
    INFO(first.dump(2));
    REQUIRE(first["slurm_id"].is_string());
    const std::string id = first["slurm_id"];
    if (room) {
      CHECK(r.exit_code == 0);
      CHECK(first["state"] == "queued");
      CHECK_THAT(first["note"].get<std::string>(), ContainsSubstring("reserved again"));
      CHECK(c.balance()["queued_gpu_hours"].get<double>() == Approx(640 / 3600.0));
      run({"scancel", id});
    } else {
      CHECK(r.exit_code == 1);
      CHECK_THAT(r.output,
                 ContainsSubstring("no longer covers") && ContainsSubstring("Slurm job " + id + " cancelled"));
      CHECK(first["state"] == "released");
      // The job Slurm accepted is gone, and only the second job holds the grant.
      CHECK(wait_until([&] { return gosok::test::queue_state(id) != "PENDING"; }, 30));
      CHECK(c.balance()["queued_gpu_hours"].get<double>() == Approx(640 / 3600.0));
      CHECK(c.balance()["remaining_gpu_hours"].get<double>() >= -1e-9);
      run({"scancel", "-A", c.account});
    }
  }
}

// Slurm kills a job at its time limit only after KillWait, and checks the limit every ~30 s
// (OverTimeLimit adds more): 1-minute jobs ran 60-95 s. The reservation covers it.
TEST_CASE("attack: TIMEOUT jobs cannot overspend the grant", "[sched][slurm][attack]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(0.05);  // 3 GPU-minutes
  const std::string site = sleepy_site(c, "sleepy.toml", "sleep 600");
  int accepted = 0;
  for (int i = 0; i < 3; ++i) {
    const auto r = c.gosok(submit_on(c, site, "t" + std::to_string(i), {"--gpus-per-node", "1", "-t", "1"}));
    INFO(r.output);
    if (r.exit_code == 0) ++accepted;
  }
  CHECK(accepted == 1);  // 1 GPU x (1 min + 40 s) each: one fits in 0.05 GPU-hours
  const auto jobs = c.jobs({"status", "--wait", "--timeout", "300"});
  REQUIRE(jobs.size() == static_cast<std::size_t>(accepted));
  double charged = 0;
  for (const auto& j : jobs) {
    INFO(j.dump(2));
    CHECK(j["scheduler_state"] == "TIMEOUT");
    CHECK(j["elapsed_s"].get<double>() > 60);  // it did run past its limit
    CHECK(j["charged_gpu_hours"].get<double>() <= j["reserved_gpu_hours"].get<double>() + 1e-9);
    CHECK(j["charged_gpu_hours"].get<double>() == Approx(j["elapsed_s"].get<double>() / 3600.0));
    charged += j["charged_gpu_hours"].get<double>();
  }
  const auto b = c.balance();
  CHECK(b["settled_gpu_hours"].get<double>() == Approx(charged));
  CHECK(b["remaining_gpu_hours"].get<double>() >= -1e-9);
}

// sacct without -D shows a requeued job's last run only; every run used its GPUs.
TEST_CASE("attack: a requeued job is charged for every run", "[sched][slurm][attack]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(1);
  const std::string site = sleepy_site(c, "sleepy.toml", "sleep 8");
  // The cluster's default (JobRequeue=1): an admin, or Slurm itself, may requeue any job.
  const auto sub = c.jobs(submit_on(c, site, "rq", {"--gpus-per-node", "1", "-t", "2"}))[0];
  const std::string id = sub["slurm_id"];
  REQUIRE(wait_until([&] { return gosok::test::queue_state(id) == "RUNNING"; }, 60));
  std::this_thread::sleep_for(std::chrono::seconds(4));
  REQUIRE(run({"scontrol", "requeue", id}).exit_code == 0);
  REQUIRE(wait_until([&] { return gosok::test::queue_state(id) == "PENDING"; }, 30));
  // A requeued job waits ~2 minutes before it may start again; let it start now.
  std::this_thread::sleep_for(std::chrono::seconds(3));  // see the node-failure test
  REQUIRE(run({"scontrol", "update", "jobid=" + id, "starttime=now"}).exit_code == 0);
  const auto job = c.jobs({"status", "--wait", "--timeout", "120", sub["id"].get<std::string>()})[0];
  INFO(job.dump(2));
  CHECK(job["scheduler_state"] == "COMPLETED");
  const auto runs = run_seconds(id);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0] >= 3);
  CHECK(job["charged_gpu_hours"].get<double>() == Approx((runs[0] + runs[1]) / 3600.0));
  CHECK(job["elapsed_s"] == runs[0] + runs[1]);
  CHECK_THAT(job["note"].get<std::string>(), ContainsSubstring("2 runs (requeued); 2 charged"));
  CHECK(c.balance()["settled_gpu_hours"].get<double>() == Approx((runs[0] + runs[1]) / 3600.0));
}

// A node that fails under running jobs: a --no-requeue job ends NODE_FAIL and is not
// charged (the system failed it); a requeued job's NODE_FAIL run is free and its other
// runs are charged.
TEST_CASE("slurm: a node failure under running jobs (NODE_FAIL)", "[sched][slurm][attack][node-fail]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(1);
  // The first run waits for the failure; a requeued second run goes straight to the workload.
  const std::string site =
      sleepy_site(c, "sleepy.toml", "if [ \"${SLURM_RESTART_COUNT:-0}\" = 0 ]; then sleep 120; fi");
  const auto once = c.jobs(submit_on(c, site, "once", {"--gpus-per-node", "1", "-t", "5", "--no-requeue"}))[0];
  const auto again = c.jobs(submit_on(c, site, "again", {"--gpus-per-node", "1", "-t", "5", "--requeue"}))[0];
  const std::string a = once["slurm_id"], b = again["slurm_id"];
  REQUIRE(wait_until(
      [&] { return gosok::test::queue_state(a) == "RUNNING" && gosok::test::queue_state(b) == "RUNNING"; }, 60));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const std::string node = first_line(run({"sinfo", "-h", "-N", "-o", "%N"}).output);
  REQUIRE(run({"scontrol", "update", "nodename=" + node, "state=down", "reason=gosok-test"}).exit_code == 0);
  REQUIRE(wait_until([&] { return gosok::test::queue_state(b) == "PENDING"; }, 60));
  // The node comes back (ReturnToService=2 once slurmd answers; resume if it has not).
  CHECK(wait_until(
      [&] {
        const auto state = first_line(run({"sinfo", "-h", "-N", "-o", "%t"}).output);
        if (state.rfind("idle", 0) == 0 || state.rfind("mix", 0) == 0) return true;
        run({"scontrol", "update", "nodename=" + node, "state=resume"});
        return false;
      },
      60));
  // Not at once: slurmd refuses a launch in the same second its previous run's credential
  // was revoked ("Job credential revoked"), which is why Slurm delays requeued jobs.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  REQUIRE(run({"scontrol", "update", "jobid=" + b, "starttime=now"}).exit_code == 0);
  const auto jobs =
      c.jobs({"status", "--wait", "--timeout", "180", once["id"].get<std::string>(), again["id"].get<std::string>()});
  REQUIRE(jobs.size() == 2);
  INFO(jobs.dump(2));
  CHECK(jobs[0]["scheduler_state"] == "NODE_FAIL");
  CHECK(jobs[0]["charged_gpu_hours"] == 0.0);
  CHECK_THAT(jobs[0]["note"].get<std::string>(), ContainsSubstring("not charged"));
  CHECK(sacct_field_when_recorded(a, "State") == "NODE_FAIL");
  CHECK(jobs[1]["scheduler_state"] == "COMPLETED");
  const auto runs = run_seconds(b);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0] > 0);
  CHECK(jobs[1]["charged_gpu_hours"].get<double>() == Approx(runs[1] / 3600.0));  // the NODE_FAIL run is free
  CHECK_THAT(jobs[1]["note"].get<std::string>(), ContainsSubstring("2 runs (requeued); 1 charged"));
}

// The ledger's disk fills up right after Slurm accepted the job: the user must learn the
// Slurm id, and reconcile books the job once there is space again.
TEST_CASE("attack: a full disk after Slurm accepted prints the Slurm id; reconcile books the job",
          "[sched][slurm][attack]") {
  REQUIRE_SLURM();
  Cluster c;
  gosok::test::TempDir mount_point;
  REQUIRE(::mount("tmpfs", mount_point.path().c_str(), "tmpfs", 0, "size=4m,mode=0700") == 0);
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mount_point.path()};
  c.ledger = (mount_point / "ledger.sqlite").string();
  c.import(1);
  const auto fill = mount_point / "fill";
  gosok::test::Result r;
  {
    WrappedCommand filling("sbatch",
                           "out=$(\"$REAL\" \"$@\"); rc=$?\n"
                           "[ -n \"$GOSOK_WRAP_FILL\" ] && dd if=/dev/zero of=\"$GOSOK_WRAP_FILL\" bs=64k >/dev/null "
                           "2>&1\necho \"$out\"\nexit $rc\n");
    ScopedEnv full("GOSOK_WRAP_FILL", fill.string());
    r = c.gosok(c.submit_args("full", {"--gpus-per-node", "1", "-t", "10", "--hold"}));
  }
  INFO(r.output);
  CHECK(r.exit_code == 1);
  std::smatch m;
  REQUIRE(std::regex_search(r.output, m, std::regex("Slurm accepted the job as job ([0-9]+)")));
  const std::string id = m[1];
  CHECK_THAT(r.output, ContainsSubstring("database or disk is full") && ContainsSubstring("gosok reconcile"));
  fs::remove(fill);
  auto jobs = c.jobs({"status", "--all", "--no-refresh"});
  CHECK(jobs[0]["state"] == "submitting");
  CHECK(queued_jobs(c.account).count(id) == 1);
  r = c.gosok({"reconcile"});
  INFO(r.output);
  CHECK_THAT(r.output, ContainsSubstring("1 found by tag"));
  jobs = c.jobs({"status", "--all", "--no-refresh"});
  CHECK(jobs[0]["slurm_id"] == id);
  CHECK(jobs[0]["state"] == "queued");
  run({"scancel", id});
}

// kill -9 of submitters at random moments (before, during and after sbatch): every job
// Slurm has is booked once, nothing booked is absent from Slurm.
TEST_CASE("slurm: random kill -9 of concurrent submitters loses no job and books none twice",
          "[sched][slurm][crash][concurrency]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(100);
  std::mt19937 rng(std::random_device{}());
  // How long one submission takes here, so that the kills fall inside submissions.
  const auto timed = c.gosok(c.submit_args("timed", {"--gpus-per-node", "1", "-t", "10", "--hold"}));
  REQUIRE(timed.exit_code == 0);
  const int lifetime_ms = std::max(5, static_cast<int>(timed.seconds * 1000));
  std::vector<pid_t> pids;
  for (int i = 0; i < 24; ++i) {
    const bool kill_it = i % 4 != 3;
    auto args = c.submit_args("k" + std::to_string(i), {"--gpus-per-node", "1", "-t", "10", "--hold"});
    args.insert(args.begin(), gosok::test::gosok_binary());
    args.push_back("--ledger");
    args.push_back(c.ledger);
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pids.push_back(pid);
    // At a random moment of its life: before, during or after its transaction and sbatch.
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, lifetime_ms * 6 / 5)(rng)));
    if (kill_it) ::kill(pid, SIGKILL);
  }
  int killed = 0;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) ++killed;
  }
  INFO(killed << " of " << pids.size() << " submitters killed");
  CHECK(killed > 0);
  auto r = c.gosok({"reconcile", "--grace", "0"});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  const auto jobs = c.jobs({"status", "--all", "--no-refresh"});
  const auto queue = queued_jobs(c.account);
  std::map<std::string, int> booked;
  double reserved = 0;
  for (const auto& j : jobs) {
    INFO(j.dump());
    CHECK(j["state"] != "submitting");  // each outcome is known: bound, or proven absent
    if (j["state"] == "queued") {
      const std::string id = j["slurm_id"];
      ++booked[id];
      CHECK(queue.count(id) == 1);
      CHECK(queue.at(id) == j["tag"]);
      reserved += j["reserved_gpu_hours"].get<double>();
    } else {
      CHECK(j["state"] == "released");
    }
  }
  for (const auto& [id, comment] : queue) {
    INFO(id << " " << comment);
    CHECK(booked[id] == 1);  // every job Slurm has is booked, once
  }
  CHECK(c.balance()["queued_gpu_hours"].get<double>() == Approx(reserved));
  run({"scancel", "-A", c.account});
}

// ---------------------------------------------------------------- numbers that are not numbers

TEST_CASE("attack: numbers that are not numbers are refused where they are read", "[sched][attack]") {
  gosok::test::LedgerFolder env;
  gosok::test::write_file(env.dir / "g.csv",
                          "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n"
                          "N-1,p,Lab,research,local-slurm,fake,1,2026-01-01,2099-12-31,n1\n");
  REQUIRE(env.gosok({"grants", "import", (env.dir / "g.csv").string()}).exit_code == 0);
  // Walltimes: nanh and 1e300h became -2^63 s (a negative reservation), 0.1s became
  // --time=00:00:00 (UNLIMITED to Slurm).
  for (const std::string t : {"nanh", "infh", "1e300h", "0.1s", "-5", "0x10h"}) {
    const auto r = env.gosok({"submit", "heat", "--site", "local-slurm", "--grant", "N-1", "--gpus-per-node", "4",
                              "--time=" + t, "--dry-run", "--job-dir", (env.dir / "x").string()});
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, ContainsSubstring("-t/--time '" + t + "'"));
  }
  // gpu_hours: inf, 1e300 and 0x10 were imported; provision then set GrpTRESMins to
  // -9223372036854775808, which Slurm stores as no limit.
  for (const std::string hours : {"inf", "1e300", "0x10", "nan"}) {
    gosok::test::write_file(env.dir / "bad.csv",
                            "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n"
                            "N-2,p,Lab,research,local-slurm,fake," +
                                hours + ",2026-01-01,2099-12-31,n2\n");
    const auto r = env.gosok({"grants", "import", (env.dir / "bad.csv").string()});
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, ContainsSubstring("bad.csv:2") && ContainsSubstring("'gpu_hours'"));
  }
  CHECK(env.json({"grants", "list"})["grants"].size() == 1);
  // Site files: charge_factor = nan passed validate, max_walltime = "nanh" lifted the limit,
  // nodes = 4294967297 became 1.
  const auto site = gosok::test::read_file(gosok::test::source_dir() / "site_configs/local-slurm.toml");
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{{"charge_factor = 1.0", "charge_factor = nan"},
                                                        {"max_walltime = \"24:00:00\"", "max_walltime = \"nanh\""},
                                                        {"nodes = 1\n", "nodes = 4294967297\n"},
                                                        {"overrun = \"40s\"", "overrun = \"-infmin\""}}) {
    std::string text = site;
    REQUIRE(text.find(from) != std::string::npos);
    text.replace(text.find(from), from.size(), to);
    gosok::test::write_file(env.dir / "site.toml", text);
    const auto r = run({gosok::test::gosok_binary(), "validate", (env.dir / "site.toml").string()});
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, ContainsSubstring("site.toml:"));
  }
  // Options of the ledger's commands.
  for (const std::string grace : {"-5", "nan", "1e300"}) {
    const auto r = env.gosok({"reconcile", "--grace=" + grace});
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, ContainsSubstring("--grace '" + grace + "'"));
  }
  const auto r = env.gosok({"status", "--wait", "--timeout", "nan"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("--timeout 'nan'"));
}

TEST_CASE("attack: cutting a grant below what is committed is refused, all or nothing", "[sched][attack]") {
  gosok::test::LedgerFolder env;
  const std::string header = "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n";
  gosok::test::write_file(env.dir / "g.csv",
                          header + "C-1,p,Lab,research,localhost,local,1,2026-01-01,2099-12-31,c1\n");
  REQUIRE(env.gosok({"grants", "import", (env.dir / "g.csv").string()}).exit_code == 0);
  // A held local job keeps its reservation (1 GPU x (10 min + 10 s)).
  auto r = env.gosok({"submit", "heat", "--grant", "C-1", "--gpus-per-node", "1", "--hold", "-t", "10", "--job-dir",
                      (env.dir / "j").string()});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // Row 2 adds a grant, row 3 cuts C-1 to 0.1: nothing of the file may be written.
  gosok::test::write_file(env.dir / "cut.csv", header +
                                                   "C-2,p,Lab,research,localhost,local,5,2026-01-01,2099-12-31,c2\n"
                                                   "C-1,p,Lab,research,localhost,local,0.1,2026-01-01,2099-12-31,c1\n");
  r = env.gosok({"grants", "import", (env.dir / "cut.csv").string()});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("cut.csv") && ContainsSubstring("cut from 1 to 0.1") &&
                           ContainsSubstring("0.1694 already committed"));
  auto grants = env.json({"grants", "list"})["grants"];
  REQUIRE(grants.size() == 1);
  CHECK(grants[0]["granted_gpu_hours"] == 1.0);
  r = env.gosok({"grants", "import", (env.dir / "cut.csv").string(), "--allow-cut"});
  CHECK(r.exit_code == 0);
  grants = env.json({"grants", "list"})["grants"];
  CHECK(grants.size() == 2);
  CHECK(env.json({"grants", "show", "C-1"})["grant"]["remaining_gpu_hours"].get<double>() ==
        Approx(0.1 - 610 / 3600.0));
  env.gosok({"cancel", "g1"});
  // A JSON value the JSON library cannot hold: the file and line, not the library's message alone.
  gosok::test::write_file(env.dir / "big.json", "[\n  {\"id\": \"J\",\n   \"gpu_hours\": 1e400}\n]\n");
  r = env.gosok({"grants", "import", (env.dir / "big.json").string()});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("big.json:3:") && ContainsSubstring("number overflow"));
}

// sacctmgr takes almost any name; one gosok refused only half-way left a QOS and an account
// behind. Every name is checked before anything is created.
TEST_CASE("attack: grants provision checks every name before it creates anything", "[sched][slurm][attack]") {
  REQUIRE_SLURM();
  Cluster c;
  gosok::test::write_file(c.dir / "g.csv",
                          "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n" + c.grant +
                              ",test,Lab,research,local-slurm,fake,1,2026-01-01,2099-12-31," + c.account + "\n");
  REQUIRE(c.gosok({"grants", "import", (c.dir / "g.csv").string()}).exit_code == 0);
  // The first name a provision once met half-way through, with the QOS and account created.
  for (const std::string user : {"root,evil", "no-such-user-gosok", "a b"}) {
    const auto r = c.gosok({"grants", "provision", c.grant, "--user", user});
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, ContainsSubstring("--user"));
  }
  std::string qos = c.grant;
  for (auto& ch : qos) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  CHECK(run({"sacctmgr", "-n", "-P", "show", "qos", qos, "format=Name"}).output.empty());
  CHECK(run({"sacctmgr", "-n", "-P", "show", "account", c.account, "format=Account"}).output.empty());
}

// ---------------------------------------------------------------- what another user controls

// A shared folder another user can write: they planted job.sbatch as a symlink to a file
// of the victim's, and swapped the script between its writing and sbatch's reading of it.
TEST_CASE("attack: a job folder another user can write is refused (symlink, swapped script)",
          "[sched][slurm][attack][other-user]") {
  REQUIRE_SLURM();
  OtherUser other;
  Cluster c;
  c.import(1);
  const auto shared = c.dir / "shared";
  fs::create_directory(shared);
  fs::permissions(shared, fs::perms::all);  // 0777, no sticky bit: the shared project folder
  const auto victim = c.dir / "victim.txt";
  gosok::test::write_file(victim, "precious\n");
  REQUIRE(other.run_as({"mkdir", "-m", "777", (shared / "run").string()}).exit_code == 0);
  REQUIRE(other.run_as({"ln", "-s", victim.string(), (shared / "run" / "job.sbatch").string()}).exit_code == 0);
  auto r = c.gosok(c.submit_args("shared/run", {"--gpus-per-node", "1", "-t", "10", "--hold"}));
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("job folder") && ContainsSubstring("is not safe") &&
                           ContainsSubstring("every user can write it"));
  CHECK(gosok::test::read_file(victim) == "precious\n");
  // The swap: the other user's script, in place of the one gosok wrote, as the victim.
  const auto pwned = c.dir / "pwned";
  REQUIRE(other.run_as({"mkdir", "-m", "777", (shared / "run2").string()}).exit_code == 0);
  gosok::test::write_file(
      c.dir / "evil.sh", "#!/bin/bash\n#SBATCH --account=" + c.account +
                             "\n#SBATCH --gres=gpu:4\n#SBATCH --time=1\n#SBATCH -o /dev/null\ntouch " + pwned.string() +
                             "\n");
  {
    WrappedCommand swapping("sbatch", "rm -f " + (shared / "run2" / "job.sbatch").string() + "\n" + "setpriv --reuid=" +
                                          std::to_string(other.uid) + " --regid=" + std::to_string(other.gid) +
                                          " --clear-groups cp " + (c.dir / "evil.sh").string() + " " +
                                          (shared / "run2" / "job.sbatch").string() + "\nexec \"$REAL\" \"$@\"\n");
    r = c.gosok(c.submit_args("shared/run2", {"--gpus-per-node", "1", "-t", "10"}));
  }
  INFO(r.output);
  CHECK(r.exit_code == 2);
  if (r.exit_code == 0) wait_until([&] { return fs::exists(pwned); }, 60);  // what it did before
  CHECK(!fs::exists(pwned));
  CHECK(queued_jobs(c.account).empty());
  run({"scancel", "-A", c.account});
}

// The ledger (grants, tags, output paths), its WAL and shared memory, and job folders
// followed the umask: another user could read them.
TEST_CASE("attack: the ledger and job folders are private", "[sched][slurm][attack][other-user]") {
  REQUIRE_SLURM();
  OtherUser other;
  const mode_t old = ::umask(022);
  Cluster c;
  c.import(1);
  const auto sub = c.jobs(c.submit_args("modes", {"--gpus-per-node", "1", "-t", "10", "--hold"}))[0];
  ::umask(old);
  auto mode = [](const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 0777;
  };
  for (const auto& f : {c.ledger, c.ledger + "-wal", c.ledger + "-shm"}) {
    INFO(f);
    CHECK(mode(f) == 0600);
  }
  CHECK(mode(c.dir / "modes") == 0700);
  CHECK(mode(c.dir / "modes" / "job.sbatch") == 0600);
  fs::permissions(c.dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
  CHECK(other.run_as({"cat", c.ledger}).exit_code != 0);
  CHECK(other.run_as({"ls", (c.dir / "modes").string()}).exit_code != 0);
  run({"scancel", sub["slurm_id"].get<std::string>()});
}

// Tags were predictable (gosok:<instance>:<id>), and reconcile bound an interrupted
// submission to any job whose comment carried the tag, whoever's it was.
#ifdef GOSOK_TEST_HOOKS  // fault injection exists in builds with GOSOK_ENABLE_TEST_HOOKS only
TEST_CASE("attack: another user's job with a guessed or copied tag is never bound",
          "[sched][slurm][attack][other-user]") {
  REQUIRE_SLURM();
  OtherUser other;
  Cluster c;
  c.import(1);
  const std::string theirs = other.slurm_account("evil" + c.grant.substr(1));
  gosok::test::write_file(c.dir / "short.sh", "#!/bin/bash\nsleep 1\n");
  fs::permissions(c.dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
  auto queue_as_other = [&](const std::string& comment) {
    const auto r = other.run_as({"sbatch", "--parsable", "-A", theirs, "--gres=gpu:1", "-t", "1", "-o", "/dev/null",
                                 "--comment=" + comment, (c.dir / "short.sh").string()});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    return first_line(r.output);
  };
  // (a) Guessed: the victim's first tag is in the queue for all to see; the next one is
  // what the other user bets on.
  const auto first = c.jobs(c.submit_args("one", {"--gpus-per-node", "1", "-t", "10", "--hold"}))[0];
  const std::string seen = queued_jobs(c.account).at(first["slurm_id"]);
  std::vector<std::string> parts;  // gosok, instance, id[, nonce]
  std::istringstream words(seen);
  for (std::string w; std::getline(words, w, ':');) parts.push_back(w);
  REQUIRE(parts.size() >= 3);
  const std::string next = parts[0] + ":" + parts[1] + ":2";
  std::vector<std::string> guesses = {queue_as_other(next)};
  if (parts.size() > 3) guesses.push_back(queue_as_other(next + ":" + parts[3]));
  gosok::test::Result r;
  {
    // The victim's next submission dies before sbatch (its tag never reaches Slurm).
    WrappedCommand dying("sbatch", "kill -9 $PPID\nexit 1\n");
    r = c.gosok(c.submit_args("two", {"--gpus-per-node", "1", "-t", "10", "--hold"}));
  }
  CHECK(r.exit_code == 137);
  for (const auto& g : guesses) REQUIRE(ended_in_accounting(g));  // the guesses have run
  r = c.gosok({"reconcile", "--grace", "0"});
  INFO(r.output);
  auto jobs = c.jobs({"status", "--all", "--no-refresh"});
  INFO(jobs.dump(2));
  CHECK(jobs[0]["slurm_id"].is_null());  // g2: bound to none of the other user's jobs
  CHECK(jobs[0]["state"] == "released");
  // (b) Copied: the victim's job is in the queue with its tag, its submission crashed before
  // gosok recorded the id, and the other user queues a job with the same comment.
  {
    ScopedEnv crash("GOSOK_TEST_CRASH_AFTER_SBATCH", "1");
    r = c.gosok(c.submit_args("three", {"--gpus-per-node", "1", "-t", "10"}));
  }
  REQUIRE(r.exit_code == 70);
  jobs = c.jobs({"status", "--all", "--no-refresh"});
  const std::string tag = jobs[0]["tag"];
  const std::string mine = job_with_tag(c.account, tag);
  REQUIRE(!mine.empty());
  const std::string copy = queue_as_other(tag);
  REQUIRE(ended_in_accounting(mine));
  REQUIRE(ended_in_accounting(copy));
  r = c.gosok({"reconcile", "--grace", "0"});
  INFO(r.output);
  jobs = c.jobs({"status", "--all", "--no-refresh"});
  CHECK(jobs[0]["slurm_id"] == mine);  // the victim's own job, not the copy
  run({"scancel", "-A", c.account});
  run({"scancel", "-A", theirs});
}
#endif

// A user's own site file (--site FILE, GOSOK_SITE_PATH) set the charge factor, and a user's
// template added resources: a 4-GPU x 2 h job reserved nothing.
TEST_CASE("attack: the price comes from the center's site configuration, not from a user's file",
          "[sched][slurm][attack]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(1);
  std::string free = gosok::test::read_file(gosok::test::source_dir() / "site_configs/local-slurm.toml");
  for (auto pos = free.find("charge_factor = "); pos != std::string::npos;
       pos = free.find("charge_factor = ", pos + 1)) {
    free.replace(pos, free.find('\n', pos) - pos, "charge_factor = 0.0");
  }
  fs::create_directories(c.dir / "mine");
  gosok::test::write_file(c.dir / "mine" / "local-slurm.toml", free);
  auto r = c.gosok(submit_on(c, (c.dir / "mine" / "local-slurm.toml").string(), "free",
                             {"--gpus-per-node", "4", "-t", "2:00:00", "--hold"}));
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("charge_factor is 0 there but") && ContainsSubstring("in the center's"));
  {
    ScopedEnv path("GOSOK_SITE_PATH", (c.dir / "mine").string());
    r = c.gosok(c.submit_args("free2", {"--gpus-per-node", "4", "-t", "2:00:00", "--hold"}));
  }
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("center's site configuration"));
  // A template of the user's that asks Slurm for more than the job reserves.
  std::string more = gosok::test::read_file(gosok::test::source_dir() / "job_templates/default.sbatch");
  more.replace(more.find("#SBATCH --time"), 0, "#SBATCH --gres=gpu:4\n");
  gosok::test::write_file(c.dir / "more.sbatch", more);
  r = c.gosok(c.submit_args(
      "more", {"--gpus-per-node", "1", "-t", "10", "--hold", "--template", (c.dir / "more.sbatch").string()}));
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("sets #SBATCH --gres=gpu:4"));
  CHECK(queued_jobs(c.account).empty());
  CHECK(c.json({"status", "--all", "--no-refresh"})["jobs"].empty());
  // What a user's files may do: shape the script.
  std::string shaped = gosok::test::read_file(gosok::test::source_dir() / "job_templates/default.sbatch");
  shaped.replace(shaped.find("set -euo pipefail"), 17, "set -euo pipefail\necho 'my own setup'");
  gosok::test::write_file(c.dir / "shaped.sbatch", shaped);
  const auto ok = c.jobs(
      submit_on(c, sleepy_site(c, "mine.toml", "echo hello"), "shaped",
                {"--gpus-per-node", "1", "-t", "10", "--hold", "--template", (c.dir / "shaped.sbatch").string()}))[0];
  CHECK(ok["reserved_gpu_hours"].get<double>() == Approx(640 / 3600.0));
  CHECK_THAT(gosok::test::read_file(c.dir / "shaped" / "job.sbatch"),
             ContainsSubstring("my own setup") && ContainsSubstring("echo hello"));
  run({"scancel", "-A", c.account});
}

// A ledger the user may read but not write (a read-only mount, another user's shared
// copy): the commands that only read it must still work.
TEST_CASE("attack: a read-only ledger still answers read-only commands", "[sched][attack][other-user]") {
  OtherUser other;
  gosok::test::LedgerFolder env;
  gosok::test::write_file(env.dir / "g.csv",
                          "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n"
                          "R-1,p,Lab,research,localhost,local,10,2026-01-01,2099-12-31,r1\n");
  REQUIRE(env.gosok({"grants", "import", (env.dir / "g.csv").string()}).exit_code == 0);
  // As it is once its last writer has gone: the WAL checkpointed, no -wal or -shm file.
  REQUIRE(run({"/usr/bin/python3", "-c",
               "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); "
               "c.close()",
               env.ledger})
              .exit_code == 0);
  REQUIRE(!fs::exists(env.ledger + "-shm"));
  // The other user may read it, not write it, nor the folder it is in.
  for (const auto& f : fs::directory_iterator(env.dir.path())) {
    fs::permissions(f.path(),
                    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  }
  fs::permissions(env.dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                      fs::perms::others_read | fs::perms::others_exec);
  auto as_other = [&](std::vector<std::string> args) {
    args.insert(args.begin(), gosok::test::gosok_binary());
    args.insert(args.end(), {"--ledger", env.ledger});
    return other.run_as(args);
  };
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"grants", "list"}, {"grants", "show", "R-1"}, {"status", "--no-refresh"}, {"status"}}) {
    const auto r = as_other(args);
    INFO(args.front() << ": " << r.output);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, ContainsSubstring("R-1") || ContainsSubstring("ID  SLURM"));
  }
  gosok::test::write_file(env.dir / "more.csv",
                          "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n"
                          "R-1,p,Lab,research,localhost,local,20,2026-01-01,2099-12-31,r1\n");
  const auto r = as_other({"grants", "import", (env.dir / "more.csv").string()});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, ContainsSubstring("read-only for you"));
}
