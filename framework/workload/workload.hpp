#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gosok/core/config.hpp>
#include <gosok/core/error.hpp>
#include <gosok/core/run_segment.hpp>
#include <gosok/core/runtime.hpp>
#include <gosok/parallel/mpi_buffers.hpp>
#include <gosok/workload/input.hpp>

namespace gosok {

/// What a workload sees while it runs: the runtime (communicator, timers), its resolved
/// input, the output folder, how its communication objects hand buffers to MPI, and the
/// loop's clock. `step` and `time` are owned by the run loop's caller: a workload advances
/// `time` in step() and the loop counts steps.
/// `segments` is the run's history for provenance: the loop starts it as one segment on
/// this rank count; read_checkpoint replaces it with the checkpoint's segments continued
/// (continue_segments(read_segments(file), step, ranks)).
struct RunContext {
  Runtime& runtime;
  const Input& input;
  std::filesystem::path output_dir;
  std::string workload_name;
  /// From run.mpi_buffers; give it to every GridHalo2D and ParticleComm the workload builds.
  MpiBufferPolicy mpi_buffers;
  long step = 0;
  double time = 0.0;
  std::vector<RunSegment> segments{};

  /// A labelled timing + profiling region, e.g. `auto r = ctx.region("heat::step");`.
  Region region(const std::string& name) { return Region(runtime.timers(), name); }
};

/// The interface every workload implements. The shared run loop calls, in order:
///   setup → { step → [diagnostics] → [output] → [checkpoint] } until finished → finish.
/// Diagnostics, output and checkpoints are called at the intervals given by the framework's
/// `run.*` input keys; restart calls read_checkpoint instead of building the initial state.
class Workload {
 public:
  virtual ~Workload() = default;

  /// Builds the initial state (or only the grid, when `restarting`).
  virtual void setup(RunContext& ctx, bool restarting) = 0;
  /// Advances one step; updates ctx.time.
  virtual void step(RunContext& ctx) = 0;
  virtual bool finished(const RunContext& ctx) const = 0;
  /// Fraction done in [0, 1], for the progress line.
  virtual double progress(const RunContext& ctx) const = 0;

  virtual void diagnostics(RunContext&) {}
  virtual void output(RunContext&) {}
  /// Collective; `path` is a temporary that the framework renames atomically.
  virtual void write_checkpoint(RunContext&, const std::filesystem::path&) {
    throw InputError(std::string("this workload does not support checkpoints"));
  }
  /// Collective; restores the state and ctx.step/ctx.time. Throws InputError on a
  /// mismatched or corrupt file.
  virtual void read_checkpoint(RunContext&, const std::filesystem::path&) {
    throw InputError(std::string("this workload does not support restart"));
  }
  /// Final diagnostics and output; returns the process exit status (0 = success).
  virtual int finish(RunContext& ctx) = 0;
};

/// A workload: its input (name, description, schema; see input.hpp) and its kernels.
struct WorkloadInfo : WorkloadInput {
  std::function<std::unique_ptr<Workload>()> create;
};

/// Workloads by name. gosok-run fills one at start-up (see gosok_add_workload in CMake):
/// first every workload's input, then every workload's kernels, each added by the name its
/// input was registered under.
class WorkloadRegistry {
 public:
  WorkloadInputs& inputs() { return m_inputs; }
  const WorkloadInputs& inputs() const { return m_inputs; }
  /// Adds the kernels of workload `name`; its input must be registered already.
  void add(const std::string& name, std::function<std::unique_ptr<Workload>()> create);
  /// Throws InputError listing the known workloads.
  const WorkloadInfo& find(const std::string& name) const;
  std::vector<std::string> names() const;
  std::string names_list() const;

 private:
  WorkloadInputs m_inputs;
  std::map<std::string, WorkloadInfo> m_workloads;
};

/// The shared run loop. Writes the resolved input into the output folder, drives the
/// workload, prints a progress line, writes `timers.json` (the timed regions, the steps and
/// the work done, for figures of merit) and returns its exit status. Collective.
int run_workload(Runtime& runtime, const WorkloadInfo& info, const Input& input);

}  // namespace gosok
