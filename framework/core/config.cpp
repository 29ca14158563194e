#include <gosok/core/config.hpp>

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include <gosok/core/error.hpp>
#include <gosok/core/units.hpp>

namespace gosok {

const char* to_string(ParamType type) {
  switch (type) {
    case ParamType::integer:
      return "integer";
    case ParamType::real:
      return "real";
    case ParamType::boolean:
      return "boolean";
    case ParamType::string:
      return "string";
    case ParamType::list:
      return "list";
    case ParamType::table:
      return "table";
  }
  return "?";
}

namespace {

std::string scalar_to_string(const Scalar& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, double>) {
          return fmt::format("{}", v);
        } else {
          return std::to_string(v);
        }
      },
      value);
}

}  // namespace

std::string value_to_string(const Value& value) {
  if (const auto* list = std::get_if<List>(&value)) {
    std::string out = "[";
    for (std::size_t i = 0; i < list->size(); ++i) out += (i ? ", " : "") + scalar_to_string((*list)[i]);
    return out + "]";
  }
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, List>) {
          return {};
        } else {
          return scalar_to_string(Scalar{v});
        }
      },
      value);
}

std::optional<double> parse_decimal(const std::string& text) {
  // [sign] digits [. digits] [e [sign] digits], at least one digit before the exponent.
  std::size_t i = 0;
  const std::size_t n = text.size();
  if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
  std::size_t digits = 0;
  while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
  if (i < n && text[i] == '.') {
    ++i;
    while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    std::size_t exp_digits = 0;
    while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != n) return std::nullopt;
  const double value = std::strtod(text.c_str(), nullptr);
  if (!std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<std::int64_t> parse_decimal_integer(const std::string& text) {
  std::size_t i = 0;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) i = 1;
  if (i == text.size()) return std::nullopt;
  for (std::size_t k = i; k < text.size(); ++k) {
    if (!std::isdigit(static_cast<unsigned char>(text[k]))) return std::nullopt;
  }
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<std::int64_t>(value);
}

// ---------------------------------------------------------------- Schema

ParamSpec& Schema::add(ParamSpec spec) {
  for (auto& existing : m_params) {
    if (existing.key == spec.key) {
      existing = std::move(spec);  // a workload may override a framework default
      return existing;
    }
  }
  m_params.push_back(std::move(spec));
  return m_params.back();
}

ParamSpec& Schema::integer(const std::string& key, std::optional<std::int64_t> def, std::string desc) {
  ParamSpec s;
  s.key = key;
  s.type = ParamType::integer;
  if (def) s.default_value = Value{*def};
  s.description = std::move(desc);
  return add(std::move(s));
}

ParamSpec& Schema::real(const std::string& key, std::optional<double> def, std::string desc) {
  ParamSpec s;
  s.key = key;
  s.type = ParamType::real;
  if (def) s.default_value = Value{*def};
  s.description = std::move(desc);
  return add(std::move(s));
}

ParamSpec& Schema::boolean(const std::string& key, bool def, std::string desc) {
  ParamSpec s;
  s.key = key;
  s.type = ParamType::boolean;
  s.default_value = Value{def};
  s.description = std::move(desc);
  return add(std::move(s));
}

ParamSpec& Schema::string(const std::string& key, std::optional<std::string> def, std::string desc) {
  ParamSpec s;
  s.key = key;
  s.type = ParamType::string;
  if (def) s.default_value = Value{*def};
  s.description = std::move(desc);
  return add(std::move(s));
}

ParamSpec& Schema::choice(const std::string& key, std::string def, std::vector<std::string> choices, std::string desc) {
  ParamSpec& s = string(key, std::move(def), std::move(desc));
  s.choices = std::move(choices);
  return s;
}

ParamSpec& Schema::choice(const std::string& key, std::vector<std::string> choices, std::string desc) {
  ParamSpec& s = string(key, std::nullopt, std::move(desc));
  s.choices = std::move(choices);
  return s;
}

ParamSpec& Schema::list(const std::string& key, ParamType element, std::optional<List> def, std::string desc) {
  ParamSpec s;
  s.key = key;
  s.type = ParamType::list;
  s.element = element;
  if (def) s.default_value = Value{*def};
  s.description = std::move(desc);
  return add(std::move(s));
}

ParamSpec& Schema::table(const std::string& key, std::string desc) {
  ParamSpec s;
  s.key = key;
  s.type = ParamType::table;
  s.default_value = Value{List{}};
  s.description = std::move(desc);
  return add(std::move(s));
}

Schema& Schema::add_records(const std::string& key, std::string desc, std::size_t min_count, bool named) {
  for (auto& existing : m_record_sets) {
    if (existing.key == key) return *existing.schema;
  }
  RecordSetSpec spec;
  spec.key = key;
  spec.named = named;
  spec.schema = std::make_shared<Schema>();
  spec.description = std::move(desc);
  spec.min_count = min_count;
  m_record_sets.push_back(spec);
  return *spec.schema;
}

Schema& Schema::records(const std::string& key, std::string desc, std::size_t min_count) {
  return add_records(key, std::move(desc), min_count, false);
}

Schema& Schema::named_records(const std::string& key, std::string desc, std::size_t min_count) {
  return add_records(key, std::move(desc), min_count, true);
}

const RecordSetSpec* Schema::find_records(const std::string& key) const {
  for (const auto& r : m_record_sets) {
    if (r.key == key) return &r;
  }
  return nullptr;
}

const ParamSpec* Schema::find(const std::string& key) const {
  for (const auto& p : m_params) {
    if (p.key == key) return &p;
  }
  return nullptr;
}

std::string Schema::keys_list() const {
  std::string out;
  for (const auto& p : m_params) {
    if (!out.empty()) out += ", ";
    out += p.key;
  }
  for (const auto& r : m_record_sets) {
    if (!out.empty()) out += ", ";
    out += r.named ? "[" + r.key + ".<name>]" : "[[" + r.key + "]]";
  }
  return out;
}

std::string Schema::describe() const {
  std::ostringstream os;
  for (const auto& p : m_params) {
    const std::string type =
        p.type == ParamType::list ? std::string("list of ") + to_string(p.element) : std::string(to_string(p.type));
    os << fmt::format("  {:<28} {:<8}", p.key, type);
    if (p.default_value) {
      os << " default " << value_to_string(*p.default_value);
    } else {
      os << (p.is_optional ? " optional" : " required");
    }
    if (!p.unit.empty()) os << " [" << p.unit << "]";
    if (!p.choices.empty()) {
      os << " one of {";
      for (std::size_t i = 0; i < p.choices.size(); ++i) os << (i ? ", " : "") << p.choices[i];
      os << "}";
    }
    if (!p.cli_flag.empty()) os << " (--" << p.cli_flag << ")";
    os << "\n      " << p.description << "\n";
  }
  for (const auto& r : m_record_sets) {
    os << fmt::format("  {}\n      {}{}\n", r.named ? "[" + r.key + ".<name>]" : "[[" + r.key + "]]", r.description,
                      r.min_count ? fmt::format(" (at least {})", r.min_count) : std::string());
    std::istringstream lines(r.schema->describe());
    for (std::string line; std::getline(lines, line);) os << "    " << line << "\n";
  }
  return os.str();
}

// ---------------------------------------------------------------- Input

void Input::set(const std::string& key, Value value, std::string origin) {
  m_values[key] = Entry{std::move(value), std::move(origin)};
}

void Input::add_record(const std::string& key, Record record) { m_records[key].push_back(std::move(record)); }

const std::vector<Record>& Input::records(const std::string& key) const {
  auto it = m_records.find(key);
  return it == m_records.end() ? m_no_records : it->second;
}

const Input::Entry& Input::at(const std::string& key) const {
  auto it = m_values.find(key);
  if (it == m_values.end()) throw InputError("input key '" + key + "' is not set");
  return it->second;
}

std::int64_t Input::get_int(const std::string& key) const {
  const auto& e = at(key);
  if (auto p = std::get_if<std::int64_t>(&e.value)) return *p;
  throw InputError("input key '" + key + "' is not an integer");
}

double Input::get_real(const std::string& key) const {
  const auto& e = at(key);
  if (auto p = std::get_if<double>(&e.value)) return *p;
  if (auto p = std::get_if<std::int64_t>(&e.value)) return static_cast<double>(*p);
  throw InputError("input key '" + key + "' is not a real number");
}

bool Input::get_bool(const std::string& key) const {
  const auto& e = at(key);
  if (auto p = std::get_if<bool>(&e.value)) return *p;
  throw InputError("input key '" + key + "' is not a boolean");
}

const std::string& Input::get_string(const std::string& key) const {
  const auto& e = at(key);
  if (auto p = std::get_if<std::string>(&e.value)) return *p;
  throw InputError("input key '" + key + "' is not a string");
}

const List& Input::get_list(const std::string& key) const {
  const auto& e = at(key);
  if (auto p = std::get_if<List>(&e.value)) return *p;
  throw InputError("input key '" + key + "' is not a list");
}

std::vector<std::string> Input::get_strings(const std::string& key) const {
  std::vector<std::string> out;
  for (const auto& item : get_list(key)) {
    if (auto p = std::get_if<std::string>(&item)) {
      out.push_back(*p);
    } else {
      throw InputError("input key '" + key + "' is not a list of strings");
    }
  }
  return out;
}

std::vector<double> Input::get_reals(const std::string& key) const {
  std::vector<double> out;
  for (const auto& item : get_list(key)) {
    if (auto p = std::get_if<double>(&item)) {
      out.push_back(*p);
    } else if (auto q = std::get_if<std::int64_t>(&item)) {
      out.push_back(static_cast<double>(*q));
    } else {
      throw InputError("input key '" + key + "' is not a list of numbers");
    }
  }
  return out;
}

std::vector<Assignment> Input::get_assignments(const std::string& key) const {
  std::vector<Assignment> out;
  const auto& entry = at(key);
  for (const auto& item : get_strings(key)) {
    const auto eq = item.find('=');
    out.push_back({item.substr(0, eq), item.substr(eq + 1), entry.origin});
  }
  return out;
}

const std::string& Input::origin(const std::string& key) const { return at(key).origin; }

namespace {

std::string toml_scalar(const Scalar& value) {
  if (auto s = std::get_if<std::string>(&value)) {
    std::ostringstream os;
    os << toml::value<std::string>(*s);
    return os.str();
  }
  if (auto d = std::get_if<double>(&value)) {
    std::string text = fmt::format("{}", *d);
    if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
    return text;
  }
  return scalar_to_string(value);
}

std::string toml_literal(const Value& value) {
  if (const auto* list = std::get_if<List>(&value)) {
    std::string out = "[";
    for (std::size_t i = 0; i < list->size(); ++i) out += (i ? ", " : "") + toml_scalar((*list)[i]);
    return out + "]";
  }
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, List>) {
          return {};
        } else {
          return toml_scalar(Scalar{v});
        }
      },
      value);
}

// A key as TOML writes it: bare when it can be, quoted otherwise.
std::string toml_key(const std::string& key) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  return bare ? key : toml_scalar(Scalar{key});
}

// The lines `key = value  # origin` of one record's (or the whole input's) dotted keys.
void write_values(std::ostringstream& os, const std::map<std::string, Input::Entry>& values) {
  for (const auto& [key, entry] : values) {
    os << key << " = " << toml_literal(entry.value) << "  # " << entry.origin << "\n";
  }
}

}  // namespace

std::string Input::to_toml() const {
  // Top-level keys first, then one [section] per first dotted component, then the records.
  std::ostringstream os;
  std::map<std::string, std::map<std::string, Entry>> sections;
  std::map<std::string, Entry> top;
  for (const auto& [key, entry] : m_values) {
    auto dot = key.find('.');
    if (dot == std::string::npos) {
      top[key] = entry;
    } else {
      sections[key.substr(0, dot)][key.substr(dot + 1)] = entry;
    }
  }
  write_values(os, top);
  for (const auto& [name, entries] : sections) {
    os << "\n[" << name << "]\n";
    write_values(os, entries);
  }
  for (const auto& [key, records] : m_records) {
    for (const auto& record : records) {
      if (record.name.empty()) {
        os << "\n[[" << key << "]]  # " << record.origin << "\n";
      } else {
        os << "\n[" << key << "." << toml_key(record.name) << "]  # " << record.origin << "\n";
      }
      write_values(os, record.values.entries());
    }
  }
  return os.str();
}

// ---------------------------------------------------------------- resolution

namespace {

std::string allowed_for(const ParamSpec& spec) {
  if (!spec.choices.empty()) {
    std::string s;
    for (const auto& c : spec.choices) s += (s.empty() ? "" : ", ") + c;
    return "one of: " + s;
  }
  if (spec.type == ParamType::table) return "a table of key = value entries, e.g. { nx = 200, case = \"thermal\" }";
  std::string s = spec.type == ParamType::list ? std::string("a list of ") + to_string(spec.element) + " values"
                                               : std::string("a ") + to_string(spec.type);
  if (spec.min && spec.max) {
    s += fmt::format(" in [{}, {}]", *spec.min, *spec.max);
  } else if (spec.min) {
    s += fmt::format(" >= {}", *spec.min);
  } else if (spec.max) {
    s += fmt::format(" <= {}", *spec.max);
  }
  if (!spec.unit.empty()) s += " (unit " + spec.unit + "; also accepts " + compatible_units(spec.unit) + ")";
  if (!spec.text_form.empty()) s += " (or " + spec.text_form + ")";
  return s;
}

[[noreturn]] void fail_value(const ParamSpec& spec, const std::string& where, const std::string& what) {
  throw InputError(fmt::format("{}: key '{}' {}; allowed: {}", where, spec.key, what, allowed_for(spec)));
}

// A string given for a scalar of `type`: the parameter's own text form, else decimals
// (with the unit for reals), true/false, or the text itself.
Scalar scalar_from_text(const ParamSpec& spec, ParamType type, const std::string& text, const std::string& where) {
  if (spec.text_parser && (type == ParamType::integer || type == ParamType::real)) {
    try {
      const Value v = spec.text_parser(text);
      if (auto i = std::get_if<std::int64_t>(&v)) return *i;
      if (auto d = std::get_if<double>(&v)) return *d;
    } catch (const InputError& e) {
      fail_value(spec, where, fmt::format("= '{}': {}", text, e.what()));
    }
    fail_value(spec, where, fmt::format("= '{}' is not a number", text));
  }
  switch (type) {
    case ParamType::integer: {
      if (auto i = parse_decimal_integer(text)) return *i;
      const bool digits = text.find_first_of("0123456789") != std::string::npos &&
                          text.find_first_not_of("+-0123456789") == std::string::npos;
      fail_value(spec, where,
                 fmt::format(digits ? "= '{}' is out of range" : "= '{}' must be a decimal integer", text));
    }
    case ParamType::real: {
      if (auto d = parse_decimal(text)) return *d;
      if (!spec.unit.empty()) {
        // "<decimal> <unit>": the number part must itself be a plain decimal.
        std::size_t end = 0;
        while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.' ||
                                     text[end] == '-' || text[end] == '+' || text[end] == 'e' || text[end] == 'E')) {
          ++end;
        }
        // An exponent letter directly followed by a unit letter belongs to the unit.
        while (end > 0 && (text[end - 1] == 'e' || text[end - 1] == 'E')) --end;
        const auto number = parse_decimal(text.substr(0, end));
        if (number) {
          try {
            return convert_quantity(text, spec.unit);
          } catch (const InputError& e) {
            fail_value(spec, where, e.what());
          }
        }
      }
      fail_value(spec, where, fmt::format("= '{}' must be a finite decimal number", text));
    }
    case ParamType::boolean:
      if (text == "true") return true;
      if (text == "false") return false;
      fail_value(spec, where, fmt::format("= '{}' must be true or false", text));
    case ParamType::string:
    case ParamType::list:
    case ParamType::table:
      break;
  }
  // A TOML string literal ("a b", 'c') stands for its contents, as in an input file.
  if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'') && text.back() == text.front()) {
    try {
      const toml::table parsed = toml::parse("v = " + text);
      if (const auto* v = parsed.get("v"); v && v->is_string()) return v->as_string()->get();
    } catch (const toml::parse_error&) {
      // not a literal: the text itself
    }
  }
  return text;
}

// Converts a TOML scalar node into `type`, or throws with `where` as the prefix.
Scalar scalar_from_node(const toml::node& node, const ParamSpec& spec, ParamType type, const std::string& where) {
  switch (type) {
    case ParamType::integer:
      if (auto v = node.as_integer()) return v->get();
      if (auto v = node.as_floating_point()) {
        const double d = v->get();
        if (std::floor(d) == d && std::abs(d) < 9e15) return static_cast<std::int64_t>(d);
      }
      if (auto v = node.as_string(); v && spec.text_parser) return scalar_from_text(spec, type, v->get(), where);
      fail_value(spec, where, "must be an integer");
    case ParamType::real:
      if (auto v = node.as_floating_point()) return v->get();
      if (auto v = node.as_integer()) return static_cast<double>(v->get());
      if (auto v = node.as_string(); v && (!spec.unit.empty() || spec.text_parser)) {
        return scalar_from_text(spec, type, v->get(), where);
      }
      fail_value(spec, where, "must be a number");
    case ParamType::boolean:
      if (auto v = node.as_boolean()) return v->get();
      fail_value(spec, where, "must be true or false");
    case ParamType::string:
      if (auto v = node.as_string()) return v->get();
      fail_value(spec, where, "must be a string");
    case ParamType::list:
    case ParamType::table:
      break;
  }
  fail_value(spec, where, "has an unknown type");
}

// A table's entries as "key=text" (nested tables as dotted keys): a string as its
// characters, any other value as TOML writes it, as `--set key=value` would take them.
void flatten_table(const toml::table& table, const std::string& prefix, const ParamSpec& spec, const std::string& where,
                   List& out) {
  for (const auto& [k, node] : table) {
    const std::string key = prefix + std::string(k.str());
    const bool bare = !k.str().empty() && std::all_of(k.str().begin(), k.str().end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
    if (!bare) fail_value(spec, where, fmt::format("has the key '{}'; keys are letters, digits, _ and -", key));
    if (const auto* sub = node.as_table()) {
      flatten_table(*sub, key + ".", spec, where, out);
    } else if (const auto* text = node.as_string()) {
      out.push_back(key + "=" + text->get());
    } else {
      std::ostringstream os;
      if (const auto* array = node.as_array()) {
        os << *array;
      } else {
        node.visit([&](const auto& v) { os << v; });
      }
      out.push_back(key + "=" + os.str());
    }
  }
}

Value value_from_node(const toml::node& node, const ParamSpec& spec, const std::string& where) {
  if (spec.type == ParamType::table) {
    const auto* table = node.as_table();
    if (!table) fail_value(spec, where, "must be a table");
    List out;
    flatten_table(*table, "", spec, where, out);
    return out;
  }
  if (spec.type != ParamType::list) {
    return std::visit([](auto&& v) -> Value { return v; }, scalar_from_node(node, spec, spec.type, where));
  }
  const auto* array = node.as_array();
  if (!array) fail_value(spec, where, "must be an array");
  List out;
  for (const auto& item : *array) out.push_back(scalar_from_node(item, spec, spec.element, where));
  return out;
}

void check_scalar(const ParamSpec& spec, const Scalar& value, const std::string& where) {
  auto fail = [&](const std::string& what) {
    fail_value(spec, where, fmt::format("= {} {}", scalar_to_string(value), what));
  };
  if (!spec.choices.empty()) {
    const auto* s = std::get_if<std::string>(&value);
    if (!s || std::find(spec.choices.begin(), spec.choices.end(), *s) == spec.choices.end()) {
      fail("is not an allowed value");
    }
  }
  double number = 0;
  if (auto as_int = std::get_if<std::int64_t>(&value)) {
    number = static_cast<double>(*as_int);
  } else if (auto as_real = std::get_if<double>(&value)) {
    number = *as_real;
    if (!std::isfinite(number)) fail("is not finite");
  } else {
    return;
  }
  if (spec.min && number < *spec.min) fail("is too small");
  if (spec.max && number > *spec.max) fail("is too large");
}

void check_value(const ParamSpec& spec, const Value& value, const std::string& where) {
  if (const auto* list = std::get_if<List>(&value)) {
    for (const auto& item : *list) check_scalar(spec, item, where);
  } else {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (!std::is_same_v<T, List>) check_scalar(spec, Scalar{v}, where);
        },
        value);
  }
  if (spec.value_check) {
    try {
      spec.value_check(value);
    } catch (const InputError& e) {
      fail_value(spec, where, fmt::format("= {}: {}", value_to_string(value), e.what()));
    }
  }
}

std::string line_of(const std::string& source, const toml::node& node) {
  const auto line = node.source().begin.line;
  return line ? fmt::format("{}:{}", source, line) : source;
}

[[noreturn]] void unknown_key(const Schema& schema, const std::string& where, const std::string& key) {
  throw InputError(fmt::format("{}: unknown key '{}'; allowed keys: {}", where, key, schema.keys_list()));
}

bool declares_section(const Schema& schema, const std::string& section) {
  const std::string head = section + ".";
  for (const auto& p : schema.params()) {
    if (p.key.compare(0, head.size(), head) == 0) return true;
  }
  for (const auto& r : schema.record_sets()) {
    if (r.key.compare(0, head.size(), head) == 0) return true;
  }
  return false;
}

void fill_defaults(const Schema& schema, Input& input) {
  for (const auto& spec : schema.params()) {
    if (spec.default_value) input.set(spec.key, *spec.default_value, "default");
  }
}

void check_complete(const Schema& schema, const Input& input, const std::string& source, const std::string& prefix) {
  for (const auto& spec : schema.params()) {
    if (!input.has(spec.key) && !spec.is_optional) {
      throw InputError(fmt::format("{}: required key '{}{}' is missing ({}); allowed: {}", source, prefix, spec.key,
                                   spec.description, allowed_for(spec)));
    }
  }
  for (const auto& set : schema.record_sets()) {
    if (input.records(set.key).size() < set.min_count) {
      throw InputError(fmt::format(
          "{}: needs at least {} {} ({})", source, set.min_count,
          set.named ? "[" + prefix + set.key + ".<name>] table(s)" : "[[" + prefix + set.key + "]] table(s)",
          set.description));
    }
  }
  for (const auto& check : schema.checks()) {
    if (prefix.empty()) {
      check(input);
      continue;
    }
    // A record's rule: say which record broke it.
    try {
      check(input);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: {}: {}", source, prefix.substr(0, prefix.size() - 1), e.what()));
    }
  }
}

Input resolve_table(const Schema& schema, const toml::table& table, const std::string& source,
                    const std::string& prefix, const std::vector<std::string>& ignored_keys);

// Walks `table` (whose dotted path is `path`), setting every leaf into `input`.
void read_table(const Schema& schema, const toml::table& table, const std::string& path, const std::string& source,
                const std::string& prefix, const std::vector<std::string>& ignored_keys, Input& input) {
  for (const auto& [k, node] : table) {
    const std::string key = path.empty() ? std::string(k.str()) : path + "." + std::string(k.str());
    const std::string where = line_of(source, node);
    if (std::find(ignored_keys.begin(), ignored_keys.end(), key) != ignored_keys.end()) continue;
    if (const RecordSetSpec* set = schema.find_records(key)) {
      if (set->named) {
        const auto* named = node.as_table();
        if (!named) {
          throw InputError(fmt::format("{}: '{}{}' must be tables [{}{}.<name>]", where, prefix, key, prefix, key));
        }
        for (const auto& [name, sub] : *named) {
          const std::string record_prefix = prefix + key + "." + std::string(name.str()) + ".";
          const auto* record_table = sub.as_table();
          if (!record_table) {
            throw InputError(fmt::format("{}: '{}' must be a table", line_of(source, sub),
                                         record_prefix.substr(0, record_prefix.size() - 1)));
          }
          input.add_record(key, Record{std::string(name.str()), line_of(source, sub),
                                       resolve_table(*set->schema, *record_table, source, record_prefix, {})});
        }
      } else {
        const auto* array = node.as_array();
        if (!array || !array->is_array_of_tables()) {
          throw InputError(
              fmt::format("{}: '{}{}' must be an array of tables [[{}{}]]", where, prefix, key, prefix, key));
        }
        std::size_t index = 0;
        for (const auto& item : *array) {
          const std::string record_prefix = fmt::format("{}{}[{}].", prefix, key, index++);
          input.add_record(key, Record{std::string(), line_of(source, item),
                                       resolve_table(*set->schema, *item.as_table(), source, record_prefix, {})});
        }
      }
      continue;
    }
    const ParamSpec* spec = schema.find(key);
    if (!spec) {
      // A table is a section of dotted keys; one that no declared key lies in is unknown.
      const auto* sub = node.as_table();
      if (sub && declares_section(schema, key)) {
        read_table(schema, *sub, key, source, prefix, ignored_keys, input);
        continue;
      }
      unknown_key(schema, where, prefix + key);
    }
    ParamSpec named = *spec;
    named.key = prefix + key;
    Value value = value_from_node(node, named, where);
    check_value(named, value, where);
    input.set(key, std::move(value), where);
  }
}

Input resolve_table(const Schema& schema, const toml::table& table, const std::string& source,
                    const std::string& prefix, const std::vector<std::string>& ignored_keys) {
  Input input;
  fill_defaults(schema, input);
  read_table(schema, table, "", source, prefix, ignored_keys, input);
  check_complete(schema, input, line_of(source, table), prefix);
  return input;
}

toml::table parse_toml(const std::string& text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    throw InputError(
        fmt::format("{}:{}:{}: malformed TOML: {}", source, src.begin.line, src.begin.column, e.description()));
  }
}

toml::table parse_file(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    throw InputError(fmt::format("{}: no such input file", file.string()));
  }
  try {
    return toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    throw InputError(
        fmt::format("{}:{}:{}: malformed TOML: {}", file.string(), src.begin.line, src.begin.column, e.description()));
  }
}

void apply_overrides(const Schema& schema, const std::vector<std::string>& overrides, Input& input) {
  for (const auto& item : overrides) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw InputError(fmt::format("--set '{}': expected key=value", item));
    }
    const std::string key = item.substr(0, eq);
    const std::string where = "--set " + item;
    if (schema.find_records(key)) {
      throw InputError(fmt::format("{}: '{}' is a set of tables; give it in the input file", where, key));
    }
    const ParamSpec* spec = schema.find(key);
    if (!spec) unknown_key(schema, where, key);
    input.set(key, parse_value(*spec, item.substr(eq + 1), where), "--set");
  }
}

}  // namespace

Value parse_value(const ParamSpec& spec, const std::string& text, const std::string& where) {
  Value value;
  if (spec.type == ParamType::list || spec.type == ParamType::table) {
    // A list is written as TOML writes an array: [1, 2] or ["a", "b"]; a table inline: { a = 1 }.
    toml::table parsed;
    try {
      parsed = toml::parse("v = " + text);
    } catch (const toml::parse_error&) {
      fail_value(spec, where,
                 spec.type == ParamType::list
                     ? fmt::format("= '{}' is not an array such as [1, 2] or [\"a\", \"b\"]", text)
                     : fmt::format("= '{}' is not an inline table such as {{ a = 1, b = \"x\" }}", text));
    }
    value = value_from_node(*parsed.get("v"), spec, where);
  } else {
    value = std::visit([](auto&& v) -> Value { return v; }, scalar_from_text(spec, spec.type, text, where));
  }
  check_value(spec, value, where);
  return value;
}

std::string read_toml_string_key(const std::filesystem::path& file, const std::string& key) {
  toml::table table = parse_file(file);
  auto node = table.at_path(key);
  if (!node) return {};
  if (auto s = node.as_string()) return s->get();
  throw InputError(fmt::format("{}: key '{}' must be a string", file.string(), key));
}

bool file_has_top_level_key(const std::filesystem::path& file, const std::string& key) {
  return parse_file(file).contains(key);
}

Input resolve_input(const Schema& schema, const std::filesystem::path& file, const std::vector<std::string>& overrides,
                    const std::vector<std::string>& ignored_keys) {
  Input input;
  fill_defaults(schema, input);
  const std::string source = file.empty() ? std::string("input") : file.string();
  if (!file.empty()) {
    const toml::table table = parse_file(file);
    read_table(schema, table, "", file.string(), "", ignored_keys, input);
  }
  apply_overrides(schema, overrides, input);
  check_complete(schema, input, source, "");
  return input;
}

Input resolve_text(const Schema& schema, const std::string& text, const std::string& source,
                   const std::vector<std::string>& overrides, const std::vector<std::string>& ignored_keys) {
  Input input;
  fill_defaults(schema, input);
  const toml::table table = parse_toml(text, source);
  read_table(schema, table, "", source, "", ignored_keys, input);
  apply_overrides(schema, overrides, input);
  check_complete(schema, input, source, "");
  return input;
}

Input resolve_assignments(const Schema& schema, const std::vector<Assignment>& items, const std::string& source) {
  Input input;
  fill_defaults(schema, input);
  for (const auto& item : items) {
    const ParamSpec* spec = schema.find(item.key);
    if (!spec) unknown_key(schema, item.origin, item.key);
    input.set(item.key, parse_value(*spec, item.text, item.origin), item.origin);
  }
  check_complete(schema, input, source, "");
  return input;
}

}  // namespace gosok
