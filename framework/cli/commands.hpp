#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace gosok {

class WorkloadRegistry;

/// One `gosok <name> …` subcommand. `run` gets the arguments after the name and the
/// original argv (only `gosok run` needs it, to initialise MPI). Exit codes: 0 success,
/// 1 failure while running, 2 bad usage or bad input.
struct Command {
  std::string name;
  std::string summary;
  std::function<int(const std::vector<std::string>& args, int& argc, char** argv)> run;
};

class CommandRegistry {
 public:
  void add(Command command);
  const Command* find(const std::string& name) const;
  const std::map<std::string, Command>& all() const { return m_commands; }

 private:
  std::map<std::string, Command> m_commands;
};

/// Runs command `name` with gosok's exit codes: an InputError or a bad option prints
/// "gosok NAME: ..." on stderr and gives 2, any other error 1.
int run_command_guarded(const CommandRegistry& commands, const std::string& name, const std::vector<std::string>& args,
                        int& argc, char** argv);

/// Builds every command of this executable. `gosok` (commands_front.cpp) owns the login-node
/// commands and hands `run`, `info` and `regress` to `gosok-run` (commands_runtime.cpp), the only
/// executable that links MPI, Kokkos and HDF5.
void register_builtin_commands(CommandRegistry& commands);
void register_run_command(CommandRegistry& commands, const WorkloadRegistry& workloads);
void register_info_command(CommandRegistry& commands, const WorkloadRegistry& workloads);
/// validate; and the `workload input` file kind (the workloads' schemas, no Kokkos).
void register_validate_command(CommandRegistry& commands);
/// regress (suites, compare, history), in gosok-run: its comparator reads HDF5.
void register_regress_command(CommandRegistry& commands, const WorkloadRegistry& workloads);
/// The regression suite file kind of `gosok validate` (regress_front.cpp; no HDF5).
void register_suite_file_kind();
/// grants, submit, status, cancel, release, reconcile, ledger; and the site, grants and job
/// template file kinds (framework/scheduler).
void register_scheduler_commands(CommandRegistry& commands);

/// Kinds of file `gosok validate` understands. A file is of a kind by its extension, else
/// by its content (looks_like), else - a TOML file - by a top-level key. Commands that own
/// a file format (sites, grants, templates, workflows, …) add their kind here.
struct FileKind {
  std::string description;
  std::vector<std::string> extensions;                      // e.g. ".csv"
  std::function<bool(const std::string& text)> looks_like;  // optional, for files without a known extension
  std::string toml_key;                                     // e.g. "workload"; "" = not a TOML kind
  std::function<void(const std::string& path)> validate;    // throws InputError
};
void add_file_kind(FileKind kind);
const std::vector<FileKind>& file_kinds();

}  // namespace gosok
