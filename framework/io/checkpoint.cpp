#include <gosok/io/checkpoint.hpp>

#include <fmt/format.h>

#include <gosok/core/error.hpp>

namespace gosok {

namespace {

std::string shape_text(const std::vector<hsize_t>& shape) {
  std::string s = "(";
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (d > 0) s += ", ";
    s += shape[d] == CheckpointReader::any ? std::string("any") : std::to_string(shape[d]);
  }
  return s + ")";
}

}  // namespace

CheckpointWriter::CheckpointWriter(MPI_Comm comm, const std::filesystem::path& path, const CheckpointFormat& format,
                                   const std::string& workload, const std::vector<RunSegment>& segments,
                                   const std::string& resolved_input)
    : m_file(H5File::create(comm, path)) {
  write_provenance(m_file.id(), workload, segments, resolved_input);
  set("kind", format.kind);
  set("format_version", format.version);
}

CheckpointReader::CheckpointReader(MPI_Comm comm, const std::filesystem::path& path, const CheckpointFormat& format)
    : m_file(H5File::open_read(comm, path)), m_name(path.string()) {
  if (!has_attribute(m_file.id(), "kind") || attribute_shape("kind").first != H5T_STRING) {
    fail(fmt::format("not {} (no kind = \"{}\" attribute)", format.noun, format.kind));
  }
  const std::string kind = read_string_attribute(m_file.id(), "kind");
  if (kind != format.kind) fail(fmt::format("not {} (its kind is \"{}\", not \"{}\")", format.noun, kind, format.kind));
  const std::int64_t version = has_attribute(m_file.id(), "format_version") ? integer("format_version") : 1;
  if (version != format.version) {
    fail(fmt::format("{} of format version {}; this gosok reads version {}", format.noun, version, format.version));
  }
}

void CheckpointReader::fail(const std::string& message) const { throw InputError(m_name + ": " + message); }

std::pair<H5T_class_t, hssize_t> CheckpointReader::attribute_shape(const std::string& name) const {
  if (!has_attribute(m_file.id(), name)) fail("checkpoint attribute '" + name + "' is missing");
  H5Id attr(H5Aopen(m_file.id(), name.c_str(), H5P_DEFAULT));
  if (attr.get() < 0) fail("checkpoint attribute '" + name + "' cannot be read");
  H5Id type(H5Aget_type(attr));
  H5Id space(H5Aget_space(attr));
  return {H5Tget_class(type), H5Sget_simple_extent_npoints(space)};
}

std::int64_t CheckpointReader::integer(const std::string& name) const {
  const auto [cls, n] = attribute_shape(name);
  if (cls != H5T_INTEGER || n != 1) fail("checkpoint attribute '" + name + "' is not one integer");
  return read_int_attribute(m_file.id(), name);
}

double CheckpointReader::real(const std::string& name) const {
  const auto [cls, n] = attribute_shape(name);
  if (cls != H5T_FLOAT || n != 1) fail("checkpoint attribute '" + name + "' is not one real number");
  return read_double_attribute(m_file.id(), name);
}

std::string CheckpointReader::text(const std::string& name) const {
  if (attribute_shape(name).first != H5T_STRING) fail("checkpoint attribute '" + name + "' is not a string");
  return read_string_attribute(m_file.id(), name);
}

std::vector<double> CheckpointReader::reals(const std::string& name, std::size_t length) const {
  const auto [cls, n] = attribute_shape(name);
  if (cls != H5T_FLOAT) fail("checkpoint attribute '" + name + "' is not an array of real numbers");
  if (length > 0 && n != static_cast<hssize_t>(length)) {
    fail(fmt::format("checkpoint attribute '{}' has {} entries, not {}", name, n, length));
  }
  H5Id attr(H5Aopen(m_file.id(), name.c_str(), H5P_DEFAULT));
  std::vector<double> out(static_cast<std::size_t>(n));
  if (n > 0 && H5Aread(attr, H5T_NATIVE_DOUBLE, out.data()) < 0)
    fail("checkpoint attribute '" + name + "' cannot be read");
  return out;
}

std::vector<hsize_t> CheckpointReader::dataset(const std::string& name, const std::vector<hsize_t>& expected) const {
  if (!m_file.exists(name)) fail("checkpoint dataset '" + name + "' is missing");
  const auto shape = m_file.dataset_shape(name);
  bool ok = shape.size() == expected.size();
  for (std::size_t d = 0; ok && d < shape.size(); ++d) ok = expected[d] == any || expected[d] == shape[d];
  if (!ok) {
    fail(
        fmt::format("checkpoint dataset '{}' has the shape {}, not {}", name, shape_text(shape), shape_text(expected)));
  }
  return shape;
}

}  // namespace gosok
