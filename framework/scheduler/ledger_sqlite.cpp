// The SQLite ledger. Concurrency: WAL lets readers run beside one writer; every change runs
// in BEGIN IMMEDIATE, which takes the write lock before reading the balance, so two
// processes can never both see the same remaining hours and both reserve them.
#include <fmt/format.h>
#include <sqlite3.h>

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/private_files.hpp>
#include <gosok/scheduler/text.hpp>
#include "ledger_common.hpp"

namespace gosok::sched {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS grants (
  id TEXT PRIMARY KEY, project TEXT NOT NULL, institution TEXT NOT NULL, sector TEXT NOT NULL,
  site TEXT NOT NULL, gpu_type TEXT NOT NULL, gpu_hours REAL NOT NULL, start_s INTEGER NOT NULL,
  end_s INTEGER NOT NULL, account TEXT NOT NULL, qos TEXT NOT NULL, imported_at INTEGER NOT NULL,
  source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS grant_history (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, grant_id TEXT NOT NULL, at INTEGER NOT NULL,
  what TEXT NOT NULL, old_terms TEXT, new_terms TEXT NOT NULL, source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, grant_id TEXT NOT NULL REFERENCES grants(id),
  site TEXT NOT NULL, partition TEXT NOT NULL, backend TEXT NOT NULL, slurm_id TEXT, tag TEXT,
  name TEXT NOT NULL, workload TEXT NOT NULL, state TEXT NOT NULL, sched_state TEXT,
  nodes INTEGER NOT NULL, gpus INTEGER NOT NULL, walltime_s INTEGER NOT NULL,
  charge_factor REAL NOT NULL, reserved_gpu_h REAL NOT NULL, charged_gpu_h REAL NOT NULL DEFAULT 0,
  submitted_at INTEGER NOT NULL, ended_at INTEGER, elapsed_s INTEGER, alloc_gpus INTEGER,
  pid INTEGER, output_dir TEXT, note TEXT);
-- Covering index: the balance check of every reservation reads only this index.
CREATE INDEX IF NOT EXISTS jobs_grant_state ON jobs(grant_id, state, charged_gpu_h, reserved_gpu_h);
CREATE INDEX IF NOT EXISTS jobs_slurm ON jobs(slurm_id);
)sql";

// Schema 2 (job arrays, start times, results folders), also applied to a schema-1 ledger
// when it is first opened; the rows it holds stay as they are.
constexpr const char* kSchema2 = R"sql(
ALTER TABLE jobs ADD COLUMN array_id INTEGER;
ALTER TABLE jobs ADD COLUMN array_task INTEGER;
ALTER TABLE jobs ADD COLUMN started_at INTEGER;
ALTER TABLE jobs ADD COLUMN results_dir TEXT;
CREATE INDEX IF NOT EXISTS jobs_array ON jobs(array_id, array_task);
UPDATE meta SET value='2' WHERE key='schema';
)sql";

// Schema 3: each settled job's GPU energy (joules, or why it was not measured).
constexpr const char* kSchema3 = R"sql(
ALTER TABLE jobs ADD COLUMN energy_j REAL;
ALTER TABLE jobs ADD COLUMN energy_note TEXT;
UPDATE meta SET value='3' WHERE key='schema';
)sql";

// Schema 4: who submitted a job and to which Slurm account (a job found by its tag must be
// theirs), and use past a run's reservation that was not charged.
constexpr const char* kSchema4 = R"sql(
ALTER TABLE jobs ADD COLUMN user TEXT;
ALTER TABLE jobs ADD COLUMN account TEXT;
ALTER TABLE jobs ADD COLUMN uncharged_gpu_h REAL NOT NULL DEFAULT 0;
UPDATE jobs SET account=(SELECT account FROM grants WHERE grants.id=jobs.grant_id);
UPDATE meta SET value='4' WHERE key='schema';
)sql";

// Schema 5: exit codes, workflows and the workflow jobs' place in them. A workflow job is
// booked once per (workflow, step, member, seq), so that two gosok processes advancing the
// same workflow can never both submit its next job.
constexpr const char* kSchema5 = R"sql(
ALTER TABLE jobs ADD COLUMN exit_code INTEGER;
ALTER TABLE jobs ADD COLUMN workflow_id INTEGER;
ALTER TABLE jobs ADD COLUMN step TEXT;
ALTER TABLE jobs ADD COLUMN member INTEGER;
ALTER TABLE jobs ADD COLUMN seq INTEGER;
ALTER TABLE jobs ADD COLUMN attempt INTEGER;
ALTER TABLE jobs ADD COLUMN segment INTEGER;
ALTER TABLE jobs ADD COLUMN outcome TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS jobs_workflow ON jobs(workflow_id, step, member, seq) WHERE workflow_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS workflows (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, grant_id TEXT NOT NULL REFERENCES grants(id),
  site TEXT NOT NULL, file TEXT NOT NULL, spec TEXT NOT NULL, overrides TEXT NOT NULL, output_dir TEXT NOT NULL,
  state TEXT NOT NULL, note TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS workflows_name ON workflows(name);
UPDATE meta SET value='5' WHERE key='schema';
)sql";

// Schema 6: who imported each grant, who submitted each workflow, and the projects' members
// (who may reserve on a shared ledger; the same tables as there, so a ledger moves over whole).
constexpr const char* kSchema6 = R"sql(
ALTER TABLE grant_history ADD COLUMN by_user TEXT;
ALTER TABLE workflows ADD COLUMN user TEXT;
CREATE TABLE IF NOT EXISTS members (
  project TEXT NOT NULL, username TEXT NOT NULL, source TEXT NOT NULL, imported_at INTEGER NOT NULL,
  PRIMARY KEY (project, username, source));
UPDATE meta SET value='6' WHERE key='schema';
)sql";
constexpr int kSchemaVersion = 6;

// The states whose reservation (and earlier runs' charge) still counts against the grant.
constexpr const char* kActiveStates = "('submitting','queued','running','missing')";

constexpr const char* kJobColumns =
    "id, grant_id, site, partition, backend, slurm_id, tag, name, workload, state, sched_state, nodes, gpus, "
    "walltime_s, charge_factor, reserved_gpu_h, charged_gpu_h, submitted_at, ended_at, elapsed_s, alloc_gpus, pid, "
    "output_dir, note, array_id, array_task, started_at, results_dir, energy_j, energy_note, user, account, "
    "uncharged_gpu_h, exit_code, workflow_id, step, member, seq, attempt, segment, outcome";

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : m_db(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &m_stmt, nullptr) != SQLITE_OK) {
      throw RunError(fmt::format("ledger: {} (in: {})", sqlite3_errmsg(db), sql));
    }
  }
  ~Stmt() { sqlite3_finalize(m_stmt); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(m_stmt, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, const char* v) { return bind(i, std::string(v)); }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(m_stmt, i, v);
    return *this;
  }
  Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(m_stmt, i, v);
    return *this;
  }
  Stmt& bind_null(int i) {
    sqlite3_bind_null(m_stmt, i);
    return *this;
  }
  bool step() {
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    // A workflow job's place (workflow, step, member, seq) is booked once (schema 5).
    if (sqlite3_extended_errcode(m_db) == SQLITE_CONSTRAINT_UNIQUE &&
        std::string(sqlite3_errmsg(m_db)).find("jobs.workflow_id") != std::string::npos) {
      throw AlreadyBooked(fmt::format("ledger: {}", sqlite3_errmsg(m_db)));
    }
    throw RunError(fmt::format("ledger: {}", sqlite3_errmsg(m_db)));
  }
  void reset() {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
  }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(m_stmt, c);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  std::int64_t integer(int c) const { return sqlite3_column_int64(m_stmt, c); }
  double real(int c) const { return sqlite3_column_double(m_stmt, c); }
  bool is_null(int c) const { return sqlite3_column_type(m_stmt, c) == SQLITE_NULL; }

 private:
  sqlite3* m_db;
  sqlite3_stmt* m_stmt = nullptr;
};

Grant grant_from(const Stmt& s) {
  Grant g;
  g.id = s.text(0);
  g.project = s.text(1);
  g.institution = s.text(2);
  g.sector = s.text(3);
  g.site = s.text(4);
  g.gpu_type = s.text(5);
  g.gpu_hours = s.real(6);
  g.start = s.integer(7);
  g.end = s.integer(8);
  g.account = s.text(9);
  g.qos = s.text(10);
  return g;
}

JobRecord job_from(const Stmt& s) {
  JobRecord j;
  j.id = s.integer(0);
  j.grant_id = s.text(1);
  j.site = s.text(2);
  j.partition = s.text(3);
  j.backend = s.text(4);
  j.slurm_id = s.text(5);
  j.tag = s.text(6);
  j.name = s.text(7);
  j.workload = s.text(8);
  j.state = s.text(9);
  j.sched_state = s.text(10);
  j.nodes = static_cast<int>(s.integer(11));
  j.gpus = static_cast<int>(s.integer(12));
  j.time_limit_s = s.integer(13);
  j.charge_factor = s.real(14);
  j.reserved_gpu_h = s.real(15);
  j.charged_gpu_h = s.real(16);
  j.submitted_at = s.integer(17);
  j.ended_at = s.integer(18);
  j.elapsed_s = s.integer(19);
  j.alloc_gpus = static_cast<int>(s.integer(20));
  j.pid = static_cast<int>(s.integer(21));
  j.job_dir = s.text(22);
  j.note = s.text(23);
  j.array_id = s.integer(24);
  j.array_task = s.is_null(25) ? -1 : static_cast<int>(s.integer(25));
  j.started_at = s.integer(26);
  j.results_dir = s.text(27);
  if (!s.is_null(28)) j.energy_j = s.real(28);
  j.energy_note = s.text(29);
  j.user = s.text(30);
  j.account = s.text(31);
  j.uncharged_gpu_h = s.real(32);
  j.exit_code = s.is_null(33) ? -1 : static_cast<int>(s.integer(33));
  j.workflow_id = s.integer(34);
  j.step = s.text(35);
  j.member = s.is_null(36) ? -1 : static_cast<int>(s.integer(36));
  j.seq = static_cast<int>(s.integer(37));
  j.attempt = s.is_null(38) ? 1 : static_cast<int>(s.integer(38));
  j.segment = s.is_null(39) ? 1 : static_cast<int>(s.integer(39));
  j.outcome = s.text(40);
  return j;
}

// Binds every column of kJobColumns, in its order (id 0, empty texts and unknown numbers
// as NULL), for moving rows in whole.
constexpr int kJobColumnCount = 41;
void bind_job(Stmt& s, const JobRecord& j) {
  auto text = [&](int i, const std::string& v) {
    if (v.empty()) {
      s.bind_null(i);
    } else {
      s.bind(i, v);
    }
  };
  auto number = [&](int i, std::int64_t v, std::int64_t none) {
    if (v == none) {
      s.bind_null(i);
    } else {
      s.bind(i, v);
    }
  };
  number(1, j.id, 0);
  s.bind(2, j.grant_id).bind(3, j.site).bind(4, j.partition).bind(5, j.backend);
  text(6, j.slurm_id);
  text(7, j.tag);
  s.bind(8, j.name).bind(9, j.workload).bind(10, j.state);
  text(11, j.sched_state);
  s.bind(12, j.nodes).bind(13, j.gpus).bind(14, j.time_limit_s).bind(15, j.charge_factor);
  s.bind(16, j.reserved_gpu_h).bind(17, j.charged_gpu_h).bind(18, j.submitted_at);
  number(19, j.ended_at, 0);
  s.bind(20, j.elapsed_s).bind(21, j.alloc_gpus);
  number(22, j.pid, 0);
  text(23, j.job_dir);
  text(24, j.note);
  number(25, j.array_id, 0);
  number(26, j.array_task, -1);
  number(27, j.started_at, 0);
  text(28, j.results_dir);
  if (j.energy_j) {
    s.bind(29, *j.energy_j);
  } else {
    s.bind_null(29);
  }
  text(30, j.energy_note);
  text(31, j.user);
  text(32, j.account);
  s.bind(33, j.uncharged_gpu_h);
  number(34, j.exit_code, -1);
  number(35, j.workflow_id, 0);
  text(36, j.step);
  if (j.workflow_id != 0) {
    s.bind(37, j.member).bind(38, j.seq).bind(39, j.attempt).bind(40, j.segment);
  } else {
    s.bind_null(37).bind_null(38).bind_null(39).bind_null(40);
  }
  text(41, j.outcome);
}

WorkflowRecord workflow_from(const Stmt& s) {
  WorkflowRecord w;
  w.id = s.integer(0);
  w.name = s.text(1);
  w.grant_id = s.text(2);
  w.site = s.text(3);
  w.file = s.text(4);
  w.spec = s.text(5);
  w.overrides = s.text(6);
  w.output_dir = s.text(7);
  w.state = s.text(8);
  w.note = s.text(9);
  w.created_at = s.integer(10);
  w.updated_at = s.integer(11);
  w.user = s.text(12);
  return w;
}

constexpr const char* kWorkflowColumns =
    "id, name, grant_id, site, file, spec, overrides, output_dir, state, note, created_at, updated_at, user";

class SqliteLedger final : public LedgerStore {
 public:
  SqliteLedger(const std::string& path, bool read_only) : m_path(path), m_read_only(read_only) {
    int flags = SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW;
    if (read_only) {
      flags |= SQLITE_OPEN_READONLY;
    } else {
      // The ledger holds grants, tags and output paths: readable by its owner only. SQLite
      // gives its -wal and -shm files the database file's mode, so creating the file here
      // (exclusively, never through a symlink) makes all three private.
      require_safe_folder(std::filesystem::path(path).parent_path().empty()
                              ? std::string(".")
                              : std::filesystem::path(path).parent_path().string(),
                          "the ledger's folder");
      std::error_code ec;
      const auto dir = std::filesystem::path(path).parent_path();
      if (!dir.empty()) std::filesystem::create_directories(dir, ec);
      const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd >= 0) ::close(fd);
      flags |= SQLITE_OPEN_READWRITE;
    }
    if (sqlite3_open_v2(path.c_str(), &m_db, flags, nullptr) != SQLITE_OK) {
      const std::string msg = m_db ? sqlite3_errmsg(m_db) : "out of memory";
      sqlite3_close(m_db);
      m_db = nullptr;
      throw RunError(fmt::format("ledger {}: cannot open{}: {}", path, read_only ? " for reading" : "", msg));
    }
    // A concurrent submit holds the write lock for milliseconds; wait rather than fail.
    sqlite3_busy_timeout(m_db, 60000);
    if (read_only) {
      if (!read_instance()) {
        // A WAL ledger whose -shm file is gone, in a folder this user may not write: SQLite
        // cannot set up shared memory. Nobody can be writing it either (a writer leaves the
        // -shm file), so it is read as an immutable file.
        sqlite3_close(m_db);
        m_db = nullptr;
        std::string uri = "file:";
        for (char c : path) {
          if (c == '?' || c == '#' || c == '%') {
            uri += fmt::format("%{:02X}", static_cast<unsigned char>(c));
          } else {
            uri += c;
          }
        }
        uri += "?immutable=1";
        if (sqlite3_open_v2(uri.c_str(), &m_db, flags | SQLITE_OPEN_URI, nullptr) != SQLITE_OK || !read_instance()) {
          throw RunError(fmt::format("ledger {}: cannot be read: {}", path, m_db ? sqlite3_errmsg(m_db) : "?"));
        }
      }
      const int schema = read_schema();
      if (schema != kSchemaVersion) {
        throw RunError(fmt::format(
            "ledger {}: schema {} (this gosok reads {}); a command that writes (gosok reconcile) upgrades it, "
            "by someone who may write it",
            path, schema, kSchemaVersion));
      }
      return;
    }
    // Each gosok command is a short process: checkpointing the WAL (and fsyncing the
    // database) whenever the last connection closes would cost more than the command. But
    // the first connection of a process rebuilds its index of the WAL by reading all of it,
    // so the WAL is kept short instead: a checkpoint once it holds 64 pages (about 8 submits;
    // at SQLite's default of 1000 pages, opening the ledger took up to 5 ms, see
    // docs/site-admin/slurm.md).
    sqlite3_db_config(m_db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA wal_autocheckpoint=64");
    exec("PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
    if (read_instance() && read_schema() == kSchemaVersion) return;  // no write needed to open it
    Transaction t(*this);
    exec(kSchema);
    if (!read_instance()) {
      std::random_device rd;
      m_instance = fmt::format("{:08x}", rd());
      Stmt put(m_db, "INSERT INTO meta(key, value) VALUES ('instance', ?), ('schema', '1')");
      put.bind(1, m_instance).step();
    }
    const int schema = read_schema();
    if (schema > kSchemaVersion) {
      throw RunError(fmt::format("ledger {}: schema {} is newer than this gosok knows ({}); use a newer gosok", path,
                                 schema, kSchemaVersion));
    }
    if (schema < 2) exec(kSchema2);
    if (schema < 3) exec(kSchema3);
    if (schema < 4) {
      exec(kSchema4);
      // Rows from before schema 4 were this single-user ledger's owner's (the file's: a
      // superuser migrating it must not take them over).
      Stmt owner(m_db, "UPDATE jobs SET user=? WHERE user IS NULL");
      owner.bind(1, file_owner()).step();
    }
    if (schema < 5) exec(kSchema5);
    if (schema < 6) {
      exec(kSchema6);
      // Workflows from before schema 6 were this single-user ledger's owner's.
      Stmt owner(m_db, "UPDATE workflows SET user=? WHERE user IS NULL");
      owner.bind(1, file_owner()).step();
    }
    t.commit();
  }
  ~SqliteLedger() override { sqlite3_close(m_db); }

  std::string instance_id() override { return m_instance; }
  bool read_only() const override { return m_read_only; }
  std::string backend() const override { return "sqlite"; }
  std::string describe() const override { return m_path; }

  LedgerRights access() override {
    LedgerRights a;
    a.user = current_user();
    a.admin = a.reconcile = true;
    Stmt s(m_db, "SELECT DISTINCT project FROM members WHERE username=? ORDER BY project");
    s.bind(1, a.user);
    while (s.step()) a.projects.push_back(s.text(0));
    return a;
  }

  std::vector<std::string> import_grants(const std::vector<GrantImport>& grants, bool allow_cut) override {
    Transaction t(*this);
    std::vector<std::string> results;
    for (const auto& [g, source] : grants) {
      auto old = find_grant_locked(g.id);
      if (old && old->same_terms(g)) {
        results.push_back("unchanged");
        continue;
      }
      if (old) {
        check_grant_cut(*old, g, committed_locked(g.id), allow_cut, source);
        Stmt up(m_db,
                "UPDATE grants SET project=?2, institution=?3, sector=?4, site=?5, gpu_type=?6, gpu_hours=?7, "
                "start_s=?8, end_s=?9, account=?10, qos=?11, imported_at=?12, source=?13 WHERE id=?1");
        bind_grant(up, g, source);
        up.step();
      } else {
        Stmt ins(m_db,
                 "INSERT INTO grants(id, project, institution, sector, site, gpu_type, gpu_hours, start_s, end_s, "
                 "account, qos, imported_at, source) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)");
        bind_grant(ins, g, source);
        ins.step();
      }
      Stmt hist(m_db,
                "INSERT INTO grant_history(grant_id, at, what, old_terms, new_terms, source, by_user) "
                "VALUES (?,?,?,?,?,?,?)");
      hist.bind(1, g.id).bind(2, now_seconds()).bind(3, old ? "updated" : "imported");
      if (old) {
        hist.bind(4, grant_terms_json(*old));
      } else {
        hist.bind_null(4);
      }
      hist.bind(5, grant_terms_json(g)).bind(6, source).bind(7, current_user()).step();
      results.push_back(old ? "updated" : "added");
    }
    t.commit();
    return results;
  }

  std::optional<Grant> find_grant(const std::string& id) override { return find_grant_locked(id); }

  std::vector<Grant> grants() override {
    std::vector<Grant> out;
    Stmt s(m_db,
           "SELECT id, project, institution, sector, site, gpu_type, gpu_hours, start_s, end_s, account, qos "
           "FROM grants ORDER BY id");
    while (s.step()) out.push_back(grant_from(s));
    return out;
  }

  std::vector<GrantChange> grant_history(const std::string& id) override {
    std::vector<GrantChange> out;
    Stmt s(m_db,
           "SELECT at, what, old_terms, new_terms, source, by_user FROM grant_history WHERE grant_id=? ORDER BY seq");
    s.bind(1, id);
    while (s.step()) out.push_back({s.integer(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5)});
    return out;
  }

  GrantBalance balance(const std::string& grant_id, std::int64_t now) override {
    GrantBalance b;
    auto g = find_grant_locked(grant_id);
    if (!g) throw InputError("no grant '" + grant_id + "' in the ledger (import it with 'gosok grants import FILE')");
    b.granted = g->gpu_hours;
    Stmt s(m_db,
           "SELECT state, COALESCE(user, ''), COUNT(*), SUM(reserved_gpu_h), SUM(charged_gpu_h), SUM(energy_j), "
           "COUNT(energy_j) FROM jobs WHERE grant_id=? GROUP BY state, user");
    s.bind(1, grant_id);
    while (s.step()) {
      add_to_balance(b, {s.text(0), s.text(1), static_cast<int>(s.integer(2)), s.real(3), s.real(4), s.real(5),
                         static_cast<int>(s.integer(6))});
    }
    finish_balance(b);
    const std::int64_t window_start = std::max(g->start, now - 7 * 86400);
    const double days = std::max(1.0 / 24, static_cast<double>(now - window_start) / 86400.0);
    Stmt burn(m_db, "SELECT SUM(charged_gpu_h) FROM jobs WHERE grant_id=? AND state='settled' AND ended_at>=?");
    burn.bind(1, grant_id).bind(2, window_start);
    if (burn.step()) b.burn_per_day = burn.real(0) / days;
    if (b.burn_per_day > 0) {
      const auto t = now + static_cast<std::int64_t>(std::max(0.0, b.remaining) / b.burn_per_day * 86400.0);
      if (t < g->end) b.runs_out = t;
    }
    return b;
  }

  void reserve(std::vector<JobRecord>& jobs) override {
    if (jobs.empty()) return;
    Transaction t(*this);
    const std::string& grant_id = jobs.front().grant_id;
    auto g = find_grant_locked(grant_id);
    if (!g) throw InputError("no grant '" + grant_id + "' in the ledger");
    const double remaining = g->gpu_hours - committed_locked(grant_id);
    double wanted = 0;
    for (const auto& job : jobs) wanted += job.reserved_gpu_h;
    if (!covers(remaining, wanted)) throw GrantCannotCover(refusal_message(*g, wanted, remaining, jobs.size()));
    Stmt ins(m_db,
             "INSERT INTO jobs(grant_id, site, partition, backend, name, workload, state, nodes, gpus, walltime_s, "
             "charge_factor, reserved_gpu_h, submitted_at, output_dir, results_dir, array_id, array_task, tag, user, "
             "account, workflow_id, step, member, seq, attempt, segment) "
             "VALUES (?,?,?,?,?,?,'submitting',?,?,?,?,?,?,?,?,NULLIF(?,0),?,?,?,?,NULLIF(?,0),?,?,?,?,?)");
    // The ledger records who ran the reservation (a caller may name the job's Slurm user).
    const std::string me = current_user();
    std::int64_t first = 0;
    std::string tag;
    for (auto& job : jobs) {
      ins.bind(1, job.grant_id).bind(2, job.site).bind(3, job.partition).bind(4, job.backend).bind(5, job.name);
      ins.bind(6, job.workload).bind(7, job.nodes).bind(8, job.gpus).bind(9, job.time_limit_s);
      ins.bind(10, job.charge_factor).bind(11, job.reserved_gpu_h).bind(12, job.submitted_at).bind(13, job.job_dir);
      ins.bind(14, job.results_dir).bind(15, first);
      if (job.array_task >= 0) {
        ins.bind(16, job.array_task);
      } else {
        ins.bind_null(16);
      }
      ins.bind(17, tag).bind(18, job.user.empty() ? me : job.user).bind(19, job.account);
      if (job.workflow_id > 0) {
        ins.bind(20, job.workflow_id).bind(21, job.step).bind(22, job.member).bind(23, job.seq);
        ins.bind(24, job.attempt).bind(25, job.segment);
      } else {
        ins.bind(20, std::int64_t{0}).bind_null(21).bind_null(22).bind_null(23).bind_null(24).bind_null(25);
      }
      ins.step();
      ins.reset();
      job.id = sqlite3_last_insert_rowid(m_db);
      if (first == 0) {
        // The first row names the job (or the array): its id is in the tag every task carries.
        first = job.id;
        tag = new_job_tag(m_instance, first);
        Stmt head(m_db,
                  "UPDATE jobs SET tag=?, array_id=CASE WHEN array_task IS NULL THEN NULL ELSE id END WHERE id=?");
        head.bind(1, tag).bind(2, first).step();
      }
      job.tag = tag;
      job.array_id = job.array_task >= 0 ? first : 0;
      job.state = "submitting";
      if (job.user.empty()) job.user = me;
    }
    t.commit();
  }

  Booking set_submitted(std::int64_t id, const std::string& slurm_id, int pid) override {
    Transaction t(*this);
    Booking booking = Booking::kept;
    std::vector<JobRecord> rows;
    {
      Stmt s(m_db, fmt::format("SELECT {} FROM jobs WHERE id=?1 OR array_id=?1", kJobColumns).c_str());
      s.bind(1, id);
      while (s.step()) rows.push_back(job_from(s));
    }
    const bool released = !rows.empty() && rows.front().state == "released" && rows.front().slurm_id.empty();
    std::string state = "queued", note;
    if (released) {
      // A concurrent reconcile saw no job with the tag and released it; the scheduler has
      // the job now, so it must be booked again, or not at all.
      auto g = find_grant_locked(rows.front().grant_id);
      double wanted = 0;
      for (const auto& r : rows) wanted += r.reserved_gpu_h;
      if (g && covers(g->gpu_hours - committed_locked(g->id), wanted)) {
        booking = Booking::renewed;
        note = "reserved again: the scheduler accepted it after a reconcile had released it";
      } else {
        booking = Booking::refused;
        state = "released";
        note =
            "the scheduler accepted it after a reconcile had released it, and the grant no longer covers it: "
            "cancelled";
      }
    }
    // A local job's monitor may already have said it is held or running (it starts before
    // this is written): that state stays, and its pid is still needed to release or cancel it.
    Stmt s(m_db,
           "UPDATE jobs SET slurm_id=CASE WHEN ?1='' THEN NULL WHEN array_id IS NULL THEN ?1 "
           "ELSE ?1 || '_' || array_task END, pid=?2, "
           "state=CASE WHEN state IN ('submitting', 'released') THEN ?4 ELSE state END, "
           "note=COALESCE(NULLIF(?5,''), note) "
           "WHERE (id=?3 OR array_id=?3) AND (state IN ('submitting', 'queued', 'running') OR "
           "(state='released' AND slurm_id IS NULL))");
    s.bind(1, slurm_id).bind(2, pid).bind(3, id).bind(4, state).bind(5, note).step();
    t.commit();
    return booking;
  }

  void release_unsubmitted(const std::vector<std::int64_t>& ids, const std::string& note) override {
    Transaction t(*this);
    Stmt s(m_db, "UPDATE jobs SET state='released', note=NULLIF(?2,'') WHERE id=?1 AND state='submitting'");
    for (const auto id : ids) {
      s.bind(1, id).bind(2, note).step();
      s.reset();
    }
    t.commit();
  }

  void note_unsubmitted(const std::vector<std::int64_t>& ids, const std::string& note) override {
    Transaction t(*this);
    Stmt s(m_db, "UPDATE jobs SET note=NULLIF(?2,'') WHERE id=?1 AND state='submitting'");
    for (const auto id : ids) {
      s.bind(1, id).bind(2, note).step();
      s.reset();
    }
    t.commit();
  }

  std::vector<std::int64_t> apply(const std::vector<JobUpdate>& updates) override {
    std::vector<std::int64_t> changed;
    if (updates.empty()) return changed;
    Transaction t(*this);
    // A settled or released job never changes again: settling twice changes nothing.
    Stmt s(m_db,
           "UPDATE jobs SET state=?2, sched_state=?3, slurm_id=COALESCE(NULLIF(?4,''), slurm_id), "
           "charged_gpu_h=?5, elapsed_s=?6, alloc_gpus=?7, ended_at=NULLIF(?8,0), note=NULLIF(?9,''), "
           "started_at=COALESCE(NULLIF(?10,0), started_at), energy_j=?11, energy_note=NULLIF(?12,''), "
           "uncharged_gpu_h=?13, exit_code=COALESCE(NULLIF(?14,-1), exit_code) "
           "WHERE id=?1 AND state NOT IN ('settled','released')");
    for (const auto& u : updates) {
      s.bind(1, u.id).bind(2, u.state).bind(3, u.sched_state).bind(4, u.slurm_id).bind(5, u.charged_gpu_h);
      s.bind(6, u.elapsed_s).bind(7, u.alloc_gpus).bind(8, u.ended_at).bind(9, u.note).bind(10, u.started_at);
      s.bind(12, u.energy_note).bind(13, u.uncharged_gpu_h).bind(14, u.exit_code);
      if (u.energy_j) {
        s.bind(11, *u.energy_j);
      } else {
        s.bind_null(11);
      }
      s.step();
      s.reset();
      if (sqlite3_changes(m_db) > 0) changed.push_back(u.id);
    }
    t.commit();
    return changed;
  }

  MembersChange set_members(const std::string& project, const std::vector<std::string>& users,
                            const std::string& source) override {
    Transaction t(*this);
    std::set<std::string> before, wanted(users.begin(), users.end());
    Stmt cur(m_db, "SELECT username FROM members WHERE project=? AND source=?");
    cur.bind(1, project).bind(2, source);
    while (cur.step()) before.insert(cur.text(0));
    MembersChange change;
    Stmt del(m_db, "DELETE FROM members WHERE project=? AND source=? AND username=?");
    for (const auto& u : before) {
      if (wanted.count(u)) continue;
      del.bind(1, project).bind(2, source).bind(3, u).step();
      del.reset();
      change.removed.push_back(u);
    }
    Stmt ins(m_db, "INSERT INTO members(project, username, source, imported_at) VALUES (?,?,?,?)");
    for (const auto& u : wanted) {
      if (before.count(u)) continue;
      ins.bind(1, project).bind(2, u).bind(3, source).bind(4, now_seconds()).step();
      ins.reset();
      change.added.push_back(u);
    }
    t.commit();
    return change;
  }

  std::vector<Member> members(const std::string& project) override {
    Stmt s(m_db,
           "SELECT project, username, source, imported_at FROM members WHERE ?1='' OR project=?1 "
           "ORDER BY project, username, source");
    s.bind(1, project);
    std::vector<Member> out;
    while (s.step()) out.push_back({s.text(0), s.text(1), s.text(2), s.integer(3)});
    return out;
  }

  std::optional<JobRecord> find_job(std::int64_t id) override {
    Stmt s(m_db, fmt::format("SELECT {} FROM jobs WHERE id=?", kJobColumns).c_str());
    s.bind(1, id);
    if (s.step()) return job_from(s);
    return std::nullopt;
  }

  std::vector<JobRecord> find_array(std::int64_t array_id) override {
    Stmt s(m_db, fmt::format("SELECT {} FROM jobs WHERE array_id=? ORDER BY array_task", kJobColumns).c_str());
    s.bind(1, array_id);
    std::vector<JobRecord> out;
    while (s.step()) out.push_back(job_from(s));
    return out;
  }

  std::vector<JobRecord> find_jobs_by_slurm_id(const std::string& slurm_id) override {
    // "123" is job 123 or every task of array job 123 ("123_0" .. : the range below).
    Stmt s(m_db, fmt::format("SELECT {} FROM jobs WHERE slurm_id=?1 OR (instr(?1, '_')=0 AND slurm_id>?1||'_' AND "
                             "slurm_id<?1||'`') ORDER BY id",
                             kJobColumns)
                     .c_str());
    s.bind(1, slurm_id);
    std::vector<JobRecord> out;
    while (s.step()) out.push_back(job_from(s));
    // A Slurm id reused by another cluster or ledger reset: the newest job is the one meant.
    if (out.size() > 1 && !out.back().in_array()) out.erase(out.begin(), out.end() - 1);
    return out;
  }

  std::vector<JobRecord> jobs(const std::string& grant_id, bool active_only) override {
    const std::string sql = fmt::format(
        "SELECT {} FROM jobs WHERE (?1='' OR grant_id=?1) {} ORDER BY COALESCE(array_id, id) DESC, "
        "array_task",
        kJobColumns, active_only ? "AND state IN ('submitting','queued','running','missing')" : "");
    Stmt s(m_db, sql.c_str());
    s.bind(1, grant_id);
    std::vector<JobRecord> out;
    while (s.step()) out.push_back(job_from(s));
    return out;
  }

  std::int64_t add_workflow(const WorkflowRecord& w) override {
    Transaction t(*this);
    Stmt s(m_db,
           "INSERT INTO workflows(name, grant_id, site, file, spec, overrides, output_dir, state, note, created_at, "
           "updated_at, user) VALUES (?,?,?,?,?,?,?,?,NULLIF(?,''),?,?,?)");
    s.bind(1, w.name).bind(2, w.grant_id).bind(3, w.site).bind(4, w.file).bind(5, w.spec).bind(6, w.overrides);
    s.bind(7, w.output_dir).bind(8, w.state).bind(9, w.note).bind(10, w.created_at).bind(11, w.created_at);
    s.bind(12, current_user());
    s.step();
    const std::int64_t id = sqlite3_last_insert_rowid(m_db);
    t.commit();
    return id;
  }

  std::optional<WorkflowRecord> find_workflow(std::int64_t id) override {
    Stmt s(m_db, fmt::format("SELECT {} FROM workflows WHERE id=?", kWorkflowColumns).c_str());
    s.bind(1, id);
    if (s.step()) return workflow_from(s);
    return std::nullopt;
  }

  std::vector<WorkflowRecord> workflows(const std::string& name) override {
    Stmt s(m_db,
           fmt::format("SELECT {} FROM workflows WHERE ?1='' OR name=?1 ORDER BY id DESC", kWorkflowColumns).c_str());
    s.bind(1, name);
    std::vector<WorkflowRecord> out;
    while (s.step()) out.push_back(workflow_from(s));
    return out;
  }

  void set_workflow_state(std::int64_t id, const std::string& state, const std::string& note) override {
    Transaction t(*this);
    Stmt s(m_db, "UPDATE workflows SET state=?2, note=NULLIF(?3,''), updated_at=?4 WHERE id=?1");
    s.bind(1, id).bind(2, state).bind(3, note).bind(4, now_seconds()).step();
    t.commit();
  }

  std::vector<JobRecord> workflow_jobs(std::int64_t workflow_id) override {
    Stmt s(m_db, fmt::format("SELECT {} FROM jobs WHERE workflow_id=? ORDER BY id", kJobColumns).c_str());
    s.bind(1, workflow_id);
    std::vector<JobRecord> out;
    while (s.step()) out.push_back(job_from(s));
    return out;
  }

  void set_outcomes(const std::vector<std::pair<std::int64_t, std::string>>& outcomes) override {
    if (outcomes.empty()) return;
    Transaction t(*this);
    Stmt s(m_db, "UPDATE jobs SET outcome=?2 WHERE id=?1");
    for (const auto& [id, outcome] : outcomes) {
      s.bind(1, id).bind(2, outcome).step();
      s.reset();
    }
    t.commit();
  }

  LedgerContent content() override {
    LedgerContent c;
    c.instance = m_instance;
    Stmt g(m_db,
           "SELECT id, project, institution, sector, site, gpu_type, gpu_hours, start_s, end_s, account, qos, "
           "imported_at, source FROM grants ORDER BY id");
    while (g.step()) c.grants.push_back({grant_from(g), g.integer(11), g.text(12)});
    Stmt h(m_db, "SELECT grant_id, at, what, old_terms, new_terms, source, by_user FROM grant_history ORDER BY seq");
    while (h.step())
      c.history.push_back({h.text(0), {h.integer(1), h.text(2), h.text(3), h.text(4), h.text(5), h.text(6)}});
    c.members = members("");
    Stmt w(m_db, fmt::format("SELECT {} FROM workflows ORDER BY id", kWorkflowColumns).c_str());
    while (w.step()) c.workflows.push_back(workflow_from(w));
    Stmt j(m_db, fmt::format("SELECT {} FROM jobs ORDER BY id", kJobColumns).c_str());
    while (j.step()) c.jobs.push_back(job_from(j));
    return c;
  }

  std::vector<std::pair<std::int64_t, std::int64_t>> load(const LedgerContent& c) override {
    Transaction t(*this);
    std::map<std::string, GrantTotals> before;
    for (const auto& g : c.grants) before[g.grant.id] = totals(g.grant.id);
    for (const auto& row : c.grants) {
      if (const auto old = find_grant_locked(row.grant.id)) {
        if (!old->same_terms(row.grant)) throw InputError(different_terms(row.grant, *old, m_path));
        continue;
      }
      Stmt ins(m_db,
               "INSERT INTO grants(id, project, institution, sector, site, gpu_type, gpu_hours, start_s, end_s, "
               "account, qos, imported_at, source) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)");
      bind_grant(ins, row.grant, row.source);
      ins.bind(12, row.imported_at);
      ins.step();
    }
    Stmt seen(m_db, "SELECT 1 FROM grant_history WHERE grant_id=? AND at=? AND what=? AND new_terms=? AND source=?");
    Stmt hist(m_db,
              "INSERT INTO grant_history(grant_id, at, what, old_terms, new_terms, source, by_user) "
              "VALUES (?,?,?,NULLIF(?,''),?,?,NULLIF(?,''))");
    for (const auto& h : c.history) {
      seen.bind(1, h.grant_id).bind(2, h.change.at).bind(3, h.change.what).bind(4, h.change.new_terms);
      seen.bind(5, h.change.source);
      const bool known = seen.step();
      seen.reset();
      if (known) continue;
      hist.bind(1, h.grant_id).bind(2, h.change.at).bind(3, h.change.what).bind(4, h.change.old_terms);
      hist.bind(5, h.change.new_terms).bind(6, h.change.source).bind(7, h.change.by).step();
      hist.reset();
    }
    Stmt mem(m_db, "INSERT OR IGNORE INTO members(project, username, source, imported_at) VALUES (?,?,?,?)");
    for (const auto& m : c.members) {
      mem.bind(1, m.project).bind(2, m.user).bind(3, m.source).bind(4, m.imported_at).step();
      mem.reset();
    }
    // Workflows first: their jobs name them. Ids are kept in an empty ledger, else new.
    Stmt any_workflow(m_db, "SELECT COUNT(*) FROM workflows");
    any_workflow.step();
    const bool keep_workflow_ids = any_workflow.integer(0) == 0;
    Stmt wf(m_db,
            "INSERT INTO workflows(id, name, grant_id, site, file, spec, overrides, output_dir, state, note, "
            "created_at, updated_at, user) VALUES (NULLIF(?1,0),?2,?3,?4,?5,?6,?7,?8,?9,NULLIF(?10,''),?11,?12,"
            "NULLIF(?13,''))");
    std::map<std::int64_t, std::int64_t> new_workflow;
    for (const auto& w : c.workflows) {
      wf.bind(1, keep_workflow_ids ? w.id : std::int64_t{0}).bind(2, w.name).bind(3, w.grant_id).bind(4, w.site);
      wf.bind(5, w.file).bind(6, w.spec).bind(7, w.overrides).bind(8, w.output_dir).bind(9, w.state);
      wf.bind(10, w.note).bind(11, w.created_at).bind(12, w.updated_at).bind(13, w.user).step();
      wf.reset();
      new_workflow[w.id] = sqlite3_last_insert_rowid(m_db);
    }
    Stmt count(m_db, "SELECT COUNT(*) FROM jobs");
    count.step();
    const bool keep_ids = count.integer(0) == 0;
    count.reset();
    // Every column of kJobColumns; the array ids are set once every row has its new id.
    std::string values;
    for (int k = 1; k <= kJobColumnCount; ++k) values += fmt::format("{}?{}", k == 1 ? "" : ",", k);
    Stmt ins(m_db, fmt::format("INSERT INTO jobs({}) VALUES ({})", kJobColumns, values).c_str());
    std::vector<std::pair<std::int64_t, std::int64_t>> ids;
    std::map<std::int64_t, std::int64_t> new_id;
    for (auto j : c.jobs) {
      if (j.workflow_id != 0) {
        const auto w = new_workflow.find(j.workflow_id);
        if (w == new_workflow.end()) {
          throw InputError(
              fmt::format("{}: job g{} names workflow w{}, which is not moved", m_path, j.id, j.workflow_id));
        }
        j.workflow_id = w->second;
      }
      const std::int64_t source_id = j.id;
      if (!keep_ids) j.id = 0;
      j.array_id = 0;
      bind_job(ins, j);
      ins.step();
      ins.reset();
      new_id[source_id] = sqlite3_last_insert_rowid(m_db);
      ids.push_back({source_id, new_id[source_id]});
    }
    Stmt arr(m_db, "UPDATE jobs SET array_id=? WHERE id=?");
    for (const auto& j : c.jobs) {
      if (!j.in_array()) continue;
      const auto head = new_id.find(j.array_id);
      if (head == new_id.end()) throw InputError(fmt::format("{}: array task g{} has no first row", m_path, j.id));
      arr.bind(1, head->second).bind(2, new_id[j.id]).step();
      arr.reset();
    }
    std::map<std::string, GrantTotals> after;
    for (const auto& g : c.grants) after[g.grant.id] = totals(g.grant.id);
    check_loaded_totals(c, before, after, m_path);
    t.commit();
    return ids;
  }

  GrantTotals totals(const std::string& grant_id) override {
    GrantTotals out;
    Stmt s(m_db,
           "SELECT COUNT(*), COALESCE(SUM(CASE WHEN state IN ('submitting','queued','running','missing') THEN "
           "reserved_gpu_h END), 0), COALESCE(SUM(charged_gpu_h), 0), "
           "(SELECT COUNT(*) FROM grant_history WHERE grant_id=?1) FROM jobs WHERE grant_id=?1");
    s.bind(1, grant_id);
    s.step();
    out.jobs = static_cast<int>(s.integer(0));
    out.reserved = s.real(1);
    out.charged = s.real(2);
    out.history = static_cast<int>(s.integer(3));
    return out;
  }

 private:
  std::string file_owner() const {
    struct stat st {};
    if (::stat(m_path.c_str(), &st) == 0) {
      if (const passwd* pw = ::getpwuid(st.st_uid)) return pw->pw_name;
    }
    return current_user();
  }

  class Transaction {
   public:
    explicit Transaction(SqliteLedger& l) : m_l(l) {
      if (m_l.m_read_only) throw RunError("ledger " + m_l.m_path + " is open read-only: nothing can be changed");
      m_l.exec("BEGIN IMMEDIATE");
    }
    ~Transaction() {
      if (!m_done) sqlite3_exec(m_l.m_db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    void commit() {
      // A SELECT stepped to a row and not yet reset keeps a read transaction open after
      // COMMIT, and then SQLite cannot checkpoint the WAL (it grew without bound).
      for (sqlite3_stmt* s = sqlite3_next_stmt(m_l.m_db, nullptr); s; s = sqlite3_next_stmt(m_l.m_db, s)) {
        if (sqlite3_stmt_busy(s)) sqlite3_reset(s);
      }
      m_l.exec("COMMIT");
      m_done = true;
    }

   private:
    SqliteLedger& m_l;
    bool m_done = false;
  };

  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(m_db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      throw RunError(fmt::format("ledger {}: {}", m_path, msg));
    }
  }

  int read_schema() {
    Stmt s(m_db, "SELECT value FROM meta WHERE key='schema'");
    return s.step() ? std::atoi(s.text(0).c_str()) : 0;
  }

  bool read_instance() {
    sqlite3_stmt* stmt = nullptr;
    // Before the schema exists this fails to prepare: not an error, just a new ledger.
    if (sqlite3_prepare_v2(m_db, "SELECT value FROM meta WHERE key='instance'", -1, &stmt, nullptr) != SQLITE_OK) {
      return false;
    }
    bool found = false;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      m_instance = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      found = true;
    }
    sqlite3_finalize(stmt);
    return found;
  }

  // GPU-hours the grant has spent or holds: settled charges, plus the reservations of active
  // jobs and what their earlier runs were charged.
  double committed_locked(const std::string& grant_id) {
    Stmt used(m_db, fmt::format("SELECT (SELECT COALESCE(SUM(charged_gpu_h), 0) FROM jobs WHERE grant_id=?1 AND "
                                "state='settled') + (SELECT COALESCE(SUM(reserved_gpu_h + charged_gpu_h), 0) FROM "
                                "jobs WHERE grant_id=?1 AND state IN {})",
                                kActiveStates)
                        .c_str());
    used.bind(1, grant_id);
    used.step();
    return used.real(0);
  }

  std::optional<Grant> find_grant_locked(const std::string& id) {
    Stmt s(m_db,
           "SELECT id, project, institution, sector, site, gpu_type, gpu_hours, start_s, end_s, account, qos "
           "FROM grants WHERE id=?");
    s.bind(1, id);
    if (s.step()) return grant_from(s);
    return std::nullopt;
  }

  static void bind_grant(Stmt& s, const Grant& g, const std::string& source) {
    s.bind(1, g.id).bind(2, g.project).bind(3, g.institution).bind(4, g.sector).bind(5, g.site).bind(6, g.gpu_type);
    s.bind(7, g.gpu_hours).bind(8, g.start).bind(9, g.end).bind(10, g.account).bind(11, g.qos);
    s.bind(12, now_seconds()).bind(13, source);
  }

  std::string m_path;
  bool m_read_only = false;
  sqlite3* m_db = nullptr;
  std::string m_instance;
};

}  // namespace

std::unique_ptr<LedgerStore> open_sqlite_ledger(const std::string& path, bool read_only) {
  return std::make_unique<SqliteLedger>(path, read_only);
}

}  // namespace gosok::sched
