#include <gosok/core/timers.hpp>

#include <fmt/format.h>

namespace gosok {

void Timers::add(const std::string& name, double seconds) {
  auto& s = m_stats[name];
  s.seconds += seconds;
  s.calls += 1;
}

std::string Timers::summary(const std::vector<double>& min, const std::vector<double>& max,
                            const std::vector<double>& avg) const {
  std::string out =
      fmt::format("{:<32} {:>8} {:>12} {:>12} {:>12}\n", "region", "calls", "min [s]", "avg [s]", "max [s]");
  std::size_t i = 0;
  for (const auto& [name, stat] : m_stats) {
    out +=
        fmt::format("{:<32} {:>8} {:>12.4f} {:>12.4f} {:>12.4f}\n", name, stat.calls, min.at(i), avg.at(i), max.at(i));
    ++i;
  }
  return out;
}

}  // namespace gosok
