#include <gosok/core/environment.hpp>

#include <fmt/format.h>

#include <cstdlib>
#include <iterator>
#include <stdexcept>

namespace gosok {

namespace {

constexpr EnvVar table[] = {
    {"GOSOK_SITE", "site used when --site is not given (default localhost)"},
    {"GOSOK_SITE_PATH", "':'-separated folders searched for <site>.toml before the installed site_configs"},
    {"GOSOK_TEMPLATE_PATH", "':'-separated folders searched for job templates before the installed ones"},
    {"GOSOK_GRANT", "grant charged when --grant is not given"},
    {"GOSOK_LEDGER", "ledger used when --ledger is not given (an SQLite file, or postgresql://... / service=NAME)"},
    {"GOSOK_RESULTS",
     "results store of gosok regress and walltime predictions (default results.sqlite beside the ledger)"},
    {"GOSOK_OUTPUT_ROOT", "folder under which gosok submit creates job folders (default ./gosok-out)"},
    {"GOSOK_EXECUTABLE", "gosok executable that job scripts run (default: this one)"},
    {"GOSOK_NVML_LIBRARY", "NVML library gosok run reads GPU energy counters from (default libnvidia-ml.so.1)"},
    {"CUDA_VISIBLE_DEVICES", "the GPUs of this job (set by Slurm); gosok run counts their energy, \"\" none"},
    {"GOSOK_JOB_ID", "set by the local backend: the gosok id of the job a run belongs to"},
    {"GOSOK_WALLTIME_WARNING",
     "set by a job script when the walltime warning came before the launch: gosok run stops after its first step"},
    {"SLURM_JOB_ID", "in a Slurm job, its id, recorded with the run's energy"},
    {"SLURM_ARRAY_JOB_ID", "in a Slurm array task, the array's id (with the task index, the run's job)"},
    {"XDG_CONFIG_HOME", "base of the user config, $XDG_CONFIG_HOME/gosok/config.toml (default ~/.config)"},
    {"XDG_DATA_HOME", "base of the default ledger, $XDG_DATA_HOME/gosok (default ~/.local/share)"},
    {"HOME", "the user's home, for the defaults above"},
    {"SLURM_CONF", "the Slurm configuration the Slurm commands gosok runs read"},
    {"SLURM_ARRAY_TASK_ID", "in a Slurm array task, its index (gosok run --set-from-array, %a in --results)"},
    {"USER", "the user gosok grants provision associates when --user is not given"},
#ifdef GOSOK_TEST_HOOKS
    {"GOSOK_TEST_CRASH_AFTER_SBATCH", "test hook: 1 makes gosok submit exit (70) between sbatch and the ledger commit"},
#endif
};

}  // namespace

std::vector<EnvVar> environment_variables() { return {std::begin(table), std::end(table)}; }

std::optional<std::string> env(const std::string& name) {
  for (const auto& v : table) {
    if (name == v.name) {
      const char* value = std::getenv(v.name);
      if (!value || !*value) return std::nullopt;
      return std::string(value);
    }
  }
  throw std::logic_error("environment variable " + name + " is not declared in framework/core/environment.cpp");
}

bool env_set(const std::string& name) {
  env(name);  // refuses an undeclared name
  return std::getenv(name.c_str()) != nullptr;
}

std::string describe_environment() {
  std::string out;
  for (const auto& v : table) {
    const char* value = std::getenv(v.name);
    out += fmt::format("  {:<22} {}\n  {:<22} {}\n", v.name, value && *value ? value : "(unset)", "", v.meaning);
  }
  return out;
}

}  // namespace gosok
