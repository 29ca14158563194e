// Reading #SBATCH directives as sbatch does (for submitting through libslurm): which lines
// count, how arguments split, what the job description and environment become, and which
// directives are left to sbatch. The real comparison with sbatch, on a real Slurm, is in
// tests/integration/test_sched_slurm.cpp.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <map>

#include <gosok/scheduler/sbatch_script.hpp>

using namespace gosok::sched;
using Catch::Matchers::ContainsSubstring;

namespace {

std::vector<std::string> texts(const std::string& script) {
  std::vector<std::string> out;
  for (const auto& a : sbatch_arguments(script)) out.push_back(a.text);
  return out;
}

std::map<std::string, std::string> as_map(const std::vector<std::string>& env) {
  std::map<std::string, std::string> m;
  for (const auto& e : env) m[e.substr(0, e.find('='))] = e.substr(e.find('=') + 1);
  return m;
}

}  // namespace

TEST_CASE("sbatch_arguments reads the directive lines sbatch reads", "[sched][sbatch]") {
  const std::string script =
      "#!/bin/bash\n"
      "#SBATCH --job-name=a -N 2\n"
      "\n"
      "# a comment between directives\n"
      "  #SBATCH --qos=indented-is-a-comment\n"
      "#SBATCH --comment=\"two words\" --output='/x y/%j.out' # trailing comment --hold\n"
      "#SLURM --account=old\n"
      "#SBATCH --error=a\\\"b\\#c\n"
      "echo first command\n"
      "#SBATCH --partition=after-the-first-command\n";
  CHECK(texts(script) == std::vector<std::string>{"--job-name=a", "-N", "2", "--comment=two words",
                                                  "--output=/x y/%j.out", "--account=old", "--error=a\"b#c"});
  const auto args = sbatch_arguments(script);
  CHECK(args[0].line == 2);
  CHECK(args.back().line == 8);
  CHECK(sbatch_arguments("#SBATCH --comment=\"open\n")[0].unmatched_quote);
}

TEST_CASE("the default template's directives become sbatch's job description", "[sched][sbatch]") {
  const std::string script =
      "#!/bin/bash\n"
      "#SBATCH --job-name=heat\n#SBATCH --account=acct\n#SBATCH --qos=t1\n#SBATCH --partition=gpu\n"
      "#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=4\n#SBATCH --gres=gpu:4\n#SBATCH --time=01:00:30\n"
      "#SBATCH --comment=gosok:ab12:7\n#SBATCH --output=/o/slurm-%j.out\n#SBATCH --hold\nset -e\n";
  const auto t = translate_sbatch_script(script, "/o/job.sbatch");
  REQUIRE(t.unsupported.empty());
  const auto& s = t.spec;
  CHECK(s.name == "heat");
  CHECK(s.account == "acct");
  CHECK(s.qos == "t1");
  CHECK(s.partition == "gpu");
  CHECK(s.comment == "gosok:ab12:7");
  CHECK(s.output == "/o/slurm-%j.out");
  CHECK(s.nodes_set);
  CHECK(s.min_nodes == 2);
  CHECK(s.max_nodes == 2);
  CHECK(s.ntasks_set);  // sbatch derives the task count: nodes x tasks per node
  CHECK(s.ntasks == 8);
  CHECK(s.min_cpus() == 8);
  CHECK(s.tres_per_node == "gres:gpu:4");
  CHECK(s.minutes == 61u);  // 30 s round up, as Slurm does
  CHECK(s.hold);
  CHECK_FALSE(s.exclusive);
}

TEST_CASE("short options, separate values and the rest of the translated set", "[sched][sbatch]") {
  const auto t = translate_sbatch_script(
      "#SBATCH -J x -A a -q q -p p -N1-3 -n 6 -c 2 -t 1-2 -o out -e err -H -C h200 -D /w\n"
      "#SBATCH --exclusive --mem=2G --reservation r --gpus-per-node=2 --gres=nic:1\n",
      "/dir/job.sh");
  REQUIRE(t.unsupported.empty());
  const auto& s = t.spec;
  CHECK(s.name == "x");
  CHECK(s.min_nodes == 1);
  CHECK(s.max_nodes == 3);
  CHECK(s.ntasks == 6);
  CHECK(s.cpus_per_task == 2u);
  CHECK(s.min_cpus() == 12);
  CHECK(s.minutes == 26u * 60);
  CHECK(s.error == "err");
  CHECK(s.constraint == "h200");
  CHECK(s.chdir == "/w");
  CHECK(s.exclusive);
  CHECK(s.mem_mb == 2048u);
  CHECK(s.reservation == "r");
  CHECK(s.tres_per_node == "gres:gpu:2,gres:nic:1");
  CHECK(s.gpus_per_node == "2");
  // No job name: sbatch names the job after the script file.
  CHECK(translate_sbatch_script("#SBATCH -N 1\n", "/dir/job.sbatch").spec.name == "job.sbatch");
  // More tasks than nodes allow caps the node counts, as sbatch does.
  const auto capped = translate_sbatch_script("#SBATCH -N 4 -n 2\n", "j").spec;
  CHECK(capped.min_nodes == 2);
  CHECK(capped.max_nodes == 2);
}

TEST_CASE("directives gosok does not translate are named, and left to sbatch", "[sched][sbatch]") {
  for (const std::string line : {"#SBATCH --mail-type=END", "#SBATCH --array=1-4", "#SBATCH --exclusive=user",
                                 "#SBATCH --part=gpu", "#SBATCH -HN1", "#SBATCH --time=2h", "#SBATCH --time=UNLIMITED",
                                 "#SBATCH --mem=1Q", "#SBATCH --gres=gpu/a100:1", "#SBATCH --nodes=2k",
                                 "#SBATCH --comment=\"open", "#SBATCH hetjob", "#SBATCH --ntasks"}) {
    INFO(line);
    const auto t = translate_sbatch_script("#!/bin/bash\n" + line + "\n", "j");
    CHECK_THAT(t.unsupported, ContainsSubstring("(line 2)"));
  }
  CHECK_THAT(translate_sbatch_script("#SBATCH -N 1 --signal=USR1@60\n", "j").unsupported,
             ContainsSubstring("'--signal=USR1@60'"));
}

TEST_CASE("sbatch_minutes takes Slurm's time forms only", "[sched][sbatch]") {
  CHECK(sbatch_minutes("10") == 10u);
  CHECK(sbatch_minutes("10:30") == 11u);
  CHECK(sbatch_minutes("02:00:00") == 120u);
  CHECK(sbatch_minutes("1-0") == 1440u);
  CHECK(sbatch_minutes("1-1:30") == 1530u);
  CHECK(sbatch_minutes("90min") == std::nullopt);
  CHECK(sbatch_minutes("") == std::nullopt);
  CHECK(sbatch_minutes("-5") == std::nullopt);
}

TEST_CASE("the job's environment is sbatch's: all of ours plus what sbatch adds", "[sched][sbatch]") {
  SubmitterState who;
  who.environ = {"PATH=/bin", "HOME=/root", "SLURM_UMASK=0077", "SLURM_NTASKS=99", "WEIRD=a=b"};
  who.cwd = "/work";
  who.host = "login1";
  who.umask = 022;
  who.priority = 5;
  who.rlimits = {{"CPU", 18446744073709551615UL}, {"NOFILE", 1024}};
  const auto spec = translate_sbatch_script("#SBATCH -J j -N 2 --ntasks-per-node=3 -c 2 --gpus-per-node=1\n", "s").spec;
  const auto env = as_map(sbatch_environment(spec, who));
  CHECK(env.at("PATH") == "/bin");
  CHECK(env.at("WEIRD") == "a=b");
  CHECK(env.at("SLURM_SUBMIT_DIR") == "/work");
  CHECK(env.at("SLURM_SUBMIT_HOST") == "login1");
  CHECK(env.at("SLURM_UMASK") == "0077");  // a user's own SLURM_UMASK wins, as in sbatch
  CHECK(env.at("SLURM_PRIO_PROCESS") == "5");
  CHECK(env.at("SLURM_RLIMIT_CPU") == "18446744073709551615");
  CHECK(env.at("SLURM_RLIMIT_NOFILE") == "1024");
  CHECK(env.at("SLURM_JOB_NAME") == "j");
  CHECK(env.at("SLURM_NTASKS") == "6");  // the script's count replaces the caller's
  CHECK(env.at("SLURM_NPROCS") == "6");
  CHECK(env.at("SLURM_NTASKS_PER_NODE") == "3");
  CHECK(env.at("SLURM_CPUS_PER_TASK") == "2");
  CHECK(env.at("SLURM_GPUS_PER_NODE") == "1");
  CHECK(sbatch_work_dir(spec, who) == "/work");
  CHECK(sbatch_work_dir(translate_sbatch_script("#SBATCH -D runs/a\n", "s").spec, who) == "/work/runs/a");
  CHECK(sbatch_work_dir(translate_sbatch_script("#SBATCH --chdir=/scratch\n", "s").spec, who) == "/scratch");
  CHECK_FALSE(translate_sbatch_script("#SBATCH --ntasks-per-node=70000\n", "s").unsupported.empty());
  who.environ.pop_back();
  who.environ.erase(who.environ.begin() + 2);
  CHECK(as_map(sbatch_environment(spec, who)).at("SLURM_UMASK") == "0022");
  CHECK(sbatch_environment(spec, who).size() == env.size() - 1);
}
