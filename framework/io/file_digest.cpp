#include <gosok/io/file_digest.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gosok/core/error.hpp>

namespace gosok {

namespace {

constexpr const char* kMagic = "\ngosok-digest fnv1a64 ";
constexpr std::size_t kTrailerSize = 22 + 16 + 1 + 20 + 1;  // magic, digest, ' ', length, '\n'

std::uint64_t fnv1a(std::ifstream& in, std::uint64_t length) {
  std::uint64_t h = 14695981039346656037ull;
  std::vector<char> buffer(1 << 20);
  while (length > 0) {
    const auto n = static_cast<std::streamsize>(std::min<std::uint64_t>(length, buffer.size()));
    if (!in.read(buffer.data(), n)) throw RunError("read failed");
    for (std::streamsize i = 0; i < n; ++i) {
      h ^= static_cast<unsigned char>(buffer[static_cast<std::size_t>(i)]);
      h *= 1099511628211ull;
    }
    length -= static_cast<std::uint64_t>(n);
  }
  return h;
}

// "" when intact, "unsealed" without a trailer, else what is wrong.
std::string check(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return path.string() + ": no such file";
  const std::uint64_t size = std::filesystem::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (ec || !in) return path.string() + ": cannot be read";
  if (size < kTrailerSize) return "unsealed";
  std::string trailer(kTrailerSize, '\0');
  in.seekg(static_cast<std::streamoff>(size - kTrailerSize));
  if (!in.read(trailer.data(), static_cast<std::streamsize>(kTrailerSize))) return path.string() + ": cannot be read";
  if (trailer.compare(0, 22, kMagic) != 0) return "unsealed";
  unsigned long long digest = 0, length = 0;
  if (std::sscanf(trailer.c_str() + 22, "%16llx %20llu", &digest, &length) != 2 || length != size - kTrailerSize) {
    return fmt::format("{}: its checksum trailer is damaged (the file is {} bytes); the file cannot be trusted",
                       path.string(), size);
  }
  in.clear();
  in.seekg(0);
  const std::uint64_t actual = fnv1a(in, length);
  if (actual != digest) {
    return fmt::format(
        "{}: the contents do not match their checksum (stored {:016x}, computed {:016x}): the file was damaged "
        "after it was written; use another checkpoint",
        path.string(), digest, actual);
  }
  return "";
}

}  // namespace

void seal_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RunError("cannot read " + path.string() + " to seal it");
  const std::uint64_t size = std::filesystem::file_size(path);
  const std::uint64_t digest = fnv1a(in, size);
  in.close();
  const std::string trailer = fmt::format("{}{:016x} {:020}\n", kMagic, digest, size);
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << trailer;
  if (!out.flush()) throw RunError("cannot seal " + path.string());
}

bool verify_sealed(MPI_Comm comm, const std::filesystem::path& path) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  std::string result;
  if (rank == 0) {
    try {
      result = check(path);
    } catch (const std::exception& e) {
      result = path.string() + ": " + e.what();
    }
  }
  int n = static_cast<int>(result.size());
  MPI_Bcast(&n, 1, MPI_INT, 0, comm);
  result.resize(static_cast<std::size_t>(n));
  MPI_Bcast(result.data(), n, MPI_CHAR, 0, comm);
  if (result == "unsealed") return false;
  if (!result.empty()) throw InputError(result);
  return true;
}

}  // namespace gosok
