// The local backend runs the job on this machine with the site's launcher (mpirun), no
// batch system: a small monitor process starts the run, measures its elapsed time and
// settles the ledger row itself. The dry-run backend books nothing and starts nothing.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "core/error.hpp"
#include "scheduler/backend.hpp"
#include "scheduler/process.hpp"
#include "scheduler/text.hpp"

namespace gosok::sched {

namespace {

class LocalBackend final : public Backend {
 public:
  std::string name() const override { return "local"; }

  std::string submit(SubmitContext& ctx) override {
    const std::string log_path = ctx.job.output_dir + "/gosok-run.log";
    std::cout.flush();
    const pid_t monitor = ::fork();
    if (monitor < 0) throw RunError("fork failed");
    if (monitor == 0) {
      // The monitor must not reuse the parent's database connection: it opens its own, and
      // leaves with _exit so no destructor of the parent's objects runs here.
      if (!ctx.wait) ::setsid();
      int code = 1;
      try {
        code = run_and_settle(ctx, log_path);
      } catch (const std::exception& e) {
        std::cerr << "gosok local monitor: " << e.what() << "\n";
      }
      std::cout.flush();
      ::_exit(code);
    }
    ctx.job.pid = monitor;
    return "";
  }

  void cancel(const JobRecord& job) override {
    if (job.pid <= 0) throw InputError(job.gosok_id() + " has no local process");
    // The monitor runs in its own session; its group holds the launcher and the ranks.
    ::kill(-job.pid, SIGTERM);
    ::kill(job.pid, SIGTERM);
  }

  // A local job settles itself (see run_and_settle); reconcile only checks its monitor.
  std::vector<AcctRecord> accounting(const std::vector<JobRecord>&) override { return {}; }

 private:
  static int run_and_settle(SubmitContext& ctx, const std::string& log_path) {
    auto ledger = open_sqlite_ledger(ctx.ledger_path);
    const auto t0 = std::chrono::steady_clock::now();
    JobUpdate running;
    running.id = ctx.job.id;
    running.state = "running";
    running.sched_state = "RUNNING";
    ledger->apply({running});
    std::vector<std::string> argv = ctx.launch;
    if (::geteuid() == 0) {
      // Open MPI refuses root unless told; harmless for other MPIs.
      ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
      ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    }
    ::setenv("GOSOK_JOB_ID", ctx.job.gosok_id().c_str(), 1);
    const int child = spawn_process(argv, log_path, ctx.job.output_dir);
    const int rc = wait_process(child);
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0).count();
    JobUpdate done;
    done.id = ctx.job.id;
    done.state = "settled";
    done.sched_state = rc == 0 ? "COMPLETED" : "FAILED";
    // Charged by the second, at least one: a run that started used its GPUs.
    done.elapsed_s = std::max<std::int64_t>(1, elapsed);
    done.alloc_gpus = ctx.plan.total_gpus;
    done.charged_gpu_h = static_cast<double>(done.elapsed_s) / 3600.0 * done.alloc_gpus * ctx.job.charge_factor;
    done.ended_at = now_seconds();
    if (rc != 0) done.note = fmt::format("exit code {}; log: {}", rc, log_path);
    ledger->apply({done});
    return rc;
  }
};

class DryRunBackend final : public Backend {
 public:
  std::string name() const override { return "dry-run"; }
  bool books() const override { return false; }
  std::string submit(SubmitContext&) override { return ""; }
  void cancel(const JobRecord&) override {}
  std::vector<AcctRecord> accounting(const std::vector<JobRecord>&) override { return {}; }
};

}  // namespace

std::unique_ptr<Backend> make_local_backend() { return std::make_unique<LocalBackend>(); }
std::unique_ptr<Backend> make_dry_run_backend() { return std::make_unique<DryRunBackend>(); }

}  // namespace gosok::sched
