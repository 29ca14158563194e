#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace gosok {

/// Vocabulary:
///  - a *parameter* is one input key ("nx", "grid.nx", "run.output_dir") declared in a
///    Schema with a type, a default (or none: required), a unit, bounds or choices;
///  - a *list* parameter holds an array of scalars of one element type (`setup = ["a", "b"]`);
///  - a *table* parameter holds keys the schema does not know in advance, each with a
///    scalar or array value (`set = { nx = 200, case = "thermal" }`): another schema
///    checks them later, as `--set key=value` overrides (a workflow step's workload input);
///  - a *record set* is a key whose value is a set of tables, each validated by a nested
///    schema: an array of tables (`[[pair.coeff]]`, records in file order) or named tables
///    (`[partitions.gpu]`, each record carrying its name);
///  - an *Input* is the resolved set of values: defaults, overlaid by a TOML file, overlaid
///    by `--set key=value` overrides, validated against the schema. Each value remembers
///    where it came from, so errors and the written-out resolved input can say so.
/// Every input gosok reads goes through a Schema: workload inputs, site files, grant
/// imports (one record per CSV row or JSON object), the user config, workflows and suites.
using Scalar = std::variant<std::int64_t, double, bool, std::string>;
using List = std::vector<Scalar>;
using Value = std::variant<std::int64_t, double, bool, std::string, List>;

enum class ParamType { integer, real, boolean, string, list, table };

const char* to_string(ParamType type);

struct ParamSpec {
  std::string key;
  ParamType type = ParamType::string;
  ParamType element = ParamType::string;  // the element type of a list
  std::optional<Value> default_value;     // empty: the key is required, unless optional
  bool is_optional = false;               // no default and may be absent (Input::has says)
  std::string description;
  std::string unit;                  // "" for dimensionless; real values accept "10 km"
  std::vector<std::string> choices;  // allowed strings, empty = any
  std::optional<double> min;
  std::optional<double> max;
  std::string cli_flag;  // e.g. "checkpoint-every"; empty = only --set
  /// Reads a string given for a number (e.g. a walltime "1-02:00:00" into seconds); throws
  /// InputError saying what is wrong. Empty: numbers are plain decimals (with the unit).
  std::function<Value(const std::string&)> text_parser;
  std::string text_form;  // what text_parser accepts, for error messages
  /// Extra rule on one value; throws InputError saying what is wrong.
  std::function<void(const Value&)> value_check;

  /// The key may be left out and then has no value (e.g. a bound that is not given).
  ParamSpec& optional() {
    is_optional = true;
    return *this;
  }
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
  ParamSpec& parsed_by(std::function<Value(const std::string&)> parser, std::string form) {
    text_parser = std::move(parser);
    text_form = std::move(form);
    return *this;
  }
  ParamSpec& checked_by(std::function<void(const Value&)> check) {
    value_check = std::move(check);
    return *this;
  }
};

class Schema;

/// A key whose value is a set of records (see the vocabulary above).
struct RecordSetSpec {
  std::string key;
  bool named = false;  // [key.<name>] tables; else [[key]] array of tables
  std::shared_ptr<Schema> schema;
  std::string description;
  std::size_t min_count = 0;
};

class Schema {
 public:
  ParamSpec& integer(const std::string& key, std::optional<std::int64_t> def, std::string desc);
  ParamSpec& real(const std::string& key, std::optional<double> def, std::string desc);
  ParamSpec& boolean(const std::string& key, bool def, std::string desc);
  ParamSpec& string(const std::string& key, std::optional<std::string> def, std::string desc);
  ParamSpec& choice(const std::string& key, std::string def, std::vector<std::string> choices, std::string desc);
  /// A required choice (no default).
  ParamSpec& choice(const std::string& key, std::vector<std::string> choices, std::string desc);
  /// An array of `element` scalars; `def` empty means required.
  ParamSpec& list(const std::string& key, ParamType element, std::optional<List> def, std::string desc);
  /// A table of free keys (nested tables give dotted keys); optional, empty by default. Its
  /// value is a list of "key=text" strings, text as `--set` takes it (Input::get_assignments).
  ParamSpec& table(const std::string& key, std::string desc);

  /// `[[key]]` records, in file order; returns the schema each record is validated by.
  Schema& records(const std::string& key, std::string desc, std::size_t min_count = 0);
  /// `[key.<name>]` records, each with its name; returns the record schema.
  Schema& named_records(const std::string& key, std::string desc, std::size_t min_count = 0);

  const ParamSpec* find(const std::string& key) const;
  const RecordSetSpec* find_records(const std::string& key) const;
  const std::vector<ParamSpec>& params() const { return m_params; }
  const std::vector<RecordSetSpec>& record_sets() const { return m_record_sets; }
  std::string keys_list() const;  // "a, b, c" for error messages

  /// Adds a rule over the resolved input; it throws InputError naming the keys involved.
  void add_check(std::function<void(const class Input&)> check) { m_checks.push_back(std::move(check)); }
  const std::vector<std::function<void(const class Input&)>>& checks() const { return m_checks; }

  /// Human-readable listing (key, type, default, unit, description) for --help.
  std::string describe() const;

 private:
  ParamSpec& add(ParamSpec spec);
  Schema& add_records(const std::string& key, std::string desc, std::size_t min_count, bool named);
  std::vector<ParamSpec> m_params;
  std::vector<RecordSetSpec> m_record_sets;
  std::vector<std::function<void(const class Input&)>> m_checks;
};

struct Record;

/// One `key = value` given as text (a CSV cell, a JSON value, a command-line word), with
/// where it came from ("grants.csv:3").
struct Assignment {
  std::string key;
  std::string text;
  std::string origin;
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
  const List& get_list(const std::string& key) const;
  std::vector<std::string> get_strings(const std::string& key) const;
  std::vector<double> get_reals(const std::string& key) const;
  /// A table parameter's entries, in key order, each with the table's origin.
  std::vector<Assignment> get_assignments(const std::string& key) const;
  const std::string& origin(const std::string& key) const;
  const std::map<std::string, Entry>& entries() const { return m_values; }

  /// The records of a record set, in file order (named records sorted by name); empty when
  /// the input has none.
  const std::vector<Record>& records(const std::string& key) const;
  const std::map<std::string, std::vector<Record>>& record_sets() const { return m_records; }

  void set(const std::string& key, Value value, std::string origin);
  void add_record(const std::string& key, Record record);

  /// The resolved input as TOML, each line commented with where its value came from.
  std::string to_toml() const;

 private:
  const Entry& at(const std::string& key) const;
  std::map<std::string, Entry> m_values;
  std::map<std::string, std::vector<Record>> m_records;
  std::vector<Record> m_no_records;
};

/// One record of a record set: its name (named records), where it starts, its values.
struct Record {
  std::string name;
  std::string origin;
  Input values;
};

/// Resolves defaults ⊕ file ⊕ overrides against the schema. `file` may be empty.
/// Keys in the file that the schema does not declare are errors unless listed in
/// `ignored_keys` (e.g. "workload", which names the schema itself).
Input resolve_input(const Schema& schema, const std::filesystem::path& file, const std::vector<std::string>& overrides,
                    const std::vector<std::string>& ignored_keys = {"workload"});

/// Resolves a TOML document given as text (an embedded file, a string read elsewhere);
/// `source` names it in errors.
Input resolve_text(const Schema& schema, const std::string& text, const std::string& source,
                   const std::vector<std::string>& overrides = {}, const std::vector<std::string>& ignored_keys = {});

/// Resolves values given as text (one CSV row, one JSON object's members), each parsed by
/// its parameter's type as a `--set` value would be; `source` names the whole in errors
/// about missing keys ("grants.csv:3").
Input resolve_assignments(const Schema& schema, const std::vector<Assignment>& items, const std::string& source);

/// Parses `text` as a value of `spec` (as `--set` does) and checks it; errors start with `where`.
Value parse_value(const ParamSpec& spec, const std::string& text, const std::string& where);

/// Reads one top-level string key of a TOML file ("" when absent); parse errors become
/// InputError("file:line:col: ...").
std::string read_toml_string_key(const std::filesystem::path& file, const std::string& key);

/// True when the TOML file has `key` (a value or a table) at its top level.
bool file_has_top_level_key(const std::filesystem::path& file, const std::string& key);

std::string value_to_string(const Value& value);

/// Parses a decimal number in full ("12", "-3.5", "1e-3"); rejects hexadecimal, inf, nan,
/// empty text and trailing characters. Returns nullopt when `text` is not such a number.
std::optional<double> parse_decimal(const std::string& text);
std::optional<std::int64_t> parse_decimal_integer(const std::string& text);

}  // namespace gosok
