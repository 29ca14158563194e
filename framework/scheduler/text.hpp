#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <gosok/core/strings.hpp>  // trim

namespace gosok::sched {

/// Vocabulary: a *token* is a string the scheduler may place anywhere in a batch script
/// unquoted (an #SBATCH value or a shell word) because it matched a strict character set; a
/// *shell word* is any string made safe for bash by single-quoting it.

/// Quotes `text` as one bash word: it reaches the command as exactly these bytes.
std::string shell_quote(const std::string& text);

/// Throws InputError "<what> '<value>' …" unless `value` is 1..max_len characters of
/// [A-Za-z0-9._-] (plus '/' and '+' when `path` is set), so it is safe unquoted.
void require_token(const std::string& what, const std::string& value, bool path = false, std::size_t max_len = 200);

/// True for an environment variable's name: letters, digits and _, not starting with a digit.
bool is_variable_name(const std::string& name);

/// The longest walltime gosok reads anywhere (a job's -t, a partition's limit).
constexpr int kMaxWalltimeDays = 366;
/// Walltime as seconds from "MM", "HH:MM:SS", "MM:SS", "D-HH[:MM[:SS]]" or a decimal with
/// s, min or h ("90min", "2h", "1.5h"): the one parser of every walltime gosok reads. The
/// result is 1 s to kMaxWalltimeDays days; anything else (nan, inf, 1e300h, 0.1s, hex) is an
/// InputError naming `what` and the accepted forms.
std::int64_t parse_walltime(const std::string& text, const std::string& what = "walltime");
/// Slurm keeps time limits in whole minutes and rounds a limit with seconds up: the limit
/// a job really gets.
std::int64_t slurm_minutes_ceil(std::int64_t seconds);
/// Slurm's form: D-HH:MM:SS or HH:MM:SS.
std::string format_walltime(std::int64_t seconds);

/// Dates are UTC calendar days "YYYY-MM-DD"; the result is the epoch second of 00:00 UTC.
std::int64_t parse_date(const std::string& text, const std::string& what);
std::string format_date(std::int64_t epoch_seconds);
/// `strftime_format` of an epoch second, in UTC or (`local`) this machine's time zone.
std::string format_epoch(std::int64_t epoch_seconds, const char* strftime_format, bool local = false);
std::string format_time(std::int64_t epoch_seconds);  // YYYY-MM-DDTHH:MM:SSZ
std::int64_t now_seconds();

std::vector<std::string> split(const std::string& text, char sep);
std::string lower(std::string text);
std::string read_text_file(const std::string& path);

}  // namespace gosok::sched
