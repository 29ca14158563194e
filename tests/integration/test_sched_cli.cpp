// The scheduler commands through the real gosok binary, with no Slurm: grants, the local
// and dry-run backends, refusals (the workload's input included, before anything is
// reserved), sbatch's option names, quoting, --json, validate, 20 concurrent submits
// against a stub sbatch, and a crash between sbatch and the ledger commit repaired by
// reconcile.
#include <sys/stat.h>

#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
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

struct Env : gosok::test::LedgerFolder {
  void import(const std::string& csv_rows) {
    gosok::test::write_file(dir / "grants.csv",
                            "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n" + csv_rows);
    const auto r = gosok({"grants", "import", (dir / "grants.csv").string()});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  /// The ledger's jobs (finished ones too), as gosok status --json lists them.
  nlohmann::json jobs() { return json({"status", "--all", "--no-refresh"})["jobs"]; }
};

// Puts fake Slurm commands first on PATH: sbatch prints a unique job id, as
// `sbatch --parsable` does, and leaves the script it got in its log; sacctmgr only notes
// that it was called (nothing here may call it).
struct StubSlurm {
  gosok::test::TempDir bin;
  std::string old_path = std::getenv("PATH");
  fs::path sbatch_log = bin / "sbatch.log";
  fs::path sacctmgr_log = bin / "sacctmgr.log";
  StubSlurm() {
    gosok::test::write_file(bin / "sbatch",
                            "#!/bin/bash\necho \"$@\" >> " + sbatch_log.string() + "\necho $((100000 + $$))\n");
    gosok::test::write_file(bin / "sacctmgr", "#!/bin/bash\necho \"$@\" >> " + sacctmgr_log.string() + "\n");
    ::chmod((bin / "sbatch").c_str(), 0755);
    ::chmod((bin / "sacctmgr").c_str(), 0755);
    ::setenv("PATH", (bin.path().string() + ":" + old_path).c_str(), 1);
  }
  ~StubSlurm() { ::setenv("PATH", old_path.c_str(), 1); }
  int sbatch_calls() const {
    if (!fs::exists(sbatch_log)) return 0;
    std::istringstream in(gosok::test::read_file(sbatch_log));
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }
};

const char* kLocalGrant = "DEMO-1,demo,Lab,research,localhost,local,1,2026-01-01,2099-12-31,demo\n";
const char* kSlurmGrant = "HPC-7,climate,KIAPS,national_project,local-slurm,fake,1,2026-01-01,2099-12-31,climate7\n";

bool wait_until(const std::function<bool()>& condition, double seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

}  // namespace

TEST_CASE("grants import is idempotent; a changed grant keeps its history, shown as lines", "[sched][cli]") {
  Env env;
  env.import(kLocalGrant);
  auto r = env.gosok({"grants", "import", (env.dir / "grants.csv").string()});
  CHECK_THAT(r.output, ContainsSubstring("DEMO-1: unchanged"));
  gosok::test::write_file(env.dir / "grants.json",
                          R"([{"id":"DEMO-1","project":"demo","institution":"Lab","sector":"research",
                               "site":"localhost","gpu_type":"local","gpu_hours":3,"start":"2026-01-01",
                               "end":"2099-12-31","account":"demo"}])");
  r = env.gosok({"grants", "import", (env.dir / "grants.json").string()});
  CHECK_THAT(r.output, ContainsSubstring("DEMO-1: updated"));
  const auto show = env.json({"grants", "show", "DEMO-1"});
  CHECK(show["grant"]["granted_gpu_hours"] == 3.0);
  REQUIRE(show["history"].size() == 2);
  CHECK(show["history"][1]["old"]["gpu_hours"] == 1.0);
  CHECK(show["history"][0]["old"].is_null());
  r = env.gosok({"grants", "show", "DEMO-1"});
  INFO(r.output);
  CHECK_THAT(r.output, ContainsSubstring(" imported from " + (env.dir / "grants.csv").string() +
                                         ": 1 GPU-hours, 2026-01-01 to 2099-12-31, local on site localhost"));
  CHECK_THAT(r.output, ContainsSubstring(" updated from " + (env.dir / "grants.json").string() + ": gpu_hours 1 -> 3"));
  CHECK(r.output.find("{\"") == std::string::npos);  // no raw JSON
  const auto list = env.json({"grants", "list"});
  REQUIRE(list["grants"].size() == 1);
  CHECK(list["grants"][0]["remaining_gpu_hours"] == 3.0);
  gosok::test::write_file(env.dir / "bad.csv", "id,project\nX,y\n");
  r = env.gosok({"grants", "import", (env.dir / "bad.csv").string()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("bad.csv:1") && ContainsSubstring("no column 'institution'"));
}

TEST_CASE("grants import refuses an unknown site, reads a spreadsheet's BOM, warns for an example site",
          "[sched][cli]") {
  Env env;
  gosok::test::write_file(env.dir / "two.csv",
                          "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n" +
                              std::string(kLocalGrant) +
                              "TYPO,demo,Lab,research,locahost,local,1,2026-01-01,2099-12-31,demo\n");
  auto r = env.gosok({"grants", "import", (env.dir / "two.csv").string()});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("two.csv: grant TYPO is for site 'locahost', which gosok does not know") &&
                           ContainsSubstring("no site 'locahost'"));
  CHECK(!fs::exists(env.ledger));  // nothing written, not even the good grant
  // Excel's "CSV UTF-8" starts the file with a byte order mark.
  gosok::test::write_file(env.dir / "excel.csv",
                          "\xEF\xBB\xBFid,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\r\n" +
                              std::string("DEMO-1,demo,Lab,research,localhost,local,1,2026-01-01,2099-12-31,demo\r\n"));
  r = env.gosok({"grants", "import", (env.dir / "excel.csv").string()});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("grant DEMO-1: added"));
  gosok::test::write_file(env.dir / "example.csv",
                          "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n"
                          "NP-1,typhoon,KIAPS,national_project,example-national-h200,H200,100,2026-01-01,2099-12-31,"
                          "np1\n");
  r = env.gosok({"grants", "import", (env.dir / "example.csv").string()});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("site 'example-national-h200'") && ContainsSubstring("is an example"));
  r = env.gosok({"submit", "heat", "--grant", "NP-1", "--site", "example-national-h200", "--dry-run"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("is an example (example = true)"));
  // Once per command, however often the command looks at the site (a workflow's submit and
  // each poll of its status do).
  StubSlurm stub;
  gosok::test::write_file(env.dir / "wf.toml",
                          "[workflow]\nname = \"wf\"\ngrant = \"NP-1\"\n"
                          "site = \"example-national-h200\"\n\n[[step]]\nname = \"one\"\n"
                          "workload = \"weather\"\nmembers = 2\ngpus = 1\ntime = \"00:10:00\"\n");
  const auto warnings = [](const std::string& out) {
    int n = 0;
    for (auto at = out.find("is an example (example = true)"); at != std::string::npos;
         at = out.find("is an example (example = true)", at + 1))
      ++n;
    return n;
  };
  r = env.gosok({"submit", (env.dir / "wf.toml").string()});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(stub.sbatch_calls() == 1);  // the ensemble is one array
  CHECK(warnings(r.output) == 1);
  r = env.gosok({"status", "w1"});  // no sacct here: accounting cannot be asked, the workflow stands
  INFO(r.output);
  CHECK(warnings(r.output) == 1);
  CHECK_THAT(r.output, ContainsSubstring("workflow w1 wf: running"));
}

TEST_CASE("grants subcommands: each its own options and --help; provision of a local grant does nothing",
          "[sched][cli]") {
  Env env;
  env.import(kLocalGrant);
  StubSlurm stub;
  for (const char* sub : {"import", "list", "show", "provision"}) {
    const auto r = env.gosok({"grants", sub, "--help"});
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, ContainsSubstring(std::string("usage: gosok grants ") + sub));
    CHECK((r.output.find("--check") != std::string::npos) == (std::string(sub) == "provision"));
  }
  auto r = env.gosok({"grants", "list", "--check"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("--check"));
  r = env.gosok({"grants", "list", "DEMO-1"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("unexpected argument 'DEMO-1'"));
  r = env.gosok({"grants", "provision", "DEMO-1"});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("there is nothing to provision"));
  CHECK(env.gosok({"grants", "provision", "DEMO-1", "--check"}).exit_code == 0);
  CHECK(!fs::exists(stub.sacctmgr_log));  // sacctmgr was never called
}

TEST_CASE("grants list: columns as wide as their contents", "[sched][cli]") {
  Env env;
  env.import(std::string(kLocalGrant) +
             "NATIONAL-PROJECT-2026-000123,typhoon-ensemble-forecasting,KIAPS,national_project,local-slurm,fake,"
             "123456.5,2026-01-01,2099-12-31,np123\n");
  const auto r = env.gosok({"grants", "list"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  std::istringstream lines(r.output);
  std::string header, first, second;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  // Every column starts where its header does, however long a cell is.
  for (const char* column : {"PROJECT", "SITE", "GPU ", "ENDS"}) {
    const auto at = header.find(column);
    REQUIRE(at != std::string::npos);
    CHECK(first[at - 1] == ' ');
    CHECK(first[at] != ' ');
    CHECK(second[at] != ' ');
  }
  // Numbers align right, under the end of their header.
  const auto granted_end = header.find("GRANTED") + 7;
  CHECK(first.substr(granted_end - 6, 6) == "1.0000");
  CHECK(second.substr(granted_end - 11, 11) == "123456.5000");
}

TEST_CASE("local backend: run heat, charge the measured time, show the times", "[sched][cli]") {
  Env env;
  env.import(kLocalGrant);
  const std::string out = (env.dir / "run1").string();
  auto r = env.gosok({"submit", "heat", "--grant", "DEMO-1", "--site", "localhost", "-n", "2", "-G", "1", "-t", "5",
                      "--wait", "--job-dir", out});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(fs::exists(fs::path(out) / "results" / "diagnostics.json"));
  CHECK(fs::exists(fs::path(out) / "job.sbatch"));
  const auto jobs = env.json({"status", "--all"})["jobs"];
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0]["state"] == "settled");
  CHECK(jobs[0]["scheduler_state"] == "COMPLETED");
  CHECK(jobs[0]["slurm_id"].is_null());
  CHECK(jobs[0]["charged_gpu_hours"].get<double>() > 0);
  CHECK(jobs[0]["charged_gpu_hours"].get<double>() < jobs[0]["reserved_gpu_hours"].get<double>());
  CHECK(jobs[0]["start_time"].is_string());
  CHECK(jobs[0]["end_time"].is_string());
  CHECK(jobs[0]["elapsed_s"].get<int>() >= 1);
  CHECK(jobs[0]["results"] == out + "/results");
  const auto show = env.json({"grants", "show", "DEMO-1"});
  CHECK(show["grant"]["remaining_gpu_hours"].get<double>() == Approx(1.0 - jobs[0]["charged_gpu_hours"].get<double>()));
  r = env.gosok({"status", "--all"});
  CHECK_THAT(r.output, ContainsSubstring("SUBMIT") && ContainsSubstring("START") && ContainsSubstring("ELAPSED"));

  // Background run, then status --wait by gosok id.
  r = env.gosok({"submit", "heat", "--grant", "DEMO-1", "-t", "5", "--job-dir", (env.dir / "run2").string()});
  REQUIRE(r.exit_code == 0);
  r = env.gosok({"status", "--wait", "--timeout", "60", "g2"});
  INFO(r.output);
  CHECK_THAT(r.output, ContainsSubstring("settled"));
}

// Sets an environment variable for the scope of a test (the runs it starts inherit it).
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old) {
      ::setenv(name.c_str(), old->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
};

TEST_CASE("local backend: the run's GPU energy is settled beside its GPU-hours", "[sched][cli][energy]") {
  Env env;
  env.import(std::string(kLocalGrant) + "DEMO-2,demo,Lab,research,localhost,local,1,2026-01-01,2099-12-31,demo\n");
  {
    // NVML is the fake of tests/support/fake_nvml.c: 2 GPUs whose counters advance by 100 J
    // and 200 J per reading; both ranks see both, each GPU counts once: 300 J.
    ScopedEnv nvml("GOSOK_NVML_LIBRARY", GOSOK_TEST_FAKE_NVML);
    const auto r = env.gosok({"submit", "heat", "--grant", "DEMO-1", "-n", "2", "-G", "1", "-t", "5", "--wait",
                              "--job-dir", (env.dir / "measured").string()});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  {
    ScopedEnv nvml("GOSOK_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1");
    const auto r = env.gosok({"submit", "heat", "--grant", "DEMO-2", "-G", "1", "-t", "5", "--wait", "--job-dir",
                              (env.dir / "unmeasured").string()});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  const auto measured = env.json({"status", "g1", "--no-refresh"})["jobs"][0];
  CHECK(measured["state"] == "settled");
  CHECK(measured["energy_joules"] == 300.0);
  CHECK(measured["energy_note"].is_null());
  const auto unmeasured = env.json({"status", "g2", "--no-refresh"})["jobs"][0];
  CHECK(unmeasured["state"] == "settled");
  CHECK(unmeasured["energy_joules"].is_null());
  CHECK_THAT(unmeasured["energy_note"].get<std::string>(), ContainsSubstring("NVML is not available"));
  const auto text = env.gosok({"status", "--all", "--no-refresh"});
  CHECK_THAT(text.output, ContainsSubstring("ENERGY") && ContainsSubstring("8.333e-05 kWh"));
  // kWh per grant and per project (demo holds both grants).
  const auto one = env.json({"grants", "show", "DEMO-1"});
  CHECK(one["grant"]["energy_kwh"].get<double>() == Approx(300.0 / 3.6e6));
  CHECK(one["grant"]["energy_measured_jobs"] == 1);
  const auto two = env.json({"grants", "show", "DEMO-2"});
  CHECK(two["grant"]["energy_kwh"].is_null());  // not measured, not 0
  CHECK(two["grant"]["energy_measured_jobs"] == 0);
  CHECK(two["grant"]["settled_jobs"] == 1);
  CHECK(two["project_energy_kwh"].get<double>() == Approx(300.0 / 3.6e6));
  const auto show = env.gosok({"grants", "show", "DEMO-2"});
  CHECK_THAT(show.output, ContainsSubstring("GPU energy not measured (0 of 1 settled jobs measured; project demo: "
                                            "0.0001 kWh over 2 grants)"));
  CHECK_THAT(env.gosok({"grants", "show", "DEMO-1"}).output,
             ContainsSubstring("GPU energy 0.0001 kWh (1 of 1 settled jobs measured;"));
}

TEST_CASE("local backend: a cancelled run is CANCELLED and charged what it used", "[sched][cli]") {
  Env env;
  env.import(kLocalGrant);
  // end_time 100 s of simulated time: far longer than this test waits.
  auto r = env.gosok({"submit", "heat", "--grant", "DEMO-1", "-n", "2", "-G", "1", "-t", "5", "--job-dir",
                      (env.dir / "long").string(), "--set", "end_time=100"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  REQUIRE(wait_until([&] { return env.json({"status", "g1", "--no-refresh"})["jobs"][0]["state"] == "running"; }, 10));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  r = env.gosok({"cancel", "g1"});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  const auto jobs = env.json({"status", "--wait", "--timeout", "60", "g1"})["jobs"];
  CHECK(jobs[0]["state"] == "settled");
  CHECK(jobs[0]["scheduler_state"] == "CANCELLED");
  CHECK(jobs[0]["charged_gpu_hours"].get<double>() > 0);
  CHECK(jobs[0]["elapsed_s"].get<int>() < 60);
}

TEST_CASE("local backend: --hold holds until gosok release; a held job cancelled costs nothing", "[sched][cli]") {
  Env env;
  env.import(kLocalGrant);
  auto r = env.gosok({"submit", "heat", "--grant", "DEMO-1", "-G", "1", "-t", "5", "--hold", "--job-dir",
                      (env.dir / "held").string()});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("held"));
  REQUIRE(wait_until(
      [&] {
        return env.json({"status", "g1", "--no-refresh"})["jobs"][0]["scheduler_state"] == "PENDING";
      },
      10));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto job = env.json({"status", "g1", "--no-refresh"})["jobs"][0];
  CHECK(job["state"] == "queued");  // still held: nothing ran
  CHECK(job["start_time"].is_null());
  CHECK(!fs::exists(env.dir / "held" / "results"));
  r = env.gosok({"release", "g1"});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  job = env.json({"status", "--wait", "--timeout", "60", "g1"})["jobs"][0];
  CHECK(job["scheduler_state"] == "COMPLETED");
  CHECK(fs::exists(env.dir / "held" / "results" / "diagnostics.json"));
  r = env.gosok({"release", "g1"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("has already finished"));

  r = env.gosok({"submit", "heat", "--grant", "DEMO-1", "-G", "1", "-t", "5", "--hold", "--job-dir",
                 (env.dir / "never").string()});
  REQUIRE(r.exit_code == 0);
  REQUIRE(wait_until(
      [&] {
        return env.json({"status", "g2", "--no-refresh"})["jobs"][0]["scheduler_state"] == "PENDING";
      },
      10));
  CHECK(env.gosok({"cancel", "g2"}).exit_code == 0);
  job = env.json({"status", "--wait", "--timeout", "60", "g2"})["jobs"][0];
  CHECK(job["scheduler_state"] == "CANCELLED");
  CHECK(job["charged_gpu_hours"] == 0.0);
  CHECK(!fs::exists(env.dir / "never" / "results"));
  // Released or cancelled the moment submit returns, before the monitor has even said it
  // is holding: the signal waits for it.
  r = env.gosok({"submit", "heat", "--grant", "DEMO-1", "-G", "1", "-t", "5", "--hold", "--parsable", "--job-dir",
                 (env.dir / "quick").string()});
  REQUIRE(r.exit_code == 0);
  CHECK(r.output == "g3\n");
  CHECK(env.gosok({"release", "g3"}).exit_code == 0);
  CHECK(env.json({"status", "--wait", "--timeout", "60", "g3"})["jobs"][0]["scheduler_state"] == "COMPLETED");
  REQUIRE(env.gosok({"submit", "heat", "--grant", "DEMO-1", "-G", "1", "-t", "5", "--job-dir",
                     (env.dir / "gone").string(), "--set", "end_time=100"})
              .exit_code == 0);
  CHECK(env.gosok({"cancel", "g4"}).exit_code == 0);
  job = env.json({"status", "--wait", "--timeout", "60", "g4"})["jobs"][0];
  CHECK(job["scheduler_state"] == "CANCELLED");
}

TEST_CASE("dry run prints the script and the charge and books nothing", "[sched][cli]") {
  Env env;
  env.import("HPC-7,climate,KIAPS,national_project,local-slurm,fake,10,2026-01-01,2099-12-31,climate7\n");
  const auto before = gosok::test::read_file(env.ledger);
  auto r = env.gosok({"submit", "heat", "--site", "local-slurm", "--grant", "HPC-7", "-n", "2", "--gpus-per-node", "2",
                      "-t", "01:00:00", "--dry-run", "--job-dir", (env.dir / "dry").string()});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("#SBATCH --gpus-per-node=2") &&
                           ContainsSubstring("#SBATCH --account=climate7") &&
                           ContainsSubstring("would reserve 2.0222 GPU-hours") &&  // 2 GPUs x (1 h + 40 s)
                           ContainsSubstring("(2 GPU(s) x (01:00:00 + 40 s overrun) x charge factor 1"));
  CHECK(env.jobs().empty());
  CHECK(!fs::exists(env.dir / "dry"));
}

TEST_CASE("refusals: balance, dates, GPUs, time, unsafe names", "[sched][cli]") {
  Env env;
  env.import(
      "HPC-7,climate,KIAPS,national_project,local-slurm,fake,1,2026-01-01,2099-12-31,climate7\n"
      "OLD,climate,KIAPS,research,local-slurm,fake,100,2020-01-01,2020-12-31,climate7\n"
      "NEW,climate,KIAPS,research,local-slurm,fake,100,2098-01-01,2098-12-31,climate7\n");
  StubSlurm stub;
  auto refused = [&](std::vector<std::string> extra, const std::string& why) {
    std::vector<std::string> args = {"submit", "heat", "--site", "local-slurm", "--job-dir", (env.dir / "x").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = env.gosok(args);
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, ContainsSubstring(why));
  };
  refused({"--grant", "HPC-7", "--gpus-per-node", "4", "-t", "01:00:00"}, "cannot cover");
  refused({"--grant", "HPC-7", "--array", "0-9", "--gpus-per-node", "1", "-t", "10"},
          "its 10 array tasks need 1.7778 GPU-hours");  // 10 x 1 GPU x (10 min + the site's 40 s)
  refused({"--grant", "OLD"}, "has expired");
  refused({"--grant", "NEW"}, "has not started");
  refused({"--grant", "HPC-7", "--gpus-per-node", "5"}, "asks for 5 GPUs on a node");
  refused({"--grant", "HPC-7", "-p", "debug", "-t", "45"}, "over the limit of partition 'debug'");
  refused({"--grant", "HPC-7", "-J", "x; rm -rf ~"}, "job name 'x; rm -rf ~' is not allowed");
  refused({"--grant", "NOPE"}, "no grant 'NOPE'");
  CHECK(env.jobs().empty());  // nothing booked
  CHECK(stub.sbatch_calls() == 0);
  CHECK(!fs::exists(env.dir / "x"));
}

// The workload's own schema and checks, applied by the login-node gosok (no MPI, Kokkos or
// HDF5) before anything is reserved: the job that would fail inside its allocation is
// never queued or charged.
TEST_CASE("a job whose input the workload would refuse is refused before anything is reserved", "[sched][cli]") {
  Env env;
  env.import(kSlurmGrant);
  StubSlurm stub;
  gosok::test::write_file(env.dir / "in.toml", "workload = \"heat\"\nnx = 32\ncfl = 0.9\n");
  gosok::test::write_file(env.dir / "md.toml", "workload = \"md\"\nsteps = 10\n");
  const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
      {{"heat", "--set", "heat.nx=128"}, {"unknown key 'heat.nx'", "allowed keys: ", "nx, ny"}},
      {{"nosuchworkload"}, {"unknown workload 'nosuchworkload'", "known workloads: ensemble-stats, heat, md, weather"}},
      {{"heat", "--set", "nx=3"}, {"--set nx=3: key 'nx' = 3 is too small", ">= 4"}},
      {{"heat", "--set", "nx=32"}, {"heat needs square cells", "nx = 32, ny = 64"}},
      {{"heat", "--input", (env.dir / "in.toml").string()}, {"in.toml:3: key 'cfl' = 0.9 is too large", "0.25"}},
      {{"heat", "--input", (env.dir / "md.toml").string()}, {"workload = \"md\" but the command runs 'heat'"}},
      {{"weather", "--set", "case=tornado"}, {"key 'case'", "one of: collision, density_current"}},
      {{"weather", "--array", "0-3", "--set-from-array", "nx"}, {"key 'nx' = 0 is too small"}},
      {{"weather", "--array", "0-3", "--set-from-array", "case"}, {"key 'case'", "is not an allowed value"}},
  };
  for (const auto& [args, messages] : cases) {
    std::vector<std::string> a = {"submit"};
    a.insert(a.end(), args.begin(), args.end());
    for (const char* more : {"--site", "local-slurm", "--grant", "HPC-7", "-t", "5"}) a.push_back(more);
    const auto r = env.gosok(a);
    INFO(r.output);
    CHECK(r.exit_code == 2);
    for (const auto& m : messages) CHECK_THAT(r.output, ContainsSubstring(m));
  }
  CHECK(env.jobs().empty());
  CHECK(stub.sbatch_calls() == 0);
  // The same input, correct, goes through.
  const auto ok = env.json({"submit", "heat", "--site", "local-slurm", "--grant", "HPC-7", "-t", "5", "--set", "nx=32",
                            "--set", "ny=32", "--job-dir", (env.dir / "ok").string()});
  CHECK(ok["jobs"].size() == 1);
  CHECK(stub.sbatch_calls() == 1);
}

TEST_CASE("sbatch's option names: no prefix guessing, sbatch's meaning, the rest refused by name", "[sched][cli]") {
  Env env;
  env.import(std::string(kLocalGrant) +
             "HPC-7,climate,KIAPS,national_project,local-slurm,fake,10,2026-01-01,"
             "2099-12-31,climate7\n");
  auto dry = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"submit", "heat", "--site", "local-slurm", "--grant", "HPC-7", "--dry-run"};
    a.insert(a.end(), extra.begin(), extra.end());
    return env.gosok(a);
  };
  // --gpus is sbatch's --gpus (GPUs in all), not a prefix of --gpus-per-node.
  auto r = dry({"--gpus=2", "-N", "1"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("#SBATCH --gpus=2\n"));
  CHECK(r.output.find("--gpus-per-node") == std::string::npos);
  // -o/--output is Slurm's output file; gosok's job folder is --job-dir.
  r = dry({"--output=x.out", "--job-dir", (env.dir / "jd").string()});
  CHECK_THAT(r.output, ContainsSubstring("#SBATCH --output=x.out\n"));
  CHECK_THAT(r.output, ContainsSubstring("cd '" + (env.dir / "jd").string() + "'"));
  for (const char* prefix : {"--out", "--job", "--gpus-per", "--ntask", "--part"}) {
    r = dry({prefix, "1"});
    INFO(prefix);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, ContainsSubstring(std::string("unknown option ") + prefix));
  }
  // Slurm's own spelling of a job works unchanged: sbatch -N 1 --ntasks-per-node 4 ...
  r = dry({"-N",
           "1",
           "--ntasks-per-node",
           "4",
           "--gpus-per-node",
           "4",
           "-t",
           "2:00:00",
           "-J",
           "run1",
           "-c",
           "2",
           "--mem",
           "8G",
           "--mail-type",
           "END",
           "--mail-user",
           "me@example.org",
           "-d",
           "afterok:42",
           "--begin",
           "now+1hour",
           "--export",
           "ALL",
           "-e",
           "err.txt"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  for (const char* line :
       {"--nodes=1\n", "--ntasks=4\n", "--ntasks-per-node=4\n", "--gpus-per-node=4\n", "--time=02:00:00\n",
        "--job-name=run1\n", "--cpus-per-task=2\n", "--mem=8G\n", "--mail-type=END\n", "--mail-user=me@example.org\n",
        "--dependency=afterok:42\n", "--export=ALL\n", "--error=err.txt\n", "--begin="}) {
    CHECK_THAT(r.output, ContainsSubstring(std::string("#SBATCH ") + line));
  }
  CHECK_THAT(r.output, ContainsSubstring("would reserve 8.0444 GPU-hours"));  // 4 GPUs x (2 h + 40 s)
  CHECK(dry({"--gpus-per-node", "fake:2"}).exit_code == 0);
  r = dry({"--gpus-per-node", "h200:2"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("GPU type 'h200' is not what partition 'gpu' has (fake)"));
  // sbatch options gosok cannot honour are refused by name, with what to do instead.
  for (const auto& [option, why] : std::vector<std::pair<std::string, std::string>>{
           {"--account=x", "--account is sbatch's, but not one gosok submit takes: the grant gives"},
           {"-A", "-A is sbatch's"},
           {"--gres=gpu:2", "--gres is sbatch's"},
           {"--chdir=/tmp", "--job-dir DIR"},
           {"--signal=USR1@60", "--signal is sbatch's, but not one gosok submit can honour"},
           {"--exclusive=user", "exclusive"},
           {"-N", "-N/--nodes '2-4'"}}) {
    std::vector<std::string> args = {option};
    if (option == "-A") args.push_back("x");
    if (option == "-N") args.push_back("2-4");
    r = dry(args);
    INFO(option);
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, ContainsSubstring(why));
  }
  // What the local site (no batch system) cannot honour is refused, not ignored.
  for (const char* option : {"--array=0-3", "--dependency=afterok:1", "--mem=1G", "--exclusive", "--begin=now+60"}) {
    r = env.gosok({"submit", "heat", "--grant", "DEMO-1", "--site", "localhost", option, "--dry-run"});
    INFO(option);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, ContainsSubstring("cannot be honoured on site localhost"));
  }
  // --parsable: the job id alone.
  StubSlurm stub;
  r = env.gosok({"submit", "heat", "--site", "local-slurm", "--grant", "HPC-7", "--parsable", "--job-dir",
                 (env.dir / "p").string()});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find_first_not_of("0123456789\n") == std::string::npos);
  CHECK(r.output.size() == 7);  // the stub's 1xxxxx and a newline
}

TEST_CASE("--dependency takes gosok ids and hands Slurm the Slurm ids", "[sched][cli]") {
  Env env;
  env.import("HPC-7,climate,KIAPS,national_project,local-slurm,fake,10,2026-01-01,2099-12-31,climate7\n");
  StubSlurm stub;
  const auto first = env.json({"submit", "heat", "--site", "local-slurm", "--grant", "HPC-7", "--array", "0-1",
                               "--job-dir", (env.dir / "a").string()});
  const std::string slurm_a = first["jobs"][0]["slurm_id"].get<std::string>().substr(0, 6);
  const auto second = env.json({"submit", "heat", "--site", "local-slurm", "--grant", "HPC-7", "--job-dir",
                                (env.dir / "b").string(), "-d", "afterok:g1_1,afterany:g1?afternotok:77+5"});
  CHECK_THAT(second["script"].get<std::string>(), ContainsSubstring("#SBATCH --dependency=afterok:" + slurm_a +
                                                                    "_1,afterany:" + slurm_a + "?afternotok:77+5\n"));
  const auto r =
      env.gosok({"submit", "heat", "--site", "local-slurm", "--grant", "HPC-7", "-d", "afterok:g99", "--dry-run"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("no job 'g99'"));
  const auto ref = env.gosok({"status", "g2", "--no-refresh"});
  CHECK(ref.exit_code == 2);
  CHECK_THAT(ref.output, ContainsSubstring("g2 is task 1 of array g1: call it g1_1"));
}

TEST_CASE("a --set value with shell syntax runs nothing", "[sched][cli][quote]") {
  Env env;
  env.import(kLocalGrant);
  const fs::path marker = env.dir / "pwned";
  const auto r =
      env.gosok({"submit", "heat", "--grant", "DEMO-1", "-t", "5", "--wait", "--job-dir", (env.dir / "q").string(),
                 "--set", "run.restart=$(touch " + marker.string() + "); touch " + marker.string()});
  INFO(r.output);
  CHECK(!fs::exists(marker));
  const auto script = gosok::test::read_file(env.dir / "q" / "job.sbatch");
  CHECK_THAT(script, ContainsSubstring("'run.restart=$(touch "));
}

TEST_CASE("every --json output is one versioned object; absent values are null", "[sched][cli][json]") {
  Env env;
  env.import(kLocalGrant);
  std::vector<nlohmann::json> docs = {
      env.json({"grants", "import", (env.dir / "grants.csv").string()}),
      env.json({"grants", "list"}),
      env.json({"grants", "show", "DEMO-1"}),
      env.json({"grants", "provision", "DEMO-1"}),
      env.json({"submit", "heat", "--grant", "DEMO-1", "-t", "5", "--dry-run"}),
      env.json({"submit", "heat", "--grant", "DEMO-1", "-t", "5", "--hold", "--job-dir", (env.dir / "h").string()}),
      env.json({"status", "--all", "--no-refresh"}),
      env.json({"reconcile", "--from-sacct", "/dev/null"}),
  };
  for (const auto& d : docs) {
    INFO(d.dump());
    CHECK(d.is_object());
    CHECK(d["schema_version"] == 1);
  }
  CHECK(docs[4]["dry_run"] == true);
  CHECK(docs[4]["reserved_gpu_hours"].is_number());
  const auto& job = docs[5]["jobs"][0];
  for (const char* key : {"id",
                          "slurm_id",
                          "array_task",
                          "grant",
                          "site",
                          "partition",
                          "backend",
                          "name",
                          "workload",
                          "state",
                          "scheduler_state",
                          "nodes",
                          "gpus",
                          "time_limit",
                          "charge_factor",
                          "reserved_gpu_hours",
                          "charged_gpu_hours",
                          "allocated_gpus",
                          "submit_time",
                          "start_time",
                          "end_time",
                          "elapsed_s",
                          "tag",
                          "job_dir",
                          "results",
                          "note"}) {
    INFO(key);
    CHECK(job.contains(key));
  }
  CHECK(job["slurm_id"].is_null());  // a local job
  CHECK(job["array_task"].is_null());
  CHECK(job["start_time"].is_null());
  CHECK(job["charged_gpu_hours"].is_null());
  CHECK(job["elapsed_s"].is_null());
  CHECK(docs[1]["grants"][0]["runs_out"].is_null());
  env.gosok({"cancel", "g1"});
}

TEST_CASE("gosok validate knows sites, grants exports and job templates, and names the bad key", "[sched][cli]") {
  Env env;
  auto validate = [&](const fs::path& file) { return run({gosok::test::gosok_binary(), "validate", file.string()}); };
  auto r = validate(gosok::test::source_dir() / "site_configs/local-slurm.toml");
  CHECK(r.exit_code == 0);
  gosok::test::write_file(env.dir / "bad-site.toml",
                          "[site]\nname = \"b\"\nscheduler = \"lsf\"\n[partitions.p]\nnodes=1\ncpus_per_node=1\n"
                          "gpus_per_node=0\n");
  r = validate(env.dir / "bad-site.toml");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("bad-site.toml:3") && ContainsSubstring("site.scheduler") &&
                           ContainsSubstring("slurm, local"));
  // Grants exports: by extension, or by content when the name says nothing.
  gosok::test::write_file(env.dir / "grants.csv",
                          "\xEF\xBB\xBFid,project,institution,sector,site,gpu_type,gpu_hours,"
                          "start,end,account\n" +
                              std::string(kLocalGrant));
  r = validate(env.dir / "grants.csv");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("ok (grants export"));
  gosok::test::write_file(env.dir / "export",
                          gosok::test::read_file(gosok::test::source_dir() / "examples/grants/demo.json"));
  r = validate(env.dir / "export");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("ok (grants export"));
  gosok::test::write_file(env.dir / "bad.csv",
                          "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,"
                          "account\nX,p,i,research,localhost,local,-3,2026-01-01,2026-12-31,a\n");
  r = validate(env.dir / "bad.csv");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("bad.csv:2") && ContainsSubstring("key 'gpu_hours' = -3 is too small"));
  CHECK(r.output.find("TOML") == std::string::npos);
  // Job templates.
  r = validate(gosok::test::source_dir() / "job_templates/default.sbatch");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("ok (job template"));
  gosok::test::write_file(env.dir / "mine", "#!/bin/bash\n#SBATCH --job-name={{jobname}}\n{{launch}}\n");
  r = validate(env.dir / "mine");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("mine:2: unknown placeholder '{{jobname}}'") && ContainsSubstring("job_name"));
  gosok::test::write_file(env.dir / "what.txt", "colour = \"blue\"\n");
  r = validate(env.dir / "what.txt");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("cannot tell what kind of file") && ContainsSubstring("grants export"));
}

TEST_CASE("20 concurrent submits never over-reserve (stub sbatch)", "[sched][cli][concurrency]") {
  Env env;
  // 1 GPU-hour: room for exactly 5 jobs of 1 GPU x (10 min + the site's 40 s overrun).
  env.import(kSlurmGrant);
  StubSlurm stub;
  std::vector<std::future<gosok::test::Result>> runs;
  for (int i = 0; i < 20; ++i) {
    runs.push_back(std::async(std::launch::async, [&env, i] {
      return env.gosok({"submit", "heat", "--site", "local-slurm", "--grant", "HPC-7", "--gpus-per-node", "1", "-t",
                        "10", "--job-dir", (env.dir / ("c" + std::to_string(i))).string()});
    }));
  }
  const auto outcome = gosok::test::tally(runs, "cannot cover");
  CHECK(outcome.ok == 5);
  CHECK(outcome.refused == 15);
  CHECK(stub.sbatch_calls() == 5);
  const auto show = env.json({"grants", "show", "HPC-7"});
  CHECK(show["grant"]["queued_gpu_hours"].get<double>() == Approx(5 * 640 / 3600.0));
  CHECK(show["grant"]["remaining_gpu_hours"].get<double>() >= -1e-9);
}

#ifdef GOSOK_TEST_HOOKS  // fault injection exists in builds with GOSOK_ENABLE_TEST_HOOKS only
TEST_CASE("crash between sbatch and commit: reconcile finds the job, or each array task, by its tag",
          "[sched][cli][crash]") {
  Env env;
  env.import("HPC-7,climate,KIAPS,national_project,local-slurm,fake,1,2026-01-01,2099-12-31,climate7\n");
  StubSlurm stub;
  ::setenv("GOSOK_TEST_CRASH_AFTER_SBATCH", "1", 1);
  auto r = env.gosok({"submit", "heat", "--site", "local-slurm", "--grant", "HPC-7", "-G", "1", "-t", "10", "--job-dir",
                      (env.dir / "crash").string()});
  const auto array = env.gosok({"submit", "heat", "--site", "local-slurm", "--grant", "HPC-7", "-G", "1", "-t", "10",
                                "--array", "3,5", "--job-dir", (env.dir / "crash-array").string()});
  ::unsetenv("GOSOK_TEST_CRASH_AFTER_SBATCH");
  CHECK(r.exit_code == 70);
  CHECK(array.exit_code == 70);
  auto jobs = env.jobs();
  REQUIRE(jobs.size() == 3);
  for (const auto& j : jobs) {
    CHECK(j["state"] == "submitting");
    CHECK(j["slurm_id"].is_null());
  }
  const std::string tag = jobs[2]["tag"];   // g1 (newest first: g2_3, g2_5, g1)
  const std::string atag = jobs[0]["tag"];  // the array's, shared by its tasks
  CHECK(jobs[1]["tag"] == atag);
  // What sacct would say: found by the tag in the comment (on a job of this user and the
  // grant's account), and an array task by its index.
  const std::string me = jobs[0]["user"];
  gosok::test::write_file(env.dir / "sacct.txt",
                          "JobID|State|ElapsedRaw|AllocTRES|Comment|Start|End|User|Account\n"
                          "555|COMPLETED|300|billing=1,cpu=1,gres/gpu=1,node=1|" +
                              tag + "|2026-11-28T19:55:00|2026-11-28T20:00:00|" + me +
                              "|climate7\n"
                              "555.batch|COMPLETED|300|cpu=1,gres/gpu=1|||||\n"
                              "556_3|COMPLETED|60|gres/gpu=1|" +
                              atag + "|2026-11-28T19:59:00|2026-11-28T20:00:00|" + me +
                              "|climate7\n556_5|FAILED|120|gres/gpu=1|" + atag +
                              "|2026-11-28T19:58:00|2026-11-28T20:00:00|" + me + "|climate7\n");
  r = env.gosok({"reconcile", "--from-sacct", (env.dir / "sacct.txt").string()});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("3 found by tag"));
  jobs = env.jobs();
  CHECK(jobs[2]["slurm_id"] == "555");
  CHECK(jobs[2]["state"] == "settled");
  CHECK(jobs[2]["charged_gpu_hours"].get<double>() == Approx(300.0 / 3600));
  CHECK(jobs[0]["slurm_id"] == "556_3");
  CHECK(jobs[0]["charged_gpu_hours"].get<double>() == Approx(60.0 / 3600));
  CHECK(jobs[1]["slurm_id"] == "556_5");
  CHECK(jobs[1]["scheduler_state"] == "FAILED");
  // Settling twice changes nothing.
  r = env.gosok({"reconcile", "--from-sacct", (env.dir / "sacct.txt").string()});
  CHECK_THAT(r.output, ContainsSubstring("0 job(s) updated"));
}
#endif
