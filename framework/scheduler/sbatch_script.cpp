// Reading #SBATCH directives the way sbatch does, so that gosok can hand slurmctld the same
// job description sbatch would (through libslurm) without starting sbatch. Anything outside
// the translated set is reported, and that script goes to sbatch instead.
#include <gosok/scheduler/sbatch_script.hpp>

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include <gosok/scheduler/text.hpp>

extern char** environ;

namespace gosok::sched {

namespace {

bool is_blank(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// One argument from `p` on, as sbatch's get_argument reads it.
enum class Arg { none, ok, unmatched_quote };
Arg next_argument(const std::string& line, std::size_t& p, std::string& out) {
  while (p < line.size() && is_blank(line[p])) ++p;
  out.clear();
  bool quoted = false, escaped = false;
  char quote = 0;
  for (; p < line.size() && (quoted || !is_blank(line[p])); ++p) {
    const char c = line[p];
    if (escaped) {
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
      continue;
    } else if (quoted) {
      if (c == quote) {
        quoted = false;
        continue;
      }
    } else if (c == '"' || c == '\'') {
      quoted = true;
      quote = c;
      continue;
    } else if (c == '#') {
      p = line.size();  // an unquoted # starts a comment
      break;
    }
    out += c;
  }
  if (quoted) return Arg::unmatched_quote;
  return out.empty() ? Arg::none : Arg::ok;  // sbatch, too, ends the line at an empty argument
}

bool parse_u32(const std::string& s, std::uint32_t& v) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  v = static_cast<std::uint32_t>(std::stoul(s));
  return true;
}

// sbatch's --mem: a number of MB, or with a K/M/G/T suffix.
std::optional<std::uint64_t> parse_mem_mb(const std::string& s) {
  std::size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  if (digits == 0 || digits > 15 || s.size() > digits + 1) return std::nullopt;
  std::uint64_t v = std::stoull(s.substr(0, digits));
  switch (s.size() == digits ? 'M' : std::toupper(static_cast<unsigned char>(s[digits]))) {
    case 'K':
      return (v + 1023) / 1024;
    case 'M':
      return v;
    case 'G':
      return v * 1024;
    case 'T':
      return v * 1024 * 1024;
    default:
      return std::nullopt;
  }
}

// A --gres list as sbatch sends it: each entry gains the "gres:" type ("gpu:2" ->
// "gres:gpu:2"). Entries naming another TRES type are left to sbatch.
std::optional<std::string> gres_with_type(const std::string& s) {
  if (s.empty() || lower(s) == "none" || s.find_first_of("/=") != std::string::npos) return std::nullopt;
  std::string out;
  for (const auto& entry : split(s, ',')) {
    if (entry.empty() || entry.rfind("gres:", 0) == 0 || entry.rfind("license:", 0) == 0) return std::nullopt;
    out += (out.empty() ? "" : ",") + ("gres:" + entry);
  }
  return out;
}

// Options by long name; short letters map to them. `flag` options take no value.
struct OptionInfo {
  const char* name;
  char short_name;
  bool flag;
};
const OptionInfo kOptions[] = {
    {"job-name", 'J', false}, {"account", 'A', false},     {"qos", 'q', false},           {"partition", 'p', false},
    {"nodes", 'N', false},    {"ntasks", 'n', false},      {"ntasks-per-node", 0, false}, {"cpus-per-task", 'c', false},
    {"gres", 0, false},       {"gpus-per-node", 0, false}, {"time", 't', false},          {"comment", 0, false},
    {"output", 'o', false},   {"error", 'e', false},       {"hold", 'H', true},           {"constraint", 'C', false},
    {"exclusive", 0, true},   {"chdir", 'D', false},       {"reservation", 0, false},     {"mem", 0, false},
};

const OptionInfo* find_long(const std::string& name) {
  for (const auto& o : kOptions) {
    if (name == o.name) return &o;
  }
  return nullptr;
}
const OptionInfo* find_short(char c) {
  for (const auto& o : kOptions) {
    if (o.short_name == c) return &o;
  }
  return nullptr;
}

// Applies one option; false when its value is outside what gosok translates.
bool apply(BatchJobSpec& s, const std::string& name, const std::string& v) {
  if (name == "job-name") {
    s.name = v;
  } else if (name == "account") {
    s.account = v;
  } else if (name == "qos") {
    s.qos = v;
  } else if (name == "partition") {
    s.partition = v;
  } else if (name == "comment") {
    s.comment = v;
  } else if (name == "output") {
    s.output = v;
  } else if (name == "error") {
    s.error = v;
  } else if (name == "chdir") {
    s.chdir = v;
  } else if (name == "constraint") {
    s.constraint = v;
  } else if (name == "reservation") {
    s.reservation = v;
  } else if (name == "hold") {
    s.hold = true;
  } else if (name == "exclusive") {
    s.exclusive = true;
  } else if (name == "nodes") {
    const auto dash = v.find('-');
    std::uint32_t lo = 0, hi = 0;
    if (dash == std::string::npos) {
      if (!parse_u32(v, lo)) return false;
      hi = lo;
    } else if (!parse_u32(v.substr(0, dash), lo) || !parse_u32(v.substr(dash + 1), hi) || (hi && hi < lo)) {
      return false;
    }
    s.nodes_set = true;
    s.min_nodes = lo;
    s.max_nodes = hi;
  } else if (name == "ntasks") {
    if (!parse_u32(v, s.ntasks)) return false;
    s.ntasks_set = true;
  } else if (name == "ntasks-per-node" || name == "cpus-per-task") {
    std::uint32_t n = 0;
    if (!parse_u32(v, n) || n == 0 || n > 65533) return false;  // Slurm keeps these in 16 bits
    (name == "ntasks-per-node" ? s.ntasks_per_node : s.cpus_per_task) = n;
  } else if (name == "time") {
    s.minutes = sbatch_minutes(v);
    return s.minutes.has_value();
  } else if (name == "mem") {
    s.mem_mb = parse_mem_mb(v);
    return s.mem_mb.has_value();
  } else if (name == "gres") {
    const auto g = gres_with_type(v);
    if (!g) return false;
    s.tres_per_node = s.tres_per_node.empty() ? *g : s.tres_per_node + "," + *g;
  } else if (name == "gpus-per-node") {
    std::uint32_t n = 0;
    if (!s.gpus_per_node.empty() || !s.tres_per_node.empty() || !parse_u32(v, n)) return false;
    s.gpus_per_node = v;
    s.tres_per_node = "gres:gpu:" + v;
  } else {
    return false;
  }
  return true;
}

// sbatch's _opt_verify: tasks from nodes × tasks per node, node counts capped by tasks.
void derive(BatchJobSpec& s) {
  if (s.ntasks_per_node && !s.ntasks_set && (s.max_nodes == 0 || s.min_nodes == s.max_nodes)) {
    s.ntasks = s.min_nodes * *s.ntasks_per_node;
    s.ntasks_set = true;
  }
  if (s.nodes_set && (s.min_nodes == s.max_nodes || s.max_nodes == 0) && !s.ntasks_set) {
    s.ntasks = std::max<std::uint32_t>(s.min_nodes, 1);
  } else if (s.nodes_set && s.ntasks_set) {
    if (s.ntasks < s.max_nodes) s.max_nodes = s.ntasks;
    if (s.ntasks < s.min_nodes) s.min_nodes = s.max_nodes = s.ntasks;
  }
}

}  // namespace

std::uint32_t BatchJobSpec::min_cpus() const {
  if (cpus_per_task) return ntasks * *cpus_per_task;
  if (nodes_set && min_nodes == 0) return 0;
  return ntasks;
}

std::vector<SbatchArgument> sbatch_arguments(const std::string& script) {
  std::vector<SbatchArgument> args;
  int lineno = 0;
  for (const auto& line : split(script, '\n')) {
    ++lineno;
    std::size_t p;
    if (line.rfind("#SBATCH", 0) == 0) {
      p = 7;
    } else if (line.rfind("#SLURM", 0) == 0) {
      p = 6;
    } else {
      const auto first = line.find_first_not_of(" \t\r\v\f");
      if (first != std::string::npos && line[first] != '#') break;  // the first command ends the directives
      continue;
    }
    std::string arg;
    for (Arg a; (a = next_argument(line, p, arg)) != Arg::none;) {
      if (a == Arg::unmatched_quote) {
        args.push_back({"", lineno, true});
        break;
      }
      args.push_back({arg, lineno});
    }
  }
  return args;
}

BatchTranslation translate_sbatch_script(const std::string& script, const std::string& script_path) {
  BatchTranslation t;
  const auto args = sbatch_arguments(script);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i].text;
    const OptionInfo* opt = nullptr;
    std::string value;
    bool has_value = false;
    if (a.rfind("--", 0) == 0 && a.size() > 2) {
      const auto eq = a.find('=');
      opt = find_long(a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2));
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
        has_value = true;
      }
    } else if (a.size() >= 2 && a[0] == '-' && a[1] != '-') {
      opt = find_short(a[1]);
      if (opt && opt->flag && a.size() > 2) opt = nullptr;  // bundled flags: leave to sbatch
      if (a.size() > 2) {
        value = a.substr(2);
        has_value = true;
      }
    }
    const bool ok = [&] {
      if (!opt) return false;
      if (opt->flag && has_value) return false;  // --exclusive=user and the like: leave to sbatch
      if (!opt->flag && !has_value) {
        if (i + 1 >= args.size()) return false;
        value = args[++i].text;
      }
      return apply(t.spec, opt->name, value);
    }();
    if (!ok) {
      t.unsupported = fmt::format("'{}' (line {})", a, args[std::min(i, args.size() - 1)].line);
      return t;
    }
  }
  derive(t.spec);
  if (t.spec.name.empty()) t.spec.name = std::filesystem::path(script_path).filename().string();
  return t;
}

std::optional<std::uint32_t> sbatch_minutes(const std::string& text) {
  // Slurm's digit forms are parse_walltime's; its "90min"/"2h" forms are not sbatch's.
  if (text.empty() || text.find_first_not_of("0123456789:-") != std::string::npos) return std::nullopt;
  try {
    const std::int64_t minutes = (parse_walltime(text) + 59) / 60;  // Slurm rounds seconds up
    if (minutes >= 0xfffffffe) return std::nullopt;
    return static_cast<std::uint32_t>(minutes);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

namespace {
std::optional<SubmitterState> g_acting_for;
}

void act_for_submitter(const SubmitterState* who) {
  if (who) {
    g_acting_for = *who;
  } else {
    g_acting_for.reset();
  }
}

SubmitterState current_submitter() {
  if (g_acting_for) return *g_acting_for;
  SubmitterState w;
  for (char** e = environ; e && *e; ++e) w.environ.emplace_back(*e);
  std::error_code ec;
  w.cwd = std::filesystem::current_path(ec).string();
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) w.host = host;
  w.umask = static_cast<int>(::umask(0));
  ::umask(static_cast<mode_t>(w.umask));
  errno = 0;
  w.priority = ::getpriority(PRIO_PROCESS, 0);
  w.session = static_cast<int>(::getsid(0));
  // Slurm's list of limits it can propagate, in its order.
  const std::pair<const char*, int> limits[] = {
      {"CPU", RLIMIT_CPU},         {"FSIZE", RLIMIT_FSIZE}, {"DATA", RLIMIT_DATA},   {"STACK", RLIMIT_STACK},
      {"CORE", RLIMIT_CORE},       {"RSS", RLIMIT_RSS},     {"NPROC", RLIMIT_NPROC}, {"NOFILE", RLIMIT_NOFILE},
      {"MEMLOCK", RLIMIT_MEMLOCK}, {"AS", RLIMIT_AS},
  };
  {
    std::ifstream f("/proc/self/cmdline", std::ios::binary);
    w.command_line.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    while (!w.command_line.empty() && w.command_line.back() == '\0') w.command_line.pop_back();
    std::replace(w.command_line.begin(), w.command_line.end(), '\0', ' ');
  }
  for (const auto& [name, resource] : limits) {
    struct rlimit r {};
    if (::getrlimit(resource, &r) == 0) w.rlimits.emplace_back(name, static_cast<unsigned long>(r.rlim_cur));
  }
  return w;
}

std::string sbatch_work_dir(const BatchJobSpec& spec, const SubmitterState& who) {
  if (spec.chdir.empty()) return who.cwd;
  return spec.chdir.front() == '/' ? spec.chdir : who.cwd + "/" + spec.chdir;  // as sbatch makes it
}

std::vector<std::string> sbatch_environment(const BatchJobSpec& spec, const SubmitterState& who) {
  std::vector<std::string> env;
  std::map<std::string, std::size_t> index;
  auto set = [&](const std::string& name, const std::string& value, bool overwrite = true) {
    const auto it = index.find(name);
    if (it == index.end()) {
      index[name] = env.size();
      env.push_back(name + "=" + value);
    } else if (overwrite) {
      env[it->second] = name + "=" + value;
    }
  };
  for (const auto& e : who.environ) {
    const auto eq = e.find('=');
    if (eq != std::string::npos && eq > 0) set(e.substr(0, eq), e.substr(eq + 1));
  }
  // What sbatch sets in its own environment before copying it.
  set("SLURM_JOB_NAME", spec.name);
  for (const auto& [name, cur] : who.rlimits) set("SLURM_RLIMIT_" + name, std::to_string(cur));
  set("SLURM_PRIO_PROCESS", std::to_string(who.priority));
  set("SLURM_SUBMIT_DIR", who.cwd);
  set("SLURM_SUBMIT_HOST", who.host);
  set("SLURM_UMASK", fmt::format("0{}{}{}", (who.umask >> 6) & 7, (who.umask >> 3) & 7, who.umask & 7), false);
  // What it adds from the options.
  if (!spec.gpus_per_node.empty()) set("SLURM_GPUS_PER_NODE", spec.gpus_per_node);
  if (spec.cpus_per_task) set("SLURM_CPUS_PER_TASK", std::to_string(*spec.cpus_per_task));
  if (spec.ntasks_set && spec.ntasks > 0) {
    set("SLURM_NPROCS", std::to_string(spec.ntasks));
    set("SLURM_NTASKS", std::to_string(spec.ntasks));
  }
  if (spec.ntasks_per_node) set("SLURM_NTASKS_PER_NODE", std::to_string(*spec.ntasks_per_node));
  return env;
}

}  // namespace gosok::sched
