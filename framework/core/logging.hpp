#pragma once

#include <fmt/format.h>

#include <string>

namespace gosok {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

/// Parses "error", "warn", "info", "debug"; throws InputError naming the allowed levels.
LogLevel parse_log_level(const std::string& text);

/// Process-wide logger. By default only rank 0 prints (errors print on every rank, since a
/// failure on rank 3 must not be hidden). The runtime tells it the rank once MPI is up.
class Logger {
 public:
  void set_level(LogLevel level) { m_level = level; }
  LogLevel level() const { return m_level; }
  void set_rank(int rank, int size) {
    m_rank = rank;
    m_size = size;
  }
  void set_all_ranks(bool all) { m_all_ranks = all; }
  int rank() const { return m_rank; }

  bool enabled(LogLevel level) const;
  void write(LogLevel level, const std::string& message) const;

  template <class... Args>
  void error(fmt::format_string<Args...> f, Args&&... args) const {
    write(LogLevel::error, fmt::format(f, std::forward<Args>(args)...));
  }
  template <class... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) const {
    if (enabled(LogLevel::warn)) write(LogLevel::warn, fmt::format(f, std::forward<Args>(args)...));
  }
  template <class... Args>
  void info(fmt::format_string<Args...> f, Args&&... args) const {
    if (enabled(LogLevel::info)) write(LogLevel::info, fmt::format(f, std::forward<Args>(args)...));
  }
  template <class... Args>
  void debug(fmt::format_string<Args...> f, Args&&... args) const {
    if (enabled(LogLevel::debug)) write(LogLevel::debug, fmt::format(f, std::forward<Args>(args)...));
  }

 private:
  LogLevel m_level = LogLevel::info;
  int m_rank = 0;
  int m_size = 1;
  bool m_all_ranks = false;
};

/// The one logger of this process.
Logger& log();

}  // namespace gosok
