#include <gosok/core/config.hpp>

#include <fmt/format.h>

#include <toml++/toml.h>
#include <cmath>
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
  }
  return "?";
}

std::string value_to_string(const Value& value) {
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
  return out;
}

std::string Schema::describe() const {
  std::ostringstream os;
  for (const auto& p : m_params) {
    os << fmt::format("  {:<28} {:<8}", p.key, to_string(p.type));
    if (p.default_value) {
      os << " default " << value_to_string(*p.default_value);
    } else {
      os << " required";
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
  return os.str();
}

// ---------------------------------------------------------------- Input

void Input::set(const std::string& key, Value value, std::string origin) {
  m_values[key] = Entry{std::move(value), std::move(origin)};
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

const std::string& Input::origin(const std::string& key) const { return at(key).origin; }

namespace {

std::string toml_literal(const Value& value) {
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
  return value_to_string(value);
}

}  // namespace

std::string Input::to_toml() const {
  // Top-level keys first, then one [section] per first dotted component.
  std::ostringstream os;
  std::map<std::string, std::vector<std::pair<std::string, const Entry*>>> sections;
  for (const auto& [key, entry] : m_values) {
    auto dot = key.find('.');
    if (dot == std::string::npos) {
      os << key << " = " << toml_literal(entry.value) << "  # " << entry.origin << "\n";
    } else {
      sections[key.substr(0, dot)].emplace_back(key.substr(dot + 1), &entry);
    }
  }
  for (const auto& [name, entries] : sections) {
    os << "\n[" << name << "]\n";
    for (const auto& [sub, entry] : entries) {
      os << sub << " = " << toml_literal(entry->value) << "  # " << entry->origin << "\n";
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
  std::string s = std::string("a ") + to_string(spec.type);
  if (spec.min && spec.max) {
    s += fmt::format(" in [{}, {}]", *spec.min, *spec.max);
  } else if (spec.min) {
    s += fmt::format(" >= {}", *spec.min);
  } else if (spec.max) {
    s += fmt::format(" <= {}", *spec.max);
  }
  if (!spec.unit.empty()) s += " (unit " + spec.unit + "; also accepts " + compatible_units(spec.unit) + ")";
  return s;
}

// Converts a TOML node into the spec's type, or throws with `where` as the prefix.
Value convert_node(const toml::node& node, const ParamSpec& spec, const std::string& where) {
  auto fail = [&](const std::string& what) -> Value {
    throw InputError(fmt::format("{}: key '{}' {}; allowed: {}", where, spec.key, what, allowed_for(spec)));
  };
  switch (spec.type) {
    case ParamType::integer:
      if (auto v = node.as_integer()) return Value{v->get()};
      if (auto v = node.as_floating_point()) {
        double d = v->get();
        if (std::floor(d) == d && std::abs(d) < 9e15) return Value{static_cast<std::int64_t>(d)};
      }
      return fail("must be an integer");
    case ParamType::real:
      if (auto v = node.as_floating_point()) return Value{v->get()};
      if (auto v = node.as_integer()) return Value{static_cast<double>(v->get())};
      if (auto v = node.as_string(); v && !spec.unit.empty()) {
        try {
          return Value{convert_quantity(v->get(), spec.unit)};
        } catch (const InputError& e) {
          return fail(e.what());
        }
      }
      return fail("must be a number");
    case ParamType::boolean:
      if (auto v = node.as_boolean()) return Value{v->get()};
      return fail("must be true or false");
    case ParamType::string:
      if (auto v = node.as_string()) return Value{v->get()};
      return fail("must be a string");
  }
  return fail("has an unknown type");
}

void check_bounds(const ParamSpec& spec, const Value& value, const std::string& where) {
  auto fail = [&](const std::string& what) {
    throw InputError(fmt::format("{}: key '{}' = {} {}; allowed: {}", where, spec.key, value_to_string(value), what,
                                 allowed_for(spec)));
  };
  if (!spec.choices.empty()) {
    const auto& s = std::get<std::string>(value);
    bool ok = false;
    for (const auto& c : spec.choices) ok = ok || (c == s);
    if (!ok) fail("is not an allowed value");
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

// Flattens nested tables into dotted keys with their source line.
void flatten(const toml::table& table, const std::string& prefix,
             std::vector<std::tuple<std::string, const toml::node*>>& out) {
  for (const auto& [k, node] : table) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (auto sub = node.as_table()) {
      flatten(*sub, key, out);
    } else {
      out.emplace_back(key, &node);
    }
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

}  // namespace

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
  for (const auto& spec : schema.params()) {
    if (spec.default_value) input.set(spec.key, *spec.default_value, "default");
  }

  if (!file.empty()) {
    toml::table table = parse_file(file);
    std::vector<std::tuple<std::string, const toml::node*>> leaves;
    flatten(table, "", leaves);
    for (const auto& [key, node] : leaves) {
      std::string where = fmt::format("{}:{}", file.string(), node->source().begin.line);
      bool ignored = false;
      for (const auto& k : ignored_keys) ignored = ignored || (k == key);
      if (ignored) continue;
      const ParamSpec* spec = schema.find(key);
      if (!spec) {
        throw InputError(fmt::format("{}: unknown key '{}'; allowed keys: {}", where, key, schema.keys_list()));
      }
      Value value = convert_node(*node, *spec, where);
      check_bounds(*spec, value, where);
      input.set(key, std::move(value), where);
    }
  }

  for (const auto& item : overrides) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw InputError(fmt::format("--set '{}': expected key=value", item));
    }
    std::string key = item.substr(0, eq);
    std::string text = item.substr(eq + 1);
    std::string where = "--set " + item;
    const ParamSpec* spec = schema.find(key);
    if (!spec) {
      throw InputError(fmt::format("{}: unknown key '{}'; allowed keys: {}", where, key, schema.keys_list()));
    }
    // Parse the value as a TOML value; a bare word that is not valid TOML is a string.
    Value value;
    toml::table parsed;
    bool parsed_ok = true;
    try {
      parsed = toml::parse("v = " + text);
    } catch (const toml::parse_error&) {
      parsed_ok = false;
    }
    if (parsed_ok && parsed.contains("v")) {
      const toml::node& node = *parsed.get("v");
      if (spec->type == ParamType::string && !node.is_string()) {
        value = Value{text};
      } else {
        value = convert_node(node, *spec, where);
      }
    } else {
      toml::value<std::string> as_string(text);
      value = convert_node(as_string, *spec, where);
    }
    check_bounds(*spec, value, where);
    input.set(key, std::move(value), "--set");
  }

  for (const auto& spec : schema.params()) {
    if (!input.has(spec.key)) {
      throw InputError(fmt::format("{}: required key '{}' is missing ({}); allowed: {}",
                                   file.empty() ? std::string("input") : file.string(), spec.key, spec.description,
                                   allowed_for(spec)));
    }
  }
  for (const auto& check : schema.checks()) check(input);
  return input;
}

}  // namespace gosok
