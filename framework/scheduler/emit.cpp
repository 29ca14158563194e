#include <gosok/scheduler/emit.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/scheduler/text.hpp>

namespace gosok::sched {

namespace {

// Throws unless `value` is 1..max_len characters of [A-Za-z0-9] and `extra`, not starting
// with '-': such a value is safe on an #SBATCH line (sbatch reads no quotes or comments in it).
void require_chars(const std::string& option, const std::string& value, const std::string& extra,
                   const std::string& form, std::size_t max_len = 1024) {
  bool ok = !value.empty() && value.size() <= max_len && value[0] != '-';
  for (char c : value) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string::npos);
  if (!ok) throw InputError(fmt::format("{} '{}' is not allowed: {}", option, value, form));
}

int ceil_div(int a, int b) { return (a + b - 1) / b; }

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == std::string::npos;
}

// --begin: ISO local date/time, or now+N with Slurm's units; returns epoch seconds.
std::int64_t parse_begin(const std::string& text, std::int64_t now) {
  const std::string forms =
      "use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] (this machine's time zone, as Slurm reads it) or now+N with "
      "seconds (the default), minutes, hours, days or weeks (e.g. now+30minutes)";
  if (text.rfind("now+", 0) == 0) {
    const std::string rest = text.substr(4);
    std::size_t digits = 0;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
    const std::string unit = rest.substr(digits);
    static const std::pair<const char*, std::int64_t> units[] = {
        {"", 1},         {"second", 1},  {"seconds", 1},  {"minute", 60},   {"minutes", 60},   {"hour", 3600},
        {"hours", 3600}, {"day", 86400}, {"days", 86400}, {"week", 604800}, {"weeks", 604800},
    };
    if (digits > 0 && digits <= 9) {
      for (const auto& [name, factor] : units) {
        if (unit == name) return now + std::stoll(rest.substr(0, digits)) * factor;
      }
    }
    throw InputError(fmt::format("--begin '{}' is not a time sbatch and gosok both read: {}", text, forms));
  }
  std::tm tm{};
  const char* end = nullptr;
  for (const char* format : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    tm = std::tm{};
    end = strptime(text.c_str(), format, &tm);
    if (end && *end == '\0') break;
    end = nullptr;
  }
  if (!end || text.size() < 10) {
    throw InputError(fmt::format("--begin '{}' is not a time sbatch and gosok both read: {}", text, forms));
  }
  tm.tm_isdst = -1;
  return static_cast<std::int64_t>(std::mktime(&tm));
}

const std::set<std::string> kMailTypes = {
    "NONE",      "BEGIN",      "END",           "FAIL",          "REQUEUE",       "ALL",        "INVALID_DEPEND",
    "STAGE_OUT", "TIME_LIMIT", "TIME_LIMIT_90", "TIME_LIMIT_80", "TIME_LIMIT_50", "ARRAY_TASKS"};

void check_option_values(const JobRequest& r) {
  if (!r.dependency.empty()) {
    require_chars("--dependency", r.dependency, "_:,?+",
                  "use Slurm's form TYPE:JOBID[:JOBID...][,TYPE:JOBID...] (e.g. afterok:123:124), or singleton");
  }
  if (!r.mail_type.empty()) {
    for (const auto& t : split(r.mail_type, ',')) {
      std::string u = t;
      for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (!kMailTypes.count(u)) {
        std::string list;
        for (const auto& k : kMailTypes) list += (list.empty() ? "" : ", ") + k;
        throw InputError(
            fmt::format("--mail-type '{}': '{}' is not a Slurm mail type; allowed: {}", r.mail_type, t, list));
      }
    }
  }
  if (!r.mail_user.empty()) require_chars("--mail-user", r.mail_user, "._%+-@", "use an e-mail address", 256);
  if (!r.constraint.empty()) {
    require_chars("-C/--constraint", r.constraint, "_.-&|,[]*!():", "use Slurm's feature expression (e.g. a100&ib)");
  }
  if (!r.mem.empty()) {
    const auto digits = r.mem.find_first_not_of("0123456789");
    const bool ok = digits != 0 &&
                    (digits == std::string::npos ||
                     (digits + 1 == r.mem.size() && std::string("KMGTkmgt").find(r.mem[digits]) != std::string::npos));
    if (!ok)
      throw InputError(fmt::format("--mem '{}' is not allowed: use N[K|M|G|T] per node (M when no unit)", r.mem));
  }
  if (!r.requeue.empty() && r.requeue != "yes" && r.requeue != "no") {
    throw InputError("requeue '" + r.requeue + "': give --requeue or --no-requeue");
  }
  if (!r.export_env.empty()) {
    require_chars("--export", r.export_env, "_,=.:/+-",
                  "use ALL, NONE or a list of variables (NAME or NAME=value without blanks or quotes)");
  }
  for (const auto& [option, value] :
       {std::pair<const char*, const std::string&>{"-o/--output", r.output}, {"-e/--error", r.error}}) {
    if (!value.empty()) {
      require_chars(option, value, "._-/+%",
                    "use a path of letters, digits and . _ - / + with Slurm's %j %A %a %x patterns");
    }
  }
}

}  // namespace

ArraySpec parse_array_spec(const std::string& text) {
  const std::string forms =
      "use Slurm's form: N, N-M or N-M:STEP, comma-separated, then %MAX (e.g. 0-999, 1,3,5-7, 0-15:4%2)";
  auto bad = [&](const std::string& why) { return InputError(fmt::format("--array '{}' {}; {}", text, why, forms)); };
  // Indices beyond Slurm's largest MaxArraySize (4000001) can never be submitted.
  constexpr int kMaxIndex = 4000000;
  constexpr std::size_t kMaxTasks = 100000;
  ArraySpec spec;
  std::string list = text;
  if (const auto pct = text.find('%'); pct != std::string::npos) {
    const std::string limit = text.substr(pct + 1);
    if (!all_digits(limit) || std::stoi(limit) < 1) throw bad("has a bad %MAX");
    spec.max_running = std::stoi(limit);
    list = text.substr(0, pct);
  }
  std::set<int> tasks;
  for (const auto& item : split(list, ',')) {
    std::string range = item;
    int step = 1;
    if (const auto colon = item.find(':'); colon != std::string::npos) {
      const std::string s = item.substr(colon + 1);
      if (!all_digits(s) || std::stoi(s) < 1) throw bad("has a bad step '" + s + "'");
      step = std::stoi(s);
      range = item.substr(0, colon);
    }
    const auto dash = range.find('-');
    const std::string lo = range.substr(0, dash), hi = dash == std::string::npos ? lo : range.substr(dash + 1);
    if (!all_digits(lo) || !all_digits(hi)) throw bad("is not a list of task indices");
    const int a = std::stoi(lo), b = std::stoi(hi);
    if (b < a) throw bad("has a range that ends before it starts");
    if (b > kMaxIndex) throw bad(fmt::format("has an index over {}", kMaxIndex));
    if (dash == std::string::npos && step != 1) throw bad("has a step without a range");
    for (long i = a; i <= b; i += step) {
      tasks.insert(static_cast<int>(i));
      if (tasks.size() > kMaxTasks) throw bad(fmt::format("has more than {} tasks", kMaxTasks));
    }
  }
  spec.tasks.assign(tasks.begin(), tasks.end());
  return spec;
}

JobPlan plan_job(const JobRequest& request, const Site& site, const Grant& grant, std::int64_t now) {
  JobPlan plan;
  plan.request = request;
  // Slurm keeps whole minutes and rounds up: plan, reserve and emit the limit it will apply.
  // The local backend keeps seconds.
  if (request.time_limit_s < 1) throw InputError("-t/--time must be at least one second");
  if (site.scheduler == "slurm") plan.request.time_limit_s = slurm_minutes_ceil(request.time_limit_s);
  const JobRequest& req = plan.request;
  plan.site_name = site.name;
  if (!req.command.empty()) {
    if (!req.workload.empty()) {
      throw InputError("a job runs a workload (" + req.workload + ") or a command, not both");
    }
    if (req.command.front().empty()) throw InputError("the command's first word (the executable) is empty");
    for (const auto& w : req.command) {
      // Words reach the script shell-quoted; NUL is the one byte no argv can carry.
      if (w.find('\0') != std::string::npos || w.size() > 4096) {
        throw InputError("a command word holds a NUL byte or is over 4096 characters");
      }
    }
    if (plan.request.name.empty()) {
      plan.request.name = std::filesystem::path(req.command.front()).filename().string();
      for (auto& c : plan.request.name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
      }
    }
    if (!req.image.empty()) {
      if (req.image.find_first_of("\n\r") != std::string::npos || req.image.size() > 1024) {
        throw InputError("container image '" + req.image + "': one line of at most 1024 characters");
      }
      site.runtime(req.runtime);
    } else if (!req.runtime.empty()) {
      throw InputError("container runtime '" + req.runtime + "' given without an image");
    }
  } else {
    require_token("workload", req.workload, false, 64);
    if (!req.image.empty()) {
      throw InputError("a container image runs a command, not a workload (" + req.workload +
                       "): give the command to run in it");
    }
    if (req.rank_env) {
      throw InputError("the rank environment (MASTER_ADDR, RANK, ...) is for commands; gosok run sets up MPI itself");
    }
    if (plan.request.name.empty()) plan.request.name = req.workload;
  }
  for (const auto& [name, value] : req.environment) {
    if (!is_variable_name(name)) {
      throw InputError("environment variable '" + name +
                       "': a name is letters, digits and _, not starting with a digit");
    }
  }
  require_token("job name", plan.request.name, false, 64);
  if (req.job_dir.empty()) throw InputError("the job needs a job folder (--job-dir)");
  require_token("job folder", req.job_dir, true, 1024);
  if (!req.results.empty()) require_token("--results", req.results, true, 1024);
  for (const auto& o : req.overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw InputError("--set '" + o + "' must have the form key=value");
    }
    require_token("--set key", o.substr(0, eq), false, 128);
    if (o.substr(0, eq) == "run.output_dir") {
      throw InputError("--set " + o + ": the results folder of a submitted job is --results DIR");
    }
  }
  check_option_values(req);

  const Partition& part = site.partition(req.partition);
  plan.partition = &part;
  if (grant.site != site.name) {
    throw InputError(fmt::format("grant {} is for site '{}', not '{}'", grant.id, grant.site, site.name));
  }

  // Tasks and nodes, as sbatch derives them; the node count is then fixed, so that what
  // Slurm allocates is what was reserved.
  for (const auto& [option, value] : {std::pair<const char*, int>{"-N/--nodes", req.nodes},
                                      {"-n/--ntasks", req.ntasks},
                                      {"--ntasks-per-node", req.ntasks_per_node},
                                      {"-c/--cpus-per-task", req.cpus_per_task},
                                      {"-G/--gpus", req.gpus},
                                      {"--gpus-per-node", req.gpus_per_node},
                                      {"--gpus-per-task", req.gpus_per_task}}) {
    if (value < 0) throw InputError(fmt::format("{} {} is not possible: give a positive number", option, value));
  }
  const int cpus_per_task = req.cpus_per_task > 0 ? req.cpus_per_task : 1;
  if (cpus_per_task > part.cpus_per_node) {
    throw InputError(fmt::format("-c/--cpus-per-task {} is not possible on partition '{}': its nodes have {} CPUs",
                                 cpus_per_task, part.name, part.cpus_per_node));
  }
  plan.nodes = req.nodes;
  if (plan.nodes == 0) {
    if (req.ntasks > 0) {
      plan.nodes = req.ntasks_per_node > 0 ? ceil_div(req.ntasks, req.ntasks_per_node)
                                           : ceil_div(req.ntasks * cpus_per_task, part.cpus_per_node);
    } else {
      plan.nodes = 1;
    }
  }
  if (plan.nodes > part.nodes) {
    throw InputError(
        fmt::format("{} node(s) are not possible on partition '{}': it has {}", plan.nodes, part.name, part.nodes));
  }
  plan.ntasks = req.ntasks > 0 ? req.ntasks : plan.nodes * std::max(1, req.ntasks_per_node);
  if (plan.ntasks < plan.nodes) {
    throw InputError(fmt::format("-n/--ntasks {} is fewer tasks than -N/--nodes {}", plan.ntasks, plan.nodes));
  }
  if (req.ntasks_per_node > 0 && plan.ntasks > plan.nodes * req.ntasks_per_node) {
    throw InputError(fmt::format("-n/--ntasks {} does not fit {} node(s) with --ntasks-per-node {}", plan.ntasks,
                                 plan.nodes, req.ntasks_per_node));
  }
  const int tasks_per_node = ceil_div(plan.ntasks, plan.nodes);
  if (tasks_per_node * cpus_per_task > part.cpus_per_node) {
    throw InputError(
        fmt::format("{} task(s) per node x {} CPU(s) per task do not fit partition '{}': its nodes have {} CPUs",
                    tasks_per_node, cpus_per_task, part.name, part.cpus_per_node));
  }

  // GPUs: one of sbatch's three ways to ask, checked against a node of the partition.
  std::vector<std::string> given;
  if (req.gpus > 0) given.push_back(fmt::format("-G/--gpus {}", req.gpus));
  if (req.gpus_per_node > 0) given.push_back(fmt::format("--gpus-per-node {}", req.gpus_per_node));
  if (req.gpus_per_task > 0) given.push_back(fmt::format("--gpus-per-task {}", req.gpus_per_task));
  if (given.size() > 1) {
    throw InputError(fmt::format("{} and {} both give the job's GPUs; use one of them", given[0], given[1]));
  }
  int gpus_on_a_node = 0;
  if (req.gpus_per_node > 0) {
    plan.total_gpus = req.gpus_per_node * plan.nodes;
    gpus_on_a_node = req.gpus_per_node;
  } else if (req.gpus > 0) {
    plan.total_gpus = req.gpus;
    gpus_on_a_node = ceil_div(req.gpus, plan.nodes);
  } else if (req.gpus_per_task > 0) {
    plan.total_gpus = req.gpus_per_task * plan.ntasks;
    gpus_on_a_node = req.gpus_per_task * tasks_per_node;
  }
  if (gpus_on_a_node > part.gpus_per_node) {
    throw InputError(fmt::format(
        "{} asks for {} GPUs on a node, but partition '{}' has {} {} GPU(s) per node; partitions of site {}: {}",
        given[0], gpus_on_a_node, part.name, part.gpus_per_node, part.gpu_type, site.name, site.partition_names()));
  }
  // An exclusive job may be given every GPU of its nodes: the reservation covers them.
  plan.reserved_gpus = req.exclusive ? std::max(plan.total_gpus, plan.nodes * part.gpus_per_node) : plan.total_gpus;
  if (plan.reserved_gpus > 0 && lower(grant.gpu_type) != lower(part.gpu_type)) {
    throw InputError(fmt::format("grant {} is for {} GPUs, but partition '{}' has {} GPUs", grant.id, grant.gpu_type,
                                 part.name, part.gpu_type));
  }
  if (part.max_walltime_s > 0 && req.time_limit_s > part.max_walltime_s) {
    throw InputError(fmt::format("-t/--time {} is over the limit of partition '{}' ({})",
                                 format_walltime(req.time_limit_s), part.name, format_walltime(part.max_walltime_s)));
  }

  if (!req.begin.empty()) {
    plan.begin_at = parse_begin(req.begin, now);
    plan.begin = format_epoch(plan.begin_at, "%Y-%m-%dT%H:%M:%S", true);
  }
  const std::int64_t start = std::max(now, plan.begin_at);
  if (start < grant.start) {
    throw InputError(fmt::format("grant {} has not started: it runs from {} to {}", grant.id, format_date(grant.start),
                                 format_date(grant.end - 86400)));
  }
  if (now >= grant.end) {
    throw InputError(fmt::format("grant {} has expired: it ended on {}", grant.id, format_date(grant.end - 86400)));
  }
  if (start >= grant.end) {
    throw InputError(fmt::format("--begin {} is after the end of grant {} ({} 24:00 UTC)", plan.begin, grant.id,
                                 format_date(grant.end - 86400)));
  }
  if (start + req.time_limit_s > grant.end) {
    throw InputError(fmt::format("-t/--time {} would run past the end of grant {} ({} 24:00 UTC)",
                                 format_walltime(req.time_limit_s), grant.id, format_date(grant.end - 86400)));
  }

  if (!req.array.empty()) plan.array = parse_array_spec(req.array);
  if (!req.array_key.empty()) {
    if (req.array.empty()) throw InputError("--set-from-array " + req.array_key + " needs --array");
    require_token("--set-from-array key", req.array_key, false, 128);
  }
  plan.results = req.results.empty() ? req.job_dir + "/results" : req.results;
  if (!plan.array.tasks.empty()) plan.results += "/%a";
  if (!req.input_file.empty()) {
    // With %a, every array task reads its own input file.
    const bool per_task = req.input_file.find("%a") != std::string::npos;
    if (per_task && plan.array.tasks.empty()) {
      throw InputError("--input " + req.input_file + ": %a (the array task index) needs --array");
    }
    for (int task : per_task ? plan.array.tasks : std::vector<int>{0}) {
      const std::string file = per_task ? array_task_path(req.input_file, task) : req.input_file;
      if (!std::filesystem::exists(file)) throw InputError("input file '" + file + "' does not exist");
    }
  }

  std::string account = site.account_format;
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"{account}", grant.account},
                                   {"{project}", lower(grant.project)},
                                   {"{grant}", lower(grant.id)}}) {
    for (auto pos = account.find(key); pos != std::string::npos; pos = account.find(key)) {
      account.replace(pos, key.size(), value);
    }
  }
  require_token("account (from site.account_format)", account, false, 64);
  plan.account = account;
  plan.qos = grant.qos;
  // What the scheduler may really let the job use: its time limit and the site's overrun.
  plan.reserve_gpu_h =
      plan.reserved_gpus * (static_cast<double>(req.time_limit_s + site.overrun_s) / 3600.0) * part.charge_factor;
  return plan;
}

std::string array_task_path(const std::string& pattern, int task) {
  std::string out = pattern;
  const std::string index = std::to_string(task);
  for (auto p = out.find("%a"); p != std::string::npos; p = out.find("%a", p + index.size())) {
    out.replace(p, 2, index);
  }
  return out;
}

namespace {

// Each task's rank environment for PyTorch (torch.distributed's env:// init) from its MPI
// launcher's variables (mpirun's OMPI_*, then PMI/PMIx, then srun's SLURM_*); MASTER_ADDR
// and MASTER_PORT come from the job (the script, or the local backend). A fixed POSIX sh
// text: the command follows as its arguments, so nothing of the user's is parsed by it.
constexpr const char* kRankEnvScript =
    "export RANK=\"${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-${PMI_RANK:-${SLURM_PROCID:-0}}}}\" "
    "LOCAL_RANK=\"${OMPI_COMM_WORLD_LOCAL_RANK:-${MPI_LOCALRANKID:-${SLURM_LOCALID:-0}}}\" "
    "WORLD_SIZE=\"${OMPI_COMM_WORLD_SIZE:-${PMI_SIZE:-${SLURM_NTASKS:-1}}}\"; exec \"$@\"";

std::vector<std::string> with_image(const std::vector<std::string>& words, const std::string& image) {
  std::vector<std::string> out;
  for (auto w : words) {
    for (auto p = w.find("{image}"); p != std::string::npos; p = w.find("{image}", p + image.size())) {
      w.replace(p, 7, image);
    }
    out.push_back(w);
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> job_environment(const JobPlan& plan, const Site& site) {
  std::vector<std::pair<std::string, std::string>> out;
  // A command is told where to write; gosok run gets its results folder on its command line.
  if (!plan.request.command.empty() && plan.array.tasks.empty()) out.emplace_back("GOSOK_RESULTS", plan.results);
  for (const auto& kv : plan.request.environment) out.push_back(kv);
  if (plan.request.rank_env) {
    for (const auto& kv : site.rank_environment) out.push_back(kv);
  }
  return out;
}

std::vector<std::string> launch_argv(const JobPlan& plan, const Site& site, const std::string& gosok_path) {
  std::vector<std::string> argv = site.launcher;
  const ContainerRuntime* runtime = plan.request.image.empty() ? nullptr : &site.runtime(plan.request.runtime);
  if (runtime) {
    for (const auto& w : with_image(runtime->launcher_options, plan.request.image)) argv.push_back(w);
  }
  const std::string& l = site.launcher.front();
  if (l == "mpirun" || l == "mpiexec") {
    argv.push_back("-n");
    argv.push_back(std::to_string(plan.ntasks));
  }
  if (!plan.request.command.empty()) {
    if (runtime) {
      for (const auto& w : with_image(runtime->wrapper, plan.request.image)) argv.push_back(w);
    }
    if (plan.request.rank_env) argv.insert(argv.end(), {"sh", "-c", kRankEnvScript, "gosok-rank-env"});
    argv.insert(argv.end(), plan.request.command.begin(), plan.request.command.end());
    return argv;
  }
  argv.push_back(gosok_path);
  argv.push_back("run");
  argv.push_back(plan.request.workload);
  if (!plan.request.input_file.empty()) {
    argv.push_back("--input");
    argv.push_back(std::filesystem::absolute(plan.request.input_file).string());
  }
  for (const auto& o : plan.request.overrides) {
    argv.push_back("--set");
    argv.push_back(o);
  }
  if (!plan.request.array_key.empty()) {
    argv.push_back("--set-from-array");
    argv.push_back(plan.request.array_key);
  }
  argv.push_back("--results");
  argv.push_back(plan.results);
  return argv;
}

namespace {

std::string count(int n) { return n > 0 ? std::to_string(n) : ""; }

// Placeholders that carry an option of the request: a template without them cannot honour it.
const std::vector<std::pair<const char*, const char*>> kRequestPlaceholders = {
    {"ntasks_per_node", "--ntasks-per-node"},
    {"cpus_per_task", "-c/--cpus-per-task"},
    {"gpus", "-G/--gpus"},
    {"gpus_per_node", "--gpus-per-node"},
    {"gpus_per_task", "--gpus-per-task"},
    {"error", "-e/--error"},
    {"array", "--array"},
    {"dependency", "-d/--dependency"},
    {"begin", "--begin"},
    {"mail_type", "--mail-type"},
    {"mail_user", "--mail-user"},
    {"constraint", "-C/--constraint"},
    {"mem", "--mem"},
    {"export", "--export"},
    {"exclusive", "--exclusive"},
    {"hold", "-H/--hold"},
    {"requeue", "--requeue/--no-requeue"},
    {"signal", "the site's signal_margin (--signal=B:USR1@<margin>)"},
};

// Renders `text` with `values`; `used` collects the placeholders that appear.
std::string render(const std::string& text, const std::string& source, const std::map<std::string, std::string>& values,
                   std::set<std::string>* used) {
  std::string known;
  for (const auto& [k, v] : values) known += (known.empty() ? "" : ", ") + k;
  std::string out;
  int lineno = 0;
  for (const auto& line : split(text, '\n')) {
    ++lineno;
    std::string rendered;
    bool any_placeholder = false, any_value = false;
    std::size_t pos = 0;
    for (;;) {
      const auto open = line.find("{{", pos);
      if (open == std::string::npos) {
        rendered += line.substr(pos);
        break;
      }
      const auto close = line.find("}}", open);
      if (close == std::string::npos) {
        throw InputError(fmt::format("{}:{}: unterminated placeholder '{{{{'", source, lineno));
      }
      const std::string key = trim(line.substr(open + 2, close - open - 2));
      auto it = values.find(key);
      if (it == values.end()) {
        throw InputError(fmt::format("{}:{}: unknown placeholder '{{{{{}}}}}'; known: {}", source, lineno, key, known));
      }
      if (used) used->insert(key);
      rendered += line.substr(pos, open - pos) + it->second;
      any_placeholder = true;
      any_value = any_value || !it->second.empty();
      pos = close + 2;
    }
    if (any_placeholder && !any_value && line.rfind("#SBATCH", 0) == 0) continue;
    out += rendered + "\n";
  }
  while (out.size() > 1 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') out.pop_back();
  return out;
}

}  // namespace

std::map<std::string, std::string> script_values(const JobPlan& plan, const Site& site, const std::string& tag,
                                                 const std::string& gosok_path) {
  std::string launch;
  for (const auto& w : launch_argv(plan, site, gosok_path)) launch += (launch.empty() ? "" : " ") + shell_quote(w);
  const auto& r = plan.request;
  // A command that does not handle it would die of SIGUSR1 before its limit.
  const bool warned = site.signal_margin_s > 0 && (!r.command.empty() ? r.walltime_signal : true);
  std::string setup;
  // The warning can come before the launch line runs (while the setup lines do): the batch
  // shell, which would die of it, notes it for the run instead (kWalltimeWarningVariable).
  if (warned) setup += fmt::format("trap 'export {}=1' USR1\n", kWalltimeWarningVariable);
  for (const auto& line : site.setup) setup += line + "\n";
  if (!setup.empty()) setup.pop_back();
  const bool array = !plan.array.tasks.empty();
  // The run's environment: the job's variables, and what only the job knows once it runs:
  // an array task's own results folder and index, the rank environment's first host and port.
  std::string environment;
  for (const auto& [name, value] : job_environment(plan, site)) {
    environment += "export " + name + "=" + shell_quote(value) + "\n";
  }
  if (array && !r.command.empty()) {
    environment += "export GOSOK_MEMBER=\"$SLURM_ARRAY_TASK_ID\"\n";
    environment += "export GOSOK_RESULTS=" + shell_quote(plan.results.substr(0, plan.results.size() - 3)) +
                   "/\"$SLURM_ARRAY_TASK_ID\"\n";
  }
  if (r.rank_env) {
    environment += "export MASTER_ADDR=\"$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\"\n";
    environment += "export MASTER_PORT=$((29500 + SLURM_JOB_ID % 1000))\n";
  }
  if (!environment.empty()) environment.pop_back();
  return {
      {"job_name", r.name},
      {"account", plan.account},
      {"qos", plan.qos},
      {"partition", plan.partition->name},
      {"nodes", std::to_string(plan.nodes)},
      {"ntasks", std::to_string(plan.ntasks)},
      {"ntasks_per_node", count(r.ntasks_per_node)},
      {"cpus_per_task", count(r.cpus_per_task)},
      {"gpus", count(r.gpus)},
      {"gpus_per_node", count(r.gpus_per_node)},
      {"gpus_per_task", count(r.gpus_per_task)},
      {"time", format_walltime(r.time_limit_s)},
      {"comment", tag},
      {"output", !r.output.empty() ? r.output : r.job_dir + (array ? "/slurm-%A_%a.out" : "/slurm-%j.out")},
      {"error", r.error},
      {"array", r.array},
      {"dependency", r.dependency},
      {"begin", plan.begin},
      {"mail_type", r.mail_type},
      {"mail_user", r.mail_user},
      {"constraint", r.constraint},
      {"mem", r.mem},
      {"export", r.export_env},
      {"exclusive", r.exclusive ? "--exclusive" : ""},
      {"hold", r.hold ? "--hold" : ""},
      {"requeue", r.requeue == "yes"  ? "--requeue"
                  : r.requeue == "no" ? "--no-requeue"
                                      : ""},
      {"job_dir", r.job_dir},
      {"job_dir_q", shell_quote(r.job_dir)},
      {"setup", setup},
      {"launch", launch},
      {"grant", r.grant_id},
      {"site", site.name},
      {"workload", r.workload.empty() ? "command" : r.workload},
      {"gpu_hours", fmt::format("{:.4f}", plan.reserve_gpu_h)},
      {"overrun", std::to_string(site.overrun_s)},
      {"signal", warned ? fmt::format("B:USR1@{}", site.signal_margin_s) : ""},
      {"environment", environment},
  };
}

std::string render_script(const JobPlan& plan, const Site& site, const std::string& text, const std::string& source,
                          const std::string& tag, const std::string& gosok_path) {
  const auto values = script_values(plan, site, tag, gosok_path);
  std::set<std::string> used;
  std::string out = render(text, source, values, &used);
  for (const auto& [key, option] : kRequestPlaceholders) {
    if (!values.at(key).empty() && !used.count(key)) {
      throw InputError(
          fmt::format("job template {} has no {{{{{}}}}} placeholder, so {} cannot be honoured", source, key, option));
    }
  }
  // A workload's run is told its results folder on its command line; a command, or a job
  // with variables of its own, needs the environment.
  const auto& r = plan.request;
  if ((!r.command.empty() || !r.environment.empty() || r.rank_env) && !used.count("environment")) {
    throw InputError(fmt::format(
        "job template {} has no {{{{environment}}}} placeholder, so the job's environment cannot be set", source));
  }
  return out;
}

namespace {

// sbatch's one-letter options (those a directive may use), by their long names.
const std::map<char, std::string> kShortOptions = {{'A', "account"},  {'a', "array"},      {'B', "extra-node-info"},
                                                   {'b', "begin"},    {'C', "constraint"}, {'c', "cpus-per-task"},
                                                   {'D', "chdir"},    {'d', "dependency"}, {'e', "error"},
                                                   {'F', "nodefile"}, {'G', "gpus"},       {'H', "hold"},
                                                   {'i', "input"},    {'J', "job-name"},   {'k', "no-kill"},
                                                   {'L', "licenses"}, {'M', "clusters"},   {'m', "distribution"},
                                                   {'N', "nodes"},    {'n', "ntasks"},     {'O', "overcommit"},
                                                   {'o', "output"},   {'p', "partition"},  {'Q', "quiet"},
                                                   {'q', "qos"},      {'S', "core-spec"},  {'s', "oversubscribe"},
                                                   {'t', "time"},     {'v', "verbose"},    {'W', "wait"},
                                                   {'w', "nodelist"}, {'x', "exclude"}};

// Options that do not change what Slurm allocates or what gosok charges: a user's template
// may add them or leave them out.
const std::set<std::string> kShapeOptions = {"job-name",
                                             "output",
                                             "error",
                                             "open-mode",
                                             "mail-type",
                                             "mail-user",
                                             "signal",
                                             "begin",
                                             "hold",
                                             "dependency",
                                             "constraint",
                                             "mem",
                                             "export",
                                             "get-user-env",
                                             "quiet",
                                             "verbose",
                                             "parsable",
                                             "nice",
                                             "kill-on-invalid-dep",
                                             "profile",
                                             "propagate",
                                             "wckey",
                                             "acctg-freq"};

}  // namespace

std::vector<std::pair<std::string, std::string>> sbatch_directives(const std::string& script) {
  std::vector<std::pair<std::string, std::string>> out;
  bool first = true;
  for (const auto& raw : split(script, '\n')) {
    const std::string line = trim(raw);
    if (first && line.rfind("#!", 0) == 0) {
      first = false;
      continue;
    }
    first = false;
    if (line.empty()) continue;
    if (line[0] != '#') break;  // sbatch reads directives until the first command
    if (line.rfind("#SBATCH", 0) != 0) continue;
    // Words up to an unquoted '#' (a comment), quotes removed, as sbatch splits them.
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = 7; i < line.size(); ++i) {
      const char c = line[i];
      if (quote) {
        if (c == quote) {
          quote = 0;
        } else {
          word += c;
        }
      } else if (c == '"' || c == '\'') {
        quote = c;
        in_word = true;
      } else if (c == '#') {
        break;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        if (in_word) words.push_back(word);
        word.clear();
        in_word = false;
      } else {
        word += c;
        in_word = true;
      }
    }
    if (in_word) words.push_back(word);
    for (std::size_t i = 0; i < words.size(); ++i) {
      const std::string& w = words[i];
      std::string name, value;
      bool has_value = false;
      if (w.rfind("--", 0) == 0) {
        const auto eq = w.find('=');
        name = w.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
        if (eq != std::string::npos) {
          value = w.substr(eq + 1);
          has_value = true;
        }
      } else if (w.size() >= 2 && w[0] == '-') {
        const auto it = kShortOptions.find(w[1]);
        name = it != kShortOptions.end() ? it->second : w.substr(0, 2);
        if (w.size() > 2) {
          value = w.substr(w[2] == '=' ? 3 : 2);
          has_value = true;
        }
      } else {
        name = w;  // not an option: reported as it is
      }
      if (!has_value && i + 1 < words.size() && words[i + 1][0] != '-') value = words[++i];
      out.emplace_back(name, value);
    }
  }
  return out;
}

void check_script_price(const std::string& script, const std::string& source, const std::string& reference,
                        const std::string& reference_source) {
  std::multiset<std::pair<std::string, std::string>> mine, theirs;
  for (auto& d : sbatch_directives(reference)) {
    if (!kShapeOptions.count(d.first)) theirs.insert(std::move(d));
  }
  for (auto& d : sbatch_directives(script)) {
    if (kShapeOptions.count(d.first)) continue;
    bool known = false;
    for (const auto& t : theirs) known = known || t.first == d.first;
    if (!known) {
      throw InputError(fmt::format(
          "job template {} sets #SBATCH --{}{}, which changes what Slurm allocates or what the job is charged; a "
          "template of your own may shape the script (setup, launch, job name, output, mail), while the center's "
          "template ({}) sets the resources",
          source, d.first, d.second.empty() ? "" : "=" + d.second, reference_source));
    }
    mine.insert(std::move(d));
  }
  auto given_for = [&](const std::string& name) {
    std::string given;
    for (const auto& m : mine) {
      if (m.first == name)
        given += (given.empty() ? "" : ", ") + ("--" + m.first + (m.second.empty() ? "" : "=" + m.second));
    }
    return given.empty() ? "no --" + name : given;
  };
  auto refuse = [&](const std::string& name) {
    std::string wanted;
    for (const auto& t : theirs) {
      if (t.first == name)
        wanted += (wanted.empty() ? "" : ", ") + ("--" + t.first + (t.second.empty() ? "" : "=" + t.second));
    }
    throw InputError(fmt::format(
        "job template {} gives Slurm {} where the center's template ({}) gives {}: what Slurm allocates and what "
        "the job is charged come from the center's template; a template of your own may shape the script, never "
        "the price",
        source, given_for(name), reference_source, wanted));
  };
  for (const auto& d : theirs) {
    if (mine.count(d) != theirs.count(d)) refuse(d.first);
  }
  for (const auto& d : mine) {
    if (mine.count(d) != theirs.count(d)) refuse(d.first);
  }
}

void check_template(const std::string& text, const std::string& source) {
  JobPlan plan;
  Partition part;
  part.name = "p";
  plan.partition = &part;
  plan.request.job_dir = "/job";
  Site site;
  site.launcher = {"srun"};
  render(text, source, script_values(plan, site, "gosok:x:1", "gosok"), nullptr);
}

}  // namespace gosok::sched
