// Workflows on the localhost site (local mpirun, no Slurm), through the real gosok binary:
// the docs' example as it is, steps of one's own code (their environment, the rank
// environment, quoting), retries, a member that fails for good and is resumed, gosok killed
// halfway and resumed, a grant exhausted halfway (held), and the refusals of a bad file or
// a workflow the grant cannot cover before anything is booked. Each job that ran is
// charged once.
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "gosok_cli.hpp"
#include "subprocess.hpp"
#include "workflow_status.hpp"

namespace fs = std::filesystem;
using Catch::Approx;
using Catch::Matchers::ContainsSubstring;
using gosok::test::read_file;
using gosok::test::WorkflowStatus;
using gosok::test::write_file;

namespace {

struct Env : gosok::test::LedgerFolder {
  Env() { import("DEMO-LOCAL,gosok-demo,Gosok Demo Lab,research,localhost,local,2,2026-01-01,2099-12-31,demo\n"); }
  void import(const std::string& rows) {
    write_file(dir / "grants.csv", "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n" + rows);
    const auto r = gosok({"grants", "import", (dir / "grants.csv").string()});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  WorkflowStatus status(const std::string& ref) {
    return WorkflowStatus{json({"status", ref, "--no-refresh"})["workflows"][0]};
  }
  nlohmann::json grant(const std::string& id = "DEMO-LOCAL") { return json({"grants", "show", id})["grant"]; }
  /// gosok without --ledger (validate reads files only).
  gosok::test::Result plain(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {gosok::test::gosok_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return gosok::test::run(argv, 60, dir.path());
  }
  std::string example(const std::string& name) {
    return (gosok::test::source_dir() / "examples" / "workflows" / name).string();
  }
};

// A command step's script: checks the variables gosok gives it, fails as the test asks
// (member 1 on its first try; member 2 until the file `fixed` exists), writes its result.
const char* kCheckScript = R"sh(#!/bin/bash
set -eu
dir=$1
: "${GOSOK_RESULTS:?}" "${GOSOK_MEMBER:?}" "${GOSOK_JOB_ID:?}"
[ -d "$GOSOK_RESULTS" ] || { echo "no results folder $GOSOK_RESULTS" >&2; exit 4; }
case $GOSOK_RESULTS in */members/results/"$GOSOK_MEMBER") ;; *) echo "not member $GOSOK_MEMBER's: $GOSOK_RESULTS" >&2; exit 4 ;; esac
echo "$GOSOK_JOB_ID" >> "$dir/tries.$GOSOK_MEMBER"
tries=$(wc -l < "$dir/tries.$GOSOK_MEMBER")
if [ "$GOSOK_MEMBER" = 1 ] && [ "$tries" = 1 ]; then exit 3; fi
if [ "$GOSOK_MEMBER" = 2 ] && [ ! -e "$dir/fixed" ]; then exit 5; fi
printf '%s' "$2" > "$GOSOK_RESULTS/arg.txt"
echo "member $GOSOK_MEMBER, try $tries" > "$GOSOK_RESULTS/done.txt"
)sh";

// Each rank of a distributed step writes what PyTorch's env:// initialisation would read.
const char* kRanksScript = R"sh(#!/bin/bash
set -eu
echo "$MASTER_ADDR $MASTER_PORT $RANK $LOCAL_RANK $WORLD_SIZE ${NCCL_DEBUG:-unset}" > "$GOSOK_RESULTS/rank.$RANK"
)sh";

// Shell syntax in a user's string: it must reach the command as these bytes, running nothing.
const std::string kTricky = "$(touch PWNED); `touch PWNED2` 'single' \"double\" & | ; *";

std::string own_code_workflow() {
  return R"toml([workflow]
name = "own-code"
grant = "DEMO-LOCAL"

[parameters]
dir = "/nonexistent"
tricky = "plain"

[[step]]
name = "members"
command = ["bash", "{{dir}}/check.sh", "{{dir}}", "{{tricky}}"]
members = 3
retries = 1
result = "done.txt"
gpus = 1
time = "00:05:00"

[[step]]
name = "ranks"
command = ["bash", "{{dir}}/ranks.sh"]
ntasks = 2
rank-env = true
result = "rank.1"
time = "00:05:00"

[[step]]
name = "after-all"
after = ["members", "ranks"]
command = ["bash", "-c", "ls \"$1\" > \"$GOSOK_RESULTS/seen.txt\"", "ls", "{{members.results}}"]
result = "seen.txt"
time = "00:05:00"
)toml";
}

}  // namespace

TEST_CASE("workflow on localhost: the docs' example runs as it is, each member in its own folder", "[workflow]") {
  Env e;
  const std::string file = e.example("quickstart.toml");
  auto r = e.plain({"validate", file});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // A smaller grid and a shorter time through its parameters; the file is unchanged.
  const std::vector<std::string> small = {"--set", "nx=40", "--set", "nz=20", "--set", "end_time=100"};
  auto dry = small;
  dry.insert(dry.begin(), {"submit", file, "--dry-run"});
  r = e.gosok(dry);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("# ==== step forecast: workload weather, 4 members (member = 0 .. 3)"));
  CHECK_THAT(r.output, ContainsSubstring("# after: forecast (started by gosok once they have succeeded)"));
  CHECK_THAT(r.output, ContainsSubstring("'--set' 'member=0'"));
  CHECK_THAT(r.output, ContainsSubstring(
                           "# GPU-hours: 4 members x 1 GPU(s) x (00:10:00 + overrun 10 s) x charge factor 1 = 0.6778"));
  CHECK_THAT(r.output, ContainsSubstring("# total: 0.9333 GPU-hours of grant DEMO-LOCAL"));
  CHECK(e.json({"status", "--all", "--no-refresh"})["jobs"].empty());

  auto submit = small;
  submit.insert(submit.begin(), {"submit", file, "--job-dir", (e.dir / "qs").string()});
  r = e.gosok(submit, 600);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // Its end is said once, as the status's first line.
  const auto said = r.output.find("workflow w1 quickstart: completed");
  CHECK(said != std::string::npos);
  CHECK(r.output.find("workflow w1 quickstart: completed", said + 1) == std::string::npos);
  const auto st = e.status("quickstart");
  INFO(st.doc.dump(2));
  CHECK(st.state() == "completed");
  CHECK(st.workflow()["output"] == (e.dir / "qs").string());
  for (int k = 0; k < 4; ++k) {
    const auto& m = st.member("forecast", k);
    CHECK(m["state"] == "succeeded");
    REQUIRE(m["jobs"].size() == 1);
    const fs::path results = e.dir / "qs" / "forecast" / "results" / std::to_string(k);
    CHECK(m["jobs"][0]["results"] == results.string());
    CHECK(fs::exists(results / "weather.h5"));
    CHECK_THAT(read_file(results / "input.resolved.toml"),
               ContainsSubstring("member = " + std::to_string(k) + "  # --set\n"));
  }
  const auto summary = nlohmann::json::parse(read_file(e.dir / "qs" / "summary" / "results" / "diagnostics.json"));
  CHECK(summary["members"] == 4);
  CHECK(summary["records"].back()["mean_max"].get<double>() > 0.5);  // the bubble: +3 K at the start, still warm
  CHECK(fs::exists(e.dir / "qs" / "summary" / "results" / "ensemble.png"));
  CHECK(fs::exists(e.dir / "qs" / "md" / "results" / "trajectory.h5"));
  CHECK(st.jobs().size() == 6);
  const double charged = st.charged_once_each();
  CHECK(charged > 0);
  CHECK(e.grant()["settled_gpu_hours"].get<double>() == Approx(charged));
  // The file as submitted stays beside the results.
  CHECK(read_file(e.dir / "qs" / "workflow.toml") == read_file(file));
}

TEST_CASE("workflow on localhost: own code, its environment, retries, a failure for good and resume",
          "[workflow][command]") {
  Env e;
  write_file(e.dir / "check.sh", kCheckScript);
  write_file(e.dir / "ranks.sh", kRanksScript);
  // The site's variables for distributed runs (NCCL's, on a real machine).
  auto site = read_file(gosok::test::source_dir() / "site_configs" / "localhost.toml");
  site.replace(site.find("[partitions."), 0, "[site.rank_environment]\nNCCL_DEBUG = \"WARN\"\n\n");
  write_file(e.dir / "site.toml", site);
  write_file(e.dir / "wf.toml", own_code_workflow());
  const std::vector<std::string> submit = {
      "submit", (e.dir / "wf.toml").string(),   "--site", (e.dir / "site.toml").string(),
      "--set",  "dir=" + e.dir.path().string(), "--set",  "tricky=" + kTricky};
  auto r = e.gosok(submit, 600);
  INFO(r.output);
  // Member 2 fails on both of its tries: the workflow has failed, and the step after it never ran.
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, ContainsSubstring("members[1]: retried after failed (try 2 of 2)"));
  auto st = e.status("own-code");
  {
    INFO(st.doc.dump(2));
    CHECK(st.state() == "failed");
    CHECK_THAT(st.workflow()["note"].get<std::string>(), ContainsSubstring("members[2] failed"));
    CHECK(st.member("members", 0)["state"] == "succeeded");
    CHECK(st.member("members", 0)["jobs"].size() == 1);
    const auto& retried = st.member("members", 1)["jobs"];
    REQUIRE(retried.size() == 2);
    CHECK(retried[0]["outcome"] == "failed");
    CHECK(retried[0]["exit_code"] == 3);
    CHECK(retried[1]["attempt"] == 2);
    CHECK(retried[1]["outcome"] == "succeeded");
    CHECK(retried[1]["charged_gpu_hours"].get<double>() > 0);  // a retry is charged again
    const auto& failed = st.member("members", 2);
    CHECK(failed["state"] == "failed");
    REQUIRE(failed["jobs"].size() == 2);
    CHECK(failed["jobs"][1]["exit_code"] == 5);
    CHECK(st.member("after-all", -1)["jobs"].empty());
    CHECK(st.member("ranks", -1)["state"] == "succeeded");
  }
  // Resume: only member 2 runs again; what succeeded is never resubmitted.
  write_file(e.dir / "fixed", "");
  r = e.gosok({"resume", "own-code"}, 600);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("members[2]: resubmitted by resume after failed"));
  st = e.status("own-code");
  INFO(st.doc.dump(2));
  CHECK(st.state() == "completed");
  CHECK(st.member("members", 0)["jobs"].size() == 1);
  CHECK(st.member("members", 1)["jobs"].size() == 2);
  CHECK(st.member("members", 2)["jobs"].size() == 3);
  CHECK(st.member("ranks", -1)["jobs"].size() == 1);
  CHECK(st.member("after-all", -1)["jobs"].size() == 1);
  CHECK(read_file(e.dir / "tries.0") == "g1\n");  // ran once, never resubmitted
  const double charged = st.charged_once_each();
  CHECK(e.grant()["settled_gpu_hours"].get<double>() == Approx(charged));

  const fs::path out = st.workflow()["output"].get<std::string>();
  for (int k = 0; k < 3; ++k) CHECK(read_file(out / "members" / "results" / std::to_string(k) / "arg.txt") == kTricky);
  CHECK_FALSE(fs::exists(e.dir / "PWNED"));
  CHECK_FALSE(fs::exists(e.dir / "PWNED2"));
  for (const auto& job_dir : fs::recursive_directory_iterator(out)) CHECK(job_dir.path().filename() != "PWNED");
  CHECK(read_file(out / "after-all" / "results" / "seen.txt") == "0\n1\n2\n");
  // The rank environment, one file per rank, and the site's variable.
  for (int rank = 0; rank < 2; ++rank) {
    const std::string line = read_file(out / "ranks" / "results" / ("rank." + std::to_string(rank)));
    INFO(line);
    CHECK_THAT(line, ContainsSubstring("127.0.0.1 "));
    CHECK_THAT(line, ContainsSubstring(" " + std::to_string(rank) + " " + std::to_string(rank) + " 2 WARN\n"));
  }
}

#ifdef GOSOK_TEST_HOOKS  // run.step_pause exists in builds with GOSOK_ENABLE_TEST_HOOKS only
TEST_CASE("workflow on localhost: gosok killed halfway, resumed: each job ran and was charged once",
          "[workflow][resume]") {
  Env e;
  write_file(e.dir / "wf.toml", R"toml([workflow]
name = "halfway"
grant = "DEMO-LOCAL"

[[step]]
name = "forecast"
workload = "weather"
members = 4
set = { case = "thermal", nx = 40, nz = 20, end_time = 1000, run = { max_steps = 30, step_pause = 0.1 } }
gpus = 1
time = "00:05:00"

[[step]]
name = "summary"
workload = "ensemble-stats"
after = ["forecast"]
set = { members_dir = "{{forecast.results}}", members = "{{forecast.members}}", image = "" }
time = "00:05:00"
)toml");
  // Killed (SIGKILL, as a closed terminal or an out-of-memory killer would) while the first
  // members run; their local runs go on without it.
  auto r = e.gosok({"submit", (e.dir / "wf.toml").string()}, 4);
  INFO(r.output);
  REQUIRE(r.exit_code == 124);
  auto st = e.status("halfway");
  {
    INFO(st.doc.dump(2));
    CHECK(st.state() == "running");
    CHECK(st.member("summary", -1)["jobs"].empty());
  }
  r = e.gosok({"resume", "halfway"}, 600);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  st = e.status("halfway");
  INFO(st.doc.dump(2));
  CHECK(st.state() == "completed");
  for (int k = 0; k < 4; ++k) {
    CHECK(st.member("forecast", k)["jobs"].size() == 1);
    CHECK(st.member("forecast", k)["jobs"][0]["outcome"] == "succeeded");
  }
  CHECK(st.member("summary", -1)["jobs"].size() == 1);
  CHECK(e.json({"status", "--all", "--no-refresh"})["jobs"].size() == 5);
  const double charged = st.charged_once_each();
  CHECK(e.grant()["settled_gpu_hours"].get<double>() == Approx(charged));
  // Each member ran 30 steps of at least 0.1 s: charged at least 3 s of its GPU.
  CHECK(charged >= 4 * 3 / 3600.0);
}
#endif

TEST_CASE("workflow on localhost: a grant exhausted halfway holds the workflow until it can go on",
          "[workflow][held]") {
  Env e;
  e.import("SMALL,demo,Lab,research,localhost,local,0.3,2026-01-01,2099-12-31,demo\n");
  write_file(e.dir / "wf.toml", R"toml([workflow]
name = "tight"
grant = "SMALL"

[[step]]
name = "first"
command = ["sleep", "2"]
gpus = 1
time = "00:02:00"

[[step]]
name = "second"
after = ["first"]
command = ["true"]
gpus = 1
time = "00:06:00"
)toml");
  auto r = e.gosok({"submit", (e.dir / "wf.toml").string(), "--no-wait"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // Another job of the grant takes most of what is left while the first step runs (each
  // reservation with the site's 10 s overrun: 0.0361 for the first step, 0.1028 for the
  // second, 0.2028 for this one, of 0.3).
  r = e.gosok({"submit", "heat", "--grant", "SMALL", "--hold", "-G", "1", "-t", "00:12:00", "--job-dir",
               (e.dir / "other").string(), "--parsable"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string other = r.output.substr(0, r.output.find_first_of(" \n"));
  WorkflowStatus st;
  for (int i = 0; i < 60; ++i) {
    REQUIRE(e.gosok({"status", "tight"}).exit_code == 0);  // brings it forward
    st = e.status("tight");
    if (st.state() == "held") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  INFO(st.doc.dump(2));
  REQUIRE(st.state() == "held");
  CHECK_THAT(st.workflow()["note"].get<std::string>(), ContainsSubstring("grant exhausted: step second"));
  CHECK(st.member("first", -1)["state"] == "succeeded");
  CHECK(st.member("second", -1)["jobs"].empty());
  r = e.gosok({"status", "tight"});
  CHECK_THAT(r.output, ContainsSubstring("workflow w1 tight: held (grant exhausted: step second"));
  // Once the grant can cover it again, the workflow goes on.
  REQUIRE(e.gosok({"cancel", other}).exit_code == 0);
  r = e.gosok({"status", "tight", "--wait", "--timeout", "120"});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  st = e.status("tight");
  CHECK(st.state() == "completed");
  CHECK(st.member("second", -1)["jobs"].size() == 1);
}

TEST_CASE("workflow: a bad file is refused before anything is booked, naming file, step and key",
          "[workflow][validate]") {
  Env e;
  const std::string good = R"toml([workflow]
name = "checks"
grant = "DEMO-LOCAL"

[parameters]
nx = 40

[[step]]
name = "forecast"
workload = "weather"
members = 2
set = { case = "thermal", nx = "{{nx}}", nz = 20, end_time = 10 }

[[step]]
name = "summary"
workload = "ensemble-stats"
after = ["forecast"]
set = { members_dir = "{{forecast.results}}", members = "{{forecast.members}}" }
)toml";
  write_file(e.dir / "good.toml", good);
  REQUIRE(e.plain({"validate", (e.dir / "good.toml").string()}).exit_code == 0);
  const std::vector<std::pair<std::pair<std::string, std::string>, std::string>> cases = {
      {{"after = [\"forecast\"]", "after = [\"forcast\"]"},
       "step 'summary': key 'after' names 'forcast', which is no step"},
      {{"name = \"forecast\"\nworkload", "name = \"forecast\"\nafter = [\"summary\"]\nworkload"}, "make a cycle"},
      {{"workload = \"weather\"", "workload = \"wether\""}, "unknown workload 'wether'"},
      {{"nz = 20", "nzz = 20"}, "step 'forecast' (weather): --set nzz=20: unknown key 'nzz'"},
      {{"nz = 20", "nz = 2"}, "key 'nz' = 2 is too small"},
      {{"case = \"thermal\"", "case = \"thermall\""}, "thermall"},
      {{"\"{{nx}}\"", "\"{{nxx}}\""}, "step 'forecast': key 'set.nx' = \"{{nxx}}\": no parameter 'nxx'"},
      {{"members = 2", "members = -2"}, "key 'step[0].members' = -2 is too small"},
      {{"members = 2", "members = 2\ngpus = 9"}, "step 'forecast'"},
  };
  for (const auto& [edit, message] : cases) {
    std::string text = good;
    text.replace(text.find(edit.first), edit.first.size(), edit.second);
    write_file(e.dir / "bad.toml", text);
    for (const std::string command : {"validate", "submit"}) {
      const auto r = command == "validate" ? e.plain({command, (e.dir / "bad.toml").string()})
                                           : e.gosok({command, (e.dir / "bad.toml").string()});
      INFO(command << ": " << r.output);
      CHECK(r.exit_code == 2);
      CHECK_THAT(r.output, ContainsSubstring("bad.toml"));
      CHECK_THAT(r.output, ContainsSubstring(message));
    }
  }
  // Nothing was booked or recorded.
  CHECK(e.json({"status", "--all", "--no-refresh"})["jobs"].empty());
  CHECK(e.json({"status", "--workflows"})["workflows"].empty());
  CHECK(e.grant()["in_flight_gpu_hours"].get<double>() + e.grant()["queued_gpu_hours"].get<double>() == 0);
}

TEST_CASE("workflow: one the grant cannot cover is refused as a whole, before any job", "[workflow][grant]") {
  Env e;
  e.import("TINY,demo,Lab,research,localhost,local,0.5,2026-01-01,2099-12-31,demo\n");
  write_file(e.dir / "wf.toml", R"toml([workflow]
name = "too-big"
grant = "TINY"

[[step]]
name = "a"
command = ["true"]
gpus = 1
time = "00:20:00"

[[step]]
name = "b"
after = ["a"]
command = ["true"]
members = 2
gpus = 1
time = "00:10:00"
)toml");
  for (const std::string mode : {"--dry-run", "--no-wait"}) {
    const auto r = e.gosok({"submit", (e.dir / "wf.toml").string(), mode});
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, ContainsSubstring("grant TINY cannot cover workflow too-big: its steps need 0.6750 "
                                           "GPU-hours in all (a 0.3361, b 0.3389), but 0.5000 of 0.5000 remain; "
                                           "nothing was submitted"));
  }
  CHECK(e.json({"status", "--all", "--no-refresh"})["jobs"].empty());
  CHECK(e.json({"status", "--workflows"})["workflows"].empty());
}
