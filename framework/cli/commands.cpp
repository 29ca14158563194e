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
