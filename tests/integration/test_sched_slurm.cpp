// Against the real single-node Slurm of scripts/slurm-local (SLURM_CONF set by the test
// command): a real MPI job charged from sacct, refusals, Slurm's own GPU-minutes limit,
// 20 concurrent submitters on one grant, a crash between sbatch and the ledger commit, job
// arrays settled task by task, hold and release, dependencies, --parsable and --wait.
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
#include "slurm_cluster.hpp"
#include "subprocess.hpp"

namespace fs = std::filesystem;
using Catch::Approx;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;
using gosok::test::run;

using gosok::test::Cluster;
using gosok::test::job_fields;
using gosok::test::sacct_field;
using gosok::test::sacct_field_when_recorded;
using gosok::test::ScopedEnv;

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
  const auto sub = c.jobs(c.submit_args("mpi", {"-n", "2", "--gpus-per-node", "2", "-t", "5"}))[0];
  const std::string slurm_id = sub["slurm_id"];
  REQUIRE(!slurm_id.empty());
  CHECK(sub["reserved_gpu_hours"].get<double>() == Approx(2 * (300 + 40) / 3600.0));  // 5 min + the site's overrun
  const auto jobs = c.jobs({"status", "--wait", "--timeout", "180", "g" + std::to_string(1)});
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
  CHECK(job["start_time"].is_string());
  CHECK(job["end_time"].is_string());
  const auto show = c.json({"grants", "show", c.grant})["grant"];
  CHECK(show["settled_gpu_hours"].get<double>() == Approx(elapsed * 2 / 3600.0));
  CHECK(show["queued_gpu_hours"] == 0.0);
  // Settling twice changes nothing.
  const auto again = c.gosok({"reconcile"});
  CHECK_THAT(again.output, ContainsSubstring("0 job(s) updated"));
  // status by Slurm id finds the same job.
  CHECK(c.jobs({"status", slurm_id, "--no-refresh"})[0]["id"] == "g1");
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
  c.import(1);  // 5 jobs of 1 GPU x (10 minutes + the site's 40 s overrun)
  std::vector<std::future<gosok::test::Result>> runs;
  for (int i = 0; i < 20; ++i) {
    runs.push_back(std::async(std::launch::async, [&c, i] {
      return c.gosok(c.submit_args("c" + std::to_string(i), {"--gpus-per-node", "1", "-t", "10", "--hold"}));
    }));
  }
  const auto outcome = gosok::test::tally(runs, "cannot cover");
  CHECK(outcome.ok == 5);
  CHECK(outcome.refused == 15);
  const auto q = run({"squeue", "-h", "-A", c.account, "-o", "%i"});
  std::vector<std::string> ids;
  for (std::size_t p = 0, n; p < q.output.size(); p = n + 1) {
    n = q.output.find('\n', p);
    if (n == std::string::npos) n = q.output.size();
    if (n > p) ids.push_back(q.output.substr(p, n - p));
  }
  CHECK(ids.size() == 5);
  auto show = c.json({"grants", "show", c.grant})["grant"];
  CHECK(show["queued_gpu_hours"].get<double>() == Approx(5 * 640 / 3600.0));
  // Cancel by Slurm id (first) and by gosok id (the rest); held jobs never ran: no charge.
  REQUIRE(!ids.empty());
  CHECK(c.gosok({"cancel", ids[0]}).exit_code == 0);
  std::vector<std::string> cancel = {"cancel"};
  for (const auto& j : c.jobs({"status", "--no-refresh"})) {
    if (j["slurm_id"] != ids[0]) cancel.push_back(j["id"]);
  }
  CHECK(c.gosok(cancel).exit_code == 0);
  c.json({"status", "--wait", "--timeout", "120"});
  show = c.json({"grants", "show", c.grant})["grant"];
  CHECK(show["settled_gpu_hours"] == 0.0);
  CHECK(show["remaining_gpu_hours"].get<double>() == Approx(1.0));
}

#ifdef GOSOK_TEST_HOOKS  // fault injection exists in builds with GOSOK_ENABLE_TEST_HOOKS only
TEST_CASE("slurm: a crash between sbatch and the commit is repaired by reconcile", "[sched][slurm][crash]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(1);
  ::setenv("GOSOK_TEST_CRASH_AFTER_SBATCH", "1", 1);
  auto r = c.gosok(c.submit_args("crash", {"--gpus-per-node", "1", "-t", "5"}));
  ::unsetenv("GOSOK_TEST_CRASH_AFTER_SBATCH");
  CHECK(r.exit_code == 70);
  auto jobs = c.jobs({"status", "--all", "--no-refresh"});
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0]["state"] == "submitting");
  CHECK(jobs[0]["slurm_id"].is_null());
  // The job did reach Slurm, carrying its tag.
  const auto q = run({"squeue", "-h", "-A", c.account, "-o", "%i %k"});
  INFO(q.output);
  const auto sacct = run({"sacct", "-X", "-n", "-P", "-A", c.account, "--format=JobID,Comment"});
  INFO(sacct.output);
  r = c.gosok({"reconcile"});
  INFO(r.output);
  CHECK_THAT(r.output, ContainsSubstring("1 found by tag"));
  jobs = c.jobs({"status", "--wait", "--timeout", "120", "g1"});
  CHECK(jobs[0]["slurm_id"].is_string());
  CHECK(jobs[0]["state"] == "settled");
  CHECK(jobs[0]["scheduler_state"] == "COMPLETED");
  CHECK(jobs[0]["allocated_gpus"] == 1);
}
#endif

// sbatch lets SBATCH_PARTITION, SBATCH_TIMELIMIT, ... override a script's directives; a
// gosok job must stay the one gosok planned and reserved.
TEST_CASE("slurm: SBATCH_* variables in the environment do not change a gosok job", "[sched][slurm]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(10);
  ScopedEnv partition("SBATCH_PARTITION", "debug");
  ScopedEnv time("SBATCH_TIMELIMIT", "1");
  const std::string id = c.jobs(c.submit_args("env", {"-t", "3", "--hold"}))[0]["slurm_id"];
  const auto fields = job_fields(id);
  CHECK(fields.count("Partition=gpu") == 1);
  CHECK(fields.count("TimeLimit=00:03:00") == 1);
  // What plain sbatch does with them (so the checks above can fail):
  const auto raw = run({"sbatch", "--parsable", (c.dir / "env" / "job.sbatch").string()}, 60, c.dir.path());
  REQUIRE(raw.exit_code == 0);
  CHECK(job_fields(raw.output.substr(0, raw.output.find_first_of(";\n"))).count("Partition=debug") == 1);
  run({"scancel", "-A", c.account});
}

// The grant's account was never created in Slurm (no `grants provision`): slurmctld refuses
// the job, and gosok releases what it had reserved.
TEST_CASE("slurm: a job Slurm refuses releases its reservation", "[sched][slurm]") {
  REQUIRE_SLURM();
  Cluster c;
  gosok::test::write_file(c.dir / "g.csv",
                          "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n" + c.grant +
                              ",test,Lab,research,local-slurm,fake,1,2026-01-01,2099-12-31," + c.account + "\n");
  REQUIRE(c.gosok({"grants", "import", (c.dir / "g.csv").string()}).exit_code == 0);
  for (const std::string kind : {"job", "array"}) {
    auto args = c.submit_args("refused-" + kind, {"-t", "10", "--gpus-per-node", "1"});
    if (kind == "array") args.insert(args.end(), {"--array", "0-2"});
    const auto r = c.gosok(args);
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, ContainsSubstring("sbatch refused the job") && ContainsSubstring("ccount"));
  }
  const auto jobs = c.jobs({"status", "--all", "--no-refresh"});
  REQUIRE(jobs.size() == 4);
  for (const auto& j : jobs) CHECK(j["state"] == "released");
  CHECK(c.json({"grants", "show", c.grant})["grant"]["remaining_gpu_hours"].get<double>() == Approx(1.0));
}

// An array is one sbatch; every task is reserved, runs the workload with its own index as
// an input key and its own results folder, and is settled from its own sacct row (<id>_<task>).
TEST_CASE("slurm: a job array reserves every task and settles each from its own sacct row", "[sched][slurm][array]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(1);  // 4 tasks x 1 GPU x (5 min + 40 s overrun) = 0.3778 GPU-hour
  auto args = c.submit_args("ens", {"--gpus-per-node", "1", "-t", "5", "--array", "0-3", "--set-from-array", "member"});
  args[1] = "weather";
  for (const char* s : {"nx=40", "nz=20", "end_time=5", "seed=7"}) args.insert(args.end(), {"--set", s});
  const auto sub = c.json(args);
  REQUIRE(sub["jobs"].size() == 4);
  CHECK(sub["reserved_gpu_hours"].get<double>() == Approx(4 * 340 / 3600.0));
  const std::string first_task = sub["jobs"][0]["slurm_id"];
  const std::string array_job = first_task.substr(0, first_task.find('_'));
  CHECK(sub["jobs"][3]["slurm_id"] == array_job + "_3");
  CHECK(sub["jobs"][3]["id"] == "g1_3");
  CHECK(c.json({"grants", "show", c.grant})["grant"]["queued_gpu_hours"].get<double>() == Approx(4 * 340 / 3600.0));
  const auto jobs = c.jobs({"status", "--wait", "--timeout", "240", "g1"});
  REQUIRE(jobs.size() == 4);
  double charged = 0;
  for (int t = 0; t < 4; ++t) {
    const auto& j = jobs[t];
    INFO(j.dump(2));
    const std::string id = array_job + "_" + std::to_string(t);
    CHECK(j["slurm_id"] == id);
    CHECK(j["state"] == "settled");
    CHECK(j["scheduler_state"] == "COMPLETED");
    const double elapsed = std::stod(sacct_field_when_recorded(id, "ElapsedRaw"));
    CHECK(j["elapsed_s"].get<double>() == elapsed);
    CHECK(j["allocated_gpus"] == 1);
    CHECK(j["charged_gpu_hours"].get<double>() == Approx(elapsed / 3600.0));
    charged += j["charged_gpu_hours"].get<double>();
    const auto results = c.dir / "ens" / "results" / std::to_string(t);
    CHECK(j["results"] == results.string());
    CHECK_THAT(gosok::test::read_file(results / "input.resolved.toml"),
               ContainsSubstring("member = " + std::to_string(t) + "  #"));
    CHECK(fs::exists(c.dir / "ens" / ("slurm-" + array_job + "_" + std::to_string(t) + ".out")));
  }
  // The ensemble's members differ (the index reached each run), the control run is member 0.
  CHECK(gosok::test::read_file(c.dir / "ens" / "results" / "1" / "diagnostics.json") !=
        gosok::test::read_file(c.dir / "ens" / "results" / "2" / "diagnostics.json"));
  const auto show = c.json({"grants", "show", c.grant})["grant"];
  CHECK(show["settled_gpu_hours"].get<double>() == Approx(charged));
  CHECK(show["queued_gpu_hours"] == 0.0);
  CHECK(show["settled_jobs"] == 4);
  // One task by either id; the whole array by the Slurm array job's id.
  CHECK(c.jobs({"status", array_job + "_2", "--no-refresh"})[0]["id"] == "g1_2");
  CHECK(c.jobs({"status", "g1_2", "--no-refresh"})[0]["slurm_id"] == array_job + "_2");
  CHECK(c.jobs({"status", array_job, "--no-refresh"}).size() == 4);
}

TEST_CASE("slurm: hold, release and cancel, of a job and of a whole array", "[sched][slurm][array]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(1);
  // --parsable prints Slurm's job id alone, as sbatch does.
  auto r = c.gosok(c.submit_args("held", {"--gpus-per-node", "1", "-t", "3", "--hold", "--parsable"}));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string held = r.output.substr(0, r.output.find('\n'));
  CHECK(held.find_first_not_of("0123456789") == std::string::npos);
  CHECK(job_fields(held).count("Reason=JobHeldUser") == 1);
  r = c.gosok({"release", "g1"});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("released g1 (Slurm job " + held + ")"));
  CHECK(c.jobs({"status", "--wait", "--timeout", "120", "g1"})[0]["scheduler_state"] == "COMPLETED");
  // A held array, cancelled as one: no task ran, none is charged.
  const auto sub = c.json(c.submit_args("held-array", {"--gpus-per-node", "1", "-t", "3", "--hold", "--array", "0-4"}));
  CHECK(sub["jobs"].size() == 5);
  r = c.gosok({"cancel", "g2"});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("cancelled g2 (5 tasks)"));
  const auto jobs = c.jobs({"status", "--wait", "--timeout", "120", "g2"});
  REQUIRE(jobs.size() == 5);
  for (const auto& j : jobs) {
    CHECK(j["state"] == "settled");
    CHECK(j["scheduler_state"] == "CANCELLED");
    CHECK(j["charged_gpu_hours"] == 0.0);
  }
}

// --dependency with gosok's ids reaches Slurm as Slurm's ids; --wait (-W) returns when the
// job has ended and been settled, with sbatch's exit code convention.
TEST_CASE("slurm: --dependency with gosok ids, and --wait", "[sched][slurm]") {
  REQUIRE_SLURM();
  Cluster c;
  c.import(1);
  const auto first = c.jobs(c.submit_args("first", {"--gpus-per-node", "1", "-t", "3", "--hold"}))[0];
  const auto then = c.jobs(c.submit_args("then", {"--gpus-per-node", "1", "-t", "3", "-d", "afterok:g1"}))[0];
  const auto fields = job_fields(then["slurm_id"]);
  INFO(then.dump());
  CHECK(fields.count("Dependency=afterok:" + first["slurm_id"].get<std::string>() + "(unfulfilled)") == 1);
  CHECK(fields.count("Reason=Dependency") == 1);
  CHECK(c.gosok({"release", "g1"}).exit_code == 0);
  // -W: waits for this one, which runs once g1 has completed.
  auto r = c.gosok(c.submit_args("waited", {"--gpus-per-node", "1", "-t", "3", "-d", "afterok:g2", "-W"}), 300);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("g3 COMPLETED"));
  CHECK(c.jobs({"status", "g2", "--no-refresh"})[0]["state"] == "settled");
  // A job whose run fails: -W says so with exit code 1.
  r = c.gosok(c.submit_args("fails", {"-t", "3", "-W", "--set", "run.restart=/nonexistent.h5"}), 300);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, ContainsSubstring("g4 FAILED"));
}
