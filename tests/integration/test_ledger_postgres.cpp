// The ledger's contract (tests/support/ledger_suite.hpp) on the test cluster's PostgreSQL,
// each case in a fresh database set up by `gosok ledger setup`, as root: root's role is a
// grant administrator and the reconcile role there (the rules for other users are checked
// from their own accounts in test_ledger_shared.cpp). And what only the server has: setup.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <memory>

#include "postgres.hpp"
#include "subprocess.hpp"

namespace {
struct PostgresLedger {
  static constexpr const char* backend = "postgresql";
  std::vector<std::unique_ptr<gosok::test::PostgresDatabase>> databases;
  std::string fresh_location() {
    databases.push_back(std::make_unique<gosok::test::PostgresDatabase>(std::vector<std::string>{"root"},
                                                                        std::vector<std::string>{"root"}));
    return databases.back()->location();
  }
  // root may connect as the superuser on the test cluster.
  static std::string as_owner(const std::string& location) { return location + " user=postgres"; }
};
}  // namespace
using LedgerFixtures = std::tuple<PostgresLedger>;
#include "ledger_suite.hpp"

using Catch::Matchers::ContainsSubstring;

TEST_CASE("postgres: setup is idempotent and keeps the rows; only a superuser sets up", "[sched][ledger][postgres]") {
  using namespace ledger_suite;
  gosok::test::PostgresDatabase db({"root"}, {"root"});
  std::string instance;
  {
    auto ledger = ledger_with_grants(db.location());
    auto a = job(2);
    reserve(*ledger, a);
    instance = ledger->instance_id();
  }
  auto r = gosok::test::run(
      {gosok::test::gosok_binary(), "ledger", "setup", "--ledger", db.superuser_location(), "--admin", "root"});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, ContainsSubstring("upgraded in place"));
  CHECK(r.output.find("created login role") == std::string::npos);  // root's role exists already
  auto ledger = open_ledger_at(db.location());
  CHECK(ledger->instance_id() == instance);
  CHECK(ledger->jobs("", false).size() == 1);
  CHECK(ledger->balance("G-1", now_seconds()).queued == Approx(2));
  // root's role is a grant administrator, not a superuser: it cannot change the rules.
  r = gosok::test::run({gosok::test::gosok_binary(), "ledger", "setup", "--ledger", db.location()});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("run it as a PostgreSQL superuser"));
  r = gosok::test::run({gosok::test::gosok_binary(), "ledger", "setup", "--ledger", "/tmp/some.sqlite"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, ContainsSubstring("needs no setup"));
  // A database without the ledger, and one that cannot be reached, say so.
  CHECK_THROWS_WITH(open_ledger_at(gosok::test::postgres_server() + " dbname=postgres"),
                    ContainsSubstring("no gosok ledger in this database") && ContainsSubstring("gosok ledger setup"));
  CHECK_THROWS_WITH(open_ledger_at("host=/nonexistent dbname=gosok"),
                    ContainsSubstring("cannot connect to PostgreSQL"));
  CHECK(ledger->backend() == "postgresql");
  CHECK_THAT(ledger->describe(), ContainsSubstring("database " + db.name()) && ContainsSubstring("as root"));
}
