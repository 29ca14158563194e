#include <gosok/regression/quantity.hpp>

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include <gosok/core/config.hpp>
#include <gosok/core/error.hpp>

namespace gosok::regress {

namespace fs = std::filesystem;

std::string Quantity::where(std::size_t i) const {
  if (i < labels.size()) return labels[i];
  if (shape.size() <= 1) return fmt::format("[{}]", i);
  std::vector<std::size_t> index(shape.size());
  std::size_t rest = i;
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = rest % shape[d];
    rest /= shape[d];
  }
  std::string out;
  for (auto k : index) out += (out.empty() ? "" : ", ") + std::to_string(k);
  return "[" + out + "]";
}

nlohmann::json Quantity::to_json() const {
  nlohmann::json j{{"shape", shape}, {"values", values}};
  if (!labels.empty()) j["labels"] = labels;
  return j;
}

Quantity Quantity::from_json(const nlohmann::json& j, const std::string& where) {
  Quantity q;
  try {
    q.shape = j.at("shape").get<std::vector<std::size_t>>();
    q.values = j.at("values").get<std::vector<double>>();
    if (j.contains("labels")) q.labels = j.at("labels").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(
        fmt::format("{}: not a stored quantity ({{\"shape\": [...], \"values\": [...]}}): {}", where, e.what()));
  }
  std::size_t n = 1;
  for (auto e : q.shape) n *= e;
  if ((!q.shape.empty() && n != q.values.size()) || (!q.labels.empty() && q.labels.size() != q.values.size())) {
    throw InputError(where + ": the stored shape or labels do not match the number of values");
  }
  return q;
}

Source parse_source(const std::string& text) {
  const auto forms = "json:FILE:PATH, h5:FILE:DATASET or file:FILE";
  const auto colon = text.find(':');
  Source s;
  s.text = text;
  if (colon != std::string::npos) s.kind = text.substr(0, colon);
  if (s.kind == "file") {
    s.file = text.substr(colon + 1);
  } else if (s.kind == "json" || s.kind == "h5") {
    const auto second = text.find(':', colon + 1);
    if (second == std::string::npos) {
      throw InputError(fmt::format("'{}' names no {} inside the file; expected {}", text,
                                   s.kind == "json" ? "path" : "dataset", forms));
    }
    s.file = text.substr(colon + 1, second - colon - 1);
    s.path = text.substr(second + 1);
    if (s.kind == "h5" && s.path.empty())
      throw InputError(fmt::format("'{}' names no dataset; expected {}", text, forms));
  } else {
    throw InputError(fmt::format("'{}' is not a source of numbers; expected {}", text, forms));
  }
  if (s.file.empty()) throw InputError(fmt::format("'{}' names no file; expected {}", text, forms));
  if (fs::path(s.file).is_absolute() || s.file.find("..") != std::string::npos) {
    throw InputError(
        fmt::format("'{}': the file must lie inside the run's results folder (no absolute path, no ..)", text));
  }
  return s;
}

namespace {

struct Node {
  const nlohmann::json* value;
  std::string label;
};

// One path segment: a member name (may be empty) and its selectors ("3", "-1", "*").
struct Segment {
  std::string name;
  std::vector<std::string> selectors;
};

std::vector<Segment> parse_path(const std::string& path, const std::string& where) {
  std::vector<Segment> out;
  if (path.empty()) return out;
  std::size_t i = 0;
  while (i <= path.size()) {
    Segment seg;
    while (i < path.size() && path[i] != '.' && path[i] != '[') seg.name += path[i++];
    while (i < path.size() && path[i] == '[') {
      const auto close = path.find(']', i);
      if (close == std::string::npos) throw InputError(where + ": unclosed '[' in '" + path + "'");
      seg.selectors.push_back(path.substr(i + 1, close - i - 1));
      i = close + 1;
    }
    if (seg.name.empty() && seg.selectors.empty()) throw InputError(where + ": empty member name in '" + path + "'");
    out.push_back(seg);
    if (i == path.size()) break;
    if (path[i] != '.') throw InputError(where + ": expected '.' or '[' at '" + path.substr(i) + "'");
    ++i;
  }
  return out;
}

// The index `selector` names in an array of `size` elements ([-1] is the last).
std::size_t pick(const std::string& selector, std::size_t size, const std::string& what) {
  const auto k = parse_decimal_integer(selector);
  if (!k) throw InputError(fmt::format("{}: '[{}]' is not an index (use [3], [-1] or [*])", what, selector));
  const long long index = *k < 0 ? static_cast<long long>(size) + *k : *k;
  if (index < 0 || index >= static_cast<long long>(size)) {
    throw InputError(fmt::format("{}: index [{}] is outside the {} element(s)", what, selector, size));
  }
  return static_cast<std::size_t>(index);
}

}  // namespace

Quantity select_json(const nlohmann::json& doc, const std::string& path, const std::string& where) {
  std::vector<Node> nodes{{&doc, ""}};
  for (const auto& seg : parse_path(path, where)) {
    std::vector<Node> next;
    for (const auto& n : nodes) {
      const std::string label = n.label.empty() ? seg.name : n.label + "." + seg.name;
      const nlohmann::json* v = n.value;
      if (!seg.name.empty()) {
        if (!v->is_object() || !v->contains(seg.name)) {
          throw InputError(
              fmt::format("{}: no member '{}'{}", where, seg.name, n.label.empty() ? std::string() : " in " + n.label));
        }
        v = &(*v)[seg.name];
      }
      std::vector<Node> level{{v, label}};
      for (const auto& sel : seg.selectors) {
        std::vector<Node> expanded;
        for (const auto& e : level) {
          if (!e.value->is_array()) throw InputError(fmt::format("{}: {} is not an array", where, e.label));
          if (sel == "*") {
            for (std::size_t k = 0; k < e.value->size(); ++k) {
              expanded.push_back({&(*e.value)[k], fmt::format("{}[{}]", e.label, k)});
            }
          } else {
            // Labelled as written: [-1] of a longer series is still the last record.
            const std::size_t k = pick(sel, e.value->size(), where + ": " + e.label);
            expanded.push_back({&(*e.value)[k], fmt::format("{}[{}]", e.label, sel)});
          }
        }
        level = std::move(expanded);
      }
      next.insert(next.end(), level.begin(), level.end());
    }
    nodes = std::move(next);
  }
  Quantity q;
  auto add = [&](const nlohmann::json& v, const std::string& label) {
    if (!v.is_number()) throw InputError(fmt::format("{}: {} is not a number", where, label.empty() ? "it" : label));
    q.values.push_back(v.get<double>());
    q.labels.push_back(label);
  };
  for (const auto& n : nodes) {
    if (n.value->is_object()) {
      for (const auto& [key, member] : n.value->items()) {
        if (member.is_number()) add(member, n.label.empty() ? key : n.label + "." + key);
      }
    } else if (n.value->is_array()) {
      for (std::size_t k = 0; k < n.value->size(); ++k) add((*n.value)[k], fmt::format("{}[{}]", n.label, k));
    } else {
      add(*n.value, n.label);
    }
  }
  if (q.values.empty()) throw InputError(where + ": selects no numbers");
  return q;
}

Quantity read_quantity(const fs::path& dir, const Source& source, const DatasetReader& read_dataset) {
  const fs::path file = dir / source.file;
  const std::string where = fmt::format("{} ({})", source.text, file.string());
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) throw InputError(where + ": no such file");
  if (source.kind == "file") {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) throw InputError(where + ": cannot read the file");
    Quantity q;
    q.bytes = text.str();
    return q;
  }
  if (source.kind == "json") {
    std::ifstream in(file);
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(where + ": not readable JSON: " + e.what());
    }
    return select_json(doc, source.path, where);
  }
  // h5: a dataset, optionally one index of its first dimension.
  std::string dataset = source.path;
  std::string selector;
  if (!dataset.empty() && dataset.back() == ']') {
    const auto open = dataset.rfind('[');
    if (open == std::string::npos) throw InputError(where + ": unmatched ']'");
    selector = dataset.substr(open + 1, dataset.size() - open - 2);
    dataset.resize(open);
  }
  if (!read_dataset) throw InputError(where + ": this program reads no HDF5 files");
  Quantity whole = read_dataset(file, dataset);
  if (selector.empty() || selector == "*") return whole;
  if (whole.shape.empty()) throw InputError(where + ": a scalar dataset has no records to select");
  const std::size_t k = pick(selector, whole.shape[0], where);
  std::size_t stride = 1;
  for (std::size_t d = 1; d < whole.shape.size(); ++d) stride *= whole.shape[d];
  Quantity q;
  q.shape.assign(whole.shape.begin() + 1, whole.shape.end());
  q.values.assign(whole.values.begin() + static_cast<long>(k * stride),
                  whole.values.begin() + static_cast<long>((k + 1) * stride));
  return q;
}

}  // namespace gosok::regress
