#include <gosok/io/hdf5_file.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>

#include <gosok/core/error.hpp>
#include <gosok/core/version.hpp>

namespace gosok {

void h5_check(herr_t status, const std::string& what) {
  if (status < 0) throw RunError("HDF5: " + what + " failed");
}

hid_t h5_check_id(hid_t id, const std::string& what) {
  if (id < 0) throw RunError("HDF5: " + what + " failed");
  return id;
}

H5Id h5_collective_transfer() {
  H5Id xfer(h5_check_id(H5Pcreate(H5P_DATASET_XFER), "H5Pcreate"));
  h5_check(H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio");
  return xfer;
}

// MPI-IO files default to H5F_CLOSE_SEMI, which refuses to close while a dataset handle is
// alive; WEAK closes the file when its last handle goes, which RAII handles make safe.
H5Id h5_parallel_file_access(MPI_Comm comm) {
  H5Id fapl(h5_check_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"));
  h5_check(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL), "H5Pset_fapl_mpio");
  h5_check(H5Pset_fclose_degree(fapl, H5F_CLOSE_WEAK), "H5Pset_fclose_degree");
  return fapl;
}

void H5Id::reset() {
  if (m_id < 0 || H5Iis_valid(m_id) <= 0) {
    m_id = H5I_INVALID_HID;
    return;
  }
  switch (H5Iget_type(m_id)) {
    case H5I_FILE:
      H5Fclose(m_id);
      break;
    case H5I_GROUP:
      H5Gclose(m_id);
      break;
    case H5I_DATASET:
      H5Dclose(m_id);
      break;
    case H5I_DATASPACE:
      H5Sclose(m_id);
      break;
    case H5I_DATATYPE:
      H5Tclose(m_id);
      break;
    case H5I_ATTR:
      H5Aclose(m_id);
      break;
    case H5I_GENPROP_LST:
      H5Pclose(m_id);
      break;
    default:
      break;
  }
  m_id = H5I_INVALID_HID;
}

H5File H5File::create(MPI_Comm comm, const std::filesystem::path& path) {
  H5Id fapl = h5_parallel_file_access(comm);
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (file < 0) throw RunError("cannot create HDF5 file " + path.string());
  return H5File(H5Id(file), comm, path);
}

namespace {

// Silences HDF5's own error stack for a probing call whose failure we report ourselves
// (a damaged file, a missing link).
class QuietHdf5Errors {
 public:
  QuietHdf5Errors() {
    H5Eget_auto2(H5E_DEFAULT, &m_handler, &m_data);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5Errors() { H5Eset_auto2(H5E_DEFAULT, m_handler, m_data); }
  QuietHdf5Errors(const QuietHdf5Errors&) = delete;
  QuietHdf5Errors& operator=(const QuietHdf5Errors&) = delete;

 private:
  H5E_auto2_t m_handler = nullptr;
  void* m_data = nullptr;
};

H5Id open_existing(MPI_Comm comm, const std::filesystem::path& path, unsigned flags, const char* failure) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw InputError(path.string() + ": no such file");
  H5Id fapl = h5_parallel_file_access(comm);
  hid_t file = H5I_INVALID_HID;
  {
    QuietHdf5Errors quiet;
    file = H5Fopen(path.c_str(), flags, fapl);
  }
  if (file < 0) throw InputError(path.string() + failure);
  return H5Id(file);
}

}  // namespace

HostDataset read_dataset_serial(const std::filesystem::path& path, const std::string& name) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw InputError(path.string() + ": no such file");
  QuietHdf5Errors quiet;
  H5Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (file < 0) throw InputError(path.string() + ": not a readable HDF5 file (truncated or corrupt?)");
  if (H5Lexists(file, name.c_str(), H5P_DEFAULT) <= 0) {
    throw InputError(path.string() + ": no dataset '" + name + "'");
  }
  H5Id dset(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
  if (dset < 0) throw InputError(path.string() + ": '" + name + "' is not a dataset");
  H5Id type(H5Dget_type(dset));
  const H5T_class_t type_class = H5Tget_class(type);
  if (type_class != H5T_FLOAT && type_class != H5T_INTEGER) {
    throw InputError(path.string() + ": dataset '" + name + "' is not numeric");
  }
  H5Id space(H5Dget_space(dset));
  HostDataset out;
  out.shape.resize(static_cast<std::size_t>(std::max(0, H5Sget_simple_extent_ndims(space))));
  H5Sget_simple_extent_dims(space, out.shape.data(), nullptr);
  hsize_t n = 1;
  for (hsize_t e : out.shape) n *= e;
  out.values.resize(n);
  if (n > 0 && H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data()) < 0) {
    throw InputError(path.string() + ": cannot read dataset '" + name + "' (corrupt file?)");
  }
  return out;
}

H5File H5File::open_read(MPI_Comm comm, const std::filesystem::path& path) {
  return H5File(open_existing(comm, path, H5F_ACC_RDONLY, ": not a readable HDF5 file (truncated or corrupt?)"), comm,
                path);
}

H5File H5File::open_write(MPI_Comm comm, const std::filesystem::path& path) {
  return H5File(
      open_existing(comm, path, H5F_ACC_RDWR, ": not a writable HDF5 file (truncated, corrupt or read-only?)"), comm,
      path);
}

void H5File::close() { m_file.reset(); }

H5Id H5File::group(const std::string& path) {
  H5Id current(h5_check_id(H5Gopen2(id(), "/", H5P_DEFAULT), "open /"));
  std::size_t start = path.front() == '/' ? 1 : 0;
  while (start < path.size()) {
    auto end = path.find('/', start);
    std::string name = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    hid_t next = H5Lexists(current, name.c_str(), H5P_DEFAULT) > 0
                     ? H5Gopen2(current, name.c_str(), H5P_DEFAULT)
                     : H5Gcreate2(current, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    current = H5Id(h5_check_id(next, "group " + path));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return current;
}

bool H5File::exists(const std::string& path) const {
  QuietHdf5Errors quiet;
  return H5Lexists(id(), path.c_str(), H5P_DEFAULT) > 0;
}

H5Id H5File::write_block(const std::string& path, const std::vector<hsize_t>& global, const std::vector<hsize_t>& start,
                         const std::vector<hsize_t>& count, const double* local, const std::vector<hsize_t>& chunk) {
  const int rank = static_cast<int>(global.size());
  auto slash = path.rfind('/');
  H5Id parent =
      slash == std::string::npos || slash == 0 ? H5Id(H5Gopen2(id(), "/", H5P_DEFAULT)) : group(path.substr(0, slash));
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  H5Id filespace(h5_check_id(H5Screate_simple(rank, global.data(), nullptr), "H5Screate_simple"));
  H5Id dcpl(h5_check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"));
  if (!chunk.empty()) h5_check(H5Pset_chunk(dcpl, rank, chunk.data()), "H5Pset_chunk");
  H5Id dset(h5_check_id(H5Dcreate2(parent, name.c_str(), H5T_NATIVE_DOUBLE, filespace, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                        "create dataset " + path));
  h5_check(H5Sselect_hyperslab(filespace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), "hyperslab");
  H5Id memspace(h5_check_id(H5Screate_simple(rank, count.data(), nullptr), "H5Screate_simple"));
  H5Id xfer = h5_collective_transfer();
  h5_check(H5Dwrite(dset, H5T_NATIVE_DOUBLE, memspace, filespace, xfer, local), "write " + path);
  return dset;
}

std::vector<hsize_t> H5File::dataset_shape(const std::string& path) const {
  if (!exists(path)) throw InputError(m_path.string() + ": dataset '" + path + "' is missing");
  H5Id dset(h5_check_id(H5Dopen2(id(), path.c_str(), H5P_DEFAULT), "open " + path));
  H5Id space(H5Dget_space(dset));
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

void H5File::read_block(const std::string& path, const std::vector<hsize_t>& start, const std::vector<hsize_t>& count,
                        double* local) const {
  auto shape = dataset_shape(path);
  if (shape.size() != start.size()) {
    throw InputError(m_path.string() + ": dataset '" + path + "' has the wrong rank");
  }
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (start[d] + count[d] > shape[d]) {
      throw InputError(m_path.string() + ": dataset '" + path + "' is smaller than expected");
    }
  }
  H5Id dset(h5_check_id(H5Dopen2(id(), path.c_str(), H5P_DEFAULT), "open " + path));
  H5Id filespace(H5Dget_space(dset));
  h5_check(H5Sselect_hyperslab(filespace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), "hyperslab");
  H5Id memspace(h5_check_id(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), "memspace"));
  H5Id xfer = h5_collective_transfer();
  if (H5Dread(dset, H5T_NATIVE_DOUBLE, memspace, filespace, xfer, local) < 0) {
    throw InputError(m_path.string() + ": cannot read dataset '" + path + "' (corrupt file?)");
  }
}

H5Id H5File::write_vector(const std::string& path, const std::vector<double>& values) {
  int rank = 0;
  MPI_Comm_rank(m_comm, &rank);
  const hsize_t n = values.size();
  // Every rank takes part in the collective write; rank 0 contributes the data.
  return write_block(path, {n}, {0}, {rank == 0 ? n : 0}, values.data());
}

std::vector<double> H5File::read_vector(const std::string& path) const {
  auto shape = dataset_shape(path);
  if (shape.size() != 1) throw InputError(m_path.string() + ": dataset '" + path + "' is not 1-D");
  std::vector<double> values(shape[0]);
  read_block(path, {0}, {shape[0]}, values.data());
  return values;
}

namespace {
H5Id make_attribute(hid_t object, const std::string& name, hid_t type, hid_t space) {
  if (H5Aexists(object, name.c_str()) > 0) H5Adelete(object, name.c_str());
  return H5Id(
      h5_check_id(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), "attribute " + name));
}
}  // namespace

void write_attribute(hid_t object, const std::string& name, const std::string& value) {
  H5Id type(h5_check_id(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  H5Tset_size(type, value.empty() ? 1 : value.size());
  H5Tset_strpad(type, H5T_STR_NULLTERM);
  H5Tset_cset(type, H5T_CSET_UTF8);
  H5Id space(H5Screate(H5S_SCALAR));
  H5Id attr = make_attribute(object, name, type, space);
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  h5_check(H5Awrite(attr, type, padded.data()), "write attribute " + name);
}

void write_attribute(hid_t object, const std::string& name, double value) {
  H5Id space(H5Screate(H5S_SCALAR));
  H5Id attr = make_attribute(object, name, H5T_NATIVE_DOUBLE, space);
  h5_check(H5Awrite(attr, H5T_NATIVE_DOUBLE, &value), "write attribute " + name);
}

void write_attribute(hid_t object, const std::string& name, std::int64_t value) {
  H5Id space(H5Screate(H5S_SCALAR));
  H5Id attr = make_attribute(object, name, H5T_NATIVE_INT64, space);
  h5_check(H5Awrite(attr, H5T_NATIVE_INT64, &value), "write attribute " + name);
}

void write_attribute(hid_t object, const std::string& name, const std::vector<double>& value) {
  const hsize_t n = value.size();
  H5Id space(H5Screate_simple(1, &n, nullptr));
  H5Id attr = make_attribute(object, name, H5T_NATIVE_DOUBLE, space);
  h5_check(H5Awrite(attr, H5T_NATIVE_DOUBLE, value.data()), "write attribute " + name);
}

void write_attribute(hid_t object, const std::string& name, const std::vector<std::int64_t>& value) {
  const hsize_t n = value.size();
  H5Id space(H5Screate_simple(1, &n, nullptr));
  H5Id attr = make_attribute(object, name, H5T_NATIVE_INT64, space);
  h5_check(H5Awrite(attr, H5T_NATIVE_INT64, value.data()), "write attribute " + name);
}

std::vector<std::int64_t> read_int_array_attribute(hid_t object, const std::string& name) {
  if (!has_attribute(object, name)) throw InputError("missing attribute '" + name + "'");
  H5Id attr(H5Aopen(object, name.c_str(), H5P_DEFAULT));
  H5Id space(H5Aget_space(attr));
  std::vector<std::int64_t> v(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)));
  h5_check(H5Aread(attr, H5T_NATIVE_INT64, v.data()), "read attribute " + name);
  return v;
}

bool has_attribute(hid_t object, const std::string& name) { return H5Aexists(object, name.c_str()) > 0; }

std::string read_string_attribute(hid_t object, const std::string& name) {
  if (!has_attribute(object, name)) throw InputError("missing attribute '" + name + "'");
  H5Id attr(H5Aopen(object, name.c_str(), H5P_DEFAULT));
  H5Id type(H5Aget_type(attr));
  if (H5Tget_class(type) != H5T_STRING || H5Tis_variable_str(type) > 0) {
    throw InputError("attribute '" + name + "' is not a fixed-length string");
  }
  std::string value(H5Tget_size(type), '\0');
  h5_check(H5Aread(attr, type, value.data()), "read attribute " + name);
  while (!value.empty() && value.back() == '\0') value.pop_back();
  return value;
}

double read_double_attribute(hid_t object, const std::string& name) {
  if (!has_attribute(object, name)) throw InputError("missing attribute '" + name + "'");
  H5Id attr(H5Aopen(object, name.c_str(), H5P_DEFAULT));
  double v = 0;
  h5_check(H5Aread(attr, H5T_NATIVE_DOUBLE, &v), "read attribute " + name);
  return v;
}

std::int64_t read_int_attribute(hid_t object, const std::string& name) {
  if (!has_attribute(object, name)) throw InputError("missing attribute '" + name + "'");
  H5Id attr(H5Aopen(object, name.c_str(), H5P_DEFAULT));
  std::int64_t v = 0;
  h5_check(H5Aread(attr, H5T_NATIVE_INT64, &v), "read attribute " + name);
  return v;
}

void write_provenance(hid_t file, const std::string& workload, const std::vector<RunSegment>& segments,
                      const std::string& resolved_input) {
  write_attribute(file, "gosok_version", std::string(version()));
  write_attribute(file, "gosok_git_hash", std::string(git_hash()));
  write_attribute(file, "workload", workload);
  std::vector<std::int64_t> first_steps, ranks;
  for (const auto& s : segments) {
    first_steps.push_back(s.first_step);
    ranks.push_back(s.ranks);
  }
  write_attribute(file, "mpi_ranks", ranks);
  write_attribute(file, "segment_first_step", first_steps);
  write_attribute(file, "resolved_input", resolved_input);
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  write_attribute(file, "created", std::string(stamp));
}

std::vector<RunSegment> read_segments(hid_t file) {
  const auto ranks = read_int_array_attribute(file, "mpi_ranks");
  std::vector<std::int64_t> first_steps(ranks.size(), 0);
  if (has_attribute(file, "segment_first_step")) first_steps = read_int_array_attribute(file, "segment_first_step");
  if (first_steps.size() != ranks.size() || ranks.empty()) {
    throw InputError("attributes 'mpi_ranks' and 'segment_first_step' have different lengths");
  }
  std::vector<RunSegment> out;
  for (std::size_t k = 0; k < ranks.size(); ++k) out.push_back({first_steps[k], ranks[k]});
  return out;
}

}  // namespace gosok
