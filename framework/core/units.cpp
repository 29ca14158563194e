#include <gosok/core/units.hpp>

#include <array>
#include <cstdlib>

#include <gosok/core/error.hpp>

namespace gosok {
namespace {

struct UnitRow {
  const char* symbol;
  const char* dimension;
  double to_si;
};

// Reduced Lennard-Jones units (tau, sigma) are dimensions of their own: they convert into
// nothing physical, so a physical unit given for an md key is refused.
constexpr std::array<UnitRow, 17> unit_table{{
    {"ms", "time", 1e-3},
    {"s", "time", 1.0},
    {"min", "time", 60.0},
    {"h", "time", 3600.0},
    {"day", "time", 86400.0},
    {"m", "length", 1.0},
    {"km", "length", 1000.0},
    {"m/s", "velocity", 1.0},
    {"km/h", "velocity", 1000.0 / 3600.0},
    {"K", "temperature", 1.0},
    {"Pa", "pressure", 1.0},
    {"hPa", "pressure", 100.0},
    {"kg/m^3", "density", 1.0},
    {"m^2/s", "diffusivity", 1.0},
    {"1/s", "frequency", 1.0},
    {"tau", "LJ time", 1.0},
    {"sigma", "LJ length", 1.0},
}};

}  // namespace

std::optional<UnitInfo> lookup_unit(const std::string& symbol) {
  for (const auto& row : unit_table) {
    if (symbol == row.symbol) return UnitInfo{row.dimension, row.to_si};
  }
  return std::nullopt;
}

std::string compatible_units(const std::string& target_unit) {
  auto target = lookup_unit(target_unit);
  if (!target) return target_unit;
  std::string list;
  for (const auto& row : unit_table) {
    if (target->dimension != row.dimension) continue;
    if (!list.empty()) list += ", ";
    list += row.symbol;
  }
  return list;
}

double convert_quantity(const std::string& text, const std::string& target_unit) {
  const char* begin = text.c_str();
  char* end = nullptr;
  const double value = std::strtod(begin, &end);
  if (end == begin) {
    throw InputError("'" + text + "' is not a number with a unit (expected e.g. '10 " + target_unit + "')");
  }
  std::string symbol(end);
  while (!symbol.empty() && symbol.front() == ' ') symbol.erase(symbol.begin());
  while (!symbol.empty() && symbol.back() == ' ') symbol.pop_back();
  if (symbol.empty() || symbol == target_unit) return value;
  auto from = lookup_unit(symbol);
  auto to = lookup_unit(target_unit);
  if (!from || !to || from->dimension != to->dimension) {
    throw InputError("unit '" + symbol + "' in '" + text + "' does not convert to '" + target_unit +
                     "' (allowed units: " + compatible_units(target_unit) + ")");
  }
  return value * from->to_si / to->to_si;
}

}  // namespace gosok
