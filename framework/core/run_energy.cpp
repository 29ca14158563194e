#include <gosok/core/run_energy.hpp>

#include <fmt/format.h>

#include <fstream>

#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>

namespace gosok {

nlohmann::json RunEnergy::to_json() const {
  nlohmann::json j{{"measured", measured}};
  if (measured) {
    j["joules"] = joules;
    j["mean_watts"] = mean_watts;
    j["seconds"] = seconds;
    j["gpus"] = gpus;
    j["source"] = source;
  } else {
    j["reason"] = reason;
  }
  j["job"] = job;
  return j;
}

RunEnergy RunEnergy::from_json(const nlohmann::json& j, const std::string& where) {
  auto bad = [&](const std::string& what) {
    return InputError(
        where + ": \"energy\" " + what +
        " (expected {\"measured\": true, \"joules\": ..., ...} or {\"measured\": false, \"reason\": ...})");
  };
  if (!j.is_object() || !j.contains("measured") || !j["measured"].is_boolean()) throw bad("has no boolean 'measured'");
  RunEnergy e;
  e.measured = j["measured"].get<bool>();
  if (j.contains("job") && j["job"].is_string()) e.job = j["job"].get<std::string>();
  if (!e.measured) {
    e.reason = j.value("reason", std::string("no reason given"));
    return e;
  }
  for (const char* key : {"joules", "mean_watts", "seconds"}) {
    if (!j.contains(key) || !j[key].is_number() || j[key].get<double>() < 0) {
      throw bad(std::string("has no non-negative number '") + key + "'");
    }
  }
  if (!j.contains("gpus") || !j["gpus"].is_number_integer() || j["gpus"].get<int>() < 1) {
    throw bad("has no positive integer 'gpus'");
  }
  e.joules = j["joules"].get<double>();
  e.mean_watts = j["mean_watts"].get<double>();
  e.seconds = j["seconds"].get<double>();
  e.gpus = j["gpus"].get<int>();
  e.source = j.value("source", std::string());
  return e;
}

std::string RunEnergy::summary() const {
  if (!measured) return "not measured: " + reason;
  return fmt::format("{:.1f} J ({:.3e} kWh) on {} GPU{}, mean {:.1f} W over {:.1f} s", joules, joules / 3.6e6, gpus,
                     gpus == 1 ? "" : "s", mean_watts, seconds);
}

std::string current_job_id() {
  if (auto gosok = env("GOSOK_JOB_ID")) return *gosok;
  // An array task is known to Slurm accounting, and to the ledger, as <array id>_<task>.
  const auto array = env("SLURM_ARRAY_JOB_ID"), task = env("SLURM_ARRAY_TASK_ID");
  if (array && task) return *array + "_" + *task;
  return env("SLURM_JOB_ID").value_or("");
}

std::optional<RunEnergy> read_run_energy(const std::filesystem::path& diagnostics_json) {
  std::ifstream in(diagnostics_json);
  if (!in) return std::nullopt;
  const nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    throw InputError(diagnostics_json.string() + ": not a JSON object");
  }
  if (!doc.contains("energy")) return std::nullopt;
  return RunEnergy::from_json(doc["energy"], diagnostics_json.string());
}

}  // namespace gosok
