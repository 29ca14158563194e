#include "subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace gosok::test {

Result run(const std::vector<std::string>& argv, double timeout_seconds, const std::filesystem::path& cwd) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) throw std::runtime_error("pipe failed");
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);  // own process group, so a timeout kills mpirun and its ranks
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  Result result;
  char buffer[4096];
  bool timed_out = false;
  for (;;) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed > timeout_seconds) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    pollfd pfd{pipefd[0], POLLIN, 0};
    if (::poll(&pfd, 1, 100) > 0) {
      const ssize_t n = ::read(pipefd[0], buffer, sizeof buffer);
      if (n <= 0) break;
      result.output.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (timed_out) {
    result.exit_code = 124;
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

Tally tally(std::vector<std::future<Result>>& runs, const std::string& refusal) {
  Tally t;
  for (auto& f : runs) {
    const Result r = f.get();
    if (r.exit_code == 0) {
      ++t.ok;
    } else if (r.exit_code == 2 && r.output.find(refusal) != std::string::npos) {
      ++t.refused;
    } else {
      std::fprintf(stderr, "unexpected outcome (exit %d):\n%s\n", r.exit_code, r.output.c_str());
    }
  }
  return t;
}

std::vector<std::string> mpiexec(int ranks) {
  std::vector<std::string> out{GOSOK_MPIEXEC};
  std::istringstream flags(GOSOK_MPIEXEC_FLAGS);
  std::string flag;
  while (flags >> flag) {
    if (!flag.empty()) out.push_back(flag);
  }
  out.push_back("-n");
  out.push_back(std::to_string(ranks));
  return out;
}

std::string gosok_binary() {
  // GOSOK_TEST_BINARY runs the tests against another build (e.g. the one before a fix).
  if (const char* other = std::getenv("GOSOK_TEST_BINARY"); other && *other) return other;
  return GOSOK_BINARY;
}
std::filesystem::path source_dir() {
  // With GOSOK_TEST_BINARY: that build's own source tree (its site files and templates).
  if (const char* other = std::getenv("GOSOK_TEST_SOURCE_DIR"); other && *other) return other;
  return GOSOK_SOURCE_DIR;
}

TempDir::TempDir() {
  std::random_device rd;
  const auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = base / ("gosok-test-" + std::to_string(rd()));
    if (std::filesystem::create_directory(candidate)) {
      m_path = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary folder");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(m_path, ec);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace gosok::test
