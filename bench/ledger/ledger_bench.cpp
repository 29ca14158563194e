// The ledger on SQLite and on PostgreSQL, side by side in one run:
//   1. reservations per second from 1 and from 8 concurrent clients (processes, each with
//      its own connection, all on one grant: the case that serialises), each reservation
//      one job, its balance check and its booking in one transaction, then its Slurm id
//      recorded (what gosok submit asks of the ledger);
//   2. the same one client at a time, opening and closing the ledger around each
//      reservation, as each `gosok submit` process does;
//   3. the time to reconcile 10,000 finished jobs from a recorded sacct output: open the
//      ledger, read its active jobs, parse, match, settle in one transaction.
// PostgreSQL twice: with its default durability (a commit waits for its WAL to reach the
// disk), and with synchronous_commit = off for the connection, which, like the SQLite
// ledger's WAL with synchronous = NORMAL, may lose the last commits in a power cut (never
// corrupts): the difference is what the disk's flush costs.
//
//   bench_ledger --postgres-owner CONNINFO --postgres CONNINFO [--reservations N] [--reconcile M]
// --postgres-owner: an empty database, as a superuser, who sets the ledger up there (run.sh
// makes one); --postgres: the same database as this Unix user's role, the member who reserves.
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gosok/scheduler/grants.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/text.hpp>

using namespace gosok::sched;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Grant bench_grant(const std::string& id) {
  Grant g;
  g.id = id;
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
  return g;
}

JobRecord bench_job(const std::string& grant, int gpus) {
  JobRecord j;
  j.grant_id = grant;
  j.site = "local-slurm";
  j.partition = "gpu";
  j.backend = "slurm";
  j.name = "bench";
  j.workload = "heat";
  j.gpus = gpus;
  j.time_limit_s = 3600;
  j.reserved_gpu_h = gpus;
  j.submitted_at = now_seconds();
  return j;
}

// A ledger holding one grant per measurement, and this user a member of its project.
void prepare(const std::string& location, const std::vector<std::string>& grants) {
  auto ledger = open_ledger_at(location);
  std::vector<GrantImport> imports;
  for (const auto& g : grants) imports.push_back({bench_grant(g), "bench"});
  ledger->import_grants(imports, false);
  ledger->set_members("bench", {current_user()}, "bench");
}

// `clients` processes reserve `total` jobs between them on `grant`; returns reservations/s.
double reserve_rate(const std::string& location, const std::string& grant, int clients, int total, bool open_each) {
  int go[2];
  if (::pipe(go) != 0) throw std::runtime_error("pipe");
  std::vector<pid_t> children;
  for (int c = 0; c < clients; ++c) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(go[1]);
      int code = 0;
      try {
        // Connected before the start, so that (unless open_each) only reservations are timed.
        auto ledger = open_each ? nullptr : open_ledger_at(location);
        char byte = 0;
        if (::read(go[0], &byte, 1) < 0) ::_exit(3);
        for (int i = c; i < total; i += clients) {
          auto held = open_each ? open_ledger_at(location) : nullptr;
          LedgerStore& l = open_each ? *held : *ledger;
          std::vector<JobRecord> one = {bench_job(grant, 1)};
          l.reserve(one);
          l.set_submitted(one.front().id, std::to_string(100000 + i), 0);
        }
      } catch (const std::exception& e) {
        fmt::print(stderr, "client {}: {}\n", c, e.what());
        code = 1;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  ::close(go[0]);
  ::usleep(200000);  // every client connected
  const auto t0 = std::chrono::steady_clock::now();
  ::close(go[1]);  // everyone reads end-of-file at once: go
  bool ok = true;
  for (const pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  const double s = seconds_since(t0);
  if (!ok) throw std::runtime_error("a client failed");
  if (static_cast<int>(open_ledger_at(location)->jobs(grant, true).size()) != total) {
    throw std::runtime_error("the ledger does not hold every reservation");
  }
  return total / s;
}

// Reconciling `n` finished jobs from a recorded sacct output; returns seconds.
double reconcile_time(const std::string& location, const std::string& grant, int n) {
  std::string sacct = "JobID|State|ElapsedRaw|AllocTRES|Comment|Start|End\n";
  {
    auto ledger = open_ledger_at(location);
    // Set up as arrays of 1,000 tasks (one transaction each): the reconcile is what is timed.
    for (int first = 0; first < n; first += 1000) {
      std::vector<JobRecord> tasks;
      for (int t = first; t < std::min(n, first + 1000); ++t) {
        tasks.push_back(bench_job(grant, 1 + t % 4));
        tasks.back().array_task = t - first;
      }
      ledger->reserve(tasks);
      const std::string array = std::to_string(2000000 + first);
      ledger->set_submitted(tasks.front().id, array, 0);
      for (const auto& j : tasks) {
        const char* state = j.array_task % 50 == 0 ? "NODE_FAIL" : j.array_task % 10 == 0 ? "FAILED" : "COMPLETED";
        const std::string id = array + "_" + std::to_string(j.array_task);
        sacct +=
            fmt::format("{}|{}|{}|billing={},cpu={},gres/gpu={},node=1|{}|2026-11-28T19:00:00|2026-11-28T20:00:00\n",
                        id, state, 60 + j.array_task % 3000, j.gpus, j.gpus, j.gpus, j.tag);
        sacct +=
            fmt::format("{}.batch|{}|{}|cpu={},gres/gpu={},mem=0,node=1||2026-11-28T19:00:00|2026-11-28T20:00:00\n", id,
                        state, 60 + j.array_task % 3000, j.gpus, j.gpus);
      }
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto ledger = open_ledger_at(location);
  const auto report = reconcile_jobs(*ledger, sacct, 0);
  const double s = seconds_since(t0);
  if (report.settled != n) throw std::runtime_error(fmt::format("reconcile settled {} of {} jobs", report.settled, n));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string postgres, owner;
  int reservations = 2000, reconcile = 10000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--postgres") {
      postgres = argv[i + 1];
    } else if (key == "--postgres-owner") {
      owner = argv[i + 1];
    } else if (key == "--reservations") {
      reservations = std::atoi(argv[i + 1]);
    } else if (key == "--reconcile") {
      reconcile = std::atoi(argv[i + 1]);
    } else {
      fmt::print(stderr, "bench_ledger: unknown option {}\n", key);
      return 2;
    }
  }
  if (postgres.empty() || owner.empty() || reservations <= 0 || reconcile <= 0) {
    fmt::print(
        stderr,
        "usage: bench_ledger --postgres-owner CONNINFO --postgres CONNINFO [--reservations N] [--reconcile M]\n");
    return 2;
  }
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("gosok-bench-ledger-{}", ::getpid());
  std::filesystem::create_directories(dir);
  const std::string sqlite = "sqlite:" + (dir / "ledger.sqlite").string();
  try {
    setup_postgres_ledger(owner, {current_user()}, {current_user()});
    struct Column {
      std::string location;
      std::string grant_suffix;  // each column's own grants (the two PostgreSQL ones share a database)
    };
    const std::vector<Column> columns = {
        {sqlite, ""}, {postgres, ""}, {postgres + " options='-c synchronous_commit=off'", "-async"}};
    for (const auto& c : columns) {
      std::vector<std::string> grants;
      for (const char* g : {"C1", "C8", "OPEN", "RECONCILE"}) grants.push_back(g + c.grant_suffix);
      prepare(c.location, grants);
    }
    struct Row {
      std::string what;
      std::function<double(const Column&)> measure;
      std::string unit;
    };
    const std::vector<Row> rows = {
        {"reservations/s, 1 client",
         [&](const Column& c) { return reserve_rate(c.location, "C1" + c.grant_suffix, 1, reservations, false); },
         "/s"},
        {"reservations/s, 8 clients",
         [&](const Column& c) { return reserve_rate(c.location, "C8" + c.grant_suffix, 8, reservations, false); },
         "/s"},
        {"reservations/s, 1 client, open+close each",
         [&](const Column& c) {
           return reserve_rate(c.location, "OPEN" + c.grant_suffix, 1, std::max(1, reservations / 4), true);
         },
         "/s"},
        {fmt::format("reconcile {} finished jobs, s", reconcile),
         [&](const Column& c) { return reconcile_time(c.location, "RECONCILE" + c.grant_suffix, reconcile); }, "s"},
    };
    fmt::print("ledger benchmark: {} reservations per configuration (open+close: {}), one grant each\n", reservations,
               std::max(1, reservations / 4));
    fmt::print("  SQLite:     {}\n  PostgreSQL: {}\n", sqlite.substr(7), open_ledger_at(postgres)->describe());
    fmt::print("{:<44} {:>12} {:>12} {:>12}\n", "", "SQLite", "PostgreSQL", "(async)");
    double worst_reconcile = 0;
    for (const auto& row : rows) {
      std::string line = fmt::format("{:<44}", row.what);
      for (const auto& c : columns) {
        const double v = row.measure(c);
        if (row.unit == "s") worst_reconcile = std::max(worst_reconcile, v);
        line += row.unit == "s" ? fmt::format(" {:>12.3f}", v) : fmt::format(" {:>12.0f}", v);
      }
      fmt::print("{}\n", line);
    }
    fmt::print("(async): PostgreSQL with synchronous_commit = off, as durable as the SQLite ledger's WAL\n");
    fmt::print("reconcile target: {} jobs in < 1 s on each -> {}\n", reconcile,
               reconcile >= 10000 ? (worst_reconcile < 1.0 ? "met" : "MISSED") : "(not the target size)");
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_ledger: {}\n", e.what());
    std::filesystem::remove_all(dir);
    return 1;
  }
  std::filesystem::remove_all(dir);
  return 0;
}
