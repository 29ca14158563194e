// Against the real single-node Slurm of scripts/slurm-local (SLURM_CONF set by the test
// command): a real MPI job charged from sacct, refusals, Slurm's own GPU-minutes limit,
// 20 concurrent submitters on one grant, and a crash between sbatch and the ledger commit.
// Every test makes its own grant, account and QOS, so tests never share Slurm state.
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "gosok_cli.hpp"
#include "subprocess.hpp"

namespace fs = std::filesystem;
using Catch::Approx;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;
using gosok::test::run;

namespace {

bool slurm_up() {
  const char* conf = std::getenv("SLURM_CONF");
  return conf && *conf && run({"scontrol", "ping"}, 10).output.find("UP") != std::string::npos;
}

#define REQUIRE_SLURM()                                                        \
  do {                                                                         \
    if (!slurm_up())                                                           \
      SKIP(                                                                    \
          "SKIP: no test Slurm (start one with scripts/slurm-local start DIR " \
          "and export SLURM_CONF)");                                           \
  } while (0)

std::string unique_suffix() {
  std::random_device rd;
  return std::to_string(rd() % 1000000);
}

struct Cluster : gosok::test::LedgerFolder {
  std::string grant = "T" + unique_suffix();
  std::string account = "acct" + grant.substr(1);

  nlohmann::json json(std::vector<std::string> args) { return LedgerFolder::json(std::move(args), 300); }
  void import(double gpu_hours) {
    gosok::test::write_file(dir / "g.csv", "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n" +
                                               grant + ",test,Lab,research,local-slurm,fake," +
                                               std::to_string(gpu_hours) + ",2026-01-01,2099-12-31," + account + "\n");
    auto r = gosok({"grants", "import", (dir / "g.csv").string()});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    r = gosok({"grants", "provision", grant});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  std::vector<std::string> submit_args(const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a = {"submit",  "heat", "--site",       "local-slurm",
                                  "--grant", grant,  "--output-dir", (dir / out).string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

std::string sacct_field(const std::string& job, const std::string& field) {
  const auto r = run({"sacct", "-X", "-n", "-P", "-j", job, "--format=" + field});
  return r.output.substr(0, r.output.find('\n'));
}

// The same, for a job slurmdbd may not have recorded yet (it hears of jobs asynchronously).
std::string sacct_field_when_recorded(const std::string& job, const std::string& field) {
  std::string value;
  for (int i = 0; i < 50 && (value = sacct_field(job, field)).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return value;
}

}  // namespace

// Runs with or without Slurm (so that a run without Slurm is "passed with skips", not "no
// tests ran"): the test cluster's site file describes what scripts/slurm-local starts.
TEST_CASE("slurm: local-slurm.toml matches the cluster scripts/slurm-local starts", "[sched][slurm]") {
  const auto site = gosok::test::read_file(gosok::test::source_dir() / "site_configs/local-slurm.toml");
  const auto script = gosok::test::read_file(gosok::test::source_dir() / "scripts/slurm-local");
  CHECK_THAT(script, ContainsSubstring("PartitionName=gpu") && ContainsSubstring("PartitionName=debug") &&
                         ContainsSubstring("Gres=gpu:4") && ContainsSubstring("MaxTime=00:30:00"));
  CHECK_THAT(script, ContainsSubstring("AccountingStoreFlags=job_comment"));
  CHECK_THAT(site, ContainsSubstring("[partitions.gpu]") && ContainsSubstring("[partitions.debug]") &&
                       ContainsSubstring("gpus_per_node = 4") && ContainsSubstring("max_walltime = \"00:30:00\""));
}

TEST_CASE("slurm: a 2-rank MPI job runs gosok run heat and is charged from sacct", "[sched][slurm]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(1);
  const auto sub = c.json(c.submit_args("mpi", {"-n", "2", "--gpus-per-node", "2", "-t", "5"}));
  const std::string slurm_id = sub["slurm_id"];
  REQUIRE(!slurm_id.empty());
  CHECK(sub["reserved_gpu_hours"].get<double>() == Approx(2 * 5 / 60.0));
  const auto jobs = c.json({"status", "--wait", "--timeout", "180", "g" + std::to_string(1)});
  REQUIRE(jobs.size() == 1);
  const auto& job = jobs[0];
  INFO(job.dump(2));
  INFO(gosok::test::read_file(c.dir / "mpi" / ("slurm-" + slurm_id + ".out")));
  CHECK(job["state"] == "settled");
  CHECK(job["scheduler_state"] == "COMPLETED");
  CHECK(fs::exists(c.dir / "mpi" / "results" / "diagnostics.json"));
  CHECK_THAT(gosok::test::read_file(c.dir / "mpi" / ("slurm-" + slurm_id + ".out")), ContainsSubstring("on 2 ranks"));
  // The ledger agrees with accounting: elapsed x AllocTRES gres/gpu x charge factor (1).
  const double elapsed = std::stod(sacct_field(slurm_id, "ElapsedRaw"));
  CHECK_THAT(sacct_field(slurm_id, "AllocTRES"), ContainsSubstring("gres/gpu=2"));
  CHECK_THAT(sacct_field(slurm_id, "Account"), ContainsSubstring(c.account));
  CHECK(job["allocated_gpus"] == 2);
  CHECK(job["elapsed_s"].get<double>() == elapsed);
  CHECK(job["charged_gpu_hours"].get<double>() == Approx(elapsed * 2 / 3600.0));
  const auto show = c.json({"grants", "show", c.grant});
  CHECK(show["settled_gpu_hours"].get<double>() == Approx(elapsed * 2 / 3600.0));
  CHECK(show["queued_gpu_hours"] == 0.0);
  // Settling twice changes nothing.
  const auto again = c.gosok({"reconcile"});
  CHECK_THAT(again.output, ContainsSubstring("0 job(s) updated"));
  // status by Slurm id finds the same job.
  CHECK(c.json({"status", slurm_id, "--no-refresh"})[0]["id"] == "g1");
}

TEST_CASE("slurm: a job over the grant is refused by gosok and never reaches Slurm", "[sched][slurm]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(0.1);
  const auto r = c.gosok(c.submit_args("over", {"--gpus-per-node", "4", "-t", "01:00:00"}));
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("cannot cover"));
  const auto q = run({"squeue", "-h", "-A", c.account, "-o", "%i"});
  CHECK(q.output.empty());
}

TEST_CASE("slurm: a provisioned grant makes Slurm itself stop an over-limit sbatch", "[sched][slurm]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(0.05);  // 3 GPU-minutes
  auto r = c.gosok({"grants", "provision", c.grant, "--check"});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("GrpTRESMins=gres/gpu=3"));
  // Behind gosok's back: plain sbatch of 4 GPUs x 10 minutes = 40 GPU-minutes.
  gosok::test::write_file(c.dir / "plain.sh", "#!/bin/bash\nsleep 1\n");
  r = run({"sbatch", "--parsable", "--account=" + c.account, "--gres=gpu:4", "--time=10", "-o",
           (c.dir / "plain-%j.out").string(), (c.dir / "plain.sh").string()});
  INFO(r.output);
  if (r.exit_code != 0) {
    CHECK_THAT(r.output, ContainsSubstring("GRESMinutes") || ContainsSubstring("policy"));  // DenyOnLimit
  } else {
    const std::string id = r.output.substr(0, r.output.find_first_of(";\n"));
    std::string reason;
    for (int i = 0; i < 50; ++i) {
      reason = run({"squeue", "-h", "-j", id, "-o", "%T %r"}).output;
      if (reason.find("GRESMinutes") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    INFO(reason);
    CHECK_THAT(reason, ContainsSubstring("PENDING") && ContainsSubstring("GrpGRESMinutes"));
    run({"scancel", id});
  }
  // Drift: someone raised the limit by hand; --check reports it, provision repairs it.
  std::string qos = c.grant;  // the default QOS name: the grant id, lower-cased
  for (auto& ch : qos) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  run({"sacctmgr", "-i", "modify", "qos", "where", "name=" + qos, "set", "GrpTRESMins=gres/gpu=999"});
  r = c.gosok({"grants", "provision", c.grant, "--check"});
  INFO(r.output);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.output, ContainsSubstring("gres/gpu=999") && ContainsSubstring("gres/gpu=3"));
  r = c.gosok({"grants", "provision", c.grant});
  CHECK_THAT(r.output, ContainsSubstring("updated QOS"));
  CHECK(c.gosok({"grants", "provision", c.grant, "--check"}).exit_code == 0);
}

TEST_CASE("slurm: 20 concurrent gosok submit never over-reserve a grant", "[sched][slurm][concurrency]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(1);  // 6 jobs of 1 GPU x 10 minutes
  std::vector<std::future<gosok::test::Result>> runs;
  for (int i = 0; i < 20; ++i) {
    runs.push_back(std::async(std::launch::async, [&c, i] {
      return c.gosok(c.submit_args("c" + std::to_string(i), {"--gpus-per-node", "1", "-t", "10", "--hold"}));
    }));
  }
  const auto outcome = gosok::test::tally(runs, "cannot cover");
  CHECK(outcome.ok == 6);
  CHECK(outcome.refused == 14);
  const auto q = run({"squeue", "-h", "-A", c.account, "-o", "%i"});
  std::vector<std::string> ids;
  for (std::size_t p = 0, n; p < q.output.size(); p = n + 1) {
    n = q.output.find('\n', p);
    if (n == std::string::npos) n = q.output.size();
    if (n > p) ids.push_back(q.output.substr(p, n - p));
  }
  CHECK(ids.size() == 6);
  auto show = c.json({"grants", "show", c.grant});
  CHECK(show["queued_gpu_hours"].get<double>() == Approx(1.0));
  // Cancel by Slurm id (first) and by gosok id (the rest); held jobs never ran: no charge.
  REQUIRE(!ids.empty());
  CHECK(c.gosok({"cancel", ids[0]}).exit_code == 0);
  std::vector<std::string> cancel = {"cancel"};
  for (const auto& j : c.json({"status", "--no-refresh"})) {
    if (j["slurm_id"] != ids[0]) cancel.push_back(j["id"]);
  }
  CHECK(c.gosok(cancel).exit_code == 0);
  c.json({"status", "--wait", "--timeout", "120"});
  show = c.json({"grants", "show", c.grant});
  CHECK(show["settled_gpu_hours"] == 0.0);
  CHECK(show["remaining_gpu_hours"].get<double>() == Approx(1.0));
}

TEST_CASE("slurm: a crash between sbatch and the commit is repaired by reconcile", "[sched][slurm][crash]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(1);
  ::setenv("GOSOK_TEST_CRASH_AFTER_SBATCH", "1", 1);
  auto r = c.gosok(c.submit_args("crash", {"--gpus-per-node", "1", "-t", "5"}));
  ::unsetenv("GOSOK_TEST_CRASH_AFTER_SBATCH");
  CHECK(r.exit_code == 70);
  auto jobs = c.json({"status", "--all", "--no-refresh"});
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0]["state"] == "submitting");
  CHECK(jobs[0]["slurm_id"] == "");
  // The job did reach Slurm, carrying its tag.
  const auto q = run({"squeue", "-h", "-A", c.account, "-o", "%i %k"});
  INFO(q.output);
  const auto sacct = run({"sacct", "-X", "-n", "-P", "-A", c.account, "--format=JobID,Comment"});
  INFO(sacct.output);
  r = c.gosok({"reconcile"});
  INFO(r.output);
  CHECK_THAT(r.output, ContainsSubstring("1 found by tag"));
  jobs = c.json({"status", "--wait", "--timeout", "120", "g1"});
  CHECK(jobs[0]["slurm_id"] != "");
  CHECK(jobs[0]["state"] == "settled");
  CHECK(jobs[0]["scheduler_state"] == "COMPLETED");
  CHECK(jobs[0]["allocated_gpus"] == 1);
}

namespace {

// `id` as a whole number in `text` (job 10 is not in "100M") replaced by <id>.
std::string mark_job_id(const std::string& text, const std::string& id) {
  return std::regex_replace(text, std::regex("(^|[^0-9])" + id + "(?![0-9])"), "$1<id>");
}

// `scontrol show job -o` as name=value words, the job id replaced by <id>; times dropped.
std::multiset<std::string> job_fields(const std::string& id) {
  const auto r = run({"scontrol", "show", "job", "-o", id});
  std::multiset<std::string> fields;
  std::istringstream words(r.output);
  for (std::string w; words >> w;) {
    if (w.find("Time=") == std::string::npos && w.rfind("LastSchedEval=", 0) != 0) fields.insert(mark_job_id(w, id));
  }
  return fields;
}

// The environment a job wrote (env-<id>.txt), the job id replaced by <id>, minus what
// differs between any two jobs (times, the batch shell's pid).
std::set<std::string> job_env(const fs::path& file, const std::string& id) {
  std::set<std::string> vars;
  std::istringstream lines(gosok::test::read_file(file));
  for (std::string line; std::getline(lines, line);) {
    const std::string name = line.substr(0, line.find('='));
    if (name == "SLURM_TASK_PID" || name.find("_TIME") != std::string::npos) continue;
    vars.insert(mark_job_id(line, id));
  }
  return vars;
}

bool wait_gone(const std::vector<std::string>& ids, double seconds) {
  for (int i = 0; i < seconds * 5; ++i) {
    bool any = false;
    for (const auto& id : ids) any = any || !run({"squeue", "-h", "-j", id, "-o", "%i"}).output.empty();
    if (!any) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

// Submits the probe template (every directive gosok translates that this one-node cluster
// can honour: no --constraint, the node has no features; no --reservation) with gosok, then
// the script gosok wrote with plain sbatch from the same folder; the two jobs must be the
// same in slurmctld (scontrol) and in the job (its environment). Returns how gosok submitted.
std::string compare_with_sbatch(Cluster& c, const std::string& out) {
  gosok::test::write_file(c.dir / "probe.sbatch",
                          "#!/bin/bash\n"
                          "#SBATCH --job-name={{job_name}} -A {{account}} --qos={{qos}}\n"
                          "#SBATCH -p {{partition}} --nodes={{nodes}} --ntasks-per-node={{ntasks_per_node}}\n"
                          "#SBATCH --gpus-per-node={{gpus_per_node}} -c 1 --mem=100M --exclusive\n"
                          "#SBATCH --time={{walltime}} --comment={{comment}} # the gosok tag\n"
                          "#SBATCH -o {{output_dir}}/out-%j.txt -e {{output_dir}}/err-%j.txt -D {{output_dir}}\n"
                          "#SBATCH {{hold}}\n"
                          "env | sort > env-$SLURM_JOB_ID.txt\n");
  const auto sub = c.json(c.submit_args(
      out, {"-n", "2", "--gpus-per-node", "2", "-t", "3", "--hold", "--template", (c.dir / "probe.sbatch").string()}));
  const std::string api_id = sub["slurm_id"];
  const auto raw = run({"sbatch", "--parsable", (c.dir / out / "job.sbatch").string()}, 60, c.dir.path());
  INFO(raw.output);
  REQUIRE(raw.exit_code == 0);
  const std::string raw_id = raw.output.substr(0, raw.output.find_first_of(";\n"));

  const auto api_fields = job_fields(api_id), raw_fields = job_fields(raw_id);
  CHECK(api_fields.count("JobState=PENDING") == 1);
  CHECK(api_fields.count("Reason=JobHeldUser") == 1);
  CHECK(api_fields.count("MinMemoryNode=100M") == 1);
  CHECK(api_fields.count("OverSubscribe=NO") == 1);  // --exclusive
  CHECK(api_fields.count("NumTasks=2") == 1);
  CHECK(api_fields.count("TresPerNode=gres:gpu:2") == 1);
  CHECK(api_fields == raw_fields);
  // Accounting knows who submitted: the user's gosok command line, not a made-up sbatch line.
#if GOSOK_HAVE_LIBSLURM
  CHECK_THAT(sacct_field_when_recorded(api_id, "SubmitLine"), ContainsSubstring("gosok submit heat"));
#endif

  run({"scontrol", "release", api_id + "," + raw_id});
  REQUIRE(wait_gone({api_id, raw_id}, 120));
  const auto api_env = job_env(c.dir / out / ("env-" + api_id + ".txt"), api_id);
  const auto raw_env = job_env(c.dir / out / ("env-" + raw_id + ".txt"), raw_id);
  CHECK(api_env.count("SLURM_NTASKS=2") == 1);
  CHECK(api_env.count("SLURM_GPUS_PER_NODE=2") == 1);
  CHECK(api_env.count("SLURM_SUBMIT_DIR=" + c.dir.path().string()) == 1);
  std::vector<std::string> only_api, only_raw;
  std::set_difference(api_env.begin(), api_env.end(), raw_env.begin(), raw_env.end(), std::back_inserter(only_api));
  std::set_difference(raw_env.begin(), raw_env.end(), api_env.begin(), api_env.end(), std::back_inserter(only_raw));
  CHECK(only_api == std::vector<std::string>{});
  CHECK(only_raw == std::vector<std::string>{});
  CHECK(api_env.size() > 20);
  return sub["submitted_with"];
}

// Sets an environment variable for one scope (gosok::test::run passes ours on).
struct ScopedEnv {
  std::string name;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) { ::setenv(name.c_str(), value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

// The submit server's sockets for this test (XDG_RUNTIME_DIR points into the test folder).
std::vector<fs::path> server_sockets(const fs::path& runtime) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(runtime, ec)) {
    if (e.path().extension() == ".sock") found.push_back(e.path());
  }
  return found;
}

bool wait_for(const std::function<bool()>& condition, double seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

}  // namespace

// gosok submits through libslurm (no sbatch process) when the build has it, in-process or
// through this user's submit server; either way the job is the one sbatch makes.
TEST_CASE("slurm: through libslurm gosok makes the job sbatch makes from the same script", "[sched][slurm]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(10);
  ScopedEnv runtime("XDG_RUNTIME_DIR", (c.dir / "run").string());
  fs::create_directories(c.dir / "run");
  {
    ScopedEnv off("GOSOK_SUBMIT_SERVER", "0");
    const auto with = compare_with_sbatch(c, "in-process");
#if GOSOK_HAVE_LIBSLURM
    CHECK_THAT(with, ContainsSubstring("libslurm") && !ContainsSubstring("submit server"));
#else
    CHECK(with == "sbatch");
#endif
    CHECK(server_sockets(c.dir / "run").empty());  // GOSOK_SUBMIT_SERVER=0: none started
  }
  // That submission was in-process; it starts a server for the next ones.
  c.json(c.submit_args("warm", {"-t", "3", "--hold"}));
  REQUIRE(wait_for([&] { return !server_sockets(c.dir / "run").empty(); }, 10));
  const auto with = compare_with_sbatch(c, "served");
  CHECK_THAT(with, ContainsSubstring("by the submit server"));
#if GOSOK_HAVE_LIBSLURM
  CHECK_THAT(with, ContainsSubstring("libslurm"));
#endif
  run({"scancel", "-A", c.account});
}

TEST_CASE("slurm: the submit server refuses as gosok does, steps aside for what it must not do, and leaves when idle",
          "[sched][slurm]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(0.2);
  ScopedEnv runtime("XDG_RUNTIME_DIR", (c.dir / "run").string());
  ScopedEnv idle("GOSOK_SUBMIT_SERVER_IDLE", "10");  // long enough for the steps between requests
  fs::create_directories(c.dir / "run");
  c.json(c.submit_args("first", {"-t", "3", "--hold"}));  // in-process; starts the server
  REQUIRE(wait_for([&] { return server_sockets(c.dir / "run").size() == 1; }, 10));
  // A refusal through the server: same message and exit code, nothing reaches Slurm.
  auto r = c.gosok(c.submit_args("over", {"--gpus-per-node", "4", "-t", "01:00:00"}));
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("gosok submit: grant " + c.grant + " cannot cover"));
  CHECK(run({"squeue", "-h", "-A", c.account, "-o", "%i"}).output.find('\n') ==
        run({"squeue", "-h", "-A", c.account, "-o", "%i"}).output.rfind('\n'));  // still just "first"
  // The server keeps its ledger connection, but for that file only: a ledger deleted and
  // made anew at the same path is the one the next job goes into.
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(c.ledger + suffix);
  c.import(0.2);
  const auto again = c.json(c.submit_args("again", {"-t", "3", "--hold"}));
  CHECK_THAT(again["submitted_with"].get<std::string>(), ContainsSubstring("by the submit server"));
  CHECK(again["id"] == "g1");
  CHECK(c.json({"status", "--no-refresh"}).size() == 1);
  // The crash hook must end the submitting process itself: the server leaves it to gosok.
  {
    ScopedEnv crash("GOSOK_TEST_CRASH_AFTER_SBATCH", "1");
    CHECK(c.gosok(c.submit_args("crash", {"-t", "3", "--hold"})).exit_code == 70);
  }
  // A server killed outright leaves a socket nobody answers: the next submit runs in-process
  // and starts a new server.
  run({"pkill", "-KILL", "-f", "_submit-server --socket " + (c.dir / "run").string()});
  const auto sub = c.json(c.submit_args("after-kill", {"-t", "3", "--hold"}));
  CHECK_THAT(sub["submitted_with"].get<std::string>(), !ContainsSubstring("submit server"));
  CHECK(wait_for(
      [&] {
        return run({"pgrep", "-f", "_submit-server --socket " + (c.dir / "run").string()}).exit_code == 0;
      },
      10));
  // Idle for GOSOK_SUBMIT_SERVER_IDLE seconds: it leaves and removes its socket and lock.
  CHECK(wait_for([&] { return server_sockets(c.dir / "run").empty(); }, 30));
  CHECK(wait_for(
      [&] {
        std::error_code ec;
        for (const auto& e : fs::recursive_directory_iterator(c.dir / "run", ec)) {
          if (e.path().extension() == ".lock") return false;
        }
        return true;
      },
      5));
  run({"scancel", "-A", c.account});
}

TEST_CASE("slurm: a script with directives gosok does not translate, or a site that says so, goes to sbatch",
          "[sched][slurm]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(10);
  const auto default_template = gosok::test::read_file(gosok::test::source_dir() / "job_templates/default.sbatch");
  gosok::test::write_file(c.dir / "mail.sbatch", "#!/bin/bash\n#SBATCH --mail-type=NONE\n" +
                                                     default_template.substr(default_template.find('\n') + 1));
  auto sub = c.json(c.submit_args("mail", {"-t", "3", "--hold", "--template", (c.dir / "mail.sbatch").string()}));
  CHECK_THAT(sub["submitted_with"].get<std::string>(), ContainsSubstring("sbatch"));
#if GOSOK_HAVE_LIBSLURM
  CHECK_THAT(sub["submitted_with"].get<std::string>(), ContainsSubstring("'--mail-type=NONE' (line 2)"));
#endif
  CHECK_THAT(sacct_field_when_recorded(sub["slurm_id"].get<std::string>(), "SubmitLine"),
             ContainsSubstring("sbatch --parsable"));
  const auto by_sbatch = gosok::test::write_local_slurm_site(c.dir / "local-slurm.toml", "submit_with = \"sbatch\"\n");
  auto args = c.submit_args("forced", {"-t", "3", "--hold"});
  args[3] = by_sbatch;
  sub = c.json(args);
  CHECK_THAT(sub["submitted_with"].get<std::string>(), StartsWith("sbatch") && !ContainsSubstring("libslurm"));
  run({"scancel", "-A", c.account});
}

// sbatch lets SBATCH_PARTITION, SBATCH_TIMELIMIT, ... override a script's directives; a
// gosok job must stay the one gosok planned and reserved, whichever way it reaches Slurm.
TEST_CASE("slurm: SBATCH_* variables in the environment do not change a gosok job", "[sched][slurm]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(10);
  const auto by_sbatch = gosok::test::write_local_slurm_site(c.dir / "by-sbatch.toml", "submit_with = \"sbatch\"\n");
  ScopedEnv partition("SBATCH_PARTITION", "debug");
  ScopedEnv time("SBATCH_TIMELIMIT", "1");
  ScopedEnv off("GOSOK_SUBMIT_SERVER", "0");
  std::vector<std::string> ids;
  ids.push_back(c.json(c.submit_args("api", {"-t", "3", "--hold"}))["slurm_id"]);
  auto args = c.submit_args("sbatch", {"-t", "3", "--hold"});
  args[3] = by_sbatch;
  ids.push_back(c.json(args)["slurm_id"]);
  for (const auto& id : ids) {
    INFO(id);
    const auto fields = job_fields(id);
    CHECK(fields.count("Partition=gpu") == 1);
    CHECK(fields.count("TimeLimit=00:03:00") == 1);
  }
  // What plain sbatch does with them (so the checks above can fail):
  const auto raw = run({"sbatch", "--parsable", (c.dir / "api" / "job.sbatch").string()}, 60, c.dir.path());
  REQUIRE(raw.exit_code == 0);
  CHECK(job_fields(raw.output.substr(0, raw.output.find_first_of(";\n"))).count("Partition=debug") == 1);
  run({"scancel", "-A", c.account});
}

// The grant's account was never created in Slurm (no `grants provision`): slurmctld refuses
// the job, and gosok releases what it had reserved, on every path to Slurm.
TEST_CASE("slurm: a job Slurm refuses releases its reservation", "[sched][slurm]") {
  REQUIRE_SLURM();
  Cluster c;
  gosok::test::write_file(c.dir / "g.csv",
                          "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n" + c.grant +
                              ",test,Lab,research,local-slurm,fake,1,2026-01-01,2099-12-31," + c.account + "\n");
  REQUIRE(c.gosok({"grants", "import", (c.dir / "g.csv").string()}).exit_code == 0);
  const auto by_sbatch = gosok::test::write_local_slurm_site(c.dir / "by-sbatch.toml", "submit_with = \"sbatch\"\n");
  for (const std::string how : {"libslurm", "sbatch"}) {
    INFO(how);
    ScopedEnv off("GOSOK_SUBMIT_SERVER", "0");
    auto args = c.submit_args("refused-" + how, {"-t", "10"});
    if (how == "sbatch") args[3] = by_sbatch;
    const auto r = c.gosok(args);
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, ContainsSubstring("ccount"));  // Slurm's reason names the account
  }
  const auto jobs = c.json({"status", "--all", "--no-refresh"});
  REQUIRE(jobs.size() == 2);
  for (const auto& j : jobs) CHECK(j["state"] == "released");
  CHECK(c.json({"grants", "show", c.grant})["remaining_gpu_hours"].get<double>() == Approx(1.0));
}
