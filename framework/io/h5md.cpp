#include <gosok/io/h5md.hpp>

#include <hdf5.h>

#include <pwd.h>
#include <unistd.h>

#include <algorithm>

#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/core/version.hpp>
#include <gosok/io/hdf5_file.hpp>
#include <gosok/io/series_dataset.hpp>
#include <gosok/parallel/gather.hpp>

namespace gosok {
namespace {

void int_scalar_attribute(hid_t obj, const std::string& name, int value) {
  H5Id space(h5_check_id(H5Screate(H5S_SCALAR), "dataspace"));
  H5Id attr(
      h5_check_id(H5Acreate2(obj, name.c_str(), H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT), "attr " + name));
  h5_check(H5Awrite(attr, H5T_NATIVE_INT, &value), "write attr " + name);
}

/// A scalar variable-length string attribute (what h5py, and so MDAnalysis, reads as str).
void vlen_string_attribute(hid_t obj, const std::string& name, const std::string& value) {
  H5Id type(h5_check_id(H5Tcopy(H5T_C_S1), "string type"));
  h5_check(H5Tset_size(type, H5T_VARIABLE), "string size");
  H5Id space(h5_check_id(H5Screate(H5S_SCALAR), "dataspace"));
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  H5Id attr(h5_check_id(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), "attr " + name));
  const char* text = value.c_str();
  h5_check(H5Awrite(attr, type, &text), "write attr " + name);
}

void int_array_attribute(hid_t obj, const std::string& name, const std::vector<int>& values) {
  const hsize_t n = values.size();
  H5Id space(h5_check_id(H5Screate_simple(1, &n, nullptr), "dataspace"));
  H5Id attr(
      h5_check_id(H5Acreate2(obj, name.c_str(), H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT), "attr " + name));
  h5_check(H5Awrite(attr, H5T_NATIVE_INT, values.data()), "write attr " + name);
}

void string_array_attribute(hid_t obj, const std::string& name, const std::vector<std::string>& values) {
  std::size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size() + 1);
  std::vector<char> data(width * values.size(), '\0');
  for (std::size_t k = 0; k < values.size(); ++k) std::copy(values[k].begin(), values[k].end(), &data[k * width]);
  H5Id type(h5_check_id(H5Tcopy(H5T_C_S1), "string type"));
  h5_check(H5Tset_size(type, width), "string size");
  h5_check(H5Tset_strpad(type, H5T_STR_NULLTERM), "string pad");
  const hsize_t n = values.size();
  H5Id space(h5_check_id(H5Screate_simple(1, &n, nullptr), "dataspace"));
  H5Id attr(h5_check_id(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), "attr " + name));
  h5_check(H5Awrite(attr, type, data.data()), "write attr " + name);
}

/// A series of scalars or of entries of shape `inner`, chunked as H5MD readers read it:
/// many scalars or small entries (the box) per chunk, one frame of particle data per chunk
/// (split along the particles when that is large, to keep chunks near a megabyte).
SeriesDataset create_series(hid_t loc, const std::string& name, hid_t type, const std::vector<hsize_t>& inner) {
  std::vector<hsize_t> chunk{1};
  chunk.insert(chunk.end(), inner.begin(), inner.end());
  if (inner.empty()) chunk[0] = 256;
  if (!inner.empty() && inner[0] <= 3) chunk[0] = 64;
  if (inner.size() >= 2 && inner[0] > 32768) chunk[1] = 32768;
  return SeriesDataset::create(loc, name, type, inner, chunk);
}

/// An H5MD time-series group: step, time and value series.
void time_series_group(H5File& file, const std::string& path, hid_t value_type, const std::vector<hsize_t>& inner,
                       const std::string& time_unit, const std::string& value_unit) {
  H5Id g = file.group(path);
  create_series(g, "step", H5T_NATIVE_LONG, {});
  SeriesDataset time = create_series(g, "time", H5T_NATIVE_DOUBLE, {});
  SeriesDataset value = create_series(g, "value", value_type, inner);
  if (!time_unit.empty()) vlen_string_attribute(time.id(), "unit", time_unit);
  if (!value_unit.empty()) vlen_string_attribute(value.id(), "unit", value_unit);
}

/// Appends `count` entries to a time-series group from the rank with `writer`.
void append_entries(const H5File& file, const std::string& path, const long* steps, const double* times,
                    hid_t value_type, const void* values, hsize_t count, bool writer) {
  SeriesDataset::open(file.id(), path + "/step").append(count, H5T_NATIVE_LONG, steps, writer);
  SeriesDataset::open(file.id(), path + "/time").append(count, H5T_NATIVE_DOUBLE, times, writer);
  if (values != nullptr) SeriesDataset::open(file.id(), path + "/value").append(count, value_type, values, writer);
}

/// Keeps the first `keep` entries of a time-series group.
void truncate_series(const H5File& file, const std::string& path, long keep) {
  if (!file.exists(path + "/step")) return;
  for (const char* part : {"/step", "/time", "/value"}) {
    SeriesDataset d = SeriesDataset::open(file.id(), path + part);
    if (d.size() > static_cast<hsize_t>(keep)) d.resize(static_cast<hsize_t>(keep));
  }
}

std::vector<std::string> observable_names(const H5File& file) {
  std::vector<std::string> names;
  if (!file.exists("/observables")) return names;
  H5Id g(h5_check_id(H5Gopen2(file.id(), "/observables", H5P_DEFAULT), "open observables"));
  H5G_info_t info;
  H5Gget_info(g, &info);
  for (hsize_t k = 0; k < info.nlinks; ++k) {
    char name[256] = {0};
    H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, k, name, sizeof(name), H5P_DEFAULT);
    names.push_back(name);
  }
  return names;
}

/// The login name of the person running this process (H5MD's author), from rank 0.
std::string author_name(MPI_Comm comm, int rank) {
  std::string name;
  if (rank == 0) {
    const passwd* pw = getpwuid(geteuid());
    if (pw != nullptr && pw->pw_name != nullptr) name = pw->pw_name;
    if (name.empty()) name = env("USER").value_or("");
    if (name.empty()) name = "unknown";
  }
  int length = static_cast<int>(name.size());
  MPI_Bcast(&length, 1, MPI_INT, 0, comm);
  name.resize(static_cast<std::size_t>(length));
  MPI_Bcast(name.data(), length, MPI_CHAR, 0, comm);
  return name;
}

const char* const particle_series[] = {"/particles/all/position", "/particles/all/velocity", "/particles/all/image",
                                       "/particles/all/box/edges"};

}  // namespace

H5mdWriter::H5mdWriter(MPI_Comm comm, std::filesystem::path path, long particles, const std::array<double, 3>& edges,
                       const Units& units, const std::optional<Keep>& keep)
    : m_comm(comm), m_path(std::move(path)), m_particles(particles), m_edges(edges), m_units(units) {
  MPI_Comm_rank(comm, &m_rank);
  MPI_Comm_size(comm, &m_size);
  int present = 0;
  if (m_rank == 0) present = std::filesystem::exists(m_path) ? 1 : 0;
  MPI_Bcast(&present, 1, MPI_INT, 0, comm);
  if (keep && present) {
    H5File file = H5File::open_write(comm, m_path);
    for (const char* name : particle_series) truncate_series(file, name, keep->frames);
    for (const auto& name : observable_names(file)) truncate_series(file, "/observables/" + name, keep->observations);
    return;
  }
  m_created = true;
  H5File file = H5File::create(comm, m_path);
  {
    H5Id h5md = file.group("/h5md");
    int_array_attribute(h5md, "version", {1, 1});
    H5Id a = file.group("/h5md/author");
    write_attribute(a, "name", author_name(comm, m_rank));
    H5Id c = file.group("/h5md/creator");
    write_attribute(c, "name", std::string("gosok"));
    write_attribute(c, "version", std::string(version()));
    if (!units.system.empty()) {
      H5Id u = file.group("/h5md/modules/units");
      int_array_attribute(u, "version", {1, 0});
      write_attribute(u, "system", units.system);
    }
  }
  H5Id box = file.group("/particles/all/box");
  int_scalar_attribute(box, "dimension", 3);
  string_array_attribute(box, "boundary", {"periodic", "periodic", "periodic"});
  // The edges as a 3 x 3 matrix (a diagonal one: the box is a cuboid), which H5MD allows
  // and MDAnalysis requires.
  time_series_group(file, "/particles/all/box/edges", H5T_NATIVE_DOUBLE, {3, 3}, units.time, units.length);
  const hsize_t n = static_cast<hsize_t>(particles);
  time_series_group(file, "/particles/all/position", H5T_NATIVE_DOUBLE, {n, 3}, units.time, units.length);
  time_series_group(file, "/particles/all/velocity", H5T_NATIVE_DOUBLE, {n, 3}, units.time, units.velocity);
  time_series_group(file, "/particles/all/image", H5T_NATIVE_INT, {n, 3}, units.time, "");
}

void H5mdWriter::write_provenance(const std::string& workload, const std::vector<RunSegment>& segments,
                                  const std::string& resolved_input) {
  H5File file = H5File::open_write(m_comm, m_path);
  gosok::write_provenance(file.id(), workload, segments, resolved_input);
}

void H5mdWriter::write_connectivity(const std::string& name, const std::vector<long>& pairs) {
  long count = static_cast<long>(pairs.size() / 2);
  MPI_Bcast(&count, 1, MPI_LONG, 0, m_comm);
  H5File file = H5File::open_write(m_comm, m_path);
  H5Id g = file.group("/connectivity");
  const hsize_t shape[2] = {static_cast<hsize_t>(count), 2};
  H5Id space(h5_check_id(H5Screate_simple(2, shape, nullptr), "dataspace"));
  H5Id dset(h5_check_id(H5Dcreate2(g, name.c_str(), H5T_NATIVE_LONG, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                        "create /connectivity/" + name));
  H5Id mem(h5_check_id(H5Screate_simple(2, shape, nullptr), "memspace"));
  if (m_rank != 0 || count == 0) {
    H5Sselect_none(space);
    H5Sselect_none(mem);
  }
  H5Id xfer = h5_collective_transfer();
  h5_check(H5Dwrite(dset, H5T_NATIVE_LONG, mem, space, xfer, pairs.data()), "write /connectivity/" + name);
  // H5MD: the particles group whose ids the pairs index.
  hobj_ref_t ref;
  h5_check(H5Rcreate(&ref, file.id(), "/particles/all", H5R_OBJECT, -1), "reference /particles/all");
  H5Id scalar(h5_check_id(H5Screate(H5S_SCALAR), "dataspace"));
  H5Id attr(h5_check_id(H5Acreate2(dset, "particles_group", H5T_STD_REF_OBJ, scalar, H5P_DEFAULT, H5P_DEFAULT),
                        "attr particles_group"));
  h5_check(H5Awrite(attr, H5T_STD_REF_OBJ, &ref), "write particles_group");
}

void H5mdWriter::write_frame(long step, double time, long n, const long* ids, const double* position,
                             const double* velocity, const int* image, const int* species) {
  // Redistribute by id: rank r writes ids [r * block, (r + 1) * block).
  const long block = (m_particles + m_size - 1) / m_size;
  constexpr int width = 11;  // id, position 3, velocity 3, image 3, species
  std::vector<std::vector<double>> out(static_cast<std::size_t>(m_size));
  for (long k = 0; k < n; ++k) {
    if (ids[k] < 0 || ids[k] >= m_particles) throw RunError("H5MD: particle id out of range");
    auto& row = out[static_cast<std::size_t>(ids[k] / block)];
    row.push_back(static_cast<double>(ids[k]));
    for (int c = 0; c < 3; ++c) row.push_back(position[3 * k + c]);
    for (int c = 0; c < 3; ++c) row.push_back(velocity[3 * k + c]);
    for (int c = 0; c < 3; ++c) row.push_back(static_cast<double>(image[3 * k + c]));
    row.push_back(static_cast<double>(species[k]));
  }
  const std::vector<double> in = all_to_all(m_comm, out);
  const long first = std::min(m_particles, m_rank * block);
  const long count = std::min(m_particles, first + block) - first;
  std::vector<double> pos(static_cast<std::size_t>(3 * count)), vel(pos.size());
  std::vector<int> img(pos.size()), spec(static_cast<std::size_t>(count));
  for (std::size_t r = 0; r < in.size() / width; ++r) {
    const double* row = &in[r * width];
    const auto k = static_cast<std::size_t>(static_cast<long>(row[0]) - first);
    for (int c = 0; c < 3; ++c) {
      pos[3 * k + c] = row[1 + c];
      vel[3 * k + c] = row[4 + c];
      img[3 * k + c] = static_cast<int>(row[7 + c]);
    }
    spec[k] = static_cast<int>(row[10]);
  }
  if (static_cast<long>(in.size() / width) != count) throw RunError("H5MD: a frame is missing particles");

  H5File file = H5File::open_write(m_comm, m_path);
  if (!file.exists("/particles/all/species")) {
    const hsize_t total = static_cast<hsize_t>(m_particles);
    H5Id space(h5_check_id(H5Screate_simple(1, &total, nullptr), "dataspace"));
    H5Id dset(h5_check_id(
        H5Dcreate2(file.id(), "/particles/all/species", H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
        "create species"));
    const hsize_t start = static_cast<hsize_t>(first), cnt = static_cast<hsize_t>(count);
    h5_check(H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, nullptr, &cnt, nullptr), "select");
    H5Id mem(h5_check_id(H5Screate_simple(1, &cnt, nullptr), "memspace"));
    h5_check(H5Dwrite(dset, H5T_NATIVE_INT, mem, space, h5_collective_transfer(), spec.data()), "write species");
  }
  const struct {
    const char* name;
    hid_t type;
    const void* data;
  } series[] = {{"position", H5T_NATIVE_DOUBLE, pos.data()},
                {"velocity", H5T_NATIVE_DOUBLE, vel.data()},
                {"image", H5T_NATIVE_INT, img.data()}};
  for (const auto& s : series) {
    const std::string base = std::string("/particles/all/") + s.name;
    // Each rank writes its block of ids into the new frame.
    SeriesDataset value = SeriesDataset::open(file.id(), base + "/value");
    const hsize_t frame = value.size();
    value.resize(frame + 1);
    value.write(frame, 1, {static_cast<hsize_t>(first), 0}, {static_cast<hsize_t>(count), 3}, s.type, s.data);
    append_entries(file, base, &step, &time, s.type, nullptr, 1, m_rank == 0);
  }
  const double matrix[9] = {m_edges[0], 0, 0, 0, m_edges[1], 0, 0, 0, m_edges[2]};
  append_entries(file, "/particles/all/box/edges", &step, &time, H5T_NATIVE_DOUBLE, matrix, 1, m_rank == 0);
}

void H5mdWriter::write_observables(const std::vector<std::string>& names, const std::vector<long>& steps,
                                   const std::vector<double>& times, const std::vector<std::vector<double>>& values,
                                   const std::vector<std::string>& units) {
  if (steps.empty()) return;
  H5File file = H5File::open_write(m_comm, m_path);
  const hsize_t count = steps.size();
  for (std::size_t k = 0; k < names.size(); ++k) {
    const std::string base = "/observables/" + names[k];
    if (!file.exists(base)) {
      time_series_group(file, base, H5T_NATIVE_DOUBLE, {}, m_units.time, k < units.size() ? units[k] : "");
    }
    append_entries(file, base, steps.data(), times.data(), H5T_NATIVE_DOUBLE, values[k].data(), count, m_rank == 0);
  }
}

}  // namespace gosok
