#pragma once

#include <hdf5.h>
#include <mpi.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gosok/io/hdf5_file.hpp>

namespace gosok {

/// A self-describing file of gridded fields at a growing list of output times, laid out
/// the way netCDF-4 lays out its files so that `ncdump` and netCDF readers open it.
///
/// Vocabulary: an *axis* is a coordinate variable, a 1-D dataset marked as an HDF5
/// dimension scale (H5DS) with `units` and `long_name`; the *time axis* is unlimited and
/// grows by one *record* per output; a *variable* is a dataset (time, space axes...) with
/// the axes attached as its dimension scales. Space axes are given slowest first, e.g.
/// (z, x) for a field stored (t, z, x). Every method is collective over the file's
/// communicator; each rank writes its own block of every record.
class GriddedSeriesFile {
 public:
  /// Further attributes by name, e.g. CF's standard_name, axis, positive, calendar.
  using Attributes = std::map<std::string, std::string>;
  struct Axis {
    std::string name;
    std::string units;
    std::string long_name;
    std::vector<double> values;  // empty for the time axis
    Attributes attributes{};
  };
  struct Variable {
    std::string name;
    std::string units;
    std::string long_name;
    Attributes attributes{};
  };

  /// Creates (truncates) the file and defines the axes and variables, with no records yet.
  static GriddedSeriesFile create(MPI_Comm comm, const std::filesystem::path& path, const Axis& time,
                                  const std::vector<Axis>& space, const std::vector<Variable>& variables);
  /// Opens an existing series to append to it. Throws InputError when the file is not a
  /// series with these variables and space extents.
  static GriddedSeriesFile open(MPI_Comm comm, const std::filesystem::path& path, const std::string& time_name,
                                const std::vector<Variable>& variables, const std::vector<hsize_t>& space_extents);

  H5File& file() { return m_file; }
  hsize_t records() const;
  /// Keeps the first `n` records (a restart drops those written after its checkpoint).
  void truncate(hsize_t n);
  /// Appends one record: the time value and, for each variable in definition order, this
  /// rank's block at `start` with extents `count` (space axes only, row-major data).
  void append(double time, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
              const std::vector<const double*>& blocks);
  void close() { m_file.close(); }

 private:
  GriddedSeriesFile(H5File file, std::string time_name, std::vector<std::string> variables, std::size_t space_rank)
      : m_file(std::move(file)),
        m_time(std::move(time_name)),
        m_variables(std::move(variables)),
        m_space_rank(space_rank) {}
  void resize(hsize_t n);

  H5File m_file;
  std::string m_time;
  std::vector<std::string> m_variables;
  std::size_t m_space_rank;
};

}  // namespace gosok
