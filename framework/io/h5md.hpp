#pragma once

#include <mpi.h>

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gosok/core/run_segment.hpp>

namespace gosok {

/// Writes particle trajectories and observables in H5MD 1.1 (https://www.nongnu.org/h5md/):
///
///   /h5md                      version = [1, 1]; author/name (who ran it); creator/{name, version}
///   /h5md/modules/units        version = [1, 0], system (when Units::system is set)
///   /particles/all/box         dimension = 3, boundary = periodic x3;
///                              edges/{step, time, value}   value: (frames, 3, 3), diagonal
///   /particles/all/species     (N) int, time-independent
///   /particles/all/{position, velocity, image}/{step, time, value}   value: (frames, N, 3)
///   /observables/<name>/{step, time, value}                          value: (entries)
///   /connectivity/<name>       (pairs, 2) 0-based particle ids; particles_group -> /particles/all
///
/// Row k of a per-particle dataset is the particle with 0-based id k, whichever rank owns
/// it: each write first redistributes the particles by id (an all-to-all) so that every
/// rank writes one contiguous block collectively. Time series are chunked and extendible.
/// The box is a time series (one entry per frame) because that is what MDAnalysis reads.
/// Each call opens and closes the file, so a run killed between calls leaves a readable
/// file. All calls are collective over `comm`.
class H5mdWriter {
 public:
  /// The units module's `system` ("" : no units module) and the `unit` attributes of the
  /// particle data ("" : none). Unit attributes are variable-length strings, which is what
  /// MDAnalysis parses (the spec's fixed-length strings reach it as bytes it cannot read).
  struct Units {
    std::string system;
    std::string length;
    std::string time;
    std::string velocity;
  };

  /// What a restart keeps of an existing file: the first `frames` frames and the first
  /// `observations` entries of every observable, i.e. what existed when its checkpoint was
  /// written; whatever the interrupted run wrote after that is dropped.
  struct Keep {
    long frames = 0;
    long observations = 0;
  };

  /// Without `keep`, creates a new file (replacing any old one); with it, continues the
  /// existing file, or creates one when there is none (see created()).
  H5mdWriter(MPI_Comm comm, std::filesystem::path path, long particles, const std::array<double, 3>& edges,
             const Units& units, const std::optional<Keep>& keep = std::nullopt);

  /// True when the constructor made a new file (which then needs its provenance and
  /// connectivity).
  bool created() const { return m_created; }

  /// gosok's provenance (version, git hash, workload, segments, resolved input) on the root
  /// group, as every gosok HDF5 file carries it; a continued file gets the new segments.
  void write_provenance(const std::string& workload, const std::vector<RunSegment>& segments,
                        const std::string& resolved_input);

  /// A time-independent connectivity element: `pairs` holds 2 * count 0-based particle ids
  /// (bonds), passed on rank 0 (other ranks pass an empty vector).
  void write_connectivity(const std::string& name, const std::vector<long>& pairs);

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
  std::array<double, 3> m_edges;
  Units m_units;
  bool m_created = false;
  int m_rank = 0;
  int m_size = 1;
};

}  // namespace gosok
