#pragma once

// The one place the weather workload picks where it runs, its View types and the physical
// constants shared by the dynamics and the test cases.

#include <Kokkos_Core.hpp>

#include "domain.hpp"

namespace gosok::weather {

using exec_space = Kokkos::DefaultExecutionSpace;
using memory_space = exec_space::memory_space;

/// The prognostic state: (variable, k, i) with `halo` ghost layers around the local block
/// in k (z) and i (x). Variables are perturbations from the hydrostatic background.
using StateView = Kokkos::View<double***, Kokkos::LayoutRight, memory_space>;
/// One variable of the state, (k, i) with ghosts: what the halo exchange moves.
using FieldView = Kokkos::View<double**, Kokkos::LayoutRight, memory_space>;
/// Interface fluxes (variable, k, i) of one direction, no ghosts.
using FluxView = Kokkos::View<double***, Kokkos::LayoutRight, memory_space>;
/// A vertical profile (the hydrostatic background), indexed by local k.
using ColumnView = Kokkos::View<double*, memory_space>;
/// A static per-cell source (k, i), no ghosts.
using CellView = Kokkos::View<double**, Kokkos::LayoutRight, memory_space>;

/// Indices of the prognostic variables.
enum Var : int { dens = 0, umom = 1, wmom = 2, rhot = 3 };
constexpr int num_vars = 4;
/// Ghost width: the 4-point reconstruction reaches two cells past an interface.
constexpr int halo = 2;

// With xlen, zlen, cfl and max_speed from domain.hpp.
namespace constants {
constexpr double pi = 3.14159265358979323846264338327;
constexpr double grav = 9.8;     // m/s^2
constexpr double cp = 1004.;     // J/(kg K), dry air at constant pressure
constexpr double cv = 717.;      // J/(kg K), dry air at constant volume
constexpr double rd = 287.;      // J/(kg K), dry air gas constant
constexpr double p0 = 1.e5;      // Pa, reference surface pressure
constexpr double theta0 = 300.;  // K, background potential temperature at the surface
/// p = c0 (rho theta)^gamma with gamma = cp / cv and c0 = rd^gamma p0^(-rd/cv).
constexpr double c0 = 27.5629410929725921310572974482;
constexpr double gamma = 1.40027894002789400278940027894;
constexpr double hv_beta = 0.05;  // hyperviscosity strength in [0, 1]
}  // namespace constants

/// This rank's piece of the global grid.
struct Grid {
  long nx_glob = 0, nz_glob = 0;  // global cells
  long nx = 0, nz = 0;            // local cells
  long i_beg = 0, k_beg = 0;      // global index of the first local cell
  double dx = 0, dz = 0;          // m
  bool low_x_edge = false;        // owns the global x = 0 column (the injection inflow)
  bool high_x_edge = false;       // owns the global x = xlen column
  bool bottom = false;            // owns the ground (z = 0)
  bool top = false;               // owns the model top (z = zlen)
};

}  // namespace gosok::weather
