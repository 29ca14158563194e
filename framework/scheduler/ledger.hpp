#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/grants.hpp>

namespace gosok::sched {

/// Vocabulary of the ledger:
///  - *reserve*: at submission, GPUs × (walltime + the site's overrun) × charge factor is held
///    against the grant: what the scheduler may really let the job use;
///  - *settle*: once accounting knows the job, the real charge (elapsed × allocated GPUs ×
///    charge factor, summed over every run of a requeued job) is booked and the reservation
///    ends; a run is never charged more than its reservation (the rest is reported as
///    *uncharged*);
///  - *release*: the reservation ends with no charge, only once it is certain that the job
///    never reached the scheduler (sbatch refused it, or the scheduler answered, for held
///    jobs too, that no job carries its tag), or the job failed through the system.
/// Job states: submitting (reserved, Slurm id not yet recorded: the submission is in flight,
/// or its outcome was lost), queued, running, settled, released, missing (accounting has no
/// record: reported, the reservation is kept). An active job's balance is its reservation
/// plus what its earlier runs (requeued) were charged.
/// A Slurm job array is one row per task, reserved together: the tasks share the array's
/// tag and `array_id` (the id of its first row); task T of Slurm array job A is "A_T".
/// A *tag* (the job's --comment) is gosok:<ledger instance>:<first id>:<random nonce>: a job
/// found by its tag is bound only when its Slurm user and account are the row's too.
struct JobRecord {
  std::int64_t id = 0;  // gosok id, shown as g<id>
  std::string grant_id;
  std::string site;
  std::string partition;
  std::string backend;   // slurm | local
  std::string slurm_id;  // "123", or "123_7" for task 7 of array job 123
  std::string tag;       // gosok:<ledger instance>:<id>:<nonce> (an array's first id), the job's --comment
  std::string user;      // the Unix user who submitted it (its Slurm user; on PostgreSQL the session's role)
  std::string account;   // the Slurm account it is charged to
  std::string name;
  std::string workload;
  std::string state = "submitting";
  std::string sched_state;  // last state the scheduler reported (PENDING, COMPLETED, ...)
  int nodes = 1;
  int gpus = 0;  // GPUs requested, all nodes
  std::int64_t time_limit_s = 0;
  double charge_factor = 1.0;
  double reserved_gpu_h = 0;
  double charged_gpu_h = 0;    // settled: the charge; active: what earlier runs were charged
  double uncharged_gpu_h = 0;  // use past the reservation of a run, not charged (reported)
  std::int64_t submitted_at = 0;
  std::int64_t started_at = 0;  // 0: not started (or not known yet)
  std::int64_t ended_at = 0;
  std::int64_t elapsed_s = 0;
  int alloc_gpus = 0;
  int pid = 0;              // local backend
  std::string job_dir;      // gosok's job folder: the script, Slurm's output
  std::string results_dir;  // where the run writes its results
  std::string note;
  std::int64_t array_id = 0;  // 0: not an array task
  int array_task = -1;
  int exit_code = -1;  // the run's exit code, once known (-1: not known)
  // A job of a workflow (workflow_id > 0): which step and member it runs, its place among
  // the member's jobs (seq 1, 2, ...: unique per workflow, step and member), which try
  // (attempt: 1 + retries) and which part of the run (segment: 1 + continuations), and
  // the workflow's verdict on it once it has ended ("" until then; see workflow/engine.hpp).
  std::int64_t workflow_id = 0;
  std::string step;
  int member = -1;  // -1: a step without members
  int seq = 0;
  int attempt = 1;
  int segment = 1;
  std::string outcome;
  /// Joules the job's GPUs used, from its run's diagnostics when it was settled; unset when
  /// not measured (no NVIDIA GPU, no NVML, no diagnostics), and energy_note says why.
  std::optional<double> energy_j;
  std::string energy_note;

  bool active() const { return state == "submitting" || state == "queued" || state == "running" || state == "missing"; }
  bool in_array() const { return array_id != 0; }
  /// g12, or g12_7 for task 7 of the array whose first row is 12.
  std::string gosok_id() const {
    return in_array() ? "g" + std::to_string(array_id) + "_" + std::to_string(array_task) : "g" + std::to_string(id);
  }
};

struct GrantChange {
  std::int64_t at = 0;
  std::string what;  // "imported" | "updated"
  std::string old_terms;
  std::string new_terms;  // JSON
  std::string source;     // the file it was imported from
  std::string by;         // who imported it ("" in ledgers older than schema 3)
};

/// One member of a project: `user` may reserve on the project's grants. `source` says where
/// the membership came from: "platform" (the allocation platform's export), "slurm" (the
/// accounts' associations, sacctmgr show assoc), or "migrated".
struct Member {
  std::string project;
  std::string user;
  std::string source;
  std::int64_t imported_at = 0;
};

/// What set_members changed in one project.
struct MembersChange {
  std::vector<std::string> added;
  std::vector<std::string> removed;
};

/// One member's part of a grant's balance (the same buckets as GrantBalance).
struct MemberBalance {
  std::string user;
  double settled = 0;
  double in_flight = 0;
  double queued = 0;
  int active_jobs = 0;
  int settled_jobs = 0;
};

/// GPU-hours of one grant; remaining = granted − settled − in_flight − queued.
struct GrantBalance {
  double granted = 0;
  double settled = 0;
  double in_flight = 0;  // reservations of running jobs
  double queued = 0;     // reservations of jobs not yet running (incl. submitting)
  double remaining = 0;
  double burn_per_day = 0;               // settled GPU-hours per day over the last 7 days
  std::optional<std::int64_t> runs_out;  // epoch s at the current burn rate (before the grant's end)
  int active_jobs = 0;
  int settled_jobs = 0;
  double energy_kwh = 0;                 // GPU energy of the settled jobs that have a measurement
  int energy_jobs = 0;                   // how many settled jobs have one
  std::vector<MemberBalance> by_member;  // everyone who reserved on the grant, by name
};

/// Who the ledger takes its caller to be and what it lets them do. A shared (PostgreSQL)
/// ledger enforces this itself (`enforced`); an SQLite ledger is one user's file, and
/// whoever may write the file may do anything in it.
struct LedgerRights {
  std::string user;
  bool enforced = false;
  bool admin = false;                 // may import and change grants and members
  bool reconcile = false;             // may settle jobs
  std::vector<std::string> projects;  // the projects the user is a member of
};

/// A workflow submitted from a workflow file (shown as w<id>). Its steps' jobs are jobs of
/// the ledger (JobRecord::workflow_id); the workflow row keeps what they cannot say: the
/// file as submitted (resume works from it, whatever became of the file since), the
/// parameters given on the command line, and whether it is held, finished or cancelled.
struct WorkflowRecord {
  std::int64_t id = 0;
  std::string name;
  std::string grant_id;
  std::string site;
  std::string file;               // the workflow file's path when submitted
  std::string spec;               // its text then
  std::string overrides;          // the --set parameter overrides, JSON array of "key=value"
  std::string output_dir;         // the workflow's folder: one sub-folder per step
  std::string state = "running";  // running | held | completed | failed | cancelled
  std::string note;               // why it is held, or what failed
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::string user;  // who submitted it (set by the ledger)

  std::string ref() const { return "w" + std::to_string(id); }
};

/// Everything a ledger holds, for `gosok ledger migrate`. Job ids, array ids and history
/// are the source's; the target gives the jobs ids of its own when the source's are taken.
struct LedgerContent {
  struct GrantRow {
    Grant grant;
    std::int64_t imported_at = 0;
    std::string source;
  };
  struct HistoryRow {
    std::string grant_id;
    GrantChange change;
  };
  std::string instance;
  std::vector<GrantRow> grants;
  std::vector<HistoryRow> history;
  std::vector<Member> members;
  std::vector<WorkflowRecord> workflows;  // by id
  std::vector<JobRecord> jobs;            // by id
};

/// Per grant, what a migration checks on both sides: the job count and GPU-hours.
struct GrantTotals {
  int jobs = 0;
  int history = 0;
  double reserved = 0;  // of active jobs
  double charged = 0;   // of every job (settled, and active jobs' earlier runs)
};
/// The grant's totals in `content` alone.
GrantTotals content_totals(const LedgerContent& content, const std::string& grant_id);

/// One outcome to apply during reconciliation.
struct JobUpdate {
  std::int64_t id = 0;
  std::string state;  // queued | running | settled | released | missing
  std::string sched_state;
  std::string slurm_id;      // set when a job is found by its tag
  double charged_gpu_h = 0;  // settled: the charge; active: earlier runs' charge
  double uncharged_gpu_h = 0;
  std::int64_t elapsed_s = 0;
  int alloc_gpus = 0;
  std::int64_t started_at = 0;  // 0: unchanged
  std::int64_t ended_at = 0;
  int exit_code = -1;  // -1: unchanged
  std::string note;
  std::optional<double> energy_j;  // when settling: see JobRecord
  std::string energy_note;
};

/// One grant of an import, and where it came from.
struct GrantImport {
  Grant grant;
  std::string source;  // "grants.csv:3"
};

/// How a late scheduler id found the reservation (LedgerStore::set_submitted).
enum class Booking {
  kept,     // the rows were still reserved (submitting, or already bound by reconcile)
  renewed,  // a concurrent reconcile had released them; the grant still covered them: reserved again
  refused,  // released, and the grant no longer covers them: nothing is booked, the caller cancels the job
};

/// LedgerStore::reserve's refusal when the grant's balance cannot cover the jobs.
class GrantCannotCover : public InputError {
 public:
  using InputError::InputError;
};

/// LedgerStore::reserve of a workflow job (step, member, seq) that is already booked:
/// another gosok advanced the same workflow at the same moment, and its job stands.
class AlreadyBooked : public RunError {
 public:
  using RunError::RunError;
};

/// Storage behind the ledger. SQLite is the embedded default (one user, one machine);
/// PostgreSQL holds a project team's or a whole centre's ledger, implements the same
/// interface and contract, and enforces who may do what itself (docs/site-admin/ledger.md).
/// Every method that changes something is one transaction, and the rules that read the
/// balance are checked inside it, so concurrent processes can never both spend the same
/// GPU-hours. Refusals (the balance, a rule of the ledger) are InputError.
class LedgerStore {
 public:
  virtual ~LedgerStore() = default;

  /// Unique id of this ledger, part of every job tag.
  virtual std::string instance_id() = 0;
  /// Whether this store was opened read-only (then every change throws RunError).
  virtual bool read_only() const = 0;
  /// "sqlite" or "postgresql".
  virtual std::string backend() const = 0;
  /// Where it is, for messages: the file, or the database, host and role (never a password).
  virtual std::string describe() const = 0;
  virtual LedgerRights access() = 0;

  /// Adds or updates every grant in one transaction: all of them, or (on any error) none.
  /// Returns "added", "updated" (old terms kept in the history) or "unchanged" per grant.
  /// An update that cuts a grant below what is committed to it (settled plus active
  /// reservations) is refused (check_grant_cut) unless `allow_cut`.
  virtual std::vector<std::string> import_grants(const std::vector<GrantImport>& grants, bool allow_cut) = 0;
  virtual std::optional<Grant> find_grant(const std::string& id) = 0;
  virtual std::vector<Grant> grants() = 0;
  virtual std::vector<GrantChange> grant_history(const std::string& id) = 0;
  virtual GrantBalance balance(const std::string& grant_id, std::int64_t now) = 0;

  /// Makes `users` the members of `project` from `source` (the project's other members from
  /// that source are removed; those from other sources stay).
  virtual MembersChange set_members(const std::string& project, const std::vector<std::string>& users,
                                    const std::string& source) = 0;
  /// Members of one project ("" = every project the caller may see), by project and user.
  virtual std::vector<Member> members(const std::string& project) = 0;

  /// Atomically checks that the grant's remaining GPU-hours cover the reservations of
  /// `jobs` (one job, or every task of one array: rows with array_task >= 0) and books them
  /// all; throws GrantCannotCover (an InputError: the refusal, refusal_message) otherwise and
  /// books none. Fills each job's id, tag (new_job_tag) and array_id. Safe against concurrent
  /// processes. Workflow jobs are booked once per (workflow, step, member, seq): AlreadyBooked
  /// otherwise.
  virtual void reserve(std::vector<JobRecord>& jobs) = 0;
  /// Records the scheduler's id of job `id` (for an array, its first row: every task gets
  /// "<slurm_id>_<task>") and the local pid; the job is then queued. When a concurrent
  /// reconcile had already released the reservation (the submission took longer than its
  /// grace), it is reserved again if the grant still covers it, else nothing is booked
  /// (Booking::refused): a job the scheduler accepted is never left running unbooked.
  virtual Booking set_submitted(std::int64_t id, const std::string& slurm_id, int pid) = 0;
  /// Ends, with no charge, the reservations of the caller's own jobs that never reached the
  /// scheduler (still `submitting`): what a refused sbatch leaves.
  virtual void release_unsubmitted(const std::vector<std::int64_t>& ids, const std::string& note) = 0;
  /// Notes on the caller's own jobs still `submitting` why their outcome is unknown (the
  /// reservation stays until reconcile knows).
  virtual void note_unsubmitted(const std::vector<std::int64_t>& ids, const std::string& note) = 0;
  /// Applies reconciliation's outcomes (on a shared ledger only the reconcile role may);
  /// a settled or released job never changes again. Returns the ids that changed, so two
  /// reconciles at once each report only what they settled.
  virtual std::vector<std::int64_t> apply(const std::vector<JobUpdate>& updates) = 0;

  virtual std::optional<JobRecord> find_job(std::int64_t id) = 0;
  /// Every task of the array whose first row is `array_id`, by task index (empty: none).
  virtual std::vector<JobRecord> find_array(std::int64_t array_id) = 0;
  /// The job with this Slurm id ("123", "123_7"), or every task of array job "123".
  virtual std::vector<JobRecord> find_jobs_by_slurm_id(const std::string& slurm_id) = 0;
  /// Jobs of one grant ("" = all), newest first; only active ones when `active_only`.
  virtual std::vector<JobRecord> jobs(const std::string& grant_id, bool active_only) = 0;

  /// Records a workflow; returns its id.
  virtual std::int64_t add_workflow(const WorkflowRecord& workflow) = 0;
  virtual std::optional<WorkflowRecord> find_workflow(std::int64_t id) = 0;
  /// Workflows called `name` ("" = all), newest first.
  virtual std::vector<WorkflowRecord> workflows(const std::string& name) = 0;
  virtual void set_workflow_state(std::int64_t id, const std::string& state, const std::string& note) = 0;
  /// Every job of the workflow, by step, member and seq.
  virtual std::vector<JobRecord> workflow_jobs(std::int64_t workflow_id) = 0;
  /// Records the workflow's verdict on ended jobs (job id, outcome), in one transaction.
  virtual void set_outcomes(const std::vector<std::pair<std::int64_t, std::string>>& outcomes) = 0;

  /// Everything, for migration (what the caller may see).
  virtual LedgerContent content() = 0;
  /// Adds `content` in one transaction: grants the target lacks (a grant it holds must
  /// have the same terms), their history, the members, and every job, with the same ids
  /// when the target has no jobs yet, else new ones (returned as source id -> target id).
  /// Checks inside the transaction that each grant's totals grew by exactly the content's,
  /// and rolls everything back otherwise.
  virtual std::vector<std::pair<std::int64_t, std::int64_t>> load(const LedgerContent& content) = 0;
  /// Job count, history entries and GPU-hours of one grant.
  virtual GrantTotals totals(const std::string& grant_id) = 0;
};

// ---- Rules every LedgerStore applies inside its transactions (ledger_rules.cpp).

/// A fresh tag for the job (or array) whose first row is `id`: nobody can guess the next one.
std::string new_job_tag(const std::string& instance, std::int64_t id);
/// Whether `remaining` GPU-hours cover `wanted` (a rounding slack of 1e-9 GPU-hours, a few
/// microseconds, so that an exact fit is accepted).
bool covers(double remaining, double wanted);
/// The refusal when a grant cannot cover `wanted` (`tasks` > 1: an array).
std::string refusal_message(const Grant& grant, double wanted, double remaining, std::size_t tasks);
/// Throws InputError when `updated` cuts grant `old` below `committed` (settled + active
/// reservations and charges) and `allow_cut` is false.
void check_grant_cut(const Grant& old, const Grant& updated, double committed, bool allow_cut,
                     const std::string& source);
/// The Unix user running this process (its Slurm user).
std::string current_user();

/// Where a ledger is: an SQLite file, or a PostgreSQL database. Written as
///   postgresql://... or postgres://...   a libpq URI (postgresql:///gosok?host=/run/postgresql)
///   KEY=VALUE ...                       libpq connection options (service=gosok, dbname=gosok host=...)
///   sqlite:PATH                         an SQLite file, explicitly
///   anything else                       an SQLite file path
struct LedgerLocation {
  std::string backend;  // "sqlite" | "postgresql"
  std::string target;   // the path, or the libpq connection string
};
LedgerLocation parse_ledger_location(const std::string& text);

/// Opens the ledger at `location` (as parse_ledger_location reads it). An SQLite file is
/// created when missing (unless must_exist); a PostgreSQL ledger must have been set up
/// (`gosok ledger setup`).
std::unique_ptr<LedgerStore> open_ledger_at(const std::string& location, bool must_exist = false);

/// Opens (creating if needed, readable by its owner only) an SQLite ledger: WAL journal, a
/// busy timeout so concurrent gosok processes wait for each other, BEGIN IMMEDIATE for every
/// change. `read_only`: opens an existing ledger without writing anything (for commands
/// that only read, e.g. on a ledger the user may not write).
std::unique_ptr<LedgerStore> open_sqlite_ledger(const std::string& path, bool read_only = false);
/// Connects to a PostgreSQL ledger (libpq connection string or URI) set up by
/// setup_postgres_ledger.
std::unique_ptr<LedgerStore> open_postgres_ledger(const std::string& conninfo);
/// Creates or upgrades the shared ledger's schema, roles, functions and row-level policies
/// in the database `conninfo` names (run as its owner or a superuser; idempotent), and
/// gives the login roles of `admins` and `reconcilers` (Unix user names) their group role.
/// Returns what it did, one line each.
std::vector<std::string> setup_postgres_ledger(const std::string& conninfo, const std::vector<std::string>& admins,
                                               const std::vector<std::string>& reconcilers);

/// The ledger's location: explicit (--ledger) > $GOSOK_LEDGER > `ledger = "..."` in the user
/// config (user_config_path()) > the site's `ledger` > $XDG_DATA_HOME/gosok/ledger.sqlite >
/// ~/.local/share/gosok/ledger.sqlite.
std::string ledger_location(const std::string& explicit_location, const std::string& site_ledger);
/// $XDG_DATA_HOME/gosok, else ~/.local/share/gosok: the user's own gosok files.
std::string user_data_dir();
/// Fills u.energy_j (or u.energy_note) of a job being settled from the energy its run
/// recorded in <results_dir>/diagnostics.json, provided that record belongs to this job
/// (its gosok id or its Slurm id).
void attach_run_energy(JobUpdate& u, const JobRecord& job);

/// $XDG_CONFIG_HOME/gosok/config.toml, else ~/.config/gosok/config.toml.
std::string user_config_path();

std::string grant_terms_json(const Grant& g);

/// Checks a member's name as both backends store it: a Unix user name (lower-case letters,
/// digits, '_', '-', '.', starting with a letter or '_', at most 32 characters).
void require_user_name(const std::string& what, const std::string& name);

}  // namespace gosok::sched
