#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include <gosok/regression/quantity.hpp>

namespace gosok::regress {

/// A baseline: the stored answer of one case (or case variant), one quantity per check
/// source, in a readable JSON file with its provenance (who made it, when, with which gosok
/// version and git hash, on which system and backend). Made only by `gosok regress
/// --update-baselines`; a missing or unreadable baseline is an error, never a pass.
struct Baseline {
  std::filesystem::path path;
  nlohmann::json provenance = nlohmann::json::object();
  std::map<std::string, Quantity> values;  // by source text

  /// One line: "updated by NAME on DATE with gosok VERSION (HASH) on SYSTEM/BACKEND".
  std::string describe() const;
};

Baseline read_baseline(const std::filesystem::path& path);
/// Writes atomically (a temporary beside it, then rename): a reader sees the old or the
/// new file, never half of one.
void write_baseline(const Baseline& baseline);

/// Who runs this process (the login name of the effective user) and on which host.
std::string current_user();
std::string current_host();

/// Writes text to `path` through a temporary and a rename.
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace gosok::regress
