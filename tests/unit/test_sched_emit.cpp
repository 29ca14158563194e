// The pure emit step: request + site + template -> script text, checked line by line
// without any Slurm (as ReFrame's scheduler tests compare #SBATCH lines).
#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/emit.hpp>
#include <gosok/scheduler/process.hpp>
#include <gosok/scheduler/text.hpp>
#include "subprocess.hpp"

using namespace gosok::sched;
using Catch::Matchers::ContainsSubstring;

namespace {

const std::int64_t kNow = parse_date("2026-06-01", "now") + 3600;

Site test_site() { return load_site_file((gosok::test::source_dir() / "site_configs/local-slurm.toml").string()); }

Grant test_grant() {
  Grant g;
  g.id = "HPC-7";
  g.project = "climate";
  g.site = "local-slurm";
  g.gpu_type = "fake";
  g.gpu_hours = 100;
  g.start = parse_date("2026-01-01", "start");
  g.end = parse_date("2026-12-31", "end") + 86400;
  g.account = "climate7";
  g.qos = "hpc-7";
  return g;
}

JobRequest test_request() {
  JobRequest r;
  r.workload = "heat";
  r.grant_id = "HPC-7";
  r.nodes = 1;
  r.ranks_per_node = 2;
  r.walltime_s = 1800;
  r.output_dir = "/scratch/run1";
  r.overrides = {"heat.nx=64"};
  return r;
}

std::vector<std::string> sbatch_lines(const std::string& script) {
  std::vector<std::string> out;
  for (const auto& l : split(script, '\n'))
    if (l.rfind("#SBATCH", 0) == 0) out.push_back(l);
  return out;
}

std::string render(const JobRequest& r, const Site& site) {
  const auto plan = plan_job(r, site, test_grant(), kNow);
  return render_script(plan, site, embedded_default_template(), "default.sbatch", "gosok:abcd:7",
                       "/opt/gosok/bin/gosok");
}

}  // namespace

TEST_CASE("emit: #SBATCH lines of a 2-rank, 2-GPU job", "[sched][emit]") {
  const std::string script = render(test_request(), test_site());
  const std::vector<std::string> expected = {"#SBATCH --job-name=heat",
                                             "#SBATCH --account=climate7",
                                             "#SBATCH --qos=hpc-7",
                                             "#SBATCH --partition=gpu",
                                             "#SBATCH --nodes=1",
                                             "#SBATCH --ntasks-per-node=2",
                                             "#SBATCH --gres=gpu:2",
                                             "#SBATCH --time=00:30:00",
                                             "#SBATCH --comment=gosok:abcd:7",
                                             "#SBATCH --output=/scratch/run1/slurm-%j.out"};
  CHECK(sbatch_lines(script) == expected);
  CHECK_THAT(script, ContainsSubstring("'srun' '--mpi=pmix' '/opt/gosok/bin/gosok' 'run' 'heat' '--set' "
                                       "'heat.nx=64' '--set' 'run.output_dir=/scratch/run1/results'"));
  CHECK(script.rfind("#!/bin/bash\n", 0) == 0);
}

TEST_CASE("emit: hold, CPU-only and the partition's charge factor", "[sched][emit]") {
  auto r = test_request();
  r.hold = true;
  r.gpus_per_node = 0;
  r.partition = "debug";
  const auto site = test_site();
  const auto lines = sbatch_lines(render(r, site));
  CHECK(std::find(lines.begin(), lines.end(), std::string("#SBATCH --hold")) != lines.end());
  for (const auto& l : lines) CHECK(l.find("--gres") == std::string::npos);
  r.gpus_per_node = 3;
  const auto plan = plan_job(r, site, test_grant(), kNow);
  CHECK(plan.total_gpus == 3);
  CHECK(plan.reserve_gpu_h == 3 * 0.5 * 2.0);  // 3 GPUs x 0.5 h x debug's factor 2
}

TEST_CASE("emit: user strings cannot reach the shell", "[sched][emit][quote]") {
  const auto site = test_site();
  auto r = test_request();
  r.name = "x; rm -rf ~";
  CHECK_THROWS_WITH(plan_job(r, site, test_grant(), kNow), ContainsSubstring("job name 'x; rm -rf ~' is not allowed"));
  r = test_request();
  r.output_dir = "/tmp/a b";
  CHECK_THROWS_AS(plan_job(r, site, test_grant(), kNow), gosok::InputError);
  r = test_request();
  r.overrides = {"heat.label=$(touch /tmp/gosok-pwned); `id`; x'y"};
  const std::string script = render(r, site);
  // The value arrives as one argument, byte for byte, when bash runs the launch line.
  const auto plan = plan_job(r, site, test_grant(), kNow);
  std::string launch;
  for (const auto& w : launch_argv(plan, site, "gosok")) launch += shell_quote(w) + " ";
  const auto echo = run_process({"bash", "-c", "printf '%s\\n' " + launch});
  REQUIRE(echo.exit_code == 0);
  CHECK_THAT(echo.out, ContainsSubstring("\nheat.label=$(touch /tmp/gosok-pwned); `id`; x'y\n"));
  CHECK_THAT(script, ContainsSubstring("'heat.label=$(touch /tmp/gosok-pwned); `id`; x'\\''y'"));
  r = test_request();
  r.overrides = {"bad key=1"};
  CHECK_THROWS_AS(plan_job(r, site, test_grant(), kNow), gosok::InputError);
}

TEST_CASE("emit: refusals before anything reaches Slurm", "[sched][emit]") {
  const auto site = test_site();
  auto grant = test_grant();
  auto r = test_request();
  CHECK_THROWS_WITH(plan_job(r, site, grant, grant.start - 10), ContainsSubstring("has not started"));
  CHECK_THROWS_WITH(plan_job(r, site, grant, grant.end + 10), ContainsSubstring("has expired"));
  CHECK_THROWS_WITH(plan_job(r, site, grant, grant.end - 600), ContainsSubstring("would run past the end"));
  r.gpus_per_node = 8;
  CHECK_THROWS_WITH(plan_job(r, site, grant, kNow), ContainsSubstring("has no nodes with 8 GPUs"));
  r = test_request();
  r.partition = "debug";
  r.walltime_s = 3600;
  CHECK_THROWS_WITH(plan_job(r, site, grant, kNow), ContainsSubstring("over the limit of partition 'debug'"));
  r = test_request();
  r.partition = "h200";
  CHECK_THROWS_WITH(plan_job(r, site, grant, kNow), ContainsSubstring("no partition 'h200'"));
  r = test_request();
  grant.gpu_type = "H200";
  CHECK_THROWS_WITH(plan_job(r, site, grant, kNow), ContainsSubstring("is for H200 GPUs"));
  grant = test_grant();
  grant.site = "other";
  CHECK_THROWS_WITH(plan_job(r, site, grant, kNow), ContainsSubstring("is for site 'other'"));
}

TEST_CASE("emit: unknown template placeholders name the known ones", "[sched][emit]") {
  const auto site = test_site();
  const auto plan = plan_job(test_request(), site, test_grant(), kNow);
  CHECK_THROWS_WITH(render_script(plan, site, "#!/bin/bash\n#SBATCH --x={{nope}}\n", "t.sbatch", "tag", "gosok"),
                    ContainsSubstring("t.sbatch:2: unknown placeholder") && ContainsSubstring("job_name"));
}
