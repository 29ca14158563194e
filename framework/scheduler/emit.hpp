#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <gosok/scheduler/grants.hpp>
#include <gosok/scheduler/site.hpp>

namespace gosok::sched {

/// What a user asks for, in sbatch's terms: a workload run (or a command of the user's own),
/// its resources and the grant to charge. A count of 0 (or an empty string) means the option
/// was not given; plan_job derives the rest as sbatch does.
struct JobRequest {
  std::string workload;
  std::vector<std::string> command;  // instead of a workload: an executable and its arguments
  std::string image;                 // a container image the command runs in
  std::string runtime;               // the site's container runtime for it ("" = the site's default)
  bool rank_env = false;             // MASTER_ADDR, MASTER_PORT, RANK, LOCAL_RANK, WORLD_SIZE for each task
  /// A command that handles the walltime warning (SIGUSR1, the site's signal_margin before
  /// its limit) gets it too; a workload's gosok run always does.
  bool walltime_signal = false;
  std::vector<std::pair<std::string, std::string>> environment;  // exported to the run: name, value
  std::string input_file;  // --input: the workload's TOML input (absolute), optional; %a: each array task's own
  std::vector<std::string> overrides;  // --set key=value, passed to `gosok run`
  std::string array_key;               // --set-from-array KEY: the array task index as input KEY
  std::string name;                    // -J/--job-name; default: the workload
  int nodes = 0;                       // -N/--nodes; 0: enough for the tasks (at least 1)
  int ntasks = 0;                      // -n/--ntasks, all nodes; 0: nodes x ntasks-per-node
  int ntasks_per_node = 0;             // --ntasks-per-node
  int cpus_per_task = 0;               // -c/--cpus-per-task
  int gpus = 0;                        // -G/--gpus, all nodes
  int gpus_per_node = 0;               // --gpus-per-node
  int gpus_per_task = 0;               // --gpus-per-task
  std::int64_t time_limit_s = 600;     // -t/--time
  std::string partition;               // -p/--partition; "" = the site's default
  std::string grant_id;
  std::string job_dir;     // gosok's job folder (absolute): the script, Slurm's output, the results
  std::string results;     // --results (absolute); "" = <job_dir>/results; an array task's: <results>/<index>
  std::string output;      // -o/--output: Slurm's stdout file pattern; "" = <job_dir>/slurm-%j.out (%A_%a)
  std::string error;       // -e/--error: Slurm's stderr file pattern; "" = with stdout
  std::string array;       // --array: Slurm's task list ("0-999", "1,3,5-7", "0-15:4%2")
  std::string dependency;  // -d/--dependency, Slurm job ids (gosok ids are translated before planning)
  std::string begin;       // --begin: YYYY-MM-DD[THH:MM[:SS]] or now+N[seconds|minutes|hours|days]
  std::string mail_type;   // --mail-type
  std::string mail_user;   // --mail-user
  std::string constraint;  // -C/--constraint
  std::string mem;         // --mem: per node, N[K|M|G|T]
  std::string export_env;  // --export
  std::string requeue;     // --requeue: "yes", --no-requeue: "no", "" = the site's default
  bool exclusive = false;  // --exclusive
  bool hold = false;       // -H/--hold
};

/// A Slurm job array: its task indices, in order, and how many may run at once (0: no limit).
struct ArraySpec {
  std::vector<int> tasks;
  int max_running = 0;
};
/// Reads sbatch's --array list: comma-separated N, N-M or N-M:S, then an optional %P.
/// Throws InputError naming the accepted forms.
ArraySpec parse_array_spec(const std::string& text);

/// `pattern` with every %a (Slurm's array task index in file names) replaced by `task`:
/// an array task's own --input file or results folder.
std::string array_task_path(const std::string& pattern, int task);

/// A request checked against a site and a grant: every value here is safe to emit.
struct JobPlan {
  JobRequest request;
  const Partition* partition = nullptr;
  std::string site_name;
  std::string account;
  std::string qos;
  int nodes = 1;
  int ntasks = 1;
  int total_gpus = 0;         // one job's (an array task's) GPUs, all nodes
  int reserved_gpus = 0;      // the GPUs the reservation covers (all of each node's with --exclusive)
  ArraySpec array;            // tasks empty: not an array
  std::int64_t begin_at = 0;  // epoch s of --begin, 0 = now
  std::string begin;          // --begin as sbatch gets it ("" = none)
  std::string results;        // the results folder (an array task's: <results>/%a)
  double reserve_gpu_h = 0;   // one job's (an array task's): reserved GPUs x (time + overrun) x charge factor

  int task_count() const { return array.tasks.empty() ? 1 : static_cast<int>(array.tasks.size()); }
  double total_reserve_gpu_h() const { return reserve_gpu_h * task_count(); }
};

/// Checks the request against the site and the grant at time `now` (epoch s) and computes
/// the reservation. Throws InputError with the refusal: grant not started, expired, or
/// ending before the job's time limit; grant for another site or GPU type; partition
/// without that many GPUs, CPUs or nodes; time over the partition's limit; GPU options
/// that contradict each other; unsafe names, paths or option values.
JobPlan plan_job(const JobRequest& request, const Site& site, const Grant& grant, std::int64_t now);

/// The command line the job executes (argv, unquoted), launcher included: `gosok run …` for
/// a workload; for a command, its words after the site's container runtime (when it has an
/// image) and the rank environment's wrapper (when it asks for one).
std::vector<std::string> launch_argv(const JobPlan& plan, const Site& site, const std::string& gosok_path);

/// Variables the run gets whatever the scheduler (name, value): a command's GOSOK_RESULTS
/// (not for an array, whose tasks get theirs, and GOSOK_MEMBER, in the script), the
/// request's own, and for the rank environment the site's rank_environment.
std::vector<std::pair<std::string, std::string>> job_environment(const JobPlan& plan, const Site& site);

/// Pure: template text with {{placeholders}} → batch script text. Values are either strict
/// tokens or shell-quoted words; an #SBATCH line whose placeholders are all empty is left
/// out. An unknown placeholder is an InputError naming the template and the known ones, and
/// so is a template that has no place for an option the request gives (--array, --mem, …):
/// what the job asked for is never dropped.
std::string render_script(const JobPlan& plan, const Site& site, const std::string& template_text,
                          const std::string& template_source, const std::string& tag, const std::string& gosok_path);

/// The #SBATCH directives of a batch script as sbatch reads them (from the top to the
/// first command), each as (long option name, value): "-G 2" is ("gpus", "2").
std::vector<std::pair<std::string, std::string>> sbatch_directives(const std::string& script);

/// A user's template may shape the script, never the price: throws InputError unless every
/// directive of `script` that decides what Slurm allocates or what gosok charges (account,
/// partition, nodes, tasks, CPUs, GPUs, gres, time, array, comment, exclusive, requeue, and
/// any option not known to be harmless) is exactly what the center's template renders for
/// the same job (`reference`), and none is missing.
void check_script_price(const std::string& script, const std::string& source, const std::string& reference,
                        const std::string& reference_source);

/// Checks a template's placeholders without a request (for `gosok validate`).
void check_template(const std::string& template_text, const std::string& template_source);

/// The placeholder values render_script uses (for docs and tests).
std::map<std::string, std::string> script_values(const JobPlan& plan, const Site& site, const std::string& tag,
                                                 const std::string& gosok_path);

}  // namespace gosok::sched
