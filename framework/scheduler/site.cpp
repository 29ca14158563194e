#include <gosok/scheduler/site.hpp>

#include <fmt/format.h>

#include <toml++/toml.h>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/core/logging.hpp>
#include <gosok/scheduler/process.hpp>
#include <gosok/scheduler/text.hpp>

namespace gosok::sched {

namespace fs = std::filesystem;

const Partition& Site::partition(const std::string& wanted) const {
  for (const auto& p : partitions) {
    if (wanted.empty() ? p.is_default : p.name == wanted) return p;
  }
  if (wanted.empty() && !partitions.empty()) return partitions.front();
  throw InputError(fmt::format("site '{}' has no partition '{}'; partitions: {}", name, wanted, partition_names()));
}

std::string Site::partition_names() const {
  std::string out;
  for (const auto& p : partitions) out += (out.empty() ? "" : ", ") + p.name;
  return out;
}

namespace {

std::string where(const std::string& source, const toml::node& node) {
  const auto& r = node.source();
  return r.begin.line ? fmt::format("{}:{}", source, r.begin.line) : source;
}

void check_keys(const std::string& source, const toml::table& table, const std::string& prefix,
                const std::set<std::string>& allowed) {
  for (const auto& [k, v] : table) {
    if (!allowed.count(std::string(k.str()))) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      throw InputError(
          fmt::format("{}: unknown key '{}{}'; allowed keys: {}", where(source, v), prefix, k.str(), list));
    }
  }
}

template <class T>
T get(const std::string& source, const toml::table& table, const std::string& prefix, const std::string& key,
      const T& def, bool required, const char* type_name) {
  const toml::node* node = table.get(key);
  if (!node) {
    if (required) throw InputError(fmt::format("{}: missing key '{}{}' ({})", source, prefix, key, type_name));
    return def;
  }
  if constexpr (std::is_same_v<T, double>) {
    if (auto v = node->value<double>()) return *v;
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    if (node->is_integer()) return *node->value<std::int64_t>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (node->is_boolean()) return *node->value<bool>();
  } else {
    if (node->is_string()) return *node->value<std::string>();
  }
  throw InputError(fmt::format("{}: key '{}{}' must be {}", where(source, *node), prefix, key, type_name));
}

std::vector<std::string> get_lines(const std::string& source, const toml::table& table, const std::string& key) {
  std::vector<std::string> out;
  const toml::node* node = table.get(key);
  if (!node) return out;
  const auto* arr = node->as_array();
  if (!arr) throw InputError(fmt::format("{}: key 'site.{}' must be an array of strings", where(source, *node), key));
  for (const auto& item : *arr) {
    if (!item.is_string()) {
      throw InputError(fmt::format("{}: key 'site.{}' must be an array of strings", where(source, item), key));
    }
    const std::string line = *item.value<std::string>();
    if (line.find('\n') != std::string::npos) {
      throw InputError(fmt::format("{}: key 'site.{}': one line per entry, no newlines", where(source, item), key));
    }
    out.push_back(line);
  }
  return out;
}

}  // namespace

Site parse_site(const std::string& text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw InputError(
        fmt::format("{}:{}:{}: {}", source, e.source().begin.line, e.source().begin.column, e.description()));
  }
  check_keys(source, root, "", {"site", "partitions"});
  const toml::table* s = root["site"].as_table();
  if (!s) throw InputError(source + ": missing table [site] (a site file starts with [site] and name = \"...\")");
  check_keys(source, *s, "site.",
             {"name", "description", "scheduler", "launcher", "account_format", "template", "ledger", "gosok", "setup",
              "example"});
  Site site;
  site.source = source;
  site.name = get<std::string>(source, *s, "site.", "name", "", true, "a string");
  require_token("site.name", site.name);
  site.description = get<std::string>(source, *s, "site.", "description", "", false, "a string");
  site.scheduler = get<std::string>(source, *s, "site.", "scheduler", "", true, "a string");
  if (site.scheduler != "slurm" && site.scheduler != "local") {
    throw InputError(fmt::format("{}: key 'site.scheduler' is '{}'; allowed values: slurm, local",
                                 where(source, *s->get("scheduler")), site.scheduler));
  }
  const std::string launcher = get<std::string>(source, *s, "site.", "launcher", "mpirun", false, "a string");
  for (const auto& w : split(launcher, ' '))
    if (!w.empty()) site.launcher.push_back(w);
  static const std::set<std::string> launchers = {"srun", "mpirun", "mpiexec"};
  if (site.launcher.empty() || !launchers.count(site.launcher[0])) {
    throw InputError(fmt::format("{}: key 'site.launcher' is '{}'; it must start with one of: srun, mpirun, mpiexec",
                                 source, launcher));
  }
  // Launcher words reach the script shell-quoted, so any printable word is safe.
  site.account_format = get<std::string>(source, *s, "site.", "account_format", "{account}", false, "a string");
  if (site.account_format.find("{account}") == std::string::npos &&
      site.account_format.find("{project}") == std::string::npos) {
    throw InputError(fmt::format("{}: key 'site.account_format' must contain {{account}} or {{project}}", source));
  }
  site.template_name = get<std::string>(source, *s, "site.", "template", "default.sbatch", false, "a string");
  site.ledger = get<std::string>(source, *s, "site.", "ledger", "", false, "a string");
  site.gosok_path = get<std::string>(source, *s, "site.", "gosok", "", false, "a string");
  if (!site.gosok_path.empty()) require_token("site.gosok", site.gosok_path, true, 4096);
  site.setup = get_lines(source, *s, "setup");
  site.example = get<bool>(source, *s, "site.", "example", false, false, "true or false");

  const toml::table* parts = root["partitions"].as_table();
  if (!parts || parts->empty()) {
    throw InputError(source + ": missing [partitions.<name>] tables; a site needs at least one partition");
  }
  int defaults = 0;
  for (const auto& [name, node] : *parts) {
    const std::string pname(name.str());
    const std::string prefix = "partitions." + pname + ".";
    const toml::table* p = node.as_table();
    if (!p) throw InputError(fmt::format("{}: '{}' must be a table", where(source, node), prefix));
    check_keys(source, *p, prefix,
               {"default", "nodes", "cpus_per_node", "gpus_per_node", "gpu_type", "max_walltime", "charge_factor"});
    Partition part;
    part.name = pname;
    require_token("partition name", pname);
    part.is_default = get<bool>(source, *p, prefix, "default", false, false, "true or false");
    part.nodes = static_cast<int>(get<std::int64_t>(source, *p, prefix, "nodes", 1, true, "an integer"));
    part.cpus_per_node =
        static_cast<int>(get<std::int64_t>(source, *p, prefix, "cpus_per_node", 1, true, "an integer"));
    part.gpus_per_node =
        static_cast<int>(get<std::int64_t>(source, *p, prefix, "gpus_per_node", 0, true, "an integer"));
    part.gpu_type = get<std::string>(source, *p, prefix, "gpu_type", "", part.gpus_per_node > 0, "a string");
    const std::string wall = get<std::string>(source, *p, prefix, "max_walltime", "unlimited", false, "a string");
    part.max_walltime_s =
        (wall == "unlimited" || wall == "infinite") ? 0 : parse_walltime(wall, prefix + "max_walltime");
    part.charge_factor = get<double>(source, *p, prefix, "charge_factor", 1.0, false, "a number");
    auto bound = [&](const char* key, double v, double lo, double hi) {
      if (v < lo || v > hi) {
        throw InputError(fmt::format("{}: key '{}{}' = {} is out of range; allowed: {} to {}",
                                     where(source, *p->get(key)), prefix, key, v, lo, hi));
      }
    };
    bound("nodes", part.nodes, 1, 1e6);
    bound("cpus_per_node", part.cpus_per_node, 1, 1e5);
    if (p->get("gpus_per_node")) bound("gpus_per_node", part.gpus_per_node, 0, 64);
    if (p->get("charge_factor")) bound("charge_factor", part.charge_factor, 0, 1000);
    if (part.is_default) ++defaults;
    site.partitions.push_back(part);
  }
  if (defaults > 1) throw InputError(source + ": more than one partition has default = true");
  return site;
}

Site load_site_file(const std::string& path) { return parse_site(read_text_file(path), path); }

std::vector<std::string> data_dirs(const std::string& kind) {
  std::vector<std::string> dirs;
  if (const auto path = env(kind == "site_configs" ? "GOSOK_SITE_PATH" : "GOSOK_TEMPLATE_PATH")) {
    for (const auto& d : split(*path, ':'))
      if (!d.empty()) dirs.push_back(d);
  }
  const fs::path exe = fs::path(self_executable()).parent_path();
  dirs.push_back((exe.parent_path() / "share" / "gosok" / kind).string());
#ifdef GOSOK_SCHED_SOURCE_DIR
  dirs.push_back(std::string(GOSOK_SCHED_SOURCE_DIR) + "/" + kind);
#endif
  return dirs;
}

namespace {
Site warn_if_example(Site site) {
  if (site.example) {
    log().warn(
        "site '{}' ({}) is an example (example = true): its partitions, limits and charge factors are "
        "illustrative; copy the file, set your centre's values and remove 'example'",
        site.name, site.source);
  }
  return site;
}
}  // namespace

Site find_site(const std::string& requested) {
  std::string name = requested;
  if (name.empty()) {
    name = env("GOSOK_SITE").value_or("localhost");
  }
  const bool is_path =
      name.find('/') != std::string::npos || (name.size() > 5 && name.substr(name.size() - 5) == ".toml");
  if (is_path) {
    if (!fs::exists(name)) throw InputError("site file '" + name + "' does not exist");
    return warn_if_example(load_site_file(name));
  }
  require_token("site name", name);
  std::string searched;
  for (const auto& dir : data_dirs("site_configs")) {
    const fs::path f = fs::path(dir) / (name + ".toml");
    if (fs::exists(f)) return warn_if_example(load_site_file(f.string()));
    searched += (searched.empty() ? "" : ", ") + dir;
  }
  if (name == "localhost") return parse_site(embedded_localhost_site(), "<embedded localhost.toml>");
  throw InputError(fmt::format("no site '{}': looked for {}.toml in {} (set GOSOK_SITE_PATH, or pass --site FILE)",
                               name, name, searched));
}

std::string load_template(const std::string& name_or_path, std::string* source) {
  const std::string name = name_or_path.empty() ? "default.sbatch" : name_or_path;
  if (name.find('/') != std::string::npos) {
    if (source) *source = name;
    return read_text_file(name);
  }
  require_token("template name", name);
  for (const auto& dir : data_dirs("job_templates")) {
    const fs::path f = fs::path(dir) / name;
    if (fs::exists(f)) {
      if (source) *source = f.string();
      return read_text_file(f.string());
    }
  }
  if (name == "default.sbatch") {
    if (source) *source = "<embedded default.sbatch>";
    return embedded_default_template();
  }
  throw InputError("no job template '" + name + "' (set GOSOK_TEMPLATE_PATH or give a path)");
}

}  // namespace gosok::sched
