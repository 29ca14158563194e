#include <gosok/scheduler/grants.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include <gosok/core/config.hpp>
#include <gosok/core/error.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/text.hpp>

namespace gosok::sched {

bool Grant::same_terms(const Grant& o) const {
  return id == o.id && project == o.project && institution == o.institution && sector == o.sector && site == o.site &&
         gpu_type == o.gpu_type && gpu_hours == o.gpu_hours && start == o.start && end == o.end &&
         account == o.account && qos == o.qos;
}

namespace {
const std::vector<std::string> kSectors = {"industry", "academia", "research", "national_project"};
}  // namespace

const std::vector<std::string>& grant_sectors() { return kSectors; }

namespace {

const std::vector<std::string> required_keys = {"id",       "project",   "institution", "sector", "site",
                                                "gpu_type", "gpu_hours", "start",       "end",    "account"};

Value date_value(const std::string& text) { return Value{parse_date(text, "the date")}; }

void token_value(const Value& v) { require_token("the value", std::get<std::string>(v), false, 64); }

// One grant's fields: every number finite and in range, every name a token, checked by
// the schema as each row is read.
Schema grant_schema() {
  Schema s;
  s.string("id", std::nullopt, "the grant's id").checked_by(token_value);
  s.string("project", std::nullopt, "the project's name").checked_by([](const Value& v) {
    if (trim(std::get<std::string>(v)).empty()) throw InputError("it is empty");
  });
  s.string("institution", std::nullopt, "the project's institution").checked_by([](const Value& v) {
    if (trim(std::get<std::string>(v)).empty()) throw InputError("it is empty");
  });
  s.choice("sector", grant_sectors(), "the project's sector");
  s.string("site", std::nullopt, "the site (a site_configs name)").checked_by([](const Value& v) {
    require_token("the value", std::get<std::string>(v));
  });
  s.string("gpu_type", std::nullopt, "the GPU type the grant is for").checked_by([](const Value& v) {
    require_token("the value", std::get<std::string>(v));
  });
  s.real("gpu_hours", std::nullopt, "GPU-hours granted")
      .at_least(0)
      .at_most(kMaxGrantGpuHours)
      .checked_by([](const Value& v) {
        if (!(std::get<double>(v) > 0)) throw InputError("a grant needs more than 0 GPU-hours");
      });
  s.integer("start", std::nullopt, "first day (YYYY-MM-DD, UTC)").parsed_by(date_value, "a date YYYY-MM-DD");
  s.integer("end", std::nullopt, "last day (YYYY-MM-DD, UTC)").parsed_by(date_value, "a date YYYY-MM-DD");
  s.string("account", std::nullopt, "the Slurm account").checked_by(token_value);
  s.string("qos", "", "the Slurm QOS with the GPU-minutes limit (default: the id, lower-cased)")
      .checked_by([](const Value& v) {
        if (!std::get<std::string>(v).empty()) token_value(v);
      });
  s.add_check([](const Input& in) {
    if (in.get_int("end") < in.get_int("start")) throw InputError("'end' is before 'start'");
  });
  return s;
}

// One row (a CSV line, a JSON object) as text values, each with its origin.
Grant make_grant(std::vector<Assignment> items, const std::string& where) {
  for (auto& item : items) {
    item.text = trim(item.text);
    // Slurm stores account and QOS names lower-cased; sectors are read in any case.
    if (item.key == "account" || item.key == "qos" || item.key == "sector") item.text = lower(item.text);
  }
  const Input in = resolve_assignments(grant_schema(), items, where);
  Grant g;
  g.id = in.get_string("id");
  g.project = trim(in.get_string("project"));
  g.institution = trim(in.get_string("institution"));
  g.sector = in.get_string("sector");
  g.site = in.get_string("site");
  g.gpu_type = in.get_string("gpu_type");
  g.gpu_hours = in.get_real("gpu_hours");
  g.start = in.get_int("start");
  g.end = in.get_int("end") + 86400;
  g.account = in.get_string("account");
  g.qos = in.get_string("qos").empty() ? lower(g.id) : in.get_string("qos");
  return g;
}

std::vector<std::string> csv_fields(const std::string& line, const std::string& where) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (quoted) throw InputError(where + ": unterminated quoted field");
  out.push_back(cur);
  return out;
}

void check_unique(const std::vector<Grant>& grants, const std::string& source) {
  std::set<std::string> seen;
  for (const auto& g : grants) {
    if (!seen.insert(g.id).second) throw InputError(source + ": grant '" + g.id + "' appears twice");
  }
}

}  // namespace

std::vector<Grant> parse_grants_csv(const std::string& text, const std::string& source) {
  std::vector<Grant> grants;
  std::vector<std::string> header;
  int lineno = 0;
  for (const auto& raw : split(text, '\n')) {
    ++lineno;
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = fmt::format("{}:{}", source, lineno);
    auto fields = csv_fields(line, where);
    if (header.empty()) {
      for (auto& f : fields) header.push_back(lower(trim(f)));
      for (const auto& k : required_keys) {
        if (std::find(header.begin(), header.end(), k) == header.end()) {
          throw InputError(
              fmt::format("{}: the header has no column '{}'; needed: id, project, institution, sector, "
                          "site, gpu_type, gpu_hours, start, end, account (qos optional)",
                          where, k));
        }
      }
      continue;
    }
    if (fields.size() != header.size()) {
      throw InputError(fmt::format("{}: {} fields, but the header has {}", where, fields.size(), header.size()));
    }
    std::vector<Assignment> row;
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == "qos" && trim(fields[i]).empty()) continue;
      row.push_back({header[i], fields[i], where});
    }
    grants.push_back(make_grant(row, where));
  }
  if (header.empty()) throw InputError(source + ": empty grants file");
  check_unique(grants, source);
  return grants;
}

namespace {

// The line each element of the grants array starts on (JSON libraries do not keep it):
// a scan of brackets outside strings.
std::vector<int> element_lines(const std::string& text) {
  std::vector<int> lines;
  int line = 1, depth = 0, array_depth = -1;
  bool in_string = false, escaped = false, want = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') ++line;
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c == '[' || c == '{') {
      if (want && depth == array_depth + 1) {
        lines.push_back(line);
        want = false;
      }
      // The grants array: the top-level array, or the array under the top-level object.
      if (c == '[' && array_depth < 0 && depth <= 1) {
        array_depth = depth;
        want = true;
      }
      ++depth;
    } else if (c == ']' || c == '}') {
      --depth;
      if (depth == array_depth) array_depth = -2;
    } else if (c == ',' && depth == array_depth + 1) {
      want = true;
    }
  }
  return lines;
}

std::string json_position(const std::string& text, std::size_t byte) {
  int line = 1, column = 1;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return fmt::format("{}:{}", line, column);
}

}  // namespace

std::vector<Grant> parse_grants_json(const std::string& text, const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 3, column 5: ..." -> the reason.
    std::string why = e.what();
    if (const auto colon = why.find(": "); colon != std::string::npos) why = why.substr(colon + 2);
    throw InputError(fmt::format("{}:{}: not valid JSON: {}", source, json_position(text, e.byte - 1), why));
  } catch (const nlohmann::json::exception& e) {
    // "number overflow parsing '1e400'": the library gives no position; the token does.
    std::string why = e.what();
    if (const auto bracket = why.find("] "); bracket != std::string::npos) why = why.substr(bracket + 2);
    const auto open = why.find('\''), close = why.rfind('\'');
    const auto at = open != close ? text.find(why.substr(open + 1, close - open - 1)) : std::string::npos;
    throw InputError(fmt::format("{}{}: not valid JSON: {}", source,
                                 at == std::string::npos ? "" : ":" + json_position(text, at), why));
  }
  if (doc.is_object() && doc.contains("grants")) doc = doc["grants"];
  if (!doc.is_array()) throw InputError(source + ": expected an array of grants or {\"grants\": [...]}");
  const auto lines = element_lines(text);
  std::vector<Grant> grants;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const std::string where = i < lines.size() ? fmt::format("{}:{} (grants[{}])", source, lines[i], i)
                                               : fmt::format("{}: grants[{}]", source, i);
    if (!doc[i].is_object()) throw InputError(where + ": expected an object");
    std::vector<Assignment> row;
    for (const auto& [k, v] : doc[i].items()) {
      if (v.is_string()) {
        if (k == "qos" && trim(v.get<std::string>()).empty()) continue;
        row.push_back({k, v.get<std::string>(), where});
      } else if (v.is_number()) {
        row.push_back({k, v.dump(), where});
      } else {
        throw InputError(fmt::format("{}: key '{}' must be a string or a number, not {}", where, k, v.type_name()));
      }
    }
    grants.push_back(make_grant(row, where));
  }
  check_unique(grants, source);
  return grants;
}

std::vector<Grant> read_grants_file(const std::string& path) {
  std::string text = read_text_file(path);
  // Spreadsheets (Excel's "CSV UTF-8") start the file with a byte order mark.
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (text[first] == '[' || text[first] == '{')) return parse_grants_json(text, path);
  return parse_grants_csv(text, path);
}

namespace {
MemberRow make_member(const std::map<std::string, std::string>& row, const std::string& where) {
  for (const auto& [k, v] : row) {
    if (k != "project" && k != "user") {
      throw InputError(fmt::format("{}: unknown members field '{}'; fields: project, user", where, k));
    }
  }
  MemberRow m;
  for (const char* key : {"project", "user"}) {
    const auto it = row.find(key);
    if (it == row.end() || trim(it->second).empty()) {
      throw InputError(fmt::format("{}: members field '{}' is missing", where, key));
    }
  }
  m.project = trim(row.at("project"));
  m.user = trim(row.at("user"));
  require_user_name(where + ": 'user'", m.user);
  return m;
}
}  // namespace

std::vector<MemberRow> parse_members(const std::string& text_in, const std::string& source) {
  std::string text = text_in;
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  std::vector<MemberRow> out;
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (text[first] == '[' || text[first] == '{')) {
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(fmt::format("{}: not valid JSON: {}", source, e.what()));
    }
    if (doc.is_object() && doc.contains("members")) doc = doc["members"];
    if (!doc.is_array()) throw InputError(source + ": expected an array of members or {\"members\": [...]}");
    for (std::size_t i = 0; i < doc.size(); ++i) {
      const std::string where = fmt::format("{}: members[{}]", source, i);
      if (!doc[i].is_object()) throw InputError(where + ": expected an object");
      std::map<std::string, std::string> row;
      for (const auto& [k, v] : doc[i].items()) {
        if (!v.is_string()) throw InputError(fmt::format("{}: '{}' must be a string", where, k));
        row[k] = v.get<std::string>();
      }
      out.push_back(make_member(row, where));
    }
    return out;
  }
  std::vector<std::string> header;
  int lineno = 0;
  for (const auto& raw : split(text, '\n')) {
    ++lineno;
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = fmt::format("{}:{}", source, lineno);
    auto fields = csv_fields(line, where);
    if (header.empty()) {
      for (auto& f : fields) header.push_back(lower(trim(f)));
      for (const char* k : {"project", "user"}) {
        if (std::find(header.begin(), header.end(), k) == header.end()) {
          throw InputError(fmt::format("{}: the header has no column '{}'; needed: project, user", where, k));
        }
      }
      continue;
    }
    if (fields.size() != header.size()) {
      throw InputError(fmt::format("{}: {} fields, but the header has {}", where, fields.size(), header.size()));
    }
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size(); ++i) row[header[i]] = fields[i];
    out.push_back(make_member(row, where));
  }
  if (header.empty()) throw InputError(source + ": empty members file");
  return out;
}

std::vector<MemberRow> read_members_file(const std::string& path) { return parse_members(read_text_file(path), path); }

}  // namespace gosok::sched
