// The results store in SQLite. Same concurrency rules as the ledger: WAL, a busy timeout,
// BEGIN IMMEDIATE for every change, so several gosok processes may record at once.
#include <gosok/regression/results.hpp>

#include <fmt/format.h>
#include <sqlite3.h>

#include <filesystem>

#include <gosok/core/config.hpp>
#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/scheduler/ledger.hpp>

namespace gosok::regress {

int SuiteRun::count(const std::string& status) const {
  int n = 0;
  for (const auto& c : cases) n += c.status == status;
  return n;
}

double SuiteRun::gpu_hours() const {
  double sum = 0;
  for (const auto& c : cases) sum += c.gpu_hours;
  return sum;
}

std::string SuiteRun::status() const { return count("fail") + count("error") == 0 ? "pass" : "fail"; }

std::string results_path(const std::string& ledger_location) {
  if (const auto v = env("GOSOK_RESULTS")) return *v;
  // Beside an SQLite ledger; a shared ledger is no folder: then the user's own data folder.
  const auto where = sched::parse_ledger_location(ledger_location);
  if (where.backend != "sqlite") return sched::user_data_dir() + "/results.sqlite";
  return (std::filesystem::path(where.target).parent_path() / "results.sqlite").string();
}

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, suite TEXT NOT NULL, suite_file TEXT NOT NULL, site TEXT NOT NULL,
  grant_id TEXT NOT NULL, user TEXT NOT NULL, host TEXT NOT NULL, gosok_version TEXT NOT NULL,
  git_hash TEXT NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER NOT NULL, output_dir TEXT NOT NULL,
  updated_baselines INTEGER NOT NULL, skipped TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
  run_id INTEGER NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL, instance TEXT NOT NULL,
  case_name TEXT NOT NULL, variant TEXT NOT NULL, ranks INTEGER NOT NULL, restart INTEGER NOT NULL,
  system TEXT NOT NULL, backend TEXT NOT NULL, precision TEXT NOT NULL, status TEXT NOT NULL,
  message TEXT NOT NULL, jobs TEXT NOT NULL, elapsed_s REAL NOT NULL, gpu_hours REAL NOT NULL, energy_j REAL,
  energy_note TEXT NOT NULL, output_dir TEXT NOT NULL, PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS checks (
  run_id INTEGER NOT NULL, case_seq INTEGER NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL,
  status TEXT NOT NULL, detail TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (run_id, case_seq, seq));
CREATE TABLE IF NOT EXISTS figures (
  run_id INTEGER NOT NULL, case_seq INTEGER NOT NULL, name TEXT NOT NULL, value REAL NOT NULL,
  unit TEXT NOT NULL, has_reference INTEGER NOT NULL, ref_value REAL NOT NULL, ref_lower REAL, ref_upper REAL,
  status TEXT NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (run_id, case_seq, name));
CREATE TABLE IF NOT EXISTS job_samples (
  key TEXT PRIMARY KEY, source TEXT NOT NULL, workload TEXT NOT NULL, site TEXT NOT NULL, partition TEXT NOT NULL,
  ranks INTEGER NOT NULL, gpus INTEGER NOT NULL, what TEXT NOT NULL, work REAL NOT NULL, step_s REAL NOT NULL,
  wall_s REAL NOT NULL, elapsed_s REAL NOT NULL, recorded_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS job_samples_by_kind ON job_samples(workload, site, partition, ranks, recorded_at);
CREATE INDEX IF NOT EXISTS cases_by_instance ON cases(instance, system);
)sql";

class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) : m_db(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &m_stmt, nullptr) != SQLITE_OK) {
      throw RunError(fmt::format("results store: {} (in: {})", sqlite3_errmsg(db), sql));
    }
  }
  ~Stmt() { sqlite3_finalize(m_stmt); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(m_stmt, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(m_stmt, i, v);
    return *this;
  }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(m_stmt, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::optional<double>& v) {
    if (v) return bind(i, *v);
    sqlite3_bind_null(m_stmt, i);
    return *this;
  }
  /// True while there is a row.
  bool step() {
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw RunError(fmt::format("results store: {}", sqlite3_errmsg(m_db)));
  }
  std::string text(int col) {
    const auto* p = sqlite3_column_text(m_stmt, col);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  std::int64_t integer(int col) { return sqlite3_column_int64(m_stmt, col); }
  double real(int col) { return sqlite3_column_double(m_stmt, col); }
  std::optional<double> maybe(int col) {
    if (sqlite3_column_type(m_stmt, col) == SQLITE_NULL) return std::nullopt;
    return real(col);
  }

 private:
  sqlite3* m_db;
  sqlite3_stmt* m_stmt = nullptr;
};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : " ") + i;
  return out;
}

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find(' ', start);
    out.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

class SqliteResults final : public ResultsStore {
 public:
  explicit SqliteResults(const std::string& path) : m_path(path) {
    std::error_code ec;
    const auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (sqlite3_open_v2(path.c_str(), &m_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
      const std::string why = m_db ? sqlite3_errmsg(m_db) : "out of memory";
      sqlite3_close(m_db);
      throw InputError(fmt::format("{}: cannot open the results store: {}", path, why));
    }
    sqlite3_busy_timeout(m_db, 30000);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA foreign_keys=ON");
    try {
      exec("BEGIN IMMEDIATE");
      exec(kSchema);
      exec("INSERT OR IGNORE INTO meta(key, value) VALUES ('format', 'gosok results 1')");
      exec("COMMIT");
    } catch (const RunError& e) {
      throw InputError(fmt::format("{}: not a gosok results store: {}", path, e.what()));
    }
  }
  ~SqliteResults() override { sqlite3_close(m_db); }

  void save(SuiteRun& run) override {
    Transaction tx(*this);
    Stmt r(m_db,
           "INSERT INTO runs(suite, suite_file, site, grant_id, user, host, gosok_version, git_hash, started_at, "
           "ended_at, output_dir, updated_baselines, skipped) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
    r.bind(1, run.suite).bind(2, run.suite_file).bind(3, run.site).bind(4, run.grant).bind(5, run.user);
    r.bind(6, run.host).bind(7, run.gosok_version).bind(8, run.git_hash).bind(9, run.started_at);
    r.bind(10, run.ended_at).bind(11, run.output_dir).bind(12, std::int64_t{run.updated_baselines});
    r.bind(13, join(run.skipped));
    r.step();
    run.id = sqlite3_last_insert_rowid(m_db);
    for (std::size_t seq = 0; seq < run.cases.size(); ++seq) {
      const auto& c = run.cases[seq];
      const auto s = static_cast<std::int64_t>(seq);
      Stmt q(m_db,
             "INSERT INTO cases(run_id, seq, instance, case_name, variant, ranks, restart, system, backend, "
             "precision, status, message, jobs, elapsed_s, gpu_hours, energy_j, energy_note, output_dir) "
             "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
      q.bind(1, run.id).bind(2, s).bind(3, c.instance).bind(4, c.case_name).bind(5, c.variant);
      q.bind(6, std::int64_t{c.ranks}).bind(7, std::int64_t{c.restart}).bind(8, c.system).bind(9, c.backend);
      q.bind(10, c.precision).bind(11, c.status).bind(12, c.message).bind(13, join(c.jobs)).bind(14, c.elapsed_s);
      q.bind(15, c.gpu_hours).bind(16, c.energy_j).bind(17, c.energy_note).bind(18, c.output_dir);
      q.step();
      for (std::size_t k = 0; k < c.checks.size(); ++k) {
        const auto& ch = c.checks[k];
        Stmt x(m_db, "INSERT INTO checks(run_id, case_seq, seq, name, status, detail, reason) VALUES (?,?,?,?,?,?,?)");
        x.bind(1, run.id).bind(2, s).bind(3, static_cast<std::int64_t>(k)).bind(4, ch.name).bind(5, ch.status);
        x.bind(6, ch.detail).bind(7, ch.reason);
        x.step();
      }
      for (const auto& f : c.figures) {
        Stmt x(m_db,
               "INSERT INTO figures(run_id, case_seq, name, value, unit, has_reference, ref_value, ref_lower, "
               "ref_upper, status, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
        x.bind(1, run.id).bind(2, s).bind(3, f.name).bind(4, f.value).bind(5, f.unit);
        x.bind(6, std::int64_t{f.has_reference}).bind(7, f.ref_value).bind(8, f.ref_lower).bind(9, f.ref_upper);
        x.bind(10, f.status).bind(11, f.detail);
        x.step();
      }
    }
    tx.commit();
  }

  std::optional<SuiteRun> load(const std::string& ref) override {
    std::int64_t id = 0;
    if (ref == "latest" || ref == "previous") {
      Stmt q(m_db, "SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?");
      q.bind(1, std::int64_t{ref == "previous"});
      if (!q.step()) return std::nullopt;
      id = q.integer(0);
    } else if (const auto n = parse_decimal_integer(ref); n && *n > 0) {
      id = *n;
    } else {
      throw InputError("'" + ref +
                       "' is not a run: give its number (gosok regress runs lists them), latest or previous");
    }
    auto found = select_runs("WHERE id = ?", id, 1);
    if (found.empty()) return std::nullopt;
    SuiteRun run = found.front();
    Stmt c(m_db,
           "SELECT seq, instance, case_name, variant, ranks, restart, system, backend, precision, status, message, "
           "jobs, elapsed_s, gpu_hours, energy_j, energy_note, output_dir FROM cases WHERE run_id = ? ORDER BY seq");
    c.bind(1, id);
    std::vector<std::int64_t> seqs;
    while (c.step()) {
      CaseResult r;
      seqs.push_back(c.integer(0));
      r.instance = c.text(1);
      r.case_name = c.text(2);
      r.variant = c.text(3);
      r.ranks = static_cast<long>(c.integer(4));
      r.restart = c.integer(5) != 0;
      r.system = c.text(6);
      r.backend = c.text(7);
      r.precision = c.text(8);
      r.status = c.text(9);
      r.message = c.text(10);
      r.jobs = words(c.text(11));
      r.elapsed_s = c.real(12);
      r.gpu_hours = c.real(13);
      r.energy_j = c.maybe(14);
      r.energy_note = c.text(15);
      r.output_dir = c.text(16);
      run.cases.push_back(r);
    }
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      Stmt k(m_db, "SELECT name, status, detail, reason FROM checks WHERE run_id = ? AND case_seq = ? ORDER BY seq");
      k.bind(1, id).bind(2, seqs[i]);
      while (k.step()) run.cases[i].checks.push_back({k.text(0), k.text(1), k.text(2), k.text(3)});
      Stmt f(m_db,
             "SELECT name, value, unit, has_reference, ref_value, ref_lower, ref_upper, status, detail FROM figures "
             "WHERE run_id = ? AND case_seq = ? ORDER BY name");
      f.bind(1, id).bind(2, seqs[i]);
      while (f.step()) {
        FigureResult fr;
        fr.name = f.text(0);
        fr.value = f.real(1);
        fr.unit = f.text(2);
        fr.has_reference = f.integer(3) != 0;
        fr.ref_value = f.real(4);
        fr.ref_lower = f.maybe(5);
        fr.ref_upper = f.maybe(6);
        fr.status = f.text(7);
        fr.detail = f.text(8);
        run.cases[i].figures.push_back(fr);
      }
    }
    return run;
  }

  std::vector<SuiteRun> runs(int limit) override { return select_runs("", 0, limit); }

  std::vector<HistoryPoint> history(const std::string& instance, const std::string& figure, const std::string& system,
                                    int limit) override {
    Stmt q(m_db,
           "SELECT * FROM (SELECT r.id, r.started_at, r.git_hash, c.system, f.name, f.value, f.unit, f.status "
           "FROM figures f JOIN cases c ON c.run_id = f.run_id AND c.seq = f.case_seq JOIN runs r ON r.id = f.run_id "
           "WHERE c.instance = ?1 AND (?2 = '' OR f.name = ?2) AND (?3 = '' OR c.system = ?3) "
           "ORDER BY r.id DESC LIMIT ?4) ORDER BY id, name");
    q.bind(1, instance).bind(2, figure).bind(3, system).bind(4, std::int64_t{limit});
    std::vector<HistoryPoint> out;
    while (q.step()) {
      out.push_back({q.integer(0), q.integer(1), q.text(2), q.text(3), q.text(4), q.real(5), q.text(6), q.text(7)});
    }
    return out;
  }

  void record_sample(const JobSample& s) override {
    Transaction tx(*this);
    Stmt q(m_db,
           "INSERT OR REPLACE INTO job_samples(key, source, workload, site, partition, ranks, gpus, what, work, "
           "step_s, wall_s, elapsed_s, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
    q.bind(1, s.key).bind(2, s.source).bind(3, s.workload).bind(4, s.site).bind(5, s.partition);
    q.bind(6, std::int64_t{s.ranks}).bind(7, std::int64_t{s.gpus}).bind(8, s.what).bind(9, s.work);
    q.bind(10, s.step_s).bind(11, s.wall_s).bind(12, s.elapsed_s).bind(13, s.recorded_at);
    q.step();
    tx.commit();
  }

  std::vector<JobSample> samples(const std::string& workload, const std::string& site, const std::string& partition,
                                 int ranks, int limit) override {
    Stmt q(m_db,
           "SELECT key, source, workload, site, partition, ranks, gpus, what, work, step_s, wall_s, elapsed_s, "
           "recorded_at FROM job_samples WHERE workload = ? AND site = ? AND partition = ? AND ranks = ? "
           "ORDER BY recorded_at DESC, rowid DESC LIMIT ?");
    q.bind(1, workload).bind(2, site).bind(3, partition).bind(4, std::int64_t{ranks}).bind(5, std::int64_t{limit});
    std::vector<JobSample> out;
    while (q.step()) {
      JobSample s;
      s.key = q.text(0);
      s.source = q.text(1);
      s.workload = q.text(2);
      s.site = q.text(3);
      s.partition = q.text(4);
      s.ranks = static_cast<int>(q.integer(5));
      s.gpus = static_cast<int>(q.integer(6));
      s.what = q.text(7);
      s.work = q.real(8);
      s.step_s = q.real(9);
      s.wall_s = q.real(10);
      s.elapsed_s = q.real(11);
      s.recorded_at = q.integer(12);
      out.push_back(s);
    }
    return out;
  }

 private:
  class Transaction {
   public:
    explicit Transaction(SqliteResults& store) : m_store(store) { m_store.exec("BEGIN IMMEDIATE"); }
    ~Transaction() {
      if (!m_done) sqlite3_exec(m_store.m_db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit() {
      m_store.exec("COMMIT");
      m_done = true;
    }

   private:
    SqliteResults& m_store;
    bool m_done = false;
  };

  void exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(m_db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string what = message ? message : sqlite3_errmsg(m_db);
      sqlite3_free(message);
      throw RunError(fmt::format("results store {}: {}", m_path, what));
    }
  }

  std::vector<SuiteRun> select_runs(const std::string& where, std::int64_t id, int limit) {
    Stmt q(m_db,
           "SELECT id, suite, suite_file, site, grant_id, user, host, gosok_version, git_hash, started_at, ended_at, "
           "output_dir, updated_baselines, skipped FROM runs " +
               (where.empty() ? std::string() : where + " ") + "ORDER BY id DESC LIMIT " + std::to_string(limit));
    if (!where.empty()) q.bind(1, id);
    std::vector<SuiteRun> out;
    while (q.step()) {
      SuiteRun r;
      r.id = q.integer(0);
      r.suite = q.text(1);
      r.suite_file = q.text(2);
      r.site = q.text(3);
      r.grant = q.text(4);
      r.user = q.text(5);
      r.host = q.text(6);
      r.gosok_version = q.text(7);
      r.git_hash = q.text(8);
      r.started_at = q.integer(9);
      r.ended_at = q.integer(10);
      r.output_dir = q.text(11);
      r.updated_baselines = q.integer(12) != 0;
      r.skipped = words(q.text(13));
      out.push_back(r);
    }
    return out;
  }

  std::string m_path;
  sqlite3* m_db = nullptr;
};

}  // namespace

std::unique_ptr<ResultsStore> open_results_store(const std::string& path) {
  return std::make_unique<SqliteResults>(path);
}

}  // namespace gosok::regress
