// The adapter's own cost per submission, without the cost of starting any executable:
// submit_job (plan, render, reserve, write the script, hand it to Slurm through libslurm,
// record the id) in this process, against run_process("sbatch") of the same script,
// alternating in blocks of 10. This is what the submit server does for each request. Needs
// the local Slurm (SLURM_CONF). Jobs are held, then cancelled.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <gosok/scheduler/process.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/text.hpp>

using namespace gosok::sched;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (!std::getenv("SLURM_CONF")) {
    fmt::print(stderr, "bench_submit_inproc: SLURM_CONF is not set (scripts/slurm-local start DIR)\n");
    return 2;
  }
  const int n = argc > 1 ? std::atoi(argv[1]) : 100;
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("gosok-bench-submit-{}", ::getpid());
  std::filesystem::create_directories(dir);
  const std::string ledger_path = (dir / "ledger.sqlite").string();
  auto ledger = open_sqlite_ledger(ledger_path);
  std::random_device rd;
  const std::string suffix = std::to_string(rd() % 100000);
  Grant g;
  g.id = "BENCHIP-" + suffix;
  g.project = "bench";
  g.institution = "bench";
  g.sector = "research";
  g.site = "local-slurm";
  g.gpu_type = "fake";
  g.gpu_hours = 1e6;
  g.start = now_seconds() - 86400;
  g.end = now_seconds() + 365 * 86400;
  g.account = "benchip" + suffix;
  g.qos = lower(g.id);
  ledger->upsert_grant(g, "bench");
  provision_grant(g, {"root"});
  const Site site = find_site("local-slurm");

  JobRequest req;
  req.workload = "heat";
  req.grant_id = g.id;
  req.gpus_per_node = 1;
  req.walltime_s = 600;
  req.hold = true;
  SubmitOptions opt;
  opt.ledger_path = ledger_path;
  opt.gosok_path = "gosok";
  req.output_dir = (dir / "raw").string();
  opt.dry_run = true;
  const std::string script = submit_job(req, site, ledger.get(), opt).script;
  opt.dry_run = false;
  std::filesystem::create_directories(dir / "raw");
  std::ofstream(dir / "raw" / "job.sbatch") << script;

  double raw_s = 0, gosok_s = 0;
  std::string submitted_with;
  for (int block = 0; block < n; block += 10) {
    const auto t0 = Clock::now();
    for (int i = block; i < std::min(n, block + 10); ++i) {
      if (run_process({"sbatch", "--parsable", (dir / "raw" / "job.sbatch").string()}).exit_code != 0) return 1;
    }
    const auto t1 = Clock::now();
    for (int i = block; i < std::min(n, block + 10); ++i) {
      req.output_dir = (dir / fmt::format("g{}", i)).string();
      submitted_with = submit_job(req, site, ledger.get(), opt).submitted_with;
    }
    const auto t2 = Clock::now();
    raw_s += std::chrono::duration<double>(t1 - t0).count();
    gosok_s += std::chrono::duration<double>(t2 - t1).count();
  }
  const double r = raw_s / n * 1e3, s = gosok_s / n * 1e3;
  fmt::print(
      "submit (in-process): {} jobs each: an sbatch process {:.1f} ms/job, submit_job in this process {:.1f} "
      "ms/job ({})\n",
      n, r, s, submitted_with);
  run_process({"scancel", "-A", g.account});
  std::filesystem::remove_all(dir);
  return 0;
}
