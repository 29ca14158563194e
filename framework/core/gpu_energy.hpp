#pragma once

#include <mpi.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gosok/core/run_energy.hpp>

namespace gosok {

/// One reading of a GPU's cumulative energy counter.
struct GpuEnergyReading {
  std::string uuid;
  unsigned long long millijoules = 0;  // since the driver was loaded
};

/// NVIDIA GPUs' cumulative energy counters, read through NVML
/// (nvmlDeviceGetTotalEnergyConsumption). NVML is opened at run time with dlopen, so a
/// build needs neither NVML nor a GPU, and a machine without NVIDIA GPUs has no counters.
/// The library is libnvidia-ml.so.1, or the file $GOSOK_NVML_LIBRARY names (the tests
/// point it at a fake). The GPUs read are the ones NVML lists, narrowed by
/// CUDA_VISIBLE_DEVICES when that is set (indices or GPU-… UUIDs, as CUDA takes them;
/// Slurm sets it to the job's GPUs): the GPUs the job was given, which are the ones it is
/// charged for.
class NvmlEnergyCounters {
 public:
  NvmlEnergyCounters();  // never throws: an unusable NVML leaves error() set
  ~NvmlEnergyCounters();
  NvmlEnergyCounters(const NvmlEnergyCounters&) = delete;
  NvmlEnergyCounters& operator=(const NvmlEnergyCounters&) = delete;

  /// Empty when the counters can be read; otherwise why not.
  const std::string& error() const { return m_error; }
  std::size_t gpus() const { return m_devices.size(); }
  /// Reads every selected GPU; on a failed read returns {} and says why in `why`.
  std::vector<GpuEnergyReading> read(std::string& why) const;

 private:
  struct Api;
  void* m_library = nullptr;
  std::unique_ptr<Api> m_api;
  std::vector<void*> m_devices;  // nvmlDevice_t handles
  std::vector<std::string> m_uuids;
  std::string m_error;
};

/// The energy a run's GPUs used: the counters are read when the meter is built and again
/// at finish(), on every rank; each GPU counts once, however many ranks share it (GPUs are
/// told apart by UUID, which is unique across nodes).
class GpuEnergyMeter {
 public:
  explicit GpuEnergyMeter(MPI_Comm comm);
  /// Collective. The run's energy on rank 0; other ranks get an empty record.
  RunEnergy finish();

 private:
  MPI_Comm m_comm;
  NvmlEnergyCounters m_counters;
  std::vector<GpuEnergyReading> m_start;
  std::string m_start_error;
  std::chrono::steady_clock::time_point m_started;
};

}  // namespace gosok
