#include <gosok/scheduler/emit.hpp>

#include <fmt/format.h>

#include <filesystem>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/text.hpp>

namespace gosok::sched {

JobPlan plan_job(const JobRequest& req, const Site& site, const Grant& grant, std::int64_t now) {
  JobPlan plan;
  plan.request = req;
  plan.site_name = site.name;
  require_token("workload", req.workload, false, 64);
  if (plan.request.name.empty()) plan.request.name = req.workload;
  require_token("job name", plan.request.name, false, 64);
  if (!req.output_dir.empty()) require_token("output directory", req.output_dir, true, 1024);
  for (const auto& o : req.overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw InputError("--set '" + o + "' must have the form key=value");
    }
    require_token("--set key", o.substr(0, eq), false, 128);
  }
  if (!req.input_file.empty() && !std::filesystem::exists(req.input_file)) {
    throw InputError("input file '" + req.input_file + "' does not exist");
  }

  const Partition& part = site.partition(req.partition);
  plan.partition = &part;
  if (grant.site != site.name) {
    throw InputError(fmt::format("grant {} is for site '{}', not '{}'", grant.id, grant.site, site.name));
  }
  if (req.nodes < 1 || req.nodes > part.nodes) {
    throw InputError(fmt::format("--nodes {} is not possible on partition '{}': it has {} node(s)", req.nodes,
                                 part.name, part.nodes));
  }
  if (req.ranks_per_node < 1 || req.ranks_per_node > part.cpus_per_node) {
    throw InputError(fmt::format("--ranks-per-node {} is not possible on partition '{}': 1 to {} (CPUs per node)",
                                 req.ranks_per_node, part.name, part.cpus_per_node));
  }
  plan.gpus_per_node = req.gpus_per_node < 0 ? std::min(req.ranks_per_node, part.gpus_per_node) : req.gpus_per_node;
  if (plan.gpus_per_node > part.gpus_per_node) {
    throw InputError(fmt::format(
        "partition '{}' has no nodes with {} GPUs: it has {} {} GPU(s) per node; "
        "partitions of site {}: {}",
        part.name, plan.gpus_per_node, part.gpus_per_node, part.gpu_type, site.name, site.partition_names()));
  }
  if (plan.gpus_per_node > 0 && lower(grant.gpu_type) != lower(part.gpu_type)) {
    throw InputError(fmt::format("grant {} is for {} GPUs, but partition '{}' has {} GPUs", grant.id, grant.gpu_type,
                                 part.name, part.gpu_type));
  }
  if (part.max_walltime_s > 0 && req.walltime_s > part.max_walltime_s) {
    throw InputError(fmt::format("walltime {} is over the limit of partition '{}' ({})",
                                 format_walltime(req.walltime_s), part.name, format_walltime(part.max_walltime_s)));
  }
  if (now < grant.start) {
    throw InputError(fmt::format("grant {} has not started: it runs from {} to {}", grant.id, format_date(grant.start),
                                 format_date(grant.end - 86400)));
  }
  if (now >= grant.end) {
    throw InputError(fmt::format("grant {} has expired: it ended on {}", grant.id, format_date(grant.end - 86400)));
  }
  if (now + req.walltime_s > grant.end) {
    throw InputError(fmt::format("walltime {} would run past the end of grant {} ({} 24:00 UTC)",
                                 format_walltime(req.walltime_s), grant.id, format_date(grant.end - 86400)));
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
  plan.total_gpus = plan.gpus_per_node * req.nodes;
  plan.total_ranks = req.ranks_per_node * req.nodes;
  plan.reserve_gpu_h = plan.total_gpus * (static_cast<double>(req.walltime_s) / 3600.0) * part.charge_factor;
  return plan;
}

std::vector<std::string> launch_argv(const JobPlan& plan, const Site& site, const std::string& gosok_path) {
  std::vector<std::string> argv = site.launcher;
  const std::string& l = site.launcher.front();
  if (l == "mpirun" || l == "mpiexec") {
    argv.push_back("-n");
    argv.push_back(std::to_string(plan.total_ranks));
  }
  argv.push_back(gosok_path);
  argv.push_back("run");
  argv.push_back(plan.request.workload);
  if (!plan.request.input_file.empty()) {
    argv.push_back("--config");
    argv.push_back(std::filesystem::absolute(plan.request.input_file).string());
  }
  bool sets_output = false;
  for (const auto& o : plan.request.overrides) {
    argv.push_back("--set");
    argv.push_back(o);
    if (o.rfind("run.output_dir=", 0) == 0) sets_output = true;
  }
  if (!sets_output && !plan.request.output_dir.empty()) {
    argv.push_back("--set");
    argv.push_back("run.output_dir=" + plan.request.output_dir + "/results");
  }
  return argv;
}

std::map<std::string, std::string> script_values(const JobPlan& plan, const Site& site, const std::string& tag,
                                                 const std::string& gosok_path) {
  std::string launch;
  for (const auto& w : launch_argv(plan, site, gosok_path)) launch += (launch.empty() ? "" : " ") + shell_quote(w);
  std::string setup;
  for (const auto& line : site.setup) setup += line + "\n";
  if (!setup.empty()) setup.pop_back();
  const auto& r = plan.request;
  return {
      {"job_name", r.name},
      {"account", plan.account},
      {"qos", plan.qos},
      {"partition", plan.partition->name},
      {"nodes", std::to_string(r.nodes)},
      {"ntasks_per_node", std::to_string(r.ranks_per_node)},
      {"gpus_per_node", plan.gpus_per_node > 0 ? std::to_string(plan.gpus_per_node) : ""},
      {"walltime", format_walltime(r.walltime_s)},
      {"comment", tag},
      {"hold", r.hold ? "--hold" : ""},
      {"output_dir", r.output_dir},
      {"output_dir_q", shell_quote(r.output_dir)},
      {"setup", setup},
      {"launch", launch},
      {"grant", r.grant_id},
      {"site", site.name},
      {"workload", r.workload},
      {"gpu_hours", fmt::format("{:.4f}", plan.reserve_gpu_h)},
  };
}

std::string render_script(const JobPlan& plan, const Site& site, const std::string& text, const std::string& source,
                          const std::string& tag, const std::string& gosok_path) {
  const auto values = script_values(plan, site, tag, gosok_path);
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

}  // namespace gosok::sched
