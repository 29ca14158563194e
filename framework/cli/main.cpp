// gosok and gosok-run share this entry point; each links its own register_builtin_commands.
// Only `gosok run` initialises MPI and Kokkos (inside gosok-run); every other command is
// safe on a login node.
#include <cstdio>
#include <iostream>

#include <gosok/core/logging.hpp>
#include <gosok/core/version.hpp>
#include "commands.hpp"

namespace {

void print_usage(const gosok::CommandRegistry& commands) {
  std::cout << "usage: gosok <command> [options]\n"
               "       gosok --help | --version\n\n"
               "commands:\n";
  for (const auto& [name, cmd] : commands.all()) {
    if (name.front() == '_') continue;  // internal commands (e.g. the local backend's monitor)
    std::printf("  %-12s %s\n", name.c_str(), cmd.summary.c_str());
  }
  std::cout << "\n'gosok <command> --help' describes a command's options.\n";
}

}  // namespace

int main(int argc, char** argv) {
  gosok::CommandRegistry commands;
  gosok::register_builtin_commands(commands);

  if (argc < 2) {
    print_usage(commands);
    return 2;
  }
  const std::string first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    print_usage(commands);
    return 0;
  }
  if (first == "--version") {
    std::cout << "gosok " << gosok::version() << " (" << gosok::git_hash() << ")\n";
    return 0;
  }
  const gosok::Command* command = commands.find(first);
  if (!command) {
    std::string names;
    for (const auto& [name, cmd] : commands.all()) {
      if (name.front() != '_') names += (names.empty() ? "" : ", ") + name;
    }
    std::cerr << "gosok: unknown command '" << first << "' (commands: " << names << ")\n";
    return 2;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  return gosok::run_command_guarded(commands, first, args, argc, argv);
}
