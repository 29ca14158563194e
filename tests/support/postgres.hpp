#pragma once
// The tests' PostgreSQL: the private cluster scripts/pg-local starts (scripts/test exports
// GOSOK_TEST_POSTGRES, its connection options), a fresh database with the shared ledger set
// up per test, and Unix users to connect as (peer authentication: the Unix user is the role).
#include <string>
#include <vector>

#include "subprocess.hpp"

namespace gosok::test {

/// The test cluster's connection options ("host=DIR port=N"). A test that needs the cluster
/// fails, naming how to start one, when it is not set.
std::string postgres_server();

/// Makes the Unix user `name` unless it exists (no home, no login shell); idempotent.
void ensure_unix_user(const std::string& name);

/// argv that runs `argv` as Unix user `user` (runuser keeps the environment).
std::vector<std::string> as_user(const std::string& user, std::vector<std::string> argv);

/// A fresh database with the ledger set up by `gosok ledger setup` as the superuser, with
/// these grant administrators and reconcile accounts; dropped when the object goes.
class PostgresDatabase {
 public:
  PostgresDatabase(const std::vector<std::string>& admins, const std::vector<std::string>& reconcilers);
  ~PostgresDatabase();
  PostgresDatabase(const PostgresDatabase&) = delete;
  PostgresDatabase& operator=(const PostgresDatabase&) = delete;

  const std::string& name() const { return m_name; }
  /// How a user connects: their Unix user is their role.
  std::string location() const;
  /// As the superuser (root is mapped to postgres by the test cluster).
  std::string superuser_location() const;
  /// psql -c `sql` as Unix user `user` ("" = the superuser); output is unaligned, tuples only.
  Result sql(const std::string& sql, const std::string& user = "") const;

 private:
  std::string m_name;
};

}  // namespace gosok::test
