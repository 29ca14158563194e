// Time to settle N finished jobs from a recorded `sacct --parsable2` output (target: 10,000
// in under one second). The sacct text is generated here, in the exact format the Slurm
// backend asks for (JobID,State,ElapsedRaw,AllocTRES,Comment,Start,End with .batch step lines),
// so the figure covers parsing, matching and the one ledger transaction, not sacct itself.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <fstream>

#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/text.hpp>

using namespace gosok::sched;

namespace {
void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("gosok-bench-reconcile-{}", ::getpid());
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "ledger.sqlite").string();
  const std::string recorded = (dir / "sacct.txt").string();
  {
    auto ledger = open_sqlite_ledger(path);
    Grant g;
    g.id = "BENCH";
    g.project = "bench";
    g.institution = "bench";
    g.sector = "research";
    g.site = "local-slurm";
    g.gpu_type = "fake";
    g.gpu_hours = 1e9;
    g.start = now_seconds() - 86400;
    g.end = now_seconds() + 365 * 86400;
    g.account = "bench";
    g.qos = "bench";
    ledger->import_grants({{g, "bench"}}, false);
    const auto t0 = std::chrono::steady_clock::now();
    std::string sacct = "JobID|State|ElapsedRaw|AllocTRES|Comment|Start|End\n";
    for (int i = 0; i < n; ++i) {
      JobRecord j;
      j.grant_id = "BENCH";
      j.site = "local-slurm";
      j.partition = "gpu";
      j.backend = "slurm";
      j.name = "bench";
      j.workload = "heat";
      j.gpus = 1 + i % 4;
      j.time_limit_s = 3600;
      j.reserved_gpu_h = j.gpus;
      j.submitted_at = now_seconds();
      std::vector<JobRecord> one = {j};
      ledger->reserve(one);
      j = one.front();
      const std::string id = std::to_string(1000000 + i);
      ledger->set_submitted(j.id, id, 0);
      const char* state = i % 50 == 0 ? "NODE_FAIL" : i % 10 == 0 ? "FAILED" : "COMPLETED";
      sacct += fmt::format("{}|{}|{}|billing={},cpu={},gres/gpu={},node=1|{}|2026-11-28T19:00:00|2026-11-28T20:00:00\n",
                           id, state, 60 + i % 3000, j.gpus, j.gpus, j.gpus, j.tag);
      sacct += fmt::format("{}.batch|{}|{}|cpu={},gres/gpu={},mem=0,node=1||2026-11-28T19:00:00|2026-11-28T20:00:00\n",
                           id, state, 60 + i % 3000, j.gpus, j.gpus);
    }
    const double setup = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("setup: {} jobs reserved one transaction each in {:.2f} s ({:.0f} reservations/s)\n", n, setup,
               n / setup);
    write_file(recorded, sacct);
  }
  // What `gosok reconcile --from-sacct FILE` does: open the ledger, read the recorded
  // output, settle every job in one transaction.
  const auto t0 = std::chrono::steady_clock::now();
  auto ledger = open_sqlite_ledger(path);
  const auto report = reconcile_jobs(*ledger, read_text_file(recorded), 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto balance = ledger->balance("BENCH", now_seconds());
  fmt::print("reconcile: {} finished jobs settled in {:.3f} s ({:.0f} jobs/s; target: 10000 in < 1 s) -> {}\n",
             report.settled, seconds, report.settled / seconds, n >= 10000 && seconds < 1.0 ? "met" : "check");
  fmt::print("  {} settled jobs, {:.1f} GPU-hours charged, {:.1f} queued left\n", balance.settled_jobs, balance.settled,
             balance.queued);
  std::filesystem::remove_all(dir);
  return report.settled == n ? 0 : 1;
}
