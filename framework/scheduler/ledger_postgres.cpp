// The PostgreSQL ledger: one database shared by every member of every project of a centre.
// The rules (who may reserve, import, settle, see what) live in the database, in
// ledger_postgres.sql; this class only calls its functions and reads what row-level
// security lets the caller see, so any other client meets the same rules.
// Concurrency: a reservation locks its grant's row, so reservations of one grant run one
// after another and each sees every earlier one, across users, processes and machines.
#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <type_traits>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/text.hpp>
#include "ledger_common.hpp"

namespace gosok::sched {

const char* postgres_ledger_schema_sql();  // generated from ledger_postgres.sql

namespace {

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;
using Param = std::optional<std::string>;

constexpr const char* kJobColumns =
    "id, grant_id, site, partition, backend, slurm_id, tag, name, workload, state, sched_state, nodes, gpus, "
    "walltime_s, charge_factor, reserved_gpu_h, charged_gpu_h, submitted_at, ended_at, elapsed_s, alloc_gpus, pid, "
    "output_dir, note, array_id, array_task, started_at, results_dir, username, energy_j, energy_note, account, "
    "uncharged_gpu_h, exit_code, workflow_id, step, member, seq, attempt, segment, outcome";
constexpr int kJobColumnCount = 41;
constexpr const char* kWorkflowColumns =
    "id, name, grant_id, site, file, spec, overrides, output_dir, state, note, created_at, updated_at, username";
// The schema version this gosok reads: the SQLite ledger's (ledger_sqlite.cpp).
constexpr const char* kSchemaVersion = "6";
constexpr const char* kGrantColumns =
    "id, project, institution, sector, site, gpu_type, gpu_hours, start_s, end_s, account, qos, imported_at, source";
constexpr const char* kActive = "('submitting','queued','running','missing')";

// Notices (IF NOT EXISTS ... skipping) are not the user's business.
void ignore_notice(void*, const char*) {}

// One connection, with gosok's error messages: a refusal by the ledger's rules (an
// exception raised by its functions, or a privilege it does not grant) is an InputError.
class Connection {
 public:
  explicit Connection(const std::string& conninfo) {
    const char* keys[] = {"dbname", "fallback_application_name", nullptr};
    const char* values[] = {conninfo.c_str(), "gosok", nullptr};
    m_conn = PQconnectdbParams(keys, values, 1);
    if (!m_conn || PQstatus(m_conn) != CONNECTION_OK) {
      const std::string why = m_conn ? trim(PQerrorMessage(m_conn)) : "out of memory";
      PQfinish(m_conn);
      m_conn = nullptr;
      // A connection string may hold a password: it is not repeated.
      const bool secret = conninfo.find("password") != std::string::npos || conninfo.find('@') != std::string::npos;
      throw RunError(fmt::format("ledger '{}': cannot connect to PostgreSQL: {}",
                                 secret ? "(connection string not shown)" : conninfo, why));
    }
    PQsetNoticeProcessor(m_conn, ignore_notice, nullptr);
    const char* host = PQhost(m_conn);
    m_describe = fmt::format("postgresql: database {} on {} as {}", PQdb(m_conn), host && *host ? host : "localhost",
                             PQuser(m_conn));
  }
  ~Connection() { PQfinish(m_conn); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& describe() const { return m_describe; }

  Result exec(const std::string& sql, const std::vector<Param>& params = {}) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    Result r(params.empty() ? PQexec(m_conn, sql.c_str())
                            : PQexecParams(m_conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                           nullptr, nullptr, 0));
    const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    const char* primary = r ? PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    const std::string message = primary ? primary : trim(PQerrorMessage(m_conn));
    const std::string code = state ? state : "";
    if (code == "P0001") throw InputError(message);  // the ledger's refusal, worded for the user
    if (code == "GK001") throw GrantCannotCover(message);
    const char* constraint = r ? PQresultErrorField(r.get(), PG_DIAG_CONSTRAINT_NAME) : nullptr;
    if (code == "23505" && constraint && std::string(constraint) == "jobs_workflow") {
      throw AlreadyBooked(fmt::format("{}: {}", m_describe, message));
    }
    if (code == "42501") {
      throw InputError(fmt::format(
          "{}: {} (refused by the shared ledger's rules; 'gosok ledger info' shows your roles)", m_describe, message));
    }
    throw RunError(fmt::format("{}: {}", m_describe, message));
  }

  // Runs `body` in one transaction; rolls back when it throws.
  template <class F>
  auto transaction(F&& body) {
    exec("BEGIN");
    try {
      if constexpr (std::is_void_v<decltype(body())>) {
        body();
        exec("COMMIT");
      } else {
        auto out = body();
        exec("COMMIT");
        return out;
      }
    } catch (...) {
      PQclear(PQexec(m_conn, "ROLLBACK"));
      throw;
    }
  }

 private:
  PGconn* m_conn = nullptr;
  std::string m_describe;
};

std::string text(const PGresult* r, int row, int col) {
  return PQgetisnull(r, row, col) ? std::string() : std::string(PQgetvalue(r, row, col));
}
std::int64_t integer(const PGresult* r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0 : std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}
double real(const PGresult* r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0.0 : std::strtod(PQgetvalue(r, row, col), nullptr);
}
bool boolean(const PGresult* r, int row, int col) { return text(r, row, col) == "t"; }

Grant grant_from(const PGresult* r, int row) {
  Grant g;
  g.id = text(r, row, 0);
  g.project = text(r, row, 1);
  g.institution = text(r, row, 2);
  g.sector = text(r, row, 3);
  g.site = text(r, row, 4);
  g.gpu_type = text(r, row, 5);
  g.gpu_hours = real(r, row, 6);
  g.start = integer(r, row, 7);
  g.end = integer(r, row, 8);
  g.account = text(r, row, 9);
  g.qos = text(r, row, 10);
  return g;
}

JobRecord job_from(const PGresult* r, int row) {
  JobRecord j;
  j.id = integer(r, row, 0);
  j.grant_id = text(r, row, 1);
  j.site = text(r, row, 2);
  j.partition = text(r, row, 3);
  j.backend = text(r, row, 4);
  j.slurm_id = text(r, row, 5);
  j.tag = text(r, row, 6);
  j.name = text(r, row, 7);
  j.workload = text(r, row, 8);
  j.state = text(r, row, 9);
  j.sched_state = text(r, row, 10);
  j.nodes = static_cast<int>(integer(r, row, 11));
  j.gpus = static_cast<int>(integer(r, row, 12));
  j.time_limit_s = integer(r, row, 13);
  j.charge_factor = real(r, row, 14);
  j.reserved_gpu_h = real(r, row, 15);
  j.charged_gpu_h = real(r, row, 16);
  j.submitted_at = integer(r, row, 17);
  j.ended_at = integer(r, row, 18);
  j.elapsed_s = integer(r, row, 19);
  j.alloc_gpus = static_cast<int>(integer(r, row, 20));
  j.pid = static_cast<int>(integer(r, row, 21));
  j.job_dir = text(r, row, 22);
  j.note = text(r, row, 23);
  j.array_id = integer(r, row, 24);
  j.array_task = PQgetisnull(r, row, 25) ? -1 : static_cast<int>(integer(r, row, 25));
  j.started_at = integer(r, row, 26);
  j.results_dir = text(r, row, 27);
  j.user = text(r, row, 28);
  if (!PQgetisnull(r, row, 29)) j.energy_j = real(r, row, 29);
  j.energy_note = text(r, row, 30);
  j.account = text(r, row, 31);
  j.uncharged_gpu_h = real(r, row, 32);
  j.exit_code = PQgetisnull(r, row, 33) ? -1 : static_cast<int>(integer(r, row, 33));
  j.workflow_id = integer(r, row, 34);
  j.step = text(r, row, 35);
  j.member = PQgetisnull(r, row, 36) ? -1 : static_cast<int>(integer(r, row, 36));
  j.seq = static_cast<int>(integer(r, row, 37));
  j.attempt = PQgetisnull(r, row, 38) ? 1 : static_cast<int>(integer(r, row, 38));
  j.segment = PQgetisnull(r, row, 39) ? 1 : static_cast<int>(integer(r, row, 39));
  j.outcome = text(r, row, 40);
  return j;
}

WorkflowRecord workflow_from(const PGresult* r, int row) {
  WorkflowRecord w;
  w.id = integer(r, row, 0);
  w.name = text(r, row, 1);
  w.grant_id = text(r, row, 2);
  w.site = text(r, row, 3);
  w.file = text(r, row, 4);
  w.spec = text(r, row, 5);
  w.overrides = text(r, row, 6);
  w.output_dir = text(r, row, 7);
  w.state = text(r, row, 8);
  w.note = text(r, row, 9);
  w.created_at = integer(r, row, 10);
  w.updated_at = integer(r, row, 11);
  w.user = text(r, row, 12);
  return w;
}

std::vector<WorkflowRecord> workflows_from(const PGresult* r) {
  std::vector<WorkflowRecord> out;
  for (int i = 0; i < PQntuples(r); ++i) out.push_back(workflow_from(r, i));
  return out;
}

std::vector<JobRecord> jobs_from(const PGresult* r) {
  std::vector<JobRecord> out;
  out.reserve(PQntuples(r));
  for (int i = 0; i < PQntuples(r); ++i) out.push_back(job_from(r, i));
  return out;
}

nlohmann::json grant_fields(const Grant& g) {
  return {{"id", g.id},
          {"project", g.project},
          {"institution", g.institution},
          {"sector", g.sector},
          {"site", g.site},
          {"gpu_type", g.gpu_type},
          {"gpu_hours", g.gpu_hours},
          {"start_s", g.start},
          {"end_s", g.end},
          {"account", g.account},
          {"qos", g.qos}};
}

std::string str(std::int64_t v) { return std::to_string(v); }
std::string str(double v) { return fmt::format("{:.17g}", v); }
Param opt(const std::string& s) { return s.empty() ? Param() : Param(s); }
Param opt(std::int64_t v) { return v == 0 ? Param() : Param(str(v)); }

class PostgresLedger final : public LedgerStore {
 public:
  explicit PostgresLedger(const std::string& conninfo) : m_db(conninfo) {
    // The schema is the administrators' (gosok ledger setup); a client only checks it is there.
    const auto r = m_db.exec(
        "SELECT session_user, has_schema_privilege(session_user, (SELECT oid FROM pg_namespace WHERE "
        "nspname='gosok'), 'USAGE')");
    m_user = text(r.get(), 0, 0);
    if (PQgetisnull(r.get(), 0, 1)) {
      throw InputError(fmt::format(
          "{}: no gosok ledger in this database: a grant administrator sets it up with 'gosok ledger setup' "
          "(docs/site-admin/ledger.md)",
          m_db.describe()));
    }
    if (!boolean(r.get(), 0, 1)) {
      throw InputError(fmt::format(
          "{}: role {} may not use the gosok ledger: it is a member of no project yet (the grant administrators "
          "import the members with 'gosok grants import-members')",
          m_db.describe(), m_user));
    }
    const auto meta = m_db.exec(
        "SELECT (SELECT value FROM gosok.meta WHERE key='instance'), (SELECT value FROM gosok.meta WHERE "
        "key='schema')");
    m_instance = text(meta.get(), 0, 0);
    if (text(meta.get(), 0, 1) != kSchemaVersion) {
      throw RunError(fmt::format(
          "{}: ledger schema {}, this gosok uses {}: a grant administrator runs this gosok's 'gosok ledger setup' "
          "(an older schema is upgraded in place)",
          m_db.describe(), text(meta.get(), 0, 1), kSchemaVersion));
    }
  }

  std::string instance_id() override { return m_instance; }
  std::string backend() const override { return "postgresql"; }
  bool read_only() const override { return false; }
  std::string describe() const override { return m_db.describe(); }

  LedgerRights access() override {
    const auto r = m_db.exec(
        "SELECT pg_has_role(session_user, 'gosok_admin', 'MEMBER'), pg_has_role(session_user, 'gosok_reconcile', "
        "'MEMBER'), (SELECT string_agg(p, E'\\n' ORDER BY p) FROM gosok.my_projects() p)");
    LedgerRights a;
    a.user = m_user;
    a.enforced = true;
    a.admin = boolean(r.get(), 0, 0);
    a.reconcile = boolean(r.get(), 0, 1);
    const std::string projects = text(r.get(), 0, 2);
    if (!projects.empty()) a.projects = split(projects, '\n');
    return a;
  }

  std::vector<std::string> import_grants(const std::vector<GrantImport>& grants, bool allow_cut) override {
    return m_db.transaction([&] {
      std::vector<std::string> results;
      for (const auto& [g, source] : grants) {
        const auto r = m_db.exec("SELECT gosok.import_grant($1::jsonb, $2, $3, $4)",
                                 {grant_fields(g).dump(), grant_terms_json(g), source, allow_cut ? "t" : "f"});
        results.push_back(text(r.get(), 0, 0));
      }
      return results;
    });
  }

  std::optional<Grant> find_grant(const std::string& id) override {
    const auto r = m_db.exec(fmt::format("SELECT {} FROM gosok.grants WHERE id=$1", kGrantColumns), {id});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return grant_from(r.get(), 0);
  }

  std::vector<Grant> grants() override {
    const auto r = m_db.exec(fmt::format("SELECT {} FROM gosok.grants ORDER BY id", kGrantColumns));
    std::vector<Grant> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(grant_from(r.get(), i));
    return out;
  }

  std::vector<GrantChange> grant_history(const std::string& id) override {
    const auto r = m_db.exec(
        "SELECT at, what, old_terms, new_terms, source, by_user FROM gosok.grant_history WHERE grant_id=$1 ORDER BY "
        "seq",
        {id});
    std::vector<GrantChange> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      out.push_back({integer(r.get(), i, 0), text(r.get(), i, 1), text(r.get(), i, 2), text(r.get(), i, 3),
                     text(r.get(), i, 4), text(r.get(), i, 5)});
    }
    return out;
  }

  GrantBalance balance(const std::string& grant_id, std::int64_t now) override {
    const auto g = find_grant(grant_id);
    if (!g) throw InputError(no_grant(grant_id));
    GrantBalance b;
    b.granted = g->gpu_hours;
    const auto r = m_db.exec(
        "SELECT state, username, count(*), sum(reserved_gpu_h), sum(charged_gpu_h), sum(energy_j), count(energy_j) "
        "FROM gosok.jobs WHERE grant_id=$1 GROUP BY state, username",
        {grant_id});
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      add_to_balance(
          b, {text(r.get(), i, 0), text(r.get(), i, 1), static_cast<int>(integer(r.get(), i, 2)), real(r.get(), i, 3),
              real(r.get(), i, 4), real(r.get(), i, 5), static_cast<int>(integer(r.get(), i, 6))});
    }
    finish_balance(b);
    const std::int64_t window_start = std::max(g->start, now - 7 * 86400);
    const double days = std::max(1.0 / 24, static_cast<double>(now - window_start) / 86400.0);
    const auto burn = m_db.exec(
        "SELECT coalesce(sum(charged_gpu_h), 0) FROM gosok.jobs WHERE grant_id=$1 AND state='settled' AND "
        "ended_at>=$2",
        {grant_id, str(window_start)});
    b.burn_per_day = real(burn.get(), 0, 0) / days;
    if (b.burn_per_day > 0) {
      const auto t = now + static_cast<std::int64_t>(std::max(0.0, b.remaining) / b.burn_per_day * 86400.0);
      if (t < g->end) b.runs_out = t;
    }
    return b;
  }

  MembersChange set_members(const std::string& project, const std::vector<std::string>& users,
                            const std::string& source) override {
    const auto r = m_db.exec("SELECT gosok.set_members($1, ARRAY(SELECT jsonb_array_elements_text($2::jsonb)), $3)",
                             {project, nlohmann::json(users).dump(), source});
    const auto j = nlohmann::json::parse(text(r.get(), 0, 0));
    return {j.at("added").get<std::vector<std::string>>(), j.at("removed").get<std::vector<std::string>>()};
  }

  std::vector<Member> members(const std::string& project) override {
    const auto r = m_db.exec(
        "SELECT project, username, source, imported_at FROM gosok.members WHERE $1='' OR project=$1 "
        "ORDER BY project, username, source",
        {project});
    std::vector<Member> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      out.push_back({text(r.get(), i, 0), text(r.get(), i, 1), text(r.get(), i, 2), integer(r.get(), i, 3)});
    }
    return out;
  }

  void reserve(std::vector<JobRecord>& jobs) override {
    if (jobs.empty()) return;
    nlohmann::json list = nlohmann::json::array();
    for (const auto& j : jobs) {
      nlohmann::json o = {{"site", j.site},
                          {"partition", j.partition},
                          {"backend", j.backend},
                          {"name", j.name},
                          {"workload", j.workload},
                          {"nodes", j.nodes},
                          {"gpus", j.gpus},
                          {"time_limit_s", j.time_limit_s},
                          {"charge_factor", j.charge_factor},
                          {"reserved_gpu_h", j.reserved_gpu_h},
                          {"job_dir", j.job_dir},
                          {"results_dir", j.results_dir},
                          {"account", j.account}};
      if (j.array_task >= 0) o["array_task"] = j.array_task;
      if (j.workflow_id > 0) {
        o.update({{"workflow_id", j.workflow_id},
                  {"step", j.step},
                  {"member", j.member},
                  {"seq", j.seq},
                  {"attempt", j.attempt},
                  {"segment", j.segment}});
      }
      list.push_back(std::move(o));
    }
    const auto r = m_db.exec("SELECT * FROM gosok.reserve($1, $2::jsonb)", {jobs.front().grant_id, list.dump()});
    if (PQntuples(r.get()) != static_cast<int>(jobs.size())) {
      throw RunError(
          fmt::format("{}: reserve booked {} rows for {} jobs", describe(), PQntuples(r.get()), jobs.size()));
    }
    // One row per job: a single job's, or each task's (found by its index).
    std::map<int, int> row_of_task;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      row_of_task[PQgetisnull(r.get(), i, 3) ? -1 : static_cast<int>(integer(r.get(), i, 3))] = i;
    }
    for (auto& job : jobs) {
      const int i = row_of_task.at(job.array_task >= 0 ? job.array_task : -1);
      job.id = integer(r.get(), i, 0);
      job.tag = text(r.get(), i, 1);
      job.array_id = integer(r.get(), i, 2);
      job.submitted_at = integer(r.get(), i, 4);
      job.state = "submitting";
      job.user = m_user;
    }
  }

  Booking set_submitted(std::int64_t id, const std::string& slurm_id, int pid) override {
    const auto r = m_db.exec("SELECT gosok.record_submission($1, $2, $3)", {str(id), slurm_id, std::to_string(pid)});
    const std::string booking = text(r.get(), 0, 0);
    return booking == "renewed" ? Booking::renewed : booking == "refused" ? Booking::refused : Booking::kept;
  }

  void release_unsubmitted(const std::vector<std::int64_t>& ids, const std::string& note) override {
    m_db.exec("SELECT gosok.release_unsubmitted($1::bigint[], $2)", {id_array(ids), note});
  }

  void note_unsubmitted(const std::vector<std::int64_t>& ids, const std::string& note) override {
    m_db.exec("SELECT gosok.note_unsubmitted($1::bigint[], $2)", {id_array(ids), note});
  }

  std::vector<std::int64_t> apply(const std::vector<JobUpdate>& updates) override {
    std::vector<std::int64_t> changed;
    if (updates.empty()) return changed;
    nlohmann::json list = nlohmann::json::array();
    for (const auto& u : updates) {
      list.push_back({{"id", u.id},
                      {"state", u.state},
                      {"sched_state", u.sched_state},
                      {"slurm_id", u.slurm_id},
                      {"charged_gpu_h", u.charged_gpu_h},
                      {"elapsed_s", u.elapsed_s},
                      {"alloc_gpus", u.alloc_gpus},
                      {"started_at", u.started_at},
                      {"ended_at", u.ended_at},
                      {"note", u.note},
                      {"energy_j", u.energy_j ? nlohmann::json(*u.energy_j) : nlohmann::json(nullptr)},
                      {"energy_note", u.energy_note},
                      {"uncharged_gpu_h", u.uncharged_gpu_h},
                      {"exit_code", u.exit_code}});
    }
    const auto r = m_db.exec("SELECT * FROM gosok.settle($1::jsonb)", {list.dump()});
    for (int i = 0; i < PQntuples(r.get()); ++i) changed.push_back(integer(r.get(), i, 0));
    return changed;
  }

  std::optional<JobRecord> find_job(std::int64_t id) override {
    const auto r = m_db.exec(fmt::format("SELECT {} FROM gosok.jobs WHERE id=$1", kJobColumns), {str(id)});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return job_from(r.get(), 0);
  }

  std::vector<JobRecord> find_array(std::int64_t array_id) override {
    return jobs_from(
        m_db.exec(fmt::format("SELECT {} FROM gosok.jobs WHERE array_id=$1 ORDER BY array_task", kJobColumns),
                  {str(array_id)})
            .get());
  }

  std::vector<JobRecord> find_jobs_by_slurm_id(const std::string& slurm_id) override {
    // "123" is job 123 or every task of array job 123 ("123_0" ..: the range below, in the
    // column's "C" collation).
    auto out = jobs_from(m_db.exec(fmt::format("SELECT {} FROM gosok.jobs WHERE slurm_id=$1 OR (strpos($1, '_')=0 AND "
                                               "slurm_id>$1||'_' AND slurm_id<$1||'`') ORDER BY id",
                                               kJobColumns),
                                   {slurm_id})
                             .get());
    // A Slurm id reused by another cluster or ledger reset: the newest job is the one meant.
    if (out.size() > 1 && !out.back().in_array()) out.erase(out.begin(), out.end() - 1);
    return out;
  }

  std::vector<JobRecord> jobs(const std::string& grant_id, bool active_only) override {
    return jobs_from(m_db.exec(fmt::format("SELECT {} FROM gosok.jobs WHERE ($1='' OR grant_id=$1) {} ORDER BY "
                                           "coalesce(array_id, id) DESC, array_task",
                                           kJobColumns, active_only ? fmt::format("AND state IN {}", kActive) : ""),
                               {grant_id})
                         .get());
  }

  std::int64_t add_workflow(const WorkflowRecord& w) override {
    const nlohmann::json fields = {
        {"name", w.name}, {"grant_id", w.grant_id},    {"site", w.site},   {"file", w.file},
        {"spec", w.spec}, {"overrides", w.overrides},  {"state", w.state}, {"output_dir", w.output_dir},
        {"note", w.note}, {"created_at", w.created_at}};
    return integer(m_db.exec("SELECT gosok.add_workflow($1::jsonb)", {fields.dump()}).get(), 0, 0);
  }

  std::optional<WorkflowRecord> find_workflow(std::int64_t id) override {
    const auto r = m_db.exec(fmt::format("SELECT {} FROM gosok.workflows WHERE id=$1", kWorkflowColumns), {str(id)});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return workflow_from(r.get(), 0);
  }

  std::vector<WorkflowRecord> workflows(const std::string& name) override {
    return workflows_from(
        m_db.exec(
                fmt::format("SELECT {} FROM gosok.workflows WHERE $1='' OR name=$1 ORDER BY id DESC", kWorkflowColumns),
                {name})
            .get());
  }

  void set_workflow_state(std::int64_t id, const std::string& state, const std::string& note) override {
    m_db.exec("SELECT gosok.set_workflow_state($1, $2, $3)", {str(id), state, note});
  }

  std::vector<JobRecord> workflow_jobs(std::int64_t workflow_id) override {
    return jobs_from(m_db.exec(fmt::format("SELECT {} FROM gosok.jobs WHERE workflow_id=$1 ORDER BY id", kJobColumns),
                               {str(workflow_id)})
                         .get());
  }

  void set_outcomes(const std::vector<std::pair<std::int64_t, std::string>>& outcomes) override {
    if (outcomes.empty()) return;
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [id, outcome] : outcomes) list.push_back({{"id", id}, {"outcome", outcome}});
    m_db.exec("SELECT gosok.set_outcomes($1::jsonb)", {list.dump()});
  }

  LedgerContent content() override {
    LedgerContent c;
    c.instance = m_instance;
    const auto g = m_db.exec(fmt::format("SELECT {} FROM gosok.grants ORDER BY id", kGrantColumns));
    for (int i = 0; i < PQntuples(g.get()); ++i) {
      c.grants.push_back({grant_from(g.get(), i), integer(g.get(), i, 11), text(g.get(), i, 12)});
    }
    const auto h = m_db.exec(
        "SELECT grant_id, at, what, old_terms, new_terms, source, by_user FROM gosok.grant_history ORDER BY seq");
    for (int i = 0; i < PQntuples(h.get()); ++i) {
      c.history.push_back({text(h.get(), i, 0),
                           {integer(h.get(), i, 1), text(h.get(), i, 2), text(h.get(), i, 3), text(h.get(), i, 4),
                            text(h.get(), i, 5), text(h.get(), i, 6)}});
    }
    c.members = members("");
    c.workflows =
        workflows_from(m_db.exec(fmt::format("SELECT {} FROM gosok.workflows ORDER BY id", kWorkflowColumns)).get());
    c.jobs = jobs_from(m_db.exec(fmt::format("SELECT {} FROM gosok.jobs ORDER BY id", kJobColumns)).get());
    return c;
  }

  std::vector<std::pair<std::int64_t, std::int64_t>> load(const LedgerContent& c) override {
    const auto may = m_db.exec("SELECT has_table_privilege(session_user, 'gosok.jobs', 'INSERT')");
    if (!boolean(may.get(), 0, 0)) {
      throw InputError(fmt::format(
          "{}: moving a ledger in writes rows that only the ledger's owner may write (everyone else goes through "
          "its functions): run gosok ledger migrate as a PostgreSQL superuser, as for gosok ledger setup",
          describe()));
    }
    return m_db.transaction([&] {
      // Reservations wait while the ledger is being filled (they take ROW EXCLUSIVE on jobs).
      m_db.exec("LOCK TABLE gosok.jobs IN SHARE ROW EXCLUSIVE MODE");
      std::map<std::string, GrantTotals> before;
      for (const auto& g : c.grants) before[g.grant.id] = totals(g.grant.id);
      for (const auto& row : c.grants) {
        if (const auto held = find_grant(row.grant.id)) {
          if (!held->same_terms(row.grant)) throw InputError(different_terms(row.grant, *held, describe()));
          continue;
        }
        const Grant& g = row.grant;
        m_db.exec(fmt::format("INSERT INTO gosok.grants ({}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
                              kGrantColumns),
                  {g.id, g.project, g.institution, g.sector, g.site, g.gpu_type, str(g.gpu_hours), str(g.start),
                   str(g.end), g.account, g.qos, str(row.imported_at), row.source});
      }
      for (const auto& h : c.history) {
        m_db.exec(
            "INSERT INTO gosok.grant_history (grant_id, at, what, old_terms, new_terms, source, by_user) "
            "SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS (SELECT 1 FROM gosok.grant_history WHERE "
            "grant_id=$1 AND at=$2 AND what=$3 AND new_terms=$5 AND source=$6)",
            {h.grant_id, str(h.change.at), h.change.what, opt(h.change.old_terms), h.change.new_terms, h.change.source,
             opt(h.change.by)});
      }
      // Through set_members, which gives new members their login role.
      std::map<std::pair<std::string, std::string>, std::set<std::string>> groups;
      for (const auto& m : members("")) groups[{m.project, m.source}].insert(m.user);
      std::set<std::pair<std::string, std::string>> touched;
      for (const auto& m : c.members) {
        groups[{m.project, m.source}].insert(m.user);
        touched.insert({m.project, m.source});
      }
      for (const auto& key : touched) {
        set_members(key.first, {groups[key].begin(), groups[key].end()}, key.second);
      }
      // Workflows first: their jobs name them. Ids are kept in an empty ledger, else new.
      const auto any_workflow = m_db.exec("SELECT count(*) FROM gosok.workflows");
      const bool keep_workflow_ids = integer(any_workflow.get(), 0, 0) == 0;
      std::map<std::int64_t, std::int64_t> new_workflow;
      for (const auto& w : c.workflows) {
        const auto r = m_db.exec(
            fmt::format("INSERT INTO gosok.workflows ({}) VALUES (coalesce($1::bigint, nextval(pg_get_serial_sequence("
                        "'gosok.workflows', 'id'))),$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) RETURNING id",
                        kWorkflowColumns),
            {keep_workflow_ids ? Param(str(w.id)) : Param(), w.name, w.grant_id, w.site, w.file, w.spec, w.overrides,
             w.output_dir, w.state, opt(w.note), str(w.created_at), str(w.updated_at),
             w.user.empty() ? current_user() : w.user});
        new_workflow[w.id] = integer(r.get(), 0, 0);
      }
      if (keep_workflow_ids && !c.workflows.empty()) {
        m_db.exec(
            "SELECT setval(pg_get_serial_sequence('gosok.workflows', 'id'), (SELECT max(id) FROM gosok.workflows))");
      }
      const auto count = m_db.exec("SELECT count(*) FROM gosok.jobs");
      const bool keep_ids = integer(count.get(), 0, 0) == 0;
      std::vector<std::pair<std::int64_t, std::int64_t>> ids;
      std::map<std::int64_t, std::int64_t> new_id;
      // Every column of kJobColumns; the array ids are set once every row has its new id.
      std::string values = "coalesce($1::bigint, nextval(pg_get_serial_sequence('gosok.jobs', 'id')))";
      for (int k = 2; k <= kJobColumnCount; ++k) values += k == 25 ? ",NULL" : fmt::format(",${}", k - (k > 25));
      const std::string insert =
          fmt::format("INSERT INTO gosok.jobs ({}) VALUES ({}) RETURNING id", kJobColumns, values);
      for (const auto& j : c.jobs) {
        std::int64_t workflow = 0;
        if (j.workflow_id != 0) {
          const auto w = new_workflow.find(j.workflow_id);
          if (w == new_workflow.end()) {
            throw InputError(fmt::format("job g{} names workflow w{}, which is not moved", j.id, j.workflow_id));
          }
          workflow = w->second;
        }
        const bool flow = workflow != 0;
        const auto r = m_db.exec(insert, {keep_ids ? Param(str(j.id)) : Param(),
                                          j.grant_id,
                                          j.site,
                                          j.partition,
                                          j.backend,
                                          opt(j.slurm_id),
                                          opt(j.tag),
                                          j.name,
                                          j.workload,
                                          j.state,
                                          opt(j.sched_state),
                                          std::to_string(j.nodes),
                                          std::to_string(j.gpus),
                                          str(j.time_limit_s),
                                          str(j.charge_factor),
                                          str(j.reserved_gpu_h),
                                          str(j.charged_gpu_h),
                                          str(j.submitted_at),
                                          opt(j.ended_at),
                                          str(j.elapsed_s),
                                          std::to_string(j.alloc_gpus),
                                          j.pid ? Param(std::to_string(j.pid)) : Param(),
                                          opt(j.job_dir),
                                          opt(j.note),
                                          j.array_task >= 0 ? Param(std::to_string(j.array_task)) : Param(),
                                          opt(j.started_at),
                                          opt(j.results_dir),
                                          j.user.empty() ? current_user() : j.user,
                                          j.energy_j ? Param(str(*j.energy_j)) : Param(),
                                          opt(j.energy_note),
                                          opt(j.account),
                                          str(j.uncharged_gpu_h),
                                          j.exit_code >= 0 ? Param(std::to_string(j.exit_code)) : Param(),
                                          flow ? Param(str(workflow)) : Param(),
                                          flow ? opt(j.step) : Param(),
                                          flow ? Param(std::to_string(j.member)) : Param(),
                                          flow ? Param(std::to_string(j.seq)) : Param(),
                                          flow ? Param(std::to_string(j.attempt)) : Param(),
                                          flow ? Param(std::to_string(j.segment)) : Param(),
                                          opt(j.outcome)});
        new_id[j.id] = integer(r.get(), 0, 0);
        ids.push_back({j.id, new_id[j.id]});
      }
      for (const auto& j : c.jobs) {
        if (!j.in_array()) continue;
        const auto head = new_id.find(j.array_id);
        if (head == new_id.end()) throw InputError(fmt::format("array task g{} has no first row", j.id));
        m_db.exec("UPDATE gosok.jobs SET array_id=$1 WHERE id=$2", {str(head->second), str(new_id[j.id])});
      }
      if (keep_ids && !c.jobs.empty()) {
        m_db.exec("SELECT setval(pg_get_serial_sequence('gosok.jobs', 'id'), (SELECT max(id) FROM gosok.jobs))");
      }
      std::map<std::string, GrantTotals> after;
      for (const auto& g : c.grants) after[g.grant.id] = totals(g.grant.id);
      check_loaded_totals(c, before, after, describe());
      return ids;
    });
  }

  GrantTotals totals(const std::string& grant_id) override {
    const auto r =
        m_db.exec(fmt::format("SELECT count(*), coalesce(sum(reserved_gpu_h) FILTER (WHERE state IN {}), 0), "
                              "coalesce(sum(charged_gpu_h), 0), "
                              "(SELECT count(*) FROM gosok.grant_history WHERE grant_id=$1) "
                              "FROM gosok.jobs WHERE grant_id=$1",
                              kActive),
                  {grant_id});
    GrantTotals t;
    t.jobs = static_cast<int>(integer(r.get(), 0, 0));
    t.reserved = real(r.get(), 0, 1);
    t.charged = real(r.get(), 0, 2);
    t.history = static_cast<int>(integer(r.get(), 0, 3));
    return t;
  }

 private:
  static std::string id_array(const std::vector<std::int64_t>& ids) {
    std::string out = "{";
    for (const auto id : ids) out += (out.size() > 1 ? "," : "") + std::to_string(id);
    return out + "}";
  }
  std::string no_grant(const std::string& id) const {
    return fmt::format("no grant '{}' in the ledger ({}); on a shared ledger you see the grants of your projects only",
                       id, describe());
  }

  Connection m_db;
  std::string m_user;
  std::string m_instance;
};

}  // namespace

std::unique_ptr<LedgerStore> open_postgres_ledger(const std::string& conninfo) {
  return std::make_unique<PostgresLedger>(conninfo);
}

std::vector<std::string> setup_postgres_ledger(const std::string& conninfo, const std::vector<std::string>& admins,
                                               const std::vector<std::string>& reconcilers) {
  for (const auto& u : admins) require_user_name("--admin", u);
  for (const auto& u : reconcilers) require_user_name("--reconcile", u);
  Connection db(conninfo);
  const auto who = db.exec(
      "SELECT rolsuper, current_database(), to_regclass('gosok.meta') IS NOT NULL FROM pg_roles WHERE "
      "rolname = current_user");
  if (!boolean(who.get(), 0, 0)) {
    throw InputError(fmt::format(
        "{}: setting up the ledger creates roles and SECURITY DEFINER functions: run it as a PostgreSQL superuser "
        "(e.g. runuser -u postgres -- gosok ledger setup ...)",
        db.describe()));
  }
  const bool existed = boolean(who.get(), 0, 2);
  if (existed) {
    const auto schema = db.exec("SELECT value FROM gosok.meta WHERE key='schema'");
    if (std::atoi(text(schema.get(), 0, 0).c_str()) > std::atoi(kSchemaVersion)) {
      throw InputError(fmt::format("{}: the ledger's schema {} is newer than this gosok's ({}): use a newer gosok",
                                   db.describe(), text(schema.get(), 0, 0), kSchemaVersion));
    }
  }
  std::vector<std::string> done;
  db.transaction([&] {
    db.exec(postgres_ledger_schema_sql());
    db.exec("RESET ROLE");
    db.exec("RESET search_path");
    done.push_back(
        fmt::format("database {}: ledger schema gosok {} (roles gosok_owner, gosok_admin, gosok_user, "
                    "gosok_reconcile; functions; row-level policies)",
                    text(who.get(), 0, 1), existed ? "upgraded in place" : "created"));
    auto give = [&](const std::string& user, const char* group) {
      const auto had = db.exec("SELECT 1 FROM pg_roles WHERE rolname=$1", {user});
      if (PQntuples(had.get()) == 0) {
        db.exec(fmt::format("CREATE ROLE \"{}\" LOGIN", user));  // require_user_name: no quote can occur
        done.push_back(fmt::format("created login role {}", user));
      }
      const auto member = db.exec("SELECT pg_has_role($1, $2, 'MEMBER')", {user, group});
      if (!boolean(member.get(), 0, 0)) {
        db.exec(fmt::format("GRANT {} TO \"{}\"", group, user));
        done.push_back(fmt::format("{} is now in {}", user, group));
      }
    };
    for (const auto& u : admins) give(u, "gosok_admin");
    for (const auto& u : reconcilers) give(u, "gosok_reconcile");
  });
  return done;
}

}  // namespace gosok::sched
