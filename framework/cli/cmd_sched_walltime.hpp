#pragma once
// Time limits from history for `gosok submit --time auto` and `--dry-run`, and the job
// samples they learn from: every finished job's timers, recorded in the results store
// (framework/regression) when the job is settled.

#include <optional>
#include <string>

#include <gosok/regression/walltime.hpp>
#include <gosok/scheduler/emit.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/site.hpp>

namespace gosok::cli {

struct WalltimeAdvice {
  std::optional<regress::Prediction> prediction;
  std::int64_t time_limit_s = 0;  // the prediction, rounded up to what the scheduler counts in
  std::string why_not;            // when there is no prediction
};

/// Predicts the time limit of the job `plan` describes (one task of an array) from the
/// results store beside the ledger: the run's size from its workload's input, the speed of
/// past runs of the same workload on the same partition and task count.
WalltimeAdvice advise_walltime(const sched::JobPlan& plan, const sched::Site& site, const std::string& ledger_path);

/// Records the sample a settled job left in its results folder. Never throws: a job that
/// left nothing usable records nothing.
void record_job_sample(const std::string& ledger_path, const sched::JobRecord& job);

}  // namespace gosok::cli
