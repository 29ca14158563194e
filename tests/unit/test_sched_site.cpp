// Site files: the schema accepts the shipped files and names the bad key otherwise.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <filesystem>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/site.hpp>
#include "subprocess.hpp"

using namespace gosok::sched;
using Catch::Matchers::ContainsSubstring;

namespace {
std::string error_of(const std::string& text) {
  try {
    parse_site(text, "bad.toml");
  } catch (const gosok::InputError& e) {
    return e.what();
  }
  return "";
}
const std::string good = R"(
[site]
name = "t"
scheduler = "slurm"
launcher = "srun --mpi=pmix"
[partitions.gpu]
default = true
nodes = 2
cpus_per_node = 8
gpus_per_node = 4
gpu_type = "H200"
max_walltime = "12:00:00"
charge_factor = 1.5
)";
}  // namespace

TEST_CASE("every shipped site file validates", "[sched][site]") {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(gosok::test::source_dir() / "site_configs")) {
    INFO(e.path());
    const Site s = load_site_file(e.path().string());
    CHECK(!s.partitions.empty());
    ++n;
  }
  CHECK(n >= 4);
  const Site slurm = load_site_file((gosok::test::source_dir() / "site_configs/local-slurm.toml").string());
  CHECK(slurm.scheduler == "slurm");
  CHECK(slurm.partition("").name == "gpu");
  CHECK(slurm.partition("debug").gpus_per_node == 4);
  CHECK(slurm.partition("debug").max_walltime_s == 1800);
}

TEST_CASE("the embedded localhost site needs no files", "[sched][site]") {
  const Site s = parse_site(embedded_localhost_site(), "<embedded>");
  CHECK(s.name == "localhost");
  CHECK(s.scheduler == "local");
  CHECK(s.launcher.front() == "mpirun");
  CHECK(std::string(embedded_default_template()).find("#SBATCH --comment={{comment}}") != std::string::npos);
}

TEST_CASE("a good site parses", "[sched][site]") {
  const Site s = parse_site(good, "good.toml");
  CHECK(s.partition("gpu").charge_factor == 1.5);
  CHECK(s.partition("gpu").max_walltime_s == 43200);
  CHECK_THROWS_WITH(s.partition("cpu"), ContainsSubstring("partitions: gpu"));
}

TEST_CASE("bad site files name the key and what is allowed", "[sched][site]") {
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  CHECK_THAT(error_of(with("scheduler = \"slurm\"", "scheduler = \"pbs\"")), ContainsSubstring("site.scheduler") &&
                                                                                 ContainsSubstring("slurm, local") &&
                                                                                 ContainsSubstring("bad.toml:4"));
  CHECK_THAT(error_of(with("nodes = 2", "nodez = 2")),
             ContainsSubstring("partitions.gpu.nodez") && ContainsSubstring("allowed keys"));
  CHECK_THAT(error_of(with("gpus_per_node = 4", "gpus_per_node = \"4\"")),
             ContainsSubstring("partitions.gpu.gpus_per_node") && ContainsSubstring("integer"));
  CHECK_THAT(error_of(with("charge_factor = 1.5", "charge_factor = -1.0")),
             ContainsSubstring("charge_factor") && ContainsSubstring("allowed: 0 to 1000"));
  CHECK_THAT(error_of(with("launcher = \"srun --mpi=pmix\"", "launcher = \"bash -c\"")),
             ContainsSubstring("site.launcher") && ContainsSubstring("srun, mpirun, mpiexec"));
  CHECK_THAT(error_of(with("max_walltime = \"12:00:00\"", "max_walltime = \"long\"")),
             ContainsSubstring("max_walltime"));
  // sbatch is the only way to Slurm: the old key is an error, not silently ignored.
  CHECK_THAT(error_of(with("scheduler = \"slurm\"", "scheduler = \"slurm\"\nsubmit_with = \"sbatch\"")),
             ContainsSubstring("bad.toml:5") && ContainsSubstring("unknown key 'site.submit_with'"));
  CHECK_THAT(error_of("[site]\nname = \"x\"\nscheduler = \"local\"\n"), ContainsSubstring("partitions"));
  CHECK_THAT(error_of(good + "\n[extra]\n"), ContainsSubstring("unknown key 'extra'"));
}
