#pragma once
// The scheduler tests' way of running gosok: one folder and one ledger per test, and the
// test cluster's site file with extra [site] keys.
#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "subprocess.hpp"

namespace gosok::test {

/// Writes site_configs/local-slurm.toml to `path` with `site_lines` ("key = value\n" ...)
/// added to its [site] table; returns the path.
inline std::string write_local_slurm_site(const std::filesystem::path& path, const std::string& site_lines) {
  auto text = read_file(source_dir() / "site_configs/local-slurm.toml");
  text.replace(text.find("[site]\n"), 7, "[site]\n" + site_lines);
  write_file(path, text);
  return path.string();
}

/// A test's own folder and ledger; gosok runs in the folder with --ledger.
struct LedgerFolder {
  TempDir dir;
  std::string ledger = (dir / "ledger.sqlite").string();

  Result gosok(std::vector<std::string> args, double timeout = 120) {
    args.insert(args.begin(), gosok_binary());
    args.push_back("--ledger");
    args.push_back(ledger);
    return run(args, timeout, dir.path());
  }
  /// gosok ARGS --json, which must succeed.
  nlohmann::json json(std::vector<std::string> args, double timeout = 120) {
    args.push_back("--json");
    const auto r = gosok(args, timeout);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    return nlohmann::json::parse(r.output);
  }
};

}  // namespace gosok::test
