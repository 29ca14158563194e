// Configuration: defaults, TOML files, --set overrides, units, and the error messages a
// user sees for bad input (they must name the file, line, key and allowed values).
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <gosok/core/config.hpp>
#include <gosok/core/error.hpp>
#include <gosok/core/units.hpp>
#include "subprocess.hpp"

using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::WithinRel;
using gosok::InputError;

namespace {

gosok::Schema example_schema() {
  gosok::Schema s;
  s.integer("nx", 100, "cells in x").at_least(4);
  s.real("end_time", 400.0, "simulated time").with_unit("s").at_least(0);
  s.choice("case", "thermal", {"thermal", "collision"}, "test case");
  s.boolean("shifted", true, "shift the potential");
  s.string("output", "out", "folder");
  s.real("grid.dx", 10.0, "cell size").with_unit("m");
  return s;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("defaults, file and overrides are layered in that order", "[config]") {
  gosok::test::TempDir dir;
  gosok::test::write_file(dir / "in.toml", "nx = 200\ncase = \"collision\"\n[grid]\ndx = \"2 km\"\n");
  auto in = gosok::resolve_input(example_schema(), dir / "in.toml", {"nx=300", "end_time=10 min"});
  CHECK(in.get_int("nx") == 300);
  CHECK(in.origin("nx") == "--set");
  CHECK(in.get_string("case") == "collision");
  CHECK_THAT(in.origin("case"), ContainsSubstring("in.toml:2"));
  CHECK_THAT(in.get_real("grid.dx"), WithinRel(2000.0, 1e-15));
  CHECK_THAT(in.get_real("end_time"), WithinRel(600.0, 1e-15));
  CHECK(in.get_bool("shifted"));
  CHECK(in.origin("shifted") == "default");
}

TEST_CASE("a malformed TOML file is reported with file, line and column", "[config]") {
  gosok::test::TempDir dir;
  gosok::test::write_file(dir / "bad.toml", "nx = 10\ncase = \"thermal\n");
  auto msg = error_of([&] { gosok::resolve_input(example_schema(), dir / "bad.toml", {}); });
  CHECK_THAT(msg, ContainsSubstring("bad.toml:2:"));
  CHECK_THAT(msg, ContainsSubstring("malformed TOML"));
}

TEST_CASE("unknown keys are rejected with the list of allowed keys", "[config]") {
  gosok::test::TempDir dir;
  gosok::test::write_file(dir / "in.toml", "nx = 10\n\nnz = 5\n");
  auto msg = error_of([&] { gosok::resolve_input(example_schema(), dir / "in.toml", {}); });
  CHECK_THAT(msg, ContainsSubstring("in.toml:3"));
  CHECK_THAT(msg, ContainsSubstring("unknown key 'nz'"));
  CHECK_THAT(msg, ContainsSubstring("allowed keys: nx, end_time, case"));
}

TEST_CASE("wrong types, bounds and choices name the key and what is allowed", "[config]") {
  gosok::test::TempDir dir;
  gosok::test::write_file(dir / "a.toml", "nx = \"many\"\n");
  auto msg = error_of([&] { gosok::resolve_input(example_schema(), dir / "a.toml", {}); });
  CHECK_THAT(msg, ContainsSubstring("a.toml:1: key 'nx' must be an integer"));

  msg = error_of([&] { gosok::resolve_input(example_schema(), {}, {"nx=-3"}); });
  CHECK_THAT(msg, ContainsSubstring("key 'nx' = -3 is too small"));
  CHECK_THAT(msg, ContainsSubstring(">= 4"));

  msg = error_of([&] { gosok::resolve_input(example_schema(), {}, {"case=tornado"}); });
  CHECK_THAT(msg, ContainsSubstring("one of: thermal, collision"));

  msg = error_of([&] { gosok::resolve_input(example_schema(), {}, {"end_time=3 km"}); });
  CHECK_THAT(msg, ContainsSubstring("does not convert to 's'"));
  CHECK_THAT(msg, ContainsSubstring("ms, s, min, h, day"));

  msg = error_of([&] { gosok::resolve_input(example_schema(), {}, {"nx"}); });
  CHECK_THAT(msg, ContainsSubstring("expected key=value"));

  msg = error_of([&] { gosok::resolve_input(example_schema(), dir / "missing.toml", {}); });
  CHECK_THAT(msg, ContainsSubstring("missing.toml: no such input file"));
}

TEST_CASE("a string override keeps shell metacharacters as plain text", "[config]") {
  auto in = gosok::resolve_input(example_schema(), {}, {"output=x; rm -rf ~"});
  CHECK(in.get_string("output") == "x; rm -rf ~");
}

TEST_CASE("required keys must be given", "[config]") {
  gosok::Schema s;
  s.integer("steps", std::nullopt, "number of steps");
  auto msg = error_of([&] { gosok::resolve_input(s, {}, {}); });
  CHECK_THAT(msg, ContainsSubstring("required key 'steps' is missing"));
  CHECK(gosok::resolve_input(s, {}, {"steps=5"}).get_int("steps") == 5);
}

TEST_CASE("schema checks can reject contradictory keys", "[config]") {
  gosok::Schema s = example_schema();
  s.add_check([](const gosok::Input& in) {
    if (in.get_string("case") == "collision" && in.get_int("nx") < 50) {
      throw InputError("case = collision needs nx >= 50 (nx = " + std::to_string(in.get_int("nx")) + ")");
    }
  });
  auto msg = error_of([&] { gosok::resolve_input(s, {}, {"case=collision", "nx=10"}); });
  CHECK_THAT(msg, ContainsSubstring("case = collision needs nx >= 50"));
}

TEST_CASE("the resolved input round-trips through TOML", "[config]") {
  gosok::test::TempDir dir;
  auto in = gosok::resolve_input(example_schema(), {}, {"nx=123", "grid.dx=0.5 km", "output=a \"quoted\" name"});
  gosok::test::write_file(dir / "resolved.toml", in.to_toml());
  auto again = gosok::resolve_input(example_schema(), dir / "resolved.toml", {});
  CHECK(again.get_int("nx") == 123);
  CHECK(again.get_real("grid.dx") == 500.0);
  CHECK(again.get_string("output") == "a \"quoted\" name");
  CHECK(again.get_real("end_time") == 400.0);
}

TEST_CASE("unit conversion", "[config][units]") {
  CHECK(gosok::convert_quantity("1.5 h", "min") == 90.0);
  CHECK(gosok::convert_quantity("36km/h", "m/s") == 10.0);
  CHECK(gosok::convert_quantity("7", "s") == 7.0);
  CHECK_THROWS_AS(gosok::convert_quantity("fast", "s"), InputError);
  CHECK_THROWS_AS(gosok::convert_quantity("3 furlongs", "m"), InputError);
}
