#include <gosok/regression/baseline.hpp>

#include <fcntl.h>
#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <gosok/core/error.hpp>

namespace gosok::regress {

namespace fs = std::filesystem;

namespace {
constexpr const char* kFormat = "gosok baseline 1";
}

std::string Baseline::describe() const {
  auto field = [&](const char* key) { return provenance.value(key, std::string("?")); };
  return fmt::format("updated by {} on {} with gosok {} ({}) on {}/{}", field("updated_by"), field("updated_at"),
                     field("gosok_version"), field("git_hash"), field("system"), field("backend"));
}

Baseline read_baseline(const fs::path& path) {
  std::ifstream in(path);
  if (!in) {
    throw InputError(path.string() + ": missing baseline (make it deliberately with gosok regress --update-baselines)");
  }
  Baseline b;
  b.path = path;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path.string() + ": unreadable baseline: " + e.what());
  }
  if (!j.is_object() || j.value("format", "") != kFormat || !j.contains("values") || !j["values"].is_object()) {
    throw InputError(path.string() + ": not a gosok baseline (expected \"format\": \"" + kFormat + "\" and values)");
  }
  for (const auto& [key, value] : j["values"].items()) {
    b.values[key] = Quantity::from_json(value, path.string() + ": " + key);
  }
  j.erase("values");
  j.erase("format");
  b.provenance = j;
  return b;
}

void write_file_atomically(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw RunError("cannot write " + tmp.string());
  }
  const int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  fs::rename(tmp, path);
}

void write_baseline(const Baseline& b) {
  nlohmann::json j = b.provenance;
  j["format"] = kFormat;
  nlohmann::json values = nlohmann::json::object();
  for (const auto& [key, q] : b.values) values[key] = q.to_json();
  j["values"] = values;
  write_file_atomically(b.path, j.dump(1) + "\n");
}

std::string current_user() {
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) return pw->pw_name;
  return "uid " + std::to_string(::geteuid());
}

std::string current_host() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

}  // namespace gosok::regress
