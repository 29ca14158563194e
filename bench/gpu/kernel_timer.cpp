// A Kokkos profiling tool (loaded with KOKKOS_TOOLS_LIBS=libgosok_kernel_timer.so) that
// times every labelled kernel. It asks Kokkos for global fencing, so a kernel's end
// callback comes after the kernel finished on the device and begin-to-end is the
// kernel's own time (plus the launch). At finalize it writes one line per kernel,
//   <label> \t <calls> \t <seconds in total>
// to the file $GOSOK_KERNEL_TIMES (standard error without it). bench/gpu/report.py turns
// the times into memory bandwidths.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct Totals {
  long calls = 0;
  double seconds = 0;
};

// A tool's state lives from kokkosp_init_library to kokkosp_finalize_library; Kokkos calls
// these entry points from the thread that launches kernels, one at a time.
struct State {
  std::map<std::string, Totals> kernels;
  std::vector<std::pair<std::string, clock_type::time_point>> open;  // kernels begun, by id
};
State* state = nullptr;

void begin(const char* name, std::uint64_t* id) {
  if (state == nullptr) return;
  *id = state->open.size();
  state->open.emplace_back(name, clock_type::now());
}

void end(std::uint64_t id) {
  if (state == nullptr || id >= state->open.size()) return;
  const auto& [name, start] = state->open[id];
  Totals& t = state->kernels[name];
  t.calls += 1;
  t.seconds += std::chrono::duration<double>(clock_type::now() - start).count();
  if (id + 1 == state->open.size()) state->open.pop_back();
}

}  // namespace

extern "C" {

struct Kokkos_Tools_ToolSettings {
  bool requires_global_fencing;
  bool padding[255];
};

void kokkosp_request_tool_settings(const std::uint32_t, Kokkos_Tools_ToolSettings* settings) {
  settings->requires_global_fencing = true;
}

void kokkosp_init_library(const int, const std::uint64_t, const std::uint32_t, void*) { state = new State; }

void kokkosp_finalize_library() {
  if (state == nullptr) return;
  const char* path = std::getenv("GOSOK_KERNEL_TIMES");
  FILE* out = path != nullptr ? std::fopen(path, "w") : stderr;
  if (out != nullptr) {
    for (const auto& [name, t] : state->kernels) std::fprintf(out, "%s\t%ld\t%.9f\n", name.c_str(), t.calls, t.seconds);
    if (out != stderr) std::fclose(out);
  }
  delete state;
  state = nullptr;
}

void kokkosp_begin_parallel_for(const char* name, const std::uint32_t, std::uint64_t* id) { begin(name, id); }
void kokkosp_end_parallel_for(const std::uint64_t id) { end(id); }
void kokkosp_begin_parallel_reduce(const char* name, const std::uint32_t, std::uint64_t* id) { begin(name, id); }
void kokkosp_end_parallel_reduce(const std::uint64_t id) { end(id); }
void kokkosp_begin_parallel_scan(const char* name, const std::uint32_t, std::uint64_t* id) { begin(name, id); }
void kokkosp_end_parallel_scan(const std::uint64_t id) { end(id); }

}  // extern "C"
