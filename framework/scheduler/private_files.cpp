#include <gosok/scheduler/private_files.hpp>

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <gosok/core/error.hpp>

namespace gosok::sched {

namespace fs = std::filesystem;

namespace {

std::string owner_name(uid_t uid) {
  if (const passwd* pw = ::getpwuid(uid)) return pw->pw_name;
  return std::to_string(uid);
}

// A group with the user as its only possible member: the user private group of Debian's
// adduser (named like the user, the user's primary group, no listed members).
bool own_private_group(gid_t gid) {
  const passwd* pw = ::getpwuid(::geteuid());
  const group* gr = ::getgrgid(gid);
  return pw && gr && pw->pw_gid == gid && std::strcmp(gr->gr_name, pw->pw_name) == 0 && (!gr->gr_mem || !gr->gr_mem[0]);
}

// Why others can change what is in `st`'s folder ("" when they cannot).
std::string others_can_write(const struct stat& st) {
  if (st.st_mode & S_ISVTX) return "";  // sticky (/tmp): others cannot rename or remove our entries
  if (st.st_mode & S_IWOTH) return "every user can write it";
  if ((st.st_mode & S_IWGRP) && !own_private_group(st.st_gid)) {
    const group* gr = ::getgrgid(st.st_gid);
    return fmt::format("group {} can write it", gr ? gr->gr_name : std::to_string(st.st_gid));
  }
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) return "it belongs to " + owner_name(st.st_uid);
  return "";
}

}  // namespace

void require_safe_folder(const std::string& path, const std::string& what) {
  fs::path p = fs::absolute(path).lexically_normal();
  // The folder itself if it exists, else the nearest existing one above it, then every
  // folder up to /.
  std::error_code ec;
  while (!fs::exists(p, ec) && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  for (fs::path dir = p;; dir = dir.parent_path()) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      const std::string why = others_can_write(st);
      if (!why.empty()) {
        throw InputError(fmt::format(
            "{} {} is not safe: {} ({}, owner {}, mode {:04o}), so another user could replace files gosok writes "
            "there; use a folder only you can write (e.g. mkdir -m 700 DIR)",
            what, path, dir == fs::absolute(path).lexically_normal() ? "it" : "its folder " + dir.string(), why,
            owner_name(st.st_uid), st.st_mode & 07777));
      }
    }
    if (dir == dir.root_path() || !dir.has_parent_path()) break;
  }
}

int open_private_folder(const std::string& path, const std::string& what) {
  require_safe_folder(path, what);
  std::error_code ec;
  const fs::path p = fs::absolute(path).lexically_normal();
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  if (::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST) {
    throw RunError(fmt::format("cannot create {} {}: {}", what, path, std::strerror(errno)));
  }
  const int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    throw InputError(fmt::format("{} {} cannot be opened as a folder of its own ({}); a symlink is not accepted", what,
                                 path, std::strerror(errno)));
  }
  struct stat st {};
  ::fstat(fd, &st);
  if (st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
    ::close(fd);
    throw InputError(
        fmt::format("{} {} belongs to {} with mode {:04o}: a job's folder must be yours and written by "
                    "you only; give another --job-dir",
                    what, path, owner_name(st.st_uid), st.st_mode & 07777));
  }
  return fd;
}

void write_private_file(int dir_fd, const std::string& name, const std::string& text, const std::string& shown) {
  if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
    throw RunError(fmt::format("cannot replace {}: {}", shown, std::strerror(errno)));
  }
  const int fd = ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw RunError(fmt::format("cannot create {}: {}", shown, std::strerror(errno)));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t w = ::write(fd, text.data() + done, text.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      throw RunError(fmt::format("cannot write {}: {}", shown, std::strerror(e)));
    }
    done += static_cast<std::size_t>(w);
  }
  if (::close(fd) != 0) throw RunError(fmt::format("cannot write {}: {}", shown, std::strerror(errno)));
}

}  // namespace gosok::sched
