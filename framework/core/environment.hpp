#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gosok {

/// The environment variables gosok reads, declared once: every read goes through env(),
/// which refuses a name that is not in the table, so `gosok info` lists all of them.
struct EnvVar {
  const char* name;
  const char* meaning;
};

/// Set (to 1) by a job script whose walltime warning came before its launch line ran (while
/// the site's setup lines did): `gosok run` then stops at its first step boundary as if it
/// had been sent the warning itself (Runtime::stop_requested); a user's command that handles
/// the warning may read it too.
constexpr const char* kWalltimeWarningVariable = "GOSOK_WALLTIME_WARNING";

/// Every variable gosok reads, with its meaning.
std::vector<EnvVar> environment_variables();

/// The value of a declared variable; nullopt when it is unset or empty. Throws
/// std::logic_error for a name missing from the table (a programming error).
std::optional<std::string> env(const std::string& name);

/// Whether a declared variable is set at all, empty included (CUDA_VISIBLE_DEVICES="" means
/// no GPU, unlike an unset one).
bool env_set(const std::string& name);

/// "NAME=value" or "NAME (unset)" per declared variable, one per line, for `gosok info`.
std::string describe_environment();

}  // namespace gosok
