#pragma once

#include <filesystem>
#include <future>
#include <string>
#include <vector>

namespace gosok::test {

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
  double seconds = 0;
};

/// Runs argv (no shell: arguments are passed as they are) with a time limit; output is
/// captured. exit_code is 124 when the limit was hit, 128+N when killed by signal N.
Result run(const std::vector<std::string>& argv, double timeout_seconds = 120, const std::filesystem::path& cwd = {});

/// Outcome of concurrent runs: how many succeeded, how many were refused as bad input
/// (exit 2) with `refusal` in their message; any other outcome is in neither count.
struct Tally {
  int ok = 0;
  int refused = 0;
};
Tally tally(std::vector<std::future<Result>>& runs, const std::string& refusal);

/// argv prefix to start `ranks` MPI processes (mpiexec with the project's flags).
std::vector<std::string> mpiexec(int ranks);

/// Path of the gosok binary under test, and of the source tree.
std::string gosok_binary();
std::filesystem::path source_dir();

/// A fresh, empty temporary folder, removed when the object goes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return m_path; }
  std::filesystem::path operator/(const std::string& name) const { return m_path / name; }

 private:
  std::filesystem::path m_path;
};

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& text);

}  // namespace gosok::test
