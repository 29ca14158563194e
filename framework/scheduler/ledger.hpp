#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gosok/scheduler/grants.hpp>

namespace gosok::sched {

/// Vocabulary of the ledger:
///  - *reserve*: at submission, GPUs × walltime × charge factor is held against the grant;
///  - *settle*: once accounting knows the job, the real charge (elapsed × allocated GPUs ×
///    charge factor) is booked and the reservation ends;
///  - *release*: the reservation ends with no charge (sbatch failed, never submitted, or the
///    job failed through the system, e.g. NODE_FAIL).
/// Job states: submitting (reserved, Slurm id not yet recorded), queued, running, settled,
/// released, missing (accounting has no record: reported, the reservation is kept).
/// A Slurm job array is one row per task, reserved together: the tasks share the array's
/// tag and `array_id` (the id of its first row); task T of Slurm array job A is "A_T".
struct JobRecord {
  std::int64_t id = 0;  // gosok id, shown as g<id>
  std::string grant_id;
  std::string site;
  std::string partition;
  std::string backend;   // slurm | local
  std::string slurm_id;  // "123", or "123_7" for task 7 of array job 123
  std::string tag;       // gosok:<ledger instance>:<id> (an array's first id), carried in the job's --comment
  std::string name;
  std::string workload;
  std::string state = "submitting";
  std::string sched_state;  // last state the scheduler reported (PENDING, COMPLETED, ...)
  int nodes = 1;
  int gpus = 0;  // GPUs requested, all nodes
  std::int64_t time_limit_s = 0;
  double charge_factor = 1.0;
  double reserved_gpu_h = 0;
  double charged_gpu_h = 0;
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
  double energy_kwh = 0;  // GPU energy of the settled jobs that have a measurement
  int energy_jobs = 0;    // how many settled jobs have one
};

/// One outcome to apply during reconciliation.
struct JobUpdate {
  std::int64_t id = 0;
  std::string state;  // queued | running | settled | released | missing
  std::string sched_state;
  std::string slurm_id;  // set when a job is found by its tag
  double charged_gpu_h = 0;
  std::int64_t elapsed_s = 0;
  int alloc_gpus = 0;
  std::int64_t started_at = 0;  // 0: unchanged
  std::int64_t ended_at = 0;
  std::string note;
  std::optional<double> energy_j;  // when settling: see JobRecord
  std::string energy_note;
};

/// Storage behind the ledger. SQLite is the embedded default; a server database
/// (PostgreSQL) for a center with many users can implement the same interface.
/// Every method that changes something is one transaction.
class LedgerStore {
 public:
  virtual ~LedgerStore() = default;

  /// Unique id of this ledger, part of every job tag.
  virtual std::string instance_id() = 0;

  /// Returns "added", "updated" (old terms kept in the history) or "unchanged".
  virtual std::string upsert_grant(const Grant& grant, const std::string& source) = 0;
  virtual std::optional<Grant> find_grant(const std::string& id) = 0;
  virtual std::vector<Grant> grants() = 0;
  virtual std::vector<GrantChange> grant_history(const std::string& id) = 0;
  virtual GrantBalance balance(const std::string& grant_id, std::int64_t now) = 0;

  /// Atomically checks that the grant's remaining GPU-hours cover the reservations of
  /// `jobs` (one job, or every task of one array: rows with array_task >= 0) and books them
  /// all; throws InputError (the refusal) otherwise and books none. Fills each job's id,
  /// tag and array_id. Safe against concurrent processes (one transaction, write-locked).
  virtual void reserve(std::vector<JobRecord>& jobs) = 0;
  /// Records the scheduler's id of job `id` (for an array, its first row: every task gets
  /// "<slurm_id>_<task>") and the local pid; the job is then queued (a state its local monitor
  /// set first, held or running, stays).
  virtual void set_submitted(std::int64_t id, const std::string& slurm_id, int pid) = 0;
  virtual void apply(const std::vector<JobUpdate>& updates) = 0;

  virtual std::optional<JobRecord> find_job(std::int64_t id) = 0;
  /// Every task of the array whose first row is `array_id`, by task index (empty: none).
  virtual std::vector<JobRecord> find_array(std::int64_t array_id) = 0;
  /// The job with this Slurm id ("123", "123_7"), or every task of array job "123".
  virtual std::vector<JobRecord> find_jobs_by_slurm_id(const std::string& slurm_id) = 0;
  /// Jobs of one grant ("" = all), newest first; only active ones when `active_only`.
  virtual std::vector<JobRecord> jobs(const std::string& grant_id, bool active_only) = 0;
};

/// Opens (creating if needed) an SQLite ledger: WAL journal, a busy timeout so concurrent
/// gosok processes wait for each other, BEGIN IMMEDIATE for every change.
std::unique_ptr<LedgerStore> open_sqlite_ledger(const std::string& path);

/// The ledger path: explicit (--ledger) > $GOSOK_LEDGER > `ledger = "..."` in the user
/// config (user_config_path()) > the site's `ledger` > $XDG_DATA_HOME/gosok/ledger.sqlite >
/// ~/.local/share/gosok/ledger.sqlite.
std::string ledger_path(const std::string& explicit_path, const std::string& site_ledger);
/// Fills u.energy_j (or u.energy_note) of a job being settled from the energy its run
/// recorded in <results_dir>/diagnostics.json, provided that record belongs to this job
/// (its gosok id or its Slurm id).
void attach_run_energy(JobUpdate& u, const JobRecord& job);

/// $XDG_CONFIG_HOME/gosok/config.toml, else ~/.config/gosok/config.toml.
std::string user_config_path();

std::string grant_terms_json(const Grant& g);

}  // namespace gosok::sched
