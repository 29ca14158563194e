#pragma once
// The ledger's contract, one suite for every backend: a test file defines its fixtures (a
// type with `static constexpr const char* backend`, `std::string fresh_location()`, an
// empty ledger each call, and `static std::string as_owner(location)`, the same ledger as
// its owner, who may migrate into it), lists them as `using LedgerFixtures = std::tuple<...>;` and
// includes this header. unit/test_sched_ledger.cpp runs it on SQLite,
// integration/test_ledger_postgres.cpp on PostgreSQL.
#include <catch2/catch_approx.hpp>
#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <filesystem>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/grants.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/text.hpp>

#include "subprocess.hpp"

namespace ledger_suite {

using namespace gosok::sched;
using Catch::Approx;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;

inline const std::string kCsv =
    "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n"
    "G-1,climate,KIAPS,national_project,local-slurm,fake,10,2026-01-01,2030-12-31,Climate7\n"
    "G-2,\"bio, md\",Uni,academia,local-slurm,fake,5.5,2026-01-01,2030-12-31,bio\n";

/// A job of grant G-1 reserving `reserve` GPU-hours: 2 GPUs x `reserve`/2 hours x factor 1
/// (a shared ledger checks that the figures agree).
inline JobRecord job(double reserve) {
  JobRecord j;
  j.grant_id = "G-1";
  j.site = "local-slurm";
  j.partition = "gpu";
  j.backend = "slurm";
  j.name = "t";
  j.workload = "heat";
  j.gpus = 2;
  j.time_limit_s = static_cast<std::int64_t>(reserve / 2 * 3600 + 0.5);
  j.charge_factor = 1.0;
  j.reserved_gpu_h = j.gpus * j.time_limit_s / 3600.0;
  j.submitted_at = now_seconds();
  return j;
}

/// Imports one grant; returns added, updated or unchanged.
inline std::string import_one(LedgerStore& ledger, const Grant& g, const std::string& source) {
  return ledger.import_grants({{g, source}}, false).at(0);
}

/// Reserves one job (the ledger reserves one job, or all tasks of one array, at a time).
inline void reserve(LedgerStore& ledger, JobRecord& j) {
  std::vector<JobRecord> one = {j};
  ledger.reserve(one);
  j = one.front();
}

/// An empty ledger holding G-1 and G-2, with this process's user a member of both projects
/// (a shared ledger lets only members reserve).
inline std::unique_ptr<LedgerStore> ledger_with_grants(const std::string& location) {
  auto ledger = open_ledger_at(location);
  for (const auto& g : parse_grants_csv(kCsv, "g.csv")) {
    import_one(*ledger, g, "g.csv");
    ledger->set_members(g.project, {current_user()}, "platform");
  }
  return ledger;
}

inline JobUpdate settled(std::int64_t id, double charged) {
  JobUpdate u;
  u.id = id;
  u.state = "settled";
  u.sched_state = "COMPLETED";
  u.elapsed_s = 1800;
  u.alloc_gpus = 2;
  u.charged_gpu_h = charged;
  u.ended_at = now_seconds();
  return u;
}

}  // namespace ledger_suite

TEMPLATE_LIST_TEST_CASE("ledger: import is idempotent and keeps history", "[sched][ledger]", LedgerFixtures) {
  using namespace ledger_suite;
  TestType fixture;
  INFO(TestType::backend);
  const std::string location = fixture.fresh_location();
  auto ledger = open_ledger_at(location);
  CHECK(ledger->backend() == TestType::backend);
  auto grants = parse_grants_csv(kCsv, "g.csv");
  CHECK(import_one(*ledger, grants[0], "g.csv") == "added");
  CHECK(import_one(*ledger, grants[0], "g.csv") == "unchanged");
  grants[0].gpu_hours = 20;
  CHECK(import_one(*ledger, grants[0], "g2.csv") == "updated");
  CHECK(ledger->find_grant("G-1")->gpu_hours == 20);
  CHECK(ledger->find_grant("G-1")->project == "climate");
  CHECK(!ledger->find_grant("G-9"));
  const auto h = ledger->grant_history("G-1");
  REQUIRE(h.size() == 2);
  CHECK(h[0].what == "imported");
  CHECK(h[0].old_terms.empty());
  CHECK(h[1].what == "updated");
  CHECK_THAT(h[1].old_terms, ContainsSubstring("\"gpu_hours\":10.0"));
  CHECK_THAT(h[1].new_terms, ContainsSubstring("\"gpu_hours\":20.0"));
  CHECK(h[1].source == "g2.csv");
  CHECK(h[1].by == current_user());
  // Reopening finds the same instance id (job tags stay stable).
  const auto id = ledger->instance_id();
  CHECK(id.size() == 8);
  ledger.reset();
  CHECK(open_ledger_at(location)->instance_id() == id);
}

TEMPLATE_LIST_TEST_CASE("ledger: reserve, refuse, settle once, release", "[sched][ledger]", LedgerFixtures) {
  using namespace ledger_suite;
  TestType fixture;
  auto ledger = ledger_with_grants(fixture.fresh_location());
  auto a = job(6);
  reserve(*ledger, a);
  CHECK(a.id == 1);
  CHECK(a.user == current_user());
  CHECK(a.state == "submitting");
  CHECK_THAT(a.tag, StartsWith("gosok:" + ledger->instance_id() + ":1:"));
  auto b = job(5);
  CHECK_THROWS_AS(reserve(*ledger, b), gosok::InputError);
  CHECK_THROWS_WITH(reserve(*ledger, b), ContainsSubstring("cannot cover") && ContainsSubstring("4.0000 of 10.0000"));
  auto c = job(4);  // exact fit
  reserve(*ledger, c);
  ledger->set_submitted(a.id, "101", 0);
  ledger->set_submitted(c.id, "102", 0);
  CHECK(ledger->find_job(a.id)->state == "queued");
  CHECK(ledger->find_job(a.id)->slurm_id == "101");
  CHECK(ledger->find_job(a.id)->user == current_user());
  auto bal = ledger->balance("G-1", now_seconds());
  CHECK(bal.queued == Approx(10));
  CHECK(bal.remaining == Approx(0));

  // Job a ran 30 min on 2 GPUs: 1 GPU-hour charged, 5 released.
  CHECK(ledger->apply({settled(a.id, 1.0)}) == std::vector<std::int64_t>{a.id});
  // A second settle changes nothing, and says so.
  CHECK(ledger->apply({settled(a.id, 7.0)}).empty());
  CHECK(ledger->find_job(a.id)->charged_gpu_h == 1.0);
  JobUpdate running;
  running.id = c.id;
  running.state = "running";
  running.started_at = now_seconds();
  ledger->apply({running});
  bal = ledger->balance("G-1", now_seconds());
  CHECK(bal.settled == Approx(1));
  CHECK(bal.in_flight == Approx(4));
  CHECK(bal.queued == Approx(0));
  CHECK(bal.remaining == Approx(5));
  CHECK(bal.settled_jobs == 1);
  CHECK(bal.active_jobs == 1);
  REQUIRE(bal.by_member.size() == 1);
  CHECK(bal.by_member[0].user == current_user());
  CHECK(bal.by_member[0].settled == Approx(1));
  CHECK(bal.by_member[0].in_flight == Approx(4));
  CHECK(bal.burn_per_day > 0);
  REQUIRE(bal.runs_out.has_value());
  CHECK(*bal.runs_out > now_seconds());
  auto d = job(5);
  reserve(*ledger, d);
  REQUIRE(ledger->find_jobs_by_slurm_id("101").size() == 1);
  CHECK(ledger->find_jobs_by_slurm_id("101").front().id == a.id);
  CHECK(ledger->find_jobs_by_slurm_id("10").empty());
  // A job whose sbatch failed: its reservation ends; a queued one is not the submitter's to end.
  ledger->release_unsubmitted({d.id, c.id}, "submission failed: sbatch said no");
  CHECK(ledger->find_job(d.id)->state == "released");
  CHECK(ledger->find_job(d.id)->note == "submission failed: sbatch said no");
  CHECK(ledger->find_job(c.id)->state == "running");
  CHECK(ledger->balance("G-1", now_seconds()).remaining == Approx(5));
  CHECK(ledger->jobs("G-1", true).size() == 1);
  CHECK(ledger->jobs("", false).size() == 3);
  CHECK(ledger->jobs("G-2", false).empty());
}

TEMPLATE_LIST_TEST_CASE("ledger: an array's tasks are reserved together or not at all", "[sched][ledger][array]",
                        LedgerFixtures) {
  using namespace ledger_suite;
  TestType fixture;
  auto ledger = ledger_with_grants(fixture.fresh_location());  // G-1: 10 GPU-hours
  auto single = job(1);
  reserve(*ledger, single);
  // 11 tasks x 1 GPU-hour: one more than the 9 left; nothing of it is booked.
  std::vector<JobRecord> tasks;
  for (int t : {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20}) {
    auto j = job(1);
    j.array_task = t;
    tasks.push_back(j);
  }
  CHECK_THROWS_WITH(ledger->reserve(tasks), ContainsSubstring("its 11 array tasks need 11.0000 GPU-hours") &&
                                                ContainsSubstring("9.0000 of 10.0000"));
  CHECK(ledger->jobs("", false).size() == 1);
  tasks.pop_back();
  tasks.pop_back();  // 9 tasks fit exactly
  ledger->reserve(tasks);
  const std::int64_t head = tasks.front().id;
  std::set<std::int64_t> ids;
  for (const auto& t : tasks) {
    CHECK(t.array_id == head);
    CHECK(t.tag == tasks.front().tag);
    ids.insert(t.id);
  }
  CHECK(ids.size() == 9);
  CHECK(tasks[1].gosok_id() == "g" + std::to_string(head) + "_2");
  CHECK(ledger->balance("G-1", now_seconds()).remaining == Approx(0));
  ledger->set_submitted(head, "500", 0);
  const auto rows = ledger->find_array(head);
  REQUIRE(rows.size() == 9);
  CHECK(rows[0].slurm_id == "500_0");
  CHECK(rows[8].slurm_id == "500_16");
  CHECK(rows[8].state == "queued");
  CHECK(ledger->find_jobs_by_slurm_id("500").size() == 9);  // the whole array
  REQUIRE(ledger->find_jobs_by_slurm_id("500_4").size() == 1);
  CHECK(ledger->find_jobs_by_slurm_id("500_4").front().array_task == 4);
  CHECK(ledger->find_jobs_by_slurm_id("50").empty());
  CHECK(ledger->find_jobs_by_slurm_id("5000").empty());
  CHECK(ledger->find_array(single.id).empty());  // not an array
  // Newest first, an array's tasks in order.
  const auto all = ledger->jobs("G-1", false);
  REQUIRE(all.size() == 10);
  CHECK(all.front().array_task == 0);
  CHECK(all.back().id == single.id);
}

TEMPLATE_LIST_TEST_CASE("ledger: project members, from each source", "[sched][ledger][members]", LedgerFixtures) {
  using namespace ledger_suite;
  TestType fixture;
  auto ledger = ledger_with_grants(fixture.fresh_location());
  const std::string me = current_user();
  auto change = ledger->set_members("climate", {me, "gsk_member_a", "gsk_member_b"}, "platform");
  CHECK(change.added == std::vector<std::string>{"gsk_member_a", "gsk_member_b"});
  CHECK(change.removed.empty());
  change = ledger->set_members("climate", {me, "gsk_member_b"}, "platform");
  CHECK(change.added.empty());
  CHECK(change.removed == std::vector<std::string>{"gsk_member_a"});
  // Another source's members stay when the platform's change.
  ledger->set_members("climate", {"gsk_member_a"}, "slurm");
  ledger->set_members("climate", {me}, "platform");
  const auto members = ledger->members("climate");
  REQUIRE(members.size() == 2);
  CHECK(members[0].user == "gsk_member_a");
  CHECK(members[0].source == "slurm");
  CHECK(members[1].user == me);
  CHECK(members[1].imported_at > 0);
  CHECK(ledger->members("bio, md").size() == 1);
  CHECK(ledger->members("").size() == 3);
  const auto access = ledger->access();
  CHECK(access.user == me);
  CHECK(access.admin);
  CHECK(access.reconcile);
  CHECK(access.projects == std::vector<std::string>{"bio, md", "climate"});
}

// Two reconciles at once (two connections, as two processes would have): every job is
// settled by exactly one of them, and each reports only what it settled.
TEMPLATE_LIST_TEST_CASE("ledger: two reconciles at once settle each job once", "[sched][ledger][reconcile]",
                        LedgerFixtures) {
  using namespace ledger_suite;
  TestType fixture;
  const std::string location = fixture.fresh_location();
  auto ledger = ledger_with_grants(location);
  constexpr int kJobs = 400;
  std::vector<JobRecord> tasks;
  for (int t = 0; t < kJobs; ++t) {
    auto j = job(0.01);
    j.array_task = t;
    tasks.push_back(j);
  }
  ledger->reserve(tasks);
  ledger->set_submitted(tasks.front().id, "900", 0);
  std::string sacct = "JobID|State|ElapsedRaw|AllocTRES|Comment|Start|End\n";
  for (int t = 0; t < kJobs; ++t) {
    sacct += "900_" + std::to_string(t) + "|COMPLETED|9|gres/gpu=2|" + tasks[t].tag +
             "|2026-11-28T19:00:00|2026-11-28T19:00:09\n";
  }
  auto one = [&] { return reconcile_jobs(*open_ledger_at(location), sacct, 0).settled; };
  auto first = std::async(std::launch::async, one);
  auto second = std::async(std::launch::async, one);
  const int a = first.get(), b = second.get();
  INFO(a << " + " << b);
  CHECK(a + b == kJobs);
  const auto bal = ledger->balance("G-1", now_seconds());
  CHECK(bal.settled_jobs == kJobs);
  CHECK(bal.settled == Approx(kJobs * 9 * 2 / 3600.0));
  CHECK(bal.queued == 0.0);
  CHECK(reconcile_jobs(*ledger, sacct, 0).updates.empty());
}

// Concurrent reservations of one grant from many connections never book more than it holds.
TEMPLATE_LIST_TEST_CASE("ledger: concurrent reservations never over-reserve", "[sched][ledger][concurrency]",
                        LedgerFixtures) {
  using namespace ledger_suite;
  TestType fixture;
  const std::string location = fixture.fresh_location();
  ledger_with_grants(location);  // G-1: 10 GPU-hours = 25 jobs of 0.4
  std::vector<std::future<int>> clients;
  for (int c = 0; c < 8; ++c) {
    clients.push_back(std::async(std::launch::async, [&] {
      auto ledger = open_ledger_at(location);
      int booked = 0;
      for (int i = 0; i < 6; ++i) {
        auto j = job(0.4);
        try {
          reserve(*ledger, j);
          ++booked;
        } catch (const gosok::InputError&) {
        }
      }
      return booked;
    }));
  }
  int booked = 0;
  for (auto& c : clients) booked += c.get();
  CHECK(booked == 25);
  auto ledger = open_ledger_at(location);
  CHECK(ledger->jobs("G-1", true).size() == 25);
  CHECK(ledger->balance("G-1", now_seconds()).remaining == Approx(0).margin(1e-9));
}

// gosok ledger migrate's two halves: everything out of one ledger, into another.
TEMPLATE_LIST_TEST_CASE("ledger: content moves into another ledger with the same totals", "[sched][ledger][migrate]",
                        LedgerFixtures) {
  using namespace ledger_suite;
  TestType fixture;
  gosok::test::TempDir dir;
  // The source: an SQLite ledger, as a user's own would be.
  auto source = ledger_with_grants("sqlite:" + (dir / "mine.sqlite").string());
  auto a = job(2);
  a.account = "climate7";
  reserve(*source, a);
  source->set_submitted(a.id, "11", 0);
  auto done = settled(a.id, 0.5);
  done.energy_j = 3.6e6;
  done.uncharged_gpu_h = 0.125;
  done.exit_code = 3;
  source->apply({done});
  auto b = job(1);
  reserve(*source, b);
  source->set_submitted(b.id, "12", 0);
  std::vector<JobRecord> tasks(3, job(1));
  for (int t = 0; t < 3; ++t) tasks[t].array_task = t;
  source->reserve(tasks);
  source->set_submitted(tasks[0].id, "13", 0);
  WorkflowRecord w;
  w.name = "ens";
  w.grant_id = "G-1";
  w.site = "local-slurm";
  w.file = "wf.toml";
  w.spec = "[workflow]";
  w.overrides = "[]";
  w.output_dir = "/scratch/ens";
  w.created_at = now_seconds();
  w.id = source->add_workflow(w);
  source->set_workflow_state(w.id, "held", "waiting");
  auto step = job(1);
  step.workflow_id = w.id;
  step.step = "forecast";
  step.member = 0;
  step.seq = 1;
  step.attempt = 2;
  reserve(*source, step);
  source->set_outcomes({{a.id, "done"}});
  auto grants = parse_grants_csv(kCsv, "g.csv");
  grants[0].gpu_hours = 12;
  import_one(*source, grants[0], "g-new.csv");
  const auto content = source->content();
  REQUIRE(content.jobs.size() == 6);
  REQUIRE(content.workflows.size() == 1);
  CHECK(content.history.size() == 3);

  // Into an empty ledger (as its owner): the same ids, grants, history and members.
  const std::string location = fixture.fresh_location();
  auto target = open_ledger_at(TestType::as_owner(location));
  auto ids = target->load(content);
  REQUIRE(ids.size() == 6);
  for (const auto& [from, to] : ids) CHECK(from == to);
  // Every column moves: who and to which account, energy, use past the reservation.
  CHECK(target->find_job(a.id)->energy_j == 3.6e6);
  CHECK(target->find_job(a.id)->user == current_user());
  CHECK(target->find_job(a.id)->account == "climate7");
  CHECK(target->find_job(a.id)->uncharged_gpu_h == 0.125);
  CHECK(target->find_job(a.id)->exit_code == 3);
  CHECK(target->find_job(a.id)->outcome == "done");
  // The workflow and its job's place in it.
  const auto flows = target->workflows("ens");
  REQUIRE(flows.size() == 1);
  CHECK(flows[0].id == w.id);
  CHECK(flows[0].state == "held");
  CHECK(flows[0].note == "waiting");
  CHECK(flows[0].user == current_user());
  const auto flow_jobs = target->workflow_jobs(w.id);
  REQUIRE(flow_jobs.size() == 1);
  CHECK(flow_jobs[0].step == "forecast");
  CHECK(flow_jobs[0].attempt == 2);
  CHECK(target->balance("G-1", now_seconds()).energy_kwh == Approx(1.0));
  CHECK(target->find_grant("G-1")->gpu_hours == 12);
  CHECK(target->grant_history("G-1").size() == 2);
  CHECK(target->grant_history("G-1")[1].old_terms == source->grant_history("G-1")[1].old_terms);
  CHECK(target->members("").size() == 2);
  const auto bs = source->balance("G-1", now_seconds()), bt = target->balance("G-1", now_seconds());
  CHECK(bt.settled == Approx(bs.settled));
  CHECK(bt.queued == Approx(bs.queued));
  CHECK(bt.remaining == Approx(bs.remaining));
  CHECK(target->find_jobs_by_slurm_id("13").size() == 3);
  CHECK(target->find_array(tasks[0].id).size() == 3);
  CHECK(target->find_job(a.id)->tag == a.tag);
  // The moved members may reserve; new reservations go on after the moved ids.
  auto c = job(1);
  reserve(*open_ledger_at(location), c);
  CHECK(c.id > tasks[2].id);

  // Again into the same (now non-empty) ledger: new ids, the array kept together, totals added.
  const auto before = target->totals("G-1");
  ids = target->load(content);
  for (const auto& [from, to] : ids) CHECK(from != to);
  const auto after = target->totals("G-1");
  CHECK(after.jobs == before.jobs + 6);
  CHECK(after.charged == Approx(before.charged + 0.5));
  CHECK(after.reserved == Approx(before.reserved + 5));
  CHECK(after.history == before.history);  // the same history entries are not repeated
  const auto moved_head = ids[2].second;
  CHECK(target->find_array(moved_head).size() == 3);
  // The workflow came again as a new one, and its job names the new one.
  const auto twice = target->workflows("ens");
  REQUIRE(twice.size() == 2);
  CHECK(twice[0].id != w.id);
  CHECK(target->workflow_jobs(twice[0].id).size() == 1);

  // A grant whose terms differ is refused, and nothing is written.
  grants[0].gpu_hours = 99;
  auto other = ledger_with_grants("sqlite:" + (dir / "other.sqlite").string());
  import_one(*other, grants[0], "g-99.csv");
  auto d = job(1);
  reserve(*other, d);
  CHECK_THROWS_WITH(target->load(other->content()), ContainsSubstring("G-1") && ContainsSubstring("other terms") &&
                                                        ContainsSubstring("nothing was written"));
  CHECK(target->totals("G-1").jobs == after.jobs);
}

// Settling keeps a job's GPU energy beside its GPU-hours, from its run's diagnostics.json,
// and only the energy of that very job: a record of another job or a run that measured
// nothing leaves the energy unset with the reason, never a zero.
TEMPLATE_LIST_TEST_CASE("ledger: energy is settled from the job's own run, or not measured and why",
                        "[sched][ledger][energy]", LedgerFixtures) {
  using namespace ledger_suite;
  TestType fixture;
  gosok::test::TempDir dir;
  auto ledger = ledger_with_grants(fixture.fresh_location());
  auto write_energy = [&](const JobRecord& j, const std::string& energy) {
    std::filesystem::create_directories(j.results_dir);
    gosok::test::write_file(std::filesystem::path(j.results_dir) / "diagnostics.json",
                            R"({"records": [], "energy": )" + energy + "}");
  };
  std::vector<JobRecord> jobs;
  for (int k = 0; k < 4; ++k) {
    auto j = job(2);
    j.results_dir = (dir / ("job" + std::to_string(k)) / "results").string();
    reserve(*ledger, j);
    ledger->set_submitted(j.id, std::to_string(500 + k), 0);
    jobs.push_back(*ledger->find_job(j.id));
  }
  write_energy(jobs[0], R"({"measured": true, "joules": 7200000.0, "mean_watts": 1000, "seconds": 7200, "gpus": 2,
                           "job": "500"})");
  write_energy(jobs[1], R"({"measured": true, "joules": 5.0, "mean_watts": 1, "seconds": 5, "gpus": 1,
                           "job": "999"})");
  write_energy(jobs[2], R"j({"measured": false, "reason": "NVML is not available (no driver)", "job": "502"})j");
  // jobs[3] left no diagnostics at all.
  std::vector<JobUpdate> updates;
  for (const auto& j : jobs) {
    JobUpdate u = settled(j.id, 2.0);
    attach_run_energy(u, j);
    updates.push_back(u);
  }
  ledger->apply(updates);
  CHECK(ledger->find_job(jobs[0].id)->energy_j == 7.2e6);
  for (int k = 1; k < 4; ++k) CHECK_FALSE(ledger->find_job(jobs[k].id)->energy_j.has_value());
  CHECK_THAT(ledger->find_job(jobs[1].id)->energy_note, ContainsSubstring("belongs to another run (job '999'"));
  CHECK_THAT(ledger->find_job(jobs[2].id)->energy_note, ContainsSubstring("NVML is not available"));
  CHECK_THAT(ledger->find_job(jobs[3].id)->energy_note, ContainsSubstring("left no energy record"));
  const auto bal = ledger->balance("G-1", now_seconds());
  CHECK(bal.energy_kwh == Approx(2.0));  // 7.2 MJ
  CHECK(bal.energy_jobs == 1);
  CHECK(bal.settled_jobs == 4);
}

// Grants import in one transaction: a refused grant leaves the others as they were.
TEMPLATE_LIST_TEST_CASE("ledger: an import is all or nothing; cutting a grant below its commitments is refused",
                        "[sched][ledger][grants]", LedgerFixtures) {
  using namespace ledger_suite;
  TestType fixture;
  auto ledger = open_ledger_at(fixture.fresh_location());
  auto grants = parse_grants_csv(kCsv, "g.csv");
  ledger->import_grants({{grants[0], "g.csv"}}, false);  // G-1: 10 GPU-hours
  ledger->set_members(grants[0].project, {current_user()}, "platform");
  auto a = job(6);
  reserve(*ledger, a);
  auto cut = grants[0];
  cut.gpu_hours = 4;  // below the 6 GPU-hours reserved
  CHECK_THROWS_WITH(ledger->import_grants({{grants[1], "g.csv:3"}, {cut, "g.csv:2"}}, false),
                    ContainsSubstring("g.csv:2") && ContainsSubstring("cut from 10 to 4") &&
                        ContainsSubstring("6.0000 already committed") && ContainsSubstring("--allow-cut"));
  CHECK(!ledger->find_grant("G-2"));  // nothing of that import was written
  CHECK(ledger->find_grant("G-1")->gpu_hours == 10);
  CHECK(ledger->grant_history("G-1").size() == 1);
  cut.gpu_hours = 6;  // down to what is committed: fine
  CHECK(ledger->import_grants({{cut, "g.csv"}}, false) == std::vector<std::string>{"updated"});
  cut.gpu_hours = 2;
  CHECK(ledger->import_grants({{cut, "g.csv"}, {grants[1], "g.csv"}}, true) ==
        std::vector<std::string>{"updated", "added"});
  CHECK(ledger->balance("G-1", now_seconds()).remaining == Approx(-4));
  auto b = job(0.5);
  CHECK_THROWS_AS(reserve(*ledger, b), GrantCannotCover);
}

// A submission outlived its grace and a concurrent reconcile released it; sbatch then
// succeeded. The scheduler's job is booked again when the grant still covers it, else
// nothing is booked and the caller cancels it.
TEMPLATE_LIST_TEST_CASE("ledger: a late scheduler id after a release is reserved again or refused", "[sched][ledger]",
                        LedgerFixtures) {
  using namespace ledger_suite;
  TestType fixture;
  auto ledger = ledger_with_grants(fixture.fresh_location());  // G-1: 10 GPU-hours
  auto release = [&](std::int64_t id) {
    JobUpdate u;
    u.id = id;
    u.state = "released";
    u.note = "never reached Slurm";
    ledger->apply({u});
  };
  auto a = job(6);
  reserve(*ledger, a);
  release(a.id);
  CHECK(ledger->set_submitted(a.id, "201", 0) == Booking::renewed);
  CHECK(ledger->find_job(a.id)->state == "queued");
  CHECK(ledger->find_job(a.id)->slurm_id == "201");
  CHECK(ledger->balance("G-1", now_seconds()).queued == Approx(6));
  auto b = job(3);
  reserve(*ledger, b);
  release(b.id);
  auto c = job(4);
  reserve(*ledger, c);  // takes what b had
  CHECK(ledger->set_submitted(b.id, "202", 0) == Booking::refused);
  const auto refused = ledger->find_job(b.id);
  CHECK(refused->state == "released");
  CHECK(refused->slurm_id == "202");
  CHECK_THAT(refused->note, ContainsSubstring("no longer covers it"));
  CHECK(ledger->balance("G-1", now_seconds()).remaining == Approx(0));
  // Already bound by a reconcile (found by its tag): kept as it is. (No GPUs: nothing is left.)
  auto d = job(0);
  d.gpus = 0;
  d.time_limit_s = 600;
  reserve(*ledger, d);
  JobUpdate bound;
  bound.id = d.id;
  bound.state = "queued";
  bound.slurm_id = "203";
  ledger->apply({bound});
  CHECK(ledger->set_submitted(d.id, "203", 0) == Booking::kept);
  CHECK(ledger->find_job(d.id)->state == "queued");
}

// Tags are what reconcile finds an interrupted submission by: no one may guess the next.
TEMPLATE_LIST_TEST_CASE("ledger: tags carry a random nonce", "[sched][ledger]", LedgerFixtures) {
  using namespace ledger_suite;
  TestType fixture;
  auto ledger = ledger_with_grants(fixture.fresh_location());
  auto a = job(1), b = job(1);
  reserve(*ledger, a);
  reserve(*ledger, b);
  const std::string prefix = "gosok:" + ledger->instance_id() + ":";
  CHECK_THAT(a.tag, StartsWith(prefix + std::to_string(a.id) + ":"));
  CHECK(a.tag.size() == prefix.size() + std::to_string(a.id).size() + 1 + 16);
  CHECK(a.tag.find_first_not_of("0123456789abcdef", a.tag.size() - 16) == std::string::npos);
  CHECK(a.tag.substr(a.tag.size() - 16) != b.tag.substr(b.tag.size() - 16));
  CHECK(ledger->find_job(a.id)->tag == a.tag);
}

// Who submitted a job, to which account, and what a run used past its reservation.
TEMPLATE_LIST_TEST_CASE("ledger: a job's user and account, and use past its reservation", "[sched][ledger]",
                        LedgerFixtures) {
  using namespace ledger_suite;
  TestType fixture;
  auto ledger = ledger_with_grants(fixture.fresh_location());
  auto a = job(2);
  a.account = "climate7";
  reserve(*ledger, a);
  ledger->set_submitted(a.id, "301", 0);
  auto found = ledger->find_job(a.id);
  CHECK(found->user == current_user());
  CHECK(found->account == "climate7");
  // A requeued job: its first run was charged 0.5; the reservation still holds.
  JobUpdate again;
  again.id = a.id;
  again.state = "queued";
  again.charged_gpu_h = 0.5;
  ledger->apply({again});
  CHECK(ledger->balance("G-1", now_seconds()).queued == Approx(2.5));
  CHECK(ledger->balance("G-1", now_seconds()).remaining == Approx(7.5));
  auto u = settled(a.id, 2.0);
  u.uncharged_gpu_h = 0.25;
  ledger->apply({u});
  found = ledger->find_job(a.id);
  CHECK(found->charged_gpu_h == 2.0);
  CHECK(found->uncharged_gpu_h == 0.25);
  CHECK(ledger->balance("G-1", now_seconds()).remaining == Approx(8));
}

TEMPLATE_LIST_TEST_CASE("ledger: workflows, their jobs' places, exit codes and outcomes", "[sched][ledger][workflow]",
                        LedgerFixtures) {
  using namespace ledger_suite;
  TestType fixture;
  auto ledger = ledger_with_grants(fixture.fresh_location());
  WorkflowRecord w;
  w.name = "ens";
  w.grant_id = "G-1";
  w.site = "local-slurm";
  w.file = "/home/u/wf.toml";
  w.spec = "[workflow]\nname = \"ens\"\n";
  w.overrides = "[\"nx=8\"]";
  w.output_dir = "/scratch/ens";
  w.created_at = now_seconds();
  w.id = ledger->add_workflow(w);
  CHECK(w.ref() == "w" + std::to_string(w.id));
  const auto found = ledger->find_workflow(w.id);
  REQUIRE(found);
  CHECK(found->spec == w.spec);
  CHECK(found->overrides == w.overrides);
  CHECK(found->state == "running");
  CHECK(found->user == current_user());
  ledger->set_workflow_state(w.id, "held", "grant exhausted");
  CHECK(ledger->workflows("ens").front().note == "grant exhausted");
  CHECK(ledger->workflows("ens").front().state == "held");
  CHECK(ledger->workflows("other").empty());

  // An array of two members, then a retry of member 1.
  std::vector<JobRecord> tasks(2, job(1));
  for (int k = 0; k < 2; ++k) {
    tasks[k].array_task = k;
    tasks[k].workflow_id = w.id;
    tasks[k].step = "forecast";
    tasks[k].member = k;
    tasks[k].seq = 1;
  }
  ledger->reserve(tasks);
  JobRecord retry = job(1);
  retry.workflow_id = w.id;
  retry.step = "forecast";
  retry.member = 1;
  retry.seq = 2;
  retry.attempt = 2;
  reserve(*ledger, retry);
  // The same place booked again (a second gosok advancing the workflow) is refused, whole.
  std::vector<JobRecord> again = {job(1)};
  again[0].workflow_id = w.id;
  again[0].step = "forecast";
  again[0].member = 1;
  again[0].seq = 2;
  CHECK_THROWS_AS(ledger->reserve(again), AlreadyBooked);
  CHECK(ledger->balance("G-1", now_seconds()).queued == Approx(3));

  JobUpdate done = settled(tasks[0].id, 0.5);
  done.sched_state = "FAILED";
  done.exit_code = 75;
  ledger->apply({done});
  ledger->set_outcomes({{tasks[0].id, "checkpointed"}});
  const auto jobs = ledger->workflow_jobs(w.id);
  REQUIRE(jobs.size() == 3);
  CHECK(jobs[0].exit_code == 75);
  CHECK(jobs[0].outcome == "checkpointed");
  CHECK(jobs[0].member == 0);
  CHECK(jobs[2].member == 1);
  CHECK(jobs[2].seq == 2);
  CHECK(jobs[2].attempt == 2);
  CHECK(jobs[2].segment == 1);
  CHECK(jobs[1].exit_code == -1);
  // Jobs outside any workflow keep no place.
  auto plain = job(1);
  reserve(*ledger, plain);
  CHECK(ledger->find_job(plain.id)->workflow_id == 0);
  CHECK(ledger->find_job(plain.id)->member == -1);
}
