// Reading sacct (parsable and JSON) and deciding each job's settlement, without Slurm.
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>

#include <gosok/scheduler/accounting.hpp>
#include <gosok/scheduler/text.hpp>

using namespace gosok::sched;
using Catch::Approx;

TEST_CASE("sacct --parsable2: steps skipped, GPUs from AllocTRES", "[sched][acct]") {
  // Captured from the local Slurm (22.05) of scripts/slurm-local.
  const std::string text =
      "JobID|State|ElapsedRaw|AllocTRES|Comment|End\n"
      "2|COMPLETED|61|billing=2,cpu=2,gres/gpu=2,node=1|gosok:3fd701aa:1|2026-11-28T20:44:31\n"
      "2.batch|COMPLETED|61|cpu=2,gres/gpu=2,mem=0,node=1||2026-11-28T20:44:31\n"
      "3|CANCELLED by 0|0||gosok:3fd701aa:2|2026-11-28T20:45:00\n"
      "4|RUNNING|12|billing=1,cpu=1,gres/gpu:h200=4,node=1||Unknown\n";
  const auto r = parse_sacct_parsable(text);
  REQUIRE(r.size() == 3);
  CHECK(r[0].job_id == "2");
  CHECK(r[0].alloc_gpus == 2);
  CHECK(r[0].elapsed_s == 61);
  CHECK(r[0].comment == "gosok:3fd701aa:1");
  CHECK(r[0].end > 0);
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
  acct[0] = {"11", "COMPLETED", 1800, 2, "gosok:x:1", now};
  acct[1] = {"12", "NODE_FAIL", 1800, 2, "gosok:x:2", now};
  acct[2] = {"13", "TIMEOUT", 3600, 1, "gosok:x:3", now};  // job 3, known only by its tag
  acct[3] = {"17", "RUNNING", 5, 2, "gosok:x:7", 0};
  acct[4] = {"99", "COMPLETED", 10, 1, "someone else", now};
  acct[5] = {"18", "ENDING", 0, 0, "gosok:x:8", 0};  // squeue saw it finish; sacct not yet
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
  CHECK(find(8)->state == "running");  // found by tag, not settled without sacct's numbers
  CHECK(find(8)->slurm_id == "18");
  CHECK(rep.found_by_tag == 2);
  CHECK(rep.missing.size() == 1);
}
