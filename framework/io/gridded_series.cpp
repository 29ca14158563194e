#include <gosok/io/gridded_series.hpp>

#include <hdf5_hl.h>

#include <algorithm>

#include <gosok/core/error.hpp>
#include <gosok/io/series_dataset.hpp>

namespace gosok {
namespace {

// netCDF-4 readers sort objects by creation order when the file tracks it.
H5Id tracked_creation_order() {
  H5Id dcpl(h5_check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"));
  h5_check(H5Pset_attr_creation_order(dcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), "attr creation order");
  return dcpl;
}

SeriesDataset open_series(const H5File& file, const std::string& name) {
  if (!file.exists(name)) throw InputError(file.path().string() + ": dataset '" + name + "' is missing");
  return SeriesDataset::open(file.id(), name);
}

void describe(hid_t dset, const std::string& units, const std::string& long_name,
              const GriddedSeriesFile::Attributes& attributes) {
  write_attribute(dset, "units", units);
  write_attribute(dset, "long_name", long_name);
  for (const auto& [name, value] : attributes) write_attribute(dset, name, value);
}

}  // namespace

GriddedSeriesFile GriddedSeriesFile::create(MPI_Comm comm, const std::filesystem::path& path, const Axis& time,
                                            const std::vector<Axis>& space, const std::vector<Variable>& variables) {
  H5File file = H5File::create(comm, path);
  const hid_t root = file.id();

  // The time axis: 1-D, one entry per record.
  SeriesDataset time_series =
      SeriesDataset::create(root, time.name, H5T_NATIVE_DOUBLE, {}, {64}, tracked_creation_order());
  const hid_t time_set = time_series.id();
  h5_check(H5DSset_scale(time_set, time.name.c_str()), "H5DSset_scale " + time.name);
  describe(time_set, time.units, time.long_name, time.attributes);

  std::vector<H5Id> scales;
  std::vector<hsize_t> extents;
  for (const Axis& axis : space) {
    const hsize_t n = axis.values.size();
    H5Id axis_space(h5_check_id(H5Screate_simple(1, &n, nullptr), "axis dataspace"));
    H5Id dcpl = tracked_creation_order();
    H5Id dset(
        h5_check_id(H5Dcreate2(root, axis.name.c_str(), H5T_NATIVE_DOUBLE, axis_space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                    "create " + axis.name));
    // Replicated values: every rank passes the same data; HDF5 writes them once.
    h5_check(H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, h5_collective_transfer(), axis.values.data()),
             "write " + axis.name);
    h5_check(H5DSset_scale(dset, axis.name.c_str()), "H5DSset_scale " + axis.name);
    describe(dset, axis.units, axis.long_name, axis.attributes);
    extents.push_back(n);
    scales.push_back(std::move(dset));
  }

  // Every variable: one whole field per record and per chunk.
  std::vector<hsize_t> chunk{1};
  chunk.insert(chunk.end(), extents.begin(), extents.end());
  std::vector<std::string> names;
  for (const Variable& var : variables) {
    H5Id dcpl = tracked_creation_order();
    h5_check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), "fill time " + var.name);
    SeriesDataset series = SeriesDataset::create(root, var.name, H5T_NATIVE_DOUBLE, extents, chunk, dcpl);
    const hid_t dset = series.id();
    h5_check(H5DSattach_scale(dset, time_set, 0), "attach " + time.name + " to " + var.name);
    for (std::size_t d = 0; d < scales.size(); ++d) {
      h5_check(H5DSattach_scale(dset, scales[d], static_cast<unsigned>(d + 1)), "attach scale to " + var.name);
    }
    describe(dset, var.units, var.long_name, var.attributes);
    names.push_back(var.name);
  }
  return GriddedSeriesFile(std::move(file), time.name, std::move(names), space.size());
}

GriddedSeriesFile GriddedSeriesFile::open(MPI_Comm comm, const std::filesystem::path& path,
                                          const std::string& time_name, const std::vector<Variable>& variables,
                                          const std::vector<hsize_t>& space_extents) {
  H5File file = H5File::open_write(comm, path);
  file.dataset_shape(time_name);  // throws InputError when missing
  std::vector<std::string> names;
  for (const Variable& var : variables) {
    const auto shape = file.dataset_shape(var.name);
    if (shape.size() != space_extents.size() + 1 ||
        !std::equal(space_extents.begin(), space_extents.end(), shape.begin() + 1)) {
      throw InputError(path.string() + ": variable '" + var.name + "' has a different grid than this run");
    }
    names.push_back(var.name);
  }
  return GriddedSeriesFile(std::move(file), time_name, std::move(names), space_extents.size());
}

hsize_t GriddedSeriesFile::records() const { return m_file.dataset_shape(m_time).at(0); }

void GriddedSeriesFile::resize(hsize_t n) {
  open_series(m_file, m_time).resize(n);
  for (const std::string& name : m_variables) open_series(m_file, name).resize(n);
}

void GriddedSeriesFile::truncate(hsize_t n) {
  if (n < records()) resize(n);
}

void GriddedSeriesFile::append(double time, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                               const std::vector<const double*>& blocks) {
  if (blocks.size() != m_variables.size() || start.size() != m_space_rank || count.size() != m_space_rank) {
    throw RunError("GriddedSeriesFile::append: blocks do not match the variables or the grid");
  }
  const hsize_t index = records();
  resize(index + 1);
  int rank = 0;
  MPI_Comm_rank(m_file.comm(), &rank);
  // Rank 0 writes the time value, the others join the collective call.
  open_series(m_file, m_time).write(index, 1, {}, {}, H5T_NATIVE_DOUBLE, &time, rank == 0);
  for (std::size_t v = 0; v < m_variables.size(); ++v) {
    open_series(m_file, m_variables[v]).write(index, 1, start, count, H5T_NATIVE_DOUBLE, blocks[v]);
  }
}

}  // namespace gosok
