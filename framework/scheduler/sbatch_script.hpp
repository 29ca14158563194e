#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gosok::sched {

/// Vocabulary: a *directive* is one option on an `#SBATCH` line of a batch script, read the
/// way sbatch reads it: `#SBATCH` (or `#SLURM`) lines at the start of a line, before the
/// first line that is a command; arguments split on blanks, quotes group, a backslash
/// escapes, an unquoted `#` ends the line.
struct SbatchArgument {
  std::string text;
  int line = 0;
  bool unmatched_quote = false;  // sbatch refuses such a script
};
std::vector<SbatchArgument> sbatch_arguments(const std::string& script);

/// The job a script's directives describe, in the terms of Slurm's job description (what
/// sbatch would send to slurmctld). Only what the directives say; the submitting process
/// adds user, directory and environment.
struct BatchJobSpec {
  std::string name, account, qos, partition, comment, output, error, chdir, constraint, reservation;
  bool nodes_set = false;
  std::uint32_t min_nodes = 0, max_nodes = 0;  // max 0: not given
  bool ntasks_set = false;
  std::uint32_t ntasks = 1;  // sbatch's default when not set
  std::optional<std::uint32_t> ntasks_per_node, cpus_per_task;
  std::optional<std::uint64_t> mem_mb;   // per node
  std::optional<std::uint32_t> minutes;  // time limit
  std::string tres_per_node;             // "gres:gpu:4" (from --gpus-per-node and --gres)
  std::string gpus_per_node;             // as written (sbatch exports SLURM_GPUS_PER_NODE)
  bool hold = false;
  bool exclusive = false;
  /// sbatch's derived figures (tasks from nodes × tasks per node, the CPU minimum).
  std::uint32_t min_cpus() const;
};

/// Result of reading a script's directives for a submission without sbatch: `spec` holds
/// the job when every directive is one gosok translates; otherwise `unsupported` names the
/// first that is not (the caller then hands the script to sbatch itself, which knows all).
struct BatchTranslation {
  BatchJobSpec spec;
  std::string unsupported;
};
BatchTranslation translate_sbatch_script(const std::string& script, const std::string& script_path);

/// The environment sbatch gives a job (its default --export=ALL): `environ` plus what sbatch
/// adds (SLURM_SUBMIT_DIR/HOST, SLURM_UMASK, SLURM_PRIO_PROCESS, SLURM_RLIMIT_*,
/// SLURM_JOB_NAME, SLURM_NTASKS, SLURM_NTASKS_PER_NODE, ...), later entries replacing
/// earlier ones of the same name.
struct SubmitterState {
  std::vector<std::string> environ;
  std::string cwd, host;
  int umask = 022;
  int priority = 0;
  std::vector<std::pair<std::string, unsigned long>> rlimits;  // ("CPU", cur), ...
  std::string command_line;                                    // what the user typed (Slurm's SubmitLine)
  int session = 0;                                             // session id (Slurm's AllocNode:Sid)
};
/// The user and process a job is submitted for: this process, or the one set with
/// act_for_submitter (the submit server acts for its clients, one request at a time).
SubmitterState current_submitter();
void act_for_submitter(const SubmitterState* who);  // nullptr: this process again
std::vector<std::string> sbatch_environment(const BatchJobSpec& spec, const SubmitterState& who);
/// The job's working directory: --chdir (made absolute against the submitter's folder, as
/// sbatch does), else the submitter's folder.
std::string sbatch_work_dir(const BatchJobSpec& spec, const SubmitterState& who);

/// Minutes from an sbatch --time value ("M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S";
/// seconds round up); nullopt for anything else (UNLIMITED included).
std::optional<std::uint32_t> sbatch_minutes(const std::string& text);

}  // namespace gosok::sched
