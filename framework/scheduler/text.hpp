#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gosok::sched {

/// Vocabulary: a *token* is a string the scheduler may place anywhere in a batch script
/// unquoted (an #SBATCH value or a shell word) because it matched a strict character set; a
/// *shell word* is any string made safe for bash by single-quoting it.

/// Quotes `text` as one bash word: it reaches the command as exactly these bytes.
std::string shell_quote(const std::string& text);

/// Throws InputError "<what> '<value>' …" unless `value` is 1..max_len characters of
/// [A-Za-z0-9._-] (plus '/' and '+' when `path` is set), so it is safe unquoted.
void require_token(const std::string& what, const std::string& value, bool path = false, std::size_t max_len = 200);

/// Walltime as seconds from "MM", "HH:MM:SS", "MM:SS", "D-HH[:MM[:SS]]" or "90min", "2h".
/// Throws InputError naming `what` and the accepted forms.
std::int64_t parse_walltime(const std::string& text, const std::string& what = "walltime");
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
std::string trim(const std::string& text);
std::string lower(std::string text);
std::string read_text_file(const std::string& path);

}  // namespace gosok::sched
