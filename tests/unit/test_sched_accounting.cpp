// Reading sacct (parsable and JSON) and deciding each job's settlement, without Slurm.
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>

#include <map>

#include <gosok/scheduler/accounting.hpp>
#include <gosok/scheduler/text.hpp>

using namespace gosok::sched;
using Catch::Approx;

TEST_CASE("sacct --parsable2: steps skipped, GPUs from AllocTRES", "[sched][acct]") {
  // Captured from the local Slurm (22.05) of scripts/slurm-local.
  const std::string text =
      "JobID|State|ElapsedRaw|AllocTRES|Comment|Start|End\n"
      "2|COMPLETED|61|billing=2,cpu=2,gres/gpu=2,node=1|gosok:3fd701aa:1|2026-11-28T20:43:30|2026-11-28T20:44:31\n"
      "2.batch|COMPLETED|61|cpu=2,gres/gpu=2,mem=0,node=1||2026-11-28T20:43:30|2026-11-28T20:44:31\n"
      "3|CANCELLED by 0|0||gosok:3fd701aa:2|None|2026-11-28T20:45:00\n"
      "4|RUNNING|12|billing=1,cpu=1,gres/gpu:h200=4,node=1||2026-11-28T20:45:00|Unknown\n";
  const auto r = parse_sacct_parsable(text);
  REQUIRE(r.size() == 3);
  CHECK(r[0].job_id == "2");
  CHECK(r[0].alloc_gpus == 2);
  CHECK(r[0].elapsed_s == 61);
  CHECK(r[0].comment == "gosok:3fd701aa:1");
  CHECK(r[0].end - r[0].start == 61);
  CHECK(r[1].start == 0);
  CHECK(r[1].state == "CANCELLED");
  CHECK(r[2].alloc_gpus == 4);
  CHECK(r[2].end == 0);
}

TEST_CASE("sacct --json (openapi dbv0.0.38)", "[sched][acct]") {
  const std::string text = R"({"meta":{"plugin":{"name":"openapi/dbv0.0.38"}},"errors":[],"jobs":[
    {"job_id":7,"state":{"current":"COMPLETED","reason":"None"},"comment":{"job":"gosok:ab:3"},
     "time":{"elapsed":90,"end":1764362671},
     "tres":{"allocated":[{"type":"cpu","name":"","id":1,"count":1},{"type":"gres","name":"gpu","id":1001,"count":2}]}}]})";
  const auto r = parse_sacct_json(text);
  REQUIRE(r.size() == 1);
  CHECK(r[0].job_id == "7");
  CHECK(r[0].state == "COMPLETED");
  CHECK(r[0].alloc_gpus == 2);
  CHECK(r[0].elapsed_s == 90);
  CHECK(r[0].comment == "gosok:ab:3");
  // An array task is named by its array job and index, not by its own internal job id.
  const auto a = parse_sacct_json(
      R"({"jobs":[{"job_id":41,"array":{"job_id":40,"task_id":3},"state":{"current":"COMPLETED"},"time":{"elapsed":5}}]})");
  REQUIRE(a.size() == 1);
  CHECK(a[0].job_id == "40_3");
}

TEST_CASE("plan_reconcile: charge, NODE_FAIL, tags, missing", "[sched][acct]") {
  const std::int64_t now = 1'800'000'000;
  auto job = [&](std::int64_t id, const std::string& slurm, std::int64_t age) {
    JobRecord j;
    j.id = id;
    j.slurm_id = slurm;
    j.tag = "gosok:x:" + std::to_string(id);
    j.state = slurm.empty() ? "submitting" : "queued";
    j.charge_factor = 2.0;
    j.reserved_gpu_h = 4;
    j.submitted_at = now - age;
    return j;
  };
  const std::vector<JobRecord> active = {job(1, "11", 600), job(2, "12", 600), job(3, "", 600),   job(4, "", 600),
                                         job(5, "15", 600), job(6, "16", 10),  job(7, "17", 600), job(8, "", 600)};
  std::vector<AcctRecord> acct(6);
  acct[0] = {"11", "COMPLETED", 1800, 2, "gosok:x:1", now - 1800, now};
  acct[1] = {"12", "NODE_FAIL", 1800, 2, "gosok:x:2", now - 1800, now};
  acct[2] = {"13", "TIMEOUT", 3600, 1, "gosok:x:3", now - 3600, now};  // job 3, known only by its tag
  acct[3] = {"17", "RUNNING", 5, 2, "gosok:x:7", now - 5, 0};
  acct[4] = {"99", "COMPLETED", 10, 1, "someone else", now - 10, now};
  acct[5] = {"18", "ENDING", 0, 0, "gosok:x:8", 0, 0};  // squeue saw it finish; sacct not yet
  const auto rep = plan_reconcile(active, acct, now, 120);
  auto find = [&](std::int64_t id) -> const JobUpdate* {
    for (const auto& u : rep.updates)
      if (u.id == id) return &u;
    return nullptr;
  };
  REQUIRE(find(1));
  CHECK(find(1)->state == "settled");
  CHECK(find(1)->charged_gpu_h == Approx(0.5 * 2 * 2.0));
  CHECK(find(2)->state == "settled");
  CHECK(find(2)->charged_gpu_h == 0);
  CHECK(find(3)->slurm_id == "13");
  CHECK(find(3)->charged_gpu_h == Approx(1 * 1 * 2.0));
  CHECK(find(4)->state == "released");  // never reached Slurm
  CHECK(find(5)->state == "missing");   // accounting forgot it: reported
  CHECK(find(6) == nullptr);            // too young to judge
  CHECK(find(7)->state == "running");
  CHECK(find(7)->started_at == now - 5);
  CHECK(find(8)->state == "running");  // found by tag, not settled without sacct's numbers
  CHECK(find(8)->slurm_id == "18");
  CHECK(rep.found_by_tag == 2);
  CHECK(rep.missing.size() == 1);
}

// sacct -X of array job 40 with tasks 0 and 1 done, 2 running and 3..9 (every other) pending:
// the pending ones are one line, "40_[3-9:2%2]", read as one record per task.
TEST_CASE("sacct: array tasks, pending ones expanded, settled by tag and index", "[sched][acct][array]") {
  const std::string text =
      "JobID|State|ElapsedRaw|AllocTRES|Comment|Start|End\n"
      "40_0|COMPLETED|30|gres/gpu=1|gosok:x:5|2026-11-28T20:00:00|2026-11-28T20:00:30\n"
      "40_0.batch|COMPLETED|30|gres/gpu=1||2026-11-28T20:00:00|2026-11-28T20:00:30\n"
      "40_1|FAILED|12|gres/gpu=1|gosok:x:5|2026-11-28T20:00:00|2026-11-28T20:00:12\n"
      "40_2|RUNNING|5|gres/gpu=1|gosok:x:5|2026-11-28T20:01:00|Unknown\n"
      "40_[3-9:2%2]|PENDING|0||gosok:x:5|Unknown|Unknown\n";
  const auto r = parse_sacct_parsable(text);
  REQUIRE(r.size() == 7);
  CHECK(r[2].job_id == "40_2");
  CHECK(r[3].job_id == "40_3");
  CHECK(r[6].job_id == "40_9");
  CHECK(r[6].state == "PENDING");
  const std::int64_t now = 1'800'000'000;
  std::vector<JobRecord> tasks;
  for (int t : {0, 1, 2, 3, 9}) {
    JobRecord j;
    j.id = 5 + t;
    j.array_id = 5;
    j.array_task = t;
    j.tag = "gosok:x:5";
    j.slurm_id = t == 1 ? "" : "40_" + std::to_string(t);  // task 1: id never recorded
    j.state = t == 1 ? "submitting" : "queued";
    if (t >= 3) j.sched_state = "PENDING";
    j.charge_factor = 1;
    j.submitted_at = now - 600;
    tasks.push_back(j);
  }
  const auto rep = plan_reconcile(tasks, r, now, 120);
  std::map<std::int64_t, JobUpdate> by_id;
  for (const auto& u : rep.updates) by_id[u.id] = u;
  CHECK(by_id.at(5).state == "settled");
  CHECK(by_id.at(5).charged_gpu_h == Approx(30.0 / 3600));
  CHECK(by_id.at(6).slurm_id == "40_1");  // found by the array's tag and its own index
  CHECK(by_id.at(6).state == "settled");
  CHECK(by_id.at(7).state == "running");
  CHECK(by_id.count(8) == 0);  // still pending: nothing to change
  CHECK(by_id.count(14) == 0);
  CHECK(rep.settled == 2);
  CHECK(rep.found_by_tag == 1);
}
