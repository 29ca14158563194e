#pragma once
// Shared by the scheduler commands (cmd_sched_*.cpp): ledger opening, the --json schema,
// tables, job references and waiting. None of these commands initialises MPI or Kokkos:
// they run on login nodes.

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include <gosok/scheduler/backend.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/site.hpp>

namespace gosok::cli {

/// How a command uses the ledger: it only reads; it reads and would like to refresh it from
/// the scheduler (read-only when the user may not write it, with a warning); it writes.
/// (A shared PostgreSQL ledger's own rules say what a user may change: it is opened as is.)
enum class LedgerAccess { read, read_refresh, write };

/// Opens the ledger named by --ledger, $GOSOK_LEDGER, the user config, the site (`site_ledger`;
/// "" = the default site's, $GOSOK_SITE or localhost) or the user default. With must_exist,
/// a missing SQLite file is an InputError instead of a new empty ledger. `location_out`
/// gets the location as written (what the local backend's monitor reopens).
std::unique_ptr<sched::LedgerStore> open_ledger(const std::string& explicit_location, const std::string& site_ledger,
                                                std::string* location_out = nullptr, bool must_exist = false,
                                                LedgerAccess access = LedgerAccess::write);

/// A number of seconds from the command line: a strict decimal in [0, max] (no nan, inf,
/// hex or negatives); InputError naming `option` otherwise.
double seconds_option(const std::string& option, const std::string& text, double max);

/// Every --json output is one object with `"schema_version": kJsonSchemaVersion` and the
/// command's keys (docs/user-guide/submitting.md lists them); absent values are null.
constexpr int kJsonSchemaVersion = 1;
nlohmann::json json_document(nlohmann::json payload);
nlohmann::json job_json(const sched::JobRecord& job, std::int64_t now);
nlohmann::json balance_json(const sched::Grant& grant, const sched::GrantBalance& b);

/// Columns as wide as their widest cell; `right_aligned` columns (numbers) align right.
std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                         const std::vector<bool>& right_aligned, const std::string& indent = "");
/// The jobs as a table (ID, SLURM, GRANT, USER, NAME, STATE, SCHED, SUBMIT, START, END, ELAPSED,
/// RESERVED, CHARGED, JOB DIR; times in this machine's time zone, as sacct prints them),
/// followed by each job's note.
std::string jobs_table(const std::vector<sched::JobRecord>& jobs, std::int64_t now, const std::string& indent = "");

/// The jobs named by `refs` (each as sched::find_job_ref reads it), in order, without repeats.
std::vector<sched::JobRef> find_refs(sched::LedgerStore& ledger, const std::vector<std::string>& refs);

/// Brings the ledger's active jobs up to date from the schedulers; a site without Slurm (no
/// sacct) is only a warning here, since the ledger must still be shown. Jobs it settles
/// leave their timers in the results store beside `ledger_path` (walltime predictions). On
/// a shared ledger only the reconcile role settles: for anyone else this does nothing (the
/// centre's reconcile keeps the ledger up to date).
void refresh(sched::LedgerStore& ledger, const std::string& ledger_path);
/// Records the samples of the jobs `report` settled (see cmd_sched_walltime.hpp).
void record_settled(sched::LedgerStore& ledger, const std::string& ledger_path, const sched::ReconcileReport& report);

/// Refreshes and re-reads `ids` (gosok ids) until none is active, or `timeout_s` passed
/// (< 0: no limit); returns false on timeout. `jobs` holds the last state read.
bool wait_for_jobs(sched::LedgerStore& ledger, const std::string& ledger_path, std::vector<sched::JobRecord>& jobs,
                   double timeout_s);

// Workflows (cmd_sched_workflow.cpp).
struct WorkflowSubmitArgs {
  std::string file;
  std::string site;
  std::string grant;
  std::string ledger;
  std::string template_name;
  std::string output;                   // --job-dir: the workflow's folder ("" = [workflow] output, or a default)
  std::vector<std::string> parameters;  // --set NAME=VALUE
  bool dry_run = false;
  bool json = false;
  bool hold = false;
  bool wait = false;
  bool no_wait = false;
  double timeout = -1;
  double poll = 0;  // the longest wait between polls (0: the default)
};
/// A .toml file with a [workflow] table.
bool is_workflow_file(const std::string& arg);
int submit_workflow_file(const WorkflowSubmitArgs& args);
/// Whether `ref` names a workflow (w3, or a workflow's name) rather than a job.
bool is_workflow(sched::LedgerStore& ledger, const std::string& ref);
int workflow_status_command(const std::vector<std::string>& refs, const std::string& ledger_arg, bool json, bool wait,
                            double timeout, bool no_refresh, double poll);
int workflow_list_command(const std::string& ledger_arg, bool json);
/// cancel or release every job of a workflow.
int workflow_control(const std::string& action, const std::string& ref, const std::string& ledger_arg);

/// A subcommand of a command with subcommands (`gosok grants import`, `gosok ledger setup`).
using Subcommand = std::pair<std::string, std::function<int(const std::vector<std::string>&)>>;
/// Runs the subcommand `args[0]` of `command` with the rest of `args`: no argument prints
/// `usage` (exit 2), --help/-h prints it (exit 0), an unknown one is an InputError naming the
/// allowed ones in their listed order.
int run_subcommand(const std::string& command, const char* usage, const std::vector<Subcommand>& subcommands,
                   const std::vector<std::string>& args);

}  // namespace gosok::cli
