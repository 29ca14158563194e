#pragma once
// Reading `gosok status WORKFLOW --json` in the workflow tests: the workflow, its steps'
// members and their jobs, and the charge they add up to.
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace gosok::test {

/// One workflow's status, as `gosok status WORKFLOW --json` prints it.
struct WorkflowStatus {
  nlohmann::json doc;

  const nlohmann::json& workflow() const { return doc["workflow"]; }
  std::string state() const { return doc["workflow"]["state"]; }
  const nlohmann::json& step(const std::string& name) const {
    for (const auto& s : doc["steps"]) {
      if (s["name"] == name) return s;
    }
    FAIL("no step " << name << " in " << doc.dump(2));
    return doc;
  }
  /// A member's (-1: a step without members) record: state and jobs.
  const nlohmann::json& member(const std::string& step_name, int k) const {
    for (const auto& m : step(step_name)["member_states"]) {
      if ((k < 0 && m["member"].is_null()) || (!m["member"].is_null() && m["member"] == k)) return m;
    }
    FAIL("no member " << k << " of step " << step_name);
    return doc;
  }
  std::vector<nlohmann::json> jobs() const {
    std::vector<nlohmann::json> out;
    for (const auto& s : doc["steps"]) {
      for (const auto& m : s["member_states"]) {
        for (const auto& j : m["jobs"]) out.push_back(j);
      }
    }
    return out;
  }
  /// Every job settled, each a job id of its own, and their charges add up to the
  /// workflow's: a job that ran is charged once.
  double charged_once_each() const {
    double sum = 0;
    std::set<std::string> ids;
    for (const auto& j : jobs()) {
      INFO(j.dump(2));
      CHECK(ids.insert(j["id"].get<std::string>()).second);
      CHECK(j["state"] == "settled");
      if (j["charged_gpu_hours"].is_number()) sum += j["charged_gpu_hours"].get<double>();
    }
    CHECK(workflow()["charged_gpu_hours"].get<double>() == Catch::Approx(sum));
    CHECK(workflow()["reserved_gpu_hours"].get<double>() == Catch::Approx(0.0));
    return sum;
  }
};

}  // namespace gosok::test
