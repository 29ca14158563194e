// Workflow files without any scheduler: the schema, what ties steps together (names,
// dependencies, parameters), and the errors a user sees, each naming the file, line, step
// and key.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <filesystem>
#include <functional>

#include <gosok/core/error.hpp>
#include <gosok/workflow/engine.hpp>
#include <gosok/workflow/workflow.hpp>

#include "subprocess.hpp"

using Catch::Matchers::ContainsSubstring;
using gosok::InputError;
using namespace gosok::workflow;

namespace {

const std::string kEnsemble = R"toml([workflow]
name = "thermal-ensemble"
grant = "KR-2026-0042"
site = "localhost"

[parameters]
nx = 200
seed = 7

[[step]]
name = "summary"
workload = "ensemble-stats"
after = ["forecast"]
set = { members_dir = "{{forecast.results}}", members = "{{forecast.members}}" }

[[step]]
name = "forecast"
workload = "weather"
members = 4
set = { case = "thermal", nx = "{{nx}}", nz = 100, end_time = 600, seed = "{{seed}}" }
nodes = 1
ntasks-per-node = 2
time = "00:20:00"
retries = 2

[[step]]
name = "train"
command = ["python3", "{{workflow.folder}}/train.py", "--seed", "{{seed}}", "--out", "{{workflow.output}}/model"]
image = "nvcr.io/nvidia/pytorch:24.05-py3"
rank-env = true
env = { OMP_NUM_THREADS = "4" }
gpus-per-node = 1
)toml";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

// kEnsemble with `from` replaced by `to`.
std::string with(const std::string& from, const std::string& to) {
  std::string text = kEnsemble;
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

Workflow parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return parse_workflow(text, "wf.toml", "/home/u/runs", overrides);
}

gosok::WorkloadInputs test_inputs() {
  gosok::WorkloadInputs inputs;
  inputs.add({"weather", "test",
              [](gosok::Schema& s) {
                s.choice("case", "thermal", {"thermal", "collision"}, "case");
                s.integer("nx", 200, "cells").at_least(4);
                s.integer("nz", 100, "cells").at_least(4);
                s.real("end_time", 100.0, "end").at_least(0);
                s.integer("member", 0, "member").at_least(0).at_most(3);
                s.integer("seed", 0, "seed").at_least(0);
              },
              "s", nullptr});
  inputs.add({"ensemble-stats", "test",
              [](gosok::Schema& s) {
                s.string("members_dir", std::nullopt, "folder");
                s.integer("members", std::nullopt, "count").at_least(1);
              },
              "s", nullptr});
  return inputs;
}

}  // namespace

TEST_CASE("workflow: steps, members, parameters and resources are read", "[workflow]") {
  Workflow w = parse(kEnsemble);
  CHECK(w.name == "thermal-ensemble");
  CHECK(w.grant == "KR-2026-0042");
  REQUIRE(w.steps.size() == 3);
  // Ordered so that a step comes after those it follows; file order otherwise.
  CHECK(w.steps[0].name == "forecast");
  CHECK(w.steps[1].name == "summary");
  CHECK(w.steps[2].name == "train");
  const Step& f = w.step("forecast");
  CHECK(f.members == 4);
  CHECK(f.member_key == "member");
  CHECK(f.member_ids() == std::vector<int>{0, 1, 2, 3});
  CHECK(f.retries == 2);
  CHECK(f.resources.nodes == 1);
  CHECK(f.resources.ntasks_per_node == 2);
  CHECK(f.resources.time_limit_s == 1200);
  CHECK(w.step("train").member_ids() == std::vector<int>{-1});
  CHECK(w.step("train").rank_env);
  CHECK(w.step("train").env == std::vector<std::pair<std::string, std::string>>{{"OMP_NUM_THREADS", "4"}});

  place_outputs(w, "/scratch/ens");
  std::map<std::string, std::string> set;
  for (const auto& a : w.step("forecast").set) set[a.key] = a.text;
  CHECK(set["nx"] == "200");
  CHECK(set["seed"] == "7");
  CHECK(set["case"] == "thermal");
  set.clear();
  for (const auto& a : w.step("summary").set) set[a.key] = a.text;
  CHECK(set["members_dir"] == "/scratch/ens/forecast/results");
  CHECK(set["members"] == "4");
  CHECK(w.step("train").command ==
        std::vector<std::string>{"python3", "/home/u/runs/train.py", "--seed", "7", "--out", "/scratch/ens/model"});
  CHECK(member_results(w, w.step("forecast"), 3) == "/scratch/ens/forecast/results/3");
  CHECK(submission_folder(w, w.step("forecast"), 2) == "/scratch/ens/forecast/jobs/2");

  // --set overrides a declared parameter, and only those.
  Workflow big = parse(kEnsemble, {"nx=400"});
  place_outputs(big, "/o");
  bool found = false;
  for (const auto& a : big.step("forecast").set) found = found || (a.key == "nx" && a.text == "400");
  CHECK(found);
  CHECK_THAT(error_of([] { parse(kEnsemble, {"nz=8"}); }),
             ContainsSubstring("--set nz=8: wf.toml declares no parameter 'nz' in [parameters]; parameters: nx, seed"));
}

TEST_CASE("workflow: a cycle, an unknown step, parameter or key are errors naming step and key", "[workflow]") {
  auto msg = error_of([] { parse(with("after = [\"forecast\"]", "after = [\"forcast\"]")); });
  CHECK_THAT(msg, ContainsSubstring("wf.toml:10: step 'summary': key 'after' names 'forcast', which is no step"));
  CHECK_THAT(msg, ContainsSubstring("steps: forecast, summary, train"));

  msg = error_of([] { parse(with("retries = 2", "retries = 2\nafter = [\"train\"]") + "after = [\"summary\"]\n"); });
  CHECK_THAT(msg, ContainsSubstring("make a cycle"));
  CHECK_THAT(msg, ContainsSubstring("summary -> forecast -> train -> summary"));

  msg = error_of([] { parse(with("\"{{nx}}\"", "\"{{nxx}}\"")); });
  CHECK_THAT(msg, ContainsSubstring("step 'forecast': key 'set.nx' = \"{{nxx}}\": no parameter 'nxx'; known:"));
  CHECK_THAT(msg, ContainsSubstring("forecast.results"));

  msg = error_of([] { parse(with("retries = 2", "retries = 2\ncolour = \"red\"")); });
  CHECK_THAT(msg, ContainsSubstring("wf.toml:25: unknown key 'step[1].colour'; allowed keys: name, workload"));

  msg = error_of([] { parse(with("retries = 2", "retries = -1")); });
  CHECK_THAT(msg, ContainsSubstring("key 'step[1].retries' = -1 is too small"));

  msg = error_of([] { parse(with("time = \"00:20:00\"", "time = \"20 minutes\"")); });
  CHECK_THAT(msg, ContainsSubstring("key 'step[1].time'"));
  CHECK_THAT(msg, ContainsSubstring("is not a walltime"));

  msg = error_of([] { parse(with("workload = \"weather\"", "workload = \"weather\"\ncommand = [\"true\"]")); });
  CHECK_THAT(msg, ContainsSubstring("step 'forecast': give one of 'workload'"));

  msg = error_of([] { parse(with("name = \"train\"", "name = \"forecast\"")); });
  CHECK_THAT(msg, ContainsSubstring("step 'forecast': key 'name' is the name of an earlier step too"));

  msg = error_of([] { parse(with("name = \"thermal-ensemble\"", "name = \"w12\"")); });
  CHECK_THAT(msg, ContainsSubstring("reads as a job or workflow id"));

  msg = error_of([] { parse(with("image = ", "member-key = \"seed\"\nimage = ")); });
  CHECK_THAT(msg, ContainsSubstring("step 'train': key 'member-key' needs members"));

  msg = error_of([] { parse(with("env = { OMP_NUM_THREADS", "env = { 9LIVES = \"x\", OMP_NUM_THREADS")); });
  CHECK_THAT(msg, ContainsSubstring("key 'env.9LIVES' is not a variable name"));

  msg = error_of([] { parse("[workflow]\nname = \"x\"\n"); });
  CHECK_THAT(msg, ContainsSubstring("needs at least 1 [[step]]"));

  msg = error_of(
      [] { parse("[workflow]\nname = \"x\"\n[[step]]\nname = \"a\"\nworkload = \"heat\"\nafter = [\"a\"]\n"); });
  CHECK_THAT(msg, ContainsSubstring("names the step itself"));
}

TEST_CASE("workflow: each step's input is checked against its workload's schema", "[workflow]") {
  const auto inputs = test_inputs();
  Workflow w = parse(with("command = [\"python3\"", "command = [\"python3\""));
  place_outputs(w, "/o");
  CHECK_NOTHROW(check_workloads(w, inputs));
  // The last member's index is out of the member key's bounds (at most 3).
  Workflow five = parse(with("members = 4", "members = 5"));
  place_outputs(five, "/o");
  CHECK_THAT(error_of([&] { check_workloads(five, inputs); }),
             ContainsSubstring("step 'forecast' (weather): --set member=4: key 'member' = 4 is too large"));
  Workflow bad = parse(with("nz = 100", "nz = 2"));
  place_outputs(bad, "/o");
  CHECK_THAT(error_of([&] { check_workloads(bad, inputs); }), ContainsSubstring("key 'nz' = 2 is too small"));
  Workflow unknown = parse(with("nz = 100", "nzz = 100"));
  place_outputs(unknown, "/o");
  CHECK_THAT(error_of([&] { check_workloads(unknown, inputs); }), ContainsSubstring("unknown key 'nzz'"));
  Workflow no_workload = parse(with("workload = \"weather\"", "workload = \"wether\""));
  place_outputs(no_workload, "/o");
  CHECK_THAT(error_of([&] { check_workloads(no_workload, inputs); }), ContainsSubstring("unknown workload 'wether'"));
}

namespace {

// An ended job of a step, as the ledger holds it once reconcile has settled it.
gosok::sched::JobRecord ended_job(const std::string& sched_state, int exit_code, const std::string& results) {
  gosok::sched::JobRecord j;
  j.state = "settled";
  j.backend = "slurm";
  j.sched_state = sched_state;
  j.exit_code = exit_code;
  j.elapsed_s = 50;
  j.results_dir = results;
  return j;
}

void write_result(const std::filesystem::path& dir, const std::string& status, int exit_code) {
  std::filesystem::create_directories(dir);
  gosok::test::write_file(dir / gosok::kResultFile,
                          "{\"status\": \"" + status + "\", \"exit_code\": " + std::to_string(exit_code) + "}\n");
}

}  // namespace

TEST_CASE("workflow: an ended job's outcome tells every way of ending apart", "[workflow][outcome]") {
  gosok::test::TempDir dir;
  Workflow w = parse(kEnsemble);
  place_outputs(w, dir.path().string());
  Step forecast = w.step("forecast");  // a workload: its run writes gosok-result.json
  forecast.resources.time_limit_s = 600;
  const std::string results = (dir / "r").string();

  // Accounting's state first: what Slurm did to the job whatever the run said.
  CHECK(job_outcome(ended_job("CANCELLED", 0, results), forecast, 0) == "cancelled");
  CHECK(job_outcome(ended_job("NODE_FAIL", 1, results), forecast, 0) == "node-failed");
  CHECK(job_outcome(ended_job("BOOT_FAIL", 1, results), forecast, 0) == "node-failed");
  CHECK(job_outcome(ended_job("OUT_OF_MEMORY", 137, results), forecast, 0) == "out-of-memory");
  CHECK(job_outcome(ended_job("PREEMPTED", 0, results), forecast, 0) == "preempted");
  CHECK(job_outcome(ended_job("TIMEOUT", 143, results), forecast, 0) == "timed-out");
  CHECK(job_outcome(ended_job("DEADLINE", 143, results), forecast, 0) == "timed-out");
  CHECK(job_outcome(ended_job("FAILED", 1, results), forecast, 0) == "failed");

  // COMPLETED with exit 0 is a success only when the run wrote its result: killed, it did not.
  CHECK(job_outcome(ended_job("COMPLETED", 0, results), forecast, 0) == "no-result");
  write_result(results, "completed", 0);
  CHECK(job_outcome(ended_job("COMPLETED", 0, results), forecast, 0) == "succeeded");
  write_result(results, "completed", 3);  // the workload's own finish() failed
  CHECK(job_outcome(ended_job("COMPLETED", 0, results), forecast, 0) == "no-result");

  // Exit 75 with a checkpointed result: stopped at the walltime warning, to be continued
  // while the step's time lasts; with less than a minute of it left, timed out.
  write_result(results, "checkpointed", gosok::kExitCheckpointed);
  CHECK(job_outcome(ended_job("FAILED", gosok::kExitCheckpointed, results), forecast, 0) == "checkpointed");
  CHECK(job_outcome(ended_job("FAILED", gosok::kExitCheckpointed, results), forecast, 500) == "timed-out");
  // Exit 75 without that result (the run died otherwise, or a command said 75): failed.
  std::filesystem::remove(std::filesystem::path(results) / gosok::kResultFile);
  CHECK(job_outcome(ended_job("FAILED", gosok::kExitCheckpointed, results), forecast, 0) == "failed");

  // A command: its exit status, and its result file when the step names one.
  Step train = w.step("train");
  train.resources.time_limit_s = 600;
  CHECK(job_outcome(ended_job("COMPLETED", 0, results), train, 0) == "succeeded");
  CHECK(job_outcome(ended_job("FAILED", gosok::kExitCheckpointed, results), train, 0) == "failed");
  train.walltime_signal = true;
  CHECK(job_outcome(ended_job("FAILED", gosok::kExitCheckpointed, results), train, 0) == "checkpointed");
  train.result = "model.pt";
  CHECK(job_outcome(ended_job("COMPLETED", 0, results), train, 0) == "no-result");
  gosok::test::write_file(std::filesystem::path(results) / "model.pt", "weights");
  CHECK(job_outcome(ended_job("COMPLETED", 0, results), train, 0) == "succeeded");

  // Never ran (released), or a local job whose monitor died (lost).
  auto released = ended_job("", -1, results);
  released.state = "released";
  CHECK(job_outcome(released, forecast, 0) == "released");
  auto lost = ended_job("", -1, results);
  lost.state = "missing";
  lost.backend = "local";
  CHECK(job_outcome(lost, forecast, 0) == "lost");
}

TEST_CASE("workflow: steps' resources are checked against the site", "[workflow][site]") {
  Workflow w = parse(kEnsemble);
  place_outputs(w, "/o");
  const auto site = gosok::sched::parse_site(
      gosok::test::read_file(gosok::test::source_dir() / "site_configs/example-national-h200.toml"), "h200.toml");
  CHECK_NOTHROW(check_resources(w, site));
  // Over the partition's limit: a workload goes on in further jobs, a command only when it
  // stops at the walltime warning itself.
  Workflow long_train =
      parse(with("gpus-per-node = 1", "gpus-per-node = 1\npartition = \"h200-debug\"\ntime = \"02:00:00\""));
  place_outputs(long_train, "/o");
  CHECK_THAT(error_of([&] { check_resources(long_train, site); }),
             ContainsSubstring("step 'train': time 02:00:00 is over partition 'h200-debug''s limit (00:30:00)"));
  Workflow stopping = parse(with("gpus-per-node = 1",
                                 "gpus-per-node = 1\npartition = \"h200-debug\"\ntime = "
                                 "\"02:00:00\"\nwalltime-signal = true"));
  place_outputs(stopping, "/o");
  CHECK_NOTHROW(check_resources(stopping, site));
  Workflow forecast_long = parse(with("time = \"00:20:00\"", "time = \"10:00:00\"\npartition = \"h200-debug\""));
  place_outputs(forecast_long, "/o");
  CHECK_NOTHROW(check_resources(forecast_long, site));
  // ... on a site that sends the walltime warning only.
  auto silent = site;
  silent.signal_margin_s = 0;
  CHECK_THAT(error_of([&] { check_resources(forecast_long, silent); }),
             ContainsSubstring("step 'forecast': time 10:00:00 is over partition 'h200-debug''s limit (00:30:00), and "
                               "site 'example-national-h200' sends no walltime warning (no site.signal_margin)"));
  // What the site does not have.
  Workflow big = parse(with("gpus-per-node = 1", "gpus-per-node = 9"));
  place_outputs(big, "/o");
  CHECK_THAT(error_of([&] { check_resources(big, site); }), ContainsSubstring("step 'train'"));
  Workflow docker = parse(with("rank-env = true", "rank-env = true\nruntime = \"docker\""));
  place_outputs(docker, "/o");
  CHECK_THAT(error_of([&] { check_resources(docker, site); }),
             ContainsSubstring("has no container runtime 'docker'; runtimes: apptainer, pyxis"));
  CHECK_THAT(error_of([] { parse(with("workload = \"weather\"", "workload = \"weather\"\nwalltime-signal = true")); }),
             ContainsSubstring("key 'walltime-signal' is for commands"));
}
