// Workflow files: the schema (through the input Schema machinery, like every input gosok
// reads), then what ties steps together - names, dependencies, parameters - and the checks
// of each step's workload input.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/emit.hpp>
#include <gosok/scheduler/text.hpp>
#include <gosok/workflow/workflow.hpp>

namespace gosok::workflow {

namespace fs = std::filesystem;

std::vector<int> Step::member_ids() const {
  std::vector<int> out;
  if (members == 0) return {-1};
  for (int k = 0; k < members; ++k) out.push_back(k);
  return out;
}

const Step& Workflow::step(const std::string& wanted) const {
  for (const auto& s : steps) {
    if (s.name == wanted) return s;
  }
  throw InputError(fmt::format("{}: no step '{}'", source, wanted));
}

namespace {

void walltime_value(const Value& v) { sched::parse_walltime(std::get<std::string>(v), "time"); }

}  // namespace

Schema workflow_schema() {
  Schema s;
  s.string("workflow.name", std::nullopt, "the workflow's name (letters, digits, . _ -)");
  s.string("workflow.description", "", "what it is for");
  s.string("workflow.grant", "", "grant charged (default: --grant, else $GOSOK_GRANT)");
  s.string("workflow.site", "", "site it runs on (default: --site, else $GOSOK_SITE, else localhost)");
  s.string("workflow.output", "",
           "folder for the steps' results and jobs, relative to this file (default: "
           "$GOSOK_OUTPUT_ROOT or ./gosok-out, then <name>-<time>)");
  s.table("parameters", "values that {{NAME}} places into the steps' strings; --set NAME=VALUE overrides one");
  Schema& step = s.records("step", "the steps, each one job or job array", 1);
  step.string("name", std::nullopt, "the step's name (letters, digits, . _ -)");
  step.string("workload", "", "workload to run (gosok run WORKLOAD), or give command");
  step.list("command", ParamType::string, List{}, "a command of your own: executable and arguments");
  step.string("input", "", "the workload's TOML input file, relative to this file");
  step.table("set", "the workload's input overrides, as gosok run --set KEY=VALUE");
  step.integer("members", 0, "an ensemble of this many members (a job array); 0: one job").at_least(0).at_most(100000);
  step.string("member-key", "member", "the workload's input key each member's index goes into");
  step.list("after", ParamType::string, List{}, "steps that must have succeeded first (--dependency=afterok)");
  step.integer("retries", 0, "times a failed job (of a member) is submitted again").at_least(0).at_most(100);
  step.string("result", "", "a command's result file in its results folder; without it the job failed");
  step.string("image", "", "container image the command runs in (the site's runtimes)");
  step.string("runtime", "", "the site's container runtime for image (default: the site's default)");
  step.boolean("rank-env", false,
               "give each task MASTER_ADDR, MASTER_PORT, RANK, LOCAL_RANK, WORLD_SIZE (PyTorch) and the site's "
               "rank_environment");
  step.boolean("walltime-signal", false,
               "the command handles the walltime warning: sent SIGUSR1 the site's signal_margin before its job's "
               "limit, it saves its state and exits 75; it then runs again (GOSOK_RESTART=1) until it exits 0, so "
               "its time may exceed the partition's limit");
  step.table("env", "environment variables of the run, NAME = \"value\"");
  // The same names and meanings as gosok submit's sbatch options.
  step.integer("nodes", 0, "-N/--nodes (default: enough for the tasks)").at_least(0);
  step.integer("ntasks", 0, "-n/--ntasks: tasks (MPI ranks) in all").at_least(0);
  step.integer("ntasks-per-node", 0, "--ntasks-per-node").at_least(0);
  step.integer("cpus-per-task", 0, "-c/--cpus-per-task").at_least(0);
  step.integer("gpus", 0, "-G/--gpus: GPUs in all").at_least(0);
  step.integer("gpus-per-node", 0, "--gpus-per-node").at_least(0);
  step.integer("gpus-per-task", 0, "--gpus-per-task").at_least(0);
  step.string("time", "00:10:00",
              "-t/--time of the whole run: HH:MM:SS, D-HH:MM:SS, MM; over the partition's limit, a workload runs in "
              "several jobs, each continuing from the last one's checkpoint")
      .checked_by(walltime_value);
  step.string("partition", "", "-p/--partition (default: the site's)");
  step.string("mem", "", "--mem: memory per node");
  step.string("constraint", "", "-C/--constraint: node features");
  step.boolean("exclusive", false, "--exclusive: whole nodes");
  step.string("mail-type", "", "--mail-type");
  step.string("mail-user", "", "--mail-user");
  return s;
}

namespace {

// {{name}} placeholders of `text`, in order.
std::vector<std::string> placeholders(const std::string& text, const std::string& where) {
  std::vector<std::string> out;
  for (std::size_t pos = text.find("{{"); pos != std::string::npos; pos = text.find("{{", pos)) {
    const auto close = text.find("}}", pos);
    if (close == std::string::npos) throw InputError(where + ": unterminated '{{' (a parameter is {{NAME}})");
    out.push_back(trim(text.substr(pos + 2, close - pos - 2)));
    pos = close + 2;
  }
  return out;
}

std::string substitute(const std::string& text, const std::map<std::string, std::string>& values) {
  std::string out;
  std::size_t pos = 0;
  for (;;) {
    const auto open = text.find("{{", pos);
    if (open == std::string::npos) return out + text.substr(pos);
    const auto close = text.find("}}", open);
    out += text.substr(pos, open - pos) + values.at(trim(text.substr(open + 2, close - open - 2)));
    pos = close + 2;
  }
}

// Every string a step's run gets, by key (for placing parameters and naming them in errors).
std::vector<std::pair<std::string, std::string*>> step_strings(Step& s) {
  std::vector<std::pair<std::string, std::string*>> out = {
      {"input", &s.input}, {"result", &s.result}, {"image", &s.image}};
  for (std::size_t i = 0; i < s.command.size(); ++i) out.emplace_back(fmt::format("command[{}]", i), &s.command[i]);
  for (auto& a : s.set) out.emplace_back("set." + a.key, &a.text);
  for (auto& [name, value] : s.env) out.emplace_back("env." + name, &value);
  return out;
}

std::string names_of(const std::map<std::string, std::string>& values) {
  std::string out;
  for (const auto& [k, v] : values) out += (out.empty() ? "" : ", ") + k;
  return out;
}

// What {{...}} may name: the parameters, workflow.name and .folder (the file's, for a
// command's own files: a job runs in its job folder), and each step's members and results
// (the folders are known once the output folder is: "" until then).
std::map<std::string, std::string> placeable(const Workflow& w, const std::string& output) {
  std::map<std::string, std::string> values(w.parameters.begin(), w.parameters.end());
  values["workflow.name"] = w.name;
  values["workflow.folder"] = w.folder;
  values["workflow.output"] = output;
  for (const auto& s : w.steps) {
    values[s.name + ".members"] = std::to_string(s.members);
    values[s.name + ".results"] = output.empty() ? "" : (fs::path(output) / s.name / "results").string();
  }
  return values;
}

// Orders steps so that each comes after the steps it follows (file order otherwise); a
// cycle is an error naming it.
std::vector<Step> ordered(std::vector<Step> steps, const std::string& source) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < steps.size(); ++i) index[steps[i].name] = i;
  std::vector<int> mark(steps.size(), 0);  // 0 new, 1 on the path, 2 done
  std::vector<std::size_t> order, path;
  std::function<void(std::size_t)> visit = [&](std::size_t i) {
    if (mark[i] == 2) return;
    if (mark[i] == 1) {
      std::string cycle;
      auto from = std::find(path.begin(), path.end(), i);
      for (auto it = from; it != path.end(); ++it) cycle += steps[*it].name + " -> ";
      throw InputError(fmt::format("{}: step '{}': the steps' 'after' lists make a cycle: {}{}", steps[i].origin,
                                   steps[i].name, cycle, steps[i].name));
    }
    mark[i] = 1;
    path.push_back(i);
    for (const auto& dep : steps[i].after) visit(index.at(dep));
    path.pop_back();
    mark[i] = 2;
    order.push_back(i);
  };
  for (std::size_t i = 0; i < steps.size(); ++i) visit(i);
  std::vector<Step> out;
  for (auto i : order) out.push_back(std::move(steps[i]));
  (void)source;
  return out;
}

bool looks_like_job_ref(const std::string& name) {
  // g12, 12345, w3 and their _N forms name jobs and workflows on the command line.
  std::string rest = name;
  if (!rest.empty() && (rest[0] == 'g' || rest[0] == 'G' || rest[0] == 'w' || rest[0] == 'W')) rest = rest.substr(1);
  return !rest.empty() && rest.find_first_not_of("0123456789_") == std::string::npos;
}

}  // namespace

Workflow parse_workflow(const std::string& text, const std::string& source, const std::string& folder,
                        const std::vector<std::string>& overrides) {
  const Input in = resolve_text(workflow_schema(), text, source);
  Workflow w;
  w.source = source;
  w.folder = folder;
  w.name = in.get_string("workflow.name");
  const std::string head = in.origin("workflow.name");
  sched::require_token(head + ": key 'workflow.name'", w.name, false, 64);
  if (looks_like_job_ref(w.name)) {
    throw InputError(
        fmt::format("{}: key 'workflow.name' = '{}' reads as a job or workflow id (g12, 12345, w3); "
                    "choose a name with a letter in it",
                    head, w.name));
  }
  w.grant = in.get_string("workflow.grant");
  w.site = in.get_string("workflow.site");
  w.output = in.get_string("workflow.output");
  if (!w.output.empty() && fs::path(w.output).is_relative()) w.output = (fs::path(folder) / w.output).string();
  for (const auto& a : in.get_assignments("parameters")) {
    if (a.key.find('.') != std::string::npos) {
      throw InputError(fmt::format("{}: parameter '{}': a parameter is one name, not a table", a.origin, a.key));
    }
    w.parameters.emplace_back(a.key, a.text);
  }
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) throw InputError("--set '" + o + "': expected NAME=VALUE");
    const std::string name = o.substr(0, eq);
    auto it = std::find_if(w.parameters.begin(), w.parameters.end(), [&](const auto& p) { return p.first == name; });
    if (it == w.parameters.end()) {
      std::string known;
      for (const auto& p : w.parameters) known += (known.empty() ? "" : ", ") + p.first;
      throw InputError(fmt::format("--set {}: {} declares no parameter '{}' in [parameters]; parameters: {}", o, source,
                                   name, known.empty() ? "none" : known));
    }
    it->second = o.substr(eq + 1);
  }

  std::set<std::string> names;
  for (const auto& r : in.records("step")) {
    const Input& v = r.values;
    Step s;
    s.origin = r.origin;
    s.name = v.get_string("name");
    auto fail = [&](const std::string& key, const std::string& what) {
      return InputError(fmt::format("{}: step '{}': key '{}' {}", r.origin, s.name, key, what));
    };
    sched::require_token(r.origin + ": step name", s.name, false, 64);
    if (s.name == "workflow") throw fail("name", "'workflow' is taken ({{workflow.output}}); choose another name");
    if (!names.insert(s.name).second) throw fail("name", "is the name of an earlier step too; names are unique");
    s.workload = v.get_string("workload");
    s.command = v.get_strings("command");
    if (s.workload.empty() == s.command.empty()) {
      throw InputError(
          fmt::format("{}: step '{}': give one of 'workload' (a gosok workload) and 'command' (your own "
                      "executable and arguments)",
                      r.origin, s.name));
    }
    s.input = v.get_string("input");
    if (!s.input.empty() && s.workload.empty()) throw fail("input", "is a workload's input; a command takes arguments");
    s.set = v.get_assignments("set");
    if (!s.set.empty() && s.workload.empty()) {
      throw fail("set", "overrides a workload's input; a command takes arguments (command) and variables (env)");
    }
    s.members = static_cast<int>(v.get_int("members"));
    s.member_key = v.get_string("member-key");
    if (v.origin("member-key") != "default" && !s.ensemble()) throw fail("member-key", "needs members");
    if (!s.workload.empty()) sched::require_token(r.origin + ": key 'member-key'", s.member_key, false, 128);
    s.after = v.get_strings("after");
    s.retries = static_cast<int>(v.get_int("retries"));
    s.result = v.get_string("result");
    if (!s.result.empty() && s.command.empty()) {
      throw fail("result", "names a command's result file; a workload writes its own (gosok-result.json)");
    }
    s.image = v.get_string("image");
    s.runtime = v.get_string("runtime");
    if (!s.image.empty() && s.command.empty()) throw fail("image", "runs a command; give the command to run in it");
    if (!s.runtime.empty() && s.image.empty()) throw fail("runtime", "needs an image");
    s.rank_env = v.get_bool("rank-env");
    if (s.rank_env && s.command.empty()) throw fail("rank-env", "is for commands; gosok run sets up MPI itself");
    s.walltime_signal = v.get_bool("walltime-signal");
    if (s.walltime_signal && s.command.empty()) {
      throw fail("walltime-signal", "is for commands; gosok run always stops at the walltime warning");
    }
    for (const auto& a : v.get_assignments("env")) {
      if (!sched::is_variable_name(a.key)) {
        throw fail("env." + a.key, "is not a variable name (letters, digits and _, not starting with a digit)");
      }
      s.env.emplace_back(a.key, a.text);
    }
    auto& q = s.resources;
    q.nodes = static_cast<int>(v.get_int("nodes"));
    q.ntasks = static_cast<int>(v.get_int("ntasks"));
    q.ntasks_per_node = static_cast<int>(v.get_int("ntasks-per-node"));
    q.cpus_per_task = static_cast<int>(v.get_int("cpus-per-task"));
    q.gpus = static_cast<int>(v.get_int("gpus"));
    q.gpus_per_node = static_cast<int>(v.get_int("gpus-per-node"));
    q.gpus_per_task = static_cast<int>(v.get_int("gpus-per-task"));
    q.time_limit_s = sched::parse_walltime(v.get_string("time"), "time");
    q.partition = v.get_string("partition");
    q.mem = v.get_string("mem");
    q.constraint = v.get_string("constraint");
    q.exclusive = v.get_bool("exclusive");
    q.mail_type = v.get_string("mail-type");
    q.mail_user = v.get_string("mail-user");
    w.steps.push_back(std::move(s));
  }
  for (const auto& s : w.steps) {
    for (const auto& dep : s.after) {
      if (!names.count(dep)) {
        std::string known;
        for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
        throw InputError(fmt::format("{}: step '{}': key 'after' names '{}', which is no step of {}; steps: {}",
                                     s.origin, s.name, dep, source, known));
      }
      if (dep == s.name) {
        throw InputError(fmt::format("{}: step '{}': key 'after' names the step itself", s.origin, s.name));
      }
    }
  }
  w.steps = ordered(std::move(w.steps), source);
  // Every placeholder must name something: checked now, placed once the output folder is known.
  const auto values = placeable(w, "");
  for (auto& s : w.steps) {
    for (auto& [key, value] : step_strings(s)) {
      const std::string where = fmt::format("{}: step '{}': key '{}'", s.origin, s.name, key);
      for (const auto& name : placeholders(*value, where)) {
        if (!values.count(name)) {
          throw InputError(
              fmt::format("{} = \"{}\": no parameter '{}'; known: {}", where, *value, name, names_of(values)));
        }
      }
    }
  }
  return w;
}

void place_outputs(Workflow& w, const std::string& output) {
  w.output = output;
  const auto values = placeable(w, output);
  for (auto& s : w.steps) {
    for (auto& [key, value] : step_strings(s)) *value = substitute(*value, values);
    if (!s.input.empty() && fs::path(s.input).is_relative()) {
      s.input = (fs::path(w.folder) / s.input).lexically_normal().string();
    }
  }
}

std::string step_results(const Workflow& w, const Step& s) {
  return (fs::path(w.output) / s.name / "results").string();
}

std::string member_results(const Workflow& w, const Step& s, int member) {
  const std::string base = step_results(w, s);
  return member < 0 ? base : base + "/" + std::to_string(member);
}

std::string submission_folder(const Workflow& w, const Step& s, int n) {
  return (fs::path(w.output) / s.name / "jobs" / std::to_string(n)).string();
}

void check_job_input(const WorkloadInputs& inputs, const sched::JobPlan& plan) {
  const auto& r = plan.request;
  if (r.workload.empty()) return;
  const WorkloadInput& input = inputs.find(r.workload);
  auto overrides = r.overrides;
  overrides.push_back("run.output_dir=" + plan.results);
  const bool file_per_task = r.input_file.find("%a") != std::string::npos;
  if (r.array_key.empty() && !file_per_task) {
    resolve_workload_input(input, r.input_file, overrides);
    return;
  }
  // Bounds are the schema's checks on a number: the first and the last index cover them;
  // an input file per task (--input with %a) is checked for every task.
  std::vector<int> tasks{plan.array.tasks.front(), plan.array.tasks.back()};
  if (file_per_task) tasks = plan.array.tasks;
  for (int task : tasks) {
    auto with_task = overrides;
    if (!r.array_key.empty()) with_task.push_back(r.array_key + "=" + std::to_string(task));
    resolve_workload_input(input, sched::array_task_path(r.input_file, task), with_task);
  }
}

void check_workloads(const Workflow& w, const WorkloadInputs& inputs) {
  for (const auto& s : w.steps) {
    if (s.workload.empty()) continue;
    try {
      const WorkloadInput& input = inputs.find(s.workload);
      std::vector<std::string> overrides;
      for (const auto& a : s.set) overrides.push_back(a.key + "=" + a.text);
      overrides.push_back("run.output_dir=" + member_results(w, s, s.ensemble() ? 0 : -1));
      if (s.ensemble()) {
        for (int k : {0, s.members - 1}) {
          auto with_member = overrides;
          with_member.push_back(s.member_key + "=" + std::to_string(k));
          resolve_workload_input(input, s.input, with_member);
        }
      } else {
        resolve_workload_input(input, s.input, overrides);
      }
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: step '{}' ({}): {}", s.origin, s.name, s.workload, e.what()));
    }
  }
}

}  // namespace gosok::workflow
