#include <gosok/regression/walltime.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include <gosok/core/error.hpp>
#include <gosok/regression/figures.hpp>

namespace gosok::regress {

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

std::optional<Prediction> predict_walltime(const std::vector<JobSample>& history, const std::string& what, double work,
                                           const std::string& where, double margin) {
  std::vector<double> throughput, fixed;
  for (const auto& s : history) {
    if (s.what != what || s.step_s <= 0 || s.work <= 0) continue;
    throughput.push_back(s.work / s.step_s);
    // The job's elapsed time is whole seconds (Slurm's, the local monitor's): never less
    // than the run loop's own wall time.
    fixed.push_back(std::max(0.0, std::max(s.elapsed_s, s.wall_s) - s.step_s));
  }
  if (throughput.empty()) return std::nullopt;
  Prediction p;
  p.throughput = median(throughput);
  p.fixed_s = median(fixed);
  p.work = work;
  p.what = what;
  p.margin = margin;
  p.samples = static_cast<int>(throughput.size());
  p.seconds = margin * (p.fixed_s + work / p.throughput);
  p.basis = fmt::format(
      "{} past run(s) on {}: median {:.4g} {}/s and {:.1f} s of start-up and output; this run: {:.4g} {} -> "
      "{:.1f} s + {:.1f} s, x{} margin",
      p.samples, where, p.throughput, what, p.fixed_s, work, what, work / p.throughput, p.fixed_s, margin);
  return p;
}

std::optional<JobSample> sample_from_results(const std::string& results_dir, const std::string& key,
                                             const std::string& source, const std::string& site,
                                             const std::string& partition, int gpus, double elapsed_s) {
  RunFacts facts;
  try {
    facts = read_run_facts(results_dir);
  } catch (const InputError&) {
    return std::nullopt;
  }
  if (facts.what.empty() || facts.step_s <= 0) return std::nullopt;
  JobSample s;
  s.key = key;
  s.source = source;
  s.workload = facts.workload;
  s.site = site;
  s.partition = partition;
  s.ranks = facts.ranks;
  s.gpus = gpus;
  s.what = facts.what;
  s.work = facts.work;
  s.step_s = facts.step_s;
  s.wall_s = facts.wall_s;
  s.elapsed_s = elapsed_s;
  s.recorded_at = static_cast<std::int64_t>(std::time(nullptr));
  return s;
}

}  // namespace gosok::regress
