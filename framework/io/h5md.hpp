#pragma once

#include <mpi.h>

#include <array>
#include <filesystem>
#include <string>
#include <vector>

namespace gosok {

/// Writes particle trajectories and observables in H5MD 1.1 (https://www.nongnu.org/h5md/):
///
///   /h5md                      version = [1, 1]; author/name; creator/{name, version}
///   /particles/all/box         dimension = 3, boundary = periodic x3; edges (time-independent)
///   /particles/all/species     (N) int, time-independent
///   /particles/all/{position, velocity, image}/{step, time, value}   value: (frames, N, 3)
///   /observables/<name>/{step, time, value}                          value: (entries)
///
/// Row k of a per-particle dataset is the particle with 0-based id k, whichever rank owns
/// it: each write first redistributes the particles by id (an all-to-all) so that every
/// rank writes one contiguous block collectively. Time series are chunked and extendible.
/// Each call opens and closes the file, so a run killed between calls leaves a readable
/// file. All calls are collective over `comm`.
class H5mdWriter {
 public:
  /// Unit strings written as H5MD `unit` attributes (H5MD 1.1 section "Units").
  struct Units {
    std::string length;
    std::string time;
    std::string velocity;
  };

  /// `resume_after_step < 0` creates a new file (replacing any old one). Otherwise the
  /// existing file is continued: entries written after that step (by a run that went on
  /// past its last checkpoint) are dropped. A missing file is then created.
  H5mdWriter(MPI_Comm comm, std::filesystem::path path, long particles, const std::array<double, 3>& edges,
             const std::string& author, long resume_after_step = -1, const Units& units = {});

  /// gosok's provenance (version, git hash, workload, rank count, resolved input) on the
  /// root group, as every gosok HDF5 file carries it. Call once, after creating the file.
  void write_provenance(const std::string& workload, const std::string& resolved_input);

  const std::filesystem::path& path() const { return m_path; }

  /// One frame of this rank's `n` particles: 0-based ids, position/velocity (3n, row
  /// major), image (3n) and species (n; written once, with the first frame).
  void write_frame(long step, double time, long n, const long* ids, const double* position, const double* velocity,
                   const int* image, const int* species);

  /// Appends entries to scalar observables; `values[k][e]` is observable `names[k]` at
  /// `steps[e]`, in unit `units[k]` (may be empty). Every rank passes the same values.
  void write_observables(const std::vector<std::string>& names, const std::vector<long>& steps,
                         const std::vector<double>& times, const std::vector<std::vector<double>>& values,
                         const std::vector<std::string>& units = {});

 private:
  MPI_Comm m_comm;
  std::filesystem::path m_path;
  long m_particles;
  Units m_units;
  int m_rank = 0;
  int m_size = 1;
};

}  // namespace gosok
