#pragma once

#include <mpi.h>

#include <filesystem>

namespace gosok {

/// Vocabulary: a *sealed* file ends in a fixed-size trailer, "gosok-digest fnv1a64 <digest>
/// <length>", where the digest covers the `length` bytes before it. HDF5 ignores bytes
/// past the end of its data, so a sealed HDF5 file opens in every HDF5 tool as before.
/// FNV-1a changes with any single changed byte, so a bit flipped anywhere in the file is
/// found (a digest against damage, not against someone who rewrites the file).

/// Appends the trailer to `path` (by one process, once the file is complete).
void seal_file(const std::filesystem::path& path);

/// Whether `path` is sealed and intact: true when the trailer matches, false when the file
/// has no trailer (written before files were sealed); throws InputError naming the file
/// when the trailer does not match its contents. Collective over `comm`: rank 0 reads the
/// file, every rank returns (or throws) the same.
bool verify_sealed(MPI_Comm comm, const std::filesystem::path& path);

}  // namespace gosok
