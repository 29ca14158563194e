// The ledger's contract on SQLite (tests/support/ledger_suite.hpp, the suite PostgreSQL runs
// too), grants exports, and what only the SQLite file has: its write-ahead log, its private
// files and read-only opening, and schema upgrades in place from every older version.
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

namespace {
struct SqliteLedger {
  static constexpr const char* backend = "sqlite";
  gosok::test::TempDir dir;
  int made = 0;
  std::string fresh_location() { return "sqlite:" + (dir / ("l" + std::to_string(made++) + ".sqlite")).string(); }
  static std::string as_owner(const std::string& location) { return location; }
};
}  // namespace
using LedgerFixtures = std::tuple<SqliteLedger>;
#include "ledger_suite.hpp"

using namespace gosok::sched;
using Catch::Approx;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;

using namespace ledger_suite;

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
    // 6 -> 5: project members, who imported a grant, who submitted a workflow.
    {"DROP TABLE members", "ALTER TABLE grant_history DROP COLUMN by_user", "ALTER TABLE workflows DROP COLUMN user"},
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
      // Who imported the grant is not known from before schema 6; members can be added.
      CHECK(ledger->grant_history("G-1").at(0).by.empty());
      CHECK(ledger->set_members("climate", {"alice"}, "platform").added == std::vector<std::string>{"alice"});
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
      const auto flow = ledger->add_workflow(w);
      CHECK(ledger->find_workflow(flow)->user == current_user());
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

TEST_CASE("ledger locations: URIs and libpq options are PostgreSQL, the rest SQLite files", "[sched][ledger]") {
  using gosok::sched::parse_ledger_location;
  CHECK(parse_ledger_location("postgresql:///gosok?host=/run/postgresql").backend == "postgresql");
  CHECK(parse_ledger_location("postgres://db.example/gosok").backend == "postgresql");
  CHECK(parse_ledger_location("service=gosok").backend == "postgresql");
  CHECK(parse_ledger_location("host=/run/postgresql dbname=gosok").target == "host=/run/postgresql dbname=gosok");
  CHECK(parse_ledger_location("/home/me/ledger.sqlite").backend == "sqlite");
  CHECK(parse_ledger_location("sqlite:/tmp/a=b.sqlite").target == "/tmp/a=b.sqlite");
  CHECK(parse_ledger_location("ledger.sqlite").backend == "sqlite");
  CHECK_THROWS_AS(parse_ledger_location(""), gosok::InputError);
}
