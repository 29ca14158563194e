#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <gosok/core/config.hpp>
#include <gosok/scheduler/emit.hpp>
#include <gosok/scheduler/site.hpp>
#include <gosok/workload/input.hpp>

namespace gosok::workflow {

/// Vocabulary:
///  - a *workflow* is one file of *steps*, charged to one grant on one site;
///  - a *step* runs a workload, or a command of the user's own (in a container image when it
///    names one), with sbatch's resources; it starts once the steps it comes `after` have
///    succeeded;
///  - a step with `members = N` is an *ensemble*: N *members* (0 .. N-1), each with its own
///    results folder and the member index as an input key (a Slurm job array);
///  - a *parameter* is a value of the file's [parameters] table (or `--set` on the command
///    line) that `{{name}}` places into the steps' strings; `{{STEP.results}}`,
///    `{{STEP.members}}`, `{{workflow.output}}`, `{{workflow.folder}}` (the file's) and
///    `{{workflow.name}}` are given too;
///  - a member runs as a sequence of *jobs*: a *retry* follows a failed job (`retries`
///    allows that many), a *continuation* follows a job that stopped at the walltime warning
///    with a checkpoint (exit 75, kExitCheckpointed), and runs on from it: a workload's
///    always can, a command's when it says so (walltime-signal).
struct Step {
  std::string name;
  std::string origin;  // file:line of its [[step]]
  std::string workload;
  std::vector<std::string> command;
  std::string input;            // the workload's TOML input, absolute
  std::vector<Assignment> set;  // the workload's input overrides (key, text), parameters placed
  int members = 0;              // 0: not an ensemble
  std::string member_key;       // the input key each member's index goes into
  std::vector<std::string> after;
  int retries = 0;
  std::string result;  // a command's result file, relative to its results folder ("" = none)
  std::string image;
  std::string runtime;
  bool rank_env = false;
  bool walltime_signal = false;  // a command that stops at the walltime warning with exit 75
  std::vector<std::pair<std::string, std::string>> env;
  /// Resources in sbatch's terms (nodes, tasks, GPUs, time, partition, ...); time_limit_s is
  /// the run's whole time, which may be over the partition's limit (then it runs in several
  /// jobs, each continuing the last).
  sched::JobRequest resources;

  bool ensemble() const { return members > 0; }
  int member_count() const { return members > 0 ? members : 1; }
  /// Members as job rows know them: 0 .. N-1, or -1 for a step without members.
  std::vector<int> member_ids() const;
};

struct Workflow {
  std::string name;
  std::string grant;   // "" = the command line's or $GOSOK_GRANT
  std::string site;    // "" = the command line's, $GOSOK_SITE or localhost
  std::string output;  // "" = chosen at submission
  std::string source;  // the file (for messages)
  std::string folder;  // the file's folder: relative paths in it are relative to this
  std::vector<std::pair<std::string, std::string>> parameters;  // after --set overrides
  std::vector<Step> steps;  // in an order where every step comes after those it follows

  const Step& step(const std::string& name) const;
};

/// The schema of a workflow file ([workflow], [parameters], [[step]]), for parsing and for
/// `--help`-style listings.
Schema workflow_schema();

/// Reads a workflow file's text: the schema's keys and values, then what ties steps
/// together: unique step names, one of workload or command, known steps in `after`, no
/// cycle (the message names it), parameters that exist. `overrides` are `--set NAME=VALUE`
/// of declared parameters. Every error names the file, line, step and key. Placeholders
/// that need the output folder stay until place_outputs.
Workflow parse_workflow(const std::string& text, const std::string& source, const std::string& folder,
                        const std::vector<std::string>& overrides);

/// Sets the output folder and places {{workflow.output}} and {{STEP.results}}.
void place_outputs(Workflow& workflow, const std::string& output);

/// A step's folders in the workflow's: its results (a member's: <results>/<k>) and the
/// folder of its n-th submission (the script, Slurm's output).
std::string step_results(const Workflow& workflow, const Step& step);
std::string member_results(const Workflow& workflow, const Step& step, int member);
std::string submission_folder(const Workflow& workflow, const Step& step, int n);

/// Checks `input` against the workloads: the workload exists and its input (file, `set`,
/// member key) resolves, as `gosok run` will resolve it.
void check_workloads(const Workflow& workflow, const WorkloadInputs& inputs);

/// Checks the job that `plan` describes as `gosok run` will take it (the workload's schema
/// and checks; an array's first and last task index); throws InputError. For commands,
/// nothing to check. Used by `gosok submit` for single jobs and arrays too.
void check_job_input(const WorkloadInputs& inputs, const sched::JobPlan& plan);

}  // namespace gosok::workflow
