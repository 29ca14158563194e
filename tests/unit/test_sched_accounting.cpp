// Reading sacct (parsable and JSON) and deciding each job's settlement, without Slurm.
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

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
    j.user = "kim";
    j.account = "climate7";
    j.state = slurm.empty() ? "submitting" : "queued";
    j.charge_factor = 2.0;
    j.reserved_gpu_h = 4;
    j.submitted_at = now - age;
    return j;
  };
  const std::vector<JobRecord> active = {job(1, "11", 600), job(2, "12", 600), job(3, "", 600),   job(4, "", 600),
                                         job(5, "15", 600), job(6, "16", 10),  job(7, "17", 600), job(8, "", 600)};
  Accounting acct;
  acct.records = {
      {"11", "COMPLETED", 1800, 2, "gosok:x:1", now - 1800, now, "kim", "climate7"},
      {"12", "NODE_FAIL", 1800, 2, "gosok:x:2", now - 1800, now, "kim", "climate7"},
      {"13", "TIMEOUT", 3600, 1, "gosok:x:3", now - 3600, now, "kim", "climate7"},  // job 3, known only by its tag
      {"17", "RUNNING", 5, 2, "gosok:x:7", now - 5, 0, "kim", "climate7"},
      {"99", "COMPLETED", 10, 1, "someone else", now - 10, now, "lee", "bio"},
      {"18", "ENDING", 0, 0, "gosok:x:8", 0, 0, "kim", "climate7"}};  // squeue saw it finish; sacct not yet
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
  CHECK(find(3)->uncharged_gpu_h == 0);
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
    j.reserved_gpu_h = 1;
    j.submitted_at = now - 600;
    tasks.push_back(j);
  }
  Accounting acct;
  acct.records = r;
  for (auto& rec : acct.records) rec.user = "kim";
  for (auto& t : tasks) t.user = "kim";
  const auto rep = plan_reconcile(tasks, acct, now, 120);
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

namespace {
JobRecord tagged(std::int64_t id, const std::string& slurm, std::int64_t submitted_at) {
  JobRecord j;
  j.id = id;
  j.slurm_id = slurm;
  j.tag = "gosok:ab12cd34:" + std::to_string(id) + ":0123456789abcdef";
  j.user = "kim";
  j.account = "climate7";
  j.state = slurm.empty() ? "submitting" : "queued";
  j.charge_factor = 1.0;
  j.gpus = 1;
  j.time_limit_s = 60;
  j.reserved_gpu_h = (60 + 40) / 3600.0;  // 1 GPU x (1 min + the site's 40 s overrun)
  j.submitted_at = submitted_at;
  return j;
}
const JobUpdate* update_of(const ReconcileReport& r, std::int64_t id) {
  for (const auto& u : r.updates)
    if (u.id == id) return &u;
  return nullptr;
}
}  // namespace

// sacct -D: one record per run. A requeued job is charged for every run but those that
// failed through the system; while it waits to run again, its earlier runs already count.
TEST_CASE("plan_reconcile: every run of a requeued job is charged, NODE_FAIL runs are not", "[sched][acct]") {
  const std::int64_t now = 1'800'000'000;
  const std::string text =
      "JobID|State|ElapsedRaw|AllocTRES|Comment|Start|End|User|Account\n"
      "3|REQUEUED|40|billing=1,cpu=1,gres/gpu=1,node=1|t|2026-12-01T10:06:57|2026-12-01T10:07:37|kim|climate7\n"
      "3|NODE_FAIL|20|billing=1,cpu=1,gres/gpu=1,node=1|t|2026-12-01T10:08:00|2026-12-01T10:08:20|kim|climate7\n"
      "3|COMPLETED|30|billing=1,cpu=1,gres/gpu=1,node=1|t|2026-12-01T10:09:00|2026-12-01T10:09:30|kim|climate7\n"
      "4|REQUEUED|50|billing=1,cpu=1,gres/gpu=1,node=1|u|2026-12-01T10:06:57|2026-12-01T10:07:47|kim|climate7\n"
      "4|PENDING|0|billing=1,cpu=1,gres/gpu=1,node=1|u|Unknown|Unknown|kim|climate7\n";
  Accounting acct;
  acct.records = parse_sacct_parsable(text);
  REQUIRE(acct.records.size() == 5);
  const auto rep = plan_reconcile({tagged(1, "3", now - 600), tagged(2, "4", now - 600)}, acct, now, 120);
  const auto* done = update_of(rep, 1);
  REQUIRE(done);
  CHECK(done->state == "settled");
  CHECK(done->charged_gpu_h == Approx((40 + 30) / 3600.0));  // not the NODE_FAIL run, not only the last
  CHECK(done->elapsed_s == 90);
  CHECK_THAT(done->note, Catch::Matchers::ContainsSubstring("3 runs (requeued); 2 charged"));
  const auto* waiting = update_of(rep, 2);
  REQUIRE(waiting);
  CHECK(waiting->state == "queued");
  CHECK(waiting->charged_gpu_h == Approx(50 / 3600.0));
}

// A run Slurm let go on past its time limit (OverTimeLimit, KillWait) longer than the
// reservation allowed: charged its reservation, the rest reported.
TEST_CASE("plan_reconcile: a run is never charged more than its reservation", "[sched][acct]") {
  const std::int64_t now = 1'800'000'000;
  Accounting acct;
  acct.records = {{"5", "TIMEOUT", 130, 1, "t", now - 130, now, "kim", "climate7"},
                  {"6", "TIMEOUT", 81, 1, "t", now - 81, now, "kim", "climate7"}};
  const auto rep = plan_reconcile({tagged(1, "5", now - 600), tagged(2, "6", now - 600)}, acct, now, 120);
  const auto* over = update_of(rep, 1);
  REQUIRE(over);
  CHECK(over->charged_gpu_h == Approx(100 / 3600.0));
  CHECK(over->uncharged_gpu_h == Approx(30 / 3600.0));
  CHECK(rep.uncharged.size() == 1);
  const auto* within = update_of(rep, 2);
  REQUIRE(within);
  CHECK(within->charged_gpu_h == Approx(81 / 3600.0));
  CHECK(within->uncharged_gpu_h == 0);
}

// Another user can put any comment on a job of their own: a tag binds only the row's own
// user and account.
TEST_CASE("plan_reconcile: a tag is matched with its user and account", "[sched][acct]") {
  const std::int64_t now = 1'800'000'000;
  auto lost = tagged(1, "", now - 600);
  Accounting acct;
  acct.records = {{"70", "PENDING", 0, 0, lost.tag, 0, 0, "mallory", "evil"},
                  {"71", "RUNNING", 5, 4, lost.tag, now - 5, 0, "mallory", "climate7"},
                  {"72", "PENDING", 0, 0, lost.tag, 0, 0, "kim", "other"}};
  auto rep = plan_reconcile({lost}, acct, now, 120);
  const auto* u = update_of(rep, 1);
  REQUIRE(u);
  CHECK(u->state == "released");  // none of them is kim's job in climate7
  CHECK(rep.found_by_tag == 0);
  acct.records.push_back({"73", "PENDING", 0, 0, lost.tag, 0, 0, "kim", "climate7"});
  rep = plan_reconcile({lost}, acct, now, 120);
  u = update_of(rep, 1);
  REQUIRE(u);
  CHECK(u->slurm_id == "73");
  CHECK(u->state == "queued");
}

// When squeue failed (the controller is down or stalled), a held job carrying the tag may
// exist: absence is not proven, nothing is released or reported missing.
TEST_CASE("plan_reconcile: no release or missing on an incomplete answer", "[sched][acct]") {
  const std::int64_t now = 1'800'000'000;
  Accounting acct;
  acct.complete = false;
  acct.problem = "squeue failed";
  const auto rep = plan_reconcile({tagged(1, "", now - 600), tagged(2, "12", now - 600)}, acct, now, 120);
  CHECK(rep.updates.empty());
  CHECK(rep.unproven.size() == 2);
  acct.complete = true;
  const auto proven = plan_reconcile({tagged(1, "", now - 600), tagged(2, "12", now - 600)}, acct, now, 120);
  REQUIRE(proven.updates.size() == 2);
  CHECK(update_of(proven, 1)->state == "released");
  CHECK(update_of(proven, 2)->state == "missing");
}
