#pragma once

#include <functional>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include <gosok/scheduler/accounting.hpp>
#include <gosok/scheduler/backend.hpp>
#include <gosok/scheduler/emit.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/site.hpp>

namespace gosok::sched {

/// The steps behind `gosok submit`, `reconcile`, `cancel`, `release` and `grants
/// provision`, free of command-line parsing so tests and benchmarks can call them.
struct SubmitOptions {
  bool dry_run = false;
  std::string template_name;  // "" = the site's
  std::string ledger_path;
  std::string gosok_path;  // "" = the site's `gosok`, else $GOSOK_EXECUTABLE, else this executable
  /// Checks the workload's input (name, --input file, --set values, the array key for the
  /// first and last task index) as `gosok run` will; throws InputError. Called before
  /// anything is reserved; unset: no check (the scheduler library knows no workloads).
  std::function<void(const JobPlan&)> check_input;
  /// Called for each job (each array task) before the reservation: a workflow gives its jobs
  /// their place in it (JobRecord::workflow_id, step, member, seq, attempt, segment).
  std::function<void(JobRecord&)> place;
};

struct SubmitOutcome {
  std::vector<JobRecord> jobs;  // the job, or every task of the array
  std::string script;
  std::string script_source;
  double reserved_gpu_h = 0;  // all of them (a dry run: what would be reserved)
  JobPlan plan;
};

/// gosok ids in a --dependency list (afterok:g12:g13_2) → their Slurm ids; throws InputError
/// for a job that is not in the ledger or has no Slurm id.
std::string resolve_dependency(LedgerStore& ledger, const std::string& dependency);

/// plan → price from the center's site (require_center_pricing; a user's template is held to
/// the center's directives) → check the input → render → check the folders → reserve (one
/// transaction, every array task) → write the script into the private job folder →
/// backend submit → record the id. A definite refusal releases the reservation; an
/// uncertain outcome (SubmitUncertain) keeps it, for reconcile; a late success after a
/// concurrent release is reserved again, or cancelled. With dry_run: plan, check and
/// render only (any site file).
SubmitOutcome submit_job(const JobRequest& request, const Site& site, LedgerStore* ledger,
                         const SubmitOptions& options);

/// Settles every active job from accounting; `recorded` (non-empty) replaces the live sacct
/// call for the Slurm jobs (a recorded `sacct --parsable2` or `--json` output, which proves
/// no job absent: nothing is released on its strength).
ReconcileReport reconcile_jobs(LedgerStore& ledger, const std::string& recorded_sacct, std::int64_t grace_s = 120);
/// The same for some active jobs only (one workflow's): one sacct call for all of them. On a
/// shared ledger a user without the reconcile role settles nothing (an empty report).
ReconcileReport reconcile_active(LedgerStore& ledger, const std::vector<JobRecord>& active,
                                 const std::string& recorded_sacct = "", std::int64_t grace_s = 120);

/// Resolves "g12" / "g12_3" (gosok ids) or "12345" / "12345_3" (Slurm ids) to ledger jobs:
/// g12 or 12345 of an array is every task. Throws InputError.
JobRef find_job_ref(LedgerStore& ledger, const std::string& ref);

/// The site a grant is for (find_site of its `site`); an InputError naming `where`, the
/// grant and the sites searched when gosok does not know it.
Site site_of_grant(const Grant& grant, const std::string& where);

/// The Slurm side of a grant: account, QOS with GrpTRESMins=gres/gpu=<minutes> and
/// Flags=NoDecay, the users' associations. Idempotent; every name is checked (and every
/// user must exist) before anything is created. Returns what it did, one line each.
std::vector<std::string> provision_grant(const Grant& grant, const std::vector<std::string>& users);
/// Differences between the ledger's grant and Slurm ("" lines = none): the drift report.
std::vector<std::string> check_provision(const Grant& grant, const std::vector<std::string>& users);
std::int64_t grant_gpu_minutes(const Grant& grant);
/// Slurm's associations, account -> its users (sacctmgr show assoc): where project
/// membership comes from when the allocation platform exports none.
std::map<std::string, std::vector<std::string>> slurm_account_users();

}  // namespace gosok::sched
