#pragma once

#include <optional>
#include <string>
#include <vector>

#include <gosok/regression/results.hpp>

namespace gosok::regress {

/// Walltime from history. A run's time is modelled as a fixed part (start-up, set-up,
/// output: the job's elapsed time less its steps) plus its work over the throughput of its
/// steps; both come from the medians of past jobs of the same workload on the same
/// partition and rank count, and the sum is multiplied by `margin` so that a run a little
/// slower than its history still fits.
struct Prediction {
  double seconds = 0;     // with the margin
  double throughput = 0;  // units of `what` per second (median)
  double fixed_s = 0;     // median of elapsed - step time
  double work = 0;        // of the run predicted
  std::string what;
  double margin = 0;
  int samples = 0;
  std::string basis;  // one sentence: what the prediction is based on
};

constexpr double kWalltimeMargin = 1.5;

/// nullopt when no sample of the same kind of work (`what`) has a measured step time.
std::optional<Prediction> predict_walltime(const std::vector<JobSample>& history, const std::string& what, double work,
                                           const std::string& where, double margin = kWalltimeMargin);

/// The sample a finished job left: its results folder's timers.json (through
/// figures.hpp), the job's elapsed time and where it ran. nullopt when the job did not
/// finish or left no timers.
std::optional<JobSample> sample_from_results(const std::string& results_dir, const std::string& key,
                                             const std::string& source, const std::string& site,
                                             const std::string& partition, int gpus, double elapsed_s);

}  // namespace gosok::regress
