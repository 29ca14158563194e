// The energy record of a run's diagnostics.json (RunEnergy): what gosok run writes reads
// back the same, a run without a measurement has a reason and no figure, and a damaged
// record is a clear error naming the file.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <gosok/core/error.hpp>
#include <gosok/core/run_energy.hpp>
#include "subprocess.hpp"

using Catch::Matchers::ContainsSubstring;
using gosok::RunEnergy;

TEST_CASE("a measured energy record reads back as written", "[unit][energy]") {
  RunEnergy e;
  e.measured = true;
  e.joules = 5321.5;
  e.mean_watts = 412.5;
  e.seconds = 12.9;
  e.gpus = 4;
  e.source = "NVML";
  e.job = "4711";
  const RunEnergy back = RunEnergy::from_json(e.to_json(), "diagnostics.json");
  CHECK(back.measured);
  CHECK(back.joules == e.joules);
  CHECK(back.mean_watts == e.mean_watts);
  CHECK(back.seconds == e.seconds);
  CHECK(back.gpus == 4);
  CHECK(back.job == "4711");
  CHECK_THAT(e.summary(), ContainsSubstring("5321.5 J (1.478e-03 kWh) on 4 GPUs"));
}

TEST_CASE("an energy that was not measured has a reason and no figure", "[unit][energy]") {
  const RunEnergy e = RunEnergy::not_measured("NVML is not available");
  const auto j = e.to_json();
  CHECK_FALSE(j.contains("joules"));
  CHECK(j["measured"] == false);
  const RunEnergy back = RunEnergy::from_json(j, "diagnostics.json");
  CHECK_FALSE(back.measured);
  CHECK(back.reason == "NVML is not available");
  CHECK(e.summary() == "not measured: NVML is not available");
}

TEST_CASE("read_run_energy: missing file or key, damaged records", "[unit][energy]") {
  gosok::test::TempDir dir;
  const auto path = dir / "diagnostics.json";
  CHECK_FALSE(gosok::read_run_energy(path).has_value());
  gosok::test::write_file(path, R"({"records": []})");
  CHECK_FALSE(gosok::read_run_energy(path).has_value());
  gosok::test::write_file(path, R"({"energy": {"measured": true, "joules": 10.0, "mean_watts": 2.0, "seconds": 5.0,
                                   "gpus": 1, "job": "12"}})");
  const auto e = gosok::read_run_energy(path);
  REQUIRE(e.has_value());
  CHECK(e->joules == 10.0);
  CHECK(e->job == "12");
  // A measured record must carry its figures; a zero-GPU or negative one is refused.
  for (const char* bad : {R"({"energy": {"measured": true}})", R"({"energy": {"measured": "yes"}})",
                          R"({"energy": {"measured": true, "joules": -1, "mean_watts": 0, "seconds": 1, "gpus": 1}})",
                          R"({"energy": {"measured": true, "joules": 1, "mean_watts": 1, "seconds": 1, "gpus": 0}})",
                          R"([1, 2])", R"({"energy": )"}) {
    INFO(bad);
    gosok::test::write_file(path, bad);
    CHECK_THROWS_AS(gosok::read_run_energy(path), gosok::InputError);
    CHECK_THROWS_WITH(gosok::read_run_energy(path), ContainsSubstring(path.string()));
  }
}
