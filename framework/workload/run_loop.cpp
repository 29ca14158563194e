#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include <gosok/core/error.hpp>
#include <gosok/core/gpu_energy.hpp>
#include <gosok/core/version.hpp>
#include <gosok/io/atomic_file.hpp>
#include <gosok/io/file_digest.hpp>
#include <gosok/workload/workload.hpp>

namespace gosok {

namespace {

// timers.json: what the run did and how long each region took, for figures of merit
// (framework/regression reads it) and walltime predictions. Written by rank 0.
void write_timers(Runtime& runtime, const WorkloadInfo& info, const Input& input, const RunContext& ctx, long steps_run,
                  double wall_s) {
  const auto stats = runtime.timer_stats();
  if (runtime.rank() != 0) return;
  std::string backend = Kokkos::DefaultExecutionSpace::name();
  std::transform(backend.begin(), backend.end(), backend.begin(), [](unsigned char c) { return std::tolower(c); });
  nlohmann::json regions = nlohmann::json::object();
  for (const auto& r : stats) {
    regions[r.name] = {{"calls", r.calls}, {"min_s", r.min_s}, {"avg_s", r.avg_s}, {"max_s", r.max_s}};
  }
  nlohmann::json j{{"workload", info.name},
                   {"ranks", runtime.size()},
                   {"backend", backend},
                   // Every field and particle array in the framework and its workloads is double.
                   {"precision", "double"},
                   {"gosok_version", version()},
                   {"git_hash", git_hash()},
                   {"steps", steps_run},
                   {"last_step", ctx.step},
                   {"wall_s", wall_s},
                   {"regions", regions}};
  const WorkSize size = run_size(info, input);
  if (!size.what.empty()) {
    j["work"] = {{"what", size.what}, {"per_step", size.per_step}, {"total", size.per_step * steps_run}};
  }
  write_text_atomically(ctx.output_dir / "timers.json", j.dump(2) + "\n");
}

// The run's own word on how it ended (kResultFile): a job that ends without it was killed.
void write_result(const RunContext& ctx, const std::string& status, int exit_code, const std::string& checkpoint) {
  if (ctx.runtime.rank() != 0) return;
  const nlohmann::json result = {{"status", status}, {"exit_code", exit_code}, {"workload", ctx.workload_name},
                                 {"step", ctx.step}, {"time", ctx.time},       {"checkpoint", checkpoint}};
  write_text_atomically(ctx.output_dir / kResultFile, result.dump(2) + "\n");
}

/// Adds what every run's diagnostics carry, whatever the workload, to diagnostics.json
/// (creating the file when the workload wrote none): the run's energy under "energy", and
/// under "run" its wall time, gosok version and rank count, so that the ledger and the
/// regression harness find them beside the workload's own numbers. Nested objects, so a
/// check that takes a document's top-level numbers sees the workload's alone. Rank 0 only.
void record_run(const std::filesystem::path& output_dir, const RunEnergy& energy, const nlohmann::json& run) {
  const auto path = output_dir / "diagnostics.json";
  nlohmann::json doc = nlohmann::json::object();
  if (std::ifstream in(path); in) {
    doc = nlohmann::json::parse(in, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      log().warn("{} is not a JSON object; the run's energy is not recorded there", path.string());
      return;
    }
  }
  doc["energy"] = energy.to_json();
  doc["run"] = run;
  write_text_atomically(path, doc.dump(2) + "\n");
}

/// The test suite's fault injection (run.fail_rank/fail_step, run.kill_in_checkpoint,
/// run.step_pause), compiled in with GOSOK_ENABLE_TEST_HOOKS only; otherwise inert and the
/// keys do not exist.
class FaultHooks {
 public:
#ifdef GOSOK_TEST_HOOKS
  explicit FaultHooks(const Input& input)
      : m_fail_rank(input.get_int("run.fail_rank")),
        m_fail_step(input.get_int("run.fail_step")),
        m_kill_in_checkpoint(input.get_int("run.kill_in_checkpoint")),
        m_step_pause(input.get_real("run.step_pause")) {}
  void before_step(int rank, long step) const {
    if (m_fail_rank == rank && step == m_fail_step) {
      throw RunError(fmt::format("injected failure at step {} (run.fail_rank = {})", step, m_fail_rank));
    }
  }
  void in_checkpoint(long number) const {
    if (number == m_kill_in_checkpoint) std::raise(SIGKILL);
  }
  /// Makes the step that began at `start` last at least run.step_pause seconds.
  void after_step(std::chrono::steady_clock::time_point start) const {
    if (m_step_pause > 0) std::this_thread::sleep_until(start + std::chrono::duration<double>(m_step_pause));
  }

 private:
  long m_fail_rank, m_fail_step, m_kill_in_checkpoint;
  double m_step_pause;
#else
  explicit FaultHooks(const Input&) {}
  void before_step(int, long) const {}
  void in_checkpoint(long) const {}
  void after_step(std::chrono::steady_clock::time_point) const {}
#endif
};

std::string format_seconds(double s) {
  if (s < 120) return fmt::format("{:.1f} s", s);
  if (s < 7200) return fmt::format("{:.1f} min", s / 60);
  return fmt::format("{:.1f} h", s / 3600);
}

}  // namespace

int run_workload(Runtime& runtime, const WorkloadInfo& info, const Input& input) {
  RunContext ctx{
      runtime, input, std::filesystem::path(input.get_string("run.output_dir")), info.name,
      MpiBufferPolicy::choose_for<Kokkos::DefaultExecutionSpace::memory_space>(input.get_string("run.mpi_buffers"))};
  // Worth a line where it matters: fields in device memory.
  constexpr bool device_fields =
      !Kokkos::SpaceAccessibility<Kokkos::HostSpace, Kokkos::DefaultExecutionSpace::memory_space>::accessible;
  if (device_fields) {
    log().info("MPI buffers: {}", ctx.mpi_buffers.describe());
  } else {
    log().debug("MPI buffers: {}", ctx.mpi_buffers.describe());
  }
  ctx.segments = {{0, runtime.size()}};
  if (runtime.rank() == 0) {
    std::filesystem::create_directories(ctx.output_dir);
    std::filesystem::remove(ctx.output_dir / kResultFile);  // an earlier run's
    write_text_atomically(ctx.output_dir / "input.resolved.toml", "# gosok run " + info.name +
                                                                      ": the fully resolved input\nworkload = \"" +
                                                                      info.name + "\"\n" + input.to_toml());
  }
  MPI_Barrier(runtime.comm());
  GpuEnergyMeter energy_meter(runtime.comm());

  using clock = std::chrono::steady_clock;
  const auto loop_start = clock::now();
  auto workload = info.create();
  const std::string restart = input.get_string("run.restart");
  {
    auto r = ctx.region(info.name + "::setup");
    workload->setup(ctx, !restart.empty());
    if (!restart.empty()) {
      // A damaged checkpoint would restart silently into different results.
      if (!verify_sealed(runtime.comm(), restart)) {
        log().warn("checkpoint {} carries no checksum (written by an older gosok): it cannot be checked for damage",
                   restart);
      }
      workload->read_checkpoint(ctx, restart);
      log().info("restarted from {} at step {}, time {}", restart, ctx.step, ctx.time);
    }
  }

  const long max_steps = input.get_int("run.max_steps");
  const long diag_every = input.get_int("run.diag_every");
  const long output_every = input.get_int("run.output_every");
  const double output_interval = input.get_real("run.output_interval");
  const long checkpoint_every = input.get_int("run.checkpoint_every");
  const double progress_seconds = input.get_real("run.progress_seconds");
  const FaultHooks hooks(input);
  long checkpoints_written = 0;
  const auto checkpoint_now = [&] {
    auto r = ctx.region(info.name + "::checkpoint");
    const auto target = ctx.output_dir / "checkpoint.h5";
    write_atomically(
        runtime.comm(), target,
        [&](const std::filesystem::path& tmp) {
          workload->write_checkpoint(ctx, tmp);
          hooks.in_checkpoint(++checkpoints_written);
        },
        true);
    log().debug("checkpoint at step {} -> {}", ctx.step, target.string());
    return target;
  };
  // Collective: the run's GPU energy and what every run records into diagnostics.json
  // (record_run), at its end or its stop (a continued run's part is a job of its own).
  const auto finish_run = [&](double wall_s) {
    const RunEnergy energy = energy_meter.finish();
    if (runtime.rank() != 0) return;
    record_run(ctx.output_dir, energy,
               {{"wall_s", wall_s}, {"gosok_version", version()}, {"git_hash", git_hash()}, {"ranks", runtime.size()}});
    if (energy.measured) {
      log().info("energy of the run's GPUs: {}", energy.summary());
    } else {
      log().debug("energy of the run's GPUs: {}", energy.summary());
    }
  };
  // The walltime warning (Runtime::stop_requested, a collective) is looked for after the
  // first step and then about once a wall-clock second, every `stop_check_every` steps.
  long stop_check_every = 1;

  const auto start = clock::now();
  auto last_progress = start;
  const double start_fraction = workload->progress(ctx);
  // The next multiple of the interval: a restarted run writes at the same times as an
  // uninterrupted one.
  double next_output_time =
      output_interval > 0 ? (std::floor(ctx.time / output_interval * (1 + 1e-12)) + 1) * output_interval : 0;
  long steps_this_run = 0;

  while (!workload->finished(ctx) && (max_steps == 0 || steps_this_run < max_steps)) {
    hooks.before_step(runtime.rank(), ctx.step);
    {
      auto r = ctx.region(info.name + "::step");
      const auto step_start = std::chrono::steady_clock::now();
      workload->step(ctx);
      hooks.after_step(step_start);
    }
    ++ctx.step;
    ++steps_this_run;

    if (diag_every > 0 && ctx.step % diag_every == 0) {
      auto r = ctx.region(info.name + "::diagnostics");
      workload->diagnostics(ctx);
    }
    bool output_due = output_every > 0 && ctx.step % output_every == 0;
    if (output_interval > 0 && ctx.time >= next_output_time * (1 - 1e-12)) {
      output_due = true;
      while (next_output_time <= ctx.time * (1 + 1e-12)) next_output_time += output_interval;
    }
    if (output_due && !workload->finished(ctx)) {
      auto r = ctx.region(info.name + "::output");
      workload->output(ctx);
    }
    if (checkpoint_every > 0 && ctx.step % checkpoint_every == 0) checkpoint_now();

    const auto now = clock::now();
    if (stop_check_every > 0 && steps_this_run % stop_check_every == 0 && !workload->finished(ctx) &&
        runtime.stop_requested()) {
      std::filesystem::path checkpoint;
      try {
        checkpoint = checkpoint_now();
      } catch (const InputError& e) {
        log().warn("stop requested, but {}; running on", e.what());
        stop_check_every = 0;
        continue;
      }
      const double wall_s = std::chrono::duration<double>(clock::now() - loop_start).count();
      write_timers(runtime, info, input, ctx, steps_this_run, wall_s);
      finish_run(wall_s);
      write_result(ctx, "checkpointed", kExitCheckpointed, checkpoint.string());
      log().info("{} stopped at step {} (time {}) on the walltime warning: checkpoint {}; continue with --restart",
                 info.name, ctx.step, ctx.time, checkpoint.string());
      return kExitCheckpointed;
    }
    if (steps_this_run == 1) {
      double first = std::chrono::duration<double>(now - start).count();
      MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_DOUBLE, MPI_MAX, runtime.comm());
      stop_check_every = std::clamp(static_cast<long>(1.0 / std::max(first, 1e-6)), 1L, 1000L);
    }
    const double since = std::chrono::duration<double>(now - last_progress).count();
    if (progress_seconds > 0 && since >= progress_seconds) {
      last_progress = now;
      const double wall = std::chrono::duration<double>(now - start).count();
      const double fraction = workload->progress(ctx);
      const double done_here = fraction - start_fraction;
      const double left = done_here > 0 ? wall * (1 - fraction) / done_here : 0;
      log().info("step {:>8}  time {:>12.4g}  {:5.1f}%  wall {}  left ~{}", ctx.step, ctx.time, 100 * fraction,
                 format_seconds(wall), format_seconds(left));
    }
  }

  int status = 0;
  {
    auto r = ctx.region(info.name + "::finish");
    status = workload->finish(ctx);
  }
  const double wall = std::chrono::duration<double>(clock::now() - start).count();
  const double wall_s = std::chrono::duration<double>(clock::now() - loop_start).count();
  write_timers(runtime, info, input, ctx, steps_this_run, wall_s);
  finish_run(wall_s);
  log().info("{} finished: {} steps in {}, results in {}", info.name, steps_this_run, format_seconds(wall),
             ctx.output_dir.string());
  write_result(ctx, "completed", status, "");
  return status;
}

}  // namespace gosok
