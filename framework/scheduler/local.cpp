// The local backend runs the job on this machine with the site's launcher (mpirun), no
// batch system: a small monitor process starts the run, measures its elapsed time and
// settles the ledger row itself. The dry-run backend books nothing and starts nothing.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/backend.hpp>
#include <gosok/scheduler/process.hpp>
#include <gosok/scheduler/text.hpp>

namespace gosok::sched {

namespace {

class LocalBackend final : public Backend {
 public:
  std::string name() const override { return "local"; }

  std::string submit(SubmitContext& ctx) override {
    // The monitor is a fresh gosok process, not a bare fork: an SQLite connection must not
    // cross fork(), and its lock bookkeeping would (writes were lost that way).
    std::vector<std::string> argv = {ctx.gosok_path, "_local-monitor",           "--ledger", ctx.ledger_path,
                                     "--job",        std::to_string(ctx.job.id), "--"};
    argv.insert(argv.end(), ctx.launch.begin(), ctx.launch.end());
    ctx.job.pid = spawn_process(argv, ctx.job.output_dir + "/gosok-run.log", ctx.job.output_dir);
    return "";
  }

  void cancel(const JobRecord& job) override {
    if (job.pid <= 0) throw InputError(job.gosok_id() + " has no local process");
    // The monitor leads its own process group, which holds the launcher and the ranks; the
    // monitor ignores SIGTERM and settles the job once they have stopped.
    if (::kill(-job.pid, SIGTERM) != 0) throw RunError(job.gosok_id() + ": its local run has already ended");
  }

  // A local job settles itself (see run_and_settle); reconcile only checks its monitor.
  std::vector<AcctRecord> accounting(const std::vector<JobRecord>&) override { return {}; }
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

int run_local_job(const std::string& ledger_path, std::int64_t job_id, const std::vector<std::string>& argv) {
  auto ledger = open_sqlite_ledger(ledger_path);
  const auto job = ledger->find_job(job_id);
  if (!job) throw InputError(fmt::format("no job g{} in {}", job_id, ledger_path));
  const auto t0 = std::chrono::steady_clock::now();
  JobUpdate running;
  running.id = job->id;
  running.state = "running";
  running.sched_state = "RUNNING";
  ledger->apply({running});
  if (::geteuid() == 0) {
    // Open MPI refuses root unless told; harmless for other MPIs.
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  }
  ::setenv("GOSOK_JOB_ID", job->gosok_id().c_str(), 1);
  std::cout.flush();
  // `gosok cancel` sends SIGTERM to this process group: the launcher (and through it the
  // ranks) stops, while the monitor survives to settle what the run used.
  ::signal(SIGTERM, SIG_IGN);
  const int child = spawn_process(argv, "", job->output_dir, false);
  const int rc = wait_process(child);
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0).count();
  JobUpdate done;
  done.id = job->id;
  done.state = "settled";
  done.sched_state = rc == 0 ? "COMPLETED" : "FAILED";
  // Charged by the second, at least one: a run that started used its GPUs.
  done.elapsed_s = std::max<std::int64_t>(1, elapsed);
  done.alloc_gpus = job->gpus;
  done.charged_gpu_h = static_cast<double>(done.elapsed_s) / 3600.0 * done.alloc_gpus * job->charge_factor;
  done.ended_at = now_seconds();
  if (rc != 0) done.note = fmt::format("exit code {}; log: {}/gosok-run.log", rc, job->output_dir);
  ledger->apply({done});
  return rc;
}

std::unique_ptr<Backend> make_local_backend() { return std::make_unique<LocalBackend>(); }
std::unique_ptr<Backend> make_dry_run_backend() { return std::make_unique<DryRunBackend>(); }

}  // namespace gosok::sched
