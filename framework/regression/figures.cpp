#include <gosok/regression/figures.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include <gosok/core/error.hpp>

namespace gosok::regress {

RunFacts read_run_facts(const std::filesystem::path& dir) {
  const auto path = dir / "timers.json";
  std::ifstream in(path);
  if (!in) throw InputError(path.string() + ": no such file (the run did not finish?)");
  RunFacts f;
  try {
    const auto j = nlohmann::json::parse(in);
    f.workload = j.at("workload").get<std::string>();
    f.backend = j.at("backend").get<std::string>();
    f.precision = j.at("precision").get<std::string>();
    f.gosok_version = j.value("gosok_version", "");
    f.git_hash = j.value("git_hash", "");
    f.ranks = j.at("ranks").get<int>();
    f.steps = j.at("steps").get<long>();
    f.last_step = j.at("last_step").get<long>();
    f.wall_s = j.at("wall_s").get<double>();
    const std::string step_region = f.workload + "::step";
    if (j.at("regions").contains(step_region)) f.step_s = j["regions"][step_region].at("max_s").get<double>();
    if (j.contains("work")) {
      f.what = j["work"].at("what").get<std::string>();
      f.work = j["work"].at("total").get<double>();
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path.string() + ": unreadable: " + e.what());
  }
  // The GPUs' energy, where the run measured it: diagnostics.json's "energy" record
  // ({"measured": true, "joules": ...} or {"measured": false, "reason": ...}).
  const auto diagnostics = dir / "diagnostics.json";
  std::ifstream d(diagnostics);
  const auto doc = nlohmann::json::parse(d, nullptr, false);
  if (d && !doc.is_discarded() && doc.is_object() && doc.contains("energy") && doc["energy"].is_object()) {
    const auto& e = doc["energy"];
    if (e.value("measured", false) && e.contains("joules") && e["joules"].is_number()) {
      f.energy_j = e["joules"].get<double>();
    } else {
      f.energy_note = "not measured: " + e.value("reason", std::string("no reason given"));
    }
  }
  return f;
}

std::string throughput_figure(const std::string& what) {
  std::string name = what;
  for (auto& c : name) {
    if (c == '-') c = '_';
  }
  return name + "_per_s";
}

std::vector<Figure> figures_of(const RunFacts& f) {
  std::vector<Figure> out{{"wall_s", f.wall_s, "s"}};
  if (!f.what.empty() && f.step_s > 0) out.push_back({throughput_figure(f.what), f.work / f.step_s, f.what + "/s"});
  if (f.energy_j) out.push_back({"energy_j", *f.energy_j, "J"});
  return out;
}

}  // namespace gosok::regress
