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
/// commands and hands `run`, `info` and `validate` to `gosok-run` (commands_runtime.cpp),
/// the only executable that links MPI, Kokkos and HDF5.
void register_builtin_commands(CommandRegistry& commands);
void register_run_command(CommandRegistry& commands, const WorkloadRegistry& workloads);
void register_info_command(CommandRegistry& commands, const WorkloadRegistry& workloads);
void register_validate_command(CommandRegistry& commands, const WorkloadRegistry& workloads);
/// grants, submit, status, cancel, reconcile; and the `site` file kind (framework/scheduler).
void register_scheduler_commands(CommandRegistry& commands);
void register_submit_server_command(CommandRegistry& commands);

/// Kinds of file `gosok validate` understands, found by a top-level key of the file.
/// Commands that own a file format (sites, workflows, …) add their kind here.
struct FileKind {
  std::string key;  // top-level key or table that identifies the kind, e.g. "workload"
  std::string description;
  std::function<void(const std::string& path)> validate;  // throws InputError
};
void add_file_kind(FileKind kind);
const std::vector<FileKind>& file_kinds();

}  // namespace gosok
