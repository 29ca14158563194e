#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <gosok/scheduler/grants.hpp>
#include <gosok/scheduler/site.hpp>

namespace gosok::sched {

/// What a user asks for: a workload run, its resources and the grant to charge.
struct JobRequest {
  std::string workload;
  std::string input_file;              // optional TOML input of the workload
  std::vector<std::string> overrides;  // --set key=value, passed to `gosok run`
  std::string name;                    // job name; default: the workload
  int nodes = 1;
  int ranks_per_node = 1;
  int gpus_per_node = -1;  // -1: one per rank, at most the partition's
  std::int64_t walltime_s = 600;
  std::string partition;  // "" = the site's default
  std::string grant_id;
  std::string output_dir;  // absolute
  bool hold = false;       // submit held (sbatch --hold)
};

/// A request checked against a site and a grant: every value here is safe to emit.
struct JobPlan {
  JobRequest request;
  const Partition* partition = nullptr;
  std::string site_name;
  std::string account;
  std::string qos;
  int gpus_per_node = 0;
  int total_gpus = 0;
  int total_ranks = 0;
  double reserve_gpu_h = 0;  // GPUs × walltime × charge factor
};

/// Checks the request against the site and the grant at time `now` (epoch s) and computes
/// the reservation. Throws InputError with the refusal: grant not started, expired, or
/// ending before the walltime; grant for another site or GPU type; partition without that
/// many GPUs or nodes; walltime over the partition's limit; unsafe names or paths.
JobPlan plan_job(const JobRequest& request, const Site& site, const Grant& grant, std::int64_t now);

/// The `gosok run …` command line the job executes (argv, unquoted), launcher included.
std::vector<std::string> launch_argv(const JobPlan& plan, const Site& site, const std::string& gosok_path);

/// Pure: template text with {{placeholders}} → batch script text. Values are either strict
/// tokens or shell-quoted words; an #SBATCH line whose placeholders are all empty is left
/// out. An unknown placeholder is an InputError naming the template and the known ones.
std::string render_script(const JobPlan& plan, const Site& site, const std::string& template_text,
                          const std::string& template_source, const std::string& tag, const std::string& gosok_path);

/// The placeholder values render_script uses (for docs and tests).
std::map<std::string, std::string> script_values(const JobPlan& plan, const Site& site, const std::string& tag,
                                                 const std::string& gosok_path);

}  // namespace gosok::sched
