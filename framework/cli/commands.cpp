#include "commands.hpp"

#include <boost/program_options/errors.hpp>
#include <iostream>

#include <gosok/core/error.hpp>

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

int run_command_guarded(const CommandRegistry& commands, const std::string& name, const std::vector<std::string>& args,
                        int& argc, char** argv) {
  const Command* command = commands.find(name);
  if (!command) throw InputError("unknown command '" + name + "'");
  try {
    return command->run(args, argc, argv);
  } catch (const InputError& e) {
    std::cerr << "gosok " << name << ": " << e.what() << "\n";
    return 2;
  } catch (const boost::program_options::error& e) {
    std::cerr << "gosok " << name << ": " << e.what() << " (see 'gosok " << name << " --help')\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "gosok " << name << ": error: " << e.what() << "\n";
    return 1;
  }
}

void add_file_kind(FileKind kind) { known_file_kinds.push_back(std::move(kind)); }
const std::vector<FileKind>& file_kinds() { return known_file_kinds; }

}  // namespace gosok
