#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace gosok {

/// Vocabulary:
///  - a *parameter* is one input key ("nx", "grid.nx", "run.output_dir") declared in a
///    Schema with a type, a default (or none: required), a unit, bounds or choices;
///  - an *Input* is the resolved set of values: defaults, overlaid by a TOML file, overlaid
///    by `--set key=value` overrides, validated against the schema. Each value remembers
///    where it came from, so errors and the written-out resolved input can say so.
using Value = std::variant<std::int64_t, double, bool, std::string>;

enum class ParamType { integer, real, boolean, string };

const char* to_string(ParamType type);

struct ParamSpec {
  std::string key;
  ParamType type = ParamType::string;
  std::optional<Value> default_value;  // empty: the key is required
  std::string description;
  std::string unit;                  // "" for dimensionless; real values accept "10 km"
  std::vector<std::string> choices;  // allowed strings, empty = any
  std::optional<double> min;
  std::optional<double> max;
  std::string cli_flag;  // e.g. "checkpoint-every"; empty = only --set

  ParamSpec& with_unit(std::string u) {
    unit = std::move(u);
    return *this;
  }
  ParamSpec& at_least(double v) {
    min = v;
    return *this;
  }
  ParamSpec& at_most(double v) {
    max = v;
    return *this;
  }
  ParamSpec& flag(std::string f) {
    cli_flag = std::move(f);
    return *this;
  }
};

class Schema {
 public:
  ParamSpec& integer(const std::string& key, std::optional<std::int64_t> def, std::string desc);
  ParamSpec& real(const std::string& key, std::optional<double> def, std::string desc);
  ParamSpec& boolean(const std::string& key, bool def, std::string desc);
  ParamSpec& string(const std::string& key, std::optional<std::string> def, std::string desc);
  ParamSpec& choice(const std::string& key, std::string def, std::vector<std::string> choices, std::string desc);

  const ParamSpec* find(const std::string& key) const;
  const std::vector<ParamSpec>& params() const { return m_params; }
  std::string keys_list() const;  // "a, b, c" for error messages

  /// Adds a rule over the resolved input; it throws InputError naming the keys involved.
  void add_check(std::function<void(const class Input&)> check) { m_checks.push_back(std::move(check)); }
  const std::vector<std::function<void(const class Input&)>>& checks() const { return m_checks; }

  /// Human-readable listing (key, type, default, unit, description) for --help.
  std::string describe() const;

 private:
  ParamSpec& add(ParamSpec spec);
  std::vector<ParamSpec> m_params;
  std::vector<std::function<void(const class Input&)>> m_checks;
};

class Input {
 public:
  struct Entry {
    Value value;
    std::string origin;  // "default", "file.toml:12", "--set"
  };

  bool has(const std::string& key) const { return m_values.count(key) != 0; }
  std::int64_t get_int(const std::string& key) const;
  double get_real(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  const std::string& origin(const std::string& key) const;
  const std::map<std::string, Entry>& entries() const { return m_values; }

  void set(const std::string& key, Value value, std::string origin);

  /// The resolved input as TOML, each line commented with where its value came from.
  std::string to_toml() const;

 private:
  const Entry& at(const std::string& key) const;
  std::map<std::string, Entry> m_values;
};

/// Resolves defaults ⊕ file ⊕ overrides against the schema. `file` may be empty.
/// Keys in the file that the schema does not declare are errors unless listed in
/// `ignored_keys` (e.g. "workload", which names the schema itself).
Input resolve_input(const Schema& schema, const std::filesystem::path& file, const std::vector<std::string>& overrides,
                    const std::vector<std::string>& ignored_keys = {"workload"});

/// Reads one top-level string key of a TOML file ("" when absent); parse errors become
/// InputError("file:line:col: ...").
std::string read_toml_string_key(const std::filesystem::path& file, const std::string& key);

/// True when the TOML file has `key` (a value or a table) at its top level.
bool file_has_top_level_key(const std::filesystem::path& file, const std::string& key);

std::string value_to_string(const Value& value);

}  // namespace gosok
