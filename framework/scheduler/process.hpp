#pragma once

#include <string>
#include <vector>

namespace gosok::sched {

/// External commands (sbatch, sacct, sacctmgr, mpirun) always run from an argv with
/// fork/exec: no shell ever sees a user's string.
struct ProcessResult {
  int exit_code = -1;  // 127: not found; 128+N: killed by signal N
  std::string out;
  std::string err;
};

/// Runs argv[0] (found on PATH), feeding `input` on stdin, and waits for it; with `env`, in
/// that environment ("NAME=value" entries) instead of this process's. The command dies with
/// this process (a killed gosok submit leaves no sbatch behind to submit the job later).
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = "",
                          const std::vector<std::string>* env = nullptr);

/// Starts argv detached from this process (own session), stdout and stderr appended to
/// `log_path` ("" = inherited; stderr to `err_path` when given; created mode 0600, never
/// through a symlink), working directory `cwd`;
/// returns its pid (and its process group id). Used by the local backend.
/// With `new_session` false it stays in the caller's process group (so signalling the group
/// reaches it). The child starts with SIGTERM at its default and no signal blocked but
/// those in `blocked` (which then wait, pending, until it takes them).
int spawn_process(const std::vector<std::string>& argv, const std::string& log_path, const std::string& cwd,
                  bool new_session = true, const std::string& err_path = "", const std::vector<int>& blocked = {});

/// Waits for a child started by spawn_process; returns its exit code (128+N on signal N).
int wait_process(int pid);
/// The same without waiting: kStillRunning while the child runs.
constexpr int kStillRunning = -2;
int try_wait_process(int pid);

/// Path of the running executable (/proc/self/exe).
std::string self_executable();

std::string join_argv(const std::vector<std::string>& argv);  // quoted, for messages

}  // namespace gosok::sched
