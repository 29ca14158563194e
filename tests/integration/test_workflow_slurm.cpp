// Workflows against the real single-node Slurm of scripts/slurm-local (SLURM_CONF set by
// the test command): the docs' example as a newcomer runs it (dry run, submit, watch, gosok
// killed halfway, resume, each job charged once, as sacct says), every way a job can end
// told apart (with a retry that the next step's dependency follows), one sacct per poll and
// polls that back off, a run longer than its partition's limit finished by continuations
// from its checkpoints (the same answer as one uninterrupted run), and slurmdbd briefly
// down on the way. Every test makes its own grant, account and QOS.
#include <sys/stat.h>

#include <algorithm>
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
#include <sstream>
#include <thread>

#include "gosok_cli.hpp"
#include "subprocess.hpp"
#include "workflow_status.hpp"

namespace fs = std::filesystem;
using Catch::Approx;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;
using gosok::test::read_file;
using gosok::test::run;
using gosok::test::WorkflowStatus;
using gosok::test::write_file;

namespace {

bool slurm_up() {
  const char* conf = std::getenv("SLURM_CONF");
  return conf && *conf && run({"scontrol", "ping"}, 10).output.find("UP") != std::string::npos;
}

#define REQUIRE_SLURM()                                                                                   \
  do {                                                                                                    \
    if (!slurm_up()) SKIP("SKIP: no test Slurm (scripts/slurm-local start DIR, then export SLURM_CONF)"); \
  } while (0)

struct Cluster : gosok::test::LedgerFolder {
  std::string grant;
  std::string account;

  explicit Cluster(double gpu_hours = 4) {
    std::random_device rd;
    grant = "W" + std::to_string(rd() % 1000000);
    account = "acct" + grant.substr(1);
    write_file(dir / "g.csv", "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n" + grant +
                                  ",test,Lab,research,local-slurm,fake," + std::to_string(gpu_hours) +
                                  ",2026-01-01,2099-12-31," + account + "\n");
    for (const std::vector<std::string>& args : {std::vector<std::string>{"grants", "import", (dir / "g.csv").string()},
                                                 std::vector<std::string>{"grants", "provision", grant}}) {
      const auto r = gosok(args);
      INFO(r.output);
      REQUIRE(r.exit_code == 0);
    }
  }
  WorkflowStatus status(const std::string& ref) {
    return WorkflowStatus{LedgerFolder::json({"status", ref, "--no-refresh"})["workflows"][0]};
  }
  nlohmann::json balance() { return LedgerFolder::json({"grants", "show", grant})["grant"]; }
  std::vector<std::string> submit(const std::string& file, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"submit", file, "--site", "local-slurm", "--grant", grant};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

std::string sacct_field(const std::string& job, const std::string& field) {
  const auto r = run({"sacct", "-X", "-n", "-P", "-j", job, "--format=" + field});
  return r.output.substr(0, r.output.find('\n'));
}

// What accounting says each job of the workflow cost: ElapsedRaw x allocated GPUs x the
// partition's charge factor, job by job, against the ledger's charge.
void check_charges_against_sacct(const WorkflowStatus& st) {
  for (const auto& j : st.jobs()) {
    INFO(j.dump(2));
    const std::string id = j["slurm_id"];
    const std::string tres = sacct_field(id, "AllocTRES");
    const double elapsed = std::stod(sacct_field(id, "ElapsedRaw"));
    const auto at = tres.find("gres/gpu=");
    const int gpus = at == std::string::npos ? 0 : std::stoi(tres.substr(at + 9));
    CHECK(j["allocated_gpus"] == gpus);
    CHECK(j["elapsed_s"].get<double>() == elapsed);
    CHECK(j["charged_gpu_hours"].get<double>() ==
          Approx(elapsed * gpus * j["charge_factor"].get<double>() / 3600.0).margin(1e-12));
  }
}

// A `sacct` first on PATH that notes each call's arguments and runs the real one.
struct CountingSacct {
  gosok::test::TempDir bin;
  std::string old_path = std::getenv("PATH");
  fs::path log = bin / "sacct.log";
  CountingSacct() {
    const auto real = run({"bash", "-c", "command -v sacct"}).output;
    write_file(bin / "sacct", "#!/bin/bash\necho \"$*\" >> " + log.string() + "\nexec " +
                                  real.substr(0, real.find('\n')) + " \"$@\"\n");
    ::chmod((bin / "sacct").c_str(), 0755);
    ::setenv("PATH", (bin.path().string() + ":" + old_path).c_str(), 1);
  }
  ~CountingSacct() { ::setenv("PATH", old_path.c_str(), 1); }
  std::vector<std::string> calls() const {
    std::vector<std::string> out;
    if (!fs::exists(log)) return out;
    std::istringstream in(read_file(log));
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
};

}  // namespace

TEST_CASE("workflow on Slurm: the docs' example, dry run, submit, gosok killed halfway, resume, charged once",
          "[workflow][slurm]") {
  REQUIRE_SLURM();
  Cluster c;
  const std::string file = (gosok::test::source_dir() / "examples" / "workflows" / "quickstart.toml").string();
  // The same file as on localhost, as it is.
  auto args = c.submit(file);
  args.push_back("--dry-run");
  auto r = c.gosok(args);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output,
             ContainsSubstring("# ==== step forecast: workload weather, 4 members (member = 0 .. 3), one job array"));
  CHECK_THAT(r.output, ContainsSubstring("#SBATCH --array=0-3\n"));
  CHECK_THAT(r.output, ContainsSubstring("'--set-from-array' 'member'"));
  CHECK_THAT(r.output, ContainsSubstring("#SBATCH --dependency=afterok:<forecast>\n"));
  CHECK_THAT(r.output, ContainsSubstring("#SBATCH --signal=B:USR1@15\n"));
  CHECK_THAT(r.output, ContainsSubstring("# total: 0.9833 GPU-hours of grant " + c.grant));

  r = c.gosok(c.submit(file));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("forecast (4 members): submitted as array g1"));
  CHECK_THAT(r.output, ContainsSubstring("summary: submitted as g5"));
  // Watching it, gosok is killed halfway (as a closed terminal would); Slurm runs on.
  r = c.gosok({"status", "quickstart", "--wait", "--timeout", "600"}, 2);
  CHECK(r.exit_code == 124);
  auto st = c.status("quickstart");
  CHECK(st.state() == "running");
  r = c.gosok({"resume", "quickstart", "--wait", "--timeout", "300", "--poll", "5"}, 330);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  st = c.status("quickstart");
  INFO(st.doc.dump(2));
  CHECK(st.state() == "completed");
  CHECK(st.jobs().size() == 6);  // 4 members, summary, md: nothing resubmitted
  // One array: member k is its task k, in its own folder.
  const std::string array = st.member("forecast", 0)["jobs"][0]["slurm_id"];
  const std::string array_id = array.substr(0, array.find('_'));
  for (int k = 0; k < 4; ++k) {
    CHECK(st.member("forecast", k)["jobs"][0]["slurm_id"] == array_id + "_" + std::to_string(k));
    CHECK(fs::exists(fs::path(st.workflow()["output"].get<std::string>()) / "forecast" / "results" / std::to_string(k) /
                     "weather.h5"));
  }
  const double charged = st.charged_once_each();
  check_charges_against_sacct(st);
  CHECK(c.balance()["settled_gpu_hours"].get<double>() == Approx(charged));
  CHECK(c.balance()["queued_gpu_hours"].get<double>() + c.balance()["in_flight_gpu_hours"].get<double>() == 0);
  // Settling again changes nothing.
  CHECK_THAT(c.gosok({"reconcile"}).output, ContainsSubstring("0 job(s) updated"));
}

TEST_CASE("workflow on Slurm: every way a job ends told apart; a retry, and the next step follows it",
          "[workflow][slurm]") {
  REQUIRE_SLURM();
  Cluster c;
  write_file(c.dir / "kinds.sh", R"sh(#!/bin/bash
# member 0 succeeds, 1 fails, 2 ends without its result, 3 runs past its limit, 4 waits to be cancelled
set -u
case $GOSOK_MEMBER in
  0) echo ok > "$GOSOK_RESULTS/out.txt" ;;
  1) exit 3 ;;
  2) exit 0 ;;
  3) sleep 300 ;;
  4) sleep 300 ;;
esac
)sh");
  write_file(c.dir / "flaky.sh", R"sh(#!/bin/bash
# fails on its first try; writes its result and what it saw of the rank environment after
set -eu
echo "$SLURM_JOB_ID" >> "$1/tries"
[ "$(sort -u "$1/tries" | wc -l)" -ge 2 ] || exit 7
sleep 2  # long enough to be charged (sacct counts whole seconds)
echo "$MASTER_ADDR $MASTER_PORT $RANK $LOCAL_RANK $WORLD_SIZE ${NCCL_DEBUG:-unset}" > "$GOSOK_RESULTS/rank.$RANK"
)sh");
  gosok::test::write_local_slurm_site(c.dir / "site.toml", "rank_environment = { NCCL_DEBUG = \"WARN\" }\n");
  write_file(c.dir / "wf.toml", R"toml([workflow]
name = "kinds"

[parameters]
dir = "."

[[step]]
name = "kinds"
command = ["bash", "{{dir}}/kinds.sh"]
members = 5
result = "out.txt"
partition = "short"
time = "00:01:00"

[[step]]
name = "flaky"
command = ["bash", "{{dir}}/flaky.sh", "{{dir}}"]
ntasks = 2
rank-env = true
retries = 1
result = "rank.1"
gpus = 1
time = "00:02:00"

[[step]]
name = "next"
after = ["flaky"]
command = ["true"]
time = "00:01:00"
)toml");
  CountingSacct sacct;
  auto r = c.gosok({"submit", (c.dir / "wf.toml").string(), "--site", (c.dir / "site.toml").string(), "--grant",
                    c.grant, "--set", "dir=" + c.dir.path().string()});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // One poll asks accounting once for the whole workflow, whatever its number of jobs.
  const auto before = sacct.calls().size();
  REQUIRE(c.gosok({"status", "kinds"}).exit_code == 0);
  const auto one_poll = sacct.calls();
  CHECK(one_poll.size() == before + 1);
  CHECK_THAT(one_poll.back(), ContainsSubstring("-j "));
  // Member 4 is cancelled by its user, once it runs.
  WorkflowStatus st;
  for (int i = 0; i < 120; ++i) {
    st = c.status("kinds");
    if (st.member("kinds", 4)["state"] == "running") break;
    REQUIRE(c.gosok({"status", "kinds"}).exit_code == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const std::string four = st.member("kinds", 4)["jobs"][0]["id"];
  const auto cancelled = c.gosok({"cancel", four});
  INFO("cancel " << four << ": " << cancelled.output << " (member 4 " << st.member("kinds", 4).dump() << ")");
  REQUIRE(cancelled.exit_code == 0);
  // Followed to its end with the default polling; member 3 runs into its limit meanwhile.
  const auto t0 = std::chrono::steady_clock::now();
  const auto calls_before = sacct.calls().size();
  r = c.gosok({"status", "kinds", "--wait", "--timeout", "400"}, 420);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(r.output);
  // Gentle (counted before this test's own sacct calls below): polls back off while
  // nothing changes (1 s, doubling, to 30 s), each one sacct for all the workflow's jobs.
  const auto all_calls = sacct.calls();
  const auto calls = all_calls.size() - calls_before;
  std::string listing;
  for (std::size_t i = calls_before; i < all_calls.size(); ++i) listing += all_calls[i] + "\n";
  INFO(calls << " sacct calls in " << waited << " s:\n" << listing);
  CHECK(waited > 40);
  CHECK(calls < waited / 4);
  for (std::size_t i = calls_before; i < all_calls.size(); ++i)
    CHECK_THAT(all_calls[i], StartsWith("-X -D --parsable2 -j "));

  CHECK(r.exit_code == 1);  // failed: members of `kinds` failed for good
  st = c.status("kinds");
  INFO(st.doc.dump(2));
  CHECK(st.state() == "failed");
  const std::map<int, std::string> outcome = {
      {0, "succeeded"}, {1, "failed"}, {2, "no-result"}, {3, "timed-out"}, {4, "cancelled"}};
  for (const auto& [k, want] : outcome) {
    const auto& m = st.member("kinds", k);
    INFO("member " << k);
    REQUIRE(m["jobs"].size() == 1);
    CHECK(m["jobs"][0]["outcome"] == want);
  }
  CHECK(st.member("kinds", 3)["jobs"][0]["scheduler_state"] == "TIMEOUT");
  CHECK(st.member("kinds", 1)["jobs"][0]["exit_code"] == 3);
  // The retry of flaky, charged as a job of its own, and `next` ran after it (gosok pointed
  // its dependency at the retry: the first try's failure would never have let it start).
  const auto& flaky = st.member("flaky", -1)["jobs"];
  REQUIRE(flaky.size() == 2);
  CHECK(flaky[0]["outcome"] == "failed");
  CHECK(flaky[0]["exit_code"] == 7);
  CHECK(flaky[1]["attempt"] == 2);
  CHECK(flaky[1]["outcome"] == "succeeded");
  CHECK(flaky[1]["charged_gpu_hours"].get<double>() > 0);
  CHECK(st.member("next", -1)["jobs"][0]["outcome"] == "succeeded");
  CHECK(run({"sort", "-u", (c.dir / "tries").string()}).output ==
        flaky[0]["slurm_id"].get<std::string>() + "\n" + flaky[1]["slurm_id"].get<std::string>() + "\n");
  const fs::path flaky_results = fs::path(st.workflow()["output"].get<std::string>()) / "flaky" / "results";
  for (int rank = 0; rank < 2; ++rank) {
    const auto line = read_file(flaky_results / ("rank." + std::to_string(rank)));
    INFO(line);
    const std::string job = flaky[1]["slurm_id"];
    const std::string host = run({"hostname", "-s"}).output;
    CHECK(line == host.substr(0, host.find('\n')) + " " + std::to_string(29500 + std::stoll(job) % 1000) + " " +
                      std::to_string(rank) + " " + std::to_string(rank) + " 2 WARN\n");
  }
  st.charged_once_each();
  check_charges_against_sacct(st);
}

#ifdef GOSOK_TEST_HOOKS  // run.step_pause exists in builds with GOSOK_ENABLE_TEST_HOOKS only
TEST_CASE(
    "workflow on Slurm: a run longer than its partition's limit finishes through continuations, "
    "through a slurmdbd briefly down",
    "[workflow][slurm][continue]") {
  REQUIRE_SLURM();
  Cluster c;
  // 180 steps of at least 0.5 s: 90 s of wall time on a partition of 1 minute, whose jobs
  // are warned (SIGUSR1) 15 to 45 s after they start. Two members, an array each time. One
  // job is warned while the site's setup lines run, before its run has started (the setup
  // line sends the batch shell the warning itself, once): that job too is continued.
  const std::string site = gosok::test::write_local_slurm_site(
      c.dir / "site.toml",
      "setup = [\"mkdir " + (c.dir / "warned-in-setup").string() + " 2>/dev/null && kill -USR1 $$ || true\"]\n");
  const std::string input =
      "set = { case = \"thermal\", nx = 40, nz = 20, end_time = 300, run = { step_pause = 0.5 } }";
  write_file(c.dir / "wf.toml", R"toml([workflow]
name = "long"

[[step]]
name = "long"
workload = "weather"
members = 2
)toml" + input + R"toml(
partition = "short"
gpus = 1
time = "00:06:00"

[[step]]
name = "summary"
workload = "ensemble-stats"
after = ["long"]
set = { members_dir = "{{long.results}}", members = 2, image = "" }
partition = "short"
time = "00:01:00"
)toml");
  auto r = c.gosok({"submit", (c.dir / "wf.toml").string(), "--site", site, "--grant", c.grant, "--dry-run"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("time 00:06:00 is over partition short's limit (00:01:00)"));
  CHECK_THAT(r.output, ContainsSubstring("#SBATCH --time=00:01:00\n"));
  CHECK_THAT(r.output, ContainsSubstring("set -euo pipefail\ntrap 'export GOSOK_WALLTIME_WARNING=1' USR1\nmkdir "));
  r = c.gosok({"submit", (c.dir / "wf.toml").string(), "--site", site, "--grant", c.grant});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);

  // Followed in the background; meanwhile slurmdbd goes away for a while and comes back.
  auto follow = std::async(std::launch::async, [&] {
    return c.gosok({"status", "long", "--wait", "--timeout", "500", "--poll", "5"}, 520);
  });
  const fs::path base = fs::path(std::getenv("SLURM_CONF")).parent_path().parent_path();
  std::this_thread::sleep_for(std::chrono::seconds(20));
  const std::string pid = read_file(base / "run" / "slurmdbd.pid");
  REQUIRE(run({"kill", pid.substr(0, pid.find('\n'))}).exit_code == 0);
  std::this_thread::sleep_for(std::chrono::seconds(15));
  auto restart = run({"slurmdbd"});
  INFO(restart.output);
  REQUIRE(restart.exit_code == 0);
  r = follow.get();
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("accounting cannot be asked"));
  const auto st = c.status("long");
  INFO(st.doc.dump(2));
  CHECK(st.state() == "completed");
  for (int k = 0; k < 2; ++k) {
    const auto& jobs = st.member("long", k)["jobs"];
    INFO("member " << k);
    REQUIRE(jobs.size() >= 2);
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      CHECK(jobs[i]["segment"] == static_cast<int>(i) + 1);
      CHECK(jobs[i]["attempt"] == 1);
      CHECK(jobs[i]["outcome"] == (i + 1 == jobs.size() ? "succeeded" : "checkpointed"));
      if (i + 1 < jobs.size()) CHECK(jobs[i]["exit_code"] == 75);
      CHECK(jobs[i]["elapsed_s"].get<double>() <= 90);  // each within its limit (and Slurm's grace)
    }
  }
  CHECK(st.member("summary", -1)["jobs"][0]["outcome"] == "succeeded");
  st.charged_once_each();
  check_charges_against_sacct(st);

  // The job warned in its setup lines stopped after its first step, and said why.
  const fs::path out = st.workflow()["output"].get<std::string>();
  CHECK(fs::exists(c.dir / "warned-in-setup"));
  const auto told = run({"grep", "-rl", "the walltime warning came before the run started", out.string()});
  INFO(told.output);
  CHECK(std::count(told.output.begin(), told.output.end(), '\n') == 1);

  // The same answer as one uninterrupted run of the same input.
  for (int k = 0; k < 2; ++k) {
    const fs::path ref = c.dir / ("ref" + std::to_string(k));
    auto argv = gosok::test::mpiexec(1);
    for (const std::string& a :
         {gosok::test::gosok_binary(), std::string("run"), std::string("weather"), std::string("--set"),
          std::string("case=thermal"), std::string("--set"), std::string("nx=40"), std::string("--set"),
          std::string("nz=20"), std::string("--set"), std::string("end_time=300"), std::string("--set"),
          "member=" + std::to_string(k), std::string("--results"), ref.string()}) {
      argv.push_back(a);
    }
    REQUIRE(run(argv, 120).exit_code == 0);
    const fs::path mine = out / "long" / "results" / std::to_string(k) / "weather.h5";
    for (const char* dataset : {"/t", "/theta", "/uwnd", "/wwnd", "/dens"}) {
      const auto diff = run({"h5diff", "--delta=0", mine.string(), (ref / "weather.h5").string(), dataset});
      INFO(dataset << ": " << diff.output);
      CHECK(diff.exit_code == 0);
    }
    // Its provenance: one segment per job that ran it (the first step of each).
    const auto segments = run({"h5dump", "-a", "/segment_first_step", mine.string()});
    INFO(segments.output);
    std::smatch count;
    REQUIRE(std::regex_search(segments.output, count, std::regex(R"(SIMPLE \{ \( (\d+) \))")));
    CHECK(std::stoul(count[1]) == st.member("long", k)["jobs"].size());
  }
}
#endif
