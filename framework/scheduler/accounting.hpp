#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <gosok/scheduler/ledger.hpp>

namespace gosok::sched {

/// One job as the scheduler's accounting (sacct) or queue (squeue) reports it. A task of
/// array job 123 is "123_7"; sacct's line for the tasks that have not started yet,
/// "123_[8-999%4]", is read as one record per task.
struct AcctRecord {
  std::string job_id;
  std::string state;  // first word: "CANCELLED by 0" -> CANCELLED
  std::int64_t elapsed_s = 0;
  int alloc_gpus = 0;
  std::string comment;
  std::int64_t start = 0;  // epoch s, 0 when unknown (or not started)
  std::int64_t end = 0;    // epoch s, 0 when unknown
};

/// `sacct -X --parsable2 --format=JobID,State,ElapsedRaw,AllocTRES,Comment,Start,End`
/// output with its header line (columns found by name; step lines like 12.batch are skipped).
std::vector<AcctRecord> parse_sacct_parsable(const std::string& text);
/// `sacct --json` output (openapi dbv0.0.38 and later: jobs[].state.current, tres.allocated).
std::vector<AcctRecord> parse_sacct_json(const std::string& text);
/// GPUs in an AllocTRES string: "billing=1,cpu=1,gres/gpu=2,node=1" -> 2 (typed gres/gpu:h200=2 too).
int gpus_from_tres(const std::string& tres);

bool is_terminal_state(const std::string& state);
/// NODE_FAIL and BOOT_FAIL are the system's failures: never charged.
bool is_charged_state(const std::string& state);

struct ReconcileReport {
  std::vector<JobUpdate> updates;
  int settled = 0;
  int released = 0;
  int found_by_tag = 0;
  std::vector<std::string> missing;  // jobs accounting has forgotten, one line each
};

/// Pure: decides what happens to each active job given what accounting and the queue say.
/// `grace_s`: how long a job may be absent from both before it counts as missing (or, with
/// no Slurm id, as never submitted).
ReconcileReport plan_reconcile(const std::vector<JobRecord>& active, const std::vector<AcctRecord>& records,
                               std::int64_t now, std::int64_t grace_s);

}  // namespace gosok::sched
