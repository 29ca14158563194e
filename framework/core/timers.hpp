#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace gosok {

/// Accumulated wall time per named region ("weather::step"). Regions nest freely; each
/// name accumulates its own total and call count. The runtime reduces them over ranks and
/// prints a summary at the end of a run.
class Timers {
 public:
  struct Stat {
    double seconds = 0;
    long calls = 0;
  };
  using clock = std::chrono::steady_clock;

  void add(const std::string& name, double seconds);
  const std::map<std::string, Stat>& stats() const { return m_stats; }
  void clear() { m_stats.clear(); }

  /// Summary table; `min`, `max` are per-region over ranks (same order as stats()).
  std::string summary(const std::vector<double>& min, const std::vector<double>& max,
                      const std::vector<double>& avg) const;

 private:
  std::map<std::string, Stat> m_stats;
};

/// Times a scope into a Timers table.
class ScopedTimer {
 public:
  ScopedTimer(Timers& timers, std::string name)
      : m_timers(timers), m_name(std::move(name)), m_start(Timers::clock::now()) {}
  ~ScopedTimer() { m_timers.add(m_name, std::chrono::duration<double>(Timers::clock::now() - m_start).count()); }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  Timers& m_timers;
  std::string m_name;
  Timers::clock::time_point m_start;
};

}  // namespace gosok
