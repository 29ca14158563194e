#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

#include <gosok/io/hdf5_file.hpp>

namespace gosok {

/// Vocabulary: a *checkpoint* is the HDF5 file a workload writes to continue its run
/// later. Its root group carries the *format*: `kind` ("gosok md checkpoint") and
/// `format_version` (the workload's layout of the file, raised when the layout changes;
/// files from before versions were written count as version 1), gosok's provenance
/// (version, git hash, resolved input, segments), then the workload's own attributes and
/// datasets. Every check a reader makes ends in one InputError that names the file and
/// the item: not a checkpoint of this kind, another version, a missing attribute or one of
/// the wrong type or length, a dataset missing or of the wrong shape. (The run loop seals
/// the finished file with a digest and verifies it before a restart reads it.)
struct CheckpointFormat {
  std::string kind;  // "gosok md checkpoint"
  std::string noun;  // "an md checkpoint", for errors
  int version = 1;
};

class CheckpointWriter {
 public:
  /// Creates `path` collectively and writes the format and provenance.
  CheckpointWriter(MPI_Comm comm, const std::filesystem::path& path, const CheckpointFormat& format,
                   const std::string& workload, const std::vector<RunSegment>& segments,
                   const std::string& resolved_input);

  void set(const std::string& name, const std::string& value) { write_attribute(m_file.id(), name, value); }
  void set(const std::string& name, double value) { write_attribute(m_file.id(), name, value); }
  void set(const std::string& name, const std::vector<double>& value) { write_attribute(m_file.id(), name, value); }
  template <class T, std::enable_if_t<std::is_integral_v<T>, int> = 0>
  void set(const std::string& name, T value) {
    write_attribute(m_file.id(), name, static_cast<std::int64_t>(value));
  }

  /// Datasets are written through the file (write_block, write_vector).
  H5File& file() { return m_file; }
  void close() { m_file.close(); }

 private:
  H5File m_file;
};

class CheckpointReader {
 public:
  /// Opens `path` collectively; throws InputError unless it is a checkpoint of `format`.
  CheckpointReader(MPI_Comm comm, const std::filesystem::path& path, const CheckpointFormat& format);

  std::int64_t integer(const std::string& name) const;
  double real(const std::string& name) const;
  std::string text(const std::string& name) const;
  /// A real array; with `length` > 0 it must have exactly that many entries.
  std::vector<double> reals(const std::string& name, std::size_t length = 0) const;
  std::vector<RunSegment> segments() const { return read_segments(m_file.id()); }

  /// The dataset's shape; throws unless it exists and, for every entry of `expected` that
  /// is not `any`, has that extent.
  static constexpr hsize_t any = ~hsize_t{0};
  std::vector<hsize_t> dataset(const std::string& name, const std::vector<hsize_t>& expected) const;

  /// Reads through the file (read_block, read_vector) once the shapes are checked.
  const H5File& file() const { return m_file; }
  void close() { m_file.close(); }

  /// InputError("<file>: <message>").
  [[noreturn]] void fail(const std::string& message) const;

 private:
  /// The attribute's HDF5 class and element count; throws when it is missing.
  std::pair<H5T_class_t, hssize_t> attribute_shape(const std::string& name) const;
  H5File m_file;
  std::string m_name;
};

}  // namespace gosok
