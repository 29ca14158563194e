#pragma once

#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <exception>
#include <string>
#include <vector>

#include <gosok/core/error.hpp>
#include <gosok/core/logging.hpp>
#include <gosok/core/timers.hpp>

namespace gosok {

struct RuntimeOptions {
  LogLevel log_level = LogLevel::info;
  bool log_all_ranks = false;
  bool print_timers = true;
};

/// Owns MPI and Kokkos for the life of a run: MPI is initialised first and finalised last,
/// Kokkos in between, so that no Kokkos View outlives the MPI it may be registered with.
/// Only `gosok run` (and tests) create one; scheduler commands never do.
class Runtime {
 public:
  Runtime(int& argc, char** argv, RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  MPI_Comm comm() const { return m_comm; }
  int rank() const { return m_rank; }
  int size() const { return m_size; }
  Timers& timers() { return m_timers; }

  /// Runs `body`; an exception on any rank is logged with its rank and ends every rank of
  /// the job through MPI_Abort, so the others never hang in a collective (a single rank
  /// just returns the code). Exit code 2 for bad input, 1 otherwise; the body's result
  /// when it returns.
  template <class Body>
  int guarded(Body&& body) {
    int code = 1;
    std::string message = "unknown exception";
    try {
      return body();
    } catch (const InputError& e) {
      code = 2;  // bad input (a mismatched checkpoint, say): the usage exit code
      message = e.what();
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
    }
    if (m_size == 1) {  // nobody to wait for: report and shut down in order
      log().error("{}", message);
      return code;
    }
    abort(message, code);
  }

  /// Logs `message` on this rank and aborts the whole job with `code`.
  [[noreturn]] void abort(const std::string& message, int code = 1);

  /// Each region's seconds over ranks; collective, complete on rank 0 only (rank 0's regions).
  struct RegionStats {
    std::string name;
    long calls = 0;
    double min_s = 0, avg_s = 0, max_s = 0;
  };
  std::vector<RegionStats> timer_stats();

  /// Timer summary over ranks (min/avg/max per region), collective; printed by rank 0.
  std::string timer_summary();

  /// Whether any rank has been sent SIGUSR1 (the walltime warning Slurm sends with
  /// --signal) or SIGTERM; collective, so every rank gets the same answer at the same step.
  /// Both signals are blocked from the Runtime's construction on (before MPI and Kokkos
  /// start threads): they wait, pending, until asked for here. A warning that came before
  /// the run started (its job script says so in $GOSOK_WALLTIME_WARNING) counts as sent.
  bool stop_requested();

 private:
  MPI_Comm m_comm = MPI_COMM_NULL;
  int m_rank = 0;
  int m_size = 1;
  bool m_owns_mpi = false;
  bool m_warned_before_start = false;
  RuntimeOptions m_options;
  Timers m_timers;
};

/// A labelled region: a Kokkos profiling region (so tools map profiles back to code) and
/// a timer. It fences on exit so that asynchronous kernels are charged to their region.
class Region {
 public:
  Region(Timers& timers, const std::string& name) : m_timer(timers, name) { Kokkos::Profiling::pushRegion(name); }
  ~Region() {
    Kokkos::fence();
    Kokkos::Profiling::popRegion();
  }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

 private:
  ScopedTimer m_timer;
};

}  // namespace gosok
