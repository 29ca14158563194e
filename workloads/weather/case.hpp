#pragma once

// A weather *test case* is one small struct in one file under cases/. It says, at any
// point (x, z) of the 20 km x 10 km domain:
//   - background(z): the hydrostatic background density and potential temperature;
//   - perturbation(x, z): the departure from it at t = 0 (density, winds u and w, theta);
// and may override what CaseBase leaves off:
//   - has_w_forcing / w_forcing(x, z): a steady source of vertical momentum (m/s^2,
//     multiplied by the background density), applied in every stage of both directions;
//   - inflow(): a jet entering through the global x = 0 boundary.
// The file ends with a register function, `register_<file name>(CaseRegistry&)`, which
// the build finds by the file name (workloads/weather/CMakeLists.txt), so adding a case
// touches no other file. docs/porting-weather-cases.md walks through one.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gosok/core/error.hpp>
#include <gosok/core/fast_math.hpp>
#include <gosok/core/math.hpp>
#include <gosok/parallel/loops.hpp>
#include "types.hpp"

namespace gosok::weather {

struct Hydrostatic {
  double dens;   // kg/m^3
  double theta;  // K
};

struct Perturbation {
  double dens = 0;   // kg/m^3, departure from the background
  double u = 0;      // m/s
  double w = 0;      // m/s
  double theta = 0;  // K, departure from the background
};

/// A jet through the global x = 0 boundary: in the rows whose centre lies within
/// `half_width` of `z_center`, the ghost cells outside the boundary carry wind `u` and
/// potential temperature `theta`, so air of that state flows in.
struct Inflow {
  bool active = false;
  double z_center = 0;    // m
  double half_width = 0;  // m
  double u = 0;           // m/s
  double theta = 0;       // K (full potential temperature, not a departure)
};

/// The equation of state, p = c0 (rho theta)^gamma. Every pressure the dynamics uses comes
/// from here (the background's too), so the one pow implementation cancels in p - p_bar.
/// It is the branch-free pow_positive at every build setting, so the numerics do not depend
/// on the code-generation flags: with AVX2 or wider the flux kernels vectorise around it
/// (several times faster than a pow call per interface); with plain SSE2 a libm call would
/// be a little faster, but the answer would then change with the flags.
KOKKOS_INLINE_FUNCTION double pressure(double rho_theta) {
  return constants::c0 * math::pow_positive(rho_theta, constants::gamma);
}

/// Neutral atmosphere: constant theta0, Exner pressure falling linearly with height.
KOKKOS_INLINE_FUNCTION Hydrostatic hydrostatic_constant_theta(double z) {
  using namespace constants;
  const double exner = 1.0 - grav * z / (cp * theta0);
  const double p = p0 * math::pow(exner, cp / rd);
  const double rt = math::pow(p / c0, 1.0 / gamma);
  return {rt / theta0, theta0};
}

/// Stable stratification with a constant Brunt-Vaisala frequency `n` (1/s).
KOKKOS_INLINE_FUNCTION Hydrostatic hydrostatic_constant_bv(double z, double n) {
  using namespace constants;
  const double theta = theta0 * math::exp(n * n / grav * z);
  const double exner = 1.0 - grav * grav / (cp * n * n) * (theta - theta0) / (theta * theta0);
  const double p = p0 * math::pow(exner, cp / rd);
  const double rt = math::pow(p / c0, 1.0 / gamma);
  return {rt / theta, theta};
}

/// amp cos^2 bump on an ellipse centred at (x0, z0) with radii (xrad, zrad); 0 outside.
KOKKOS_INLINE_FUNCTION double ellipse_cosine(double x, double z, double amp, double x0, double z0, double xrad,
                                             double zrad) {
  const double dist =
      math::sqrt(((x - x0) / xrad) * ((x - x0) / xrad) + ((z - z0) / zrad) * ((z - z0) / zrad)) * constants::pi / 2.;
  if (dist > constants::pi / 2.) return 0.0;
  const double c = math::cos(dist);
  return amp * c * c;
}

/// Defaults every case inherits: no momentum source, no inflow.
struct CaseBase {
  static constexpr bool has_w_forcing = false;
  KOKKOS_INLINE_FUNCTION double w_forcing(double, double) const { return 0.0; }
  Inflow inflow() const { return {}; }
};

/// What a case's set-up produces on this rank: the initial state and everything static the
/// dynamics needs from the case.
struct CaseFields {
  StateView state;          // (var, k, i) with ghosts; owned cells filled
  ColumnView dens_cell;     // background density, cell averages, local k with ghosts
  ColumnView rhot_cell;     // background rho*theta, cell averages
  ColumnView dens_int;      // background density at the local nz + 1 interfaces
  ColumnView rhot_int;      // background rho*theta at interfaces
  ColumnView pressure_int;  // background pressure at interfaces
  CellView w_forcing;       // (k, i) source of w-momentum; empty when the case has none
  Inflow inflow;
};

namespace detail {

// Three-point Gauss-Legendre quadrature on [0, 1]: cell averages of the initial state.
// Functions rather than arrays, so that device code can call them.
KOKKOS_INLINE_FUNCTION double qpoint(int q) {
  return q == 0 ? 0.112701665379258311482073460022 : (q == 1 ? 0.5 : 0.887298334620741688517926539980);
}
KOKKOS_INLINE_FUNCTION double qweight(int q) {
  return q == 1 ? 0.444444444444444444444444444444 : 0.277777777777777777777777777779;
}

template <class Case>
void initialize(const Case& c, const Grid& g, CaseFields& out) {
  using namespace constants;
  const long nx = g.nx, nz = g.nz, i_beg = g.i_beg, k_beg = g.k_beg;
  const double dx = g.dx, dz = g.dz;
  out.state = StateView("weather::state", num_vars, nz + 2 * halo, nx + 2 * halo);
  out.dens_cell = ColumnView("weather::hy_dens_cell", nz + 2 * halo);
  out.rhot_cell = ColumnView("weather::hy_rhot_cell", nz + 2 * halo);
  out.dens_int = ColumnView("weather::hy_dens_int", nz + 1);
  out.rhot_int = ColumnView("weather::hy_rhot_int", nz + 1);
  out.pressure_int = ColumnView("weather::hy_pressure_int", nz + 1);
  out.inflow = c.inflow();

  auto state = out.state;
  for_each_cell(
      "weather::init_state", exec_space(), halo, nz + halo, halo, nx + halo, KOKKOS_LAMBDA(const long k, const long i) {
        double r = 0, ru = 0, rw = 0, rt = 0;
        for (int kk = 0; kk < 3; ++kk) {
          for (int ii = 0; ii < 3; ++ii) {
            const double x = (i_beg + i - halo + qpoint(ii)) * dx;
            const double z = (k_beg + k - halo + qpoint(kk)) * dz;
            const Hydrostatic h = c.background(z);
            const Perturbation p = c.perturbation(x, z);
            const double weight = qweight(ii) * qweight(kk);
            r += p.dens * weight;
            ru += (p.dens + h.dens) * p.u * weight;
            rw += (p.dens + h.dens) * p.w * weight;
            rt += ((p.dens + h.dens) * (p.theta + h.theta) - h.dens * h.theta) * weight;
          }
        }
        state(dens, k, i) = r;
        state(umom, k, i) = ru;
        state(wmom, k, i) = rw;
        state(rhot, k, i) = rt;
      });

  auto dens_cell = out.dens_cell, rhot_cell = out.rhot_cell;
  Kokkos::parallel_for(
      "weather::init_background_cells", Kokkos::RangePolicy<exec_space>(0, nz + 2 * halo), KOKKOS_LAMBDA(const long k) {
        double r = 0, rt = 0;
        for (int kk = 0; kk < 3; ++kk) {
          const Hydrostatic h = c.background((k_beg + k - halo + qpoint(kk)) * dz);
          r += h.dens * qweight(kk);
          rt += h.dens * h.theta * qweight(kk);
        }
        dens_cell(k) = r;
        rhot_cell(k) = rt;
      });
  auto dens_int = out.dens_int, rhot_int = out.rhot_int, pressure_int = out.pressure_int;
  Kokkos::parallel_for(
      "weather::init_background_interfaces", Kokkos::RangePolicy<exec_space>(0, nz + 1), KOKKOS_LAMBDA(const long k) {
        const Hydrostatic h = c.background((k_beg + k) * dz);
        dens_int(k) = h.dens;
        rhot_int(k) = h.dens * h.theta;
        pressure_int(k) = pressure(h.dens * h.theta);
      });

  if constexpr (Case::has_w_forcing) {
    out.w_forcing = CellView("weather::w_forcing", nz, nx);
    auto force = out.w_forcing;
    for_each_cell(
        "weather::init_forcing", exec_space(), 0, nz, 0, nx, KOKKOS_LAMBDA(const long k, const long i) {
          const double x = (i_beg + i + 0.5) * dx;
          const double z = (k_beg + k + 0.5) * dz;
          force(k, i) = c.w_forcing(x, z) * dens_cell(k + halo);
        });
  }
  exec_space().fence();
}

}  // namespace detail

struct CaseInfo {
  std::string name;
  std::string description;
  std::function<void(const Grid&, CaseFields&)> initialize;
};

/// Test cases by name.
class CaseRegistry {
 public:
  template <class Case>
  void add(const std::string& name, const std::string& description, Case c = Case{}) {
    m_cases[name] = CaseInfo{name, description, [c](const Grid& g, CaseFields& out) { detail::initialize(c, g, out); }};
  }
  /// Throws InputError naming the known cases.
  const CaseInfo& find(const std::string& name) const {
    auto it = m_cases.find(name);
    if (it == m_cases.end()) throw InputError("unknown weather case '" + name + "'; known cases: " + names_list());
    return it->second;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : m_cases) out.push_back(entry.first);
    return out;
  }
  std::string names_list() const {
    std::string out;
    for (const auto& entry : m_cases) out += (out.empty() ? "" : ", ") + entry.first;
    return out;
  }
  const std::map<std::string, CaseInfo>& all() const { return m_cases; }

 private:
  std::map<std::string, CaseInfo> m_cases;
};

/// Every case built into this binary (generated from cases/*.cpp by CMake).
CaseRegistry all_cases();

}  // namespace gosok::weather
