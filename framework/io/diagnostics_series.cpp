#include <gosok/io/diagnostics_series.hpp>

#include <fstream>

#include <gosok/io/atomic_file.hpp>

namespace gosok {

DiagnosticsSeries::DiagnosticsSeries(std::filesystem::path path, nlohmann::json header, bool writer)
    : m_path(std::move(path)), m_header(std::move(header)), m_writer(writer) {}

void DiagnosticsSeries::resume(std::size_t records) {
  m_records = nlohmann::json::array();
  std::ifstream in(m_path);
  if (!in) return;
  const nlohmann::json old = nlohmann::json::parse(in, nullptr, false);
  if (old.is_discarded() || !old.contains("records") || !old["records"].is_array()) return;
  for (const auto& record : old["records"]) {
    if (m_records.size() == records) break;
    m_records.push_back(record);
  }
}

void DiagnosticsSeries::append(nlohmann::json record) {
  m_records.push_back(std::move(record));
  write();
}

void DiagnosticsSeries::write() const {
  if (!m_writer) return;
  nlohmann::json doc = m_header;
  doc["records"] = m_records;
  if (!m_path.parent_path().empty()) std::filesystem::create_directories(m_path.parent_path());
  write_text_atomically(m_path, doc.dump(2) + "\n");
}

}  // namespace gosok
