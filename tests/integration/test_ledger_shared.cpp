// One grant, many users: the shared PostgreSQL ledger as a project team meets it. Every rule
// is checked from the Unix accounts it is about (peer authentication: the Unix user is the
// role), through gosok and around it with psql, so the database, not the client, is what
// refuses. With the real Slurm of scripts/slurm-local: 20 concurrent submitters from three
// users on one grant, two users' runs charged exactly from accounting, a crashed
// submitter's job repaired by the centre's reconcile. And gosok ledger migrate.
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/text.hpp>

#include "postgres.hpp"
#include "subprocess.hpp"

namespace fs = std::filesystem;
using Catch::Approx;
using Catch::Matchers::ContainsSubstring;
using gosok::test::as_user;
using gosok::test::run;

namespace {

// Three members of project climate, one of project bio, a grant administrator and the
// centre's reconcile service account.
const std::vector<std::string> kClimate = {"gsk_alice", "gsk_bob", "gsk_carol"};
const char* kDave = "gsk_dave";
const char* kAdmin = "gsk_admin";
const char* kReconcile = "gsk_recon";

bool slurm_up() {
  const char* conf = std::getenv("SLURM_CONF");
  return conf && *conf && run({"scontrol", "ping"}, 10).output.find("UP") != std::string::npos;
}

struct Team {
  std::string suffix = std::to_string(std::random_device()() % 1000000);
  std::string climate = "CLIM-" + suffix;  // the grants
  std::string bio = "BIO-" + suffix;
  std::string account = "clim" + suffix;  // Slurm accounts are the cluster's: unique per test
  gosok::test::TempDir dir;
  // root administers Slurm (grants provision) and is a grant administrator too.
  gosok::test::PostgresDatabase db{{kAdmin, "root"}, {kReconcile}};

  Team() {
    for (const auto& u : kClimate) gosok::test::ensure_unix_user(u);
    for (const char* u : {kDave, kAdmin, kReconcile}) gosok::test::ensure_unix_user(u);
    for (const auto& u : kClimate) {
      fs::create_directories(dir / u);
      REQUIRE(run({"chown", u, (dir / u).string()}).exit_code == 0);
    }
  }

  // gosok ARGS as Unix user `user` on the shared ledger, in the test's folder.
  gosok::test::Result gosok(const std::string& user, std::vector<std::string> args, double timeout = 120) {
    args.insert(args.begin(), gosok::test::gosok_binary());
    args.insert(args.end(), {"--ledger", db.location()});
    return run(user == "root" ? args : as_user(user, args), timeout, dir.path());
  }
  nlohmann::json json(const std::string& user, std::vector<std::string> args, double timeout = 120) {
    args.push_back("--json");
    const auto r = gosok(user, args, timeout);
    INFO(user << ": gosok " << args.front() << " ...\n" << r.output);
    REQUIRE(r.exit_code == 0);
    return nlohmann::json::parse(r.output);
  }
  // The grants and the members, imported by the grant administrator.
  void import(double climate_hours) {
    gosok::test::write_file(dir / "grants.csv",
                            "id,project,institution,sector,site,gpu_type,gpu_hours,start,end,account\n" + climate +
                                ",climate,KIAPS,national_project,local-slurm,fake," + std::to_string(climate_hours) +
                                ",2026-01-01,2099-12-31," + account + "\n" + bio +
                                ",bio,Uni,academia,local-slurm,fake,5,2026-01-01,2099-12-31,bio" + suffix + "\n");
    gosok::test::write_file(dir / "members.csv",
                            "project,user\nclimate,gsk_alice\nclimate,gsk_bob\nclimate,gsk_carol\n"
                            "bio,gsk_dave\n");
    auto r = gosok(kAdmin, {"grants", "import", (dir / "grants.csv").string()});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    r = gosok(kAdmin, {"grants", "import-members", (dir / "members.csv").string()});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, ContainsSubstring("project climate: 3 member(s) from platform (added gsk_alice, gsk_bob, "
                                           "gsk_carol)"));
  }
  std::vector<std::string> submit(const std::string& user, const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> a = {"submit",  "heat",  "--site",    "local-slurm",
                                  "--grant", climate, "--job-dir", (dir / user / name).string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  // A reservation made around gosok, as any client could: psql calling the ledger's function.
  gosok::test::Result psql_reserve(const std::string& user, const std::string& grant, double reserved, int gpus = 1) {
    const std::string job =
        "[{\"backend\":\"slurm\",\"gpus\":" + std::to_string(gpus) +
        ",\"time_limit_s\":3600,\"charge_factor\":1,\"reserved_gpu_h\":" + std::to_string(reserved) +
        ",\"site\":\"local-slurm\",\"partition\":\"gpu\",\"name\":\"psql\",\"workload\":\"heat\"}]";
    return db.sql("SELECT job_id FROM gosok.reserve('" + grant + "', '" + job + "')", user);
  }
};

double sum_field(const nlohmann::json& jobs, const char* field) {
  double s = 0;
  for (const auto& j : jobs) s += j[field].is_number() ? j[field].get<double>() : 0.0;
  return s;
}

}  // namespace

TEST_CASE("shared ledger: the database enforces who may do what, whatever the client", "[ledger][shared]") {
  Team t;
  t.import(10);
  const std::string alice = kClimate[0], bob = kClimate[1];

  // Only grant administrators import or change grants and members: gosok says so, and the
  // database refuses the same call made around gosok.
  auto r = t.gosok(alice, {"grants", "import", (t.dir / "grants.csv").string()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("only the grant administrators may import grants"));
  r = t.db.sql("SELECT gosok.import_grant('{\"id\":\"" + t.climate + "\"}', '{}', 'x', true)", alice);
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, ContainsSubstring("permission denied for function import_grant"));
  r = t.db.sql("SELECT gosok.set_members('climate', ARRAY['gsk_dave'], 'platform')", alice);
  CHECK_THAT(r.output, ContainsSubstring("permission denied for function set_members"));
  r = t.gosok(alice, {"grants", "import-members", (t.dir / "members.csv").string()});
  CHECK(r.exit_code == 2);
  r = t.gosok(alice, {"grants", "provision", t.climate});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("only the grant administrators may provision grants"));

  // A member cannot raise the grant's hours, or touch a job, with plain SQL.
  for (const std::string& sql : std::vector<std::string>{
           "UPDATE gosok.grants SET gpu_hours = 1e6 WHERE id = '" + t.climate + "'",
           "INSERT INTO gosok.grants (id) VALUES ('MINE')", "UPDATE gosok.jobs SET charged_gpu_h = 0",
           "DELETE FROM gosok.jobs", "UPDATE gosok.members SET project = 'bio'", "DELETE FROM gosok.grant_history"}) {
    r = t.db.sql(sql, alice);
    INFO(sql << "\n" << r.output);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output, ContainsSubstring("permission denied for table"));
  }
  CHECK(t.json(kAdmin, {"grants", "show", t.climate})["grant"]["granted_gpu_hours"] == 10.0);

  // A non-member's reservation is refused by the database; a member's is booked.
  r = t.psql_reserve(kDave, t.climate, 1);
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, ContainsSubstring("gsk_dave is not a member of project climate"));
  r = t.psql_reserve(alice, t.climate, 1);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string alice_job = gosok::trim(r.output);
  // The database checks what a client says the job needs: 4 GPUs for an hour are 4 GPU-hours.
  r = t.psql_reserve(alice, t.climate, 0.5, 4);
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, ContainsSubstring("is less than gpus x time limit x charge factor"));
  r = t.psql_reserve(alice, t.climate, 20, 20);
  CHECK_THAT(r.output, ContainsSubstring("cannot cover this job"));
  // Several jobs in one reservation are the tasks of one array, each with its own index.
  const std::string one = R"({"backend":"slurm","gpus":1,"time_limit_s":3600,"charge_factor":1,"reserved_gpu_h":1,)"
                          R"("site":"local-slurm","partition":"gpu","name":"psql","workload":"heat")";
  r = t.db.sql("SELECT job_id FROM gosok.reserve('" + t.climate + "', '[" + one + "}, " + one + "}]')", alice);
  CHECK_THAT(r.output, ContainsSubstring("must be the tasks of one array"));
  r = t.db.sql("SELECT job_id FROM gosok.reserve('" + t.climate + "', '[" + one + R"(,"array_task":-1}]'))", alice);
  CHECK_THAT(r.output, ContainsSubstring("array_task must be >= 0"));
  REQUIRE(t.psql_reserve(kDave, t.bio, 2, 2).exit_code == 0);

  // Nobody but the reconcile role settles, and a member cannot end another's reservation.
  r = t.db.sql("SELECT * FROM gosok.settle('[{\"id\": " + alice_job + ", \"state\": \"released\"}]')", alice);
  CHECK_THAT(r.output, ContainsSubstring("permission denied for function settle"));
  CHECK(t.db.sql("SELECT * FROM gosok.release_unsubmitted(ARRAY[" + alice_job + "]::bigint[], 'x')", bob).output == "");
  r = t.db.sql("SELECT gosok.record_submission(" + alice_job + ", '5', 0)", bob);
  CHECK_THAT(r.output, ContainsSubstring("is not a job gsk_bob reserved"));
  CHECK(t.db.sql("SELECT * FROM gosok.note_unsubmitted(ARRAY[" + alice_job + "]::bigint[], 'x')", bob).output == "");
  CHECK(
      t.db.sql("SELECT state || coalesce(slurm_id, '-') || coalesce(note, '-') FROM gosok.jobs WHERE id = " + alice_job)
          .output == "submitting--\n");
  CHECK(t.db.sql("SELECT * FROM gosok.set_outcomes('[{\"id\": " + alice_job + ", \"outcome\": \"x\"}]')", bob).output ==
        "");
  // Workflows: only a project's members add them, only their owner changes them, and a
  // workflow job is booked only on one's own workflow.
  const std::string flow = R"({"name":"ens","grant_id":")" + t.climate +
                           R"(","site":"local-slurm","file":"f","spec":"s","overrides":"[]","output_dir":"/o"})";
  r = t.db.sql("SELECT gosok.add_workflow('" + flow + "')", kDave);
  CHECK_THAT(r.output, ContainsSubstring("gsk_dave is not a member of project climate"));
  r = t.db.sql("SELECT gosok.add_workflow('" + flow + "')", alice);
  REQUIRE(r.exit_code == 0);
  const std::string alice_flow = gosok::trim(r.output);
  r = t.db.sql("SELECT gosok.set_workflow_state(" + alice_flow + ", 'cancelled', 'mine now')", bob);
  CHECK_THAT(r.output, ContainsSubstring("is not one of gsk_bob's"));
  r = t.db.sql("SELECT job_id FROM gosok.reserve('" + t.climate + "', '[" + one + R"(,"workflow_id":)" + alice_flow +
                   R"(,"step":"a","member":-1,"seq":1}]'))",
               bob);
  CHECK_THAT(r.output, ContainsSubstring("is not one of yours"));
  CHECK(t.db.sql("SELECT state FROM gosok.workflows WHERE id = " + alice_flow).output == "running\n");
  gosok::test::write_file(t.dir / "sacct.txt", "JobID|State|ElapsedRaw|AllocTRES|Comment|Start|End\n");
  r = t.gosok(alice, {"reconcile", "--from-sacct", (t.dir / "sacct.txt").string(), "--grace", "0"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("only the centre's reconcile service settles"));

  // Each member sees the project's one balance, with who reserved what; not other projects'.
  for (const auto& user : kClimate) {
    const auto show = t.json(user, {"grants", "show", t.climate});
    INFO(user << ": " << show.dump(2));
    CHECK(show["grant"]["queued_gpu_hours"] == 1.0);
    CHECK(show["grant"]["remaining_gpu_hours"] == 9.0);
    REQUIRE(show["grant"]["by_member"].size() == 1);
    CHECK(show["grant"]["by_member"][0]["user"] == alice);
    CHECK(show["grant"]["by_member"][0]["queued_gpu_hours"] == 1.0);
    REQUIRE(show["jobs"].size() == 1);
    CHECK(show["jobs"][0]["user"] == alice);
    CHECK(show["members"].size() == 3);
    const auto list = t.json(user, {"grants", "list"})["grants"];
    REQUIRE(list.size() == 1);
    CHECK(list[0]["id"] == t.climate);
  }
  r = t.gosok(kDave, {"grants", "show", t.climate});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("no grant '" + t.climate + "'") && ContainsSubstring("your projects only"));
  CHECK(gosok::trim(t.db.sql("SELECT count(*) FROM gosok.jobs", kDave).output) == "1");  // his own project's
  CHECK(gosok::trim(t.db.sql("SELECT string_agg(id, ',') FROM gosok.grants", alice).output) == t.climate);
  CHECK(gosok::trim(t.db.sql("SELECT count(*) FROM gosok.members", alice).output) == "3");
  // The grant administrators and the reconcile role see everything.
  CHECK(t.json(kAdmin, {"grants", "list"})["grants"].size() == 2);
  CHECK(t.json(kReconcile, {"status", "--all", "--no-refresh"})["jobs"].size() == 2);

  // Who am I to the ledger.
  const auto info = t.json(alice, {"ledger", "info"});
  CHECK(info["backend"] == "postgresql");
  CHECK(info["rules_enforced_by_database"] == true);
  CHECK(info["projects"] == nlohmann::json::array({"climate"}));
  CHECK(info["grant_administrator"] == false);
  CHECK(info["reconcile"] == false);
  CHECK(t.json(kAdmin, {"ledger", "info"})["grant_administrator"] == true);
  // A Unix user the ledger has never heard of has no role: the server refuses the connection.
  gosok::test::ensure_unix_user("gsk_erin");
  r = t.gosok("gsk_erin", {"grants", "list"});
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, ContainsSubstring("role \"gsk_erin\" does not exist"));

  // The reconcile role settles: the psql reservations never reached Slurm (which sacct and
  // squeue prove; a recorded sacct output would not).
  r = t.gosok(kReconcile, {"reconcile", "--from-sacct", (t.dir / "sacct.txt").string(), "--grace", "0"});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.output, ContainsSubstring("NOT PROVEN absent"));
  r = t.gosok(kReconcile, {"reconcile", "--grace", "0"});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("2 released"));
  CHECK(t.json(bob, {"grants", "show", t.climate})["grant"]["remaining_gpu_hours"] == 10.0);

  // Members removed from the platform's export lose the project; a second source adds.
  gosok::test::write_file(t.dir / "members2.json",
                          R"({"members": [{"project": "climate", "user": "gsk_alice"},
                                          {"project": "climate", "user": "gsk_bob"}]})");
  r = t.gosok(kAdmin, {"grants", "import-members", (t.dir / "members2.json").string()});
  CHECK_THAT(r.output, ContainsSubstring("project climate: 2 member(s) from platform (removed gsk_carol)"));
  CHECK(t.psql_reserve(kClimate[2], t.climate, 1).exit_code != 0);
  CHECK(t.json(kClimate[2], {"grants", "list"})["grants"].empty());
}

// The site (or the user config) chooses the shared ledger: no --ledger anywhere.
TEST_CASE("shared ledger: chosen by the site file or the user config", "[ledger][shared]") {
  Team t;
  t.import(10);
  const std::string site = (t.dir / "team-site.toml").string();
  auto text = gosok::test::read_file(gosok::test::source_dir() / "site_configs/local-slurm.toml");
  text.replace(text.find("[site]\n"), 7, "[site]\nledger = \"" + t.db.location() + "\"\n");
  gosok::test::write_file(site, text);
  auto r = run(as_user(kClimate[0], {"env", "GOSOK_SITE=" + site, gosok::test::gosok_binary(), "grants", "list"}), 60,
               t.dir.path());
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring(t.climate) && ContainsSubstring("postgresql: database " + t.db.name()));
  fs::create_directories(t.dir / "config" / "gosok");
  gosok::test::write_file(t.dir / "config" / "gosok" / "config.toml", "ledger = \"" + t.db.location() + "\"\n");
  r = run(as_user(kClimate[1], {"env", "XDG_CONFIG_HOME=" + (t.dir / "config").string(), gosok::test::gosok_binary(),
                                "ledger", "info"}),
          60, t.dir.path());
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("gsk_bob") && ContainsSubstring("member of:           climate"));
}

TEST_CASE("shared ledger: 20 concurrent submitters from 3 users never over-reserve; every job is accounted for",
          "[ledger][shared][slurm][concurrency]") {
  if (!slurm_up()) FAIL("no test Slurm: scripts/test starts one (scripts/slurm-local)");
  Team t;
  // 6 jobs of 1 GPU x (10 minutes + the site's 40 s overrun), not 7.
  const double each = 640 / 3600.0;
  t.import(1.1);
  auto r = t.gosok("root", {"grants", "provision", t.climate});  // the members' associations
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("added user gsk_carol"));
  // Membership from Slurm's associations agrees with the platform's (kept as a second source).
  r = t.gosok("root", {"grants", "import-members", "--from-slurm"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output,
             ContainsSubstring("project climate: 3 member(s) from slurm (added gsk_alice, gsk_bob, gsk_carol)"));
  CHECK_THAT(r.output, ContainsSubstring("project bio: 0 member(s) from slurm (unchanged)"));
  CHECK(t.json(kClimate[0], {"grants", "members", "climate"})["members"].size() == 6);
  std::vector<std::future<gosok::test::Result>> runs;
  for (int i = 0; i < 20; ++i) {
    const std::string user = kClimate[i % 3];
    runs.push_back(std::async(std::launch::async, [&t, user, i] {
      return t.gosok(user, t.submit(user, "c" + std::to_string(i), {"--gpus-per-node", "1", "-t", "10", "--hold"}));
    }));
  }
  const auto outcome = gosok::test::tally(runs, "cannot cover");
  CHECK(outcome.ok == 6);
  CHECK(outcome.refused == 14);
  // Slurm holds exactly the jobs the ledger booked, each under its submitter's name.
  const auto q = run({"squeue", "-h", "-A", t.account, "-o", "%i %u"});
  std::map<std::string, std::string> in_slurm;  // Slurm id -> user
  std::istringstream lines(q.output);
  for (std::string id, user; lines >> id >> user;) in_slurm[id] = user;
  CHECK(in_slurm.size() == 6);
  const auto jobs = t.json(kReconcile, {"status", "--all", "--no-refresh"})["jobs"];
  REQUIRE(jobs.size() == 6);
  for (const auto& j : jobs) {
    INFO(j.dump());
    CHECK(j["state"] == "queued");
    REQUIRE(j["slurm_id"].is_string());
    CHECK(in_slurm[j["slurm_id"].get<std::string>()] == j["user"]);
  }
  // One balance for the three of them: all of it queued, split by who reserved it.
  for (const auto& user : kClimate) {
    const auto g = t.json(user, {"grants", "show", t.climate})["grant"];
    CHECK(g["queued_gpu_hours"].get<double>() == Approx(6 * each));
    CHECK(g["remaining_gpu_hours"].get<double>() == Approx(1.1 - 6 * each));
    double by_member = 0;
    for (const auto& m : g["by_member"]) by_member += m["queued_gpu_hours"].get<double>();
    CHECK(by_member == Approx(6 * each));
  }
  // Each cancels their own; the centre's reconcile settles them: held jobs never ran, no charge.
  for (const auto& j : jobs) {
    r = t.gosok(j["user"].get<std::string>(), {"cancel", j["id"].get<std::string>()});
    INFO(r.output);
    CHECK(r.exit_code == 0);
  }
  const auto settled = t.json(kReconcile, {"status", "--wait", "--timeout", "120", "--all"}, 180)["jobs"];
  REQUIRE(settled.size() == 6);
  for (const auto& j : settled) {
    CHECK(j["state"] == "settled");
    CHECK(j["scheduler_state"] == "CANCELLED");
    CHECK(j["charged_gpu_hours"] == 0.0);
  }
  const auto g = t.json(kClimate[0], {"grants", "show", t.climate})["grant"];
  CHECK(g["settled_jobs"] == 6);
  CHECK(g["remaining_gpu_hours"].get<double>() == Approx(1.1));
}

TEST_CASE("shared ledger: two users' runs are charged exactly; a crashed submitter's job is repaired by reconcile",
          "[ledger][shared][slurm][crash]") {
  if (!slurm_up()) FAIL("no test Slurm: scripts/test starts one (scripts/slurm-local)");
  Team t;
  t.import(1);
  REQUIRE(t.gosok("root", {"grants", "provision", t.climate}).exit_code == 0);
  const std::string alice = kClimate[0], bob = kClimate[1], carol = kClimate[2];
  std::vector<std::future<gosok::test::Result>> runs;
  for (const auto& user : {alice, bob}) {
    for (int i = 0; i < 2; ++i) {
      runs.push_back(std::async(std::launch::async, [&t, user, i] {
        return t.gosok(user, t.submit(user, "run" + std::to_string(i), {"--gpus-per-node", "1", "-t", "3"}));
      }));
    }
  }
  for (auto& f : runs) {
    const auto res = f.get();
    INFO(res.output);
    CHECK(res.exit_code == 0);
  }
  // carol's gosok dies between sbatch and recording the job's Slurm id.
  auto r = run(
      as_user(carol, {"env", "GOSOK_TEST_CRASH_AFTER_SBATCH=1", gosok::test::gosok_binary(), "submit", "heat", "--site",
                      "local-slurm", "--grant", t.climate, "--job-dir", (t.dir / carol / "crash").string(),
                      "--gpus-per-node", "1", "-t", "3", "--ledger", t.db.location()}),
      120, t.dir.path());
  INFO(r.output);
  CHECK(r.exit_code == 70);
  auto mine = t.json(carol, {"status", "--all"})["jobs"];  // no refresh: carol may not settle
  REQUIRE(mine.size() == 5);
  std::string crashed;
  for (const auto& j : mine) {
    if (j["user"] == carol) {
      CHECK(j["state"] == "submitting");
      CHECK(j["slurm_id"].is_null());
      crashed = j["id"];
    }
  }
  REQUIRE(!crashed.empty());
  // Her own status cannot repair it (only the reconcile role settles): still submitting.
  for (const auto& j : t.json(carol, {"status", crashed})["jobs"]) CHECK(j["state"] == "submitting");
  // The centre's reconcile (the service account; sacct --allusers) settles everyone's jobs.
  const auto jobs = t.json(kReconcile, {"status", "--wait", "--timeout", "240", "--all"}, 300)["jobs"];
  REQUIRE(jobs.size() == 5);
  std::map<std::string, double> by_user;
  for (const auto& j : jobs) {
    INFO(j.dump(2));
    CHECK(j["state"] == "settled");
    CHECK(j["scheduler_state"] == "COMPLETED");
    REQUIRE(j["slurm_id"].is_string());
    const std::string id = j["slurm_id"];
    const auto sacct = run({"sacct", "-X", "-n", "-P", "-j", id, "--format=ElapsedRaw,AllocTRES,User"});
    INFO(sacct.output);
    const auto fields = gosok::sched::split(gosok::trim(sacct.output), '|');
    REQUIRE(fields.size() == 3);
    CHECK(fields[2] == j["user"]);
    CHECK_THAT(fields[1], ContainsSubstring("gres/gpu=1"));
    CHECK(j["elapsed_s"].get<double>() == std::stod(fields[0]));
    CHECK(j["charged_gpu_hours"].get<double>() == Approx(std::stod(fields[0]) / 3600.0));
    by_user[j["user"]] += j["charged_gpu_hours"].get<double>();
  }
  CHECK(by_user.size() == 3);
  const auto g = t.json(bob, {"grants", "show", t.climate})["grant"];
  CHECK(g["settled_gpu_hours"].get<double>() == Approx(sum_field(jobs, "charged_gpu_hours")));
  CHECK(g["queued_gpu_hours"] == 0.0);
  for (const auto& m : g["by_member"]) {
    CHECK(m["settled_gpu_hours"].get<double>() == Approx(by_user[m["user"]]));
  }
  // Settling twice changes nothing.
  r = t.gosok(kReconcile, {"reconcile"});
  CHECK_THAT(r.output, ContainsSubstring("0 job(s) updated"));
}

TEST_CASE("shared ledger: gosok ledger migrate moves users' SQLite ledgers in and checks the totals",
          "[ledger][shared][migrate]") {
  using namespace gosok::sched;
  Team t;
  t.import(10);
  // Two members' own ledgers from before: the same grant, their own jobs, one settled each.
  auto own_ledger = [&](const std::string& user, double charged) {
    const std::string path = (t.dir / (user + ".sqlite")).string();
    auto l = open_ledger_at(path);
    Grant g = parse_grants_csv(read_text_file((t.dir / "grants.csv").string()), "grants.csv").at(0);
    l->import_grants({{g, user + "-grants.csv"}}, false);
    for (int i = 0; i < 2; ++i) {
      std::vector<JobRecord> one(1);
      auto& j = one[0];
      j.grant_id = g.id;
      j.site = "local-slurm";
      j.partition = "gpu";
      j.backend = "slurm";
      j.name = "old";
      j.workload = "heat";
      j.gpus = 1;
      j.time_limit_s = 3600;
      j.reserved_gpu_h = 1;
      l->reserve(one);
      l->set_submitted(one[0].id, std::to_string(7000 + i), 0);
      if (i == 0) {
        JobUpdate u;
        u.id = one[0].id;
        u.state = "settled";
        u.sched_state = "COMPLETED";
        u.charged_gpu_h = charged;
        u.ended_at = now_seconds();
        l->apply({u});
      }
    }
    // A row that records no user (as a gosok before schema 4 left it); the file is the user's.
    REQUIRE(run({"sqlite3", path, "UPDATE jobs SET user = NULL"}).exit_code == 0);
    REQUIRE(run({"chown", user, path}).exit_code == 0);
    return path;
  };
  const std::string alice = kClimate[0], bob = kClimate[1];
  const auto a = own_ledger(alice, 0.25), b = own_ledger(bob, 0.5);
  // As a grant administrator (not the owner): refused, nothing written.
  auto r = run({gosok::test::gosok_binary(), "ledger", "migrate", "--from", "sqlite:" + a, "--to", t.db.location()});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("run gosok ledger migrate as a PostgreSQL superuser"));
  r = run(
      {gosok::test::gosok_binary(), "ledger", "migrate", "--from", "sqlite:" + a, "--to", t.db.superuser_location()});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("totals match") && ContainsSubstring("moved 1 grant(s), 1 history entries"));
  CHECK_THAT(r.output, ContainsSubstring("job ids are unchanged"));
  r = run({gosok::test::gosok_binary(), "ledger", "migrate", "--from", "sqlite:" + b, "--to", t.db.superuser_location(),
           "--json"});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto second = nlohmann::json::parse(r.output);
  CHECK(second["totals_match"] == true);
  CHECK(second["jobs"][0]["to"].get<int>() > 2);  // renumbered after alice's
  // Both see one balance holding both ledgers' jobs, each under its owner's name.
  const auto show = t.json(bob, {"grants", "show", t.climate});
  INFO(show.dump(2));
  CHECK(show["grant"]["settled_gpu_hours"].get<double>() == Approx(0.75));
  CHECK(show["grant"]["queued_gpu_hours"].get<double>() == Approx(2.0));
  CHECK(show["jobs"].size() == 4);
  std::map<std::string, int> owners;
  for (const auto& j : show["jobs"]) owners[j["user"]]++;
  CHECK(owners[alice] == 2);
  CHECK(owners[bob] == 2);
  // The administrator's import and each moved ledger's own.
  REQUIRE(show["history"].size() == 3);
  CHECK(show["history"][1]["source"] == alice + "-grants.csv");
  CHECK(show["history"][2]["source"] == bob + "-grants.csv");
  // The moved jobs are the reconcile's to settle, by their Slurm ids, as before.
  CHECK(t.json(kReconcile, {"status", "7000", "--no-refresh"})["jobs"].size() == 1);
}
