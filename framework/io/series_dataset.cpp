#include <gosok/io/series_dataset.hpp>

#include <gosok/core/error.hpp>

namespace gosok {

SeriesDataset SeriesDataset::create(hid_t loc, const std::string& name, hid_t type, const std::vector<hsize_t>& inner,
                                    const std::vector<hsize_t>& chunk, hid_t create_plist) {
  std::vector<hsize_t> dims{0}, max_dims{H5S_UNLIMITED};
  dims.insert(dims.end(), inner.begin(), inner.end());
  max_dims.insert(max_dims.end(), inner.begin(), inner.end());
  const int rank = static_cast<int>(dims.size());
  if (chunk.size() != dims.size())
    throw RunError("SeriesDataset::create: " + name + ": one chunk extent per dimension");
  H5Id space(h5_check_id(H5Screate_simple(rank, dims.data(), max_dims.data()), "dataspace " + name));
  H5Id dcpl(h5_check_id(create_plist == H5P_DEFAULT ? H5Pcreate(H5P_DATASET_CREATE) : H5Pcopy(create_plist),
                        "creation properties " + name));
  h5_check(H5Pset_chunk(dcpl, rank, chunk.data()), "chunk " + name);
  H5Id dset(h5_check_id(H5Dcreate2(loc, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), "create " + name));
  return SeriesDataset(std::move(dset), name);
}

SeriesDataset SeriesDataset::open(hid_t loc, const std::string& name) {
  return SeriesDataset(H5Id(h5_check_id(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), "open " + name)), name);
}

std::vector<hsize_t> SeriesDataset::dims() const {
  H5Id space(h5_check_id(H5Dget_space(m_dset), "space " + m_name));
  std::vector<hsize_t> d(static_cast<std::size_t>(H5Sget_simple_extent_ndims(space)));
  H5Sget_simple_extent_dims(space, d.data(), nullptr);
  return d;
}

hsize_t SeriesDataset::size() const { return dims().at(0); }

void SeriesDataset::resize(hsize_t n) {
  auto d = dims();
  d[0] = n;
  h5_check(H5Dset_extent(m_dset, d.data()), "resize " + m_name);
}

void SeriesDataset::write(hsize_t first, hsize_t count, const std::vector<hsize_t>& inner_start,
                          const std::vector<hsize_t>& inner_count, hid_t mem_type, const void* data, bool selected) {
  std::vector<hsize_t> start{first}, shape{count};
  start.insert(start.end(), inner_start.begin(), inner_start.end());
  shape.insert(shape.end(), inner_count.begin(), inner_count.end());
  H5Id space(h5_check_id(H5Dget_space(m_dset), "space " + m_name));
  H5Id mem(h5_check_id(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr), "memspace " + m_name));
  if (selected) {
    h5_check(H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, shape.data(), nullptr),
             "select " + m_name);
  } else {
    h5_check(H5Sselect_none(space), "select none " + m_name);
    h5_check(H5Sselect_none(mem), "select none " + m_name);
  }
  H5Id xfer = h5_collective_transfer();
  h5_check(H5Dwrite(m_dset, mem_type, mem, space, xfer, data), "write " + m_name);
}

void SeriesDataset::append(hsize_t count, hid_t mem_type, const void* data, bool selected) {
  const auto d = dims();
  const hsize_t first = d[0];
  resize(first + count);
  const std::vector<hsize_t> inner(d.begin() + 1, d.end()), zero(inner.size(), 0);
  write(first, count, zero, inner, mem_type, data, selected);
}

}  // namespace gosok
