#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace gosok {

/// A time series of scalar diagnostics kept as one JSON document,
///   { "workload": ..., <header keys>..., "records": [ {"step": .., "time": .., ...}, ... ] },
/// rewritten atomically after every append so that a reader (or a killed run) always sees
/// a complete file. Every rank may hold the same series; only the one built with
/// `writer = true` (rank 0) touches the file.
class DiagnosticsSeries {
 public:
  DiagnosticsSeries() = default;
  DiagnosticsSeries(std::filesystem::path path, nlohmann::json header, bool writer);

  /// Continues the series of an earlier run: keeps the first `records` records of the
  /// existing file, the ones that existed when the restart's checkpoint was written (the
  /// interrupted run may have written more: its final record, records past the
  /// checkpoint). A missing or unreadable file starts an empty series.
  void resume(std::size_t records);
  /// Sets one key of the header (e.g. the run's segments after a restart).
  void set_header(const std::string& key, nlohmann::json value) { m_header[key] = std::move(value); }
  /// Appends a record (an object with at least "step" and "time") and rewrites the file.
  void append(nlohmann::json record);
  const nlohmann::json& records() const { return m_records; }
  const std::filesystem::path& path() const { return m_path; }

 private:
  void write() const;
  std::filesystem::path m_path;
  nlohmann::json m_header = nlohmann::json::object();
  nlohmann::json m_records = nlohmann::json::array();
  bool m_writer = false;
};

}  // namespace gosok
