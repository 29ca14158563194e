// The gosok executable as a user meets it: exit codes, `info`, `validate`, and `run heat`
// under mpiexec (analytic solution, rank independence, abort on one rank, restart).
#include <hdf5.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include <gosok/core/version.hpp>
#include "subprocess.hpp"

using Catch::Matchers::ContainsSubstring;
using gosok::test::run;
using gosok::test::TempDir;

namespace {

std::vector<std::string> gosok_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), gosok::test::gosok_binary());
  return args;
}

std::vector<std::string> mpi_gosok(int ranks, const std::vector<std::string>& args) {
  auto cmd = gosok::test::mpiexec(ranks);
  cmd.push_back(gosok::test::gosok_binary());
  cmd.insert(cmd.end(), args.begin(), args.end());
  return cmd;
}

nlohmann::json read_json(const std::filesystem::path& p) { return nlohmann::json::parse(gosok::test::read_file(p)); }

}  // namespace

TEST_CASE("exit codes: 0 for help and version, 2 for unknown commands and options", "[cli]") {
  CHECK(run(gosok_cmd({"--help"})).exit_code == 0);
  auto v = run(gosok_cmd({"--version"}));
  CHECK(v.exit_code == 0);
  CHECK_THAT(v.output, ContainsSubstring(gosok::version()));

  auto none = run(gosok_cmd({}));
  CHECK(none.exit_code == 2);
  auto unknown = run(gosok_cmd({"frobnicate"}));
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.output, ContainsSubstring("unknown command 'frobnicate'"));
  auto bad_option = run(gosok_cmd({"run", "heat", "--no-such-option"}));
  CHECK(bad_option.exit_code == 2);
  CHECK_THAT(bad_option.output, ContainsSubstring("no-such-option"));
  auto bad_workload = run(gosok_cmd({"run", "nope"}));
  CHECK(bad_workload.exit_code == 2);
  CHECK_THAT(bad_workload.output, ContainsSubstring("known workloads: "));
  CHECK_THAT(bad_workload.output, ContainsSubstring("heat"));
  auto bad_level = run(gosok_cmd({"run", "heat", "--log-level", "loud"}));
  CHECK(bad_level.exit_code == 2);
  CHECK_THAT(bad_level.output, ContainsSubstring("error, warn, info, debug"));
  CHECK(run(gosok_cmd({"run", "heat", "--help"})).exit_code == 0);
  CHECK(run(gosok_cmd({"info", "--bogus"})).exit_code == 2);
}

TEST_CASE("gosok run: full option names only, no stray words, the array task's index and folder", "[cli]") {
  TempDir dir;
  // A stray word is an error, not a silent run with the defaults.
  auto stray = run(gosok_cmd({"run", "heat", "nx=32", "--results", (dir / "stray").string()}));
  CHECK(stray.exit_code == 2);
  CHECK_THAT(stray.output, ContainsSubstring("unexpected argument 'nx=32'") && ContainsSubstring("--set key=value"));
  CHECK(!std::filesystem::exists(dir / "stray"));
  // No prefix guessing: --res is not --results, --inp not --input.
  for (const char* prefix : {"--res", "--inp", "--checkpoint"}) {
    auto r = run(gosok_cmd({"run", "heat", prefix, "x"}));
    INFO(prefix);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, ContainsSubstring("unrecognised option") || ContainsSubstring("unrecognized option"));
  }
  auto both = run(gosok_cmd({"run", "heat", "--results", "a", "--set", "run.output_dir=b"}));
  CHECK(both.exit_code == 2);
  CHECK_THAT(both.output, ContainsSubstring("--results and --set run.output_dir=b both set run.output_dir"));
  // Outside an array task, the task's index does not exist.
  auto outside = run(gosok_cmd({"run", "heat", "--set-from-array", "mode_x", "--results", (dir / "o").string()}));
  CHECK(outside.exit_code == 2);
  CHECK_THAT(outside.output, ContainsSubstring("SLURM_ARRAY_TASK_ID is not set"));
  // Inside one (as Slurm starts it): the index is the input key and names the results folder.
  ::setenv("SLURM_ARRAY_TASK_ID", "2", 1);
  auto task = run(gosok_cmd({"run", "heat", "--set", "nx=16", "--set", "ny=16", "--set-from-array", "mode_x",
                             "--results", (dir / "tasks" / "%a").string()}));
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  INFO(task.output);
  REQUIRE(task.exit_code == 0);
  const auto resolved = gosok::test::read_file(dir / "tasks" / "2" / "input.resolved.toml");
  CHECK_THAT(resolved, ContainsSubstring("mode_x = 2  # --set"));
  CHECK_THAT(resolved, ContainsSubstring("output_dir = '" + (dir / "tasks" / "2").string() + "'"));
}

TEST_CASE("gosok info prints the versions the binary was built with", "[cli][info]") {
  auto r = run(gosok_cmd({"info"}));
  REQUIRE(r.exit_code == 0);
  // CMake's Kokkos version, "4.6.01", as Kokkos' own macro prints it: "4.6.1".
  int kk_major = 0, kk_minor = 0, kk_patch = 0;
  REQUIRE(std::sscanf(GOSOK_TEST_KOKKOS_VERSION, "%d.%d.%d", &kk_major, &kk_minor, &kk_patch) == 3);
  const std::string kokkos = std::to_string(kk_major) + "." + std::to_string(kk_minor) + "." + std::to_string(kk_patch);
  CHECK_THAT(r.output, ContainsSubstring("Kokkos     " + kokkos));
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  const std::string hdf5 = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
  CHECK_THAT(r.output, ContainsSubstring("HDF5       " + hdf5 + " (parallel)"));
  // The MPI line must agree with what the launcher itself reports.
  auto launcher = run({GOSOK_MPIEXEC, "--version"});
  auto pos = launcher.output.find(") ");
  REQUIRE(pos != std::string::npos);
  const std::string mpi_version = launcher.output.substr(pos + 2, launcher.output.find('\n') - pos - 2);
  CHECK_THAT(r.output, ContainsSubstring("v" + mpi_version));
  CHECK_THAT(r.output, ContainsSubstring(std::string("git ") + gosok::git_hash()));
}

TEST_CASE("gosok validate accepts good input and names line and key of bad input", "[cli][validate]") {
  TempDir dir;
  gosok::test::write_file(dir / "good.toml", "workload = \"heat\"\nnx = 32\nny = 32\n");
  CHECK(run(gosok_cmd({"validate", (dir / "good.toml").string()})).exit_code == 0);

  gosok::test::write_file(dir / "syntax.toml", "workload = \"heat\"\nnx = 32\nny = = 3\n");
  auto syntax = run(gosok_cmd({"validate", (dir / "syntax.toml").string()}));
  CHECK(syntax.exit_code == 2);
  CHECK_THAT(syntax.output, ContainsSubstring("syntax.toml:3:"));

  gosok::test::write_file(dir / "value.toml", "workload = \"heat\"\n\ncfl = 0.9\n");
  auto value = run(gosok_cmd({"validate", (dir / "value.toml").string()}));
  CHECK(value.exit_code == 2);
  CHECK_THAT(value.output, ContainsSubstring("value.toml:3: key 'cfl' = 0.9 is too large"));
  CHECK_THAT(value.output, ContainsSubstring("in [1e-06, 0.25]"));

  gosok::test::write_file(dir / "what.toml", "colour = \"blue\"\n");
  auto what = run(gosok_cmd({"validate", (dir / "what.toml").string()}));
  CHECK(what.exit_code == 2);
  CHECK_THAT(what.output, ContainsSubstring("cannot tell what kind of file"));
}

TEST_CASE("gosok run heat matches the analytic solution on 1, 2 and 4 ranks", "[cli][heat][mpi]") {
  TempDir dir;
  std::vector<nlohmann::json> diags;
  for (int ranks : {1, 2, 4}) {
    const auto out = dir / ("np" + std::to_string(ranks));
    auto r = run(mpi_gosok(ranks, {"run", "heat", "--results", out.string()}), 120);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    diags.push_back(read_json(out / "diagnostics.json"));
    CHECK(diags.back()["ranks"] == ranks);
    // The resolved input is written next to the results and records where values came from.
    const auto resolved = gosok::test::read_file(out / "input.resolved.toml");
    CHECK_THAT(resolved, ContainsSubstring("nx = 64  # default"));
    CHECK_THAT(resolved, ContainsSubstring("output_dir = "));
  }
  for (const auto& doc : diags) {
    const auto& d = doc["records"].back();  // the final record
    // Discretisation error at nx = 64: the 5-point Laplacian's relative eigenvalue error is
    // (k dx)^2 / 12 = 8e-4 for k = 2 pi, and the solution has decayed by exp(-0.79) at
    // t = 0.01, so a relative L2 error near 9e-4 is the scheme's own; 2e-3 leaves room
    // for the first-order time error without hiding a wrong stencil (which gives O(1)).
    CHECK(d["rel_l2_error"].get<double>() < 2e-3);
    CHECK(d["rel_l2_error"].get<double>() > 1e-5);  // a suspiciously exact answer is a bug too
    // Mass is conserved to round-off: 4096 cells, ~200 steps, each O(1e-16).
    CHECK(std::abs(d["mass_rel_change"].get<double>()) < 1e-13);
    // Rank independence: the stencil is the same on every rank; only the order of the
    // global sums changes, so the norms agree to a few ulps of their size.
    CHECK(std::abs(d["rel_l2_error"].get<double>() - diags[0]["records"].back()["rel_l2_error"].get<double>()) < 1e-12);
    CHECK(d["max_abs_error"].get<double>() == diags[0]["records"].back()["max_abs_error"].get<double>());
    CHECK(d["step"] == diags[0]["records"].back()["step"]);
  }
  // The field itself is identical bit for bit: every cell is updated by the same
  // arithmetic whatever the decomposition.
  const auto f1 = dir / "np1" / "heat_000205.h5";
  const auto f4 = dir / "np4" / "heat_000205.h5";
  auto diff = run({"h5diff", f1.string(), f4.string(), "/u", "/u"});
  CHECK(diff.exit_code == 0);
}

#ifdef GOSOK_TEST_HOOKS  // fault injection exists in builds with GOSOK_ENABLE_TEST_HOOKS only
TEST_CASE("an error on rank 1 ends every rank quickly with a message", "[cli][abort][mpi]") {
  TempDir dir;
  // Long enough that rank 0 would run for minutes if it were left waiting.
  auto r = run(mpi_gosok(2, {"run", "heat", "--results", (dir / "out").string(), "--set", "end_time=100", "--set",
                             "run.fail_rank=1", "--set", "run.fail_step=3"}),
               60);
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code != 124);  // not killed by our time limit: it ended by itself
  CHECK(r.seconds < 30);
  CHECK_THAT(r.output, ContainsSubstring("fatal error on rank 1 of 2"));
  CHECK_THAT(r.output, ContainsSubstring("injected failure at step 3"));
}
#endif

TEST_CASE("heat restart ends bitwise identical to an uninterrupted run", "[cli][restart]") {
  TempDir dir;
  for (int ranks : {1, 2}) {
    const auto straight = dir / ("straight" + std::to_string(ranks));
    const auto first = dir / ("first" + std::to_string(ranks));
    const auto second = dir / ("second" + std::to_string(ranks));
    REQUIRE(run(mpi_gosok(ranks, {"run", "heat", "--results", straight.string()})).exit_code == 0);
    auto a = run(mpi_gosok(
        ranks, {"run", "heat", "--results", first.string(), "--checkpoint-every", "50", "--set", "run.max_steps=120"}));
    INFO(a.output);
    REQUIRE(a.exit_code == 0);
    auto b = run(mpi_gosok(
        ranks, {"run", "heat", "--results", second.string(), "--restart", (first / "checkpoint.h5").string()}));
    INFO(b.output);
    REQUIRE(b.exit_code == 0);
    CHECK_THAT(b.output, ContainsSubstring("at step 100"));
    auto diff =
        run({"h5diff", (straight / "heat_000205.h5").string(), (second / "heat_000205.h5").string(), "/u", "/u"});
    INFO(diff.output);
    CHECK(diff.exit_code == 0);
  }
}

#ifdef GOSOK_TEST_HOOKS  // fault injection exists in builds with GOSOK_ENABLE_TEST_HOOKS only
TEST_CASE("a run killed while writing a checkpoint leaves the previous one intact", "[cli][restart]") {
  TempDir dir;
  const auto out = dir / "out";
  auto killed = run(mpi_gosok(
      1, {"run", "heat", "--results", out.string(), "--checkpoint-every", "40", "--set", "run.kill_in_checkpoint=2"}));
  CHECK(killed.exit_code != 0);
  REQUIRE(std::filesystem::exists(out / "checkpoint.h5"));
  auto resumed = run(mpi_gosok(
      1, {"run", "heat", "--results", (dir / "resumed").string(), "--restart", (out / "checkpoint.h5").string()}));
  INFO(resumed.output);
  CHECK(resumed.exit_code == 0);
  CHECK_THAT(resumed.output, ContainsSubstring("at step 40"));
}
#endif

TEST_CASE("a corrupt or mismatched checkpoint is refused with a clear error", "[cli][restart]") {
  TempDir dir;
  const auto out = dir / "out";
  REQUIRE(run(gosok_cmd(
                  {"run", "heat", "--results", out.string(), "--checkpoint-every", "50", "--set", "run.max_steps=50"}))
              .exit_code == 0);
  auto mismatched = run(gosok_cmd({"run", "heat", "--results", (dir / "m").string(), "--set", "nx=32", "--set", "ny=32",
                                   "--restart", (out / "checkpoint.h5").string()}));
  CHECK(mismatched.exit_code == 2);
  CHECK_THAT(mismatched.output, ContainsSubstring("does not match the input's nx = 32"));

  const auto full = gosok::test::read_file(out / "checkpoint.h5");
  gosok::test::write_file(dir / "truncated.h5", full.substr(0, full.size() / 3));
  auto corrupt =
      run(gosok_cmd({"run", "heat", "--results", (dir / "c").string(), "--restart", (dir / "truncated.h5").string()}));
  CHECK(corrupt.exit_code == 2);
  CHECK_THAT(corrupt.output, ContainsSubstring("truncated.h5"));

  auto missing = run(gosok_cmd({"run", "heat", "--restart", (dir / "nothing.h5").string()}));
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.output, ContainsSubstring("nothing.h5: no such file"));
}
