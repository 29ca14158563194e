// The commands of `gosok`, the executable users type. It links no MPI, Kokkos or HDF5, so
// that it starts fast and runs on a login node without a GPU driver; it knows the
// workloads' inputs (their Kokkos-free schemas), so validate and submit check them here.
// The commands that need the runtime are handed to gosok-run, the executable beside this
// one, by exec: same process, same arguments and environment (so `mpirun gosok run` and
// `srun gosok run` start MPI in gosok-run).
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>

#include <gosok/core/error.hpp>
#include "commands.hpp"

namespace gosok {
namespace {

std::filesystem::path runtime_executable() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw RunError("cannot find this executable's folder: " + ec.message());
  return self.parent_path() / "gosok-run";
}

int exec_runtime(int argc, char** argv) {
  const auto path = runtime_executable();
  std::vector<char*> args(argv, argv + argc);
  std::string path_text = path.string();
  args[0] = path_text.data();
  args.push_back(nullptr);
  ::execv(path_text.c_str(), args.data());
  throw RunError("cannot start " + path_text + " (" + std::strerror(errno) +
                 "); it is installed beside gosok and runs the workloads");
}

void add_delegate(CommandRegistry& commands, const std::string& name, const std::string& summary) {
  commands.add({name, summary, [name](const std::vector<std::string>&, int& argc, char** argv) {
                  if (name == "run") {
                    // The walltime warning may come at any moment: blocked from here on (the mask
                    // outlives exec), it waits for the run loop to take it (Runtime::stop_requested).
                    sigset_t stop;
                    sigemptyset(&stop);
                    sigaddset(&stop, SIGUSR1);
                    sigaddset(&stop, SIGTERM);
                    sigprocmask(SIG_BLOCK, &stop, nullptr);
                  }
                  return exec_runtime(argc, argv);
                }});
}

}  // namespace

void register_builtin_commands(CommandRegistry& commands) {
  add_delegate(commands, "run", "run a workload (under mpirun/srun for several ranks)");
  add_delegate(commands, "info", "versions of gosok, Kokkos, MPI and HDF5; devices");
  add_delegate(commands, "regress", "run a regression suite; compare and show stored results");
  register_validate_command(commands);
  register_suite_file_kind();
  register_scheduler_commands(commands);
}

}  // namespace gosok
