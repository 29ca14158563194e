#pragma once

#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <gosok/core/run_segment.hpp>

namespace gosok {

/// RAII handle for any HDF5 identifier (file, group, dataset, dataspace, property list).
class H5Id {
 public:
  H5Id() = default;
  explicit H5Id(hid_t id) : m_id(id) {}
  ~H5Id() { reset(); }
  H5Id(H5Id&& o) noexcept : m_id(o.m_id) { o.m_id = H5I_INVALID_HID; }
  H5Id& operator=(H5Id&& o) noexcept {
    if (this != &o) {
      reset();
      m_id = o.m_id;
      o.m_id = H5I_INVALID_HID;
    }
    return *this;
  }
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  hid_t get() const { return m_id; }
  operator hid_t() const { return m_id; }
  void reset();

 private:
  hid_t m_id = H5I_INVALID_HID;
};

/// A parallel HDF5 file opened collectively on a communicator (MPI-IO driver). All ranks
/// call every method that creates objects or writes data; attribute writes are collective
/// metadata operations (every rank passes the same value).
class H5File {
 public:
  static H5File create(MPI_Comm comm, const std::filesystem::path& path);
  static H5File open_read(MPI_Comm comm, const std::filesystem::path& path);
  /// Opens an existing file for reading and writing (e.g. to append records); collective.
  static H5File open_write(MPI_Comm comm, const std::filesystem::path& path);

  hid_t id() const { return m_file.get(); }
  MPI_Comm comm() const { return m_comm; }
  const std::filesystem::path& path() const { return m_path; }
  void close();

  /// Creates /a/b/c groups as needed and returns the innermost.
  H5Id group(const std::string& path);
  bool exists(const std::string& path) const;

  /// Writes a distributed N-D double dataset collectively: this rank's block `local`
  /// (row-major, extents `count`) goes at `start` of a dataset of extents `global`.
  /// `chunk` may be empty (contiguous).
  H5Id write_block(const std::string& path, const std::vector<hsize_t>& global, const std::vector<hsize_t>& start,
                   const std::vector<hsize_t>& count, const double* local, const std::vector<hsize_t>& chunk = {});
  /// Reads this rank's block of a dataset collectively.
  void read_block(const std::string& path, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                  double* local) const;
  std::vector<hsize_t> dataset_shape(const std::string& path) const;

  /// Small replicated datasets (written by every rank with the same values).
  H5Id write_vector(const std::string& path, const std::vector<double>& values);
  std::vector<double> read_vector(const std::string& path) const;

 private:
  H5File(H5Id file, MPI_Comm comm, std::filesystem::path path)
      : m_file(std::move(file)), m_comm(comm), m_path(std::move(path)) {}
  H5Id m_file;
  MPI_Comm m_comm;
  std::filesystem::path m_path;
};

/// A whole dataset read as doubles by one process with HDF5's serial driver: no MPI needed
/// (the regression comparator reads results this way on a login node).
struct HostDataset {
  std::vector<hsize_t> shape;
  std::vector<double> values;  // row-major
};
/// Throws InputError naming the file and dataset when the file is missing, not HDF5, or
/// has no such numeric dataset.
HostDataset read_dataset_serial(const std::filesystem::path& file, const std::string& dataset);

/// Error checks for raw HDF5 calls: throw RunError("HDF5: <what> failed").
void h5_check(herr_t status, const std::string& what);
hid_t h5_check_id(hid_t id, const std::string& what);
/// Property lists every parallel file in gosok uses: MPI-IO access with weak close
/// semantics, and collective transfers.
H5Id h5_parallel_file_access(MPI_Comm comm);
H5Id h5_collective_transfer();

void write_attribute(hid_t object, const std::string& name, const std::string& value);
void write_attribute(hid_t object, const std::string& name, double value);
void write_attribute(hid_t object, const std::string& name, std::int64_t value);
void write_attribute(hid_t object, const std::string& name, const std::vector<double>& value);
void write_attribute(hid_t object, const std::string& name, const std::vector<std::int64_t>& value);
std::vector<std::int64_t> read_int_array_attribute(hid_t object, const std::string& name);
bool has_attribute(hid_t object, const std::string& name);
std::string read_string_attribute(hid_t object, const std::string& name);
double read_double_attribute(hid_t object, const std::string& name);
std::int64_t read_int_attribute(hid_t object, const std::string& name);

/// Provenance every gosok file carries on its root group: gosok version, git hash,
/// workload, the resolved input (TOML text), the time of writing, and the run's segments
/// as two arrays of one entry per segment, `segment_first_step` and `mpi_ranks` (so
/// `ncdump -h` shows `mpi_ranks = 2, 1` for a run restarted from 2 ranks on 1). Writing it
/// again replaces it (a continued file gets the new segment list).
void write_provenance(hid_t file, const std::string& workload, const std::vector<RunSegment>& segments,
                      const std::string& resolved_input);
/// The segments recorded by write_provenance; a file with provenance but no
/// `segment_first_step` (written before segments were recorded) is one segment from step 0.
/// Throws InputError when the file has no provenance.
std::vector<RunSegment> read_segments(hid_t file);

}  // namespace gosok
