#pragma once

#include <optional>
#include <string>

namespace gosok {

/// A physical unit by its symbol ("s", "km", "m/s"); two units can be converted into each
/// other when they have the same dimension.
struct UnitInfo {
  std::string dimension;  // "time", "length", "velocity", "temperature", ...
  double to_si;           // multiply a value in this unit by to_si to get SI
};

std::optional<UnitInfo> lookup_unit(const std::string& symbol);

/// Parses "<number> <unit>" (the space is optional) and converts it into `target_unit`.
/// Throws InputError naming the allowed units when the dimension differs.
double convert_quantity(const std::string& text, const std::string& target_unit);

/// The symbols that convert into `target_unit`, comma separated, for error messages.
std::string compatible_units(const std::string& target_unit);

}  // namespace gosok
