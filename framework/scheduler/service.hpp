#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include <gosok/scheduler/accounting.hpp>
#include <gosok/scheduler/backend.hpp>
#include <gosok/scheduler/emit.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/site.hpp>

namespace gosok::sched {

/// The steps behind `gosok submit`, `reconcile`, `cancel` and `grants provision`, free of
/// command-line parsing so tests and benchmarks can call them.
struct SubmitOptions {
  bool dry_run = false;
  bool wait = false;          // local backend: wait for the run to finish
  std::string template_name;  // "" = the site's
  std::string ledger_path;
  std::string gosok_path;  // "" = the site's `gosok`, else $GOSOK_EXECUTABLE, else this executable
};

struct SubmitOutcome {
  JobRecord job;
  std::string script;
  std::string script_source;
  double reserve_gpu_h = 0;
  int exit_code = 0;           // local --wait: the run's exit code
  std::string submitted_with;  // how the job reached the scheduler ("libslurm 22.5.8", "sbatch", ...)
};

/// Lets the site's backend start, in the background, what it can ready before a submission
/// (Slurm: opening libslurm and reading slurm.conf while the ledger is opened). Optional;
/// call it as soon as the site is known.
void prepare_submit(const Site& site, const SubmitOptions& options);

/// plan → render → reserve (one transaction) → backend submit → record the id; releases
/// the reservation when the backend fails. With dry_run: plan and render only.
SubmitOutcome submit_job(const JobRequest& request, const Site& site, LedgerStore* ledger,
                         const SubmitOptions& options);

/// Settles every active job from accounting; `recorded` (non-empty) replaces the live sacct
/// call for the Slurm jobs (a recorded `sacct --parsable2` or `--json` output).
ReconcileReport reconcile_jobs(LedgerStore& ledger, const std::string& recorded_sacct, std::int64_t grace_s = 120);

/// Resolves "g12" (gosok id) or "12345" (Slurm id) to a ledger job; throws InputError.
JobRecord find_job_ref(LedgerStore& ledger, const std::string& ref);

/// The Slurm side of a grant: account, QOS with GrpTRESMins=gres/gpu=<minutes> and
/// Flags=NoDecay, the users' associations. Idempotent. Returns what it did, one line each.
std::vector<std::string> provision_grant(const Grant& grant, const std::vector<std::string>& users);
/// Differences between the ledger's grant and Slurm ("" lines = none): the drift report.
std::vector<std::string> check_provision(const Grant& grant, const std::vector<std::string>& users);
std::int64_t grant_gpu_minutes(const Grant& grant);

}  // namespace gosok::sched
