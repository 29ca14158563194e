#include <fmt/format.h>

#include <gosok/core/error.hpp>
#include <gosok/workload/workload.hpp>

namespace gosok {

void WorkloadRegistry::add(const std::string& name, std::function<std::unique_ptr<Workload>()> create) {
  WorkloadInfo info;
  static_cast<WorkloadInput&>(info) = m_inputs.find(name);
  info.create = std::move(create);
  if (!m_workloads.emplace(name, std::move(info)).second) {
    throw std::logic_error("workload '" + name + "' registered twice");
  }
}

const WorkloadInfo& WorkloadRegistry::find(const std::string& name) const {
  auto it = m_workloads.find(name);
  if (it == m_workloads.end()) {
    throw InputError(fmt::format("unknown workload '{}'; known workloads: {}", name, names_list()));
  }
  return it->second;
}

std::vector<std::string> WorkloadRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, info] : m_workloads) out.push_back(name);
  return out;
}

std::string WorkloadRegistry::names_list() const {
  std::string out;
  for (const auto& [name, info] : m_workloads) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace gosok
