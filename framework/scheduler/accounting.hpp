#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <gosok/scheduler/ledger.hpp>

namespace gosok::sched {

/// One run of a job as the scheduler's accounting (sacct -D: a requeued job has one record
/// per run) or queue (squeue) reports it. A task of array job 123 is "123_7"; sacct's line
/// for the tasks that have not started yet, "123_[8-999%4]", is read as one record per task.
struct AcctRecord {
  std::string job_id;
  std::string state;  // first word: "CANCELLED by 0" -> CANCELLED
  std::int64_t elapsed_s = 0;
  int alloc_gpus = 0;
  std::string comment;
  std::int64_t start = 0;  // epoch s, 0 when unknown (or not started)
  std::int64_t end = 0;    // epoch s, 0 when unknown
  std::string user;        // the job's Slurm user ("" when the source does not say)
  std::string account;     // its Slurm account (lower case)
  int exit_code = -1;      // the batch script's exit code (128+N when killed by signal N); -1 unknown
};

/// What a backend's accounting says about the active jobs. `complete` is true only when
/// every query succeeded and together they cover every job that could carry a tag (held
/// and never-eligible ones too, which sacct's time window leaves out): only then does a
/// job's absence prove that it never reached the scheduler.
struct Accounting {
  std::vector<AcctRecord> records;
  bool complete = true;
  std::string problem;  // why it is not complete
};

/// `sacct -X -D --parsable2 --format=JobID,State,ElapsedRaw,AllocTRES,Comment,Start,End,User,Account,ExitCode`
/// output with its header line (columns found by name; step lines like 12.batch are skipped).
std::vector<AcctRecord> parse_sacct_parsable(const std::string& text);
/// `sacct --json` output (openapi dbv0.0.38 and later: jobs[].state.current, tres.allocated).
std::vector<AcctRecord> parse_sacct_json(const std::string& text);
/// GPUs in an AllocTRES string: "billing=1,cpu=1,gres/gpu=2,node=1" -> 2 (typed gres/gpu:h200=2 too).
int gpus_from_tres(const std::string& tres);

bool is_terminal_state(const std::string& state);
/// NODE_FAIL and BOOT_FAIL are the system's failures: never charged.
bool is_charged_state(const std::string& state);

/// The charge of one run of `job`: `elapsed_s` × `gpus` × its charge factor, never more
/// than the job's reservation; `uncharged` is the rest (the run outlived what the scheduler
/// was expected to allow).
struct RunCharge {
  double charged = 0;
  double uncharged = 0;
};
RunCharge charge_run(const JobRecord& job, std::int64_t elapsed_s, int gpus, const std::string& state);

struct ReconcileReport {
  std::vector<JobUpdate> updates;
  int settled = 0;
  int released = 0;
  int found_by_tag = 0;
  std::vector<std::string> missing;    // jobs accounting has forgotten, one line each
  std::vector<std::string> unproven;   // why absent jobs were kept (accounting incomplete)
  std::vector<std::string> uncharged;  // runs that outlived their reservation, one line each
};

/// Pure: decides what happens to each active job given what accounting and the queue say.
/// A requeued job's runs are all charged (NODE_FAIL runs excepted). A job without Slurm id
/// is bound to a record only when the tag, user and account all match. `grace_s`: how long
/// a job may be absent before it counts as missing (or, with no Slurm id, as never
/// submitted) — and never when `accounting.complete` is false.
ReconcileReport plan_reconcile(const std::vector<JobRecord>& active, const Accounting& accounting, std::int64_t now,
                               std::int64_t grace_s);

}  // namespace gosok::sched
