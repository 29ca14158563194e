#include <gosok/core/gpu_energy.hpp>

#include <dlfcn.h>
#include <fmt/format.h>

#include <map>
#include <optional>
#include <sstream>

#include <gosok/core/environment.hpp>

namespace gosok {

// The few NVML entry points used, declared here from NVML's documented C API: a build
// needs no NVML header. nvmlReturn_t is an enum (0 = success), nvmlDevice_t an opaque
// pointer.
struct NvmlEnergyCounters::Api {
  using Return = int;
  Return (*init)();
  Return (*shutdown)();
  Return (*device_count)(unsigned int*);
  Return (*device_by_index)(unsigned int, void**);
  Return (*device_uuid)(void*, char*, unsigned int);
  Return (*total_energy)(void*, unsigned long long*);
  const char* (*error_string)(Return);

  std::string describe(Return rc) const {
    return fmt::format("NVML error {} ({})", rc, error_string != nullptr ? error_string(rc) : "no nvmlErrorString");
  }
};

namespace {

template <class F>
bool bind(void* library, const char* name, F& function) {
  function = reinterpret_cast<F>(dlsym(library, name));
  return function != nullptr;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

}  // namespace

NvmlEnergyCounters::NvmlEnergyCounters() {
  const std::string path = env("GOSOK_NVML_LIBRARY").value_or("libnvidia-ml.so.1");
  m_library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (m_library == nullptr) {
    const char* why = dlerror();
    m_error = "NVML is not available (" + std::string(why != nullptr ? why : path) + ")";
    return;
  }
  m_api = std::make_unique<Api>();
  Api& api = *m_api;
  if (!bind(m_library, "nvmlInit_v2", api.init) || !bind(m_library, "nvmlShutdown", api.shutdown) ||
      !bind(m_library, "nvmlDeviceGetCount_v2", api.device_count) ||
      !bind(m_library, "nvmlDeviceGetHandleByIndex_v2", api.device_by_index) ||
      !bind(m_library, "nvmlDeviceGetUUID", api.device_uuid) ||
      !bind(m_library, "nvmlDeviceGetTotalEnergyConsumption", api.total_energy)) {
    m_error = path + " lacks an NVML function gosok needs (nvmlDeviceGetTotalEnergyConsumption and its helpers)";
    api.init = nullptr;
    return;
  }
  bind(m_library, "nvmlErrorString", api.error_string);
  if (const int rc = api.init(); rc != 0) {
    m_error = "nvmlInit failed: " + api.describe(rc);
    api.init = nullptr;
    return;
  }
  unsigned int count = 0;
  if (const int rc = api.device_count(&count); rc != 0) {
    m_error = "nvmlDeviceGetCount failed: " + api.describe(rc);
    return;
  }
  std::vector<void*> all(count);
  std::vector<std::string> uuids(count);
  for (unsigned int i = 0; i < count; ++i) {
    char uuid[96] = {};  // NVML_DEVICE_UUID_V2_BUFFER_SIZE
    int rc = api.device_by_index(i, &all[i]);
    if (rc == 0) rc = api.device_uuid(all[i], uuid, sizeof uuid);
    if (rc != 0) {
      m_error = fmt::format("GPU {} cannot be opened: {}", i, api.describe(rc));
      return;
    }
    uuids[i] = uuid;
  }
  // CUDA_VISIBLE_DEVICES narrows the list as CUDA would: indices into NVML's order (the
  // PCI order, which is CUDA's too on a node of one GPU model) or UUID prefixes.
  const std::optional<std::string> visible =
      env_set("CUDA_VISIBLE_DEVICES") ? env("CUDA_VISIBLE_DEVICES").value_or("") : std::optional<std::string>();
  if (!visible) {
    m_devices = all;
    m_uuids = uuids;
  } else {
    for (const std::string& entry : split(*visible, ',')) {
      if (entry.rfind("MIG-", 0) == 0) {
        m_error = "CUDA_VISIBLE_DEVICES names a MIG instance (" + entry + "), which has no energy counter of its own";
        return;
      }
      for (unsigned int i = 0; i < count; ++i) {
        const bool by_uuid = entry.rfind("GPU-", 0) == 0 && uuids[i].rfind(entry, 0) == 0;
        const bool by_index =
            !entry.empty() && entry.find_first_not_of("0123456789") == std::string::npos && std::stoul(entry) == i;
        if (by_uuid || by_index) {
          m_devices.push_back(all[i]);
          m_uuids.push_back(uuids[i]);
        }
      }
    }
  }
  if (m_devices.empty()) {
    m_error = visible ? "no NVIDIA GPU is visible to this run (CUDA_VISIBLE_DEVICES=\"" + *visible + "\")"
                      : "NVML lists no GPU";
  }
}

NvmlEnergyCounters::~NvmlEnergyCounters() {
  if (m_api != nullptr && m_api->init != nullptr) m_api->shutdown();
  m_api.reset();
  if (m_library != nullptr) dlclose(m_library);
}

std::vector<GpuEnergyReading> NvmlEnergyCounters::read(std::string& why) const {
  if (!m_error.empty()) {
    why = m_error;
    return {};
  }
  std::vector<GpuEnergyReading> out;
  for (std::size_t k = 0; k < m_devices.size(); ++k) {
    unsigned long long mj = 0;
    if (const int rc = m_api->total_energy(m_devices[k], &mj); rc != 0) {
      why = "GPU " + m_uuids[k] + " reports no energy counter: " + m_api->describe(rc);
      return {};
    }
    out.push_back({m_uuids[k], mj});
  }
  return out;
}

GpuEnergyMeter::GpuEnergyMeter(MPI_Comm comm) : m_comm(comm) {
  m_start = m_counters.read(m_start_error);
  m_started = std::chrono::steady_clock::now();
}

RunEnergy GpuEnergyMeter::finish() {
  std::string error = m_start_error;
  std::vector<GpuEnergyReading> end;
  if (error.empty()) end = m_counters.read(error);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_started).count();
  // One line per GPU, "uuid start end", or "!why" when this rank could not read them.
  std::string mine;
  if (!error.empty()) {
    mine = "!" + error;
  } else {
    for (std::size_t k = 0; k < end.size(); ++k) {
      mine += fmt::format("{} {} {}\n", m_start[k].uuid, m_start[k].millijoules, end[k].millijoules);
    }
  }
  int rank = 0, size = 1;
  MPI_Comm_rank(m_comm, &rank);
  MPI_Comm_size(m_comm, &size);
  int length = static_cast<int>(mine.size());
  std::vector<int> lengths(static_cast<std::size_t>(size)), offsets(static_cast<std::size_t>(size));
  MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, m_comm);
  std::string all;
  if (rank == 0) {
    int total = 0;
    for (int r = 0; r < size; ++r) {
      offsets[static_cast<std::size_t>(r)] = total;
      total += lengths[static_cast<std::size_t>(r)];
    }
    all.resize(static_cast<std::size_t>(total));
  }
  MPI_Gatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, 0, m_comm);
  if (rank != 0) return {};

  RunEnergy energy;
  energy.job = current_job_id();
  std::map<std::string, double> joules;  // by GPU, first rank's reading
  for (int r = 0; r < size; ++r) {
    const std::string part = all.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]),
                                        static_cast<std::size_t>(lengths[static_cast<std::size_t>(r)]));
    if (!part.empty() && part[0] == '!') {
      energy.reason = size > 1 ? fmt::format("rank {}: {}", r, part.substr(1)) : part.substr(1);
      return energy;
    }
    for (const std::string& line : split(part, '\n')) {
      std::istringstream in(line);
      std::string uuid;
      unsigned long long start = 0, stop = 0;
      if (!(in >> uuid >> start >> stop)) continue;
      if (stop < start) {
        energy.reason = "the energy counter of GPU " + uuid + " went backwards (was the driver reloaded?)";
        return energy;
      }
      joules.emplace(uuid, static_cast<double>(stop - start) / 1000.0);
    }
  }
  energy.measured = true;
  energy.gpus = static_cast<int>(joules.size());
  for (const auto& [uuid, j] : joules) energy.joules += j;
  energy.seconds = seconds;
  energy.mean_watts = seconds > 0 ? energy.joules / seconds : 0.0;
  energy.source = "NVML nvmlDeviceGetTotalEnergyConsumption";
  return energy;
}

}  // namespace gosok
