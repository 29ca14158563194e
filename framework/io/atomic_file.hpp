#pragma once

#include <mpi.h>

#include <filesystem>
#include <functional>

namespace gosok {

/// Writes a file so that a reader (or a crash) only ever sees the old file or the complete
/// new one: every rank writes `target`'s temporary sibling through `write(tmp_path)`; once
/// all ranks are done, rank 0 fsyncs it, renames it over `target` and fsyncs the directory.
/// A run killed mid-write leaves the previous `target` intact (and a stale temporary that
/// the next write replaces). With `seal`, rank 0 also seals the file (file_digest.hpp)
/// before publishing it. Collective over `comm`.
void write_atomically(MPI_Comm comm, const std::filesystem::path& target,
                      const std::function<void(const std::filesystem::path& tmp)>& write, bool seal = false);

/// Text files written by one process (resolved input, JSON diagnostics), same guarantee.
void write_text_atomically(const std::filesystem::path& target, const std::string& text);

}  // namespace gosok
