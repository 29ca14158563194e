// gosok-sched-light: the scheduler commands (grants, submit, status, cancel, reconcile)
// built without the MPI/Kokkos/HDF5 stack that the one gosok executable loads at start-up.
// It exists to measure what submission costs when the process does not load a GPU stack
// it never uses (bench/submit/run.sh); the commands are the very same code as `gosok`'s.
#include <boost/program_options/errors.hpp>
#include <iostream>

#include "commands.hpp"
#include "core/error.hpp"

// The light binary has no workloads: the workload-facing commands are absent.
namespace gosok {
void register_run_command(CommandRegistry&, const WorkloadRegistry&) {}
void register_info_command(CommandRegistry&, const WorkloadRegistry&) {}
void register_validate_command(CommandRegistry&, const WorkloadRegistry&) {}
}  // namespace gosok

int main(int argc, char** argv) {
  gosok::CommandRegistry commands;
  gosok::register_scheduler_commands(commands);
  if (argc < 2 || !commands.find(argv[1])) {
    std::cerr << "usage: gosok-sched-light grants|submit|status|cancel|reconcile ...\n";
    return 2;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    return commands.find(argv[1])->run(args, argc, argv);
  } catch (const gosok::InputError& e) {
    std::cerr << "gosok " << argv[1] << ": " << e.what() << "\n";
    return 2;
  } catch (const boost::program_options::error& e) {
    std::cerr << "gosok " << argv[1] << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "gosok " << argv[1] << ": error: " << e.what() << "\n";
    return 1;
  }
}
