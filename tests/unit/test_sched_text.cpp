// Quoting, tokens, walltimes and dates: the pieces that keep user strings out of the shell.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/process.hpp>
#include <gosok/scheduler/text.hpp>

using namespace gosok::sched;

TEST_CASE("shell_quote survives bash unchanged", "[sched][quote]") {
  for (const std::string s :
       {"plain", "x; rm -rf ~", "it's", "$(touch /tmp/pwned)", "`id`", "a\nb", "\"q\" \\ *", ""}) {
    const auto r = run_process({"bash", "-c", "printf %s " + shell_quote(s)});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out == s);
  }
}

TEST_CASE("tokens refuse shell metacharacters", "[sched][quote]") {
  CHECK_NOTHROW(require_token("job name", "heat_run-2.a"));
  CHECK_THROWS_AS(require_token("job name", "x; rm -rf ~"), gosok::InputError);
  CHECK_THROWS_AS(require_token("job name", "a b"), gosok::InputError);
  CHECK_THROWS_AS(require_token("job name", "-x"), gosok::InputError);
  CHECK_THROWS_AS(require_token("job name", ""), gosok::InputError);
  CHECK_THROWS_AS(require_token("dir", "/tmp/a\nb", true), gosok::InputError);
  CHECK_NOTHROW(require_token("dir", "/tmp/a/b+c", true));
}

TEST_CASE("walltimes in Slurm's forms", "[sched]") {
  CHECK(parse_walltime("10") == 600);
  CHECK(parse_walltime("01:00:00") == 3600);
  CHECK(parse_walltime("05:30") == 330);
  CHECK(parse_walltime("1-02:00:00") == 93600);
  CHECK(parse_walltime("2-0") == 172800);
  CHECK(parse_walltime("90min") == 5400);
  CHECK(parse_walltime("2h") == 7200);
  CHECK_THROWS_AS(parse_walltime("soon"), gosok::InputError);
  CHECK_THROWS_AS(parse_walltime("0"), gosok::InputError);
  CHECK(format_walltime(93600) == "1-02:00:00");
  CHECK(format_walltime(330) == "00:05:30");
  CHECK(parse_walltime("1.5h") == 5400);
  CHECK(parse_walltime("366-00:00:00") == 366 * 86400);
}

// Text that is not a number must never become one: nan and inf parsed as -2^63 s once (a
// negative reservation), 0.1s as 0 s, which Slurm reads as UNLIMITED.
TEST_CASE("walltimes that are not numbers, or out of range, are refused by name", "[sched]") {
  for (const std::string bad : {"nanh", "infh", "1e300h", "-infmin", "0x10h", "0.1s", "0s", "-5", "1e3000min",
                                "367-00:00:00", "9999999999", "10:0x:00", "1h30", " ", "NaNmin", "1e6h"}) {
    INFO(bad);
    CHECK_THROWS_WITH(parse_walltime(bad, "-t/--time"),
                      Catch::Matchers::ContainsSubstring("-t/--time '" + bad + "'") &&
                          Catch::Matchers::ContainsSubstring("from 1 second to 366 days"));
  }
  // Slurm keeps whole minutes and rounds up: what a job really gets.
  CHECK(slurm_minutes_ceil(30) == 60);
  CHECK(slurm_minutes_ceil(60) == 60);
  CHECK(slurm_minutes_ceil(61) == 120);
}

TEST_CASE("dates are UTC days", "[sched]") {
  CHECK(parse_date("1970-01-02", "d") == 86400);
  CHECK(format_date(parse_date("2026-02-28", "d")) == "2026-02-28");
  CHECK_THROWS_AS(parse_date("2026-02-30", "d"), gosok::InputError);
  CHECK_THROWS_AS(parse_date("28/02/2026", "d"), gosok::InputError);
}
