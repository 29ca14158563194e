#include "postgres.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cstdlib>
#include <random>

namespace gosok::test {

std::string postgres_server() {
  const char* server = std::getenv("GOSOK_TEST_POSTGRES");
  if (!server || !*server) {
    FAIL(
        "no test PostgreSQL: start one with 'scripts/pg-local start DIR' and 'source DIR/env' "
        "(scripts/test does both)");
  }
  return server;
}

void ensure_unix_user(const std::string& name) {
  if (run({"id", "-u", name}).exit_code == 0) return;
  const auto r = run({"useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                      "--user-group", name});
  INFO(r.output);
  REQUIRE(run({"id", "-u", name}).exit_code == 0);
}

std::vector<std::string> as_user(const std::string& user, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"runuser", "-u", user, "--"});
  return argv;
}

PostgresDatabase::PostgresDatabase(const std::vector<std::string>& admins,
                                   const std::vector<std::string>& reconcilers) {
  const std::string server = postgres_server();
  std::random_device rd;
  m_name = "gosok_test_" + std::to_string(rd() % 100000000);
  auto r = run({"psql", server + " user=postgres dbname=postgres", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                "CREATE DATABASE " + m_name});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> setup = {gosok_binary(), "ledger", "setup", "--ledger", superuser_location()};
  for (const auto& a : admins) setup.insert(setup.end(), {"--admin", a});
  for (const auto& u : reconcilers) setup.insert(setup.end(), {"--reconcile", u});
  r = run(setup);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
}

PostgresDatabase::~PostgresDatabase() {
  run({"psql", postgres_server() + " user=postgres dbname=postgres", "-X", "-q", "-c",
       "DROP DATABASE IF EXISTS " + m_name + " WITH (FORCE)"});
}

std::string PostgresDatabase::location() const { return postgres_server() + " dbname=" + m_name; }
std::string PostgresDatabase::superuser_location() const { return location() + " user=postgres"; }

Result PostgresDatabase::sql(const std::string& sql, const std::string& user) const {
  std::vector<std::string> argv = {
      "psql", user.empty() ? superuser_location() : location(), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c",
      sql};
  return run(user.empty() ? argv : as_user(user, argv));
}

}  // namespace gosok::test
