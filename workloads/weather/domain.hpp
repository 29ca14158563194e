#pragma once

// The domain and time-step constants of the weather workload, without Kokkos: the
// dynamics use them, and so does the workload's input (input.cpp, on a login node too) to
// tell how many steps a run takes.

namespace gosok::weather {

namespace constants {
constexpr double xlen = 2.e4;      // m, domain length (periodic)
constexpr double zlen = 1.e4;      // m, domain height (walls)
constexpr double cfl = 1.5;        // Courant number for the assumed maximum speed
constexpr double max_speed = 450;  // m/s, sound speed plus wind, assumed
}  // namespace constants

/// The time step on an nx x nz grid: the assumed maximum speed crosses cfl cells per step.
inline double stable_dt(long nx_glob, long nz_glob) {
  using namespace constants;
  const double dx = xlen / static_cast<double>(nx_glob), dz = zlen / static_cast<double>(nz_glob);
  return (dx < dz ? dx : dz) / max_speed * cfl;
}

}  // namespace gosok::weather
