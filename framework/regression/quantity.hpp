#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace gosok::regress {

/// Vocabulary of what a regression check looks at:
///  - a *source* names numbers in one run's results folder, as text a suite file holds:
///      json:FILE:PATH      numbers of a JSON file; PATH is dotted member names, each
///                          optionally indexed: [3], [-1] (the last), [*] (every element);
///                          a path that ends at an object gives all its numeric members;
///      h5:FILE:DATASET     an HDF5 dataset, whole, or [k] / [-1] of its first dimension
///                          (one record of a time series: h5:weather.h5:/theta[-1]);
///      file:FILE           the bytes of a file (for bitwise comparisons between runs);
///  - a *quantity* is what a source reads: a shaped array of doubles (with a label per value
///    when they came from named JSON members), or a file's bytes.
struct Quantity {
  std::vector<std::size_t> shape;  // empty: a scalar or a flat list
  std::vector<double> values;
  std::vector<std::string> labels;  // one per value, or empty
  std::optional<std::string> bytes;

  /// "[3, 17]" for the flat index `i`, or the label.
  std::string where(std::size_t i) const;
  nlohmann::json to_json() const;
  static Quantity from_json(const nlohmann::json& j, const std::string& where);
};

struct Source {
  std::string kind;  // json | h5 | file
  std::string file;  // relative to the results folder
  std::string path;  // JSON path or dataset (with its selector)
  std::string text;  // as written
};

/// Parses "kind:file[:path]"; throws InputError with the accepted forms.
Source parse_source(const std::string& text);

/// How the comparator reads an HDF5 dataset: whole, as doubles, with its shape. Given by the
/// program that links HDF5 (gosok-run), so this library links none.
using DatasetReader = std::function<Quantity(const std::filesystem::path& file, const std::string& dataset)>;

/// Reads `source` from the results folder `dir`; throws InputError naming the file and the
/// path when it is missing or unreadable.
Quantity read_quantity(const std::filesystem::path& dir, const Source& source, const DatasetReader& read_dataset);

/// The numbers at `path` in a JSON document (the json: selector); `where` prefixes errors.
Quantity select_json(const nlohmann::json& doc, const std::string& path, const std::string& where);

}  // namespace gosok::regress
