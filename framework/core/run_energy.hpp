#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace gosok {

/// The energy the GPUs of one run used, as `gosok run` records it under the key "energy"
/// of the run's diagnostics.json, and as the ledger (when it settles the job) and the
/// regression harness (per case) read it back. Either measured, from the GPUs' cumulative
/// energy counters read at the start and the end of the run, or not measured, with the
/// reason: a run without such counters has no energy figure, never a zero.
///
///   {"measured": true, "joules": 5321.4, "mean_watts": 412.5, "seconds": 12.9, "gpus": 1,
///    "source": "NVML nvmlDeviceGetTotalEnergyConsumption", "job": "4711"}
///   {"measured": false, "reason": "NVML is not available (...)", "job": "4711"}
///
/// `job` is the job the run belonged to, empty outside a job: the gosok id the local backend
/// sets (GOSOK_JOB_ID), else the Slurm job id (SLURM_JOB_ID; <array id>_<task> for an array
/// task); so a folder reused by a later job is not mistaken for this one's.
struct RunEnergy {
  bool measured = false;
  std::string reason;  // why not measured
  double joules = 0;
  double mean_watts = 0;
  double seconds = 0;
  int gpus = 0;
  std::string source;
  std::string job;

  static RunEnergy not_measured(std::string why) {
    RunEnergy e;
    e.reason = std::move(why);
    return e;
  }
  nlohmann::json to_json() const;
  /// Throws InputError naming `where` when `j` is not an energy record.
  static RunEnergy from_json(const nlohmann::json& j, const std::string& where);
  /// "5321.4 J (1.478e-03 kWh) on 1 GPU, mean 412.5 W over 12.9 s" or "not measured: ...".
  std::string summary() const;
};

/// The job the current process belongs to: GOSOK_JOB_ID, else the Slurm job (array task), else "".
std::string current_job_id();

/// The energy record in a run's diagnostics.json; nullopt when the file does not exist or
/// has no "energy" key. Throws InputError when the file or the record is malformed.
std::optional<RunEnergy> read_run_energy(const std::filesystem::path& diagnostics_json);

}  // namespace gosok
