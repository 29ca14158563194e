#pragma once

#include <hdf5.h>

#include <string>
#include <vector>

#include <gosok/io/hdf5_file.hpp>

namespace gosok {

/// Vocabulary: a *series dataset* is an HDF5 dataset that grows along its first,
/// unlimited dimension by *entries* (an output record, a trajectory frame, an observation:
/// indexed by step or time); the other dimensions are the fixed *inner* shape of one entry.
/// An extendible dataset must be chunked; the caller chooses the chunk, which decides
/// what a reader pays per entry. GriddedSeriesFile (its time axis and variables) and the
/// H5MD writer (step, time and value of every time series) are built on it. Writes are
/// collective: every rank of the file's communicator calls them; a rank that contributes
/// nothing passes `selected = false`.
class SeriesDataset {
 public:
  /// Creates `name` under `loc` with no entries. `chunk` has one entry per dimension
  /// (entries first). `create_plist` may carry further creation properties (e.g. tracked
  /// attribute order); H5P_DEFAULT for none.
  static SeriesDataset create(hid_t loc, const std::string& name, hid_t type, const std::vector<hsize_t>& inner,
                              const std::vector<hsize_t>& chunk, hid_t create_plist = H5P_DEFAULT);
  /// Opens an existing series dataset; RunError when it is missing.
  static SeriesDataset open(hid_t loc, const std::string& name);

  hid_t id() const { return m_dset.get(); }
  /// The number of entries.
  hsize_t size() const;
  /// Grows or truncates to `n` entries.
  void resize(hsize_t n);
  /// Writes `count` entries from entry `first` on, this rank's block at `inner_start` with
  /// extents `inner_count` of each (row-major `data` of `mem_type`).
  void write(hsize_t first, hsize_t count, const std::vector<hsize_t>& inner_start,
             const std::vector<hsize_t>& inner_count, hid_t mem_type, const void* data, bool selected = true);
  /// Appends `count` whole entries written by the one rank with `selected` (rank 0, say).
  void append(hsize_t count, hid_t mem_type, const void* data, bool selected);

 private:
  SeriesDataset(H5Id dset, std::string name) : m_dset(std::move(dset)), m_name(std::move(name)) {}
  std::vector<hsize_t> dims() const;
  H5Id m_dset;
  std::string m_name;
};

}  // namespace gosok
