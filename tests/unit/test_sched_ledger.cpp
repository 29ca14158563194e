// The SQLite ledger: idempotent import with history, atomic reservations, settling once.
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <sqlite3.h>
#include <sys/stat.h>
#include <gosok/core/error.hpp>
#include <gosok/scheduler/accounting.hpp>
#include <gosok/scheduler/grants.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/text.hpp>

#include "subprocess.hpp"

using namespace gosok::sched;
using Catch::Approx;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;

namespace {
const std::string kCsv =
    "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n"
    "G-1,climate,KIAPS,national_project,local-slurm,fake,10,2026-01-01,2030-12-31,Climate7\n"
    "G-2,\"bio, md\",Uni,academia,local-slurm,fake,5.5,2026-01-01,2030-12-31,bio\n";

JobRecord job(double reserve) {
  JobRecord j;
  j.grant_id = "G-1";
  j.site = "local-slurm";
  j.partition = "gpu";
  j.backend = "slurm";
  j.name = "t";
  j.workload = "heat";
  j.gpus = 2;
  j.time_limit_s = 3600;
  j.reserved_gpu_h = reserve;
  j.submitted_at = now_seconds();
  return j;
}

std::string import_one(LedgerStore& ledger, const Grant& g, const std::string& source) {
  return ledger.import_grants({{g, source}}, false).at(0);
}

// Reserves one job (the ledger reserves one job, or all tasks of one array, at a time).
void reserve(LedgerStore& ledger, JobRecord& j) {
  std::vector<JobRecord> one = {j};
  ledger.reserve(one);
  j = one.front();
}
}  // namespace

TEST_CASE("grants: CSV and JSON imports, validated", "[sched][grants]") {
  const auto g = parse_grants_csv(kCsv, "g.csv");
  REQUIRE(g.size() == 2);
  CHECK(g[0].account == "climate7");  // Slurm lower-cases accounts
  CHECK(g[0].qos == "g-1");
  CHECK(g[1].project == "bio, md");
  CHECK(g[1].end - g[1].start == (parse_date("2030-12-31", "") - parse_date("2026-01-01", "")) + 86400);
  const auto j = parse_grants_json(
      R"({"grants":[{"id":"J-1","project":"p","institution":"i","sector":"industry","site":"s","gpu_type":"H200",
      "gpu_hours":12,"start":"2026-01-01","end":"2026-12-31","account":"a","qos":"QJ"}]})",
      "g.json");
  CHECK(j.at(0).gpu_hours == 12);
  CHECK(j.at(0).qos == "qj");
  auto bad = [](const std::string& from, const std::string& to) {
    std::string t = kCsv;
    t.replace(t.find(from), from.size(), to);
    try {
      parse_grants_csv(t, "g.csv");
    } catch (const gosok::InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK_THAT(bad("national_project", "government"),
             ContainsSubstring("g.csv:2") && ContainsSubstring("sector") && ContainsSubstring("national_project"));
  CHECK_THAT(bad(",10,", ",ten,"), ContainsSubstring("gpu_hours"));
  CHECK_THAT(bad("2030-12-31,Climate7", "2025-12-31,Climate7"), ContainsSubstring("'end' is before 'start'"));
  CHECK_THAT(bad("Climate7", "x;y"), ContainsSubstring("'account'"));
  CHECK_THAT(bad(",account", ",acct"), ContainsSubstring("no column 'account'"));
  // Numbers that are not numbers: inf, 1e300 and 0x10 were accepted, and provision then
  // gave Slurm GrpTRESMins=gres/gpu=-9223372036854775808 (unlimited).
  for (const std::string hours : {"inf", "1e300", "0x10", "nan", "-3", "0", "1e10", "12 GPU-hours"}) {
    INFO(hours);
    CHECK_THAT(bad(",10,", "," + hours + ","), ContainsSubstring("g.csv:2") && ContainsSubstring("'gpu_hours'"));
  }
  CHECK(parse_grants_csv(kCsv, "g.csv")[1].gpu_hours == 5.5);
  // JSON: the file and line of the grant, and of a syntax error.
  const std::string json = "{\"grants\": [\n  {\"id\": \"A\"},\n  {\"id\": \"B\", \"gpu_hours\": 1e400}\n]}\n";
  CHECK_THROWS_WITH(parse_grants_json(json, "g.json"),
                    ContainsSubstring("g.json:3:") && ContainsSubstring("not valid JSON"));
  const std::string rows =
      "[\n {\"id\":\"A\",\"project\":\"p\",\"institution\":\"i\",\"sector\":\"research\",\"site\":\"s\","
      "\"gpu_type\":\"g\",\"gpu_hours\":1,\"start\":\"2026-01-01\",\"end\":\"2026-12-31\",\"account\":\"a\"},\n"
      " {\"id\":\"B\",\"project\":\"p\",\"institution\":\"i\",\"sector\":\"research\",\"site\":\"s\","
      "\"gpu_type\":\"g\",\"gpu_hours\":\"inf\",\"start\":\"2026-01-01\",\"end\":\"2026-12-31\",\"account\":\"a\"}\n]"
      "\n";
  CHECK_THROWS_WITH(parse_grants_json(rows, "g.json"),
                    ContainsSubstring("g.json:3 (grants[1])") && ContainsSubstring("'gpu_hours'"));
}

TEST_CASE("ledger: import is idempotent and keeps history", "[sched][ledger]") {
  gosok::test::TempDir dir;
  auto ledger = open_sqlite_ledger((dir / "l.sqlite").string());
  auto grants = parse_grants_csv(kCsv, "g.csv");
  CHECK(import_one(*ledger, grants[0], "g.csv") == "added");
  CHECK(import_one(*ledger, grants[0], "g.csv") == "unchanged");
  grants[0].gpu_hours = 20;
  CHECK(import_one(*ledger, grants[0], "g2.csv") == "updated");
  CHECK(ledger->find_grant("G-1")->gpu_hours == 20);
  const auto h = ledger->grant_history("G-1");
  REQUIRE(h.size() == 2);
  CHECK_THAT(h[1].old_terms, ContainsSubstring("\"gpu_hours\":10.0"));
  CHECK_THAT(h[1].new_terms, ContainsSubstring("\"gpu_hours\":20.0"));
  // Reopening finds the same instance id (job tags stay stable).
  const auto id = ledger->instance_id();
  ledger.reset();
  CHECK(open_sqlite_ledger((dir / "l.sqlite").string())->instance_id() == id);
}

TEST_CASE("ledger: reserve, refuse, settle once, release", "[sched][ledger]") {
  gosok::test::TempDir dir;
  auto ledger = open_sqlite_ledger((dir / "l.sqlite").string());
  import_one(*ledger, parse_grants_csv(kCsv, "g.csv")[0], "g.csv");
  auto a = job(6);
  reserve(*ledger, a);
  CHECK(a.id == 1);
  CHECK_THAT(a.tag, StartsWith("gosok:" + ledger->instance_id() + ":1:"));
  auto b = job(5);
  CHECK_THROWS_WITH(reserve(*ledger, b), ContainsSubstring("cannot cover") && ContainsSubstring("4.0000 of 10.0000"));
  auto c = job(4);  // exact fit
  reserve(*ledger, c);
  ledger->set_submitted(a.id, "101", 0);
  ledger->set_submitted(c.id, "102", 0);
  auto bal = ledger->balance("G-1", now_seconds());
  CHECK(bal.queued == Approx(10));
  CHECK(bal.remaining == Approx(0));

  // Job a ran 30 min on 2 GPUs: 1 GPU-hour charged, 5 released.
  JobUpdate done;
  done.id = a.id;
  done.state = "settled";
  done.sched_state = "COMPLETED";
  done.elapsed_s = 1800;
  done.alloc_gpus = 2;
  done.charged_gpu_h = 1.0;
  done.ended_at = now_seconds();
  ledger->apply({done});
  JobUpdate again = done;
  again.charged_gpu_h = 7.0;  // a second settle must change nothing
  ledger->apply({again});
  CHECK(ledger->find_job(a.id)->charged_gpu_h == 1.0);
  JobUpdate running;
  running.id = c.id;
  running.state = "running";
  ledger->apply({running});
  bal = ledger->balance("G-1", now_seconds());
  CHECK(bal.settled == Approx(1));
  CHECK(bal.in_flight == Approx(4));
  CHECK(bal.queued == Approx(0));
  CHECK(bal.remaining == Approx(5));
  CHECK(bal.burn_per_day > 0);
  REQUIRE(bal.runs_out.has_value());
  CHECK(*bal.runs_out > now_seconds());
  auto d = job(5);
  reserve(*ledger, d);
  REQUIRE(ledger->find_jobs_by_slurm_id("101").size() == 1);
  CHECK(ledger->find_jobs_by_slurm_id("101").front().id == a.id);
  CHECK(ledger->find_jobs_by_slurm_id("10").empty());
  JobUpdate rel;
  rel.id = d.id;
  rel.state = "released";
  ledger->apply({rel});
  CHECK(ledger->balance("G-1", now_seconds()).remaining == Approx(5));
  CHECK(ledger->jobs("G-1", true).size() == 1);
  CHECK(ledger->jobs("", false).size() == 3);
}

// Every gosok command opens the ledger afresh, and the first connection of a process reads
// the whole write-ahead log back. The log must stay short: SQLite checkpoints it (every 64
// pages) only when no statement of the connection is still open at COMMIT.
TEST_CASE("ledger: the write-ahead log stays short over many commands", "[sched][ledger]") {
  gosok::test::TempDir dir;
  const std::string path = (dir / "l.sqlite").string();
  import_one(*open_sqlite_ledger(path), parse_grants_csv(kCsv, "g.csv")[0], "g.csv");
  for (int i = 0; i < 300; ++i) {  // one "command" each: open, reserve, record, close
    auto ledger = open_sqlite_ledger(path);
    auto j = job(0.001);
    reserve(*ledger, j);
    ledger->set_submitted(j.id, std::to_string(1000 + i), 0);
  }
  // About 7 pages a command: without checkpoints the log would hold some 2,100 pages (8 MB).
  const auto wal = std::filesystem::file_size(path + "-wal");
  INFO(wal);
  CHECK(wal < 128 * 4096);
  CHECK(open_sqlite_ledger(path)->jobs("", true).size() == 300);
}

TEST_CASE("ledger: an array's tasks are reserved together or not at all", "[sched][ledger][array]") {
  gosok::test::TempDir dir;
  auto ledger = open_sqlite_ledger((dir / "l.sqlite").string());
  import_one(*ledger, parse_grants_csv(kCsv, "g.csv")[0], "g.csv");  // 10 GPU-hours
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
  for (const auto& t : tasks) {
    CHECK(t.array_id == head);
    CHECK(t.tag == tasks.front().tag);
  }
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
}

namespace {

// What each schema added, undone (index v - 2 turns a schema-v ledger into a schema v-1
// one): applied from the newest down, they make a ledger as an older gosok wrote it.
const std::vector<std::vector<const char*>> kUndoSchema = {
    // 2 -> 1: arrays, start times, results folders.
    {"DROP INDEX jobs_array", "ALTER TABLE jobs DROP COLUMN array_id", "ALTER TABLE jobs DROP COLUMN array_task",
     "ALTER TABLE jobs DROP COLUMN started_at", "ALTER TABLE jobs DROP COLUMN results_dir"},
    // 3 -> 2: each job's GPU energy.
    {"ALTER TABLE jobs DROP COLUMN energy_j", "ALTER TABLE jobs DROP COLUMN energy_note"},
    // 4 -> 3: who submitted a job and to which account, use past a reservation.
    {"ALTER TABLE jobs DROP COLUMN user", "ALTER TABLE jobs DROP COLUMN account",
     "ALTER TABLE jobs DROP COLUMN uncharged_gpu_h"},
    // 5 -> 4: exit codes, workflows and their jobs' places.
    {"DROP INDEX jobs_workflow", "DROP TABLE workflows", "ALTER TABLE jobs DROP COLUMN exit_code",
     "ALTER TABLE jobs DROP COLUMN workflow_id", "ALTER TABLE jobs DROP COLUMN step",
     "ALTER TABLE jobs DROP COLUMN member", "ALTER TABLE jobs DROP COLUMN seq", "ALTER TABLE jobs DROP COLUMN attempt",
     "ALTER TABLE jobs DROP COLUMN segment", "ALTER TABLE jobs DROP COLUMN outcome"},
};

std::string schema_of(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='schema'", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const std::string v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

}  // namespace

// A ledger written by an older gosok, at any older schema, is upgraded in place step by step
// when it is first opened; its grants and jobs stay as they were.
TEST_CASE("ledger: a ledger of every older schema is upgraded and keeps its rows", "[sched][ledger]") {
  gosok::test::TempDir dir;
  {
    // The newest schema is the one an undo step exists for, plus one: a new schema needs its step here.
    const std::string newest = (dir / "newest.sqlite").string();
    open_sqlite_ledger(newest);
    CHECK(schema_of(newest) == std::to_string(kUndoSchema.size() + 1));
  }
  for (int version = 1; version <= static_cast<int>(kUndoSchema.size()); ++version) {
    DYNAMIC_SECTION("from schema " << version) {
      const std::string path = (dir / ("v" + std::to_string(version) + ".sqlite")).string();
      std::string instance;
      {
        auto ledger = open_sqlite_ledger(path);
        import_one(*ledger, parse_grants_csv(kCsv, "g.csv")[0], "g.csv");
        auto a = job(3);
        a.results_dir = "/scratch/r";
        a.user = current_user();
        a.account = "climate7";
        reserve(*ledger, a);
        ledger->set_submitted(a.id, "77", 0);
        // A settled job with its energy, which schema 3 and later keep.
        auto b = job(2);
        b.user = current_user();
        reserve(*ledger, b);
        ledger->set_submitted(b.id, "78", 0);
        JobUpdate done;
        done.id = b.id;
        done.state = "settled";
        done.sched_state = "COMPLETED";
        done.charged_gpu_h = 1;
        if (version >= 3) done.energy_j = 7.2e6;
        ledger->apply({done});
        instance = ledger->instance_id();
      }
      sqlite3* db = nullptr;
      REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
      for (int v = static_cast<int>(kUndoSchema.size()) + 1; v > version; --v) {
        for (const char* sql : kUndoSchema[v - 2]) {
          INFO(sql);
          REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
        }
      }
      const std::string set = "UPDATE meta SET value='" + std::to_string(version) + "' WHERE key='schema'";
      REQUIRE(sqlite3_exec(db, set.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
      sqlite3_close(db);
      REQUIRE(schema_of(path) == std::to_string(version));

      auto ledger = open_sqlite_ledger(path);
      CHECK(schema_of(path) == std::to_string(kUndoSchema.size() + 1));
      CHECK(ledger->instance_id() == instance);
      CHECK(ledger->find_grant("G-1")->gpu_hours == 10);
      const auto settled = ledger->jobs("", false);  // every job, newest first
      REQUIRE(settled.size() == 2);
      CHECK(settled[0].charged_gpu_h == 1);
      CHECK(settled[0].energy_j.has_value() == (version >= 3));
      CHECK(settled[0].user == current_user());
      const auto jobs = ledger->jobs("", true);  // the active one
      REQUIRE(jobs.size() == 1);
      CHECK(jobs[0].slurm_id == "77");
      CHECK(jobs[0].state == "queued");
      CHECK(jobs[0].reserved_gpu_h == 3);
      CHECK(jobs[0].results_dir == (version >= 2 ? "/scratch/r" : ""));
      CHECK(!jobs[0].in_array());
      CHECK_FALSE(jobs[0].energy_j.has_value());
      CHECK(jobs[0].energy_note.empty());
      CHECK(ledger->balance("G-1", now_seconds()).queued == Approx(3));
      // Kept, or (from before schema 4) the single-user ledger's owner's, on the grant's account.
      CHECK(jobs[0].user == current_user());
      CHECK(jobs[0].account == "climate7");
      CHECK(jobs[0].workflow_id == 0);
      CHECK(jobs[0].exit_code == -1);
      // What the newer schemas hold can be written: arrays, workflows.
      std::vector<JobRecord> tasks(2, job(1));
      tasks[0].array_task = 0;
      tasks[1].array_task = 1;
      ledger->reserve(tasks);
      CHECK(ledger->find_array(tasks[0].id).size() == 2);
      WorkflowRecord w;
      w.name = "after-upgrade";
      w.grant_id = "G-1";
      w.site = "localhost";
      w.file = "wf.toml";
      w.spec = "[workflow]";
      w.overrides = "[]";
      w.output_dir = "/o";
      w.created_at = now_seconds();
      CHECK(ledger->add_workflow(w) > 0);
      // ... and it settles with energy and an exit code like a new one.
      JobUpdate u;
      u.id = jobs[0].id;
      u.state = "settled";
      u.sched_state = "COMPLETED";
      u.energy_j = 3.6e6;
      u.exit_code = 0;
      ledger->apply({u});
      CHECK(ledger->find_job(jobs[0].id)->energy_j == 3.6e6);
      CHECK(ledger->find_job(jobs[0].id)->exit_code == 0);
      CHECK(ledger->balance("G-1", now_seconds()).energy_kwh == Approx(version >= 3 ? 3.0 : 1.0));
    }
  }
}

// Grants import in one transaction: a refused grant leaves the others as they were.
TEST_CASE("ledger: an import is all or nothing; cutting a grant below its commitments is refused",
          "[sched][ledger][grants]") {
  gosok::test::TempDir dir;
  auto ledger = open_sqlite_ledger((dir / "l.sqlite").string());
  auto grants = parse_grants_csv(kCsv, "g.csv");
  ledger->import_grants({{grants[0], "g.csv"}}, false);  // G-1: 10 GPU-hours
  auto a = job(6);
  reserve(*ledger, a);
  auto cut = grants[0];
  cut.gpu_hours = 4;  // below the 6 GPU-hours reserved
  CHECK_THROWS_WITH(ledger->import_grants({{grants[1], "g.csv:3"}, {cut, "g.csv:2"}}, false),
                    ContainsSubstring("g.csv:2") && ContainsSubstring("cut from 10 to 4") &&
                        ContainsSubstring("6.0000 already committed") && ContainsSubstring("--allow-cut"));
  CHECK(!ledger->find_grant("G-2"));  // nothing of that import was written
  CHECK(ledger->find_grant("G-1")->gpu_hours == 10);
  cut.gpu_hours = 6;  // down to what is committed: fine
  CHECK(ledger->import_grants({{cut, "g.csv"}}, false) == std::vector<std::string>{"updated"});
  cut.gpu_hours = 2;
  CHECK(ledger->import_grants({{cut, "g.csv"}, {grants[1], "g.csv"}}, true) ==
        std::vector<std::string>{"updated", "added"});
  CHECK(ledger->balance("G-1", now_seconds()).remaining == Approx(-4));
  auto b = job(0.5);
  CHECK_THROWS_WITH(reserve(*ledger, b), ContainsSubstring("cannot cover"));
}

// A submission outlived its grace and a concurrent reconcile released it; sbatch then
// succeeded. The scheduler's job is booked again when the grant still covers it, else
// nothing is booked and the caller cancels it.
TEST_CASE("ledger: a late scheduler id after a release is reserved again or refused", "[sched][ledger]") {
  gosok::test::TempDir dir;
  auto ledger = open_sqlite_ledger((dir / "l.sqlite").string());
  import_one(*ledger, parse_grants_csv(kCsv, "g.csv")[0], "g.csv");  // 10 GPU-hours
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
  // Already bound by a reconcile (found by its tag): kept as it is.
  auto d = job(0);
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
TEST_CASE("ledger: tags carry a random nonce", "[sched][ledger]") {
  gosok::test::TempDir dir;
  auto ledger = open_sqlite_ledger((dir / "l.sqlite").string());
  import_one(*ledger, parse_grants_csv(kCsv, "g.csv")[0], "g.csv");
  auto a = job(1), b = job(1);
  reserve(*ledger, a);
  reserve(*ledger, b);
  const std::string prefix = "gosok:" + ledger->instance_id() + ":";
  CHECK_THAT(a.tag, StartsWith(prefix + std::to_string(a.id) + ":"));
  CHECK(a.tag.size() == prefix.size() + std::to_string(a.id).size() + 1 + 16);
  CHECK(a.tag.substr(a.tag.size() - 16) != b.tag.substr(b.tag.size() - 16));
  CHECK(new_job_tag("x", 5) != new_job_tag("x", 5));
}

// The ledger holds grants, tags and output paths: its file, WAL and shared memory are its
// owner's alone, whatever the umask. A read-only ledger still reads.
TEST_CASE("ledger: private files; a read-only ledger reads and refuses changes", "[sched][ledger]") {
  gosok::test::TempDir dir;
  const std::string path = (dir / "l.sqlite").string();
  const mode_t old = ::umask(0);
  {
    auto ledger = open_sqlite_ledger(path);
    import_one(*ledger, parse_grants_csv(kCsv, "g.csv")[0], "g.csv");
    for (const auto& f : {path, path + "-wal", path + "-shm"}) {
      INFO(f);
      struct stat st {};
      REQUIRE(::stat(f.c_str(), &st) == 0);
      CHECK((st.st_mode & 0777) == 0600);
    }
  }
  ::umask(old);
  auto ro = open_sqlite_ledger(path, true);
  CHECK(ro->read_only());
  CHECK(ro->grants().size() == 1);
  CHECK(ro->balance("G-1", now_seconds()).remaining == Approx(10));
  auto j = job(1);
  CHECK_THROWS_WITH(reserve(*ro, j), ContainsSubstring("read-only"));
  CHECK_THROWS_AS(open_sqlite_ledger((dir / "none.sqlite").string(), true), gosok::RunError);
}

TEST_CASE("ledger: workflows, their jobs' places, exit codes and outcomes", "[sched][ledger][workflow]") {
  gosok::test::TempDir dir;
  auto ledger = open_sqlite_ledger((dir / "l.sqlite").string());
  import_one(*ledger, parse_grants_csv(kCsv, "g.csv")[0], "g.csv");
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
  ledger->set_workflow_state(w.id, "held", "grant exhausted");
  CHECK(ledger->workflows("ens").front().note == "grant exhausted");
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

  JobUpdate done;
  done.id = tasks[0].id;
  done.state = "settled";
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

TEST_CASE("accounting: exit codes from sacct, by code and by signal", "[sched][accounting]") {
  const auto recs = parse_sacct_parsable(
      "JobID|State|ElapsedRaw|AllocTRES|Comment|Start|End|ExitCode\n"
      "5|FAILED|30|gres/gpu=1|t|Unknown|Unknown|75:0\n"
      "6|CANCELLED by 0|3|gres/gpu=1|t|Unknown|Unknown|0:15\n"
      "7|COMPLETED|3|gres/gpu=1|t|Unknown|Unknown|0:0\n");
  REQUIRE(recs.size() == 3);
  CHECK(recs[0].exit_code == 75);
  CHECK(recs[1].exit_code == 128 + 15);
  CHECK(recs[2].exit_code == 0);
  const auto json = parse_sacct_json(
      R"({"jobs": [{"job_id": 5, "state": {"current": "FAILED"}, "exit_code": {"status": "FAILED", "return_code": 75}},
                   {"job_id": 6, "state": {"current": "CANCELLED"},
                    "exit_code": {"status": "SIGNALED", "return_code": 0, "signal": {"signal_id": 9, "name": "KILL"}}}]})");
  REQUIRE(json.size() == 2);
  CHECK(json[0].exit_code == 75);
  CHECK(json[1].exit_code == 137);
  JobRecord active = job(1);
  active.id = 1;
  active.slurm_id = "5";
  active.state = "running";
  const auto report = plan_reconcile({active}, Accounting{recs, true, ""}, now_seconds(), 120);
  REQUIRE(report.updates.size() == 1);
  CHECK(report.updates[0].exit_code == 75);
}

// A local job's monitor starts before submit records its pid, and may say it is held first:
// the pid is still recorded (release and cancel signal it), and the held state stays.
TEST_CASE("ledger: a job's pid is recorded even when its monitor spoke first", "[sched][ledger]") {
  gosok::test::TempDir dir;
  auto ledger = open_sqlite_ledger((dir / "l.sqlite").string());
  import_one(*ledger, parse_grants_csv(kCsv, "g.csv")[0], "g.csv");
  auto a = job(1);
  reserve(*ledger, a);
  JobUpdate held;
  held.id = a.id;
  held.state = "queued";
  held.sched_state = "PENDING";
  ledger->apply({held});
  ledger->set_submitted(a.id, "", 4242);
  auto j = ledger->find_job(a.id);
  CHECK(j->pid == 4242);
  CHECK(j->state == "queued");
  CHECK(j->sched_state == "PENDING");
  // One that already settled is left as it is.
  auto b = job(1);
  reserve(*ledger, b);
  JobUpdate done;
  done.id = b.id;
  done.state = "settled";
  done.sched_state = "COMPLETED";
  ledger->apply({done});
  ledger->set_submitted(b.id, "", 4343);
  j = ledger->find_job(b.id);
  CHECK(j->state == "settled");
  CHECK(j->pid != 4343);
}

// Settling keeps a job's GPU energy beside its GPU-hours, from its run's diagnostics.json,
// and only the energy of that very job: a record of another job or a run that measured
// nothing leaves the energy unset with the reason, never a zero.
TEST_CASE("ledger: energy is settled from the job's own run, or not measured and why", "[sched][ledger][energy]") {
  gosok::test::TempDir dir;
  auto ledger = open_sqlite_ledger((dir / "l.sqlite").string());
  import_one(*ledger, parse_grants_csv(kCsv, "g.csv")[0], "g.csv");
  auto write_energy = [&](const JobRecord& j, const std::string& energy) {
    std::filesystem::create_directories(j.results_dir);
    gosok::test::write_file(std::filesystem::path(j.results_dir) / "diagnostics.json",
                            R"({"records": [], "energy": )" + energy + "}");
  };
  std::vector<JobRecord> jobs;
  for (int k = 0; k < 4; ++k) {
    auto j = job(1);
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
    JobUpdate u;
    u.id = j.id;
    u.state = "settled";
    u.sched_state = "COMPLETED";
    u.elapsed_s = 3600;
    u.alloc_gpus = 2;
    u.charged_gpu_h = 2.0;
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
