#include <gosok/scheduler/grants.hpp>

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include <gosok/core/error.hpp>
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

Grant make_grant(const std::map<std::string, std::string>& row, const std::string& where) {
  for (const auto& [k, v] : row) {
    if (k != "qos" && std::find(required_keys.begin(), required_keys.end(), k) == required_keys.end()) {
      throw InputError(
          fmt::format("{}: unknown grant field '{}'; fields: id, project, institution, sector, site, "
                      "gpu_type, gpu_hours, start, end, account, qos",
                      where, k));
    }
  }
  auto field = [&](const std::string& key) {
    auto it = row.find(key);
    if (it == row.end() || trim(it->second).empty()) {
      throw InputError(fmt::format("{}: grant field '{}' is missing", where, key));
    }
    return trim(it->second);
  };
  Grant g;
  g.id = field("id");
  require_token(where + ": grant 'id'", g.id, false, 64);
  const std::string ctx = where + " (grant " + g.id + ")";
  g.project = field("project");
  g.institution = field("institution");
  g.sector = lower(field("sector"));
  const auto& sectors = grant_sectors();
  if (std::find(sectors.begin(), sectors.end(), g.sector) == sectors.end()) {
    throw InputError(
        fmt::format("{}: 'sector' is '{}'; allowed: industry, academia, research, national_project", ctx, g.sector));
  }
  g.site = field("site");
  require_token(ctx + ": 'site'", g.site);
  g.gpu_type = field("gpu_type");
  const std::string hours = field("gpu_hours");
  try {
    std::size_t used = 0;
    g.gpu_hours = std::stod(hours, &used);
    if (used != hours.size()) throw std::invalid_argument(hours);
  } catch (const std::logic_error&) {
    throw InputError(fmt::format("{}: 'gpu_hours' is '{}'; it must be a number of GPU-hours > 0", ctx, hours));
  }
  if (!(g.gpu_hours > 0)) {
    throw InputError(fmt::format("{}: 'gpu_hours' is '{}'; it must be a number of GPU-hours > 0", ctx, hours));
  }
  g.start = parse_date(field("start"), ctx + ": 'start'");
  g.end = parse_date(field("end"), ctx + ": 'end'") + 86400;
  if (g.end <= g.start) throw InputError(fmt::format("{}: 'end' is before 'start'", ctx));
  g.account = lower(field("account"));  // Slurm stores account names lower-cased
  require_token(ctx + ": 'account'", g.account, false, 64);
  auto q = row.find("qos");
  g.qos = (q != row.end() && !trim(q->second).empty()) ? lower(trim(q->second)) : lower(g.id);
  require_token(ctx + ": 'qos'", g.qos, false, 64);
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
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size(); ++i) row[header[i]] = fields[i];
    grants.push_back(make_grant(row, where));
  }
  if (header.empty()) throw InputError(source + ": empty grants file");
  check_unique(grants, source);
  return grants;
}

std::vector<Grant> parse_grants_json(const std::string& text, const std::string& source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", source, e.what()));
  }
  if (doc.is_object() && doc.contains("grants")) doc = doc["grants"];
  if (!doc.is_array()) throw InputError(source + ": expected an array of grants or {\"grants\": [...]}");
  std::vector<Grant> grants;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const std::string where = fmt::format("{}: grants[{}]", source, i);
    if (!doc[i].is_object()) throw InputError(where + ": expected an object");
    std::map<std::string, std::string> row;
    for (const auto& [k, v] : doc[i].items()) {
      if (v.is_string()) {
        row[k] = v.get<std::string>();
      } else if (v.is_number()) {
        row[k] = v.dump();
      } else {
        throw InputError(fmt::format("{}: '{}' must be a string or a number", where, k));
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

}  // namespace gosok::sched
