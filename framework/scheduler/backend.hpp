#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gosok/scheduler/accounting.hpp>
#include <gosok/scheduler/emit.hpp>
#include <gosok/scheduler/ledger.hpp>

namespace gosok::sched {

/// Everything a backend needs to start one job that the ledger has already reserved.
struct SubmitContext {
  const JobPlan& plan;
  const Site& site;
  JobRecord& job;
  std::string script;               // rendered batch script
  std::string script_path;          // where it was written
  std::vector<std::string> launch;  // argv of the run, for backends that launch directly
  std::string ledger_path;
  std::string gosok_path;      // the gosok executable (the local backend's monitor runs it)
  std::string submitted_with;  // set by the backend: how the job reached the scheduler
};

/// A scheduler backend: how jobs are started, cancelled and accounted on one kind of site.
/// Found by name in the backend registry (`slurm`, `local`, `dry-run`).
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  /// Starts, in the background, what can be made ready before a job is (optional).
  virtual void prepare(const Site& /*site*/) {}
  /// Whether submitting books a reservation in the ledger (dry-run does not).
  virtual bool books() const { return true; }
  /// Starts the job; returns the scheduler's id ("" when it has none). Throws on failure,
  /// after which the caller releases the reservation.
  virtual std::string submit(SubmitContext& ctx) = 0;
  virtual void cancel(const JobRecord& job) = 0;
  /// What accounting says about these jobs (for reconcile).
  virtual std::vector<AcctRecord> accounting(const std::vector<JobRecord>& jobs) = 0;
};

using BackendFactory = std::function<std::unique_ptr<Backend>()>;
void register_backend(const std::string& name, BackendFactory factory);
std::unique_ptr<Backend> make_backend(const std::string& name);  // throws InputError naming the known ones
std::vector<std::string> backend_names();

std::unique_ptr<Backend> make_slurm_backend();
std::unique_ptr<Backend> make_local_backend();
std::unique_ptr<Backend> make_dry_run_backend();

/// The local backend's monitor (`gosok _local-monitor`): runs argv for ledger job `job_id`
/// in its output folder, then settles it with the measured elapsed time. Returns argv's
/// exit code.
int run_local_job(const std::string& ledger_path, std::int64_t job_id, const std::vector<std::string>& argv);

}  // namespace gosok::sched
