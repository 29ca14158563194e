#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/accounting.hpp>
#include <gosok/scheduler/emit.hpp>
#include <gosok/scheduler/ledger.hpp>

namespace gosok::sched {

/// Everything a backend needs to start one job (or one array) that the ledger has already
/// reserved.
struct SubmitContext {
  const JobPlan& plan;
  const Site& site;
  JobRecord& job;                   // the job, or an array's first task
  std::string script;               // rendered batch script
  std::string script_path;          // where it was written
  std::vector<std::string> launch;  // argv of the run, for backends that launch directly
  std::string ledger_path;
  std::string gosok_path;  // the gosok executable (the local backend's monitor runs it)
};

/// A backend's submit failed, and the job certainly does not exist: its reservation is
/// released.
class SubmitRefused : public RunError {
 public:
  using RunError::RunError;
};
/// A backend's submit failed without a definite answer (a timeout, a lost connection): the
/// job may exist, so its reservation stays (state submitting) until reconcile finds it by
/// its tag or the scheduler answers that no job carries it.
class SubmitUncertain : public RunError {
 public:
  using RunError::RunError;
};

/// Jobs named by one reference on the command line (g12, g12_3, 12345, 12345_3), and the
/// id the scheduler knows them by ("12345" for a whole array; "" when not yet submitted).
struct JobRef {
  std::vector<JobRecord> jobs;
  std::string scheduler_id;
};

/// A scheduler backend: how jobs are started, held, cancelled and accounted on one kind of
/// site. Found by name in the backend registry (`slurm`, `local`, `dry-run`).
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  /// Whether submitting books a reservation in the ledger (dry-run does not).
  virtual bool books() const { return true; }
  /// Whether the scheduler holds a job until its --dependency is met and runs job arrays
  /// (Slurm). Without one (local), a workflow starts each job itself, in order, one per member.
  virtual bool has_batch_system() const { return false; }
  /// Refuses, naming the option, what this backend cannot honour; called before anything
  /// is reserved.
  virtual void check(const JobPlan& /*plan*/) const {}
  /// Starts the job; returns the scheduler's id ("" when it has none). Throws
  /// SubmitUncertain when the job may have been created (the reservation stays), and
  /// SubmitRefused (or any other exception) when it certainly was not (the caller releases
  /// the reservation).
  virtual std::string submit(SubmitContext& ctx) = 0;
  virtual void cancel(const JobRef& ref) = 0;
  /// Lets a held job start (`gosok release`).
  virtual void release(const JobRef& ref) = 0;
  /// Replaces a pending job's --dependency ("" = none), as a workflow does when a job it
  /// waits for is retried or continued by a new one. Only where has_batch_system().
  virtual void set_dependency(const JobRef& ref, const std::string& dependency);
  /// What accounting says about these jobs (for reconcile); throws when it cannot say.
  virtual Accounting accounting(const std::vector<JobRecord>& jobs) = 0;
};

using BackendFactory = std::function<std::unique_ptr<Backend>()>;
void register_backend(const std::string& name, BackendFactory factory);
std::unique_ptr<Backend> make_backend(const std::string& name);  // throws InputError naming the known ones
std::vector<std::string> backend_names();

std::unique_ptr<Backend> make_slurm_backend();
std::unique_ptr<Backend> make_local_backend();
std::unique_ptr<Backend> make_dry_run_backend();

/// The local backend's monitor (`gosok _local-monitor`): runs argv for ledger job `job_id`
/// in its job folder (once released, when `hold`), stops it at its time limit (SIGTERM,
/// SIGKILL after a few seconds), then settles it with the measured elapsed time:
/// COMPLETED, FAILED, TIMEOUT or, after `gosok cancel`, CANCELLED. `before_settled` gets the
/// job as it is about to be settled, before the ledger says so: what it does (record the
/// run's timers for time predictions) is done by the time `gosok status --wait` returns.
/// Returns argv's exit code.
int run_local_job(const std::string& ledger_path, std::int64_t job_id, bool hold, const std::vector<std::string>& argv,
                  const std::function<void(const JobRecord&)>& before_settled = {});

}  // namespace gosok::sched
