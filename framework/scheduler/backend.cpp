#include <gosok/scheduler/backend.hpp>

#include <gosok/core/error.hpp>

namespace gosok::sched {

namespace {
// The registry: built-in backends plus any a program registers before submitting.
std::map<std::string, BackendFactory> g_backends = {
    {"slurm", make_slurm_backend}, {"local", make_local_backend}, {"dry-run", make_dry_run_backend}};
std::map<std::string, BackendFactory>& registry() { return g_backends; }
}  // namespace

void Backend::set_dependency(const JobRef&, const std::string&) {
  throw InputError("the " + name() + " backend has no batch system to hold a job until others end");
}

void register_backend(const std::string& name, BackendFactory factory) { registry()[name] = std::move(factory); }

std::vector<std::string> backend_names() {
  std::vector<std::string> out;
  for (const auto& [name, f] : registry()) out.push_back(name);
  return out;
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& n : backend_names()) known += (known.empty() ? "" : ", ") + n;
    throw InputError("no scheduler backend '" + name + "'; known: " + known);
  }
  return it->second();
}

}  // namespace gosok::sched
