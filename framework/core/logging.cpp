#include <gosok/core/logging.hpp>

#include <cstdio>

#include <gosok/core/error.hpp>

namespace gosok {
namespace {
Logger process_logger;
}

Logger& log() { return process_logger; }

LogLevel parse_log_level(const std::string& text) {
  if (text == "error") return LogLevel::error;
  if (text == "warn") return LogLevel::warn;
  if (text == "info") return LogLevel::info;
  if (text == "debug") return LogLevel::debug;
  throw InputError("--log-level '" + text + "': allowed values are error, warn, info, debug");
}

bool Logger::enabled(LogLevel level) const {
  if (level > m_level) return false;
  return level == LogLevel::error || m_all_ranks || m_rank == 0;
}

void Logger::write(LogLevel level, const std::string& message) const {
  if (!enabled(level)) return;
  static constexpr const char* names[] = {"error", "warn", "info", "debug"};
  std::FILE* stream = level <= LogLevel::warn ? stderr : stdout;
  if (m_size > 1 && (m_all_ranks || level == LogLevel::error)) {
    std::fprintf(stream, "[gosok %s rank %d] %s\n", names[static_cast<int>(level)], m_rank, message.c_str());
  } else if (level == LogLevel::info) {
    std::fprintf(stream, "%s\n", message.c_str());
  } else {
    std::fprintf(stream, "[gosok %s] %s\n", names[static_cast<int>(level)], message.c_str());
  }
  std::fflush(stream);
}

}  // namespace gosok
