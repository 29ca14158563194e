#include <gosok/io/atomic_file.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <gosok/core/error.hpp>
#include <gosok/io/file_digest.hpp>

namespace gosok {
namespace {

void fsync_path(const std::filesystem::path& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) throw RunError("cannot open " + path.string() + " to sync it");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw RunError("fsync failed on " + path.string());
}

std::filesystem::path temporary_for(const std::filesystem::path& target) {
  return target.parent_path() / (target.filename().string() + ".tmp");
}

void publish(const std::filesystem::path& tmp, const std::filesystem::path& target) {
  fsync_path(tmp, false);
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    throw RunError("cannot rename " + tmp.string() + " to " + target.string());
  }
  auto dir = target.parent_path();
  fsync_path(dir.empty() ? std::filesystem::path(".") : dir, true);
}

}  // namespace

void write_atomically(MPI_Comm comm, const std::filesystem::path& target,
                      const std::function<void(const std::filesystem::path& tmp)>& write, bool seal) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const auto tmp = temporary_for(target);
  write(tmp);
  MPI_Barrier(comm);
  int ok = 1;
  if (rank == 0) {
    try {
      if (seal) seal_file(tmp);
      publish(tmp, target);
    } catch (const std::exception&) {
      ok = 0;
    }
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
  if (!ok) throw RunError("could not publish " + target.string());
}

void write_text_atomically(const std::filesystem::path& target, const std::string& text) {
  const auto tmp = temporary_for(target);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw RunError("cannot write " + tmp.string());
    out << text;
    if (!out.flush()) throw RunError("cannot write " + tmp.string());
  }
  publish(tmp, target);
}

}  // namespace gosok
