#pragma once

#include <functional>
#include <string>
#include <vector>

#include <gosok/scheduler/backend.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/site.hpp>
#include <gosok/workflow/workflow.hpp>

namespace gosok::workflow {

/// The workflow engine. Its state is the ledger's: the workflow's row and its jobs' rows
/// (which step, member, try and segment each job runs). No gosok process needs to stay
/// alive: every `advance` reads that state, settles the jobs accounting reports as ended
/// (one sacct for the whole workflow), judges them, and submits what the rules call for:
///  - a step whose turn has come (on Slurm at once, held by --dependency=afterok on the jobs
///    it waits for; on a site without a batch system once those have succeeded, as many at
///    a time as this machine's cores hold their ranks);
///  - a *retry* of a member whose job failed, while it has `retries` left;
///  - a *continuation* of a member whose job stopped at the walltime warning with a
///    checkpoint (exit 75), restarting from it, while the step's `time` lasts.
/// On Slurm, steps waiting for a retried or continued job get its id (scontrol update), and
/// the jobs of steps that can no longer run (a member failed for good) are cancelled. When
/// the grant cannot cover the next job the workflow is *held: grant exhausted* until it
/// can. Each job is booked once per (workflow, step, member, seq), so two gosok processes
/// advancing one workflow never both submit a job.
///
/// A job's *outcome* (JobRecord::outcome) once ended: succeeded (COMPLETED, exit 0, and its
/// result written: a workload's gosok-result.json, a command's `result` file), checkpointed,
/// failed, timed-out, out-of-memory, node-failed, preempted, cancelled, no-result (ended
/// without writing its result: killed), lost (a local job whose monitor died), released
/// (never ran: its submission failed or never reached the scheduler).
struct Engine {
  sched::LedgerStore& ledger;
  std::string ledger_path;
  const WorkloadInputs& inputs;
  std::string gosok_path;     // "" = the site's, $GOSOK_EXECUTABLE, this executable
  std::string template_name;  // "" = the site's
};

/// The outcome of an ended job of `step` (see Engine), whose member's earlier jobs ran
/// `used_s` seconds of the step's time before it: from the scheduler's state, the exit code
/// and the result the run wrote (a workload's kResultFile, a command's `result` file).
std::string job_outcome(const sched::JobRecord& job, const Step& step, std::int64_t used_s);

/// One step's first submission as planned (a dry run of it): its plan, script and charge.
struct PlannedStep {
  const Step* step = nullptr;
  sched::JobPlan plan;
  std::string script;
  std::string template_source;
  std::int64_t job_time_s = 0;  // each job's time limit: the step's time, or the partition's limit
  int segments = 1;             // jobs per member at least, when its time is over the partition's limit
  double gpu_hours = 0;         // what the step reserves in all: members x GPUs x time x charge factor
};

struct Plan {
  Workflow workflow;
  sched::Site site;
  std::string site_ref;  // how the workflow finds its site again: its name, or its file
  sched::Grant grant;
  std::vector<PlannedStep> steps;
  double gpu_hours = 0;  // all steps
  double remaining = 0;  // the grant's balance now
};

/// Checks each step's resources against the site (its partitions, its container runtimes,
/// a time over the partition's limit only where the step can be continued), as
/// `gosok validate` does without a grant; InputError naming the step otherwise.
void check_resources(const Workflow& workflow, const sched::Site& site);

/// Checks everything a submission would, submits nothing and books nothing: each step's
/// input (the workload's schema), resources (the site's partitions), the grant, and that
/// the grant covers the whole workflow (InputError otherwise: the workflow is refused as a
/// whole). `workflow` must have its outputs placed.
Plan plan_workflow(const Workflow& workflow, const sched::Site& site, const sched::Grant& grant, const Engine& engine);

/// Records the workflow in the ledger and submits its first jobs (held with `hold`, on
/// Slurm); returns it.
sched::WorkflowRecord submit_workflow(const Plan& plan, const std::string& file, const std::string& spec,
                                      const std::vector<std::string>& overrides, const Engine& engine, bool hold,
                                      std::vector<std::string>* events = nullptr);

/// The workflow as its row describes it (its file's text as submitted, its parameters).
Workflow load_workflow(const sched::WorkflowRecord& record);

/// What one advance saw and did.
struct Advance {
  std::vector<std::string> events;  // one line per job submitted, retried, continued, cancelled, ...
  bool changed = false;             // a job's state changed or a job was submitted
  bool finished = false;            // completed, failed or cancelled: nothing more will happen
  std::string unreachable;          // accounting could not be asked (the error): nothing decided
};

/// Brings the workflow forward (see Engine) on `site`, the one its row names (looked up once
/// by the command). With `resume`, also resubmits the members that failed for good or were
/// cancelled (never one that succeeded), and makes the jobs that wait for others wait for
/// their current jobs. The workflow's own state is not an event: it is in `workflow`.
Advance advance(const Engine& engine, const sched::Site& site, sched::WorkflowRecord& workflow, bool resume = false);

/// Advances until the workflow has finished, polling gently: the wait between polls doubles
/// from 1 s up to `longest_poll_s` while nothing changes (<= 0: 30 s, on a site without a
/// batch system 5 s), and starts over when something does. `on_event` gets every event
/// line; `timeout_s` < 0: no limit. Returns false on timeout.
bool follow(const Engine& engine, const sched::Site& site, sched::WorkflowRecord& workflow, double timeout_s,
            const std::function<void(const std::string&)>& on_event, bool resume_first = false,
            double longest_poll_s = 0);

/// Cancels every job of the workflow that has not ended; it is then `cancelled` until resumed.
std::vector<std::string> cancel_workflow(const Engine& engine, sched::WorkflowRecord& workflow);
/// Releases the workflow's held jobs (gosok submit --hold).
std::vector<std::string> release_workflow(const Engine& engine, sched::WorkflowRecord& workflow);

/// A member's jobs and where it stands.
struct MemberStatus {
  int member = -1;
  std::string state;  // pending, submitting, queued, running, succeeded, failed, cancelled, retry, continue
  std::vector<sched::JobRecord> jobs;  // by seq
};
struct StepStatus {
  const Step* step = nullptr;
  std::string state;  // the members' states summed up: "running (3 of 4 succeeded)"
  std::vector<MemberStatus> members;
};
struct Status {
  Workflow workflow;
  std::vector<StepStatus> steps;
  double reserved_gpu_h = 0;  // held now by the workflow's jobs that have not ended
  double charged_gpu_h = 0;   // settled
  int jobs = 0;
};
Status workflow_status(const Engine& engine, const sched::WorkflowRecord& workflow);

/// Finds a workflow by its id (w3) or name (the newest of that name); InputError otherwise.
sched::WorkflowRecord find_workflow(sched::LedgerStore& ledger, const std::string& ref);
/// Whether `ref` reads as a workflow (w3, or the name of one in the ledger).
bool is_workflow_ref(sched::LedgerStore& ledger, const std::string& ref);

}  // namespace gosok::workflow
