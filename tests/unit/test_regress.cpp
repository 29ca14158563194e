// The regression library without running anything: suite files and their errors, the
// comparator's norms and messages, JSON selection, baselines, references, the results
// store, walltime predictions and the reports.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <cmath>
#include <functional>

#include <gosok/core/error.hpp>
#include <gosok/regression/baseline.hpp>
#include <gosok/regression/compare.hpp>
#include <gosok/regression/report.hpp>
#include <gosok/regression/results.hpp>
#include <gosok/regression/suite.hpp>
#include <gosok/regression/walltime.hpp>
#include "subprocess.hpp"

using Catch::Matchers::ContainsSubstring;
using gosok::InputError;
using gosok::test::TempDir;
using gosok::test::write_file;
using namespace gosok::regress;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

Quantity values(std::vector<double> v, std::vector<std::size_t> shape = {}) {
  Quantity q;
  q.values = std::move(v);
  q.shape = std::move(shape);
  return q;
}

const char* kSuite = R"(suite = "mini"
[[case]]
name = "heat"
workload = "heat"
set = ["nx=32", "ny=32"]
ranks = [1, 2]
systems = ["localhost:local", "big:gpu", "big:cpu"]
restart_at = [5]
  [[case.variant]]
  name = "small"
  set = ["end_time=0.001"]
  [[case.variant]]
  name = "large"
  set = ["nx=64", "ny=64"]
  [[case.check]]
  name = "error small"
  value = "json:diagnostics.json:last.max_error"
  abs_max = 1e-3
  reason = "the analytic solution"
    [[case.check.tolerance]]
    backend = "cuda"
    abs_max = 1e-2
    reason = "single-precision atomics"
  [[case.check]]
  value = "h5:heat.h5:/u[-1]"
  against = "ranks"
  norm = "max"
  rtol = 1e-12
  reason = "decomposition"
  [[case.check]]
  value = "file:final.txt"
  against = "restart"
  bitwise = true
  reason = "restart"
  [[case.reference]]
  system = "big:gpu"
  figure = "cell_updates_per_s"
  value = 1e9
  lower = -0.2
  unit = "cell-updates/s"
  [[case.reference]]
  system = "big:gpu"
  figure = "cell_updates_per_s"
  value = 2e9
  lower = -0.1
  upper = 0.5
  unit = "cell-updates/s"
  ranks = 2
[[case]]
name = "other"
workload = "heat"
restart_at = [3, 7]
  [[case.check]]
  value = "json:d.json:x"
  against = "case:heat"
  rtol = 1e-9
  reason = "same answer"
)";

Suite load(const TempDir& dir, const std::string& text) {
  write_file(dir / "s.toml", text);
  return load_suite(dir / "s.toml");
}

}  // namespace

TEST_CASE("a suite expands into one instance per variant, rank count and restart", "[regress][suite]") {
  TempDir dir;
  const Suite s = load(dir, kSuite);
  CHECK(s.name == "mini");
  CHECK(s.baselines == dir.path() / "baselines/mini");
  const auto local = expand(s, "localhost", "local", {});
  std::vector<std::string> ids;
  for (const auto& i : local) ids.push_back(i.id);
  CHECK(ids == std::vector<std::string>{"heat.small.np1", "heat.small.np1.restart5", "heat.small.np2",
                                        "heat.small.np2.restart5", "heat.large.np1", "heat.large.np1.restart5",
                                        "heat.large.np2", "heat.large.np2.restart5", "other.np1", "other.np1.restart3",
                                        "other.np1.restart7"});
  CHECK(local[1].restart_at == 5);
  CHECK(local[0].overrides == std::vector<std::string>{"nx=32", "ny=32", "end_time=0.001"});
  CHECK(local[0].baseline_name() == "heat.small");
  // Two partitions of "big"; "other" names no system and runs on the default partition.
  std::vector<std::string> skipped;
  const auto big = expand(s, "big", "gpu", {}, &skipped);
  CHECK(big.size() == 19);
  CHECK(skipped.empty());
  const auto nowhere = expand(s, "elsewhere", "p", {"heat"}, &skipped);
  CHECK(nowhere.empty());
  CHECK(skipped == std::vector<std::string>{"heat"});
  CHECK_THAT(error_of([&] { expand(s, "big", "gpu", {"nosuch"}); }), ContainsSubstring("no case 'nosuch'"));

  // Cross-run checks find their counterpart; the instance compared with has none.
  const auto& heat = s.cases[0];
  CHECK(counterpart(local[2], heat.checks[1], local) == "heat.small.np1");  // ranks
  CHECK(counterpart(local[0], heat.checks[1], local).empty());
  CHECK(counterpart(local[1], heat.checks[2], local) == "heat.small.np1");  // restart
  CHECK(counterpart(local[0], heat.checks[2], local).empty());
  CHECK(counterpart(local[8], s.cases[1].checks[0], local) == "heat.small.np1");  // case:heat
}

TEST_CASE("a check's tolerance may differ by backend, with its own reason", "[regress][suite]") {
  TempDir dir;
  const Suite s = load(dir, kSuite);
  const CheckSpec& k = s.cases[0].checks[0];
  Tolerance t;
  Bounds b;
  std::string why;
  k.select("serial", "double", t, b, why);
  CHECK(*b.abs_max == 1e-3);
  CHECK(why == "the analytic solution");
  k.select("cuda", "double", t, b, why);
  CHECK(*b.abs_max == 1e-2);
  CHECK(why == "single-precision atomics");
}

TEST_CASE("references per system, rank count and variant; without one a figure is only recorded",
          "[regress][suite][reference]") {
  TempDir dir;
  const Suite s = load(dir, kSuite);
  const auto big = expand(s, "big", "gpu", {"heat"});
  const Instance& np1 = big[0];  // heat.small.np1 on gpu
  const Instance& np2 = big[2];
  const Figure fast{"cell_updates_per_s", 1.9e9, "cell-updates/s"};
  REQUIRE(find_reference(np1, "big:gpu", fast.name));
  CHECK(find_reference(np1, "big:gpu", fast.name)->value == 1e9);
  CHECK(find_reference(np2, "big:gpu", fast.name)->value == 2e9);
  CHECK_FALSE(find_reference(np1, "big:cpu", fast.name));

  const auto pass = judge_figure(fast, find_reference(np1, "big:gpu", fast.name), "big:gpu");
  CHECK(pass.status == "pass");  // no upper bound: faster is fine
  const auto slow = judge_figure({"cell_updates_per_s", 1.7e9, "cell-updates/s"},
                                 find_reference(np2, "big:gpu", fast.name), "big:gpu");
  CHECK(slow.status == "fail");
  CHECK_THAT(slow.detail, ContainsSubstring("below the reference 2e+09"));
  CHECK_THAT(slow.detail, ContainsSubstring("s.toml:"));
  const auto too_fast = judge_figure({"cell_updates_per_s", 3.1e9, "cell-updates/s"},
                                     find_reference(np2, "big:gpu", fast.name), "big:gpu");
  CHECK(too_fast.status == "fail");
  CHECK_THAT(too_fast.detail, ContainsSubstring("above"));
  const auto units =
      judge_figure({"cell_updates_per_s", 1e9, "cells/s"}, find_reference(np1, "big:gpu", fast.name), "big:gpu");
  CHECK(units.status == "fail");
  CHECK_THAT(units.detail, ContainsSubstring("in 'cell-updates/s' but the figure is in 'cells/s'"));
  const auto none = judge_figure(fast, nullptr, "big:cpu");
  CHECK(none.status == "recorded");
  CHECK_FALSE(none.has_reference);
}

TEST_CASE("suite errors name the file, line and key", "[regress][suite]") {
  TempDir dir;
  auto err = [&](const std::string& text) { return error_of([&] { load(dir, text); }); };
  const std::string head = "suite = \"x\"\n[[case]]\nname = \"c\"\nworkload = \"heat\"\n";
  CHECK_THAT(err("suite = \"x\"\n"), ContainsSubstring("needs at least 1 [[case]]"));
  CHECK_THAT(err(head + "[[case.check]]\nvalue = \"json:d.json:x\"\nabs_max = 1\n"),
             ContainsSubstring("s.toml:5: required key 'case[0].check[0].reason' is missing"));
  CHECK_THAT(err(head + "[[case.check]]\nvalue = \"xml:d:x\"\nabs_max = 1\nreason = \"r\"\n"),
             ContainsSubstring("s.toml:6: key 'case[0].check[0].value' = xml:d:x"));
  CHECK_THAT(err(head + "[[case.check]]\nvalue = \"json:d.json:x\"\nreason = \"r\"\n"),
             ContainsSubstring("case[0].check[0]: a check with no 'against' needs a bound"));
  CHECK_THAT(err(head + "[[case.check]]\nvalue = \"json:d.json:x\"\nagainst = \"ranks\"\nmax = 1\nreason = \"r\"\n"),
             ContainsSubstring("bounds (min, max, above, below, abs_max) belong to checks without"));
  CHECK_THAT(err(head + "[[case.check]]\nvalue = \"json:d.json:x\"\nagainst = \"restart\"\nreason = \"r\"\n"),
             ContainsSubstring("against = \"restart\" needs restart_at steps"));
  CHECK_THAT(err(head + "[[case.check]]\nvalue = \"json:d.json:x\"\nagainst = \"sideways\"\nreason = \"r\"\n"),
             ContainsSubstring("allowed: \"\" (bounds only), baseline, ranks, restart, case:NAME"));
  CHECK_THAT(err(head + "[[case.check]]\nvalue = \"file:out.data\"\nagainst = \"baseline\"\nbitwise = true\n"
                        "reason = \"r\"\n"),
             ContainsSubstring("a baseline holds numbers"));
  CHECK_THAT(err(head + "[[case.check]]\nvalue = \"json:d.json:x\"\nagainst = \"case:c\"\nreason = \"r\"\n"),
             ContainsSubstring("names no other case"));
  CHECK_THAT(err(head + "[[case.reference]]\nsystem = \"a:b\"\nfigure = \"f\"\nvalue = 1\nlower = 0.2\nunit = \"s\"\n"),
             ContainsSubstring("key 'case[0].reference[0].lower' = 0.2 is too large"));
  CHECK_THAT(err(head + "systems = [\"localhost\"]\n"), ContainsSubstring("write site:partition"));
  CHECK_THAT(err(head + "time = \"soon\"\n"), ContainsSubstring("key 'case[0].time'"));
  CHECK_THAT(err(head + "[[case]]\nname = \"c\"\nworkload = \"heat\"\n"), ContainsSubstring("'c' is used twice"));
  CHECK_THAT(err("suite = \"x y\"\n[[case]]\nname = \"c\"\nworkload = \"heat\"\n"),
             ContainsSubstring("key 'suite' = x y"));
  CHECK_THAT(err(head + "colour = \"red\"\n"), ContainsSubstring("unknown key 'case[0].colour'"));
}

TEST_CASE("json sources select members, records and whole objects", "[regress][quantity]") {
  const auto doc = nlohmann::json::parse(R"({"records": [{"m": 1.5, "k": "a"}, {"m": -2, "k": "b"}],
                                            "last": {"temp": 1.25, "press": 3, "name": "x"}, "n": 7})");
  CHECK(select_json(doc, "n", "w").values == std::vector<double>{7});
  const auto all = select_json(doc, "records[*].m", "w");
  CHECK(all.values == std::vector<double>{1.5, -2});
  CHECK(all.labels == std::vector<std::string>{"records[0].m", "records[1].m"});
  const auto last = select_json(doc, "records[-1].m", "w");
  CHECK(last.values == std::vector<double>{-2});
  CHECK(last.labels.front() == "records[-1].m");  // labelled as written
  const auto object = select_json(doc, "last", "w");
  CHECK(object.values == std::vector<double>{3, 1.25});  // numeric members only, by name
  CHECK(object.labels == std::vector<std::string>{"last.press", "last.temp"});
  CHECK_THAT(error_of([&] { select_json(doc, "records[*].z", "w"); }), ContainsSubstring("no member 'z'"));
  CHECK_THAT(error_of([&] { select_json(doc, "records[5].m", "w"); }), ContainsSubstring("outside the 2 element(s)"));
  CHECK_THAT(error_of([&] { select_json(doc, "n[0]", "w"); }), ContainsSubstring("is not an array"));
  CHECK_THAT(error_of([&] { select_json(doc, "records[*].k", "w"); }), ContainsSubstring("is not a number"));
  CHECK_THAT(error_of([&] { parse_source("json:d.json"); }), ContainsSubstring("names no path"));
  CHECK_THAT(error_of([&] { parse_source("json:../d.json:x"); }), ContainsSubstring("inside the run's results"));
}

TEST_CASE("the comparator: elementwise, max and l2 norms, bitwise, shapes and NaN", "[regress][compare]") {
  const auto b = values({1.0, 2.0, 0.0, 4.0}, {2, 2});
  auto a = b;
  a.values[1] = 2.0 + 1e-9;
  CHECK(compare(a, b, {1e-9, 0, Norm::elementwise, false}).pass);
  const auto tight = compare(a, b, {1e-12, 0, Norm::elementwise, false});
  CHECK_FALSE(tight.pass);
  CHECK_THAT(tight.detail, ContainsSubstring("1 of 4 values outside the tolerance; worst at [0, 1]"));
  // Elementwise, a value near zero demands atol; the max norm scales by the field.
  a.values[2] = 1e-13;
  CHECK_FALSE(compare(a, b, {1e-9, 0, Norm::elementwise, false}).pass);
  CHECK(compare(a, b, {1e-9, 0, Norm::max, false}).pass);
  CHECK(compare(a, b, {1e-9, 1e-12, Norm::elementwise, false}).pass);
  const auto l2 = compare(a, b, {1e-12, 0, Norm::l2, false});
  CHECK_FALSE(l2.pass);
  CHECK_THAT(l2.detail, ContainsSubstring("l2 norm of a - b"));
  CHECK_THAT(l2.detail, ContainsSubstring("largest difference at [0, 1]"));
  // Bitwise: +0 and -0 are equal numbers but not the same bits.
  auto zero = b;
  zero.values[2] = -0.0;
  CHECK(compare(zero, b, {0, 0, Norm::elementwise, false}).pass);
  const auto bits = compare(zero, b, {0, 0, Norm::elementwise, true});
  CHECK_FALSE(bits.pass);
  CHECK_THAT(bits.detail, ContainsSubstring("1 of 4 values differ in their bits; first at [1, 0]"));
  CHECK(compare(b, b, {0, 0, Norm::elementwise, true}).pass);
  // A shape change or a NaN is never within a tolerance.
  CHECK_THAT(compare(values({1, 2, 0, 4}, {4, 1}), b, {1, 1, Norm::max, false}).detail,
             ContainsSubstring("shapes differ: 4 x 1 against 2 x 2"));
  auto nan = b;
  nan.values[3] = NAN;
  const auto n = compare(nan, b, {1e300, 1e300, Norm::max, false});
  CHECK_FALSE(n.pass);
  CHECK_THAT(n.detail, ContainsSubstring("non-finite value"));
  // Files: bytes.
  Quantity f1, f2;
  f1.bytes = "line 1\nline 2\n";
  f2.bytes = "line 1\nline 3\n";
  CHECK(compare(f1, f1, {}).pass);
  CHECK_THAT(compare(f1, f2, {}).detail, ContainsSubstring("differ from byte 12 (line 2)"));
}

TEST_CASE("bounds of invariants, inclusive and strict", "[regress][compare]") {
  Bounds energy;
  energy.min = -4.5e-5;
  energy.below = 0;
  CHECK(check_bounds(values({-1e-5}), energy).pass);
  CHECK_FALSE(check_bounds(values({0.0}), energy).pass);  // strictly below zero
  const auto low = check_bounds(values({-5e-5}), energy);
  CHECK_FALSE(low.pass);
  CHECK_THAT(low.detail, ContainsSubstring("breaks -4.5e-05 <= v < 0"));
  Bounds mass;
  mass.abs_max = 1e-13;
  CHECK(check_bounds(values({1e-14, -9e-14}), mass).pass);
  CHECK_FALSE(check_bounds(values({1e-14, -2e-13}), mass).pass);
  CHECK_FALSE(check_bounds(values({NAN}), Bounds{}).pass);  // finite only
  CHECK(check_bounds(values({1, 2}), Bounds{}).pass);
}

TEST_CASE("baselines round-trip with their provenance; a missing one is an error", "[regress][baseline]") {
  TempDir dir;
  Baseline b;
  b.path = dir / "sub/case.json";
  b.provenance = {{"updated_by", "alice"}, {"updated_at", "2026-03-01T10:00:00Z"}, {"gosok_version", "0.1.0"},
                  {"git_hash", "abc123"},  {"system", "localhost:local"},          {"backend", "serial"}};
  b.values["h5:w.h5:/theta[-1]"] = values({0.1, 1.0 / 3.0, 1e-300}, {3});
  write_baseline(b);
  const Baseline back = read_baseline(b.path);
  CHECK(back.values.at("h5:w.h5:/theta[-1]").values == b.values["h5:w.h5:/theta[-1]"].values);  // exact doubles
  CHECK(back.values.at("h5:w.h5:/theta[-1]").shape == std::vector<std::size_t>{3});
  CHECK(back.describe() ==
        "updated by alice on 2026-03-01T10:00:00Z with gosok 0.1.0 (abc123) on localhost:local/serial");
  CHECK_THAT(error_of([&] { read_baseline(dir / "none.json"); }), ContainsSubstring("missing baseline"));
  write_file(dir / "bad.json", "{\"values\": ");
  CHECK_THAT(error_of([&] { read_baseline(dir / "bad.json"); }), ContainsSubstring("unreadable baseline"));
  write_file(dir / "other.json", "{\"values\": {}}");
  CHECK_THAT(error_of([&] { read_baseline(dir / "other.json"); }), ContainsSubstring("not a gosok baseline"));
}

namespace {

SuiteRun sample_run(const std::string& hash, double speed, const std::string& status) {
  SuiteRun run;
  run.suite = "mini";
  run.suite_file = "/x/mini.toml";
  run.site = "localhost";
  run.grant = "G";
  run.user = "u";
  run.host = "h";
  run.gosok_version = "0.1.0";
  run.git_hash = hash;
  run.started_at = 1700000000;
  run.ended_at = 1700000100;
  CaseResult c;
  c.instance = "heat.np1";
  c.case_name = "heat";
  c.system = "localhost:local";
  c.status = status;
  c.jobs = {"g1", "g2"};
  c.gpu_hours = 0.25;
  c.elapsed_s = 12;
  c.checks.push_back({"error <x>", status == "pass" ? "pass" : "fail", "max |e| = 2e-4 & more", "analytic"});
  FigureResult f;
  f.name = "cell_updates_per_s";
  f.value = speed;
  f.unit = "cell-updates/s";
  f.has_reference = true;
  f.ref_value = 1e8;
  f.ref_lower = -0.5;
  f.status = "pass";
  c.figures.push_back(f);
  run.cases.push_back(c);
  return run;
}

}  // namespace

TEST_CASE("the results store keeps runs, answers compare and history, and keeps job samples", "[regress][store]") {
  TempDir dir;
  auto store = open_results_store((dir / "results.sqlite").string());
  CHECK_FALSE(store->load("latest"));
  auto a = sample_run("aaa", 1.0e8, "pass");
  auto b = sample_run("bbb", 0.8e8, "fail");
  store->save(a);
  store->save(b);
  CHECK(a.id == 1);
  CHECK(b.id == 2);
  const auto latest = store->load("latest");
  REQUIRE(latest);
  CHECK(latest->id == 2);
  CHECK(latest->cases.at(0).checks.at(0).detail == "max |e| = 2e-4 & more");
  CHECK(latest->cases.at(0).figures.at(0).ref_lower == -0.5);
  CHECK_FALSE(latest->cases.at(0).figures.at(0).ref_upper);
  CHECK(latest->cases.at(0).jobs == std::vector<std::string>{"g1", "g2"});
  CHECK(store->load("previous")->id == 1);
  CHECK_FALSE(store->load("7"));
  CHECK_THAT(error_of([&] { store->load("yesterday"); }), ContainsSubstring("is not a run"));
  const auto points = store->history("heat.np1", "cell_updates_per_s", "", 10);
  REQUIRE(points.size() == 2);
  CHECK(points[0].run_id == 1);
  CHECK(points[1].value == 0.8e8);
  const std::string diff = compare_report(*store->load("1"), *store->load("2"));
  CHECK_THAT(diff, ContainsSubstring("cell_updates_per_s"));
  CHECK_THAT(diff, ContainsSubstring("-20.0%"));
  CHECK_THAT(diff, ContainsSubstring("check 'error <x>': pass -> fail"));
  CHECK_THAT(history_report("heat.np1", points), ContainsSubstring("bbb"));

  JobSample s{"gosok:l:1", "job", "weather", "localhost", "local", 1, 1, "cell-updates", 1e8, 4.0, 4.5, 5.0, 10};
  store->record_sample(s);
  s.elapsed_s = 6;  // the same job recorded twice replaces itself
  store->record_sample(s);
  const auto got = store->samples("weather", "localhost", "local", 1, 10);
  REQUIRE(got.size() == 1);
  CHECK(got[0].elapsed_s == 6);
  CHECK(store->samples("weather", "localhost", "local", 2, 10).empty());
}

TEST_CASE("walltime from history: median throughput and start-up, times the margin", "[regress][walltime]") {
  std::vector<JobSample> history;
  // Three runs: 1e7, 2e7 and 4e7 cell-updates at 1e7 per second, each with ~1 s around.
  for (double work : {1e7, 2e7, 4e7}) {
    history.push_back({"k", "job", "weather", "s", "p", 1, 1, "cell-updates", work, work / 1e7, work / 1e7 + 0.5,
                       work / 1e7 + 1.0, 0});
  }
  history.push_back({"k", "job", "weather", "s", "p", 1, 1, "atom-steps", 1e9, 1, 1, 1, 0});  // another kind
  const auto p = predict_walltime(history, "cell-updates", 1e8, "s:p");
  REQUIRE(p);
  CHECK(p->samples == 3);
  CHECK_THAT(p->throughput, Catch::Matchers::WithinRel(1e7, 1e-12));
  CHECK_THAT(p->fixed_s, Catch::Matchers::WithinRel(1.0, 1e-12));
  CHECK_THAT(p->seconds, Catch::Matchers::WithinRel(1.5 * (1.0 + 10.0), 1e-12));
  CHECK_THAT(p->basis, ContainsSubstring("3 past run(s) on s:p"));
  CHECK_FALSE(predict_walltime(history, "particle-pushes", 1e8, "s:p"));
  CHECK_FALSE(predict_walltime({}, "cell-updates", 1e8, "s:p"));
}

TEST_CASE("reports: JUnit XML and a self-contained HTML page with charts", "[regress][report]") {
  auto run = sample_run("abc", 1e8, "fail");
  run.id = 3;
  auto ok = run.cases[0];
  ok.instance = "heat.np2";
  ok.status = "recorded";
  ok.checks.clear();
  run.cases.push_back(ok);
  const std::string xml = junit_xml(run);
  CHECK_THAT(xml, ContainsSubstring("<testsuite name=\"mini\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"1\""));
  CHECK_THAT(
      xml, ContainsSubstring("<failure message=\"check &apos;error &lt;x&gt;&apos; failed: max |e| = 2e-4 &amp; more"));
  CHECK_THAT(xml, ContainsSubstring("<skipped message="));
  CHECK(xml.find("<x>") == std::string::npos);  // escaped everywhere

  FigureHistory history;
  history[history_key("heat.np1", "localhost:local", "cell_updates_per_s")] = {
      {1, 1700000000, "aaa", "localhost:local", "cell_updates_per_s", 1.1e8, "cell-updates/s", "pass"},
      {3, 1700000500, "abc", "localhost:local", "cell_updates_per_s", 1.0e8, "cell-updates/s", "pass"}};
  const std::string html = html_report(run, history);
  CHECK_THAT(html, ContainsSubstring("<table id=\"cases\">"));
  CHECK_THAT(html, ContainsSubstring("<svg class=\"chart\""));
  CHECK_THAT(html, ContainsSubstring("class=\"reference-band\""));
  CHECK_THAT(html, ContainsSubstring("0.5000 GPU-hours of grant G"));
  CHECK_THAT(html, ContainsSubstring("not measured"));
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));  // only the SVG namespace
  CHECK(html.find("https://") == std::string::npos);
  const std::string text = text_report(run);
  CHECK_THAT(text, ContainsSubstring("FAIL     heat.np1"));
  CHECK_THAT(text, ContainsSubstring("(reason: analytic)"));
}

TEST_CASE("figures of merit come from the run's own files; energy where measured", "[regress][figures]") {
  TempDir dir;
  CHECK_THAT(error_of([&] { read_run_facts(dir.path()); }), ContainsSubstring("timers.json: no such file"));
  write_file(dir / "timers.json", R"({"workload": "weather", "ranks": 2, "backend": "cuda", "precision": "double",
    "steps": 40, "last_step": 60, "wall_s": 3.5, "work": {"what": "cell-updates", "per_step": 1000, "total": 40000},
    "regions": {"weather::step": {"calls": 40, "min_s": 1.5, "avg_s": 1.8, "max_s": 2.0}}})");
  write_file(dir / "diagnostics.json", R"({"energy": {"measured": false, "reason": "NVML is not available"}})");
  RunFacts f = read_run_facts(dir.path());
  CHECK(f.backend == "cuda");
  CHECK(f.last_step - f.steps == 20);  // a restarted run began at step 20
  CHECK_FALSE(f.energy_j);
  CHECK(f.energy_note == "not measured: NVML is not available");
  auto figures = figures_of(f);
  REQUIRE(figures.size() == 2);
  CHECK(figures[1].name == "cell_updates_per_s");
  CHECK(figures[1].value == 20000);  // over the slowest rank's time in steps
  CHECK(figures[1].unit == "cell-updates/s");
  write_file(dir / "diagnostics.json", R"({"energy": {"measured": true, "joules": 5321.5, "gpus": 2}})");
  f = read_run_facts(dir.path());
  REQUIRE(f.energy_j);
  CHECK(*f.energy_j == 5321.5);
  figures = figures_of(f);
  CHECK(figures.back().name == "energy_j");
  CHECK(figures.back().unit == "J");
}
