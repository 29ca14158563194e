// Site files: the schema accepts the shipped files and names the bad key otherwise.
#include <algorithm>
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
             ContainsSubstring("partitions.gpu.charge_factor") && ContainsSubstring("in [0, 1000]"));
  CHECK_THAT(error_of(with("launcher = \"srun --mpi=pmix\"", "launcher = \"bash -c\"")),
             ContainsSubstring("site.launcher") && ContainsSubstring("srun, mpirun, mpiexec"));
  CHECK_THAT(error_of(with("max_walltime = \"12:00:00\"", "max_walltime = \"long\"")),
             ContainsSubstring("max_walltime"));
  // sbatch is the only way to Slurm: the old key is an error, not silently ignored.
  CHECK_THAT(error_of(with("scheduler = \"slurm\"", "scheduler = \"slurm\"\nsubmit_with = \"sbatch\"")),
             ContainsSubstring("bad.toml:5") && ContainsSubstring("unknown key 'site.submit_with'"));
  CHECK_THAT(error_of("[site]\nname = \"x\"\nscheduler = \"local\"\n"), ContainsSubstring("partitions"));
  // Numbers that are not numbers, or out of range: nan passed the old range check, "nanh"
  // lifted the walltime limit, 4294967297 nodes became 1.
  CHECK_THAT(error_of(with("charge_factor = 1.5", "charge_factor = nan")),
             ContainsSubstring("bad.toml:13") && ContainsSubstring("partitions.gpu.charge_factor") &&
                 ContainsSubstring("not finite"));
  CHECK_THAT(error_of(with("charge_factor = 1.5", "charge_factor = inf")), ContainsSubstring("not finite"));
  CHECK_THAT(error_of(with("max_walltime = \"12:00:00\"", "max_walltime = \"nanh\"")),
             ContainsSubstring("partitions.gpu.max_walltime") && ContainsSubstring("not a walltime"));
  CHECK_THAT(error_of(with("nodes = 2", "nodes = 4294967297")),
             ContainsSubstring("partitions.gpu.nodes") && ContainsSubstring("too large"));
  CHECK_THAT(error_of(with("gpus_per_node = 4", "gpus_per_node = -1")),
             ContainsSubstring("partitions.gpu.gpus_per_node") && ContainsSubstring("too small"));
  CHECK_THAT(error_of(with("launcher = \"srun --mpi=pmix\"", "launcher = \"srun\"\noverrun = \"1e300h\"")),
             ContainsSubstring("site.overrun") && ContainsSubstring("too long"));
  CHECK_THAT(error_of(with("gpu_type = \"H200\"", "gpu_type = \"\"")), ContainsSubstring("gpu_type must name"));
  CHECK_THAT(error_of(good + "\n[extra]\n"), ContainsSubstring("unknown key 'extra'"));
}

// What a job costs comes from the center's site configuration: a user's copy of a site may
// change the launcher or setup lines, never partitions, limits or charge factors.
TEST_CASE("a user's site file prices nothing: it must match the center's", "[sched][site]") {
  const auto center = (gosok::test::source_dir() / "site_configs/local-slurm.toml").string();
  Site mine = load_site_file(center);
  CHECK_FALSE(mine.trusted);  // loaded by path, not found in the center's folders
  CHECK(find_site("local-slurm").trusted);
  CHECK(find_site(center).trusted);  // the center's own file, named by its path
  mine.setup = {"module load mine"};
  mine.launcher = {"srun", "--mpi=pmix", "--cpu-bind=cores"};
  CHECK_NOTHROW(require_center_pricing(mine));
  auto part = [&](const std::string& name) -> Partition& {
    return *std::find_if(mine.partitions.begin(), mine.partitions.end(),
                         [&](const Partition& p) { return p.name == name; });
  };
  part("gpu").charge_factor = 0;
  CHECK_THROWS_WITH(require_center_pricing(mine), ContainsSubstring("partitions.gpu.charge_factor is 0 there but 1") &&
                                                      ContainsSubstring("center's site configuration"));
  mine = load_site_file(center);
  part("gpu").gpus_per_node = 8;
  CHECK_THROWS_WITH(require_center_pricing(mine), ContainsSubstring("partitions.gpu.gpus_per_node"));
  mine = load_site_file(center);
  mine.overrun_s = 0;
  CHECK_THROWS_WITH(require_center_pricing(mine), ContainsSubstring("site.overrun"));
  mine.name = "my-own-cluster";
  CHECK_THROWS_WITH(require_center_pricing(mine), ContainsSubstring("not one the center installed"));
}
