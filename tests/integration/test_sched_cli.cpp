// The scheduler commands through the real gosok binary, with no Slurm: grants, the local
// and dry-run backends, refusals, quoting, 20 concurrent submits against a stub sbatch, and
// a crash between sbatch and the ledger commit repaired by reconcile.
#include <sys/stat.h>

#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "gosok_cli.hpp"
#include "subprocess.hpp"

namespace fs = std::filesystem;
using Catch::Approx;
using Catch::Matchers::ContainsSubstring;
using gosok::test::run;

namespace {

struct Env : gosok::test::LedgerFolder {
  void import(const std::string& csv_rows) {
    gosok::test::write_file(dir / "grants.csv",
                            "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n" + csv_rows);
    const auto r = gosok({"grants", "import", (dir / "grants.csv").string()});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
};

// Puts a fake sbatch first on PATH: it prints a unique job id, as `sbatch --parsable` does.
// `site` is local-slurm.toml told to submit with sbatch (not libslurm), so the fake is used.
struct StubSbatch {
  gosok::test::TempDir bin;
  std::string old_path = std::getenv("PATH");
  std::string site = (bin / "local-slurm.toml").string();
  StubSbatch() {
    gosok::test::write_file(bin / "sbatch", "#!/bin/bash\necho $((100000 + $$))\n");
    ::chmod((bin / "sbatch").c_str(), 0755);
    ::setenv("PATH", (bin.path().string() + ":" + old_path).c_str(), 1);
    gosok::test::write_local_slurm_site(site, "submit_with = \"sbatch\"\n");
  }
  ~StubSbatch() { ::setenv("PATH", old_path.c_str(), 1); }
};

}  // namespace

TEST_CASE("grants import is idempotent; a changed grant keeps its history", "[sched][cli]") {
  Env env;
  env.import("DEMO-1,demo,Lab,research,localhost,local,2,2026-01-01,2099-12-31,demo\n");
  auto r = env.gosok({"grants", "import", (env.dir / "grants.csv").string()});
  CHECK_THAT(r.output, ContainsSubstring("DEMO-1: unchanged"));
  gosok::test::write_file(env.dir / "grants.json",
                          R"([{"id":"DEMO-1","project":"demo","institution":"Lab","sector":"research",
                               "site":"localhost","gpu_type":"local","gpu_hours":3,"start":"2026-01-01",
                               "end":"2099-12-31","account":"demo"}])");
  r = env.gosok({"grants", "import", (env.dir / "grants.json").string()});
  CHECK_THAT(r.output, ContainsSubstring("DEMO-1: updated"));
  const auto show = env.json({"grants", "show", "DEMO-1"});
  CHECK(show["granted_gpu_hours"] == 3.0);
  REQUIRE(show["history"].size() == 2);
  CHECK(show["history"][1]["old"]["gpu_hours"] == 2.0);
  const auto list = env.json({"grants", "list"});
  REQUIRE(list.size() == 1);
  CHECK(list[0]["remaining_gpu_hours"] == 3.0);
  gosok::test::write_file(env.dir / "bad.csv", "id,project\nX,y\n");
  r = env.gosok({"grants", "import", (env.dir / "bad.csv").string()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("bad.csv:1") && ContainsSubstring("no column 'institution'"));
}

TEST_CASE("local backend: run heat, charge the measured time", "[sched][cli]") {
  Env env;
  env.import("DEMO-1,demo,Lab,research,localhost,local,1,2026-01-01,2099-12-31,demo\n");
  const std::string out = (env.dir / "run1").string();
  auto r = env.gosok({"submit", "heat", "--grant", "DEMO-1", "--site", "localhost", "-n", "2", "-t", "5", "--wait",
                      "--output-dir", out});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(fs::exists(fs::path(out) / "results" / "diagnostics.json"));
  CHECK(fs::exists(fs::path(out) / "job.sbatch"));
  const auto jobs = env.json({"status", "--all"});
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0]["state"] == "settled");
  CHECK(jobs[0]["scheduler_state"] == "COMPLETED");
  CHECK(jobs[0]["charged_gpu_hours"].get<double>() > 0);
  CHECK(jobs[0]["charged_gpu_hours"].get<double>() < jobs[0]["reserved_gpu_hours"].get<double>());
  const auto show = env.json({"grants", "show", "DEMO-1"});
  CHECK(show["remaining_gpu_hours"].get<double>() == Approx(1.0 - jobs[0]["charged_gpu_hours"].get<double>()));

  // Background run, then status --wait by gosok id.
  r = env.gosok({"submit", "heat", "--grant", "DEMO-1", "-t", "5", "--output-dir", (env.dir / "run2").string()});
  REQUIRE(r.exit_code == 0);
  r = env.gosok({"status", "--wait", "--timeout", "60", "g2"});
  INFO(r.output);
  CHECK_THAT(r.output, ContainsSubstring("settled"));
}

TEST_CASE("local backend: cancel stops the run and charges what it used", "[sched][cli]") {
  Env env;
  env.import("DEMO-1,demo,Lab,research,localhost,local,1,2026-01-01,2099-12-31,demo\n");
  // end_time 100 s of simulated time: far longer than this test waits.
  auto r = env.gosok({"submit", "heat", "--grant", "DEMO-1", "-n", "2", "-t", "5", "--output-dir",
                      (env.dir / "long").string(), "--set", "end_time=100"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  for (int i = 0; i < 100 && env.json({"status", "g1", "--no-refresh"})[0]["state"] != "running"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  r = env.gosok({"cancel", "g1"});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  const auto jobs = env.json({"status", "--wait", "--timeout", "60", "g1"});
  CHECK(jobs[0]["state"] == "settled");
  CHECK(jobs[0]["charged_gpu_hours"].get<double>() > 0);
  CHECK(jobs[0]["elapsed_s"].get<int>() < 60);
}

TEST_CASE("dry run prints the script and the charge and books nothing", "[sched][cli]") {
  Env env;
  env.import("HPC-7,climate,KIAPS,national_project,local-slurm,fake,10,2026-01-01,2099-12-31,climate7\n");
  const auto before = gosok::test::read_file(env.ledger);
  auto r = env.gosok({"submit", "heat", "--site", "local-slurm", "--grant", "HPC-7", "-n", "2", "-t", "01:00:00",
                      "--dry-run", "--output-dir", (env.dir / "dry").string()});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("#SBATCH --gres=gpu:2") && ContainsSubstring("#SBATCH --account=climate7") &&
                           ContainsSubstring("would reserve 2.0000 GPU-hours"));
  CHECK(env.json({"status", "--all", "--no-refresh"}).empty());
  CHECK(!fs::exists(env.dir / "dry"));
}

TEST_CASE("refusals: balance, dates, GPUs, walltime, unsafe names", "[sched][cli]") {
  Env env;
  env.import(
      "HPC-7,climate,KIAPS,national_project,local-slurm,fake,1,2026-01-01,2099-12-31,climate7\n"
      "OLD,climate,KIAPS,research,local-slurm,fake,100,2020-01-01,2020-12-31,climate7\n"
      "NEW,climate,KIAPS,research,local-slurm,fake,100,2098-01-01,2098-12-31,climate7\n");
  auto refused = [&](std::vector<std::string> extra, const std::string& why) {
    std::vector<std::string> args = {"submit",      "heat",         "--site",
                                     "local-slurm", "--output-dir", (env.dir / "x").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = env.gosok(args);
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, ContainsSubstring(why));
  };
  refused({"--grant", "HPC-7", "--gpus-per-node", "4", "-t", "01:00:00"}, "cannot cover");
  refused({"--grant", "OLD"}, "has expired");
  refused({"--grant", "NEW"}, "has not started");
  refused({"--grant", "HPC-7", "--gpus-per-node", "5"}, "has no nodes with 5 GPUs");
  refused({"--grant", "HPC-7", "-p", "debug", "-t", "45"}, "over the limit of partition 'debug'");
  refused({"--grant", "HPC-7", "--name", "x; rm -rf ~"}, "job name 'x; rm -rf ~' is not allowed");
  refused({"--grant", "NOPE"}, "no grant 'NOPE'");
  CHECK(env.json({"status", "--all", "--no-refresh"}).empty());  // nothing booked
}

TEST_CASE("a --set value with shell syntax runs nothing", "[sched][cli][quote]") {
  Env env;
  env.import("DEMO-1,demo,Lab,research,localhost,local,1,2026-01-01,2099-12-31,demo\n");
  const fs::path marker = env.dir / "pwned";
  const auto r =
      env.gosok({"submit", "heat", "--grant", "DEMO-1", "-t", "5", "--wait", "--output-dir", (env.dir / "q").string(),
                 "--set", "run.label=$(touch " + marker.string() + "); touch " + marker.string()});
  INFO(r.output);
  CHECK(!fs::exists(marker));
  const auto script = gosok::test::read_file(env.dir / "q" / "job.sbatch");
  CHECK_THAT(script, ContainsSubstring("'run.label=$(touch "));
}

TEST_CASE("gosok validate knows site files and names the bad key", "[sched][cli]") {
  Env env;
  auto r = run({gosok::test::gosok_binary(), "validate",
                (gosok::test::source_dir() / "site_configs/local-slurm.toml").string()});
  CHECK(r.exit_code == 0);
  gosok::test::write_file(env.dir / "bad-site.toml",
                          "[site]\nname = \"b\"\nscheduler = \"lsf\"\n[partitions.p]\nnodes=1\ncpus_per_node=1\n"
                          "gpus_per_node=0\n");
  r = run({gosok::test::gosok_binary(), "validate", (env.dir / "bad-site.toml").string()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("bad-site.toml:3") && ContainsSubstring("site.scheduler") &&
                           ContainsSubstring("slurm, local"));
}

TEST_CASE("20 concurrent submits never over-reserve (stub sbatch)", "[sched][cli][concurrency]") {
  Env env;
  // 1 GPU-hour: room for exactly 6 jobs of 1 GPU x 10 min.
  env.import("HPC-7,climate,KIAPS,national_project,local-slurm,fake,1,2026-01-01,2099-12-31,climate7\n");
  StubSbatch stub;
  std::vector<std::future<gosok::test::Result>> runs;
  for (int i = 0; i < 20; ++i) {
    runs.push_back(std::async(std::launch::async, [&env, &stub, i] {
      return env.gosok({"submit", "heat", "--site", stub.site, "--grant", "HPC-7", "--gpus-per-node", "1", "-t", "10",
                        "--output-dir", (env.dir / ("c" + std::to_string(i))).string()});
    }));
  }
  const auto outcome = gosok::test::tally(runs, "cannot cover");
  CHECK(outcome.ok == 6);
  CHECK(outcome.refused == 14);
  const auto show = env.json({"grants", "show", "HPC-7"});
  CHECK(show["queued_gpu_hours"].get<double>() == Approx(1.0));
  CHECK(show["remaining_gpu_hours"].get<double>() >= -1e-9);
}

TEST_CASE("crash between sbatch and commit: reconcile finds the job by its tag", "[sched][cli][crash]") {
  Env env;
  env.import("HPC-7,climate,KIAPS,national_project,local-slurm,fake,1,2026-01-01,2099-12-31,climate7\n");
  StubSbatch stub;
  ::setenv("GOSOK_TEST_CRASH_AFTER_SBATCH", "1", 1);
  auto r = env.gosok({"submit", "heat", "--site", stub.site, "--grant", "HPC-7", "-t", "10", "--output-dir",
                      (env.dir / "crash").string()});
  ::unsetenv("GOSOK_TEST_CRASH_AFTER_SBATCH");
  CHECK(r.exit_code == 70);
  auto jobs = env.json({"status", "--all", "--no-refresh"});
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0]["state"] == "submitting");
  CHECK(jobs[0]["slurm_id"] == "");
  const std::string tag = jobs[0]["tag"];
  // What sacct would say about it: found by the tag in its comment, 5 minutes on 1 GPU.
  gosok::test::write_file(env.dir / "sacct.txt",
                          "JobID|State|ElapsedRaw|AllocTRES|Comment|End\n"
                          "555|COMPLETED|300|billing=1,cpu=1,gres/gpu=1,node=1|" +
                              tag + "|2026-11-28T20:00:00\n555.batch|COMPLETED|300|cpu=1,gres/gpu=1||\n");
  r = env.gosok({"reconcile", "--from-sacct", (env.dir / "sacct.txt").string()});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("1 found by tag"));
  jobs = env.json({"status", "--all", "--no-refresh"});
  CHECK(jobs[0]["slurm_id"] == "555");
  CHECK(jobs[0]["state"] == "settled");
  CHECK(jobs[0]["charged_gpu_hours"].get<double>() == Approx(300.0 / 3600));
  // Settling twice changes nothing.
  r = env.gosok({"reconcile", "--from-sacct", (env.dir / "sacct.txt").string()});
  CHECK_THAT(r.output, ContainsSubstring("0 job(s) updated"));
}
