#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gosok::sched {

/// A grant as exported by the national allocation platform: a number of GPU-hours that a
/// project may spend on one site between two dates, charged to one Slurm account.
/// Dates are UTC days; the grant is valid from 00:00 of `start` to 24:00 of `end`.
struct Grant {
  std::string id;
  std::string project;
  std::string institution;
  std::string sector;  // industry | academia | research | national_project
  std::string site;
  std::string gpu_type;
  double gpu_hours = 0;
  std::int64_t start = 0;  // epoch s, 00:00 UTC of the start day
  std::int64_t end = 0;    // epoch s, 24:00 UTC of the end day (exclusive)
  std::string account;     // Slurm account (lower case: Slurm lower-cases them)
  std::string qos;         // Slurm QOS carrying the GPU-minutes limit

  bool same_terms(const Grant& other) const;
};

/// The most GPU-hours one grant may hold (a bound that keeps every limit derived from it,
/// e.g. Slurm's GrpTRESMins in minutes, a finite integer).
constexpr double kMaxGrantGpuHours = 1e9;

/// The sectors a grant may belong to.
const std::vector<std::string>& grant_sectors();

/// Reads a CSV (header row) or JSON (array, or {"grants": [...]}) export. Columns/keys:
/// id, project, institution, sector, site, gpu_type, gpu_hours, start, end, account, and
/// optionally qos (default: the lower-cased id). Every field is read by one schema (numbers
/// strict decimals, finite and in range; dates YYYY-MM-DD). Errors name file:line, the key
/// and what is allowed.
std::vector<Grant> read_grants_file(const std::string& path);
std::vector<Grant> parse_grants_csv(const std::string& text, const std::string& source);
std::vector<Grant> parse_grants_json(const std::string& text, const std::string& source);

/// One row of the allocation platform's members export: `user` (a Unix user name) belongs
/// to `project`.
struct MemberRow {
  std::string project;
  std::string user;
};
/// Reads a members export: CSV with a header naming the columns `project` and `user`, or
/// JSON (an array of {"project", "user"}, or {"members": [...]}). Errors name file:line
/// (CSV) or the entry (JSON) and the field.
std::vector<MemberRow> read_members_file(const std::string& path);
std::vector<MemberRow> parse_members(const std::string& text, const std::string& source);

}  // namespace gosok::sched
