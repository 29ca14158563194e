#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gosok::regress {

/// What a finished run's own files say about it: the one place that knows their layout
/// (today `timers.json`, written by the run loop beside the workload's diagnostics, and the
/// energy record in `diagnostics.json`), so a change of those files is adapted here and
/// nowhere else.
struct RunFacts {
  std::string workload;
  std::string backend;    // Kokkos default execution space, lower case ("serial", "cuda")
  std::string precision;  // "double"
  std::string gosok_version, git_hash;
  int ranks = 0;
  long steps = 0;                  // steps this run took
  long last_step = 0;              // the step it ended at (a restarted run began at last_step - steps)
  double wall_s = 0;               // the run loop, set-up to finish
  double step_s = 0;               // time in the workload's steps (slowest rank)
  std::string what;                // unit of work: "cell-updates", "atom-steps" ("" when not known)
  double work = 0;                 // units of `what` done
  std::optional<double> energy_j;  // GPU energy, where the run measured it
  std::string energy_note;         // else why not ("" when the run says nothing)
};

/// Reads the facts of the run whose results are in `dir`; throws InputError naming the file
/// when they are missing or unreadable.
RunFacts read_run_facts(const std::filesystem::path& dir);

/// A figure of merit: name, value, unit.
struct Figure {
  std::string name;
  double value = 0;
  std::string unit;
};

/// The figures of merit the facts give: wall_s, <what>_per_s (cell_updates_per_s,
/// atom_steps_per_s) and energy_j where measured.
std::vector<Figure> figures_of(const RunFacts& facts);

/// "cell-updates" -> "cell_updates_per_s".
std::string throughput_figure(const std::string& what);

}  // namespace gosok::regress
