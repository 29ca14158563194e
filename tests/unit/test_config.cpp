// Configuration: defaults, TOML files, --set overrides, units, and the error messages a
// user sees for bad input (they must name the file, line, key and allowed values).
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <cstdlib>
#include <map>
#include <stdexcept>

#include <gosok/core/config.hpp>
#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/core/units.hpp>
#include <gosok/workload/input.hpp>
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

TEST_CASE("optional keys without a default may be left out and still checked when given", "[config]") {
  gosok::Schema s;
  s.real("upper", std::nullopt, "upper bound (none: unbounded)").optional().at_least(0);
  const auto absent = gosok::resolve_text(s, "", "t.toml");
  CHECK_FALSE(absent.has("upper"));
  CHECK(gosok::resolve_text(s, "upper = 0.5", "t.toml").get_real("upper") == 0.5);
  CHECK_THAT(error_of([&] { gosok::resolve_text(s, "upper = -1", "t.toml"); }),
             ContainsSubstring("t.toml:1: key 'upper' = -1 is too small"));
  CHECK_THAT(s.describe(), ContainsSubstring("optional"));
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

namespace {

// A schema shaped like a site file: scalars, a list, named tables and an array of tables.
gosok::Schema document_schema() {
  gosok::Schema s;
  s.string("site.name", std::nullopt, "site name");
  s.list("site.setup", gosok::ParamType::string, gosok::List{}, "setup lines");
  s.list("site.ranks", gosok::ParamType::integer, gosok::List{std::int64_t{1}}, "rank counts").at_least(1);
  gosok::Schema& part = s.named_records("partitions", "one table per partition", 1);
  part.integer("nodes", std::nullopt, "nodes").at_least(1).at_most(1e6);
  part.real("charge_factor", 1.0, "GPU-hours per GPU-hour").at_least(0).at_most(1000);
  part.integer("max_walltime", 0, "seconds")
      .with_unit("s")
      .parsed_by(
          [](const std::string& text) -> gosok::Value {
            if (text == "unlimited") return std::int64_t{0};
            throw InputError("not a walltime");
          },
          "\"unlimited\"");
  gosok::Schema& coeff = s.records("pair.coeff", "pair coefficients");
  coeff.integer("i", std::nullopt, "first type").at_least(1);
  coeff.integer("j", std::nullopt, "second type").at_least(1);
  coeff.real("epsilon", std::nullopt, "well depth").at_least(0);
  return s;
}

}  // namespace

TEST_CASE("lists, named tables and arrays of tables are read and validated", "[config][records]") {
  const std::string text =
      "[site]\nname = \"a\"\nsetup = [\"module load x\", \"echo $HOME\"]\nranks = [1, 2, 4]\n"
      "[partitions.gpu]\nnodes = 4\nmax_walltime = \"unlimited\"\n"
      "[partitions.debug]\nnodes = 1\ncharge_factor = 0.5\n"
      "[[pair.coeff]]\ni = 1\nj = 1\nepsilon = 1.0\n"
      "[[pair.coeff]]\ni = 1\nj = 2\nepsilon = 0.5\n";
  const auto in = gosok::resolve_text(document_schema(), text, "site.toml");
  CHECK(in.get_strings("site.setup") == std::vector<std::string>{"module load x", "echo $HOME"});
  CHECK(in.get_reals("site.ranks") == std::vector<double>{1, 2, 4});
  const auto& parts = in.records("partitions");
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].name == "debug");  // named records come sorted by name
  CHECK(parts[0].values.get_real("charge_factor") == 0.5);
  CHECK(parts[1].values.get_int("nodes") == 4);
  CHECK(parts[1].values.get_int("max_walltime") == 0);
  CHECK_THAT(parts[1].origin, ContainsSubstring("site.toml:5"));
  const auto& coeffs = in.records("pair.coeff");
  REQUIRE(coeffs.size() == 2);
  CHECK(coeffs[1].values.get_int("j") == 2);
  CHECK(coeffs[1].values.get_real("epsilon") == 0.5);

  // The resolved input round-trips, records included.
  const auto again = gosok::resolve_text(document_schema(), in.to_toml(), "resolved.toml");
  CHECK(again.records("partitions").size() == 2);
  CHECK(again.records("pair.coeff")[1].values.get_real("epsilon") == 0.5);
  CHECK(again.get_strings("site.setup") == in.get_strings("site.setup"));
}

TEST_CASE("errors inside records name the file, line and full key", "[config][records]") {
  const std::string head = "[site]\nname = \"a\"\n";
  auto msg = error_of(
      [&] { gosok::resolve_text(document_schema(), head + "[partitions.gpu]\nnodes = 4294967297\n", "s.toml"); });
  CHECK_THAT(msg, ContainsSubstring("s.toml:4: key 'partitions.gpu.nodes' = 4294967297 is too large"));
  msg = error_of(
      [&] { gosok::resolve_text(document_schema(), head + "[partitions.gpu]\nnodes = 1\ncolour = 3\n", "s.toml"); });
  CHECK_THAT(msg, ContainsSubstring("s.toml:5: unknown key 'partitions.gpu.colour'; allowed keys: nodes"));
  msg = error_of([&] {
    gosok::resolve_text(document_schema(), head + "[partitions.gpu]\nnodes = 1\ncharge_factor = nan\n", "s.toml");
  });
  CHECK_THAT(msg, ContainsSubstring("key 'partitions.gpu.charge_factor' = nan is not finite"));
  msg = error_of([&] {
    gosok::resolve_text(document_schema(), head + "[partitions.gpu]\nnodes = 1\nmax_walltime = \"nanh\"\n", "s.toml");
  });
  CHECK_THAT(msg, ContainsSubstring("key 'partitions.gpu.max_walltime'"));
  CHECK_THAT(msg, ContainsSubstring("\"unlimited\""));
  msg = error_of([&] { gosok::resolve_text(document_schema(), head, "s.toml"); });
  CHECK_THAT(msg, ContainsSubstring("needs at least 1 [partitions.<name>]"));
  msg = error_of([&] {
    gosok::resolve_text(document_schema(), head + "[partitions.g]\nnodes = 1\n[[pair.coeff]]\ni = 1\nj = 1\n",
                        "s.toml");
  });
  CHECK_THAT(msg, ContainsSubstring("required key 'pair.coeff[0].epsilon' is missing"));
  msg = error_of(
      [&] { gosok::resolve_text(document_schema(), head + "[partitions.g]\nnodes = 1\n[site.x]\n", "s.toml"); });
  CHECK_THAT(msg, ContainsSubstring("unknown key 'site.x"));
  msg = error_of(
      [&] { gosok::resolve_text(document_schema(), head + "ranks = [1, 0]\n[partitions.g]\nnodes = 1\n", "s.toml"); });
  CHECK_THAT(msg, ContainsSubstring("key 'site.ranks' = 0 is too small"));
}

TEST_CASE("text values are strict decimals: no hex, inf, nan or trailing junk", "[config]") {
  CHECK(gosok::parse_decimal("12.5e-1") == 1.25);
  CHECK(gosok::parse_decimal("-.5") == -0.5);
  for (const char* bad : {"0x10", "inf", "nan", "1e300000", "", "1.2.3", "5 ", "e5", "1e"}) {
    INFO(bad);
    CHECK_FALSE(gosok::parse_decimal(bad));
  }
  CHECK(gosok::parse_decimal_integer("-42") == -42);
  CHECK_FALSE(gosok::parse_decimal_integer("9223372036854775808"));
  CHECK_FALSE(gosok::parse_decimal_integer("1.0"));

  gosok::Schema s;
  s.real("gpu_hours", std::nullopt, "granted GPU-hours").at_least(0).at_most(1e9);
  s.integer("nodes", 1, "nodes").at_least(1).at_most(1e6);
  s.string("grant", std::nullopt, "id");
  auto row = [&](const std::string& hours, const std::string& nodes) {
    return gosok::resolve_assignments(
        s, {{"gpu_hours", hours, "g.csv:3"}, {"nodes", nodes, "g.csv:3"}, {"grant", "KR-1", "g.csv:3"}}, "g.csv:3");
  };
  CHECK(row("100.5", "2").get_real("gpu_hours") == 100.5);
  CHECK_THAT(error_of([&] { row("0x10", "1"); }), ContainsSubstring("g.csv:3: key 'gpu_hours' = '0x10' must be"));
  CHECK_THAT(error_of([&] { row("inf", "1"); }), ContainsSubstring("must be a finite decimal number"));
  CHECK_THAT(error_of([&] { row("1e300", "1"); }), ContainsSubstring("is too large"));
  CHECK_THAT(error_of([&] { row("-1", "1"); }), ContainsSubstring("is too small"));
  CHECK_THAT(error_of([&] { row("1", "99999999999999999999"); }), ContainsSubstring("is out of range"));
  CHECK_THAT(error_of([&] {
               gosok::resolve_assignments(s, {{"colour", "red", "g.csv:4"}}, "g.csv:4");
             }),
             ContainsSubstring("g.csv:4: unknown key 'colour'"));
  CHECK_THAT(error_of([&] {
               gosok::resolve_assignments(s, {{"grant", "x", "g.csv:5"}}, "g.csv:5");
             }),
             ContainsSubstring("g.csv:5: required key 'gpu_hours' is missing"));
}

TEST_CASE("--set takes lists and refuses record sets", "[config][records]") {
  const std::string base = "[site]\nname = \"a\"\n[partitions.g]\nnodes = 1\n";
  auto in = gosok::resolve_text(document_schema(), base, "s.toml", {"site.ranks=[2, 4]", "site.name=\"b c\""});
  CHECK(in.get_reals("site.ranks") == std::vector<double>{2, 4});
  CHECK(in.get_string("site.name") == "b c");
  CHECK_THAT(error_of([&] { gosok::resolve_text(document_schema(), base, "s.toml", {"site.ranks=4"}); }),
             ContainsSubstring("must be an array"));
  CHECK_THAT(error_of([&] { gosok::resolve_text(document_schema(), base, "s.toml", {"pair.coeff=1"}); }),
             ContainsSubstring("is a set of tables; give it in the input file"));
}

TEST_CASE("environment variables are read only through the declared table", "[config][env]") {
  ::setenv("GOSOK_GRANT", "KR-7", 1);
  CHECK(gosok::env("GOSOK_GRANT") == std::optional<std::string>("KR-7"));
  ::setenv("GOSOK_GRANT", "", 1);
  CHECK_FALSE(gosok::env("GOSOK_GRANT"));  // empty counts as unset
  ::unsetenv("GOSOK_GRANT");
  CHECK_THROWS_AS(gosok::env("GOSOK_NO_SUCH_VARIABLE"), std::logic_error);
  CHECK_THAT(gosok::describe_environment(), ContainsSubstring("GOSOK_GRANT"));
}

TEST_CASE("reduced LJ units convert into nothing physical, and back", "[config][units]") {
  CHECK(gosok::convert_quantity("0.25 tau", "tau") == 0.25);
  CHECK(gosok::convert_quantity("2.5 sigma", "sigma") == 2.5);
  CHECK_THAT(error_of([] { gosok::convert_quantity("1 min", "tau"); }),
             ContainsSubstring("'min' in '1 min' does not convert to 'tau' (allowed units: tau)"));
  CHECK_THROWS_AS(gosok::convert_quantity("1 tau", "s"), InputError);
  CHECK_THROWS_AS(gosok::convert_quantity("1 sigma", "m"), InputError);
}

TEST_CASE("the run loop's time keys carry the workload's time unit", "[config][units]") {
  // md (reduced units, tau): a physical time is refused, by key and with what is allowed;
  // a physical workload (seconds) converts it.
  gosok::Schema md;
  gosok::declare_run_options(md, "md", "tau");
  CHECK(gosok::resolve_input(md, {}, {"run.output_interval=0.5 tau"}).get_real("run.output_interval") == 0.5);
  CHECK(gosok::resolve_input(md, {}, {"run.output_interval=0.5"}).get_real("run.output_interval") == 0.5);
  const std::string message = error_of([&] { gosok::resolve_input(md, {}, {"run.output_interval=1 min"}); });
  CHECK_THAT(message, ContainsSubstring("run.output_interval"));
  CHECK_THAT(message, ContainsSubstring("allowed units: tau"));
  gosok::Schema weather;
  gosok::declare_run_options(weather, "weather");
  CHECK(gosok::resolve_input(weather, {}, {"run.output_interval=1 min"}).get_real("run.output_interval") == 60.0);
}

TEST_CASE("a table parameter takes free keys as --set overrides, nested ones dotted", "[config][table]") {
  gosok::Schema s;
  s.string("name", "x", "a name");
  s.table("set", "overrides");
  const auto in = gosok::resolve_text(
      s, "set = { case = \"thermal\", nx = 200, dt = 0.5, on = true, list = [1, 2], run = { max_steps = 5 } }\n",
      "w.toml");
  const auto a = in.get_assignments("set");
  REQUIRE(a.size() == 6);
  std::map<std::string, std::string> got;
  for (const auto& x : a) got[x.key] = x.text;
  CHECK(got["case"] == "thermal");
  CHECK(got["nx"] == "200");
  CHECK(got["dt"] == "0.5");
  CHECK(got["on"] == "true");
  CHECK(got["list"] == "[ 1, 2 ]");
  CHECK(got["run.max_steps"] == "5");
  CHECK_THAT(a.front().origin, ContainsSubstring("w.toml:1"));
  // Absent: empty. Not a table, or a key that is no --set key: refused naming it.
  CHECK(gosok::resolve_text(s, "name = \"y\"\n", "w.toml").get_assignments("set").empty());
  CHECK_THAT(error_of([&] { gosok::resolve_text(s, "set = 3\n", "w.toml"); }),
             ContainsSubstring("w.toml:1: key 'set' must be a table"));
  CHECK_THAT(error_of([&] { gosok::resolve_text(s, "set = { \"a b\" = 1 }\n", "w.toml"); }),
             ContainsSubstring("has the key 'a b'"));
  // --set of the whole table, inline.
  const auto over = gosok::resolve_text(s, "", "w.toml", {"set={ nx = 8 }"});
  REQUIRE(over.get_assignments("set").size() == 1);
  CHECK(over.get_assignments("set")[0].text == "8");
}
