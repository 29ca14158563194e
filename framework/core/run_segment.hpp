#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace gosok {

/// A *segment* is one stretch of a run between its start (or a restart) and the moment that
/// process ended: the step it began at and the number of MPI ranks it ran on. A run that
/// was never restarted has one segment; every output file and checkpoint records the list,
/// so a file continued by a restart on another rank count says both.
struct RunSegment {
  std::int64_t first_step = 0;
  std::int64_t ranks = 1;
};

/// The segments of a run restarted at `step` on `ranks` ranks from a checkpoint whose
/// history is `recorded`: the recorded segments that began before `step` (a restart from an
/// older checkpoint replaces what came after it), then the new one.
inline std::vector<RunSegment> continue_segments(std::vector<RunSegment> recorded, long step, int ranks) {
  std::vector<RunSegment> out;
  for (const auto& s : recorded) {
    if (s.first_step < step) out.push_back(s);
  }
  out.push_back({step, ranks});
  return out;
}

inline nlohmann::json segments_json(const std::vector<RunSegment>& segments) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : segments) out.push_back({{"first_step", s.first_step}, {"ranks", s.ranks}});
  return out;
}

}  // namespace gosok
