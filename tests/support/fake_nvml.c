/* A stand-in for libnvidia-ml.so.1 exporting the NVML entry points gosok's energy meter
 * calls (framework/core/gpu_energy.cpp), so that the measured path runs on machines
 * without NVIDIA GPUs: tests select it with GOSOK_NVML_LIBRARY. It lists FAKE_NVML_GPUS
 * GPUs (default 2); the energy counter of GPU i starts at (i + 1) * 1e6 J and advances by
 * exactly (i + 1) * 100 J each time this process reads it, so a run (one reading at its
 * start, one at its end) used 100 J on GPU 0, 200 J on GPU 1, ... FAKE_NVML_FAIL=init or
 * =energy makes nvmlInit or the energy reading fail as NVML does. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct nvmlDevice_st* nvmlDevice_t;

enum { max_gpus = 16, success = 0, invalid_argument = 2, not_supported = 3, driver_not_loaded = 9 };

static unsigned long long readings[max_gpus];

static unsigned int gpus(void) {
  const char* s = getenv("FAKE_NVML_GPUS");
  const int n = s != NULL ? atoi(s) : 2;
  return n < 0 ? 0u : (n > max_gpus ? (unsigned)max_gpus : (unsigned)n);
}

static int failing(const char* what) {
  const char* s = getenv("FAKE_NVML_FAIL");
  return s != NULL && strcmp(s, what) == 0;
}

static unsigned int index_of(nvmlDevice_t device) { return (unsigned int)((uintptr_t)device - 1); }

int nvmlInit_v2(void) { return failing("init") ? driver_not_loaded : success; }

int nvmlShutdown(void) { return success; }

int nvmlDeviceGetCount_v2(unsigned int* count) {
  *count = gpus();
  return success;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  if (index >= gpus()) return invalid_argument;
  *device = (nvmlDevice_t)(uintptr_t)(index + 1);
  return success;
}

int nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned int length) {
  snprintf(uuid, length, "GPU-fa4e0000-0000-0000-0000-%012u", index_of(device));
  return success;
}

int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long* millijoules) {
  const unsigned int i = index_of(device);
  if (failing("energy")) return not_supported;
  if (i >= gpus()) return invalid_argument;
  *millijoules = (i + 1ULL) * 1000000000ULL + (i + 1ULL) * 100000ULL * readings[i]++;
  return success;
}

const char* nvmlErrorString(int result) {
  switch (result) {
    case success: return "Success";
    case invalid_argument: return "Invalid Argument";
    case not_supported: return "Not Supported";
    case driver_not_loaded: return "Driver Not Loaded";
    default: return "Unknown Error";
  }
}
