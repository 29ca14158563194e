#include <gosok/scheduler/text.hpp>

#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>

#include <gosok/core/config.hpp>
#include <gosok/core/error.hpp>

namespace gosok::sched {

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

void require_token(const std::string& what, const std::string& value, bool path, std::size_t max_len) {
  bool ok = !value.empty() && value.size() <= max_len && value[0] != '-';
  for (char c : value) {
    const bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    if (!plain && !(path && (c == '/' || c == '+'))) ok = false;
  }
  if (!ok) {
    throw InputError(fmt::format("{} '{}' is not allowed: use 1 to {} characters from A-Z a-z 0-9 . _ -{}{}", what,
                                 value, max_len, path ? " / +" : "",
                                 value.empty() || value[0] != '-' ? "" : " (and no leading '-')"));
  }
}

namespace {
bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}
}  // namespace

bool is_variable_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::int64_t parse_walltime(const std::string& raw, const std::string& what) {
  const std::string text = trim(raw);
  auto bad = [&](const std::string& why) {
    return InputError(
        fmt::format("{} '{}' {}; use HH:MM:SS, D-HH:MM:SS, MM (minutes), or a decimal number with s, min or h "
                    "(e.g. 90min, 2h), from 1 second to {} days",
                    what, raw, why, kMaxWalltimeDays));
  };
  if (text.empty()) throw bad("is empty");
  // Every form ends in a number of seconds checked against the same range, so no text
  // (nan, inf, 1e300, 0x10) can become a negative, zero or unlimited time limit.
  constexpr double kMax = kMaxWalltimeDays * 86400.0;
  auto in_range = [&](double seconds) {
    if (!(seconds >= 0.5)) throw bad("is shorter than a second");
    if (seconds > kMax) throw bad("is too long");
    return static_cast<std::int64_t>(std::llround(seconds));
  };
  for (const auto& [suffix, factor] : {std::pair<std::string, double>{"min", 60}, {"h", 3600}, {"s", 1}}) {
    if (text.size() > suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0) {
      const auto v = gosok::parse_decimal(trim(text.substr(0, text.size() - suffix.size())));
      if (!v) throw bad("is not a walltime");
      return in_range(*v * factor);
    }
  }
  double days = 0;
  std::string rest = text;
  const auto dash = text.find('-');
  const bool had_days = dash != std::string::npos;
  if (had_days) {
    const std::string d = text.substr(0, dash);
    if (!all_digits(d) || d.size() > 4) throw bad("is not a walltime");
    days = std::stod(d);
    rest = text.substr(dash + 1);
  }
  const auto parts = split(rest, ':');
  for (const auto& p : parts)
    if (!all_digits(p) || p.size() > 6) throw bad("is not a walltime");
  std::vector<double> v;
  for (const auto& p : parts) v.push_back(std::stod(p));
  double seconds = 0;
  if (had_days) {  // D-HH, D-HH:MM, D-HH:MM:SS
    if (v.size() > 3) throw bad("is not a walltime");
    const double mult[] = {3600, 60, 1};
    for (std::size_t i = 0; i < v.size(); ++i) seconds += v[i] * mult[i];
  } else if (v.size() == 1) {
    seconds = v[0] * 60;
  } else if (v.size() == 2) {
    seconds = v[0] * 60 + v[1];
  } else if (v.size() == 3) {
    seconds = v[0] * 3600 + v[1] * 60 + v[2];
  } else {
    throw bad("is not a walltime");
  }
  return in_range(seconds + days * 86400);
}

std::int64_t slurm_minutes_ceil(std::int64_t seconds) { return (seconds + 59) / 60 * 60; }

std::string format_walltime(std::int64_t s) {
  const std::int64_t d = s / 86400;
  s %= 86400;
  if (d > 0) return fmt::format("{}-{:02}:{:02}:{:02}", d, s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

std::int64_t parse_date(const std::string& raw, const std::string& what) {
  const std::string text = trim(raw);
  int y = 0, m = 0, d = 0;
  char tail = 0;
  if (text.size() != 10 || std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 ||
      d < 1 || d > 31 || y < 1970) {
    throw InputError(fmt::format("{} '{}' is not a date; use YYYY-MM-DD (UTC)", what, raw));
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = m - 1;
  tm.tm_mday = d;
  const std::int64_t t = timegm(&tm);
  if (format_date(t) != text) throw InputError(fmt::format("{} '{}' is not a calendar date", what, raw));
  return t;
}

std::string format_epoch(std::int64_t t, const char* strftime_format, bool local) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (local) {
    localtime_r(&tt, &tm);
  } else {
    gmtime_r(&tt, &tm);
  }
  char buf[64];
  std::strftime(buf, sizeof buf, strftime_format, &tm);
  return buf;
}

std::string format_date(std::int64_t t) { return format_epoch(t, "%Y-%m-%d"); }

std::string format_time(std::int64_t t) { return format_epoch(t, "%Y-%m-%dT%H:%M:%SZ"); }

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot be read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace gosok::sched
