#include "cmd_sched_walltime.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include <gosok/core/error.hpp>
#include <gosok/core/logging.hpp>
#include <gosok/regression/results.hpp>
#include <gosok/workload/input.hpp>

namespace gosok::cli {

namespace fs = std::filesystem;

WalltimeAdvice advise_walltime(const sched::JobPlan& plan, const sched::Site& site, const std::string& ledger_path) {
  // The size of one run (one task), from its input as the job will resolve it.
  WorkloadInputs inputs;
  register_builtin_workload_inputs(inputs);
  const WorkloadInput& workload = inputs.find(plan.request.workload);
  auto overrides = plan.request.overrides;
  overrides.push_back("run.output_dir=" + plan.results);
  const int task = plan.array.tasks.empty() ? 0 : plan.array.tasks.front();
  if (!plan.request.array_key.empty()) overrides.push_back(plan.request.array_key + "=" + std::to_string(task));
  const WorkSize size = run_size(
      workload, resolve_workload_input(workload, sched::array_task_path(plan.request.input_file, task), overrides));
  const std::string where = fmt::format("{}:{} with {} task(s)", site.name, plan.partition->name, plan.ntasks);
  WalltimeAdvice advice;
  if (size.what.empty()) {
    advice.why_not = "workload " + workload.name + " does not say how big its runs are";
    return advice;
  }
  const std::string store_path = regress::results_path(ledger_path);
  std::vector<regress::JobSample> history;
  if (fs::exists(store_path)) {
    history = regress::open_results_store(store_path)
                  ->samples(workload.name, site.name, plan.partition->name, plan.ntasks, 20);
  }
  advice.prediction = regress::predict_walltime(history, size.what, size.per_step * size.steps, where);
  if (!advice.prediction) {
    advice.why_not = fmt::format("no finished {} run on {} in {} to predict from", workload.name, where, store_path);
    return advice;
  }
  // Slurm counts time limits in whole minutes; the local backend in seconds.
  const double s = advice.prediction->seconds;
  advice.time_limit_s = site.scheduler == "slurm" ? 60 * static_cast<std::int64_t>(std::ceil(s / 60.0))
                                                  : static_cast<std::int64_t>(std::ceil(s));
  advice.time_limit_s = std::max<std::int64_t>(advice.time_limit_s, site.scheduler == "slurm" ? 60 : 1);
  return advice;
}

void record_job_sample(const std::string& ledger_path, const sched::JobRecord& job) {
  try {
    if (job.state != "settled" || job.sched_state != "COMPLETED" || job.results_dir.empty()) return;
    // An array's tasks share its tag.
    const std::string key = job.in_array() ? job.tag + "_" + std::to_string(job.array_task) : job.tag;
    const auto sample = regress::sample_from_results(job.results_dir, key, "job", job.site, job.partition, job.gpus,
                                                     static_cast<double>(job.elapsed_s));
    if (sample) regress::open_results_store(regress::results_path(ledger_path))->record_sample(*sample);
  } catch (const std::exception& e) {
    log().warn("{}: its timers were not recorded for time predictions: {}", job.gosok_id(), e.what());
  }
}

}  // namespace gosok::cli
