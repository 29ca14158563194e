// The pure emit step: request + site + template -> script text, checked line by line
// without any Slurm (as ReFrame's scheduler tests compare #SBATCH lines).
#include <algorithm>
#include <catch2/catch_approx.hpp>
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
  r.ntasks_per_node = 2;
  r.gpus_per_node = 2;
  r.time_limit_s = 1800;
  r.job_dir = "/scratch/run1";
  r.overrides = {"nx=64"};
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
                                             "#SBATCH --ntasks=2",
                                             "#SBATCH --ntasks-per-node=2",
                                             "#SBATCH --gpus-per-node=2",
                                             "#SBATCH --time=00:30:00",
                                             "#SBATCH --comment=gosok:abcd:7",
                                             "#SBATCH --output=/scratch/run1/slurm-%j.out",
                                             "#SBATCH --signal=B:USR1@15"};
  CHECK(sbatch_lines(script) == expected);
  // The launcher takes the batch shell's place, so the walltime warning reaches it.
  CHECK_THAT(script, ContainsSubstring("\nexec 'srun' '--mpi=pmix'"));
  CHECK_THAT(script, ContainsSubstring("'srun' '--mpi=pmix' '/opt/gosok/bin/gosok' 'run' 'heat' '--set' "
                                       "'nx=64' '--results' '/scratch/run1/results'"));
  CHECK(script.rfind("#!/bin/bash\n", 0) == 0);
}

// A Slurm user's line, `sbatch -N 2 --ntasks-per-node 4 --gpus-per-node 4 -t 2:00:00 -J run1`,
// is the same job through gosok: the same options reach Slurm, and what is reserved is
// what those options allocate.
TEST_CASE("emit: sbatch's options keep sbatch's meaning", "[sched][emit]") {
  Site site = test_site();
  site.partitions[1].nodes = 4;  // gpu: 4 nodes of 8 CPUs and 4 GPUs
  REQUIRE(site.partitions[1].name == "gpu");
  JobRequest r = test_request();
  r.nodes = 2;
  r.ntasks_per_node = 4;
  r.gpus_per_node = 4;
  r.time_limit_s = parse_walltime("2:00:00");
  r.name = "run1";
  auto plan = plan_job(r, site, test_grant(), kNow);
  CHECK(plan.nodes == 2);
  CHECK(plan.ntasks == 8);
  CHECK(plan.total_gpus == 8);
  CHECK(plan.reserve_gpu_h == Catch::Approx(8 * (7200 + 40) / 3600.0));  // 8 GPUs x (2 h + the 40 s overrun)
  const auto lines = sbatch_lines(render_script(plan, site, embedded_default_template(), "t", "tag", "gosok"));
  for (const char* want : {"#SBATCH --nodes=2", "#SBATCH --ntasks=8", "#SBATCH --ntasks-per-node=4",
                           "#SBATCH --gpus-per-node=4", "#SBATCH --time=02:00:00", "#SBATCH --job-name=run1"}) {
    CHECK(std::count(lines.begin(), lines.end(), std::string(want)) == 1);
  }
  // -n alone: as many nodes as the tasks need (8 CPUs a node), pinned so Slurm allocates that.
  r = test_request();
  r.nodes = 0;
  r.ntasks_per_node = 0;
  r.ntasks = 9;
  r.gpus_per_node = 0;
  plan = plan_job(r, site, test_grant(), kNow);
  CHECK(plan.nodes == 2);
  CHECK(plan.total_gpus == 0);
  // -G: GPUs in all; more on one node than it has is refused.
  r.gpus = 6;
  CHECK(plan_job(r, site, test_grant(), kNow).total_gpus == 6);
  // --gpus-per-task: per task, so per node as many as the node's tasks.
  r.gpus = 0;
  r.ntasks = 4;
  r.nodes = 2;
  r.gpus_per_task = 2;
  CHECK(plan_job(r, site, test_grant(), kNow).total_gpus == 8);
  r.nodes = 1;
  CHECK_THROWS_WITH(plan_job(r, site, test_grant(), kNow), ContainsSubstring("--gpus-per-task 2 asks for 8 GPUs"));
  r.gpus_per_task = 0;
  r.gpus = 6;
  r.nodes = 1;
  r.ntasks = 4;
  CHECK_THROWS_WITH(plan_job(r, site, test_grant(), kNow),
                    ContainsSubstring("-G/--gpus 6 asks for 6 GPUs on a node") && ContainsSubstring("has 4"));
  r.gpus_per_node = 2;
  CHECK_THROWS_WITH(plan_job(r, site, test_grant(), kNow),
                    ContainsSubstring("-G/--gpus 6 and --gpus-per-node 2 both give the job's GPUs"));
  // No GPU option: no GPUs, as in sbatch; nothing to reserve.
  r = test_request();
  r.gpus_per_node = 0;
  plan = plan_job(r, site, test_grant(), kNow);
  CHECK(plan.total_gpus == 0);
  CHECK(plan.reserve_gpu_h == 0);
  // --exclusive: every GPU of the node may be the job's, so all of them are reserved.
  r.exclusive = true;
  plan = plan_job(r, site, test_grant(), kNow);
  CHECK(plan.reserved_gpus == 4);
  CHECK(plan.reserve_gpu_h == Catch::Approx(4 * (1800 + 40) / 3600.0));
  // Tasks and CPUs that do not fit.
  r = test_request();
  r.ntasks = 5;
  CHECK_THROWS_WITH(plan_job(r, site, test_grant(), kNow),
                    ContainsSubstring("-n/--ntasks 5 does not fit 1 node(s) with --ntasks-per-node 2"));
  r = test_request();
  r.cpus_per_task = 8;
  CHECK_THROWS_WITH(plan_job(r, site, test_grant(), kNow), ContainsSubstring("2 task(s) per node x 8 CPU(s)"));
  r = test_request();
  r.nodes = 2;
  r.ntasks = 1;
  r.ntasks_per_node = 0;
  CHECK_THROWS_WITH(plan_job(r, site, test_grant(), kNow), ContainsSubstring("fewer tasks than -N/--nodes 2"));
}

TEST_CASE("emit: hold, CPU-only and the partition's charge factor", "[sched][emit]") {
  auto r = test_request();
  r.hold = true;
  r.gpus_per_node = 0;
  r.partition = "debug";
  const auto site = test_site();
  const auto lines = sbatch_lines(render(r, site));
  CHECK(std::find(lines.begin(), lines.end(), std::string("#SBATCH --hold")) != lines.end());
  for (const auto& l : lines) CHECK(l.find("gpus") == std::string::npos);
  r.gpus = 3;
  const auto plan = plan_job(r, site, test_grant(), kNow);
  CHECK(plan.total_gpus == 3);
  // 3 GPUs x (30 min + the site's 40 s overrun) x debug's factor 2
  CHECK(plan.reserve_gpu_h == Catch::Approx(3 * (1800 + 40) / 3600.0 * 2.0));
}

TEST_CASE("emit: an array is reserved task by task and each task writes its own results", "[sched][emit][array]") {
  const auto site = test_site();
  auto r = test_request();
  r.array = "0-9:3%2";
  r.array_key = "member";
  const auto plan = plan_job(r, site, test_grant(), kNow);
  CHECK(plan.array.tasks == std::vector<int>{0, 3, 6, 9});
  CHECK(plan.array.max_running == 2);
  CHECK(plan.task_count() == 4);
  CHECK(plan.reserve_gpu_h == Catch::Approx(2 * (1800 + 40) / 3600.0));  // one task: 2 GPUs x (30 min + overrun)
  CHECK(plan.total_reserve_gpu_h() == Catch::Approx(4 * plan.reserve_gpu_h));
  const std::string script = render_script(plan, site, embedded_default_template(), "t", "tag", "gosok");
  const auto lines = sbatch_lines(script);
  CHECK(std::count(lines.begin(), lines.end(), std::string("#SBATCH --array=0-9:3%2")) == 1);
  CHECK(std::count(lines.begin(), lines.end(), std::string("#SBATCH --output=/scratch/run1/slurm-%A_%a.out")) == 1);
  // The task index reaches the workload through gosok run, never as a shell variable.
  CHECK_THAT(script, ContainsSubstring("'--set-from-array' 'member' '--results' '/scratch/run1/results/%a'"));
  CHECK(script.find("SLURM_ARRAY_TASK_ID") == std::string::npos);
  r.array_key = "x y";
  CHECK_THROWS_WITH(plan_job(r, site, test_grant(), kNow), ContainsSubstring("--set-from-array key 'x y'"));
  r = test_request();
  r.array_key = "member";
  CHECK_THROWS_WITH(plan_job(r, site, test_grant(), kNow), ContainsSubstring("needs --array"));
}

TEST_CASE("emit: an array task may read its own input file (%a in --input)", "[sched][emit][array]") {
  gosok::test::TempDir dir;
  const auto site = test_site();
  auto r = test_request();
  r.array = "0,2";
  r.input_file = (dir / "task-%a.toml").string();
  gosok::test::write_file(dir / "task-0.toml", "nx = 8\n");
  // Every task's file must exist before anything is reserved.
  CHECK_THROWS_WITH(plan_job(r, site, test_grant(), kNow), ContainsSubstring("task-2.toml' does not exist"));
  gosok::test::write_file(dir / "task-2.toml", "nx = 16\n");
  const auto plan = plan_job(r, site, test_grant(), kNow);
  const std::string script = render_script(plan, site, embedded_default_template(), "t", "tag", "gosok");
  CHECK_THAT(script, ContainsSubstring("'--input' '" + (dir / "task-%a.toml").string() + "'"));
  CHECK(array_task_path(r.input_file, 2) == (dir / "task-2.toml").string());
  CHECK(array_task_path("a%a/b%a", 13) == "a13/b13");
  r.array.clear();
  CHECK_THROWS_WITH(plan_job(r, site, test_grant(), kNow),
                    ContainsSubstring("%a (the array task index) needs --array"));
}

TEST_CASE("emit: Slurm's --array forms", "[sched][emit][array]") {
  CHECK(parse_array_spec("0-999").tasks.size() == 1000);
  CHECK(parse_array_spec("7").tasks == std::vector<int>{7});
  CHECK(parse_array_spec("1,3,5-7").tasks == std::vector<int>{1, 3, 5, 6, 7});
  CHECK(parse_array_spec("5-7,1,6").tasks == std::vector<int>{1, 5, 6, 7});  // sorted, once each
  CHECK(parse_array_spec("0-15:4%3").tasks == std::vector<int>{0, 4, 8, 12});
  CHECK(parse_array_spec("0-15:4%3").max_running == 3);
  for (const char* bad : {"", "a-b", "5-1", "1-", "0-10:0", "1%", "1%0", "0-99999999", "-1", "1;2", "0-200000"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_array_spec(bad), ContainsSubstring("--array") && ContainsSubstring("N-M:STEP"));
  }
}

TEST_CASE("emit: a template without a place for an option refuses it by name", "[sched][emit]") {
  auto site = test_site();
  site.signal_margin_s = 0;  // no walltime signal to place (the next test has one)
  auto r = test_request();
  const std::string bare = "#!/bin/bash\n#SBATCH --job-name={{job_name}}\n{{launch}}\n";
  auto plan = plan_job(r, site, test_grant(), kNow);
  CHECK_THROWS_WITH(render_script(plan, site, bare, "bare.sbatch", "tag", "gosok"),
                    ContainsSubstring("bare.sbatch has no {{ntasks_per_node}}") &&
                        ContainsSubstring("--ntasks-per-node cannot be honoured"));
  r.ntasks_per_node = 0;
  r.gpus_per_node = 0;
  r.array = "0-3";
  plan = plan_job(r, site, test_grant(), kNow);
  CHECK_THROWS_WITH(render_script(plan, site, bare, "bare.sbatch", "tag", "gosok"),
                    ContainsSubstring("--array cannot be honoured"));
  r.array.clear();
  plan = plan_job(r, site, test_grant(), kNow);
  CHECK_NOTHROW(render_script(plan, site, bare, "bare.sbatch", "tag", "gosok"));
  CHECK_NOTHROW(check_template(embedded_default_template(), "default.sbatch"));
  CHECK_THROWS_WITH(check_template("#SBATCH --x={{nope}}\n", "t.sbatch"), ContainsSubstring("t.sbatch:1"));
}

TEST_CASE("emit: sbatch's other options reach the script checked", "[sched][emit]") {
  const auto site = test_site();
  auto r = test_request();
  r.dependency = "afterok:101:102,afterany:103";
  r.mail_type = "END,fail";
  r.mail_user = "kim@kiaps.org";
  r.constraint = "a100&ib";
  r.mem = "64G";
  r.export_env = "ALL,OMP_NUM_THREADS=4";
  r.output = "/scratch/run1/%x-%j.out";
  r.error = "/scratch/run1/%x-%j.err";
  r.begin = "2026-06-02T08:30";
  const auto plan = plan_job(r, site, test_grant(), kNow);
  const auto lines = sbatch_lines(render_script(plan, site, embedded_default_template(), "t", "tag", "gosok"));
  for (const char* want : {"#SBATCH --dependency=afterok:101:102,afterany:103", "#SBATCH --mail-type=END,fail",
                           "#SBATCH --mail-user=kim@kiaps.org", "#SBATCH --constraint=a100&ib", "#SBATCH --mem=64G",
                           "#SBATCH --export=ALL,OMP_NUM_THREADS=4", "#SBATCH --output=/scratch/run1/%x-%j.out",
                           "#SBATCH --error=/scratch/run1/%x-%j.err", "#SBATCH --begin=2026-06-02T08:30:00"}) {
    INFO(want);
    CHECK(std::count(lines.begin(), lines.end(), std::string(want)) == 1);
  }
  auto refused = [&](auto set, const std::string& why) {
    auto bad = test_request();
    set(bad);
    CHECK_THROWS_WITH(plan_job(bad, site, test_grant(), kNow), ContainsSubstring(why));
  };
  refused([](JobRequest& x) { x.mem = "lots"; }, "--mem 'lots' is not allowed");
  refused([](JobRequest& x) { x.mail_type = "END,WHENEVER"; }, "'WHENEVER' is not a Slurm mail type");
  refused([](JobRequest& x) { x.dependency = "afterok:1\n#SBATCH --qos=high"; }, "--dependency");
  refused([](JobRequest& x) { x.export_env = "ALL,X=$(id)"; }, "--export");
  refused([](JobRequest& x) { x.output = "/tmp/a b"; }, "-o/--output");
  refused([](JobRequest& x) { x.begin = "tomorrow"; }, "--begin 'tomorrow' is not a time");
  // --begin moves the job's start: it must still end within the grant (2026-12-31).
  refused([](JobRequest& x) { x.begin = "2027-01-05"; }, "after the end of grant HPC-7");
  refused([](JobRequest& x) { x.begin = "2026-12-31T23:50"; }, "would run past the end of grant HPC-7");
  auto later = test_request();
  later.begin = "now+2hours";
  CHECK(plan_job(later, site, test_grant(), kNow).begin_at == kNow + 7200);
  refused([](JobRequest& x) { x.overrides = {"run.output_dir=/x"}; }, "results folder of a submitted job is --results");
}

TEST_CASE("emit: user strings cannot reach the shell", "[sched][emit][quote]") {
  const auto site = test_site();
  auto r = test_request();
  r.name = "x; rm -rf ~";
  CHECK_THROWS_WITH(plan_job(r, site, test_grant(), kNow), ContainsSubstring("job name 'x; rm -rf ~' is not allowed"));
  r = test_request();
  r.job_dir = "/tmp/a b";
  CHECK_THROWS_AS(plan_job(r, site, test_grant(), kNow), gosok::InputError);
  r = test_request();
  r.overrides = {"label=$(touch /tmp/gosok-pwned); `id`; x'y"};
  const std::string script = render(r, site);
  // The value arrives as one argument, byte for byte, when bash runs the launch line.
  const auto plan = plan_job(r, site, test_grant(), kNow);
  std::string launch;
  for (const auto& w : launch_argv(plan, site, "gosok")) launch += shell_quote(w) + " ";
  const auto echo = run_process({"bash", "-c", "printf '%s\\n' " + launch});
  REQUIRE(echo.exit_code == 0);
  CHECK_THAT(echo.out, ContainsSubstring("\nlabel=$(touch /tmp/gosok-pwned); `id`; x'y\n"));
  CHECK_THAT(script, ContainsSubstring("'label=$(touch /tmp/gosok-pwned); `id`; x'\\''y'"));
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
  CHECK_THROWS_WITH(plan_job(r, site, grant, kNow), ContainsSubstring("asks for 8 GPUs on a node"));
  r = test_request();
  r.partition = "debug";
  r.time_limit_s = 3600;
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

// Slurm rounds a limit with seconds up to whole minutes: the plan, the reservation and the
// directive use what Slurm applies.
TEST_CASE("emit: time limits are whole minutes, as Slurm keeps them", "[sched][emit]") {
  auto r = test_request();
  r.time_limit_s = 30;
  const auto plan = plan_job(r, test_site(), test_grant(), kNow);
  CHECK(plan.request.time_limit_s == 60);
  CHECK(plan.reserve_gpu_h == Catch::Approx(2 * (60 + 40) / 3600.0));
  const auto lines = sbatch_lines(render(r, test_site()));
  CHECK(std::count(lines.begin(), lines.end(), std::string("#SBATCH --time=00:01:00")) == 1);
  // The local backend stops a run at its limit to the second: nothing to round.
  auto local = test_site();
  local.scheduler = "local";
  CHECK(plan_job(r, local, test_grant(), kNow).request.time_limit_s == 30);
}

TEST_CASE("emit: sbatch's directives as sbatch reads them", "[sched][emit]") {
  const auto d = sbatch_directives(
      "#!/bin/bash\n#SBATCH --gpus-per-node=2 -N 1\n# a comment\n#SBATCH -t 10 --exclusive  # why\n"
      "#SBATCH --job-name 'a b'\n\nset -e\n#SBATCH --gres=gpu:8\n");
  const std::vector<std::pair<std::string, std::string>> want = {
      {"gpus-per-node", "2"}, {"nodes", "1"}, {"time", "10"}, {"exclusive", ""}, {"job-name", "a b"}};
  CHECK(d == want);  // the directive after the first command is not one
}

// A user's template may shape the script; the resources and the tag are the center's.
TEST_CASE("emit: a user's template cannot change what Slurm allocates", "[sched][emit]") {
  const auto site = test_site();
  const auto plan = plan_job(test_request(), site, test_grant(), kNow);
  const std::string center = embedded_default_template();
  const std::string reference = render_script(plan, site, center, "center", "gosok:a:1", "gosok");
  auto check = [&](const std::string& tmpl) {
    check_script_price(render_script(plan, site, tmpl, "mine.sbatch", "gosok:a:1", "gosok"), "mine.sbatch", reference,
                       "center");
  };
  // Shaping: other setup, a signal, no mail lines.
  std::string shaped = center;
  shaped.replace(shaped.find("set -euo pipefail"), 17, "set -eu\nmodule load mine");
  shaped.replace(shaped.find("#SBATCH --job-name"), 0, "#SBATCH --signal=B:USR1@60\n");
  CHECK_NOTHROW(check(shaped));
  std::string more = center;
  more.replace(more.find("#SBATCH --job-name"), 0, "#SBATCH --gres=gpu:4\n");
  CHECK_THROWS_WITH(check(more), ContainsSubstring("mine.sbatch sets #SBATCH --gres=gpu:4"));
  std::string exclusive = center;
  exclusive.replace(exclusive.find("#SBATCH --job-name"), 0, "#SBATCH --exclusive\n");
  CHECK_THROWS_WITH(check(exclusive), ContainsSubstring("--exclusive"));
  std::string later = center;  // a second --gpus-per-node wins in sbatch
  later.replace(later.find("#SBATCH --time"), 0, "#SBATCH --gpus-per-node=4\n");
  CHECK_THROWS_WITH(check(later), ContainsSubstring("--gpus-per-node"));
  std::string no_comment = center;
  no_comment.erase(no_comment.find("#SBATCH --comment={{comment}}\n"), 30);
  CHECK_THROWS_WITH(check(no_comment), ContainsSubstring("no --comment"));
  std::string short_form = center;
  short_form.replace(short_form.find("#SBATCH --job-name"), 0, "#SBATCH -G 8\n");
  CHECK_THROWS_WITH(check(short_form), ContainsSubstring("--gpus=8"));
}

namespace {

// local-slurm.toml with two container runtimes and a rank environment.
Site container_site() {
  std::string text = gosok::test::read_file(gosok::test::source_dir() / "site_configs/local-slurm.toml");
  text.replace(text.find("[site]\n"), 7, "[site]\nrank_environment = { NCCL_SOCKET_IFNAME = \"ib0\" }\n");
  text +=
      "[runtimes.pyxis]\ndefault = true\nlauncher_options = [\"--container-image={image}\"]\n"
      "[runtimes.apptainer]\nwrapper = [\"apptainer\", \"exec\", \"--nv\", \"{image}\"]\n";
  return parse_site(text, "containers.toml");
}

JobRequest command_request() {
  JobRequest r = test_request();
  r.workload.clear();
  r.overrides.clear();
  r.command = {"python3", "train.py", "--tag", "it's $HOME; rm -rf /"};
  r.environment = {{"OMP_NUM_THREADS", "4"}, {"NOTE", "a \"b\" $(c)"}};
  return r;
}

}  // namespace

TEST_CASE("emit: a command of one's own, in the site's container runtimes, with the rank environment",
          "[sched][emit][command]") {
  const Site site = container_site();
  JobRequest r = command_request();
  r.image = "nvcr.io/nvidia/pytorch:24.05-py3";
  r.rank_env = true;
  auto plan = plan_job(r, site, test_grant(), kNow);
  CHECK(plan.request.name == "python3");
  // pyxis, the default: srun's own option names the image.
  auto argv = launch_argv(plan, site, "gosok");
  CHECK(std::vector<std::string>(argv.begin(), argv.begin() + 3) ==
        std::vector<std::string>{"srun", "--mpi=pmix", "--container-image=nvcr.io/nvidia/pytorch:24.05-py3"});
  CHECK(argv[3] == "sh");
  CHECK(argv[6] == "gosok-rank-env");
  CHECK_THAT(argv[5], ContainsSubstring("RANK=") && ContainsSubstring("LOCAL_RANK=") &&
                          ContainsSubstring("WORLD_SIZE=") && ContainsSubstring("SLURM_PROCID"));
  CHECK(std::vector<std::string>(argv.end() - 4, argv.end()) == r.command);
  const std::string script = render_script(plan, site, embedded_default_template(), "t", "tag", "gosok");
  CHECK_THAT(script, ContainsSubstring("export OMP_NUM_THREADS='4'\n"));
  CHECK_THAT(script, ContainsSubstring("export NOTE='a \"b\" $(c)'\n"));
  CHECK_THAT(script, ContainsSubstring("export NCCL_SOCKET_IFNAME='ib0'\n"));
  CHECK_THAT(script, ContainsSubstring(
                         "export MASTER_ADDR=\"$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\""));
  CHECK_THAT(script, ContainsSubstring("export MASTER_PORT=$((29500 + SLURM_JOB_ID % 1000))"));
  CHECK_THAT(script, ContainsSubstring("export GOSOK_RESULTS='/scratch/run1/results'"));
  CHECK_THAT(script, ContainsSubstring("'--container-image=nvcr.io/nvidia/pytorch:24.05-py3'"));
  // The user's words reach the command as they are, quoted.
  CHECK_THAT(script, ContainsSubstring("'it'\\''s $HOME; rm -rf /'"));
  // Apptainer: a wrapper between the launcher and the command.
  r.runtime = "apptainer";
  plan = plan_job(r, site, test_grant(), kNow);
  argv = launch_argv(plan, site, "gosok");
  CHECK(std::vector<std::string>(argv.begin(), argv.begin() + 6) ==
        std::vector<std::string>{"srun", "--mpi=pmix", "apptainer", "exec", "--nv", r.image});
  // What the site cannot run is refused before anything is reserved.
  r.runtime = "docker";
  CHECK_THROWS_WITH(
      plan_job(r, site, test_grant(), kNow),
      ContainsSubstring("site 'local-slurm' has no container runtime 'docker'; runtimes: apptainer, pyxis"));
  r.runtime.clear();
  CHECK_THROWS_WITH(plan_job(r, test_site(), test_grant(), kNow), ContainsSubstring("defines no container runtime"));
  r = command_request();
  r.environment = {{"2BAD", "x"}};
  CHECK_THROWS_WITH(plan_job(r, site, test_grant(), kNow), ContainsSubstring("environment variable '2BAD'"));
  r = test_request();
  r.image = "x";
  CHECK_THROWS_WITH(plan_job(r, site, test_grant(), kNow), ContainsSubstring("runs a command, not a workload"));
}

TEST_CASE("emit: an array task's results and index, the environment placeholder, the walltime signal",
          "[sched][emit][command]") {
  const Site site = test_site();
  JobRequest r = command_request();
  r.array = "0-3";
  r.ntasks_per_node = 0;
  r.gpus_per_node = 0;
  const auto plan = plan_job(r, site, test_grant(), kNow);
  const std::string script = render_script(plan, site, embedded_default_template(), "t", "tag", "gosok");
  CHECK_THAT(script, ContainsSubstring("export GOSOK_MEMBER=\"$SLURM_ARRAY_TASK_ID\"\n"));
  CHECK_THAT(script, ContainsSubstring("export GOSOK_RESULTS='/scratch/run1/results'/\"$SLURM_ARRAY_TASK_ID\"\n"));
  // A template without {{environment}} cannot give a command its variables.
  const std::string bare = "#!/bin/bash\n#SBATCH --array={{array}}\n#SBATCH --signal={{signal}}\n{{launch}}\n";
  CHECK_THROWS_WITH(render_script(plan, site, bare, "bare.sbatch", "tag", "gosok"),
                    ContainsSubstring("bare.sbatch has no {{environment}} placeholder"));
  // A command that does not say it handles the walltime warning is not sent it (SIGUSR1
  // would kill it before its limit); one that does gets the site's margin.
  CHECK_THAT(script, !ContainsSubstring("#SBATCH --signal"));
  r.walltime_signal = true;
  const auto stopping = plan_job(r, site, test_grant(), kNow);
  CHECK_THAT(render_script(stopping, site, embedded_default_template(), "t", "tag", "gosok"),
             ContainsSubstring("#SBATCH --signal=B:USR1@15\n"));
  // A site that asks for a walltime signal needs the template's place for it.
  const std::string no_signal = "#!/bin/bash\n{{environment}}\n#SBATCH --array={{array}}\n{{launch}}\n";
  CHECK_THROWS_WITH(render_script(stopping, site, no_signal, "n.sbatch", "tag", "gosok"),
                    ContainsSubstring("n.sbatch has no {{signal}} placeholder"));
  CHECK_NOTHROW(render_script(plan, site, no_signal, "n.sbatch", "tag", "gosok"));
  Site quiet = site;
  quiet.signal_margin_s = 0;
  CHECK_NOTHROW(render_script(stopping, quiet, no_signal, "n.sbatch", "tag", "gosok"));
}

TEST_CASE("site: signal margin, rank environment and runtimes are checked", "[sched][site]") {
  const std::string head = "[site]\nname = \"s\"\nscheduler = \"slurm\"\nlauncher = \"srun\"\n";
  const std::string part = "[partitions.p]\nnodes = 1\ncpus_per_node = 4\ngpus_per_node = 0\n";
  CHECK(parse_site(head + "signal_margin = \"00:05:00\"\n" + part, "s.toml").signal_margin_s == 300);
  CHECK_THROWS_WITH(parse_site(head + "signal_margin = \"30h\"\n" + part, "s.toml"),
                    ContainsSubstring("s.toml:5: key 'site.signal_margin' = 30h: it is over 65535 s"));
  CHECK_THROWS_WITH(parse_site(head + "rank_environment = { \"A-B\" = \"x\" }\n" + part, "s.toml"),
                    ContainsSubstring("s.toml:5: key 'site.rank_environment.A-B': a variable's name is letters"));
  CHECK_THROWS_WITH(parse_site(head + part + "[runtimes.r]\nwrapper = [\"run\"]\n", "s.toml"),
                    ContainsSubstring("s.toml:9: runtimes.r: it names no {image} in launcher_options or wrapper"));
  CHECK_THROWS_WITH(parse_site(head + part + "[runtimes.r]\nimage = \"x\"\n", "s.toml"),
                    ContainsSubstring("unknown key 'runtimes.r.image'"));
}
