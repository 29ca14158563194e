// The local backend runs the job on this machine with the site's launcher (mpirun), no
// batch system: a small monitor process starts the run (after `gosok release` when held),
// measures its elapsed time and settles the ledger row itself. The dry-run backend books
// nothing and starts nothing.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/backend.hpp>
#include <gosok/scheduler/process.hpp>
#include <gosok/scheduler/text.hpp>

namespace gosok::sched {

namespace {

class LocalBackend final : public Backend {
 public:
  std::string name() const override { return "local"; }

  void check(const JobPlan& plan) const override {
    const auto& r = plan.request;
    const std::pair<const char*, bool> options[] = {
        {"--array", !r.array.empty()},
        {"-d/--dependency", !r.dependency.empty()},
        {"--begin", !r.begin.empty()},
        {"--mail-type", !r.mail_type.empty()},
        {"--mail-user", !r.mail_user.empty()},
        {"-C/--constraint", !r.constraint.empty()},
        {"--mem", !r.mem.empty()},
        {"--export", !r.export_env.empty()},
        {"--exclusive", r.exclusive},
        {"-c/--cpus-per-task", r.cpus_per_task > 0},
        {"--requeue/--no-requeue", !r.requeue.empty()},
    };
    for (const auto& [option, given] : options) {
      if (given) {
        throw InputError(
            fmt::format("{} cannot be honoured on site {}: it has no batch system (scheduler = "
                        "\"local\"); submit to a Slurm site for it",
                        option, plan.site_name));
      }
    }
    for (const auto& [option, value] :
         {std::pair<const char*, const std::string&>{"-o/--output", r.output}, {"-e/--error", r.error}}) {
      if (value.find('%') != std::string::npos) {
        throw InputError(
            fmt::format("{} '{}': site {} has no batch system to fill in Slurm's % patterns; give a "
                        "plain file name",
                        option, value, plan.site_name));
      }
    }
  }

  std::string submit(SubmitContext& ctx) override {
    // The monitor is a fresh gosok process, not a bare fork: an SQLite connection must not
    // cross fork(), and its lock bookkeeping would (writes were lost that way).
    std::vector<std::string> argv = {ctx.gosok_path,  "_local-monitor", "--ledger",
                                     ctx.ledger_path, "--job",          std::to_string(ctx.job.id)};
    if (ctx.plan.request.hold) argv.push_back("--hold");
    argv.push_back("--");
    // The job's variables, through env(1): the run gets them, the monitor's own
    // environment stays as it was. The rank environment's first host is this machine.
    argv.push_back("env");
    for (const auto& [name, value] : job_environment(ctx.plan, ctx.site)) argv.push_back(name + "=" + value);
    if (ctx.plan.request.rank_env) {
      argv.push_back("MASTER_ADDR=127.0.0.1");
      argv.push_back("MASTER_PORT=" + std::to_string(29500 + ctx.job.id % 1000));
    }
    argv.insert(argv.end(), ctx.launch.begin(), ctx.launch.end());
    const auto& r = ctx.plan.request;
    const std::string out = r.output.empty() ? ctx.job.job_dir + "/gosok-run.log" : r.output;
    // The monitor starts with cancel's and release's signals blocked, so that either waits
    // for it however early it is sent.
    try {
      ctx.job.pid = spawn_process(argv, out, ctx.job.job_dir, true, r.error, {SIGTERM, SIGUSR1});
    } catch (const std::exception& e) {
      throw SubmitRefused(std::string("cannot start the local run: ") + e.what());  // nothing started
    }
    return "";
  }

  void cancel(const JobRef& ref) override {
    const auto& job = ref.jobs.front();
    if (job.pid <= 0) throw InputError(job.gosok_id() + " has no local process");
    // The monitor leads its own process group, which holds the launcher and the ranks; the
    // monitor holds SIGTERM back and settles the job as CANCELLED once they have stopped.
    if (::kill(-job.pid, SIGTERM) != 0) throw RunError(job.gosok_id() + ": its local run has already ended");
  }

  void release(const JobRef& ref) override {
    const auto& job = ref.jobs.front();
    // Held: PENDING, or just submitted (its monitor has not said so yet; the signal waits).
    const bool held = job.sched_state == "PENDING" || (job.state == "queued" && job.sched_state.empty());
    if (!held || job.pid <= 0) {
      throw InputError(
          fmt::format("{} is not held ({})", job.gosok_id(), job.sched_state.empty() ? job.state : job.sched_state));
    }
    if (::kill(job.pid, SIGUSR1) != 0) throw RunError(job.gosok_id() + ": its local monitor has already ended");
  }

  // A local job settles itself (see run_local_job); reconcile only checks its monitor.
  Accounting accounting(const std::vector<JobRecord>&) override { return {}; }
};

class DryRunBackend final : public Backend {
 public:
  std::string name() const override { return "dry-run"; }
  bool books() const override { return false; }
  std::string submit(SubmitContext&) override { return ""; }
  void cancel(const JobRef&) override {}
  void release(const JobRef&) override {}
  Accounting accounting(const std::vector<JobRecord>&) override { return {}; }
};

// How long a run stopped at its time limit gets between SIGTERM and SIGKILL (Slurm's KillWait).
constexpr int kKillWaitSeconds = 5;

}  // namespace

int run_local_job(const std::string& ledger_path, std::int64_t job_id, bool hold, const std::vector<std::string>& argv,
                  const std::function<void(const JobRecord&)>& before_settled) {
  // `gosok cancel` sends SIGTERM to this process group and `gosok release` SIGUSR1 to this
  // process; both are blocked from its start (the run gets them unblocked), so a cancel
  // is seen as pending whenever it came.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  auto cancelled = [] {
    sigset_t pending;
    sigpending(&pending);
    return sigismember(&pending, SIGTERM) == 1;
  };
  auto ledger = open_ledger_at(ledger_path, true);
  const auto job = ledger->find_job(job_id);
  if (!job) throw InputError(fmt::format("no job g{} in {}", job_id, ledger_path));
  auto settle = [&](const std::string& state, std::int64_t elapsed, const std::string& note, int exit_code = -1) {
    JobUpdate done;
    done.id = job->id;
    done.exit_code = exit_code;
    done.state = "settled";
    done.sched_state = state;
    done.elapsed_s = elapsed;
    done.alloc_gpus = elapsed > 0 ? job->gpus : 0;
    const RunCharge charge = charge_run(*job, done.elapsed_s, done.alloc_gpus, state);
    done.charged_gpu_h = charge.charged;
    done.uncharged_gpu_h = charge.uncharged;
    done.ended_at = now_seconds();
    done.note = note;
    if (charge.uncharged > 1e-12) {
      done.note += fmt::format("{}ran past its reservation: {:.4f} GPU-hours not charged", note.empty() ? "" : "; ",
                               charge.uncharged);
    }
    if (elapsed > 0) {
      attach_run_energy(done, *job);
    } else {
      done.energy_note = "not measured: the job never ran";
    }
    if (before_settled) {
      JobRecord settled = *job;
      settled.state = done.state;
      settled.sched_state = done.sched_state;
      settled.elapsed_s = done.elapsed_s;
      settled.exit_code = done.exit_code;
      settled.ended_at = done.ended_at;
      before_settled(settled);
    }
    ledger->apply({done});
  };
  if (hold) {
    JobUpdate held;
    held.id = job->id;
    held.state = "queued";
    held.sched_state = "PENDING";
    held.note = "held: 'gosok release " + job->gosok_id() + "' starts it";
    ledger->apply({held});
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGTERM) {
      settle("CANCELLED", 0, "cancelled while held; never ran");
      return 0;
    }
  }
  if (cancelled()) {
    settle("CANCELLED", 0, "cancelled before it started; never ran");
    return 0;
  }
  const auto t0 = std::chrono::steady_clock::now();
  JobUpdate running;
  running.id = job->id;
  running.state = "running";
  running.sched_state = "RUNNING";
  running.started_at = now_seconds();
  ledger->apply({running});
  if (::geteuid() == 0) {
    // Open MPI refuses root unless told; harmless for other MPIs.
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  }
  ::setenv("GOSOK_JOB_ID", job->gosok_id().c_str(), 1);
  std::cout.flush();
  const int child = spawn_process(argv, "", job->job_dir, false);
  // The time limit holds here as in Slurm: SIGTERM at the limit, SIGKILL after KillWait.
  const auto limit = t0 + std::chrono::seconds(job->time_limit_s);
  bool timed_out = false;
  int rc = -1;
  for (;;) {
    rc = try_wait_process(child);
    if (rc != kStillRunning) break;
    const auto now = std::chrono::steady_clock::now();
    if (now >= limit && !timed_out) {
      timed_out = true;
      ::kill(child, SIGTERM);
    }
    if (timed_out && now >= limit + std::chrono::seconds(kKillWaitSeconds)) ::kill(child, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0).count();
  const bool stopped = cancelled();
  // Charged by the second, at least one: a run that started used its GPUs.
  const std::string state = stopped ? "CANCELLED" : timed_out ? "TIMEOUT" : rc == 0 ? "COMPLETED" : "FAILED";
  const std::string note = stopped ? "cancelled by gosok cancel"
                           : timed_out
                               ? fmt::format("stopped at its time limit ({})", format_walltime(job->time_limit_s))
                           : rc != 0 ? fmt::format("exit code {}; log in {}", rc, job->job_dir)
                                     : "";
  settle(state, std::max<std::int64_t>(1, elapsed), note, rc);
  return rc;
}

std::unique_ptr<Backend> make_local_backend() { return std::make_unique<LocalBackend>(); }
std::unique_ptr<Backend> make_dry_run_backend() { return std::make_unique<DryRunBackend>(); }

}  // namespace gosok::sched
