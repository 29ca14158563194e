#include "commands.hpp"

namespace gosok {

namespace {
std::vector<FileKind> known_file_kinds;
}

void CommandRegistry::add(Command command) {
  auto name = command.name;
  m_commands[name] = std::move(command);
}

const Command* CommandRegistry::find(const std::string& name) const {
  auto it = m_commands.find(name);
  return it == m_commands.end() ? nullptr : &it->second;
}

void add_file_kind(FileKind kind) { known_file_kinds.push_back(std::move(kind)); }
const std::vector<FileKind>& file_kinds() { return known_file_kinds; }

}  // namespace gosok

namespace gosok {

void register_builtin_commands(CommandRegistry& commands, const WorkloadRegistry& workloads) {
  register_run_command(commands, workloads);
  register_info_command(commands, workloads);
  register_validate_command(commands, workloads);
  register_scheduler_commands(commands);
}

}  // namespace gosok
