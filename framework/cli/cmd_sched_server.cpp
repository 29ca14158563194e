// The submit server (see cmd_sched_server.hpp): one request per connection on a Unix socket
// in a folder only this user can enter, a length-prefixed JSON message each way.
#include "cmd_sched_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/process.hpp>
#include <gosok/scheduler/sbatch_script.hpp>
#include "commands.hpp"
#if GOSOK_HAVE_LIBSLURM
#include <gosok/scheduler/slurm_api.hpp>
#endif

namespace gosok::cli {
namespace {

bool g_in_server = false;
volatile std::sig_atomic_t g_stop = 0;

bool enabled() {
  const char* v = std::getenv("GOSOK_SUBMIT_SERVER");
  return !(v && std::string(v) == "0");
}

std::uint64_t fnv1a(const std::string& text, std::uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::string file_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return path + ":absent";
  return fmt::format("{}:{}:{}:{}", path, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

// This user's socket for this gosok executable and this slurm.conf (a new build or another
// cluster gets its own server); "" when no safe folder can be had.
std::string socket_path() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  const std::string dir = fmt::format("{}/gosok-{}", runtime && *runtime ? runtime : "/tmp", ::getuid());
  ::mkdir(dir.c_str(), 0700);
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid() || (st.st_mode & 077) != 0) {
    return "";
  }
  const char* conf = std::getenv("SLURM_CONF");
  const std::uint64_t key = fnv1a(file_identity(sched::self_executable()) + "|" +
                                  file_identity(conf && *conf ? conf : "/etc/slurm/slurm.conf"));
  const std::string path = fmt::format("{}/submit-{:016x}.sock", dir, key);
  return path.size() < sizeof(sockaddr_un{}.sun_path) ? path : "";
}

sockaddr_un address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_all(int fd, char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::recv(fd, data, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    data += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool send_message(int fd, const nlohmann::json& message) {
  const std::string body = message.dump();
  const std::uint32_t n = htonl(static_cast<std::uint32_t>(body.size()));
  return write_all(fd, reinterpret_cast<const char*>(&n), 4) && write_all(fd, body.data(), body.size());
}

std::optional<nlohmann::json> receive_message(int fd) {
  std::uint32_t n = 0;
  if (!read_all(fd, reinterpret_cast<char*>(&n), 4)) return std::nullopt;
  n = ntohl(n);
  if (n > (64u << 20)) return std::nullopt;
  std::string body(n, '\0');
  if (!read_all(fd, body.data(), n)) return std::nullopt;
  try {
    return nlohmann::json::parse(body);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

nlohmann::json submitter_json(const sched::SubmitterState& w) {
  nlohmann::json limits = nlohmann::json::array();
  for (const auto& [name, cur] : w.rlimits) limits.push_back({name, cur});
  return {{"environ", w.environ},
          {"cwd", w.cwd},
          {"host", w.host},
          {"umask", w.umask},
          {"priority", w.priority},
          {"rlimits", limits},
          {"command_line", w.command_line},
          {"session", w.session}};
}

sched::SubmitterState submitter_from(const nlohmann::json& j) {
  sched::SubmitterState w;
  w.environ = j.at("environ").get<std::vector<std::string>>();
  w.cwd = j.at("cwd");
  w.host = j.at("host");
  w.umask = j.at("umask");
  w.priority = j.at("priority");
  w.command_line = j.at("command_line");
  w.session = j.at("session");
  for (const auto& l : j.at("rlimits"))
    w.rlimits.emplace_back(l.at(0).get<std::string>(), l.at(1).get<unsigned long>());
  return w;
}

// One request, as the client would have run it: its environment, directory and umask for
// this process, its identity for the job's environment, its output captured.
nlohmann::json serve(const CommandRegistry& commands, const nlohmann::json& request) {
  const auto who = submitter_from(request.at("submitter"));
  const auto args = request.at("args").get<std::vector<std::string>>();
  ::clearenv();
  for (const auto& e : who.environ) {
    const auto eq = e.find('=');
    if (eq != std::string::npos && eq > 0) ::setenv(e.substr(0, eq).c_str(), e.substr(eq + 1).c_str(), 1);
  }
  nlohmann::json reply;
  if (::chdir(who.cwd.c_str()) != 0) {
    reply["declined"] = true;  // the client's folder is not ours to enter: it runs in-process
    return reply;
  }
  ::umask(static_cast<mode_t>(who.umask));
  sched::act_for_submitter(&who);
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  try {
    int argc = 0;
    reply["exit_code"] = run_command_guarded(commands, "submit", args, argc, nullptr);
    reply["declined"] = false;
  } catch (const DeclinedByServer&) {
    reply["declined"] = true;
  }
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  sched::act_for_submitter(nullptr);
  reply["stdout"] = out.str();
  reply["stderr"] = err.str();
  (void)!::chdir("/");  // a client folder that is later removed must not stay ours
  return reply;
}

}  // namespace

int run_server(const CommandRegistry& commands, const std::vector<std::string>& args) {
  if (args.size() != 2 || args[0] != "--socket") throw InputError("usage: gosok _submit-server --socket PATH");
  const std::string path = args[1];
  ::close_range(3, ~0U, 0);  // hold nothing of whoever started us (a test's pipes, say)
  ::signal(SIGPIPE, SIG_IGN);
  g_in_server = true;
  // One server per socket: the lock is held for the server's life.
  const int lock = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || ::flock(lock, LOCK_EX | LOCK_NB) != 0) return 0;
  ::unlink(path.c_str());  // a socket left by a server that was killed
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_un a = address(path);
  if (listener < 0 || ::bind(listener, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listener, 128) != 0) {
    return 1;
  }
#if GOSOK_HAVE_LIBSLURM
  sched::prepare_libslurm();
#endif
  const char* idle_env = std::getenv("GOSOK_SUBMIT_SERVER_IDLE");
  const int idle_s = idle_env && std::atoi(idle_env) > 0 ? std::atoi(idle_env) : 60;
  struct sigaction term {};
  term.sa_handler = [](int) { g_stop = 1; };  // finish the request at hand, then leave
  ::sigaction(SIGTERM, &term, nullptr);
  auto serve_one = [&](int fd) {
    ucred peer{};
    socklen_t len = sizeof peer;
    const timeval timeout{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.uid == ::getuid()) {
      if (const auto request = receive_message(fd)) {
        nlohmann::json reply;
        try {
          reply = serve(commands, *request);
        } catch (const std::exception& e) {  // a malformed request
          reply = {{"declined", false}, {"exit_code", 1}, {"stdout", ""}, {"stderr", std::string(e.what()) + "\n"}};
        }
        send_message(fd, reply);
      }
    }
    ::close(fd);
  };
  while (!g_stop) {
    pollfd p{listener, POLLIN, 0};
    const int ready = ::poll(&p, 1, idle_s * 1000);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;  // idle: leave
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) serve_one(fd);
  }
  // Leaving: first no new clients (the path goes), then serve those already connected, whose
  // requests may be sent already.
  ::unlink(path.c_str());
  ::fcntl(listener, F_SETFL, O_NONBLOCK);
  for (int fd; (fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) serve_one(fd);
  ::close(listener);
  // Still holding the lock: a server starting now either fails to take this one (and
  // leaves) or creates a new lock file; either way one server per socket.
  ::unlink((path + ".lock").c_str());
  return 0;
}

bool in_submit_server() { return g_in_server; }

std::optional<int> submit_through_server(const std::vector<std::string>& args) {
  if (!enabled()) return std::nullopt;
  const std::string path = socket_path();
  if (path.empty()) return std::nullopt;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  const sockaddr_un a = address(path);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return std::nullopt;  // no server: submit in-process
  }
  if (!send_message(fd, {{"args", args}, {"submitter", submitter_json(sched::current_submitter())}})) {
    ::close(fd);
    return std::nullopt;  // nothing was received: nothing was done
  }
  const auto reply = receive_message(fd);
  ::close(fd);
  // Once the request is sent it may have been carried out: never run it a second time.
  if (!reply) {
    throw RunError("the submit server (" + path +
                   ") ended before answering; 'gosok status' and 'gosok reconcile' show whether the job was submitted");
  }
  if (reply->value("declined", false)) return std::nullopt;
  std::cout << reply->value("stdout", "");
  std::cerr << reply->value("stderr", "");
  return reply->value("exit_code", 1);
}

void start_submit_server() {
  if (!enabled() || g_in_server) return;
  const std::string path = socket_path();
  if (path.empty()) return;
  sched::spawn_process({sched::self_executable(), "_submit-server", "--socket", path}, "/dev/null", "/", true);
}

}  // namespace gosok::cli

namespace gosok {
void register_submit_server_command(CommandRegistry& commands) {
  commands.add(
      {"_submit-server", "(internal) keep libslurm ready for this user's gosok submit",
       [&commands](const std::vector<std::string>& args, int&, char**) { return cli::run_server(commands, args); }});
}
}  // namespace gosok
