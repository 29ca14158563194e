#include <gosok/scheduler/site.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

#include <gosok/core/config.hpp>
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

const ContainerRuntime& Site::runtime(const std::string& wanted) const {
  std::string names;
  for (const auto& r : runtimes) {
    if (wanted.empty() ? r.is_default : r.name == wanted) return r;
    names += (names.empty() ? "" : ", ") + r.name;
  }
  if (runtimes.empty()) {
    throw InputError(
        fmt::format("site '{}' ({}) defines no container runtime ([runtimes.<name>]), so an image "
                    "cannot run there",
                    name, source));
  }
  if (wanted.empty()) {
    throw InputError(fmt::format("site '{}' has no default container runtime; name one of: {}", name, names));
  }
  throw InputError(fmt::format("site '{}' has no container runtime '{}'; runtimes: {}", name, wanted, names));
}

std::string Site::partition_names() const {
  std::string out;
  for (const auto& p : partitions) out += (out.empty() ? "" : ", ") + p.name;
  return out;
}

namespace {

// A walltime key's text (or "unlimited"); the check of the schema and the conversion below
// share parse_walltime, the one parser of walltimes.
std::int64_t walltime_or_unlimited(const std::string& text, const std::string& what) {
  return (text == "unlimited" || text == "infinite") ? 0 : parse_walltime(text, what);
}

// The site file's schema: every key, its type, range and default, checked on load.
Schema site_schema() {
  Schema s;
  s.string("site.name", std::nullopt, "the site's name (what --site and grants name)").checked_by([](const Value& v) {
    require_token("site.name", std::get<std::string>(v));
  });
  s.string("site.description", "", "one line about the site");
  s.choice("site.scheduler", {"slurm", "local"}, "how jobs start: slurm (sbatch) or local (mpirun on this machine)");
  s.string("site.launcher", "mpirun", "the MPI launcher and its options (srun, mpirun or mpiexec first)")
      .checked_by([](const Value& v) {
        const auto words = split(std::get<std::string>(v), ' ');
        const auto first = std::find_if(words.begin(), words.end(), [](const std::string& w) { return !w.empty(); });
        if (first == words.end() || (*first != "srun" && *first != "mpirun" && *first != "mpiexec")) {
          throw InputError("it must start with one of: srun, mpirun, mpiexec");
        }
      });
  s.string("site.account_format", "{account}", "the Slurm account of a grant's jobs ({account}, {project}, {grant})")
      .checked_by([](const Value& v) {
        const auto& f = std::get<std::string>(v);
        if (f.find("{account}") == std::string::npos && f.find("{project}") == std::string::npos) {
          throw InputError("it must contain {account} or {project}");
        }
      });
  s.string("site.template", "default.sbatch", "the job template (a name in job_templates/)");
  s.string("site.ledger", "", "the ledger path for this site (\"\": the user's default)");
  s.string("site.gosok", "", "gosok on the compute nodes (\"\": this executable)").checked_by([](const Value& v) {
    const auto& p = std::get<std::string>(v);
    if (!p.empty()) require_token("site.gosok", p, true, 4096);
  });
  s.list("site.setup", ParamType::string, List{}, "script lines run before the launch (one line each)")
      .checked_by([](const Value& v) {
        for (const auto& line : std::get<List>(v)) {
          if (std::get<std::string>(line).find('\n') != std::string::npos) throw InputError("one line per entry");
        }
      });
  s.boolean("site.example", false, "an illustrative file: using it warns");
  s.string("site.overrun", "90s",
           "how long past its time limit the scheduler may let a job run before it is gone (Slurm: "
           "OverTimeLimit + KillWait + ~30 s between slurmctld's time-limit checks); reserved with every job")
      .checked_by([](const Value& v) {
        const auto& t = std::get<std::string>(v);
        if (t != "0") parse_walltime(t, "site.overrun");
      });
  Schema& p = s.named_records("partitions", "a set of identical nodes jobs are charged for", 1);
  p.boolean("default", false, "the partition a job without -p gets");
  p.integer("nodes", std::nullopt, "nodes in the partition").at_least(1).at_most(1e6);
  p.integer("cpus_per_node", std::nullopt, "CPUs per node").at_least(1).at_most(1e5);
  p.integer("gpus_per_node", std::nullopt, "GPUs per node").at_least(0).at_most(64);
  p.string("gpu_type", "", "the GPU type (what grants name); needed when gpus_per_node > 0");
  p.string("max_walltime", "unlimited", "the longest time limit a job may ask for (or \"unlimited\")")
      .checked_by([](const Value& v) { walltime_or_unlimited(std::get<std::string>(v), "max_walltime"); });
  p.real("charge_factor", 1.0, "GPU-hours charged per GPU-hour used").at_least(0).at_most(1000);
  p.add_check([](const Input& in) {
    if (in.get_int("gpus_per_node") > 0 && in.get_string("gpu_type").empty()) {
      throw InputError("gpus_per_node is " + std::to_string(in.get_int("gpus_per_node")) +
                       ", so gpu_type must name the GPU");
    }
  });
  s.string("site.signal_margin", "",
           "how long before a job's time limit Slurm sends it the walltime warning (--signal=B:USR1@<margin>), "
           "for gosok run to checkpoint and stop (\"\": no warning)")
      .checked_by([](const Value& v) {
        const auto& t = std::get<std::string>(v);
        // sbatch --signal takes at most 65535 seconds.
        if (!t.empty() && parse_walltime(t, "site.signal_margin") > 65535) {
          throw InputError("it is over 65535 s, the most sbatch --signal takes");
        }
      });
  s.table("site.rank_environment",
          "variables distributed runs that ask for the rank environment also get (NCCL's network settings): "
          "NAME = \"value\"");
  Schema& rt = s.named_records("runtimes", "ways to run a command in a container image ({image} is the step's)");
  rt.boolean("default", false, "the runtime a step with an image and no runtime gets");
  rt.list("launcher_options", ParamType::string, List{}, "words appended to the site's launcher (pyxis: srun's)");
  rt.list("wrapper", ParamType::string, List{}, "words between the launcher and the command (apptainer exec ...)");
  rt.add_check([](const Input& in) {
    bool has_image = false;
    for (const auto* key : {"launcher_options", "wrapper"}) {
      for (const auto& w : in.get_strings(key)) has_image = has_image || w.find("{image}") != std::string::npos;
    }
    if (!has_image) throw InputError("it names no {image} in launcher_options or wrapper");
  });
  return s;
}

}  // namespace

Site parse_site(const std::string& text, const std::string& source) {
  const Input in = resolve_text(site_schema(), text, source);
  Site site;
  site.source = source;
  site.name = in.get_string("site.name");
  site.description = in.get_string("site.description");
  site.scheduler = in.get_string("site.scheduler");
  for (const auto& w : split(in.get_string("site.launcher"), ' '))
    if (!w.empty()) site.launcher.push_back(w);
  // Launcher words reach the script shell-quoted, so any printable word is safe.
  site.account_format = in.get_string("site.account_format");
  site.template_name = in.get_string("site.template");
  site.ledger = in.get_string("site.ledger");
  site.gosok_path = in.get_string("site.gosok");
  site.setup = in.get_strings("site.setup");
  site.example = in.get_bool("site.example");
  const std::string overrun = in.get_string("site.overrun");
  site.overrun_s = overrun == "0" ? 0 : parse_walltime(overrun, "site.overrun");
  const std::string margin = in.get_string("site.signal_margin");
  site.signal_margin_s = margin.empty() ? 0 : parse_walltime(margin, "site.signal_margin");
  for (const auto& a : in.get_assignments("site.rank_environment")) {
    if (!is_variable_name(a.key)) {
      throw InputError(
          fmt::format("{}: key 'site.rank_environment.{}': a variable's name is letters, digits and _, "
                      "not starting with a digit",
                      a.origin, a.key));
    }
    site.rank_environment.emplace_back(a.key, a.text);
  }
  int default_runtimes = 0;
  for (const auto& record : in.records("runtimes")) {
    ContainerRuntime runtime;
    runtime.name = record.name;
    require_token(record.origin + ": runtime name", runtime.name);
    runtime.is_default = record.values.get_bool("default");
    runtime.launcher_options = record.values.get_strings("launcher_options");
    runtime.wrapper = record.values.get_strings("wrapper");
    if (runtime.is_default) ++default_runtimes;
    site.runtimes.push_back(runtime);
  }
  if (default_runtimes > 1) throw InputError(source + ": more than one runtime has default = true");
  int defaults = 0;
  for (const auto& record : in.records("partitions")) {
    const Input& p = record.values;
    Partition part;
    part.name = record.name;
    require_token(record.origin + ": partition name", part.name);
    part.is_default = p.get_bool("default");
    part.nodes = static_cast<int>(p.get_int("nodes"));
    part.cpus_per_node = static_cast<int>(p.get_int("cpus_per_node"));
    part.gpus_per_node = static_cast<int>(p.get_int("gpus_per_node"));
    part.gpu_type = p.get_string("gpu_type");
    part.max_walltime_s = walltime_or_unlimited(p.get_string("max_walltime"), "max_walltime");
    part.charge_factor = p.get_real("charge_factor");
    if (part.is_default) ++defaults;
    site.partitions.push_back(part);
  }
  if (defaults > 1) throw InputError(source + ": more than one partition has default = true");
  return site;
}

Site load_site_file(const std::string& path) { return parse_site(read_text_file(path), path); }

std::vector<std::string> center_dirs(const std::string& kind) {
  std::vector<std::string> dirs;
  const fs::path exe = fs::path(self_executable()).parent_path();
  dirs.push_back((exe.parent_path() / "share" / "gosok" / kind).string());
#ifdef GOSOK_SCHED_SOURCE_DIR
  dirs.push_back(std::string(GOSOK_SCHED_SOURCE_DIR) + "/" + kind);
#endif
  return dirs;
}

std::vector<std::string> data_dirs(const std::string& kind) {
  std::vector<std::string> dirs;
  if (const auto path = env(kind == "site_configs" ? "GOSOK_SITE_PATH" : "GOSOK_TEMPLATE_PATH")) {
    for (const auto& d : split(*path, ':'))
      if (!d.empty()) dirs.push_back(d);
  }
  for (auto& d : center_dirs(kind)) dirs.push_back(std::move(d));
  return dirs;
}

namespace {

// Whether `file` lies directly in one of the center's folders (compared as real paths, so
// neither a symlink nor "..", nor the same folder named through $GOSOK_SITE_PATH, fools it).
bool in_center_dir(const fs::path& file, const std::string& kind) {
  std::error_code ec;
  const fs::path dir = fs::canonical(file, ec).parent_path();
  if (ec) return false;
  for (const auto& d : center_dirs(kind)) {
    std::error_code ec2;
    const fs::path c = fs::canonical(d, ec2);
    if (!ec2 && c == dir) return true;
  }
  return false;
}

Site load_found_site(const fs::path& file) {
  Site site = load_site_file(file.string());
  site.trusted = in_center_dir(file, "site_configs");
  return site;
}

Site embedded_localhost() {
  Site site = parse_site(embedded_localhost_site(), "<embedded localhost.toml>");
  site.trusted = true;
  return site;
}

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
    return warn_if_example(load_found_site(name));
  }
  require_token("site name", name);
  std::string searched;
  for (const auto& dir : data_dirs("site_configs")) {
    const fs::path f = fs::path(dir) / (name + ".toml");
    if (fs::exists(f)) return warn_if_example(load_found_site(f));
    searched += (searched.empty() ? "" : ", ") + dir;
  }
  if (name == "localhost") return embedded_localhost();
  throw InputError(fmt::format("no site '{}': looked for {}.toml in {} (set GOSOK_SITE_PATH, or pass --site FILE)",
                               name, name, searched));
}

Site center_site(const std::string& name) {
  require_token("site name", name);
  std::string searched;
  for (const auto& dir : center_dirs("site_configs")) {
    const fs::path f = fs::path(dir) / (name + ".toml");
    if (fs::exists(f)) return load_found_site(f);
    searched += (searched.empty() ? "" : ", ") + dir;
  }
  if (name == "localhost") return embedded_localhost();
  throw InputError(fmt::format("the center has no site '{}' (looked for {}.toml in {})", name, name, searched));
}

void require_center_pricing(const Site& site) {
  if (site.trusted) return;
  Site center;
  try {
    center = center_site(site.name);
  } catch (const InputError& e) {
    throw InputError(
        fmt::format("site file {} is not one the center installed, and {}: a job charged to a grant is priced by the "
                    "center's site configuration (a site file of your own works with --dry-run)",
                    site.source, e.what()));
  }
  auto differ = [&](const std::string& what, const std::string& mine, const std::string& theirs) {
    throw InputError(fmt::format(
        "site file {} prices jobs otherwise than the center's site '{}' ({}): {} is {} there but {} in the "
        "center's; a job charged to a grant is priced by the center's site configuration (a site file of your "
        "own may change the launcher, setup lines or template, never partitions, limits or charge factors)",
        site.source, center.name, center.source, what, mine, theirs));
  };
  if (site.scheduler != center.scheduler) differ("site.scheduler", site.scheduler, center.scheduler);
  if (site.account_format != center.account_format) {
    differ("site.account_format", site.account_format, center.account_format);
  }
  if (site.overrun_s != center.overrun_s) {
    differ("site.overrun", format_walltime(site.overrun_s), format_walltime(center.overrun_s));
  }
  if (site.partition_names() != center.partition_names()) {
    differ("the list of partitions", site.partition_names(), center.partition_names());
  }
  for (std::size_t i = 0; i < site.partitions.size(); ++i) {
    const Partition& a = site.partitions[i];
    const Partition& b = center.partitions[i];
    const std::string p = "partitions." + a.name + ".";
    if (a.is_default != b.is_default)
      differ(p + "default", a.is_default ? "true" : "false", b.is_default ? "true" : "false");
    if (a.nodes != b.nodes) differ(p + "nodes", std::to_string(a.nodes), std::to_string(b.nodes));
    if (a.cpus_per_node != b.cpus_per_node) {
      differ(p + "cpus_per_node", std::to_string(a.cpus_per_node), std::to_string(b.cpus_per_node));
    }
    if (a.gpus_per_node != b.gpus_per_node) {
      differ(p + "gpus_per_node", std::to_string(a.gpus_per_node), std::to_string(b.gpus_per_node));
    }
    if (lower(a.gpu_type) != lower(b.gpu_type)) differ(p + "gpu_type", a.gpu_type, b.gpu_type);
    if (a.max_walltime_s != b.max_walltime_s) {
      differ(p + "max_walltime", std::to_string(a.max_walltime_s) + " s", std::to_string(b.max_walltime_s) + " s");
    }
    if (a.charge_factor != b.charge_factor) {
      differ(p + "charge_factor", fmt::format("{}", a.charge_factor), fmt::format("{}", b.charge_factor));
    }
  }
}

std::string load_template(const std::string& name_or_path, std::string* source, bool* trusted) {
  const std::string name = name_or_path.empty() ? "default.sbatch" : name_or_path;
  if (trusted) *trusted = false;
  if (name.find('/') != std::string::npos) {
    if (source) *source = name;
    if (trusted) *trusted = in_center_dir(name, "job_templates");
    return read_text_file(name);
  }
  require_token("template name", name);
  for (const auto& dir : data_dirs("job_templates")) {
    const fs::path f = fs::path(dir) / name;
    if (fs::exists(f)) {
      if (source) *source = f.string();
      if (trusted) *trusted = in_center_dir(f, "job_templates");
      return read_text_file(f.string());
    }
  }
  if (name == "default.sbatch") {
    if (source) *source = "<embedded default.sbatch>";
    if (trusted) *trusted = true;
    return embedded_default_template();
  }
  throw InputError("no job template '" + name + "' (set GOSOK_TEMPLATE_PATH or give a path)");
}

std::string center_template(const std::string& name_or_path, std::string* source) {
  const std::string name = name_or_path.empty() ? "default.sbatch" : name_or_path;
  if (name.find('/') == std::string::npos) {
    require_token("template name", name);
    for (const auto& dir : center_dirs("job_templates")) {
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
  } else if (in_center_dir(name, "job_templates")) {
    if (source) *source = name;
    return read_text_file(name);
  }
  throw InputError("the center has no job template '" + name + "'");
}

}  // namespace gosok::sched
